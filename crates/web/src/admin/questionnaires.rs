//! Questionnaires on the clinician's side: turning them on, a request's results (every score
//! with its band, a server-rendered chart of the PHQ-9 and GAD-7 over time with the same numbers
//! in a table, the screening answers to raise at the consultation), sending the measures again,
//! and marking a questionnaire that needed attention as followed up.
//!
//! The answers appear on the request's page only. The actions' audit lines name the request and
//! never an answer.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::Clinician;
use super::posted::{Button, inbox_form};
use super::views::{at_time, mail_line, when};
use crate::form::Posted;
use crate::{AppError, AppState};
use mail::MailKind;
use practice::measures::{Measure, OPTIONS, ScreeningAnswer};
use store::{MailCheckAnswer, MailState, StoredQuestionnaire};

/// One questionnaire's results as the request's page shows them.
pub struct ResultView {
    pub id: i64,
    pub label: &'static str,
    pub sent: String,
    /// "Completed …", "Started, not finished (last saved …)" or "Not started".
    pub progress: String,
    pub needs_attention: bool,
    /// (measure, "12", "Moderate") or (measure, "Not complete (5 of 9 answered)", "").
    pub scores: Vec<(&'static str, String, &'static str)>,
    /// The PHQ-9's item 9 in words, when answered.
    pub item9: Option<&'static str>,
    /// (measure, [(question, answer)]): every item's answer in words, in the published order.
    pub items: Vec<(&'static str, Vec<(&'static str, &'static str)>)>,
    /// (measure, answer) to each measure's unscored "how difficult" question, when answered.
    pub difficulty: Vec<(&'static str, &'static str)>,
    /// (question, answer) in the order asked; "yes" answers are marked for discussion.
    pub screening: Vec<(String, &'static str, bool)>,
    pub medications: Option<String>,
    pub prescriber: Option<String>,
}

/// A point of the chart.
pub struct ChartPoint {
    pub x: i64,
    pub y: i64,
    pub value: u8,
    pub title: String,
}

/// One measure's line.
pub struct ChartLine {
    pub name: &'static str,
    pub class: &'static str,
    pub points: Vec<ChartPoint>,
    /// The SVG polyline's points.
    pub path: String,
}

/// The chart of scores over time, and its table's rows.
pub struct ScoreChart {
    pub width: i64,
    pub height: i64,
    pub left: i64,
    pub baseline: i64,
    /// Gridlines: (y, label).
    pub ticks: Vec<(i64, u8)>,
    pub lines: Vec<ChartLine>,
    /// (date, PHQ-9 "12 (Moderate)" or "—", GAD-7 likewise).
    pub rows: Vec<(String, String, String)>,
}

/// The questionnaires panel of a request's page.
pub struct QuestionnairesPanel {
    pub results: Vec<ResultView>,
    pub chart: Option<ScoreChart>,
    pub needs_attention: bool,
    /// While it needs attention: what became of the urgent notice.
    pub notice: Option<NoticeState>,
    /// Why the follow-up was not saved, by its note's field.
    pub note_error: Option<String>,
    /// While it needs attention: what the person was told, and by when that is.
    pub promise: Option<String>,
    /// Whether the measures can be sent (email is configured).
    pub can_send: bool,
}

/// What became of a request's urgent notice, in plain words.
pub struct NoticeState {
    pub words: String,
    /// It did not reach the practice (given up, failing, or no email at all).
    pub trouble: bool,
}

/// What the person whose answers need attention was told, and by when that is.
fn promise(state: &AppState, qs: &[StoredQuestionnaire], tz: &TimeZone) -> Option<String> {
    let raised = qs
        .iter()
        .filter(|q| q.needs_attention && q.attention_seen_at.is_none())
        .filter_map(|q| q.attention_raised_at)
        .min()?;
    let hours = state.config().form.urgent_reply_hours;
    let by = raised
        .checked_add(jiff::SignedDuration::from_hours(i64::from(hours)))
        .ok()?;
    let late = if by <= Timestamp::now() {
        " That time has passed."
    } else {
        ""
    };
    Some(format!(
        "The person was told you will get in touch {}: by {}.{late}",
        practice::wording::within_hours(hours),
        at_time(by, tz)
    ))
}

/// What became of the latest urgent notice among a request's `mail`.
pub fn notice_state(state: &AppState, mail: &[MailState], tz: &TimeZone) -> NoticeState {
    if !state.mail_enabled {
        return NoticeState {
            words: "No urgent notice was sent: this website sends no email".into(),
            trouble: true,
        };
    }
    let latest = mail.iter().rev().find(|m| {
        m.kind == MailKind::QuestionnaireAttentionNotice.as_str()
            || m.kind == MailKind::QuestionnaireAttentionOverdue.as_str()
    });
    match latest {
        Some(m) => NoticeState {
            words: mail_line(m, tz),
            trouble: m.status == "failed" || (m.status == "pending" && m.attempts > 0),
        },
        None => NoticeState {
            words: "No urgent notice was queued for this request".into(),
            trouble: true,
        },
    }
}

/// What stands for a measure without a total, in the results and the chart's table alike.
fn not_complete(q: &StoredQuestionnaire, m: Measure) -> String {
    let answered = q
        .answers
        .responses(m)
        .0
        .iter()
        .filter(|v| v.is_some())
        .count();
    format!("Not complete ({answered} of {} answered)", m.items().len())
}

fn result_view(q: &StoredQuestionnaire, tz: &TimeZone) -> ResultView {
    let a = &q.answers;
    let progress = match (q.completed_at, q.updated_at) {
        (Some(t), _) => format!("Completed {}", when(t, tz)),
        (None, Some(t)) => format!("Started, not finished (last saved {})", when(t, tz)),
        (None, None) => "Not started".to_string(),
    };
    let measures = Measure::ALL
        .into_iter()
        .filter(|m| q.kind.pages().iter().any(|p| p.slug() == m.key()));
    let items = measures
        .clone()
        .map(|m| {
            let answers = a.responses(m).0;
            let rows = m
                .items()
                .iter()
                .enumerate()
                .map(|(i, question)| {
                    let answer = answers
                        .get(i)
                        .copied()
                        .flatten()
                        .and_then(|v| OPTIONS.get(usize::from(v)).copied());
                    (*question, answer.unwrap_or("Not answered"))
                })
                .collect();
            (m.name(), rows)
        })
        .collect();
    let scores = measures
        .map(|m| match a.score(m) {
            Some(s) => (m.name(), s.total.to_string(), s.band.label()),
            None => (m.name(), not_complete(q, m), ""),
        })
        .collect();
    let item9 = a
        .phq9
        .get(practice::measures::PHQ9_SAFETY_ITEM)
        .copied()
        .flatten()
        .and_then(|v| OPTIONS.get(usize::from(v)).copied());
    ResultView {
        id: q.id,
        label: q.kind.label(),
        sent: when(q.sent_at, tz),
        progress,
        needs_attention: q.needs_attention,
        scores,
        item9,
        items,
        difficulty: Measure::ALL
            .into_iter()
            .filter_map(|m| a.difficulty(m).map(|d| (m.name(), d)))
            .collect(),
        screening: a
            .screening
            .iter()
            .map(|s| {
                let answer = s.answer();
                (
                    s.question.clone(),
                    answer.map(ScreeningAnswer::label).unwrap_or(""),
                    answer.is_some_and(ScreeningAnswer::to_discuss),
                )
            })
            .collect(),
        medications: a.medications.clone(),
        prescriber: a.prescriber.clone(),
    }
}

const CHART_WIDTH: i64 = 600;
const CHART_HEIGHT: i64 = 240;
const LEFT: i64 = 36;
const TOP: i64 = 12;
const BASELINE: i64 = 210;
/// The y axis runs to the PHQ-9's maximum, so both measures share it.
const MAX: i64 = 27;

fn y_of(score: u8) -> i64 {
    BASELINE - (i64::from(score) * (BASELINE - TOP)) / MAX
}

/// The chart of completed measures in the order they were answered, or `None` if none is.
fn chart(qs: &[StoredQuestionnaire], tz: &TimeZone) -> Option<ScoreChart> {
    let done: Vec<&StoredQuestionnaire> = qs
        .iter()
        .filter(|q| Measure::ALL.iter().any(|m| q.answers.score(*m).is_some()))
        .collect();
    if done.is_empty() {
        return None;
    }
    let n = i64::try_from(done.len()).unwrap_or(1);
    let span = CHART_WIDTH - LEFT - 24;
    let x_of = |i: usize| {
        let i = i64::try_from(i).unwrap_or(0);
        if n == 1 {
            LEFT + span / 2
        } else {
            LEFT + 12 + (i * (span - 12)) / (n - 1)
        }
    };
    let date = |q: &StoredQuestionnaire| when(q.updated_at.unwrap_or(q.sent_at), tz);
    let lines = Measure::ALL
        .into_iter()
        .map(|m| {
            let points: Vec<ChartPoint> = done
                .iter()
                .enumerate()
                .filter_map(|(i, q)| {
                    q.answers.score(m).map(|s| ChartPoint {
                        x: x_of(i),
                        y: y_of(s.total),
                        value: s.total,
                        title: format!(
                            "{} {}: {} ({})",
                            m.name(),
                            date(q),
                            s.total,
                            s.band.label()
                        ),
                    })
                })
                .collect();
            let path = points
                .iter()
                .map(|p| format!("{},{}", p.x, p.y))
                .collect::<Vec<_>>()
                .join(" ");
            ChartLine {
                name: m.name(),
                class: m.key(),
                points,
                path,
            }
        })
        .collect();
    let cell = |q: &StoredQuestionnaire, m: Measure| match q.answers.score(m) {
        Some(s) => format!("{} ({})", s.total, s.band.label()),
        None => not_complete(q, m),
    };
    Some(ScoreChart {
        width: CHART_WIDTH,
        height: CHART_HEIGHT,
        left: LEFT,
        baseline: BASELINE,
        ticks: [0u8, 5, 10, 15, 20, 27]
            .into_iter()
            .map(|t| (y_of(t), t))
            .collect(),
        lines,
        rows: done
            .iter()
            .map(|q| (date(q), cell(q, Measure::Phq9), cell(q, Measure::Gad7)))
            .collect(),
    })
}

/// The questionnaires panel of request `id`, whose emails are `mail`.
pub async fn panel(
    state: &AppState,
    id: i64,
    mail: &[MailState],
    note_error: Option<String>,
) -> Result<QuestionnairesPanel, AppError> {
    let qs = state.store.questionnaires(id).await?;
    let tz = &state.time_zone();
    let needs_attention = qs
        .iter()
        .any(|q| q.needs_attention && q.attention_seen_at.is_none());
    Ok(QuestionnairesPanel {
        needs_attention,
        notice: needs_attention.then(|| notice_state(state, mail, tz)),
        promise: promise(state, &qs, tz),
        note_error,
        chart: chart(&qs, tz),
        results: qs.iter().rev().map(|q| result_view(q, tz)).collect(),
        can_send: state.mail_enabled,
    })
}

/// `POST /admin/requests/{id}/measures`: sends the measures again, by email.
pub async fn send_measures(
    Clinician { state, admin }: Clinician,
    Path(id): Path<i64>,
    _: Posted<Button>,
) -> Result<Response, AppError> {
    if !state.mail_enabled {
        return Ok((
            StatusCode::CONFLICT,
            "Email is not configured, so the measures cannot be sent. Set up [mail] first.",
        )
            .into_response());
    }
    if !state
        .store
        .send_measures(id, &admin.email, Timestamp::now())
        .await?
    {
        return Err(AppError::NotFound);
    }
    state.mail_wake.notify_one();
    Ok(Redirect::to(&format!("/admin/requests/{id}")).into_response())
}

inbox_form!(
    /// What the clinician did to follow up an urgent answer.
    FollowUpForm { note }
);

inbox_form!(
    /// The code from the test notice.
    NoticeCodeForm { code }
);

inbox_form!(
    /// Whether the questionnaire is offered: `on` or `off`.
    OfferedForm { questionnaire }
);

/// The longest follow-up note.
const NOTE_MAX: usize = 2000;

/// `POST /admin/requests/{id}/attention`: the clinician followed up what needed attention,
/// with a short note of what they did (required).
pub async fn followed_up(
    Clinician { state, admin }: Clinician,
    Path(id): Path<i64>,
    Posted(FollowUpForm { note, .. }): Posted<FollowUpForm>,
) -> Result<Response, AppError> {
    let note = note.trim().to_string();
    let problem = if note.is_empty() {
        Some("Write a short note of what you did to follow it up")
    } else if note.chars().count() > NOTE_MAX {
        Some("The note must be 2000 characters or fewer")
    } else {
        None
    };
    if let Some(problem) = problem {
        let Some(r) = state.store.request(id).await? else {
            return Err(AppError::NotFound);
        };
        return super::inbox::request_page(
            &state,
            &admin,
            r,
            Some(format!("{problem}. It was not marked as followed up.")),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(problem.to_string()),
        )
        .await;
    }
    state
        .store
        .attention_followed_up(id, &note, &admin.email, Timestamp::now())
        .await?;
    Ok(Redirect::to(&format!("/admin/requests/{id}")).into_response())
}

/// Whether urgent notices are known to reach the notice address, for the booking settings.
pub struct NoticeCheck {
    /// Whether this server sends email at all.
    pub mail_enabled: bool,
    /// Where urgent notices go now.
    pub to: String,
    /// When a test to that address was confirmed, if one was.
    pub confirmed: Option<String>,
    /// When the latest test to that address was sent, if it waits for its code.
    pub waiting: Option<String>,
}

/// The state of the test of the notice address now.
pub async fn notice_check(state: &AppState) -> Result<NoticeCheck, AppError> {
    let to = state.config().mail.notify_email.clone();
    let tz = state.time_zone();
    let check = state
        .store
        .mail_check()
        .await?
        .filter(|c| state.mail_enabled && c.to.eq_ignore_ascii_case(to.trim()));
    let confirmed = check
        .as_ref()
        .filter(|c| c.confirms(&to))
        .and_then(|c| c.confirmed_at())
        .map(|t| when(t, &tz));
    let waiting = check
        .filter(|c| !c.confirms(&to))
        .and_then(|c| c.sent_at())
        .map(|t| when(t, &tz));
    Ok(NoticeCheck {
        mail_enabled: state.mail_enabled,
        to,
        confirmed,
        waiting,
    })
}

/// Why the questionnaire cannot be turned on now, in words the owner can act on.
fn cannot_offer(check: &NoticeCheck) -> Option<String> {
    if !check.mail_enabled {
        Some("The questionnaire cannot be turned on: this website sends no email, so the urgent notice of an answer about thoughts of self-harm could not reach you. Set up email ([mail] in the config file) first. Nothing was saved.".into())
    } else if check.confirmed.is_none() {
        Some(format!(
            "The questionnaire cannot be turned on until you confirm that urgent notices reach {}: send a test email from the booking settings and enter the code it carries. Nothing was saved.",
            check.to
        ))
    } else {
        None
    }
}

/// The answer to a test of the urgent notices when the website sends no email, so `what`.
fn no_email(what: &str) -> Response {
    let message = format!(
        "This website sends no email, so {what}. Set up email ([mail] in the config file) first."
    );
    (StatusCode::CONFLICT, message).into_response()
}

/// `POST /admin/booking/questionnaire/test`: sends a test email with a code to the address
/// urgent notices go to.
pub async fn send_notice_test(
    State(state): State<AppState>,
    _: Posted<Button>,
) -> Result<Response, AppError> {
    let Some(to) = state.notices_to() else {
        return Ok(no_email("no test can be sent"));
    };
    state.store.send_mail_check(&to, Timestamp::now()).await?;
    state.mail_wake.notify_one();
    Ok(Redirect::to("/admin/booking#questionnaire-setting-title").into_response())
}

/// `POST /admin/booking/questionnaire/confirm`: the owner enters the test email's code.
pub async fn confirm_notice_test(
    Clinician { state, admin }: Clinician,
    Posted(NoticeCodeForm { code, .. }): Posted<NoticeCodeForm>,
) -> Result<Response, AppError> {
    let Some(to) = state.notices_to() else {
        return Ok(no_email("there is no test to confirm"));
    };
    let answer = state
        .store
        .confirm_mail_check(&code, &to, &admin.email, Timestamp::now())
        .await?;
    match answer {
        MailCheckAnswer::Confirmed => {
            Ok(Redirect::to("/admin/booking#questionnaire-setting-title").into_response())
        }
        MailCheckAnswer::WrongCode => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            "That code does not match the latest test email. Check the code in the newest test email, or send a new test. Nothing was saved.",
        )
            .into_response()),
        MailCheckAnswer::NoTest => Ok((
            StatusCode::CONFLICT,
            format!("No test email was sent to {to}, where urgent notices go now. Send a test from the booking settings first. Nothing was saved."),
        )
            .into_response()),
    }
}

/// `POST /admin/booking/questionnaire`: turns the questionnaire on or off; on only while its
/// urgent notice is known to arrive.
pub async fn set_offered(
    Clinician { state, admin }: Clinician,
    Posted(OfferedForm { questionnaire, .. }): Posted<OfferedForm>,
) -> Result<Response, AppError> {
    let on = match questionnaire.as_str() {
        "on" => true,
        "off" => false,
        _ => {
            return Ok((
                StatusCode::BAD_REQUEST,
                "Choose whether to offer the questionnaire (on or off). Nothing was saved.",
            )
                .into_response());
        }
    };
    if on && let Some(why) = cannot_offer(&notice_check(&state).await?) {
        return Ok((StatusCode::CONFLICT, why).into_response());
    }
    state
        .store
        .set_questionnaires_offered(on, &admin.email, Timestamp::now())
        .await?;
    Ok(Redirect::to("/admin/booking?saved=1").into_response())
}

#[cfg(test)]
mod tests;
