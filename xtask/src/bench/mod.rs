//! `cargo xtask bench`: the figures a practice's visitors and its clinician care about, measured
//! with standard tools on loopback and written to docs/benchmarks.md.
//!
//! - first-view weight: `/` and the assets it links, fetched with curl as a browser asks for
//!   them (brotli), beside Lighthouse's total byte weight when `cargo xtask lighthouse` has left
//!   a report in target/lighthouse/;
//! - the first view of every public page (those in the sitemap, a page of the clinician's own
//!   made in the inbox, the not-found page): the page and its render-blocking stylesheets;
//! - cold start: spawn → first `200` from `/healthz` (median of 5, fresh data folder each);
//! - GET / requests/s and p99 latency under wrk, beside nginx serving the very bytes kap-practice
//!   sends (same headers), over plain HTTP and over TLS (one self-signed certificate made with
//!   openssl for both). nginx is a reference, not a race: the targets are at least 0.7× its
//!   requests/s and at most 2× its p99 in the same run. The servers take turns, round after
//!   round, so a burst of other work on a shared machine does not fall on one of them only;
//!   each keeps its best requests/s and its median p99;
//! - resident memory (`VmRSS`) after the load rounds;
//! - durable form submissions: accepted `POST /contact`/s (each committed before its answer)
//!   beside the disk's fsync rate, measured by fio in the server's data folder before and
//!   after; then SIGTERM, and `kap-practice inquiries export` counts what was stored against
//!   the `303`s wrk saw;
//! - what a nightly backup costs the site: `GET /` and form posts during backups of a database
//!   with 10,000 requests, p99 against no backup (bench/backup_cost.rs).
//!
//! Each figure is measured in a module of its own (cold_start, first_view, load, insights,
//! submissions, backup_cost); wrk.rs runs wrk, report.rs writes the table.
//!
//! wrk reports through a small Lua `done()` hook that prints its summary as one JSON line. A
//! missed target is marked ✗ and is not an error; the task fails only when something could not
//! be measured. TLS is measured when the binary takes `KAP_TLS_CERT_FILE`, `KAP_TLS_KEY_FILE`
//! and `KAP_TLS_BIND`; otherwise its row says "not available".

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};

use crate::tools::{self, Process};
use report::Report;

mod backup_cost;
mod cold_start;
mod first_view;
mod insights;
mod load;
mod report;
mod submissions;
mod wrk;

const USAGE: &str =
    "usage: cargo xtask bench [--duration SECS] [--rounds N] [--connections N] [--no-write]
                         [--only load|insights|first-view|submissions|backup]

  --duration SECS   length of each measured wrk run (default 10)
  --rounds N        turns each page server gets; the best requests/s and the median p99 count
                    (default 3)
  --connections N   wrk's open connections for GET / (default 64)
  --binary PATH     measure this kap-practice binary instead of building the release one
  --no-write        print the report only; by default it also goes to docs/benchmarks.md
  --only load       measure only GET / beside nginx and the memory after it (implies --no-write)
  --only insights   measure only GET / with visit counting on against off (implies --no-write)
  --only first-view measure only the first-view bytes of the public pages (implies --no-write)
  --only submissions measure only durable form submissions and the crash check (implies
                    --no-write)
  --only backup     measure only what a backup costs GET / and form posts (implies --no-write)";

const COLD_START_RUNS: usize = 5;
/// Issue #28's budget: cold start < 100 ms.
const COLD_START_TARGET_MS: f64 = 100.0;
const RSS_TARGET: u64 = 30_000_000;
/// kap-practice's requests/s at least this share of nginx's, and its p99 at most this multiple.
const RPS_TARGET: f64 = 0.7;
const P99_TARGET: f64 = 2.0;
/// Connections posting the form: a busy moment, far more than a practice ever sees at once.
const SUBMISSION_CONNECTIONS: u32 = 16;
/// Each fio fsync probe runs this long.
const FSYNC_PROBE_SECS: u32 = 5;
/// The submissions server's config: a rate limit that never refuses.
const SUBMISSION_CONFIG: &str = "[contact_form]\nrate_limit_per_hour = 4000000000\n";
/// Requests/s on `/` with visit counting on at least this share of counting off.
const INSIGHTS_TARGET: f64 = 0.95;
/// A browser's user agent: without one a request is not counted, and the comparison would
/// measure nothing.
const BROWSER_AGENT: &str =
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
/// A valid consultation request, as the form sends it; the form token follows.
const SUBMISSION_BODY: &str = "name=Bench+Person&email=bench%40example.com&phone=&contact_method=email\
     &state=CA&for_whom=myself&age_group=adult&message=&referral_source=&consent=yes&website=&form_token=";
/// The environment the server reads; cleared so it cannot change the settings behind the report.
const KAP_ENV: &[&str] = &[
    "KAP_CONFIG",
    "KAP_DATA_DIR",
    "KAP_BIND",
    "KAP_BASE_URL",
    "KAP_CONTENT_DIR",
    "KAP_DATA_KEY",
    "KAP_DATA_KEYS_PREVIOUS",
    "KAP_SMTP_URL",
    "KAP_NOTIFY_EMAIL",
    "KAP_MIN_FILL_SECONDS",
    "KAP_TLS_CERT_FILE",
    "KAP_TLS_KEY_FILE",
    "KAP_TLS_BIND",
    "KAP_BACKUP_KEY",
    "KAP_BACKUP_DIR",
    "RUST_LOG",
];

/// A practice of its own with the going-live checklist done, for a server that others could
/// reach (with TLS): otherwise every page is "being set up".
const LIVE_PRACTICE: &str = "[practice]\nname = \"Bench Psychotherapy\"\nclinician_name = \"Sam Bench\"\n\
email = \"office@bench-practice.test\"\nphone = \"(555) 010-0199\"\ncity = \"Benchville, California\"\n\
[going_live]\nreviewed = [\"about\", \"credentials\", \"privacy\", \"crisis\"]\n";

struct Options {
    duration: u32,
    rounds: u32,
    connections: u32,
    binary: Option<PathBuf>,
    write: bool,
    /// One part measured alone (`--only`), or every part.
    only: Option<Part>,
}

/// A part of the bench that can be measured alone.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Part {
    Load,
    Insights,
    FirstView,
    Submissions,
    Backup,
}

pub fn run(args: &[String]) -> Result<()> {
    let mut o = Options {
        duration: 10,
        rounds: 3,
        connections: 64,
        binary: None,
        write: true,
        only: None,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut number = |name: &str| -> Result<u32> {
            it.next()
                .and_then(|v| v.parse().ok())
                .filter(|n| *n > 0)
                .ok_or_else(|| anyhow!("{name} needs a whole number above 0\n{USAGE}"))
        };
        match a.as_str() {
            "--duration" => o.duration = number("--duration")?,
            "--rounds" => o.rounds = number("--rounds")?,
            "--connections" => o.connections = number("--connections")?,
            "--binary" => o.binary = Some(it.next().context("--binary needs a path")?.into()),
            "--no-write" => o.write = false,
            "--only" => {
                o.only = Some(match it.next().map(String::as_str) {
                    Some("load") => Part::Load,
                    Some("insights") => Part::Insights,
                    Some("first-view") => Part::FirstView,
                    Some("submissions") => Part::Submissions,
                    Some("backup") => Part::Backup,
                    _ => bail!(
                        "--only takes \"load\", \"insights\", \"first-view\", \"submissions\" or \"backup\"\n{USAGE}"
                    ),
                });
                o.write = false;
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            other => bail!("unknown option {other:?}\n{USAGE}"),
        }
    }
    let command = std::iter::once("cargo xtask bench".to_string())
        .chain(args.iter().cloned())
        .collect::<Vec<_>>()
        .join(" ");

    tools::ensure_apt(&[
        ("wrk", "wrk"),
        ("/usr/sbin/nginx", "nginx"),
        ("fio", "fio"),
        ("openssl", "openssl"),
        ("curl", "curl"),
    ])?;
    let bin = match &o.binary {
        Some(path) => path.clone(),
        None => {
            step("building the release binary");
            tools::run(tools::cargo().args(["build", "--release", "--bin", "kap-practice"]))?;
            tools::target_dir().join("release/kap-practice")
        }
    };

    let tmp = TempDir::new()?;
    let mut report = Report {
        command,
        load_before: loadavg(),
        ..Report::default()
    };
    let bench = Bench {
        bin: &bin,
        tmp: &tmp.0,
        o: &o,
    };
    let measure = |part: Part| o.only.is_none_or(|only| only == part);
    if o.only.is_none() {
        bench.cold_start(&mut report);
    }
    if measure(Part::FirstView) {
        bench.first_view(&mut report)?;
    }
    if measure(Part::Load) {
        bench.load(&mut report)?;
    }
    if measure(Part::Insights)
        && let Err(e) = bench.insights(&mut report)
    {
        report.fail("GET / with visit counting on and off", e);
    }
    if measure(Part::Submissions)
        && let Err(e) = bench.submissions(&mut report)
    {
        report.fail("durable form submissions", e);
    }
    if measure(Part::Backup)
        && let Err(e) = bench.backup_cost(&mut report)
    {
        report.fail("what a backup costs the site", e);
    }
    report.load_after = loadavg();

    let text = report.render(&o);
    println!("{text}");
    if o.write {
        let path = tools::root().join("docs/benchmarks.md");
        std::fs::write(&path, &text).with_context(|| path.display().to_string())?;
        eprintln!("wrote {}", path.display());
    }
    if report.failures.is_empty() {
        Ok(())
    } else {
        bail!("could not measure: {}", report.failures.join("; "))
    }
}

fn step(what: &str) {
    eprintln!("bench: {what}");
}

/// What every measurement needs.
struct Bench<'a> {
    bin: &'a Path,
    tmp: &'a Path,
    o: &'a Options,
}

impl Bench<'_> {
    /// kap-practice on `port` with a data folder of its own and the given config text.
    fn kap(&self, name: &str, port: u16, config: &str) -> Result<Command> {
        let dir = self.tmp.join(name);
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join("config.toml"), config)?;
        let mut cmd = Command::new(self.bin);
        // The environment must not change the settings behind the report's back.
        for var in KAP_ENV {
            cmd.env_remove(var);
        }
        cmd.arg("--config")
            .arg(dir.join("config.toml"))
            .arg("--data-dir")
            .arg(dir.join("data"))
            .arg("serve")
            .env("KAP_BIND", format!("127.0.0.1:{port}"))
            .stdout(Stdio::null())
            // Its log (one line per request) to a file, as nginx writes its access log.
            .stderr(std::fs::File::create(dir.join("stderr.log"))?);
        Ok(cmd)
    }

    /// Starts kap-practice and waits for `/healthz` to answer 200.
    fn start_kap(&self, name: &str, config: &str) -> Result<(Process, u16)> {
        let port = tools::free_port()?;
        let mut p = Process::spawn(name, &mut self.kap(name, port, config)?)?;
        p.wait_until(Duration::from_secs(20), || tools::pages_ready(port))?;
        Ok((p, port))
    }

    /// Starts kap-practice with an account, signs in and adds the clinician's own page
    /// (`/fees`) in the inbox, as `cargo xtask lighthouse` does.
    /// `smtp`: the practice's mail server (the questionnaire is offered only once its notice
    /// address is confirmed by email).
    fn start_kap_with_own_page(&self, name: &str, smtp: &str) -> Result<(Process, u16)> {
        let port = tools::free_port()?;
        let base = format!("http://127.0.0.1:{port}");
        let mut cmd = self.kap(name, port, "")?;
        // The booking page is reached by posting the form at once, as Lighthouse's server does.
        cmd.env("KAP_BASE_URL", &base)
            .env("KAP_MIN_FILL_SECONDS", "0")
            .env("KAP_SMTP_URL", smtp);
        let dir = self.tmp.join(name);
        let mut add = tools::kap_practice(self.bin, &dir, &dir.join("config.toml"));
        for var in KAP_ENV {
            add.env_remove(var);
        }
        add.env("KAP_BASE_URL", &base).stderr(Stdio::null());
        crate::lighthouse::add_clinician(add)?;
        let mut p = Process::spawn(name, &mut cmd)?;
        p.wait_until(Duration::from_secs(20), || tools::pages_ready(port))?;
        crate::lighthouse::add_own_page(&base, &dir)?;
        // The new page makes a new site, served with a quick gzip until its brotli variants are
        // made: a client asking for brotli alone would get the page as it is meanwhile.
        p.wait_until(Duration::from_secs(20), || tools::pages_ready(port))?;
        Ok((p, port))
    }
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

fn join<T>(items: &[T], f: impl Fn(&T) -> String) -> String {
    items.iter().map(f).collect::<Vec<_>>().join(" / ")
}

fn thousands(n: f64) -> String {
    let digits = format!("{:.0}", n);
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A temporary folder, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Result<TempDir> {
        let dir = std::env::temp_dir().join(format!("kap-bench-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).with_context(|| dir.display().to_string())?;
        Ok(TempDir(dir))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_figures() {
        assert_eq!(thousands(1234567.4), "1,234,567");
        assert_eq!(thousands(999.0), "999");
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
    }
}
