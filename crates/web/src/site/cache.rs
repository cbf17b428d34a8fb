//! Prepared responses: each public page and asset as bytes, in every encoding, with its ETag.
//!
//! Everything a visitor can fetch is prepared once (at start and on reload), so serving a request
//! is a map lookup, a header comparison and a write. Brotli and gzip variants are made at the
//! strongest settings, since the cost is paid once, but not before the server answers: a page is
//! made with a quick gzip (level 1, a few times faster than the best and a fifth larger; the best
//! for every page made the start take twice as long), and the best gzip and brotli variants are
//! added by [`PageCache::with_best_encodings`] on a thread of its own, which takes about a
//! quarter of a second for the whole site (see `web::AppState::replace_site`).

use std::collections::HashMap;
use std::sync::Arc;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use bytes::Bytes;
use sha2::{Digest, Sha256};

/// How long browsers keep something.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Caching {
    /// Pages: keep, but ask every time (a 304 answers quickly when nothing changed).
    Revalidate,
    /// Assets with a content hash in their URL: keep for a year without asking.
    Immutable,
    /// Error pages: never keep.
    NoStore,
}

impl Caching {
    fn header(self) -> HeaderValue {
        HeaderValue::from_static(match self {
            Caching::Revalidate => "no-cache",
            Caching::Immutable => "public, max-age=31536000, immutable",
            Caching::NoStore => "no-store",
        })
    }
}

/// One encoding of a response body, with its response headers prepared.
#[derive(Clone, Debug)]
pub struct Variant {
    pub body: Bytes,
    pub etag: HeaderValue,
    /// Content type, caching, `Vary`, ETag (for 2xx) and content encoding.
    pub headers: HeaderMap,
}

fn prepared_headers(
    status: StatusCode,
    content_type: &HeaderValue,
    cache_control: &HeaderValue,
    etag: &HeaderValue,
    encoding: Encoding,
) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(header::CONTENT_TYPE, content_type.clone());
    h.insert(header::CACHE_CONTROL, cache_control.clone());
    h.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    if status.is_success() {
        h.insert(header::ETAG, etag.clone());
    }
    if let Some(e) = encoding.header() {
        h.insert(header::CONTENT_ENCODING, e);
    }
    h
}

/// A response prepared in advance.
#[derive(Clone, Debug)]
pub struct Page {
    pub status: StatusCode,
    pub content_type: HeaderValue,
    pub cache_control: HeaderValue,
    pub identity: Variant,
    /// Quick when the page is made, the best after [`Page::with_best_encodings`].
    pub gzip: Option<Variant>,
    /// Made after the page, by [`Page::with_best_encodings`].
    pub br: Option<Variant>,
    /// Text worth compressing, as opposed to images and the like.
    compressible: bool,
}

/// The encodings a client accepts that we prepare.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    Brotli,
    Gzip,
    Identity,
}

impl Encoding {
    pub fn header(self) -> Option<HeaderValue> {
        match self {
            Encoding::Brotli => Some(HeaderValue::from_static("br")),
            Encoding::Gzip => Some(HeaderValue::from_static("gzip")),
            Encoding::Identity => None,
        }
    }
}

impl Page {
    /// Prepares `body` as it is and quickly gzipped; the best variants follow from
    /// [`Page::with_best_encodings`].
    pub fn new(
        status: StatusCode,
        content_type: &'static str,
        caching: Caching,
        body: Vec<u8>,
    ) -> Page {
        let hash = short_hash(&body);
        let compressible = content_type.starts_with("text/")
            || content_type.starts_with("application/json")
            || content_type.starts_with("application/xml")
            || content_type.starts_with("image/svg+xml")
            || content_type.starts_with("application/javascript")
            || content_type.starts_with("text/javascript");
        let content_type = HeaderValue::from_static(content_type);
        let cache_control = caching.header();
        let variant = |encoded: Vec<u8>, suffix: &str, encoding: Encoding| {
            let etag = etag(&hash, suffix);
            Variant {
                headers: prepared_headers(status, &content_type, &cache_control, &etag, encoding),
                etag,
                body: Bytes::from(encoded),
            }
        };
        let gzip = compressible
            .then(|| compression::gzip(&body, 1))
            .filter(|encoded| encoded.len() < body.len())
            .map(|encoded| variant(encoded, "-gz1", Encoding::Gzip));
        Page {
            status,
            identity: variant(body, "", Encoding::Identity),
            content_type,
            cache_control,
            gzip,
            br: None,
            compressible,
        }
    }

    /// The same page with its best gzip and its brotli variant, or `None` when there is nothing
    /// to add (not text, or already made). A variant no smaller than the page itself is left
    /// out. The variants' headers are the page's own, as served (security headers included),
    /// with their ETag and content encoding.
    pub fn with_best_encodings(&self, quality: u32) -> Option<Page> {
        if !self.compressible || self.br.is_some() {
            return None;
        }
        let body = &self.identity.body;
        let hash = short_hash(body);
        let variant = |encoded: Vec<u8>, suffix: &str, encoding: Encoding| {
            (encoded.len() < body.len()).then(|| {
                let etag = etag(&hash, suffix);
                let mut headers = self.identity.headers.clone();
                if self.status.is_success() {
                    headers.insert(header::ETAG, etag.clone());
                }
                if let Some(e) = encoding.header() {
                    headers.insert(header::CONTENT_ENCODING, e);
                }
                Variant {
                    body: Bytes::from(encoded),
                    etag,
                    headers,
                }
            })
        };
        Some(Page {
            gzip: variant(compression::gzip(body, 9), "-gz", Encoding::Gzip),
            br: variant(
                compression::brotli(body, quality.clamp(1, 11)),
                "-br",
                Encoding::Brotli,
            ),
            ..self.clone()
        })
    }

    /// The best variant for a request's `Accept-Encoding`.
    pub fn variant(&self, accept_encoding: Option<&str>) -> (Encoding, &Variant) {
        let accepted = negotiate(accept_encoding.unwrap_or(""));
        for choice in accepted {
            match choice {
                Encoding::Brotli => {
                    if let Some(v) = &self.br {
                        return (Encoding::Brotli, v);
                    }
                }
                Encoding::Gzip => {
                    if let Some(v) = &self.gzip {
                        return (Encoding::Gzip, v);
                    }
                }
                Encoding::Identity => return (Encoding::Identity, &self.identity),
            }
        }
        (Encoding::Identity, &self.identity)
    }
}

/// Whether an `If-None-Match` header matches `etag` (weak comparison, as RFC 9110 asks for GET).
pub fn etag_matches(if_none_match: &str, etag: &HeaderValue) -> bool {
    let Ok(etag) = etag.to_str() else {
        return false;
    };
    let ours = etag.trim_start_matches("W/");
    if_none_match
        .split(',')
        .map(str::trim)
        .any(|candidate| candidate == "*" || candidate.trim_start_matches("W/") == ours)
}

/// Encodings in order of preference, as allowed by an `Accept-Encoding` header.
///
/// Brotli is preferred over gzip over identity when the client gives them equal weight; `q=0`
/// refuses an encoding, `*` stands for any not named. Identity is always last unless refused.
pub fn negotiate(header: &str) -> Vec<Encoding> {
    let mut br = None;
    let mut gz = None;
    let mut id = None;
    let mut star = None;
    for item in header.split(',') {
        let mut parts = item.split(';');
        let name = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let mut q = 1.0_f32;
        for param in parts {
            let param = param.trim();
            if let Some(v) = param
                .strip_prefix("q=")
                .or_else(|| param.strip_prefix("Q="))
            {
                q = v.trim().parse().unwrap_or(0.0);
            }
        }
        match name.as_str() {
            "br" => br = Some(q),
            "gzip" | "x-gzip" => gz = Some(q),
            "identity" => id = Some(q),
            "*" => star = Some(q),
            _ => {}
        }
    }
    let mut ranked: Vec<(f32, u8, Encoding)> = Vec::with_capacity(3);
    let br_q = br.or(star).unwrap_or(0.0);
    let gz_q = gz.or(star).unwrap_or(0.0);
    let id_q = id.or(star.filter(|q| *q == 0.0)).unwrap_or(0.001);
    if br_q > 0.0 {
        ranked.push((br_q, 0, Encoding::Brotli));
    }
    if gz_q > 0.0 {
        ranked.push((gz_q, 1, Encoding::Gzip));
    }
    if id_q > 0.0 {
        ranked.push((id_q, 2, Encoding::Identity));
    }
    ranked.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    ranked.into_iter().map(|(_, _, e)| e).collect()
}

/// The first 16 hex digits of the SHA-256 of `bytes`.
pub fn short_hash(bytes: &[u8]) -> String {
    crypto::hex::hex(&Sha256::digest(bytes)[..8])
}

fn etag(hash: &str, suffix: &str) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{hash}{suffix}\""))
        .unwrap_or(HeaderValue::from_static("\"0\""))
}

/// Fast compression for pages made per request (quality traded for latency): the contact page
/// (35 kB) in under a millisecond, 8.7 kB.
pub fn brotli_fast(body: &[u8]) -> Vec<u8> {
    compression::brotli(body, 6)
}

pub fn gzip_fast(body: &[u8]) -> Vec<u8> {
    compression::gzip(body, 6)
}

/// Every prepared response, by path, plus the error pages.
#[derive(Clone)]
pub struct PageCache {
    pub pages: HashMap<String, Arc<Page>>,
    pub not_found: Arc<Page>,
    pub server_error: Arc<Page>,
    pub unavailable: Arc<Page>,
    /// The form could not be saved: says plainly that the request did NOT arrive.
    pub not_received: Arc<Page>,
    pub method_not_allowed: Arc<Page>,
    /// The contact page, cut where each visitor's form token goes.
    pub contact_form: super::SplitPage,
    /// The thank-you page for each set of notes, indexed by their bits: 1 outside the
    /// licensed states, 2 under 18, 4 outside the US (crisis numbers for where they are), 8
    /// someone under 18 writing for themselves. [`super::ThanksNotes::PAGES`] of them.
    pub thanks: Vec<Arc<Page>>,
    /// The plain thank-you page with a link to choose a consultation time, cut where the link
    /// goes.
    pub thanks_booking: super::SplitPage,
    /// For the pages that depend on the request.
    pub renderer: Arc<super::Renderer>,
    /// Whether the best variants have been made ([`PageCache::with_best_encodings`]).
    pub complete: bool,
}

impl PageCache {
    pub fn get(&self, path: &str) -> Option<&Arc<Page>> {
        self.pages.get(path)
    }

    /// Every prepared page: by path, the error pages and the thank-you pages.
    pub fn all_pages_mut(&mut self) -> impl Iterator<Item = &mut Arc<Page>> {
        self.pages
            .values_mut()
            .chain([
                &mut self.not_found,
                &mut self.server_error,
                &mut self.unavailable,
                &mut self.not_received,
                &mut self.method_not_allowed,
            ])
            .chain(self.thanks.iter_mut())
    }

    /// The same site with the best gzip and the brotli variant, at `quality` (11 in
    /// production), of every page that gains from them.
    pub fn with_best_encodings(&self, quality: u32) -> PageCache {
        let mut site = self.clone();
        for page in site.all_pages_mut() {
            if let Some(with) = page.with_best_encodings(quality) {
                *page = Arc::new(with);
            }
        }
        site.complete = true;
        site
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation_prefers_brotli_and_honours_q() {
        use Encoding::*;
        assert_eq!(negotiate("gzip, deflate, br"), vec![Brotli, Gzip, Identity]);
        assert_eq!(negotiate("gzip"), vec![Gzip, Identity]);
        assert_eq!(negotiate(""), vec![Identity]);
        assert_eq!(
            negotiate("br;q=0.5, gzip;q=0.9"),
            vec![Gzip, Brotli, Identity]
        );
        assert_eq!(negotiate("br;q=0, gzip"), vec![Gzip, Identity]);
        assert_eq!(negotiate("*"), vec![Brotli, Gzip, Identity]);
        assert_eq!(negotiate("gzip, identity;q=0"), vec![Gzip]);
    }

    #[test]
    fn variants_and_etags() {
        let page = Page::new(
            StatusCode::OK,
            "text/html; charset=utf-8",
            Caching::Revalidate,
            "hello ".repeat(200).into_bytes(),
        );
        let (enc, gz) = page.variant(Some("br, gzip"));
        assert_eq!(enc, Encoding::Gzip, "gzip until the brotli variant is made");
        let quick = gz.clone();
        let page = page.with_best_encodings(11).expect("text compresses");
        assert!(page.with_best_encodings(11).is_none(), "made once");
        let (enc, best) = page.variant(Some("gzip"));
        assert_eq!(enc, Encoding::Gzip);
        assert!(
            best.body.len() <= quick.body.len(),
            "the best gzip is no larger"
        );
        assert_ne!(best.etag, quick.etag, "other bytes, another ETag");
        let (enc, v) = page.variant(Some("br, gzip"));
        assert_eq!(enc, Encoding::Brotli);
        assert_eq!(
            v.headers
                .get(header::CONTENT_ENCODING)
                .map(|h| h.as_bytes()),
            Some(&b"br"[..])
        );
        assert_eq!(v.headers.get(header::ETAG), Some(&v.etag));
        assert_ne!(v.etag, gz.etag);
        assert!(v.body.len() < page.identity.body.len());
        assert_ne!(v.etag, page.identity.etag);
        assert!(etag_matches(v.etag.to_str().expect("ascii"), &v.etag));
        assert!(etag_matches(
            &format!("\"x\", W/{}", v.etag.to_str().expect("ascii")),
            &v.etag
        ));
        assert!(etag_matches("*", &v.etag));
        assert!(!etag_matches("\"nope\"", &v.etag));
    }
}
