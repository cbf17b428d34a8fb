//! The one error type of the web layer.
//!
//! A client's mistake becomes a 4xx with a message a person can act on; a failure of ours becomes
//! the honest 5xx page (filled in by the middleware from the prepared pages) and a log line that
//! carries the request id, never a personal detail or a stack trace.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// Marks a response whose body the middleware replaces with a prepared error page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorPage {
    NotFound,
    MethodNotAllowed,
    ServerError,
    Unavailable,
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("not found")]
    NotFound,
    /// Something of ours failed; the message is for the log only and holds no personal data.
    #[error("internal error: {0}")]
    Internal(String),
    /// A part we depend on (database, disk) is unavailable for now.
    #[error("unavailable: {0}")]
    Unavailable(String),
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, page) = match &self {
            AppError::NotFound => (StatusCode::NOT_FOUND, ErrorPage::NotFound),
            AppError::Internal(msg) => {
                tracing::error!(error = %msg, "request failed");
                (StatusCode::INTERNAL_SERVER_ERROR, ErrorPage::ServerError)
            }
            AppError::Unavailable(msg) => {
                tracing::error!(error = %msg, "dependency unavailable");
                (StatusCode::SERVICE_UNAVAILABLE, ErrorPage::Unavailable)
            }
        };
        let mut response = status.into_response();
        response.extensions_mut().insert(page);
        response
    }
}

impl From<crate::store::StoreError> for AppError {
    fn from(e: crate::store::StoreError) -> Self {
        match e {
            crate::store::StoreError::Unavailable(_) | crate::store::StoreError::DataDir { .. } => {
                AppError::Unavailable(e.to_string())
            }
            other => AppError::Internal(other.to_string()),
        }
    }
}
