//! What becomes of one consultation request: the whole decision, made from what was sent and
//! the practice's rules, with nothing read or written. The web handler carries it out.
//!
//! The order matters and is kept here: a form whose page was open too long is shown again
//! (nothing saved); suspected spam that is not even a valid request is thanked and dropped; a
//! person's mistakes get the form back; a valid request is stored, in the spam folder when it
//! looks like spam (then no mail goes and no step is counted).

use jiff::SignedDuration;

use super::{ConsultationForm, FieldError, Licence, NewConsultationRequest, SpamReason};

/// What the form's token said about when the form was served.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FormAge {
    /// Served this long ago.
    Served(SignedDuration),
    /// Served longer ago than a form may be sent.
    Expired,
}

/// One request as sent (no `Debug`: it holds what the person typed).
#[derive(Clone)]
pub struct Sent<'a> {
    pub form: &'a ConsultationForm,
    /// The field people never see (a bot fills it in).
    pub honeypot: &'a str,
    pub age: FormAge,
}

/// The practice's rules a request is decided by.
#[derive(Clone, Debug)]
pub struct Rules<'a> {
    pub licensed_states: &'a [String],
    /// A form sent sooner than this after it was served was not filled in by a person.
    pub min_fill: SignedDuration,
    /// Whether the practice sends email at all.
    pub mail: bool,
    /// Whether the person gets an acknowledgement by email.
    pub acknowledge: bool,
    /// Whether the practice offers consultation times online now.
    pub offers_times: bool,
}

/// What to do with a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Show the form again with what was typed: its problems, and whether the page had been
    /// open too long (a fresh token goes with it). Nothing is saved.
    Correct {
        errors: Vec<FieldError>,
        expired: bool,
    },
    /// Suspected spam that is not a valid request: the same thank-you as everyone, nothing
    /// stored, no mail.
    Discard(SpamReason),
    /// Store the request, and what goes with it.
    Store(Store),
}

/// A request to store, and what follows from it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Store {
    pub request: NewConsultationRequest,
    /// Why it goes to the spam folder, if it does.
    pub spam: Option<SpamReason>,
    /// The practice is told a request arrived.
    pub notify_practice: bool,
    /// The person is sent an acknowledgement.
    pub acknowledge: bool,
    /// The thank-you page links to the times to choose from (for spam too, so the address
    /// looks the same).
    pub offer_times: bool,
}

/// Decides what becomes of `sent` under `rules`.
pub fn decide(sent: &Sent<'_>, rules: &Rules<'_>) -> Decision {
    let spam = if !sent.honeypot.trim().is_empty() {
        Some(SpamReason::Honeypot)
    } else if matches!(sent.age, FormAge::Served(age) if age < rules.min_fill) {
        Some(SpamReason::TooFast)
    } else {
        None
    };
    let expired = sent.age == FormAge::Expired;
    let licence = Licence {
        states: rules.licensed_states,
    };
    match (sent.form.validate(&licence), spam) {
        (Ok(request), _) if !expired => {
            let mail = spam.is_none() && rules.mail;
            Decision::Store(Store {
                request,
                spam,
                notify_practice: mail,
                acknowledge: mail && rules.acknowledge,
                offer_times: rules.offers_times,
            })
        }
        (Err(_), Some(reason)) => Decision::Discard(reason),
        (result, _) => Decision::Correct {
            errors: result.err().unwrap_or_default(),
            expired,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid() -> ConsultationForm {
        ConsultationForm {
            name: "Ada Lovelace".into(),
            email: "ada@example.com".into(),
            contact_method: "email".into(),
            state: "CA".into(),
            for_whom: "myself".into(),
            age_group: "adult".into(),
            consent: "yes".into(),
            ..ConsultationForm::default()
        }
    }

    fn rules(states: &[String]) -> Rules<'_> {
        Rules {
            licensed_states: states,
            min_fill: SignedDuration::from_secs(3),
            mail: true,
            acknowledge: true,
            offers_times: false,
        }
    }

    fn sent<'a>(form: &'a ConsultationForm, honeypot: &'a str, age: FormAge) -> Sent<'a> {
        Sent {
            form,
            honeypot,
            age,
        }
    }

    /// The decision to store `sent` under `rules` (a test fails on any other).
    fn stored(sent: &Sent<'_>, rules: &Rules<'_>) -> Store {
        match decide(sent, rules) {
            Decision::Store(store) => store,
            _ => panic!("not stored"),
        }
    }

    const HUMAN: FormAge = FormAge::Served(SignedDuration::from_secs(40));

    #[test]
    fn a_valid_request_is_stored_with_both_mails() {
        let states = ["CA".to_string()];
        let form = valid();
        let store = stored(&sent(&form, "", HUMAN), &rules(&states));
        assert_eq!(store.spam, None);
        assert!(store.notify_practice && store.acknowledge);
        assert!(!store.request.flags.outside_licensed_states);
        assert!(!store.offer_times);
    }

    #[test]
    fn mail_follows_the_rules() {
        let states = ["CA".to_string()];
        let form = valid();
        let mut r = rules(&states);
        r.acknowledge = false;
        r.offers_times = true;
        let store = stored(&sent(&form, "", HUMAN), &r);
        assert!(store.notify_practice && !store.acknowledge && store.offer_times);
        r.mail = false;
        let store = stored(&sent(&form, "", HUMAN), &r);
        assert!(!store.notify_practice && !store.acknowledge);
    }

    #[test]
    fn spam_that_is_a_valid_request_is_stored_without_mail() {
        let states = ["CA".to_string()];
        let form = valid();
        let fast = FormAge::Served(SignedDuration::from_secs(1));
        for (honeypot, age, reason) in [
            ("http://spam", HUMAN, SpamReason::Honeypot),
            ("", fast, SpamReason::TooFast),
        ] {
            let store = stored(&sent(&form, honeypot, age), &rules(&states));
            assert_eq!(store.spam, Some(reason));
            assert!(!store.notify_practice && !store.acknowledge);
        }
    }

    #[test]
    fn spam_that_is_not_a_valid_request_is_dropped() {
        let states = ["CA".to_string()];
        let form = ConsultationForm::default();
        assert_eq!(
            decide(&sent(&form, "x", HUMAN), &rules(&states)),
            Decision::Discard(SpamReason::Honeypot)
        );
    }

    #[test]
    fn mistakes_and_an_expired_page_show_the_form_again() {
        let states = ["CA".to_string()];
        let empty = ConsultationForm::default();
        let Decision::Correct { errors, expired } =
            decide(&sent(&empty, "", HUMAN), &rules(&states))
        else {
            panic!("not shown again");
        };
        assert!(!errors.is_empty() && !expired);
        let form = valid();
        assert_eq!(
            decide(&sent(&form, "", FormAge::Expired), &rules(&states)),
            Decision::Correct {
                errors: Vec::new(),
                expired: true
            }
        );
    }

    #[test]
    fn outside_the_licensed_states_is_heard_and_flagged() {
        let states = ["NY".to_string()];
        let form = valid();
        let store = stored(&sent(&form, "", HUMAN), &rules(&states));
        assert!(store.request.flags.outside_licensed_states);
        assert!(store.notify_practice);
    }
}
