//! `meridian serve`: binds (port 0 works), answers, stops cleanly on SIGTERM.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::{meridian, repo};

/// `GET path` over a plain TCP connection; the whole response.
fn get(addr: SocketAddr, path: &str) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

#[test]
fn serve_answers_on_the_port_it_prints_and_stops_on_sigterm() {
    let data = tempfile::tempdir().unwrap();
    let mut child = meridian()
        .arg("--config-dir")
        .arg(repo().join("regions"))
        .arg("--data-dir")
        .arg(data.path())
        .args(["serve", "--region", "us", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    let addr: SocketAddr = first
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("the first line names the address: {first:?}"));
    assert_ne!(addr.port(), 0);

    let health = get(addr, "/healthz");
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    let ready = get(addr, "/readyz");
    assert!(ready.starts_with("HTTP/1.1 200"), "{ready}");
    let page = get(addr, "/subscribe");
    assert!(page.contains("<html lang=\"en-US\">"), "{page}");

    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    // Bounded only so that a broken shutdown fails instead of hanging CI.
    let deadline = Instant::now() + Duration::from_secs(60);
    let exit = loop {
        if let Some(exit) = child.try_wait().unwrap() {
            break exit;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("`meridian serve` did not stop on SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(
        exit.success(),
        "exit {exit:?}\nstdout: {rest}\nstderr: {err}"
    );
    assert!(rest.contains("stopped"), "{rest}");
}
