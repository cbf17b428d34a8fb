//! The practice's documents: reviewed and published before they can be sent, sent from a
//! request's page, opened and signed from the person's link, downloaded as a PDF whose text is
//! the revision signed, revoked, and refused through a forged, expired or closed link; nothing
//! personal in the emails, their addresses or the audit log.

use jiff::{SignedDuration, Timestamp};

use crate::common::booking::{link_to, start};
use crate::common::clinician::{Clinician, assert_export};
use crate::common::documents::{
    ACKNOWLEDGEMENT, CONSENT, ESIGN, RELEASE, TELEHEALTH, boxes, built_in, consent_sent, link_in,
    pdf_text, publish, send, unfold, wait_for, words,
};
use crate::common::questionnaire::{newest_request, post};
use crate::common::reminders::{deliver_at, outbox_to};
use crate::common::{SmtpServer, form_body};

const PERSON: &str = "Oriel Vantasse";
const PRESCRIBER: &str = "Dr Quillon Marbeck";
const GUARDIAN: &str = "Tamsin Oakhurst-Vale";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documents_are_sent_opened_signed_kept_as_signed_and_revoked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let smtp = SmtpServer::start(dir.path());
    let app = start(Some(smtp.port), "").await;
    app.submitted(PERSON, &[]).await;
    let id = newest_request(&app).await;
    let mut c = Clinician::signed_in(&app).await;

    // Nothing can be sent before it is reviewed and published.
    let page = c.get(&format!("/admin/requests/{id}")).await.text();
    assert!(
        page.contains("review and publish the consent to sign electronically"),
        "{page}"
    );
    assert!(!page.contains("id=\"send-documents\""));
    let r = send(&mut c, id, &[("send-10-kap-informed-consent", "yes")]).await;
    r.assert_shows(422, "has not been reviewed and published yet");
    publish(&mut c, ESIGN, &built_in(ESIGN)).await;
    let r = send(&mut c, id, &[("send-10-kap-informed-consent", "yes")]).await;
    assert_eq!(r.status, 422, "the consent itself is not published yet");
    assert!(app.state.store.packets(id).await.expect("read").is_empty());

    publish(&mut c, CONSENT, &built_in(CONSENT)).await;
    publish(&mut c, RELEASE, &built_in(RELEASE)).await;
    publish(&mut c, TELEHEALTH, &built_in(TELEHEALTH)).await;
    // The acknowledgement needs the Notice of Privacy Practices published at its address.
    publish(&mut c, ACKNOWLEDGEMENT, &built_in(ACKNOWLEDGEMENT)).await;
    let r = send(
        &mut c,
        id,
        &[("send-30-privacy-notice-acknowledgement", "yes")],
    )
    .await;
    r.assert_shows(422, "review and publish the Notice of Privacy Practices");
    let r = c
        .action(
            "/admin/pages",
            "/admin/pages",
            &[
                ("title", "Notice of Privacy Practices"),
                ("path", "/notice-of-privacy-practices"),
                ("body", "How health information about you may be used."),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text());
    // The release needs the prescriber.
    let r = send(&mut c, id, &[("send-40-prescriber-release", "yes")]).await;
    r.assert_shows(422, "Give the prescriber");
    let r = send(
        &mut c,
        id,
        &[
            ("send-10-kap-informed-consent", "yes"),
            ("send-40-prescriber-release", "yes"),
            ("send-20-telehealth-consent", "yes"),
            ("send-30-privacy-notice-acknowledgement", "yes"),
            ("prescriber_name", PRESCRIBER),
            ("prescriber_practice", "Marbeck Family Medicine"),
            ("prescriber_contact", "555-0100"),
        ],
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.text());
    let mail = wait_for(&smtp, "Documents to read and sign", 1).remove(0);
    let body = unfold(&mail);
    for marker in [
        PERSON,
        PRESCRIBER,
        "person@example.com\n",
        "Informed consent",
    ] {
        assert!(
            !body.split("\r\n\r\n").skip(1).any(|b| b.contains(marker)),
            "{marker} in {body}"
        );
    }
    let link = link_in(&app, &mail);
    for marker in ["Oriel", "Quillon", "consent"] {
        assert!(!link.contains(marker));
    }

    // Opened: the request's page says so.
    let page = c.get(&format!("/admin/requests/{id}")).await.text();
    assert!(
        page.contains("Not signed yet") || page.contains("not signed yet"),
        "{page}"
    );
    assert!(!page.contains("opened"), "{page}");
    let html = app.page(&link).await;
    assert!(html.contains("Consent to receive and sign documents electronically"));
    assert!(html.contains(PRESCRIBER), "the release is filled in");
    assert!(!html.contains("{{"), "every field filled in");
    assert!(
        !html.contains("Your full name, as the parent"),
        "an adult signs"
    );
    let page = c.get(&format!("/admin/requests/{id}")).await.text();
    assert!(page.contains("opened"), "{page}");

    // The clinician edits the consent after sending: what the person signs is what was sent.
    publish(
        &mut c,
        CONSENT,
        &built_in(CONSENT).replace(
            "## What ketamine is",
            "## What ketamine is\n\nEDITED AFTER SENDING.",
        ),
    )
    .await;

    // Signing without the consent to sign electronically, or without a name, is refused.
    let ids = boxes(&html);
    assert_eq!(ids.len(), 5, "{html}");
    assert!(
        html.contains(&app.url("/notice-of-privacy-practices")),
        "the acknowledgement names the notice's address"
    );
    assert!(
        html.contains("where will the person be during sessions?"),
        "{html}"
    );
    let r = post(
        &app,
        &link,
        &[(&format!("sign-{}", ids[1]), "yes"), ("name", PERSON)],
    )
    .await;
    r.assert_shows(422, "consent to sign electronically too");
    let r = post(
        &app,
        &link,
        &[(&format!("sign-{}", ids[0]), "yes"), ("name", " ")],
    )
    .await;
    r.assert_shows(422, "Type your full name");
    let all: Vec<String> = ids.iter().map(|i| format!("sign-{i}")).collect();
    let mut every: Vec<(&str, &str)> = all.iter().map(|k| (k.as_str(), "yes")).collect();
    every.push(("name", PERSON));
    // The telehealth consent asks where the person will be during sessions.
    let r = post(&app, &link, &every).await;
    r.assert_shows(422, "Choose where the person will be during sessions");
    // A state outside the licensed ones is taken, and flagged to the clinician.
    every.push(("location", "TX"));
    let r = post(&app, &link, &every).await;
    assert_eq!(r.status, 303, "{}", r.text());
    let page = c.get(&format!("/admin/requests/{id}")).await.text();
    assert!(page.contains("will be in Texas during sessions"), "{page}");
    assert!(
        page.contains("<span class=\"tag\">Outside licensed states</span> Sent"),
        "{page}"
    );
    let html = app.get(&link).await.text();
    assert!(!html.contains("id=\"sign-button\""), "everything is signed");
    assert!(!html.contains("EDITED AFTER SENDING"), "the text as sent");

    // The signatures: the text as sent, its hash, the name, the role.
    let packets = app.state.store.packets(id).await.expect("read");
    let consent = packets[0]
        .documents
        .iter()
        .find(|d| d.document == CONSENT)
        .expect("consent")
        .clone();
    let signature = consent.signature.clone().expect("signed");
    assert_eq!(signature.name, PERSON);
    assert_eq!(signature.role, store::SignerRole::Person);
    assert_eq!(signature.sha256, store::sha256(&consent.text));
    assert!(signature.esign_sha256.is_some());
    let revisions = app.state.store.revisions(CONSENT).await.expect("read");
    assert_eq!(revisions.len(), 2);
    assert_eq!(
        consent.revision_id, revisions[1].id,
        "the revision as it was when sent"
    );
    assert!(!consent.text.contains("EDITED AFTER SENDING"));

    // The PDF, the person's and the clinician's: the revision signed, the signer, the hash.
    let pdf_href = format!("{link}/pdf/{}", consent.id);
    assert!(html.contains(&pdf_href), "{html}");
    let pdf = app.get(&pdf_href).await;
    assert_eq!(pdf.status, 200);
    assert_eq!(pdf.header("content-type"), Some("application/pdf"));
    let text = pdf_text(&pdf.body);
    let signed = content::documents::sent(CONSENT, &consent.text).expect("reads");
    let expected = words(&signed.plain.join("\n"));
    let got = words(&text);
    assert_eq!(
        &got[..expected.len()],
        &expected[..],
        "the text of the revision signed"
    );
    assert!(
        text.contains(&format!("Signed electronically by: {PERSON}")),
        "{text}"
    );
    assert!(text.contains(&signature.sha256), "{text}");
    assert!(!text.contains("EDITED AFTER SENDING"));
    let clinician_pdf = c
        .get(&format!(
            "/admin/requests/{id}/documents/{}/pdf",
            consent.id
        ))
        .await;
    assert_eq!(clinician_pdf.status, 200);
    assert_eq!(pdf_text(&clinician_pdf.body), text);

    // The release is revoked from the same link; the clinician sees it at once.
    let release = packets[0]
        .documents
        .iter()
        .find(|d| d.document == RELEASE)
        .expect("release");
    assert!(release.text.contains(PRESCRIBER));
    let r = post(&app, &format!("{link}/revoke/{}", consent.id), &[]).await;
    assert_eq!(r.status, 404, "only the authorization can be revoked");
    let r = post(&app, &format!("{link}/revoke/{}", release.id), &[]).await;
    assert_eq!(r.status, 303);
    let page = c.get(&format!("/admin/requests/{id}")).await.text();
    assert!(page.contains("revoked"), "{page}");
    let after = app.state.store.packets(id).await.expect("read");
    let release_after = after[0]
        .documents
        .iter()
        .find(|d| d.id == release.id)
        .expect("kept");
    assert!(release_after.revoked_at.is_some());
    assert_eq!(
        release_after.signature, release.signature,
        "the signature unchanged"
    );

    // The request's export carries each document as signed.
    let csv = c.export_csv(id).await;
    let expected = [
        signature.sha256.as_str(),
        CONSENT,
        "\"\"signer_role\"\":\"\"person\"\"",
        "\"\"revoked_at\"\":\"\"",
    ];
    assert_export(&csv, ",documents,estimates", &expected);

    // Forged, expired and closed links are refused with a page that says so.
    let mut forged = link.clone();
    let last = forged.pop().expect("a character");
    forged.push(if last == '0' { '1' } else { '0' });
    let r = app.get(&forged).await;
    r.assert_shows(404, "This link does not work");
    assert_eq!(app.get("/documents/nonsense").await.status, 404);
    let expired = link_to(&app, id, Timestamp::now() - SignedDuration::from_hours(1))
        .await
        .replace("/book/", "/documents/");
    let r = app.get(&expired).await;
    r.assert_shows(410, "This link has expired");
    let r = c
        .change_status(id, &[("status", "closed"), ("reason", "not_a_fit")])
        .await;
    assert_eq!(r.status, 303, "{}", r.text());
    let r = app.get(&link).await;
    r.assert_shows(410, "no longer open");
    assert_eq!(app.get(&pdf_href).await.status, 410);

    // Nothing personal in the audit log or the history.
    assert!(app.audited("documents_sent", id).await);
    app.assert_nothing_personal_logged(id, &[PERSON, PRESCRIBER, "Marbeck"])
        .await;
    // Sealed at rest: on SQLite, no byte of the database holds a name.
    if app.overrides.database_url.is_none() {
        let data = app.data_dir.path().join("data");
        for entry in std::fs::read_dir(&data).expect("data dir").flatten() {
            let bytes = std::fs::read(entry.path()).unwrap_or_default();
            for m in [PRESCRIBER, "Marbeck Family"] {
                assert!(!crate::common::at_rest::holds(&bytes, m), "{m} at rest");
            }
        }
    }

    // Deleted with the request.
    let csrf = c.csrf(&format!("/admin/requests/{id}/delete")).await;
    let r = c
        .post(
            &format!("/admin/requests/{id}/delete"),
            &form_body(&[("csrf", &csrf), ("confirm", "yes")]),
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text());
    assert!(app.state.store.request(id).await.expect("read").is_none());
    assert!(app.state.store.packets(id).await.expect("read").is_empty());
    assert_eq!(app.get(&link).await.status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parent_or_guardian_signs_for_a_person_under_18() {
    let dir = tempfile::tempdir().expect("tempdir");
    let smtp = SmtpServer::start(dir.path());
    let app = start(Some(smtp.port), "").await;
    app.submitted(
        PERSON,
        &[("age_group", "minor"), ("for_whom", "someone_else")],
    )
    .await;
    let id = newest_request(&app).await;
    let link = consent_sent(&app, &smtp, id).await;

    // One reminder of unsigned documents, a few days after they were sent.
    let reminders = || async {
        let kinds = app.mail_kinds(id).await;
        kinds.iter().filter(|k| *k == "documents_reminder").count()
    };
    let sent = Timestamp::now();
    let worker = app.state.reminders();
    worker
        .look(sent + SignedDuration::from_hours(2 * 24))
        .await
        .expect("look");
    assert_eq!(reminders().await, 0, "not yet");
    for _ in 0..2 {
        worker
            .look(sent + SignedDuration::from_hours(3 * 24 + 1))
            .await
            .expect("look");
    }
    assert_eq!(reminders().await, 1, "once");
    let outbox = outbox_to(&app, &smtp);
    deliver_at(&app, &outbox, sent + SignedDuration::from_hours(3 * 24 + 1)).await;
    let reminder = wait_for(&smtp, "Reminder: documents to read and sign", 1).remove(0);
    let again = app.get(&link_in(&app, &reminder)).await;
    assert_eq!(again.status, 200, "a link to the same documents");
    assert!(again.text().contains("Documents to read and sign"));
    assert!(!unfold(&reminder).contains(PERSON));

    let html = app.get(&link).await.text();
    assert!(
        html.contains("Your full name, as the parent or legal guardian"),
        "{html}"
    );
    let ids = boxes(&html);
    let fields: Vec<(String, &str)> = ids.iter().map(|i| (format!("sign-{i}"), "yes")).collect();
    let mut pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    pairs.push(("name", GUARDIAN));
    let r = post(&app, &link, &pairs).await;
    assert_eq!(
        r.status, 422,
        "the signer says they are the parent or guardian"
    );
    assert!(
        r.text()
            .contains("Confirm that you are the parent or legal guardian")
    );
    // A post that cannot be read gets the documents' own refusal page, and signs nothing.
    let r = post(&app, &link, &[("name", GUARDIAN), ("name", GUARDIAN)]).await;
    r.assert_shows(400, "Nothing was signed.");
    pairs.push(("guardian", "yes"));
    let r = post(&app, &link, &pairs).await;
    assert_eq!(r.status, 303, "{}", r.text());
    let packets = app.state.store.packets(id).await.expect("read");
    for d in &packets[0].documents {
        let s = d.signature.as_ref().expect("signed");
        assert_eq!(s.name, GUARDIAN);
        assert_eq!(s.role, store::SignerRole::ParentOrGuardian);
    }
    let html = app.get(&link).await.text();
    assert!(
        html.contains(&format!("by {GUARDIAN}, parent or legal guardian")),
        "{html}"
    );
    let consent = packets[0]
        .documents
        .iter()
        .find(|d| d.document == CONSENT)
        .expect("consent");
    let text = pdf_text(&app.get(&format!("{link}/pdf/{}", consent.id)).await.body);
    assert!(
        text.contains("Signing as: Parent or legal guardian, for a person under 18"),
        "{text}"
    );
}

#[test]
fn the_documents_link_is_never_logged() {
    // A link's token is a key to a person's documents: the access log leaves it out.
    let token = "d0c5marker0000000000000000000000000000000000000000000000000000000000";
    let p = crate::common::Process::serve(&[], &[]);
    for path in [
        format!("/documents/{token}"),
        format!("/documents/{token}/pdf/1"),
    ] {
        let reply = p.get(&path);
        assert!(reply.starts_with("HTTP/1.1 404"), "{reply}");
        assert!(reply.contains("This link does not work"), "{reply}");
    }
    let deadline = std::time::Instant::now() + crate::common::PATIENCE;
    while !p.stderr().contains("/documents/…/pdf/1") {
        assert!(
            std::time::Instant::now() < deadline,
            "the access log line: {}",
            p.stderr()
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(!p.stderr().contains("d0c5marker"), "{}", p.stderr());
}

/// The built-in Notice of Privacy Practices is shown at its public address (which the
/// acknowledgement names) only once the clinician has reviewed and published it, with the
/// practice's details filled in; it is never offered as a document to sign.
#[tokio::test]
async fn the_notice_of_privacy_practices_is_published_at_its_address_once_reviewed() {
    const NOTICE: &str = "documents/05-notice-of-privacy-practices.md";
    let app = start(None, "").await;
    app.submitted(PERSON, &[]).await;
    let id = newest_request(&app).await;
    assert_eq!(app.get("/notice-of-privacy-practices").await.status, 404);
    let mut c = Clinician::signed_in(&app).await;
    let built_in = built_in(NOTICE);
    assert!(built_in.contains("review with its own counsel"));
    publish(&mut c, NOTICE, &built_in).await;
    let html = app.page("/notice-of-privacy-practices").await;
    for fact in [
        "THIS NOTICE DESCRIBES HOW MEDICAL INFORMATION ABOUT YOU MAY BE USED AND DISCLOSED AND HOW YOU CAN GET ACCESS TO THIS INFORMATION. PLEASE REVIEW IT CAREFULLY.",
        "Treatment.",
        "Payment.",
        "Health care operations.",
        "psychotherapy notes",
        "revoke in writing",
        "a paper copy of this notice",
        "Office for Civil Rights",
        "not be retaliated against",
        "Effective date:",
        "hello@practice.example",
    ] {
        assert!(html.contains(fact), "{fact}: {html}");
    }
    assert!(!html.contains("{{"), "every field filled in");
    assert!(
        !html.contains("164.520"),
        "the practice's notes are not shown"
    );
    let page = c.get(&format!("/admin/requests/{id}")).await.text();
    assert!(!page.contains("send-05-notice-of-privacy-practices"));
}
