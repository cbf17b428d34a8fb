//! Going live: what the clinician reviews before the public sees the site.
//!
//! A fresh install carries an example practice so that it runs with no setup at all. Saving a
//! name, an email and a phone number is not enough to make the rest the new owner's: the
//! example's city and its "Why work with me?" section (another clinician's training and way of
//! working) would be published as theirs, a problem for any licensing board. So a server others
//! can reach shows "being set up" (see `web::setup`) until every item here is done: the city and
//! the "who I am" section must be the owner's own words; the credentials, the privacy page and
//! the crisis numbers may be kept as they are, once the clinician confirms having reviewed
//! them. A name that already ends with the credentials ("Maya Okafor, LCSW" with "LCSW") is
//! sent back to be written once.
//!
//! Pure: it reads the practice in force, the words as published and the reviews recorded.

use std::collections::BTreeMap;

use crate::config::{Config, FormConfig, default_practice};

/// The "who I am" section of the built-in words.
pub const ABOUT_FILE: &str = "home/14-why-work-with-me.md";
/// The privacy page's own words.
pub const PRIVACY_FILE: &str = "privacy.md";

practice::text_forms! {
    /// One item of the checklist, in the order the inbox shows them.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Item {
        Details = "details",
        City = "city",
        About = "about",
        Credentials = "credentials",
        Privacy = "privacy",
        Crisis = "crisis",
    }
}

impl Item {
    /// What the item is, as the checklist names it.
    pub fn label(self) -> &'static str {
        match self {
            Item::Details => "Your practice's name, your name, email and phone number",
            Item::City => "The city",
            Item::About => "The “Why work with me?” section: who you are",
            Item::Credentials => "Your credentials",
            Item::Privacy => "The privacy page",
            Item::Crisis => "The crisis numbers",
        }
    }

    /// Where it is changed.
    pub fn edit_at(self) -> &'static str {
        match self {
            Item::Details | Item::City | Item::Credentials | Item::Crisis => "/admin/details",
            Item::About => "/admin/words/home-14-why-work-with-me",
            Item::Privacy => "/admin/words/privacy",
        }
    }

    /// Whether it may be kept as it is once reviewed in the inbox (the others must be the
    /// owner's own).
    pub fn may_be_kept(self) -> bool {
        matches!(self, Item::Credentials | Item::Privacy | Item::Crisis)
    }

    /// Whether the config file may confirm it (`going_live.reviewed`): what the inbox may,
    /// and the "who I am" section, for the one deployment the built-in words were written
    /// about; never the details or the city, which the file confirms by giving its own.
    pub fn may_be_confirmed_in_the_file(self) -> bool {
        self.may_be_kept() || self == Item::About
    }
}

/// One item and where it stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub item: Item,
    pub done: bool,
    /// What is done, or what is left to do, in the clinician's words.
    pub words: String,
}

/// What the checklist is read from.
pub struct Facts<'a> {
    /// The practice in force.
    pub config: &'a Config,
    /// The published words by content file (only those published in the inbox).
    pub words: &'a BTreeMap<String, String>,
    /// The items confirmed as reviewed in the inbox (the config file's are in `config`).
    pub reviewed: &'a [String],
}

impl Facts<'_> {
    /// Whether the words of content file `rel` are the practice's own: its own content folder,
    /// or published words that differ from the built-in ones.
    fn own_words(&self, rel: &str) -> bool {
        if self.config.content_dir.is_some() {
            return true;
        }
        let Some(text) = self.words.get(rel) else {
            return false;
        };
        content::built_in_files()
            .into_iter()
            .find(|(r, _)| r == rel)
            .is_none_or(|(_, built_in)| built_in.trim() != text.trim())
    }

    /// Confirmed in the inbox or in the config file.
    fn reviewed(&self, item: Item) -> bool {
        self.reviewed
            .iter()
            .chain(&self.config.going_live_reviewed)
            .any(|r| r == item.as_str())
    }
}

/// Every item with where it stands.
pub fn checklist(facts: &Facts) -> Vec<Entry> {
    Item::ALL.iter().map(|&item| entry(facts, item)).collect()
}

/// True when every item is done.
pub fn complete(facts: &Facts) -> bool {
    checklist(facts).iter().all(|e| e.done)
}

fn entry(facts: &Facts, item: Item) -> Entry {
    let p = &facts.config.practice;
    let example = default_practice();
    let reviewed = facts.reviewed(item);
    let (done, words) = match item {
        Item::Details => stands(
            !p.shows_example(),
            "Your own.",
            "Some are still the example practice's: write your own on the details page.",
        ),
        Item::City => stands(
            p.city.trim() != example.city,
            format!("{}.", p.city.trim()),
            format!(
                "Still the example's ({}): write the city you practise in.",
                example.city
            ),
        ),
        Item::About => stands(
            reviewed || facts.own_words(ABOUT_FILE),
            "Your own words.",
            "Still the example clinician's training and way of working: write your own before anyone reads them as yours.",
        ),
        Item::Credentials if p.name_repeats_credentials() => (
            false,
            format!(
                "Your name (“{}”) already ends with your credentials (“{}”): keep the name alone in the name field, so the site does not read “{}, {}”.",
                p.clinician_name.trim(),
                p.credentials.trim(),
                p.clinician_name.trim(),
                p.credentials.trim()
            ),
        ),
        Item::Credentials => stands(
            reviewed || p.credentials.trim() != example.credentials,
            credentials_shown(&p.credentials),
            format!(
                "Still the example's (“{}”): confirm they are yours, or change them.",
                example.credentials
            ),
        ),
        Item::Privacy => stands(
            reviewed || facts.own_words(PRIVACY_FILE),
            "Reviewed.",
            "The built-in privacy page: read it (with your counsel) and change what does not fit your practice, or confirm it does.",
        ),
        Item::Crisis => {
            let numbers = crate::crisis::Crisis::new(&facts.config.form).sentence();
            stands(
                reviewed || crisis_changed(&facts.config.form),
                numbers.clone(),
                format!(
                    "The built-in numbers ({numbers}): confirm they fit the people you serve, or change them."
                ),
            )
        }
    };
    Entry { item, done, words }
}

/// Whether an item is `done`, with its words: what it shows when done, else what is left to do.
fn stands(done: bool, shows: impl Into<String>, to_do: impl Into<String>) -> (bool, String) {
    (done, if done { shows.into() } else { to_do.into() })
}

fn credentials_shown(credentials: &str) -> String {
    if credentials.trim().is_empty() {
        "None shown.".to_string()
    } else {
        format!("{}.", credentials.trim())
    }
}

/// Whether any crisis number or name differs from the built-in ones.
fn crisis_changed(form: &FormConfig) -> bool {
    static BUILT_IN: std::sync::LazyLock<Option<FormConfig>> = std::sync::LazyLock::new(|| {
        Config::from_toml("", "built-in", None, &crate::config::Overrides::default())
            .ok()
            .map(|c| c.form)
    });
    let Some(built_in) = BUILT_IN.as_ref() else {
        return true;
    };
    form.crisis_call != built_in.crisis_call
        || form.crisis_call_name != built_in.crisis_call_name
        || form.crisis_text != built_in.crisis_text
        || form.crisis_text_keyword != built_in.crisis_text_keyword
        || form.crisis_text_name != built_in.crisis_text_name
        || form.emergency_number != built_in.emergency_number
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Overrides;

    fn config(text: &str) -> Config {
        Config::from_toml(text, "t", None, &Overrides::default()).expect("valid config")
    }

    const OWN: &str = "[practice]\nname = \"Harbor Light\"\nclinician_name = \"Maya Okafor\"\nemail = \"maya@harborlight.org\"\nphone = \"(212) 555-0147\"\ncity = \"Brooklyn, New York\"\n";

    fn left(config: &Config, words: &BTreeMap<String, String>, reviewed: &[&str]) -> Vec<Item> {
        let reviewed: Vec<String> = reviewed.iter().map(|r| r.to_string()).collect();
        checklist(&Facts {
            config,
            words,
            reviewed: &reviewed,
        })
        .into_iter()
        .filter(|e| !e.done)
        .map(|e| e.item)
        .collect()
    }

    #[test]
    fn the_example_city_and_biography_are_never_done_by_a_review() {
        let none = BTreeMap::new();
        let example = config("");
        assert_eq!(left(&example, &none, &[]), Item::ALL);
        // Reviews in the inbox cannot make the example's city or words the owner's.
        let all: Vec<&str> = Item::ALL.iter().map(|i| i.as_str()).collect();
        let mut city = OWN.replace("Brooklyn, New York", "Oakland, California");
        assert_eq!(
            left(&config(&city), &none, &["credentials", "privacy", "crisis"]),
            [Item::City, Item::About]
        );
        city.push_str("\n[going_live]\nreviewed = [\"credentials\", \"privacy\", \"crisis\"]\n");
        assert_eq!(left(&config(&city), &none, &[]), [Item::City, Item::About]);
        assert!(left(&config(OWN), &none, &all).is_empty(), "reviewed");
        // The built-in words published again are still the example's.
        let (rel, text) = content::built_in_files()
            .into_iter()
            .find(|(rel, _)| rel == ABOUT_FILE)
            .expect("the section");
        let mut words = BTreeMap::from([(rel.clone(), text)]);
        let kept = ["credentials", "privacy", "crisis"];
        assert_eq!(left(&config(OWN), &words, &kept), [Item::About]);
        words.insert(
            rel,
            "+++\ntitle = \"Why Work with Me?\"\n+++\nMine.\n".into(),
        );
        assert!(left(&config(OWN), &words, &kept).is_empty());
    }

    #[test]
    fn a_name_ending_with_the_credentials_is_sent_back_even_when_reviewed() {
        let none = BTreeMap::new();
        let twice = OWN.replace("Maya Okafor", "Maya Okafor, LCSW");
        let c = config(&format!("{twice}credentials = \"LCSW\"\n"));
        let entries = checklist(&Facts {
            config: &c,
            words: &none,
            reviewed: &["credentials".to_string()],
        });
        let credentials = entries
            .iter()
            .find(|e| e.item == Item::Credentials)
            .expect("item");
        assert!(!credentials.done);
        assert!(credentials.words.contains("“Maya Okafor, LCSW, LCSW”"));
        // The example's credentials need a review; the owner's own do not.
        let own = config(&format!("{OWN}credentials = \"PsyD\"\n"));
        assert!(!left(&own, &none, &[]).contains(&Item::Credentials));
        assert!(left(&config(OWN), &none, &[]).contains(&Item::Credentials));
    }

    #[test]
    fn the_file_may_confirm_the_reviews_but_not_the_city() {
        assert!(
            config("[going_live]\nreviewed = [\"about\", \"privacy\"]\n")
                .going_live_reviewed
                .contains(&"about".to_string())
        );
        for refused in ["city", "details", "everything"] {
            let text = format!("[going_live]\nreviewed = [\"{refused}\"]\n");
            let e = Config::from_toml(&text, "t", None, &Overrides::default())
                .expect_err("refused")
                .to_string();
            assert!(e.contains("is not an item that can be confirmed"), "{e}");
        }
    }
}
