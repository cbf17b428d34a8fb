//! Exports of consultation requests for the clinician's own records: JSON Lines and CSV.
//!
//! The CSV is safe to open in a spreadsheet: a cell that starts with `=`, `+`, `-`, `@`, a tab or
//! a carriage return is prefixed with `'`, so it is shown as text and never run as a formula.

use std::io::Write;

use serde::Serialize;

use crate::store::StoredRequest;

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
    age_group: &'static str,
    outside_licensed_states: bool,
    minor: bool,
    message: Option<&'a str>,
    referral_source: Option<&'a str>,
}

fn row(r: &StoredRequest) -> Row<'_> {
    Row {
        reference: &r.reference,
        received_at: r.received_at.to_string(),
        status: r.status.as_str(),
        spam: r.spam.as_deref(),
        name: &r.name,
        email: &r.email,
        phone: r.phone.as_deref(),
        contact_method: r.contact_method.as_str(),
        state: r.location.as_str(),
        age_group: r.age_group.as_str(),
        outside_licensed_states: r.flags.outside_licensed_states,
        minor: r.flags.minor,
        message: r.message.as_deref(),
        referral_source: r.referral_source.as_deref(),
    }
}

/// One JSON object per line.
pub fn jsonl(requests: &[StoredRequest], out: &mut impl Write) -> std::io::Result<()> {
    for r in requests {
        serde_json::to_writer(&mut *out, &row(r))?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

/// A CSV table with a header row, safe against formula injection.
pub fn csv(requests: &[StoredRequest], out: &mut impl Write) -> std::io::Result<()> {
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
        "age_group",
        "outside_licensed_states",
        "minor",
        "message",
        "referral_source",
    ])?;
    for r in requests {
        let x = row(r);
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
            safe_cell(x.age_group),
            flag(x.outside_licensed_states).into(),
            flag(x.minor).into(),
            safe_cell(x.message.unwrap_or("")),
            safe_cell(x.referral_source.unwrap_or("")),
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
