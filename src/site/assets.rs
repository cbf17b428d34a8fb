//! The stylesheet, script and icons, at URLs that carry a hash of their content.
//!
//! A changed file gets a new URL, so browsers may keep every asset for a year without asking.
//! The practice's accent colour (from config) is written into the stylesheet here, before hashing.

use include_dir::{Dir, include_dir};

use crate::config::Practice;
use crate::config::colour::Rgb;

static STATIC: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/static");

/// One asset ready to serve.
pub struct Asset {
    pub url: String,
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

/// The URLs the templates link to, and every asset's bytes.
pub struct Assets {
    pub css: String,
    pub js: String,
    /// The booking page's script (times in the visitor's own zone).
    pub booking_js: String,
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
        let (mut css, mut js, mut booking_js, mut favicon) =
            (String::new(), String::new(), String::new(), String::new());
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
            }
            let url = hashed_url(&path, &body);
            match path.as_str() {
                "css/site.css" => css = url.clone(),
                "js/compare.js" => js = url.clone(),
                "js/booking.js" => booking_js = url.clone(),
                "icons/favicon.svg" => favicon = url.clone(),
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
            js,
            booking_js,
            favicon,
            all,
            theme_color: accent.hex(),
        }
    }
}
