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
    fn the_host_is_the_authority_without_user_or_port() {
        assert_eq!(host_of("https://www.example.com"), "www.example.com");
        assert_eq!(host_of("http://127.0.0.1:8080/"), "127.0.0.1");
        assert_eq!(
            host_of("https://user@example.org:8443/path?q"),
            "example.org"
        );
    }
}
