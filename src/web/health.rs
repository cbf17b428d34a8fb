//! `/healthz`: whether this server can serve, for load balancers and monitoring.
//!
//! 200 with `{"status":"ok"}` when the database answers; 503 with `"database":"down"` when it
//! does not (the public pages still work, but requests cannot be received).

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde::Serialize;

use super::AppState;

#[derive(Serialize)]
struct Health {
    status: &'static str,
    version: &'static str,
    database: &'static str,
    mail: &'static str,
}

pub async fn healthz(State(state): State<AppState>) -> impl IntoResponse {
    let database =
        tokio::time::timeout(std::time::Duration::from_secs(2), state.store.ping()).await;
    let up = matches!(database, Ok(Ok(())));
    (
        if up {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        },
        [(header::CACHE_CONTROL, "no-store")],
        Json(Health {
            status: if up { "ok" } else { "degraded" },
            version: env!("CARGO_PKG_VERSION"),
            database: if up { "up" } else { "down" },
            mail: if state.mail_enabled { "on" } else { "off" },
        }),
    )
}
