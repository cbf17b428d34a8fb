//! The outbox's words: what kind of mail a row is, where it stands, and what came of sending it.
//! The store writes and reads these columns by the text forms declared here and nowhere else;
//! the mail layer (above the store) writes the emails they name.

use jiff::Timestamp;

crate::text_forms! {
    /// What kind of mail an outbox row is.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum MailKind {
        /// To the practice: "a new request arrived", with no personal detail.
        NewRequestNotice = "new_request_notice",
        /// To the person: "we received your request", with no echo of what they wrote.
        Acknowledgement = "acknowledgement",
        /// To the person: the time they chose is held, with a tentative invitation.
        BookingHeld = "booking_held",
        /// To the practice: a time was chosen and waits for confirmation (no personal detail).
        BookingHeldNotice = "booking_held_notice",
        /// To the person: the clinician confirmed the time, with the final invitation.
        BookingConfirmed = "booking_confirmed",
        /// To the person: the clinician declined, with their message if they wrote one.
        BookingDeclined = "booking_declined",
        /// To the person: the clinician asks them to choose another time.
        BookingOtherTime = "booking_other_time",
        /// To the person: their cancellation, with the calendar's cancellation.
        BookingCancelled = "booking_cancelled",
        /// To the practice: a person cancelled (no personal detail).
        BookingCancelledNotice = "booking_cancelled_notice",
        /// To the person: a reminder of their confirmed consultation, with how to join.
        BookingReminder = "booking_reminder",
        /// To the practice: the day's consultations (times, ways of meeting, references; no names).
        DailyAgenda = "daily_agenda",
        /// To the person: the clinician asks them to answer the measures again, with the link.
        QuestionnaireLink = "questionnaire_link",
        /// To the practice, marked urgent: a questionnaire needs attention soon (no detail).
        QuestionnaireAttentionNotice = "questionnaire_attention_notice",
        /// To the practice: a test that urgent notices reach the notice address, with the code
        /// that confirms it (no personal detail).
        QuestionnaireMailCheck = "questionnaire_mail_check",
        /// To the practice, marked urgent: an answer that needed attention was not followed up
        /// within the time the person was told (no detail).
        QuestionnaireAttentionOverdue = "questionnaire_attention_overdue",
    }
}

impl MailKind {
    /// Whether it goes to the person (else to the practice's notification address).
    pub fn to_person(self) -> bool {
        !matches!(
            self,
            MailKind::NewRequestNotice
                | MailKind::BookingHeldNotice
                | MailKind::BookingCancelledNotice
                | MailKind::DailyAgenda
                | MailKind::QuestionnaireAttentionNotice
                | MailKind::QuestionnaireMailCheck
                | MailKind::QuestionnaireAttentionOverdue
        )
    }
}

crate::text_forms! {
    /// Where an outbox row stands.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum OutboxStatus {
        /// Waiting to be sent, or to be tried again.
        Pending = "pending",
        /// Accepted by the mail server.
        Sent = "sent",
        /// Given up after permanent failures; kept for the inbox to show.
        Failed = "failed",
    }
}

/// A booking as it was when the change an email is about was made.
#[derive(Clone)]
pub struct BookingMail {
    pub booking_id: i64,
    pub status: crate::booking::BookingStatus,
    pub start: Timestamp,
    pub end: Timestamp,
    pub format: crate::open_times::ConsultationFormat,
    pub sequence: i64,
    /// The clinician's message to the person, with a decline.
    pub message: Option<String>,
    /// Whether the person made the change themselves (else the practice did: a decision, or a
    /// cancellation because the request was closed).
    pub by_person: bool,
}

/// What happened when a worker tried to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Delivery {
    Sent,
    /// Try again at `next_attempt_at`; `permanent` counts toward giving up.
    Retry {
        next_attempt_at: Timestamp,
        permanent: bool,
        error: String,
    },
    /// Given up: kept for the inbox to show.
    Failed {
        error: String,
    },
}
