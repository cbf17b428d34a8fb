//! Serving the prepared public pages and assets: a lookup, content negotiation and a write.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

use super::AppState;
use crate::site::Page;
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
        return page_response(
            &site.not_found,
            None,
            method == Method::HEAD,
            StatusCode::NOT_FOUND,
        );
    };
    if method != Method::GET && method != Method::HEAD {
        let mut r = page_response(
            &site.method_not_allowed,
            None,
            false,
            StatusCode::METHOD_NOT_ALLOWED,
        );
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    let accept = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok());
    let (encoding, variant) = page.variant(accept);
    if let Some(inm) = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        && etag_matches(inm, &variant.etag)
    {
        let mut r = StatusCode::NOT_MODIFIED.into_response();
        let h = r.headers_mut();
        h.insert(header::ETAG, variant.etag.clone());
        h.insert(header::CACHE_CONTROL, page.cache_control.clone());
        h.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
        return r;
    }
    let mut r = page_response(page, accept, method == Method::HEAD, page.status);
    if let Some(e) = encoding.header() {
        r.headers_mut().insert(header::CONTENT_ENCODING, e);
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
    let (encoding, variant) = page.variant(accept);
    let body = if head {
        Body::empty()
    } else {
        Body::from(variant.body.clone())
    };
    let mut r = Response::new(body);
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, page.content_type.clone());
    h.insert(header::CACHE_CONTROL, page.cache_control.clone());
    h.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    if status.is_success() {
        h.insert(header::ETAG, variant.etag.clone());
    }
    if let Some(e) = encoding.header() {
        h.insert(header::CONTENT_ENCODING, e);
    }
    if head {
        h.insert(
            header::CONTENT_LENGTH,
            HeaderValue::from(variant.body.len()),
        );
    }
    r
}
