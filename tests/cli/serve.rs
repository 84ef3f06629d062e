//! `meridian serve`: binds (port 0 works), answers, stops cleanly on SIGTERM.

use std::io::Read as _;
use std::process::Stdio;

use crate::{http_get as get, repo, spawn_serve, terminate};

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

    let exit = terminate(&mut child);
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
