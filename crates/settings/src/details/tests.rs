//! The checks of the practice's details, and how they apply over the config file.

use super::*;

/// The config read from `text`, as a file named `t`.
fn load(text: &str) -> Result<Config, diagnostics::Diagnostics> {
    Config::from_toml(text, "t", None, &Overrides::default())
}

fn good() -> PracticeDetails {
    values_of(&load("").expect("defaults"))
        .into_iter()
        .chain([
            ("name".to_string(), "Harbor Light Therapy".to_string()),
            ("phone".to_string(), "(212) 555-0188".to_string()),
            ("licensed_states".to_string(), "ny, NJ".to_string()),
        ])
        .collect()
}

#[test]
fn the_checks_and_words_are_the_configs() {
    assert!(check(&good()).is_ok());
    let mut bad = good();
    bad.insert("phone".into(), "call me".into());
    bad.insert("accent_color".into(), "#ffff00".into());
    bad.insert("licensed_states".into(), "CA, ZZ".into());
    bad.insert("reply_time".into(), " ".into());
    let problems = check(&bad).expect_err("problems");
    let named = |f: &str| {
        problems
            .iter()
            .find(|(n, _)| *n == f)
            .map(|(_, m)| m.clone())
    };
    assert!(named("phone").is_some_and(|m| m.contains("is not a phone number")));
    assert!(named("accent_color").is_some_and(|m| m.contains("too light for white text")));
    assert!(named("licensed_states").is_some_and(|m| m.contains("\"ZZ\" is not a US state")));
    assert!(named("reply_time").is_some_and(|m| m.contains("write a value")));
    // In the form's words, never the setting's name.
    assert_eq!(
        named("licensed_states").as_deref(),
        Some(
            "States where you are licensed: \"ZZ\" is not a US state code: use two letters such as \"CA\" or \"NY\""
        )
    );
    assert!(named("phone").is_some_and(|m| m.starts_with("Phone number: \"call me\"")));
    assert!(named("reply_time").is_some_and(|m| m.starts_with("When people can expect a reply: ")));
    for (_, m) in &problems {
        assert!(
            !m.contains("practice.") && !m.contains("contact_form."),
            "{m}"
        );
    }
    assert_eq!(problems.len(), 4);
}

#[test]
fn crisis_lines_are_optional_but_a_word_to_text_needs_its_number() {
    let mut text_only = good();
    text_only.insert("crisis_call".into(), "".into());
    text_only.insert("crisis_call_name".into(), "".into());
    text_only.insert("crisis_text".into(), "741741".into());
    text_only.insert("crisis_text_keyword".into(), "HOME".into());
    assert!(check(&text_only).is_ok());
    let mut no_number = text_only;
    no_number.insert("crisis_text".into(), "".into());
    let problems = check(&no_number).expect_err("a word with no number");
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].0, "crisis_text_keyword");
}

#[test]
fn a_single_crisis_line_saved_before_is_both_a_line_to_call_and_to_text() {
    let config = load("").expect("defaults");
    let mut values = good();
    for name in [
        "crisis_call",
        "crisis_call_name",
        "crisis_text",
        "crisis_text_keyword",
        "crisis_text_name",
    ] {
        values.remove(name);
    }
    values.insert("crisis_line".into(), "741741".into());
    values.insert("crisis_line_name".into(), "Crisis Text Line".into());
    let merged = apply(&config, &values);
    assert_eq!(
        crate::crisis::Crisis::new(&merged.form).sentence(),
        "call or text 741741 (Crisis Text Line), or call 911"
    );
}

#[test]
fn retention_periods_are_days_and_the_file_wins() {
    let mut values = good();
    values.insert("keep_closed_days".into(), "0".into());
    values.insert("keep_consulted_days".into(), "seven years".into());
    let problems = check(&values).expect_err("not days");
    assert_eq!(problems.len(), 2);
    assert!(
        problems[0]
            .1
            .contains("a whole number of days from 1 to 36500")
    );
    values.insert("keep_closed_days".into(), "90".into());
    values.insert("keep_consulted_days".into(), "".into());
    assert!(check(&values).is_ok(), "empty keeps the period in force");
    let config = load("").expect("defaults");
    let merged = apply(&config, &values);
    assert_eq!(merged.admin.keep_closed_days, 90);
    assert_eq!(merged.admin.keep_consulted_days, 2557);
    let filed = load("[admin]\nkeep_closed_days = 30\n").expect("valid");
    assert_eq!(set_in_file(&filed), ["keep_closed_days"]);
    assert_eq!(apply(&filed, &values).admin.keep_closed_days, 30);
}

#[test]
fn stored_values_replace_the_defaults_and_quotes_stay_text() {
    let config = load("").expect("defaults");
    let mut values = good();
    values.insert("city".into(), "Say \"hi\" \\ Brooklyn".into());
    let merged = apply(&config, &values);
    assert_eq!(merged.practice.name, "Harbor Light Therapy");
    assert_eq!(merged.practice.licensed_states, vec!["NY", "NJ"]);
    assert_eq!(merged.practice.city, "Say \"hi\" \\ Brooklyn");
    assert_eq!(merged.form.reply_time, config.form.reply_time);
}

#[test]
fn the_calendar_title_is_checked_in_the_forms_words_and_the_file_wins() {
    let config = load("").expect("defaults");
    assert_eq!(config.practice.calendar_title, "Appointment");
    let mut values = good();
    values.insert(CALENDAR_TITLE.into(), "Ketamine check-in".into());
    let problems = check(&values).expect_err("names the treatment");
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].0, CALENDAR_TITLE);
    assert!(
        problems[0]
            .1
            .starts_with("Title of calendar invitations: \"Ketamine check-in\" cannot be used: it names the treatment"),
        "{}",
        problems[0].1
    );
    assert!(!problems[0].1.contains("practice."), "{}", problems[0].1);
    values.insert(CALENDAR_TITLE.into(), "".into());
    assert!(check(&values).is_ok(), "empty is the neutral default");
    assert_eq!(
        apply(&config, &values).practice.calendar_title,
        "Appointment"
    );
    values.insert(CALENDAR_TITLE.into(), "Visit".into());
    assert_eq!(apply(&config, &values).practice.calendar_title, "Visit");
    let filed = load("[practice]\ncalendar_title = \"Meeting\"\n").expect("valid");
    assert_eq!(set_in_file(&filed), [CALENDAR_TITLE]);
    assert_eq!(apply(&filed, &values).practice.calendar_title, "Meeting");
    let refused =
        load("[practice]\ncalendar_title = \"KAP session\"\n").expect_err("names the treatment");
    assert!(
        refused.0[0]
            .message
            .starts_with("practice.calendar_title: \"KAP session\" cannot be used"),
        "{}",
        refused.0[0].message
    );
}
