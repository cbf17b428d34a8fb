//! `cargo xtask screenshots`: full-page pictures of every public page at phone (375 px) and
//! desktop (1280 px) widths, in the light and the dark colour scheme, with and without
//! JavaScript, for review (and to compare a change's pictures with those before it).
//!
//! It builds the server, starts it on a free loopback port with a temporary data folder, drives
//! Debian's Chromium through chromedriver (a few WebDriver calls with curl, so the task needs no
//! WebDriver crate), and takes each picture with Chromium's own full-page capture. The PNGs go
//! to target/screenshots/.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use crate::test::{CHROMEDRIVER, CHROMIUM, ensure_browser};
use crate::tools::{self, Process};

/// The pages, and the name each picture gets.
const PAGES: [(&str, &str); 5] = [
    ("/", "home"),
    ("/contact", "contact"),
    ("/privacy", "privacy"),
    // A page of the clinician's own, added in the inbox as a practice adds its fees page
    // (`lighthouse::OWN_PAGE`).
    (crate::lighthouse::OWN_PAGE.0, "own-page"),
    ("/no-such-page", "not-found"),
];

/// (width, height of the first screen, phone?)
const SCREENS: [(u32, u32, bool); 2] = [(375, 800, true), (1280, 900, false)];

pub fn run(args: &[String]) -> Result<()> {
    if let Some(arg) = args.first() {
        if arg == "-h" || arg == "--help" {
            println!("usage: cargo xtask screenshots  (writes target/screenshots/*.png)");
            return Ok(());
        }
        bail!("unknown option {arg:?}");
    }
    let root = tools::root();
    ensure_browser()?;
    eprintln!("==> building the server");
    tools::run(tools::cargo().args(["build", "--quiet", "--bin", "kap-practice"]))?;

    let scratch = std::env::temp_dir().join(format!("kap-screenshots-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).with_context(|| scratch.display().to_string())?;
    let result = take_all(&root, &scratch);
    let _ = std::fs::remove_dir_all(&scratch);
    let paths = result?;
    println!("{} screenshots:", paths.len());
    for path in paths {
        println!("  {}", path.display());
    }
    Ok(())
}

fn take_all(root: &Path, scratch: &Path) -> Result<Vec<PathBuf>> {
    let out = root.join("target/screenshots");
    std::fs::create_dir_all(&out).with_context(|| out.display().to_string())?;

    // The server, with an empty config file so no kap-practice.toml nearby is picked up.
    let config = scratch.join("kap-practice.toml");
    std::fs::write(&config, "").with_context(|| config.display().to_string())?;
    let site_port = tools::free_port()?;
    let binary = tools::target_dir().join("debug/kap-practice");
    let base = format!("http://127.0.0.1:{site_port}");
    let mut add = tools::kap_practice(&binary, scratch, &config);
    add.env("KAP_BASE_URL", &base);
    crate::lighthouse::add_clinician(add)?;
    let log = scratch.join("server.log");
    let mut server = Process::spawn(
        "the server",
        tools::kap_practice(&binary, scratch, &config)
            .args(["serve", "--bind", &format!("127.0.0.1:{site_port}")])
            .env("KAP_BASE_URL", &base)
            .stdout(Stdio::null())
            .stderr(Stdio::from(
                std::fs::File::create(&log).with_context(|| log.display().to_string())?,
            )),
    )?;
    server
        .wait_until(Duration::from_secs(30), || {
            tools::status_of(site_port, "/healthz") == Some(200)
        })
        .with_context(|| {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            format!("server log:\n{text}")
        })?;
    crate::lighthouse::add_own_page(&base, scratch)?;
    // The new page makes a new site: pictured once it is served.
    server.wait_until(Duration::from_secs(60), || tools::pages_ready(site_port))?;

    let driver_port = tools::free_port()?;
    let mut driver = Process::spawn(
        "chromedriver",
        Command::new(CHROMEDRIVER)
            .arg(format!("--port={driver_port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    )?;
    driver.wait_until(Duration::from_secs(15), || {
        webdriver(driver_port, "GET", "/status", None)
            .is_ok_and(|reply| reply["value"]["ready"] == true)
    })?;

    let mut written = Vec::new();
    for (width, height, phone) in SCREENS {
        for (dark, scripts) in [(false, true), (true, true), (false, false), (true, false)] {
            let profile = scratch.join(format!("profile-{width}-{dark}-{scripts}"));
            let screen = Screen {
                width,
                height,
                phone,
                dark,
                scripts,
            };
            let session = Session::start(driver_port, &screen, &profile)?;
            let shots = (|| {
                let mut shots = Vec::new();
                for (path, name) in PAGES {
                    let scheme = if dark { "dark" } else { "light" };
                    let js = if scripts { "" } else { "-no-js" };
                    let file = out.join(format!("{name}-{width}-{scheme}{js}.png"));
                    let url = format!("http://127.0.0.1:{site_port}{path}");
                    let png = session.full_page(&url)?;
                    std::fs::write(&file, png).with_context(|| file.display().to_string())?;
                    shots.push(file);
                }
                Ok::<_, anyhow::Error>(shots)
            })();
            session.end();
            written.extend(shots?);
        }
    }
    drop(driver);
    drop(server);
    Ok(written)
}

/// How one browser shows the pages.
struct Screen {
    width: u32,
    height: u32,
    phone: bool,
    dark: bool,
    /// Whether the pages' scripts run (the pictures without them show what a visitor with
    /// JavaScript off sees; the capture's own script still runs, through WebDriver).
    scripts: bool,
}

/// One WebDriver session (one browser) at one screen size and colour scheme.
struct Session {
    port: u16,
    id: String,
    scripts: bool,
}

impl Session {
    fn start(port: u16, screen: &Screen, profile: &Path) -> Result<Session> {
        let Screen {
            width,
            height,
            phone,
            dark,
            scripts,
        } = *screen;
        let mut args = crate::chromium_flags::HEADLESS.map(String::from).to_vec();
        args.extend([
            "--hide-scrollbars".into(),
            format!("--window-size={width},{height}"),
            format!("--user-data-dir={}", profile.display()),
        ]);
        if dark {
            // Makes `prefers-color-scheme: dark` match.
            args.push("--force-dark-mode".into());
        }
        // The emulated screen gives the page exactly this viewport (a headless window is at
        // least 500 px wide).
        let body = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": args,
                "mobileEmulation": { "deviceMetrics": {
                    "width": width, "height": height, "pixelRatio": 1,
                    "touch": phone, "mobile": phone,
                } },
            },
        } } });
        let reply = webdriver(port, "POST", "/session", Some(&body))?;
        let id = reply["value"]["sessionId"]
            .as_str()
            .with_context(|| format!("chromedriver did not start a session: {reply}"))?;
        let session = Session {
            port,
            id: id.to_string(),
            scripts,
        };
        if !scripts {
            // As the browser's own "Disable JavaScript": the pages' scripts do not run (and
            // `<noscript>` and `@media (scripting: none)` apply); the capture's script below
            // runs through the DevTools protocol all the same.
            let off = json!({ "cmd": "Emulation.setScriptExecutionDisabled",
                "params": { "value": true } });
            session.call("POST", "/goog/cdp/execute", Some(&off))?;
        }
        Ok(session)
    }

    fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Value> {
        webdriver(
            self.port,
            method,
            &format!("/session/{}{path}", self.id),
            body,
        )
    }

    /// Opens `url`, waits for its fonts, and captures the whole page as PNG. Parts of a page that
    /// lay out only when they come near the screen (`content-visibility: auto`) are drawn as a
    /// reader scrolling to them sees them: shown, with the same containment (and so the same
    /// clipping), since a capture beyond the screen would leave them blank; and the page is
    /// scrolled through once, so what a script sets up as it comes near (the compare panel's
    /// handle) is there.
    fn full_page(&self, url: &str) -> Result<Vec<u8>> {
        self.call("POST", "/url", Some(&json!({ "url": url })))?;
        // Shows what lays out only near the screen; then, where the page's scripts run, waits
        // for its fonts and scrolls through it once (a page with scripts off runs no callback,
        // so there the capture measures it at once).
        let show = "for (const el of document.querySelectorAll('body *')) {\
                if (getComputedStyle(el).contentVisibility === 'auto') {\
                  el.style.contentVisibility = 'visible';\
                  el.style.contain = 'layout style paint';\
                }\
              }\
              const e = document.documentElement;";
        let measure = "[Math.ceil(e.scrollWidth), Math.ceil(e.scrollHeight)]";
        let script = if self.scripts {
            format!(
                "(async () => {{\
                  const frame = () => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));\
                  await document.fonts.ready;\
                  {show}\
                  for (let y = 0; y < e.scrollHeight; y += innerHeight) {{ scrollTo({{ top: y, behavior: 'instant' }}); await frame(); }}\
                  scrollTo({{ top: 0, behavior: 'instant' }});\
                  await frame();\
                  return {measure};\
                }})()"
            )
        } else {
            format!("(() => {{ {show} return {measure}; }})()")
        };
        // Through the DevTools protocol rather than WebDriver's script call, which a page with
        // scripts off refuses.
        let evaluate = json!({ "cmd": "Runtime.evaluate", "params": {
            "expression": script, "awaitPromise": true, "returnByValue": true,
        } });
        let reply = self.call("POST", "/goog/cdp/execute", Some(&evaluate))?;
        let size = &reply["value"]["result"]["value"];
        let (Some(w), Some(h)) = (size[0].as_u64(), size[1].as_u64()) else {
            bail!("cannot measure {url}: {size}");
        };
        let capture = json!({ "cmd": "Page.captureScreenshot", "params": {
            "format": "png",
            "captureBeyondViewport": true,
            "clip": { "x": 0, "y": 0, "width": w, "height": h, "scale": 1 },
        } });
        let reply = self.call("POST", "/goog/cdp/execute", Some(&capture))?;
        let data = reply["value"]["data"]
            .as_str()
            .with_context(|| format!("no screenshot of {url}"))?;
        base64_decode(data).with_context(|| format!("the screenshot of {url} is not valid base64"))
    }

    fn end(&self) {
        let _ = self.call("DELETE", "", None);
    }
}

/// A WebDriver call; an error reply becomes an `Err` with chromedriver's message.
fn webdriver(port: u16, method: &str, path: &str, body: Option<&Value>) -> Result<Value> {
    let body = body.map(Value::to_string);
    let reply = tools::fetch(
        method,
        &format!("http://127.0.0.1:{port}{path}"),
        &["--header", "Content-Type: application/json"],
        body.as_deref(),
    )?;
    let value: Value = serde_json::from_slice(&reply.body)
        .with_context(|| format!("chromedriver: {method} {path}: answered {}", reply.status))?;
    if let Some(error) = value["value"]["error"].as_str() {
        let message = value["value"]["message"].as_str().unwrap_or_default();
        let message: String = message.chars().take(500).collect();
        bail!("chromedriver: {method} {path}: {error}: {message}");
    }
    Ok(value)
}

fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let clean: Vec<u8> = text
        .bytes()
        .filter(|b| !b.is_ascii_whitespace() && *b != b'=')
        .collect();
    let mut out = Vec::with_capacity(clean.len() * 3 / 4);
    for group in clean.chunks(4) {
        let mut n = 0u32;
        for (i, &c) in group.iter().enumerate() {
            n |= value(c)? << (18 - 6 * i);
        }
        let bytes = n.to_be_bytes();
        out.extend_from_slice(&bytes[1..group.len()]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_base64() {
        assert_eq!(base64_decode("aGVsbG8=").unwrap(), b"hello");
        assert_eq!(base64_decode("aGVsbG8h").unwrap(), b"hello!");
        assert_eq!(base64_decode("aGk=").unwrap(), b"hi");
        assert!(base64_decode("a*b=").is_none());
    }
}
