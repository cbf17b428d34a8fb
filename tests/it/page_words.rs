//! The page's words edited in the inbox: checked as `check` checks files, previewed without
//! publishing, published live without a restart, refused when another tab published first,
//! and restorable to any revision, the built-in words included.

use crate::common::clinician::{Clinician, text_area};
use crate::common::{Reply, TestApp};

const SAFE: &str = "/admin/words/home-10-is-kap-safe";

fn field(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let at = html.find(&marker).expect(name) + marker.len();
    html[at..].split('"').next().expect("value").to_string()
}

/// Publishes the words on `page` (the privacy notice's) with "in everyday words" for "in plain
/// language"; returns the words as they were.
async fn publish_everyday_words(c: &mut Clinician<'_>, page: &str) -> String {
    let original = text_area(&c.get(&format!("{page}?as_text=1")).await.text());
    let edited = original.replace("in plain language", "in everyday words");
    assert_eq!(c.publish_words(page, &edited, "0").await.status, 303);
    original
}

async fn app_and_clinician(app: &TestApp) -> Clinician<'_> {
    app.add_clinician().await;
    Clinician::signed_in(app).await
}

#[tokio::test]
async fn a_mistake_is_named_by_line_a_preview_publishes_nothing_and_publish_is_live() {
    let app = TestApp::start().await;
    let mut c = app_and_clinician(&app).await;
    let list = c.get("/admin/words").await.text();
    assert!(list.contains("href=\"/admin/words/home-10-is-kap-safe\">KAP page: Is KAP Safe?"));
    assert!(list.contains("href=\"/admin/words/privacy\">The privacy page"));
    let page = c.get(&format!("{SAFE}?as_text=1")).await.text();
    let original = text_area(&page);
    assert!(original.contains("it is not risk-free"));
    assert_eq!(field(&page, "base"), "0");

    // A mistake in the settings: named by its line, the text kept, nothing published.
    let broken = original.replacen("+++\n", "+++\nlayout = \"carousel\"\n", 1);
    let html = c.publish_words(SAFE, &broken, "0").await.page_with(422);
    assert!(html.contains("<title>Error: KAP page"), "{html}");
    assert!(
        html.contains("href=\"#body\">Line 2: layout &#34;carousel&#34; is not known")
            || html.contains("href=\"#body\">Line 2: layout &quot;carousel&quot; is not known"),
        "{html}"
    );
    assert!(
        text_area(&html).contains("layout = \"carousel\""),
        "the text is kept"
    );

    // A preview shows the page as published would, and publishes nothing.
    let edited = original.replace("it is not risk-free", "it is never without risk");
    let preview = c.preview_words(SAFE, &edited, "0").await;
    assert_eq!(preview.status, 200);
    let html = preview.text();
    assert!(html.contains("Preview (not published yet)"));
    assert!(html.contains("<aside class=\"markdown-guide\" id=\"markdown-guide\""));
    assert!(html.contains("it is never without risk"));
    assert!(!html.contains("<script"), "the preview needs no script");
    assert!(app.get("/").await.text().contains("it is not risk-free"));

    let published = c.publish_words(SAFE, &edited, "0").await;
    assert_eq!(published.status, 303, "{}", published.text());
    let home = app.get("/").await;
    let html = home.text();
    assert!(
        html.contains("it is never without risk"),
        "live without a restart"
    );
    assert!(!html.contains("it is not risk-free"));
    // Still prepared: compressed and with a strong ETag; gzip at once, brotli a moment later.
    let gz = app
        .request("GET", "/", &[("accept-encoding", "gzip")], "")
        .await;
    assert_eq!(gz.header("content-encoding"), Some("gzip"));
    crate::common::until_site_complete(&app.state).await;
    let br = app
        .request("GET", "/", &[("accept-encoding", "br")], "")
        .await;
    assert_eq!(br.header("content-encoding"), Some("br"));
    assert!(br.header("etag").is_some_and(|e| e.starts_with('"')));

    // The history: who, when, what changed word by word.
    let page = c.get(&format!("{SAFE}?published=1")).await.text();
    assert!(page.contains("Published: the public site shows these words now."));
    assert!(page.contains("by clinician@practice.example"));
    assert!(
        page.contains("<del>risk-free.</del>") || page.contains("<del>not risk-free.</del>"),
        "{page}"
    );
    assert!(page.contains("<ins>never without risk.</ins>"), "{page}");
    assert!(page.contains("The built-in words"));
    let (rows, _) = app.state.store.audit_log(10, 0).await.expect("audit");
    assert!(
        rows.iter().any(|r| r.action == "words_published"
            && r.detail.as_deref() == Some("home/10-is-kap-safe.md"))
    );
}

#[tokio::test]
async fn a_publish_from_an_older_page_is_refused_and_the_built_in_words_can_be_restored() {
    let app = TestApp::start().await;
    let mut c = app_and_clinician(&app).await;
    let privacy = "/admin/words/privacy";
    let original = publish_everyday_words(&mut c, privacy).await;
    // Another tab, opened before that publish.
    let second = original.replace("in plain language", "simply");
    let html = c.publish_words(privacy, &second, "0").await.page_with(409);
    assert!(html.contains("Someone published these words after you opened this page"));
    assert!(
        text_area(&html).contains("This notice explains, simply,"),
        "their text is kept"
    );
    assert!(
        app.get("/privacy")
            .await
            .text()
            .contains("in everyday words")
    );

    // Restore the built-in words: a revision of its own, live at once.
    let page = c.get(privacy).await.text();
    let base = field(&page, "base");
    let restored = c
        .action(
            privacy,
            &format!("{privacy}/restore"),
            &[("base", &base), ("revision", "0")],
        )
        .await;
    assert_eq!(restored.status, 303, "{}", restored.text());
    let public = app.get("/privacy").await.text();
    assert!(public.contains("in plain language"));
    assert!(!public.contains("in everyday words"));
    let page = c.get(privacy).await.text();
    assert!(page.contains("The built-in words restored"));
    // And the edited version can come back too.
    let revisions = app
        .state
        .store
        .revisions("privacy.md")
        .await
        .expect("store");
    assert_eq!(revisions.len(), 2);
    let earlier = revisions[1].id.to_string();
    let base = field(&page, "base");
    assert_eq!(
        c.action(
            privacy,
            &format!("{privacy}/restore"),
            &[("base", &base), ("revision", &earlier)]
        )
        .await
        .status,
        303
    );
    assert!(
        app.get("/privacy")
            .await
            .text()
            .contains("in everyday words")
    );
}

#[tokio::test]
async fn with_content_files_the_editor_is_read_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let content = crate::common::copy_content(dir.path());
    let config = format!("[content]\ndir = \"{}\"\n", content.display());
    let app = TestApp::with_config(&config).await;
    let mut c = app_and_clinician(&app).await;
    let list = c.get("/admin/words").await.text();
    assert!(list.contains("The words come from the files in"));
    let page = c.get(SAFE).await.text();
    assert!(page.contains(" readonly>"));
    assert!(!page.contains("value=\"publish\""));
    let refused = c
        .publish_words(SAFE, "+++\ntitle = \"x\"\n+++\nx", "0")
        .await;
    assert_eq!(refused.status, 409);
    assert!(
        app.state
            .store
            .revisions("home/10-is-kap-safe.md")
            .await
            .expect("store")
            .is_empty()
    );
}

#[tokio::test]
async fn a_page_of_the_practices_own_is_linked_listed_and_gone_once_removed() {
    let app = TestApp::start().await;
    let mut c = app_and_clinician(&app).await;
    let fees = [
        ("title", "Fees and insurance"),
        ("path", "/fees"),
        (
            "body",
            "A 50-minute session is **$200**.\n\n- Sliding scale on request\n",
        ),
    ];
    // Addresses of the site itself are refused.
    let html = c.add_page("Admin", "/admin", "Hello").await.page_with(422);
    assert!(
        html.contains("href=\"#path\">/admin belongs to the site itself"),
        "{html}"
    );
    assert!(html.contains("value=\"Admin\""), "the title is kept");
    assert!(html.contains("<title>Error: Your pages"), "{html}");
    let scripted = c
        .add_page("About", "/about", "Fine.\n\n<script>alert(1)</script>\n")
        .await;
    // Raw HTML is text, as on every page: escaped, never run.
    assert_eq!(scripted.status, 303, "{}", scripted.text());
    let about = app.get("/about").await.text();
    assert!(!about.contains("<script>alert"));
    assert!(
        about.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{about}"
    );

    let added = c.action("/admin/pages", "/admin/pages", &fees).await;
    assert_eq!(added.status, 303, "{}", added.text());
    let page = app.get("/fees").await;
    assert_eq!(page.status, 200);
    assert!(page.header("etag").is_some(), "prepared like every page");
    let html = page.text();
    assert!(html.contains("<h1>Fees and insurance</h1>"));
    assert!(html.contains("<strong>$200</strong>"));
    assert!(html.contains("<a href=\"/fees\" aria-current=\"page\">Fees and insurance</a>"));
    assert!(
        app.get("/")
            .await
            .text()
            .contains("<a href=\"/fees\">Fees and insurance</a>")
    );
    assert!(app.get("/sitemap.xml").await.text().contains("/fees</loc>"));
    // The same address again is refused.
    assert_eq!(
        c.action("/admin/pages", "/admin/pages", &fees).await.status,
        409
    );

    // Removed: the address answers 410, the navigation and sitemap forget it.
    let list = c.get("/admin/pages").await.text();
    let marker = "href=\"/admin/pages/";
    let after = list.find("<code>/fees</code>").expect("the page listed");
    let at = list[after..].find(marker).expect("change link") + after + marker.len();
    let id: String = list[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    // "Remove" asks first, on a page of its own (no script), saying what it does.
    let remove = format!("/admin/pages/{id}/remove");
    assert!(list.contains(&format!(
        "<a class=\"button button-secondary\" href=\"{remove}\">Remove"
    )));
    let ask = c.page(&remove).await;
    assert!(
        ask.contains("<h1>Remove “Fees and insurance”?</h1>"),
        "{ask}"
    );
    assert!(ask.contains("You can use the address again"), "{ask}");
    assert!(!ask.contains("<script"));
    assert_eq!(app.get("/fees").await.status, 200, "asking removes nothing");
    let removed = c.action(&remove, &remove, &[]).await;
    assert_eq!(removed.status, 303);
    let gone = app.get("/fees").await;
    gone.assert_shows(410, "This page has been removed");
    assert!(!app.get("/").await.text().contains("href=\"/fees\""));
    assert!(!app.get("/sitemap.xml").await.text().contains("/fees"));
    let (rows, _) = app.state.store.audit_log(20, 0).await.expect("audit");
    assert!(
        rows.iter()
            .any(|r| r.action == "page_added" && r.detail.as_deref() == Some("/fees"))
    );
    assert!(
        rows.iter()
            .any(|r| r.action == "page_removed" && r.detail.as_deref() == Some("/fees"))
    );

    // The address can be given to a new page.
    let again = c.action("/admin/pages", "/admin/pages", &fees).await;
    assert_eq!(again.status, 303, "{}", again.text());
    assert_eq!(app.get("/fees").await.status, 200);
    assert!(app.get("/sitemap.xml").await.text().contains("/fees</loc>"));
}

#[tokio::test]
async fn the_published_words_export_as_the_folder_content_dir_expects() {
    let app = TestApp::start().await;
    let mut c = app_and_clinician(&app).await;
    publish_everyday_words(&mut c, "/admin/words/privacy").await;
    let out = tempfile::tempdir().expect("tempdir");
    let folder = out.path().join("words");
    let folder_arg = folder.to_str().expect("utf-8");
    let (code, _, err) = app.cli(&["words", "export", folder_arg]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("(1 as published in the inbox)"), "{err}");
    let privacy_file = std::fs::read_to_string(folder.join("privacy.md")).expect("privacy.md");
    assert!(privacy_file.contains("in everyday words"));
    assert!(folder.join("contact.md").is_file());
    assert!(folder.join("home/10-is-kap-safe.md").is_file());
    // The folder is one `check` accepts as content.dir, and an existing folder is refused.
    let config = out.path().join("kap.toml");
    std::fs::write(
        &config,
        format!("[content]\ndir = \"{}\"\n", folder.display()),
    )
    .expect("config");
    let (code, stdout, err) = crate::common::run_binary(
        &["check", "--config", config.to_str().expect("utf-8")],
        out.path(),
    );
    assert_eq!(code, 0, "{stdout}{err}");
    let (code, _, err) = app.cli(&["words", "export", folder_arg]);
    assert_eq!(code, 1);
    assert!(err.contains("already exists"), "{err}");
}

#[tokio::test]
async fn a_page_of_the_practices_own_is_changed_in_place_and_a_stale_change_is_refused() {
    let app = TestApp::start().await;
    let mut c = app_and_clinician(&app).await;
    let added = c
        .add_page("Fees", "/fees", "A session is **$200**.\n")
        .await;
    assert_eq!(added.status, 303, "{}", added.text());
    let list = c.get("/admin/pages").await.text();
    let marker = "href=\"/admin/pages/";
    let at = list.find(marker).expect("a change link") + marker.len();
    let id: String = list[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let edit = format!("/admin/pages/{id}");
    let page = c.get(&edit).await;
    assert_eq!(page.status, 200);
    let html = page.text();
    assert!(
        html.contains("name=\"title\" type=\"text\" value=\"Fees\""),
        "{html}"
    );
    assert_eq!(text_area(&html), "A session is **$200**.\n");
    let seen = field(&html, "seen");

    // A mistake: named by its field, the text kept, nothing published.
    let refused = c
        .action(
            &edit,
            &edit,
            &[
                ("title", ""),
                ("body", "Sessions are **$220** from May.\n"),
                ("seen", &seen),
                ("action", "publish"),
            ],
        )
        .await;
    assert_eq!(refused.status, 422);
    let html = refused.text();
    assert!(html.contains("href=\"#title\">Enter a title"), "{html}");
    assert!(html.contains("<title>Error: Change /fees"), "{html}");
    assert!(text_area(&html).contains("**$220** from May"));
    assert!(app.get("/fees").await.text().contains("<h1>Fees</h1>"));

    // A preview shows the page as the site would, and publishes nothing.
    let changed = [
        ("title", "Fees and insurance"),
        (
            "body",
            "Sessions are **$220** from May.\n\n- Superbills on request\n",
        ),
        ("seen", seen.as_str()),
    ];
    let mut preview = changed.to_vec();
    preview.push(("action", "preview"));
    let html = c.action(&edit, &edit, &preview).await.page_with(200);
    assert!(html.contains("Preview (not published yet)"), "{html}");
    assert!(html.contains("<h2 id=\"guide-title\">Writing in Markdown</h2>"));
    assert!(html.contains("<h1>Fees and insurance</h1>"), "{html}");
    assert!(html.contains("<strong>$220</strong>"), "{html}");
    let public = app.get("/fees").await.text();
    assert!(public.contains("<strong>$200</strong>") && !public.contains("$220"));

    // Published: live at once, under the same address, with the new title in the navigation.
    let mut publish = changed.to_vec();
    publish.push(("action", "publish"));
    let done = c.action(&edit, &edit, &publish).await;
    assert_eq!(done.status, 303, "{}", done.text());
    assert_eq!(
        done.header("location"),
        Some(format!("/admin/pages/{id}?changed=1").as_str())
    );
    let public = app.get("/fees").await.text();
    assert!(public.contains("<h1>Fees and insurance</h1>"), "{public}");
    assert!(
        public.contains("<li>Superbills on request</li>"),
        "{public}"
    );
    assert!(
        app.get("/")
            .await
            .text()
            .contains("<a href=\"/fees\">Fees and insurance</a>")
    );

    // The same form again (another tab opened before that publish): refused, the text kept.
    let mut stale = vec![
        ("title", "Fees"),
        ("body", "Sessions are **$250**.\n"),
        ("seen", seen.as_str()),
    ];
    stale.push(("action", "publish"));
    let html = c.action(&edit, &edit, &stale).await.page_with(409);
    assert!(
        html.contains("Someone changed this page after you opened it"),
        "{html}"
    );
    assert_eq!(text_area(&html), "Sessions are **$250**.\n");
    assert_ne!(
        field(&html, "seen"),
        seen,
        "the form is now on the newest version"
    );
    assert!(app.get("/fees").await.text().contains("$220"));

    let (rows, _) = app.state.store.audit_log(20, 0).await.expect("audit");
    assert_eq!(
        rows.iter()
            .filter(|r| r.action == "page_changed" && r.detail.as_deref() == Some("/fees"))
            .count(),
        1
    );

    // A removed page cannot be changed.
    let removed = c
        .action("/admin/pages", &format!("/admin/pages/{id}/remove"), &[])
        .await;
    assert_eq!(removed.status, 303);
    assert_eq!(c.get(&edit).await.status, 404);
    let mut late = changed.to_vec();
    late.push(("action", "publish"));
    assert_eq!(c.action("/admin/pages", &edit, &late).await.status, 404);
    assert_eq!(app.get("/fees").await.status, 410);
}

/// The contact page is prepared once with a hole where each visitor's form token goes. Words of
/// the practice that happen to contain the text the page was once cut at cannot move that hole:
/// the token goes into the form, the words are shown as written, and the form still submits.
#[tokio::test]
async fn contact_words_cannot_reach_the_form_token() {
    let app = TestApp::start().await;
    let mut c = app_and_clinician(&app).await;
    let contact = "/admin/words/contact";
    let page = c.get(&format!("{contact}?as_text=1")).await.text();
    let original = text_area(&page);
    let words =
        "Write to me about kap-form-token-slot and /book/kap-booking-link-slot, as written.";
    let edited = original.replacen(
        "You are welcome to reach out",
        &format!("{words}\n\nYou are welcome to reach out"),
        1,
    );
    assert_ne!(edited, original);
    let published = c
        .publish_words(contact, &edited, &field(&page, "base"))
        .await;
    assert_eq!(published.status, 303, "{}", published.text());

    let form = app.get("/contact").await.text();
    let token = crate::common::token_in(&form);
    assert!(
        !token.contains("slot"),
        "the form holds a real token: {token}"
    );
    assert!(
        crate::common::visible_text(&form).contains(words),
        "the words are shown as written: {form}"
    );
    app.submitted("Ada Lovelace", &[]).await;
    let stored = app.state.store.all_requests().await.expect("read");
    assert_eq!(stored.len(), 1);
}

/// `original` with the `bad` lines after it, and the number of the first of them.
fn with_bad_links(original: &str, bad: &str) -> (String, usize) {
    let edited = format!("{original}\n{bad}");
    let line = edited
        .lines()
        .position(|l| l.starts_with("Call [me]"))
        .expect("line")
        + 1;
    (edited, line)
}

/// A link or image the site refuses is explained in the owner's words: the line, the address
/// as written in quotes, and the rule, never the program's own notation.
#[tokio::test]
async fn a_refused_link_is_explained_in_plain_words_in_the_editor_and_the_loader() {
    const LINK: &str = "the link \"javascript:alert(1)\" is not allowed: links must start with https://, http://, mailto:, tel:, / or #";
    const IMAGE: &str = "the image \"https://cdn.example/x.png\" is on another site";
    let bad = "Call [me](javascript:alert(1)) today.\n\n![a view](https://cdn.example/x.png)\n";

    // The words editor's publish.
    let app = TestApp::start().await;
    let mut c = app_and_clinician(&app).await;
    let privacy = "/admin/words/privacy";
    let page = c.get(&format!("{privacy}?as_text=1")).await.text();
    let original = text_area(&page);
    let (edited, line) = with_bad_links(&original, bad);
    let refused = c
        .publish_words(privacy, &edited, &field(&page, "base"))
        .await;
    assert_eq!(refused.status, 422);
    let text = crate::common::visible_text(&refused.text());
    assert!(text.contains(&format!("Line {line}: {LINK}")), "{text}");
    assert!(
        text.contains(&format!("Line {}: {IMAGE}", line + 2)),
        "{text}"
    );
    for internal in ["Borrowed(", "Boxed(", "Inlined("] {
        assert!(!text.contains(internal), "{text}");
    }

    // The content loader, as `check` and `serve` read a folder.
    let dir = tempfile::tempdir().expect("tempdir");
    let content = crate::common::copy_content(dir.path());
    let file = content.join("privacy.md");
    let original = std::fs::read_to_string(&file).expect("read");
    let (edited, line) = with_bad_links(&original, bad);
    std::fs::write(&file, &edited).expect("write");
    let errors = content::load(&content::ContentSource::Dir(content))
        .expect_err("refused")
        .to_string();
    let name = file.display().to_string();
    assert!(
        errors.contains(&format!("{name}:{line}: {LINK}")),
        "{errors}"
    );
    assert!(
        errors.contains(&format!("{name}:{}: {IMAGE}", line + 2)),
        "{errors}"
    );
    for internal in ["Borrowed(", "Boxed(", "Inlined("] {
        assert!(!errors.contains(internal), "{errors}");
    }
}

/// The editor names each section by its title, previews the changed section alone (the form
/// lands on it), and shows a version before restoring it.
#[tokio::test]
async fn the_editor_names_sections_by_title_previews_the_change_and_restores_after_a_look() {
    let app = TestApp::start().await;
    let mut c = app_and_clinician(&app).await;
    let list = c.get("/admin/words").await.text();
    assert!(list.contains("KAP page: Is KAP Safe?"), "{list}");
    assert!(!list.contains("Is kap safe"), "{list}");
    assert!(
        list.contains(">KAP page: When Insight Alone Isn’t Enough<"),
        "{list}"
    );
    assert!(!list.contains("isnt enough<"), "{list}");

    let page = c.get(&format!("{SAFE}?as_text=1")).await.text();
    assert!(page.contains("<h1>KAP page: Is KAP Safe?</h1>"));
    assert!(page.contains(&format!("action=\"{SAFE}#preview\"")));
    let original = text_area(&page);
    let edited = original.replace("it is not risk-free", "it is never without risk");
    let preview = c.preview_words(SAFE, &edited, "0").await.text();
    let shown = &preview[preview
        .find("<div class=\"preview-page\">")
        .expect("preview")..];
    assert!(shown.contains("it is never without risk"));
    assert!(
        shown.starts_with("<div class=\"preview-page\"><section class=\"section\" id=\""),
        "the changed section alone: {:.300}",
        shown
    );
    assert!(!shown.contains("On this page"), "not the whole page");
    assert!(!shown.contains("<header class=\"hero\">"));

    let published = c.publish_words(SAFE, &edited, "0").await;
    assert_eq!(published.status, 303);
    // "Restore" shows the version first and publishes nothing.
    let history = c.get(SAFE).await.text();
    let look = format!("href=\"{SAFE}?restore=0#preview\"");
    assert!(history.contains(&look), "{history}");
    let look = c.page(&format!("{SAFE}?restore=0")).await;
    assert!(look.contains("Restore this version?"));
    assert!(
        look.contains("it is not risk-free"),
        "the preview of the built-in words"
    );
    assert!(
        app.get("/")
            .await
            .text()
            .contains("it is never without risk")
    );
    let restored = c
        .action(
            &format!("{SAFE}?restore=0"),
            &format!("{SAFE}/restore"),
            &[("base", "1"), ("revision", "0")],
        )
        .await;
    assert_eq!(restored.status, 303, "{}", restored.text());
    assert!(app.get("/").await.text().contains("it is not risk-free"));
    assert_eq!(c.get(&format!("{SAFE}?restore=99")).await.status, 404);
}

/// Posts the editor of "Is KAP Safe?" with its settings as fields.
async fn post_settings(c: &mut Clinician<'_>, body: &str, title: &str, action: &str) -> Reply {
    c.action(
        SAFE,
        SAFE,
        &[
            ("mode", "fields"),
            ("settings", "title"),
            ("setting-title", title),
            ("body", body),
            ("base", "0"),
            ("action", action),
        ],
    )
    .await
}

/// The settings between the `+++` lines are form fields: a title changed in its field is
/// published, a problem is named by the field as the form names it, and the whole text (the
/// settings in TOML) is one button away for whoever prefers it.
#[tokio::test]
async fn the_settings_are_fields_named_in_the_forms_words() {
    let app = TestApp::start().await;
    let mut c = app_and_clinician(&app).await;
    let page = c.get(SAFE).await.text();
    assert!(
        page.contains("<label class=\"label\" for=\"setting-title\">Title</label>"),
        "{page}"
    );
    assert!(page.contains("name=\"setting-title\" type=\"text\" value=\"Is KAP Safe?\""));
    assert_eq!(field(&page, "settings"), "title");
    let body = text_area(&page);
    assert!(
        !body.contains("+++") && body.contains("it is not risk-free"),
        "{body}"
    );

    let html = post_settings(&mut c, &body, "  ", "publish")
        .await
        .page_with(422);
    assert!(
        html.contains("<a href=\"#setting-title\">Title is empty: write the words</a>"),
        "{html}"
    );
    assert!(html.contains("id=\"setting-title-error\""), "{html}");
    assert!(!html.contains("title is empty"), "{html}");

    let as_text = post_settings(&mut c, &body, "Is KAP Safe for Me?", "as_text").await;
    assert_eq!(as_text.status, 200);
    let whole = text_area(&as_text.text());
    assert!(
        whole.starts_with("+++\ntitle = \"Is KAP Safe for Me?\"\n+++\n"),
        "{whole}"
    );

    let published = post_settings(&mut c, &body, "Is KAP Safe for Me?", "publish").await;
    assert_eq!(published.status, 303, "{}", published.text());
    assert!(app.get("/").await.text().contains("Is KAP Safe for Me?"));
    let stored = app.state.store.published_words().await.expect("read");
    let text = &stored["home/10-is-kap-safe.md"].body;
    assert!(
        text.starts_with("+++\ntitle = \"Is KAP Safe for Me?\"\n+++\nKetamine can be used safely"),
        "{text}"
    );
}
