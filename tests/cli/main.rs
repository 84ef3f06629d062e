//! End-to-end tests of the `meridian` binary: the real executable, real files,
//! a real HTTP server on loopback serving the sample podcasts.
#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers fail loudly"
)]

mod audit;
mod config;
mod delivery;
mod deploy;
mod input;
mod inspect;
mod isolation;
mod policy;
mod run;
mod serve;
mod telemetry;
mod tokens;
mod witness;
mod workers;

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, ExitStatus, Output, Stdio};

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repository root")
}

/// The shared corpus of third-party feeds and transcripts.
pub fn corpus() -> PathBuf {
    meridian_testkit::shared_folder("MERIDIAN_CORPUS", "corpus")
}

/// A `meridian` command with no inherited MERIDIAN_* overrides or API keys.
pub fn meridian() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_meridian"));
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy().into_owned();
        if k.starts_with("MERIDIAN_") && k != "MERIDIAN_CORPUS" || k.ends_with("_API_KEY") {
            cmd.env_remove(k);
        }
    }
    cmd.env("RUST_LOG", "error");
    cmd
}

/// Runs and returns (exit code, stdout, stderr).
pub fn run(cmd: &mut Command) -> (i32, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.output().expect("run meridian");
    (
        status.code().unwrap_or(-1),
        String::from_utf8_lossy(&stdout).into_owned(),
        String::from_utf8_lossy(&stderr).into_owned(),
    )
}

/// `.eml` files in a folder.
pub fn eml_count(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
                .count()
        })
        .unwrap_or(0)
}

/// `GET path` over a plain TCP connection; the whole response.
pub fn http_get(addr: SocketAddr, path: &str) -> String {
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

/// Starts `meridian serve --region us` on a free loopback port over these
/// folders: the child, its stdout after the first line, and the address that
/// first line names.
pub fn spawn_serve(
    config_dir: &Path,
    data_dir: &Path,
    stderr: Stdio,
) -> (Child, BufReader<ChildStdout>, SocketAddr) {
    let mut child = meridian()
        .arg("--config-dir")
        .arg(config_dir)
        .arg("--data-dir")
        .arg(data_dir)
        .args(["serve", "--region", "us", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(stderr)
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
    (child, stdout, addr)
}

/// Sends `meridian serve` SIGTERM and waits for it to exit (a shutdown that
/// never ends hangs the test, which the CI's own time limit then reports).
pub fn terminate(child: &mut Child) -> ExitStatus {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill -TERM {}", child.id());
    child.wait().unwrap()
}
