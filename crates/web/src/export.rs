//! Exports of consultation requests for the clinician's own records: JSON Lines and CSV.
//!
//! Each request comes with its questionnaires (answers, scores and bands), the documents sent
//! to it to sign (each with the exact text sent, its revision and SHA-256, and the signature:
//! the name typed, the role, when; revoked when) and its Good Faith Estimates (the text given,
//! when it was due and when given): in JSON Lines as lists, in the CSV as one cell each holding
//! that list as JSON.
//!
//! The CSV is safe to open in a spreadsheet: a cell that starts with `=`, `+`, `-`, `@`, a tab or
//! a carriage return is prefixed with `'`, so it is shown as text and never run as a formula.

use std::collections::HashMap;
use std::io::Write;

use serde::Serialize;

use practice::measures::Measure;
use store::{Packet, Store, StoreError, StoredEstimate, StoredQuestionnaire, StoredRequest};

/// What each exported request carries besides its own fields, by request id (a request without
/// any of a kind is absent from that map).
#[derive(Default)]
pub struct Attached {
    pub questionnaires: HashMap<i64, Vec<StoredQuestionnaire>>,
    pub documents: HashMap<i64, Vec<Packet>>,
    pub estimates: HashMap<i64, Vec<StoredEstimate>>,
}

impl Attached {
    /// Reads what `requests` carry.
    pub async fn of(store: &Store, requests: &[StoredRequest]) -> Result<Attached, StoreError> {
        Ok(Attached {
            questionnaires: store::by_request(requests, |id| store.questionnaires(id)).await?,
            documents: store::by_request(requests, |id| store.packets(id)).await?,
            estimates: store::by_request(requests, |id| store.estimates(id)).await?,
        })
    }
}

#[derive(Serialize)]
struct EstimateRow<'a> {
    made_at: String,
    due_because: &'static str,
    due_on: Option<&'a str>,
    service_on: Option<&'a str>,
    given_at: Option<String>,
    given_how: Option<&'static str>,
    /// The estimate as given, line by line.
    text: &'a str,
}

fn estimate_row(e: &StoredEstimate) -> EstimateRow<'_> {
    EstimateRow {
        made_at: e.made_at.to_string(),
        due_because: e.due_because.as_str(),
        due_on: e.due_on.as_deref(),
        service_on: e.service_on.as_deref(),
        given_at: e.given_at.map(|t| t.to_string()),
        given_how: e.given_how.map(|h| h.as_str()),
        text: &e.content,
    }
}

#[derive(Serialize)]
struct DocumentRow<'a> {
    document: &'a str,
    revision_id: i64,
    sent_at: String,
    opened_at: Option<String>,
    /// The exact text sent, as signed.
    text: &'a str,
    sha256: String,
    signed_at: Option<String>,
    signer_name: Option<&'a str>,
    signer_role: Option<store::SignerRole>,
    revoked_at: Option<String>,
}

fn document_rows(packets: &[Packet]) -> Vec<DocumentRow<'_>> {
    packets
        .iter()
        .flat_map(|p| {
            p.documents.iter().map(move |d| DocumentRow {
                document: &d.document,
                revision_id: d.revision_id,
                sent_at: p.sent_at.to_string(),
                opened_at: p.opened_at.map(|t| t.to_string()),
                text: &d.text,
                sha256: store::sha256(&d.text),
                signed_at: d.signed_at.map(|t| t.to_string()),
                signer_name: d.signature.as_ref().map(|s| s.name.as_str()),
                signer_role: d.signature.as_ref().map(|s| s.role),
                revoked_at: d.revoked_at.map(|t| t.to_string()),
            })
        })
        .collect()
}

#[derive(Serialize)]
struct QuestionnaireRow<'a> {
    kind: &'static str,
    sent_at: String,
    completed_at: Option<String>,
    needs_attention: bool,
    phq9_total: Option<u8>,
    phq9_band: Option<&'static str>,
    gad7_total: Option<u8>,
    gad7_band: Option<&'static str>,
    phq9: &'a [Option<u8>],
    gad7: &'a [Option<u8>],
    /// The unscored closing question of each measure, in words.
    phq9_difficulty: Option<&'static str>,
    gad7_difficulty: Option<&'static str>,
    screening: &'a [practice::questionnaire::ScreeningItem],
    medications: Option<&'a str>,
    prescriber: Option<&'a str>,
}

fn questionnaire_row(q: &StoredQuestionnaire) -> QuestionnaireRow<'_> {
    let a = &q.answers;
    let phq9 = a.score(Measure::Phq9);
    let gad7 = a.score(Measure::Gad7);
    QuestionnaireRow {
        kind: q.kind.as_str(),
        sent_at: q.sent_at.to_string(),
        completed_at: q.completed_at.map(|t| t.to_string()),
        needs_attention: q.needs_attention,
        phq9_total: phq9.map(|s| s.total),
        phq9_band: phq9.map(|s| s.band.label()),
        gad7_total: gad7.map(|s| s.total),
        gad7_band: gad7.map(|s| s.band.label()),
        phq9: &a.phq9,
        gad7: &a.gad7,
        phq9_difficulty: a.difficulty(Measure::Phq9),
        gad7_difficulty: a.difficulty(Measure::Gad7),
        screening: &a.screening,
        medications: a.medications.as_deref(),
        prescriber: a.prescriber.as_deref(),
    }
}

#[derive(Serialize)]
struct Row<'a> {
    reference: &'a str,
    received_at: String,
    status: &'a str,
    spam: Option<&'a str>,
    name: &'a str,
    email: &'a str,
    phone: Option<&'a str>,
    contact_method: &'static str,
    state: &'a str,
    /// "myself" or "someone_else"; empty for a request sent before the form asked.
    for_whom: &'static str,
    age_group: &'static str,
    outside_licensed_states: bool,
    minor: bool,
    message: Option<&'a str>,
    referral_source: Option<&'a str>,
    questionnaires: Vec<QuestionnaireRow<'a>>,
    documents: Vec<DocumentRow<'a>>,
    estimates: Vec<EstimateRow<'a>>,
}

fn row<'a>(r: &'a StoredRequest, attached: &'a Attached) -> Row<'a> {
    Row {
        reference: &r.reference,
        received_at: r.received_at.to_string(),
        status: r.status.as_str(),
        spam: r.spam.map(|s| s.as_str()),
        name: &r.name,
        email: &r.email,
        phone: r.phone.as_deref(),
        contact_method: r.contact_method.as_str(),
        state: r.location.as_str(),
        for_whom: r.for_whom.map_or("", |f| f.as_str()),
        age_group: r.age_group.as_str(),
        outside_licensed_states: r.flags.outside_licensed_states,
        minor: r.flags.minor,
        message: r.message.as_deref(),
        referral_source: r.referral_source.as_deref(),
        questionnaires: attached
            .questionnaires
            .get(&r.id)
            .map(|v| v.iter().map(questionnaire_row).collect())
            .unwrap_or_default(),
        documents: attached
            .documents
            .get(&r.id)
            .map(|p| document_rows(p))
            .unwrap_or_default(),
        estimates: attached
            .estimates
            .get(&r.id)
            .map(|v| v.iter().map(estimate_row).collect())
            .unwrap_or_default(),
    }
}

/// One JSON object per line.
pub fn jsonl(
    requests: &[StoredRequest],
    attached: &Attached,
    out: &mut impl Write,
) -> std::io::Result<()> {
    for r in requests {
        serde_json::to_writer(&mut *out, &row(r, attached))?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

/// A CSV table with a header row, safe against formula injection.
pub fn csv(
    requests: &[StoredRequest],
    attached: &Attached,
    out: &mut impl Write,
) -> std::io::Result<()> {
    let mut w = ::csv::Writer::from_writer(out);
    w.write_record([
        "reference",
        "received_at",
        "status",
        "spam",
        "name",
        "email",
        "phone",
        "contact_method",
        "state",
        "for_whom",
        "age_group",
        "outside_licensed_states",
        "minor",
        "message",
        "referral_source",
        "questionnaires",
        "documents",
        "estimates",
    ])?;
    // A list as one cell of JSON; empty when there is nothing in it.
    fn list<T: Serialize>(items: &[T]) -> std::io::Result<String> {
        if items.is_empty() {
            Ok(String::new())
        } else {
            serde_json::to_string(items).map_err(std::io::Error::other)
        }
    }
    for r in requests {
        let x = row(r, attached);
        let questionnaires = list(&x.questionnaires)?;
        let documents = list(&x.documents)?;
        let estimates = list(&x.estimates)?;
        let flag = |b: bool| if b { "yes" } else { "no" };
        w.write_record([
            safe_cell(x.reference),
            safe_cell(&x.received_at),
            safe_cell(x.status),
            safe_cell(x.spam.unwrap_or("")),
            safe_cell(x.name),
            safe_cell(x.email),
            safe_cell(x.phone.unwrap_or("")),
            safe_cell(x.contact_method),
            safe_cell(x.state),
            safe_cell(x.for_whom),
            safe_cell(x.age_group),
            flag(x.outside_licensed_states).into(),
            flag(x.minor).into(),
            safe_cell(x.message.unwrap_or("")),
            safe_cell(x.referral_source.unwrap_or("")),
            safe_cell(&questionnaires),
            safe_cell(&documents),
            safe_cell(&estimates),
        ])?;
    }
    w.flush()
}

/// A cell a spreadsheet will show as text.
pub fn safe_cell(value: &str) -> String {
    match value.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{value}"),
        _ => value.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn formulas_are_defused() {
        assert_eq!(super::safe_cell("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(super::safe_cell("+1 555"), "'+1 555");
        assert_eq!(super::safe_cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(super::safe_cell("-2"), "'-2");
        assert_eq!(super::safe_cell("Ada"), "Ada");
        assert_eq!(super::safe_cell(""), "");
    }
}
