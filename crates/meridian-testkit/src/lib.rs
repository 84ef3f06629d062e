//! Test harnesses shared by the integration tests of several crates. Use it
//! from `tests/` only (a crate's unit tests would see a second copy of the
//! types of any crate this one depended on; it depends on none of ours).
//!
//! - [`SmtpServer`]: a real SMTP server, [aiosmtpd](https://aiosmtpd.aio-libs.org/)
//!   from PyPI, started as a child process on a free loopback port, writing
//!   what it receives to a Maildir that [`SmtpServer::messages`] reads back.
//!   It can be stopped and restarted on the same port and Maildir. Recipients
//!   whose local part starts with `bounce` are refused with `550 5.1.1`, those
//!   starting with `greylist` with `451 4.7.1`; the first message to one
//!   starting with `stall` hangs after DATA (see [`SmtpServer::stalled`]);
//!   every other one is accepted.
//!   aiosmtpd is installed with pip on first use if it is missing.
//! - [`ReceivedEmail`]: one received message, parsed (headers, text and HTML
//!   parts, decoded).
//! - [`db`]: a throwaway SQLite file or PostgreSQL database per test.
//! - [`http`]: a minimal HTTP/1.1 client over a TCP connection, enough to
//!   drive a server the way a mail provider's one-click unsubscribe does,
//!   without building a general HTTP client in tests.
//! - [`policies`]: a policy bundle (shipped schema and global rules, the
//!   region's own when shipped) for a test region, which `Region::assemble`
//!   needs (it refuses a region without its policies).
//! - [`shared_folder`]: the shared test data beside the checkout (corpus,
//!   gold annotations, feedparser's suite), or where a variable points.
//! - [`chromium`]: headless Chromium (Debian's `chromium`) driven over the
//!   Chrome DevTools Protocol on a pipe, with full-page screenshots.
#![expect(
    clippy::panic,
    reason = "test harnesses fail loudly, naming what broke"
)]

pub mod chromium;
mod shared;
pub use shared::shared_folder;
pub mod db;
pub mod http;
pub mod policies;

use std::io::Read as _;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The aiosmtpd handler: aiosmtpd's own `Mailbox` (a Maildir), refusing some
/// recipients so that tests meet real 5xx and 4xx replies. The replies quote
/// the address, as real relays do.
const HANDLER: &str = r#"
import asyncio
import os

from aiosmtpd.handlers import Mailbox

HERE = os.path.dirname(os.path.abspath(__file__))


class Sink(Mailbox):
    async def handle_DATA(self, server, session, envelope):
        # A recipient whose local part starts with `stall` hangs the first
        # message sent to it (after DATA, before the reply; nothing is
        # stored), leaving a marker file so that a test knows the sender is
        # now blocked mid-send; later messages to it are accepted.
        for address in envelope.rcpt_tos:
            if address.split("@")[0].lower().startswith("stall"):
                marker = os.path.join(HERE, "stalled-" + address.lower())
                if not os.path.exists(marker):
                    open(marker, "w").close()
                    await asyncio.sleep(3600)
                    return "451 4.3.0 stalled"
        return await super().handle_DATA(server, session, envelope)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@")[0].lower()
        if local.startswith("bounce"):
            return "550 5.1.1 <%s>: Recipient address rejected: User unknown" % address
        if local.startswith("greylist"):
            return "451 4.7.1 <%s>: Recipient address rejected: Greylisted, try again later" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"
"#;

/// How long a starting server may take before the test fails (it is up in
/// about 0.1 s; this only bounds a broken setup).
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// Makes sure `python3 -m aiosmtpd` works, installing aiosmtpd with pip
/// (`python3 -m pip install --quiet aiosmtpd`) once if it is missing.
///
/// # Panics
/// When Python or pip is missing, or the install fails.
pub fn ensure_aiosmtpd() {
    static READY: OnceLock<()> = OnceLock::new();
    READY.get_or_init(|| {
        let importable = || {
            Command::new("python3")
                .args(["-c", "import aiosmtpd"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        if importable() {
            return;
        }
        let out = Command::new("python3")
            .args(["-m", "pip", "install", "--quiet", "aiosmtpd"])
            .output()
            .unwrap_or_else(|e| panic!("the SMTP tests need python3 to install aiosmtpd: {e}"));
        assert!(
            out.status.success() && importable(),
            "`python3 -m pip install --quiet aiosmtpd` failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    });
}

/// A free TCP port on 127.0.0.1 (bound, read, released).
///
/// # Panics
/// When no port can be bound.
#[must_use]
pub fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free loopback port: {e}"))
}

/// A running (or stopped) aiosmtpd on a loopback port.
pub struct SmtpServer {
    port: u16,
    /// Holds the Maildir and the handler module; removed on drop.
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl SmtpServer {
    /// Starts aiosmtpd on a free port with an empty Maildir.
    ///
    /// # Panics
    /// When it cannot be installed or does not start.
    #[must_use]
    pub fn start() -> Self {
        ensure_aiosmtpd();
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
        std::fs::write(dir.path().join("meridian_smtp_sink.py"), HANDLER)
            .unwrap_or_else(|e| panic!("writing the aiosmtpd handler: {e}"));
        let mut server = Self {
            port: free_port(),
            dir,
            child: None,
        };
        server.restart();
        server
    }

    /// `smtp://127.0.0.1:PORT` (plain SMTP, allowed to loopback).
    #[must_use]
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// The port.
    #[must_use]
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The Maildir messages are written to.
    #[must_use]
    pub fn maildir(&self) -> PathBuf {
        self.dir.path().join("maildir")
    }

    /// Kills the server (like a crash: no goodbye to connected clients) and
    /// waits for it to exit.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// (Re)starts the server on the same port and Maildir, and waits until it
    /// accepts connections.
    ///
    /// # Panics
    /// When it does not start.
    pub fn restart(&mut self) {
        self.stop();
        let listen = format!("127.0.0.1:{}", self.port);
        let maildir = self.maildir();
        let mut child = Command::new("python3")
            .args([
                "-m",
                "aiosmtpd",
                "-n",
                "-l",
                &listen,
                "-c",
                "meridian_smtp_sink.Sink",
            ])
            .arg(&maildir)
            .env("PYTHONPATH", self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("starting aiosmtpd: {e}"));
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                let mut err = String::new();
                if let Some(mut stderr) = child.stderr.take() {
                    let _ = stderr.read_to_string(&mut err);
                }
                panic!("aiosmtpd exited at start ({status}): {err}");
            }
            if TcpStream::connect_timeout(
                &SocketAddr::from((Ipv4Addr::LOCALHOST, self.port)),
                Duration::from_millis(200),
            )
            .is_ok()
            {
                break;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("aiosmtpd did not listen on {listen} within {START_TIMEOUT:?}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.child = Some(child);
    }

    /// Every message received so far, oldest first (by Maildir file time, then name).
    ///
    /// # Panics
    /// When the Maildir cannot be read.
    #[must_use]
    pub fn messages(&self) -> Vec<ReceivedEmail> {
        read_maildir(&self.maildir())
    }

    /// Whether a message to `address` (a `stall…` recipient) is hanging or
    /// has hung: the sender is, or was, blocked in the middle of sending it.
    #[must_use]
    pub fn stalled(&self, address: &str) -> bool {
        self.dir
            .path()
            .join(format!("stalled-{}", address.to_lowercase()))
            .exists()
    }

    /// Messages received for `address` (aiosmtpd's `X-RcptTo`).
    #[must_use]
    pub fn messages_to(&self, address: &str) -> Vec<ReceivedEmail> {
        self.messages()
            .into_iter()
            .filter(|m| m.rcpt_to.iter().any(|r| r.eq_ignore_ascii_case(address)))
            .collect()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Reads every message of a Maildir (`new/` and `cur/`).
///
/// # Panics
/// When a file cannot be read or parsed.
#[must_use]
pub fn read_maildir(dir: &Path) -> Vec<ReceivedEmail> {
    let mut files: Vec<(std::time::SystemTime, PathBuf)> = Vec::new();
    for sub in ["new", "cur"] {
        let Ok(entries) = std::fs::read_dir(dir.join(sub)) else {
            continue;
        };
        for entry in entries.flatten() {
            let modified = entry
                .metadata()
                .and_then(|m| m.modified())
                .unwrap_or(std::time::UNIX_EPOCH);
            files.push((modified, entry.path()));
        }
    }
    files.sort();
    files
        .into_iter()
        .map(|(_, path)| {
            let raw = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            ReceivedEmail::parse(raw).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        })
        .collect()
}

/// One received message.
#[derive(Debug, Clone)]
pub struct ReceivedEmail {
    /// The message as received (with aiosmtpd's `X-Peer`, `X-MailFrom`, `X-RcptTo`).
    pub raw: Vec<u8>,
    /// Every header, in order, decoded (RFC 2047).
    pub headers: Vec<(String, String)>,
    /// Envelope recipients (`X-RcptTo`).
    pub rcpt_to: Vec<String>,
    /// The `Content-Type` of every part, outermost first.
    pub content_types: Vec<String>,
    /// The decoded `text/plain` part.
    pub text: Option<String>,
    /// The decoded `text/html` part.
    pub html: Option<String>,
}

impl ReceivedEmail {
    /// Parses a raw message.
    ///
    /// # Errors
    /// mailparse's error, as text.
    pub fn parse(raw: Vec<u8>) -> Result<Self, String> {
        use mailparse::MailHeaderMap as _;
        let parsed = mailparse::parse_mail(&raw).map_err(|e| e.to_string())?;
        let headers = parsed
            .headers
            .iter()
            .map(|h| (h.get_key(), h.get_value()))
            .collect();
        let rcpt_to = parsed
            .headers
            .get_first_value("X-RcptTo")
            .map(|v| {
                v.split(',')
                    .map(|a| a.trim().to_owned())
                    .filter(|a| !a.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        let (mut content_types, mut text, mut html) = (Vec::new(), None, None);
        let mut stack = vec![&parsed];
        while let Some(part) = stack.pop() {
            content_types.push(part.ctype.mimetype.clone());
            match part.ctype.mimetype.as_str() {
                "text/plain" if text.is_none() => text = part.get_body().ok(),
                "text/html" if html.is_none() => html = part.get_body().ok(),
                _ => {}
            }
            stack.extend(part.subparts.iter().rev());
        }
        Ok(Self {
            raw,
            headers,
            rcpt_to,
            content_types,
            text,
            html,
        })
    }

    /// The first header `name` (case-insensitive), decoded.
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The `Subject`.
    #[must_use]
    pub fn subject(&self) -> &str {
        self.header("Subject").unwrap_or("")
    }

    /// The first `https?://…` link in the text part that contains `needle`.
    #[must_use]
    pub fn link_containing(&self, needle: &str) -> Option<String> {
        let text = self.text.as_deref()?;
        text.split(|c: char| c.is_whitespace() || c == '<' || c == '>')
            .filter(|w| w.starts_with("http://") || w.starts_with("https://"))
            .find(|w| w.contains(needle))
            .map(str::to_owned)
    }
}
