//! Headless Chromium driven over the Chrome DevTools Protocol (CDP) on a
//! pipe: Debian's `chromium` package started as a child process with
//! `--remote-debugging-pipe`, spoken to with NUL-separated JSON messages on
//! its file descriptors 3 and 4 (here: the child's stdin and stdout), the
//! way Playwright and Puppeteer drive it. No debugging port is opened and no
//! WebDriver server (chromedriver) runs, and there is no browser-automation
//! crate in the build.
//!
//! ```no_run
//! # async fn f() -> Result<(), String> {
//! use meridian_testkit::chromium::Chromium;
//! let chromium = Chromium::start();
//! let browser = chromium.browser(1000, 800).await?;
//! browser.goto("http://127.0.0.1:8080/subscribe").await?;
//! browser.find("#email").await?.send_keys("ada@example.com").await?;
//! browser.find("button[type=submit]").await?.click().await?;
//! assert_eq!(browser.find("h1").await?.text().await?, "Check your inbox");
//! browser.save_screenshot(std::path::Path::new("check-inbox.png")).await?;
//! browser.quit().await
//! # }
//! ```
//!
//! The calls block on the pipe inside [`tokio::task::block_in_place`], so
//! they need the multi-threaded runtime
//! (`#[tokio::test(flavor = "multi_thread")]`): the server under test keeps
//! answering the browser meanwhile.
//!
//! Install: `apt-get install -y chromium fonts-noto-cjk` (the CJK fonts draw
//! Chinese pages); `.ci/run` does it.

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// How to install what this module needs.
pub const INSTALL_HINT: &str = "apt-get install -y chromium fonts-noto-cjk";

/// Debian's Chromium.
const CHROMIUM: &str = "/usr/bin/chromium";

/// Longest wait for a page to load after a navigation or a click.
const LOAD_TIMEOUT: Duration = Duration::from_secs(20);

/// The browser process and its pipe.
struct Pipe {
    child: Child,
    to_browser: ChildStdin,
    from_browser: BufReader<ChildStdout>,
    next_id: u64,
}

impl Pipe {
    /// Sends one command and returns its `result`, skipping the events that
    /// arrive before the answer.
    fn call(
        &mut self,
        session: Option<&str>,
        method: &str,
        params: Value,
    ) -> Result<Value, String> {
        self.next_id += 1;
        let id = self.next_id;
        let mut message = json!({ "id": id, "method": method, "params": params });
        if let Some(session) = session {
            message["sessionId"] = Value::String(session.to_owned());
        }
        let mut bytes = message.to_string().into_bytes();
        bytes.push(0);
        self.to_browser
            .write_all(&bytes)
            .and_then(|()| self.to_browser.flush())
            .map_err(|e| format!("{method}: writing to Chromium: {e}"))?;
        loop {
            let mut buf = Vec::new();
            let n = self
                .from_browser
                .read_until(0, &mut buf)
                .map_err(|e| format!("{method}: reading from Chromium: {e}"))?;
            if n == 0 {
                return Err(format!("{method}: Chromium closed its pipe"));
            }
            if buf.last() == Some(&0) {
                buf.pop();
            }
            let reply: Value = serde_json::from_slice(&buf)
                .map_err(|e| format!("{method}: not JSON from Chromium: {e}"))?;
            if reply["id"].as_u64() != Some(id) {
                continue; // an event
            }
            if let Some(error) = reply.get("error") {
                return Err(format!("{method}: {error}"));
            }
            return Ok(reply["result"].clone());
        }
    }
}

/// A running headless Chromium; killed on drop.
pub struct Chromium {
    pipe: Arc<Mutex<Pipe>>,
    /// The browser profile; removed on drop.
    _profile: tempfile::TempDir,
}

impl std::fmt::Debug for Chromium {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chromium").finish_non_exhaustive()
    }
}

impl Chromium {
    /// Starts headless Chromium with a fresh profile.
    ///
    /// # Panics
    /// When Chromium is not installed (the message says how to install it).
    #[must_use]
    pub fn start() -> Self {
        let profile = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
        // fd 3 is what Chromium reads, fd 4 what it writes: our pipe's ends.
        let script = format!(
            "exec {CHROMIUM} --headless=new --no-sandbox --disable-gpu --disable-dev-shm-usage \
             --no-first-run --disable-background-networking --disable-component-update \
             --disable-sync --hide-scrollbars --force-device-scale-factor=1 \
             --remote-debugging-pipe --user-data-dir='{}' about:blank \
             3<&0 4>&1 0</dev/null 1>/dev/null",
            profile.path().display()
        );
        let mut child = Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("Chromium could not be started ({e}); install it with `{INSTALL_HINT}`")
            });
        let (Some(to_browser), Some(from_browser)) = (child.stdin.take(), child.stdout.take())
        else {
            panic!("Chromium's pipe was not set up");
        };
        Self {
            pipe: Arc::new(Mutex::new(Pipe {
                child,
                to_browser,
                from_browser: BufReader::new(from_browser),
                next_id: 0,
            })),
            _profile: profile,
        }
    }

    /// A new page (tab) of `width` × `height` CSS pixels.
    ///
    /// # Errors
    /// What Chromium answered.
    pub async fn browser(&self, width: u32, height: u32) -> Result<Browser, String> {
        let target = call(
            &self.pipe,
            None,
            "Target.createTarget",
            json!({ "url": "about:blank" }),
        )?;
        let target = target["targetId"].as_str().unwrap_or_default().to_owned();
        let attached = call(
            &self.pipe,
            None,
            "Target.attachToTarget",
            json!({ "targetId": target, "flatten": true }),
        )?;
        let browser = Browser {
            pipe: Arc::clone(&self.pipe),
            session: attached["sessionId"]
                .as_str()
                .ok_or_else(|| format!("no sessionId in {attached}"))?
                .to_owned(),
            target,
            width,
        };
        browser.resize(height)?;
        browser.call("Page.enable", json!({}))?;
        Ok(browser)
    }
}

impl Drop for Chromium {
    fn drop(&mut self) {
        if let Ok(mut pipe) = self.pipe.lock() {
            let _ = pipe.call(None, "Browser.close", json!({}));
            let _ = pipe.child.kill();
            let _ = pipe.child.wait();
        }
    }
}

/// One command over the pipe, blocking this worker thread only.
fn call(
    pipe: &Mutex<Pipe>,
    session: Option<&str>,
    method: &str,
    params: Value,
) -> Result<Value, String> {
    tokio::task::block_in_place(|| {
        pipe.lock()
            .map_err(|_| "a previous call to Chromium panicked".to_owned())?
            .call(session, method, params)
    })
}

/// A page of the browser.
#[derive(Clone)]
pub struct Browser {
    pipe: Arc<Mutex<Pipe>>,
    session: String,
    target: String,
    width: u32,
}

impl std::fmt::Debug for Browser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Browser")
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

/// Marks the document shown, so that a new one (after a navigation) is told apart.
const MARK: &str = "window.__meridianOld = true";
/// Whether a new document has loaded since [`MARK`].
const LOADED: &str = "!window.__meridianOld && document.readyState === 'complete'";

impl Browser {
    fn call(&self, method: &str, params: Value) -> Result<Value, String> {
        call(&self.pipe, Some(&self.session), method, params)
    }

    fn resize(&self, height: u32) -> Result<(), String> {
        self.call(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": self.width, "height": height, "deviceScaleFactor": 1, "mobile": false }),
        )
        .map(drop)
    }

    /// The value of the JavaScript expression `expression` in the page.
    fn eval(&self, expression: &str) -> Result<Value, String> {
        let v = self.call(
            "Runtime.evaluate",
            json!({ "expression": expression, "returnByValue": true }),
        )?;
        if let Some(e) = v.get("exceptionDetails") {
            let text = e["exception"]["description"]
                .as_str()
                .or_else(|| e["text"].as_str())
                .unwrap_or("an exception");
            return Err(text.to_owned());
        }
        Ok(v["result"]["value"].clone())
    }

    /// Waits until a document other than the marked one has loaded; when
    /// `optional`, a document that is still the marked one after a moment
    /// means nothing navigated.
    async fn wait_for_load(&self, optional: bool) -> Result<(), String> {
        let start = Instant::now();
        loop {
            // During a navigation the old context may be gone: not loaded yet.
            if self.eval(LOADED).ok() == Some(Value::Bool(true)) {
                return Ok(());
            }
            if optional && start.elapsed() > Duration::from_millis(1500) {
                let marked = self.eval("window.__meridianOld === true").ok();
                if marked == Some(Value::Bool(true)) {
                    return Ok(());
                }
            }
            if start.elapsed() > LOAD_TIMEOUT {
                return Err(format!("no page loaded within {LOAD_TIMEOUT:?}"));
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Opens `url` and waits until it has loaded.
    ///
    /// # Errors
    /// What Chromium answered, or no page within the load timeout.
    pub async fn goto(&self, url: &str) -> Result<(), String> {
        self.eval(MARK)?;
        let nav = self.call("Page.navigate", json!({ "url": url }))?;
        if let Some(error) = nav["errorText"].as_str() {
            return Err(format!("{url}: {error}"));
        }
        self.wait_for_load(false).await
    }

    /// The address of the page shown.
    ///
    /// # Errors
    /// What Chromium answered.
    pub async fn current_url(&self) -> Result<String, String> {
        Ok(self
            .eval("location.href")?
            .as_str()
            .unwrap_or_default()
            .to_owned())
    }

    /// The page's `<title>`.
    ///
    /// # Errors
    /// What Chromium answered.
    pub async fn title(&self) -> Result<String, String> {
        Ok(self
            .eval("document.title")?
            .as_str()
            .unwrap_or_default()
            .to_owned())
    }

    /// The page's HTML as the browser holds it now.
    ///
    /// # Errors
    /// What Chromium answered.
    pub async fn source(&self) -> Result<String, String> {
        Ok(self
            .eval("document.documentElement.outerHTML")?
            .as_str()
            .unwrap_or_default()
            .to_owned())
    }

    /// The first element matching the CSS `selector`.
    ///
    /// # Errors
    /// `no such element` when nothing matches, or what Chromium answered.
    pub async fn find(&self, selector: &str) -> Result<Element, String> {
        let element = Element {
            browser: self.clone(),
            selector: selector.to_owned(),
            index: 0,
        };
        element.run("true")?;
        Ok(element)
    }

    /// Every element matching the CSS `selector`, in document order.
    ///
    /// # Errors
    /// What Chromium answered.
    pub async fn find_all(&self, selector: &str) -> Result<Vec<Element>, String> {
        let sel = Value::String(selector.to_owned());
        let n = self
            .eval(&format!("document.querySelectorAll({sel}).length"))?
            .as_u64()
            .unwrap_or(0);
        Ok((0..n)
            .map(|index| Element {
                browser: self.clone(),
                selector: selector.to_owned(),
                index,
            })
            .collect())
    }

    /// A PNG of the viewport.
    ///
    /// # Errors
    /// What Chromium answered, or a screenshot that is not base64.
    pub async fn screenshot(&self) -> Result<Vec<u8>, String> {
        let v = self.call("Page.captureScreenshot", json!({ "format": "png" }))?;
        decode_base64(v["data"].as_str().unwrap_or_default())
    }

    /// Writes a PNG of the whole page to `path` (creating its directory):
    /// the viewport is first made as tall as the page, keeping its width
    /// (and stays so).
    ///
    /// # Errors
    /// What Chromium answered, or the file could not be written.
    pub async fn save_screenshot(&self, path: &Path) -> Result<(), String> {
        // Short first, so that a page shorter than the viewport is not
        // padded to the viewport's height.
        self.resize(300)?;
        let height = self
            .eval("Math.ceil(document.documentElement.scrollHeight)")?
            .as_u64()
            .and_then(|h| u32::try_from(h).ok())
            .unwrap_or(800);
        self.resize(height.max(300))?;
        let png = self.screenshot().await?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        std::fs::write(path, png).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Closes the page.
    ///
    /// # Errors
    /// What Chromium answered.
    pub async fn quit(self) -> Result<(), String> {
        call(
            &self.pipe,
            None,
            "Target.closeTarget",
            json!({ "targetId": self.target }),
        )
        .map(drop)
    }
}

/// An element of the page shown: the `index`-th match of a CSS selector.
#[derive(Debug, Clone)]
pub struct Element {
    browser: Browser,
    selector: String,
    index: u64,
}

impl Element {
    /// Evaluates `body` with `el` bound to the element.
    fn run(&self, body: &str) -> Result<Value, String> {
        let sel = Value::String(self.selector.clone());
        self.browser
            .eval(&format!(
                "(() => {{ const el = document.querySelectorAll({sel})[{}]; \
                 if (!el) throw new Error('no such element: ' + {sel}); return {body}; }})()",
                self.index
            ))
            .map_err(|e| format!("`{}`: {e}", self.selector))
    }

    /// Clicks it and, when that navigates (a link, a submit button), waits
    /// for the next page.
    ///
    /// # Errors
    /// What Chromium answered, or a navigation that did not finish.
    pub async fn click(&self) -> Result<(), String> {
        self.browser.eval(MARK)?;
        self.run("(el.scrollIntoView(), el.click(), true)")?;
        self.browser.wait_for_load(true).await
    }

    /// Types `text` into it (appends to its value and fires `input`).
    ///
    /// # Errors
    /// What Chromium answered.
    pub async fn send_keys(&self, text: &str) -> Result<(), String> {
        let text = Value::String(text.to_owned());
        self.run(&format!(
            "(el.focus(), el.value += {text}, el.dispatchEvent(new Event('input', {{ bubbles: true }})), true)"
        ))
        .map(drop)
    }

    /// Its rendered text (what a reader sees).
    ///
    /// # Errors
    /// What Chromium answered.
    pub async fn text(&self) -> Result<String, String> {
        Ok(self
            .run("el.innerText")?
            .as_str()
            .unwrap_or_default()
            .trim()
            .to_owned())
    }

    /// The value of its attribute `name`, if it has one. As in WebDriver,
    /// `href` and `action` are the resolved URLs.
    ///
    /// # Errors
    /// What Chromium answered.
    pub async fn attribute(&self, name: &str) -> Result<Option<String>, String> {
        let name = Value::String(name.to_owned());
        let v = self.run(&format!(
            "(({name} in el) && typeof el[{name}] === 'string') ? el[{name}] : el.getAttribute({name})"
        ))?;
        Ok(v.as_str().map(str::to_owned))
    }
}

/// Standard base64 (with or without padding), as CDP screenshots are.
fn decode_base64(text: &str) -> Result<Vec<u8>, String> {
    fn sextet(c: u8) -> Option<u32> {
        match c {
            b'A'..=b'Z' => Some(u32::from(c - b'A')),
            b'a'..=b'z' => Some(u32::from(c - b'a') + 26),
            b'0'..=b'9' => Some(u32::from(c - b'0') + 52),
            b'+' => Some(62),
            b'/' => Some(63),
            _ => None,
        }
    }
    let digits: Vec<u8> = text
        .bytes()
        .filter(|c| !c.is_ascii_whitespace() && *c != b'=')
        .collect();
    let mut out = Vec::with_capacity(digits.len() * 3 / 4);
    for chunk in digits.chunks(4) {
        let mut n = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            let v = sextet(c).ok_or_else(|| format!("not base64: byte {c:#x}"))?;
            n |= v << (18 - 6 * i);
        }
        let bytes = n.to_be_bytes();
        match chunk.len() {
            4 => out.extend_from_slice(&bytes[1..4]),
            3 => out.extend_from_slice(&bytes[1..3]),
            2 => out.push(bytes[1]),
            _ => return Err("truncated base64".to_owned()),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::decode_base64;

    #[test]
    fn base64_decodes_with_and_without_padding() {
        assert_eq!(decode_base64("TWVyaWRpYW4=").unwrap(), b"Meridian");
        assert_eq!(decode_base64("TWVyaWRpYW4").unwrap(), b"Meridian");
        assert_eq!(decode_base64("TWE=").unwrap(), b"Ma");
        assert_eq!(decode_base64("TQ==").unwrap(), b"M");
        assert_eq!(decode_base64("").unwrap(), b"");
        assert!(decode_base64("T").is_err());
        assert!(decode_base64("T*==").is_err());
    }
}
