//! `cargo xtask test`: the whole suite, where plain `cargo test` is the fast tier. It installs
//! what the tests need when it is missing (Chromium, chromedriver, fonts, the aiosmtpd SMTP
//! server, pebble, openssl and fio from Debian; axe-core from npm), then runs the format check,
//! builds the tests, and runs every test, the fast tier (`cargo test --workspace`) and the slow
//! one (`cargo test --bench slow`: browser and other slow tests, tests/slow) — on SQLite and,
//! side by side with that, on a PostgreSQL server it starts (Debian's `postgresql`) — while
//! clippy runs beside them;
//! then the dependency policy (`cargo xtask deny`) and Lighthouse, and ends with a summary whose
//! last line (`tests: N passed, N failed`) CI reads.
//!
//! Compiled work is reused between the steps: no feature tells the tiers apart, so the library
//! and the binary are built once for both tiers and both engines, and Lighthouse audits the
//! binary the tests ran (a `cargo build` of the binary alone would resolve features without the
//! tests' dev-dependencies and compile some ninety crates again).
//!
//! The fuzz targets' bodies run among the tests, over their corpus and generated inputs
//! (tests/it/fuzz/); the instrumented fuzz build is not part of the suite. Coverage-guided
//! hunts are `cargo xtask fuzz`, run on their own (docs/fuzzing.md).
//!
//! Options: `--no-lint` skips the format check, clippy and cargo deny (for quick iterations); anything after
//! `--` goes to `cargo test` instead of the two tiers (e.g. `cargo xtask test --no-lint --
//! --bench slow browser::`).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::tools;

mod binaries;
mod clippy;
mod needs;
mod steps;

use binaries::{Counts, Run, build_tests, cargo_test};
use clippy::Clippy;
use needs::ensure_test_tools;
pub use needs::{AIOSMTPD, ensure_browser, ensure_npm_tools};
use steps::Steps;

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

const USAGE: &str = "usage: cargo xtask test [--no-lint] [-- <cargo test arguments>]";

/// The test crate of the slow tests (tests/slow), a bench target so that plain `cargo test`
/// leaves it out; `cargo test --bench slow` runs it on the same build as the fast tier.
const SLOW_TESTS: &str = "slow";

pub fn run(args: &[String]) -> Result<()> {
    let mut lint = true;
    let mut test_args: Vec<String> = Vec::new();
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "--no-lint" => lint = false,
            "--" => test_args.extend(iter.by_ref().cloned()),
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            other => bail!("unknown option {other:?}\n{USAGE}"),
        }
    }

    let root = tools::root();
    let mut steps = Steps::default();

    steps.run("test tools", ensure_test_tools)?;
    let axe = steps.run("npm test tools", || ensure_npm_tools(&root))?;

    if lint {
        steps.run("cargo fmt --check", || {
            tools::run(tools::cargo().args(["fmt", "--all", "--", "--check"]))
                .context("code is not formatted: run `cargo fmt --all` and look at the diff above")
        })?;
    }
    // The tests' build first, on both cores; then clippy runs beside the tests, which spend much
    // of their time waiting (for a server, a mail, a browser). It shares the target directory
    // (and so the build scripts and macros the tests' build compiled): the tests are run from
    // the binaries the build reported, not through `cargo test`, so that none waits for the
    // lock clippy holds. Lighthouse, which measures time, starts only once clippy has finished.
    let built = if test_args.is_empty() {
        Some(steps.run("build the tests", || {
            Ok((
                build_tests(&["--workspace"])?,
                build_tests(&["--bench", SLOW_TESTS])?,
            ))
        })?)
    } else {
        None
    };
    let clippy = lint.then(|| Clippy::start(&root));

    // The whole suite runs on SQLite (the default), and on PostgreSQL beside it, each test with
    // a database of its own on one server started for the run. On PostgreSQL the slow tier
    // leaves out most of the modules that drive Chromium, and the TLS handshake (see
    // `sqlite_only_slow_modules`).
    let mut counts = Counts::default();
    // Each run: the fast tier (every crate's tests), then the slow tier (tests/slow, the bench
    // target `slow`), both from the same build; or `cargo test` with the arguments given.
    let (sqlite_runs, postgres_runs): (Vec<Run>, Vec<Run>) = match built {
        Some((fast, slow)) => {
            let mut skip = Vec::new();
            for module in sqlite_only_slow_modules(&root)? {
                skip.extend(["--skip".to_string(), format!("{module}::")]);
            }
            (
                vec![
                    Run::Binaries(fast.clone(), Vec::new()),
                    Run::Binaries(slow.clone(), Vec::new()),
                ],
                vec![Run::Binaries(fast, Vec::new()), Run::Binaries(slow, skip)],
            )
        }
        None => (
            vec![Run::Cargo(test_args.clone())],
            vec![Run::Cargo(test_args.clone())],
        ),
    };
    let test = |counts: &mut Counts,
                runs: &[Run],
                env: &[(&'static str, String)],
                out: &mut dyn FnMut(&str)| {
        let mut failures = Vec::new();
        let with_env = |cmd: &mut Command| {
            cmd.env("AXE_PATH", &axe)
                .env("CHROMIUM", env_or("CHROMIUM", CHROMIUM))
                .env("CHROMEDRIVER", env_or("CHROMEDRIVER", CHROMEDRIVER))
                .envs(env.iter().map(|(k, v)| (*k, v.as_str())));
        };
        // Every test binary runs, even after one fails, so one run reports every failure (and
        // the slow tier runs even when the fast one failed).
        for run in runs {
            match run {
                Run::Cargo(args) => {
                    let mut cmd = tools::cargo();
                    cmd.args(["test", "--no-fail-fast"]).args(args);
                    with_env(&mut cmd);
                    if let Err(e) = cargo_test(&mut cmd, counts, out, true) {
                        failures.push(format!("cargo test {}: {e:#}", args.join(" ")));
                    }
                }
                Run::Binaries(binaries, args) => {
                    let before = counts.passed;
                    for binary in binaries {
                        out(&format!("     Running {}", binary.name));
                        // Where `cargo test` runs it: its package's folder.
                        let mut cmd = Command::new(&binary.path);
                        cmd.args(args).current_dir(&binary.dir);
                        with_env(&mut cmd);
                        if let Err(e) = cargo_test(&mut cmd, counts, out, false) {
                            failures.push(format!("{}: {e:#}", binary.name));
                        }
                    }
                    if counts.passed == before && failures.is_empty() {
                        failures.push("no test passed".to_string());
                    }
                }
            }
        }
        if failures.is_empty() {
            Ok(())
        } else {
            bail!("{}", failures.join("\n"))
        }
    };
    // The PostgreSQL run goes beside the SQLite one, on the same build (the tests spend most of
    // their time waiting, and every test has its own ports, folders and database); its output is
    // kept and printed after the SQLite run's, so each reads whole.
    let server = steps.run("PostgreSQL server", crate::postgres::Server::start);
    let (on_sqlite, on_postgres) = std::thread::scope(|scope| {
        let postgres = server.as_ref().ok().map(|server| {
            let env = server.test_env();
            let test = &test;
            let postgres_runs = &postgres_runs;
            scope.spawn(move || {
                let started = Instant::now();
                let mut counts = Counts::default();
                let mut output = String::new();
                let result = test(&mut counts, postgres_runs, &env, &mut |line| {
                    output.push_str(line);
                    output.push('\n');
                });
                (started.elapsed(), counts, output, result)
            })
        });
        let on_sqlite = steps.run("cargo test (SQLite)", || {
            test(&mut counts, &sqlite_runs, &[], &mut |line| {
                println!("{line}")
            })
        });
        let on_postgres = match (postgres, &server) {
            (Some(thread), _) => {
                eprintln!("==> cargo test (PostgreSQL), run beside the SQLite one");
                let (took, pg_counts, output, result) = match thread.join() {
                    Ok(done) => done,
                    Err(_) => (
                        Duration::ZERO,
                        Counts::default(),
                        String::new(),
                        Err(anyhow::anyhow!("the PostgreSQL run's thread panicked")),
                    ),
                };
                print!("{output}");
                counts.add(&pg_counts);
                steps.record("cargo test (PostgreSQL)", took, result)
            }
            (None, Err(e)) => Err(anyhow::anyhow!("no PostgreSQL server: {e:#}")),
            (None, Ok(_)) => Ok(()),
        };
        (on_sqlite, on_postgres)
    });
    drop(server);
    let linted = match clippy {
        Some(clippy) => steps
            .run("cargo clippy", || clippy.finish())
            .and_then(|()| steps.run("cargo deny", || crate::deny::run(&[]))),
        None => Ok(()),
    };
    // The server the tests built is the one audited: `cargo test --no-run` finds everything up
    // to date and leaves that build's binary in target/debug.
    let lighthouse = steps.run("lighthouse", || {
        tools::run(tools::cargo().args(["test", "--workspace", "--no-run", "--quiet"]))?;
        let binary = tools::target_dir().join("debug").join("kap-practice");
        crate::lighthouse::audit(crate::lighthouse::Server::Built(binary))
    });
    steps.summary(Some(&counts));
    on_sqlite.and(on_postgres).and(linted).and(lighthouse)
}

/// The slow-tier modules that run on SQLite only: the browser tests (tests/slow/browser*.rs)
/// and the TLS ones. They check what a person sees and does in Chromium, and the certificates
/// and handshakes; what they store goes through the same store calls that the fast tier runs on
/// both engines (every HTTP test, every query), so a second run on PostgreSQL would test the
/// browser again, not the database. The multi-server, reminder, insight and drill modules, which
/// are about the database, run on both.
///
/// Except the [`BOTH_ENGINES_BROWSER_MODULES`]: signing documents on a phone is a record the
/// practice must keep, and it is proven on both engines from the browser to the stored signature.
fn sqlite_only_slow_modules(root: &Path) -> Result<Vec<String>> {
    let dir = root.join("tests/slow");
    let mut modules = vec!["tls".to_string()];
    for entry in std::fs::read_dir(&dir).with_context(|| dir.display().to_string())? {
        let name = entry?.file_name();
        if let Some(module) = name.to_str().and_then(|n| n.strip_suffix(".rs"))
            && module.starts_with("browser")
            && !BOTH_ENGINES_BROWSER_MODULES.contains(&module)
        {
            modules.push(module.to_string());
        }
    }
    if !dir.join("tls.rs").is_file() || modules.len() < 2 {
        bail!(
            "tests/slow has no tls.rs or no browser*.rs: update sqlite_only_slow_modules in \
             xtask/src/test.rs"
        );
    }
    for module in BOTH_ENGINES_BROWSER_MODULES {
        if !dir.join(format!("{module}.rs")).is_file() {
            bail!(
                "tests/slow has no {module}.rs: update BOTH_ENGINES_BROWSER_MODULES in xtask/src/test.rs"
            );
        }
    }
    modules.sort();
    Ok(modules)
}

/// The browser modules that run on PostgreSQL too (see [`sqlite_only_slow_modules`]).
const BOTH_ENGINES_BROWSER_MODULES: [&str; 1] = ["browser_documents"];

fn env_or(var: &str, default: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| default.to_string())
}
