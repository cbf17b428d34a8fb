//! `/documents/{token}`: a person reads and signs the documents the practice sent them, downloads
//! each signed copy as a PDF, and may revoke a signed authorization.
//!
//! The token is the person's signed link to their own request (the same link as their
//! booking's, see `auth/link.rs`); it opens the request's newest packet. A forged link is
//! refused as not found, an expired one or one for a closed request as gone, each with a page
//! that says what to do. The consent to sign electronically (ESIGN, 15 U.S.C. 7001(c)) is the
//! packet's first document and must be agreed to, before or with any other. The name typed is
//! the signature; for a person under 18 (the request's flag) a parent or legal guardian signs,
//! and says so. What was signed is the text as sent (see `store/documents.rs`), whatever the
//! practice edits later. Names and texts go only into the store (sealed) and onto this page:
//! never a log line, an address or an email.

use std::collections::HashMap;

use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;

use super::form::{Posted, PostedForm, Refusal, refuse_on_own_page};
use super::respond::{link_token, private_page, refusal, see_other};
use super::{AppError, AppState};
use crate::site::ErrorLink;
use crate::site::LocationQuestion;
use crate::site::documents::{DocumentsPage, ShownDocument, SignForm};
use auth::link::LinkError;
use content::documents::{self as text, DocumentKind};
use store::{Packet, PacketDocument, SignerRole, sha256};

/// The longest name a signer may type.
const NAME_MAX: usize = 200;

/// The request a token is for (and whether it is for a person under 18), or the page to
/// answer with.
async fn request_of(
    state: &AppState,
    token: &str,
    headers: &HeaderMap,
) -> Result<(i64, bool), Response> {
    let forged = || {
        refusal(
            state,
            StatusCode::NOT_FOUND,
            "This link does not work",
            &[
                "The address is not one the practice sent, or part of it is missing.",
                "Please open the link from the email again, or contact the practice by email or phone (below).",
            ],
            headers,
        )
    };
    let Ok(presented) = state.links.read(token) else {
        return Err(forged());
    };
    let link = match state.store.documents_link(presented.request_id()).await {
        Ok(Some(l)) => l,
        Ok(None) => return Err(forged()),
        Err(e) => return Err(AppError::from(e).into_response()),
    };
    match state
        .links
        .verify(&presented, &link.link_secret, Timestamp::now())
    {
        Ok(_) if link.closed => Err(refusal(
            state,
            StatusCode::GONE,
            "These documents are no longer open",
            &[
                "The practice has closed this request, so its documents cannot be signed here any more.",
                "If you need a copy of a document you signed, please contact the practice by email or phone (below).",
            ],
            headers,
        )),
        Ok(id) => Ok((id, link.minor)),
        Err(LinkError::Forged) => Err(forged()),
        Err(LinkError::Expired) => Err(refusal(
            state,
            StatusCode::GONE,
            "This link has expired",
            &[
                "For your privacy, links to documents only work for a while.",
                "Please ask the practice to send the documents again, by email or phone (below).",
            ],
            headers,
        )),
    }
}

/// The newest packet of request `id`, or the page to answer with.
async fn packet_of(state: &AppState, id: i64, headers: &HeaderMap) -> Result<Packet, Response> {
    match state.store.packets(id).await {
        Ok(packets) => packets.into_iter().next().ok_or_else(|| {
            refusal(
                state,
                StatusCode::NOT_FOUND,
                "No documents to sign",
                &["The practice has not sent you documents to sign yet."],
                headers,
            )
        }),
        Err(e) => Err(AppError::from(e).into_response()),
    }
}

/// What a person's documents link opens: its token, the request it is for (and whether that
/// is for a person under 18) and the request's newest packet. A handler that takes it runs
/// only for a link that opens a packet; any other is answered with the page that says why.
pub struct Opened {
    token: String,
    id: i64,
    minor: bool,
    packet: Packet,
}

impl FromRequestParts<AppState> for Opened {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let token = link_token(parts, state).await?;
        let (id, minor) = request_of(state, &token, &parts.headers).await?;
        let packet = packet_of(state, id, &parts.headers).await?;
        Ok(Opened {
            token,
            id,
            minor,
            packet,
        })
    }
}

/// A document as sent, read for showing (its title and HTML), or a stand-in when its stored
/// text cannot be read as a document any more.
pub(crate) fn read(d: &PacketDocument) -> text::Document {
    text::sent(&d.document, &d.text).unwrap_or_else(|_| text::Document {
        title: "Document".to_string(),
        html: String::new(),
        plain: d.text.lines().map(str::to_string).collect(),
    })
}

/// The lines of a signed document's PDF: its text, then the signature block and the hash.
pub(crate) fn signed_lines(d: &PacketDocument, tz: &jiff::tz::TimeZone) -> Vec<String> {
    let mut lines = read(d).plain;
    lines.push(String::new());
    lines.push("Signature".to_string());
    if let (Some(at), Some(s)) = (d.signed_at, &d.signature) {
        lines.push(format!("Signed electronically by: {}", s.name));
        lines.push(format!("Signing as: {}", s.role.label()));
        lines.push(format!(
            "Date and time: {}",
            practice::wording::long_time(at, tz)
        ));
        if let Some(esign) = &s.esign_sha256 {
            lines.push(format!(
                "Under the consent to sign electronically with SHA-256 {esign}"
            ));
        }
    }
    if let Some(at) = d.revoked_at {
        lines.push(format!("Revoked: {}", practice::wording::long_time(at, tz)));
    }
    lines.push(format!("Document revision: {}", d.revision_id));
    lines.push(format!("SHA-256 of the text signed: {}", sha256(&d.text)));
    lines
}

/// "Signed on … by … (role)".
pub(crate) fn signed_words(d: &PacketDocument, tz: &jiff::tz::TimeZone) -> Option<String> {
    let (at, s) = (d.signed_at?, d.signature.as_ref()?);
    Some(match s.role {
        SignerRole::Person => format!(
            "Signed {} by {}.",
            practice::wording::long_time(at, tz),
            s.name
        ),
        SignerRole::ParentOrGuardian => format!(
            "Signed {} by {}, parent or legal guardian.",
            practice::wording::long_time(at, tz),
            s.name
        ),
    })
}

/// What the person typed and ticked, kept when the page is shown again.
#[derive(Default)]
struct Sent {
    ticked: Vec<i64>,
    name: String,
    guardian: bool,
    location: String,
}

fn page(
    state: &AppState,
    token: &str,
    packet: &Packet,
    minor: bool,
    sent: Sent,
    errors: Vec<ErrorLink>,
    notice: Option<String>,
) -> DocumentsPage {
    let tz = state.time_zone();
    let error_for = |target: &str| {
        errors
            .iter()
            .find(|e| e.target == target)
            .map(|e| e.message.clone())
    };
    let documents = packet
        .documents
        .iter()
        .map(|d| {
            let shown = read(d);
            let signed = d.signed_at.is_some();
            ShownDocument {
                id: d.id,
                title: shown.title,
                html: shown.html,
                signed: signed_words(d, &tz),
                pdf_href: signed.then(|| format!("/documents/{token}/pdf/{}", d.id)),
                revoked: d
                    .revoked_at
                    .map(|at| format!("Revoked {}.", practice::wording::long_time(at, &tz))),
                revoke_action: (signed
                    && d.revoked_at.is_none()
                    && DocumentKind::of(&d.document) == DocumentKind::Release)
                    .then(|| format!("/documents/{token}/revoke/{}", d.id)),
            }
        })
        .collect::<Vec<_>>();
    let unsigned: Vec<&PacketDocument> = packet
        .documents
        .iter()
        .filter(|d| d.signed_at.is_none())
        .collect();
    let form = (!unsigned.is_empty()).then(|| SignForm {
        action: format!("/documents/{token}"),
        boxes: unsigned
            .iter()
            .map(|d| {
                let words = if DocumentKind::of(&d.document) == DocumentKind::Esign {
                    "I agree to receive and sign these documents electronically".to_string()
                } else {
                    format!("I have read and sign: {}", read(d).title)
                };
                (d.id, words, sent.ticked.contains(&d.id))
            })
            .collect(),
        boxes_error: error_for("boxes"),
        name: sent.name.clone(),
        name_error: error_for("name"),
        guardian: minor,
        guardian_checked: sent.guardian,
        guardian_error: error_for("guardian"),
        date: Timestamp::now()
            .to_zoned_datetime(tz.clone())
            .strftime("%B %-d, %Y")
            .to_string(),
        location: unsigned
            .iter()
            .any(|d| DocumentKind::of(&d.document) == DocumentKind::Telehealth)
            .then(|| {
                let practice = &state.config().practice;
                LocationQuestion::new(practice, sent.location.clone(), error_for("location"))
            }),
    });
    DocumentsPage {
        errors,
        notice,
        documents,
        form,
    }
}

fn render(
    state: &AppState,
    status: StatusCode,
    page: DocumentsPage,
    headers: &HeaderMap,
) -> Response {
    let site = state.site.load();
    private_page(status, site.renderer.documents(page), headers, false)
}

/// `GET /documents/{token}`: the packet, to read and sign.
pub async fn show(State(state): State<AppState>, opened: Opened, headers: HeaderMap) -> Response {
    if opened.packet.opened_at.is_none()
        && let Err(e) = state
            .store
            .packet_opened(opened.id, opened.packet.id, Timestamp::now())
            .await
    {
        return AppError::from(e).into_response();
    }
    let p = page(
        &state,
        &opened.token,
        &opened.packet,
        opened.minor,
        Sent::default(),
        Vec::new(),
        None,
    );
    render(&state, StatusCode::OK, p, &headers)
}

/// The signing form as sent: a `sign-{id}` box for each document ticked, the name typed, the
/// guardian's confirmation and where the person will be during sessions. Its fields are named
/// by the packet's documents, so it is read as the fields it has.
#[derive(serde::Deserialize)]
#[serde(transparent)]
pub struct SignPost(HashMap<String, String>);

impl SignPost {
    fn ticked(&self, document: i64) -> bool {
        self.0.contains_key(&format!("sign-{document}"))
    }

    fn field(&self, name: &str) -> &str {
        self.0.get(name).map_or("", String::as_str)
    }
}

impl PostedForm for SignPost {
    const FIELDS: &'static [&'static str] = &["name", "guardian", "location"];

    fn reads(name: &str) -> bool {
        Self::FIELDS.contains(&name) || name.starts_with("sign-")
    }

    fn refused(state: &AppState, why: Refusal, headers: &HeaderMap) -> Response {
        let again = "Please open the link from the email again and sign from there.";
        refuse_on_own_page(state, why, headers, "Nothing was signed.", again)
    }
}

/// `POST /documents/{token}`: signs the ticked documents.
pub async fn sign(
    State(state): State<AppState>,
    opened: Opened,
    headers: HeaderMap,
    Posted(form): Posted<SignPost>,
) -> Response {
    let sent = Sent {
        ticked: opened
            .packet
            .documents
            .iter()
            .filter(|d| d.signed_at.is_none() && form.ticked(d.id))
            .map(|d| d.id)
            .collect(),
        name: form
            .field("name")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" "),
        guardian: form.0.contains_key("guardian"),
        location: form.field("location").to_string(),
    };
    let esign = opened
        .packet
        .documents
        .iter()
        .find(|d| DocumentKind::of(&d.document) == DocumentKind::Esign);
    let mut errors = Vec::new();
    let error = |target: &str, message: &str| ErrorLink {
        target: target.to_string(),
        message: message.to_string(),
    };
    let esign_given = esign.is_some_and(|e| e.signed_at.is_some() || sent.ticked.contains(&e.id));
    if sent.ticked.is_empty() {
        errors.push(error(
            "boxes",
            "Tick each document you have read and agree to sign",
        ));
    } else if !esign_given {
        errors.push(error(
            "boxes",
            "Tick the consent to sign electronically too: documents can be signed here only with it",
        ));
    }
    // Where the person will be is asked with the telehealth consent; a state outside the
    // licensed ones is flagged to the clinician, never refused.
    let telehealth = opened.packet.documents.iter().find(|d| {
        DocumentKind::of(&d.document) == DocumentKind::Telehealth && sent.ticked.contains(&d.id)
    });
    if telehealth.is_some() && practice::consultation::Location::parse(&sent.location).is_none() {
        errors.push(error(
            "location",
            "Choose where the person will be during sessions",
        ));
    }
    if opened.minor && !sent.guardian {
        errors.push(error(
            "guardian",
            "Confirm that you are the parent or legal guardian of the person these documents are for",
        ));
    }
    if sent.name.is_empty() {
        errors.push(error("name", "Type your full name to sign"));
    } else if sent.name.chars().count() > NAME_MAX {
        errors.push(error("name", "Your name must be 200 characters or fewer"));
    }
    let (Some(esign), true) = (esign, errors.is_empty()) else {
        let p = page(
            &state,
            &opened.token,
            &opened.packet,
            opened.minor,
            sent,
            errors,
            None,
        );
        return render(&state, StatusCode::UNPROCESSABLE_ENTITY, p, &headers);
    };
    let role = if opened.minor {
        SignerRole::ParentOrGuardian
    } else {
        SignerRole::Person
    };
    if let Err(e) = state
        .store
        .sign_documents(
            opened.id,
            opened.packet.id,
            &sent.ticked,
            esign.id,
            &sent.name,
            role,
            telehealth.map(|d| (d.id, sent.location.as_str())),
            Timestamp::now(),
        )
        .await
    {
        return AppError::from(e).into_response();
    }
    see_other(&format!("/documents/{}", opened.token))
}

/// `POST /documents/{token}/revoke/{document}`: revokes a signed authorization, in writing.
pub async fn revoke(
    State(state): State<AppState>,
    Path((_, doc)): Path<(String, i64)>,
    Opened {
        token, id, packet, ..
    }: Opened,
    headers: HeaderMap,
) -> Response {
    let revocable = packet
        .documents
        .iter()
        .any(|d| d.id == doc && DocumentKind::of(&d.document) == DocumentKind::Release);
    if !revocable {
        return refusal(
            &state,
            StatusCode::NOT_FOUND,
            "This document cannot be revoked here",
            &["Only a signed authorization to share information can be revoked from this page."],
            &headers,
        );
    }
    match state.store.revoke_document(id, doc, Timestamp::now()).await {
        Ok(_) => see_other(&format!("/documents/{token}")),
        Err(e) => AppError::from(e).into_response(),
    }
}

/// The PDF of signed document `d`, as a download.
pub(crate) fn pdf_response(d: &PacketDocument, tz: &jiff::tz::TimeZone) -> Response {
    let title = read(d).title;
    let bytes = crate::pdf::document(&title, &signed_lines(d, tz));
    crate::respond::pdf_download(bytes, "signed-document.pdf")
}

/// `GET /documents/{token}/pdf/{document}`: a signed document's PDF.
pub async fn pdf(
    State(state): State<AppState>,
    Path((_, doc)): Path<(String, i64)>,
    Opened { packet, .. }: Opened,
    headers: HeaderMap,
) -> Response {
    match packet
        .documents
        .iter()
        .find(|d| d.id == doc && d.signed_at.is_some())
    {
        Some(d) => pdf_response(d, &state.time_zone()),
        None => refusal(
            &state,
            StatusCode::NOT_FOUND,
            "This document is not signed",
            &["A copy can be downloaded once the document is signed."],
            &headers,
        ),
    }
}
