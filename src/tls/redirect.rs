//! The plain-HTTP listener when the program serves HTTPS itself: every request is sent to the
//! same path on the https site (308, so a form's method survives), except the certificate
//! authority's HTTP-01 challenges, which must be answered over plain HTTP.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::Tls;

#[derive(Clone)]
struct Redirect {
    tls: Arc<Tls>,
    /// The public https address, without a trailing slash.
    base_url: Arc<str>,
}

/// The router of the plain listener.
pub fn router(tls: Arc<Tls>, base_url: &str) -> Router {
    Router::new()
        .route("/.well-known/acme-challenge/{token}", get(challenge))
        .fallback(to_https)
        .with_state(Redirect {
            tls,
            base_url: Arc::from(base_url.trim_end_matches('/')),
        })
}

async fn challenge(State(r): State<Redirect>, Path(token): Path<String>) -> Response {
    match r.tls.challenge(&token) {
        Some(answer) => {
            ([(header::CONTENT_TYPE, "application/octet-stream")], answer).into_response()
        }
        None => (StatusCode::NOT_FOUND, "no such challenge").into_response(),
    }
}

async fn to_https(State(r): State<Redirect>, uri: Uri) -> Response {
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let location = format!("{}{path}", r.base_url);
    (
        StatusCode::PERMANENT_REDIRECT,
        [
            (header::LOCATION, location),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
    )
        .into_response()
}
