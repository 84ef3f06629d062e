//! `meridian serve`: binds (port 0 works), answers, stops cleanly on SIGTERM.

use std::io::Read as _;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::{http_get as get, repo, spawn_serve};

#[test]
fn serve_answers_on_the_port_it_prints_and_stops_on_sigterm() {
    let data = tempfile::tempdir().unwrap();
    let (mut child, mut stdout, addr) =
        spawn_serve(&repo().join("regions"), data.path(), Stdio::piped());
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
