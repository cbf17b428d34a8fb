//! The files the words editor edits: each section of the KAP page, the contact and privacy
//! pages, the screening questions and the practice's documents, named as a reader knows them.

/// One editable file.
pub(in crate::admin) struct Section {
    /// Its path inside `content/`: `home/10-is-kap-safe.md`.
    pub(super) rel: String,
    /// Its address in the inbox: `home-10-is-kap-safe`.
    pub(super) slug: String,
    pub(super) title: String,
    pub(super) built_in: String,
    /// One of the practice's documents to sign (`documents/…`), not a file of the site.
    pub(super) document: bool,
}

/// Every editable file, in page order: the built-in content's files, then the practice's
/// documents to sign.
pub(super) fn sections() -> Vec<Section> {
    let documents = content::documents::built_in_documents()
        .into_iter()
        .map(|(rel, text)| {
            let slug = rel.strip_suffix(".md").unwrap_or(&rel).replace('/', "-");
            let title = content::documents::document(&rel, &text)
                .map(|d| format!("Document: {}", d.title))
                .unwrap_or_else(|_| slug.clone());
            Section {
                rel,
                slug,
                title,
                built_in: text,
                document: true,
            }
        });
    content::built_in_files()
        .into_iter()
        .map(|(rel, text)| {
            let stem = rel.strip_suffix(".md").unwrap_or(&rel);
            let slug = stem.replace('/', "-");
            let title = match stem {
                "contact" => "The contact page".to_string(),
                "privacy" => "The privacy page".to_string(),
                "screening" => "The screening questions".to_string(),
                s if s.starts_with("home/") && title_in(&text).is_some() => {
                    format!("KAP page: {}", title_in(&text).unwrap_or_default())
                }
                s => {
                    let name = s.rsplit('/').next().unwrap_or(s);
                    let words = name
                        .trim_start_matches(|c: char| c.is_ascii_digit())
                        .trim_start_matches('-')
                        .replace('-', " ");
                    let mut c = words.chars();
                    let words = match c.next() {
                        Some(f) => f.to_uppercase().chain(c).collect(),
                        None => words,
                    };
                    format!("KAP page: {words}")
                }
            };
            Section {
                rel,
                slug,
                title,
                built_in: text,
                document: false,
            }
        })
        .chain(documents)
        .collect()
}

/// The `title` a file's settings give it (`+++ title = "Is KAP Safe?" +++`), if any: the
/// name the reader sees, rather than one made from the file's name.
pub(super) fn title_in(text: &str) -> Option<String> {
    let settings = text.strip_prefix("+++\n")?;
    let settings = &settings[..settings.find("\n+++")?];
    let table: toml::Table = toml::from_str(settings).ok()?;
    let title = table.get("title")?.as_str()?.trim();
    (!title.is_empty()).then(|| title.to_string())
}

/// A section's name from its words as published now, else its built-in name.
pub(super) fn named(section: &Section, published: Option<&str>) -> String {
    match published.and_then(title_in) {
        Some(t) if section.rel.starts_with("home/") => format!("KAP page: {t}"),
        _ => section.title.clone(),
    }
}

pub(in crate::admin) fn find(slug: &str) -> Option<Section> {
    sections().into_iter().find(|s| s.slug == slug)
}
