//! The site in a real browser (Chromium through chromedriver): accessibility checked with
//! axe-core on every public page, the compare panel driven by keyboard, mouse, pen and touch, the
//! page without JavaScript, and the keyboard path into the content.
//!
//! Each test starts its own server and its own browser, so they run in parallel. The tools come
//! from `cargo xtask test`; see `harness.rs`.

use crate::harness;

use std::time::{Duration, Instant};

use crate::common::TestApp;
use crate::harness::{
    Browser, DESKTOP, Options, PHONE, Rect, Viewport, WCAG_TAGS, on_phone_and_desktop,
};
use fantoccini::Locator;
use fantoccini::actions::{
    InputSource, MOUSE_BUTTON_LEFT, MouseActions, PenActions, PointerAction, TouchActions,
};
use fantoccini::key::Key;
use serde::Deserialize;
use serde_json::{Value, json};

/// Every public page, including the page for an unknown address.
const PAGES: [&str; 4] = ["/", "/contact", "/privacy", "/no-such-page"];

// ---------------------------------------------------------------------------------------------
// Accessibility: axe-core on every page.

#[derive(Debug, Deserialize)]
struct AxeOutcome {
    error: Option<String>,
    #[serde(default)]
    violations: Vec<Violation>,
}

#[derive(Debug, Deserialize)]
struct Violation {
    id: String,
    impact: Option<String>,
    help: String,
    #[serde(rename = "helpUrl")]
    help_url: String,
    nodes: Vec<ViolationNode>,
}

#[derive(Debug, Deserialize)]
struct ViolationNode {
    target: Value,
    html: String,
    summary: Option<String>,
}

/// Injects axe-core into the open page (as a WebDriver script, which the site's CSP allows where
/// a `<script>` element would be blocked) and runs the WCAG 2.2 AA rules on the whole document.
async fn axe(browser: &Browser) -> Vec<Violation> {
    let loaded: String = browser
        .eval(&format!(
            "{}\n;return typeof window.axe;",
            harness::axe_source()
        ))
        .await;
    assert_eq!(loaded, "object", "axe-core did not load into the page");
    let outcome: AxeOutcome = browser
        .js_async(
            r#"
            const [tags, done] = arguments;
            axe.run(document, { runOnly: { type: 'tag', values: tags }, resultTypes: ['violations'] })
              .then(r => done({
                violations: r.violations.map(v => ({
                  id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
                  nodes: v.nodes.map(n => ({ target: n.target, html: n.html, summary: n.failureSummary })),
                })),
              }))
              .catch(e => done({ error: String(e && e.stack || e) }));
            "#,
            vec![json!(WCAG_TAGS)],
        )
        .await;
    if let Some(error) = outcome.error {
        panic!("axe-core failed: {error}");
    }
    outcome.violations
}

fn describe(violations: &[Violation]) -> String {
    let mut out = String::new();
    for v in violations {
        out.push_str(&format!(
            "  - {} ({}): {}\n    {}\n",
            v.id,
            v.impact.as_deref().unwrap_or("?"),
            v.help,
            v.help_url
        ));
        for n in &v.nodes {
            out.push_str(&format!("      at {}: {}\n", n.target, n.html));
            if let Some(summary) = &n.summary {
                for line in summary.lines() {
                    out.push_str(&format!("         {line}\n"));
                }
            }
        }
    }
    out
}

/// axe on every page at `options`; one report of every problem at the end.
async fn check_pages(options: Options) {
    let app = TestApp::start().await;
    let browser = Browser::start(options).await;
    let mut problems = String::new();
    for page in PAGES {
        browser.goto(&app.url(page)).await;
        let violations = axe(&browser).await;
        if !violations.is_empty() {
            problems.push_str(&format!("{page}:\n{}", describe(&violations)));
        }
        // WCAG 1.4.10 Reflow: nothing scrolls sideways on a phone.
        if options.viewport.touch {
            let (scroll, client): (f64, f64) = browser
                .eval("const e = document.documentElement; return [e.scrollWidth, e.clientWidth];")
                .await;
            if scroll > client + 1.0 {
                problems.push_str(&format!(
                    "{page}: the page is {scroll} px wide in a {client} px viewport; it scrolls \
                     sideways (WCAG 1.4.10 Reflow)\n"
                ));
            }
        }
    }
    browser.close().await;
    assert!(
        problems.is_empty(),
        "accessibility problems at {}×{}{}:\n{problems}",
        options.viewport.width,
        options.viewport.height,
        if options.dark { " (dark)" } else { "" }
    );
}

on_phone_and_desktop!(
    |viewport| check_pages(Options::new(viewport));
    every_page_passes_axe_on_a_phone,
    every_page_passes_axe_on_a_desktop
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_passes_axe_in_the_dark_colour_scheme() {
    check_pages(Options {
        dark: true,
        ..Options::new(PHONE)
    })
    .await;
}

/// Each misconception is shown with its correction, with nothing to open, on a phone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_misconception_shows_its_correction_on_a_phone() {
    let app = TestApp::start().await;
    let browser = Browser::start(Options::new(PHONE)).await;
    browser.goto(&app.url("/")).await;
    let shown: Vec<(String, f64, f64)> = browser
        .eval("return [...document.querySelectorAll('.myth')].map(m => {\
               const claim = m.querySelector('.myth-claim'), answer = m.querySelector('.myth-answer');\
               return [claim.textContent.trim(), claim.getBoundingClientRect().height,\
                       answer ? answer.getBoundingClientRect().height : 0];\
             });")
        .await;
    let closed: u32 = browser
        .eval("return document.querySelectorAll('details').length;")
        .await;
    let violations = axe(&browser).await;
    browser.close().await;
    assert_eq!(shown.len(), 8, "eight misconceptions: {shown:?}");
    assert_eq!(closed, 0, "nothing on the page is collapsed");
    for (claim, claim_height, answer_height) in &shown {
        assert!(
            *claim_height > 10.0 && *answer_height > 20.0,
            "{claim:?} is not shown with its correction ({claim_height} / {answer_height} px)"
        );
    }
    assert!(
        violations.is_empty(),
        "accessibility problems on / at 390 px:\n{}",
        describe(&violations)
    );
}

#[derive(Debug, Deserialize)]
struct SideView {
    heading: String,
    /// The visible part of the stage: from its left edge to the divider, or from the divider
    /// to its right edge.
    visible: Rect,
    /// The heading and each item and paragraph of the side.
    texts: Vec<(String, Rect)>,
    handle: Rect,
}

/// The side of the compare panel shown whole at `value`, measured with the stage scrolled to
/// the top of the viewport.
async fn side_view(browser: &Browser, side: &str) -> SideView {
    browser
        .js(
            "const stage = document.querySelector('.compare-stage');\
             stage.scrollIntoView({ block: 'start', behavior: 'instant' });\
             const handle = document.querySelector(arguments[1]);\
             const pos = Number(handle.getAttribute('aria-valuenow')) / 100;\
             const s = stage.getBoundingClientRect();\
             const rect = r => ({ x: r.left, y: r.top, width: r.width, height: r.height });\
             const cut = s.left + s.width * pos;\
             const visible = arguments[0] === 'left'\
               ? { x: s.left, y: s.top, width: cut - s.left, height: s.height }\
               : { x: cut, y: s.top, width: s.right - cut, height: s.height };\
             const side = stage.querySelector('.compare-' + arguments[0]);\
             const texts = [...side.querySelectorAll('h3, li, p')].map(e => {\
               const range = document.createRange(); range.selectNodeContents(e);\
               return [e.textContent.trim(), rect(range.getBoundingClientRect())];\
             });\
             return { heading: side.querySelector('h3').textContent.trim(), visible, texts,\
                      handle: rect(handle.getBoundingClientRect()) };",
            vec![json!(side), json!(HANDLE)],
        )
        .await
}

fn assert_whole(view: &SideView, what: &str) {
    assert!(view.texts.len() >= 3, "{what}: too little text: {view:?}");
    for (text, rect) in &view.texts {
        assert!(
            view.visible.contains(rect, 1.0),
            "{what}: {text:?} at {rect:?} is cut by the divider (visible part {:?})",
            view.visible
        );
        assert!(
            !view.handle.overlaps(rect),
            "{what}: the handle at {:?} covers {text:?} at {rect:?}",
            view.handle
        );
    }
    assert!(
        view.visible.width > 300.0,
        "{what}: the visible side is only {} px wide",
        view.visible.width
    );
}

/// At 390 px the first view of the panel is one side whole — its heading and every item, none
/// cut by the divider or under the handle — and Home shows the other side whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compare_first_view_on_a_phone_shows_a_whole_side() {
    let app = TestApp::start().await;
    let browser = Browser::start(Options::new(PHONE)).await;
    let first = open_compare(&browser, &app).await;
    let left = side_view(&browser, "left").await;
    browser
        .js::<Value>(
            "document.querySelector(arguments[0]).focus(); return null;",
            vec![json!(HANDLE)],
        )
        .await;
    browser.press(Key::Home).await;
    expect_value(&browser, 0.0, 0.0, "Home").await;
    let right = side_view(&browser, "right").await;
    browser.close().await;
    assert_eq!(left.heading, LEFT_TITLE);
    assert!(
        first
            .text
            .as_deref()
            .unwrap_or_default()
            .contains(LEFT_TITLE),
        "the spoken value names the side shown: {first:?}"
    );
    assert_whole(&left, "first view at 390 px");
    assert_eq!(right.heading, RIGHT_TITLE);
    assert_whole(&right, "after Home at 390 px");
}

/// At 390 px the contact form's first field is within the first screen, and the phone and
/// email are above it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contact_form_starts_within_the_first_screen_on_a_phone() {
    let app = TestApp::start().await;
    let browser = Browser::start(Options::new(PHONE)).await;
    browser.goto(&app.url("/contact")).await;
    let (name, direct, height): (Rect, Rect, f64) = browser
        .eval(
            "const rect = e => { const r = e.getBoundingClientRect();\
               return { x: r.left, y: r.top, width: r.width, height: r.height }; };\
             return [rect(document.getElementById('name')),\
                     rect(document.querySelector('.contact-direct')), innerHeight];",
        )
        .await;
    // The question about voicemail appears only for a call.
    let voicemail_height =
        "return document.querySelector('.field-voicemail').getBoundingClientRect().height;";
    browser.click("#contact_method-email").await;
    let with_email: f64 = browser.eval(voicemail_height).await;
    browser.click("#contact_method-phone").await;
    let with_phone: f64 = browser.eval(voicemail_height).await;
    let violations = axe(&browser).await;
    browser.close().await;
    assert!(
        name.bottom() <= height,
        "the first field (name) ends at {} px, below the first screen ({height} px)",
        name.bottom()
    );
    assert!(
        direct.bottom() <= name.y,
        "phone and email come before the form: {direct:?}"
    );
    assert_eq!(with_email, 0.0, "no voicemail question for email");
    assert!(with_phone > 40.0, "the voicemail question for a call");
    assert!(violations.is_empty(), "{}", describe(&violations));
}

// ---------------------------------------------------------------------------------------------
// The compare panel ("Tap or Drag Anywhere to Compare").
//
// The contract with static/js/compare.js: inside `.compare-stage` a handle
// `.compare-handle[role=slider]` whose `aria-valuenow` (an integer 0–100) is the divider's
// position from the left in percent, and whose `aria-valuetext` names the side shown; it starts
// at 50.

const HANDLE: &str = ".compare-stage .compare-handle[role=slider]";
const LEFT_TITLE: &str = "What It Can Feel Like";
const RIGHT_TITLE: &str = "What KAP May Make Possible";

#[derive(Debug, Clone, PartialEq, Deserialize)]
struct Slider {
    now: Option<String>,
    text: Option<String>,
}

impl Slider {
    fn value(&self) -> Option<f64> {
        self.now.as_deref().and_then(|v| v.trim().parse().ok())
    }
}

/// The handle's state; `None` when there is no handle.
async fn slider(browser: &Browser) -> Option<Slider> {
    browser
        .js(
            "const h = document.querySelector(arguments[0]);\
             return h && { now: h.getAttribute('aria-valuenow'), text: h.getAttribute('aria-valuetext') };",
            vec![json!(HANDLE)],
        )
        .await
}

/// Waits for the handle's value to be `expected` (± `slack`) and returns the
/// slider's state.
async fn expect_value(browser: &Browser, expected: f64, slack: f64, after: &str) -> Slider {
    let start = Instant::now();
    loop {
        let state = slider(browser)
            .await
            .unwrap_or_else(|| panic!("after {after}, there is no `{HANDLE}`"));
        if let Some(v) = state.value() {
            if (v - expected).abs() <= slack {
                assert_eq!(
                    state.now.as_deref().map(str::trim),
                    Some(format!("{}", v as i64).as_str()),
                    "aria-valuenow must be an integer"
                );
                return state;
            }
        }
        // The handle follows the gesture at once; a busy machine only delays it. The bound
        // only ends a failure (a value never reached).
        if start.elapsed() > Duration::from_secs(15) {
            panic!(
                "after {after} ({}×{}), aria-valuenow should be {expected}{}, but the handle shows {state:?}",
                browser.options.viewport.width,
                browser.options.viewport.height,
                if slack > 0.0 {
                    format!(" ± {slack}")
                } else {
                    String::new()
                }
            );
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Where the divider starts: in the middle, or with the first side whole on a phone (narrower
/// than 40em), where half a side is too narrow to read.
fn compare_start(viewport: Viewport) -> f64 {
    if viewport.width < 640 { 100.0 } else { 50.0 }
}

/// Opens the home page, brings the panel on screen (the script sets a panel up only when it
/// comes near) and waits for the script to add the handle; checks where it starts.
async fn open_compare(browser: &Browser, app: &TestApp) -> Slider {
    browser.goto(&app.url("/")).await;
    browser
        .eval::<Value>(
            "document.querySelector('.compare').scrollIntoView({ block: 'center' }); return null;",
        )
        .await;
    if browser
        .wait_for(HANDLE, Duration::from_secs(5))
        .await
        .is_none()
    {
        panic!(
            "the compare panel has no `{HANDLE}` after 5 s: static/js/compare.js should add it \
             inside .compare-stage"
        );
    }
    expect_value(
        browser,
        compare_start(browser.options.viewport),
        0.0,
        "loading the page",
    )
    .await
}

/// Scrolls the stage to the middle of the viewport; its rectangle, and the height at which to
/// point (the middle of its visible part).
async fn stage_in_view(browser: &Browser) -> (Rect, f64) {
    let (rect, y): (Rect, f64) = browser
        .eval("const s = document.querySelector('.compare-stage');\
             s.scrollIntoView({ block: 'center', inline: 'nearest', behavior: 'instant' });\
             const r = s.getBoundingClientRect();\
             const top = Math.max(r.top, 0), bottom = Math.min(r.bottom, innerHeight);\
             return [{ x: r.left, y: r.top, width: r.width, height: r.height }, (top + bottom) / 2];")
        .await;
    assert!(
        rect.width > 100.0 && rect.height > 20.0,
        "the compare stage is too small to use: {rect:?}"
    );
    (rect, y)
}

#[derive(Clone, Copy, Debug)]
enum Pointer {
    Mouse,
    Pen,
    Touch,
}

/// One pointer gesture: put down at `path[0]`, move through the rest, lift. Coordinates are in
/// viewport pixels.
async fn gesture(browser: &Browser, kind: Pointer, path: &[(f64, f64)], step: Duration) {
    let (x0, y0) = path[0];
    let mut actions = vec![
        PointerAction::MoveTo {
            duration: None,
            x: x0.round(),
            y: y0.round(),
        },
        PointerAction::Down {
            button: MOUSE_BUTTON_LEFT,
        },
    ];
    for &(x, y) in &path[1..] {
        actions.push(PointerAction::MoveTo {
            duration: Some(step),
            x: x.round(),
            y: y.round(),
        });
    }
    actions.push(PointerAction::Up {
        button: MOUSE_BUTTON_LEFT,
    });
    let result = match kind {
        Pointer::Mouse => {
            let source = actions
                .into_iter()
                .fold(MouseActions::new("mouse".into()), |s, a| s.then(a));
            browser.client.perform_actions(source).await
        }
        Pointer::Pen => {
            let source = actions
                .into_iter()
                .fold(PenActions::new("pen".into()), |s, a| s.then(a));
            browser.client.perform_actions(source).await
        }
        Pointer::Touch => {
            let source = actions
                .into_iter()
                .fold(TouchActions::new("finger".into()), |s, a| s.then(a));
            browser.client.perform_actions(source).await
        }
    };
    result.unwrap_or_else(|e| panic!("{kind:?} gesture at {path:?}: {e}"));
    browser
        .client
        .release_actions()
        .await
        .expect("release pointer");
}

/// A tap or click at `fraction` of the stage's width moves the divider there.
async fn tap_at(browser: &Browser, kind: Pointer, fraction: f64) {
    let (stage, y) = stage_in_view(browser).await;
    let x = stage.x + stage.width * fraction;
    gesture(browser, kind, &[(x, y)], Duration::ZERO).await;
    let what = format!("a {kind:?} tap at {:.0}% of the stage", fraction * 100.0);
    expect_value(browser, fraction * 100.0, 3.0, &what).await;
}

/// A drag from the middle to 80%, in steps: putting the pointer down moves the divider there (as a
/// tap does), the value follows during the drag, and it ends at 80.
async fn drag(browser: &Browser, kind: Pointer) {
    let (stage, y) = stage_in_view(browser).await;
    // Record every value the handle takes.
    browser
        .js::<Value>(
            "const h = document.querySelector(arguments[0]);\
             window.__kapSeen = [];\
             if (window.__kapObserver) window.__kapObserver.disconnect();\
             window.__kapObserver = new MutationObserver(() =>\
               window.__kapSeen.push(Number(h.getAttribute('aria-valuenow'))));\
             window.__kapObserver.observe(h, { attributes: true, attributeFilter: ['aria-valuenow'] });\
             return null;",
            vec![json!(HANDLE)],
        )
        .await;
    let path: Vec<(f64, f64)> = (0..=6)
        .map(|i| (stage.x + stage.width * (0.5 + 0.05 * i as f64), y))
        .collect();
    gesture(browser, kind, &path, Duration::from_millis(40)).await;
    expect_value(
        browser,
        80.0,
        3.0,
        &format!("a {kind:?} drag from 50% to 80%"),
    )
    .await;
    let seen: Vec<f64> = browser.eval("return window.__kapSeen;").await;
    let mut between: Vec<i64> = seen
        .iter()
        .filter(|v| **v > 52.0 && **v < 77.0)
        .map(|v| *v as i64)
        .collect();
    between.dedup();
    assert!(
        between.len() >= 2,
        "during a {kind:?} drag from 50% to 80% the value should follow the pointer, but it took \
         only these values: {seen:?}"
    );
}

/// Keyboard: Tab reaches the handle; End, Home, arrows and Page Up move it; the spoken value
/// names the side shown.
async fn compare_keyboard(viewport: Viewport) {
    let app = TestApp::start().await;
    let browser = Browser::start(Options::new(viewport)).await;
    open_compare(&browser, &app).await;
    let mut tabs = 0;
    loop {
        browser.press(Key::Tab).await;
        tabs += 1;
        if browser.focused().await.has_class("compare-handle") {
            break;
        }
        assert!(
            tabs < 300,
            "300 presses of Tab never reached the compare handle"
        );
    }
    browser.press(Key::End).await;
    let end = expect_value(&browser, 100.0, 0.0, "End").await;
    browser.press(Key::Home).await;
    let home = expect_value(&browser, 0.0, 0.0, "Home").await;
    browser.press(Key::Right).await;
    expect_value(&browser, 5.0, 0.0, "Home, ArrowRight").await;
    browser.press(Key::PageUp).await;
    let middle = expect_value(&browser, 25.0, 0.0, "Home, ArrowRight, PageUp").await;
    browser.press(Key::Left).await;
    expect_value(&browser, 20.0, 0.0, "Home, ArrowRight, PageUp, ArrowLeft").await;
    browser.close().await;

    let text = |s: &Slider| s.text.clone().unwrap_or_default();
    assert!(
        text(&end).contains(LEFT_TITLE),
        "at 100 the spoken value should name {LEFT_TITLE:?}: {:?}",
        end.text
    );
    assert!(
        text(&home).contains(RIGHT_TITLE),
        "at 0 the spoken value should name {RIGHT_TITLE:?}: {:?}",
        home.text
    );
    assert!(
        !text(&middle).is_empty()
            && text(&middle) != text(&end)
            && text(&middle) != text(&home)
            && text(&end) != text(&home),
        "the spoken value (aria-valuetext) must differ at 0, 25 and 100: {:?}, {:?}, {:?}",
        home.text,
        middle.text,
        end.text
    );
}

on_phone_and_desktop!(
    |viewport| compare_keyboard(viewport);
    compare_works_with_the_keyboard_on_a_phone,
    compare_works_with_the_keyboard_on_a_desktop
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compare_follows_taps_and_drags_on_a_phone() {
    let taps = [(Pointer::Touch, 0.25), (Pointer::Touch, 0.75)];
    compare_follows(PHONE, &taps, &[Pointer::Touch, Pointer::Pen]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compare_follows_clicks_and_drags_on_a_desktop() {
    let taps = [
        (Pointer::Mouse, 0.25),
        (Pointer::Mouse, 0.75),
        (Pointer::Pen, 0.25),
    ];
    compare_follows(DESKTOP, &taps, &[Pointer::Mouse, Pointer::Pen]).await;
}

/// The compare panel at `viewport` follows each of `taps` (a pointer, and where across the
/// stage it taps), then a drag with each of `drags`.
async fn compare_follows(viewport: Viewport, taps: &[(Pointer, f64)], drags: &[Pointer]) {
    let app = TestApp::start().await;
    let browser = Browser::start(Options::new(viewport)).await;
    open_compare(&browser, &app).await;
    for &(kind, fraction) in taps {
        tap_at(&browser, kind, fraction).await;
    }
    for &kind in drags {
        drag(&browser, kind).await;
    }
    browser.close().await;
}

/// The id of the home page section that holds the compare panel, read from the served page.
async fn compare_section_anchor(app: &TestApp) -> String {
    let html = app.get("/").await.text();
    let at = html
        .find("data-compare")
        .expect("the home page has a compare panel (data-compare)");
    let before = &html[..at];
    let section = before
        .rfind("<section")
        .expect("the compare panel sits in a <section>");
    let tag = &before[section..];
    let id = tag
        .split("id=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the compare section has an id");
    id.to_string()
}

#[derive(Debug, Deserialize)]
struct Geometry {
    stage: f64,
    after: f64,
}

/// The script does not move the page: no layout shift with the panel in view from the start,
/// and its size stays put once the page has loaded.
async fn compare_does_not_shift(viewport: Viewport) {
    let app = TestApp::start().await;
    let browser = Browser::start(Options::new(viewport)).await;
    let anchor = compare_section_anchor(&app).await;
    browser.goto(&app.url(&format!("/#{anchor}"))).await;
    let handle = browser
        .wait_for(HANDLE, Duration::from_secs(5))
        .await
        .is_some();
    assert!(
        handle,
        "the compare panel has no `{HANDLE}` after 5 s: static/js/compare.js should add it"
    );
    browser
        .eval::<Value>("window.__kapShift = 0;\
             new PerformanceObserver(list => {\
               for (const e of list.getEntries()) if (!e.hadRecentInput) window.__kapShift += e.value;\
             }).observe({ type: 'layout-shift', buffered: true });\
             return null;")
        .await;
    let measure = "const s = document.querySelector('.compare-stage').getBoundingClientRect();\
         const next = document.querySelector('.compare').nextElementSibling\
           || document.querySelector('.compare').parentElement.nextElementSibling;\
         return { stage: s.height, after: next.getBoundingClientRect().top + scrollY };";
    let before: Geometry = browser.eval(measure).await;
    // A deliberate wait, not for a condition: a shift would come from something loading late,
    // so the panel is measured again a second later.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let later: Geometry = browser.eval(measure).await;
    let shift: f64 = browser.eval("return window.__kapShift;").await;
    browser.close().await;
    assert!(
        shift < 0.01,
        "cumulative layout shift {shift:.4} at {}×{} with the compare panel in view (limit 0.01)",
        viewport.width,
        viewport.height
    );
    assert!(
        (before.stage - later.stage).abs() < 0.5 && (before.after - later.after).abs() < 0.5,
        "the compare panel changed size after loading: {before:?} then {later:?}"
    );
}

on_phone_and_desktop!(
    |viewport| compare_does_not_shift(viewport);
    compare_does_not_shift_the_layout_on_a_phone,
    compare_does_not_shift_the_layout_on_a_desktop
);

/// The page's elements that match `css`.
async fn all_of(c: &fantoccini::Client, css: &str) -> Vec<fantoccini::elements::Element> {
    c.find_all(Locator::Css(css)).await.expect("find")
}

/// Without JavaScript both sides are readable in full, one after the other, and nothing asks
/// to be tapped. Read through WebDriver element commands only.
async fn compare_without_javascript(viewport: Viewport) {
    let app = TestApp::start().await;
    let browser = Browser::start(Options {
        javascript: false,
        ..Options::new(viewport)
    })
    .await;
    browser.goto(&app.url("/")).await;
    let c = &browser.client;
    let handles = all_of(c, ".compare-handle").await;
    assert!(
        handles.is_empty(),
        "a .compare-handle exists although JavaScript is off (is it in the template?)"
    );
    let stage_el = c
        .find(Locator::Css(".compare-stage"))
        .await
        .expect("the home page has a .compare-stage");
    let stage = Rect::from_tuple(stage_el.rectangle().await.expect("rect"));
    let sides = all_of(c, ".compare-side").await;
    assert_eq!(
        sides.len(),
        2,
        "the compare panel should have two .compare-side"
    );
    let mut rects = Vec::new();
    let page_width = viewport.width as f64;
    for (i, side) in sides.iter().enumerate() {
        assert!(
            side.is_displayed().await.expect("displayed"),
            "compare side {i} is not displayed without JavaScript"
        );
        let rect = Rect::from_tuple(side.rectangle().await.expect("rect"));
        assert!(
            rect.width > 50.0 && rect.height > 20.0,
            "compare side {i} is too small to read without JavaScript: {rect:?}"
        );
        assert!(
            rect.x >= -0.5 && rect.right() <= page_width + 0.5,
            "compare side {i} extends beyond the {page_width} px page: {rect:?}"
        );
        assert!(
            stage.contains(&rect, 1.0),
            "compare side {i} ({rect:?}) is cut off by the stage ({stage:?})"
        );
        for part in side.find_all(Locator::Css("*")).await.expect("find") {
            let r = Rect::from_tuple(part.rectangle().await.expect("rect"));
            if r.width == 0.0 && r.height == 0.0 {
                continue;
            }
            assert!(
                rect.contains(&r, 1.0),
                "part of compare side {i} ({}: {r:?}) lies outside the side ({rect:?}): clipped",
                part.tag_name().await.unwrap_or_default()
            );
        }
        rects.push(rect);
    }
    assert!(
        !rects[0].overlaps(&rects[1]),
        "the compare sides overlap without JavaScript: {:?} and {:?}",
        rects[0],
        rects[1]
    );
    if viewport.touch {
        assert!(
            rects[1].y >= rects[0].bottom() - 0.5 || rects[0].y >= rects[1].bottom() - 0.5,
            "on a phone without JavaScript one compare side should follow the other: {:?} and {:?}",
            rects[0],
            rects[1]
        );
    }
    let hint = c
        .find(Locator::Css(".compare-hint"))
        .await
        .expect("the compare panel has a .compare-hint");
    assert!(
        !hint.is_displayed().await.expect("displayed"),
        "the hint \"Tap or Drag Anywhere to Compare\" shows although JavaScript is off"
    );
    browser.close().await;
}

on_phone_and_desktop!(
    |viewport| compare_without_javascript(viewport);
    compare_reads_in_full_without_javascript_on_a_phone,
    compare_reads_in_full_without_javascript_on_a_desktop
);

// ---------------------------------------------------------------------------------------------
// The keyboard path into the content.

/// On every page the first Tab focuses the skip link, which shows in the viewport, and Enter on it
/// moves focus to `#main`.
async fn skip_link(viewport: Viewport) {
    let app = TestApp::start().await;
    let browser = Browser::start(Options::new(viewport)).await;
    for page in PAGES {
        browser.goto(&app.url(page)).await;
        browser.press(Key::Tab).await;
        let focused = browser.focused().await;
        assert!(
            focused.tag == "a" && focused.has_class("skip-link"),
            "{page}: the first Tab should focus the skip link, but focused {focused:?}"
        );
        let link = browser.client.active_element().await.expect("active");
        let rect = Rect::from_tuple(link.rectangle().await.expect("rect"));
        let (vw, vh) = (viewport.width as f64, viewport.height as f64);
        assert!(
            link.is_displayed().await.expect("displayed")
                && rect.width >= 1.0
                && rect.height >= 1.0
                && rect.x >= 0.0
                && rect.y >= 0.0
                && rect.right() <= vw
                && rect.bottom() <= vh,
            "{page}: the focused skip link should be visible in the viewport: {rect:?}"
        );
        browser.press(Key::Enter).await;
        // The focus moves as the browser follows the link; a busy machine only delays it. The
        // bound only ends a failure (a page where Enter never moves it).
        let start = Instant::now();
        loop {
            let focused = browser.focused().await;
            if focused.id == "main" {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(15),
                "{page}: Enter on the skip link should move focus to #main, but focused {focused:?}"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
    browser.close().await;
}

on_phone_and_desktop!(
    |viewport| skip_link(viewport);
    first_tab_reaches_the_skip_link_and_enter_moves_to_main_on_a_phone,
    first_tab_reaches_the_skip_link_and_enter_moves_to_main_on_a_desktop
);
