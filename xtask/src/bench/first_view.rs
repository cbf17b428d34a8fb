//! First view: `/` and what it links, and every public page with its render-blocking
//! stylesheets, as a browser asks for them (brotli), against what one round trip carries.

use anyhow::{Result, bail};
use serde_json::Value;

use super::{Bench, Report, step};
use crate::tools;

impl Bench<'_> {
    /// `/` and the same-origin assets it links, as a browser asks for them on a first visit.
    pub(super) fn first_view(&self, report: &mut Report) -> Result<()> {
        step("first view: kap-practice with a page of the clinician's own and a mail server");
        let dir = self.tmp.join("first-view");
        std::fs::create_dir_all(&dir)?;
        // The practice's email: the questionnaire is offered once a code sent there is entered.
        let mut mail = crate::lighthouse::MailSink::start(&dir)?;
        let (_server, port) = self.start_kap_with_own_page("first-view", &mail.url())?;
        let base = format!("http://127.0.0.1:{port}");
        let br = ["--header", "Accept-Encoding: br"];
        let html = tools::fetch("GET", &format!("{base}/"), &[], None)?.text();
        let mut parts = vec![("page".to_string(), "/".to_string())];
        // Every asset lives under /static/ with a hashed name; the stylesheet refers to nothing
        // but data: URLs.
        for (at, _) in html.match_indices("=\"/static/") {
            let url = &html[at + 2..];
            let url = &url[..url.find('"').unwrap_or(url.len())];
            if !parts.iter().any(|(_, u)| u == url) {
                let kind = url.split('/').nth(2).unwrap_or("asset").to_string();
                parts.push((kind, url.to_string()));
            }
        }
        let mut total = 0;
        let mut detail = Vec::new();
        for (kind, url) in &parts {
            let r = tools::fetch("GET", &format!("{base}{url}"), &br, None)?;
            if r.status != 200 {
                bail!("{url} (linked from /) answered {}", r.status);
            }
            total += r.body.len();
            detail.push(format!("{kind} {}", r.body.len()));
        }
        report.row(
            "First-view weight of `/`: the page and what it links, brotli, bodies only (curl)",
            format!("{:.1} kB ({total} B)", total as f64 / 1000.0),
            format!("{} requests: {}", parts.len(), detail.join(" + ")),
            None,
        );
        let mut pages = sitemap_paths(
            &tools::fetch("GET", &format!("{base}/sitemap.xml"), &[], None)?.text(),
            &base,
        );
        let own = crate::lighthouse::OWN_PAGE.0;
        if !pages.iter().any(|p| p == own) {
            bail!("the sitemap does not list the clinician's own page {own}");
        }
        // A booking page, reached as a person reaches it: the link on the thank-you page of a
        // request (see `lighthouse::add_booking_link`).
        let booking = crate::lighthouse::add_booking_link(&base, &dir)?;
        pages.push(booking.clone());
        pages.push(NOT_FOUND.to_string());
        for path in &pages {
            // A booking link is signed for one request; the table names the kind of page.
            let shown = if *path == booking { "/book/…" } else { path };
            first_view_row(report, &base, path, shown)?;
        }
        // A questionnaire, reached as a person reaches it: offered by the practice, then linked
        // from the booking page once a time is held (which changes that page: so it comes after
        // the booking page's row).
        crate::lighthouse::offer_questionnaire(&base, &dir, &mut mail)?;
        let questionnaire = crate::lighthouse::hold_a_time(&base, &dir, &booking)?;
        first_view_row(report, &base, &questionnaire, "/questionnaire/…")?;
        if let Some((bytes, when)) = lighthouse_weight() {
            report.row(
                "First-view weight of `/`, Lighthouse's total byte weight (headers included, simulated phone)",
                format!("{:.1} kB ({bytes:.0} B)", bytes / 1000.0),
                format!("from target/lighthouse/, run {when}"),
                None,
            );
        }
        Ok(())
    }
}

/// The row of `path`'s first view, named `shown` (a link signed for one person is named by its
/// kind of page).
fn first_view_row(report: &mut Report, base: &str, path: &str, shown: &str) -> Result<()> {
    let (html, css) = first_view_bytes(base, path)?;
    let total = html + css;
    report.row(
        &format!(
            "First view of `{shown}`: the page and its render-blocking stylesheets, brotli, bodies only"
        ),
        format!("{:.1} kB ({total} B)", total as f64 / 1000.0),
        format!(
            "page {html} + blocking CSS {css}; one round trip carries {:.1} kB",
            FIRST_ROUND_TRIP as f64 / 1000.0
        ),
        Some(total <= FIRST_ROUND_TRIP),
    );
    Ok(())
}

/// An address no page has: the not-found page's first view.
const NOT_FOUND: &str = "/no-such-page";

/// The paths of the pages `sitemap` lists on the site at `base`.
fn sitemap_paths(sitemap: &str, base: &str) -> Vec<String> {
    sitemap
        .split("<loc>")
        .skip(1)
        .filter_map(|rest| rest.split("</loc>").next())
        .filter_map(|url| url.strip_prefix(base))
        .map(|path| if path.is_empty() { "/" } else { path }.replace("&amp;", "&"))
        .collect()
}

/// What a first round trip can carry: TCP's initial window of ten segments, about 14 KB.
const FIRST_ROUND_TRIP: usize = 14 * 1024;

/// The brotli bytes of `path` and of the stylesheets that block its first paint (those linked in
/// its head; a stylesheet linked in the body blocks nothing before it).
fn first_view_bytes(base: &str, path: &str) -> Result<(usize, usize)> {
    let br = ["--header", "Accept-Encoding: br"];
    let page = tools::fetch("GET", &format!("{base}{path}"), &br, None)?;
    let html = tools::fetch("GET", &format!("{base}{path}"), &[], None)?.text();
    let mut css = 0;
    for url in blocking_stylesheets(&html) {
        let r = tools::fetch("GET", &format!("{base}{url}"), &br, None)?;
        if r.status != 200 {
            bail!("{url} (linked from {path}) answered {}", r.status);
        }
        css += r.body.len();
    }
    Ok((page.body.len(), css))
}

/// The addresses of the stylesheets linked in `html`'s head.
fn blocking_stylesheets(html: &str) -> Vec<&str> {
    let head = &html[..html.find("<body").unwrap_or(html.len())];
    head.split("<link ")
        .skip(1)
        .map(|tag| &tag[..tag.find('>').unwrap_or(tag.len())])
        .filter(|tag| tag.contains("rel=\"stylesheet\""))
        .filter_map(|tag| {
            let start = tag.find("href=\"")? + 6;
            let end = tag[start..].find('"')? + start;
            Some(&tag[start..end])
        })
        .collect()
}

/// Lighthouse's total byte weight of `/` and when it ran, from the newest report
/// `cargo xtask lighthouse` left in target/lighthouse/.
fn lighthouse_weight() -> Option<(f64, String)> {
    let dir = tools::target_dir().join("lighthouse");
    let newest = std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .filter(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.starts_with("home-") && name.ends_with(".report.json")
        })
        .max_by_key(|e| e.metadata().and_then(|m| m.modified()).ok())?;
    let report: Value = serde_json::from_str(&std::fs::read_to_string(newest.path()).ok()?).ok()?;
    let bytes = report["audits"]["total-byte-weight"]["numericValue"].as_f64()?;
    Some((
        bytes,
        report["fetchTime"].as_str().unwrap_or("?").to_string(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_stylesheets_that_block_the_first_paint() {
        let html = "<head><link rel=\"icon\" href=\"/i.svg\"><link rel=\"stylesheet\" href=\"/static/a.css\">\
                    <style>p{}</style></head><body><p>x</p><link rel=\"stylesheet\" href=\"/static/b.css\"></body>";
        assert_eq!(blocking_stylesheets(html), ["/static/a.css"]);
        assert!(blocking_stylesheets("<body><link rel=\"stylesheet\" href=\"/b.css\">").is_empty());
    }

    #[test]
    fn reads_the_pages_of_the_sitemap() {
        let base = "http://127.0.0.1:8080";
        let sitemap = "<?xml version=\"1.0\"?>\n<urlset>\n<url><loc>http://127.0.0.1:8080/</loc></url>\n\
                       <url><loc>http://127.0.0.1:8080/contact</loc></url>\n<url><loc>http://127.0.0.1:8080/fees</loc></url>\n\
                       <url><loc>https://elsewhere.example/x</loc></url>\n</urlset>\n";
        assert_eq!(sitemap_paths(sitemap, base), ["/", "/contact", "/fees"]);
        assert!(sitemap_paths("<urlset></urlset>", base).is_empty());
    }
}
