//! One real browser per test: Debian's Chromium driven through its own chromedriver on a free
//! loopback port, with a fresh profile, stopped (with every process it started) when dropped.
//!
//! The tools are found through `CHROMIUM`, `CHROMEDRIVER` and `AXE_PATH` (set by `cargo xtask
//! test`) or at their usual places; when one is missing the test fails and says how to install
//! it. A browser test is never skipped.

use std::net::TcpListener as StdListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::key::Key;
use fantoccini::wd::{Capabilities, TimeoutConfiguration};
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::TestApp;
use crate::common::clinician::{EMAIL, PASSWORD};

/// The size of the page area (CSS pixels, scale 1) and the kind of pointer the device has.
#[derive(Clone, Copy, Debug)]
pub struct Viewport {
    pub width: u32,
    pub height: u32,
    /// A phone: touch input, mobile viewport rules (the page's `<meta name=viewport>` applies).
    pub touch: bool,
}

/// Two tests of one check, each with its own name: `on_phone_and_desktop!(|viewport| check(viewport);
/// name_on_a_phone, name_on_a_desktop)` runs `check` with [`PHONE`] in the first and [`DESKTOP`]
/// in the second.
macro_rules! on_phone_and_desktop {
    (|$viewport:ident| $check:expr; $phone:ident, $desktop:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $phone() {
            let $viewport = $crate::harness::PHONE;
            $check.await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $desktop() {
            let $viewport = $crate::harness::DESKTOP;
            $check.await;
        }
    };
}
pub(crate) use on_phone_and_desktop;

pub const PHONE: Viewport = Viewport {
    width: 390,
    height: 844,
    touch: true,
};

pub const DESKTOP: Viewport = Viewport {
    width: 1280,
    height: 900,
    touch: false,
};

/// A DevTools protocol command, sent through chromedriver.
#[derive(Debug)]
struct Cdp {
    cmd: &'static str,
    params: Value,
}

impl fantoccini::wd::WebDriverCompatibleCommand for Cdp {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/goog/cdp/execute",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (
            http::Method::POST,
            Some(json!({ "cmd": self.cmd, "params": self.params }).to_string()),
        )
    }
}

/// How the browser is set up.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    pub viewport: Viewport,
    pub javascript: bool,
    /// `prefers-color-scheme: dark`.
    pub dark: bool,
}

impl Options {
    pub fn new(viewport: Viewport) -> Options {
        Options {
            viewport,
            javascript: true,
            dark: false,
        }
    }
}

const INSTALL_HINT: &str = "run `cargo xtask test`, which installs the browser test tools";

fn tool(var: &str, default: &Path, what: &str) -> PathBuf {
    let path = std::env::var_os(var)
        .map(PathBuf::from)
        .unwrap_or_else(|| default.to_path_buf());
    assert!(
        path.is_file(),
        "{what} not found at {} (set {var} to its path, or {INSTALL_HINT})",
        path.display()
    );
    path
}

pub fn chromium() -> PathBuf {
    tool("CHROMIUM", Path::new("/usr/bin/chromium"), "Chromium")
}

pub fn chromedriver() -> PathBuf {
    tool(
        "CHROMEDRIVER",
        Path::new("/usr/bin/chromedriver"),
        "chromedriver",
    )
}

/// The source of axe-core, read once.
pub fn axe_source() -> &'static str {
    static SOURCE: OnceLock<String> = OnceLock::new();
    SOURCE.get_or_init(|| {
        let default = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/browser/node_modules/axe-core/axe.min.js");
        let path = tool("AXE_PATH", &default, "axe-core (axe.min.js)");
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
    })
}

/// A chromedriver process in its own process group; dropping it kills the group, so a test that
/// panics leaves no Chromium behind.
struct Driver {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

impl Driver {
    async fn start(dir: &Path) -> Driver {
        use std::os::unix::process::CommandExt;
        let program = chromedriver();
        let mut last_error = String::new();
        for attempt in 0..3 {
            let port = free_port();
            let log = dir.join(format!("chromedriver-{attempt}.log"));
            let child = Command::new(&program)
                .arg(format!("--port={port}"))
                .arg(format!("--log-path={}", log.display()))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .process_group(0)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", program.display()));
            let mut driver = Driver { child, port, log };
            match driver.wait_ready(Duration::from_secs(15)).await {
                Ok(()) => return driver,
                Err(e) => last_error = e,
            }
        }
        panic!("chromedriver did not start: {last_error}");
    }

    /// Waits until `GET /status` answers `"ready": true`.
    async fn wait_ready(&mut self, limit: Duration) -> Result<(), String> {
        let start = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("exited ({status}); log:\n{}", self.log_tail()));
            }
            if driver_ready(self.port).await {
                return Ok(());
            }
            if start.elapsed() > limit {
                return Err(format!(
                    "no answer on port {} after {limit:?}; log:\n{}",
                    self.port,
                    self.log_tail()
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

/// Whether chromedriver's `GET /status` says it is ready for a new session.
async fn driver_ready(port: u16) -> bool {
    let ask = async {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
        let request =
            format!("GET /status HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await?;
        let mut response = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let n = stream.read(&mut buf).await?;
            response.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&response);
            if n == 0 || text.contains("\"ready\":") {
                return std::io::Result::Ok(text.contains("\"ready\":true"));
            }
        }
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(2), ask).await,
        Ok(Ok(true))
    )
}

/// What `script` returned (`ran`: WebDriver's answer), decoded; a failed script or a value of
/// another shape fails the test.
fn decoded<T: DeserializeOwned>(
    script: &str,
    ran: Result<Value, fantoccini::error::CmdError>,
) -> T {
    let value = ran.unwrap_or_else(|e| panic!("script failed: {e}\n{script}"));
    serde_json::from_value(value.clone()).unwrap_or_else(|e| {
        panic!("script returned {value}, not the expected shape ({e})\n{script}")
    })
}

/// A Chromium session. Call [`Browser::close`] at the end of a test; if the test panics first,
/// dropping it kills the browser.
pub struct Browser {
    pub client: Client,
    pub options: Options,
    // Dropped after the client: the driver (and its browser), then the profile folder.
    _driver: Driver,
    _profile: tempfile::TempDir,
}

impl Browser {
    pub async fn start(options: Options) -> Browser {
        let profile = tempfile::tempdir().expect("temporary browser profile");
        let driver = Driver::start(profile.path()).await;
        let Viewport {
            width,
            height,
            touch,
        } = options.viewport;
        let user_data = profile.path().join("chromium");
        let mut args = crate::chromium_flags::HEADLESS.map(String::from).to_vec();
        args.extend([
            format!("--window-size={width},{height}"),
            format!("--user-data-dir={}", user_data.display()),
        ]);
        if options.dark {
            // Sets `prefers-color-scheme: dark` (checked in `start`).
            args.push("--force-dark-mode".into());
        }
        let mut chrome = json!({
            "binary": chromium(),
            "args": args,
            // Headless windows are at least 500 px wide and their viewport is smaller than the
            // window; the emulated screen gives the page exactly the viewport we ask for.
            "mobileEmulation": {
                "deviceMetrics": {
                    "width": width,
                    "height": height,
                    "pixelRatio": 1,
                    "touch": touch,
                    "mobile": touch,
                }
            },
        });
        if !options.javascript {
            chrome["prefs"] = json!({ "profile.managed_default_content_settings.javascript": 2 });
        }
        let mut capabilities = Capabilities::new();
        capabilities.insert("browserName".into(), json!("chrome"));
        capabilities.insert("goog:chromeOptions".into(), chrome);
        let url = format!("http://127.0.0.1:{}", driver.port);
        let mut client = None;
        let mut last_error = String::new();
        for _ in 0..3 {
            match ClientBuilder::new(HttpConnector::new())
                .capabilities(capabilities.clone())
                .connect(&url)
                .await
            {
                Ok(c) => {
                    client = Some(c);
                    break;
                }
                Err(e) => {
                    last_error = e.to_string();
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }
        let client = client.unwrap_or_else(|| {
            panic!(
                "Chromium did not start: {last_error}\nchromedriver log:\n{}",
                driver.log_tail()
            )
        });
        client
            .update_timeouts(TimeoutConfiguration::new(
                Some(Duration::from_secs(60)),
                Some(Duration::from_secs(30)),
                Some(Duration::ZERO),
            ))
            .await
            .expect("set timeouts");
        Browser {
            client,
            options,
            _driver: driver,
            _profile: profile,
        }
    }

    /// Ends the session cleanly (the drop that follows kills whatever is left).
    pub async fn close(self) {
        let _ = self.client.clone().close().await;
    }

    /// Opens `url` and waits for its load event.
    pub async fn goto(&self, url: &str) {
        self.client
            .goto(url)
            .await
            .unwrap_or_else(|e| panic!("opening {url}: {e}"));
        if self.options.dark {
            assert!(
                self.is_dark().await,
                "the browser did not switch to the dark colour scheme"
            );
        }
    }

    /// Runs `script` (a function body; `arguments` holds `args`) and decodes what it returns.
    pub async fn js<T: DeserializeOwned>(&self, script: &str, args: Vec<Value>) -> T {
        decoded(script, self.client.execute(script, args).await)
    }

    /// Runs `script` without arguments and reads what it returns.
    pub async fn eval<T: DeserializeOwned>(&self, script: &str) -> T {
        self.js(script, vec![]).await
    }

    /// Runs an async script: it must call `arguments[arguments.length - 1]` with its result.
    pub async fn js_async<T: DeserializeOwned>(&self, script: &str, args: Vec<Value>) -> T {
        decoded(script, self.client.execute_async(script, args).await)
    }

    /// Presses and releases one key, as a keyboard does (to the focused element).
    pub async fn press(&self, key: Key) {
        let c: char = key.into();
        let keys = KeyActions::new("keyboard".into())
            .then(KeyAction::Down { value: c })
            .then(KeyAction::Up { value: c });
        self.client
            .perform_actions(keys)
            .await
            .unwrap_or_else(|e| panic!("pressing {key:?}: {e}"));
        self.client.release_actions().await.expect("release keys");
    }

    /// The focused element's tag, `id` and class.
    pub async fn focused(&self) -> Focused {
        let element = self.client.active_element().await.expect("active element");
        Focused {
            tag: element.tag_name().await.unwrap_or_default(),
            id: element.attr("id").await.ok().flatten().unwrap_or_default(),
            class: element
                .attr("class")
                .await
                .ok()
                .flatten()
                .unwrap_or_default(),
        }
    }

    /// Waits up to `limit` for an element matching `css`.
    pub async fn wait_for(
        &self,
        css: &str,
        limit: Duration,
    ) -> Option<fantoccini::elements::Element> {
        self.client
            .wait()
            .at_most(limit)
            .for_element(Locator::Css(css))
            .await
            .ok()
    }
}

/// The axe-core rule tags checked: WCAG 2.2 AA and everything below it.
pub const WCAG_TAGS: [&str; 5] = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"];

/// The steps a person takes, as the journey tests write them.
impl Browser {
    /// axe-core's WCAG 2.2 AA violations on the open page, as readable lines.
    pub async fn axe_violations(&self) -> Vec<String> {
        let loaded: String = self
            .eval(&format!("{}\n;return typeof window.axe;", axe_source()))
            .await;
        assert_eq!(loaded, "object", "axe-core did not load into the page");
        self.js_async(
            r#"
            const [tags, done] = arguments;
            axe.run(document, { runOnly: { type: 'tag', values: tags }, resultTypes: ['violations'] })
              .then(r => done(r.violations.map(v => v.id + ': ' + v.help + ' at ' + v.nodes.map(n => n.target.join(' ')).join(', '))))
              .catch(e => done(['axe failed: ' + e]));
            "#,
            vec![json!(WCAG_TAGS)],
        )
        .await
    }

    /// axe-core on the open page. axe runs as a script, so with JavaScript off the page is not
    /// checked here: every page checked without JavaScript is checked with it in another test.
    ///
    /// The page is checked in both colour schemes: as the browser shows it, then (unless the
    /// browser is dark already) with `prefers-color-scheme: dark` emulated, and motion reduced
    /// so that no colour is read halfway through a transition; then it is put back.
    pub async fn assert_accessible(&self, what: &str) {
        if !self.options.javascript {
            return;
        }
        let mut v = self.axe_violations().await;
        if !self.options.dark {
            self.emulate_media(&[
                ("prefers-color-scheme", "dark"),
                ("prefers-reduced-motion", "reduce"),
            ])
            .await;
            assert!(
                self.is_dark().await,
                "the page did not switch to the dark colour scheme"
            );
            v.extend(
                self.axe_violations()
                    .await
                    .into_iter()
                    .map(|line| format!("(dark) {line}")),
            );
            self.emulate_media(&[]).await;
        }
        assert!(v.is_empty(), "axe-core on {what}:\n{}", v.join("\n"));
    }

    /// Whether the open page is in the dark colour scheme.
    pub async fn is_dark(&self) -> bool {
        self.eval("return matchMedia('(prefers-color-scheme: dark)').matches")
            .await
    }

    /// Emulates CSS media `features` (name, value) on the open tab through the DevTools
    /// protocol (chromedriver's `goog/cdp/execute`); none puts the browser's own back.
    pub async fn emulate_media(&self, features: &[(&str, &str)]) {
        let features: Vec<Value> = features
            .iter()
            .map(|(name, value)| json!({ "name": name, "value": value }))
            .collect();
        self.client
            .issue_cmd(Cdp {
                cmd: "Emulation.setEmulatedMedia",
                params: json!({ "features": features }),
            })
            .await
            .unwrap_or_else(|e| panic!("cannot emulate {features:?}: {e}"));
    }

    /// The `id` of the focused element ("" when it has none).
    pub async fn active_id(&self) -> String {
        self.js::<Option<String>>(
            "return document.activeElement && document.activeElement.id || null",
            vec![],
        )
        .await
        .unwrap_or_default()
    }

    /// Presses Tab until the element with `id` has focus (a keyboard user's way there).
    pub async fn tab_to(&self, id: &str) {
        for _ in 0..80 {
            if self.active_id().await == id {
                return;
            }
            self.press(Key::Tab).await;
        }
        panic!("Tab never reached #{id}");
    }

    /// The value of the form field with `id`, as the browser would send it.
    pub async fn value_of(&self, id: &str) -> String {
        self.js(
            "return document.getElementById(arguments[0]).value",
            vec![json!(id)],
        )
        .await
    }

    /// Presses Space on what has focus (ticking a choice), then Tab until the button `id` has
    /// focus, and Enter on it: the page that follows is `path`.
    pub async fn tick_and_send(&self, id: &str, path: &str) {
        self.press(Key::Space).await;
        self.tab_to(id).await;
        self.enter_to(path).await;
    }

    /// Presses Tab until an element whose id starts with `prefix` has focus; returns its id.
    pub async fn tab_to_one_of(&self, prefix: &str) -> String {
        for _ in 0..80 {
            let id = self.active_id().await;
            if id.starts_with(prefix) {
                return id;
            }
            self.press(Key::Tab).await;
        }
        panic!("Tab never reached #{prefix}…");
    }

    /// Types into whatever has focus.
    pub async fn type_text(&self, text: &str) {
        self.client
            .active_element()
            .await
            .expect("focused element")
            .send_keys(text)
            .await
            .expect("type");
    }

    /// The element matching `css`, which must be on the page.
    pub async fn element(&self, css: &str) -> fantoccini::elements::Element {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"))
    }

    /// Types into the element matching `css`.
    pub async fn fill(&self, css: &str, text: &str) {
        let field = self.element(css).await;
        field.send_keys(text).await.expect("type");
    }

    /// The page's `h1`.
    pub async fn heading(&self) -> String {
        self.text_of("h1").await
    }

    /// The text of the element matching `css`.
    pub async fn text_of(&self, css: &str) -> String {
        self.element(css).await.text().await.expect("text")
    }

    /// A browser with `options`, signed in as `app`'s clinician, at the inbox.
    pub async fn signed_in(app: &TestApp, options: Options) -> Browser {
        let browser = Browser::start(options).await;
        browser.sign_in(app).await;
        browser
    }

    /// Signs in as the clinician: the password, then the authenticator app's code.
    pub async fn sign_in(&self, app: &TestApp) {
        self.sign_in_password(app, "/admin/login/code").await;
        self.fill("#code", &app.authenticator_code().await).await;
        self.click_to("form.request-form button[type=submit]", "/admin")
            .await;
    }

    /// Sends the sign-in form with the clinician's password, and waits for `next`.
    pub async fn sign_in_password(&self, app: &TestApp, next: &str) {
        self.goto(&app.url("/admin/login")).await;
        self.fill("#email", EMAIL).await;
        self.fill("#password", PASSWORD).await;
        self.click_to("form.request-form button[type=submit]", next)
            .await;
    }

    /// Clicks the element matching `css` (scrolled into view first), marking the page so that
    /// [`Browser::wait_for_path`] can tell when the next one has loaded.
    pub async fn click(&self, css: &str) {
        self.js::<()>(
            "document.querySelector(arguments[0]).scrollIntoView({block: 'center', behavior: 'instant'})",
            vec![json!(css)],
        )
        .await;
        self.mark_page().await;
        let target = self.element(css).await;
        target
            .click()
            .await
            .unwrap_or_else(|e| panic!("clicking {css}: {e}"));
    }

    /// Clicks the element matching `css` and waits for the new document at `path`.
    pub async fn click_to(&self, css: &str, path: &str) {
        self.click(css).await;
        self.wait_for_path(path).await;
    }

    /// Marks the current document, so that a wait can tell when a new one has loaded.
    pub async fn mark_page(&self) {
        self.eval::<()>("window.kapOldPage = true").await;
    }

    /// Presses Enter (on the focused link or button) and waits for the new document at `path`.
    pub async fn enter_to(&self, path: &str) {
        self.mark_page().await;
        self.press(Key::Enter).await;
        self.wait_for_path(path).await;
    }

    /// Asserts that the page's error summary says `says`, and that the page showing the
    /// mistake (`what`) passes axe.
    pub async fn assert_mistake_shown(&self, says: &str, what: &str) {
        let summary = self.error_summary().await;
        assert!(summary.contains(says), "{summary}");
        self.assert_accessible(what).await;
    }

    /// The text of the page's error summary.
    pub async fn error_summary(&self) -> String {
        self.text_of(".error-summary").await
    }

    /// Waits until a new document at `path` has loaded (after [`Browser::mark_page`], if it
    /// was called).
    pub async fn wait_for_path(&self, path: &str) {
        let deadline = Instant::now() + crate::common::PATIENCE;
        loop {
            let url = self.client.current_url().await.expect("current url");
            let ready: String = self
                .eval("return window.kapOldPage ? 'old' : document.readyState")
                .await;
            if url.path() == path && ready == "complete" {
                return;
            }
            if Instant::now() >= deadline {
                let text: String = self
                    .eval("return document.body ? document.body.innerText : ''")
                    .await;
                panic!("waiting for {path}, at {url}: {text}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

#[derive(Debug, Clone)]
pub struct Focused {
    pub tag: String,
    pub id: String,
    pub class: String,
}

impl Focused {
    pub fn has_class(&self, class: &str) -> bool {
        self.class.split_whitespace().any(|c| c == class)
    }
}

/// A rectangle in CSS pixels, relative to the viewport unless said otherwise.
#[derive(Clone, Copy, Debug, serde::Deserialize)]
pub struct Rect {
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
}

impl Rect {
    pub fn from_tuple((x, y, width, height): (f64, f64, f64, f64)) -> Rect {
        Rect {
            x,
            y,
            width,
            height,
        }
    }

    pub fn right(&self) -> f64 {
        self.x + self.width
    }

    pub fn bottom(&self) -> f64 {
        self.y + self.height
    }

    /// Whether `other` lies inside this rectangle, with `slack` pixels to spare.
    pub fn contains(&self, other: &Rect, slack: f64) -> bool {
        other.x >= self.x - slack
            && other.y >= self.y - slack
            && other.right() <= self.right() + slack
            && other.bottom() <= self.bottom() + slack
    }

    /// Whether the two rectangles share any area (touching edges do not count).
    pub fn overlaps(&self, other: &Rect) -> bool {
        const SLACK: f64 = 0.5;
        self.x < other.right() - SLACK
            && other.x < self.right() - SLACK
            && self.y < other.bottom() - SLACK
            && other.y < self.bottom() - SLACK
    }
}
