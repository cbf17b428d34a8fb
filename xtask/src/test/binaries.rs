//! The test binaries: built once, run directly, their results counted.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

use crate::tools;

/// One run of tests: `cargo test` with arguments, or test binaries already built, each run
/// with the arguments given.
pub(super) enum Run {
    Cargo(Vec<String>),
    Binaries(Vec<TestBinary>, Vec<String>),
}

/// A test binary `cargo test --no-run` built.
#[derive(Clone)]
pub(super) struct TestBinary {
    pub(super) path: PathBuf,
    /// Its package's folder, where `cargo test` would run it.
    pub(super) dir: PathBuf,
    /// As `cargo test` names it: the source file and the binary.
    pub(super) name: String,
}

/// Builds the tests `cargo test ARGS` would run and returns their binaries, as cargo reports
/// them (its JSON messages; the compiler's own messages are shown as usual). Documentation
/// examples are not among them: the crates keep their examples as tests, not in doc comments.
pub(super) fn build_tests(args: &[&str]) -> Result<Vec<TestBinary>> {
    let mut cmd = tools::cargo();
    cmd.args([
        "test",
        "--no-run",
        "--message-format=json-render-diagnostics",
    ])
    .args(args)
    .stdout(Stdio::piped());
    let mut child = cmd.spawn().context("cannot run cargo test --no-run")?;
    let stdout = child.stdout.take().context("no output from cargo")?;
    let mut binaries = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.context("reading cargo's messages")?;
        let Ok(message) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue;
        };
        if message["reason"] != "compiler-artifact" || message["profile"]["test"] != true {
            continue;
        }
        let (Some(path), Some(manifest)) = (
            message["executable"].as_str(),
            message["manifest_path"].as_str(),
        ) else {
            continue;
        };
        let dir = Path::new(manifest)
            .parent()
            .context("a manifest has a folder")?
            .to_path_buf();
        // As cargo names it: the source file and the binary.
        let source = message["target"]["src_path"]
            .as_str()
            .and_then(|p| Path::new(p).strip_prefix(&dir).ok())
            .map_or_else(|| path.to_string(), |p| p.display().to_string());
        let file = Path::new(path)
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        binaries.push(TestBinary {
            path: PathBuf::from(path),
            name: format!("{source} ({file})"),
            dir,
        });
    }
    let status = child.wait().context("waiting for cargo")?;
    if !status.success() {
        bail!("cargo test --no-run {} failed ({status})", args.join(" "));
    }
    if binaries.is_empty() {
        bail!(
            "cargo test --no-run {} built no test binary",
            args.join(" ")
        );
    }
    Ok(binaries)
}

/// What `cargo test` reported, added up over every test binary.
#[derive(Default, Debug, Clone, Copy)]
pub(super) struct Counts {
    pub(super) passed: u64,
    pub(super) failed: u64,
    pub(super) ignored: u64,
    pub(super) binaries: u64,
}

impl Counts {
    pub(super) fn add(&mut self, other: &Counts) {
        self.passed += other.passed;
        self.failed += other.failed;
        self.ignored += other.ignored;
        self.binaries += other.binaries;
    }
}

/// Runs `cargo test`, passing its output to `out` while counting the `test result:` lines.
/// With `require_tests`, a run that passed no test is an error (a test binary of a crate without
/// tests is not).
pub(super) fn cargo_test(
    cmd: &mut Command,
    counts: &mut Counts,
    out: &mut dyn FnMut(&str),
    require_tests: bool,
) -> Result<()> {
    // This run's own figures: `counts` also holds the runs before it (SQLite, then PostgreSQL).
    let before = *counts;
    let mut child = cmd
        .stdout(Stdio::piped())
        .spawn()
        .context("cannot run cargo test")?;
    let stdout = child.stdout.take().context("no output from cargo test")?;
    for line in BufReader::new(stdout).lines() {
        let line = line.context("reading cargo test output")?;
        out(&line);
        if let Some(result) = line.trim().strip_prefix("test result: ") {
            counts.binaries += 1;
            for part in result.split([';', '.']) {
                let mut words = part.split_whitespace();
                if let (Some(n), Some(what)) = (words.next(), words.next()) {
                    let n: u64 = n.parse().unwrap_or(0);
                    match what {
                        "passed" => counts.passed += n,
                        "failed" => counts.failed += n,
                        "ignored" => counts.ignored += n,
                        _ => {}
                    }
                }
            }
        }
    }
    let status = child.wait().context("waiting for cargo test")?;
    let failed = counts.failed - before.failed;
    if failed > 0 {
        bail!("{failed} test(s) failed (see `failures:` above)");
    }
    if !status.success() {
        bail!(
            "cargo test failed ({status}) before every test ran: a build error or a crashed \
             test binary (see above)"
        );
    }
    if require_tests && counts.passed == before.passed {
        bail!("cargo test ran no test");
    }
    Ok(())
}
