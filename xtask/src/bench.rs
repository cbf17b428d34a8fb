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
//! wrk reports through a small Lua `done()` hook that prints its summary as one JSON line. A
//! missed target is marked ✗ and is not an error; the task fails only when something could not
//! be measured. TLS is measured when the binary takes `KAP_TLS_CERT_FILE`, `KAP_TLS_KEY_FILE`
//! and `KAP_TLS_BIND`; otherwise its row says "not available".

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use serde_json::Value;

use crate::tools::{self, Process};

mod backup_cost;

const USAGE: &str =
    "usage: cargo xtask bench [--duration SECS] [--rounds N] [--connections N] [--no-write]
                         [--only insights|first-view|backup]

  --duration SECS   length of each measured wrk run (default 10)
  --rounds N        turns each page server gets; the best requests/s and the median p99 count
                    (default 3)
  --connections N   wrk's open connections for GET / (default 64)
  --binary PATH     measure this kap-practice binary instead of building the release one
  --no-write        print the report only; by default it also goes to docs/benchmarks.md
  --only insights   measure only GET / with visit counting on against off (implies --no-write)
  --only first-view measure only the first-view bytes of the public pages (implies --no-write)
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

/// wrk's summary as one JSON line; a POST script adds the count of `303` answers.
const DONE_HOOK: &str = r#"
function done(summary, latency, requests)
  local e = summary.errors
  local accepted = -1
  for _, t in ipairs(threads or {}) do
    if accepted < 0 then accepted = 0 end
    accepted = accepted + t:get("answers_303")
  end
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"socket_errors":%d,"status_errors":%d,"p50_us":%d,"p99_us":%d,"accepted":%d}\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(99), accepted))
end
"#;

/// Posts the form and counts the `303` answers (the stored ones) per thread.
const POST_HOOKS: &str = r#"
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) answers_303 = 0 end
function response(status, headers, body)
  if status == 303 then answers_303 = answers_303 + 1 end
end
"#;

struct Options {
    duration: u32,
    rounds: u32,
    connections: u32,
    binary: Option<PathBuf>,
    write: bool,
    /// Only the comparison of visit counting on and off.
    only_insights: bool,
    /// Only the first-view bytes of the public pages.
    only_first_view: bool,
    /// Only what a backup costs the site.
    only_backup: bool,
}

pub fn run(args: &[String]) -> Result<()> {
    let mut o = Options {
        duration: 10,
        rounds: 3,
        connections: 64,
        binary: None,
        write: true,
        only_insights: false,
        only_first_view: false,
        only_backup: false,
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
            "--only" => match it.next().map(String::as_str) {
                Some("insights") => {
                    o.only_insights = true;
                    o.write = false;
                }
                Some("first-view") => {
                    o.only_first_view = true;
                    o.write = false;
                }
                Some("backup") => {
                    o.only_backup = true;
                    o.write = false;
                }
                _ => bail!("--only takes \"insights\", \"first-view\" or \"backup\"\n{USAGE}"),
            },
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
    let everything = !(o.only_insights || o.only_first_view || o.only_backup);
    if o.only_first_view {
        bench.first_view(&mut report)?;
    } else if everything {
        bench.cold_start(&mut report);
        bench.first_view(&mut report)?;
        bench.load(&mut report)?;
    }
    if (everything || o.only_insights)
        && let Err(e) = bench.insights(&mut report)
    {
        report.fail("GET / with visit counting on and off", e);
    }
    if everything && let Err(e) = bench.submissions(&mut report) {
        report.fail("durable form submissions", e);
    }
    if (everything || o.only_backup)
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

/// One line of the report's table.
struct Row {
    figure: String,
    value: String,
    reference: String,
    /// `Some` when the figure has a target: met or not.
    met: Option<bool>,
}

#[derive(Default)]
struct Report {
    command: String,
    load_before: String,
    load_after: String,
    rows: Vec<Row>,
    failures: Vec<String>,
}

impl Report {
    fn row(&mut self, figure: &str, value: String, reference: String, met: Option<bool>) {
        self.rows.push(Row {
            figure: figure.into(),
            value,
            reference,
            met,
        });
    }

    fn fail(&mut self, what: &str, e: anyhow::Error) {
        eprintln!("bench: {what}: {e:#}");
        self.row(what, "not measured".into(), format!("{e:#}"), None);
        self.failures.push(format!("{what} ({e:#})"));
    }
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
            .stderr(Stdio::null());
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
    fn start_kap_with_own_page(&self, name: &str) -> Result<(Process, u16)> {
        let port = tools::free_port()?;
        let base = format!("http://127.0.0.1:{port}");
        let mut cmd = self.kap(name, port, "")?;
        cmd.env("KAP_BASE_URL", &base);
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
        Ok((p, port))
    }

    fn cold_start(&self, report: &mut Report) {
        step("cold start");
        let mut runs = Vec::new();
        let mut complete = Vec::new();
        let result = (|| -> Result<()> {
            for i in 0..COLD_START_RUNS {
                let port = tools::free_port()?;
                let mut cmd = self.kap(&format!("cold-{i}"), port, "")?;
                let started = Instant::now();
                let mut p = Process::spawn("kap-practice (cold start)", &mut cmd)?;
                p.wait_until(Duration::from_secs(20), || {
                    tools::status_of(port, "/healthz") == Some(200)
                })?;
                runs.push(started.elapsed().as_secs_f64() * 1000.0);
                p.wait_until(Duration::from_secs(20), || tools::pages_ready(port))?;
                complete.push(started.elapsed().as_secs_f64() * 1000.0);
            }
            Ok(())
        })();
        match result {
            Ok(()) => {
                let ms = median(&runs);
                report.row(
                    &format!("Cold start: spawn → first `200` from `/healthz` (median of {COLD_START_RUNS})"),
                    format!("{ms:.0} ms"),
                    format!("< {COLD_START_TARGET_MS:.0} ms (runs: {})", join(&runs, |v| format!("{v:.0}"))),
                    Some(ms < COLD_START_TARGET_MS),
                );
                report.row(
                    &format!("Start until every page also has its brotli variant (`\"pages\":\"ready\"` in `/healthz`; median of {COLD_START_RUNS})"),
                    format!("{:.0} ms", median(&complete)),
                    format!("gzip is served until then (runs: {})", join(&complete, |v| format!("{v:.0}"))),
                    None,
                );
            }
            Err(e) => report.fail("cold start", e),
        }
    }

    /// `/` and the same-origin assets it links, as a browser asks for them on a first visit.
    fn first_view(&self, report: &mut Report) -> Result<()> {
        step("first view: kap-practice with a page of the clinician's own");
        let (_server, port) = self.start_kap_with_own_page("first-view")?;
        let base = format!("http://127.0.0.1:{port}");
        let br = ["--header", "Accept-Encoding: br"];
        let html = tools::fetch("GET", &format!("{base}/"), &[], None)?.text();
        let mut parts = vec![("page".to_string(), "/".to_string())];
        // Every asset lives under /static/ with a hashed name; the stylesheet refers to nothing
        // but data: URLs.
        for (at, _) in html.match_indices("=\"/static/") {
            let url = &html[at + 2..];
            let url = &url[..url.find('"').unwrap_or(url.len())];
            if !parts.iter().any(|(_, u)| u == url) {
                let kind = url.split('/').nth(2).unwrap_or("asset").to_string();
                parts.push((kind, url.to_string()));
            }
        }
        let mut total = 0;
        let mut detail = Vec::new();
        for (kind, url) in &parts {
            let r = tools::fetch("GET", &format!("{base}{url}"), &br, None)?;
            if r.status != 200 {
                bail!("{url} (linked from /) answered {}", r.status);
            }
            total += r.body.len();
            detail.push(format!("{kind} {}", r.body.len()));
        }
        report.row(
            "First-view weight of `/`: the page and what it links, brotli, bodies only (curl)",
            format!("{:.1} kB ({total} B)", total as f64 / 1000.0),
            format!("{} requests: {}", parts.len(), detail.join(" + ")),
            None,
        );
        let mut pages = sitemap_paths(
            &tools::fetch("GET", &format!("{base}/sitemap.xml"), &[], None)?.text(),
            &base,
        );
        let own = crate::lighthouse::OWN_PAGE.0;
        if !pages.iter().any(|p| p == own) {
            bail!("the sitemap does not list the clinician's own page {own}");
        }
        pages.push(NOT_FOUND.to_string());
        for path in &pages {
            let (html, css) = first_view_bytes(&base, path)?;
            let total = html + css;
            report.row(
                &format!(
                    "First view of `{path}`: the page and its render-blocking stylesheets, brotli, bodies only"
                ),
                format!("{:.1} kB ({total} B)", total as f64 / 1000.0),
                format!(
                    "page {html} + blocking CSS {css}; one round trip carries {:.1} kB",
                    FIRST_ROUND_TRIP as f64 / 1000.0
                ),
                Some(total <= FIRST_ROUND_TRIP),
            );
        }
        report.row(
            "First view of a booking page (`/book/…`) and a questionnaire (`/questionnaire/…`)",
            "not measured".into(),
            "reachable only through a link the inbox issues to one person for one request".into(),
            None,
        );
        if let Some((bytes, when)) = lighthouse_weight() {
            report.row(
                "First-view weight of `/`, Lighthouse's total byte weight (headers included, simulated phone)",
                format!("{:.1} kB ({bytes:.0} B)", bytes / 1000.0),
                format!("from target/lighthouse/, run {when}"),
                None,
            );
        }
        Ok(())
    }

    /// GET / under wrk, kap-practice beside nginx, plain and over TLS; then memory.
    fn load(&self, report: &mut Report) -> Result<()> {
        let (cert, key) = self_signed(self.tmp)?;
        step("starting kap-practice, kap-practice with TLS and nginx");
        let (mut kap, kap_port) = self.start_kap("load", "")?;
        let tls = self.start_kap_tls(&cert, &key);
        let (headers, body) = page_as_sent(kap_port, self.tmp)?;
        let (mut nginx, nginx_port, nginx_tls_port) =
            start_nginx(self.tmp, &headers, &body, &cert, &key)?;

        let mut servers = vec![
            Target::new("nginx", format!("http://127.0.0.1:{nginx_port}/")),
            Target::new("kap-practice", format!("http://127.0.0.1:{kap_port}/")),
            Target::new("nginx, TLS", format!("https://127.0.0.1:{nginx_tls_port}/")),
        ];
        let mut kap_tls = None;
        match tls {
            Ok(Some((p, port))) => {
                servers.push(Target::new(
                    "kap-practice, TLS",
                    format!("https://127.0.0.1:{port}/"),
                ));
                kap_tls = Some(p);
            }
            Ok(None) => {}
            Err(e) => report.fail("kap-practice with TLS", e),
        }
        let script = self.tmp.join("done.lua");
        std::fs::write(&script, DONE_HOOK)?;
        for s in &mut servers {
            step(&format!("warm-up: {}", s.name));
            wrk(&script, &s.url, self.o.connections, 1)?;
        }
        for round in 1..=self.o.rounds {
            for s in &mut servers {
                step(&format!(
                    "wrk -c{} {}, round {round} of {}",
                    self.o.connections, s.name, self.o.rounds
                ));
                match wrk(&script, &s.url, self.o.connections, self.o.duration) {
                    Ok(w) => s.runs.push(w),
                    Err(e) => report.fail(&format!("wrk against {}", s.name), e),
                }
            }
        }
        if !kap.alive() || !nginx.alive() {
            bail!("a server exited during the load rounds");
        }
        self.load_rows(report, &servers);

        // Memory once the rounds' connections are closed and the server has seen them go.
        std::thread::sleep(Duration::from_secs(1));
        let requests = |name: &str| -> u64 {
            servers
                .iter()
                .filter(|s| s.name == name)
                .flat_map(|s| &s.runs)
                .map(|w| w.requests)
                .sum()
        };
        for (name, p) in [
            ("kap-practice", Some(&mut kap)),
            ("kap-practice, TLS", kap_tls.as_mut()),
        ] {
            let Some(p) = p else { continue };
            match vm_rss(p.pid()) {
                Some(rss) => report.row(
                    &format!(
                        "RSS after the load rounds, {name} ({} requests served)",
                        thousands(requests(name) as f64)
                    ),
                    format!("{:.1} MB", rss as f64 / 1e6),
                    format!("< {:.0} MB", RSS_TARGET as f64 / 1e6),
                    Some(rss < RSS_TARGET),
                ),
                None => report.fail(
                    &format!("RSS of {name}"),
                    anyhow!("no VmRSS in /proc/{}/status", p.pid()),
                ),
            }
        }
        Ok(())
    }

    /// kap-practice with the certificate, its plain listener beside; `None` when the binary
    /// does not serve TLS (its plain listener answers 200 and the TLS port stays closed).
    fn start_kap_tls(&self, cert: &Path, key: &Path) -> Result<Option<(Process, u16)>> {
        let (port, tls_port) = (tools::free_port()?, tools::free_port()?);
        // With TLS on, the public address must be https (the server refuses to start otherwise),
        // and the server may be reached by others: it shows "being set up" (503) until the
        // practice is its own and the going-live checklist is done, which this config does.
        let config =
            format!("[server]\nbase_url = \"https://localhost:{tls_port}\"\n{LIVE_PRACTICE}");
        let mut cmd = self.kap("load-tls", port, &config)?;
        cmd.env("KAP_TLS_CERT_FILE", cert)
            .env("KAP_TLS_KEY_FILE", key)
            .env("KAP_TLS_BIND", format!("127.0.0.1:{tls_port}"));
        let mut p = Process::spawn("kap-practice with TLS", &mut cmd)?;
        let url = format!("https://127.0.0.1:{tls_port}/healthz");
        let tls_ready = || {
            tools::fetch("GET", &url, &["--insecure", "--max-time", "2"], None)
                .is_ok_and(|r| r.status == 200)
        };
        let started = Instant::now();
        let mut plain_ok_since = None;
        loop {
            if tls_ready() && tools::pages_ready(port) {
                return Ok(Some((p, tls_port)));
            }
            if !p.alive() {
                bail!("kap-practice exited when given a certificate (KAP_TLS_*)");
            }
            // A plain `200` with the TLS port closed means the binary ignores the TLS settings
            // (with TLS on, the plain listener answers `/healthz` too, but the TLS port is
            // open); give it a moment before concluding so.
            if tools::status_of(port, "/healthz") == Some(200)
                && std::net::TcpStream::connect(("127.0.0.1", tls_port)).is_err()
            {
                let since = *plain_ok_since.get_or_insert_with(Instant::now);
                if since.elapsed() > Duration::from_secs(3) {
                    step("this binary does not serve TLS (KAP_TLS_* ignored)");
                    return Ok(None);
                }
            }
            if started.elapsed() > Duration::from_secs(30) {
                bail!("kap-practice with TLS did not answer {url} within 30 s");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn load_rows(&self, report: &mut Report, servers: &[Target]) {
        let c = self.o.connections;
        let ms = |w: &Wrk| format!("{:.2}", w.p99_us as f64 / 1000.0);
        let p99 = |t: &Target| {
            let runs: Vec<f64> = t.runs.iter().map(|w| w.p99_us as f64 / 1000.0).collect();
            median(&runs)
        };
        for (tls, transport) in [(false, "HTTP/1.1"), (true, "HTTPS (TLS 1.3, HTTP/1.1)")] {
            let find = |kap: bool| {
                let t = servers.iter().find(|s| {
                    s.url.starts_with("https:") == tls && s.name.starts_with("kap") == kap
                })?;
                Some((t, t.best()?))
            };
            let rps_figure =
                format!("GET / at {c} connections, {transport}: requests/s (best round)");
            let p99_figure =
                format!("GET / at {c} connections, {transport}: p99 latency (median of rounds)");
            let Some((nginx, nginx_best)) = find(false) else {
                report.row(
                    &rps_figure,
                    "not measured".into(),
                    "nginx completed no run".into(),
                    None,
                );
                continue;
            };
            let nginx_rps = format!(
                "nginx {}{}",
                thousands(nginx_best.rps()),
                nginx_best.errors_note()
            );
            let nginx_p99 = format!(
                "nginx {:.2} ms (rounds: {})",
                p99(nginx),
                join(&nginx.runs, ms)
            );
            let Some((kap, best)) = find(true) else {
                let why = if tls {
                    "not available: this binary does not serve TLS (KAP_TLS_CERT_FILE, KAP_TLS_KEY_FILE, KAP_TLS_BIND)"
                } else {
                    "not measured"
                };
                report.row(&rps_figure, why.into(), nginx_rps, None);
                report.row(&p99_figure, why.into(), nginx_p99, None);
                continue;
            };
            let ratio = best.rps() / nginx_best.rps();
            report.row(
                &rps_figure,
                format!(
                    "{} ({ratio:.2}× nginx){}",
                    thousands(best.rps()),
                    best.errors_note()
                ),
                format!("{nginx_rps}; target ≥ {RPS_TARGET}× nginx"),
                Some(ratio >= RPS_TARGET),
            );
            let kap_p99 = p99(kap);
            report.row(
                &p99_figure,
                format!("{kap_p99:.2} ms (rounds: {})", join(&kap.runs, ms)),
                format!("{nginx_p99}; target ≤ {P99_TARGET}× nginx"),
                Some(kap_p99 <= P99_TARGET * p99(nginx)),
            );
        }
    }

    /// GET / as a browser asks for it, from one server counting visits and one not, in
    /// alternating rounds of the same run: what counting costs serving.
    ///
    /// The cost is a few per cent, less than what a shared machine's speed wanders between two
    /// rounds, so each round is a pair run back to back (on first in odd rounds, off first in
    /// even ones) and the figure is the median of the pairs' ratios: a slow moment then costs
    /// one pair, not the comparison of two best rounds taken minutes apart.
    fn insights(&self, report: &mut Report) -> Result<()> {
        step("visit counting: starting kap-practice with counting on and off");
        let (mut on, on_port) = self.start_kap("insights-on", "[insights]\nenabled = true\n")?;
        let (mut off, off_port) =
            self.start_kap("insights-off", "[insights]\nenabled = false\n")?;
        let script = self.tmp.join("done.lua");
        std::fs::write(&script, DONE_HOOK)?;
        let mut servers = [
            Target::new("counting on", format!("http://127.0.0.1:{on_port}/")),
            Target::new("counting off", format!("http://127.0.0.1:{off_port}/")),
        ];
        let c = self.o.connections;
        for s in &mut servers {
            step(&format!("warm-up: {}", s.name));
            wrk_with(&script, &s.url, c, 1, &[BROWSER_AGENT])?;
        }
        for round in 1..=self.o.rounds {
            let order = if round % 2 == 1 { [0, 1] } else { [1, 0] };
            for i in order {
                let s = &mut servers[i];
                step(&format!(
                    "wrk -c{c} GET / as a browser, {}, round {round} of {}",
                    s.name, self.o.rounds
                ));
                s.runs.push(wrk_with(
                    &script,
                    &s.url,
                    c,
                    self.o.duration,
                    &[BROWSER_AGENT],
                )?);
            }
        }
        if !on.alive() || !off.alive() {
            bail!("a server exited during the rounds");
        }
        let (Some(on_best), Some(off_best)) = (servers[0].best(), servers[1].best()) else {
            bail!("no completed run");
        };
        let ratios: Vec<f64> = servers[0]
            .runs
            .iter()
            .zip(&servers[1].runs)
            .map(|(on, off)| on.rps() / off.rps())
            .collect();
        let ratio = median(&ratios);
        let pairs = ratios
            .iter()
            .map(|r| format!("{:.1}%", r * 100.0))
            .collect::<Vec<_>>()
            .join(" / ");
        report.row(
            &format!(
                "GET / at {c} connections, HTTP/1.1, as a browser: requests/s with visit counting on, as a share of off (median of the rounds' pairs)"
            ),
            format!(
                "{:.1}% (pairs: {pairs}){}",
                ratio * 100.0,
                on_best.errors_note()
            ),
            format!(
                "best rounds: on {}, off {}{}; target ≥ {:.0}%",
                thousands(on_best.rps()),
                thousands(off_best.rps()),
                off_best.errors_note(),
                INSIGHTS_TARGET * 100.0
            ),
            Some(ratio >= INSIGHTS_TARGET),
        );
        Ok(())
    }

    /// A wrk script (in the scratch folder, named `name`) that posts a valid consultation
    /// request to the kap-practice on `port`, with a form token it handed out, and counts the
    /// `303`s.
    fn post_script(&self, port: u16, name: &str) -> Result<PathBuf> {
        let form = tools::fetch(
            "GET",
            &format!("http://127.0.0.1:{port}/contact"),
            &[],
            None,
        )?;
        let token = form_token(&form.text()).context("GET /contact has no form_token value")?;
        let script = self.tmp.join(name);
        std::fs::write(
            &script,
            format!("{POST_HOOKS}wrk.body = \"{SUBMISSION_BODY}{token}\"\n{DONE_HOOK}"),
        )?;
        Ok(script)
    }

    /// Durable submissions beside fio's fsync rate, then SIGTERM and the stored count.
    fn submissions(&self, report: &mut Report) -> Result<()> {
        step("form submissions: starting kap-practice");
        let port = tools::free_port()?;
        let mut cmd = self.kap("submissions", port, SUBMISSION_CONFIG)?;
        cmd.env("KAP_MIN_FILL_SECONDS", "0");
        let mut server = Process::spawn("kap-practice (submissions)", &mut cmd)?;
        server.wait_until(Duration::from_secs(20), || {
            tools::status_of(port, "/healthz") == Some(200)
        })?;
        let data = self.tmp.join("submissions/data");
        let script = self.post_script(port, "post.lua")?;

        step("form submissions: fio fsync probe");
        let before = fsync_rate(&data)?;
        step(&format!(
            "form submissions: wrk -c{SUBMISSION_CONNECTIONS} POST /contact"
        ));
        let w = wrk(
            &script,
            &format!("http://127.0.0.1:{port}/contact"),
            SUBMISSION_CONNECTIONS,
            self.o.duration,
        )?;
        step("form submissions: fio fsync probe");
        let after = fsync_rate(&data)?;
        let accepted = u64::try_from(w.accepted).context("the POST script counted no answers")?;
        let per_sec = accepted as f64 / (w.duration_us as f64 / 1e6);
        let disk = before.max(after);
        report.row(
            "Disk fsync rate in the data folder (fio: 4 KiB write + fdatasync, one job)",
            format!("{} fsync/s", thousands(disk)),
            format!(
                "probes before / after: {} / {}",
                thousands(before),
                thousands(after)
            ),
            None,
        );
        report.row(
            &format!("Accepted submissions/s, valid `POST /contact`, {SUBMISSION_CONNECTIONS} connections, each committed before its `303`"),
            format!("{} ({:.2}× fsync/s)", thousands(per_sec), per_sec / disk),
            format!("p50 / p99 {:.2} / {:.2} ms; {} not `303`", w.p50_us as f64 / 1000.0, w.p99_us as f64 / 1000.0, w.requests.saturating_sub(accepted)),
            None,
        );

        step("form submissions: SIGTERM, then inquiries export");
        let on_term = server.stop();
        drop(server);
        let stored = count_stored(self.bin, &self.tmp.join("submissions"))?;
        let slack = u64::from(SUBMISSION_CONNECTIONS);
        report.row(
            "Requests stored after SIGTERM (`kap-practice inquiries export`) against the `303`s wrk counted",
            format!("{stored} stored{}", if on_term { "" } else { " (did not stop on SIGTERM)" }),
            format!("{accepted} `303`s; equal, or up to {slack} more (answered after wrk stopped counting)"),
            Some(on_term && stored >= accepted && stored <= accepted + slack),
        );
        Ok(())
    }
}

/// A page server under load and its runs.
struct Target {
    name: &'static str,
    url: String,
    runs: Vec<Wrk>,
}

impl Target {
    fn new(name: &'static str, url: String) -> Target {
        Target {
            name,
            url,
            runs: Vec::new(),
        }
    }

    fn best(&self) -> Option<&Wrk> {
        self.runs.iter().max_by(|a, b| a.rps().total_cmp(&b.rps()))
    }
}

/// What the `done()` hook printed.
struct Wrk {
    requests: u64,
    duration_us: u64,
    socket_errors: u64,
    status_errors: u64,
    p50_us: u64,
    p99_us: u64,
    /// `303` answers, counted by the POST script only (-1 otherwise).
    accepted: i64,
}

impl Wrk {
    fn from_json(line: &str) -> Result<Wrk> {
        let v: Value = serde_json::from_str(line).context("reading wrk's summary")?;
        let n = |key: &str| {
            v[key]
                .as_i64()
                .with_context(|| format!("wrk's summary has no {key}: {line}"))
        };
        let u = |key: &str| n(key).map(|x| x.max(0) as u64);
        Ok(Wrk {
            requests: u("requests")?,
            duration_us: u("duration_us")?,
            socket_errors: u("socket_errors")?,
            status_errors: u("status_errors")?,
            p50_us: u("p50_us")?,
            p99_us: u("p99_us")?,
            accepted: n("accepted")?,
        })
    }

    fn rps(&self) -> f64 {
        self.requests as f64 / (self.duration_us.max(1) as f64 / 1e6)
    }

    fn errors_note(&self) -> String {
        if self.socket_errors + self.status_errors == 0 {
            String::new()
        } else {
            format!(
                "; {} socket errors, {} error answers",
                self.socket_errors, self.status_errors
            )
        }
    }
}

/// One wrk run of `secs` seconds with two threads; its summary from the `done()` hook.
fn wrk(script: &Path, url: &str, connections: u32, secs: u32) -> Result<Wrk> {
    wrk_with(script, url, connections, secs, &[])
}

/// [`wrk`] with more request headers (`"Name: value"`).
fn wrk_with(
    script: &Path,
    url: &str,
    connections: u32,
    secs: u32,
    headers: &[&str],
) -> Result<Wrk> {
    let mut cmd = Command::new("wrk");
    cmd.arg(format!("-t{}", connections.min(2)))
        .arg(format!("-c{connections}"))
        .arg(format!("-d{secs}s"))
        .args(["--timeout", "5s", "-H", "Accept-Encoding: br"]);
    for h in headers {
        cmd.args(["-H", h]);
    }
    let out = tools::output(cmd.arg("-s").arg(script).arg(url))?;
    let line = out
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .with_context(|| format!("wrk printed no summary:\n{out}"))?;
    Wrk::from_json(line)
}

/// The disk's fsync rate in `dir`: fio writing 4 KiB blocks with an fdatasync after each, over
/// a 4 MiB file (the size SQLite's WAL reaches at its default checkpoint) that it writes out
/// first, so each block overwrites written data as the WAL does after a checkpoint; one job.
fn fsync_rate(dir: &Path) -> Result<f64> {
    let out = tools::output(
        Command::new("fio")
            // Before --filename: fio places only the files named after it in the directory.
            .arg(format!("--directory={}", dir.display()))
            .args([
                "--name=fsync-rate",
                "--filename=bench-fsync-probe",
                "--rw=write",
                "--bs=4k",
                "--size=4m",
                "--fdatasync=1",
                "--overwrite=1",
                "--time_based",
                "--output-format=json",
            ])
            .arg(format!("--runtime={FSYNC_PROBE_SECS}")),
    )?;
    let _ = std::fs::remove_file(dir.join("bench-fsync-probe"));
    let json: Value = serde_json::from_str(&out).context("reading fio's JSON")?;
    json["jobs"][0]["write"]["iops"]
        .as_f64()
        .context("fio's JSON has no jobs[0].write.iops")
}

/// A self-signed certificate for 127.0.0.1 and localhost, for both servers.
fn self_signed(dir: &Path) -> Result<(PathBuf, PathBuf)> {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    tools::output(
        Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
            ])
            .args(["-nodes", "-days", "2", "-subj", "/CN=localhost"])
            .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert),
    )?;
    Ok((cert, key))
}

/// Response headers: (lower-case name, value).
type Headers = Vec<(String, String)>;

/// The headers and brotli body kap-practice sends for `/`.
/// The public pages a visitor may open first that need no link from an email (the booking and
/// questionnaire pages do; the integration tests hold those to the same budget).
/// An address no page has: the not-found page's first view.
const NOT_FOUND: &str = "/no-such-page";

/// The paths of the pages `sitemap` lists on the site at `base`.
fn sitemap_paths(sitemap: &str, base: &str) -> Vec<String> {
    sitemap
        .split("<loc>")
        .skip(1)
        .filter_map(|rest| rest.split("</loc>").next())
        .filter_map(|url| url.strip_prefix(base))
        .map(|path| if path.is_empty() { "/" } else { path }.replace("&amp;", "&"))
        .collect()
}

/// What a first round trip can carry: TCP's initial window of ten segments, about 14 KB.
const FIRST_ROUND_TRIP: usize = 14 * 1024;

/// The brotli bytes of `path` and of the stylesheets that block its first paint (those linked in
/// its head; a stylesheet linked in the body blocks nothing before it).
fn first_view_bytes(base: &str, path: &str) -> Result<(usize, usize)> {
    let br = ["--header", "Accept-Encoding: br"];
    let page = tools::fetch("GET", &format!("{base}{path}"), &br, None)?;
    let html = tools::fetch("GET", &format!("{base}{path}"), &[], None)?.text();
    let mut css = 0;
    for url in blocking_stylesheets(&html) {
        let r = tools::fetch("GET", &format!("{base}{url}"), &br, None)?;
        if r.status != 200 {
            bail!("{url} (linked from {path}) answered {}", r.status);
        }
        css += r.body.len();
    }
    Ok((page.body.len(), css))
}

/// The addresses of the stylesheets linked in `html`'s head.
fn blocking_stylesheets(html: &str) -> Vec<&str> {
    let head = &html[..html.find("<body").unwrap_or(html.len())];
    head.split("<link ")
        .skip(1)
        .map(|tag| &tag[..tag.find('>').unwrap_or(tag.len())])
        .filter(|tag| tag.contains("rel=\"stylesheet\""))
        .filter_map(|tag| {
            let start = tag.find("href=\"")? + 6;
            let end = tag[start..].find('"')? + start;
            Some(&tag[start..end])
        })
        .collect()
}

fn page_as_sent(port: u16, tmp: &Path) -> Result<(Headers, Vec<u8>)> {
    let dump = tmp.join("page-headers.txt");
    let dump_arg = dump.display().to_string();
    let r = tools::fetch(
        "GET",
        &format!("http://127.0.0.1:{port}/"),
        &[
            "--header",
            "Accept-Encoding: br",
            "--dump-header",
            &dump_arg,
        ],
        None,
    )?;
    if r.status != 200 {
        bail!("GET / answered {}", r.status);
    }
    let text = std::fs::read_to_string(&dump)?;
    let headers = text
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Ok((headers, r.body))
}

/// nginx serving `body` with kap-practice's headers on a plain and a TLS port.
fn start_nginx(
    tmp: &Path,
    headers: &[(String, String)],
    body: &[u8],
    cert: &Path,
    key: &Path,
) -> Result<(Process, u16, u16)> {
    // What either server sets itself; everything else kap-practice sent, nginx sends too.
    const OWN: &[&str] = &[
        "date",
        "content-length",
        "content-type",
        "content-encoding",
        "etag",
        "last-modified",
        "x-request-id",
        "connection",
        "transfer-encoding",
        "keep-alive",
        "server",
        "accept-ranges",
    ];
    let dir = tmp.join("nginx");
    std::fs::create_dir_all(dir.join("www"))?;
    std::fs::write(dir.join("www/index.html.br"), body)?;
    let mut location = String::from(
        "location = / {\n            rewrite ^ /index.html.br break;\n            types { }\n            \
         default_type \"text/html; charset=utf-8\";\n            add_header Content-Encoding br;\n",
    );
    for (name, value) in headers {
        if !OWN.contains(&name.as_str()) && !value.contains(['"', '$', '\\']) {
            let _ = writeln!(location, "            add_header {name} \"{value}\";");
        }
    }
    location.push_str("            add_header X-Request-Id $request_id;\n        }");
    let (port, tls_port) = (tools::free_port()?, tools::free_port()?);
    let user = if tools::is_root() { "user root;\n" } else { "" };
    let (d, c, k) = (dir.display(), cert.display(), key.display());
    let conf = format!(
        "# Written by cargo xtask bench.
{user}worker_processes auto;
daemon off;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    server_tokens off;
    sendfile on;
    tcp_nodelay on;
    keepalive_requests 1000000;
    client_body_temp_path {d}/client_body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    root {d}/www;
    etag on;
    server {{
        listen 127.0.0.1:{port};
        {location}
    }}
    server {{
        listen 127.0.0.1:{tls_port} ssl;
        ssl_certificate {c};
        ssl_certificate_key {k};
        {location}
    }}
}}
"
    );
    let conf_path = dir.join("nginx.conf");
    std::fs::write(&conf_path, conf)?;
    let mut cmd = Command::new("/usr/sbin/nginx");
    cmd.arg("-p")
        .arg(&dir)
        .arg("-c")
        .arg(&conf_path)
        .arg("-e")
        .arg(dir.join("error.log"));
    // A config nginx refuses shows its own words here rather than as a server that exits.
    let mut check = Command::new("/usr/sbin/nginx");
    check.args(cmd.get_args()).args(["-t", "-q"]);
    tools::output(&mut check).context("nginx refuses its config")?;
    let mut p = Process::spawn("nginx", cmd.stdout(Stdio::null()).stderr(Stdio::null()))?;
    p.wait_until(Duration::from_secs(20), || {
        tools::status_of(port, "/") == Some(200)
    })?;
    let served = tools::fetch(
        "GET",
        &format!("http://127.0.0.1:{port}/"),
        &["--header", "Accept-Encoding: br"],
        None,
    )?;
    if served.body != body {
        bail!("nginx does not serve the bytes kap-practice sent for /");
    }
    Ok((p, port, tls_port))
}

/// The `value` of the form's hidden `form_token` input, when it is safe in a Lua string.
fn form_token(html: &str) -> Option<String> {
    let at = html.find("name=\"form_token\"")?;
    let start = html[..at].rfind('<')?;
    let tag = &html[start..start + html[start..].find('>')?];
    let value = &tag[tag.find("value=\"")? + 7..];
    let value = &value[..value.find('"')?];
    let safe = value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    (safe && !value.is_empty()).then(|| value.to_string())
}

/// `kap-practice inquiries export` on the stopped server's data: the requests it printed.
fn count_stored(bin: &Path, dir: &Path) -> Result<u64> {
    let mut cmd = Command::new(bin);
    for var in KAP_ENV {
        cmd.env_remove(var);
    }
    let out = tools::output(
        cmd.args(["inquiries", "export", "--format", "jsonl"])
            .arg("--config")
            .arg(dir.join("config.toml"))
            .arg("--data-dir")
            .arg(dir.join("data")),
    )?;
    Ok(out.lines().filter(|l| !l.trim().is_empty()).count() as u64)
}

/// Lighthouse's total byte weight of `/` and when it ran, from the newest report
/// `cargo xtask lighthouse` left in target/lighthouse/.
fn lighthouse_weight() -> Option<(f64, String)> {
    let dir = tools::target_dir().join("lighthouse");
    let newest = std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .filter(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.starts_with("home-") && name.ends_with(".report.json")
        })
        .max_by_key(|e| e.metadata().and_then(|m| m.modified()).ok())?;
    let report: Value = serde_json::from_str(&std::fs::read_to_string(newest.path()).ok()?).ok()?;
    let bytes = report["audits"]["total-byte-weight"]["numericValue"].as_f64()?;
    Some((
        bytes,
        report["fetchTime"].as_str().unwrap_or("?").to_string(),
    ))
}

fn vm_rss(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpu
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|m| m.trim_start_matches([' ', '\t', ':']).to_string())
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = cpu.lines().filter(|l| l.starts_with("processor")).count();
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!("{model}, {cores} cores, Linux {}", kernel.trim())
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

impl Report {
    fn render(&self, o: &Options) -> String {
        let mut s = String::new();
        let date = tools::output(Command::new("date").arg("-u")).unwrap_or_default();
        let _ = writeln!(
            s,
            "# Benchmarks\n\n\
             Written by `cargo xtask bench` (xtask/src/bench.rs); do not edit by hand. nginx serving \
             the same bytes is the reference for the server's own cost, not a race; the disk's fsync \
             rate is the reference for durable form submissions. On a shared machine the figures \
             are indicative.\n\n\
             | | |\n| --- | --- |\n\
             | Machine | {} |\n| Date | {} |\n| Command | `{}` |\n\
             | Load average before / after | {} / {} |\n\n\
             | Figure | kap-practice | Reference / target | |\n| --- | --- | --- | --- |",
            machine(),
            date.trim(),
            self.command,
            self.load_before,
            self.load_after,
        );
        for r in &self.rows {
            let mark = match r.met {
                Some(true) => "✓",
                Some(false) => "✗",
                None => "",
            };
            let _ = writeln!(
                s,
                "| {} | {} | {} | {mark} |",
                r.figure, r.value, r.reference
            );
        }
        let _ = write!(
            s,
            "\n## How it was measured\n\n\
             - The release build (or the binary named with `--binary`), each server on loopback \
             with a data folder of its own and no `KAP_*` settings from the environment; wrk, \
             nginx, fio, openssl and curl are Debian's.\n\
             - First view: curl fetches `/` and every `/static/` asset it links with \
             `Accept-Encoding: br` and the bodies are added up; Lighthouse's figure (when a report \
             is there) also counts headers. Each public page's first view (the pages the sitemap lists, with a page of \
             the clinician's own, `/fees`, added in the inbox first, and the not-found page) is \
             the page and the stylesheets linked in its head, which block its first paint (one linked in the body \
             blocks none), with `Accept-Encoding: br`, against 14 KiB, what TCP's initial window \
             of ten segments carries in the first round trip.\n\
             - Cold start: the time from spawning the binary to the first `200` from `/healthz`, \
             polled every millisecond, {COLD_START_RUNS} starts, each on a fresh data folder; \
             then on to `\"pages\":\"ready\"` there, when the brotli variants made after the \
             start are in. The first view and the load rounds begin only then.\n\
             - Load: `wrk -t2 -c{c} -d{d}s -H 'Accept-Encoding: br'` on `/`, with a Lua `done()` \
             hook printing wrk's summary as JSON. nginx serves the body kap-practice sent for `/` \
             with the same headers, on a plain and a TLS port; the TLS servers share one \
             self-signed certificate (`openssl req -x509`, P-256). After a 1 s warm-up each, the \
             servers take turns (rounds: {r}); each keeps its best requests/s and the median of \
             its p99s.\n\
             - Memory: `VmRSS` from `/proc/<pid>/status` once the load rounds are over.\n\
             - Visit counting: two servers, counting on and off, GET / with a browser's user \
             agent; each round is a pair run back to back (on first in odd rounds, off first in \
             even ones), and the figure is the median of the pairs' ratios.\n\
             - Submissions: wrk posts a valid consultation request (one form token, rate limit \
             lifted, minimum fill time 0) over {SUBMISSION_CONNECTIONS} connections for {d} s and \
             counts the `303` answers. fio measures the disk's fsync rate in the server's data \
             folder before and after (`--rw=write --bs=4k --size=4m --fdatasync=1 --overwrite=1`, \
             {FSYNC_PROBE_SECS} s); the better probe is the reference. The server then gets \
             SIGTERM and `kap-practice inquiries export` counts the stored requests.\n\
             - Backup cost: a server's database is filled with {backup_requests} consultation \
             requests by posting the form; then, in alternating rounds, `GET /` ({c} \
             connections) and valid form posts ({SUBMISSION_CONNECTIONS} connections) run for \
             {d} s with no backup, and with `kap-practice backup now` (the nightly backup's own \
             code: `VACUUM INTO`, gzip, sealed under the backup key, to a local directory) run \
             back to back on the same data directory for the whole run. The figure is the \
             median p99 of the rounds.\n",
            c = o.connections,
            d = o.duration,
            r = o.rounds,
            backup_requests = thousands(backup_cost::REQUESTS as f64),
        );
        s
    }
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
    fn finds_the_stylesheets_that_block_the_first_paint() {
        let html = "<head><link rel=\"icon\" href=\"/i.svg\"><link rel=\"stylesheet\" href=\"/static/a.css\">\
                    <style>p{}</style></head><body><p>x</p><link rel=\"stylesheet\" href=\"/static/b.css\"></body>";
        assert_eq!(blocking_stylesheets(html), ["/static/a.css"]);
        assert!(blocking_stylesheets("<body><link rel=\"stylesheet\" href=\"/b.css\">").is_empty());
    }

    #[test]
    fn reads_the_pages_of_the_sitemap() {
        let base = "http://127.0.0.1:8080";
        let sitemap = "<?xml version=\"1.0\"?>\n<urlset>\n<url><loc>http://127.0.0.1:8080/</loc></url>\n\
                       <url><loc>http://127.0.0.1:8080/contact</loc></url>\n<url><loc>http://127.0.0.1:8080/fees</loc></url>\n\
                       <url><loc>https://elsewhere.example/x</loc></url>\n</urlset>\n";
        assert_eq!(sitemap_paths(sitemap, base), ["/", "/contact", "/fees"]);
        assert!(sitemap_paths("<urlset></urlset>", base).is_empty());
    }

    #[test]
    fn reads_the_form_token() {
        let html = r#"<form><input type="hidden" name="form_token" value="abc.DEF-1_2"><input name="x" value="y"></form>"#;
        assert_eq!(form_token(html).as_deref(), Some("abc.DEF-1_2"));
        let unsafe_value = r#"<input name="form_token" value="a\"b">"#;
        assert_eq!(form_token(unsafe_value), None);
        assert_eq!(form_token("<input name=\"other\" value=\"v\">"), None);
    }

    #[test]
    fn reads_the_done_hook_summary() {
        let w = Wrk::from_json(
            r#"{"requests":1000,"duration_us":2000000,"socket_errors":0,"status_errors":0,"p50_us":210,"p99_us":900,"accepted":-1}"#,
        )
        .expect("the hook's JSON");
        assert!(Wrk::from_json(r#"{"requests":1}"#).is_err());
        assert_eq!(w.rps(), 500.0);
        assert_eq!(w.errors_note(), "");
    }

    #[test]
    fn formats_figures() {
        assert_eq!(thousands(1234567.4), "1,234,567");
        assert_eq!(thousands(999.0), "999");
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
    }
}
