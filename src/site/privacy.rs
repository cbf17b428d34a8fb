//! The privacy notice's account of what happens to a person's information, generated from the
//! configuration in force.
//!
//! A privacy notice that describes features the practice has not turned on, or leaves out ones it
//! has, misleads the people it is written for. So the practice's own words (`privacy.md`) say
//! what does not change with the setup — visits, logs — and the rest is stated here from the
//! config: which fields are encrypted (from the store's own list, handed in), where the database lives,
//! which emails are sent, how long requests are kept, and the crisis numbers.

use crate::config::Config;

/// One thing the contact form collects: the name it is stored under and how the notice says it.
pub struct Collected {
    /// The request field it is kept in (the answer about voicemail is kept with the message).
    pub stored_in: &'static str,
    pub label: &'static str,
}

/// Everything the contact form collects, in the form's order.
pub const COLLECTED: &[Collected] = &[
    Collected {
        stored_in: "name",
        label: "your name",
    },
    Collected {
        stored_in: "email",
        label: "your email address",
    },
    Collected {
        stored_in: "phone",
        label: "your phone number, if you choose to give it",
    },
    Collected {
        stored_in: "contact_method",
        label: "how you prefer to be contacted",
    },
    Collected {
        stored_in: "message",
        label: "whether a voicemail is all right, if you ask for a call",
    },
    Collected {
        stored_in: "location",
        label: "the US state you will be in during sessions",
    },
    Collected {
        stored_in: "for_whom",
        label: "whether the consultation is for you or for someone you care for",
    },
    Collected {
        stored_in: "age_group",
        label: "whether the person the consultation is for is 18 or older",
    },
    Collected {
        stored_in: "message",
        label: "a message, if you choose to write one",
    },
    Collected {
        stored_in: "referral_source",
        label: "how you heard about the practice, if you choose to say",
    },
];

/// What the notice states, decided from the config.
pub struct PrivacyFacts {
    /// Everything the form collects, in the form's order.
    pub collected: Vec<&'static str>,
    /// What the form collects and is encrypted at rest.
    pub encrypted: Vec<&'static str>,
    /// What the form collects and is stored as plain text.
    pub plain: Vec<&'static str>,
    /// The database is PostgreSQL (possibly hosted by a provider) rather than SQLite on the
    /// server itself.
    pub postgres: bool,
    /// An SMTP server is configured: emails are sent.
    pub mail: bool,
    /// The person gets an acknowledgement email (mail on and `contact_form.acknowledge`).
    pub acknowledge: bool,
    pub keep_closed_days: u64,
    pub keep_spam_days: u64,
    /// When the clinician gets in touch after an answer about self-harm: "within 24 hours".
    pub urgent_reply: String,
    /// Visits are counted for the practice's own insights (`insights.enabled`).
    pub insights: bool,
    /// Counts of visits are deleted after this many months.
    pub insights_retention_months: u32,
}

impl PrivacyFacts {
    /// The facts of `config`, with `sealed_fields` (the names of the fields the store seals).
    pub fn from_config(config: &Config, sealed_fields: &[&str]) -> Self {
        let (encrypted, plain) = COLLECTED
            .iter()
            .partition::<Vec<_>, _>(|c| sealed_fields.contains(&c.stored_in));
        let mail = config.mail.smtp_url.is_some();
        PrivacyFacts {
            collected: COLLECTED.iter().map(|c| c.label).collect(),
            encrypted: encrypted.into_iter().map(|c| c.label).collect(),
            plain: plain.into_iter().map(|c| c.label).collect(),
            postgres: config.database.url.is_some(),
            mail,
            acknowledge: mail && config.form.acknowledge,
            keep_closed_days: config.admin.keep_closed_days,
            keep_spam_days: config.admin.keep_spam_days,
            urgent_reply: crate::wording::within_hours(config.form.urgent_reply_hours),
            insights: config.insights.enabled,
            insights_retention_months: config.insights.retention_months,
        }
    }
}
