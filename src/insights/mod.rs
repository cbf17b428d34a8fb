//! Counting visits the way the privacy-first counters do, so the practice can see whether its
//! site works without tracking anyone.
//!
//! What is counted, per day in the practice's time zone: page views of the public pages, unique
//! visitors, the referring site's host, a campaign tag (`?ref=` or `utm_source`), and the steps
//! towards a consultation (the contact form opened is a page view of `/contact`; requests sent,
//! times chosen and consultations confirmed are counted where they happen).
//!
//! A unique visitor is a hash of a salt, the client's address and its user agent. The salt is
//! drawn at random for each day and lives only in this server's memory; the hashes live in
//! memory for that day only. At midnight both are dropped: nothing can link one day's visitor
//! to the next day's, or a count back to anyone. Only the day's number is ever written.
//!
//! Counting must not slow serving: a page view takes one short lock on one of several shards
//! (the shard is the serving thread's own, so threads rarely meet), and the counts are written
//! by [`spawn_flusher`] every few seconds and at shutdown, off the request path. A crash loses
//! at most those few seconds of counts, never a request.

pub mod report;
mod visit;

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::time::Duration;

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use sha2::{Digest, Sha256};

use crate::store::{InsightCount, Store, StoreError};
pub use visit::{campaign_tag, is_bot, is_prefetch, referrer_host};

/// How often counts are written.
pub const FLUSH_EVERY: Duration = Duration::from_secs(5);

/// How many shards the in-memory tally has (a power of two, more than the serving threads).
const SHARDS: usize = 16;

/// At most this many different referring sites, and as many campaign tags, are kept per day;
/// the rest are counted together as [`OTHER`]. Both come from request headers, so without a
/// bound anyone could fill the database with made-up names.
pub const SUBJECTS_PER_DAY: usize = 500;

/// The subject that sources and tags past [`SUBJECTS_PER_DAY`] are counted under (no host or
/// tag can be written so).
pub const OTHER: &str = "(other)";

/// At most this many visitors are remembered per shard and day (a million in all, some 16 MB);
/// past that, visitors are no longer told apart and none is counted as new.
const SEEN_PER_SHARD: usize = 65_536;

/// What is counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// A page view; the subject is the page's path.
    View,
    /// A unique visitor of the day; the subject is empty.
    Visitor,
    /// A visit referred by another site; the subject is that site's host.
    Source,
    /// A visit by a link with a campaign tag; the subject is the tag.
    Campaign,
    /// A step towards a consultation; the subject is the step.
    Step,
}

impl Kind {
    pub const ALL: [Kind; 5] = [
        Kind::View,
        Kind::Visitor,
        Kind::Source,
        Kind::Campaign,
        Kind::Step,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::View => "view",
            Kind::Visitor => "visitor",
            Kind::Source => "source",
            Kind::Campaign => "campaign",
            Kind::Step => "step",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// A step towards a consultation that happens off the public pages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// A consultation request was sent and stored (spam is not counted).
    RequestSent,
    /// The person chose a consultation time.
    TimeChosen,
    /// The clinician confirmed the consultation.
    Confirmed,
}

impl Step {
    pub const ALL: [Step; 3] = [Step::RequestSent, Step::TimeChosen, Step::Confirmed];

    pub fn as_str(self) -> &'static str {
        match self {
            Step::RequestSent => "request_sent",
            Step::TimeChosen => "time_chosen",
            Step::Confirmed => "confirmed",
        }
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

/// The visitors seen today (their hashes), in one shard of the set.
#[derive(Default)]
struct Seen {
    day: Option<Date>,
    hashes: HashSet<u64>,
}

/// The referring sites and campaign tags counted today.
#[derive(Default)]
struct Subjects {
    day: Option<Date>,
    sources: HashSet<String>,
    campaigns: HashSet<String>,
}

/// Today's salt.
struct Salt {
    day: Option<Date>,
    bytes: [u8; 32],
}

/// This server's counter. Cheap to share (`Arc`); see the module's comment.
pub struct Insights {
    enabled: bool,
    time_zone: TimeZone,
    /// The site's own host, so links within the site are not counted as sources.
    own_host: Option<String>,
    tallies: Vec<Mutex<Tally>>,
    seen: Vec<Mutex<Seen>>,
    subjects: Mutex<Subjects>,
    salt: Mutex<Salt>,
    /// Seconds added to the clock, so a test or drill can move to another day.
    shift_seconds: AtomicI64,
    /// Tells this counter's per-thread copies (of today and the salt) from another's.
    id: usize,
}

static NEXT_ID: AtomicUsize = AtomicUsize::new(1);

static NEXT_SHARD: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// The shard this thread counts into.
    static SHARD: usize = NEXT_SHARD.fetch_add(1, Ordering::Relaxed) % SHARDS;
}

impl Insights {
    /// A counter for a site at `base_url` in `time_zone`; with `enabled` false it counts nothing.
    pub fn new(enabled: bool, time_zone: TimeZone, base_url: &str) -> Insights {
        Insights {
            enabled,
            time_zone,
            own_host: visit::host_of(base_url),
            tallies: (0..SHARDS).map(|_| Mutex::default()).collect(),
            seen: (0..SHARDS).map(|_| Mutex::default()).collect(),
            subjects: Mutex::default(),
            salt: Mutex::new(Salt {
                day: None,
                bytes: [0; 32],
            }),
            shift_seconds: AtomicI64::new(0),
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
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
        // Worked out once a day per thread: until the next midnight, a clock reading will do.
        thread_local! {
            static TODAY: std::cell::Cell<(i64, (usize, i64), Option<Date>)> =
                const { std::cell::Cell::new((i64::MIN, (0, 0), None)) };
        }
        let now = self.now();
        let now_ms = now.as_millisecond();
        let (until_ms, zone_key, cached) = TODAY.with(std::cell::Cell::get);
        let key = self.cache_key();
        if let Some(day) = cached
            && now_ms < until_ms
            && zone_key == key
        {
            return day;
        }
        let day = self.day_of(now);
        let until = day
            .tomorrow()
            .ok()
            .and_then(|d| {
                self.time_zone
                    .to_timestamp(d.to_datetime(jiff::civil::Time::midnight()))
                    .ok()
            })
            .map_or(now_ms, |t| t.as_millisecond());
        TODAY.with(|c| c.set((until, key, Some(day))));
        day
    }

    /// Tells this counter's cached days from another's (tests run several in one process) and
    /// from before a shift of the clock.
    fn cache_key(&self) -> (usize, i64) {
        (self.id, self.shift_seconds.load(Ordering::Relaxed))
    }

    fn with_tally(&self, f: impl FnOnce(&mut Tally)) {
        let shard = SHARD.with(|s| *s);
        let mut tally = match self.tallies[shard].lock() {
            Ok(t) => t,
            Err(poisoned) => poisoned.into_inner(),
        };
        f(&mut tally);
    }

    /// Counts a view of a public page (the caller has checked that it is a page answered 200 or
    /// 304 to a `GET` that is no prefetch; bots are left out here).
    pub fn page_view(&self, view: &PageView<'_>) {
        if !self.enabled || is_bot(view.user_agent) {
            return;
        }
        let day = self.today();
        let new_visitor = self.first_visit_today(day, view.client, view.user_agent);
        let source = view
            .referrer
            .and_then(|r| referrer_host(r, view.host, self.own_host.as_deref()))
            .map(|s| self.admit(day, Kind::Source, s));
        let campaign = view
            .query
            .and_then(campaign_tag)
            .map(|c| self.admit(day, Kind::Campaign, c));
        self.with_tally(|t| {
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
        });
    }

    /// `subject` if it is among today's first [`SUBJECTS_PER_DAY`] of its kind, else [`OTHER`].
    fn admit(&self, day: Date, kind: Kind, subject: String) -> String {
        let mut known = match self.subjects.lock() {
            Ok(k) => k,
            Err(poisoned) => poisoned.into_inner(),
        };
        if known.day != Some(day) {
            *known = Subjects {
                day: Some(day),
                ..Subjects::default()
            };
        }
        let set = if kind == Kind::Source {
            &mut known.sources
        } else {
            &mut known.campaigns
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

    /// Counts a step towards a consultation.
    pub fn step(&self, step: Step) {
        if !self.enabled {
            return;
        }
        let day = self.today();
        self.with_tally(|t| t.add(day, Kind::Step, step.as_str(), 1));
    }

    /// Whether this address and browser are new today; remembers them (as a salted hash) if so.
    fn first_visit_today(&self, day: Date, client: IpAddr, user_agent: &str) -> bool {
        let hash = self.visitor_hash(day, client, user_agent);
        let shard = (hash as usize) % SHARDS;
        let mut seen = match self.seen[shard].lock() {
            Ok(s) => s,
            Err(poisoned) => poisoned.into_inner(),
        };
        if seen.day != Some(day) {
            // A new day: yesterday's visitors are forgotten, in each shard as it meets the day.
            seen.day = Some(day);
            seen.hashes = HashSet::new();
        }
        if seen.hashes.len() >= SEEN_PER_SHARD {
            return false;
        }
        seen.hashes.insert(hash)
    }

    /// The salt of `day`, drawn when the day is first met; the previous day's is dropped.
    fn salt_of(&self, day: Date) -> [u8; 32] {
        let mut salt = match self.salt.lock() {
            Ok(s) => s,
            Err(poisoned) => poisoned.into_inner(),
        };
        if salt.day != Some(day) {
            salt.bytes = crate::crypto::random::bytes();
            salt.day = Some(day);
        }
        salt.bytes
    }

    /// The salted hash of a visitor, with the salt of `day` (drawn when the day is first met).
    fn visitor_hash(&self, day: Date, client: IpAddr, user_agent: &str) -> u64 {
        // Each thread keeps a copy of the day's salt, so serving threads do not queue for it.
        thread_local! {
            static SALT: std::cell::Cell<(usize, Option<Date>, [u8; 32])> =
                const { std::cell::Cell::new((0, None, [0; 32])) };
        }
        let me = self.id;
        let (owner, salted_day, bytes) = SALT.with(std::cell::Cell::get);
        let salt = if owner == me && salted_day == Some(day) {
            bytes
        } else {
            let bytes = self.salt_of(day);
            SALT.with(|c| c.set((me, Some(day), bytes)));
            bytes
        };
        let mut h = Sha256::new();
        h.update(salt);
        match client {
            IpAddr::V4(a) => h.update(a.octets()),
            IpAddr::V6(a) => h.update(a.octets()),
        }
        h.update(user_agent.as_bytes());
        let digest = h.finalize();
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        u64::from_le_bytes(first)
    }

    /// Takes every count gathered so far, leaving the tally empty.
    fn take(&self) -> Tally {
        let mut all = Tally::default();
        for shard in &self.tallies {
            let taken = match shard.lock() {
                Ok(mut t) => std::mem::take(&mut *t),
                Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
            };
            all.merge(taken);
        }
        all
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
                self.with_tally(|t| t.merge(tally));
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
    workers: &crate::workers::Workers,
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
        i.with_tally(|mine| mine.merge(t));
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
    fn the_salt_changes_with_the_day() {
        let i = Insights::new(true, TimeZone::UTC, "https://practice.test");
        let today = i.today();
        let a = i.visitor_hash(today, "192.0.2.1".parse().expect("ip"), "Firefox");
        let b = i.visitor_hash(today, "192.0.2.1".parse().expect("ip"), "Firefox");
        assert_eq!(a, b);
        let tomorrow = today.tomorrow().expect("a tomorrow");
        let c = i.visitor_hash(tomorrow, "192.0.2.1".parse().expect("ip"), "Firefox");
        assert_ne!(a, c);
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
}
