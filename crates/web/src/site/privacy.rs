//! The privacy notice's account of what happens to a person's information, generated from the
//! configuration in force.
//!
//! A privacy notice that describes features the practice has not turned on, or leaves out ones it
//! has, misleads the people it is written for. So the practice's own words (`privacy.md`) say
//! what does not change with the setup — visits, logs — and the rest is stated here from the
//! config: which fields are encrypted (from the store's own list, handed in), where the database lives,
//! which emails are sent, how long requests are kept, and the crisis numbers.

use settings::config::Config;

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

/// One thing kept with a request as plain text, besides the form's answers in [`COLLECTED`]:
/// the columns that hold it (`table.column`) and how the notice says it.
pub struct PlainRecord {
    pub columns: &'static [&'static str],
    pub label: &'static str,
}

/// Everything kept with a request as plain text besides the form's answers listed in
/// [`COLLECTED`]: what the inbox sorts, filters, flags and reminds by without opening anything.
/// The notice lists these word for word, and a test holds every plain column of the tables
/// about a request to this list (or to [`COLLECTED`], or to [`NOT_ABOUT_THE_PERSON`]), so a
/// column added in plain text must be named here, or the notice would stop telling the truth.
pub const KEPT_PLAIN: &[PlainRecord] = &[
    PlainRecord {
        columns: &[
            "consultation_requests.received_at",
            "consultation_requests.reference",
        ],
        label: "when the request arrived, and its reference number",
    },
    PlainRecord {
        columns: &[
            "consultation_requests.status",
            "consultation_requests.closed_at",
            "consultation_requests.closed_reason",
            "consultation_requests.reached_consultation",
        ],
        label: "where the request stands along the practice’s process, such as “Consultation scheduled” or “Medication sessions”, which can show that you became a client; whether it ever reached a consultation (which decides how long it is kept); when it was closed, and why (such as “Completed” or “Not a fit”)",
    },
    PlainRecord {
        columns: &[
            "consultation_requests.spam",
            "consultation_requests.spam_reason",
        ],
        label: "whether it was filed as spam, and why",
    },
    PlainRecord {
        columns: &[
            "consultation_requests.outside_licensed_states",
            "consultation_requests.minor",
        ],
        label: "whether you will be outside the states where I am licensed, and whether the consultation is for someone under 18",
    },
    PlainRecord {
        columns: &[
            "bookings.start_at",
            "bookings.end_at",
            "bookings.format",
            "bookings.status",
            "bookings.created_at",
            "bookings.updated_at",
            "bookings.session_location",
            "booking_changes.at",
            "booking_changes.actor",
            "booking_changes.status",
            "booking_changes.start_at",
            "booking_changes.end_at",
            "booking_changes.format",
            "booking_reminders.start_at",
            "booking_reminders.minutes_before",
            "booking_reminders.status",
            "booking_reminders.at",
        ],
        label: "the time of a consultation you choose, the way of meeting you chose (video or phone), the state you said you will be in during it, whether that time is held, confirmed, declined or cancelled, each change to it, and the reminders sent",
    },
    PlainRecord {
        columns: &[
            "questionnaires.kind",
            "questionnaires.sent_at",
            "questionnaires.updated_at",
            "questionnaires.completed_at",
            "questionnaires.needs_attention",
            "questionnaires.attention_raised_at",
            "questionnaires.attention_seen_at",
            "questionnaires.attention_overdue_at",
        ],
        label: "which questionnaire was sent, and when it was sent, saved and finished; whether an answer asked for my prompt attention (a yes or no, never the answer itself), and when I followed it up",
    },
    PlainRecord {
        columns: &[
            "good_faith_estimates.made_at",
            "good_faith_estimates.made_by",
            "good_faith_estimates.due_because",
            "good_faith_estimates.due_from",
            "good_faith_estimates.service_on",
            "good_faith_estimates.due_on",
            "good_faith_estimates.given_at",
            "good_faith_estimates.given_how",
        ],
        label: "for a Good Faith Estimate of your costs: when it was asked for or a service scheduled, the day it was due, and when and how it was given (never what it says, which is encrypted)",
    },
    PlainRecord {
        columns: &[
            "request_history.at",
            "request_history.actor",
            "request_history.event",
            "request_history.detail",
            "request_notes.author",
            "request_notes.created_at",
        ],
        label: "the request’s history: what happened to it, when and by whom, such as a change of status, a booking, a reminder sent, a questionnaire needing attention, or a note written (never what the note says)",
    },
    PlainRecord {
        columns: &[
            "outbox.kind",
            "outbox.created_at",
            "outbox.status",
            "outbox.sent_at",
            "outbox.last_error",
        ],
        label: "which emails were sent about the request, and when (never what they say); when one could not be delivered, the mail server’s answer, which may repeat the address it was sent to",
    },
    PlainRecord {
        columns: &[
            "audit_log.at",
            "audit_log.actor",
            "audit_log.action",
            "audit_log.request_id",
            "audit_log.detail",
        ],
        label: "the practice’s audit log: who did what to which request and when, such as a change of status; it is kept after the request is deleted, without your name or anything you wrote",
    },
];

/// The plain columns of the tables about a request that say nothing about the person: ids,
/// keys that join rows, the link's random secret, and the mail queue's own bookkeeping.
pub const NOT_ABOUT_THE_PERSON: &[&str] = &[
    "consultation_requests.id",
    "consultation_requests.link_secret",
    "request_history.id",
    "request_history.request_id",
    "request_notes.id",
    "request_notes.request_id",
    "bookings.id",
    "bookings.request_id",
    "bookings.sequence",
    "booking_changes.id",
    "booking_changes.booking_id",
    "booking_changes.sequence",
    "booking_reminders.id",
    "booking_reminders.booking_id",
    "booking_reminders.booking_change_id",
    "booking_reminders.outbox_id",
    "questionnaires.id",
    "questionnaires.request_id",
    "good_faith_estimates.id",
    "good_faith_estimates.request_id",
    "outbox.id",
    "outbox.request_id",
    "outbox.booking_change_id",
    "outbox.attempts",
    "outbox.permanent_failures",
    "outbox.next_attempt_at",
    "outbox.claimed_until",
    "outbox.sent_to",
    "audit_log.id",
];

/// What the notice states, decided from the config.
pub struct PrivacyFacts {
    /// Everything the form collects, in the form's order.
    pub collected: Vec<&'static str>,
    /// What the form collects and is encrypted at rest.
    pub encrypted: Vec<&'static str>,
    /// What the form collects and is stored as plain text.
    pub plain: Vec<&'static str>,
    /// What else is kept with a request as plain text ([`KEPT_PLAIN`]).
    pub kept_plain: Vec<&'static str>,
    /// The database is PostgreSQL (possibly hosted by a provider) rather than SQLite on the
    /// server itself.
    pub postgres: bool,
    /// An SMTP server is configured: emails are sent.
    pub mail: bool,
    /// The person gets an acknowledgement email (mail on and `contact_form.acknowledge`).
    pub acknowledge: bool,
    /// Days a closed request that never reached a consultation is kept.
    pub keep_closed_days: u64,
    /// Days a closed request that reached a consultation or went further is kept.
    pub keep_consulted_days: u64,
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
            kept_plain: KEPT_PLAIN.iter().map(|r| r.label).collect(),
            postgres: config.database.url.is_some(),
            mail,
            acknowledge: mail && config.form.acknowledge,
            keep_closed_days: config.admin.keep_closed_days,
            keep_consulted_days: config.admin.keep_consulted_days,
            keep_spam_days: config.admin.keep_spam_days,
            urgent_reply: practice::wording::within_hours(config.form.urgent_reply_hours),
            insights: config.insights.enabled,
            insights_retention_months: config.insights.retention_months,
        }
    }
}
