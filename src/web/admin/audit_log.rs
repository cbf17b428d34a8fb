//! The audit log page and its export.

use askama::Template;
use axum::Extension;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use serde::Deserialize;

use super::Admin;
use super::sign_in::{chrome, render};
use super::views::{AuditView, when};
use crate::audit::{Action, Entry};
use crate::export::safe_cell;
use crate::web::{AppError, AppState};

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
    State(state): State<AppState>,
    Extension(admin): Extension<Admin>,
    Query(q): Query<AuditQuery>,
) -> Result<Response, AppError> {
    let page = q.page.unwrap_or(0);
    let (rows, total) = state
        .store
        .audit_log(PER_PAGE, i64::try_from(page).unwrap_or(0) * PER_PAGE)
        .await?;
    let tz = &state.config.practice.time_zone;
    let view = AuditView {
        chrome: chrome(
            &state,
            "Audit log",
            Some(admin.email.clone()),
            &admin.csrf,
            state.store.count_new().await?,
            "audit",
        ),
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
    State(state): State<AppState>,
    Extension(admin): Extension<Admin>,
) -> Result<Response, AppError> {
    let now = Timestamp::now();
    state
        .store
        .audit(&Entry::new(&admin.email, Action::AuditExport), now)
        .await?;
    let (rows, _) = state.store.audit_log(i64::MAX, 0).await?;
    let mut w = csv::Writer::from_writer(Vec::new());
    let io = |e: csv::Error| AppError::Internal(format!("csv: {e}"));
    w.write_record(["id", "at", "actor", "action", "request_id", "detail"])
        .map_err(io)?;
    for r in rows {
        w.write_record([
            r.id.to_string(),
            r.at.to_string(),
            safe_cell(&r.actor),
            r.action,
            r.request_id.map(|i| i.to_string()).unwrap_or_default(),
            safe_cell(r.detail.as_deref().unwrap_or("")),
        ])
        .map_err(io)?;
    }
    let out = w
        .into_inner()
        .map_err(|e| AppError::Internal(format!("csv: {e}")))?;
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
        out,
    )
        .into_response())
}
