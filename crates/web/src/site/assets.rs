//! The stylesheet, script and icons, at URLs that carry a hash of their content.
//!
//! A changed file gets a new URL, so browsers may keep every asset for a year without asking.
//! The practice's accent colour (from config) is written into the stylesheet here, before hashing.
//!
//! The stylesheet also gives the first view's styles, which every public page carries inline so
//! that its first paint needs one round trip: every rule a public page shows, on screen and in
//! print, that is the sheet without its parts marked `/* first view: skip { */` …
//! `/* } first view: skip */` (the clinician's pages), comments and indentation left out (the
//! home, booking and text pages carry less: [`home_css`], [`booking_css`], [`text_css`]). Public
//! pages link no stylesheet: a stylesheet for the screen, even at the end of the body, holds the
//! parser and the first paint until it arrives, and one for print only is still fetched while
//! the page loads (which Lighthouse's simulation of a slow network counts as another round trip
//! before the largest paint). The Content-Security-Policy allows the inline styles by their hash
//! alone.
//!
//! The same goes for the icon and the scripts: the icon is a `data:` URL in each page, and a
//! public page's script is inline, allowed by its hash alone ([`Assets::script_hashes`]): the
//! booking page's (`js/booking.js`) runs as the page is parsed, so the times it adds are there
//! at the first paint; the home page's compare panel script (`js/compare.js`, a file) is loaded
//! by an inline one (`js/after-paint.js`) once the page has painted. Those inlined files are
//! not served on their own.

use base64::Engine as _;
use include_dir::{Dir, include_dir};
use sha2::{Digest, Sha256};

use settings::config::Practice;
use settings::config::colour::Rgb;

static STATIC: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/../../static");

/// One asset ready to serve.
pub struct Asset {
    pub url: String,
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

/// The URLs the templates link to, and every asset's bytes.
pub struct Assets {
    pub css: String,
    /// The first view's styles (every rule a public page shows on screen), for a
    /// `<style>` element in the head of every public page.
    pub critical_css: String,
    /// The home page's first view: [`Assets::critical_css`] without the rules of the forms,
    /// booking and questionnaire pages, which the home page does not show. Its page is long;
    /// these rules would take its HTML and headers past the first round trip.
    pub home_css: String,
    /// The booking page's first view: [`Assets::critical_css`] without the home page's
    /// sections, which the booking page does not show. Its list of times is long; these rules
    /// would take its HTML past the first round trip and cost every phone their parsing.
    pub booking_css: String,
    /// The first view of a page of text (the privacy notice, the clinician's own pages):
    /// [`Assets::critical_css`] without the home page's sections and without the forms, booking
    /// and questionnaire pages, neither of which such a page shows.
    pub text_css: String,
    /// `'sha256-…' 'sha256-…' 'sha256-…' 'sha256-…'`: the Content-Security-Policy's sources for
    /// [`Assets::critical_css`], [`Assets::home_css`], [`Assets::booking_css`] and
    /// [`Assets::text_css`].
    pub style_hashes: String,
    /// The compare panel's script, loaded by [`Assets::after_paint_js`].
    pub js: String,
    /// The script that loads a page's script (its element's `data-src`) once the page has
    /// painted: the text of an inline `<script>`.
    pub after_paint_js: String,
    /// The booking page's script (times in the visitor's own zone): the text of an inline
    /// `<script>` after its form.
    pub booking_js: String,
    /// `'sha256-…' 'sha256-…'`: the Content-Security-Policy's sources for the inline scripts.
    pub script_hashes: String,
    /// The icon, as a `data:` URL.
    pub favicon: String,
    pub all: Vec<Asset>,
    /// The accent colour as the page's theme colour.
    pub theme_color: String,
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next() {
        Some("css") => "text/css; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("woff2") => "font/woff2",
        Some("ico") => "image/x-icon",
        _ => "application/octet-stream",
    }
}

/// `css/site.css` + hash → `/static/css/site.<hash>.css`.
fn hashed_url(path: &str, body: &[u8]) -> String {
    let hash = &super::cache::short_hash(body)[..10];
    match path.rsplit_once('.') {
        Some((stem, ext)) => format!("/static/{stem}.{hash}.{ext}"),
        None => format!("/static/{path}.{hash}"),
    }
}

/// The files the pages carry inline (see the module's comment).
const INLINE: [&str; 3] = ["js/after-paint.js", "js/booking.js", "icons/favicon.svg"];

/// The marks around a part of the stylesheet that no public page shows on screen.
const SKIP_START: &str = "/* first view: skip { */";
const SKIP_END: &str = "/* } first view: skip */";

/// The marks around a part of the stylesheet that the home page does not show (the forms,
/// booking and questionnaire pages), left out of [`home_css`].
const HOME_SKIP_START: &str = "/* home page: skip { */";
const HOME_SKIP_END: &str = "/* } home page: skip */";

/// The marks around a part of the stylesheet that the booking and contact pages do not show
/// (the home page's sections), left out of [`booking_css`].
const BOOKING_SKIP_START: &str = "/* booking page: skip { */";
const BOOKING_SKIP_END: &str = "/* } booking page: skip */";

/// `sheet` without the parts between `start` and `end`. An unclosed mark skips the rest of the
/// sheet (the unit tests keep the marks paired).
fn without_marked(sheet: &str, start: &str, end: &str) -> String {
    let mut kept = String::with_capacity(sheet.len());
    let mut rest = sheet;
    while let Some(at) = rest.find(start) {
        kept.push_str(&rest[..at]);
        rest = match rest[at..].find(end) {
            Some(to) => &rest[at + to + end.len()..],
            None => "",
        };
    }
    kept.push_str(rest);
    kept
}

/// The home page's first view: [`critical_css`] without the parts between [`HOME_SKIP_START`]
/// and [`HOME_SKIP_END`].
pub fn home_css(sheet: &str) -> String {
    critical_css(&without_marked(sheet, HOME_SKIP_START, HOME_SKIP_END))
}

/// The booking page's first view: [`critical_css`] without the parts between
/// [`BOOKING_SKIP_START`] and [`BOOKING_SKIP_END`].
pub fn booking_css(sheet: &str) -> String {
    critical_css(&without_marked(sheet, BOOKING_SKIP_START, BOOKING_SKIP_END))
}

/// A page of text's first view: [`critical_css`] without the parts the home page leaves out
/// and those the booking page leaves out.
pub fn text_css(sheet: &str) -> String {
    let sheet = without_marked(sheet, HOME_SKIP_START, HOME_SKIP_END);
    critical_css(&without_marked(
        &sheet,
        BOOKING_SKIP_START,
        BOOKING_SKIP_END,
    ))
}

/// The first view's styles from the whole stylesheet: without the parts between [`SKIP_START`]
/// and [`SKIP_END`], without comments, indentation and empty lines.
pub fn critical_css(sheet: &str) -> String {
    let kept = without_marked(sheet, SKIP_START, SKIP_END);
    // Comments out (the sheet has none inside strings or URLs).
    let mut plain = String::with_capacity(kept.len());
    let mut rest = kept.as_str();
    while let Some(at) = rest.find("/*") {
        plain.push_str(&rest[..at]);
        rest = rest[at..]
            .find("*/")
            .map_or("", |end| &rest[at + end + 2..]);
    }
    plain.push_str(rest);
    plain
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The Content-Security-Policy source that allows exactly the inline styles (or script) `css`.
pub fn style_hash(css: &str) -> String {
    let digest = Sha256::digest(css.as_bytes());
    format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

/// A script as a page carries it inline: without its comment lines, indentation and empty
/// lines (the scripts have no string or template spanning lines, so this changes no meaning).
pub fn inline_script(source: &str) -> String {
    source
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `svg` as a `data:` URL, for an attribute: every byte but letters, digits and a few safe
/// marks percent-encoded (a space too: in a `data:` URL, `+` is a plus).
pub fn svg_data_url(svg: &str) -> String {
    let mut url = String::from("data:image/svg+xml,");
    for b in svg.trim().bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~/:=,;()!*".contains(&b) {
            url.push(b as char);
        } else {
            url.push_str(&format!("%{b:02X}"));
        }
    }
    url
}

fn files<'a>(dir: &'a Dir<'a>, out: &mut Vec<&'a include_dir::File<'a>>) {
    out.extend(dir.files());
    for d in dir.dirs() {
        files(d, out);
    }
}

impl Assets {
    pub fn build(practice: &Practice) -> Assets {
        let accent = Rgb::parse(&practice.accent_color).unwrap_or(Rgb(0x2f, 0x5d, 0x54));
        let accent_light = accent.readable_on(Rgb::DARK_BACKGROUND, 7.0);
        let mut all = Vec::new();
        let mut list = Vec::new();
        files(&STATIC, &mut list);
        let (mut css, mut js, mut favicon) = (String::new(), String::new(), String::new());
        let (mut after_paint_js, mut booking_js) = (String::new(), String::new());
        let (mut critical, mut home, mut booking) = (String::new(), String::new(), String::new());
        let mut text_page = String::new();
        for file in list {
            let path = file.path().to_string_lossy().replace('\\', "/");
            let mut body = file.contents().to_vec();
            if path == "css/site.css" {
                let vars = format!(
                    ":root{{--accent:{};--accent-light:{}}}\n",
                    accent.hex(),
                    accent_light.hex()
                );
                body.splice(0..0, vars.into_bytes());
                let sheet = String::from_utf8_lossy(&body);
                critical = critical_css(&sheet);
                home = home_css(&sheet);
                booking = booking_css(&sheet);
                text_page = text_css(&sheet);
            }
            // What the pages carry inline is not served on its own.
            let text = String::from_utf8_lossy(&body);
            match path.as_str() {
                "js/after-paint.js" => after_paint_js = inline_script(&text),
                "js/booking.js" => booking_js = inline_script(&text),
                "icons/favicon.svg" => favicon = svg_data_url(&text),
                _ => {}
            }
            if INLINE.contains(&path.as_str()) {
                continue;
            }
            let url = hashed_url(&path, &body);
            match path.as_str() {
                "css/site.css" => css = url.clone(),
                "js/compare.js" => js = url.clone(),
                _ => {}
            }
            all.push(Asset {
                url,
                content_type: content_type(&path),
                body,
            });
        }
        Assets {
            css,
            style_hashes: format!(
                "{} {} {} {}",
                style_hash(&critical),
                style_hash(&home),
                style_hash(&booking),
                style_hash(&text_page)
            ),
            critical_css: critical,
            home_css: home,
            booking_css: booking,
            text_css: text_page,
            js,
            script_hashes: format!(
                "{} {}",
                style_hash(&after_paint_js),
                style_hash(&booking_js)
            ),
            after_paint_js,
            booking_js,
            favicon,
            all,
            theme_color: accent.hex(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_view_leaves_out_the_marked_parts_and_the_comments() {
        let sheet = "/* the sheet */\n:root {\n  --a: 1;\n}\n/* first view: skip { */\n.admin {\n  color: red;\n}\n/* } first view: skip */\n\n.page { /* why */\n  margin: 0;\n}\n";
        assert_eq!(
            critical_css(sheet),
            ":root {\n--a: 1;\n}\n.page {\nmargin: 0;\n}"
        );
        assert_eq!(critical_css("a{}\n/* first view: skip { */\nb{}"), "a{}");
    }

    #[test]
    fn the_stylesheet_marks_pair_up_and_leave_out_only_what_no_first_screen_needs() {
        let sheet = STATIC
            .get_file("css/site.css")
            .and_then(|f| f.contents_utf8())
            .expect("the stylesheet");
        for (start, end) in [
            (SKIP_START, SKIP_END),
            (HOME_SKIP_START, HOME_SKIP_END),
            (BOOKING_SKIP_START, BOOKING_SKIP_END),
        ] {
            let (starts, ends) = (sheet.matches(start).count(), sheet.matches(end).count());
            assert!(starts > 0 && starts == ends, "{starts} starts, {ends} ends");
            let mut rest = sheet;
            while let Some(at) = rest.find(start) {
                let after = &rest[at + start.len()..];
                let to = after.find(end).expect("a closing mark");
                let inside = &after[..to];
                assert!(
                    ![SKIP_START, HOME_SKIP_START, BOOKING_SKIP_START]
                        .iter()
                        .any(|mark| inside.contains(mark)),
                    "a mark opens inside another"
                );
                // A part starts and ends outside every block: the rest stays well formed.
                let plain = critical_css(inside);
                assert_eq!(plain.matches('{').count(), plain.matches('}').count());
                rest = &after[to..];
            }
        }
        // The home page's first view: the page's own rules and those of the notices and phone
        // numbers it shows, none of the forms, booking and questionnaire pages'.
        let home = home_css(sheet);
        holds(
            &home,
            "the home page's first view",
            &[".hero", ".myth-claim", ".crisis-notice", ".phone-number"],
            &[
                ".request-form {",
                ".booking-offer",
                ".crisis-panel {",
                "[aria-invalid",
            ],
        );
        assert!(home.len() * 5 < critical_css(sheet).len() * 4);
        // The booking page's first view: its form, times, notices and chrome, none of the home
        // page's sections (but for the few lines of them in the print and forced colours
        // rules).
        let booking = booking_css(sheet);
        holds(
            &booking,
            "the booking page's first view",
            &[
                ".site-header",
                ".request-form",
                ".booking-form .day",
                ".times",
                ".local-time",
                ".crisis-notice",
                ".site-footer",
                "@media print",
            ],
            &[
                ".hero .wrap",
                ".compare {",
                ".myth-claim",
                ".toc {",
                ".steps {",
            ],
        );
        assert!(booking.len() * 4 < critical_css(sheet).len() * 3);
        // A page of text's first view: its prose, notices and chrome, neither the home page's
        // sections nor the forms.
        let text = text_css(sheet);
        holds(
            &text,
            "a page of text's first view",
            &[
                ".site-header",
                ".prose > *",
                ".prose h2",
                ".crisis-notice",
                ".site-footer",
                "@media print",
            ],
            &[
                ".hero .wrap",
                ".compare {",
                ".field {",
                ".booking-form .day",
                ".contact-card {",
            ],
        );
        assert!(text.len() * 2 < critical_css(sheet).len());
        let critical = critical_css(sheet);
        holds(
            &critical,
            "the first view",
            &[
                ".site-header",
                ".hero",
                ".request-form",
                ".site-footer",
                ".booking-offer",
                // Every rule a public page shows on screen (the home page's lower sections
                // too, since no stylesheet is linked); none of the clinician's pages.
                ".myth-claim",
                ".step-number",
                ".section.call",
                "code,\n.secret",
                // Print too, since no stylesheet is linked: the page prints as the whole sheet
                // printed it.
                "@media print",
            ],
            &[".chart-bar", ".table-wrap", ".recovery-codes-print"],
        );
        assert!(!critical.contains("/*") && !critical.contains("</"));
    }

    /// Asserts that `css`, the styles of `view`, hold every one of `kept` and none of `left`.
    fn holds(css: &str, view: &str, kept: &[&str], left: &[&str]) {
        for kept in kept {
            assert!(css.contains(kept), "{kept} is in {view}");
        }
        for left in left {
            assert!(!css.contains(left), "{left} is not in {view}");
        }
    }

    #[test]
    fn the_hash_is_the_csp_source_of_the_exact_styles() {
        // The example of CSP Level 3, section 8.3: `alert('Hello, world.');`.
        assert_eq!(
            style_hash("alert('Hello, world.');"),
            "'sha256-qznLcsROx4GACP2dm0UCKCzCG+HiZ1guq6ZZDob/Tng='"
        );
        let assets = Assets::build(&settings::config::default_practice());
        assert_eq!(
            assets.style_hashes,
            format!(
                "{} {} {} {}",
                style_hash(&assets.critical_css),
                style_hash(&assets.home_css),
                style_hash(&assets.booking_css),
                style_hash(&assets.text_css)
            )
        );
        assert!(assets.critical_css.starts_with(":root{--accent:"));
        assert_eq!(
            assets.script_hashes,
            format!(
                "{} {}",
                style_hash(&assets.after_paint_js),
                style_hash(&assets.booking_js)
            )
        );
    }

    #[test]
    fn what_the_pages_carry_inline_is_ready_for_them_and_not_served() {
        let assets = Assets::build(&settings::config::default_practice());
        // The icon: a data: URL with nothing an attribute would have to escape.
        assert!(
            assets
                .favicon
                .starts_with("data:image/svg+xml,%3Csvg%20xmlns=%22http://")
        );
        assert!(
            !assets
                .favicon
                .contains(['"', '\'', '<', '>', '&', '#', ' '])
        );
        // The scripts: without their comments and indentation, and never ending a <script>.
        for js in [&assets.after_paint_js, &assets.booking_js] {
            assert!(!js.is_empty() && !js.contains("\n//") && !js.starts_with("//"));
            assert!(!js.contains("</") && !js.contains("\n "));
        }
        assert!(assets.after_paint_js.contains("script.dataset"));
        assert!(assets.after_paint_js.contains("IntersectionObserver"));
        assert!(assets.booking_js.contains("Intl.DateTimeFormat"));
        assert_eq!(
            inline_script("// why\n  a();\n\n  // b\n  b();\n"),
            "a();\nb();"
        );
        for url in ["favicon", "after-paint", "booking."] {
            assert!(
                !assets.all.iter().any(|a| a.url.contains(url)),
                "{url} is served on its own"
            );
        }
        assert!(assets.all.iter().any(|a| a.url == assets.js));
        assert!(assets.all.iter().any(|a| a.url == assets.css));
    }
}
