//! The layers of `src/` hold: SQL stays in the store; key material stays with the crypto crate
//! and the store. (The practice's rules, `crates/practice`, and the crypto layer,
//! `crates/crypto`, are crates of their own, whose dependencies the compiler holds to: the
//! cipher and MAC crates are the crypto crate's alone, so `src/` cannot name them. These checks
//! go as the other layers become crates.)
//!
//! Read from the source itself: every line of every `.rs` file under `src/` (comments left out)
//! is searched for paths that name a forbidden module or crate (`sqlx::`, `crate::web`, `use
//! askama;` ...).

use std::path::{Path, PathBuf};

/// Names that hold or handle key material: the store's key module, the key's sources and the
/// raw-key constructor. Only `src/store/` may name them in `src/`. (The MAC and cipher crates
/// need no entry: `src/` does not depend on them, so the compiler refuses them.)
const KEY_MATERIAL: &[&str] = &["sealed", "KeySource", "KeyEnv", "new_from_slice"];

/// Files that name key material outside `src/store/` today. This list only
/// shrinks: a file that no longer needs its entry fails the test until the entry goes.
const KEY_MATERIAL_KNOWN_EXCEPTIONS: &[(&str, &str)] =
    &[("src/lib.rs", "KeySource"), ("src/lib.rs", "KeyEnv")];

#[test]
fn sql_stays_in_the_store() {
    let found = breaches(|file| !file.starts_with("src/store/"), &["sqlx"]);
    assert!(
        found.is_empty(),
        "sqlx is used outside src/store/:\n{}",
        found.join("\n")
    );
}

#[test]
fn key_material_stays_with_the_crypto_crate_and_the_store() {
    let found = breaches(|file| !file.starts_with("src/store/"), KEY_MATERIAL);
    let unexpected: Vec<&String> = found
        .iter()
        .filter(|hit| {
            !KEY_MATERIAL_KNOWN_EXCEPTIONS.iter().any(|(file, name)| {
                hit.starts_with(&format!("{file}:")) && hit.ends_with(&format!(" names `{name}`"))
            })
        })
        .collect();
    assert!(
        unexpected.is_empty(),
        "key material outside src/store/ (ask the crypto crate instead):\n{}",
        unexpected
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
    let stale: Vec<String> = KEY_MATERIAL_KNOWN_EXCEPTIONS
        .iter()
        .filter(|(file, name)| {
            !found.iter().any(|hit| {
                hit.starts_with(&format!("{file}:")) && hit.ends_with(&format!(" names `{name}`"))
            })
        })
        .map(|(file, name)| format!("{file} {name}"))
        .collect();
    assert!(
        stale.is_empty(),
        "these known exceptions are gone from the code; remove them from \
         KEY_MATERIAL_KNOWN_EXCEPTIONS:\n{}",
        stale.join("\n")
    );
}

#[test]
fn the_search_finds_paths_and_ignores_comments_and_longer_names() {
    assert!(names("use sqlx::Row;", "sqlx"));
    assert!(names("    let x = crate::web::form::parse(b);", "web"));
    assert!(names("use super::super::store;", "store"));
    assert!(names("#[derive(askama::Template)]", "askama"));
    assert!(names("use hmac::{Hmac, Mac};", "hmac"));
    assert!(names("crate::store::sealed::hex(&b)", "sealed"));
    assert!(names("Mac>::new_from_slice(&key)", "new_from_slice"));
    assert!(!names("// sqlx::query is in the store", "sqlx"));
    assert!(!names("let website = web_page();", "web"));
    assert!(!names("let stored = restore::x();", "store"));
}

/// `file:line names `name`` for every line of a selected file that names one of `names`.
fn breaches(select: impl Fn(&str) -> bool, forbidden: &[&str]) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut found = Vec::new();
    for path in rust_files(&root.join("src")) {
        let file = path
            .strip_prefix(root)
            .expect("under the crate")
            .to_string_lossy()
            .replace('\\', "/");
        if !select(&file) {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{file}: {e}"));
        for (n, line) in text.lines().enumerate() {
            for name in forbidden {
                if names(line, name) {
                    found.push(format!("{file}:{} names `{name}`", n + 1));
                }
            }
        }
    }
    found
}

/// Whether the code of `line` (without a `//` comment) names `name` as a path: `name::`,
/// `::name`, or `use name;`, never as part of a longer identifier.
fn names(line: &str, name: &str) -> bool {
    let code = line.split("//").next().unwrap_or("");
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    code.match_indices(name).any(|(at, _)| {
        let before = code[..at].chars().next_back();
        let after = &code[at + name.len()..];
        if before.is_some_and(ident) || after.chars().next().is_some_and(ident) {
            return false;
        }
        let trimmed = code.trim_start();
        code[..at].ends_with("::")
            || after.starts_with("::")
            || after.starts_with(">::")
            || (trimmed.starts_with("use ") && after.trim_start().starts_with(';'))
            || name == "new_from_slice"
    })
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            files.push(path);
        }
    }
    files
}
