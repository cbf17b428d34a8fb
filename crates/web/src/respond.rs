//! Responses made for one request (pages that carry a fresh token or a refusal), as opposed to
//! the prepared pages of `pages.rs`: compressed quickly for this client and never cached.

use axum::body::Body;
use axum::extract::{FromRequestParts, RawPathParams};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::AppState;
use crate::site::cache::{Encoding, negotiate};

/// An HTML response made for one request: compressed quickly, never cached.
pub fn html_response(
    status: StatusCode,
    html: Vec<u8>,
    headers: &HeaderMap,
    head: bool,
) -> Response {
    let accept = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let preferred = negotiate(accept)
        .into_iter()
        .next()
        .unwrap_or(Encoding::Identity);
    let (encoding, body) = match preferred {
        Encoding::Brotli => (Encoding::Brotli, crate::site::cache::brotli_fast(&html)),
        Encoding::Gzip => (Encoding::Gzip, crate::site::cache::gzip_fast(&html)),
        Encoding::Identity => (Encoding::Identity, html),
    };
    let mut r = uncached(status, body, "text/html; charset=utf-8", head);
    let h = r.headers_mut();
    h.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    if let Some(e) = encoding.header() {
        h.insert(header::CONTENT_ENCODING, e);
    }
    r
}

/// A PDF to download as `filename`, never cached.
pub fn pdf_download(bytes: Vec<u8>, filename: &str) -> Response {
    let disposition = format!("attachment; filename=\"{filename}\"");
    let headers = [
        (header::CONTENT_TYPE, "application/pdf"),
        (header::CONTENT_DISPOSITION, disposition.as_str()),
        (header::CACHE_CONTROL, "no-store"),
    ];
    (headers, bytes).into_response()
}

/// `body` of `content_type` made for one request and never cached: without the body for a
/// `HEAD` request (`head`), which is told its length.
pub fn uncached(
    status: StatusCode,
    body: Vec<u8>,
    content_type: &'static str,
    head: bool,
) -> Response {
    let len = body.len();
    let mut r = Response::new(if head {
        Body::empty()
    } else {
        Body::from(body)
    });
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if head {
        h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    }
    r
}

/// A page of one person's own link (their booking, questionnaire or documents): made for this
/// request, never cached and never indexed.
pub fn private_page(
    status: StatusCode,
    html: Result<String, crate::site::RenderError>,
    headers: &HeaderMap,
    head: bool,
) -> Response {
    match html {
        Ok(html) => {
            let mut r = html_response(status, html.into_bytes(), headers, head);
            r.headers_mut().insert(
                "x-robots-tag",
                HeaderValue::from_static("noindex, nofollow"),
            );
            r
        }
        Err(e) => super::AppError::from(e).into_response(),
    }
}

/// `303 See Other` to `to`: where a form post sends the browser next.
pub fn see_other(to: &str) -> Response {
    axum::response::Redirect::to(to).into_response()
}

/// The `{token}` of a person's link in the address, for the extractors that open what the
/// link is for; an address that cannot be read is refused as the router refuses it.
pub async fn link_token(parts: &mut Parts, state: &AppState) -> Result<String, Response> {
    let params = RawPathParams::from_request_parts(parts, state)
        .await
        .map_err(IntoResponse::into_response)?;
    let token = params.iter().find(|(name, _)| *name == "token");
    Ok(token
        .map(|(_, value)| value.to_string())
        .unwrap_or_default())
}

/// The request a link's token is for, or the page to answer with. The token must be signed
/// with the secret `secret_of` finds for the request it names: a link for a deleted request,
/// or for another, is simply not found; an expired one says so, saying what links `to` do
/// ("to the questionnaire").
pub async fn linked_request<F, S>(
    state: &AppState,
    token: &str,
    headers: &HeaderMap,
    to: &str,
    secret_of: F,
) -> Result<i64, Response>
where
    F: FnOnce(i64) -> S,
    S: Future<Output = Result<Option<String>, store::StoreError>>,
{
    let presented = match state.links.read(token) {
        Ok(p) => p,
        Err(_) => return Err(super::AppError::NotFound.into_response()),
    };
    let secret = match secret_of(presented.request_id()).await {
        Ok(Some(s)) => s,
        Ok(None) => return Err(super::AppError::NotFound.into_response()),
        Err(e) => return Err(super::AppError::from(e).into_response()),
    };
    match state
        .links
        .verify(&presented, &secret, jiff::Timestamp::now())
    {
        Ok(id) => Ok(id),
        Err(auth::link::LinkError::Forged) => Err(super::AppError::NotFound.into_response()),
        Err(auth::link::LinkError::Expired) => Err(refusal(
            state,
            StatusCode::GONE,
            "This link has expired",
            &[
                &format!("For your safety, links {to} only work for a while."),
                "Please use the link in the latest email from the practice, or contact the practice by email or phone (below).",
            ],
            headers,
        )),
    }
}

/// A short page that explains why a request was refused (naming no one while the site is being
/// set up).
pub fn refusal(
    state: &AppState,
    status: StatusCode,
    heading: &str,
    paragraphs: &[&str],
    headers: &HeaderMap,
) -> Response {
    if state.setup.closed() {
        return super::setup::neutral_page(state, status, heading, paragraphs);
    }
    let site = state.site.load();
    match site.renderer.status(heading, paragraphs) {
        Ok(html) => html_response(status, html.into_bytes(), headers, false),
        Err(e) => {
            tracing::error!(error = %e, "cannot render a refusal page");
            (status, paragraphs.join(" ")).into_response()
        }
    }
}
