//! `cargo xtask screenshots`: full-page pictures of every public page at phone (375 px) and
//! desktop (1280 px) widths, in the light and the dark colour scheme, for review.
//!
//! It builds the server, starts it on a free loopback port with a temporary data folder, drives
//! Debian's Chromium through chromedriver (a few WebDriver calls over plain HTTP, so the task
//! needs no crates), and takes each picture with Chromium's own full-page capture. The PNGs go
//! to target/screenshots/.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::test::{CHROMEDRIVER, CHROMIUM, ensure_browser};
use crate::tools;

/// The pages, and the name each picture gets.
const PAGES: [(&str, &str); 4] = [
    ("/", "home"),
    ("/contact", "contact"),
    ("/privacy", "privacy"),
    ("/no-such-page", "not-found"),
];

/// (width, height of the first screen, phone?)
const SCREENS: [(u32, u32, bool); 2] = [(375, 800, true), (1280, 900, false)];

pub fn run(args: &[String]) -> Result<(), String> {
    if let Some(arg) = args.first() {
        if arg == "-h" || arg == "--help" {
            println!("usage: cargo xtask screenshots  (writes target/screenshots/*.png)");
            return Ok(());
        }
        return Err(format!("unknown option {arg:?}"));
    }
    let root = tools::root();
    ensure_browser()?;
    eprintln!("==> building the server");
    tools::run(
        Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
            .current_dir(&root)
            .args(["build", "--quiet", "--bin", "kap-practice"]),
    )?;

    let scratch = std::env::temp_dir().join(format!("kap-screenshots-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).map_err(|e| format!("{}: {e}", scratch.display()))?;
    let result = take_all(&root, &scratch);
    let _ = std::fs::remove_dir_all(&scratch);
    let paths = result?;
    println!("{} screenshots:", paths.len());
    for path in paths {
        println!("  {}", path.display());
    }
    Ok(())
}

fn take_all(root: &Path, scratch: &Path) -> Result<Vec<PathBuf>, String> {
    let out = root.join("target/screenshots");
    std::fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;

    // The server, with an empty config file so no kap-practice.toml nearby is picked up.
    let config = scratch.join("kap-practice.toml");
    std::fs::write(&config, "").map_err(|e| format!("{}: {e}", config.display()))?;
    let site_port = free_port()?;
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|t| if t.is_absolute() { t } else { root.join(t) })
        .unwrap_or_else(|| root.join("target"));
    let binary = target.join("debug/kap-practice");
    let server = Process::spawn(
        Command::new(&binary)
            .current_dir(scratch)
            .arg("--config")
            .arg(&config)
            .arg("--data-dir")
            .arg(scratch.join("data"))
            .args(["serve", "--bind", &format!("127.0.0.1:{site_port}")])
            .env("KAP_BASE_URL", format!("http://127.0.0.1:{site_port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::from(
                std::fs::File::create(scratch.join("server.log")).map_err(|e| e.to_string())?,
            )),
        "the server",
    )?;
    wait_until(Duration::from_secs(30), "the server", || {
        http(site_port, "GET", "/healthz", None).is_ok()
    })
    .map_err(|e| {
        let log = std::fs::read_to_string(scratch.join("server.log")).unwrap_or_default();
        format!("{e}\nserver log:\n{log}")
    })?;

    let driver_port = free_port()?;
    let driver = Process::spawn(
        Command::new(CHROMEDRIVER)
            .arg(format!("--port={driver_port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
        "chromedriver",
    )?;
    wait_until(Duration::from_secs(15), "chromedriver", || {
        http(driver_port, "GET", "/status", None)
            .map(|body| body.contains("\"ready\":true"))
            .unwrap_or(false)
    })?;

    let mut written = Vec::new();
    for (width, height, phone) in SCREENS {
        for dark in [false, true] {
            let profile = scratch.join(format!("profile-{width}-{dark}"));
            let session = Session::start(driver_port, width, height, phone, dark, &profile)?;
            let shots = (|| {
                let mut shots = Vec::new();
                for (path, name) in PAGES {
                    let scheme = if dark { "dark" } else { "light" };
                    let file = out.join(format!("{name}-{width}-{scheme}.png"));
                    let url = format!("http://127.0.0.1:{site_port}{path}");
                    let png = session.full_page(&url)?;
                    std::fs::write(&file, png).map_err(|e| format!("{}: {e}", file.display()))?;
                    shots.push(file);
                }
                Ok::<_, String>(shots)
            })();
            session.end();
            written.extend(shots?);
        }
    }
    drop(driver);
    drop(server);
    Ok(written)
}

/// A child process in its own process group, killed with everything it started when dropped.
pub(crate) struct Process(Child);

impl Process {
    pub(crate) fn spawn(cmd: &mut Command, what: &str) -> Result<Process, String> {
        use std::os::unix::process::CommandExt;
        cmd.stdin(Stdio::null())
            .process_group(0)
            .spawn()
            .map(Process)
            .map_err(|e| format!("cannot start {what}: {e}"))
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", "--", &format!("-{}", self.0.id())])
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.0.id())])
            .stderr(Stdio::null())
            .status();
        let _ = self.0.wait();
    }
}

pub(crate) fn free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free port: {e}"))
}

pub(crate) fn wait_until(
    limit: Duration,
    what: &str,
    mut ready: impl FnMut() -> bool,
) -> Result<(), String> {
    let start = Instant::now();
    while !ready() {
        if start.elapsed() > limit {
            return Err(format!("{what} did not answer within {limit:?}"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}

/// One WebDriver session (one browser) at one screen size and colour scheme.
struct Session {
    port: u16,
    id: String,
}

impl Session {
    fn start(
        port: u16,
        width: u32,
        height: u32,
        phone: bool,
        dark: bool,
        profile: &Path,
    ) -> Result<Session, String> {
        let mut args = vec![
            "--headless=new".to_string(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-dev-shm-usage".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--no-first-run".into(),
            "--hide-scrollbars".into(),
            format!("--window-size={width},{height}"),
            format!("--user-data-dir={}", profile.display()),
        ];
        if dark {
            // Makes `prefers-color-scheme: dark` match.
            args.push("--force-dark-mode".into());
        }
        let args: Vec<String> = args.iter().map(|a| json_quote(a)).collect();
        // The emulated screen gives the page exactly this viewport (a headless window is at
        // least 500 px wide).
        let body = format!(
            r#"{{"capabilities":{{"alwaysMatch":{{"browserName":"chrome","goog:chromeOptions":{{"binary":{},"args":[{}],"mobileEmulation":{{"deviceMetrics":{{"width":{width},"height":{height},"pixelRatio":1,"touch":{phone},"mobile":{phone}}}}}}}}}}}}}"#,
            json_quote(CHROMIUM),
            args.join(",")
        );
        let reply = webdriver(port, "POST", "/session", Some(&body))?;
        let id = json_string_after(&reply, "\"sessionId\"")
            .ok_or_else(|| format!("chromedriver did not start a session: {reply}"))?;
        Ok(Session { port, id })
    }

    fn call(&self, method: &str, path: &str, body: Option<&str>) -> Result<String, String> {
        webdriver(
            self.port,
            method,
            &format!("/session/{}{path}", self.id),
            body,
        )
    }

    /// Opens `url`, waits for its fonts, and captures the whole page as PNG.
    fn full_page(&self, url: &str) -> Result<Vec<u8>, String> {
        self.call(
            "POST",
            "/url",
            Some(&format!(r#"{{"url":{}}}"#, json_quote(url))),
        )?;
        let script = "const done = arguments[arguments.length - 1];\
            document.fonts.ready.then(() => requestAnimationFrame(() => {\
              const e = document.documentElement;\
              done(Math.ceil(e.scrollWidth) + 'x' + Math.ceil(e.scrollHeight));\
            }));";
        let reply = self.call(
            "POST",
            "/execute/async",
            Some(&format!(r#"{{"script":{},"args":[]}}"#, json_quote(script))),
        )?;
        let size = json_string_after(&reply, "\"value\"")
            .ok_or_else(|| format!("cannot measure {url}: {reply}"))?;
        let (w, h) = size
            .split_once('x')
            .and_then(|(w, h)| Some((w.parse::<u32>().ok()?, h.parse::<u32>().ok()?)))
            .ok_or_else(|| format!("cannot measure {url}: {size}"))?;
        let capture = format!(
            r#"{{"cmd":"Page.captureScreenshot","params":{{"format":"png","captureBeyondViewport":true,"clip":{{"x":0,"y":0,"width":{w},"height":{h},"scale":1}}}}}}"#
        );
        let reply = self.call("POST", "/goog/cdp/execute", Some(&capture))?;
        let data = json_string_after(&reply, "\"data\"")
            .ok_or_else(|| format!("no screenshot of {url}: {}", short(&reply)))?;
        base64_decode(&data.replace("\\/", "/"))
            .ok_or_else(|| format!("the screenshot of {url} is not valid base64"))
    }

    fn end(&self) {
        let _ = self.call("DELETE", "", None);
    }
}

fn short(text: &str) -> &str {
    &text[..text.len().min(500)]
}

/// A WebDriver call; an error reply becomes an `Err` with chromedriver's message.
fn webdriver(port: u16, method: &str, path: &str, body: Option<&str>) -> Result<String, String> {
    let reply = http(port, method, path, body)?;
    if reply.contains("\"error\":") && !reply.contains("\"sessionId\"") {
        return Err(format!("chromedriver: {method} {path}: {}", short(&reply)));
    }
    Ok(reply)
}

/// A small HTTP/1.1 client for loopback: sends one request, returns the body of the reply.
pub(crate) fn http(
    port: u16,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> Result<String, String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(Duration::from_secs(120)))
        .map_err(|e| e.to_string())?;
    let body = body.unwrap_or("");
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream
        .write_all(request.as_bytes())
        .map_err(|e| e.to_string())?;
    let mut reader = BufReader::new(stream);
    let mut status = String::new();
    reader
        .read_line(&mut status)
        .map_err(|e| format!("{method} {path}: {e}"))?;
    let mut length = None;
    let mut chunked = false;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).map_err(|e| e.to_string())?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            let name = name.trim().to_ascii_lowercase();
            if name == "content-length" {
                length = value.trim().parse::<usize>().ok();
            } else if name == "transfer-encoding" && value.to_ascii_lowercase().contains("chunked")
            {
                chunked = true;
            }
        }
    }
    let mut bytes = Vec::new();
    if chunked {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size).map_err(|e| e.to_string())?;
            let size = usize::from_str_radix(size.trim().split(';').next().unwrap_or(""), 16)
                .map_err(|_| format!("{method} {path}: bad chunk"))?;
            if size == 0 {
                break;
            }
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk).map_err(|e| e.to_string())?;
            bytes.extend_from_slice(&chunk[..size]);
        }
    } else if let Some(n) = length {
        bytes.resize(n, 0);
        reader.read_exact(&mut bytes).map_err(|e| e.to_string())?;
    } else {
        reader.read_to_end(&mut bytes).map_err(|e| e.to_string())?;
    }
    let code = status.split_whitespace().nth(1).unwrap_or("");
    let text = String::from_utf8_lossy(&bytes).into_owned();
    if code.starts_with('2') || text.starts_with('{') {
        Ok(text)
    } else {
        Err(format!("{method} {path}: {}", status.trim()))
    }
}

/// `text` as a JSON string literal.
fn json_quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The string that follows `key:` in a JSON text (escapes other than `\"` and `\\` are kept).
fn json_string_after(text: &str, key: &str) -> Option<String> {
    let rest = &text[text.find(key)? + key.len()..];
    let rest = rest.trim_start().strip_prefix(':')?.trim_start();
    let rest = rest.strip_prefix('"')?;
    let mut out = String::new();
    let mut chars = rest.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => return Some(out),
            '\\' => match chars.next()? {
                '"' => out.push('"'),
                '\\' => out.push('\\'),
                other => {
                    out.push('\\');
                    out.push(other);
                }
            },
            c => out.push(c),
        }
    }
    None
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

    #[test]
    fn reads_json_strings() {
        let reply = r#"{"value":{"capabilities":{"x":"y"},"sessionId":"ab\"c"}}"#;
        assert_eq!(
            json_string_after(reply, "\"sessionId\"").as_deref(),
            Some("ab\"c")
        );
        assert_eq!(json_quote("a\"b\\c"), r#""a\"b\\c""#);
    }
}
