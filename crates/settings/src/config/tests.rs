//! The config as a whole: defaults, messages and warnings.

use super::*;

/// Asserts that `text` holds each of `expected`.
#[track_caller]
fn says_all(text: &str, expected: &[&str]) {
    for e in expected {
        assert!(text.contains(e), "no {e:?} in:\n{text}");
    }
}

fn load(text: &str) -> Result<Config, Diagnostics> {
    Config::from_toml(text, "kap.toml", None, &Overrides::default())
}

#[test]
fn defaults_are_valid() {
    let c = load("").expect("defaults load");
    assert_eq!(c.practice, default_practice());
    assert_eq!(c.server.base_url, "http://127.0.0.1:8080");
    assert!(!c.server.https());
}

#[test]
fn insights_are_on_by_default_and_their_retention_is_checked() {
    let c = load("").expect("defaults load");
    assert!(c.insights.enabled);
    assert_eq!(c.insights.retention_months, 25);
    let c = load("[insights]\nenabled = false\nretention_months = 13\n").expect("loads");
    assert!(!c.insights.enabled);
    assert_eq!(c.insights.retention_months, 13);
    let e = load("[insights]\nretention_months = 0\n")
        .expect_err("zero months refused")
        .to_string();
    says_all(&e, &["insights.retention_months must be at least 1"]);
}

#[test]
fn errors_name_the_line_and_the_fix() {
    let text = "[practice]\nname = \"A\"\naccent_color = \"#eeeeee\"\nlicensed_states = [\"CA\", \"XX\"]\ntime_zone = \"Mars/Olympus\"\n";
    let errs = load(text).expect_err("invalid").to_string();
    says_all(
        &errs,
        &[
            "kap.toml:3: practice.accent_color #eeeeee is too light",
            "kap.toml:4: practice.licensed_states: \"XX\"",
            "kap.toml:5: practice.time_zone",
        ],
    );
}

#[test]
fn unknown_keys_are_reported_with_their_line() {
    let errs = load("[server]\nbind = \"127.0.0.1:9\"\nbnid = 1\n")
        .expect_err("typo")
        .to_string();
    assert!(errs.starts_with("kap.toml:3: unknown field"), "{errs}");
}

#[test]
fn example_addresses_are_recognised() {
    for a in [
        "hello@example.com",
        "a@EXAMPLE.org",
        "a@mail.example.net",
        "a@practice.example",
        "a@x.test",
        "a@x.invalid",
    ] {
        assert!(is_example_address(a), "{a}");
    }
    for a in [
        "a@example.co.uk",
        "a@myexample.com",
        "a@practice.org",
        "a@test.com",
    ] {
        assert!(!is_example_address(a), "{a}");
    }
}

#[test]
fn warnings_name_the_setting_and_the_fix() {
    let defaults = load("").expect("defaults");
    let w = defaults.warnings().join("\n");
    says_all(
        &w,
        &[
            "practice.email \"hello@example.com\" is an example address",
            "from practice.email (used because mail.notify_email is not set)",
        ],
    );
    let real = "[practice]\nemail = \"hello@practice.org\"\n";
    assert!(load(real).expect("valid").warnings().is_empty());
    let sending = format!("{real}[mail]\nsmtp_url = \"smtp://127.0.0.1:25\"\n");
    let w = load(&sending).expect("valid").warnings().join("\n");
    assert!(
        w.contains("mail.smtp_url is set but mail.notify_email is not"),
        "{w}"
    );
    let noted = format!("{sending}notify_email = \"inbox@practice.test\"\n");
    let w = load(&noted).expect("valid").warnings().join("\n");
    says_all(
        &w,
        &[
            "an example address, from mail.notify_email",
            "real requests would arrive unannounced",
        ],
    );
}

#[test]
fn https_base_url_turns_on_https() {
    let c = load("[server]\nbase_url = \"https://example.org/\"\n").expect("valid");
    assert_eq!(c.server.base_url, "https://example.org");
    assert!(c.server.https());
    assert!(load("[server]\nbase_url = \"example.org\"\n").is_err());
}

#[test]
fn connections_per_address_are_capped_at_64_unless_set() {
    let c = load("").expect("valid");
    assert_eq!(c.server.max_connections_per_address, 64);
    let c = load("[server]\nmax_connections_per_address = 8\n").expect("valid");
    assert_eq!(c.server.max_connections_per_address, 8);
    assert!(load("[server]\nmax_connections_per_address = 0\n").is_err());
}

#[test]
fn time_limits_default_to_production_and_can_be_set_in_whole_seconds() {
    use std::time::Duration;
    let c = load("").expect("valid");
    assert_eq!(c.server.request_timeout, Duration::from_secs(30));
    assert_eq!(c.server.header_timeout, Duration::from_secs(10));
    assert_eq!(c.server.tls_handshake_timeout, Duration::from_secs(10));
    assert_eq!(c.server.brotli_quality, 11);
    let c = load(
        "[server]\nrequest_timeout_seconds = 2\nheader_timeout_seconds = 1\ntls_handshake_timeout_seconds = 3\n",
    )
    .expect("valid");
    assert_eq!(c.server.request_timeout, Duration::from_secs(2));
    assert_eq!(c.server.header_timeout, Duration::from_secs(1));
    assert_eq!(c.server.tls_handshake_timeout, Duration::from_secs(3));
    for bad in [
        "request_timeout_seconds = 0",
        "header_timeout_seconds = 3601",
        "tls_handshake_timeout_seconds = 0",
    ] {
        let err = load(&format!("[server]\n{bad}\n")).expect_err(bad);
        assert!(
            err.to_string().contains("between 1 and 3600 seconds"),
            "{err}"
        );
    }
}
