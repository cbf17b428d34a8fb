//! The contact form over HTTP: what a person sees, what is stored, and every way a request can be
//! wrong — each answered with a 4xx a person can read, and nothing stored.

use crate::common;
use practice::consultation::SpamReason;
use practice::status::Status;

use crate::common::{TestApp, form_body, valid_fields, visible_text};
use settings::config::Overrides;

async fn stored(app: &TestApp) -> Vec<store::StoredRequest> {
    app.state.store.all_requests().await.expect("read requests")
}

#[tokio::test]
async fn the_form_has_every_field_the_crisis_notice_and_a_token() {
    let app = TestApp::start().await;
    let r = app.get("/contact").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert!(r.header("set-cookie").is_none());
    let html = r.text();
    // Every field the server reads is on the form.
    for name in web::contact::FIELDS {
        assert!(html.contains(&format!("name=\"{name}\"")), "field {name}");
    }
    assert!(html.contains("<option value=\"outside-us\""));
    assert!(html.contains("<option value=\"WY\">Wyoming</option>"));
    let text = visible_text(&html);
    assert!(
        text.contains("This form, my email and my phone are not watched around the clock"),
        "{text}"
    );
    assert!(text.contains("988") && text.contains("911"));
    let crisis = html.find("crisis-notice").expect("crisis notice");
    assert!(
        crisis < html.find("<form").expect("form"),
        "the crisis notice comes before the form"
    );
    // Honeypot hidden with CSS, not type=hidden.
    assert!(html.contains("name=\"website\" type=\"text\""));
    // A fresh token each time.
    assert_ne!(app.token().await, app.token().await);
}

#[tokio::test]
async fn crisis_numbers_and_reply_time_are_configurable() {
    let config = "[contact_form]\ncrisis_line = \"116 123\"\nemergency_number = \"999\"\nreply_time = \"within one working day\"\n";
    let app = TestApp::with_config(config).await;
    let text = visible_text(&app.get("/contact").await.text());
    assert!(text.contains("116 123") && text.contains("999"), "{text}");
    app.submitted("Ada", &[]).await;
    let thanks = visible_text(&app.get("/contact/thanks").await.text());
    assert!(thanks.contains("within one working day"), "{thanks}");
}

#[tokio::test]
async fn the_form_asks_whom_the_consultation_is_for_and_the_minor_flag_follows_their_age() {
    let app = TestApp::start().await;
    let form = visible_text(&app.get("/contact").await.text());
    assert!(form.contains("Who is the consultation for?"), "{form}");
    assert!(
        form.contains("Someone I care for, such as my child"),
        "{form}"
    );
    assert!(!form.contains("Are you 18 or older?"), "{form}");

    // A parent writing for their 16-year-old.
    let parent = app
        .thanked_for(
            "Pat",
            &[("for_whom", "someone_else"), ("age_group", "minor")],
        )
        .await;
    assert!(parent.contains("For someone under 18"), "{parent}");
    assert!(!parent.contains("Because you are under 18"), "{parent}");
    // A 16-year-old writing alone: heard, flagged, and told kindly what happens.
    let teen = app
        .thanked_for("Jo", &[("for_whom", "myself"), ("age_group", "minor")])
        .await;
    assert!(
        teen.contains("your request is welcome. Because you are under 18, a parent or guardian will need to be involved"),
        "{teen}"
    );
    // An adult writing for an adult they care for: not flagged.
    app.submitted(
        "Lou",
        &[("for_whom", "someone_else"), ("age_group", "adult")],
    )
    .await;

    let requests = stored(&app).await;
    let by_name = |n: &str| {
        requests
            .iter()
            .find(|r| r.name == n)
            .unwrap_or_else(|| panic!("{n} stored"))
    };
    use practice::consultation::ForWhom;
    assert_eq!(by_name("Pat").for_whom, Some(ForWhom::SomeoneElse));
    assert!(by_name("Pat").flags.minor);
    assert_eq!(by_name("Jo").for_whom, Some(ForWhom::Myself));
    assert!(by_name("Jo").flags.minor);
    assert!(!by_name("Lou").flags.minor);

    // Without an answer, the form says what to choose.
    let r = app.submit("Ann", &[("for_whom", "")]).await;
    assert_eq!(r.status, 422);
    assert!(visible_text(&r.text()).contains("Choose whom the consultation is for"));

    // A request stored before the form asked stays readable, and says so in the inbox.
    app.execute("UPDATE consultation_requests SET for_whom = NULL")
        .await;
    let requests = stored(&app).await;
    assert!(requests.iter().all(|r| r.for_whom.is_none()));
    let id = requests[0].id;
    app.add_clinician().await;
    let mut c = crate::common::clinician::Clinician::signed_in(&app).await;
    let page = visible_text(&c.get(&format!("/admin/requests/{id}")).await.text());
    assert!(
        page.contains("Not asked (sent before the form asked)"),
        "{page}"
    );
}

#[tokio::test]
async fn a_person_outside_the_us_is_pointed_to_local_emergency_services() {
    let app = TestApp::start().await;
    let r = app.submit("Kim", &[("state", "outside-us")]).await;
    let location = r.header("location").expect("thank-you page").to_string();
    let html = app.get(&location).await.text();
    let text = visible_text(&html);
    assert!(
        text.contains("please don’t wait for a reply: contact your local emergency services."),
        "{text}"
    );
    for us in ["988", "911"] {
        assert!(
            !text.contains(us) && !html.contains(&format!("tel:{us}")),
            "{text}"
        );
    }
    // Someone in a US state is still given the US numbers.
    let r = app.submit("Lee", &[("state", "CA")]).await;
    let text = visible_text(
        &app.get(r.header("location").unwrap_or("/contact/thanks"))
            .await
            .text(),
    );
    assert!(
        text.contains("call or text 988 (Suicide & Crisis Lifeline), or call 911"),
        "{text}"
    );
}

#[tokio::test]
async fn a_valid_request_is_stored_sealed_and_thanked() {
    let app = TestApp::start().await;
    let r = app
        .submitted(
            "Ada Lovelace",
            &[
                ("phone", "(510) 555-0123"),
                ("contact_method", "either"),
                ("message", "Feeling stuck for years."),
                ("referral_source", "A friend"),
            ],
        )
        .await;
    assert_eq!(r.header("location"), Some("/contact/thanks"));
    let all = stored(&app).await;
    assert_eq!(all.len(), 1);
    let req = &all[0];
    assert_eq!(req.name, "Ada Lovelace");
    assert_eq!(req.email, "person@example.com");
    assert_eq!(req.phone.as_deref(), Some("(510) 555-0123"));
    assert_eq!(req.message.as_deref(), Some("Feeling stuck for years."));
    assert_eq!(req.referral_source.as_deref(), Some("A friend"));
    assert_eq!(req.status, Status::New);
    assert!(req.spam.is_none());
    assert!(!req.flags.minor && !req.flags.outside_licensed_states);

    let thanks = app.get("/contact/thanks").await;
    assert_eq!(thanks.status, 200);
    let text = visible_text(&thanks.text());
    assert!(text.contains("What happens next"), "{text}");
    assert!(text.contains("within two business days"));
    assert!(!text.contains("About where you will be"));
}

#[tokio::test]
async fn people_outside_the_licensed_states_or_under_18_are_heard_and_flagged() {
    let app = TestApp::start().await;
    let r = app
        .submitted("Sam", &[("state", "NY"), ("age_group", "minor")])
        .await;
    let location = r.header("location").expect("location").to_string();
    assert!(location.starts_with("/contact/thanks?n="));
    for leak in ["NY", "minor", "outside", "Sam"] {
        assert!(
            !location.contains(leak),
            "the URL reveals nothing: {location}"
        );
    }
    let text = visible_text(&app.get(&location).await.text());
    assert!(
        text.contains("licensed to provide therapy in California"),
        "{text}"
    );
    assert!(text.contains("parent or guardian"), "{text}");
    let req = &stored(&app).await[0];
    assert!(req.flags.outside_licensed_states && req.flags.minor);

    let text = app.thanked_for("Kim", &[("state", "outside-us")]).await;
    assert!(
        text.contains("About where you will be") && !text.contains("For someone under 18"),
        "{text}"
    );
    // A tampered note is simply the plain page.
    let plain = visible_text(&app.get("/contact/thanks?n=00ff").await.text());
    assert!(plain.contains("What happens next") && !plain.contains("About where you will be"));
}

#[tokio::test]
async fn mistakes_bring_the_form_back_with_everything_typed_and_a_summary() {
    let app = TestApp::start().await;
    let token = app.token().await;
    let message = "Some <b>bold</b> words & a \"quote\"";
    let html = app
        .post_form(&[
            ("name", ""),
            ("email", "not-an-email"),
            ("phone", "(510) 555-0123"),
            ("contact_method", "phone"),
            ("state", "CA"),
            ("age_group", "adult"),
            ("message", message),
            ("referral_source", "\"><img src=x onerror=alert(1)>"),
            ("form_token", &token),
        ])
        .await
        .page_with(422);
    assert!(
        html.contains("<title>Error: "),
        "the title says there is an error"
    );
    let summary = &html[html.find("class=\"error-summary\"").expect("summary")..];
    let summary = &summary[..summary.find("</div>").expect("end")];
    assert!(
        summary.contains("<a href=\"#name\">Enter your name</a>"),
        "{summary}"
    );
    assert!(summary.contains("<a href=\"#email\">"), "{summary}");
    assert!(summary.contains("<a href=\"#consent\">"), "{summary}");
    assert!(html.contains("id=\"name-error\""));
    assert!(html.contains("aria-describedby=\"email-hint email-error\""));
    // What was typed is kept, escaped.
    assert!(html.contains("value=\"(510) 555-0123\""));
    assert!(html.contains("id=\"contact_method-phone\" name=\"contact_method\" type=\"radio\" value=\"phone\" required checked"));
    assert!(
        html.contains("Some &#60;b&#62;bold&#60;/b&#62; words &#38; a &#34;quote&#34;")
            || html.contains("Some &lt;b&gt;bold&lt;/b&gt; words &amp; a &quot;quote&quot;"),
        "message kept and escaped"
    );
    assert!(!html.contains("<img src=x"), "markup is never rendered");
    assert!(
        html.contains(&format!("value=\"{token}\"")),
        "the same token, so the fill time is not reset"
    );
    assert!(stored(&app).await.is_empty(), "nothing stored");
}

#[tokio::test]
async fn every_kind_of_bad_input_gets_a_clear_4xx_and_stores_nothing() {
    let app = TestApp::with_config("[contact_form]\nrate_limit_per_hour = 1000\n").await;
    let token = app.token().await;
    let fields = valid_fields("Ada");
    let with = |changes: &[(&str, &str)]| {
        let mut pairs: Vec<(String, String)> = fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        for (k, v) in changes {
            match pairs.iter_mut().find(|(f, _)| f == k) {
                Some(slot) => slot.1 = v.to_string(),
                None => pairs.push((k.to_string(), v.to_string())),
            }
        }
        pairs.push(("form_token".into(), token.clone()));
        let refs: Vec<(&str, &str)> = pairs
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        form_body(&refs).into_bytes()
    };
    let long = "x".repeat(2001);
    let url_form = "application/x-www-form-urlencoded";
    let mut duplicated = with(&[]);
    duplicated.extend_from_slice(b"&name=Eve");
    let mut bad_utf8 = with(&[("name", "")]);
    bad_utf8.extend_from_slice(b"&referral_source=%C3%28");
    let cases: Vec<(&str, &str, Vec<u8>, u16, &str)> = vec![
        (
            "missing fields",
            url_form,
            form_body(&[("form_token", &token)]).into_bytes(),
            422,
            "Enter your name",
        ),
        (
            "duplicated field",
            url_form,
            duplicated,
            400,
            "more than once",
        ),
        ("invalid UTF-8", url_form, bad_utf8, 400, "not valid text"),
        (
            "raw invalid UTF-8",
            url_form,
            b"name=\xff\xfe&form_token=x".to_vec(),
            400,
            "not valid text",
        ),
        (
            "wrong content type",
            "application/json",
            b"{\"name\":\"Ada\"}".to_vec(),
            415,
            "not sent as a web form",
        ),
        (
            "multipart",
            "multipart/form-data; boundary=x",
            b"--x--".to_vec(),
            415,
            "not sent as a web form",
        ),
        (
            "forged token",
            url_form,
            form_body(&[("name", "Ada"), ("form_token", "00".repeat(32).as_str())]).into_bytes(),
            400,
            "security check",
        ),
        (
            "no token",
            url_form,
            form_body(&[("name", "Ada")]).into_bytes(),
            400,
            "security check",
        ),
        (
            "broken escape",
            url_form,
            b"name=%G1".to_vec(),
            400,
            "not encoded correctly",
        ),
        ("too large", url_form, vec![b'a'; 70 * 1024], 413, "too"),
    ];
    for (what, content_type, body, status, says) in cases {
        assert_refused(&app, what, content_type, body, status, says).await;
    }
    // One field of a valid form changed: the form comes back saying what to fix.
    let long_name = "n".repeat(201);
    for (field, value, says) in [
        ("message", long.as_str(), "2000 characters or fewer"),
        ("name", long_name.as_str(), "200 characters or fewer"),
        ("name", "Ada\0Lovelace", "Name must only include"), // a NUL byte
        ("email", "a@b.co\r\nBcc: x@y.z", "correct format"), // CR/LF in a one-line field
        ("name", "Ada\nLovelace", "one line"),
        ("state", "ZZ", "Choose a state from the list"),
        ("age_group", "teen", "18 or older"),
        ("contact_method", "fax", "email, phone, or either"),
        ("consent", "", "privacy notice"),
    ] {
        let what = format!("{field} = {value:?}");
        assert_refused(&app, &what, url_form, with(&[(field, value)]), 422, says).await;
    }
    assert!(stored(&app).await.is_empty(), "nothing stored");
}

/// Posts `body` to the contact form as `content_type`: refused with `status` and a readable
/// page that says `says` (`what`: the case, for the failure message).
async fn assert_refused(
    app: &TestApp,
    what: &str,
    content_type: &str,
    body: Vec<u8>,
    status: u16,
    says: &str,
) {
    let r = app
        .request("POST", "/contact", &[("content-type", content_type)], body)
        .await;
    assert_eq!(r.status, status, "{what}: {}", visible_text(&r.text()));
    let text = visible_text(&r.text());
    assert!(text.contains(says), "{what}: expected {says:?} in {text}");
    assert!(
        r.header("content-type")
            .is_some_and(|t| t.starts_with("text/")),
        "{what}: a readable page"
    );
}

#[tokio::test]
async fn an_expired_form_comes_back_with_a_new_token_and_nothing_lost() {
    let app = TestApp::with_config("[contact_form]\ntoken_max_age_minutes = 1\n").await;
    let old = app
        .state
        .form_tokens
        .issue(jiff::Timestamp::now() - jiff::SignedDuration::from_mins(5));
    let fields = valid_fields("Grace Hopper");
    let mut pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    pairs.push(("form_token", &old));
    let html = app.post_form(&pairs).await.page_with(422);
    assert!(visible_text(&html).contains("open for a long time"));
    assert!(html.contains("value=\"Grace Hopper\""));
    assert!(!html.contains(&old), "a new token");
    assert!(stored(&app).await.is_empty());
}

#[tokio::test]
async fn suspected_spam_is_thanked_filed_as_spam_and_sends_no_mail() {
    let overrides = Overrides {
        min_fill_seconds: Some(3),
        ..Overrides::default()
    };
    // Mail is configured (to a port nobody listens on): spam must not even queue a message.
    let config = format!(
        "[mail]\nsmtp_url = \"smtp://127.0.0.1:{}\"\n",
        common::free_port()
    );
    let app = TestApp::builder()
        .overrides(overrides)
        .config(&config)
        .build()
        .await;
    let honeypot = app
        .submitted("Bot One", &[("website", "http://spam.example")])
        .await;
    assert_eq!(honeypot.header("location"), Some("/contact/thanks"));
    app.submitted("Bot Two", &[]).await;
    let all = stored(&app).await;
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].spam, Some(SpamReason::Honeypot));
    assert_eq!(all[1].spam, Some(SpamReason::TooFast));
    let counts = app.state.store.outbox_counts().await.expect("counts");
    assert_eq!(
        counts.pending + counts.sent + counts.failed,
        0,
        "no mail for spam"
    );
    // Invalid spam is not stored at all, but still thanked.
    app.submitted("", &[("website", "x")]).await;
    assert_eq!(stored(&app).await.len(), 2);
}

#[tokio::test]
async fn a_flood_from_one_address_is_limited_and_others_still_get_through() {
    let app = TestApp::with_config("[contact_form]\nrate_limit_per_hour = 3\n").await;
    let flood: std::net::IpAddr = "127.0.0.1".parse().expect("ip");
    let mut statuses = Vec::new();
    for i in 0..6 {
        statuses.push(app.submit(&format!("Flood {i}"), &[]).await.status);
    }
    assert_eq!(statuses, vec![303, 303, 303, 429, 429, 429], "from {flood}");
    let r = app.submit("Flood 7", &[]).await;
    assert_eq!(r.status, 429);
    assert!(r.header("retry-after").is_some());
    assert!(visible_text(&r.text()).contains("Too many requests"));

    // Another address is unaffected.
    let other: std::net::IpAddr = "127.0.0.2".parse().expect("ip");
    let token = app.token().await;
    let fields = valid_fields("Visitor");
    let mut pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    pairs.push(("form_token", &token));
    let r = app
        .request_from(
            other,
            "POST",
            "/contact",
            &[("content-type", "application/x-www-form-urlencoded")],
            form_body(&pairs),
        )
        .await;
    assert_eq!(r.status, 303);
    assert_eq!(stored(&app).await.len(), 4);
}

/// Behind a proxy, an IPv6 client is its /64: a household or server is given a whole /64, so
/// changing the last 64 bits costs nothing and must not buy a new allowance.
#[tokio::test]
async fn an_ipv6_client_changing_addresses_within_its_slash_64_shares_one_limit() {
    let config = format!(
        "[server]\ntrusted_proxies = [\"127.0.0.1\"]\n\n[contact_form]\nrate_limit_per_hour = 3\n\n{}",
        common::OWN_PRACTICE
    );
    let app = TestApp::with_config(&config).await;
    let token = app.token().await;
    let fields = valid_fields("Visitor");
    let mut pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    pairs.push(("form_token", &token));
    let body = form_body(&pairs);
    let from = |client: String| {
        let body = body.clone();
        let app = &app;
        async move {
            app.request(
                "POST",
                "/contact",
                &[
                    ("content-type", "application/x-www-form-urlencoded"),
                    ("x-forwarded-for", &client),
                ],
                body,
            )
            .await
            .status
        }
    };
    let mut statuses = Vec::new();
    for i in 1..=6 {
        statuses.push(from(format!("2001:db8:7:9:{i:x}::{i:x}")).await);
    }
    assert_eq!(statuses, vec![303, 303, 303, 429, 429, 429]);
    // The next /64 is another client.
    assert_eq!(from("2001:db8:7:a::1".to_string()).await, 303);
    assert_eq!(stored(&app).await.len(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_stored_together_keeps_each_request_with_its_own_reference_and_mail() {
    // Mail is on (to a port where nothing listens), so each request queues a notice and an
    // acknowledgement; the burst makes the store commit requests together.
    let port = common::free_port();
    let app = std::sync::Arc::new(
        TestApp::with_config(&format!(
                "[server]\n# Eighty people at once from one address: the test client opens a connection for each request\n# in flight and more while its pool refills, far past what one person's browser opens.\nmax_connections_per_address = 100000\n\n[mail]\nsmtp_url = \"smtp://127.0.0.1:{port}\"\n\n[contact_form]\nacknowledge = true\nrate_limit_per_hour = 100000\n"
            )).await,
    );
    let n = 80;
    let mut handles = Vec::new();
    for i in 0..n {
        let app = app.clone();
        handles.push(tokio::spawn(async move {
            let email = format!("burst{i}@example.org");
            let r = app
                .submit(&format!("Burst Person {i}"), &[("email", email.as_str())])
                .await;
            (r.status, r.header("location").map(str::to_string))
        }));
    }
    for h in handles {
        assert_eq!(h.await.expect("task").0, 303);
    }
    let store = &app.state.store;
    let requests = store.all_requests().await.expect("requests");
    assert_eq!(requests.len(), n);
    let email_of: std::collections::HashMap<String, String> = requests
        .iter()
        .map(|r| (r.reference.clone(), r.email.clone()))
        .collect();
    assert_eq!(email_of.len(), n, "every reference is its own");
    for r in &requests {
        let i = r.name.trim_start_matches("Burst Person ");
        assert_eq!(
            r.email,
            format!("burst{i}@example.org"),
            "fields stay together"
        );
    }
    // Every mail row belongs to its own request: the acknowledgement's recipient is the email of
    // the request the row points at.
    let later = jiff::Timestamp::now()
        .checked_add(jiff::SignedDuration::from_hours(48))
        .expect("time");
    // The server's own mail worker claims rows too (and, failing to send, puts them back), so
    // the same row may be seen more than once: collect them by id until every row is seen.
    let mut by_id = std::collections::HashMap::new();
    for _ in 0..100 {
        for m in store
            .claim_due_mail(later, jiff::SignedDuration::from_mins(1), 10_000)
            .await
            .expect("claim")
        {
            by_id.insert(m.id, m);
        }
        if by_id.len() >= 2 * n {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let mail: Vec<_> = by_id.into_values().collect();
    assert_eq!(mail.len(), 2 * n, "a notice and an acknowledgement each");
    let mut acknowledged = std::collections::HashSet::new();
    for m in mail {
        let reference = m.reference.clone().expect("each mail names its request");
        if let Some(to) = m.recipient {
            assert_eq!(Some(&to), email_of.get(&reference), "the right person");
            assert!(acknowledged.insert(to), "one acknowledgement each");
        }
    }
    assert_eq!(acknowledged.len(), n);
}
