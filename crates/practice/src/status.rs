//! Where a consultation request stands along the practice's own KAP process.
//!
//! New → Contacted → Consultation scheduled → Medical evaluation → Preparation → Medication
//! sessions → Integration → Closed. The clinician may move a request to any status (people do
//! not always follow the path in order); closing needs a reason. Every change is recorded in
//! the request's history and the audit log.

crate::text_forms! {
    /// A request's status.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub enum Status {
        New = "new" => "New",
        Contacted = "contacted" => "Contacted",
        ConsultationScheduled = "consultation_scheduled" => "Consultation scheduled",
        MedicalEvaluation = "medical_evaluation" => "Medical evaluation",
        Preparation = "preparation" => "Preparation",
        MedicationSessions = "medication_sessions" => "Medication sessions",
        Integration = "integration" => "Integration",
        Closed = "closed" => "Closed",
    }
}

impl Status {
    /// Whether a request at this status has reached a consultation (scheduled or further): from
    /// then on it is the start of a clinical record, kept for the longer retention period.
    pub fn reaches_consultation(self) -> bool {
        matches!(
            self,
            Status::ConsultationScheduled
                | Status::MedicalEvaluation
                | Status::Preparation
                | Status::MedicationSessions
                | Status::Integration
        )
    }
}

crate::text_forms! {
    /// Why a request was closed.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub enum ClosedReason {
        NotAFit = "not_a_fit" => "Not a fit",
        NoResponse = "no_response" => "No response",
        ReferredElsewhere = "referred_elsewhere" => "Referred elsewhere",
        Completed = "completed" => "Completed",
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
