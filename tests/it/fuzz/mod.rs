//! The fuzz targets as ordinary tests of the fast tier.
//!
//! Each target's body (`form.rs`, `content.rs` and `token.rs` here, each a `check(&[u8])` that
//! panics when something the system relies on does not hold) is written once and run two ways:
//!
//! - by libFuzzer, coverage-guided, for as long as one likes: `cargo xtask fuzz`, whose targets
//!   in `fuzz/fuzz_targets/` take these files in with `#[path]`;
//! - here, by `cargo test`: first every input of the committed corpus, `fuzz/corpus/TARGET/`,
//!   then thousands of inputs generated from a fixed seed, so every run tries the same ones:
//!   random bytes, and corpus inputs with a few random edits (bytes overwritten, inserted or
//!   removed, a stretch copied elsewhere).
//!
//! A body that panics fails its test. A failing generated input is first shrunk by proptest,
//! then shown and saved in `target/tmp/`, ready to be copied into the corpus, where it stays as
//! a regression test (docs/fuzzing.md).
//!
//! The bodies are compiled by the fuzz crate too, so they use only what it has (kap-practice,
//! jiff and std), never a helper of this crate.

use std::path::Path;

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::{Index, select};
use proptest::test_runner::{Config, RngAlgorithm, TestError, TestRng, TestRunner};

mod content;
mod form;
mod token;

/// The longest input of random bytes.
const MAX_RANDOM_LEN: usize = 512;
/// Bytes that carry structure in what the targets read (form encoding, TOML, Markdown, HTML,
/// hex), inserted more often than chance would.
const STRUCTURE: &[u8] = b"%&=+\n\r\t \"'\\<>[]()*#_`!:/.-0123456789abcdefABCDEF\x00\xff";

// Each target gets as many generated inputs as a debug build tries in about a second (measured
// on two busy cores). Longer searches are `cargo xtask fuzz`'s, guided by coverage.

#[test]
fn form_target_over_corpus_and_generated_inputs() {
    run("form", form::check, 20_000);
}

#[test]
fn content_target_over_corpus_and_generated_inputs() {
    run("content", content::check, 2_000);
}

#[test]
fn token_target_over_corpus_and_generated_inputs() {
    run("token", token::check, 10_000);
}

/// Runs `body` over the target's corpus, then over `cases` generated inputs.
fn run(target: &str, body: fn(&[u8]), cases: u32) {
    let corpus = corpus(target);
    for (name, input) in &corpus {
        let outcome = std::panic::catch_unwind(|| body(input));
        assert!(
            outcome.is_ok(),
            "{target}: the corpus input fuzz/corpus/{target}/{name} fails (the panic above says why)"
        );
    }

    let seeds: Vec<Vec<u8>> = corpus.into_iter().map(|(_, input)| input).collect();
    let inputs = prop_oneof![
        1 => vec(any::<u8>(), 0..MAX_RANDOM_LEN),
        4 => (select(seeds), vec(edit(), 1..8)).prop_map(|(mut input, edits)| {
            for e in &edits {
                e.apply(&mut input);
            }
            input
        }),
    ];
    let config = Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner =
        TestRunner::new_with_rng(config, TestRng::deterministic_rng(RngAlgorithm::ChaCha));
    match runner.run(&inputs, |input| {
        body(&input);
        Ok(())
    }) {
        Ok(()) => {}
        Err(TestError::Fail(why, input)) => {
            let saved =
                Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("fuzz-{target}-failing"));
            let kept = match std::fs::write(&saved, &input) {
                Ok(()) => format!("saved in {}", saved.display()),
                Err(e) => format!("not saved in {}: {e}", saved.display()),
            };
            panic!(
                "{target}: a generated input fails: {why}\n  input: b\"{}\"\n  {kept}: copy it \
                 into fuzz/corpus/{target}/ under a name that says what it shows, so that it \
                 stays a regression test, then fix the code (docs/fuzzing.md)",
                input.escape_ascii()
            );
        }
        Err(TestError::Abort(why)) => panic!("{target}: the generated run stopped: {why}"),
    }
}

/// The target's committed corpus, by file name; a target without one is a mistake.
fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let entries = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read the corpus {}: {e}", dir.display()));
    let mut corpus: Vec<(String, Vec<u8>)> = entries
        .map(|entry| {
            let path = entry.expect("a corpus entry").path();
            let input = std::fs::read(&path)
                .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
            let name = path
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            (name, input)
        })
        .collect();
    corpus.sort();
    assert!(!corpus.is_empty(), "{} holds no input", dir.display());
    corpus
}

/// One change to a corpus input; positions are proportions of the input's length (`Index`).
#[derive(Debug, Clone)]
enum Edit {
    Set(Index, u8),
    Insert(Index, Vec<u8>),
    Remove(Index, usize),
    Copy { from: Index, to: Index, len: usize },
}

fn edit() -> impl Strategy<Value = Edit> {
    // Mostly ASCII: a byte past 0x7f mostly makes text that is not UTF-8, refused at once.
    let byte = prop_oneof![1 => any::<u8>(), 2 => select(STRUCTURE), 2 => 0x20u8..0x7f];
    prop_oneof![
        (any::<Index>(), byte.clone()).prop_map(|(at, b)| Edit::Set(at, b)),
        (any::<Index>(), vec(byte, 1..4)).prop_map(|(at, bytes)| Edit::Insert(at, bytes)),
        (any::<Index>(), 1..16usize).prop_map(|(at, len)| Edit::Remove(at, len)),
        (any::<Index>(), any::<Index>(), 1..32usize).prop_map(|(from, to, len)| Edit::Copy {
            from,
            to,
            len
        }),
    ]
}

impl Edit {
    fn apply(&self, input: &mut Vec<u8>) {
        let len = input.len();
        match self {
            Edit::Insert(at, bytes) => {
                let at = at.index(len + 1);
                input.splice(at..at, bytes.iter().copied());
            }
            // The others need a byte to act on.
            _ if len == 0 => {}
            Edit::Set(at, b) => input[at.index(len)] = *b,
            Edit::Remove(at, n) => {
                let at = at.index(len);
                input.drain(at..(at + n).min(len));
            }
            Edit::Copy { from, to, len: n } => {
                let from = from.index(len);
                let stretch = input[from..(from + n).min(len)].to_vec();
                let to = to.index(len + 1);
                input.splice(to..to, stretch);
            }
        }
    }
}
