//! The practice's details as the clinician keeps them in the inbox: name, clinician, licensed
//! states, how to reach the practice, time zone, accent colour, reply time, crisis and
//! emergency numbers.
//!
//! They are stored in the database (with a version, so two tabs cannot overwrite each other)
//! and checked by the very code that checks the config file, so the inbox and `kap-practice
//! check` say the same thing about the same value. A setting written in the config file wins:
//! [`Field::set_in_file`] tells the inbox to show it read-only and say where it comes from.

use std::collections::BTreeMap;
use std::path::Path;

use crate::config::{Config, FormConfig, Overrides};

/// One detail the clinician can set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Field {
    /// The form field's name and the key in storage.
    pub name: &'static str,
    /// The config file's table and key.
    pub table: &'static str,
    pub key: &'static str,
    pub label: &'static str,
    pub hint: &'static str,
}

/// Every detail, in the order the form shows them.
pub const FIELDS: &[Field] = &[
    field("name", "practice", "Practice name", ""),
    field("clinician_name", "practice", "Clinician's name", ""),
    field(
        "credentials",
        "practice",
        "Credentials",
        "Shown after the name, such as LCSW or PsyD.",
    ),
    field(
        "licensed_states",
        "practice",
        "States where you are licensed",
        "Two-letter codes separated by commas, such as CA, NY.",
    ),
    field("email", "practice", "Email address", ""),
    field("phone", "practice", "Phone number", ""),
    field("city", "practice", "City", "Such as Oakland, California."),
    field(
        "time_zone",
        "practice",
        "Time zone",
        "The zone your hours and appointment times are kept in.",
    ),
    field(
        "accent_color",
        "practice",
        "Accent colour",
        "Written as #rrggbb. White text must be readable on it.",
    ),
    field(
        CALENDAR_TITLE,
        "practice",
        "Title of calendar invitations",
        "What a person's calendar shows for the consultation, where family or colleagues may see it. It may not name the treatment; left empty, it is Appointment.",
    ),
    field(
        "reply_time",
        "contact_form",
        "When people can expect a reply",
        "A phrase such as: within two business days.",
    ),
    field(
        "urgent_reply_hours",
        "contact_form",
        "Hours within which you get in touch after an answer about self-harm",
        "A whole number from 1 to 72. A person whose questionnaire answer says they may be thinking of hurting themselves is told you will get in touch within this many hours; if you have not marked it followed up by then, a second urgent email is sent.",
    ),
    field(
        "crisis_call",
        "contact_form",
        "Crisis line to call",
        "988 in the United States. Leave empty if the line takes only texts.",
    ),
    field(
        "crisis_call_name",
        "contact_form",
        "Name of the line to call",
        "Suicide & Crisis Lifeline for 988.",
    ),
    field(
        "crisis_text",
        "contact_form",
        "Crisis line to text",
        "988 takes texts too; 741741 is the Crisis Text Line. Leave empty if there is none.",
    ),
    field(
        "crisis_text_keyword",
        "contact_form",
        "Word to text",
        "HOME for the Crisis Text Line. Leave empty if any message will do.",
    ),
    field(
        "crisis_text_name",
        "contact_form",
        "Name of the line to text",
        "Crisis Text Line for 741741.",
    ),
    field(
        "emergency_number",
        "contact_form",
        "Emergency number",
        "911 in the United States.",
    ),
    field(
        KEEP_CLOSED_DAYS,
        "admin",
        "Days a closed request is kept when it never reached a consultation",
        "A whole number of days, 365 by default. The request, its notes, history and answers are then deleted for good; the inbox lists what is due within 30 days, with an export.",
    ),
    field(
        KEEP_CONSULTED_DAYS,
        "admin",
        "Days a closed request is kept when it reached a consultation or went further",
        "A whole number of days, 2557 (seven years) by default. These are clinical records: how long your state requires them to be kept is for you to check with your counsel.",
    ),
    field(
        "npi",
        ESTIMATE,
        "National Provider Identifier (NPI)",
        "Ten digits. Printed on the Good Faith Estimates you give, as the No Surprises Act requires.",
    ),
    field(
        "tin",
        ESTIMATE,
        "Taxpayer Identification Number (TIN)",
        "Your EIN (or the SSN you bill under), such as 12-3456789. Printed on the Good Faith Estimates you give, as the law requires.",
    ),
    field(
        "office_address",
        ESTIMATE,
        "Office address",
        "Where you see people, on one line. Printed on the Good Faith Estimates you give.",
    ),
    field(
        "consultation_fee",
        ESTIMATE,
        "Fee for a consultation, in dollars",
        "Used for Good Faith Estimates. Write 0 if the consultation is free.",
    ),
    field(
        "consultation_count",
        ESTIMATE,
        "Consultations expected",
        "How many a course of care usually takes.",
    ),
    field(
        "preparation_fee",
        ESTIMATE,
        "Fee for a preparation session, in dollars",
        "",
    ),
    field(
        "preparation_count",
        ESTIMATE,
        "Preparation sessions expected",
        "",
    ),
    field(
        "medication_session_fee",
        ESTIMATE,
        "Fee for a medication session, in dollars",
        "Your own fee for the psychotherapy during the session. The prescriber and the medication are billed separately and listed as such on the estimate.",
    ),
    field(
        "medication_session_count",
        ESTIMATE,
        "Medication sessions expected",
        "",
    ),
    field(
        "integration_fee",
        ESTIMATE,
        "Fee for an integration session, in dollars",
        "",
    ),
    field(
        "integration_count",
        ESTIMATE,
        "Integration sessions expected",
        "",
    ),
];

/// The table of the settings of the Good Faith Estimate (see [`crate::config::EstimateConfig`]).
const ESTIMATE: &str = "estimate";

/// The estimate's key for field `name`.
fn estimate_key(name: &str) -> Option<crate::config::EstimateKey> {
    crate::config::estimate_keys()
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, key)| key)
}

/// The field of the calendar invitations' title: left empty, the neutral default.
const CALENDAR_TITLE: &str = "calendar_title";

/// The fields of how long closed requests are kept (numbers of days).
const KEEP_CLOSED_DAYS: &str = "keep_closed_days";
const KEEP_CONSULTED_DAYS: &str = "keep_consulted_days";

/// A number of days a closed request is kept, as the form gives it.
fn days(value: &str, label: &str) -> Result<u64, String> {
    match value.trim().parse::<u64>() {
        Ok(d) if (1..=36_500).contains(&d) => Ok(d),
        _ => Err(format!(
            "{label}: write a whole number of days from 1 to 36500, such as 365"
        )),
    }
}

const fn field(
    name: &'static str,
    table: &'static str,
    label: &'static str,
    hint: &'static str,
) -> Field {
    Field {
        name,
        table,
        key: name,
        label,
        hint,
    }
}

/// The field of the hours within which the clinician gets in touch after an answer about
/// self-harm (a number, where the other contact-form fields are phrases).
const URGENT_REPLY_HOURS: &str = "urgent_reply_hours";

/// The practice's details, each value by its field's name.
pub type PracticeDetails = BTreeMap<String, String>;

/// The value of each field in `config`, as the form shows it.
pub fn values_of(config: &Config) -> PracticeDetails {
    let p = &config.practice;
    let f = &config.form;
    let mut v = PracticeDetails::new();
    for (name, value) in [
        ("name", p.name.clone()),
        ("clinician_name", p.clinician_name.clone()),
        ("credentials", p.credentials.clone()),
        ("licensed_states", p.licensed_states.join(", ")),
        ("email", p.email.clone()),
        ("phone", p.phone.clone()),
        ("city", p.city.clone()),
        ("time_zone", p.time_zone.clone()),
        ("accent_color", p.accent_color.clone()),
        (CALENDAR_TITLE, p.calendar_title.clone()),
        ("reply_time", f.reply_time.clone()),
        ("urgent_reply_hours", f.urgent_reply_hours.to_string()),
        ("crisis_call", f.crisis_call.clone()),
        ("crisis_call_name", f.crisis_call_name.clone()),
        ("crisis_text", f.crisis_text.clone()),
        ("crisis_text_keyword", f.crisis_text_keyword.clone()),
        ("crisis_text_name", f.crisis_text_name.clone()),
        ("emergency_number", f.emergency_number.clone()),
        (KEEP_CLOSED_DAYS, config.admin.keep_closed_days.to_string()),
        (
            KEEP_CONSULTED_DAYS,
            config.admin.keep_consulted_days.to_string(),
        ),
    ] {
        v.insert(name.to_string(), value);
    }
    for field in FIELDS.iter().filter(|f| f.table == ESTIMATE) {
        if let Some(key) = estimate_key(field.name) {
            v.insert(field.name.to_string(), config.estimate.text_of(key));
        }
    }
    v
}

/// The fields the config file sets (they win over the database). The older single
/// `crisis_line` (and its name) sets both the line to call and the line to text.
pub fn set_in_file(config: &Config) -> Vec<&'static str> {
    let in_file = |table: &str, key: &str| config.file_keys.contains(&format!("{table}.{key}"));
    FIELDS
        .iter()
        .filter(|f| {
            in_file(f.table, f.key)
                || OLDER_NAMES
                    .iter()
                    .any(|(old, new)| new.contains(&f.name) && in_file(f.table, old))
        })
        .map(|f| f.name)
        .collect()
}

/// Details stored or written under an older name, and the fields that took their place.
const OLDER_NAMES: &[(&str, &[&str])] = &[
    ("crisis_line", &["crisis_call", "crisis_text"]),
    (
        "crisis_line_name",
        &["crisis_call_name", "crisis_text_name"],
    ),
];

/// Details that may be left empty.
const OPTIONAL: &[&str] = &[
    "crisis_call",
    "crisis_call_name",
    "crisis_text",
    "crisis_text_keyword",
    "crisis_text_name",
];

/// `values` with details stored under an older name moved to the fields that took their place
/// (a single crisis line saved before the call and text lines were apart is both).
pub fn upgraded(values: &PracticeDetails) -> PracticeDetails {
    let mut out = values.clone();
    for (old, new) in OLDER_NAMES {
        if let Some(v) = out.remove(*old) {
            for name in *new {
                out.entry((*name).to_string()).or_insert_with(|| v.clone());
            }
        }
    }
    out
}

/// Where the config came from, for "set in …".
pub fn source_name(config: &Config) -> String {
    config
        .source
        .as_deref()
        .map(Path::display)
        .map_or_else(|| "the config file".to_string(), |p| p.to_string())
}

/// A TOML basic string holding `s`.
pub fn toml_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The TOML line for `field` holding `value`.
fn toml_line(field: &Field, value: &str) -> String {
    if field.name == URGENT_REPLY_HOURS {
        // A number once checked ([`check`]); the default when left empty.
        let hours = crate::config::urgent_reply_hours(value)
            .unwrap_or(crate::config::DEFAULT_URGENT_REPLY_HOURS);
        format!("{} = {hours}", field.key)
    } else if field.name == "licensed_states" {
        let items: Vec<String> = value
            .split([',', ' '])
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(toml_string)
            .collect();
        format!("{} = [{}]", field.key, items.join(", "))
    } else {
        format!("{} = {}", field.key, toml_string(value))
    }
}

/// Checks `values` with the config's own checks; every problem is named by its field, in the
/// words `kap-practice check` uses.
pub fn check(values: &PracticeDetails) -> Result<(), Vec<(&'static str, String)>> {
    let mut problems = Vec::new();
    for field in FIELDS {
        let value = values.get(field.name).map_or("", |v| v.trim());
        if field.name == URGENT_REPLY_HOURS {
            if let Err(message) = crate::config::urgent_reply_hours(value) {
                problems.push((field.name, message));
            }
            continue;
        }
        if field.table == "admin" {
            // Left empty: the period in force stays as it is.
            if value.is_empty() {
                continue;
            }
            if let Err(message) = days(value, field.label) {
                problems.push((field.name, message));
            }
            continue;
        }
        if field.table == ESTIMATE {
            // Left empty: not set yet (no estimate can be made until it is).
            if value.is_empty() {
                continue;
            }
            if let Some(key) = estimate_key(field.name)
                && let Err(message) = crate::config::check_estimate(key, value, field.label)
            {
                problems.push((field.name, message));
            }
            continue;
        }
        if field.name == CALENDAR_TITLE && value.is_empty() {
            continue;
        }
        if field.table == "contact_form" {
            // The config reads these as free text; the inbox asks for a value on one line.
            if value.is_empty() && OPTIONAL.contains(&field.name) {
                continue;
            }
            if value.is_empty() {
                problems.push((field.name, format!("{}: write a value", field.label)));
            } else if value.chars().any(char::is_control) || value.chars().count() > 200 {
                problems.push((
                    field.name,
                    format!("{}: write one line of at most 200 characters", field.label),
                ));
            }
            continue;
        }
        let text = format!("[{}]\n{}\n", field.table, toml_line(field, value));
        if let Err(found) = Config::from_toml(&text, "inbox", None, &Overrides::default()) {
            for d in found.0 {
                problems.push((field.name, plain_message(field, &d.message)));
            }
        }
    }
    let given = |name: &str| values.get(name).is_some_and(|v| !v.trim().is_empty());
    if given("crisis_text_keyword") && !given("crisis_text") {
        problems.push((
            "crisis_text_keyword",
            "Word to text: give the number it is texted to as well, under “Crisis line to text”"
                .to_string(),
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

/// A message of the config's checks in the form's words: "practice.licensed_states: \"ZZ\" is
/// not a US state code…" becomes "States where you are licensed: \"ZZ\" is not a US state
/// code…", since the person at the form never saw the setting's name.
fn plain_message(field: &Field, message: &str) -> String {
    let setting = format!("{}.{}", field.table, field.key);
    match message.strip_prefix(&setting) {
        Some(rest) => format!(
            "{}: {}",
            field.label,
            rest.trim_start_matches(':').trim_start()
        ),
        None => message.to_string(),
    }
}

/// `config` with the stored `values` in place of its own, except where the config file sets
/// a value (that wins). Values that do not pass [`check`] are left out.
pub fn apply(config: &Config, values: &PracticeDetails) -> Config {
    let values = &upgraded(values);
    let from_file = set_in_file(config);
    let mut text = String::from("[practice]\n");
    let mut form = String::from("[contact_form]\n");
    for field in FIELDS {
        if from_file.contains(&field.name) {
            continue;
        }
        let Some(value) = values.get(field.name).map(|v| v.trim()) else {
            continue;
        };
        if field.name == CALENDAR_TITLE && value.is_empty() {
            continue;
        }
        let mut one = PracticeDetails::new();
        one.insert(field.name.to_string(), value.to_string());
        let alone = FIELDS
            .iter()
            .filter(|f| f.name != field.name)
            .map(|f| (f.name.to_string(), values_of(config)[f.name].clone()));
        one.extend(alone);
        if check(&one).is_err() {
            continue;
        }
        if field.table == "admin" || field.table == ESTIMATE {
            continue;
        }
        let line = toml_line(field, value);
        if field.table == "practice" {
            text.push_str(&line);
            text.push('\n');
        } else {
            form.push_str(&line);
            form.push('\n');
        }
    }
    text.push_str(&form);
    let Ok(parsed) = Config::from_toml(&text, "inbox", None, &Overrides::default()) else {
        return config.clone();
    };
    let mut merged = config.clone();
    merged.practice = parsed.practice;
    for field in FIELDS.iter().filter(|f| from_file.contains(&f.name)) {
        copy_practice_field(&mut merged, config, field.name);
    }
    for field in FIELDS.iter().filter(|f| f.table == "contact_form") {
        let from = if from_file.contains(&field.name) {
            &config.form
        } else {
            &parsed.form
        };
        copy_form_field(&mut merged.form, from, field.name);
    }
    for field in FIELDS.iter().filter(|f| f.table == "admin") {
        let given = values.get(field.name).map(|v| days(v, field.label));
        if let (false, Some(Ok(d))) = (from_file.contains(&field.name), given) {
            match field.name {
                KEEP_CLOSED_DAYS => merged.admin.keep_closed_days = d,
                KEEP_CONSULTED_DAYS => merged.admin.keep_consulted_days = d,
                _ => {}
            }
        }
    }
    for field in FIELDS.iter().filter(|f| f.table == ESTIMATE) {
        let (Some(key), Some(value)) = (estimate_key(field.name), values.get(field.name)) else {
            continue;
        };
        if from_file.contains(&field.name) || value.trim().is_empty() {
            continue;
        }
        if let Ok(v) = crate::config::check_estimate(key, value, field.label) {
            merged.estimate.set(key, v);
        }
    }
    // The notices and the sender follow the practice's email and name unless set on their own.
    if merged.mail.notify_email_is_default {
        merged.mail.notify_email = merged.practice.email.clone();
    }
    if merged.mail.from_is_default {
        merged.mail.from =
            crate::config::default_sender(&merged.practice.name, &merged.practice.email);
    }
    merged
}

/// Puts `from`'s value of contact-form field `name` into `to`.
fn copy_form_field(to: &mut FormConfig, from: &FormConfig, name: &str) {
    match name {
        "reply_time" => to.reply_time = from.reply_time.clone(),
        URGENT_REPLY_HOURS => to.urgent_reply_hours = from.urgent_reply_hours,
        "crisis_call" => to.crisis_call = from.crisis_call.clone(),
        "crisis_call_name" => to.crisis_call_name = from.crisis_call_name.clone(),
        "crisis_text" => to.crisis_text = from.crisis_text.clone(),
        "crisis_text_keyword" => to.crisis_text_keyword = from.crisis_text_keyword.clone(),
        "crisis_text_name" => to.crisis_text_name = from.crisis_text_name.clone(),
        "emergency_number" => to.emergency_number = from.emergency_number.clone(),
        _ => {}
    }
}

/// Puts `from`'s value of practice field `name` into `to`.
fn copy_practice_field(to: &mut Config, from: &Config, name: &str) {
    let (t, f) = (&mut to.practice, &from.practice);
    match name {
        "name" => t.name = f.name.clone(),
        "clinician_name" => t.clinician_name = f.clinician_name.clone(),
        "credentials" => t.credentials = f.credentials.clone(),
        "licensed_states" => t.licensed_states = f.licensed_states.clone(),
        "email" => t.email = f.email.clone(),
        "phone" => t.phone = f.phone.clone(),
        "city" => t.city = f.city.clone(),
        "time_zone" => {
            t.time_zone = f.time_zone.clone();
            t.zone = f.zone.clone();
        }
        "accent_color" => t.accent_color = f.accent_color.clone(),
        CALENDAR_TITLE => t.calendar_title = f.calendar_title.clone(),
        _ => {}
    }
}

#[cfg(test)]
mod tests;
