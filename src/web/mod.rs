//! HTTP: the router, the shared state and the middleware.
//!
//! `web` turns requests into calls on the rest of the program and results into responses. It
//! holds no business rules and writes no SQL. Public pages come from the prepared
//! [`PageCache`](crate::site::PageCache); everything else has a route of its own.

pub mod error;
mod health;
pub mod middleware;
mod pages;

use std::sync::Arc;

use arc_swap::ArcSwap;
use axum::Router;
use axum::routing::get;

use crate::config::Config;
use crate::site::PageCache;
pub use error::AppError;

/// What every handler can reach. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// The prepared public site; replaced whole when content is reloaded.
    pub site: Arc<ArcSwap<PageCache>>,
    /// The validated configuration the server started with.
    pub config: Arc<Config>,
    /// Headers every response carries, prepared from the config.
    pub security_headers: Arc<middleware::SecurityHeaders>,
}

impl AppState {
    pub fn new(config: Config, site: PageCache) -> Self {
        let security_headers = Arc::new(middleware::SecurityHeaders::new(config.server.https()));
        AppState {
            site: Arc::new(ArcSwap::from_pointee(site)),
            config: Arc::new(config),
            security_headers,
        }
    }
}

/// The whole application: every route and the middleware stack.
pub fn router(state: AppState) -> Router {
    let routes = Router::new()
        .route("/healthz", get(health::healthz))
        .fallback(pages::prepared)
        .with_state(state.clone());
    middleware::stack(routes, state)
}
