//! Counting visits without tracking anyone, against the real server and database (SQLite, or
//! PostgreSQL in the second run): page views of public pages only, unique visitors per day,
//! referrers reduced to their host, campaign tags, the steps towards a consultation against
//! the requests and bookings actually made, and nothing identifying on disk or in the log.

use crate::common;
use crate::common::insights::*;

use std::collections::BTreeMap;
use std::time::Duration;

use crate::common::clinician::Clinician;
use crate::common::{Process, TestApp, at_rest};

/// Asserts that the counts `c` of `kind` are exactly `expected` (each subject, its count).
#[track_caller]
fn assert_counted(
    c: &BTreeMap<String, BTreeMap<String, i64>>,
    kind: &str,
    expected: &[(&str, i64)],
) {
    let expected: BTreeMap<String, i64> =
        expected.iter().map(|(s, n)| (s.to_string(), *n)).collect();
    assert_eq!(c.get(kind).cloned().unwrap_or_default(), expected, "{c:?}");
}

#[tokio::test]
async fn page_views_of_public_pages_are_counted_and_nothing_else() {
    let app = TestApp::start().await;
    let ua = [("user-agent", FIREFOX)];
    assert_eq!(visit(&app, "/", &ua).await, 200);
    assert_eq!(visit(&app, "/", &ua).await, 200);
    assert_eq!(visit(&app, "/privacy", &ua).await, 200);
    assert_eq!(visit(&app, "/contact", &ua).await, 200);
    // A revalidation answered 304 is a view too.
    let etag = app
        .request("GET", "/privacy", &ua, "")
        .await
        .header("etag")
        .expect("etag")
        .to_string();
    assert_eq!(
        visit(&app, "/privacy", &[ua[0], ("if-none-match", &etag)]).await,
        304
    );

    // None of these is a page view.
    let home = app.request("GET", "/", &ua, "").await.text();
    let script = common::asset_url(&home, "/static/js/compare.", ".js");
    assert_eq!(visit(&app, &script, &ua).await, 200);
    assert_eq!(app.request("HEAD", "/", &ua, "").await.status, 200);
    assert_eq!(visit(&app, "/healthz", &ua).await, 200);
    assert_eq!(visit(&app, "/no-such-page", &ua).await, 404);
    assert_eq!(
        visit(
            &app,
            "/",
            &[(
                "user-agent",
                "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
            )]
        )
        .await,
        200
    );
    assert_eq!(
        visit(&app, "/", &[("user-agent", "UptimeRobot/2.0")]).await,
        200
    );
    assert_eq!(visit(&app, "/", &[]).await, 200, "no user agent at all");
    assert_eq!(
        visit(&app, "/", &[ua[0], ("sec-purpose", "prefetch")]).await,
        200
    );
    assert_eq!(
        visit(&app, "/", &[ua[0], ("purpose", "prefetch")]).await,
        200
    );

    let c = counts(&app).await;
    // `/`: two visits and the one that read the stylesheet's address; `/privacy`: one visit,
    // the one that read its ETag, and the 304.
    assert_eq!(total(&c, "view", "/"), 3, "{c:?}");
    assert_eq!(total(&c, "view", "/privacy"), 3, "{c:?}");
    assert_eq!(total(&c, "view", "/contact"), 1, "{c:?}");
    let views: i64 = c.get("view").map(|s| s.values().sum()).unwrap_or(0);
    assert_eq!(views, 7, "only the seven page views: {c:?}");
}

#[tokio::test]
async fn a_visitor_counts_once_a_day_and_again_the_next_day() {
    let app = TestApp::start().await;
    let firefox = [("user-agent", FIREFOX)];
    let chrome = [("user-agent", CHROME)];
    for _ in 0..3 {
        visit(&app, "/", &firefox).await;
    }
    visit(&app, "/privacy", &firefox).await;
    // The same browser from another address, and another browser from the same address.
    app.request_from("127.0.0.2".parse().expect("ip"), "GET", "/", &firefox, "")
        .await;
    visit(&app, "/", &chrome).await;
    let c = counts(&app).await;
    assert_eq!(total(&c, "visitor", ""), 3, "{c:?}");
    assert_eq!(total(&c, "view", "/"), 5, "{c:?}");

    // The next day the same address and browser are a new visitor: yesterday's salt is gone.
    app.state.insights.shift_days(1);
    visit(&app, "/", &firefox).await;
    visit(&app, "/", &firefox).await;
    let next = counts(&app).await;
    assert_eq!(total(&next, "visitor", ""), 1, "{next:?}");
    assert_eq!(total(&next, "view", "/"), 2, "{next:?}");
}

#[tokio::test]
async fn a_referrer_counts_as_its_host_and_a_campaign_tag_is_counted() {
    let app = TestApp::start().await;
    let ua = ("user-agent", FIREFOX);
    let plain = app.request("GET", "/", &[ua], "").await;
    visit(
        &app,
        "/",
        &[
            ua,
            (
                "referer",
                "https://www.directory.test/therapists/ca/oakland?q=ketamine+depression",
            ),
        ],
    )
    .await;
    visit(
        &app,
        "/privacy",
        &[ua, ("referer", "https://search.test/?q=kap+therapy")],
    )
    .await;
    // A link within the site is no source.
    let own = app.url("/");
    visit(&app, "/privacy", &[ua, ("referer", &own)]).await;
    // Campaign tags: counted, and the page is the same prepared bytes.
    let tagged = app.request("GET", "/?ref=Newsletter", &[ua], "").await;
    assert_eq!(tagged.status, 200);
    assert_eq!(tagged.body, plain.body, "the page is the same with a tag");
    assert_eq!(tagged.header("etag"), plain.header("etag"));
    visit(&app, "/?utm_source=colleague-site&utm_medium=link", &[ua]).await;

    let c = counts(&app).await;
    let sources = [("directory.test", 1), ("search.test", 1)];
    assert_counted(&c, "source", &sources);
    assert_counted(&c, "campaign", &[("newsletter", 1), ("colleague-site", 1)]);
    let stored = format!("{c:?}");
    for part in ["therapists", "ketamine", "kap+therapy", "oakland"] {
        assert!(!stored.contains(part), "{part} stored: {stored}");
    }
}

#[tokio::test]
async fn nothing_is_counted_when_insights_are_off() {
    let app = TestApp::with_config("[insights]\nenabled = false\n").await;
    visit(&app, "/", &[("user-agent", FIREFOX)]).await;
    let c = counts(&app).await;
    assert!(c.is_empty(), "{c:?}");
}

#[tokio::test]
async fn counts_past_the_retention_period_are_deleted_by_housekeeping() {
    let app = TestApp::with_config("[insights]\nretention_months = 2\n").await;
    let today = app.state.insights.today();
    let day = |months: i64| {
        today
            .checked_sub(jiff::Span::new().months(months))
            .expect("a day")
            .to_string()
    };
    let row = |d: String| store::InsightCount {
        day: d,
        kind: "view".into(),
        subject: "/".into(),
        total: 7,
    };
    app.state
        .store
        .add_insight_counts(&[row(day(3)), row(day(2)), row(day(1))])
        .await
        .expect("stored");
    web::housekeeping::run(&app.state)
        .await
        .expect("housekeeping");
    let kept: Vec<String> = app
        .state
        .store
        .insight_counts_since("0000-00-00")
        .await
        .expect("read")
        .into_iter()
        .map(|c| c.day)
        .collect();
    assert_eq!(kept, vec![day(2), day(1)]);
}

/// "Contact form opened 1 → Requests sent 5": a browser whose views are left out (a script,
/// a headless browser) had its requests counted. Both are now counted by the same rule.
#[tokio::test]
async fn the_form_opened_and_the_requests_sent_are_counted_by_the_same_rule() {
    let app = TestApp::with_config(FUNNEL_CONFIG).await;
    for agent in [
        "",
        "curl/8.5.0",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0 Safari/537.36",
        FIREFOX,
    ] {
        let ua = [("user-agent", agent)];
        let headers: &[(&str, &str)] = if agent.is_empty() { &[] } else { &ua };
        let form = app.request("GET", "/contact", headers, "").await;
        assert_eq!(form.status, 200);
        let token = common::token_in(&form.text());
        let mut pairs: Vec<(&str, String)> = common::valid_fields("Ada Lovelace");
        pairs.push(("form_token", token));
        let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let mut post = vec![("content-type", "application/x-www-form-urlencoded")];
        post.extend_from_slice(headers);
        let sent = app
            .request("POST", "/contact", &post, common::form_body(&pairs))
            .await;
        assert_eq!(sent.status, 303, "{}", sent.text());
    }
    assert_eq!(app.state.store.all_requests().await.expect("read").len(), 4);
    let c = counts(&app).await;
    assert_eq!(total(&c, "view", "/contact"), 1, "{c:?}");
    assert_eq!(total(&c, "step", "request_sent"), 1, "{c:?}");
}

#[tokio::test]
async fn the_steps_towards_a_consultation_match_the_requests_and_bookings_made() {
    let app = TestApp::with_config(FUNNEL_CONFIG).await;
    app.add_clinician().await;
    walk_the_funnel(&app).await;
    let c = counts(&app).await;
    assert_eq!(total(&c, "view", "/"), 4, "{c:?}");
    assert_eq!(total(&c, "view", "/contact"), 3, "{c:?}");
    let stored = app.state.store.all_requests().await.expect("read");
    let sent = stored.iter().filter(|r| r.spam.is_none()).count() as i64;
    assert_eq!(sent, 3);
    assert_eq!(total(&c, "step", "request_sent"), sent, "{c:?}");
    let (upcoming, past) = common::booking::bookings(&app, 1000).await;
    let bookings: Vec<_> = upcoming.into_iter().chain(past).collect();
    assert_eq!(
        total(&c, "step", "time_chosen"),
        bookings.len() as i64,
        "{c:?}"
    );
    let confirmed = bookings
        .iter()
        .filter(|b| b.booking.status == practice::booking::BookingStatus::Confirmed)
        .count() as i64;
    assert_eq!(confirmed, 1);
    assert_eq!(total(&c, "step", "confirmed"), confirmed, "{c:?}");
}

/// A raw HTTP/1.1 GET with these headers; the status line's code.
fn raw_get(addr: std::net::SocketAddr, path: &str, headers: &[(&str, &str)]) -> u16 {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).expect("send");
    let mut out = Vec::new();
    s.read_to_end(&mut out).expect("read");
    String::from_utf8_lossy(&out)
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

#[test]
fn no_address_browser_or_full_referrer_reaches_the_disk_or_the_log() {
    // The client's address comes from a trusted proxy's header, so it can carry a marker.
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("kap.toml");
    // Behind a proxy a server is public: the practice's own details, or it shows only the
    // "being set up" page.
    std::fs::write(
        &config,
        format!(
            "[server]\ntrusted_proxies = [\"127.0.0.1\"]\n\n{}",
            common::OWN_PRACTICE
        ),
    )
    .expect("config");
    let config = config.display().to_string();
    let mut p = Process::serve(&["--config", &config], &[]);
    let address = "203.0.113.197";
    let browser = "Mozilla/5.0 (X11; Linux x86_64) MarkerBrowser/uaq7x3";
    let referrer = "https://refhost-m4.test/pathmarker-k2p9?q=querymarker-z8w1";
    for path in ["/", "/privacy", "/?ref=tagged"] {
        let status = raw_get(
            p.addr,
            path,
            &[
                ("x-forwarded-for", address),
                ("user-agent", browser),
                ("referer", referrer),
            ],
        );
        assert_eq!(status, 200);
    }
    // A graceful stop writes the counts gathered since the last batch.
    p.signal("TERM");
    assert!(
        p.wait_exit(Duration::from_secs(20))
            .is_some_and(|s| s.success()),
        "stopped: {}",
        p.stderr()
    );
    // This server's database files (on PostgreSQL, its database and the cluster's
    // write-ahead log, after a checkpoint has written everything out).
    let files = match common::postgres::admin_url() {
        None => at_rest::files_below(&p.dir.path().join("data")),
        Some(admin) => {
            let url = std::fs::read_to_string(p.dir.path().join("data.database-url"))
                .expect("the server's database");
            at_rest::postgres_files(&admin, &url)
        }
    };
    let mut host_found = false;
    for path in &files {
        let Ok(bytes) = std::fs::read(path) else {
            continue;
        };
        for needle in [
            address,
            "MarkerBrowser",
            "uaq7x3",
            "pathmarker-k2p9",
            "querymarker-z8w1",
        ] {
            assert!(
                !at_rest::holds(&bytes, needle),
                "{needle} written to {}",
                path.display()
            );
        }
        host_found |= at_rest::holds(&bytes, "refhost-m4.test");
    }
    assert!(
        host_found,
        "the referrer's host was stored, so the counts were written and searched"
    );
    let log = p.stderr();
    for needle in [
        address,
        "MarkerBrowser",
        "pathmarker",
        "querymarker",
        "refhost-m4",
    ] {
        assert!(!log.contains(needle), "{needle} in the log: {log}");
    }
}

/// The numbers in a table's body (`<td>` cells only), row by row, from the table with `id`.
fn table_numbers(html: &str, id: &str) -> Vec<Vec<i64>> {
    let start = html
        .find(&format!("<table id=\"{id}\""))
        .unwrap_or_else(|| panic!("table {id}"));
    let table = &html[start..start + html[start..].find("</table>").expect("end")];
    let body = &table[table.find("<tbody>").expect("tbody")..];
    body.split("<tr>")
        .skip(1)
        .map(|row| {
            row.split("<td")
                .skip(1)
                .filter_map(|cell| {
                    let from = cell.find('>')? + 1;
                    let to = cell.find("</td>")?;
                    cell[from..to].trim().parse().ok()
                })
                .collect()
        })
        .collect()
}

/// The `data-value`s of a chart's bars, in order.
fn chart_values(html: &str, id: &str) -> Vec<i64> {
    let start = html
        .find(&format!("<svg id=\"{id}\""))
        .unwrap_or_else(|| panic!("chart {id}"));
    let svg = &html[start..start + html[start..].find("</svg>").expect("end")];
    svg.match_indices("data-value=\"")
        .map(|(i, m)| {
            let from = i + m.len();
            svg[from..from + svg[from..].find('"').expect("end")]
                .parse()
                .expect("a number")
        })
        .collect()
}

#[tokio::test]
async fn the_clinician_sees_the_funnel_sources_pages_and_answers_and_can_export_them() {
    let app = TestApp::with_config(FUNNEL_CONFIG).await;
    app.add_clinician().await;
    let ua = ("user-agent", FIREFOX);
    visit(
        &app,
        "/privacy",
        &[ua, ("referer", "https://directory.test/list?q=x")],
    )
    .await;
    visit(&app, "/?ref=-cmd|calc", &[ua]).await;
    walk_the_funnel(&app).await;

    // Signed out: to the sign-in page.
    let r = app.get("/admin/insights").await;
    assert_eq!(r.status, 303);
    let r = app.get("/admin/insights.csv").await;
    assert_eq!(r.status, 303);

    let mut c = Clinician::signed_in(&app).await;
    let inbox = c.get("/admin").await.text();
    assert!(
        inbox.contains("href=\"/admin/insights\""),
        "linked from the navigation"
    );
    let html = c.page("/admin/insights").await;
    assert!(!html.contains("<script"), "no JavaScript");
    // The funnel: 5 views of `/` (one tagged), 3 of the contact form, 3 requests (the spam
    // left out), 2 times chosen, 1 confirmed.
    assert_eq!(
        table_numbers(&html, "funnel-table"),
        vec![vec![5], vec![3], vec![3], vec![2], vec![1]]
    );
    assert_eq!(chart_values(&html, "funnel-chart"), vec![5, 3, 3, 2, 1]);
    // The page views' chart writes its scale: the most views in one day, as in its table.
    let most = table_numbers(&html, "visits-table")
        .iter()
        .filter_map(|row| row.first().copied())
        .max()
        .expect("days");
    assert!(
        html.contains(&format!(
            "<text class=\"chart-scale\" x=\"2\" y=\"24\">{most}</text>"
        )),
        "the chart's scale"
    );
    let weeks = table_numbers(&html, "weeks-table");
    let mut week_totals = [0i64; 5];
    for w in &weeks {
        for (t, n) in week_totals.iter_mut().zip(w) {
            *t += n;
        }
    }
    assert_eq!(week_totals, [5, 3, 3, 2, 1], "{weeks:?}");
    // Visits per day: 30 days, today last, the chart's bars equal to the table's.
    let days = table_numbers(&html, "visits-table");
    assert_eq!(days.len(), 30);
    let views: Vec<i64> = days.iter().map(|d| d[0]).collect();
    assert_eq!(chart_values(&html, "visits-chart"), views);
    assert_eq!(views[29], 9, "5 of /, 3 of the contact form, 1 of /privacy");
    assert_eq!(days[29][1], 1, "one visitor: one address and browser");
    let text = common::visible_text(&html);
    assert!(text.contains("directory.test 1"), "{text}");
    assert!(!text.contains("list?q"), "{text}");
    assert!(text.contains("-cmdcalc 1"), "{text}");
    assert!(text.contains("Psychology Today 2"), "{text}");
    assert!(text.contains("Not answered 1"), "{text}");
    assert!(!text.contains("Spam answer"), "{text}");

    let year = c.get("/admin/insights?period=12m").await.text();
    let months = table_numbers(&year, "visits-table");
    assert_eq!(months.len(), 12);
    assert_eq!(months[11][0], 9);
    assert_eq!(
        table_numbers(&year, "funnel-table"),
        vec![vec![5], vec![3], vec![3], vec![2], vec![1]]
    );

    let csv = c.get("/admin/insights.csv").await;
    assert_eq!(csv.status, 200);
    assert!(
        csv.header("content-type")
            .is_some_and(|t| t.starts_with("text/csv"))
    );
    let today = app.state.insights.today();
    let body = csv.text();
    assert!(body.starts_with("day,kind,subject,total\n"), "{body}");
    assert!(body.contains(&format!("{today},view,/,5\n")), "{body}");
    assert!(
        body.contains(&format!("{today},step,confirmed,1\n")),
        "{body}"
    );
    assert!(
        body.contains(&format!("{today},campaign,'-cmdcalc,1\n")),
        "a cell a spreadsheet would run is made text: {body}"
    );
}

#[tokio::test]
async fn the_privacy_notice_says_what_is_counted_and_what_is_not() {
    let on = TestApp::with_config("[insights]\nretention_months = 14\n").await;
    let html = on.get("/privacy").await.text();
    let text = common::visible_text(&html);
    assert!(html.contains("id=\"visits-counted\""), "{text}");
    for said in [
        "how many times each page was viewed",
        "only that site’s name",
        "replaced every day",
        "only the day’s totals are stored",
        "No cookies are set",
        "nothing is shared with anyone",
        "deleted after 14 months",
    ] {
        assert!(text.contains(said), "{said:?} missing: {text}");
    }
    let off = TestApp::with_config("[insights]\nenabled = false\n").await;
    let text = common::visible_text(&off.get("/privacy").await.text());
    assert!(
        text.contains("This website does not count visits"),
        "{text}"
    );
    assert!(
        !text.contains("how many times each page was viewed"),
        "{text}"
    );
}
