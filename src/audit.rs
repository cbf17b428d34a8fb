//! The audit log's vocabulary: who did what, when, to which request.
//!
//! Every action on a consultation request, every sign-in (and failed one), every export,
//! deletion and automatic purge writes exactly one row, in the same transaction as the action
//! itself. A row names the actor, the action, the request's id and a short detail such as
//! "new → contacted" — never a personal field. The log is append-only in the database.

/// What was done.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    SignIn,
    SignInFailed,
    SignOut,
    TwoFactorEnrolled,
    RecoveryCodeUsed,
    ViewRequest,
    StatusChange,
    NoteAdded,
    MarkedSpam,
    MarkedNotSpam,
    MailRetry,
    Export,
    Delete,
    Purge,
    AuditExport,
    AccountAdded,
    AccountRemoved,
    PasswordChanged,
    BookingRulesChanged,
    CalendarLinkReplaced,
    BookingHeld,
    BookingCancelled,
    BookingConfirmed,
    BookingDeclined,
    BookingOtherTimeProposed,
    QuestionnairesTurnedOn,
    QuestionnairesTurnedOff,
    MeasuresSent,
    AttentionFollowedUp,
    QuestionnaireMailConfirmed,
    PracticeDetailsSaved,
    WordsPublished,
    WordsRestored,
    PageAdded,
    PageChanged,
    PageRemoved,
}

impl Action {
    /// Every action, for reading stored rows back.
    pub const ALL: [Action; 36] = [
        Action::SignIn,
        Action::SignInFailed,
        Action::SignOut,
        Action::TwoFactorEnrolled,
        Action::RecoveryCodeUsed,
        Action::ViewRequest,
        Action::StatusChange,
        Action::NoteAdded,
        Action::MarkedSpam,
        Action::MarkedNotSpam,
        Action::MailRetry,
        Action::Export,
        Action::Delete,
        Action::Purge,
        Action::AuditExport,
        Action::AccountAdded,
        Action::AccountRemoved,
        Action::PasswordChanged,
        Action::BookingRulesChanged,
        Action::CalendarLinkReplaced,
        Action::BookingHeld,
        Action::BookingCancelled,
        Action::BookingConfirmed,
        Action::BookingDeclined,
        Action::BookingOtherTimeProposed,
        Action::QuestionnairesTurnedOn,
        Action::QuestionnairesTurnedOff,
        Action::MeasuresSent,
        Action::AttentionFollowedUp,
        Action::QuestionnaireMailConfirmed,
        Action::PracticeDetailsSaved,
        Action::WordsPublished,
        Action::WordsRestored,
        Action::PageAdded,
        Action::PageChanged,
        Action::PageRemoved,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::SignIn => "sign_in",
            Action::SignInFailed => "sign_in_failed",
            Action::SignOut => "sign_out",
            Action::TwoFactorEnrolled => "two_factor_enrolled",
            Action::RecoveryCodeUsed => "recovery_code_used",
            Action::ViewRequest => "view_request",
            Action::StatusChange => "status_change",
            Action::NoteAdded => "note_added",
            Action::MarkedSpam => "marked_spam",
            Action::MarkedNotSpam => "marked_not_spam",
            Action::MailRetry => "mail_retry",
            Action::Export => "export",
            Action::Delete => "delete",
            Action::Purge => "purge",
            Action::AuditExport => "audit_export",
            Action::AccountAdded => "account_added",
            Action::AccountRemoved => "account_removed",
            Action::PasswordChanged => "password_changed",
            Action::BookingRulesChanged => "booking_rules_changed",
            Action::CalendarLinkReplaced => "calendar_link_replaced",
            Action::BookingHeld => "booking_held",
            Action::BookingCancelled => "booking_cancelled",
            Action::BookingConfirmed => "booking_confirmed",
            Action::BookingDeclined => "booking_declined",
            Action::BookingOtherTimeProposed => "booking_other_time_proposed",
            Action::QuestionnairesTurnedOn => "questionnaires_turned_on",
            Action::QuestionnairesTurnedOff => "questionnaires_turned_off",
            Action::MeasuresSent => "measures_sent",
            Action::AttentionFollowedUp => "attention_followed_up",
            Action::QuestionnaireMailConfirmed => "questionnaire_mail_confirmed",
            Action::PracticeDetailsSaved => "practice_details_saved",
            Action::WordsPublished => "words_published",
            Action::WordsRestored => "words_restored",
            Action::PageAdded => "page_added",
            Action::PageChanged => "page_changed",
            Action::PageRemoved => "page_removed",
        }
    }

    /// Words for the audit page.
    pub fn label(self) -> &'static str {
        match self {
            Action::SignIn => "Signed in",
            Action::SignInFailed => "Sign-in failed",
            Action::SignOut => "Signed out",
            Action::TwoFactorEnrolled => "Two-factor sign-in turned on",
            Action::RecoveryCodeUsed => "Recovery code used",
            Action::ViewRequest => "Viewed a request",
            Action::StatusChange => "Changed a status",
            Action::NoteAdded => "Added a note",
            Action::MarkedSpam => "Moved to spam",
            Action::MarkedNotSpam => "Marked not spam",
            Action::MailRetry => "Retried a notification",
            Action::Export => "Exported requests",
            Action::Delete => "Deleted a request",
            Action::Purge => "Deleted by retention",
            Action::AuditExport => "Exported the audit log",
            Action::AccountAdded => "Account added",
            Action::AccountRemoved => "Account removed",
            Action::PasswordChanged => "Password changed",
            Action::BookingRulesChanged => "Changed the booking settings",
            Action::CalendarLinkReplaced => "Replaced the calendar feed link",
            Action::BookingHeld => "A consultation time was held",
            Action::BookingCancelled => "A consultation was cancelled",
            Action::BookingConfirmed => "Confirmed a consultation",
            Action::BookingDeclined => "Declined a consultation",
            Action::BookingOtherTimeProposed => "Asked for another consultation time",
            Action::QuestionnairesTurnedOn => "Turned the questionnaire on",
            Action::QuestionnairesTurnedOff => "Turned the questionnaire off",
            Action::MeasuresSent => "Sent the measures again",
            Action::AttentionFollowedUp => "Marked a questionnaire as followed up",
            Action::QuestionnaireMailConfirmed => {
                "Confirmed that urgent questionnaire notices reach the notice address"
            }
            Action::PracticeDetailsSaved => "Saved the practice's details",
            Action::WordsPublished => "Published the page's words",
            Action::WordsRestored => "Restored earlier words",
            Action::PageAdded => "Added a page",
            Action::PageChanged => "Changed a page",
            Action::PageRemoved => "Removed a page",
        }
    }
}

/// One row to write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The signed-in account's email, or `system` for automatic jobs, `cli` for the command line.
    pub actor: String,
    pub action: Action,
    pub request_id: Option<i64>,
    /// A short, non-personal detail.
    pub detail: Option<String>,
}

impl Entry {
    pub fn new(actor: &str, action: Action) -> Self {
        Entry {
            actor: actor.to_string(),
            action,
            request_id: None,
            detail: None,
        }
    }

    pub fn request(mut self, id: i64) -> Self {
        self.request_id = Some(id);
        self
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }
}
