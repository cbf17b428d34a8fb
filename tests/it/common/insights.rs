//! Visits as browsers make them, the counts they leave, and a known walk through the steps
//! towards a consultation.

use std::collections::BTreeMap;

use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::TestApp;
use super::booking::{booking_link, mornings_in, times_in};
use super::clinician::Clinician;

pub const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
pub const CHROME: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36";

/// A page as a browser asks for it.
pub async fn visit(app: &TestApp, path: &str, headers: &[(&str, &str)]) -> u16 {
    app.request("GET", path, headers, "").await.status
}

/// Writes this server's counts and reads every stored count of today, as
/// `kind → subject → total`.
pub async fn counts(app: &TestApp) -> BTreeMap<String, BTreeMap<String, i64>> {
    app.state
        .insights
        .flush(&app.state.store)
        .await
        .expect("counts written");
    let today = app.state.insights.today().to_string();
    let mut out: BTreeMap<String, BTreeMap<String, i64>> = BTreeMap::new();
    for c in app
        .state
        .store
        .insight_counts_since(&today)
        .await
        .expect("counts read")
    {
        if c.day == today {
            *out.entry(c.kind).or_default().entry(c.subject).or_default() += c.total;
        }
    }
    out
}

pub fn total(counts: &BTreeMap<String, BTreeMap<String, i64>>, kind: &str, subject: &str) -> i64 {
    counts
        .get(kind)
        .and_then(|s| s.get(subject))
        .copied()
        .unwrap_or(0)
}

/// Config for the funnel: enough form sends from one address.
pub const FUNNEL_CONFIG: &str = "[contact_form]\nrate_limit_per_hour = 200\n";

/// Walks `app` through a known funnel: 4 views of `/`, 3 of the contact form, 3 requests sent
/// (and one spam), 2 times chosen (one then changed), 1 consultation confirmed. Returns the
/// request ids.
pub async fn walk_the_funnel(app: &TestApp) -> Vec<i64> {
    app.state
        .store
        .save_booking_rules(&mornings_in(TimeZone::UTC), "test", Timestamp::now())
        .await
        .expect("rules saved");
    let ua = [("user-agent", FIREFOX)];
    for _ in 0..4 {
        assert_eq!(visit(app, "/", &ua).await, 200);
    }
    for _ in 0..3 {
        assert_eq!(visit(app, "/contact", &ua).await, 200);
    }
    let mut links = Vec::new();
    for (name, heard) in [
        ("Ada Lovelace", "Psychology Today"),
        ("Grace Hopper", "  psychology   today "),
        ("Mary Somerville", ""),
    ] {
        let r = app.submitted(name, &[("referral_source", heard)]).await;
        let thanks = app.get(r.header("location").expect("location")).await;
        links.push(booking_link(&thanks.text()).expect("a booking link"));
    }
    // Spam (the hidden field filled in) is stored in the spam folder, not counted.
    app.submitted("Spam Bot", &[("website", "http://spam.test")])
        .await;
    let times = times_in(&app.get(&links[0]).await.text());
    // Two people choose a time; the first then changes it, which is no new step.
    for (link, time) in links
        .iter()
        .take(2)
        .chain(links.iter().take(1))
        .zip([&times[0], &times[3], &times[5]])
    {
        let r = app
            .request(
                "POST",
                link,
                &[
                    ("content-type", "application/x-www-form-urlencoded"),
                    ("user-agent", FIREFOX),
                ],
                super::form_body(&[("start", time), ("format", "video")]),
            )
            .await;
        assert_eq!(r.status, 303, "{}", r.text());
    }
    let ids: Vec<i64> = app
        .state
        .store
        .all_requests()
        .await
        .expect("read")
        .into_iter()
        .filter(|r| r.spam.is_none())
        .map(|r| r.id)
        .collect();
    assert_eq!(ids.len(), 3);
    let mut c = Clinician::signed_in(app).await;
    let page = format!("/admin/requests/{}", ids[0]);
    let r = c.decide_booking(&page, &[("decision", "confirm")]).await;
    assert_eq!(r.status, 303);
    ids
}
