//! `/healthz`: whether this server can serve, for load balancers and monitoring.
//!
//! 200 with `{"status":"ok"}` when the database answers and the data directory can take
//! writes; 503 with `"status":"degraded"` otherwise. `"database":"down"` means the database does
//! not answer; `"storage"` is `"full"` (less than 1 MiB free), `"read-only"`, `"failing"` (the
//! last write of a request failed within the past minute) or `"unreachable"`. The public pages
//! still work in every case, but requests cannot be received. When the program serves HTTPS
//! itself, `"certificate_expires"` is the serving certificate's expiry (RFC 3339) and
//! `"certificate_renewal"` is `"failing"` after a failed renewal, else `"ok"`. `"pages"` is
//! `"ready"` once every prepared page has all its encodings, `"compressing"` for the moment after
//! a start or a content change while the best gzip and brotli variants are made (a quick gzip is
//! served meanwhile).
//! `"backup"` is `"ok"` (the last automatic backup succeeded within a day and a half), `"late"`,
//! `"failing"` (the last attempt failed, or none succeeded yet) or `"off"` (not configured, or
//! PostgreSQL, whose own backups are used); it never makes the server unhealthy.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde::Serialize;

use super::AppState;
use store::data_dir::Storage;

#[derive(Serialize)]
struct Health {
    status: &'static str,
    version: &'static str,
    database: &'static str,
    storage: &'static str,
    mail: &'static str,
    pages: &'static str,
    backup: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    certificate_expires: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    certificate_renewal: Option<&'static str>,
}

pub async fn healthz(State(state): State<AppState>) -> impl IntoResponse {
    let database =
        tokio::time::timeout(std::time::Duration::from_secs(2), state.store.ping()).await;
    let up = matches!(database, Ok(Ok(())));
    let storage = state.storage.status();
    let backup = if state.backup_worker().active() && up {
        match state.store.backup_log().await {
            Ok(log) => crate::backup::worker::Health::of(&log, jiff::Timestamp::now()).as_str(),
            Err(_) => "unknown",
        }
    } else {
        crate::backup::worker::Health::Off.as_str()
    };
    let ok = up && storage == Storage::Ok;
    (
        if ok {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        },
        [(header::CACHE_CONTROL, "no-store")],
        Json(Health {
            status: if ok { "ok" } else { "degraded" },
            version: env!("CARGO_PKG_VERSION"),
            database: if up { "up" } else { "down" },
            storage: storage.as_str(),
            mail: if state.mail_enabled { "on" } else { "off" },
            pages: if state.site_complete() {
                "ready"
            } else {
                "compressing"
            },
            backup,
            certificate_expires: state
                .tls
                .as_ref()
                .and_then(|t| t.expires())
                .map(|t| t.to_string()),
            certificate_renewal: state.tls.as_ref().map(|t| {
                if t.failure().is_some() {
                    "failing"
                } else {
                    "ok"
                }
            }),
        }),
    )
}
