//! `/healthz`: whether this server can serve, for load balancers and monitoring.

use axum::Json;
use axum::http::header;
use axum::response::IntoResponse;
use serde::Serialize;

#[derive(Serialize)]
struct Health {
    status: &'static str,
    version: &'static str,
}

pub async fn healthz() -> impl IntoResponse {
    (
        [(header::CACHE_CONTROL, "no-store")],
        Json(Health {
            status: "ok",
            version: env!("CARGO_PKG_VERSION"),
        }),
    )
}
