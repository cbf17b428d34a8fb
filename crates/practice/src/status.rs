//! Where a consultation request stands along the practice's own KAP process.
//!
//! New → Contacted → Consultation scheduled → Medical evaluation → Preparation → Medication
//! sessions → Integration → Closed. The clinician may move a request to any status (people do
//! not always follow the path in order); closing needs a reason. Every change is recorded in
//! the request's history and the audit log.

/// A request's status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Status {
    New,
    Contacted,
    ConsultationScheduled,
    MedicalEvaluation,
    Preparation,
    MedicationSessions,
    Integration,
    Closed,
}

impl Status {
    pub const ALL: [Status; 8] = [
        Status::New,
        Status::Contacted,
        Status::ConsultationScheduled,
        Status::MedicalEvaluation,
        Status::Preparation,
        Status::MedicationSessions,
        Status::Integration,
        Status::Closed,
    ];

    /// The stored and URL form.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::New => "new",
            Status::Contacted => "contacted",
            Status::ConsultationScheduled => "consultation_scheduled",
            Status::MedicalEvaluation => "medical_evaluation",
            Status::Preparation => "preparation",
            Status::MedicationSessions => "medication_sessions",
            Status::Integration => "integration",
            Status::Closed => "closed",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// The clinician's word for it.
    pub fn label(self) -> &'static str {
        match self {
            Status::New => "New",
            Status::Contacted => "Contacted",
            Status::ConsultationScheduled => "Consultation scheduled",
            Status::MedicalEvaluation => "Medical evaluation",
            Status::Preparation => "Preparation",
            Status::MedicationSessions => "Medication sessions",
            Status::Integration => "Integration",
            Status::Closed => "Closed",
        }
    }
}

/// Why a request was closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ClosedReason {
    NotAFit,
    NoResponse,
    ReferredElsewhere,
    Completed,
}

impl ClosedReason {
    pub const ALL: [ClosedReason; 4] = [
        ClosedReason::NotAFit,
        ClosedReason::NoResponse,
        ClosedReason::ReferredElsewhere,
        ClosedReason::Completed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ClosedReason::NotAFit => "not_a_fit",
            ClosedReason::NoResponse => "no_response",
            ClosedReason::ReferredElsewhere => "referred_elsewhere",
            ClosedReason::Completed => "completed",
        }
    }

    pub fn parse(s: &str) -> Option<ClosedReason> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            ClosedReason::NotAFit => "Not a fit",
            ClosedReason::NoResponse => "No response",
            ClosedReason::ReferredElsewhere => "Referred elsewhere",
            ClosedReason::Completed => "Completed",
        }
    }
}

/// A requested change of status, checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StatusChange {
    pub to: Status,
    pub reason: Option<ClosedReason>,
}

/// Why a status change is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StatusChangeError {
    #[error("Choose a status from the list")]
    UnknownStatus,
    #[error("Choose why the request is being closed")]
    ReasonNeeded,
    #[error("A reason is only given when closing a request")]
    ReasonNotExpected,
}

impl StatusChange {
    /// Checks a change given as the form's strings.
    pub fn parse(status: &str, reason: &str) -> Result<StatusChange, StatusChangeError> {
        let to = Status::parse(status.trim()).ok_or(StatusChangeError::UnknownStatus)?;
        let reason = reason.trim();
        match (to, reason.is_empty()) {
            (Status::Closed, true) => Err(StatusChangeError::ReasonNeeded),
            (Status::Closed, false) => ClosedReason::parse(reason)
                .map(|r| StatusChange {
                    to,
                    reason: Some(r),
                })
                .ok_or(StatusChangeError::ReasonNeeded),
            (_, true) => Ok(StatusChange { to, reason: None }),
            (_, false) => Err(StatusChangeError::ReasonNotExpected),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_in_process_order() {
        for s in Status::ALL {
            assert_eq!(Status::parse(s.as_str()), Some(s));
        }
        assert_eq!(Status::ALL[0], Status::New);
        assert_eq!(Status::ALL[7], Status::Closed);
    }

    #[test]
    fn closing_needs_a_reason_and_only_closing_takes_one() {
        assert_eq!(
            StatusChange::parse("contacted", ""),
            Ok(StatusChange {
                to: Status::Contacted,
                reason: None
            })
        );
        assert_eq!(
            StatusChange::parse("closed", ""),
            Err(StatusChangeError::ReasonNeeded)
        );
        assert_eq!(
            StatusChange::parse("closed", "completed"),
            Ok(StatusChange {
                to: Status::Closed,
                reason: Some(ClosedReason::Completed)
            })
        );
        assert_eq!(
            StatusChange::parse("contacted", "completed"),
            Err(StatusChangeError::ReasonNotExpected)
        );
        assert_eq!(
            StatusChange::parse("archived", ""),
            Err(StatusChangeError::UnknownStatus)
        );
    }
}
