//! What people other than the person and the clinician may see — a calendar entry, a video
//! room's address, the host an invitation comes from — never names the treatment.
//!
//! A shared family calendar or a colleague glancing at a phone should learn nothing more than
//! "a consultation". The rule lives here, with the practice's other rules; the calendar writer,
//! the meeting details and the emails ask it.

/// Words that name the treatment (compared without regard to case; "ketamine" also catches
/// "esketamine" and "ketamine-assisted").
const TREATMENT_WORDS: [&str; 3] = ["ketamine", "spravato", "psychedelic"];
/// Abbreviations that name the treatment when they stand as a word ("KAP").
const TREATMENT_ABBREVIATIONS: [&str; 1] = ["kap"];

/// The word in `text` that names the treatment, if any.
pub fn treatment_named_in(text: &str) -> Option<&'static str> {
    let lower = text.to_lowercase();
    TREATMENT_WORDS
        .iter()
        .find(|w| lower.contains(*w))
        .or_else(|| {
            TREATMENT_ABBREVIATIONS.iter().find(|a| {
                lower
                    .split(|c: char| !c.is_alphanumeric())
                    .any(|t| t == **a)
            })
        })
        .copied()
}

/// Whether `text` names the treatment (then it must not reach a calendar).
pub fn names_treatment(text: &str) -> bool {
    treatment_named_in(text).is_some()
}

/// The title a calendar shows for a consultation unless the practice chooses another: what any
/// appointment would say, so a calendar seen by family or colleagues reveals neither the
/// treatment nor that it is therapy.
pub const DEFAULT_EVENT_TITLE: &str = "Appointment";

/// Longest title of a calendar invitation, in characters.
pub const EVENT_TITLE_MAX: usize = 100;

/// Why a title cannot be a calendar invitation's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EventTitleProblem {
    #[error("it is empty")]
    Empty,
    #[error("it is longer than {EVENT_TITLE_MAX} characters")]
    TooLong,
    #[error("it is not on one line")]
    NotOneLine,
    /// The invitation never names the treatment: a calendar is seen by others.
    #[error("it names the treatment (\"{0}\"), which anyone who sees the calendar would read")]
    NamesTreatment(&'static str),
}

/// Checks a title the practice chose for its calendar invitations: one line of 1 to
/// [`EVENT_TITLE_MAX`] characters that does not name the treatment.
pub fn check_event_title(title: &str) -> Result<(), EventTitleProblem> {
    let title = title.trim();
    if title.is_empty() {
        Err(EventTitleProblem::Empty)
    } else if title.chars().count() > EVENT_TITLE_MAX {
        Err(EventTitleProblem::TooLong)
    } else if title.chars().any(char::is_control) {
        Err(EventTitleProblem::NotOneLine)
    } else if let Some(word) = treatment_named_in(title) {
        Err(EventTitleProblem::NamesTreatment(word))
    } else {
        Ok(())
    }
}

/// The host of a site's address: `https://www.example.com:8443/x` → `www.example.com`.
pub fn host_of(base_url: &str) -> &str {
    let rest = base_url
        .split_once("://")
        .map_or(base_url, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    authority.split(':').next().unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_treatment_is_named_by_word_or_standing_abbreviation() {
        assert_eq!(treatment_named_in("Esketamine clinic"), Some("ketamine"));
        assert_eq!(treatment_named_in("The KAP room"), Some("kap"));
        assert_eq!(treatment_named_in("Kapok Street"), None);
        assert!(!names_treatment("Harbor Light"));
    }

    #[test]
    fn an_invitation_title_never_names_the_treatment() {
        assert_eq!(check_event_title(DEFAULT_EVENT_TITLE), Ok(()));
        assert_eq!(check_event_title("Meeting with J. Ellis"), Ok(()));
        assert_eq!(
            check_event_title("Ketamine session"),
            Err(EventTitleProblem::NamesTreatment("ketamine"))
        );
        assert_eq!(
            check_event_title("KAP intake"),
            Err(EventTitleProblem::NamesTreatment("kap"))
        );
        assert_eq!(check_event_title("  "), Err(EventTitleProblem::Empty));
        assert_eq!(
            check_event_title("Two\nlines"),
            Err(EventTitleProblem::NotOneLine)
        );
        assert_eq!(
            check_event_title(&"a".repeat(EVENT_TITLE_MAX + 1)),
            Err(EventTitleProblem::TooLong)
        );
    }

    #[test]
    fn the_host_is_the_authority_without_user_or_port() {
        assert_eq!(host_of("https://www.example.com"), "www.example.com");
        assert_eq!(host_of("http://127.0.0.1:8080/"), "127.0.0.1");
        assert_eq!(
            host_of("https://user@example.org:8443/path?q"),
            "example.org"
        );
    }
}
