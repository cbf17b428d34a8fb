//! The audit log's vocabulary: who did what, when, to which request.
//!
//! Every action on a consultation request, every sign-in (and failed one), every export,
//! deletion and automatic purge writes exactly one row, in the same transaction as the action
//! itself. A row names the actor, the action, the request's id and a short detail such as
//! "new → contacted" — never a personal field. The log is append-only in the database.

practice::text_forms! {
    /// What was done.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Action {
        SignIn = "sign_in",
        SignInFailed = "sign_in_failed",
        SignOut = "sign_out",
        TwoFactorEnrolled = "two_factor_enrolled",
        RecoveryCodeUsed = "recovery_code_used",
        ViewRequest = "view_request",
        StatusChange = "status_change",
        NoteAdded = "note_added",
        MarkedSpam = "marked_spam",
        MarkedNotSpam = "marked_not_spam",
        MailRetry = "mail_retry",
        Export = "export",
        Delete = "delete",
        Purge = "purge",
        AuditExport = "audit_export",
        AccountAdded = "account_added",
        AccountRemoved = "account_removed",
        PasswordChanged = "password_changed",
        BookingRulesChanged = "booking_rules_changed",
        CalendarLinkReplaced = "calendar_link_replaced",
        BookingHeld = "booking_held",
        BookingCancelled = "booking_cancelled",
        BookingConfirmed = "booking_confirmed",
        BookingDeclined = "booking_declined",
        BookingOtherTimeProposed = "booking_other_time_proposed",
        QuestionnairesTurnedOn = "questionnaires_turned_on",
        QuestionnairesTurnedOff = "questionnaires_turned_off",
        MeasuresSent = "measures_sent",
        AttentionFollowedUp = "attention_followed_up",
        QuestionnaireMailConfirmed = "questionnaire_mail_confirmed",
        PracticeDetailsSaved = "practice_details_saved",
        WordsPublished = "words_published",
        WordsRestored = "words_restored",
        PageAdded = "page_added",
        PageChanged = "page_changed",
        PageRemoved = "page_removed",
    }
}

impl Action {
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
