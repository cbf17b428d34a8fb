//! The public site over HTTP: the practice's whole page, caching,
//! compression, error pages and the small files crawlers read.

use crate::common::{TestApp, asset_url, seed_lines, visible_text};
use settings::config::Overrides;

#[tokio::test]
async fn the_home_page_holds_every_line_of_the_practice_copy_in_order() {
    let app = TestApp::start().await;
    let reply = app.get("/").await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let text = visible_text(&reply.text());
    let mut from = 0;
    for line in seed_lines() {
        let wanted = line.split_whitespace().collect::<Vec<_>>().join(" ");
        match text[from..].find(&wanted) {
            Some(at) => from += at + wanted.len(),
            None => {
                let anywhere = text.contains(&wanted);
                panic!(
                    "seed line not found {}: {wanted:?}",
                    if anywhere { "in order" } else { "at all" }
                );
            }
        }
    }
}

#[tokio::test]
async fn the_home_page_is_structured_for_reading() {
    let app = TestApp::start().await;
    let html = app.get("/").await.text();
    assert_eq!(html.matches("<h1").count(), 1, "one main heading");
    assert!(
        html.contains("<nav class=\"toc\" id=\"contents\""),
        "table of contents"
    );
    // Every section in the table of contents links to an anchor that exists.
    let toc = &html[html.find("id=\"contents\"").expect("toc")..];
    let toc = &toc[..toc.find("</nav>").expect("toc end")];
    let links: Vec<&str> = toc
        .split("href=\"#")
        .skip(1)
        .map(|s| &s[..s.find('"').expect("quote")])
        .collect();
    assert!(links.len() >= 15, "toc lists the sections: {links:?}");
    for anchor in &links {
        assert!(
            html.contains(&format!("<section class=\"section\" id=\"{anchor}\"")),
            "section #{anchor}"
        );
    }
    // The process is a numbered sequence of six steps.
    let steps = &html[html.find("<ol class=\"steps\"").expect("steps")..];
    let steps = &steps[..steps.find("</ol>").expect("end of steps")];
    assert_eq!(steps.matches("<li class=\"step\"").count(), 6);
    // The eight misconceptions are shown open, each myth with its correction, so a reader
    // who skims never sees a myth alone.
    assert_eq!(html.matches("<div class=\"myth\">").count(), 8);
    assert!(!html.contains("<details"), "nothing is collapsed");
    let myth = html
        .find("<span class=\"myth-label\">Myth</span> “Ketamine is FDA-approved for depression.”</h3>")
        .expect("the myth is a heading");
    let answer = html[myth..]
        .find("<div class=\"myth-answer\">")
        .expect("its answer")
        + myth;
    assert!(
        answer - myth < 200 && html[answer..].contains("off-label"),
        "the correction follows the myth"
    );
    // The compare panel with both sides, its hint and its disclaimer.
    assert!(html.contains("data-compare"));
    assert_eq!(html.matches("class=\"compare-side").count(), 2);
    assert!(html.contains("Tap or Drag Anywhere to Compare"));
    // Lists are lists.
    assert!(html.contains("<li>dizziness</li>"));
    assert!(html.contains("<li>persistent or treatment-resistant depression</li>"));
    // Calls to action lead to /contact.
    for label in ["Schedule a consultation", "Get in Touch"] {
        assert!(
            html.contains(&format!(
                "<a class=\"button\" href=\"/contact\">{label}</a>"
            )),
            "{label}"
        );
    }
    assert!(html.contains("<a href=\"/contact\">Contact me</a>"));
}

#[tokio::test]
async fn the_head_describes_the_page_for_search_and_sharing() {
    let config = "[server]\nbase_url = \"https://kap.example.org\"\n[practice]\nname = \"Harbor Light Therapy\"\nclinician_name = \"Sam Rivera\"\nlicensed_states = [\"NY\", \"NJ\"]\nemail = \"sam@harborlight.example.org\"\nphone = \"(212) 555-0188\"\ncity = \"Brooklyn, New York\"\n\n[going_live]\nreviewed = [\"about\", \"credentials\", \"privacy\", \"crisis\"]\n";
    let app = TestApp::with_config(config).await;
    let html = app.get("/").await.text();
    assert!(
        html.contains("<title>Ketamine-Assisted Psychotherapy · Harbor Light Therapy</title>"),
        "title"
    );
    assert!(
        html.contains("<meta name=\"description\" content=\"Ketamine-assisted psychotherapy (KAP)")
    );
    assert!(html.contains("<link rel=\"canonical\" href=\"https://kap.example.org/\">"));
    assert!(html.contains("<meta property=\"og:url\" content=\"https://kap.example.org/\">"));
    assert!(html.contains("<meta property=\"og:title\""));
    assert!(html.contains("Licensed in New York and New Jersey."));
    let start = html
        .find("<script type=\"application/ld+json\">")
        .expect("json-ld")
        + 35;
    let end = html[start..].find("</script>").expect("end") + start;
    let ld: serde_json::Value = serde_json::from_str(&html[start..end]).expect("JSON-LD parses");
    let graph = ld["@graph"].as_array().expect("graph");
    assert_eq!(graph[0]["@type"], "MedicalBusiness");
    assert_eq!(graph[0]["name"], "Harbor Light Therapy");
    assert_eq!(graph[1]["@type"], "Person");
    assert_eq!(graph[1]["name"], "Sam Rivera");
    let contact = app.get("/contact").await.text();
    assert!(contact.contains("<link rel=\"canonical\" href=\"https://kap.example.org/contact\">"));
    let sitemap = app.get("/sitemap.xml").await.text();
    assert!(sitemap.contains("<loc>https://kap.example.org/privacy</loc>"));
    let robots = app.get("/robots.txt").await.text();
    assert!(robots.contains("Sitemap: https://kap.example.org/sitemap.xml"));
}

#[tokio::test]
async fn pages_revalidate_with_etags_and_assets_are_immutable() {
    let app = TestApp::start().await;
    for enc in ["br", "gzip", "identity"] {
        let first = app
            .request("GET", "/", &[("accept-encoding", enc)], "")
            .await;
        assert_eq!(first.status, 200);
        assert_eq!(first.header("cache-control"), Some("no-cache"));
        let etag = first.header("etag").expect("etag").to_string();
        assert!(
            etag.starts_with('"') && !etag.starts_with("W/"),
            "strong etag {etag}"
        );
        let again = app
            .request(
                "GET",
                "/",
                &[("accept-encoding", enc), ("if-none-match", &etag)],
                "",
            )
            .await;
        assert_eq!(again.status, 304, "{enc}");
        assert!(again.body.is_empty());
        assert_eq!(again.header("etag"), Some(etag.as_str()));
        let other = app
            .request(
                "GET",
                "/",
                &[
                    ("accept-encoding", enc),
                    ("if-none-match", "\"something-else\""),
                ],
                "",
            )
            .await;
        assert_eq!(other.status, 200);
    }
    let home = app.get("/").await.text();
    let inbox = app.get("/admin/login").await.text();
    for (page, prefix, suffix, ty) in [
        (
            &inbox,
            "/static/css/site.",
            ".css",
            "text/css; charset=utf-8",
        ),
        (
            &home,
            "/static/js/compare.",
            ".js",
            "text/javascript; charset=utf-8",
        ),
    ] {
        let url = asset_url(page, prefix, suffix);
        let r = app.get(&url).await;
        assert_eq!(r.status, 200, "{url}");
        assert_eq!(r.header("content-type"), Some(ty));
        assert_eq!(
            r.header("cache-control"),
            Some("public, max-age=31536000, immutable")
        );
    }
}

#[tokio::test]
async fn compression_is_negotiated() {
    let app = TestApp::start().await;
    let plain = app.request("GET", "/", &[], "").await;
    assert!(plain.header("content-encoding").is_none());
    assert_eq!(plain.header("vary"), Some("Accept-Encoding"));

    let br = app
        .request("GET", "/", &[("accept-encoding", "gzip, deflate, br")], "")
        .await;
    assert_eq!(br.header("content-encoding"), Some("br"));
    assert_eq!(br.decoded(), plain.body);
    assert!(
        br.body.len() * 3 < plain.body.len(),
        "brotli shrinks the page"
    );

    let gz = app
        .request("GET", "/", &[("accept-encoding", "gzip")], "")
        .await;
    assert_eq!(gz.header("content-encoding"), Some("gzip"));
    assert_eq!(gz.decoded(), plain.body);

    let refused = app
        .request("GET", "/", &[("accept-encoding", "br;q=0, gzip;q=0")], "")
        .await;
    assert!(refused.header("content-encoding").is_none());
    assert_eq!(refused.body, plain.body);

    let head = app
        .request("HEAD", "/", &[("accept-encoding", "br")], "")
        .await;
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    assert_eq!(
        head.header("content-length"),
        Some(br.body.len().to_string().as_str())
    );
}

/// A new site is served with gzip at once and with brotli a moment later; a site replaced while
/// its brotli variants are being made stays replaced.
#[tokio::test]
async fn brotli_follows_a_new_site_and_never_brings_back_an_older_one() {
    // Production's brotli, the slowest, so that the first site's is still being made when the
    // second replaces it.
    let app = TestApp::builder()
        .overrides(settings::config::Overrides {
            brotli_quality: Some(11),
            ..Default::default()
        })
        .build()
        .await;
    let site_at = |base: &str| {
        let mut overrides = app.overrides.clone();
        overrides.base_url = Some(base.to_string());
        kap_practice::prepare(&overrides)
            .expect("valid config and content")
            .1
    };
    let (first, second) = (
        site_at("https://first.test"),
        site_at("https://second.test"),
    );
    let first_brotli = app
        .state
        .replace_site(first)
        .expect("brotli for the first site");
    let _ = app.state.replace_site(second);
    // The strongest brotli takes a good part of a second for the whole site: not done yet.
    let health: serde_json::Value =
        serde_json::from_slice(&app.get("/healthz").await.body).expect("json");
    assert_eq!(health["pages"], "compressing");
    let before = app
        .request("GET", "/", &[("accept-encoding", "br, gzip")], "")
        .await;
    assert_eq!(before.status, 200);
    // Whichever encoding this request got, it is the newest site.
    let encoding = before.header("content-encoding");
    assert!(matches!(encoding, Some("gzip" | "br")), "{encoding:?}");
    assert!(String::from_utf8_lossy(&before.decoded()).contains("https://second.test/"));

    crate::common::until_site_complete(&app.state).await;
    let health: serde_json::Value =
        serde_json::from_slice(&app.get("/healthz").await.body).expect("json");
    assert_eq!(health["pages"], "ready");
    // The first site's variants, once they are done, must not have replaced the second site.
    // (The minute only ends a failure, as in `until_site_complete`.)
    tokio::time::timeout(
        std::time::Duration::from_secs(60),
        tokio::task::spawn_blocking(move || first_brotli.join()),
    )
    .await
    .expect("the first site's brotli variants were made within a minute")
    .expect("joined")
    .expect("the first site's brotli thread finished without a panic");
    let after = app
        .request("GET", "/", &[("accept-encoding", "br, gzip")], "")
        .await;
    assert_eq!(after.header("content-encoding"), Some("br"));
    let decoded = after.decoded();
    let page = String::from_utf8_lossy(&decoded);
    assert!(page.contains("https://second.test/"));
    assert!(!page.contains("https://first.test/"));
}

#[tokio::test]
async fn unknown_pages_and_wrong_methods_get_helpful_pages() {
    let app = TestApp::start().await;
    let r = app.get("/no-such-page?x=1").await;
    assert_eq!(r.status, 404);
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    let text = visible_text(&r.text());
    assert!(text.contains("We can’t find that page"), "{text}");
    assert!(r.text().contains("href=\"/contact\""), "a way on");
    assert!(
        r.text()
            .contains("<meta name=\"robots\" content=\"noindex\">")
    );

    let r = app.request("POST", "/privacy", &[], "x=1").await;
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("GET, HEAD"));
    assert!(visible_text(&r.text()).contains("can only be read"));

    let r = app.request("DELETE", "/healthz", &[], "").await;
    assert_eq!(r.status, 405);
    assert!(visible_text(&r.text()).contains("can only be read"));

    let r = app.get("/contact/").await;
    assert_eq!(r.status, 308);
    assert_eq!(r.header("location"), Some("/contact"));
}

#[tokio::test]
async fn health_reports_status_and_version() {
    let app = TestApp::start().await;
    let r = app.get("/healthz").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let v: serde_json::Value = serde_json::from_slice(&r.body).expect("json");
    assert_eq!(v["status"], "ok");
    assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(v["database"], "up");
    assert_eq!(v["mail"], "off");
    assert_eq!(v["pages"], "ready");
}

#[tokio::test]
async fn contact_and_privacy_show_the_practice() {
    let config = "[practice]\nemail = \"care@harbor.example\"\nphone = \"(212) 555-0199\"\ncity = \"Brooklyn, New York\"\nlicensed_states = [\"NY\"]\n";
    let app = TestApp::with_config(config).await;
    let contact = app.get("/contact").await;
    assert_eq!(contact.status, 200);
    let html = contact.text();
    assert!(html.contains("<a href=\"mailto:care@harbor.example\">care@harbor.example</a>"));
    assert!(html.contains("<a class=\"phone-number\" href=\"tel:2125550199\">(212) 555-0199</a>"));
    assert!(html.contains("Brooklyn, New York"));
    // The form comes first, with the direct ways to reach the practice before and beside it,
    // and no link from the page to itself.
    let direct = html.find("class=\"contact-direct").expect("direct ways");
    let form = html.find("<form class=\"request-form\"").expect("form");
    let card = html.find("id=\"reach-title\"").expect("contact card");
    assert!(direct < form && form < card, "intro, form, then the card");
    assert!(html[direct..form].contains("tel:2125550199"));
    assert!(html[direct..form].contains("mailto:care@harbor.example"));
    assert!(!html.contains("Contact me"), "no self-link on /contact");
    assert!(!html[html.find("<main").expect("main")..].contains("Start with a Conversation"));
    // One voice: the clinician speaks as "I", never "we", in the form.
    let form_html = &html[form..html[form..].find("</form>").expect("end") + form];
    let form_text = visible_text(form_html);
    assert!(form_text.contains("I will only use this to reply to you."));
    assert!(form_text.contains("I will reply within two business days."));
    assert!(form_text.contains("I am licensed in New York."));
    for we in ["We will", "we will", " our ", "Jordan Ellis"] {
        assert!(!form_text.contains(we), "{we:?} in the form: {form_text}");
    }
    // Asked about voicemail, for a call.
    assert!(form_html.contains("name=\"voicemail\" type=\"radio\" value=\"yes\""));
    assert!(form_text.contains("is a voicemail all right?"));
    let privacy = visible_text(&app.get("/privacy").await.text());
    assert!(privacy.contains("cookies"), "{privacy}");
    assert!(
        privacy.to_lowercase().contains("tracker") || privacy.to_lowercase().contains("analytics")
    );
}

#[tokio::test]
async fn no_page_asks_for_anything_from_another_site() {
    let app = TestApp::start().await;
    for path in ["/", "/contact", "/privacy", "/no-such-page"] {
        let html = app.get(path).await.text();
        for attr in ["src=\"", "href=\""] {
            for value in html
                .split(attr)
                .skip(1)
                .map(|s| &s[..s.find('"').expect("quote")])
            {
                let external = value.starts_with("http") || value.starts_with("//");
                // Links a person follows are fine; things the browser loads by itself are not.
                let loaded = attr == "src=\""
                    || html.contains(&format!("<link rel=\"stylesheet\" href=\"{value}\""))
                    || html.contains(&format!("<link rel=\"icon\" href=\"{value}\""));
                assert!(
                    !(external && loaded),
                    "{path} loads {value} from another site"
                );
            }
        }
        assert!(!html.contains("style=\""), "{path} has an inline style");
        // One style element, in the head: the first view's styles, which the CSP allows by
        // their hash alone; they load nothing from anywhere.
        let styles = first_view_styles(&html, path);
        assert!(
            !styles.contains("@import")
                && !styles.contains("url(http")
                && !styles.contains("url(//"),
            "{path}: its inline styles load something"
        );
        // Its scripts: data, or the one inline script that loads the page's own script from
        // here once the page has painted (the CSP allows it by its hash alone). The page asks
        // for nothing else while it loads: no stylesheet (above), the icon in the page.
        let scripts: Vec<&str> = html.split("<script").skip(1).collect();
        for s in scripts {
            assert!(
                s.starts_with(" data-src=\"/static/js/")
                    || s.starts_with(" type=\"application/ld+json\""),
                "{path} has another script: {s:.60}"
            );
        }
        assert!(
            html.contains("<link rel=\"icon\" href=\"data:image/svg+xml,"),
            "{path}: the icon is not in the page"
        );
    }
}

/// Every number in the visible text, as written (digits only).
fn numbers_in(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_ascii_digit())
        .filter(|n| !n.is_empty())
        .map(str::to_string)
        .collect()
}

const UNUSUAL_CRISIS: &str = "[contact_form]\ncrisis_line = \"741741\"\ncrisis_line_name = \"Crisis Text Line\"\nemergency_number = \"112\"\n";

#[tokio::test]
async fn every_page_carries_the_configured_crisis_numbers_and_none_hard_coded() {
    let app = TestApp::with_config(UNUSUAL_CRISIS).await;
    let thanks = app.submitted("Ada", &[]).await;
    let mut pages = Vec::new();
    for path in ["/", "/contact", "/privacy", "/no-such-page"] {
        pages.push((path.to_string(), app.get(path).await.text()));
    }
    if let Some(location) = thanks.header("location") {
        pages.push((location.to_string(), app.get(location).await.text()));
    }
    assert_eq!(pages.len(), 5, "the thank-you page was reached");
    for (path, html) in &pages {
        let text = visible_text(html);
        assert!(
            text.contains("call or text 741741 (Crisis Text Line), or call 112"),
            "{path} does not show the configured numbers: {text}"
        );
        assert!(html.contains("href=\"tel:741741\"") && html.contains("href=\"tel:112\""));
        let numbers = numbers_in(&text);
        for default in ["988", "911"] {
            assert!(
                !numbers.iter().any(|n| n == default) && !html.contains(&format!("tel:{default}")),
                "{path} still shows {default}"
            );
        }
        assert!(!text.contains("Suicide & Crisis Lifeline"), "{path}");
    }
    // Near the top of the KAP page, before its contents, a plain note.
    let home = &pages[0].1;
    let note = home
        .find("I can’t respond to emergencies")
        .expect("note on /");
    assert!(note < home.find("id=\"contents\"").expect("contents"));
    // Next to every listing of the phone and email: the contact card and the footer.
    let contact = &pages[1].1;
    let card = &contact[contact.find("id=\"reach-title\"").expect("card")..];
    let card = &card[..card.find("</aside>").expect("end of card")];
    assert!(card.contains("I can’t respond to emergencies") && card.contains("tel:741741"));
    for (path, html) in &pages {
        let footer = &html[html.find("<footer").expect("footer")..];
        assert!(
            footer.contains("I can’t respond to emergencies") && footer.contains("tel:741741"),
            "{path}: the footer lists phone and email without the crisis note"
        );
    }
}

#[tokio::test]
async fn phone_numbers_keep_to_one_line() {
    let app = TestApp::start().await;
    let html = app.get("/contact").await.text();
    let phone = "(555) 010-0100";
    let links: Vec<&str> = html
        .match_indices(&format!(">{phone}</a>"))
        .map(|(i, _)| &html[html[..i].rfind("<a ").expect("link")..i])
        .collect();
    assert!(links.len() >= 2, "{html}");
    for link in links {
        assert!(link.contains("class=\"phone-number\""), "{link}");
    }
    // The page's styles, all inline.
    let css = first_view_styles(&html, "/contact");
    let rule = &css[css.find(".phone-number").expect("a rule for phone numbers")..];
    assert!(
        rule[..rule.find('}').expect("end of rule")].contains("white-space: nowrap"),
        "{rule}"
    );
}

#[tokio::test]
async fn credentials_already_in_the_clinicians_name_are_not_written_twice() {
    let config = "[practice]\nclinician_name = \"Maya Okafor, LCSW\"\ncredentials = \"LCSW\"\n";
    let app = TestApp::with_config(config).await;
    for path in ["/", "/contact"] {
        let text = visible_text(&app.get(path).await.text());
        assert!(text.contains("Maya Okafor, LCSW"), "{path}: {text}");
        assert!(!text.contains("LCSW, LCSW"), "{path}: {text}");
    }
}

/// The Crisis Text Line takes texts only, with a keyword, and no call.
const TEXT_ONLY_CRISIS: &str = "[contact_form]\ncrisis_call = \"\"\ncrisis_text = \"741741\"\ncrisis_text_keyword = \"HOME\"\ncrisis_text_name = \"Crisis Text Line\"\n";

#[tokio::test]
async fn a_line_that_only_takes_texts_is_never_offered_as_a_call() {
    let app = TestApp::with_config(TEXT_ONLY_CRISIS).await;
    let thanks = app.submit("Ada", &[]).await;
    let location = thanks
        .header("location")
        .expect("thank-you page")
        .to_string();
    for path in ["/", "/contact", "/privacy", "/no-such-page", &location] {
        let html = app.get(path).await.text();
        let text = visible_text(&html);
        assert!(
            text.contains("text HOME to 741741 (Crisis Text Line), or call 911"),
            "{path}: {text}"
        );
        // The link opens a text to 741741 with HOME written (`&` escaped as HTML).
        assert!(
            ["&amp;", "&#38;"]
                .iter()
                .any(|amp| html.contains(&format!("href=\"sms:741741?{amp}body=HOME\""))),
            "{path}"
        );
        assert!(!text.contains("call or text"), "{path}: {text}");
        assert!(!html.contains("tel:741741"), "{path}");
        assert!(!text.contains("988"), "{path}");
    }
}

#[tokio::test]
async fn the_search_data_describes_a_psychotherapy_practice_and_the_configured_title() {
    for (credentials, title) in [
        ("LMFT", "Licensed Marriage and Family Therapist"),
        ("LCSW", "Licensed Clinical Social Worker"),
        ("Psychotherapist, MA", "Psychotherapist, MA"),
    ] {
        let config = format!("[practice]\ncredentials = \"{credentials}\"\n");
        let app = TestApp::with_config(&config).await;
        let html = app.get("/").await.text();
        let start = html
            .find("<script type=\"application/ld+json\">")
            .expect("json-ld")
            + "<script type=\"application/ld+json\">".len();
        let end = html[start..].find("</script>").expect("end") + start;
        let data: serde_json::Value = serde_json::from_str(&html[start..end]).expect("json");
        let graph = data["@graph"].as_array().expect("graph");
        let person = graph
            .iter()
            .find(|n| n["@type"] == "Person")
            .expect("person");
        assert_eq!(person["jobTitle"], title, "for {credentials}");
        assert_eq!(person["honorificSuffix"], credentials);
        assert!(
            !html[start..end].contains("Psychiatric"),
            "no psychiatric specialty"
        );
        let practice = graph
            .iter()
            .find(|n| n["@type"] == "MedicalBusiness")
            .expect("practice");
        let services = practice["availableService"].to_string();
        assert!(
            services.contains("\"Psychotherapy\"")
                && services.contains("Ketamine-assisted psychotherapy")
        );
    }
}

/// The privacy notice as built for this config text.
fn privacy_for(config: &str) -> String {
    use std::sync::Arc;
    let config =
        settings::config::Config::from_toml(config, "test.toml", None, &Overrides::default())
            .expect("valid config");
    let content = content::load(&content::ContentSource::from_config(None)).expect("content");
    let site = web::site::build(
        Arc::new(config),
        Arc::new(content),
        store::SEALED_REQUEST_FIELDS,
    )
    .expect("site");
    let page = site.get("/privacy").expect("/privacy");
    visible_text(&String::from_utf8_lossy(&page.identity.body))
}

/// How the notice names each field the store may seal, by the name it is sealed under.
fn notice_label(field: &str) -> &'static str {
    match field {
        "name" => "your name",
        "email" => "your email address",
        "phone" => "your phone number, if you choose to give it",
        "message" => "a message, if you choose to write one",
        "referral_source" => "how you heard about the practice, if you choose to say",
        other => panic!("the store seals {other:?}, which the notice does not know"),
    }
}

/// The items of the sentence that starts with `lead` and ends at the next full stop.
fn listed(text: &str, lead: &str) -> Vec<String> {
    let start = text
        .find(lead)
        .unwrap_or_else(|| panic!("{lead:?} in {text}"))
        + lead.len();
    let end = text[start..].find('.').expect("full stop") + start;
    text[start..end]
        .split("; ")
        .map(|s| s.trim().trim_start_matches("and ").to_string())
        .collect()
}

#[test]
fn the_privacy_notice_states_what_the_configuration_does() {
    let mail =
        "[mail]\nsmtp_url = \"smtp://127.0.0.1:2525\"\nnotify_email = \"inbox@practice.org\"\n";
    let ack = "[contact_form]\nacknowledge = true\n";
    let postgres = "[database]\nurl = \"postgres://kap@db.internal/kap\"\n";
    let retention =
        "[admin]\nkeep_closed_days = 123\nkeep_consulted_days = 3000\nkeep_spam_days = 17\n";
    for with_mail in [false, true] {
        for with_ack in [false, true] {
            for with_pg in [false, true] {
                let mut config = String::new();
                if with_mail {
                    config.push_str(mail);
                }
                if with_ack {
                    config.push_str(ack);
                }
                if with_pg {
                    config.push_str(postgres);
                }
                config.push_str(retention);
                config.push_str("[practice]\nemail = \"hello@practice.org\"\n");
                let text = privacy_for(&config);
                let case =
                    format!("mail {with_mail}, acknowledgement {with_ack}, PostgreSQL {with_pg}");

                // Encrypted: exactly what the store seals; the rest said to be plain text.
                let mut expected: Vec<String> = store::SEALED_REQUEST_FIELDS
                    .iter()
                    .map(|f| notice_label(f).to_string())
                    .collect();
                // The voicemail answer is kept inside the sealed message.
                expected.insert(
                    4,
                    "whether a voicemail is all right, if you ask for a call".into(),
                );
                let mut encrypted = listed(&text, "These are stored encrypted: ");
                encrypted.sort();
                expected.sort();
                assert_eq!(encrypted, expected, "{case}");
                let plain = listed(
                    &text,
                    "so that requests can be sorted and flagged in the inbox: ",
                );
                for field in [
                    "how you prefer to be contacted",
                    "the US state you will be in during sessions",
                    "whether the consultation is for you or for someone you care for",
                    "whether the person the consultation is for is 18 or older",
                ] {
                    assert!(plain.iter().any(|p| p == field), "{field} plain: {case}");
                }
                assert!(!text.contains("Only the clinician reads it"), "{case}");
                assert!(
                    text.contains("anyone else the practice gives an account"),
                    "{case}"
                );

                // Emails.
                assert_eq!(
                    text.contains("I receive an email saying that a new request has arrived"),
                    with_mail,
                    "{case}"
                );
                assert_eq!(
                    text.contains("This website sends no emails"),
                    !with_mail,
                    "{case}"
                );
                assert_eq!(
                    text.contains("You receive a short email confirming that your request arrived")
                        && text.contains(
                            "your email address goes through the practice’s email provider"
                        ),
                    with_mail && with_ack,
                    "{case}"
                );
                // Booking: what is stored, and the invitations only when mail is sent.
                assert!(
                    text.contains(
                        "the time and the way of meeting you chose are stored with your request"
                    ),
                    "{case}"
                );
                assert_eq!(
                    text.contains("with calendar invitations, are sent to you"),
                    with_mail,
                    "{case}"
                );

                // Where the data lives, and its copies.
                assert_eq!(
                    text.contains("PostgreSQL database") && text.contains("hosting provider"),
                    with_pg,
                    "{case}"
                );
                assert_eq!(
                    text.contains("a database file on the server that runs this website"),
                    !with_pg,
                    "{case}"
                );
                assert!(!text.contains("the practice’s own server"), "{case}");
                assert_eq!(
                    text.contains("PostgreSQL’s own backup tools"),
                    with_pg,
                    "{case}"
                );
                assert_eq!(
                    text.contains("the program’s backup command"),
                    !with_pg,
                    "{case}"
                );
                assert!(
                    text.contains("remains in copies made before it was deleted"),
                    "{case}"
                );

                // How long.
                assert!(
                    text.contains("a request that is never closed is kept until it is"),
                    "{case}"
                );
                assert!(
                    text.contains("deleted for good 123 days after it was closed")
                        && text.contains("deleted for good 3000 days after it was closed"),
                    "{case}"
                );
                assert!(text.contains("deleted after 17 days"), "{case}");
                assert!(!text.contains("{keep_"), "{case}");
            }
        }
    }
    // The default retention periods too.
    let text = privacy_for("");
    assert!(
        text.contains("deleted for good 365 days after it was closed")
            && text.contains("deleted for good 2557 days after it was closed")
            && text.contains("deleted after 30 days")
    );
    assert!(text.contains("call or text 988 (Suicide & Crisis Lifeline), or call 911"));
}

/// What a first round trip carries: TCP's initial window of ten segments, about 14 KB.
const FIRST_ROUND_TRIP: usize = 14 * 1024;

/// The first view of `html`: its inline styles, checking that the page links no stylesheet
/// (one in the head blocks its first paint; even one for print only, at the end of the body, is
/// fetched while the page loads).
fn first_view_styles(html: &str, path: &str) -> String {
    let body = html
        .find("<body")
        .unwrap_or_else(|| panic!("{path} has a body"));
    let (head, rest) = html.split_at(body);
    assert!(
        !html.contains("rel=\"stylesheet\""),
        "{path} links a stylesheet"
    );
    assert_eq!(head.matches("<style>").count(), 1, "{path}: one <style>");
    assert_eq!(
        rest.matches("<style").count(),
        0,
        "{path}: styles in the body"
    );
    let start = head.find("<style>").unwrap_or_default() + 7;
    head[start..start + head[start..].find("</style>").unwrap_or_default()].to_string()
}

/// Every public page a visitor may open first (the home page, the contact and privacy pages, a
/// clinician-made page, a booking page, a missing page) needs one round trip for its first
/// screen: the page, compressed, with the first screen's styles inline, within 14 KB, and no
/// stylesheet that blocks its paint. The inline styles are the rules the page may show: four
/// cuts of one sheet, one hash each in the CSP.
#[tokio::test]
async fn every_first_view_arrives_in_one_round_trip() {
    // Production's brotli: what a visitor's phone receives.
    let app = TestApp::builder()
        .config(&crate::common::booking::config(None, ""))
        .overrides(settings::config::Overrides {
            brotli_quality: Some(11),
            ..Default::default()
        })
        .build()
        .await;
    app.add_clinician().await;
    crate::common::booking::offer(&app, &crate::common::booking::mornings()).await;
    let (_, booking) = crate::common::booking::request_and_link(&app, "Ilse Marrow", &[]).await;
    let mut clinician = crate::common::clinician::Clinician::signed_in(&app).await;
    let made = clinician
        .add_page(
            "Fees and insurance",
            "/fees",
            "A first consultation is **free of charge**.\n\n- preparation\n- integration\n",
        )
        .await;
    assert_eq!(made.status, 303, "{}", made.text());
    crate::common::until_site_complete(&app.state).await;
    let mut styles = Vec::new();
    for path in [
        "/",
        "/contact",
        "/privacy",
        "/fees",
        &booking,
        "/no-such-page",
    ] {
        let plain = app.get(path).await;
        styles.push(first_view_styles(&plain.text(), path));
        let sent = app
            .request("GET", path, &[("accept-encoding", "br, gzip")], "")
            .await;
        assert!(
            matches!(sent.header("content-encoding"), Some("br" | "gzip")),
            "{path} goes out compressed: {:?}",
            sent.header("content-encoding")
        );
        assert!(
            sent.body.len() <= FIRST_ROUND_TRIP,
            "{path} is {} bytes compressed; its first view must fit in {FIRST_ROUND_TRIP}",
            sent.body.len()
        );
    }
    let (home, contact, booking_page) = (&styles[0], &styles[1], &styles[4]);
    let (privacy, own_page, others) = (&styles[2], &styles[3], &styles[5]);
    assert!(others.contains(".site-header") && others.contains(".request-form {"));
    assert!(contact.contains(".request-form {") && !contact.contains(".myth-claim"));
    // Print too: the same words, black on white, without the screen's chrome.
    assert!(home.contains("@media print") && others.contains("@media print"));
    assert!(privacy.contains("@media print") && booking_page.contains("@media print"));
    // The contact and booking pages' are the others' less the home page's sections (the third
    // hash in the CSP).
    assert_eq!(
        contact, booking_page,
        "the contact and booking pages share their styles"
    );
    assert!(booking_page.contains(".site-header") && !booking_page.contains(".myth-claim"));
    assert!(
        booking_page.len() < others.len() && booking_page.lines().all(|line| others.contains(line)),
        "the booking page's styles are the others' with the home page's sections left out"
    );
    // The home page's are the others' less the forms' rules (the second hash): its long page
    // leaves them out to fit the first round trip.
    assert!(home.contains(".site-header") && home.contains(".myth-claim"));
    assert!(!home.contains(".request-form {") && home.len() < others.len());
    assert!(
        home.lines().all(|line| others.contains(line)),
        "the home page's styles are the others' with parts left out"
    );
    // Pages of text (the privacy notice, the clinician's own pages) share theirs (the fourth
    // hash): the others' less both the home page's sections and the forms'.
    assert_eq!(
        privacy, own_page,
        "every page of text inlines the same styles"
    );
    assert!(privacy.contains(".site-header") && privacy.contains(".prose h2"));
    assert!(!privacy.contains(".myth-claim") && !privacy.contains(".field {"));
    assert!(
        privacy.len() < booking_page.len() && privacy.len() < home.len(),
        "a page of text carries less than the home and booking pages"
    );
    assert!(
        privacy.lines().all(|line| others.contains(line)),
        "a page of text's styles are the others' with parts left out"
    );
}
