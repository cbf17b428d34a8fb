//! `[practice]`: the practice's identity, shown on every page.

use serde::Deserialize;
use toml::Spanned;

use super::colour;
use super::read::{Reader, looks_like_email};
use practice::us_states;

/// The practice's identity, shown on every page.
#[derive(Clone, Debug, PartialEq)]
pub struct Practice {
    pub name: String,
    pub clinician_name: String,
    pub credentials: String,
    /// Two-letter US state codes where the clinician is licensed.
    pub licensed_states: Vec<String>,
    pub email: String,
    pub phone: String,
    pub city: String,
    /// The IANA name, as written in the config ("America/Los_Angeles").
    pub time_zone: String,
    /// The same zone, looked up once when the config is read (a name that is not a known zone
    /// stops the start), so no later code needs a fallback.
    pub zone: jiff::tz::TimeZone,
    /// `#rrggbb`, dark enough for white text on it (WCAG AA, 4.5:1).
    pub accent_color: String,
    /// What a person's calendar shows for a consultation (the invitation's title): neutral by
    /// default, and never naming the treatment (`practice::neutral::check_event_title`).
    pub calendar_title: String,
}

impl Practice {
    /// True when the example practice's name, clinician, email or phone number is still in use.
    pub fn shows_example(&self) -> bool {
        let example = default_practice();
        self.name == example.name
            || self.clinician_name == example.clinician_name
            || self.email == example.email
            || self.phone == example.phone
    }

    /// "Jordan Ellis, LCSW".
    /// When the name already ends with the credentials ("Maya Okafor, LCSW" with "LCSW"), they
    /// are not written twice.
    pub fn clinician_name_with_credentials(&self) -> String {
        if self.credentials.trim().is_empty() || self.name_repeats_credentials() {
            self.clinician_name.clone()
        } else {
            format!("{}, {}", self.clinician_name, self.credentials)
        }
    }

    /// Whether the clinician's name already ends with the credentials ("Maya Okafor, LCSW" with
    /// "LCSW"): shown once, and sent back by the going-live checklist to be written once.
    pub fn name_repeats_credentials(&self) -> bool {
        let (name, credentials) = (self.clinician_name.trim(), self.credentials.trim());
        !credentials.is_empty()
            && name
                .len()
                .checked_sub(credentials.len())
                .and_then(|at| name.get(at..))
                .is_some_and(|end| end.eq_ignore_ascii_case(credentials))
    }

    /// The phone number as a `tel:` URI (digits and a leading `+` only).
    pub fn phone_uri(&self) -> String {
        let digits: String = self
            .phone
            .chars()
            .filter(|c| c.is_ascii_digit() || *c == '+')
            .collect();
        format!("tel:{digits}")
    }

    /// The full names of the licensed states, for people to read.
    pub fn licensed_state_names(&self) -> Vec<&'static str> {
        self.licensed_states
            .iter()
            .filter_map(|code| us_states::name(code))
            .collect()
    }
}

/// The built-in identity: an example practice, so the site runs with no setup at all.
pub fn default_practice() -> Practice {
    Practice {
        name: "Clearwater Psychotherapy".into(),
        clinician_name: "Jordan Ellis".into(),
        credentials: "LCSW".into(),
        licensed_states: vec!["CA".into()],
        email: "hello@example.com".into(),
        phone: "(555) 010-0100".into(),
        city: "Oakland, California".into(),
        time_zone: "America/Los_Angeles".into(),
        zone: jiff::tz::TimeZone::get("America/Los_Angeles").unwrap_or(jiff::tz::TimeZone::UTC),
        accent_color: "#2f5d54".into(),
        calendar_title: practice::neutral::DEFAULT_EVENT_TITLE.into(),
    }
}

/// `[practice]` as the file writes it.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct FilePractice {
    name: Option<Spanned<String>>,
    clinician_name: Option<Spanned<String>>,
    credentials: Option<Spanned<String>>,
    licensed_states: Option<Spanned<Vec<Spanned<String>>>>,
    email: Option<Spanned<String>>,
    phone: Option<Spanned<String>>,
    city: Option<Spanned<String>>,
    time_zone: Option<Spanned<String>>,
    accent_color: Option<Spanned<String>>,
    calendar_title: Option<Spanned<String>>,
}

impl Reader<'_> {
    /// One line of text: not empty, no control characters.
    fn practice_text(
        &mut self,
        value: Option<Spanned<String>>,
        default: String,
        key: &str,
    ) -> String {
        let Some(s) = value else {
            return default;
        };
        let line = self.line(&s);
        let value = s.into_inner().trim().to_string();
        if value.is_empty() {
            self.error(
                line,
                format!(
                    "practice.{key} is empty: write a value or remove the line to use the default"
                ),
            );
        } else if value.chars().any(char::is_control) {
            self.error(
                line,
                format!("practice.{key} contains a control character: keep it on one line"),
            );
        }
        value
    }

    /// A value that is kept trimmed as written and checked by `check`, which gives the problem
    /// to report.
    fn practice_checked(
        &mut self,
        value: Option<Spanned<String>>,
        default: String,
        check: impl FnOnce(&str) -> Option<String>,
    ) -> String {
        let Some(s) = value else {
            return default;
        };
        let line = self.line(&s);
        let v = s.into_inner().trim().to_string();
        if let Some(problem) = check(&v) {
            self.error(line, problem);
        }
        v
    }

    /// Reads `[practice]`.
    pub(super) fn practice(&mut self, p: FilePractice) -> Practice {
        let defaults = default_practice();
        let name = self.practice_text(p.name, defaults.name, "name");
        let clinician_name =
            self.practice_text(p.clinician_name, defaults.clinician_name, "clinician_name");
        let credentials = self.practice_text(p.credentials, defaults.credentials, "credentials");
        let city = self.practice_text(p.city, defaults.city, "city");
        let email = self.practice_checked(p.email, defaults.email, |v| {
            (!looks_like_email(v)).then(|| format!("practice.email {v:?} is not an email address: write it like \"hello@yourpractice.com\""))
        });
        let phone = self.practice_checked(p.phone, defaults.phone, |v| {
            let digits = v.chars().filter(char::is_ascii_digit).count();
            let allowed = v
                .chars()
                .all(|c| c.is_ascii_digit() || " +-().".contains(c));
            (!allowed || !(7..=15).contains(&digits)).then(|| format!("practice.phone {v:?} is not a phone number: use digits, spaces, + - ( ) only, e.g. \"(510) 555-0123\""))
        });
        let licensed_states = match p.licensed_states {
            None => defaults.licensed_states,
            Some(list) => self.licensed_states(list),
        };
        let time_zone = self.practice_checked(p.time_zone, defaults.time_zone, |v| {
            jiff::tz::TimeZone::get(v).is_err().then(|| format!("practice.time_zone {v:?} is not a known time zone: use an IANA name such as \"America/New_York\" or \"America/Los_Angeles\""))
        });
        // Checked just above: an unknown name is already an error that stops the start.
        let zone = jiff::tz::TimeZone::get(&time_zone).unwrap_or(jiff::tz::TimeZone::UTC);
        let accent_color = match p.accent_color {
            None => defaults.accent_color,
            Some(s) => {
                let line = self.line(&s);
                let v = s.into_inner().trim().to_ascii_lowercase();
                if let Some(problem) = accent_colour_problem(&v) {
                    self.error(line, problem);
                }
                v
            }
        };
        let calendar_title = self.practice_checked(p.calendar_title, defaults.calendar_title, |v| {
            practice::neutral::check_event_title(v).err().map(|problem| format!("practice.calendar_title: {v:?} cannot be used: {problem}. Use a neutral title such as \"{}\"", practice::neutral::DEFAULT_EVENT_TITLE))
        });
        Practice {
            name,
            clinician_name,
            credentials,
            licensed_states,
            email,
            phone,
            city,
            time_zone,
            zone,
            accent_color,
            calendar_title,
        }
    }

    /// The two-letter codes, upper case, each once.
    fn licensed_states(&mut self, list: Spanned<Vec<Spanned<String>>>) -> Vec<String> {
        let list_line = self.line(&list);
        let list = list.into_inner();
        if list.is_empty() {
            self.error(list_line, "practice.licensed_states is empty: list at least one two-letter state code, e.g. [\"CA\"]");
        }
        let mut codes = Vec::new();
        for item in list {
            let line = self.line(&item);
            let code = item.into_inner().trim().to_ascii_uppercase();
            if us_states::name(&code).is_none() {
                self.error(line, format!("practice.licensed_states: {code:?} is not a US state code: use two letters such as \"CA\" or \"NY\""));
            } else if !codes.contains(&code) {
                codes.push(code);
            }
        }
        codes
    }
}

/// What is wrong with an accent colour (`#rrggbb`, dark enough for white text), if anything.
fn accent_colour_problem(v: &str) -> Option<String> {
    let Some(rgb) = colour::Rgb::parse(v) else {
        return Some(format!(
            "practice.accent_color {v:?} is not a colour: write it as \"#rrggbb\", e.g. \"#2f5d54\""
        ));
    };
    let ratio = rgb.contrast(colour::Rgb::WHITE);
    (ratio < 4.5).then(|| format!("practice.accent_color {v} is too light for white text on it (contrast {ratio:.1}:1, at least 4.5:1 is needed): choose a darker shade"))
}
