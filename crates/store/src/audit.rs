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
        SignIn = "sign_in" => "Signed in",
        SignInFailed = "sign_in_failed" => "Sign-in failed",
        SignOut = "sign_out" => "Signed out",
        TwoFactorEnrolled = "two_factor_enrolled" => "Two-factor sign-in turned on",
        RecoveryCodeUsed = "recovery_code_used" => "Recovery code used",
        ViewRequest = "view_request" => "Viewed a request",
        StatusChange = "status_change" => "Changed a status",
        NoteAdded = "note_added" => "Added a note",
        MarkedSpam = "marked_spam" => "Moved to spam",
        MarkedNotSpam = "marked_not_spam" => "Marked not spam",
        MailRetry = "mail_retry" => "Retried a notification",
        Export = "export" => "Exported requests",
        Delete = "delete" => "Deleted a request",
        Purge = "purge" => "Deleted by retention",
        AuditExport = "audit_export" => "Exported the audit log",
        AccountAdded = "account_added" => "Account added",
        AccountRemoved = "account_removed" => "Account removed",
        PasswordChanged = "password_changed" => "Password changed",
        PasswordResetRequested = "password_reset_requested" => "Asked for a password reset link",
        BookingRulesChanged = "booking_rules_changed" => "Changed the booking settings",
        CalendarLinkReplaced = "calendar_link_replaced" => "Replaced the calendar feed link",
        BookingHeld = "booking_held" => "A consultation time was held",
        BookingCancelled = "booking_cancelled" => "A consultation was cancelled",
        BookingConfirmed = "booking_confirmed" => "Confirmed a consultation",
        BookingDeclined = "booking_declined" => "Declined a consultation",
        BookingOtherTimeProposed = "booking_other_time_proposed" => "Asked for another consultation time",
        QuestionnairesTurnedOn = "questionnaires_turned_on" => "Turned the questionnaire on",
        QuestionnairesTurnedOff = "questionnaires_turned_off" => "Turned the questionnaire off",
        MeasuresSent = "measures_sent" => "Sent the measures again",
        DocumentsSent = "documents_sent" => "Sent documents to sign",
        EstimateMade = "estimate_made" => "Made a Good Faith Estimate",
        EstimateGiven = "estimate_given" => "Gave a Good Faith Estimate",
        AttentionFollowedUp = "attention_followed_up" => "Marked a questionnaire as followed up",
        QuestionnaireMailConfirmed = "questionnaire_mail_confirmed" => "Confirmed that urgent questionnaire notices reach the notice address",
        PracticeDetailsSaved = "practice_details_saved" => "Saved the practice's details",
        WordsPublished = "words_published" => "Published the page's words",
        WordsRestored = "words_restored" => "Restored earlier words",
        PageAdded = "page_added" => "Added a page",
        PageChanged = "page_changed" => "Changed a page",
        PageRemoved = "page_removed" => "Removed a page",
        GoingLiveReviewed = "going_live_reviewed" => "Confirmed a part of the site as reviewed",
        BackupSettingsSaved = "backup_settings_saved" => "Saved where and when backups are made",
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
