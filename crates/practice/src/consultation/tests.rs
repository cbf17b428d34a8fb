//! The form's rules by example: what is accepted, what is refused and in which words.

use super::*;

fn good() -> ConsultationForm {
    ConsultationForm {
        name: "  Ada Lovelace ".into(),
        email: "ada@example.com".into(),
        phone: "".into(),
        contact_method: "email".into(),
        voicemail: "".into(),
        state: "CA".into(),
        for_whom: "myself".into(),
        age_group: "adult".into(),
        message: "Feeling stuck.\r\nSecond line.".into(),
        referral_source: "".into(),
        consent: "yes".into(),
    }
}

fn licence() -> Vec<String> {
    vec!["CA".to_string()]
}

fn fields(r: Result<NewConsultationRequest, Vec<FieldError>>) -> Vec<Field> {
    r.expect_err("invalid")
        .into_iter()
        .map(|e| e.field)
        .collect()
}

#[test]
fn a_good_form_is_accepted_and_cleaned() {
    let states = licence();
    let r = good()
        .validate(&Licence { states: &states })
        .expect("valid");
    assert_eq!(r.name, "Ada Lovelace");
    assert_eq!(r.message.as_deref(), Some("Feeling stuck.\nSecond line."));
    assert_eq!(r.phone, None);
    assert_eq!(r.flags, Flags::default());
    assert!(
        !format!("{r:?}").contains("Ada"),
        "Debug hides personal fields"
    );
}

#[test]
fn outside_licensed_states_and_minors_are_accepted_and_flagged() {
    let states = licence();
    let mut f = good();
    f.state = "NY".into();
    f.age_group = "minor".into();
    let r = f.validate(&Licence { states: &states }).expect("valid");
    assert!(r.flags.outside_licensed_states && r.flags.minor);
    f.state = OUTSIDE_US.into();
    assert!(
        f.validate(&Licence { states: &states })
            .expect("valid")
            .flags
            .outside_licensed_states
    );
}

#[test]
fn the_minor_flag_follows_the_age_of_the_person_the_consultation_is_for() {
    let states = licence();
    let valid = |for_whom: &str, age: &str| {
        let mut f = good();
        f.for_whom = for_whom.into();
        f.age_group = age.into();
        f.validate(&Licence { states: &states }).expect("valid")
    };
    // A parent (an adult) writing for their 16-year-old.
    let parent = valid("someone_else", "minor");
    assert!(parent.flags.minor && !parent.minor_writing_alone());
    // A teen writing alone is heard, flagged, and told about a parent or guardian.
    let teen = valid("myself", "minor");
    assert!(teen.flags.minor && teen.minor_writing_alone());
    // An adult writing for an adult they care for.
    let adult = valid("someone_else", "adult");
    assert!(!adult.flags.minor && !adult.minor_writing_alone());
}

#[test]
fn every_problem_is_reported_in_form_order() {
    let states = licence();
    let f = ConsultationForm::default();
    assert_eq!(
        fields(f.validate(&Licence { states: &states })),
        vec![
            Field::Name,
            Field::Email,
            Field::ContactMethod,
            Field::State,
            Field::ForWhom,
            Field::AgeGroup,
            Field::Consent
        ]
    );
}

#[test]
fn bad_values_are_refused() {
    let states = licence();
    let l = Licence { states: &states };
    type Change = fn(&mut ConsultationForm);
    let cases: Vec<(Change, Field)> = vec![
        (|f| f.name = "a\nb".into(), Field::Name),
        (|f| f.name = "a\0b".into(), Field::Name),
        (|f| f.name = "x".repeat(201), Field::Name),
        (|f| f.email = "not-an-email".into(), Field::Email),
        (|f| f.email = "a@b.c\r\nBcc: x@y.z".into(), Field::Email),
        (
            |f| f.email = "victim%40gmail.com?bcc=attacker%40evil.com&body=@example.com".into(),
            Field::Email,
        ),
        (|f| f.email = "a#b@example.com".into(), Field::Email),
        (|f| f.email = "a&b@example.com".into(), Field::Email),
        (|f| f.phone = "call me".into(), Field::Phone),
        (|f| f.contact_method = "pigeon".into(), Field::ContactMethod),
        (|f| f.contact_method = "phone".into(), Field::Phone),
        (|f| f.state = "ZZ".into(), Field::State),
        (|f| f.age_group = "teen".into(), Field::AgeGroup),
        (|f| f.message = "x".repeat(2001), Field::Message),
        (|f| f.message = "bad \u{0} byte".into(), Field::Message),
        (|f| f.name = "Ada \u{202e}ecalevoL".into(), Field::Name),
        (|f| f.referral_source = "a\rb".into(), Field::ReferralSource),
        (|f| f.consent = "".into(), Field::Consent),
    ];
    for (change, field) in cases {
        let mut f = good();
        change(&mut f);
        assert_eq!(fields(f.validate(&l)), vec![field], "{f:?}");
    }
}

#[test]
fn markup_is_kept_as_text() {
    let states = licence();
    let mut f = good();
    f.name = "\"><img src=x onerror=alert(1)>".into();
    let r = f
        .validate(&Licence { states: &states })
        .expect("valid: markup is just text");
    assert_eq!(r.name, "\"><img src=x onerror=alert(1)>");
}

#[test]
fn a_message_of_exactly_the_limit_is_fine() {
    let states = licence();
    let mut f = good();
    f.message = "é".repeat(MESSAGE_MAX);
    assert!(f.validate(&Licence { states: &states }).is_ok());
}

#[test]
fn the_voicemail_answer_is_kept_with_the_message_when_a_call_is_wanted() {
    let lic = licence();
    let call = |voicemail: &str, message: &str| ConsultationForm {
        phone: "555 010 0100".into(),
        contact_method: "phone".into(),
        voicemail: voicemail.into(),
        message: message.into(),
        ..good()
    };
    let r = call("yes", "Hello").validate(&Licence { states: &lic });
    assert_eq!(
        r.expect("valid").message.as_deref(),
        Some("Voicemail: all right to leave a message.\n\nHello")
    );
    let r = call("no", "").validate(&Licence { states: &lic });
    assert_eq!(r.expect("valid").message.as_deref(), Some(VOICEMAIL_NO));
    let r = call("", "Hello").validate(&Licence { states: &lic });
    assert_eq!(r.expect("valid").message.as_deref(), Some("Hello"));
    // Asked only for calls: with email, the answer is not kept.
    let email = ConsultationForm {
        voicemail: "yes".into(),
        ..good()
    };
    let r = email.validate(&Licence { states: &lic }).expect("valid");
    assert!(!r.message.unwrap_or_default().contains("Voicemail"));
    assert_eq!(
        fields(call("maybe", "").validate(&Licence { states: &lic })),
        vec![Field::Voicemail]
    );
}
