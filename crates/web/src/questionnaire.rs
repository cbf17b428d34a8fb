//! `/questionnaire/{token}`: a person answers the questionnaire before their consultation, or
//! the measures the clinician sent again, one part per page.
//!
//! The token is the person's signed link to their own request (the same link as their booking's,
//! see `auth/link.rs`); it opens the request's newest questionnaire. Every page after that names
//! the questionnaire it belongs to (`?q=` with its number, checked against the link's request),
//! so a person still answering the intake when the clinician sends the measures again goes on
//! with the intake, and each form saves into the questionnaire it was shown for. Every part is saved as soon
//! as it is sent, so a person who stops finds their answers again from the same link; every
//! question is optional. When the PHQ-9's item 9 is answered above "Not at all", the next page
//! opens with the crisis resources, and the store flags the request and queues the urgent email
//! to the clinician. Answers go into the store sealed and appear only on these pages and the
//! clinician's: never in a log line, an address or an email.

use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;

use super::form::{Posted, PostedForm, Refusal, RefusalWords};
use super::respond::{link_token, linked_request, private_page, refusal, see_other};
use super::{AppError, AppState};
use crate::site::ErrorLink;
use crate::site::questionnaire::{
    ChoiceOption, ChoiceQuestion, QuestionForm, QuestionnairePage, TextQuestion,
};
use practice::measures::{self, Measure, OPTIONS, ScreeningAnswer};
use practice::questionnaire::{Answers, Kind, Page, ScreeningItem, text_answer};
use store::StoredQuestionnaire;

mod questions;

use questions::question_page;

/// The request a token is for, or the page to answer with.
async fn request_of(state: &AppState, token: &str, headers: &HeaderMap) -> Result<i64, Response> {
    linked_request(state, token, headers, "to the questionnaire", |id| {
        state.store.questionnaire_link_secret(id)
    })
    .await
}

/// The questionnaire named by `?q=` in the address, if any: `Ok(None)` when none is named,
/// `Err` when what is named cannot be a questionnaire.
fn named(query: Option<&str>) -> Result<Option<i64>, ()> {
    let Some(query) = query else {
        return Ok(None);
    };
    let mut named = None;
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("q", v)) if named.is_none() => named = Some(v.parse::<i64>().map_err(|_| ())?),
            Some(("q", _)) => return Err(()),
            _ => {}
        }
    }
    Ok(named)
}

/// The questionnaire a page is for, with the token of the link that opened it: the one named
/// in the address (`?q=`) if it is one of the link's request's, else (nothing named) the one the
/// link opens: the newest, the intake one being created on first visit when the practice offers
/// it. A handler that takes it runs only for a link and address that open one; any other is
/// answered with the page that says why (or "not found").
pub struct Opened {
    token: String,
    q: StoredQuestionnaire,
}

impl FromRequestParts<AppState> for Opened {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let token = link_token(parts, state).await?;
        let headers = &parts.headers;
        let id = request_of(state, &token, headers).await?;
        let found = match named(parts.uri.query()) {
            Err(()) => return Err(not_this_questionnaire(state, headers)),
            Ok(Some(qid)) => match state.store.questionnaire_of_request(id, qid).await {
                Ok(None) => return Err(not_this_questionnaire(state, headers)),
                other => other,
            },
            Ok(None) => {
                let offered = state
                    .questionnaires_offered()
                    .await
                    .map_err(|e| AppError::from(e).into_response())?;
                state
                    .store
                    .current_questionnaire(id, offered, Timestamp::now())
                    .await
            }
        };
        match found {
            Ok(Some(q)) => Ok(Opened { token, q }),
            Ok(None) => Err(AppError::NotFound.into_response()),
            Err(e) => Err(AppError::from(e).into_response()),
        }
    }
}

/// A page's address names a questionnaire that is not the link's.
fn not_this_questionnaire(state: &AppState, headers: &HeaderMap) -> Response {
    refusal(
        state,
        StatusCode::NOT_FOUND,
        "This questionnaire was not found",
        &[
            "The address does not match a questionnaire of yours.",
            "Please open the questionnaire from the link in the latest email from the practice.",
        ],
        headers,
    )
}

fn render(
    state: &AppState,
    status: StatusCode,
    mut page: QuestionnairePage,
    headers: &HeaderMap,
    head: bool,
) -> Response {
    page.follow_up = practice::wording::within_hours(state.config().form.urgent_reply_hours);
    let site = state.site.load();
    private_page(status, site.renderer.questionnaire(page), headers, head)
}

fn base(token: &str) -> String {
    format!("/questionnaire/{token}")
}

/// The address of a page (a part's slug, or `done`) of questionnaire `q`.
fn part(token: &str, q: &StoredQuestionnaire, slug: &str) -> String {
    format!("/questionnaire/{token}/{slug}?q={}", q.id)
}

fn empty_page(heading: String) -> QuestionnairePage {
    QuestionnairePage {
        heading,
        caption: None,
        crisis: false,
        follow_up: String::new(),
        paragraphs: Vec::new(),
        intro_html: None,
        errors: Vec::new(),
        form: None,
        next: None,
        back_href: None,
    }
}

/// `GET /questionnaire/{token}`: what the questionnaire is, and where to start or go on.
pub async fn start(
    State(state): State<AppState>,
    Opened { token, q }: Opened,
    method: Method,
    headers: HeaderMap,
) -> Response {
    let head = method == Method::HEAD;
    if q.completed_at.is_some() {
        return done_page(&state, &token, &q, &headers, head);
    }
    let clinician = &state.config().practice.clinician_name;
    let mut page = empty_page(match q.kind {
        Kind::Intake => "A few questions before we meet".into(),
        Kind::Measures => "Two short questionnaires".into(),
    });
    page.paragraphs = match q.kind {
        Kind::Intake => vec![
            format!("{clinician} asks everyone the same questions before a first consultation, so that your time together can go to what matters to you. It takes about ten minutes."),
            "There are four short parts: some yes or no questions about your health, the medications you take, and two standard questionnaires about mood and anxiety (the PHQ-9 and the GAD-7).".into(),
        ],
        Kind::Measures => vec![
            format!("{clinician} asks you to answer two standard questionnaires about how you have been over the last 2 weeks (the PHQ-9 and the GAD-7), so that you can both see how things change over time. It takes about five minutes."),
        ],
    };
    page.paragraphs.push(format!("Every question is optional. No answer rules anything out. Your answers are encrypted and only {clinician} sees them."));
    let next = q.answers.next_page(q.kind).unwrap_or(q.kind.pages()[0]);
    let started = !q.answers.pages_sent.is_empty();
    page.next = Some((
        part(&token, &q, next.slug()),
        if started {
            "Continue where you stopped"
        } else {
            "Start"
        }
        .into(),
    ));
    render(&state, StatusCode::OK, page, &headers, head)
}

fn done_page(
    state: &AppState,
    token: &str,
    q: &StoredQuestionnaire,
    headers: &HeaderMap,
    head: bool,
) -> Response {
    let clinician = &state.config().practice.clinician_name;
    let mut page = empty_page("Thank you".into());
    page.crisis = q.answers.needs_attention();
    page.paragraphs = vec![
        format!(
            "Your answers are saved and only {clinician} sees them. You can talk about anything in them when you meet."
        ),
        "You can still change an answer from the same link until you meet.".into(),
    ];
    page.next = Some((
        part(token, q, q.kind.pages()[0].slug()),
        "Look over your answers".into(),
    ));
    render(state, StatusCode::OK, page, headers, head)
}

/// What was sent on a page, or typed before an error.
type Sent = std::collections::HashMap<String, String>;

/// A page of answers as posted: the fields of any page (the handler reads its page's own).
#[derive(serde::Deserialize)]
#[serde(transparent)]
pub struct AnswersPost(Sent);

impl PostedForm for AnswersPost {
    const FIELDS: &'static [&'static str] = &["medications", "prescriber"];

    fn reads(name: &str) -> bool {
        let numbered = |prefix: &str| {
            name.strip_prefix(prefix)
                .is_some_and(|n| n == "difficulty" || n.parse::<usize>().is_ok())
        };
        Self::FIELDS.contains(&name)
            || name
                .strip_prefix('s')
                .is_some_and(|n| n.parse::<usize>().is_ok())
            || [Measure::Phq9, Measure::Gad7]
                .iter()
                .any(|m| numbered(&format!("{}-", m.key())))
    }

    fn refused(state: &AppState, why: Refusal, headers: &HeaderMap) -> Response {
        RefusalWords {
            nothing: "Nothing was saved.",
            use_the_form: "Please use the form on the page.",
            too_large: (
                "What you sent is too long",
                "Your answers were longer than they can be. Nothing was saved. Please shorten them and try again.",
            ),
            again: "Please open the page again and answer from there.",
        }
        .page(state, why, headers)
    }
}

/// The page of `kind` named in the address, if it has one.
fn page_of(kind: Kind, slug: &str) -> Option<Page> {
    Page::parse(slug).filter(|p| kind.pages().contains(p))
}

/// `GET /questionnaire/{token}/{page}`: one part, with the answers kept so far.
pub async fn show(
    State(state): State<AppState>,
    Path((_, slug)): Path<(String, String)>,
    Opened { token, q }: Opened,
    method: Method,
    headers: HeaderMap,
) -> Response {
    let head = method == Method::HEAD;
    if slug == "done" {
        return done_page(&state, &token, &q, &headers, head);
    }
    let Some(page) = page_of(q.kind, &slug) else {
        return AppError::NotFound.into_response();
    };
    let view = question_page(&state, &token, &q, page, None, Vec::new());
    render(&state, StatusCode::OK, view, &headers, head)
}

/// `POST /questionnaire/{token}/{page}`: saves the part and goes on to the next.
pub async fn save(
    State(state): State<AppState>,
    Path((_, slug)): Path<(String, String)>,
    Opened { token, q }: Opened,
    headers: HeaderMap,
    Posted(AnswersPost(sent)): Posted<AnswersPost>,
) -> Response {
    let Some(page) = page_of(q.kind, &slug) else {
        return AppError::NotFound.into_response();
    };
    let questions = state
        .site
        .load()
        .renderer
        .content
        .screening
        .questions
        .clone();
    let get = |k: &str| sent.get(k).map(String::as_str).unwrap_or("");
    // Only this page's answers: the store takes them into the answers as they stand when saved.
    let mut answers = Answers::default();
    let mut errors: Vec<(String, String)> = Vec::new();
    match page {
        Page::Screening => {
            let mut items = Vec::new();
            for (i, question) in questions.iter().enumerate() {
                let name = format!("s{i}");
                match get(&name) {
                    "" => {}
                    v => match ScreeningAnswer::parse(v) {
                        Some(a) => items.push(ScreeningItem {
                            question: question.clone(),
                            answer: a.as_str().into(),
                        }),
                        None => errors.push((
                            name,
                            format!("Choose yes, no or not sure for question {}", i + 1),
                        )),
                    },
                }
            }
            answers.screening = items;
        }
        Page::Medications => {
            for (name, what) in [
                ("medications", "Your medications"),
                ("prescriber", "Who prescribes them"),
            ] {
                match text_answer(get(name)) {
                    Ok(v) => {
                        if name == "medications" {
                            answers.medications = v;
                        } else {
                            answers.prescriber = v;
                        }
                    }
                    Err(e) => errors.push((name.into(), format!("{what} {e}"))),
                }
            }
        }
        Page::Phq9 | Page::Gad7 => {
            let measure = if page == Page::Phq9 {
                Measure::Phq9
            } else {
                Measure::Gad7
            };
            let mut values = Vec::with_capacity(measure.items().len());
            for i in 0..measure.items().len() {
                let name = format!("{}-{i}", measure.key());
                match measures::parse_answer(get(&name)) {
                    Ok(v) => values.push(v),
                    Err(_) => {
                        values.push(None);
                        errors.push((
                            name,
                            format!("Choose one of the four answers for question {}", i + 1),
                        ));
                    }
                }
            }
            let name = format!("{}-difficulty", measure.key());
            let difficulty = match measures::parse_answer(get(&name)) {
                Ok(v) => v,
                Err(_) => {
                    errors.push((
                        name,
                        "Choose one of the four answers for the last question".into(),
                    ));
                    None
                }
            };
            match measure {
                Measure::Phq9 => {
                    answers.phq9 = values;
                    answers.phq9_difficulty = difficulty;
                }
                Measure::Gad7 => {
                    answers.gad7 = values;
                    answers.gad7_difficulty = difficulty;
                }
            }
        }
    }
    if !errors.is_empty() {
        let view = question_page(&state, &token, &q, page, Some(&sent), errors);
        return render(
            &state,
            StatusCode::UNPROCESSABLE_ENTITY,
            view,
            &headers,
            false,
        );
    }
    let pages = q.kind.pages();
    match state
        .store
        .save_page(q.id, q.request_id, page, &answers, Timestamp::now())
        .await
    {
        Ok(Some(saved)) => {
            if saved.attention_raised {
                state.mail_wake.notify_one();
            }
        }
        Ok(None) => return AppError::NotFound.into_response(),
        Err(e) => return AppError::from(e).into_response(),
    }
    let next = pages
        .iter()
        .position(|p| *p == page)
        .and_then(|i| pages.get(i + 1));
    match next {
        Some(p) => see_other(&part(&token, &q, p.slug())),
        None => see_other(&part(&token, &q, "done")),
    }
}
