//! The Good Faith Estimate a person who pays for themselves is owed under the No Surprises Act
//! (45 CFR 149.610): when it is due, and what it must say.
//!
//! Two things live here and nothing else: the due date of an estimate, counted in business
//! days in the practice's time zone, and the estimate's content as a list of plain statements
//! built from the clinician's fees and what the clinician entered for the person. Storing it,
//! showing it, mailing a link to it and printing it to a PDF are the layers above.
//!
//! The sentences are the product's own, written against the checklist of the regulation's
//! elements; the practice must review them with its own counsel before relying on them.

use jiff::Timestamp;
use jiff::civil::{Date, Weekday};
use jiff::tz::TimeZone;

/// The kinds of session the clinician keeps a fee for, in the order of the KAP process.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SessionKind {
    Consultation,
    Preparation,
    MedicationSession,
    Integration,
}

impl SessionKind {
    pub const ALL: [SessionKind; 4] = [
        SessionKind::Consultation,
        SessionKind::Preparation,
        SessionKind::MedicationSession,
        SessionKind::Integration,
    ];

    /// The name used in settings and storage.
    pub fn key(self) -> &'static str {
        match self {
            SessionKind::Consultation => "consultation",
            SessionKind::Preparation => "preparation",
            SessionKind::MedicationSession => "medication_session",
            SessionKind::Integration => "integration",
        }
    }

    /// The service in clear language (149.610(e)(2): a description of the item or service).
    pub fn description(self) -> &'static str {
        match self {
            SessionKind::Consultation => "Initial consultation (psychotherapy intake)",
            SessionKind::Preparation => "Preparation session (psychotherapy)",
            SessionKind::MedicationSession => {
                "Ketamine-assisted psychotherapy session (psychotherapy during the medication session)"
            }
            SessionKind::Integration => "Integration session (psychotherapy)",
        }
    }
}

/// What the clinician charges for one kind of session, and how many of them a course of KAP is
/// expected to take.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fee {
    pub kind: SessionKind,
    /// The charge for one session, in cents.
    pub cents: u64,
    /// The expected number of such sessions.
    pub expected: u32,
}

/// One item or service in an estimate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Service {
    /// What it is, in clear language.
    pub description: String,
    /// The expected service code (such as a CPT code), where the clinician adds one.
    pub service_code: Option<String>,
    /// The charge for one, in cents.
    pub cents: u64,
    pub quantity: u32,
    /// When it is scheduled, if it is.
    pub scheduled_on: Option<Date>,
}

impl Service {
    /// The item's expected charge: one charge times the quantity.
    pub fn total_cents(&self) -> u64 {
        self.cents.saturating_mul(u64::from(self.quantity))
    }

    /// The services a course of KAP is expected to take, from the clinician's fees: one line
    /// per kind of session expected at least once.
    pub fn from_fees(fees: &[Fee]) -> Vec<Service> {
        fees.iter()
            .filter(|f| f.expected > 0)
            .map(|f| Service {
                description: f.kind.description().to_string(),
                service_code: None,
                cents: f.cents,
                quantity: f.expected,
                scheduled_on: None,
            })
            .collect()
    }
}

/// The provider giving the estimate (149.610(e)(5)).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Provider {
    /// The clinician's name with credentials.
    pub name: String,
    /// The practice's name.
    pub practice: String,
    /// National Provider Identifier.
    pub npi: String,
    /// Taxpayer Identification Number.
    pub tin: String,
    /// The office where the services are expected to be given.
    pub office: String,
    /// The states where the services are expected (where the clinician is licensed), as names.
    pub states: Vec<String>,
}

/// Everything an estimate is made from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EstimateInput {
    pub person_name: String,
    pub date_of_birth: Date,
    pub provider: Provider,
    pub services: Vec<Service>,
    /// Diagnosis codes (ICD-10), where the clinician adds them.
    pub diagnosis_codes: Vec<String>,
    /// Items or services expected to be scheduled and estimated separately.
    pub separately: Vec<String>,
    /// The day the estimate is given.
    pub given_on: Date,
}

/// What the clinician lists as estimated separately when nothing else is given: the page says
/// the prescriber and the medication are billed apart from the clinician's sessions.
pub const BILLED_SEPARATELY: [&str; 2] = [
    "The medical evaluation and prescribing by the separate prescriber, who bills for them and gives their own estimate",
    "The medication itself, dispensed and billed by the pharmacy",
];

/// Statements every estimate carries (149.610(e)(6)-(9)). Each is the product's own sentence
/// for one element of the regulation's list.
pub mod statement {
    /// 149.610(e)(7)(i): items the provider may recommend later are not in this estimate.
    pub const RECOMMENDED_LATER: &str = "Other items or services may be recommended as part of your care. They must be scheduled or requested separately and are not included in this estimate.";
    /// 149.610(e)(7)(ii): only an estimate; actual items, services and charges may differ.
    pub const ONLY_AN_ESTIMATE: &str = "This is only an estimate. The actual items, services or charges may differ from this estimate.";
    /// 149.610(e)(7)(iii) and (e)(8): the right to dispute a bill $400 or more above the
    /// estimate, and where to find how. The 120 calendar days from receiving the initial bill
    /// are 45 CFR 149.620(c)(1)'s; the web address and the No Surprises Help Desk's number are
    /// those CMS gives on its standard Good Faith Estimate form and consumer pages.
    pub const DISPUTE: &str = "You have the right to start the patient-provider dispute resolution process if you are billed at least $400 more than this estimate for this provider. To start it, contact the U.S. Department of Health and Human Services within 120 calendar days of receiving the bill: see www.cms.gov/nosurprises or call 1-800-985-3059. Keep a copy of this estimate and of the bill.";
    /// 149.610(e)(9): not a contract; no obligation to obtain the services.
    pub const NOT_A_CONTRACT: &str = "This Good Faith Estimate is not a contract and does not require you to obtain the items or services it lists.";
    /// The built-in text's own reminder (the project's rule for every built-in legal text).
    pub const REVIEW_WITH_COUNSEL: &str = "Note for the practice: this estimate's wording is a starting point; review it with your own counsel before giving it.";
}

/// One part of an estimate: a heading and its lines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Part {
    pub heading: &'static str,
    pub lines: Vec<String>,
}

/// An estimate's content, part by part, in the order the regulation lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Estimate {
    pub parts: Vec<Part>,
    /// The sum of every item's expected charge, in cents.
    pub total_cents: u64,
}

/// `cents` as dollars: "$1,250.00".
pub fn dollars(cents: u64) -> String {
    let whole = (cents / 100).to_string();
    let mut grouped = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("${grouped}.{:02}", cents % 100)
}

/// The estimate made from `input` (45 CFR 149.610(e): the content of a Good Faith Estimate for
/// an uninsured or self-pay individual).
pub fn compose(input: &EstimateInput) -> Estimate {
    let mut parts = Vec::new();
    // (e)(1): the person's name and date of birth.
    parts.push(Part {
        heading: "Patient",
        lines: vec![
            format!("Name: {}", input.person_name),
            format!(
                "Date of birth: {}",
                input.date_of_birth.strftime("%B %-d, %Y")
            ),
        ],
    });
    // (e)(2)-(4): the primary service in clear language, the itemized list grouped by
    // provider, service codes and the expected charge of each item.
    let mut items = vec![format!(
        "Provider: {}, {}",
        input.provider.name, input.provider.practice
    )];
    for s in &input.services {
        let code = s
            .service_code
            .as_deref()
            .map(|c| format!(" (service code {c})"))
            .unwrap_or_default();
        let when = s
            .scheduled_on
            .map(|d| format!(", scheduled for {}", d.strftime("%B %-d, %Y")))
            .unwrap_or_default();
        items.push(format!(
            "- {}{code}{when}: {} x {} = {}",
            s.description,
            s.quantity,
            dollars(s.cents),
            dollars(s.total_cents())
        ));
    }
    let total_cents = input.services.iter().map(Service::total_cents).sum();
    items.push(format!("Total estimated charges: {}", dollars(total_cents)));
    parts.push(Part {
        heading: "Services expected and their charges",
        lines: items,
    });
    // (e)(4): applicable diagnosis codes.
    parts.push(Part {
        heading: "Diagnosis codes",
        lines: vec![if input.diagnosis_codes.is_empty() {
            "None given.".to_string()
        } else {
            input.diagnosis_codes.join(", ")
        }],
    });
    // (e)(5): the provider's name, NPI, TIN, and the states and office where the services
    // are expected.
    let p = &input.provider;
    parts.push(Part {
        heading: "Provider",
        lines: vec![
            format!("Name: {} ({})", p.name, p.practice),
            format!("National Provider Identifier (NPI): {}", p.npi),
            format!("Taxpayer Identification Number (TIN): {}", p.tin),
            format!("Office: {}", p.office),
            format!(
                "State(s) where services are expected: {}",
                p.states.join(", ")
            ),
        ],
    });
    // (e)(6): items or services expected to be scheduled separately.
    let separately: Vec<String> = if input.separately.is_empty() {
        BILLED_SEPARATELY.iter().map(|s| s.to_string()).collect()
    } else {
        input.separately.clone()
    };
    parts.push(Part {
        heading: "Estimated separately",
        lines: std::iter::once(
            "These items or services are expected to be scheduled separately and are not in this estimate; ask their provider for an estimate:".to_string(),
        )
        .chain(separately.into_iter().map(|s| format!("- {s}")))
        .collect(),
    });
    // (e)(7)-(9): the disclaimers.
    parts.push(Part {
        heading: "Please read",
        lines: vec![
            statement::RECOMMENDED_LATER.to_string(),
            statement::ONLY_AN_ESTIMATE.to_string(),
            statement::DISPUTE.to_string(),
            statement::NOT_A_CONTRACT.to_string(),
        ],
    });
    // 149.610(b)(1)(v), (g): the date, kept with the estimate.
    parts.push(Part {
        heading: "Date of this estimate",
        lines: vec![input.given_on.strftime("%B %-d, %Y").to_string()],
    });
    Estimate { parts, total_cents }
}

impl Estimate {
    /// The estimate as lines of plain text (for the page and the PDF).
    pub fn lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        for part in &self.parts {
            if !out.is_empty() {
                out.push(String::new());
            }
            out.push(part.heading.to_string());
            out.extend(part.lines.iter().cloned());
        }
        out
    }
}

/// What makes an estimate due (45 CFR 149.610(b)(1)(vi)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trigger {
    /// The person asked for an estimate at this instant.
    Requested { at: Timestamp },
    /// A service was scheduled at `at` to take place on `service_on`.
    Scheduled { at: Timestamp, service_on: Date },
}

/// Whether `day` is a business day. The regulation lets the provider define its business days
/// (149.610(a)(2)); the practice keeps Monday to Friday.
pub fn is_business_day(day: Date) -> bool {
    !matches!(day.weekday(), Weekday::Saturday | Weekday::Sunday)
}

/// The business day `n` business days after `day` (`day` itself not counted).
pub fn business_days_after(day: Date, n: u32) -> Date {
    let mut d = day;
    let mut left = n;
    while left > 0 {
        d = d.tomorrow().unwrap_or(d);
        if is_business_day(d) {
            left -= 1;
        }
    }
    d
}

/// The business days from the day after `from` up to and including `to` (none when `to` is not
/// after `from`).
pub fn business_days_between(from: Date, to: Date) -> u32 {
    let mut count = 0;
    let mut d = from;
    while d < to {
        d = d.tomorrow().unwrap_or(to);
        if is_business_day(d) {
            count += 1;
        }
    }
    count
}

/// The last day on which the estimate must be given, in the practice's zone, or `None` when the
/// law asks for none (a service scheduled fewer than 3 business days ahead) — 45 CFR
/// 149.610(b)(1)(vi):
/// - scheduled at least 3 business days ahead: within 1 business day of scheduling;
/// - scheduled at least 10 business days ahead: within 3 business days of scheduling;
/// - on request: within 3 business days of the request.
pub fn due_on(trigger: Trigger, zone: &TimeZone) -> Option<Date> {
    match trigger {
        Trigger::Requested { at } => Some(business_days_after(local_day(at, zone), 3)),
        Trigger::Scheduled { at, service_on } => {
            let day = local_day(at, zone);
            let ahead = business_days_between(day, service_on);
            if ahead >= 10 {
                Some(business_days_after(day, 3))
            } else if ahead >= 3 {
                Some(business_days_after(day, 1))
            } else {
                None
            }
        }
    }
}

/// The earliest due date among `triggers` (a request and a scheduling can both apply).
pub fn earliest_due_on(triggers: &[Trigger], zone: &TimeZone) -> Option<Date> {
    triggers.iter().filter_map(|t| due_on(*t, zone)).min()
}

/// The practice's calendar day at `at`.
fn local_day(at: Timestamp, zone: &TimeZone) -> Date {
    at.to_zoned_datetime(zone.clone()).date()
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;
    use proptest::prelude::*;

    fn la() -> TimeZone {
        TimeZone::get("America/Los_Angeles").expect("zone")
    }

    fn at(text: &str) -> Timestamp {
        text.parse().expect("timestamp")
    }

    #[test]
    fn a_friday_evening_request_is_due_the_next_wednesday() {
        // Friday 2026-12-04 22:30 in Los Angeles is already Saturday in UTC: the practice's day
        // is Friday, so three business days on is Wednesday.
        let t = Trigger::Requested {
            at: at("2026-12-05T06:30:00Z"),
        };
        assert_eq!(due_on(t, &la()), Some(date(2026, 12, 9)));
        assert_eq!(due_on(t, &TimeZone::UTC), Some(date(2026, 12, 9)));
        // Thursday evening in Los Angeles, Friday in UTC: Tuesday, not Wednesday.
        let t = Trigger::Requested {
            at: at("2026-12-04T06:30:00Z"),
        };
        assert_eq!(due_on(t, &la()), Some(date(2026, 12, 8)));
        assert_eq!(due_on(t, &TimeZone::UTC), Some(date(2026, 12, 9)));
    }

    #[test]
    fn scheduling_ahead_sets_one_or_three_business_days() {
        let monday = at("2026-12-07T17:00:00Z");
        // Thursday is 3 business days after Monday: within 1 business day, Tuesday.
        let soon = Trigger::Scheduled {
            at: monday,
            service_on: date(2026, 12, 10),
        };
        assert_eq!(due_on(soon, &la()), Some(date(2026, 12, 8)));
        // Wednesday: fewer than 3 business days ahead, no estimate is required.
        let too_soon = Trigger::Scheduled {
            at: monday,
            service_on: date(2026, 12, 9),
        };
        assert_eq!(due_on(too_soon, &la()), None);
        // Two weeks on: within 3 business days, Thursday.
        let later = Trigger::Scheduled {
            at: monday,
            service_on: date(2026, 12, 21),
        };
        assert_eq!(due_on(later, &la()), Some(date(2026, 12, 10)));
        assert_eq!(
            earliest_due_on(&[later, soon, too_soon], &la()),
            Some(date(2026, 12, 8))
        );
    }

    fn zones() -> impl Strategy<Value = TimeZone> {
        prop_oneof![
            Just(TimeZone::UTC),
            Just(la()),
            Just(TimeZone::get("America/New_York").expect("zone")),
            Just(TimeZone::get("Pacific/Honolulu").expect("zone")),
            Just(TimeZone::get("Pacific/Kiritimati").expect("zone")),
        ]
    }

    fn instants() -> impl Strategy<Value = Timestamp> {
        // 2020 to 2040.
        (1_577_836_800i64..2_208_988_800).prop_map(|s| Timestamp::from_second(s).expect("in range"))
    }

    proptest! {
        #[test]
        fn a_request_is_due_exactly_three_business_days_on(t in instants(), zone in zones()) {
            let day = t.to_zoned_datetime(zone.clone()).date();
            let due = due_on(Trigger::Requested { at: t }, &zone).expect("always due");
            prop_assert!(is_business_day(due));
            prop_assert!(due > day);
            prop_assert_eq!(business_days_between(day, due), 3);
            // Three business days never span more than two weekends.
            prop_assert!(due <= day.checked_add(jiff::Span::new().days(7)).expect("in range"));
        }

        #[test]
        fn scheduling_follows_the_rule_for_its_lead_time(
            t in instants(),
            zone in zones(),
            lead in 0i64..40,
        ) {
            let day = t.to_zoned_datetime(zone.clone()).date();
            let service_on = day.checked_add(jiff::Span::new().days(lead)).expect("in range");
            let ahead = business_days_between(day, service_on);
            let due = due_on(Trigger::Scheduled { at: t, service_on }, &zone);
            match due {
                None => prop_assert!(ahead < 3),
                Some(due) => {
                    prop_assert!(ahead >= 3);
                    prop_assert!(is_business_day(due));
                    let within = business_days_between(day, due);
                    prop_assert_eq!(within, if ahead >= 10 { 3 } else { 1 });
                    // The estimate is always due before the service.
                    prop_assert!(due < service_on);
                }
            }
        }

        #[test]
        fn the_due_date_is_the_practice_s_day_not_the_utc_day(t in instants(), zone in zones()) {
            let local = t.to_zoned_datetime(zone.clone()).date();
            let noon_utc = local.at(12, 0, 0, 0).to_zoned_datetime(TimeZone::UTC).expect("in range").timestamp();
            prop_assert_eq!(
                due_on(Trigger::Requested { at: t }, &zone),
                due_on(Trigger::Requested { at: noon_utc }, &TimeZone::UTC)
            );
        }
    }

    fn input() -> EstimateInput {
        let fees = [
            Fee {
                kind: SessionKind::Consultation,
                cents: 0,
                expected: 0,
            },
            Fee {
                kind: SessionKind::Preparation,
                cents: 20_000,
                expected: 2,
            },
            Fee {
                kind: SessionKind::MedicationSession,
                cents: 45_000,
                expected: 3,
            },
            Fee {
                kind: SessionKind::Integration,
                cents: 20_000,
                expected: 3,
            },
        ];
        let mut services = Service::from_fees(&fees);
        services[0].service_code = Some("90837".into());
        EstimateInput {
            person_name: "Robin Vale".into(),
            date_of_birth: date(1988, 4, 2),
            provider: Provider {
                name: "Jordan Ellis, LCSW".into(),
                practice: "Clearwater Psychotherapy".into(),
                npi: "1234567893".into(),
                tin: "12-3456789".into(),
                office: "100 Main St, Oakland, CA 94612".into(),
                states: vec!["California".into()],
            },
            services,
            diagnosis_codes: vec!["F33.1".into()],
            separately: vec![],
            given_on: date(2026, 12, 7),
        }
    }

    #[test]
    fn the_estimate_carries_every_element_of_the_list() {
        let estimate = compose(&input());
        let text = estimate.lines().join("\n");
        for needle in [
            // The person's name and date of birth.
            "Name: Robin Vale",
            "Date of birth: April 2, 1988",
            // Each service in clear language, its code where given, its expected charge.
            "- Preparation session (psychotherapy) (service code 90837): 2 x $200.00 = $400.00",
            "psychotherapy during the medication session): 3 x $450.00 = $1,350.00",
            "- Integration session (psychotherapy): 3 x $200.00 = $600.00",
            "Total estimated charges: $2,350.00",
            // Diagnosis codes.
            "F33.1",
            // The provider's name, NPI, TIN, office and states.
            "Jordan Ellis, LCSW",
            "National Provider Identifier (NPI): 1234567893",
            "Taxpayer Identification Number (TIN): 12-3456789",
            "Office: 100 Main St, Oakland, CA 94612",
            "State(s) where services are expected: California",
            // Items estimated separately: the prescriber and the medication.
            BILLED_SEPARATELY[0],
            BILLED_SEPARATELY[1],
            // The disclaimers.
            statement::RECOMMENDED_LATER,
            statement::ONLY_AN_ESTIMATE,
            statement::DISPUTE,
            statement::NOT_A_CONTRACT,
            // The date.
            "Date of this estimate\nDecember 7, 2026",
        ] {
            assert!(text.contains(needle), "{needle:?} missing from:\n{text}");
        }
        assert!(statement::DISPUTE.contains("at least $400 more"));
        assert!(statement::NOT_A_CONTRACT.contains("not a contract"));
        // A kind of session not expected is not listed.
        assert!(!text.contains("Initial consultation"));
        assert_eq!(estimate.total_cents, 235_000);
    }

    #[test]
    fn dollars_group_thousands() {
        assert_eq!(dollars(0), "$0.00");
        assert_eq!(dollars(5), "$0.05");
        assert_eq!(dollars(123_456_789), "$1,234,567.89");
    }
}
