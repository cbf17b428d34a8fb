//! The public site, rendered once into the [`PageCache`].
//!
//! Pages are built from the validated content and the practice's identity at start and on
//! content reload, never per request: what a visitor gets is prepared bytes.

pub mod assets;
pub mod cache;
pub mod colour;
mod views;

use std::collections::HashMap;
use std::sync::Arc;

use askama::Template;
use axum::http::StatusCode;

use crate::config::Config;
use crate::content::Content;
pub use cache::{Caching, Encoding, Page, PageCache};
use views::{Chrome, ContactView, Head, HomeView, StatusView, TextView};

/// The anchor of the KAP page's section repeated on `/contact`.
pub const CONVERSATION_ANCHOR: &str = "start-with-a-conversation";

/// The public pages, for the sitemap and for tests.
pub const PAGES: &[&str] = &["/", "/contact", "/privacy"];

/// A template failed to render: a bug of ours, reported at start.
#[derive(Debug, thiserror::Error)]
#[error("rendering {page}: {source}")]
pub struct RenderError {
    page: &'static str,
    source: askama::Error,
}

const HTML: &str = "text/html; charset=utf-8";

/// Renders every public page and asset.
pub fn build(config: &Config, content: &Content) -> Result<PageCache, RenderError> {
    let practice = &config.practice;
    let base = &config.server.base_url;
    let assets = assets::Assets::build(practice);
    let title_suffix = format!(
        "{} · {}",
        practice.name,
        practice.clinician_name_with_credentials()
    );
    let head = |path: &str, title: String, description: &str| Head {
        title,
        description: description.to_string(),
        canonical: format!("{base}{path}"),
        indexable: true,
        script: false,
        json_ld: None,
    };
    let render = |page: &'static str, r: Result<String, askama::Error>| {
        r.map(String::into_bytes)
            .map_err(|source| RenderError { page, source })
    };

    let mut pages: HashMap<String, Arc<Page>> = HashMap::new();
    let mut add = |path: &str, content_type: &'static str, caching: Caching, body: Vec<u8>| {
        pages.insert(
            path.to_string(),
            Arc::new(Page::new(StatusCode::OK, content_type, caching, body)),
        );
    };

    let home = &content.home;
    let mut home_head = head(
        "/",
        format!("{} · {}", home.hero.title, practice.name),
        &home.hero.description,
    );
    home_head.script = true;
    home_head.json_ld = Some(json_ld(config, &home.hero.description));
    let html = render(
        "/",
        HomeView {
            head: home_head,
            chrome: Chrome::new(practice, &assets, "/"),
            home,
        }
        .render(),
    )?;
    add("/", HTML, Caching::Revalidate, html);

    let html = render(
        "/contact",
        ContactView {
            head: head(
                "/contact",
                format!("{} · {title_suffix}", content.contact.title),
                &content.contact.description,
            ),
            chrome: Chrome::new(practice, &assets, "/contact"),
            page: &content.contact,
            conversation: home.section(CONVERSATION_ANCHOR),
        }
        .render(),
    )?;
    add("/contact", HTML, Caching::Revalidate, html);

    let html = render(
        "/privacy",
        TextView {
            head: head(
                "/privacy",
                format!("{} · {title_suffix}", content.privacy.title),
                &content.privacy.description,
            ),
            chrome: Chrome::new(practice, &assets, "/privacy"),
            page: &content.privacy,
        }
        .render(),
    )?;
    add("/privacy", HTML, Caching::Revalidate, html);

    add(
        "/robots.txt",
        "text/plain; charset=utf-8",
        Caching::Revalidate,
        format!("User-agent: *\nAllow: /\nDisallow: /admin\n\nSitemap: {base}/sitemap.xml\n")
            .into_bytes(),
    );
    add(
        "/sitemap.xml",
        "application/xml; charset=utf-8",
        Caching::Revalidate,
        sitemap(base).into_bytes(),
    );
    for asset in &assets.all {
        add(
            &asset.url,
            asset.content_type,
            Caching::Immutable,
            asset.body.clone(),
        );
    }

    let status_page =
        |status: StatusCode, name: &'static str, heading: &str, paragraphs: &[&str]| {
            let mut h = head("/", format!("{heading} · {}", practice.name), heading);
            h.indexable = false;
            render(
                name,
                StatusView {
                    head: h,
                    chrome: Chrome::new(practice, &assets, ""),
                    heading,
                    paragraphs,
                }
                .render(),
            )
            .map(|body| Arc::new(Page::new(status, HTML, Caching::NoStore, body)))
        };
    let not_found = status_page(
        StatusCode::NOT_FOUND,
        "404",
        "We can’t find that page",
        &[
            "The address may be mistyped, or the page may have moved. Nothing is wrong on your side.",
        ],
    )?;
    let server_error = status_page(
        StatusCode::INTERNAL_SERVER_ERROR,
        "500",
        "Something went wrong on our side",
        &[
            "This is our fault, not yours. Please try again in a few minutes.",
            "If you were sending a message, it may not have reached us. You can always write or call instead.",
        ],
    )?;
    let unavailable = status_page(
        StatusCode::SERVICE_UNAVAILABLE,
        "503",
        "The site is briefly unavailable",
        &["We are working on it. Please try again in a few minutes, or write or call instead."],
    )?;
    let method_not_allowed = status_page(
        StatusCode::METHOD_NOT_ALLOWED,
        "405",
        "That kind of request isn’t possible here",
        &["This address can only be read, not sent to. Try the links below."],
    )?;

    Ok(PageCache {
        pages,
        not_found,
        server_error,
        unavailable,
        method_not_allowed,
    })
}

fn sitemap(base: &str) -> String {
    let mut s = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n",
    );
    for path in PAGES {
        s.push_str(&format!(
            "<url><loc>{}</loc></url>\n",
            xml_escape(&format!("{base}{path}"))
        ));
    }
    s.push_str("</urlset>\n");
    s
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// schema.org data about the practice and the clinician, safe inside `<script>`.
fn json_ld(config: &Config, description: &str) -> String {
    let p = &config.practice;
    let base = &config.server.base_url;
    let states: Vec<_> = p
        .licensed_state_names()
        .into_iter()
        .map(|name| serde_json::json!({"@type": "State", "name": name}))
        .collect();
    let value = serde_json::json!({
        "@context": "https://schema.org",
        "@graph": [
            {
                "@type": "MedicalBusiness",
                "@id": format!("{base}/#practice"),
                "name": p.name,
                "url": format!("{base}/"),
                "description": description,
                "email": p.email,
                "telephone": p.phone,
                "address": {"@type": "PostalAddress", "addressLocality": p.city, "addressCountry": "US"},
                "areaServed": states,
                "medicalSpecialty": "Psychiatric",
                "availableService": {
                    "@type": "MedicalTherapy",
                    "name": "Ketamine-assisted psychotherapy",
                    "alternateName": "KAP"
                },
                "employee": {"@id": format!("{base}/#clinician")}
            },
            {
                "@type": "Person",
                "@id": format!("{base}/#clinician"),
                "name": p.clinician_name,
                "honorificSuffix": p.credentials,
                "jobTitle": "Licensed Clinical Social Worker",
                "worksFor": {"@id": format!("{base}/#practice")},
                "knowsAbout": ["Ketamine-assisted psychotherapy", "Psychedelic-assisted therapy", "Psychotherapy"]
            }
        ]
    });
    // `<`, `>` and `&` escaped so no value can close the script element.
    value
        .to_string()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}
