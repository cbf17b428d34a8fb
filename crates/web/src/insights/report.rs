//! The numbers the clinician's insights page shows, made from the stored counts: visits over
//! the period, the weekly steps towards a consultation, top pages, sources and campaign tags,
//! and the tally of answers to "how did you hear about the practice". No formatting for a page
//! here; the web layer draws it.

use std::collections::{BTreeMap, HashMap};

use jiff::ToSpan;
use jiff::civil::Date;

use super::{Kind, Step};
use store::InsightCount;

/// The period a report covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Period {
    /// The last 30 days, day by day.
    Days30,
    /// The last 12 months, month by month (this month so far included).
    Months12,
}

impl Period {
    pub fn parse(s: Option<&str>) -> Period {
        match s {
            Some("12m") => Period::Months12,
            _ => Period::Days30,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Period::Days30 => "30d",
            Period::Months12 => "12m",
        }
    }

    /// The period's first day, when today is `today`.
    pub fn first_day(self, today: Date) -> Date {
        match self {
            Period::Days30 => today.checked_sub(29.days()).unwrap_or(today),
            Period::Months12 => today
                .first_of_month()
                .checked_sub(11.months())
                .unwrap_or(today),
        }
    }
}

/// Visits in one day or month.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Visits {
    /// The day or month's first day.
    pub start: Date,
    pub page_views: i64,
    /// Unique visitors (for a month: the sum of its days' unique visitors).
    pub visitors: i64,
}

/// The five steps towards a consultation, in order.
pub const FUNNEL_STEPS: [&str; 5] = [
    "Visits to the home page",
    "Contact form opened",
    "Requests sent",
    "Times chosen",
    "Consultations confirmed",
];

/// The steps towards a consultation in one week (Monday to Sunday).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FunnelWeek {
    pub monday: Date,
    /// In the order of [`FUNNEL_STEPS`].
    pub steps: [i64; 5],
}

/// Everything the insights page shows.
#[derive(Clone, Debug)]
pub struct Report {
    pub period: Period,
    pub first_day: Date,
    pub today: Date,
    pub visits: Vec<Visits>,
    pub weeks: Vec<FunnelWeek>,
    /// The steps over the whole period.
    pub funnel_totals: [i64; 5],
    pub top_pages: Vec<(String, i64)>,
    pub top_sources: Vec<(String, i64)>,
    pub campaigns: Vec<(String, i64)>,
    /// Answers to "how did you hear about the practice", most frequent first.
    pub heard: Vec<(String, i64)>,
    /// Requests that left the question unanswered.
    pub heard_unanswered: i64,
}

/// How many rows the top lists keep.
pub const TOP: usize = 10;

fn top(map: HashMap<String, i64>, n: usize) -> Vec<(String, i64)> {
    let mut v: Vec<_> = map.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v.truncate(n);
    v
}

impl Report {
    /// The report for `period` ending `today` from the stored `counts` (those before the
    /// period's first day are ignored) and the answers of the period's requests.
    pub fn build(
        period: Period,
        today: Date,
        counts: &[InsightCount],
        answers: &[Option<String>],
    ) -> Report {
        let first_day = period.first_day(today);
        let bucket = |day: Date| match period {
            Period::Days30 => day,
            Period::Months12 => day.first_of_month(),
        };
        let mut visits: BTreeMap<Date, (i64, i64)> = BTreeMap::new();
        let mut day = first_day;
        while day <= today {
            visits.entry(bucket(day)).or_default();
            day = match day.tomorrow() {
                Ok(d) => d,
                Err(_) => break,
            };
        }
        let monday_of = |day: Date| {
            let back = i64::from(day.weekday().to_monday_zero_offset());
            day.checked_sub(back.days()).unwrap_or(day)
        };
        let mut weeks: BTreeMap<Date, [i64; 5]> = BTreeMap::new();
        let mut monday = monday_of(first_day);
        while monday <= today {
            weeks.entry(monday).or_default();
            monday = monday
                .checked_add(7.days())
                .unwrap_or(today.tomorrow().unwrap_or(today));
        }
        let mut pages = HashMap::new();
        let mut sources = HashMap::new();
        let mut campaigns = HashMap::new();
        for c in counts {
            let Ok(day) = c.day.parse::<Date>() else {
                continue;
            };
            if day < first_day || day > today {
                continue;
            }
            let Some(kind) = Kind::parse(&c.kind) else {
                continue;
            };
            let step = match (kind, c.subject.as_str()) {
                (Kind::View, "/") => Some(0),
                (Kind::View, "/contact") => Some(1),
                (Kind::Step, s) if s == Step::RequestSent.as_str() => Some(2),
                (Kind::Step, s) if s == Step::TimeChosen.as_str() => Some(3),
                (Kind::Step, s) if s == Step::Confirmed.as_str() => Some(4),
                _ => None,
            };
            if let Some(i) = step {
                weeks.entry(monday_of(day)).or_default()[i] += c.total;
            }
            match kind {
                Kind::View => {
                    visits.entry(bucket(day)).or_default().0 += c.total;
                    *pages.entry(c.subject.clone()).or_default() += c.total;
                }
                Kind::Visitor => visits.entry(bucket(day)).or_default().1 += c.total,
                Kind::Source => *sources.entry(c.subject.clone()).or_default() += c.total,
                Kind::Campaign => *campaigns.entry(c.subject.clone()).or_default() += c.total,
                Kind::Step => {}
            }
        }
        let weeks: Vec<FunnelWeek> = weeks
            .into_iter()
            .map(|(monday, steps)| FunnelWeek { monday, steps })
            .collect();
        let mut funnel_totals = [0; 5];
        for w in &weeks {
            for (t, s) in funnel_totals.iter_mut().zip(w.steps) {
                *t += s;
            }
        }
        let (heard, heard_unanswered) = tally(answers);
        Report {
            period,
            first_day,
            today,
            visits: visits
                .into_iter()
                .map(|(start, (page_views, visitors))| Visits {
                    start,
                    page_views,
                    visitors,
                })
                .collect(),
            weeks,
            funnel_totals,
            top_pages: top(pages, TOP),
            top_sources: top(sources, TOP),
            campaigns: top(campaigns, TOP),
            heard,
            heard_unanswered,
        }
    }
}

/// Answers grouped without regard to case or spacing ("Psychology Today" and "psychology
/// today " are one), most frequent first; and the unanswered count.
pub fn tally(answers: &[Option<String>]) -> (Vec<(String, i64)>, i64) {
    let mut groups: HashMap<String, (String, i64)> = HashMap::new();
    let mut unanswered = 0;
    for answer in answers {
        let shown = answer
            .as_deref()
            .map(|a| a.split_whitespace().collect::<Vec<_>>().join(" "))
            .unwrap_or_default();
        if shown.is_empty() {
            unanswered += 1;
            continue;
        }
        let key = shown.to_lowercase();
        let group = groups.entry(key).or_insert_with(|| (shown.clone(), 0));
        // Shown the same whatever order the answers come in: capitals first.
        if shown < group.0 {
            group.0 = shown;
        }
        group.1 += 1;
    }
    let mut v: Vec<(String, i64)> = groups.into_values().collect();
    v.sort_by(|a, b| {
        b.1.cmp(&a.1)
            .then_with(|| a.0.to_lowercase().cmp(&b.0.to_lowercase()))
    });
    (v, unanswered)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    /// Asserts the report's columns of visits: how many, when the first starts, and the page
    /// views of the first and of the last.
    fn assert_visits(r: &Report, columns: usize, first: jiff::civil::Date, views: (i64, i64)) {
        assert_eq!(r.visits.len(), columns);
        assert_eq!(r.visits[0].start, first);
        assert_eq!(r.visits[0].page_views, views.0);
        assert_eq!(r.visits[columns - 1].page_views, views.1);
    }

    fn count(day: &str, kind: &str, subject: &str, total: i64) -> InsightCount {
        InsightCount {
            day: day.into(),
            kind: kind.into(),
            subject: subject.into(),
            total,
        }
    }

    #[test]
    fn thirty_days_day_by_day_with_weeks_from_monday() {
        let today = date(2026, 11, 29); // a Sunday
        let counts = [
            count("2026-10-31", "view", "/", 5),   // the first day
            count("2026-10-30", "view", "/", 100), // before the period
            count("2026-11-29", "view", "/", 2),
            count("2026-11-29", "view", "/contact", 1),
            count("2026-11-29", "visitor", "", 2),
            count("2026-11-24", "step", "request_sent", 1),
            count("2026-11-29", "source", "directory.test", 3),
        ];
        let r = Report::build(Period::Days30, today, &counts, &[]);
        assert_visits(&r, 30, date(2026, 10, 31), (5, 3));
        assert_eq!(r.visits[29].visitors, 2);
        assert_eq!(r.weeks.first().map(|w| w.monday), Some(date(2026, 10, 26)));
        assert_eq!(r.weeks.last().map(|w| w.monday), Some(date(2026, 11, 23)));
        assert_eq!(r.weeks.last().map(|w| w.steps), Some([2, 1, 1, 0, 0]));
        assert_eq!(r.funnel_totals, [7, 1, 1, 0, 0]);
        assert_eq!(r.top_pages[0], ("/".to_string(), 7));
        assert_eq!(r.top_sources, vec![("directory.test".to_string(), 3)]);
    }

    #[test]
    fn twelve_months_month_by_month() {
        let today = date(2026, 11, 29);
        let counts = [
            count("2025-12-01", "view", "/", 1),
            count("2025-11-30", "view", "/", 100),
            count("2026-11-02", "view", "/", 4),
        ];
        let r = Report::build(Period::Months12, today, &counts, &[]);
        assert_visits(&r, 12, date(2025, 12, 1), (1, 4));
    }

    #[test]
    fn answers_are_tallied_regardless_of_case_and_spacing() {
        let answers = [
            Some("  psychology   today ".to_string()),
            Some("Psychology Today".to_string()),
            Some("A friend".to_string()),
            None,
            Some("   ".to_string()),
        ];
        let (heard, unanswered) = tally(&answers);
        assert_eq!(
            heard,
            vec![
                ("Psychology Today".to_string(), 2),
                ("A friend".to_string(), 1)
            ]
        );
        assert_eq!(unanswered, 2);
    }
}
