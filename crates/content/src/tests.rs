//! The content as a whole: the built-in words, folders, and the messages for mistakes.

use super::*;

/// Asserts that `text` holds each of `expected`.
#[track_caller]
fn says_all(text: &str, expected: &[&str]) {
    for e in expected {
        assert!(text.contains(e), "no {e:?} in:\n{text}");
    }
}

/// Each screening question reads alone as a question whose "yes" is something to discuss,
/// and together they ask about each topic of the KAP page's screening section.
#[test]
fn the_screening_questions_each_ask_one_thing_and_yes_means_a_concern() {
    let c = load(&ContentSource::Embedded).unwrap_or_else(|e| panic!("{e}"));
    let s = &c.screening;
    assert!(
        !s.html.trim_end().trim_end_matches("</p>").ends_with(':'),
        "the words above the list are not the start of every question: {}",
        s.html
    );
    for q in &s.questions {
        let first = q.split_whitespace().next().unwrap_or("");
        assert!(
            ["Do", "Have", "Are", "Would", "Is"].contains(&first) && q.ends_with('?'),
            "not a question of its own: {q}"
        );
        let lower = q.to_lowercase();
        for negative in ["no one", "not ", "never", "without"] {
            assert!(
                !lower.contains(negative),
                "a \"yes\" must mean a concern: {q}"
            );
        }
    }
    // The page's screening topics ("Screening may explore: …"), each asked on its own.
    let asks = |words: &[&str]| {
        s.questions
            .iter()
            .filter(|q| words.iter().all(|w| q.to_lowercase().contains(w)))
            .count()
    };
    for topic in [
        &["blood pressure"][..],
        &["medications"],
        &["psychosis", "dissociation"],
        &["bipolar", "mania"],
        &["currently use", "alcohol"],
        &["misused ketamine"],
        &["pregnant"],
        &["medical condition"],
        &["safety instructions"],
        &["ride home"],
        &["support during and after treatment"],
    ] {
        assert!(asks(topic) >= 1, "no question asks about {topic:?}");
    }
    assert_eq!(
        asks(&["alcohol", "ketamine"]),
        0,
        "current use and past misuse are separate questions"
    );
}

#[test]
fn the_built_in_content_is_valid() {
    let c = load(&ContentSource::Embedded).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.home.hero.title, "Ketamine-Assisted Psychotherapy");
    assert!(c.home.section("when-insight-alone-isnt-enough").is_some());
    let counted = |count: fn(&SectionBody) -> Option<usize>| {
        c.home.sections.iter().find_map(|s| count(&s.body))
    };
    let steps = counted(|b| match b {
        SectionBody::Steps { steps, .. } => Some(steps.len()),
        _ => None,
    });
    assert_eq!(steps, Some(6), "a steps section of six");
    let myths = counted(|b| match b {
        SectionBody::Myths { myths, .. } => Some(myths.len()),
        _ => None,
    });
    assert_eq!(myths, Some(8), "a myths section of eight");
}

/// A home page of one hero section, as the folders below start from.
const HERO: &str =
    "+++\ntitle = \"T\"\nlayout = \"hero\"\nsubtitle = \"S\"\ndescription = \"D\"\n+++\nHi\n";

/// A privacy page with nothing wrong.
const PRIVACY: &str = "+++\ntitle = \"P\"\ndescription = \"P\"\n+++\nN\n";

/// A content folder with `files` (paths inside it), and a `home/` folder.
fn folder(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dir.path().join("home")).expect("mkdir");
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).expect("write");
    }
    dir
}

/// What loading the folder `dir` reports (it must fail).
fn problems(dir: &tempfile::TempDir) -> String {
    load(&ContentSource::Dir(dir.path().to_path_buf()))
        .expect_err("invalid")
        .to_string()
}

fn home_with(files: &[(&str, &str)]) -> Result<Content, Diagnostics> {
    let home: Vec<(String, &str)> = files
        .iter()
        .map(|(name, text)| (format!("home/{name}"), *text))
        .collect();
    let mut all = vec![
        ("home/00-hero.md", HERO),
        (
            "contact.md",
            "+++\ntitle = \"Contact\"\ndescription = \"C\"\n+++\nWrite.\n",
        ),
        (
            "privacy.md",
            "+++\ntitle = \"Privacy\"\ndescription = \"P\"\n+++\nNone.\n",
        ),
    ];
    all.extend(home.iter().map(|(name, text)| (name.as_str(), *text)));
    let dir = folder(&all);
    load(&ContentSource::Dir(dir.path().to_path_buf()))
}

#[test]
fn a_valid_folder_loads() {
    let c = home_with(&[("01-a.md", "+++\ntitle = \"A b\"\n+++\nText\n")]).expect("valid");
    assert_eq!(c.home.sections[0].anchor, "a-b");
}

#[test]
fn problems_name_file_and_line() {
    let errs = home_with(&[
        ("01-a.md", "+++\ntitle = \"A\"\nlayout = \"slides\"\n+++\n"),
        (
            "02-b.md",
            "+++\ntitle = \"B\"\nlayout = \"steps\"\n+++\n## 1. One\n\nx\n\n## 3. Three\n\ny\n",
        ),
        ("03-c.md", "+++\ntitel = \"C\"\n+++\n"),
        ("04-d.md", "no settings\n"),
        ("05-e.md", "+++\ntitle = \"E\"\n+++\nok\n\n# Big\n"),
    ])
    .expect_err("invalid")
    .to_string();
    says_all(
        &errs,
        &[
            "01-a.md:3: layout \"slides\" is not known",
            "02-b.md:9: this step is numbered 3",
            "03-c.md:2: unknown field `titel`",
            "04-d.md:1: the file must start with settings",
            "05-e.md:6: a `#` heading",
        ],
    );
}

#[test]
fn a_home_page_key_on_a_page_that_stands_alone_is_reported() {
    let dir = folder(&[
        ("home/00-hero.md", HERO),
        (
            "contact.md",
            "+++\ntitle = \"C\"\ndescription = \"C\"\nlead = \"L\"\n+++\nW\n",
        ),
        ("privacy.md", PRIVACY),
        (
            "screening.md",
            "+++\ntitle = \"S\"\ndescription = \"Why\"\nanchor = \"a\"\n+++\n- Heart problems?\n",
        ),
    ]);
    let errs = problems(&dir);
    says_all(
        &errs,
        &[
            "contact.md:4: lead is not used on this page: it takes title, description and text",
            "screening.md:4: anchor is not used for the screening questions: they take title, description, words and a list of questions",
        ],
    );
}

#[test]
fn screening_questions_are_a_list_checked_like_the_rest() {
    let c = load(&ContentSource::Embedded).unwrap_or_else(|e| panic!("{e}"));
    assert!(c.screening.questions.len() >= 8);
    assert!(c.screening.questions.iter().any(|q| q.contains("pregnan")));
    let built_in = c.screening.questions.len();
    // A folder without screening.md gets the built-in questions.
    let c = home_with(&[]).expect("valid");
    assert_eq!(c.screening.questions.len(), built_in);

    let dir = folder(&[
        ("home/00-hero.md", HERO),
        (
            "contact.md",
            "+++\ntitle = \"C\"\ndescription = \"C\"\n+++\nW\n",
        ),
        ("privacy.md", PRIVACY),
    ]);
    let write = |name: &str, text: &str| {
        std::fs::write(dir.path().join(name), text).expect("write");
    };
    write(
        "screening.md",
        "+++\ntitle = \"S\"\ndescription = \"Why\"\n+++\nHave you:\n\n- Heart problems?\n- Heart problems?\n- \nafter\n",
    );
    let errs = problems(&dir);
    says_all(
        &errs,
        &[
            "screening.md:8: this question is asked twice",
            "screening.md:9: this question is empty",
            "screening.md:10: only questions may follow",
        ],
    );
    write(
        "screening.md",
        "+++\ntitle = \"S\"\ndescription = \"Why\"\n+++\nNo list.\n",
    );
    let errs = problems(&dir);
    assert!(
        errs.contains("screening.md:5: there are no questions"),
        "{errs}"
    );
    write(
        "screening.md",
        "+++\ntitle = \"S\"\ndescription = \"Why\"\n+++\nHave you:\n\n- Heart problems?\n- Pregnancy?\n",
    );
    let c = load(&ContentSource::Dir(dir.path().to_path_buf())).expect("valid");
    assert_eq!(c.screening.questions, ["Heart problems?", "Pregnancy?"]);
    assert!(c.screening.html.contains("Have you:"));
}

#[test]
fn compare_needs_two_sides_and_a_known_left() {
    let errs = home_with(&[(
        "01-c.md",
        "+++\ntitle = \"C\"\nlayout = \"compare\"\nhint = \"h\"\nleft = \"Nope\"\n+++\n## A\n\nx\n\n## B\n\ny\n",
    )])
    .expect_err("invalid")
    .to_string();
    assert!(
        errs.contains("01-c.md:5: left = \"Nope\" must be one of"),
        "{errs}"
    );
}
