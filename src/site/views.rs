//! The askama templates of the public pages and the data each one needs.

use askama::Template;

use crate::config::Practice;
use crate::content::{HomePage, Section, TextPage};
use crate::site::assets::Assets;

/// The `<head>` of a page.
pub struct Head {
    pub title: String,
    pub description: String,
    pub canonical: String,
    /// False for error pages: they ask search engines not to index them.
    pub indexable: bool,
    /// Whether the page loads the compare script.
    pub script: bool,
    /// schema.org JSON-LD, already escaped for a `<script>` element.
    pub json_ld: Option<String>,
}

/// What every page shows around its content: header, footer, identity.
pub struct Chrome<'a> {
    pub practice: &'a Practice,
    pub assets: &'a Assets,
    /// The path of the page, to mark the current link.
    pub current: &'a str,
    /// "California and Oregon".
    pub licensed_states: String,
    pub phone_uri: String,
    pub theme_color: &'a str,
}

impl<'a> Chrome<'a> {
    pub fn new(practice: &'a Practice, assets: &'a Assets, current: &'a str) -> Self {
        Chrome {
            practice,
            assets,
            current,
            licensed_states: join_names(&practice.licensed_state_names()),
            phone_uri: practice.phone_uri(),
            theme_color: &assets.theme_color,
        }
    }
}

/// "A", "A and B", "A, B and C".
pub fn join_names(names: &[&str]) -> String {
    match names {
        [] => String::new(),
        [one] => (*one).to_string(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

#[derive(Template)]
#[template(path = "public/home.html")]
pub struct HomeView<'a> {
    pub head: Head,
    pub chrome: Chrome<'a>,
    pub home: &'a HomePage,
}

#[derive(Template)]
#[template(path = "public/contact.html")]
pub struct ContactView<'a> {
    pub head: Head,
    pub chrome: Chrome<'a>,
    pub page: &'a TextPage,
    /// The "Start with a Conversation" section of the KAP page, when there is one.
    pub conversation: Option<&'a Section>,
}

#[derive(Template)]
#[template(path = "public/text.html")]
pub struct TextView<'a> {
    pub head: Head,
    pub chrome: Chrome<'a>,
    pub page: &'a TextPage,
}

/// Not found, server error and similar pages.
#[derive(Template)]
#[template(path = "public/status.html")]
pub struct StatusView<'a> {
    pub head: Head,
    pub chrome: Chrome<'a>,
    pub heading: &'a str,
    pub paragraphs: &'a [&'a str],
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_are_joined_for_reading() {
        assert_eq!(super::join_names(&["California"]), "California");
        assert_eq!(
            super::join_names(&["California", "Oregon"]),
            "California and Oregon"
        );
        assert_eq!(super::join_names(&["A", "B", "C"]), "A, B and C");
    }
}
