//! The audit log page and its export (streamed: the log only grows).

use askama::Template;
use axum::body::{Body, Bytes};
use axum::extract::Query;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use serde::Deserialize;

use super::Clinician;
use super::sign_in::{page_chrome, render};
use super::views::{AuditView, when};
use crate::AppError;
use crate::export::safe_cell;
use store::AuditRow;
use store::audit::{Action, Entry};

const PER_PAGE: i64 = 100;

#[derive(Deserialize)]
pub struct AuditQuery {
    page: Option<usize>,
}

fn label(action: &str) -> String {
    Action::ALL
        .into_iter()
        .find(|a| a.as_str() == action)
        .map(|a| a.label().to_string())
        .unwrap_or_else(|| action.to_string())
}

pub async fn page(
    Clinician { state, admin }: Clinician,
    Query(q): Query<AuditQuery>,
) -> Result<Response, AppError> {
    let page = q.page.unwrap_or(0);
    let (rows, total) = state
        .store
        .audit_log(PER_PAGE, i64::try_from(page).unwrap_or(0) * PER_PAGE)
        .await?;
    let tz = &state.time_zone();
    let view = AuditView {
        chrome: page_chrome(&state, &admin, "Audit log", "audit").await?,
        rows: rows
            .into_iter()
            .map(|r| {
                let at = when(r.at, tz);
                let l = label(&r.action);
                (r, at, l)
            })
            .collect(),
        page,
        pages: usize::try_from(total)
            .unwrap_or(0)
            .div_ceil(PER_PAGE as usize),
    };
    Ok(render(StatusCode::OK, view.render()))
}

pub async fn export(
    Clinician { state, admin }: Clinician,
    _: crate::form::Posted<super::posted::Button>,
) -> Result<Response, AppError> {
    let now = Timestamp::now();
    state
        .store
        .audit(&Entry::new(&admin.email, Action::AuditExport), now)
        .await?;
    // The log is read a page at a time and sent as it is read: however long it has grown, the
    // export holds one page in memory.
    let (tx, rx) = tokio::sync::mpsc::channel(2);
    let store = state.store.clone();
    tokio::spawn(async move {
        let mut before = i64::MAX;
        let mut first = true;
        loop {
            let rows = match store.audit_rows_before(before, EXPORT_PAGE).await {
                Ok(rows) => rows,
                Err(e) => {
                    tracing::error!(error = %e, "reading the audit log for its export");
                    let _ = tx
                        .send(Err(std::io::Error::other("audit log unreadable")))
                        .await;
                    return;
                }
            };
            let chunk = match csv_page(&rows, first) {
                Ok(chunk) => chunk,
                Err(e) => {
                    tracing::error!(error = %e, "writing the audit log export");
                    let _ = tx.send(Err(std::io::Error::other("csv"))).await;
                    return;
                }
            };
            first = false;
            if tx.send(Ok(Bytes::from(chunk))).await.is_err() {
                return;
            }
            match rows.last() {
                Some(last) if rows.len() as i64 == EXPORT_PAGE => before = last.id,
                _ => return,
            }
        }
    });
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!(
                    "attachment; filename=\"audit-log-{}.csv\"",
                    now.strftime("%Y-%m-%d")
                ),
            ),
        ],
        Body::new(Chunks(rx)),
    )
        .into_response())
}

/// Rows read at once for the export.
const EXPORT_PAGE: i64 = 1000;

/// One page of the export as CSV, after the header line if it is the first.
fn csv_page(rows: &[AuditRow], first: bool) -> Result<Vec<u8>, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    if first {
        w.write_record(["id", "at", "actor", "action", "request_id", "detail"])?;
    }
    for r in rows {
        w.write_record([
            r.id.to_string(),
            r.at.to_string(),
            safe_cell(&r.actor),
            r.action.clone(),
            r.request_id.map(|i| i.to_string()).unwrap_or_default(),
            safe_cell(r.detail.as_deref().unwrap_or("")),
        ])?;
    }
    w.into_inner().map_err(|e| csv::Error::from(e.into_error()))
}

/// A response body fed, chunk by chunk, from a channel.
struct Chunks(tokio::sync::mpsc::Receiver<Result<Bytes, std::io::Error>>);

impl hyper::body::Body for Chunks {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, Self::Error>>> {
        self.0
            .poll_recv(cx)
            .map(|chunk| chunk.map(|r| r.map(hyper::body::Frame::data)))
    }
}
