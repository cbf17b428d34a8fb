//! Documents to sign, shared by the fast and slow tiers: the built-in texts, publishing one in
//! the words editor, sending a packet from a request's page, the link its email carries, the
//! signing page's checkboxes, and the text of a PDF as poppler's `pdftotext` reads it.

use crate::common::clinician::Clinician;
use crate::common::{SmtpServer, TestApp, form_body};

pub const ESIGN: &str = "documents/00-esign-consent.md";
pub const CONSENT: &str = "documents/10-kap-informed-consent.md";
pub const RELEASE: &str = "documents/40-prescriber-release.md";
pub const ACKNOWLEDGEMENT: &str = "documents/30-privacy-notice-acknowledgement.md";
pub const TELEHEALTH: &str = "documents/20-telehealth-consent.md";

pub fn built_in(rel: &str) -> String {
    content::documents::built_in_documents()
        .into_iter()
        .find(|(r, _)| r == rel)
        .map(|(_, t)| t)
        .expect("a built-in document")
}

pub fn slug(rel: &str) -> String {
    rel.trim_end_matches(".md").replace('/', "-")
}

/// Publishes `text` as document `rel` in the words editor.
pub async fn publish(c: &mut Clinician<'_>, rel: &str, text: &str) {
    let page = format!("/admin/words/{}", slug(rel));
    let html = c.get(&page).await.text();
    let base = html
        .split("name=\"base\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("base")
        .to_string();
    let csrf = c.csrf(&page).await;
    let r = c
        .post(
            &page,
            &form_body(&[
                ("csrf", &csrf),
                ("base", &base),
                ("body", text),
                ("action", "publish"),
            ]),
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text());
}

pub fn unfold(raw: &str) -> String {
    raw.replace("=\r\n", "")
        .replace("=\n", "")
        .replace("=3D", "=")
}

pub fn wait_for(smtp: &SmtpServer, subject: &str, n: usize) -> Vec<String> {
    crate::common::patiently_blocking(|| {
        let found: Vec<String> = smtp
            .messages()
            .into_iter()
            .filter(|m| m.contains(&format!("Subject: {subject}")))
            .collect();
        if found.len() >= n {
            return Ok(found);
        }
        let subjects: Vec<String> = smtp.subjects().into_iter().map(|(s, _)| s).collect();
        Err(format!("no email \"{subject}\": {subjects:?}"))
    })
}

pub fn link_in(app: &TestApp, mail: &str) -> String {
    signed_link_in(app, mail, "documents")
}

/// The signed link to `/{kind}/…` an email carries, with quoted-printable's soft line breaks
/// undone where the mail server's copy has them.
pub fn signed_link_in(app: &TestApp, mail: &str, kind: &str) -> String {
    let mail = unfold(mail);
    let base = app.url("");
    let at = mail
        .find(&format!("{base}/{kind}/"))
        .unwrap_or_else(|| panic!("a {kind} link in {mail}"))
        + base.len();
    mail[at..]
        .chars()
        .take_while(|c| !c.is_whitespace())
        .collect()
}

/// The ids of the checkboxes of a signing page, in order.
pub fn boxes(html: &str) -> Vec<String> {
    html.split("name=\"sign-")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .map(str::to_string)
        .collect()
}

pub async fn send(c: &mut Clinician<'_>, id: i64, fields: &[(&str, &str)]) -> crate::common::Reply {
    let csrf = c.csrf(&format!("/admin/requests/{id}")).await;
    let mut all = vec![("csrf", csrf.as_str())];
    all.extend_from_slice(fields);
    c.post(&format!("/admin/requests/{id}/documents"), &form_body(&all))
        .await
}

pub fn pdf_text(bytes: &[u8]) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("signed.pdf");
    std::fs::write(&path, bytes).expect("write");
    let out = std::process::Command::new("pdftotext")
        .args(["-enc", "UTF-8"])
        .arg(&path)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils, installed by cargo xtask test)");
    String::from_utf8(crate::common::stdout_of(out, "pdftotext")).expect("text")
}

pub fn words(text: &str) -> Vec<String> {
    text.split_whitespace().map(str::to_string).collect()
}

/// Publishes the consent to sign electronically and the informed consent as built in, sends
/// the consent to request `id`, and returns the link its email carries.
pub async fn consent_sent(app: &TestApp, smtp: &SmtpServer, id: i64) -> String {
    let mut c = Clinician::signed_in(app).await;
    publish(&mut c, ESIGN, &built_in(ESIGN)).await;
    publish(&mut c, CONSENT, &built_in(CONSENT)).await;
    let r = send(&mut c, id, &[("send-10-kap-informed-consent", "yes")]).await;
    assert_eq!(r.status, 303, "{}", r.text());
    link_in(app, &wait_for(smtp, "Documents to read and sign", 1)[0])
}
