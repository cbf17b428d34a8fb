//! Where the words come from: the built-in content or a folder laid out like it, read into
//! one text per file, with a message for each file that is missing or cannot be read.

use std::path::{Path, PathBuf};

use include_dir::{Dir, include_dir};

use diagnostics::{Diagnostic, Diagnostics};

/// The default content, built into the binary.
pub(crate) static EMBEDDED: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/../../content");

/// Where content comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ContentSource {
    /// The content built into the binary.
    Embedded,
    /// A folder laid out like the repository's `content/`.
    Dir(PathBuf),
}

impl ContentSource {
    pub fn from_config(dir: Option<&Path>) -> Self {
        match dir {
            Some(d) => ContentSource::Dir(d.to_path_buf()),
            None => ContentSource::Embedded,
        }
    }
}

/// One file's text and the name used for it in messages.
pub(crate) struct File {
    pub name: String,
    pub text: String,
}

/// Every content file, as read.
pub(crate) struct Files {
    pub home: Vec<File>,
    pub contact: File,
    pub privacy: File,
    pub screening: File,
}

impl Files {
    pub(crate) fn iter_mut(&mut self) -> impl Iterator<Item = &mut File> {
        self.home
            .iter_mut()
            .chain([&mut self.contact, &mut self.privacy, &mut self.screening])
    }
}

pub(crate) fn read_files(source: &ContentSource) -> Result<Files, Diagnostics> {
    let mut errors = Diagnostics::default();
    let mut home = Vec::new();
    let (contact, privacy) = match source {
        ContentSource::Embedded => {
            let prefix = "content";
            if let Some(dir) = EMBEDDED.get_dir("home") {
                for f in dir.files() {
                    let rel = f.path().to_string_lossy().to_string();
                    if !is_content_file(&rel) {
                        continue;
                    }
                    let name = format!("{prefix}/{rel}");
                    match f.contents_utf8() {
                        Some(text) => home.push(File {
                            name,
                            text: text.to_string(),
                        }),
                        None => errors.push(not_utf8(&name)),
                    }
                }
            }
            let one = |rel: &str, errors: &mut Diagnostics| {
                built_in(rel, format!("{prefix}/{rel}"), errors)
            };
            (
                one("contact.md", &mut errors),
                one("privacy.md", &mut errors),
            )
        }
        ContentSource::Dir(root) => {
            let home_dir = root.join("home");
            match std::fs::read_dir(&home_dir) {
                Ok(entries) => {
                    for entry in entries.flatten() {
                        let path = entry.path();
                        let file_name = entry.file_name().to_string_lossy().to_string();
                        if !is_content_file(&file_name) || !path.is_file() {
                            continue;
                        }
                        if let Some(f) = read_disk(&path, &mut errors) {
                            home.push(f);
                        }
                    }
                }
                Err(e) => errors.push(Diagnostic::new(
                    home_dir.display().to_string(),
                    0,
                    format!("cannot read the folder of the KAP page's sections: {e}; content_dir must hold home/, contact.md and privacy.md (see docs/content.md)"),
                )),
            }
            (
                read_disk(&root.join("contact.md"), &mut errors),
                read_disk(&root.join("privacy.md"), &mut errors),
            )
        }
    };
    home.sort_by(|a, b| a.name.cmp(&b.name));
    let screening = read_one(source, "screening.md", &mut errors);
    match (contact, privacy, screening) {
        (Some(contact), Some(privacy), Some(screening)) if errors.is_empty() => Ok(Files {
            home,
            contact,
            privacy,
            screening,
        }),
        _ => Err(errors),
    }
}

/// One file at `rel` in the content's folder; a folder without it (one laid out before the file
/// existed) gets the built-in one.
fn read_one(source: &ContentSource, rel: &str, errors: &mut Diagnostics) -> Option<File> {
    match source {
        ContentSource::Dir(root) if root.join(rel).exists() => read_disk(&root.join(rel), errors),
        _ => built_in(rel, format!("content/{rel}"), errors),
    }
}

/// The built-in file at `rel`, called `name` in messages.
fn built_in(rel: &str, name: String, errors: &mut Diagnostics) -> Option<File> {
    match EMBEDDED.get_file(rel).and_then(|f| f.contents_utf8()) {
        Some(text) => Some(File {
            name,
            text: text.to_string(),
        }),
        None => {
            errors.push(Diagnostic::new(
                name,
                0,
                "missing from the built-in content",
            ));
            None
        }
    }
}

fn is_content_file(name: &str) -> bool {
    let base = name.rsplit('/').next().unwrap_or(name);
    base.ends_with(".md") && !base.starts_with('.') && !base.starts_with('_')
}

fn not_utf8(name: &str) -> Diagnostic {
    Diagnostic::new(
        name,
        0,
        "is not UTF-8 text: save it as UTF-8 in your editor",
    )
}

fn read_disk(path: &Path, errors: &mut Diagnostics) -> Option<File> {
    let name = path.display().to_string();
    match std::fs::read(path) {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(text) => Some(File { name, text }),
            Err(_) => {
                errors.push(not_utf8(&name));
                None
            }
        },
        Err(e) => {
            errors.push(Diagnostic::new(name, 0, format!("cannot be read: {e}")));
            None
        }
    }
}
