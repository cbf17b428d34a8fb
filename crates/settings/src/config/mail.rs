//! `[mail]`: where notifications go and how they are sent.

use serde::Deserialize;
use toml::Spanned;

use super::read::{Reader, looks_like_email};
use super::{Overrides, Practice, Secret};

/// Email: where notifications go and how they are sent.
#[derive(Clone, Debug)]
pub struct MailConfig {
    /// `smtp://host:port` (plain, loopback only), `smtp://host?tls=required` (STARTTLS) or
    /// `smtps://host` (TLS), optionally with `user:password@`. `None`: notifications are off.
    pub smtp_url: Option<Secret>,
    /// The practice's inbox for "a new request arrived" notices. Default: practice.email.
    pub notify_email: String,
    /// True when `notify_email` was not given and is practice.email.
    pub notify_email_is_default: bool,
    /// The sender of every email. Default: the practice's name and email.
    pub from: String,
    /// True when `from` was not given and is made from the practice's name and email, so it
    /// follows them when the clinician changes them in the inbox.
    pub from_is_default: bool,
    /// First retry delay; doubles on each attempt up to `retry_max_seconds`.
    pub retry_base_seconds: u64,
    pub retry_max_seconds: u64,
    /// Give up on a message after this many permanent (5xx) refusals.
    pub max_permanent_failures: i64,
}

/// The sender made from the practice's name and email when `mail.from` is not set:
/// `Practice Name <hello@practice.org>`.
pub fn default_sender(practice_name: &str, email: &str) -> String {
    format!(
        "{} <{}>",
        practice_name.replace(['<', '>', '"', ','], ""),
        email
    )
}

/// `[mail]` as the file writes it.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct FileMail {
    smtp_url: Option<Spanned<String>>,
    notify_email: Option<Spanned<String>>,
    from: Option<Spanned<String>>,
    retry_base_seconds: Option<u64>,
    retry_max_seconds: Option<u64>,
    max_permanent_failures: Option<u32>,
}

impl Reader<'_> {
    /// Reads `[mail]`; the environment wins, and the practice's address and name are the
    /// defaults for the notices' inbox and the sender.
    pub(super) fn mail(
        &mut self,
        m: FileMail,
        practice: &Practice,
        overrides: &Overrides,
    ) -> MailConfig {
        // The environment's value as given (not trimmed), the file's trimmed.
        let smtp_url = match (&overrides.smtp_url, m.smtp_url) {
            (Some(v), _) => Some((v.clone(), "KAP_SMTP_URL".to_string(), 0)),
            (None, file) => self.given(&None, "", file),
        };
        if let Some((url, file, line)) = &smtp_url
            && !(url.starts_with("smtp://") || url.starts_with("smtps://"))
        {
            self.error_in(file.clone(), *line, "mail.smtp_url must start with smtp:// or smtps://, e.g. \"smtps://user:password@smtp.example.com\"");
        }
        let notify_email_is_default = overrides.notify_email.is_none() && m.notify_email.is_none();
        let (notify_email, file, line) = self
            .given(&overrides.notify_email, "KAP_NOTIFY_EMAIL", m.notify_email)
            .unwrap_or_else(|| (practice.email.clone(), self.name.to_string(), 0));
        if !looks_like_email(&notify_email) {
            self.error_in(
                file,
                line,
                format!("mail.notify_email {notify_email:?} is not an email address: write it like \"hello@yourpractice.com\""),
            );
        }
        let from_is_default = m.from.is_none();
        let from = match m.from {
            Some(v) => {
                let text = v.get_ref().trim().to_string();
                if text.parse::<lettre::message::Mailbox>().is_err() {
                    let line = self.line(&v);
                    self.error(line, format!("mail.from {text:?} is not a sender: write it as \"Practice Name <hello@yourpractice.com>\""));
                }
                text
            }
            None => default_sender(&practice.name, &practice.email),
        };
        let retry_base_seconds = m.retry_base_seconds.unwrap_or(5).max(1);
        MailConfig {
            smtp_url: smtp_url.map(|(url, _, _)| Secret(url)),
            notify_email,
            notify_email_is_default,
            from,
            from_is_default,
            retry_base_seconds,
            retry_max_seconds: m.retry_max_seconds.unwrap_or(600).max(retry_base_seconds),
            max_permanent_failures: i64::from(m.max_permanent_failures.unwrap_or(5).max(1)),
        }
    }
}
