//! The practice's documents in the inbox: editing them (with the page's words' editor, see
//! `words.rs`: these are checked as documents, not as pages of the site), the panel on a
//! request's page that sends a packet and shows each document sent, opened, signed or revoked,
//! and the clinician's copy of each signed document as a PDF.
//!
//! A document can be sent only once the clinician has reviewed and published it: its built-in
//! text is a starting point for the practice's counsel, never sent as it is. The release is
//! filled in with the prescriber's name, practice and contact for each person, and sealed with
//! the packet.

use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use jiff::Timestamp;

use super::inbox::refused;
use super::views::when;
use super::words::{Shown, capitalised, edit_page, find, stale};
use super::{Admin, Clinician};
use crate::form::Posted;
use crate::{AppError, AppState};
use content::documents::{self as text, DocumentKind};
use store::audit::{Action, Entry};
use store::{NewPacketDocument, StoredRequest};

/// Where the practice's Notice of Privacy Practices is published (a page of the clinician's
/// own, under Pages), which the acknowledgement names.
pub const NOTICE_PATH: &str = "/notice-of-privacy-practices";

/// The built-in Notice of Privacy Practices, shown at [`NOTICE_PATH`] once published.
pub const NOTICE_DOCUMENT: &str = "documents/05-notice-of-privacy-practices.md";

/// The practice's fields of a document, from the practice in force.
pub fn practice_values(config: &settings::config::Config) -> Vec<(&'static str, String)> {
    let practice = &config.practice;
    vec![
        ("practice_name", practice.name.clone()),
        ("clinician_name", practice.clinician_name.clone()),
        ("practice_email", practice.email.clone()),
        ("practice_phone", practice.phone.clone()),
        (
            "licensed_states",
            practice.licensed_state_names().join(", "),
        ),
        (
            "privacy_notice_address",
            format!("{}{NOTICE_PATH}", config.server.base_url),
        ),
    ]
}

/// The published Notice of Privacy Practices as the page at [`NOTICE_PATH`], its fields filled
/// from `config`; `None` until the clinician has reviewed and published it.
pub fn notice_page(
    config: &settings::config::Config,
    published: Option<&str>,
) -> Option<content::OwnPage> {
    let values = practice_values(config);
    let values: Vec<(&str, &str)> = values.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let read = text::document(NOTICE_DOCUMENT, &text::fill(published?, &values)).ok()?;
    Some(content::OwnPage {
        path: NOTICE_PATH.to_string(),
        page: content::TextPage {
            description: format!(
                "How {} uses and protects health information.",
                config.practice.name
            ),
            title: read.title,
            html: read.html,
        },
    })
}

/// The longest prescriber detail.
const DETAIL_MAX: usize = 300;

/// Preview or publish document `rel` with `text` (from the words editor).
pub(super) async fn save(
    state: &AppState,
    admin: &Admin,
    rel: &str,
    slug: &str,
    text: String,
    base: i64,
    publish: bool,
) -> Result<Response, AppError> {
    let Some(section) = find(slug) else {
        return Err(AppError::NotFound);
    };
    let read = match text::document(rel, &text) {
        Ok(d) => d,
        Err(found) => {
            let errors = found
                .0
                .into_iter()
                .map(|d| {
                    if d.line > 0 {
                        format!("Line {}: {}", d.line, d.message)
                    } else {
                        capitalised(&d.message)
                    }
                })
                .collect();
            let shown = Shown {
                body: Some(text),
                base: Some(base),
                errors,
                ..Shown::default()
            };
            return edit_page(
                state,
                admin,
                &section,
                shown,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    if !publish {
        let preview = format!(
            "<div class=\"wrap narrow page\"><h1>{}</h1><div class=\"prose\">{}</div></div>",
            crate::site::views::escaped(&read.title),
            read.html
        );
        let shown = Shown {
            body: Some(text),
            base: Some(base),
            preview: Some(preview),
            ..Shown::default()
        };
        return edit_page(state, admin, &section, shown, StatusCode::OK).await;
    }
    let audit = Entry::new(&admin.email, Action::WordsPublished).detail(rel.to_string());
    let published = state
        .store
        .publish_words(rel, &text, base, None, Timestamp::now(), &audit)
        .await?;
    if published.is_none() {
        return stale(state, admin, &section, text).await;
    }
    if rel == NOTICE_DOCUMENT {
        // Shown on the public site: live at once.
        crate::live::refresh(state, false).await?;
    }
    Ok(Redirect::to(&format!("/admin/words/{slug}?published=1")).into_response())
}

/// One document on a request's page.
pub struct SentDocument {
    pub id: i64,
    pub title: String,
    /// "Sent …; opened …; signed …; revoked …".
    pub state: String,
    pub signed: bool,
    /// Signed with a place outside the licensed states (flagged, not refused).
    pub outside: bool,
}

/// A document that can be chosen for a packet.
pub struct Choice {
    pub slug: String,
    pub title: String,
    /// Published, so it can be sent.
    pub sendable: bool,
}

/// The documents panel of a request's page.
pub struct DocumentsPanel {
    pub choices: Vec<Choice>,
    /// The consent to sign electronically is published (every packet starts with it).
    pub esign_ready: bool,
    pub can_send: bool,
    pub sent: Vec<SentDocument>,
}

/// The documents panel of request `r`.
pub async fn panel(state: &AppState, r: &StoredRequest) -> Result<DocumentsPanel, AppError> {
    let tz = state.time_zone();
    let published = state.store.published_words().await?;
    let mut esign_ready = false;
    let mut choices = Vec::new();
    for (rel, built_in) in text::built_in_documents() {
        let kind = DocumentKind::of(&rel);
        let newest = published.get(&rel);
        if kind == DocumentKind::Esign {
            esign_ready = newest.is_some();
            continue;
        }
        if kind == DocumentKind::Notice {
            continue;
        }
        let body = newest.map_or(built_in.as_str(), |r| r.body.as_str());
        choices.push(Choice {
            slug: slug_of(&rel),
            title: text::document(&rel, body).map_or_else(|_| rel.clone(), |d| d.title),
            sendable: newest.is_some(),
        });
    }
    let mut sent = Vec::new();
    for p in state.store.packets(r.id).await? {
        for d in &p.documents {
            let mut steps = vec![format!("sent {}", when(p.sent_at, &tz))];
            if let Some(at) = p.opened_at {
                steps.push(format!("opened {}", when(at, &tz)));
            }
            if let Some(words) = crate::documents::signed_words(d, &tz) {
                steps.push(words.trim_end_matches('.').to_string());
            } else {
                steps.push("not signed yet".to_string());
            }
            if let Some(at) = d.revoked_at {
                steps.push(format!("revoked {}", when(at, &tz)));
            }
            let location = d.signature.as_ref().and_then(|s| s.location.as_deref());
            let outside = location.is_some_and(|l| {
                !state
                    .config()
                    .practice
                    .licensed_states
                    .iter()
                    .any(|s| s.eq_ignore_ascii_case(l))
            });
            if let Some(l) = location.and_then(practice::consultation::Location::parse) {
                steps.push(format!("will be in {} during sessions", l.label()));
            }
            sent.push(SentDocument {
                id: d.id,
                title: crate::documents::read(d).title,
                state: capitalised(&steps.join("; ")),
                signed: d.signed_at.is_some(),
                outside,
            });
        }
    }
    Ok(DocumentsPanel {
        can_send: state.mail_enabled && esign_ready && choices.iter().any(|c| c.sendable),
        choices,
        esign_ready,
        sent,
    })
}

fn slug_of(rel: &str) -> String {
    rel.strip_suffix(".md")
        .unwrap_or(rel)
        .trim_start_matches("documents/")
        .to_string()
}

/// The packet's form: a box per document (`send-…`) and the prescriber's details.
#[derive(Default, serde::Deserialize)]
#[serde(default)]
pub struct SendForm {
    csrf: String,
    #[serde(flatten)]
    fields: std::collections::HashMap<String, String>,
}

impl super::posted::InboxForm for SendForm {
    const FIELDS: &'static [&'static str] = &[];
    const NOTHING: &'static str = "Nothing was sent.";

    fn reads(name: &str) -> bool {
        name.starts_with("send-") || text::PRESCRIBER_FIELDS.contains(&name)
    }

    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// `POST /admin/requests/{id}/documents`: sends the chosen documents, after the consent to
/// sign electronically, as one packet by email.
pub async fn send(
    Clinician { state, admin }: Clinician,
    Path(id): Path<i64>,
    Posted(SendForm { fields: form, .. }): Posted<SendForm>,
) -> Result<Response, AppError> {
    let all = text::built_in_documents();
    if !state.mail_enabled {
        return refused(
            &state,
            &admin,
            id,
            "Email is not configured, so documents cannot be sent. Set up [mail] first.".into(),
            StatusCode::CONFLICT,
        )
        .await;
    }
    let Some(request) = state.store.request(id).await? else {
        return Err(AppError::NotFound);
    };
    if request.status == practice::status::Status::Closed {
        return refused(
            &state,
            &admin,
            id,
            "The request is closed, so documents cannot be sent for it.".into(),
            StatusCode::CONFLICT,
        )
        .await;
    }
    let published = state.store.published_words().await?;
    let config = state.config();
    let prescriber: Vec<(&str, String)> = text::PRESCRIBER_FIELDS
        .iter()
        .map(|f| {
            (
                *f,
                form.get(*f)
                    .map(|v| v.split_whitespace().collect::<Vec<_>>().join(" "))
                    .unwrap_or_default(),
            )
        })
        .collect();
    let practice_values = practice_values(&config);
    let mut values: Vec<(&str, &str)> = practice_values
        .iter()
        .map(|(k, v)| (*k, v.as_str()))
        .collect();
    let mut documents = Vec::new();
    let mut problems = Vec::new();
    for (rel, _) in &all {
        let kind = DocumentKind::of(rel);
        if kind == DocumentKind::Notice {
            continue;
        }
        if kind != DocumentKind::Esign && !form.contains_key(&format!("send-{}", slug_of(rel))) {
            continue;
        }
        let Some(revision) = published.get(rel) else {
            let title = text::built_in_documents()
                .into_iter()
                .find(|(r, _)| r == rel)
                .and_then(|(r, t)| text::document(&r, &t).ok())
                .map_or_else(|| rel.clone(), |d| d.title);
            problems.push(format!(
                "“{title}” has not been reviewed and published yet, so it cannot be sent: open it under The page's words, review it with your counsel, then publish it."
            ));
            continue;
        };
        if rel.contains("privacy-notice")
            && !published.contains_key(NOTICE_DOCUMENT)
            && !state
                .store
                .own_pages()
                .await?
                .iter()
                .any(|p| p.path == NOTICE_PATH && !p.removed)
        {
            problems.push(format!(
                "The acknowledgement names your Notice of Privacy Practices at {NOTICE_PATH}: review and publish the Notice of Privacy Practices under The page's words (or add your own under Pages at that address) first"
            ));
        }
        if kind == DocumentKind::Release {
            for (field, value) in &prescriber {
                if value.is_empty() {
                    problems.push(format!(
                        "Give the prescriber's {} for the authorization",
                        field.trim_start_matches("prescriber_")
                    ));
                } else if value.chars().count() > DETAIL_MAX {
                    problems.push(format!(
                        "The prescriber's {} must be {DETAIL_MAX} characters or fewer",
                        field.trim_start_matches("prescriber_")
                    ));
                }
            }
        }
        documents.push((rel.clone(), kind, revision.id, revision.body.clone()));
    }
    if documents.len() < 2 && problems.is_empty() {
        problems.push("Choose at least one document to send".to_string());
    }
    if !problems.is_empty() {
        return refused(
            &state,
            &admin,
            id,
            problems.join(". "),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    for (field, value) in &prescriber {
        values.push((field, value.as_str()));
    }
    let packet: Vec<NewPacketDocument> = documents
        .into_iter()
        .map(|(document, _, revision_id, body)| NewPacketDocument {
            document,
            revision_id,
            text: text::fill(&body, &values),
        })
        .collect();
    if state
        .store
        .send_packet(id, &packet, &admin.email, Timestamp::now())
        .await?
        .is_none()
    {
        return Err(AppError::NotFound);
    }
    state.mail_wake.notify_one();
    Ok(Redirect::to(&format!("/admin/requests/{id}#documents-title")).into_response())
}

/// `GET /admin/requests/{id}/documents/{document}/pdf`: the clinician's copy of a signed
/// document.
pub async fn pdf(
    Clinician { state, .. }: Clinician,
    Path((id, doc)): Path<(i64, i64)>,
) -> Result<Response, AppError> {
    let packets = state.store.packets(id).await?;
    let found = packets
        .iter()
        .flat_map(|p| &p.documents)
        .find(|d| d.id == doc && d.signed_at.is_some());
    match found {
        Some(d) => Ok(crate::documents::pdf_response(d, &state.time_zone())),
        None => Err(AppError::NotFound),
    }
}
