//! The email that brings a person their documents to read and sign: a signed link to their
//! own page (the same link as their booking's, see `auth/link.rs`) and nothing else. It names
//! no person, no document and no prescriber: the page shows them once the link is opened.

use jiff::Timestamp;

use super::claimed::RequestLink;
use auth::link::{self, LinkTokens};
use settings::config::Config;

/// The subject and body of the email with the link to `request`'s documents, or of its one
/// reminder.
pub fn write(
    config: &Config,
    links: &LinkTokens,
    request: &RequestLink,
    reminder: bool,
) -> (String, String) {
    let practice = &config.practice;
    let token = links.issue(
        request.id,
        &request.link_secret,
        link::expiry(Timestamp::now(), None),
    );
    // What the email and its reminder say differently; the link and the way to ask are shared.
    let (subject, opening, before, after) = if reminder {
        (
            "Reminder: documents to read and sign",
            format!(
                "A reminder: some of the documents {} sent you are not signed yet. They are needed before your sessions can begin.",
                practice.clinician_name
            ),
            "",
            " This is the only reminder.",
        )
    } else {
        (
            "Documents to read and sign",
            format!(
                "{} has sent you the practice's documents to read and sign before your sessions. Reading them takes about fifteen minutes; you can sign on a phone or a computer, and download a copy of each one you sign.",
                practice.clinician_name
            ),
            "The link works for 30 days. ",
            "",
        )
    };
    (
        format!("{subject} - {}", practice.name),
        format!(
            "{opening}\n\n{base}/documents/{token}\n\n{before}If you have a question about a document, or would rather have it on paper, reply to this email or call {phone}.{after}\n\n{name}\n{email} | {phone}\n",
            base = config.server.base_url,
            phone = practice.phone,
            name = practice.name,
            email = practice.email,
        ),
    )
}
