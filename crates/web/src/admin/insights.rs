//! `/admin/insights`: visits, sources and the path to a consultation, drawn as SVG on the
//! server (no JavaScript) with every chart's numbers also in a table; and their CSV export.
//!
//! Before reading, this server writes the counts it gathered since its last batch, so the page
//! is current for what this server saw (other servers' last few seconds arrive with their next
//! batch).

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use jiff::civil::Date;
use serde::Deserialize;

use super::Clinician;
use super::sign_in::{page_chrome, render};
use super::views::Chrome;
use crate::export::safe_cell;
use crate::insights::report::{FUNNEL_STEPS, Period, Report};
use crate::{AppError, AppState};

#[derive(Deserialize)]
pub struct PeriodQuery {
    period: Option<String>,
}

/// One bar of a chart, placed in the SVG's coordinates.
pub struct Bar {
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
    pub value: i64,
    /// What the bar is, for its tooltip: "Nov 3: 12 page views".
    pub title: String,
    /// The bar's label inside the chart (horizontal bars only).
    pub label: String,
}

/// A chart's size and bars.
pub struct Chart {
    pub width: u32,
    pub height: u32,
    pub bars: Vec<Bar>,
    /// The baseline's height (vertical charts).
    pub baseline: u32,
    /// The largest value (vertical charts): written at the top of the scale, so the bars
    /// read as numbers on the chart itself, not only in its table.
    pub top: i64,
    /// The height of the top of the scale.
    pub top_y: u32,
}

const WIDTH: u32 = 640;

/// Vertical bars, one per value, scaled to the largest.
fn columns(values: &[(String, i64)], unit: &str) -> Chart {
    let height = 200;
    let baseline = height - 10;
    let max = values.iter().map(|v| v.1).max().unwrap_or(0).max(1);
    let n = u32::try_from(values.len()).unwrap_or(1).max(1);
    let slot = WIDTH / n;
    let width = (slot * 7 / 10).max(1);
    let bars = values
        .iter()
        .enumerate()
        .map(|(i, (label, value))| {
            let h = scale(*value, max, baseline - 10);
            Bar {
                x: u32::try_from(i).unwrap_or(0) * slot + (slot - width) / 2,
                y: baseline - h,
                width,
                height: h,
                value: *value,
                title: format!("{label}: {value} {unit}"),
                label: label.clone(),
            }
        })
        .collect();
    Chart {
        width: WIDTH,
        height,
        bars,
        baseline,
        top: values.iter().map(|v| v.1).max().unwrap_or(0),
        top_y: 10,
    }
}

/// Horizontal bars with their labels, one row per value.
fn rows(values: &[(String, i64)]) -> Chart {
    let row = 32;
    let label_width = 210;
    let bar_space = WIDTH - label_width - 60;
    let max = values.iter().map(|v| v.1).max().unwrap_or(0).max(1);
    let bars = values
        .iter()
        .enumerate()
        .map(|(i, (label, value))| {
            let w = scale(*value, max, bar_space);
            Bar {
                x: label_width,
                y: u32::try_from(i).unwrap_or(0) * row + 6,
                width: w,
                height: row - 12,
                value: *value,
                title: format!("{label}: {value}"),
                label: label.clone(),
            }
        })
        .collect();
    Chart {
        width: WIDTH,
        height: u32::try_from(values.len()).unwrap_or(0) * row,
        bars,
        baseline: 0,
        top: max,
        top_y: 0,
    }
}

/// `value` of `max` as a length of at most `full` (a value above zero is at least 1).
fn scale(value: i64, max: i64, full: u32) -> u32 {
    if value <= 0 {
        return 0;
    }
    let scaled = value.saturating_mul(i64::from(full)) / max;
    u32::try_from(scaled).unwrap_or(full).clamp(1, full)
}

/// One row of the visits table.
pub struct VisitRow {
    pub label: String,
    pub page_views: i64,
    pub visitors: i64,
}

/// One row of the weekly funnel table.
pub struct WeekRow {
    pub label: String,
    pub steps: [i64; 5],
}

#[derive(Template)]
#[template(path = "admin/insights.html")]
pub struct InsightsView {
    pub chrome: Chrome,
    pub enabled: bool,
    /// "30d" or "12m".
    pub period: &'static str,
    /// "Nov 1 to Nov 30, 2026".
    pub range: String,
    /// "day" or "month".
    pub bucket: &'static str,
    pub visits_chart: Chart,
    pub visits: Vec<VisitRow>,
    pub total_views: i64,
    pub funnel_chart: Chart,
    pub funnel: Vec<(&'static str, i64)>,
    pub weeks: Vec<WeekRow>,
    pub steps: [&'static str; 5],
    pub top_pages: Vec<(String, i64)>,
    pub top_sources: Vec<(String, i64)>,
    pub campaigns: Vec<(String, i64)>,
    pub heard: Vec<(String, i64)>,
    pub heard_unanswered: i64,
}

fn short(d: Date) -> String {
    d.strftime("%b %-d").to_string()
}

/// Writes this server's pending counts and builds the report for `period`.
async fn report(state: &AppState, period: Period) -> Result<Report, AppError> {
    if let Err(e) = state.insights.flush(&state.store).await {
        tracing::warn!(error = %e, "cannot write visit counts before showing them");
    }
    let today = state.insights.today();
    let first = period.first_day(today);
    let counts = state.store.insight_counts_since(&first.to_string()).await?;
    let since = state
        .time_zone()
        .to_timestamp(first.to_datetime(jiff::civil::Time::midnight()))
        .unwrap_or_else(|_| jiff::Timestamp::now());
    let answers = state.store.referral_answers_since(since).await?;
    Ok(Report::build(period, today, &counts, &answers))
}

/// `GET /admin/insights[?period=12m]`.
pub async fn page(
    Clinician { state, admin }: Clinician,
    Query(q): Query<PeriodQuery>,
) -> Result<Response, AppError> {
    let period = Period::parse(q.period.as_deref());
    let r = report(&state, period).await?;
    let (bucket, label): (&str, fn(Date) -> String) = match period {
        Period::Days30 => ("day", short),
        Period::Months12 => ("month", |d| d.strftime("%b %Y").to_string()),
    };
    let visit_values: Vec<(String, i64)> = r
        .visits
        .iter()
        .map(|v| (label(v.start), v.page_views))
        .collect();
    let funnel: Vec<(&'static str, i64)> =
        FUNNEL_STEPS.iter().copied().zip(r.funnel_totals).collect();
    let funnel_values: Vec<(String, i64)> =
        funnel.iter().map(|(s, n)| (s.to_string(), *n)).collect();
    let view = InsightsView {
        chrome: page_chrome(&state, &admin, "Insights", "insights").await?,
        enabled: state.insights.enabled(),
        period: period.as_str(),
        range: format!(
            "{} to {}",
            r.first_day.strftime("%b %-d, %Y"),
            r.today.strftime("%b %-d, %Y")
        ),
        bucket,
        visits_chart: columns(&visit_values, "page views"),
        total_views: r.visits.iter().map(|v| v.page_views).sum(),
        visits: r
            .visits
            .iter()
            .map(|v| VisitRow {
                label: label(v.start),
                page_views: v.page_views,
                visitors: v.visitors,
            })
            .collect(),
        funnel_chart: rows(&funnel_values),
        funnel,
        weeks: r
            .weeks
            .iter()
            .map(|w| WeekRow {
                label: format!("Week of {}", short(w.monday)),
                steps: w.steps,
            })
            .collect(),
        steps: FUNNEL_STEPS,
        top_pages: r.top_pages,
        top_sources: r.top_sources,
        campaigns: r.campaigns,
        heard: r.heard,
        heard_unanswered: r.heard_unanswered,
    };
    Ok(render(StatusCode::OK, view.render()))
}

/// `GET /admin/insights.csv[?period=12m]`: the stored counts of the period, one row per day,
/// kind and subject. Counts only: nothing in it identifies anyone.
pub async fn export(
    State(state): State<AppState>,
    Query(q): Query<PeriodQuery>,
) -> Result<Response, AppError> {
    let period = Period::parse(q.period.as_deref());
    if let Err(e) = state.insights.flush(&state.store).await {
        tracing::warn!(error = %e, "cannot write visit counts before exporting them");
    }
    let today = state.insights.today();
    let counts = state
        .store
        .insight_counts_since(&period.first_day(today).to_string())
        .await?;
    let mut w = csv::Writer::from_writer(Vec::new());
    let csv_error = |e: csv::Error| AppError::Export(e.into());
    w.write_record(["day", "kind", "subject", "total"])
        .map_err(csv_error)?;
    for c in counts {
        w.write_record([
            c.day,
            safe_cell(&c.kind),
            safe_cell(&c.subject),
            c.total.to_string(),
        ])
        .map_err(csv_error)?;
    }
    let body = w
        .into_inner()
        .map_err(|e| AppError::Export(e.into_error()))?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!(
                    "attachment; filename=\"insights-{}-{today}.csv\"",
                    period.as_str()
                ),
            ),
        ],
        body,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_are_scaled_to_the_largest_and_a_small_value_still_shows() {
        let c = columns(
            &[("a".into(), 0), ("b".into(), 1), ("c".into(), 1000)],
            "page views",
        );
        assert_eq!(c.bars[0].height, 0);
        assert_eq!(c.bars[1].height, 1);
        assert_eq!(c.bars[2].height, c.baseline - 10);
        assert_eq!(c.bars[2].y, 10);
        let r = rows(&[("x".into(), 5), ("y".into(), 10)]);
        assert_eq!(r.bars[1].width, WIDTH - 270);
        assert_eq!(r.bars[0].width, (WIDTH - 270) / 2);
    }
}
