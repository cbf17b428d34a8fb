//! The email with a link to choose a new password for the inbox.

use lettre::Message;
use lettre::message::header::ContentType;

use settings::config::Config;

use crate::{SendError, wrap};

/// The email to `to` with the link that chooses a new password (`token` is the link's key).
/// It names the practice and nothing of the account.
pub fn message(config: &Config, to: &str, token: &str) -> Result<Message, SendError> {
    let body = format!(
        "Someone asked to choose a new password for the inbox of {practice}.\n\nTo choose one, open this link within 30 minutes. It works once:\n{base}/admin/login/reset/{token}\n\nIf you did not ask for it, ignore this email: your password stays as it is.\n",
        practice = config.practice.name,
        base = config.server.base_url,
    );
    let from = config
        .mail
        .from
        .parse()
        .map_err(|_| SendError::Permanent("the configured sender address is invalid".into()))?;
    let to = to
        .parse()
        .map_err(|_| SendError::Permanent("the recipient address cannot be used".into()))?;
    Message::builder()
        .from(from)
        .to(to)
        .subject("Choose a new password")
        .header(ContentType::TEXT_PLAIN)
        .body(wrap(&body, 72))
        .map_err(|_| SendError::Permanent("the message cannot be built".into()))
}

#[cfg(test)]
mod tests {
    use settings::config::{Config, Overrides};

    fn config() -> Config {
        Config::from_toml(
            "[server]\nbase_url = \"https://practice.test\"\n[mail]\nfrom = \"office@practice.test\"\n",
            "t",
            None,
            &Overrides::default(),
        )
        .expect("valid config")
    }

    #[test]
    fn the_link_goes_to_the_account_and_an_unusable_address_is_refused() {
        let message =
            super::message(&config(), "clinician@practice.test", "tok3n").expect("a message");
        let text = String::from_utf8(message.formatted()).expect("text");
        assert!(text.contains("Subject: Choose a new password"), "{text}");
        assert!(text.contains("To: clinician@practice.test"), "{text}");
        assert!(
            text.contains("https://practice.test/admin/login/reset/tok3n"),
            "{text}"
        );
        assert!(super::message(&config(), "not an address", "tok3n").is_err());
    }
}
