//! The practice set up as its clinician sets it up, through the same forms: the first account,
//! a page of the clinician's own, consultation times offered online, and a request whose
//! thank-you page links to its booking page.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, anyhow, bail};

use super::mail_sink::MailSink;
use super::{CLINICIAN, OWN_PAGE};
use crate::tools;

/// Adds [`CLINICIAN`] as a practice adds its first account, from the command line; `add` is
/// kap-practice with its config and data folder.
pub(crate) fn add_clinician(mut add: Command) -> Result<()> {
    add.args(["admin", "add", CLINICIAN.0])
        .stdin(Stdio::piped())
        .stdout(Stdio::null());
    let mut child = add.spawn().context("cannot run kap-practice admin add")?;
    if let Some(mut stdin) = child.stdin.take() {
        use std::io::Write;
        writeln!(stdin, "{}", CLINICIAN.1)?;
    }
    if !child.wait()?.success() {
        bail!("kap-practice admin add {} failed", CLINICIAN.0);
    }
    Ok(())
}

/// curl as a browser on the site: its cookies in a jar, the site's Origin on every request, and
/// the headers of each form's answer kept (for its `Location`).
struct Browser {
    base: String,
    options: Vec<String>,
    headers: PathBuf,
}

impl Browser {
    /// A browser on `base` whose jar and headers are kept in `scratch` (so a second one there
    /// is the same browser, signed in if the first signed in).
    fn new(base: &str, scratch: &Path) -> Result<Browser> {
        let jar = scratch.join("cookies.txt");
        let jar = jar
            .to_str()
            .context("the scratch folder's path is not UTF-8")?;
        Ok(Browser {
            base: base.to_string(),
            options: vec![
                "--cookie".into(),
                jar.into(),
                "--cookie-jar".into(),
                jar.into(),
                "--header".into(),
                format!("Origin: {base}"),
            ],
            headers: scratch.join("headers.txt"),
        })
    }

    fn get(&self, path: &str) -> Result<tools::Reply> {
        let options: Vec<&str> = self.options.iter().map(String::as_str).collect();
        tools::fetch("GET", &format!("{}{path}", self.base), &options, None)
    }

    /// The CSRF token of the inbox page `path`'s forms.
    fn csrf(&self, path: &str) -> Result<String> {
        let page = self.get(path)?.text();
        let start = page
            .find("name=\"csrf\" value=\"")
            .with_context(|| format!("{path} has no CSRF field"))?
            + 19;
        let end = page[start..]
            .find('"')
            .with_context(|| format!("{path}: the CSRF field does not end"))?;
        Ok(page[start..start + end].to_string())
    }

    /// Sends a form of `fields` to `path`.
    fn post(&self, path: &str, fields: &[(&str, &str)]) -> Result<tools::Reply> {
        let mut options = self.options.clone();
        options.push("--dump-header".into());
        options.push(self.headers.display().to_string());
        for (name, value) in fields {
            options.push("--data-urlencode".into());
            options.push(format!("{name}={value}"));
        }
        let options: Vec<&str> = options.iter().map(String::as_str).collect();
        tools::fetch("POST", &format!("{}{path}", self.base), &options, None)
    }

    /// Sends the inbox form at `path` of the page `page` (its CSRF token added) and checks it is
    /// answered `303`; `what` names it in the error.
    fn send_inbox_form(
        &self,
        page: &str,
        path: &str,
        fields: &[(&str, &str)],
        what: &str,
    ) -> Result<()> {
        let token = self.csrf(page)?;
        let mut all = vec![("csrf", token.as_str())];
        all.extend_from_slice(fields);
        let status = self.post(path, &all)?.status;
        if status != 303 {
            bail!("{what} answered {status}, not 303");
        }
        Ok(())
    }

    /// Where the last form's answer sends the browser, if it was a `303`.
    fn location(&self, reply: &tools::Reply) -> Option<String> {
        std::fs::read_to_string(&self.headers)
            .ok()?
            .lines()
            .find_map(|l| l.strip_prefix("location:").or(l.strip_prefix("Location:")))
            .map(|l| l.trim().to_string())
            .filter(|_| reply.status == 303)
    }
}

/// Signs in as [`CLINICIAN`] and adds [`OWN_PAGE`] with the form of `/admin/pages`, as a
/// browser would (the session cookie in a jar, the page's CSRF token, the site's Origin); then
/// checks that the page is served.
pub(crate) fn add_own_page(base: &str, scratch: &Path) -> Result<()> {
    let browser = Browser::new(base, scratch)?;
    browser.send_inbox_form(
        "/admin/login",
        "/admin/login",
        &[("email", CLINICIAN.0), ("password", CLINICIAN.1)],
        "signing in",
    )?;
    // Every account turns on two-factor sign-in before the inbox opens: as a person would,
    // with the key the page shows and a code made from it.
    let page = browser.get("/admin/two-factor")?.text();
    let start = page
        .find("<code class=\"secret\">")
        .context("/admin/two-factor shows no key")?
        + 21;
    let end = page[start..]
        .find('<')
        .context("/admin/two-factor: the key does not end")?;
    let key: String = page[start..start + end]
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    let secret = totp_rs::Secret::Encoded(key)
        .to_bytes()
        .map_err(|e| anyhow!("the two-factor key does not read: {e:?}"))?;
    let code = totp_rs::TOTP::new_unchecked(
        totp_rs::Algorithm::SHA1,
        6,
        1,
        30,
        secret,
        None,
        String::new(),
    )
    .generate_current()
    .context("the clock is before 1970")?;
    let token = browser.csrf("/admin/two-factor")?;
    let status = browser
        .post(
            "/admin/two-factor",
            &[("csrf", &token), ("password", CLINICIAN.1), ("code", &code)],
        )?
        .status;
    if status != 200 && status != 303 {
        bail!("turning on two-factor sign-in answered {status}");
    }
    let (path, title, words) = OWN_PAGE;
    browser.send_inbox_form(
        "/admin/pages",
        "/admin/pages",
        &[("title", title), ("path", path), ("body", words)],
        &format!("adding {path} in /admin/pages"),
    )?;
    let page = tools::fetch("GET", &format!("{base}{path}"), &[], None)?;
    if page.status != 200 || !page.text().contains(title) {
        bail!("{path} answered {} without its title", page.status);
    }
    Ok(())
}

/// The booking settings a new practice has no value for yet, as the form's own examples give
/// them: consultation length, step between start times and buffer in minutes, notice in hours,
/// how far ahead in days.
const EXAMPLES: [(&str, &str); 5] = [
    ("length", "20"),
    ("step", "30"),
    ("buffer", "10"),
    ("notice", "24"),
    ("horizon", "21"),
];

/// The value of the first `attr="…"` after `at` in `html`.
fn attr_after<'a>(html: &'a str, at: usize, attr: &str) -> Option<&'a str> {
    let needle = format!("{attr}=\"");
    let start = html[at..].find(&needle)? + at + needle.len();
    let end = html[start..].find('"')? + start;
    Some(&html[start..end])
}

/// Offers consultation times online and sends a request through the contact form as a person
/// would, then returns the address of the booking page its thank-you page links to (a
/// `/book/…` link signed for that one request). The clinician must be signed in already
/// ([`add_own_page`] leaves the session in the cookie jar of `scratch`): the booking settings
/// form of `/admin/booking` is sent as it is, with every day open from 9:00 to 17:00.
pub(crate) fn add_booking_link(base: &str, scratch: &Path) -> Result<String> {
    let browser = Browser::new(base, scratch)?;

    // The settings form as the page fills it, every day's first window 9:00–17:00.
    let page = browser.get("/admin/booking")?.text();
    let form = page
        .find("action=\"/admin/booking\"")
        .map(|at| &page[at..])
        .and_then(|form| Some(&form[..form.find("</form>")?]))
        .context("/admin/booking has no settings form")?;
    let mut fields = Vec::new();
    for (at, _) in form.match_indices("<input ") {
        let tag = &form[at..at + form[at..].find('>').unwrap_or(form.len() - at)];
        let (Some(name), value) = (attr_after(tag, 0, "name"), attr_after(tag, 0, "value")) else {
            continue;
        };
        let value = if name.starts_with("window-") && name.ends_with("-1-start") {
            "09:00"
        } else if name.starts_with("window-") && name.ends_with("-1-end") {
            "17:00"
        } else if let Some((_, example)) = value
            .filter(|v| v.is_empty())
            .and(EXAMPLES.iter().find(|(field, _)| *field == name))
        {
            // What the form asks for by way of example, where a new practice has no value yet.
            example
        } else if name == "format-video" {
            // Consultations by video, at least.
            "yes"
        } else if tag.contains("type=\"checkbox\"") && !tag.contains(" checked") {
            continue;
        } else {
            value.unwrap_or_default()
        };
        fields.push((name.to_string(), value.to_string()));
    }
    let fields: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let saved = browser.post("/admin/booking", &fields)?;
    if saved.status != 303 {
        let page = saved.text();
        let errors: Vec<&str> = page
            .match_indices("<li><a href=\"#")
            .filter_map(|(at, _)| {
                let text = &page[at + 4..];
                let start = text.find('>')? + 1;
                Some(text[start..start + text[start..].find('<')?].trim())
            })
            .collect();
        bail!(
            "saving the booking settings answered {}, not 303: {errors:?}",
            saved.status
        );
    }

    // A request from someone in a state the practice is licensed in (the first of the form's
    // states that the footer's "Licensed in …" names), who may then book online.
    let page = browser.get("/contact")?.text();
    let token = page
        .find("name=\"form_token\"")
        .and_then(|at| attr_after(&page, at, "value"))
        .context("/contact has no form token")?
        .to_string();
    let state =
        licensed_state(&page).context("/contact lists no state the practice is licensed in")?;
    let sent = browser.post(
        "/contact",
        &[
            ("form_token", token.as_str()),
            ("name", "Lighthouse Visitor"),
            ("email", "visitor@example.com"),
            ("phone", ""),
            ("contact_method", "email"),
            ("state", state),
            ("for_whom", "myself"),
            ("age_group", "adult"),
            ("message", ""),
            ("referral_source", ""),
            ("website", ""),
            ("consent", "yes"),
        ],
    )?;
    let location = browser
        .location(&sent)
        .with_context(|| format!("sending the contact form answered {}", sent.status))?;
    let thanks = browser.get(&location)?;
    let link = link_to(&thanks.text(), "/book/").with_context(|| {
        format!(
            "the thank-you page ({}) links to no booking page",
            thanks.status
        )
    })?;
    let page = tools::fetch("GET", &format!("{base}{link}"), &[], None)?;
    if page.status != 200 {
        bail!("the booking page answered {}", page.status);
    }
    Ok(link)
}

/// The first state of a page's list (`<option value="…">`) that its footer's "Licensed in …"
/// names: one a person may book from.
fn licensed_state(page: &str) -> Option<&str> {
    let licensed = page
        .find("Licensed in ")
        .map(|at| &page[at..at + page[at..].find('<').unwrap_or(0)])?;
    page.match_indices("<option value=\"")
        .filter_map(|(at, _)| {
            let value = attr_after(page, at, "value")?;
            let label = &page[at..];
            let label = &label[label.find('>')? + 1..];
            let label = &label[..label.find('<')?];
            (!value.is_empty() && licensed.contains(label)).then_some(value)
        })
        .next()
}

/// The first link of `page` whose address starts with `prefix`.
fn link_to(page: &str, prefix: &str) -> Option<String> {
    let start = page.find(&format!("href=\"{prefix}"))? + 6;
    let end = page[start..].find('"')? + start;
    Some(page[start..end].to_string())
}

/// Offers the questionnaire as the clinician does in the booking settings: a test email to the
/// address urgent notices go to, the code it carries entered, then the questionnaire turned on.
/// The clinician must be signed in already (see [`add_booking_link`]); `mail` is the SMTP server
/// the practice's email goes to.
pub(crate) fn offer_questionnaire(base: &str, scratch: &Path, mail: &mut MailSink) -> Result<()> {
    let browser = Browser::new(base, scratch)?;
    let settings = "/admin/booking";
    browser.send_inbox_form(
        settings,
        "/admin/booking/questionnaire/test",
        &[],
        "sending the test of urgent notices",
    )?;
    let test = mail.wait_for(TEST_SUBJECT)?;
    let code = code_in(&test).context("the test of urgent notices carries no code")?;
    browser.send_inbox_form(
        settings,
        "/admin/booking/questionnaire/confirm",
        &[("code", &code)],
        "entering the test's code",
    )?;
    browser.send_inbox_form(
        settings,
        "/admin/booking/questionnaire",
        &[("questionnaire", "on")],
        "turning the questionnaire on",
    )?;
    if !browser.get(settings)?.text().contains("Offered now.") {
        bail!("the booking settings do not say the questionnaire is offered");
    }
    Ok(())
}

/// The subject the test of urgent notices starts with.
const TEST_SUBJECT: &str = "Test of urgent notices";

/// The six-digit code the test email asks the clinician to enter: after the booking settings'
/// address (`…/admin/booking): 123456`, the line perhaps wrapped before the code).
fn code_in(message: &str) -> Option<String> {
    let at = message.find("/admin/booking):")? + "/admin/booking):".len();
    let code: String = message[at..]
        .trim_start()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    (code.len() == 6).then_some(code)
}

/// Holds the first time the booking page `link` offers, as the person would (a state the
/// practice is licensed in), and returns the address of the questionnaire the page then
/// offers.
pub(crate) fn hold_a_time(base: &str, scratch: &Path, link: &str) -> Result<String> {
    let browser = Browser::new(base, scratch)?;
    let page = browser.get(link)?.text();
    let form = page
        .find("<form class=\"request-form booking-form\"")
        .context("the booking page has no times to choose")?;
    let action = attr_after(&page, form, "action").context("the booking form has no action")?;
    let start = page[form..]
        .find("name=\"start\"")
        .and_then(|at| attr_after(&page, form + at, "value"))
        .context("the booking page offers no time")?;
    let format = page[form..]
        .find("name=\"format\"")
        .and_then(|at| attr_after(&page, form + at, "value"))
        .context("the booking page offers no way to meet")?;
    let state = licensed_state(&page).context("the booking page lists no licensed state")?;
    let held = browser.post(
        action,
        &[("start", start), ("format", format), ("location", state)],
    )?;
    let location = browser
        .location(&held)
        .with_context(|| format!("holding a time answered {}", held.status))?;
    let booking = browser.get(&location)?;
    link_to(&booking.text(), "/questionnaire/").with_context(|| {
        format!(
            "the booking page ({}) offers no questionnaire once a time is held",
            booking.status
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_test_emails_code_is_read_where_its_line_is_wrapped() {
        let sent = "enter this code in the booking settings\r\n\
(http://127.0.0.1:4000/admin/booking):\r\n042917\r\n\r\nUntil a test is confirmed";
        assert_eq!(code_in(sent).as_deref(), Some("042917"));
        let one_line = "settings (http://x.example/admin/booking): 123456\n";
        assert_eq!(code_in(one_line).as_deref(), Some("123456"));
        assert_eq!(
            code_in("settings (http://x.example/admin/booking): 1234\n"),
            None
        );
        assert_eq!(code_in("no code here"), None);
    }

    #[test]
    fn a_licensed_state_and_a_link_are_read_from_a_page() {
        let page = "<select><option value=\"\">Choose</option><option value=\"CA\">California</option>\
<option value=\"NY\">New York</option></select><a href=\"/questionnaire/abc\">Answer</a>\
<footer><p>Licensed in New York.</p></footer>";
        assert_eq!(licensed_state(page), Some("NY"));
        assert_eq!(
            link_to(page, "/questionnaire/").as_deref(),
            Some("/questionnaire/abc")
        );
        assert_eq!(link_to(page, "/book/"), None);
    }
}
