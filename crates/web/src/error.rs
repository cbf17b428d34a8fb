//! The one error type of the web layer.
//!
//! A client's mistake becomes a 4xx with a message a person can act on; a failure of ours becomes
//! the honest 5xx page (filled in by the middleware from the prepared pages) and a log line that
//! carries the request id, never a personal detail or a stack trace.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// Marks a response whose body the middleware replaces with an error page: the prepared one,
/// or, while the site is being set up, one that names no one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorPage {
    NotFound,
    MethodNotAllowed,
    /// The body was past the limit (413).
    TooLarge,
    ServerError,
    Unavailable,
}

impl ErrorPage {
    /// A marked response with `status` and nothing else: the middleware gives it its page.
    pub fn response(self, status: StatusCode) -> Response {
        let mut response = status.into_response();
        response.extensions_mut().insert(self);
        response
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("not found")]
    NotFound,
    /// The store failed: unavailable for now (503) or something of ours (500).
    #[error(transparent)]
    Store(#[from] store::StoreError),
    /// The session store could not be read or written.
    #[error("session store")]
    Session(#[from] tower_sessions::session::Error),
    #[error("rendering a page")]
    Render(#[from] askama::Error),
    #[error(transparent)]
    Page(#[from] crate::site::RenderError),
    /// Preparing the public pages again stopped before it finished.
    #[error("preparing the pages: {0}")]
    Rebuild(#[from] tokio::task::JoinError),
    #[error("writing the export")]
    Export(#[source] std::io::Error),
    #[error("writing the calendar")]
    Calendar(#[from] practice::calendar::CalendarError),
    /// The backup key could not be made or read (the message names files, never data).
    #[error(transparent)]
    Backup(#[from] crate::backup::BackupError),
}

/// An error with its whole source chain, for the log ("a: b: c"). No variant's message or
/// source holds a personal detail.
struct Chain<'a>(&'a (dyn std::error::Error + 'static));

impl std::fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut shown = self.0.to_string();
        write!(f, "{shown}")?;
        let mut source = self.0.source();
        while let Some(e) = source {
            // Messages that already quote their source ("database unavailable: {0}") are not
            // repeated.
            let text = e.to_string();
            if !shown.contains(&text) {
                write!(f, ": {text}")?;
            }
            shown = text;
            source = e.source();
        }
        Ok(())
    }
}

impl AppError {
    /// Whether a part we depend on is down for now (503) rather than broken (500).
    fn unavailable(&self) -> bool {
        use store::StoreError;
        matches!(
            self,
            AppError::Session(_)
                | AppError::Store(StoreError::Unavailable(_) | StoreError::DataDir { .. })
        )
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, page) = match &self {
            AppError::NotFound => (StatusCode::NOT_FOUND, ErrorPage::NotFound),
            e if e.unavailable() => {
                tracing::error!(error = %Chain(e), "dependency unavailable");
                (StatusCode::SERVICE_UNAVAILABLE, ErrorPage::Unavailable)
            }
            e => {
                tracing::error!(error = %Chain(e), "request failed");
                (StatusCode::INTERNAL_SERVER_ERROR, ErrorPage::ServerError)
            }
        };
        page.response(status)
    }
}
