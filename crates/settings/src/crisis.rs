//! Where to turn in a crisis, in the one wording every page and email uses.
//!
//! The practice cannot respond to emergencies, so its pages and emails name crisis lines and
//! the emergency number. Lines differ in what they take: 988 answers calls and texts, the
//! Crisis Text Line only texts (with a keyword: "text HOME to 741741"), other lines only calls.
//! The owner gives a number to call and a number to text, each with its name and each
//! optional; a single old `crisis_line` is both. This module turns them into the words and
//! links — "call or text 988 (Suicide & Crisis Lifeline), or call 911" — and a person who
//! said they are outside the US is pointed to local emergency services instead, since US
//! numbers do not reach them.

use crate::config::FormConfig;

/// One way to reach help, as the sentence says it: `{before}{lead} {number} ({name})`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Way {
    /// What joins it to the way before: "", ", " or ", or ".
    pub before: &'static str,
    /// "call or text", "call", "text HOME to", or a whole phrase when there is no number.
    pub lead: String,
    /// The number as written ("988"); empty for a phrase.
    pub number: String,
    /// The link that starts it: `tel:988`, `sms:741741?&body=HOME`.
    pub uri: String,
    /// "Suicide & Crisis Lifeline"; may be empty.
    pub name: String,
}

/// The ways to reach help for one reader.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Crisis {
    /// The crisis lines and then the emergency number: "call or text 988 (…), or call 911".
    pub ways: Vec<Way>,
    /// The crisis lines alone (for "You can also …"); empty when there are none or the
    /// reader is outside the US.
    pub lines: Vec<Way>,
    /// "911", or empty for a reader outside the US.
    pub emergency: String,
    pub emergency_uri: String,
}

/// What a reader outside the US is told instead of US numbers.
pub const LOCAL_EMERGENCY: &str = "contact your local emergency services";

impl Crisis {
    /// The configured lines, for a reader in the US (or not known to be elsewhere).
    pub fn new(form: &FormConfig) -> Self {
        Self::for_reader(form, false)
    }

    /// The configured lines, or local emergency services when the reader said they are
    /// outside the US.
    pub fn for_reader(form: &FormConfig, outside_us: bool) -> Self {
        if outside_us {
            return Crisis {
                ways: vec![phrase(LOCAL_EMERGENCY)],
                lines: Vec::new(),
                emergency: String::new(),
                emergency_uri: String::new(),
            };
        }
        let lines = joined(lines(form));
        let mut ways = lines.clone();
        if !form.emergency_number.is_empty() {
            ways.push(way(
                "call",
                &form.emergency_number,
                tel_uri(&form.emergency_number),
                "",
            ));
        }
        Crisis {
            ways: joined(ways),
            lines,
            emergency: form.emergency_number.clone(),
            emergency_uri: tel_uri(&form.emergency_number),
        }
    }

    /// The ways as plain text, for emails: "call or text 988 (…), or call 911".
    pub fn sentence(&self) -> String {
        plain(&self.ways)
    }

    /// The crisis lines alone as plain text.
    pub fn lines_sentence(&self) -> String {
        plain(&self.lines)
    }
}

/// The call and text lines as configured: one "call or text" way when both are the same line.
fn lines(form: &FormConfig) -> Vec<Way> {
    let (call, text) = (form.crisis_call.as_str(), form.crisis_text.as_str());
    let keyword = form.crisis_text_keyword.as_str();
    let mut out = Vec::new();
    if !call.is_empty()
        && call == text
        && keyword.is_empty()
        && form.crisis_call_name == form.crisis_text_name
    {
        out.push(way(
            "call or text",
            call,
            tel_uri(call),
            &form.crisis_call_name,
        ));
        return out;
    }
    if !call.is_empty() {
        out.push(way("call", call, tel_uri(call), &form.crisis_call_name));
    }
    if !text.is_empty() {
        let lead = if keyword.is_empty() {
            "text".to_string()
        } else {
            format!("text {keyword} to")
        };
        out.push(way(
            &lead,
            text,
            sms_uri(text, keyword),
            &form.crisis_text_name,
        ));
    }
    out
}

fn way(lead: &str, number: &str, uri: String, name: &str) -> Way {
    Way {
        before: "",
        lead: lead.to_string(),
        number: number.to_string(),
        uri,
        name: name.to_string(),
    }
}

fn phrase(text: &str) -> Way {
    way(text, "", String::new(), "")
}

/// Sets what joins each way to the one before: "a", "a, or b", "a, b, or c".
fn joined(mut ways: Vec<Way>) -> Vec<Way> {
    let n = ways.len();
    for (i, w) in ways.iter_mut().enumerate() {
        w.before = match i {
            0 => "",
            i if i + 1 == n => ", or ",
            _ => ", ",
        };
    }
    ways
}

fn plain(ways: &[Way]) -> String {
    let mut out = String::new();
    for w in ways {
        out.push_str(w.before);
        out.push_str(&w.lead);
        if !w.number.is_empty() {
            out.push(' ');
            out.push_str(&w.number);
        }
        if !w.name.is_empty() {
            out.push_str(&format!(" ({})", w.name));
        }
    }
    out
}

fn dial_digits(number: &str) -> String {
    number
        .chars()
        .filter(|c| c.is_ascii_digit() || *c == '+')
        .collect()
}

/// A number as a `tel:` URI (digits and a leading `+` only).
pub fn tel_uri(number: &str) -> String {
    format!("tel:{}", dial_digits(number))
}

/// A number as an `sms:` URI with the keyword as the message body (RFC 5724; the `?&` form
/// is the one both Android and iOS read).
pub fn sms_uri(number: &str, keyword: &str) -> String {
    let digits = dial_digits(number);
    if keyword.is_empty() {
        format!("sms:{digits}")
    } else {
        let body: String = keyword
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect();
        format!("sms:{digits}?&body={body}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, Overrides};

    fn form(toml: &str) -> FormConfig {
        Config::from_toml(toml, "t", None, &Overrides::default())
            .expect("config")
            .form
    }

    #[test]
    fn an_old_single_number_is_a_line_to_call_or_text() {
        let c = Crisis::new(&form(""));
        assert_eq!(
            c.sentence(),
            "call or text 988 (Suicide & Crisis Lifeline), or call 911"
        );
        assert_eq!(c.ways[0].uri, "tel:988");
        let c = Crisis::new(&form(
            "[contact_form]\ncrisis_line = \"741741\"\ncrisis_line_name = \"Crisis Text Line\"\n",
        ));
        assert_eq!(
            c.sentence(),
            "call or text 741741 (Crisis Text Line), or call 911"
        );
    }

    #[test]
    fn a_text_only_line_is_texted_with_its_keyword_and_never_called() {
        let c = Crisis::new(&form(
            "[contact_form]\ncrisis_call = \"\"\ncrisis_text = \"741741\"\ncrisis_text_keyword = \"HOME\"\ncrisis_text_name = \"Crisis Text Line\"\n",
        ));
        assert_eq!(
            c.sentence(),
            "text HOME to 741741 (Crisis Text Line), or call 911"
        );
        assert_eq!(c.ways[0].uri, "sms:741741?&body=HOME");
        assert!(!c.sentence().contains("call or text"));
    }

    #[test]
    fn a_call_line_and_a_text_line_are_named_apart() {
        let c = Crisis::new(&form(
            "[contact_form]\ncrisis_call = \"988\"\ncrisis_call_name = \"Suicide & Crisis Lifeline\"\ncrisis_text = \"741741\"\ncrisis_text_keyword = \"HOME\"\ncrisis_text_name = \"Crisis Text Line\"\n",
        ));
        assert_eq!(
            c.sentence(),
            "call 988 (Suicide & Crisis Lifeline), text HOME to 741741 (Crisis Text Line), or call 911"
        );
        assert_eq!(
            c.lines_sentence(),
            "call 988 (Suicide & Crisis Lifeline), or text HOME to 741741 (Crisis Text Line)"
        );
    }

    #[test]
    fn a_reader_outside_the_us_is_pointed_to_local_emergency_services() {
        let c = Crisis::for_reader(&form(""), true);
        assert_eq!(c.sentence(), "contact your local emergency services");
        assert!(!c.sentence().contains("988") && !c.sentence().contains("911"));
    }
}
