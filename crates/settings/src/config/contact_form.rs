//! `[contact_form]`: the contact form's behaviour and the crisis lines shown with it.

use serde::Deserialize;
use toml::Spanned;

use super::Overrides;
use super::read::Reader;

/// The contact form's behaviour.
#[derive(Clone, Debug)]
pub struct FormConfig {
    /// Forms sent faster than this after being served are treated as spam. 0 disables the check.
    pub min_fill_seconds: u64,
    /// A served form can be sent for this long.
    pub token_max_age_minutes: u64,
    /// Requests accepted per client address per hour (a burst of this many, refilled evenly).
    pub rate_limit_per_hour: u32,
    /// The crisis line to call ("988" in the US); empty when there is none. Words and links
    /// are made by `crisis::Crisis`.
    pub crisis_call: String,
    /// What it is called ("Suicide & Crisis Lifeline" for 988); may be empty.
    pub crisis_call_name: String,
    /// The crisis line to text ("988", or "741741" for the Crisis Text Line); empty when there
    /// is none. The same number and name as the call line make one "call or text" line.
    pub crisis_text: String,
    /// The word to text to it ("HOME" for the Crisis Text Line); may be empty.
    pub crisis_text_keyword: String,
    /// What the text line is called ("Crisis Text Line"); may be empty.
    pub crisis_text_name: String,
    /// The emergency number shown on every page ("911" in the US).
    pub emergency_number: String,
    /// When people can expect a reply, as a phrase: "within two business days".
    pub reply_time: String,
    /// Within how many hours the clinician gets in touch after a questionnaire answer about
    /// self-harm: the person is told so with the crisis resources, and a second urgent notice
    /// leaves if the answer is not followed up by then.
    pub urgent_reply_hours: u32,
    /// Send the person a short acknowledgement email (no echo of what they wrote).
    pub acknowledge: bool,
}

/// `contact_form.urgent_reply_hours` when none is set.
pub const DEFAULT_URGENT_REPLY_HOURS: u32 = 24;

/// Reads `contact_form.urgent_reply_hours` (from the file or the inbox): a whole number of
/// hours from 1 to 72; an empty value is the default.
pub fn urgent_reply_hours(text: &str) -> Result<u32, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(DEFAULT_URGENT_REPLY_HOURS);
    }
    match text.parse::<u32>() {
        Ok(h) if (1..=72).contains(&h) => Ok(h),
        _ => Err(
            "contact_form.urgent_reply_hours must be a whole number of hours from 1 to 72".into(),
        ),
    }
}

/// `[contact_form]` as the file writes it.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct FileForm {
    min_fill_seconds: Option<u64>,
    token_max_age_minutes: Option<Spanned<u64>>,
    rate_limit_per_hour: Option<Spanned<u32>>,
    /// One line to call or text (the older setting): both `crisis_call` and `crisis_text`.
    crisis_line: Option<String>,
    crisis_line_name: Option<String>,
    crisis_call: Option<String>,
    crisis_call_name: Option<String>,
    crisis_text: Option<String>,
    crisis_text_keyword: Option<String>,
    crisis_text_name: Option<String>,
    emergency_number: Option<String>,
    reply_time: Option<String>,
    urgent_reply_hours: Option<Spanned<u32>>,
    acknowledge: Option<bool>,
}

impl Reader<'_> {
    /// Reads `[contact_form]`; `KAP_MIN_FILL_SECONDS` wins.
    pub(super) fn contact_form(&mut self, f: FileForm, overrides: &Overrides) -> FormConfig {
        let token_max_age_minutes = self.at_least_one(
            f.token_max_age_minutes,
            120,
            "contact_form.token_max_age_minutes must be at least 1",
        );
        let urgent_reply_hours = match f.urgent_reply_hours {
            Some(v) => urgent_reply_hours(&v.get_ref().to_string()).unwrap_or_else(|message| {
                let line = self.line(&v);
                self.error(line, message);
                DEFAULT_URGENT_REPLY_HOURS
            }),
            None => DEFAULT_URGENT_REPLY_HOURS,
        };
        let rate_limit_per_hour = self.at_least_one(
            f.rate_limit_per_hour,
            10,
            "contact_form.rate_limit_per_hour must be at least 1",
        );
        let crisis = CrisisLines::resolve(
            [f.crisis_line, f.crisis_call, f.crisis_text],
            [f.crisis_line_name, f.crisis_call_name, f.crisis_text_name],
            f.crisis_text_keyword,
        );
        FormConfig {
            min_fill_seconds: overrides
                .min_fill_seconds
                .or(f.min_fill_seconds)
                .unwrap_or(3),
            token_max_age_minutes,
            rate_limit_per_hour,
            crisis_call: crisis.call,
            crisis_call_name: crisis.call_name,
            crisis_text: crisis.text,
            crisis_text_keyword: crisis.text_keyword,
            crisis_text_name: crisis.text_name,
            emergency_number: f
                .emergency_number
                .map(|v| v.trim().to_string())
                .unwrap_or_else(|| "911".into()),
            reply_time: f
                .reply_time
                .map(|v| v.trim().to_string())
                .unwrap_or_else(|| "within two business days".into()),
            urgent_reply_hours,
            acknowledge: f.acknowledge.unwrap_or(false),
        }
    }
}

/// The crisis lines as the file gives them.
struct CrisisLines {
    call: String,
    call_name: String,
    text: String,
    text_keyword: String,
    text_name: String,
}

impl CrisisLines {
    /// From `[line, call, text]` numbers and their names: the older single `crisis_line` is
    /// both a line to call and one to text, and the newer keys win over it. With none of the
    /// numbers set, the line is 988, the Suicide & Crisis Lifeline (calls and texts).
    fn resolve(
        numbers: [Option<String>; 3],
        names: [Option<String>; 3],
        text_keyword: Option<String>,
    ) -> Self {
        let trim = |v: Option<String>| v.map(|v| v.trim().to_string());
        let none_set = numbers.iter().all(Option::is_none);
        let [line, call, text] = numbers.map(trim);
        let [line_name, call_name, text_name] = names.map(trim);
        let (line, line_name) = if none_set {
            (
                Some("988".to_string()),
                line_name.or_else(|| Some("Suicide & Crisis Lifeline".to_string())),
            )
        } else {
            (line, line_name)
        };
        CrisisLines {
            call: call.or_else(|| line.clone()).unwrap_or_default(),
            call_name: call_name.or_else(|| line_name.clone()).unwrap_or_default(),
            text: text.or(line).unwrap_or_default(),
            text_keyword: trim(text_keyword).unwrap_or_default(),
            text_name: text_name.or(line_name).unwrap_or_default(),
        }
    }
}
