//! Consultation requests: what a person sends through the contact form, and what makes it valid.
//!
//! The form is the one thing the page asks a visitor to do, often at a hard moment. The rules
//! here accept what a person can reasonably type, explain every problem in words they can act
//! on, and never turn anyone away silently: someone outside the licensed states or under 18 is
//! still heard, and the request is flagged for the clinician.

use super::us_states;

mod decide;
pub use decide::{Decision, FormAge, Rules, Sent, Store, decide};

/// Longest name, in characters.
pub const NAME_MAX: usize = 200;
/// Longest email address (RFC 5321).
pub const EMAIL_MAX: usize = 254;
pub const PHONE_MAX: usize = 40;
/// Longest "What brings you to consider KAP?" answer.
pub const MESSAGE_MAX: usize = 2000;
pub const REFERRAL_MAX: usize = 200;

/// The line kept at the top of the message when a call is wanted and a voicemail is all right.
pub const VOICEMAIL_YES: &str = "Voicemail: all right to leave a message.";
/// The line kept at the top of the message when a call is wanted and no voicemail is wanted.
pub const VOICEMAIL_NO: &str = "Voicemail: please do not leave a message.";

/// The `state` value for "outside the US".
pub const OUTSIDE_US: &str = "outside-us";

crate::text_forms! {
    /// How the person prefers to be reached.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum ContactMethod {
        Email = "email" => "Email",
        Phone = "phone" => "Phone",
        Either = "either" => "Either is fine",
    }
}

crate::text_forms! {
    /// Whether the person is an adult, or a minor whose parent or guardian would take part.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum AgeGroup {
        Adult = "adult",
        Minor = "minor",
    }
}

crate::text_forms! {
    /// Why a request was put in the spam folder.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum SpamReason {
        /// The hidden field that people never see was filled in.
        Honeypot = "honeypot",
        /// The form was sent faster than a person can fill it in.
        TooFast = "too_fast",
        /// The clinician moved it there.
        Clinician = "clinician",
    }
}

crate::text_forms! {
    /// Whom the consultation is for: the person writing, or someone they care for (such as a
    /// parent writing for their child).
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum ForWhom {
        Myself = "myself" => "The person writing",
        SomeoneElse = "someone_else" => "Someone the person writing cares for",
    }
}

/// Where the person will be during sessions: a US state code, or outside the US.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    State(String),
    OutsideUs,
}

impl Location {
    pub fn as_str(&self) -> &str {
        match self {
            Location::State(code) => code,
            Location::OutsideUs => OUTSIDE_US,
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        if s == OUTSIDE_US {
            Some(Location::OutsideUs)
        } else {
            us_states::name(s).map(|_| Location::State(s.to_ascii_uppercase()))
        }
    }

    pub fn label(&self) -> &str {
        match self {
            Location::State(code) => us_states::name(code).unwrap_or(code),
            Location::OutsideUs => "Outside the US",
        }
    }
}

/// What the clinician should notice before replying.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Flags {
    /// The person will be somewhere the clinician is not licensed.
    pub outside_licensed_states: bool,
    /// The person the consultation is for is under 18: a parent or guardian must take part.
    pub minor: bool,
}

/// A valid request, ready to store. Personal fields are plaintext here and sealed by the store.
#[derive(Clone, PartialEq, Eq)]
pub struct NewConsultationRequest {
    pub name: String,
    pub email: String,
    pub phone: Option<String>,
    pub contact_method: ContactMethod,
    pub location: Location,
    pub for_whom: ForWhom,
    /// The age of the person the consultation is for.
    pub age_group: AgeGroup,
    pub message: Option<String>,
    pub referral_source: Option<String>,
    pub flags: Flags,
}

impl NewConsultationRequest {
    /// Someone under 18 wrote for themselves: they are heard, and told a parent or guardian
    /// will need to be involved.
    pub fn minor_writing_alone(&self) -> bool {
        self.for_whom == ForWhom::Myself && self.age_group == AgeGroup::Minor
    }
}

// Never prints personal fields, so a stray `{:?}` cannot leak them into a log.
crate::debug_shows!(NewConsultationRequest {
    contact_method,
    flags
});

/// The form as sent, every value a string (absent fields are empty).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(default)]
pub struct ConsultationForm {
    pub name: String,
    pub email: String,
    pub phone: String,
    pub contact_method: String,
    /// "yes" or "no": whether a voicemail is all right, asked when a call is wanted.
    pub voicemail: String,
    pub state: String,
    /// "myself" or "someone_else".
    pub for_whom: String,
    pub age_group: String,
    pub message: String,
    pub referral_source: String,
    pub consent: String,
}

/// The form's fields, in the order they appear (for the error summary).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Field {
    Name,
    Email,
    Phone,
    ContactMethod,
    Voicemail,
    State,
    ForWhom,
    AgeGroup,
    Message,
    ReferralSource,
    Consent,
}

impl Field {
    /// The HTML name, which is also the id of the input the error summary links to.
    pub fn name(self) -> &'static str {
        match self {
            Field::Name => "name",
            Field::Email => "email",
            Field::Phone => "phone",
            Field::ContactMethod => "contact_method",
            Field::Voicemail => "voicemail",
            Field::State => "state",
            Field::ForWhom => "for_whom",
            Field::AgeGroup => "age_group",
            Field::Message => "message",
            Field::ReferralSource => "referral_source",
            Field::Consent => "consent",
        }
    }

    /// The id of the element the error summary links to (the first radio of a group).
    pub fn target_id(self) -> &'static str {
        match self {
            Field::ContactMethod => "contact_method-email",
            Field::Voicemail => "voicemail-yes",
            Field::ForWhom => "for_whom-myself",
            Field::AgeGroup => "age_group-adult",
            f => f.name(),
        }
    }
}

/// One problem, worded for the person who made it (GOV.UK style: say what to do).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    pub field: Field,
    pub message: String,
}

/// What the practice is licensed for, the only outside fact validation needs.
pub struct Licence<'a> {
    pub states: &'a [String],
}

/// One of a question's fixed answers, read with `parse`; else the problem to show: `missing`
/// when nothing was chosen, `unknown` for an answer the form does not offer.
fn choice<T>(
    sent: &str,
    parse: impl Fn(&str) -> Option<T>,
    missing: &'static str,
    unknown: &'static str,
) -> Result<T, &'static str> {
    let sent = sent.trim();
    parse(sent).ok_or(if sent.is_empty() { missing } else { unknown })
}

impl ConsultationForm {
    /// Checks every field; returns the request or every problem, in form order.
    pub fn validate(
        &self,
        licence: &Licence<'_>,
    ) -> Result<NewConsultationRequest, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut err = |field, message: &str| {
            errors.push(FieldError {
                field,
                message: message.to_string(),
            })
        };

        let name = clean_line(&self.name);
        match check_text(&name, NAME_MAX, false) {
            _ if name.is_empty() => err(Field::Name, "Enter your name"),
            Err(TextProblem::TooLong) => err(Field::Name, "Name must be 200 characters or fewer"),
            Err(TextProblem::LineBreak) => err(Field::Name, "Name must be on one line"),
            Err(TextProblem::Control) => err(
                Field::Name,
                "Name must only include letters, spaces and punctuation",
            ),
            Ok(()) => {}
        }

        let email = self.email.trim().to_string();
        match check_text(&email, EMAIL_MAX, false) {
            _ if email.is_empty() => err(Field::Email, "Enter your email address"),
            Err(TextProblem::TooLong) => err(
                Field::Email,
                "Email address must be 254 characters or fewer",
            ),
            Err(_) => err(
                Field::Email,
                "Enter an email address in the correct format, like name@example.com",
            ),
            Ok(()) if !valid_email(&email) => err(
                Field::Email,
                "Enter an email address in the correct format, like name@example.com",
            ),
            Ok(()) => {}
        }

        let phone = clean_line(&self.phone);
        match check_text(&phone, PHONE_MAX, false) {
            _ if phone.is_empty() => {}
            Err(TextProblem::TooLong) => {
                err(Field::Phone, "Phone number must be 40 characters or fewer")
            }
            Err(_) => err(Field::Phone, "Enter a phone number, like 555 010 0100"),
            Ok(()) if !valid_phone(&phone) => {
                err(Field::Phone, "Enter a phone number, like 555 010 0100")
            }
            Ok(()) => {}
        }

        let contact_method = ContactMethod::parse(self.contact_method.trim());
        match contact_method {
            None if self.contact_method.trim().is_empty() => err(
                Field::ContactMethod,
                "Choose how you would like to be contacted",
            ),
            None => err(Field::ContactMethod, "Choose email, phone, or either"),
            Some(ContactMethod::Phone | ContactMethod::Either) if phone.is_empty() => err(
                Field::Phone,
                "Enter a phone number, or choose to be contacted by email",
            ),
            Some(_) => {}
        }

        // Whether a voicemail is all right matters only when a call is wanted; it is kept at
        // the top of the message, which is sealed like the other personal fields.
        let voicemail = match (contact_method, self.voicemail.trim()) {
            (Some(ContactMethod::Phone | ContactMethod::Either), "yes") => Some(VOICEMAIL_YES),
            (Some(ContactMethod::Phone | ContactMethod::Either), "no") => Some(VOICEMAIL_NO),
            (_, "" | "yes" | "no") => None,
            (_, _) => {
                err(Field::Voicemail, "Choose whether a voicemail is all right");
                None
            }
        };

        let location = choice(
            &self.state,
            Location::parse,
            "Choose the state you will be in during sessions, or “Outside the US”",
            "Choose a state from the list, or “Outside the US”",
        )
        .map_err(|m| err(Field::State, m))
        .ok();
        let for_whom = choice(
            &self.for_whom,
            ForWhom::parse,
            "Choose whom the consultation is for",
            "Choose “Myself” or “Someone I care for, such as my child”",
        )
        .map_err(|m| err(Field::ForWhom, m))
        .ok();
        let age_group = choice(
            &self.age_group,
            AgeGroup::parse,
            "Choose whether the person the consultation is for is 18 or older",
            "Choose “18 or older” or “Under 18”",
        )
        .map_err(|m| err(Field::AgeGroup, m))
        .ok();

        let message = clean_block(&self.message);
        match check_text(&message, MESSAGE_MAX, true) {
            Err(TextProblem::TooLong) => err(
                Field::Message,
                &format!(
                    "Your message must be {MESSAGE_MAX} characters or fewer (it is {})",
                    message.chars().count()
                ),
            ),
            Err(_) => err(
                Field::Message,
                "Your message includes characters that cannot be saved; please remove them",
            ),
            Ok(()) => {}
        }

        let referral = clean_line(&self.referral_source);
        match check_text(&referral, REFERRAL_MAX, false) {
            Err(TextProblem::TooLong) => err(
                Field::ReferralSource,
                "This answer must be 200 characters or fewer",
            ),
            Err(TextProblem::LineBreak) => {
                err(Field::ReferralSource, "This answer must be on one line")
            }
            Err(TextProblem::Control) => err(
                Field::ReferralSource,
                "This answer includes characters that cannot be saved; please remove them",
            ),
            Ok(()) => {}
        }

        if self.consent.trim() != "yes" {
            err(
                Field::Consent,
                "Agree to the privacy notice to send your request",
            );
        }

        match (contact_method, location, for_whom, age_group) {
            (Some(contact_method), Some(location), Some(for_whom), Some(age_group))
                if errors.is_empty() =>
            {
                let outside_licensed_states = match &location {
                    Location::OutsideUs => true,
                    Location::State(code) => !licence.states.iter().any(|s| s == code),
                };
                Ok(NewConsultationRequest {
                    name,
                    email,
                    phone: non_empty(phone),
                    contact_method,
                    location,
                    for_whom,
                    age_group,
                    message: match voicemail {
                        Some(line) if message.is_empty() => Some(line.to_string()),
                        Some(line) => Some(format!("{line}\n\n{message}")),
                        None => non_empty(message),
                    },
                    referral_source: non_empty(referral),
                    flags: Flags {
                        outside_licensed_states,
                        minor: age_group == AgeGroup::Minor,
                    },
                })
            }
            _ => Err(errors),
        }
    }
}

fn non_empty(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}

/// Trims a single-line value. Line breaks are kept, so that they can be refused.
fn clean_line(s: &str) -> String {
    s.trim().to_string()
}

/// Trims a multi-line value and normalises line endings to `\n`.
fn clean_block(s: &str) -> String {
    s.replace("\r\n", "\n")
        .replace('\r', "\n")
        .trim()
        .to_string()
}

enum TextProblem {
    TooLong,
    LineBreak,
    Control,
}

fn check_text(s: &str, max: usize, multiline: bool) -> Result<(), TextProblem> {
    if s.chars().count() > max {
        return Err(TextProblem::TooLong);
    }
    for c in s.chars() {
        if c == '\n' || c == '\r' || c == '\u{2028}' || c == '\u{2029}' {
            if !multiline {
                return Err(TextProblem::LineBreak);
            }
        } else if (c.is_control() && c != '\t')
            || ('\u{fdd0}'..='\u{fdef}').contains(&c)
            || is_bidi_control(c)
        {
            return Err(TextProblem::Control);
        }
    }
    Ok(())
}

/// Characters that reorder the text around them (they could disguise what a name or message
/// says in the clinician's inbox).
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}')
}

/// A practical check: something@domain.tld, no spaces, no quotes or angle brackets, and none of
/// `%`, `?`, `&`, `#`, which would let an address add headers or a body to a `mailto:` link.
pub fn valid_email(s: &str) -> bool {
    let Some((local, domain)) = s.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && local.len() <= 64
        && !local.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
        && domain
            .chars()
            .all(|c| c.is_alphanumeric() || c == '.' || c == '-')
        && !s
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "<>\"(),;:[]\\%?&#".contains(c))
}

/// Digits with the usual separators; between 7 and 15 digits (E.164 allows 15).
pub fn valid_phone(s: &str) -> bool {
    let digits = s.chars().filter(char::is_ascii_digit).count();
    (7..=15).contains(&digits)
        && s.chars()
            .all(|c| c.is_ascii_digit() || " +-().ext".contains(c))
}

#[cfg(test)]
mod tests;
