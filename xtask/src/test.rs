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

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::tools;

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// Installed by python3-aiosmtpd, the SMTP server of the mail tests.
const AIOSMTPD: &str = "/usr/lib/python3/dist-packages/aiosmtpd/__init__.py";
/// A font for text in screenshots and layout (Chromium renders boxes without any).
const FONT: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";

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

/// One run of tests: `cargo test` with arguments, or test binaries already built, each run
/// with the arguments given.
enum Run {
    Cargo(Vec<String>),
    Binaries(Vec<TestBinary>, Vec<String>),
}

/// A test binary `cargo test --no-run` built.
#[derive(Clone)]
struct TestBinary {
    path: PathBuf,
    /// Its package's folder, where `cargo test` would run it.
    dir: PathBuf,
    /// As `cargo test` names it: the source file and the binary.
    name: String,
}

/// Builds the tests `cargo test ARGS` would run and returns their binaries, as cargo reports
/// them (its JSON messages; the compiler's own messages are shown as usual). Documentation
/// examples are not among them: the crates keep their examples as tests, not in doc comments.
fn build_tests(args: &[&str]) -> Result<Vec<TestBinary>> {
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

/// `cargo clippy` on every target, running in the background with its output kept in a file.
struct Clippy {
    thread: std::thread::JoinHandle<Result<Duration>>,
    log: PathBuf,
}

impl Clippy {
    fn start(root: &Path) -> Self {
        let log = tools::target_dir().join("clippy.log");
        let mut cmd = tools::cargo();
        cmd.current_dir(root).args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--all-features",
            "--",
            "-D",
            "warnings",
        ]);
        eprintln!(
            "==> cargo clippy (beside the tests; its output goes to {})",
            log.display()
        );
        let file = std::fs::File::create(&log);
        let thread = std::thread::spawn(move || {
            let started = Instant::now();
            let file = file.context("cannot write clippy's log")?;
            let status = cmd
                .stdout(file.try_clone().context("clippy's log")?)
                .stderr(file)
                .status()
                .context("cannot run cargo clippy")?;
            if !status.success() {
                bail!("clippy found problems: fix them, nothing is allowed");
            }
            Ok(started.elapsed())
        });
        Self { thread, log }
    }

    /// Waits for clippy; prints its output when it failed.
    fn finish(self) -> Result<()> {
        let result = self
            .thread
            .join()
            .map_err(|_| anyhow::anyhow!("clippy's thread panicked"))
            .and_then(|r| r);
        match result {
            Ok(took) => {
                eprintln!(
                    "    clippy took {:.1}s beside the tests",
                    took.as_secs_f64()
                );
                Ok(())
            }
            Err(e) => {
                if let Ok(out) = std::fs::read_to_string(&self.log) {
                    eprintln!("{out}");
                }
                Err(e)
            }
        }
    }
}

fn env_or(var: &str, default: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| default.to_string())
}

/// Everything the suite starts besides the browser: pebble (the ACME test server of the TLS
/// tests), openssl (test certificates), fio (the disk's fsync rate) and pdftotext (an
/// independent reader of the signed documents' PDFs).
fn ensure_test_tools() -> Result<()> {
    ensure_browser()?;
    ensure_s3_server()?;
    tools::ensure_apt(&[
        ("pebble", "pebble"),
        ("openssl", "openssl"),
        ("fio", "fio"),
        ("pdftotext", "poppler-utils"),
    ])
}

/// moto's S3 server, the real S3-compatible server the backup tests start on loopback (Debian
/// has no package of it: it comes from PyPI, for the `python3` on the PATH the tests run).
fn ensure_s3_server() -> Result<()> {
    let has = || {
        Command::new("python3")
            .args(["-c", "import moto.server"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if has() {
        return Ok(());
    }
    eprintln!("installing moto's S3 server for the backup tests (pip install 'moto[server]')");
    let status = Command::new("python3")
        .args(["-m", "pip", "install", "--quiet", "moto[server]"])
        .status()
        .context("running pip")?;
    if !status.success() || !has() {
        bail!("cannot install moto's S3 server: `python3 -m pip install 'moto[server]'` failed");
    }
    Ok(())
}

/// Chromium, chromedriver (both Debian's, so their versions match) and a font.
pub fn ensure_browser() -> Result<()> {
    tools::ensure_apt(&[
        (CHROMIUM, "chromium"),
        (CHROMEDRIVER, "chromium-driver"),
        (FONT, "fonts-dejavu-core"),
        // The real SMTP server the mail tests deliver to (run with Debian's python3).
        (AIOSMTPD, "python3-aiosmtpd"),
        // An independent parser for the calendar files the practice sends.
        (
            "/usr/lib/python3/dist-packages/icalendar/__init__.py",
            "python3-icalendar",
        ),
        // The IANA time-zone database the practice's time zone is read from.
        ("/usr/share/zoneinfo/America/New_York", "tzdata"),
    ])?;
    for program in [CHROMIUM, CHROMEDRIVER] {
        if !Path::new(program).is_file() {
            bail!("{program} is missing after installing its package");
        }
        // The versions, for reading a CI log (Chromium and chromedriver must match).
        let version = tools::output(Command::new(program).arg("--version"))?;
        eprintln!("    {}", version.trim());
    }
    Ok(())
}

/// Installs the npm packages pinned in tests/browser/package.json unless they are already there
/// at that version; returns the absolute path of axe.min.js.
pub fn ensure_npm_tools(root: &Path) -> Result<String> {
    let dir = root.join("tests/browser");
    let manifest = read_json(&dir.join("package.json"))?;
    let pinned = manifest["devDependencies"]["axe-core"]
        .as_str()
        .context("tests/browser/package.json does not pin axe-core")?;
    let package = dir.join("node_modules/axe-core");
    let axe = package.join("axe.min.js");
    let installed = read_json(&package.join("package.json")).ok();
    if installed.as_ref().and_then(|p| p["version"].as_str()) != Some(pinned) || !axe.is_file() {
        tools::ensure_apt(&[("npm", "npm")])?;
        let mut cmd = Command::new("npm");
        cmd.current_dir(&dir);
        if dir.join("package-lock.json").is_file() {
            cmd.arg("ci");
        } else {
            cmd.arg("install");
        }
        tools::run(cmd.args(["--no-audit", "--no-fund", "--loglevel=error"]))?;
    }
    if !axe.is_file() {
        bail!("{} is missing after npm install", axe.display());
    }
    Ok(absolute(&axe).display().to_string())
}

fn absolute(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

fn read_json(path: &Path) -> Result<serde_json::Value> {
    let text = std::fs::read_to_string(path).with_context(|| path.display().to_string())?;
    serde_json::from_str(&text).with_context(|| path.display().to_string())
}

/// What `cargo test` reported, added up over every test binary.
#[derive(Default, Debug, Clone, Copy)]
struct Counts {
    passed: u64,
    failed: u64,
    ignored: u64,
    binaries: u64,
}

impl Counts {
    fn add(&mut self, other: &Counts) {
        self.passed += other.passed;
        self.failed += other.failed;
        self.ignored += other.ignored;
        self.binaries += other.binaries;
    }
}

/// Runs `cargo test`, passing its output to `out` while counting the `test result:` lines.
/// With `require_tests`, a run that passed no test is an error (a test binary of a crate without
/// tests is not).
fn cargo_test(
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

/// The steps run so far, for the summary.
#[derive(Default)]
struct Steps {
    done: Vec<(&'static str, Duration, Result<(), String>)>,
    start: Option<Instant>,
}

impl Steps {
    /// Runs one step; on failure prints the summary (but for the last step, whose caller
    /// prints it with the test counts) and returns the error.
    fn run<T>(&mut self, name: &'static str, step: impl FnOnce() -> Result<T>) -> Result<T> {
        self.start.get_or_insert_with(Instant::now);
        eprintln!("==> {name}");
        let started = Instant::now();
        let result = step();
        let outcome = result.as_ref().map(|_| ()).map_err(|e| format!("{e:#}"));
        self.done.push((name, started.elapsed(), outcome));
        if result.is_err()
            && !name.starts_with("cargo test")
            && !matches!(
                name,
                "PostgreSQL server" | "lighthouse" | "cargo clippy" | "cargo deny"
            )
        {
            self.summary(None);
        }
        result.with_context(|| name)
    }

    /// Records a step that ran elsewhere (on a thread of its own) and took `took`.
    fn record(&mut self, name: &'static str, took: Duration, result: Result<()>) -> Result<()> {
        let outcome = result.as_ref().map(|_| ()).map_err(|e| format!("{e:#}"));
        self.done.push((name, took, outcome));
        result.with_context(|| name)
    }

    fn summary(&self, counts: Option<&Counts>) {
        println!();
        println!("summary of cargo xtask test:");
        for (name, took, outcome) in &self.done {
            let mark = match outcome {
                Ok(()) => "ok".to_string(),
                Err(e) => format!("FAILED: {e}"),
            };
            println!("  {name:<20} {:>6.1}s  {mark}", took.as_secs_f64());
        }
        if let Some(start) = self.start {
            println!("  {:<20} {:>6.1}s", "total", start.elapsed().as_secs_f64());
        }
        if let Some(c) = counts {
            let skipped = if c.ignored > 0 {
                format!(", {} skipped", c.ignored)
            } else {
                String::new()
            };
            println!("  ({} test binaries)", c.binaries);
            println!("tests: {} passed, {} failed{skipped}", c.passed, c.failed);
        }
    }
}
