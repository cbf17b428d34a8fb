//! `cargo xtask fuzz [--seconds N] [TARGET...]`: coverage-guided fuzzing of the code that reads
//! what strangers send us, with cargo-fuzz (libFuzzer). See docs/fuzzing.md.
//!
//! It installs cargo-fuzz when it is missing, builds every target in one `cargo fuzz build` (the
//! instrumented dependencies are compiled once for all of them), then fuzzes each target (all of
//! them by default) for N seconds (60 by default; use an hour or more to hunt). cargo-fuzz needs
//! nightly compiler flags; `RUSTC_BOOTSTRAP=1` lets the stable toolchain accept them.
//!
//! `cargo xtask test` does not run this: the targets' bodies (tests/it/fuzz/) run in `cargo test`
//! over the corpus and a bounded number of generated inputs, without the instrumented build.
//!
//! Each target reads its committed seeds in `fuzz/corpus/TARGET/` and keeps what it discovers in
//! `fuzz/work/TARGET/` (ignored by git), so the seeds stay small and reviewed while longer runs
//! build on earlier ones. A crash fails the task and names the input libFuzzer saved in
//! `fuzz/artifacts/TARGET/`; the rule is that it becomes a regression test (a corpus entry,
//! which `cargo test` then runs, and a unit test beside the code at fault).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Instant, SystemTime};

use anyhow::{Context, Result, anyhow, bail};

use crate::tools;

/// The fuzz targets, as named in `fuzz/Cargo.toml`.
const TARGETS: &[&str] = &["form", "content", "token"];

const DEFAULT_SECONDS: u64 = 60;
/// Longer than any one input should take, even instrumented on a busy machine: past this,
/// libFuzzer reports the input as a hang (its own default is 20 minutes).
const TIMEOUT_SECONDS: u64 = 30;

const USAGE: &str = "usage: cargo xtask fuzz [--seconds N] [TARGET...]\n\
    targets: form, content, token (default: all); N seconds each (default: 60)";

pub fn run(args: &[String]) -> Result<()> {
    let mut seconds = DEFAULT_SECONDS;
    let mut targets: Vec<&str> = Vec::new();
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "--seconds" => {
                let value = iter
                    .next()
                    .with_context(|| format!("--seconds needs a number\n{USAGE}"))?;
                seconds = parse_seconds(value)?;
            }
            s if s.starts_with("--seconds=") => seconds = parse_seconds(&s["--seconds=".len()..])?,
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            t if TARGETS.contains(&t) => {
                if !targets.contains(&t) {
                    targets.push(t);
                }
            }
            other => bail!("unknown target or option {other:?}\n{USAGE}"),
        }
    }
    if targets.is_empty() {
        targets = TARGETS.to_vec();
    }
    fuzz(&targets, seconds)
}

/// Builds the targets once, then fuzzes each for `seconds`.
fn fuzz(targets: &[&str], seconds: u64) -> Result<()> {
    let root = tools::root();
    ensure_cargo_fuzz()?;
    let started = Instant::now();
    eprintln!("── fuzz: building {} ──", targets.join(", "));
    let mut build = cargo_fuzz();
    build.arg("build");
    // cargo fuzz builds one target or all of them.
    if let [one] = targets {
        build.arg(one);
    }
    tools::run(&mut build).context("building the fuzz targets")?;
    eprintln!("── fuzz: built in {} s ──", started.elapsed().as_secs());

    let mut crashes = Vec::new();
    for target in targets {
        eprintln!("── fuzz {target}: {seconds} s ──");
        match fuzz_one(&root, target, seconds) {
            Ok(()) => eprintln!("── fuzz {target}: no crash ──"),
            Err(e) => {
                eprintln!("── fuzz {target}: FAILED ──\n{e:#}");
                crashes.push(format!("{e:#}"));
            }
        }
    }
    if crashes.is_empty() {
        eprintln!(
            "fuzz: {} ran {seconds} s each, no crash",
            targets.join(", ")
        );
        Ok(())
    } else {
        Err(anyhow!(
            "{} of {} fuzz targets failed:\n{}\n\
             Make each crashing input a regression test before fixing it (docs/fuzzing.md).",
            crashes.len(),
            targets.len(),
            crashes.join("\n")
        ))
    }
}

fn parse_seconds(value: &str) -> Result<u64> {
    match value.parse::<u64>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(anyhow!(
            "--seconds takes a whole number of seconds above 0, not {value:?}\n{USAGE}"
        )),
    }
}

/// `cargo fuzz` with the flags every call shares: the same for the build and the runs, so a
/// run finds the build up to date.
fn cargo_fuzz() -> Command {
    let mut cmd = tools::cargo();
    cmd.env("RUSTC_BOOTSTRAP", "1").arg("fuzz");
    cmd
}

/// Installs cargo-fuzz (about a minute to build) unless `cargo fuzz` already works.
fn ensure_cargo_fuzz() -> Result<()> {
    let present = cargo_fuzz()
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if present {
        return Ok(());
    }
    eprintln!("installing cargo-fuzz (cargo install cargo-fuzz --locked; about a minute)");
    tools::run(tools::cargo().args(["install", "cargo-fuzz", "--locked"]))
        .context("cannot install cargo-fuzz")
}

/// Fuzzes one target; an error names every input that made it fail.
fn fuzz_one(root: &Path, target: &str, seconds: u64) -> Result<()> {
    let fuzz = root.join("fuzz");
    let seeds = fuzz.join("corpus").join(target);
    let work = fuzz.join("work").join(target);
    let artifacts = fuzz.join("artifacts").join(target);
    std::fs::create_dir_all(&work).with_context(|| format!("cannot create {}", work.display()))?;

    let started = SystemTime::now();
    // libFuzzer writes what it finds into the first corpus folder and only reads the others.
    let status = cargo_fuzz()
        .args(["run", target])
        .arg(&work)
        .arg(&seeds)
        .arg("--")
        .arg(format!("-max_total_time={seconds}"))
        .arg(format!("-timeout={TIMEOUT_SECONDS}"))
        .status()
        .context("cannot run cargo fuzz")?;

    let found = artifacts_since(&artifacts, started);
    let (failing, slow): (Vec<_>, Vec<_>) = found.into_iter().partition(|p| {
        p.file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| !n.starts_with("slow-unit-"))
    });
    for p in &slow {
        eprintln!(
            "note: {target}: a slow input (not a failure) was saved in {}",
            relative(root, p)
        );
    }
    if status.success() && failing.is_empty() {
        return Ok(());
    }
    if failing.is_empty() {
        bail!(
            "  {target}: cargo fuzz failed ({status}) without saving an input: see its output above \
             (a build error, or a crash while loading the corpus)"
        );
    }
    let mut message = String::new();
    for p in &failing {
        let path = relative(root, p);
        message.push_str(&format!(
            "  {target}: {kind} input saved in {path}\n    reproduce: RUSTC_BOOTSTRAP=1 cargo fuzz run {target} {path}\n",
            kind = kind_of(p),
        ));
    }
    message.pop();
    Err(anyhow!(message))
}

/// What libFuzzer's file-name prefix says about an input.
fn kind_of(p: &Path) -> &'static str {
    let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
    if name.starts_with("crash-") {
        "a crashing"
    } else if name.starts_with("leak-") {
        "a leaking"
    } else if name.starts_with("timeout-") {
        "a hanging"
    } else if name.starts_with("oom-") {
        "an out-of-memory"
    } else {
        "a failing"
    }
}

/// Inputs libFuzzer saved in `dir` since `since`, oldest first.
fn artifacts_since(dir: &Path, since: SystemTime) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found: Vec<(SystemTime, PathBuf)> = entries
        .flatten()
        .filter_map(|e| {
            let modified = e.metadata().ok()?.modified().ok()?;
            (modified >= since).then(|| (modified, e.path()))
        })
        .collect();
    found.sort();
    found.into_iter().map(|(_, p)| p).collect()
}

fn relative(root: &Path, p: &Path) -> String {
    p.strip_prefix(root).unwrap_or(p).display().to_string()
}
