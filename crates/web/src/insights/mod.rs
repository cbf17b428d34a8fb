//! Counting visits the way the privacy-first counters do, so the practice can see whether its
//! site works without tracking anyone.
//!
//! What is counted, per day in the practice's time zone: page views of the public pages, unique
//! visitors, the referring site's host, a campaign tag (`?ref=` or `utm_source`), and the steps
//! towards a consultation (the contact form opened is a page view of `/contact`; requests sent,
//! times chosen and consultations confirmed are counted where they happen).
//!
//! A unique visitor is a keyed hash (SipHash, a pseudorandom function) of the client's address
//! and its user agent under a key drawn at random for each day, which lives only in this
//! server's memory; the hashes live in memory for that day only. At midnight both are dropped:
//! nothing can link one day's visitor to the next day's, or a count back to anyone. Only the
//! day's number is ever written.
//!
//! A page view takes one short lock on the day's counts, which are written by
//! [`flush_every_few_seconds`] every few seconds and at shutdown, off the request path. A crash
//! loses at most those few seconds of counts, never a request. What belongs to the day (its key,
//! the instants it starts and ends in the practice's time zone) is worked out once a day, not
//! per view.

pub mod report;
mod visit;

use std::collections::{HashMap, HashSet};
use std::hash::Hasher;
use std::net::IpAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use siphasher::sip::SipHasher13;

use store::{InsightCount, Store, StoreError};
pub use visit::{campaign_tag, is_bot, is_prefetch, referrer_host};

/// How often counts are written.
pub const FLUSH_EVERY: Duration = Duration::from_secs(5);

/// At most this many different referring sites, and as many campaign tags, are kept per day;
/// the rest are counted together as [`OTHER`]. Both come from request headers, so without a
/// bound anyone could fill the database with made-up names.
pub const SUBJECTS_PER_DAY: usize = 500;

/// The subject that sources and tags past [`SUBJECTS_PER_DAY`] are counted under (no host or
/// tag can be written so).
pub const OTHER: &str = "(other)";

/// At most this many visitors are remembered per day (some 16 MB); past that, visitors are no
/// longer told apart and none is counted as new.
const VISITORS_PER_DAY: usize = 1 << 20;

practice::text_forms! {
    /// What is counted.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
    pub enum Kind {
        /// A page view; the subject is the page's path.
        View = "view",
        /// A unique visitor of the day; the subject is empty.
        Visitor = "visitor",
        /// A visit referred by another site; the subject is that site's host.
        Source = "source",
        /// A visit by a link with a campaign tag; the subject is the tag.
        Campaign = "campaign",
        /// A step towards a consultation; the subject is the step.
        Step = "step",
    }
}

practice::text_forms! {
    /// A step towards a consultation that happens off the public pages.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Step {
        /// A consultation request was sent and stored (spam is not counted).
        RequestSent = "request_sent",
        /// The person chose a consultation time.
        TimeChosen = "time_chosen",
        /// The clinician confirmed the consultation.
        Confirmed = "confirmed",
    }
}

/// One public page view, as the web layer saw it. Nothing of it outlives the call but counts.
pub struct PageView<'a> {
    /// The page's path (no query string).
    pub path: &'a str,
    /// The query string, for a campaign tag.
    pub query: Option<&'a str>,
    pub client: IpAddr,
    pub user_agent: &'a str,
    /// The `Referer` header, if any.
    pub referrer: Option<&'a str>,
    /// The host the request was sent to (`Host` or the URI's), for telling same-site referrers.
    pub host: Option<&'a str>,
}

/// Counts gathered since the last write, by day, kind and subject.
#[derive(Default, Debug)]
struct Tally(HashMap<(Date, Kind), HashMap<String, i64>>);

impl Tally {
    fn add(&mut self, day: Date, kind: Kind, subject: &str, n: i64) {
        let subjects = self.0.entry((day, kind)).or_default();
        match subjects.get_mut(subject) {
            Some(total) => *total += n,
            None => {
                subjects.insert(subject.to_owned(), n);
            }
        }
    }

    fn merge(&mut self, other: Tally) {
        for ((day, kind), subjects) in other.0 {
            for (subject, n) in subjects {
                self.add(day, kind, &subject, n);
            }
        }
    }
}

/// What is remembered of the current day, and dropped with it: its key, the visitors seen
/// (their keyed hashes), and the referring sites and campaign tags counted.
struct Today {
    day: Option<Date>,
    /// When the day starts and when the next one does, in the practice's time zone: a page view
    /// within them is of this day, found by two comparisons.
    span: Option<(Timestamp, Timestamp)>,
    /// The day's key of the visitor hash, drawn at random.
    key: [u8; 16],
    visitors: HashSet<u64>,
    sources: HashSet<String>,
    campaigns: HashSet<String>,
}

impl Today {
    /// Nothing remembered yet: the first view or step starts a day.
    fn none() -> Today {
        Today {
            day: None,
            span: None,
            key: [0; 16],
            visitors: HashSet::new(),
            sources: HashSet::new(),
            campaigns: HashSet::new(),
        }
    }
}

/// The counts not yet written, and the day they are being gathered for.
struct Counts {
    tally: Tally,
    today: Today,
}

impl Counts {
    /// Moves on to `day` if it is not the one remembered: yesterday's key, visitors and
    /// subjects are forgotten and a new key is drawn.
    fn meet(&mut self, day: Date) -> &mut Today {
        if self.today.day != Some(day) {
            self.today = Today {
                day: Some(day),
                key: crypto::random::bytes(),
                ..Today::none()
            };
        }
        &mut self.today
    }

    /// The practice's day at `now`, and that day's memory: the remembered day if `now` falls
    /// within it (the common case), else the day worked out in `time_zone`, moved on to.
    fn day_at(&mut self, now: Timestamp, time_zone: &TimeZone) -> (Date, &mut Today) {
        if let (Some(day), Some((start, end))) = (self.today.day, self.today.span)
            && start <= now
            && now < end
        {
            return (day, &mut self.today);
        }
        let day = time_zone.to_datetime(now).date();
        let today = self.meet(day);
        // Where the day's bounds cannot be worked out (a date at the end of the calendar), it
        // is looked up again at the next view.
        today.span = span_of(day, time_zone);
        (day, today)
    }
}

/// When `day` starts and when the next day starts, in `time_zone` (a day can be 23 or 25 hours
/// long, or start at 01:00 where clocks skip midnight).
fn span_of(day: Date, time_zone: &TimeZone) -> Option<(Timestamp, Timestamp)> {
    let start = day.to_zoned_datetime(time_zone.clone()).ok()?.timestamp();
    let end = day
        .tomorrow()
        .ok()?
        .to_zoned_datetime(time_zone.clone())
        .ok()?
        .timestamp();
    Some((start, end))
}

impl Today {
    /// The keyed hash of a visitor under the day's key. The address is always its 16-byte form
    /// (IPv4 as IPv4-mapped IPv6), so an address and a user agent are read apart unambiguously.
    fn visitor_hash(&self, client: IpAddr, user_agent: &str) -> u64 {
        let address = match client {
            IpAddr::V4(a) => a.to_ipv6_mapped(),
            IpAddr::V6(a) => a,
        };
        let mut h = SipHasher13::new_with_key(&self.key);
        h.write(&address.octets());
        h.write(user_agent.as_bytes());
        h.finish()
    }

    /// Whether this address and browser are new today; remembers them (as a keyed hash) if so.
    fn first_visit(&mut self, client: IpAddr, user_agent: &str) -> bool {
        let hash = self.visitor_hash(client, user_agent);
        self.visitors.len() < VISITORS_PER_DAY && self.visitors.insert(hash)
    }

    /// `subject` if it is among today's first [`SUBJECTS_PER_DAY`] of its kind, else [`OTHER`].
    fn admit(&mut self, kind: Kind, subject: String) -> String {
        let set = if kind == Kind::Source {
            &mut self.sources
        } else {
            &mut self.campaigns
        };
        if set.contains(&subject) {
            subject
        } else if set.len() < SUBJECTS_PER_DAY {
            set.insert(subject.clone());
            subject
        } else {
            OTHER.to_string()
        }
    }
}

/// This server's counter. Cheap to share (`Arc`); see the module's comment.
pub struct Insights {
    enabled: bool,
    time_zone: TimeZone,
    /// The site's own host, so links within the site are not counted as sources.
    own_host: Option<String>,
    counts: Mutex<Counts>,
    /// Seconds added to the clock, so a test or drill can move to another day.
    shift_seconds: AtomicI64,
}

impl Insights {
    /// A counter for a site at `base_url` in `time_zone`; with `enabled` false it counts nothing.
    pub fn new(enabled: bool, time_zone: TimeZone, base_url: &str) -> Insights {
        Insights {
            enabled,
            time_zone,
            own_host: visit::host_of(base_url),
            counts: Mutex::new(Counts {
                tally: Tally::default(),
                today: Today::none(),
            }),
            shift_seconds: AtomicI64::new(0),
        }
    }

    /// Whether anything is counted.
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// Moves this counter's clock by `days` (tests and drills use it to reach the next day
    /// without waiting for midnight).
    pub fn shift_days(&self, days: i64) {
        self.shift_seconds
            .fetch_add(days * 24 * 3600, Ordering::Relaxed);
    }

    /// The counter's idea of now.
    pub fn now(&self) -> Timestamp {
        let shift = jiff::SignedDuration::from_secs(self.shift_seconds.load(Ordering::Relaxed));
        let now = Timestamp::now();
        now.checked_add(shift).unwrap_or(now)
    }

    /// The practice's calendar day at `at`.
    pub fn day_of(&self, at: Timestamp) -> Date {
        self.time_zone.to_datetime(at).date()
    }

    /// Today, in the practice's time zone.
    pub fn today(&self) -> Date {
        self.day_of(self.now())
    }

    fn counts(&self) -> std::sync::MutexGuard<'_, Counts> {
        match self.counts.lock() {
            Ok(c) => c,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Counts a view of a public page (the caller has checked that it is a page answered 200 or
    /// 304 to a `GET` that is no prefetch; bots are left out here).
    pub fn page_view(&self, view: &PageView<'_>) {
        if !self.enabled || is_bot(view.user_agent) {
            return;
        }
        let now = self.now();
        let source = view
            .referrer
            .and_then(|r| referrer_host(r, view.host, self.own_host.as_deref()));
        let campaign = view.query.and_then(campaign_tag);
        let mut counts = self.counts();
        let (day, today) = counts.day_at(now, &self.time_zone);
        let new_visitor = today.first_visit(view.client, view.user_agent);
        let source = source.map(|s| today.admit(Kind::Source, s));
        let campaign = campaign.map(|c| today.admit(Kind::Campaign, c));
        let t = &mut counts.tally;
        t.add(day, Kind::View, view.path, 1);
        if new_visitor {
            t.add(day, Kind::Visitor, "", 1);
        }
        if let Some(source) = &source {
            t.add(day, Kind::Source, source, 1);
        }
        if let Some(campaign) = &campaign {
            t.add(day, Kind::Campaign, campaign, 1);
        }
    }

    /// Counts a step a visitor took (a request sent, a time chosen) by the rule their page
    /// views are counted by: a browser whose views are left out (a bot, a script, no user agent
    /// at all) has its steps left out too, so no step outnumbers the views that lead to it.
    pub fn visitor_step(&self, step: Step, user_agent: &str) {
        if is_bot(user_agent) {
            return;
        }
        self.step(step);
    }

    /// Counts a step towards a consultation taken in the inbox (the clinician's confirmation).
    pub fn step(&self, step: Step) {
        if !self.enabled {
            return;
        }
        let day = self.today();
        self.counts().tally.add(day, Kind::Step, step.as_str(), 1);
    }

    /// Takes every count gathered so far, leaving the tally empty.
    fn take(&self) -> Tally {
        std::mem::take(&mut self.counts().tally)
    }

    /// Writes the counts gathered so far, adding them to the stored ones. On failure they go
    /// back to the tally and are written with the next batch.
    pub async fn flush(&self, store: &Store) -> Result<usize, StoreError> {
        let tally = self.take();
        if tally.0.is_empty() {
            return Ok(0);
        }
        let rows: Vec<InsightCount> = tally
            .0
            .iter()
            .flat_map(|((day, kind), subjects)| {
                subjects.iter().map(move |(subject, total)| InsightCount {
                    day: day.to_string(),
                    kind: kind.as_str().to_string(),
                    subject: subject.clone(),
                    total: *total,
                })
            })
            .collect();
        match store.add_insight_counts(&rows).await {
            Ok(()) => Ok(rows.len()),
            Err(e) => {
                self.counts().tally.merge(tally);
                Err(e)
            }
        }
    }

    /// The first day kept under a retention of `months`, as of today.
    pub fn first_kept_day(&self, months: u32) -> Date {
        let today = self.today();
        today
            .checked_sub(jiff::Span::new().months(i64::from(months)))
            .unwrap_or(today)
    }
}

/// Writes `insights`'s counts to `store` every [`FLUSH_EVERY`], until the task is stopped
/// (then [`Insights::flush`] once more, at shutdown).
pub fn flush_every_few_seconds(
    workers: &workers::Workers,
    insights: std::sync::Arc<Insights>,
    store: Store,
) {
    workers.every(FLUSH_EVERY, move || {
        let (insights, store) = (insights.clone(), store.clone());
        async move {
            if let Err(e) = insights.flush(&store).await {
                tracing::warn!(error = %e, "cannot write visit counts; keeping them for the next try");
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view<'a>(client: &str, ua: &'a str) -> PageView<'a> {
        PageView {
            path: "/",
            query: None,
            client: client.parse().expect("address"),
            user_agent: ua,
            referrer: None,
            host: None,
        }
    }

    fn total(i: &Insights, kind: Kind, subject: &str) -> i64 {
        let t = i.take();
        let n =
            t.0.iter()
                .filter(|((_, k), _)| *k == kind)
                .filter_map(|(_, s)| s.get(subject))
                .sum();
        i.counts().tally.merge(t);
        n
    }

    #[test]
    fn the_same_visitor_counts_once_a_day_and_again_the_next() {
        let i = Insights::new(true, TimeZone::UTC, "https://practice.test");
        i.page_view(&view("192.0.2.1", "Firefox"));
        i.page_view(&view("192.0.2.1", "Firefox"));
        i.page_view(&view("192.0.2.1", "Chrome"));
        i.page_view(&view("192.0.2.2", "Firefox"));
        assert_eq!(total(&i, Kind::View, "/"), 4);
        assert_eq!(total(&i, Kind::Visitor, ""), 3);
        i.shift_days(1);
        i.page_view(&view("192.0.2.1", "Firefox"));
        assert_eq!(total(&i, Kind::Visitor, ""), 4);
    }

    #[test]
    fn the_key_changes_with_the_day() {
        let i = Insights::new(true, TimeZone::UTC, "https://practice.test");
        let today = i.today();
        let client = "192.0.2.1".parse().expect("ip");
        let hash = |day| i.counts().meet(day).visitor_hash(client, "Firefox");
        let a = hash(today);
        let b = hash(today);
        assert_eq!(a, b);
        let c = hash(today.tomorrow().expect("a tomorrow"));
        assert_ne!(a, c);
    }

    #[test]
    fn a_view_is_of_the_practices_day_by_its_bounds() {
        // Los Angeles's rule: 8 March 2026 is 23 hours long (clocks skip from 02:00 to 03:00).
        let tz = TimeZone::posix("PST8PDT,M3.2.0,M11.1.0").expect("a time-zone rule");
        let at = |s: &str| s.parse::<Timestamp>().expect("an instant");
        let mut c = Counts {
            tally: Tally::default(),
            today: Today::none(),
        };
        let (day, today) = c.day_at(at("2026-03-08T08:00:00Z"), &tz);
        assert_eq!(day, jiff::civil::date(2026, 3, 8), "midnight PST");
        let key = today.key;
        today.visitors.insert(1);
        let (day, today) = c.day_at(at("2026-03-09T06:59:59Z"), &tz);
        assert_eq!(
            day,
            jiff::civil::date(2026, 3, 8),
            "a second before midnight PDT"
        );
        assert_eq!(
            (today.key, today.visitors.len()),
            (key, 1),
            "the same day's memory"
        );
        let (day, today) = c.day_at(at("2026-03-09T07:00:00Z"), &tz);
        assert_eq!(day, jiff::civil::date(2026, 3, 9), "midnight PDT");
        assert_ne!(today.key, key, "a new day, a new key");
        assert!(
            today.visitors.is_empty(),
            "yesterday's visitors are forgotten"
        );
        let (day, _) = c.day_at(at("2026-03-08T07:59:59Z"), &tz);
        assert_eq!(
            day,
            jiff::civil::date(2026, 3, 7),
            "a clock set back finds its day too"
        );
    }

    #[test]
    fn made_up_sources_and_tags_past_the_days_bound_are_counted_together() {
        let i = Insights::new(true, TimeZone::UTC, "https://practice.test");
        let n = SUBJECTS_PER_DAY + 20;
        for k in 0..n {
            let referrer = format!("https://site{k}.test/");
            let query = format!("ref=tag{k}");
            i.page_view(&PageView {
                referrer: Some(&referrer),
                query: Some(&query),
                ..view("192.0.2.1", "Firefox")
            });
        }
        // A source already known today is still counted under its name.
        i.page_view(&PageView {
            referrer: Some("https://site0.test/"),
            ..view("192.0.2.1", "Firefox")
        });
        assert_eq!(total(&i, Kind::Source, "site0.test"), 2);
        assert_eq!(total(&i, Kind::Source, OTHER), 20);
        assert_eq!(total(&i, Kind::Campaign, OTHER), 20);
        let t = i.take();
        let sources =
            t.0.iter()
                .filter(|((_, k), _)| *k == Kind::Source)
                .map(|(_, s)| s.len())
                .sum::<usize>();
        assert_eq!(sources, SUBJECTS_PER_DAY + 1);
    }

    #[test]
    fn nothing_is_counted_when_off() {
        let i = Insights::new(false, TimeZone::UTC, "https://practice.test");
        i.page_view(&view("192.0.2.1", "Firefox"));
        i.step(Step::RequestSent);
        assert!(i.take().0.is_empty());
    }

    #[test]
    fn bots_are_not_counted() {
        let i = Insights::new(true, TimeZone::UTC, "https://practice.test");
        i.page_view(&view(
            "192.0.2.1",
            "Googlebot/2.1 (+http://www.google.com/bot.html)",
        ));
        i.page_view(&view("192.0.2.1", ""));
        assert!(i.take().0.is_empty());
    }

    #[test]
    fn a_visitor_step_is_counted_by_the_rule_of_its_views() {
        let i = Insights::new(true, TimeZone::UTC, "https://practice.test");
        i.visitor_step(Step::RequestSent, "curl/8.5.0");
        i.visitor_step(Step::RequestSent, "");
        assert!(i.take().0.is_empty(), "a script's request is not counted");
        i.visitor_step(Step::RequestSent, "Mozilla/5.0 Firefox/128.0");
        assert_eq!(total(&i, Kind::Step, Step::RequestSent.as_str()), 1);
    }
}
