//! `[estimate]`: what the Good Faith Estimate is made from (45 CFR 149.610): the clinician's
//! National Provider Identifier, Taxpayer Identification Number and office, and the fee and
//! expected number of each kind of session.
//!
//! Each value can be written in the file or saved in the inbox's details (the file wins, see
//! [`crate::details`]); both are checked by [`check`], so the form and `kap-practice check` say
//! the same thing. Until the identifiers, the office and every fee are set, no estimate can be
//! made: the estimate page names what is missing.

use std::collections::BTreeMap;

use toml::Spanned;

use super::read::Reader;
use practice::good_faith_estimate::{Fee, SessionKind};

/// The settings of the Good Faith Estimate. Empty text and `None` mean "not set yet".
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EstimateConfig {
    /// The National Provider Identifier: ten digits.
    pub npi: String,
    /// The Taxpayer Identification Number (an EIN or SSN): nine digits.
    pub tin: String,
    /// The office where services are given, on one line.
    pub office_address: String,
    /// Per kind of session: the fee in cents (`None` until set) and the expected number.
    pub fees: BTreeMap<&'static str, (Option<u64>, u32)>,
}

/// The expected number of each kind of session when none is set: one consultation, then a
/// series of preparation, medication and integration sessions that the clinician adjusts.
fn default_count(kind: SessionKind) -> u32 {
    match kind {
        SessionKind::Consultation => 1,
        SessionKind::Preparation => 2,
        SessionKind::MedicationSession => 3,
        SessionKind::Integration => 3,
    }
}

/// The keys of `[estimate]`, each with what it holds.
pub fn keys() -> Vec<(String, Key)> {
    let mut out = vec![
        ("npi".to_string(), Key::Npi),
        ("tin".to_string(), Key::Tin),
        ("office_address".to_string(), Key::Office),
    ];
    for kind in SessionKind::ALL {
        out.push((format!("{}_fee", kind.key()), Key::Fee(kind)));
        out.push((format!("{}_count", kind.key()), Key::Count(kind)));
    }
    out
}

/// What a key of `[estimate]` holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Key {
    Npi,
    Tin,
    Office,
    Fee(SessionKind),
    Count(SessionKind),
}

/// A checked value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    Text(String),
    Cents(u64),
    Count(u32),
}

/// Checks `value` (as written, trimmed) for `key`; the message names the problem and the fix
/// in plain words, after `label`.
pub fn check(key: Key, value: &str, label: &str) -> Result<Value, String> {
    let value = value.trim();
    match key {
        Key::Npi => {
            let digits: String = value.chars().filter(|c| !c.is_whitespace()).collect();
            if digits.len() == 10 && digits.chars().all(|c| c.is_ascii_digit()) {
                Ok(Value::Text(digits))
            } else {
                Err(format!(
                    "{label}: write the ten digits of your NPI, such as 1234567893"
                ))
            }
        }
        Key::Tin => {
            let digits = value.chars().filter(char::is_ascii_digit).count();
            if digits == 9 && value.chars().all(|c| c.is_ascii_digit() || c == '-') {
                Ok(Value::Text(value.to_string()))
            } else {
                Err(format!(
                    "{label}: write the nine digits of your EIN or SSN, such as 12-3456789"
                ))
            }
        }
        Key::Office => {
            if value.is_empty()
                || value.chars().any(char::is_control)
                || value.chars().count() > 200
            {
                Err(format!(
                    "{label}: write the address on one line of at most 200 characters"
                ))
            } else {
                Ok(Value::Text(value.to_string()))
            }
        }
        Key::Fee(_) => cents(value)
            .map(Value::Cents)
            .ok_or_else(|| format!("{label}: write an amount in dollars, such as 200 or 187.50")),
        Key::Count(_) => match value.parse::<u32>() {
            Ok(n) if n <= 100 => Ok(Value::Count(n)),
            _ => Err(format!("{label}: write a whole number from 0 to 100")),
        },
    }
}

/// "187.50", "$1,250" or "200" as cents; `None` for anything else (or over $100,000).
fn cents(value: &str) -> Option<u64> {
    let v: String = value
        .trim_start_matches('$')
        .chars()
        .filter(|c| *c != ',')
        .collect();
    let (whole, frac) = v.split_once('.').unwrap_or((&v, ""));
    if whole.is_empty() || !whole.chars().all(|c| c.is_ascii_digit()) || whole.len() > 6 {
        return None;
    }
    if frac.len() > 2 || !frac.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let whole: u64 = whole.parse().ok()?;
    let frac: u64 = format!("{frac:0<2}").parse().ok()?;
    let total = whole * 100 + frac;
    (total <= 10_000_000).then_some(total)
}

impl EstimateConfig {
    /// Nothing set yet, with the expected numbers' defaults.
    pub fn unset() -> EstimateConfig {
        EstimateConfig {
            fees: SessionKind::ALL
                .into_iter()
                .map(|k| (k.key(), (None, default_count(k))))
                .collect(),
            ..EstimateConfig::default()
        }
    }

    /// Puts a checked value in place.
    pub fn set(&mut self, key: Key, value: Value) {
        match (key, value) {
            (Key::Npi, Value::Text(v)) => self.npi = v,
            (Key::Tin, Value::Text(v)) => self.tin = v,
            (Key::Office, Value::Text(v)) => self.office_address = v,
            (Key::Fee(k), Value::Cents(c)) => self.fees.entry(k.key()).or_default().0 = Some(c),
            (Key::Count(k), Value::Count(n)) => self.fees.entry(k.key()).or_default().1 = n,
            _ => {}
        }
    }

    /// The value of `key` as the form shows it.
    pub fn text_of(&self, key: Key) -> String {
        match key {
            Key::Npi => self.npi.clone(),
            Key::Tin => self.tin.clone(),
            Key::Office => self.office_address.clone(),
            Key::Fee(k) => self
                .fees
                .get(k.key())
                .and_then(|f| f.0)
                .map(|c| format!("{}.{:02}", c / 100, c % 100))
                .unwrap_or_default(),
            Key::Count(k) => self.fees.get(k.key()).map(|f| f.1).unwrap_or(0).to_string(),
        }
    }

    /// The fees, once every one is set; otherwise the kinds whose fee is missing.
    pub fn fees(&self) -> Result<Vec<Fee>, Vec<SessionKind>> {
        let mut fees = Vec::new();
        let mut missing = Vec::new();
        for kind in SessionKind::ALL {
            match self.fees.get(kind.key()) {
                Some((Some(cents), expected)) => fees.push(Fee {
                    kind,
                    cents: *cents,
                    expected: *expected,
                }),
                _ => missing.push(kind),
            }
        }
        if missing.is_empty() {
            Ok(fees)
        } else {
            Err(missing)
        }
    }
}

/// `[estimate]` as the file writes it: each value a string or a number.
pub(super) type FileEstimate = BTreeMap<String, Spanned<toml::Value>>;

impl Reader<'_> {
    /// Reads `[estimate]`.
    pub(super) fn estimate(&mut self, file: FileEstimate) -> EstimateConfig {
        let mut out = EstimateConfig::unset();
        let keys = keys();
        for (name, value) in file {
            let line = self.line(&value);
            let Some((_, key)) = keys.iter().find(|(k, _)| *k == name) else {
                self.error(
                    line,
                    format!(
                        "estimate.{name} is not a setting: use one of {}",
                        keys.iter()
                            .map(|(k, _)| k.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                );
                continue;
            };
            let text = match value.into_inner() {
                toml::Value::String(s) => s,
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Float(f) => f.to_string(),
                _ => String::new(),
            };
            match check(*key, &text, &format!("estimate.{name}")) {
                Ok(v) => out.set(*key, v),
                Err(message) => self.error(line, message),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_in_dollars_become_cents() {
        assert_eq!(cents("200"), Some(20_000));
        assert_eq!(cents("187.5"), Some(18_750));
        assert_eq!(cents("$1,250.00"), Some(125_000));
        assert_eq!(cents("0"), Some(0));
        for bad in ["", "-5", "12.345", "abc", "1e3", "9999999"] {
            assert_eq!(cents(bad), None, "{bad}");
        }
    }
}
