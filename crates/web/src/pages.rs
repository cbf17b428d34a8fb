//! Serving the prepared public pages and assets: a lookup, content negotiation and a write.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::error::ErrorPage;
use crate::site::Page;
use crate::site::cache::Variant;
use crate::site::cache::etag_matches;

/// Every path not routed elsewhere: a prepared page, a redirect, a 405 or the 404 page.
pub async fn prepared(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let site = state.site.load();
    let path = uri.path();
    let Some(page) = site.get(path) else {
        // `/contact/` → `/contact`, keeping nothing of the query.
        if path.len() > 1
            && let Some(trimmed) = path.strip_suffix('/')
            && (site.get(trimmed).is_some() || super::DYNAMIC_PAGES.contains(&trimmed))
        {
            return (
                StatusCode::PERMANENT_REDIRECT,
                [(header::LOCATION, trimmed.to_string())],
            )
                .into_response();
        }
        // The middleware gives it its page (neutral while the site is being set up).
        return ErrorPage::NotFound.response(StatusCode::NOT_FOUND);
    };
    if method != Method::GET && method != Method::HEAD {
        let mut r = ErrorPage::MethodNotAllowed.response(StatusCode::METHOD_NOT_ALLOWED);
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    let accept = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok());
    let (_, variant) = page.variant(accept);
    if let Some(inm) = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        && etag_matches(inm, &variant.etag)
    {
        return not_modified(page, variant);
    }
    variant_response(page.status, variant, method == Method::HEAD)
}

/// 304 for a matching ETag: the variant's headers without the body's metadata.
pub(super) fn not_modified(page: &Page, variant: &Variant) -> Response {
    let mut r = StatusCode::NOT_MODIFIED.into_response();
    let mut h = variant.headers.clone();
    h.remove(header::CONTENT_TYPE);
    h.remove(header::CONTENT_ENCODING);
    h.insert(header::CACHE_CONTROL, page.cache_control.clone());
    *r.headers_mut() = h;
    r
}

/// A prepared variant as a response: a clone of its body handle and its prepared headers.
pub(super) fn variant_response(status: StatusCode, variant: &Variant, head: bool) -> Response {
    let body = if head {
        Body::empty()
    } else {
        Body::from(variant.body.clone())
    };
    let mut r = Response::new(body);
    *r.status_mut() = status;
    *r.headers_mut() = variant.headers.clone();
    if head {
        r.headers_mut().insert(
            header::CONTENT_LENGTH,
            HeaderValue::from(variant.body.len()),
        );
    }
    r
}

/// A prepared page as a response in the encoding `accept` allows.
pub fn page_response(
    page: &Page,
    accept: Option<&str>,
    head: bool,
    status: StatusCode,
) -> Response {
    let (_, variant) = page.variant(accept);
    variant_response(status, variant, head)
}
