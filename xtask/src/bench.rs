//! `cargo xtask bench`: measures the release server beside nginx serving the same bytes, and how
//! many contact-form submissions per second it stores durably beside the disk's own fsync rate.
//!
//! Builds the release binary, installs nginx and wrk when missing, then measures on loopback:
//! cold start (spawn → first `200` from `/healthz`, median of 5), what a first visit to `/`
//! downloads with brotli, requests/s and latency under wrk beside nginx serving the same
//! precompressed body with the same headers, resident memory idle and after load, and the
//! binary's size. Then the durable form submissions: the disk's fsync rate (4 KiB write +
//! fdatasync, one thread) in the server's data directory, accepted `POST /contact` submissions
//! per second and their latency under wrk (each committed, `synchronous=FULL`, before its answer),
//! probes and runs taking turns, and after a SIGTERM the stored requests counted against the
//! `303`s wrk saw. Prints a Markdown report and writes it to `docs/benchmarks.md`.
//!
//! Every process it starts runs in a process group of its own and is stopped when its guard is
//! dropped, errors included. A missed target is marked ✗ in the report and is not an error; the
//! task fails only when something could not be measured.
//!
//! Options: `--duration SECS` (each measured wrk run; default 10), `--rounds N` (measure each
//! page server N times, taking turns, and keep each one's best run, so that a burst of other work
//! on a shared machine does not decide the comparison; default 5), `--only pages|submissions`
//! (one part only; the report, also written, then holds that part only), `--no-write` (print
//! only).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::tools;

const COLD_START_RUNS: usize = 5;
const COLD_START_TARGET_MS: f64 = 300.0;
const PAGE_WEIGHT_TARGET: u64 = 30_000;
const JS_TARGET: u64 = 3_000;
const THROUGHPUT_TARGET: f64 = 1.0;
const RSS_TARGET: u64 = 30_000_000;
const RSS_MIN_REQUESTS: u64 = 100_000;
/// Seconds between the end of a round and reading memory: the load is over, its connections
/// closed.
const RSS_SETTLE_SECS: u64 = 2;
const WARMUP_SECS: u64 = 2;
const CONNECTIONS: [u32; 2] = [64, 1000];
const FD_LIMIT: u64 = 65536;

/// Connections for the form submissions: a busy moment, and far more than a practice ever sees.
const SUBMISSION_CONNECTIONS: [u32; 2] = [16, 64];
/// Accepted submissions/s as a share of the disk's fsync/s.
const SUBMISSION_TARGET: f64 = 0.8;
/// Each fsync probe runs this long.
const FSYNC_PROBE_SECS: u64 = 5;
/// The fsync probe's block, and the file it cycles through: the size SQLite's WAL reaches at its
/// default checkpoint (1000 pages of 4 KiB) and then overwrites from the start.
const PROBE_BLOCK: usize = 4096;
const PROBE_FILE_BYTES: u64 = 1000 * 4096;
/// The submissions server's config: a rate limit that never refuses.
const SUBMISSION_CONFIG: &str = "[contact_form]\nrate_limit_per_hour = 4000000000\n";
/// A valid consultation request, as the form sends it; the form token follows.
const SUBMISSION_BODY: &str = "name=Bench+Person&email=bench%40example.com&phone=&contact_method=email\
     &state=CA&age_group=adult&message=&referral_source=&consent=yes&website=&form_token=";
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
    "RUST_LOG",
];

/// Raises the open-file limit as far as allowed, then runs the given program: `sh -c RAISE prog args…`.
const RAISE_FD_LIMIT: &str =
    "ulimit -n 65536 2>/dev/null || ulimit -n \"$(ulimit -Hn)\" 2>/dev/null; exec \"$0\" \"$@\"";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Part {
    Pages,
    Submissions,
}

pub fn run(args: &[String]) -> Result<(), String> {
    let mut duration = 10u64;
    let mut write = true;
    let mut rounds = 5u32;
    let mut only = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--duration" => {
                duration = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .filter(|d| *d > 0)
                    .ok_or("--duration needs a whole number of seconds")?;
            }
            "--no-write" => write = false,
            "--rounds" => {
                rounds = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .filter(|r| *r > 0)
                    .ok_or("--rounds needs a whole number above 0")?;
            }
            "--only" => {
                only = Some(match it.next().map(String::as_str) {
                    Some("pages") => Part::Pages,
                    Some("submissions") => Part::Submissions,
                    _ => return Err("--only needs pages or submissions".into()),
                });
            }
            other => {
                return Err(format!(
                    "unknown option {other}; options: --duration SECS, --rounds N, \
                     --only pages|submissions, --no-write"
                ));
            }
        }
    }
    let pages = only != Some(Part::Submissions);
    let submissions = only != Some(Part::Pages);
    let command = std::iter::once("cargo xtask bench".to_string())
        .chain(args.iter().cloned())
        .collect::<Vec<_>>()
        .join(" ");

    let root = tools::root();
    step("building the release binary");
    tools::run(
        Command::new("cargo")
            .args(["build", "--release", "--bin", "kap-practice"])
            .current_dir(&root),
    )?;
    let mut needs = vec![("wrk", "wrk")];
    if pages {
        needs.push(("nginx", "nginx"));
    }
    tools::ensure_apt(&needs)?;
    let bin = root.join("target/release/kap-practice");
    let wrk_bin = find_program("wrk", &["/usr/bin/wrk"])?;

    let tmp = TempDir::new()?;
    std::fs::write(tmp.0.join("empty.toml"), "").map_err(|e| format!("temp config: {e}"))?;
    let mut report = Report {
        pages,
        ..Report::default()
    };
    let load = Load {
        wrk: &wrk_bin,
        tmp: &tmp.0,
        hz: clock_ticks(),
    };
    if pages {
        let nginx = find_program("nginx", &["/usr/sbin/nginx"])?;
        measure_pages(&mut report, &bin, &nginx, &load, duration, rounds)?;
    }
    if submissions {
        match measure_submissions(&bin, &load, duration) {
            Ok(s) => report.submissions = Some(s),
            Err(e) => report.fail("durable form submissions", e),
        }
    }

    report.binary_size = std::fs::metadata(&bin).ok().map(|m| m.len());
    report.machine = machine();
    report.date = tools::output(Command::new("date").arg("-u"))
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    report.command = command;
    report.duration = duration;
    report.rounds = rounds;

    let text = report.render();
    println!("{text}");
    if write {
        let path = root.join("docs/benchmarks.md");
        std::fs::create_dir_all(root.join("docs")).map_err(|e| format!("docs/: {e}"))?;
        std::fs::write(&path, &text).map_err(|e| format!("{}: {e}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    if report.failures.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "could not measure: {}",
            report
                .failures
                .iter()
                .map(|(what, why)| format!("{what} ({why})"))
                .collect::<Vec<_>>()
                .join("; ")
        ))
    }
}

/// The public page: cold start, first visit, load beside nginx, memory.
fn measure_pages(
    report: &mut Report,
    bin: &Path,
    nginx: &Path,
    load: &Load,
    duration: u64,
    rounds: u32,
) -> Result<(), String> {
    let tmp = load.tmp;
    step("cold start of kap-practice");
    let kap_cold = |port: u16, i: usize| {
        kap_command(
            bin,
            tmp,
            port,
            &format!("cold-{i}"),
            "empty.toml",
            None,
            false,
        )
    };
    match cold_starts("kap-practice", kap_cold, "/healthz") {
        Ok(ms) => report.cold_kap = Some(ms),
        Err(e) => report.fail("cold start of kap-practice", e),
    }

    step("first visit to /");
    let probe_port = free_port()?;
    let probe = start_server(
        "kap-practice",
        kap_command(bin, tmp, probe_port, "probe", "empty.toml", None, false),
        probe_port,
        "/healthz",
    )?;
    report.visit = Some(first_visit(probe_port)?);
    drop(probe);

    // The servers under load: nginx gets the very bytes the first kap-practice sends for `/`.
    let kap_port = free_port()?;
    let kap_cmd = kap_command(bin, tmp, kap_port, "load-info", "empty.toml", None, true)?;
    let warn_port = free_port()?;
    let warn_cmd = kap_command(
        bin,
        tmp,
        warn_port,
        "load-warn",
        "empty.toml",
        Some("warn"),
        true,
    )?;
    let mut servers = vec![
        Server::start(ServerKind::KapInfo, kap_cmd, kap_port, "/healthz")?,
        Server::start(ServerKind::KapWarn, warn_cmd, warn_port, "/healthz")?,
    ];
    let page = http_get(
        kap_port,
        "/",
        &[("Accept-Encoding", "br")],
        Duration::from_secs(5),
    )?;

    step("cold start of nginx");
    let nginx_cold = |port: u16, i: usize| {
        nginx_command(nginx, &tmp.join(format!("nginx-cold-{i}")), port, &page)
    };
    match cold_starts("nginx", nginx_cold, "/") {
        Ok(ms) => report.cold_nginx = Some(ms),
        Err(e) => report.fail("cold start of nginx", e),
    }

    let nginx_port = free_port()?;
    let nginx_cmd = nginx_command(nginx, &tmp.join("nginx"), nginx_port, &page)?;
    servers.insert(
        0,
        Server::start(ServerKind::Nginx, nginx_cmd, nginx_port, "/")?,
    );
    check_same_bytes(&servers, &page)?;
    report.fd_limits = servers
        .iter()
        .map(|s| {
            (
                s.kind.label(),
                fd_limit(s.proc.pid()).unwrap_or_else(|| "?".into()),
            )
        })
        .collect();
    for s in &mut servers {
        s.rss_idle = rss(s.proc.pid());
    }

    for conns in CONNECTIONS {
        // Rounds take turns (nginx, kap-practice, kap-practice, nginx, …) so that a burst of
        // other work on the machine does not fall on one server only; the best run counts.
        let mut best: Vec<Option<Wrk>> = vec![None; servers.len()];
        let mut p99s: Vec<Vec<f64>> = vec![Vec::new(); servers.len()];
        for round in 1..=rounds {
            for (i, s) in servers.iter_mut().enumerate() {
                let what = format!("wrk -c{conns} against {}", s.kind.label());
                step(&if rounds > 1 {
                    format!("{what} (round {round} of {rounds})")
                } else {
                    what.clone()
                });
                let group = s.proc.pid();
                let warmup = load.run(s.port, conns, WARMUP_SECS, false, group);
                if let Ok(w) = &warmup {
                    s.requests += w.requests;
                }
                match warmup.and_then(|_| load.run(s.port, conns, duration, true, group)) {
                    Ok(w) => {
                        s.requests += w.requests;
                        p99s[i].push(w.p99_ms);
                        if best[i].as_ref().is_none_or(|b| w.rps > b.rps) {
                            best[i] = Some(w);
                        }
                    }
                    Err(e) => report.fail(&what, e),
                }
                if !s.proc.alive() {
                    report.fail(
                        s.kind.label(),
                        "the server exited during the load run".into(),
                    );
                }
            }
        }
        // Each server's memory is read once the round's connections have been closed and the
        // server has had a moment to see them go.
        std::thread::sleep(Duration::from_secs(RSS_SETTLE_SECS));
        for ((s, w), p99) in servers.iter_mut().zip(best).zip(p99s) {
            if let Some(w) = w {
                report.runs.push((s.kind, conns, w));
            }
            if !p99.is_empty() {
                report.p99_rounds.push((s.kind, conns, p99));
            }
            let group = s.proc.pid();
            let rss = if s.kind == ServerKind::Nginx {
                Some(group_rss(group))
            } else {
                rss(group)
            };
            s.after
                .push((format!("{conns}-connection round"), s.requests, rss));
        }
    }
    for s in &mut servers {
        if s.kind != ServerKind::Nginx && s.requests < RSS_MIN_REQUESTS {
            for _ in 0..5 {
                match load.run(s.port, 64, 5, false, s.proc.pid()) {
                    Ok(w) => s.requests += w.requests,
                    Err(e) => {
                        report.fail("extra load for the memory figure", e);
                        break;
                    }
                }
                if s.requests >= RSS_MIN_REQUESTS {
                    break;
                }
            }
            s.after
                .push(("extra load".into(), s.requests, rss(s.proc.pid())));
        }
        report.memory.push(Memory {
            kind: s.kind,
            idle: s.rss_idle,
            after: s.after.clone(),
            peak: hwm(s.proc.pid()),
        });
    }
    drop(servers);
    Ok(())
}

fn step(what: &str) {
    eprintln!("bench: {what}");
}

fn find_program(name: &str, fallbacks: &[&str]) -> Result<PathBuf, String> {
    if let Ok(p) = tools::output(Command::new("sh").args(["-c", &format!("command -v {name}")])) {
        let p = p.trim();
        if !p.is_empty() {
            return Ok(PathBuf::from(p));
        }
    }
    fallbacks
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .ok_or_else(|| format!("{name} is not installed"))
}

// ---------------------------------------------------------------------------------------------
// Processes and temporary files

/// A started process, in a process group of its own; dropping it stops the whole group.
struct Proc {
    name: String,
    child: Child,
}

impl Proc {
    fn spawn(name: &str, cmd: &mut Command) -> Result<Proc, String> {
        cmd.process_group(0).stdin(Stdio::null());
        let child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {name}: {e}"))?;
        Ok(Proc {
            name: name.to_string(),
            child,
        })
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Proc {
    /// Sends SIGTERM to the group and waits up to 5 s for the leader, then SIGKILL. True when
    /// it stopped on SIGTERM (or had already exited).
    fn stop(&mut self) -> bool {
        // Signal the group only while its leader is unreaped, so the id cannot have been reused.
        if !self.alive() {
            return true;
        }
        let group = format!("-{}", self.pid());
        let signal = |sig: &str| {
            let _ = Command::new("kill")
                .args([sig, "--", &group])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        };
        signal("-TERM");
        let until = Instant::now() + Duration::from_secs(5);
        while Instant::now() < until {
            if !self.alive() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        eprintln!("bench: {} did not stop on SIGTERM; killing it", self.name);
        signal("-KILL");
        let _ = self.child.wait();
        false
    }

    /// Waits for the process to exit by itself; stops it (see `stop`) after `timeout`.
    fn wait_within(&mut self, timeout: Duration) -> Result<std::process::ExitStatus, String> {
        let until = Instant::now() + timeout;
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => return Ok(status),
                Ok(None) if Instant::now() > until => {
                    self.stop();
                    return Err(format!("{} did not finish within {timeout:?}", self.name));
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(10)),
                Err(e) => return Err(format!("{}: {e}", self.name)),
            }
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A temporary folder, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Result<TempDir, String> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let dir = std::env::temp_dir().join(format!("kap-bench-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        Ok(TempDir(dir))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free port: {e}"))
}

/// The command that runs kap-practice on `port` with the data directory `data` and the config
/// file `config`, both in `tmp`; `raise_fds` starts it through a shell that raises the open-file
/// limit. Standard output and error go to /dev/null.
fn kap_command(
    bin: &Path,
    tmp: &Path,
    port: u16,
    data: &str,
    config: &str,
    rust_log: Option<&str>,
    raise_fds: bool,
) -> Result<Command, String> {
    let args = [
        "serve".to_string(),
        "--bind".to_string(),
        format!("127.0.0.1:{port}"),
        "--data-dir".to_string(),
        tmp.join(data).display().to_string(),
        "--config".to_string(),
        tmp.join(config).display().to_string(),
    ];
    let mut cmd = if raise_fds {
        let mut c = Command::new("sh");
        c.arg("-c").arg(RAISE_FD_LIMIT).arg(bin).args(&args);
        c
    } else {
        let mut c = Command::new(bin);
        c.args(&args);
        c
    };
    // The environment must not change the server's settings behind the report's back.
    for var in KAP_ENV {
        cmd.env_remove(var);
    }
    if let Some(level) = rust_log {
        cmd.env("RUST_LOG", level);
    }
    cmd.stdout(Stdio::null()).stderr(Stdio::null());
    Ok(cmd)
}

/// The headers kap-practice sends with `/` that nginx is told to send too, so both answer with
/// the same bytes: everything but what either server sets itself.
fn mirrored_headers(page: &HttpResponse) -> Vec<(String, String)> {
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
    page.headers
        .iter()
        .filter(|(n, v)| !OWN.contains(&n.as_str()) && !v.contains(['"', '$', '\\']))
        .cloned()
        .collect()
}

/// Writes nginx's docroot and config under `dir` and returns the command that runs it in the
/// foreground with the open-file limit raised.
fn nginx_command(
    nginx: &Path,
    dir: &Path,
    port: u16,
    page: &HttpResponse,
) -> Result<Command, String> {
    let io = |e: std::io::Error| format!("{}: {e}", dir.display());
    std::fs::create_dir_all(dir.join("www")).map_err(io)?;
    std::fs::write(dir.join("www/index.html.br"), &page.body).map_err(io)?;
    let mut headers = String::new();
    for (name, value) in mirrored_headers(page) {
        let _ = writeln!(headers, "            add_header {name} \"{value}\";");
    }
    let user = if is_root() { "user root;\n" } else { "" };
    let d = dir.display();
    let conf = format!(
        r#"# Written by cargo xtask bench.
{user}worker_processes auto;
worker_rlimit_nofile {FD_LIMIT};
daemon off;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{
    worker_connections 4096;
}}
http {{
    access_log off;
    server_tokens off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_requests 1000000;
    open_file_cache max=16;
    client_body_temp_path {d}/client_body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    server {{
        listen 127.0.0.1:{port} backlog=1024;
        root {d}/www;
        location = / {{
            rewrite ^ /index.html.br break;
            types {{ }}
            default_type "text/html; charset=utf-8";
            etag on;
            add_header Content-Encoding br;
{headers}            add_header X-Request-Id $request_id;
        }}
    }}
}}
"#
    );
    std::fs::write(dir.join("nginx.conf"), conf).map_err(io)?;
    // A config nginx refuses shows its own words here rather than as a server that exits.
    let check = Command::new(nginx)
        .arg("-t")
        .arg("-q")
        .arg("-p")
        .arg(dir)
        .arg("-c")
        .arg(dir.join("nginx.conf"))
        .arg("-e")
        .arg(dir.join("error.log"))
        .output()
        .map_err(|e| format!("cannot run {}: {e}", nginx.display()))?;
    if !check.status.success() {
        return Err(format!(
            "nginx refuses its config: {}",
            String::from_utf8_lossy(&check.stderr).trim()
        ));
    }
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(RAISE_FD_LIMIT)
        .arg(nginx)
        .arg("-p")
        .arg(dir)
        .arg("-c")
        .arg(dir.join("nginx.conf"))
        .arg("-e")
        .arg(dir.join("error.log"))
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    Ok(cmd)
}

fn is_root() -> bool {
    tools::output(Command::new("id").arg("-u"))
        .map(|s| s.trim() == "0")
        .unwrap_or(false)
}

/// Starts a server and waits for its first successful answer on `ready`.
fn start_server(
    name: &str,
    cmd: Result<Command, String>,
    port: u16,
    ready: &str,
) -> Result<Proc, String> {
    let mut cmd = cmd?;
    let mut p = Proc::spawn(name, &mut cmd)?;
    wait_ready(&mut p, port, ready, Duration::from_secs(20))?;
    Ok(p)
}

/// Polls `GET path` every millisecond until it answers 200.
fn wait_ready(p: &mut Proc, port: u16, path: &str, timeout: Duration) -> Result<(), String> {
    let started = Instant::now();
    loop {
        if let Ok(r) = http_get(port, path, &[], Duration::from_secs(2))
            && r.status == 200
        {
            return Ok(());
        }
        if !p.alive() {
            return Err(format!("{} exited before answering {path}", p.name));
        }
        if started.elapsed() > timeout {
            return Err(format!(
                "{} did not answer {path} within {timeout:?}",
                p.name
            ));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Milliseconds from spawn to the first 200 on `ready`, once per run.
fn cold_starts(
    name: &str,
    make: impl Fn(u16, usize) -> Result<Command, String>,
    ready: &str,
) -> Result<Vec<f64>, String> {
    let mut times = Vec::new();
    for i in 0..COLD_START_RUNS {
        let port = free_port()?;
        let mut cmd = make(port, i)?;
        let started = Instant::now();
        let mut p = Proc::spawn(name, &mut cmd)?;
        wait_ready(&mut p, port, ready, Duration::from_secs(20))?;
        times.push(started.elapsed().as_secs_f64() * 1000.0);
        drop(p);
    }
    Ok(times)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ServerKind {
    Nginx,
    KapInfo,
    KapWarn,
}

impl ServerKind {
    fn label(self) -> &'static str {
        match self {
            ServerKind::Nginx => "nginx",
            ServerKind::KapInfo => "kap-practice, default logging (stderr → /dev/null)",
            ServerKind::KapWarn => "kap-practice, RUST_LOG=warn",
        }
    }

    /// The label without the program's name, for rows that are all about kap-practice.
    fn variant(self) -> &'static str {
        self.label().trim_start_matches("kap-practice, ")
    }
}

struct Server {
    kind: ServerKind,
    proc: Proc,
    port: u16,
    requests: u64,
    rss_idle: Option<u64>,
    /// `(after what, requests served so far, VmRSS)`; nginx's summed over its workers.
    after: Vec<(String, u64, Option<u64>)>,
}

impl Server {
    fn start(kind: ServerKind, cmd: Command, port: u16, ready: &str) -> Result<Server, String> {
        let proc = start_server(kind.label(), Ok(cmd), port, ready)?;
        Ok(Server {
            kind,
            proc,
            port,
            requests: 0,
            rss_idle: None,
            after: Vec::new(),
        })
    }
}

/// Every server must answer `/` brotli-encoded with an ETag, and nginx with the very body
/// kap-practice sent. (Each kap-practice writes its own address into the page, so their bodies
/// differ by a few bytes.)
fn check_same_bytes(servers: &[Server], page: &HttpResponse) -> Result<(), String> {
    for s in servers {
        let r = http_get(
            s.port,
            "/",
            &[("Accept-Encoding", "br")],
            Duration::from_secs(5),
        )?;
        let problem = if r.status != 200 {
            Some(format!("status {}", r.status))
        } else if r.header("content-encoding") != Some("br") {
            Some("no Content-Encoding: br".into())
        } else if r.header("etag").is_none() {
            Some("no ETag".into())
        } else if r.header("content-type") != page.header("content-type") {
            Some(format!("Content-Type {:?}", r.header("content-type")))
        } else if s.kind == ServerKind::Nginx && r.body != page.body {
            Some("a different body from kap-practice's".into())
        } else {
            None
        };
        if let Some(p) = problem {
            return Err(format!("{} answers / with {p}", s.kind.label()));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// /proc

fn status_field(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

fn rss(pid: u32) -> Option<u64> {
    status_field(pid, "VmRSS:")
}

fn hwm(pid: u32) -> Option<u64> {
    status_field(pid, "VmHWM:")
}

/// A process's state, process group and CPU time (user + system, in clock ticks).
fn proc_stat(pid: u32) -> Option<(char, u32, u64)> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised name: state ppid pgrp … utime (12th) stime (13th).
    let rest: Vec<&str> = s[s.rfind(')')? + 1..].split_whitespace().collect();
    let state = rest.first()?.chars().next()?;
    let pgrp = rest.get(2)?.parse().ok()?;
    let utime: u64 = rest.get(11)?.parse().ok()?;
    let stime: u64 = rest.get(12)?.parse().ok()?;
    Some((state, pgrp, utime + stime))
}

/// The processes of a process group.
fn group_members(pgid: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| proc_stat(*pid).is_some_and(|(_, g, _)| g == pgid))
        .collect()
}

/// CPU time used by a process group's live processes, in clock ticks.
fn group_cpu(pgid: u32) -> u64 {
    group_members(pgid)
        .into_iter()
        .filter_map(proc_stat)
        .map(|(_, _, t)| t)
        .sum()
}

/// CPU time the whole machine spent busy (steal included), in clock ticks, from /proc/stat.
fn machine_busy() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest time is counted in user).
    Some(v.first()? + v.get(1)? + v.get(2)? + v.get(5)? + v.get(6)? + v.get(7).unwrap_or(&0))
}

fn clock_ticks() -> u64 {
    tools::output(Command::new("getconf").arg("CLK_TCK"))
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100)
}

/// Resident memory summed over a process group (nginx's master and workers).
fn group_rss(pgid: u32) -> u64 {
    group_members(pgid).into_iter().filter_map(rss).sum()
}

fn fd_limit(pid: u32) -> Option<String> {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3).map(str::to_string)
}

fn machine() -> Machine {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let kernel = tools::output(Command::new("uname").args(["-sr"]))
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".into());
    Machine { cpu, cores, kernel }
}

// ---------------------------------------------------------------------------------------------
// A small HTTP/1.1 client: one request per connection, exact bytes.

#[derive(Clone, Debug)]
struct HttpResponse {
    status: u16,
    /// Names in lower case, in the order received.
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl HttpResponse {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

fn http_get(
    port: u16,
    path: &str,
    headers: &[(&str, &str)],
    timeout: Duration,
) -> Result<HttpResponse, String> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream =
        TcpStream::connect_timeout(&addr, timeout).map_err(|e| format!("connect {addr}: {e}"))?;
    stream.set_read_timeout(Some(timeout)).ok();
    stream.set_write_timeout(Some(timeout)).ok();
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n");
    for (n, v) in headers {
        let _ = write!(request, "{n}: {v}\r\n");
    }
    request.push_str("Connection: close\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .map_err(|e| format!("GET {path}: {e}"))?;
    let mut raw = Vec::new();
    stream
        .read_to_end(&mut raw)
        .map_err(|e| format!("GET {path}: {e}"))?;
    parse_response(&raw).map_err(|e| format!("GET {path}: {e}"))
}

fn parse_response(raw: &[u8]) -> Result<HttpResponse, String> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("incomplete response head")?;
    let head = std::str::from_utf8(&raw[..end]).map_err(|_| "response head is not UTF-8")?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad status line {status_line:?}"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let rest = &raw[end + 4..];
    let find = |name: &str| headers.iter().find(|(n, _)| n == name).map(|(_, v)| v);
    let body = if find("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        dechunk(rest)?
    } else if let Some(len) = find("content-length") {
        let len: usize = len.parse().map_err(|_| "bad Content-Length")?;
        if rest.len() < len {
            return Err(format!("body cut short: {} of {len} bytes", rest.len()));
        }
        rest[..len].to_vec()
    } else {
        rest.to_vec()
    };
    Ok(HttpResponse {
        status,
        headers,
        body,
    })
}

fn dechunk(mut data: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let line_end = data
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("bad chunked body")?;
        let size_text = std::str::from_utf8(&data[..line_end]).map_err(|_| "bad chunk size")?;
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|_| "bad chunk size")?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        if data.len() < size + 2 {
            return Err("chunked body cut short".into());
        }
        out.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

// ---------------------------------------------------------------------------------------------
// First visit: the page and every same-origin thing it makes a browser fetch.

#[derive(Clone, Debug)]
struct Fetched {
    url: String,
    /// What referenced it: `page`, `stylesheet`, `script`, `icon`, `css url()`…
    kind: String,
    encoding: String,
    bytes: u64,
}

#[derive(Clone, Debug)]
struct Visit {
    fetched: Vec<Fetched>,
}

impl Visit {
    fn weight(&self) -> u64 {
        self.fetched.iter().map(|f| f.bytes).sum()
    }

    fn js(&self) -> u64 {
        self.fetched
            .iter()
            .filter(|f| f.kind == "script")
            .map(|f| f.bytes)
            .sum()
    }
}

fn first_visit(port: u16) -> Result<Visit, String> {
    let timeout = Duration::from_secs(5);
    let br = [("Accept-Encoding", "br")];
    let plain = http_get(port, "/", &[], timeout)?;
    let html_br = http_get(port, "/", &br, timeout)?;
    if plain.status != 200 || html_br.status != 200 {
        return Err(format!(
            "GET / answered {} / {}",
            plain.status, html_br.status
        ));
    }
    let html = String::from_utf8_lossy(&plain.body).into_owned();
    let base = format!("http://127.0.0.1:{port}");
    let mut fetched = vec![Fetched {
        url: "/".into(),
        kind: "page".into(),
        encoding: html_br
            .header("content-encoding")
            .unwrap_or("identity")
            .into(),
        bytes: html_br.body.len() as u64,
    }];
    let mut queue: std::collections::VecDeque<(String, String)> = html_references(&html)
        .into_iter()
        .filter_map(|(kind, url)| Some((kind, same_origin(&url, "/", &base)?)))
        .collect();
    while let Some((kind, url)) = queue.pop_front() {
        if fetched.iter().any(|f| f.url == url) {
            continue;
        }
        let r = http_get(port, &url, &br, timeout)?;
        if r.status != 200 {
            return Err(format!(
                "{url} (linked from the page) answered {}",
                r.status
            ));
        }
        if r.header("content-type")
            .is_some_and(|t| t.starts_with("text/css"))
        {
            let css = http_get(port, &url, &[], timeout)?;
            for reference in css_references(&String::from_utf8_lossy(&css.body)) {
                if let Some(u) = same_origin(&reference, &url, &base) {
                    queue.push_back(("css url()".into(), u));
                }
            }
        }
        fetched.push(Fetched {
            url,
            kind,
            encoding: r.header("content-encoding").unwrap_or("identity").into(),
            bytes: r.body.len() as u64,
        });
    }
    Ok(Visit { fetched })
}

/// `(kind, url)` for every tag that makes a browser fetch something on first load.
fn html_references(html: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(lt) = rest.find('<') {
        rest = &rest[lt + 1..];
        if let Some(after) = rest.strip_prefix("!--") {
            rest = after.find("-->").map_or("", |e| &after[e + 3..]);
            continue;
        }
        let name_end = rest
            .find(|c: char| c.is_whitespace() || c == '>' || c == '/')
            .unwrap_or(rest.len());
        let name = rest[..name_end].to_ascii_lowercase();
        let (attrs, after) = split_tag(&rest[name_end..]);
        rest = after;
        let get = |a: &str| {
            attrs
                .iter()
                .find(|(n, _)| n == a)
                .map(|(_, v)| v.clone())
                .filter(|v| !v.is_empty())
        };
        match name.as_str() {
            "link" => {
                let rel = get("rel").unwrap_or_default().to_ascii_lowercase();
                let fetches = rel.split_whitespace().any(|r| {
                    matches!(
                        r,
                        "stylesheet"
                            | "icon"
                            | "apple-touch-icon"
                            | "manifest"
                            | "preload"
                            | "modulepreload"
                    )
                });
                if fetches && let Some(href) = get("href") {
                    let kind = if rel.contains("stylesheet") {
                        "stylesheet"
                    } else if rel.contains("icon") {
                        "icon"
                    } else {
                        rel.split_whitespace().next().unwrap_or("link")
                    };
                    out.push((kind.to_string(), href));
                }
            }
            "script" => {
                if let Some(src) = get("src") {
                    out.push(("script".into(), src));
                }
                // Skip the script's text: it is not markup.
                rest = rest
                    .to_ascii_lowercase()
                    .find("</script")
                    .map_or("", |e| &rest[e..]);
            }
            "img" | "source" | "iframe" | "embed" | "audio" | "video" | "track" | "input" => {
                if let Some(src) = get("src") {
                    out.push((name.clone(), src));
                }
                if let Some(poster) = get("poster") {
                    out.push((name.clone(), poster));
                }
            }
            "object" => {
                if let Some(data) = get("data") {
                    out.push((name.clone(), data));
                }
            }
            _ => {}
        }
    }
    out
}

/// The attributes of a tag whose name has been read, and the text after its `>`.
fn split_tag(s: &str) -> (Vec<(String, String)>, &str) {
    let mut attrs = Vec::new();
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c == b'>' {
            return (attrs, &s[i + 1..]);
        }
        if c.is_ascii_whitespace() || c == b'/' {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len()
            && !bytes[i].is_ascii_whitespace()
            && !matches!(bytes[i], b'=' | b'>' | b'/')
        {
            i += 1;
        }
        let name = s[start..i].to_ascii_lowercase();
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        let mut value = String::new();
        if i < bytes.len() && bytes[i] == b'=' {
            i += 1;
            while i < bytes.len() && bytes[i].is_ascii_whitespace() {
                i += 1;
            }
            if i < bytes.len() && (bytes[i] == b'"' || bytes[i] == b'\'') {
                let quote = bytes[i];
                let v_start = i + 1;
                i = v_start;
                while i < bytes.len() && bytes[i] != quote {
                    i += 1;
                }
                value = s[v_start..i.min(bytes.len())].to_string();
                i += 1;
            } else {
                let v_start = i;
                while i < bytes.len() && !bytes[i].is_ascii_whitespace() && bytes[i] != b'>' {
                    i += 1;
                }
                value = s[v_start..i].to_string();
            }
        }
        attrs.push((name, value.replace("&amp;", "&")));
    }
    (attrs, "")
}

/// `url(…)` and `@import "…"` references in a stylesheet.
fn css_references(css: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = css;
    while let Some(i) = rest.find("url(") {
        rest = &rest[i + 4..];
        let end = rest.find(')').unwrap_or(rest.len());
        let v = rest[..end].trim().trim_matches(['"', '\'']).to_string();
        out.push(v);
        rest = &rest[end..];
    }
    let mut rest = css;
    while let Some(i) = rest.find("@import") {
        rest = rest[i + 7..].trim_start();
        if let Some(q) = rest.chars().next().filter(|c| *c == '"' || *c == '\'')
            && let Some(end) = rest[1..].find(q)
        {
            out.push(rest[1..1 + end].to_string());
        }
    }
    out
}

/// The path of `reference` (found in the document at `from`) when it is on our own origin.
fn same_origin(reference: &str, from: &str, base: &str) -> Option<String> {
    let r = reference.trim();
    let r = r.split('#').next().unwrap_or("");
    if r.is_empty() {
        return None;
    }
    if let Some(path) = r.strip_prefix(base) {
        return Some(if path.is_empty() {
            "/".into()
        } else {
            path.to_string()
        });
    }
    if r.starts_with("//") || r.contains("://") || (r.contains(':') && !r.starts_with('/')) {
        return None; // another origin, or data:, mailto: and the like
    }
    if r.starts_with('/') {
        return Some(r.to_string());
    }
    let dir = &from[..from.rfind('/').map_or(0, |i| i + 1)];
    let mut parts: Vec<&str> = Vec::new();
    let joined = format!("{dir}{r}");
    for seg in joined.split('/').skip(1) {
        match seg {
            ".." => {
                parts.pop();
            }
            "." => {}
            s => parts.push(s),
        }
    }
    Some(format!("/{}", parts.join("/")))
}

// ---------------------------------------------------------------------------------------------
// wrk

#[derive(Clone, Debug)]
struct Wrk {
    command: String,
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    requests: u64,
    bytes: f64,
    errors: Option<String>,
    non_2xx: u64,
    /// From the submissions script: the `303` answers, the others, and the first other status.
    answers_303: Option<u64>,
    answers_other: Option<u64>,
    first_other_status: Option<u64>,
    /// CPU used during the run, in cores: the server (all its processes), wrk, and everything
    /// else on the machine (other programs, and time the hypervisor took away).
    cpu: Option<Cpu>,
}

#[derive(Clone, Copy, Debug)]
struct Cpu {
    server: f64,
    wrk: f64,
    others: f64,
    /// The server's CPU time per request, in microseconds: the figure least disturbed by
    /// other work on the machine.
    server_us_per_request: f64,
}

/// What every wrk run needs: the program, a folder for its output, the clock tick rate.
struct Load<'a> {
    wrk: &'a Path,
    tmp: &'a Path,
    hz: u64,
}

impl Load<'_> {
    /// Runs wrk against `/` of `port` for `secs`, killed if it overruns by more than 20 s;
    /// `server` is the process group of the server under test, for the CPU accounting.
    fn run(
        &self,
        port: u16,
        conns: u32,
        secs: u64,
        latency: bool,
        server: u32,
    ) -> Result<Wrk, String> {
        let br = ["-H".to_string(), "Accept-Encoding: br".to_string()];
        self.run_on(port, "/", &br, conns, secs, latency, server)
    }

    /// Runs wrk against `path` of `port` with the `extra` arguments (headers, a script), as
    /// `run` does.
    #[allow(clippy::too_many_arguments)]
    fn run_on(
        &self,
        port: u16,
        path: &str,
        extra: &[String],
        conns: u32,
        secs: u64,
        latency: bool,
        server: u32,
    ) -> Result<Wrk, String> {
        let url = format!("http://127.0.0.1:{port}{path}");
        let mut args: Vec<String> = vec!["-t2".into(), format!("-c{conns}"), format!("-d{secs}s")];
        if latency {
            args.push("--latency".into());
        }
        args.extend(extra.iter().cloned());
        args.push(url);
        // Files of the temporary folder are shown by name only.
        let tmp_prefix = format!("{}/", self.tmp.display());
        let shown = format!(
            "wrk {}",
            args.iter()
                .map(|a| a.strip_prefix(&tmp_prefix).unwrap_or(a))
                .map(|a| if a.contains(' ') {
                    format!("'{a}'")
                } else {
                    a.to_string()
                })
                .collect::<Vec<_>>()
                .join(" ")
        );
        let out_path = self.tmp.join(format!("wrk-{port}-{conns}-{secs}.txt"));
        let out =
            std::fs::File::create(&out_path).map_err(|e| format!("{}: {e}", out_path.display()))?;
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(RAISE_FD_LIMIT)
            .arg(self.wrk)
            .args(&args)
            .stdout(out)
            .stderr(Stdio::null());
        let busy_before = machine_busy();
        let server_before = group_cpu(server);
        let started = Instant::now();
        let p = Proc::spawn("wrk", &mut cmd)?;
        let until = started + Duration::from_secs(secs + 20);
        // Watch wrk's own stat until it is a zombie, so its CPU time can still be read; the
        // guard reaps it.
        let mut wrk_ticks = None;
        loop {
            match proc_stat(p.pid()) {
                Some(('Z', _, ticks)) => {
                    wrk_ticks = Some(ticks);
                    break;
                }
                Some(_) => {}
                None => break,
            }
            if Instant::now() > until {
                return Err(format!("{shown} did not finish in time"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let elapsed = started.elapsed().as_secs_f64();
        let (busy_after, server_after) = (machine_busy(), group_cpu(server));
        drop(p);
        let cpu = match (busy_before, busy_after, wrk_ticks) {
            (Some(b0), Some(b1), Some(w)) if elapsed > 0.0 && self.hz > 0 => {
                let cores = |ticks: f64| ticks / self.hz as f64 / elapsed;
                let server = server_after.saturating_sub(server_before) as f64;
                let total = b1.saturating_sub(b0) as f64;
                Some(Cpu {
                    server: cores(server),
                    wrk: cores(w as f64),
                    others: cores((total - server - w as f64).max(0.0)),
                    server_us_per_request: 0.0,
                })
            }
            _ => None,
        };
        let text = std::fs::read_to_string(&out_path)
            .map_err(|e| format!("{}: {e}", out_path.display()))?;
        parse_wrk(&text, latency).map(|mut w| {
            w.command = shown;
            w.cpu = cpu.map(|mut c| {
                c.server_us_per_request = c.server * elapsed * 1e6 / w.requests.max(1) as f64;
                c
            });
            w
        })
    }
}

fn parse_wrk(text: &str, latency: bool) -> Result<Wrk, String> {
    let mut w = Wrk {
        command: String::new(),
        rps: f64::NAN,
        p50_ms: f64::NAN,
        p99_ms: f64::NAN,
        requests: 0,
        bytes: 0.0,
        errors: None,
        non_2xx: 0,
        answers_303: None,
        answers_other: None,
        first_other_status: None,
        cpu: None,
    };
    let mut saw_requests = false;
    for line in text.lines().map(str::trim) {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["Requests/sec:", v] => w.rps = v.parse().unwrap_or(f64::NAN),
            ["50%", v] => w.p50_ms = duration_ms(v).unwrap_or(f64::NAN),
            ["99%", v] => w.p99_ms = duration_ms(v).unwrap_or(f64::NAN),
            [n, "requests", "in", _, b, "read"] => {
                w.requests = n.parse().unwrap_or(0);
                w.bytes = size_bytes(b).unwrap_or(0.0);
                saw_requests = true;
            }
            ["Non-2xx", "or", "3xx", "responses:", n] => w.non_2xx = n.parse().unwrap_or(0),
            ["kap-bench", "303:", n] => w.answers_303 = n.parse().ok(),
            ["kap-bench", "non-303:", n] => w.answers_other = n.parse().ok(),
            ["kap-bench", "first", "non-303", "status:", n] => {
                w.first_other_status = n.parse().ok().filter(|s| *s > 0)
            }
            _ if line.starts_with("Socket errors:") => w.errors = Some(line.to_string()),
            _ => {}
        }
    }
    if !saw_requests || w.rps.is_nan() || latency && (w.p50_ms.is_nan() || w.p99_ms.is_nan()) {
        return Err(format!("cannot read wrk's output:\n{text}"));
    }
    Ok(w)
}

fn duration_ms(v: &str) -> Option<f64> {
    let split = v.find(|c: char| c.is_ascii_alphabetic())?;
    let n: f64 = v[..split].parse().ok()?;
    Some(match &v[split..] {
        "us" => n / 1000.0,
        "ms" => n,
        "s" => n * 1000.0,
        "m" => n * 60_000.0,
        "h" => n * 3_600_000.0,
        _ => return None,
    })
}

/// wrk's sizes (`1.23MB`) in bytes; wrk counts in powers of 1024.
fn size_bytes(v: &str) -> Option<f64> {
    let split = v.find(|c: char| c.is_ascii_alphabetic())?;
    let n: f64 = v[..split].parse().ok()?;
    let unit = match &v[split..] {
        "B" => 1.0,
        "KB" => 1024.0,
        "MB" => 1024.0 * 1024.0,
        "GB" => 1024.0 * 1024.0 * 1024.0,
        "TB" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    Some(n * unit)
}

// ---------------------------------------------------------------------------------------------
// Durable form submissions

/// One fsync probe: `syncs` write + fdatasync pairs in `secs`.
#[derive(Clone, Debug)]
struct Probe {
    syncs: u64,
    secs: f64,
    /// ns the probe's thread ran, and waited for a CPU, during the loop (its schedstat).
    sched: Option<(u64, u64)>,
    /// Bytes the data directory's disk wrote during the probe, all processes together.
    disk_bytes: Option<u64>,
}

impl Probe {
    /// fsync/s as measured, waits for a CPU included.
    fn measured(&self) -> f64 {
        self.syncs as f64 / self.secs
    }

    /// The disk's own fsync/s: without the time the thread waited for a CPU after each fsync,
    /// which other programs' CPU use adds and the disk does not cause.
    fn rate(&self) -> f64 {
        match self.sched {
            Some((_, wait)) => self.syncs as f64 / (self.secs - wait as f64 / 1e9).max(1e-3),
            None => self.measured(),
        }
    }

    /// Per write + fdatasync, in µs: on CPU, waiting for a CPU, and off CPU (the disk).
    fn split(&self) -> Option<(f64, f64, f64)> {
        let (cpu, wait) = self.sched?;
        let n = self.syncs.max(1) as f64;
        let (cpu, wait) = (cpu as f64 / 1e3 / n, wait as f64 / 1e3 / n);
        Some((cpu, wait, (self.secs * 1e6 / n - cpu - wait).max(0.0)))
    }

    /// Bytes/s the disk wrote beyond the probe's own data: other programs' writes.
    fn others_rate(&self) -> Option<f64> {
        let own = self.syncs * PROBE_BLOCK as u64;
        self.disk_bytes
            .map(|b| b.saturating_sub(own) as f64 / self.secs)
    }
}

/// Other programs' writes above this many bytes/s during a probe, or probes beside one run that
/// differ by more than `PROBES_APART` times, make that run's ratio doubtful.
const DISK_BUSY: f64 = 2_000_000.0;
const PROBES_APART: f64 = 2.0;

/// Where the SQLite worker thread's time went during a run, per accepted submission, in µs: the
/// thread runs every statement of the store's single connection, so its time is the serial path.
#[derive(Clone, Copy, Debug)]
struct Writer {
    /// Running: SQLite, and the kernel's work for its writes and fsyncs.
    on_cpu: f64,
    /// Runnable but waiting for a core (other threads and programs had them).
    waiting: f64,
    /// The rest: blocked in fsync, or waiting for the next statement from a request's task.
    off_cpu: f64,
    /// Worker threads seen during the run: more than one when the connection was replaced.
    threads: usize,
}

/// Name prefix of sqlx's SQLite worker threads (`sqlx-sqlite-worker-N`, cut to 15 bytes).
const WRITER_THREAD: &str = "sqlx-sqlite";

/// `(thread id, ns on CPU, ns waiting for a CPU)` of a process's SQLite worker threads, from
/// /proc/PID/task/TID/schedstat.
fn writer_threads(pid: u32) -> Vec<(String, u64, u64)> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    tasks
        .flatten()
        .filter_map(|t| {
            let dir = t.path();
            let comm = std::fs::read_to_string(dir.join("comm")).ok()?;
            if !comm.starts_with(WRITER_THREAD) {
                return None;
            }
            let sched = std::fs::read_to_string(dir.join("schedstat")).ok()?;
            let mut v = sched.split_whitespace().map(|x| x.parse::<u64>().ok());
            Some((
                t.file_name().to_string_lossy().into_owned(),
                v.next()??,
                v.next()??,
            ))
        })
        .collect()
}

/// Samples the writer threads every 50 ms until `stop`: per thread, its first and last
/// `(ns on CPU, ns waiting)`. A thread that appears later started during the run, from zero; one
/// that ends loses at most its last 50 ms.
fn sample_writers(pid: u32, stop: &AtomicBool) -> WriterSample {
    let mut first: HashMap<String, (u64, u64)> = writer_threads(pid)
        .into_iter()
        .map(|(id, cpu, wait)| (id, (cpu, wait)))
        .collect();
    let mut last = first.clone();
    loop {
        let done = stop.load(Ordering::Relaxed);
        for (id, cpu, wait) in writer_threads(pid) {
            first.entry(id.clone()).or_insert((0, 0));
            last.insert(id, (cpu, wait));
        }
        if done {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut sample = WriterSample {
        threads: last.len(),
        ..WriterSample::default()
    };
    for (id, (cpu, wait)) in &last {
        let (cpu0, wait0) = first.get(id).copied().unwrap_or((0, 0));
        sample.cpu_ns += cpu.saturating_sub(cpu0);
        sample.wait_ns += wait.saturating_sub(wait0);
    }
    sample
}

/// The SQLite worker threads' time during a run.
#[derive(Clone, Copy, Debug, Default)]
struct WriterSample {
    cpu_ns: u64,
    wait_ns: u64,
    /// Worker threads seen: more than one when the connection was replaced during the run.
    threads: usize,
}

/// The writer's time per submission over a run of `secs` (one connection, so one writer at a
/// time).
fn writer_time(sample: WriterSample, secs: f64, submissions: u64) -> Option<Writer> {
    if sample.threads == 0 || submissions == 0 {
        return None;
    }
    let per = |ns: f64| ns / 1000.0 / submissions as f64;
    let on_cpu = per(sample.cpu_ns as f64);
    let waiting = per(sample.wait_ns as f64);
    Some(Writer {
        on_cpu,
        waiting,
        off_cpu: (per(secs * 1e9) - on_cpu - waiting).max(0.0),
        threads: sample.threads,
    })
}

/// The filesystem of a folder, from /proc/self/mountinfo.
#[derive(Clone, Debug, Default)]
struct Filesystem {
    kind: String,
    source: String,
    mount: String,
    /// `major:minor` of its device.
    device: String,
}

#[derive(Default)]
struct Submissions {
    fs: Option<Filesystem>,
    /// In order: before the first measured run, then after each.
    probes: Vec<Probe>,
    /// `(connections, wrk, the writer thread's time)`, in order.
    runs: Vec<(u32, Wrk, Option<Writer>)>,
    warmup: Option<Wrk>,
    /// `303` answers over every run, warm-up included, and every other answer.
    answers_303: u64,
    answers_other: u64,
    /// Requests a run may have left unanswered when wrk stopped: its connections, summed.
    in_flight: u64,
    server_alive: bool,
    stopped_on_term: bool,
    /// Requests the export printed, and those of them not in the spam folder.
    stored: Option<(u64, u64)>,
    load_before: String,
    load_after: String,
}

impl Submissions {
    fn count(&mut self, w: &Wrk, conns: u32) {
        self.answers_303 += w.answers_303.unwrap_or(0);
        // A run whose script did not report counts every answer as not known to be a 303.
        self.answers_other += w
            .answers_other
            .unwrap_or(w.requests.saturating_sub(w.answers_303.unwrap_or(0)));
        self.in_flight += u64::from(conns);
    }

    /// The fsync rate beside measured run `i`: the faster of the probes just before and after it,
    /// the one less slowed by other work's writes (and the harder comparison).
    fn fsync_beside(&self, i: usize) -> Option<f64> {
        let (a, b) = (self.probes.get(i)?, self.probes.get(i + 1)?);
        Some(a.rate().max(b.rate()))
    }

    /// Whether other work on the disk makes run `i`'s ratio doubtful: a probe beside it saw other
    /// programs write much, or the two probes disagree.
    fn disk_shared(&self, i: usize) -> bool {
        let beside: Vec<&Probe> = self.probes.iter().skip(i).take(2).collect();
        let busy = beside
            .iter()
            .any(|p| p.others_rate().is_some_and(|r| r > DISK_BUSY));
        let apart = match beside.as_slice() {
            [a, b] => a.rate().max(b.rate()) > PROBES_APART * a.rate().min(b.rate()),
            _ => false,
        };
        busy || apart
    }

    /// Every answer was a `303` and the script said so.
    fn valid(w: &Wrk) -> bool {
        w.answers_303 == Some(w.requests) && w.answers_other == Some(0)
    }

    /// The stored requests match the `303`s: none missing, none more than could be in flight,
    /// none filed as spam.
    fn durable(&self) -> Option<bool> {
        let (rows, inbox) = self.stored?;
        Some(
            rows >= self.answers_303
                && rows - self.answers_303 <= self.in_flight
                && inbox == rows
                && self.answers_other == 0,
        )
    }
}

/// Starts kap-practice on its own data directory, then takes turns: fsync probe, wrk posting
/// valid submissions, fsync probe, … Stops the server with SIGTERM and counts what it stored.
fn measure_submissions(bin: &Path, load: &Load, duration: u64) -> Result<Submissions, String> {
    let tmp = load.tmp;
    std::fs::write(tmp.join("submissions.toml"), SUBMISSION_CONFIG)
        .map_err(|e| format!("temp config: {e}"))?;
    let data = tmp.join("submissions");
    let port = free_port()?;
    let mut cmd = kap_command(
        bin,
        tmp,
        port,
        "submissions",
        "submissions.toml",
        None,
        false,
    )?;
    cmd.env("KAP_MIN_FILL_SECONDS", "0");
    step("form submissions: starting kap-practice");
    let mut server = start_server("kap-practice (submissions)", Ok(cmd), port, "/healthz")?;
    let group = server.pid();
    let mut s = Submissions {
        fs: filesystem(&data),
        load_before: loadavg(),
        ..Submissions::default()
    };

    let form = http_get(port, "/contact", &[], Duration::from_secs(5))?;
    if form.status != 200 {
        return Err(format!("GET /contact answered {}", form.status));
    }
    let token = form_token(&String::from_utf8_lossy(&form.body))
        .ok_or("GET /contact has no form_token value")?;
    let script = tmp.join("post.lua");
    std::fs::write(&script, post_script(&format!("{SUBMISSION_BODY}{token}")))
        .map_err(|e| format!("{}: {e}", script.display()))?;
    let extra = ["-s".to_string(), script.display().to_string()];
    let first = SUBMISSION_CONNECTIONS[0];

    // The warm-up fills the WAL to its working size before the first probe.
    step(&format!("form submissions: warm-up, wrk -c{first}"));
    let warm = load.run_on(port, "/contact", &extra, first, WARMUP_SECS, false, group)?;
    s.count(&warm, first);
    s.warmup = Some(warm);
    step("form submissions: fsync probe");
    s.probes.push(fsync_probe(&data, s.fs.as_ref())?);
    for conns in SUBMISSION_CONNECTIONS {
        step(&format!("form submissions: wrk -c{conns} POST /contact"));
        let stop = AtomicBool::new(false);
        let (w, sample, secs) = std::thread::scope(|scope| {
            let sampler = scope.spawn(|| sample_writers(group, &stop));
            let started = Instant::now();
            let w = load.run_on(port, "/contact", &extra, conns, duration, true, group);
            let secs = started.elapsed().as_secs_f64();
            stop.store(true, Ordering::Relaxed);
            (w, sampler.join().ok(), secs)
        });
        let w = w?;
        let writer = sample.and_then(|t| writer_time(t, secs, w.requests));
        s.count(&w, conns);
        s.runs.push((conns, w, writer));
        step("form submissions: fsync probe");
        s.probes.push(fsync_probe(&data, s.fs.as_ref())?);
    }
    s.server_alive = server.alive();
    s.load_after = loadavg();

    step("form submissions: SIGTERM to the server, then inquiries export");
    s.stopped_on_term = server.stop();
    drop(server);
    s.stored = Some(count_stored(bin, tmp, &data)?);
    Ok(s)
}

/// The wrk script: posts `body` as a form and counts the answers that are not `303`.
fn post_script(body: &str) -> String {
    format!(
        r#"-- Written by cargo xtask bench: valid contact-form submissions; counts the answers.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.body = "{body}"
local threads = {{}}
function setup(thread)
  table.insert(threads, thread)
end
function init(args)
  answers_303 = 0
  answers_other = 0
  first_other = 0
end
function response(status, headers, body)
  if status == 303 then
    answers_303 = answers_303 + 1
  else
    answers_other = answers_other + 1
    if first_other == 0 then first_other = status end
  end
end
function done(summary, latency, requests)
  local ok, other, first = 0, 0, 0
  for _, t in ipairs(threads) do
    ok = ok + t:get("answers_303")
    other = other + t:get("answers_other")
    if first == 0 then first = t:get("first_other") end
  end
  io.write(string.format("kap-bench 303: %d\n", ok))
  io.write(string.format("kap-bench non-303: %d\n", other))
  io.write(string.format("kap-bench first non-303 status: %d\n", first))
end
"#
    )
}

/// The `value` of the form's hidden `form_token` input, when it is safe in a Lua string.
fn form_token(html: &str) -> Option<String> {
    let at = html.find("name=\"form_token\"")?;
    let start = html[..at].rfind('<')?;
    let rest = &html[start + 1..];
    let name_end = rest.find(|c: char| c.is_whitespace())?;
    let (attrs, _) = split_tag(&rest[name_end..]);
    attrs
        .into_iter()
        .find(|(n, _)| n == "value")
        .map(|(_, v)| v)
        .filter(|v| {
            !v.is_empty()
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
        })
}

/// `write(4 KiB) + fdatasync` in a loop for `FSYNC_PROBE_SECS`, one thread, on a file in `dir`
/// that is first filled to the WAL's working size and then overwritten block after block, as
/// SQLite overwrites its WAL after a checkpoint.
fn fsync_probe(dir: &Path, fs: Option<&Filesystem>) -> Result<Probe, String> {
    use std::os::unix::fs::FileExt;
    let path = dir.join("bench-fsync-probe.tmp");
    let io = |e: std::io::Error| format!("fsync probe {}: {e}", path.display());
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(&path)
        .map_err(io)?;
    let block = [0x5a_u8; PROBE_BLOCK];
    let mut offset = 0;
    while offset < PROBE_FILE_BYTES {
        file.write_all_at(&block, offset).map_err(io)?;
        offset += PROBE_BLOCK as u64;
    }
    file.sync_all().map_err(io)?;
    let disk_before = fs.and_then(|f| disk_written(&f.device));
    let sched_before = thread_schedstat();
    let started = Instant::now();
    let limit = Duration::from_secs(FSYNC_PROBE_SECS);
    let (mut syncs, mut offset) = (0u64, 0u64);
    while started.elapsed() < limit {
        file.write_all_at(&block, offset).map_err(io)?;
        file.sync_data().map_err(io)?;
        syncs += 1;
        offset = (offset + PROBE_BLOCK as u64) % PROBE_FILE_BYTES;
    }
    let secs = started.elapsed().as_secs_f64();
    let sched_after = thread_schedstat();
    let disk_after = fs.and_then(|f| disk_written(&f.device));
    drop(file);
    let _ = std::fs::remove_file(&path);
    Ok(Probe {
        syncs,
        secs,
        sched: sched_before
            .zip(sched_after)
            .map(|((c0, w0), (c1, w1))| (c1.saturating_sub(c0), w1.saturating_sub(w0))),
        disk_bytes: disk_before
            .zip(disk_after)
            .map(|(a, b)| b.saturating_sub(a)),
    })
}

/// This thread's time on CPU and waiting for a CPU, in ns, from /proc/thread-self/schedstat.
fn thread_schedstat() -> Option<(u64, u64)> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let mut v = s.split_whitespace().map(|x| x.parse::<u64>().ok());
    Some((v.next()??, v.next()??))
}

/// The filesystem `dir` is on: the mount with the longest mount point that contains it.
fn filesystem(dir: &Path) -> Option<Filesystem> {
    let dir = std::fs::canonicalize(dir).ok()?;
    let info = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    let mut best: Option<Filesystem> = None;
    for line in info.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let Some(dash) = fields.iter().position(|f| *f == "-") else {
            continue;
        };
        let (Some(device), Some(mount), Some(kind), Some(source)) = (
            fields.get(2),
            fields.get(4),
            fields.get(dash + 1),
            fields.get(dash + 2),
        ) else {
            continue;
        };
        let mount = mount.replace("\\040", " ");
        // Later mounts hide earlier ones at the same point, so the last of equal length wins.
        if dir.starts_with(&mount) && best.as_ref().is_none_or(|b| mount.len() >= b.mount.len()) {
            best = Some(Filesystem {
                kind: kind.to_string(),
                source: source.to_string(),
                mount,
                device: device.to_string(),
            });
        }
    }
    best
}

/// Bytes a block device has written since boot, from /sys/dev/block/MAJOR:MINOR/stat.
fn disk_written(device: &str) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/sys/dev/block/{device}/stat")).ok()?;
    let sectors: u64 = stat.split_whitespace().nth(6)?.parse().ok()?;
    Some(sectors * 512)
}

/// The load average over 1, 5 and 15 minutes.
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "?".into())
}

/// `kap-practice inquiries export --format jsonl` on the stopped server's data: the requests it
/// printed, and those of them not in the spam folder.
fn count_stored(bin: &Path, tmp: &Path, data: &Path) -> Result<(u64, u64), String> {
    let out_path = tmp.join("export.jsonl");
    let out =
        std::fs::File::create(&out_path).map_err(|e| format!("{}: {e}", out_path.display()))?;
    let mut cmd = Command::new(bin);
    cmd.args(["inquiries", "export", "--format", "jsonl", "--data-dir"])
        .arg(data)
        .arg("--config")
        .arg(tmp.join("submissions.toml"))
        .stdout(out)
        .stderr(Stdio::null());
    for var in KAP_ENV {
        cmd.env_remove(var);
    }
    let mut p = Proc::spawn("kap-practice inquiries export", &mut cmd)?;
    let status = p.wait_within(Duration::from_secs(120))?;
    if !status.success() {
        return Err(format!("kap-practice inquiries export failed ({status})"));
    }
    let text =
        std::fs::read_to_string(&out_path).map_err(|e| format!("{}: {e}", out_path.display()))?;
    let rows = text.lines().filter(|l| !l.trim().is_empty());
    let (mut all, mut inbox) = (0, 0);
    for line in rows {
        all += 1;
        if line.contains("\"spam\":null") {
            inbox += 1;
        }
    }
    Ok((all, inbox))
}

// ---------------------------------------------------------------------------------------------
// The report

#[derive(Default)]
struct Machine {
    cpu: String,
    cores: usize,
    kernel: String,
}

struct Memory {
    kind: ServerKind,
    idle: Option<u64>,
    after: Vec<(String, u64, Option<u64>)>,
    peak: Option<u64>,
}

#[derive(Default)]
struct Report {
    machine: Machine,
    date: String,
    command: String,
    duration: u64,
    rounds: u32,
    cold_kap: Option<Vec<f64>>,
    cold_nginx: Option<Vec<f64>>,
    visit: Option<Visit>,
    runs: Vec<(ServerKind, u32, Wrk)>,
    /// Every round's p99 latency, per server and connection count.
    p99_rounds: Vec<(ServerKind, u32, Vec<f64>)>,
    memory: Vec<Memory>,
    fd_limits: Vec<(&'static str, String)>,
    binary_size: Option<u64>,
    failures: Vec<(String, String)>,
    /// Whether the public page was measured (not with `--only submissions`).
    pages: bool,
    submissions: Option<Submissions>,
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    s[s.len() / 2]
}

/// Other work above this many cores during a load run makes its requests/s doubtful.
const DISTURBED_CORES: f64 = 0.25;

fn disturbed(w: &Wrk) -> bool {
    w.cpu.is_some_and(|c| c.others > DISTURBED_CORES)
}

fn mark(ok: bool) -> &'static str {
    if ok { "✓" } else { "✗" }
}

fn kb(bytes: u64) -> String {
    format!("{:.1} kB ({bytes} B)", bytes as f64 / 1000.0)
}

fn mb(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

fn thousands(n: f64) -> String {
    let s = format!("{:.0}", n);
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

const NOT_MEASURED: &str = "not measured";

impl Report {
    fn fail(&mut self, what: &str, why: String) {
        eprintln!("bench: could not measure {what}: {why}");
        self.failures.push((what.to_string(), why));
    }

    fn run(&self, kind: ServerKind, conns: u32) -> Option<&Wrk> {
        self.runs
            .iter()
            .find(|(k, c, _)| *k == kind && *c == conns)
            .map(|(_, _, w)| w)
    }

    fn p99_rounds(&self, kind: ServerKind, conns: u32) -> Option<&[f64]> {
        self.p99_rounds
            .iter()
            .find(|(k, c, _)| *k == kind && *c == conns)
            .map(|(_, _, v)| v.as_slice())
    }

    fn render(&self) -> String {
        let mut o = String::new();
        let m = &self.machine;
        let _ = writeln!(o, "# Benchmarks\n");
        let _ = writeln!(
            o,
            "Generated by `cargo xtask bench` (xtask/src/bench.rs); do not edit by hand. The bar for \
             pages is nginx serving the same bytes; for the form submissions, the disk's own fsync \
             rate.\n"
        );
        let _ = writeln!(o, "| | |\n| --- | --- |");
        let _ = writeln!(
            o,
            "| Machine | {}, {} cores, {} |",
            m.cpu, m.cores, m.kernel
        );
        let _ = writeln!(o, "| Date | {} |", self.date);
        let _ = writeln!(o, "| Command | `{}` |", self.command);
        let _ = writeln!(o);

        let _ = writeln!(o, "## Results\n");
        let _ = writeln!(o, "| Figure | kap-practice | Reference / target | |");
        let _ = writeln!(o, "| --- | --- | --- | --- |");
        let mut row = |figure: &str, ours: String, reference: String, verdict: &str| {
            let _ = writeln!(o, "| {figure} | {ours} | {reference} | {verdict} |");
        };

        if self.pages {
            match &self.cold_kap {
                Some(t) => {
                    let med = median(t);
                    let nginx = self
                        .cold_nginx
                        .as_ref()
                        .map(|n| format!("; nginx {:.1} ms", median(n)))
                        .unwrap_or_default();
                    row(
                        &format!(
                            "Cold start, spawn → first `200` from `/healthz` (median of {COLD_START_RUNS})"
                        ),
                        format!("{med:.1} ms"),
                        format!("< {COLD_START_TARGET_MS:.0} ms{nginx}"),
                        mark(med < COLD_START_TARGET_MS),
                    );
                }
                None => row(
                    "Cold start",
                    NOT_MEASURED.into(),
                    format!("< {COLD_START_TARGET_MS:.0} ms"),
                    "✗",
                ),
            }

            match &self.visit {
                Some(v) => {
                    let parts = v
                        .fetched
                        .iter()
                        .map(|f| format!("{} {}", f.kind, f.bytes))
                        .collect::<Vec<_>>()
                        .join(" + ");
                    row(
                        &format!(
                            "Page weight of `/`, first visit, `Accept-Encoding: br` ({parts} B)"
                        ),
                        kb(v.weight()),
                        format!("≤ {}", kb(PAGE_WEIGHT_TARGET)),
                        mark(v.weight() <= PAGE_WEIGHT_TARGET),
                    );
                    row(
                        "JavaScript, compressed",
                        kb(v.js()),
                        format!("≤ {}", kb(JS_TARGET)),
                        mark(v.js() <= JS_TARGET),
                    );
                    row(
                        "Requests for a first visit (page + same-origin assets)",
                        v.fetched.len().to_string(),
                        "reported".into(),
                        "",
                    );
                }
                None => row(
                    "Page weight",
                    NOT_MEASURED.into(),
                    format!("≤ {}", kb(PAGE_WEIGHT_TARGET)),
                    "✗",
                ),
            }

            for conns in CONNECTIONS {
                let nginx = self.run(ServerKind::Nginx, conns);
                for kind in [ServerKind::KapInfo, ServerKind::KapWarn] {
                    let label = kind.variant();
                    let ours = self.run(kind, conns);
                    match (ours, nginx) {
                        (Some(k), Some(n)) => {
                            let ratio = k.rps / n.rps;
                            row(
                                &format!("Requests/s on `/`, {conns} connections, {label}"),
                                format!("{} ({ratio:.2}× nginx)", thousands(k.rps)),
                                format!(
                                    "nginx {}; target ≥ {THROUGHPUT_TARGET:.2}×",
                                    thousands(n.rps)
                                ),
                                &format!(
                                    "{}{}",
                                    mark(ratio >= THROUGHPUT_TARGET),
                                    if disturbed(k) || disturbed(n) {
                                        " ⚠"
                                    } else {
                                        ""
                                    }
                                ),
                            );
                            row(
                                &format!("Latency p50 / p99, {conns} connections, {label}"),
                                format!("{:.2} / {:.2} ms", k.p50_ms, k.p99_ms),
                                format!("nginx {:.2} / {:.2} ms", n.p50_ms, n.p99_ms),
                                "",
                            );
                            if let (Some(kr), Some(nr)) = (
                                self.p99_rounds(kind, conns),
                                self.p99_rounds(ServerKind::Nginx, conns),
                            ) {
                                let each = |v: &[f64]| {
                                    v.iter()
                                        .map(|x| format!("{x:.2}"))
                                        .collect::<Vec<_>>()
                                        .join(" / ")
                                };
                                let (km, nm) = (median(kr), median(nr));
                                row(
                                    &format!(
                                        "Latency p99, median of the rounds, {conns} connections, {label}"
                                    ),
                                    format!("{km:.2} ms (rounds: {})", each(kr)),
                                    format!(
                                        "nginx {nm:.2} ms (rounds: {}); target no worse",
                                        each(nr)
                                    ),
                                    mark(km <= nm),
                                );
                            }
                            if let (Some(kc), Some(nc)) = (k.cpu, n.cpu) {
                                row(
                                    &format!(
                                        "Server CPU per request, {conns} connections, {label}"
                                    ),
                                    format!(
                                        "{:.1} µs ({:.2}× nginx)",
                                        kc.server_us_per_request,
                                        kc.server_us_per_request / nc.server_us_per_request
                                    ),
                                    format!("nginx {:.1} µs", nc.server_us_per_request),
                                    "",
                                );
                            }
                        }
                        _ => row(
                            &format!("Requests/s on `/`, {conns} connections, {label}"),
                            NOT_MEASURED.into(),
                            format!("target ≥ {THROUGHPUT_TARGET:.2}× nginx"),
                            "✗",
                        ),
                    }
                }
            }

            let nginx_mem = self.memory.iter().find(|m| m.kind == ServerKind::Nginx);
            let target = format!("< {}", mb(RSS_TARGET));
            for mem in self.memory.iter().filter(|m| m.kind != ServerKind::Nginx) {
                let label = mem.kind.variant();
                match mem.idle {
                    Some(b) => row(
                        &format!("RSS idle after start, {label}"),
                        mb(b),
                        target.clone(),
                        mark(b < RSS_TARGET),
                    ),
                    None => row(
                        &format!("RSS idle after start, {label}"),
                        NOT_MEASURED.into(),
                        target.clone(),
                        "✗",
                    ),
                }
                for (after, requests, rss) in &mem.after {
                    let reference = match nginx_mem
                        .and_then(|n| n.after.iter().find(|(a, _, _)| a == after))
                        .and_then(|(_, _, r)| *r)
                    {
                        Some(n) => format!("{target}; nginx (master + workers) {}", mb(n)),
                        None => target.clone(),
                    };
                    let figure = format!(
                        "RSS after the {after}, {} requests served, {label}",
                        thousands(*requests as f64)
                    );
                    let verdict = match rss {
                        Some(b) if *requests >= RSS_MIN_REQUESTS => mark(*b < RSS_TARGET),
                        Some(_) => "",
                        None => "✗",
                    };
                    let ours = rss.map(mb).unwrap_or_else(|| NOT_MEASURED.into());
                    row(&figure, ours, reference, verdict);
                }
                if let Some(peak) = mem.peak {
                    row(
                        &format!("Peak RSS (VmHWM), {label}"),
                        mb(peak),
                        "reported: the highest it was, during 1000 open connections; the target is for \
                         after load (above)"
                            .into(),
                        "",
                    );
                }
            }
        }

        self.submission_rows(&mut row);

        match self.binary_size {
            Some(b) => row(
                "Binary size, target/release/kap-practice",
                mb(b),
                "reported".into(),
                "",
            ),
            None => row("Binary size", NOT_MEASURED.into(), "reported".into(), "✗"),
        }
        let _ = writeln!(o);
        let disturbed: Vec<String> = self
            .runs
            .iter()
            .filter_map(|(kind, conns, w)| {
                let others = w.cpu?.others;
                disturbed(w).then(|| format!("{} at {conns} ({others:.2} cores)", kind.label()))
            })
            .chain(
                self.submissions
                    .iter()
                    .flat_map(|s| &s.runs)
                    .filter_map(|(conns, w, _)| {
                        let others = w.cpu?.others;
                        disturbed(w).then(|| {
                            format!("kap-practice, form submissions at {conns} ({others:.2} cores)")
                        })
                    }),
            )
            .collect();
        if !disturbed.is_empty() {
            let _ = writeln!(
                o,
                "⚠ Other work on the machine took more than {DISTURBED_CORES} cores during some load runs: {}. \
                 Their requests/s are low by about that share; the server CPU per request is the steadier \
                 comparison{}.\n",
                disturbed.join("; "),
                if self.submissions.is_some() {
                    " (for the form submissions, other work also slows the disk: compare with the fsync probes \
                     beside each run)"
                } else {
                    ""
                }
            );
        }
        if let Some(s) = &self.submissions {
            let shared: Vec<String> = s
                .runs
                .iter()
                .enumerate()
                .filter(|(i, _)| s.disk_shared(*i))
                .map(|(i, (conns, _, _))| {
                    let probes = s
                        .probes
                        .iter()
                        .skip(i)
                        .take(2)
                        .map(|p| {
                            format!(
                                "{} fsync/s with others writing {}",
                                thousands(p.rate()),
                                p.others_rate()
                                    .map_or_else(|| "?".into(), |r| format!("{:.1} MB/s", r / 1e6))
                            )
                        })
                        .collect::<Vec<_>>()
                        .join(", ");
                    format!("at {conns} connections (probes beside it: {probes})")
                })
                .collect();
            if !shared.is_empty() {
                let _ = writeln!(
                    o,
                    "⚠ Other programs wrote to the disk during the fsync probes beside some form-submission runs \
                     (more than {:.0} MB/s), or those probes differ by more than {PROBES_APART:.0}×: {}. Other \
                     work's writes slow this disk's fsyncs and come in bursts, so the probes may not show what the \
                     server met during the run: those ratios are less reliable, in either direction. The SQLite \
                     thread's time per submission is the steadier figure.\n",
                    DISK_BUSY / 1e6,
                    shared.join("; ")
                );
            }
        }
        if !self.failures.is_empty() {
            let _ = writeln!(o, "Not measured:\n");
            for (what, why) in &self.failures {
                let _ = writeln!(o, "- {what}: {}", why.replace('\n', " "));
            }
            let _ = writeln!(o);
        }

        if let Some(v) = &self.visit {
            let _ = writeln!(o, "## First visit to `/`\n");
            let _ = writeln!(
                o,
                "| Request | Referenced as | Encoding | Bytes |\n| --- | --- | --- | --- |"
            );
            for f in &v.fetched {
                let _ = writeln!(
                    o,
                    "| `{}` | {} | {} | {} |",
                    f.url, f.kind, f.encoding, f.bytes
                );
            }
            let _ = writeln!(o, "| total | | | {} |\n", v.weight());
        }

        if !self.runs.is_empty() {
            let _ = writeln!(o, "## Load runs\n");
            let _ = writeln!(
                o,
                "| Server | Connections | Requests/s | p50 | p99 | Requests | Bytes/response | Errors | CPU: server / wrk / others (cores) | Server CPU per request |"
            );
            let _ = writeln!(
                o,
                "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
            );
            for conns in CONNECTIONS {
                for kind in [ServerKind::Nginx, ServerKind::KapInfo, ServerKind::KapWarn] {
                    if let Some(w) = self.run(kind, conns) {
                        let mut errors = w.errors.clone().unwrap_or_else(|| "none".into());
                        if w.non_2xx > 0 {
                            errors.push_str(&format!("; {} non-2xx/3xx", w.non_2xx));
                        }
                        let (cpu, per_request) = w.cpu.map_or_else(
                            || ("?".to_string(), "?".to_string()),
                            |c| {
                                (
                                    format!("{:.2} / {:.2} / {:.2}", c.server, c.wrk, c.others),
                                    format!("{:.1} µs", c.server_us_per_request),
                                )
                            },
                        );
                        let _ = writeln!(
                            o,
                            "| {} | {conns} | {} | {:.2} ms | {:.2} ms | {} | {:.0} | {errors} | {cpu} | {per_request} |",
                            kind.label(),
                            thousands(w.rps),
                            w.p50_ms,
                            w.p99_ms,
                            thousands(w.requests as f64),
                            w.bytes / w.requests.max(1) as f64,
                        );
                    }
                }
            }
            let _ = writeln!(o);
        }

        self.render_submissions(&mut o);

        let _ = writeln!(o, "## How it was measured\n");
        let _ = writeln!(
            o,
            "- Everything runs on this machine over loopback; wrk and the server under test share its {} cores.",
            m.cores
        );
        if self.pages {
            let _ = writeln!(
                o,
                "- Cold start: `target/release/kap-practice serve --bind 127.0.0.1:<free port> --data-dir <new temp dir> \
             --config <empty file>`, timed from spawn to the first `200` on `GET /healthz`, polled every 1 ms with a \
             raw HTTP/1.1 request; {COLD_START_RUNS} runs, median. nginx's figure is the same for its `/`."
            );
            let _ = writeln!(
                o,
                "- First visit: `GET /` with `Accept-Encoding: br` (raw HTTP/1.1, exact body bytes), then every same-origin \
             stylesheet, script, icon, manifest, preload and image the HTML references, and any `url()` in the \
             stylesheets, each with `Accept-Encoding: br`. Weight is the sum of the bodies as sent; 1 kB = 1000 B."
            );
            let _ = writeln!(
                o,
                "- nginx serves the brotli body of `/` that kap-practice sent, as a file, with `Content-Type: text/html; \
             charset=utf-8`, `Content-Encoding: br`, its own ETag, kap-practice's other response headers (security \
             headers, `Cache-Control`, `Vary`) and `X-Request-Id $request_id`; the bytes are checked identical before \
             the load. Its config: `worker_processes auto`, `access_log off`, `sendfile on`, `open_file_cache`, \
             `listen … backlog=1024` (tokio's default), `worker_connections 4096`."
            );
            let _ = writeln!(
                o,
                "- kap-practice runs twice: with its default logging (a line per request to stderr, sent to /dev/null) and \
             with `RUST_LOG=warn` (no per-request lines). Like nginx's two worker processes here, it runs one event loop \
             per core (`http-0`, `http-1`), each serving the connections it accepted."
            );
            if let Some(w) = self.runs.first() {
                let _ = writeln!(
                    o,
                    "- Load: one server at a time, each round preceded by a {WARMUP_SECS} s warm-up at the same settings; \
                 e.g. `{}`; then the same at `-c1000`. Servers and wrk start through \
                 `sh -c 'ulimit -n {FD_LIMIT} || ulimit -n <hard limit>; exec …'`; open-file limits in effect: {}.",
                    w.2.command,
                    self.fd_limits
                        .iter()
                        .map(|(k, v)| format!("{k} {v}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
            let _ = writeln!(
                o,
                "- Memory: VmRSS from `/proc/PID/status` right after start and 2 s after each round (requests counted from \
             wrk's totals, warm-ups included; the target applies from {} requests on); peak is VmHWM at the end. \
             nginx's is summed over master and workers.",
                thousands(RSS_MIN_REQUESTS as f64)
            );
        }
        if let Some(s) = &self.submissions {
            self.submission_method(&mut o, s);
        }
        let _ = writeln!(
            o,
            "- CPU during each measured run, in cores of the {}: the server's processes and wrk from `/proc/PID/stat`, \
             and `others` = the machine's busy time from `/proc/stat` (steal included) minus those two. A run with \
             `others` well above 0 shared the machine with other work and its figures are low by that much.",
            m.cores
        );
        let _ = writeln!(o, "- Each measured wrk run lasts {} s.", self.duration);
        if self.pages && self.rounds > 1 {
            let _ = writeln!(
                o,
                "- Each server was measured {} times per connection count, the servers taking turns; the table \
                 shows each one's run with the most requests/s (the least disturbed by other work). The p99 latency \
                 is judged on the median of the rounds: the tail of one run depends mostly on how the two cores \
                 happened to be shared between wrk and the server during it.",
                self.rounds
            );
        }
        o
    }
}

impl Report {
    /// The form submissions' rows of the results table.
    fn submission_rows(&self, row: &mut impl FnMut(&str, String, String, &str)) {
        let target = format!("target ≥ {SUBMISSION_TARGET:.2}× the disk's fsync/s");
        let Some(s) = &self.submissions else {
            if self
                .failures
                .iter()
                .any(|(what, _)| what == "durable form submissions")
            {
                row(
                    "Accepted form submissions/s",
                    NOT_MEASURED.into(),
                    target,
                    "✗",
                );
            }
            return;
        };
        let rates: Vec<f64> = s.probes.iter().map(Probe::rate).collect();
        if !rates.is_empty() {
            let best = rates.iter().copied().fold(0.0, f64::max);
            let fs =
                s.fs.as_ref()
                    .map(|f| format!("{} ", f.kind))
                    .unwrap_or_default();
            row(
                &format!(
                    "Disk fsync rate: write 4 KiB + fdatasync, one thread, in the server's data directory \
                     ({fs}filesystem; {} probes of {FSYNC_PROBE_SECS} s taking turns with the runs), without \
                     the probe's waits for a CPU",
                    rates.len()
                ),
                format!(
                    "{} fsync/s at best (probes: {})",
                    thousands(best),
                    rates
                        .iter()
                        .map(|r| thousands(*r))
                        .collect::<Vec<_>>()
                        .join(" / ")
                ),
                "reported: the ceiling for one commit per submission".into(),
                "",
            );
        }
        for (i, (conns, w, _)) in s.runs.iter().enumerate() {
            let beside = s.fsync_beside(i);
            let ratio = beside.map(|f| w.rps / f);
            let valid = Submissions::valid(w);
            let mut ours = match ratio {
                Some(r) => format!("{} ({r:.2}× fsync/s)", thousands(w.rps)),
                None => thousands(w.rps),
            };
            if !valid {
                let _ = write!(
                    ours,
                    "; not valid: {} answers were not `303`{}",
                    w.answers_other
                        .map_or_else(|| "?".to_string(), |n| thousands(n as f64)),
                    w.first_other_status
                        .map(|st| format!(" (first: {st})"))
                        .unwrap_or_default()
                );
            }
            row(
                &format!(
                    "Accepted submissions/s, valid `POST /contact`, {conns} connections (each stored in a \
                     committed SQLite transaction before its answer, WAL, `synchronous=FULL`)"
                ),
                ours,
                match beside {
                    Some(f) => format!("disk {} fsync/s beside this run; {target}", thousands(f)),
                    None => target.clone(),
                },
                &format!(
                    "{}{}",
                    mark(valid && ratio.is_some_and(|r| r >= SUBMISSION_TARGET)),
                    if disturbed(w) || s.disk_shared(i) {
                        " ⚠"
                    } else {
                        ""
                    }
                ),
            );
            row(
                &format!("Submission latency p50 / p99, {conns} connections"),
                format!("{:.2} / {:.2} ms", w.p50_ms, w.p99_ms),
                "reported".into(),
                "",
            );
        }
        let figure = "Requests stored, counted with `kap-practice inquiries export` after SIGTERM, against \
                      the `303` answers wrk counted";
        let reference = format!(
            "{} `303`s (warm-up included); equal, or up to {} more (answered after wrk stopped counting); \
             none as spam",
            thousands(s.answers_303 as f64),
            s.in_flight
        );
        match s.stored {
            Some((rows, inbox)) => row(
                figure,
                format!(
                    "{} stored ({:+} beside the `303`s; {} as spam)",
                    thousands(rows as f64),
                    rows as i64 - s.answers_303 as i64,
                    rows - inbox
                ),
                reference,
                mark(s.durable() == Some(true)),
            ),
            None => row(figure, NOT_MEASURED.into(), reference, "✗"),
        }
    }

    /// The section on the form submissions: every run and every probe, in order.
    fn render_submissions(&self, o: &mut String) {
        let Some(s) = &self.submissions else {
            return;
        };
        let _ = writeln!(o, "## Durable form submissions\n");
        let _ = writeln!(
            o,
            "Each accepted submission is stored in a committed SQLite transaction (the request; its \
             history line is written by a trigger; no outbox row, as no mail server is configured) in WAL \
             mode with `synchronous=FULL`: SQLite fsyncs the WAL before the commit returns, and only then is \
             the `303` sent. One writer task commits every submission waiting at that moment together \
             (group commit): each is acknowledged only after the commit that holds it, and a burst costs \
             one fsync, not one each — so the rate can pass the disk's fsync rate, measured beside each run \
             on the same filesystem, without weakening durability. sqlx runs every statement of the \
             connection on one thread (`sqlx-sqlite-worker`); its time per submission, from \
             `/proc/PID/task/TID/schedstat`, shows what the serial path is made of: on CPU (SQLite, and the \
             kernel's work for its writes and fsyncs), waiting for a CPU, and off CPU (blocked in fsync, or \
             waiting for the next statement).\n"
        );
        let _ = writeln!(
            o,
            "| Connections | Submissions/s | Disk fsync/s before / after | Ratio | p50 | p99 | `303` answers | Other answers | Socket errors | CPU: server / wrk / others (cores) | Server CPU per submission | SQLite thread per submission: on CPU / waiting for a CPU / off CPU |"
        );
        let _ = writeln!(
            o,
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
        );
        for (i, (conns, w, writer)) in s.runs.iter().enumerate() {
            let writer = writer.map_or_else(
                || "?".to_string(),
                |t| {
                    let mut text =
                        format!("{:.0} / {:.0} / {:.0} µs", t.on_cpu, t.waiting, t.off_cpu);
                    if t.threads > 1 {
                        let _ = write!(
                            text,
                            " ({} worker threads: the connection was replaced during the run)",
                            t.threads
                        );
                    }
                    text
                },
            );
            let probe = |j: usize| {
                s.probes
                    .get(j)
                    .map_or_else(|| "?".to_string(), |p| thousands(p.rate()))
            };
            let ratio = s
                .fsync_beside(i)
                .map_or_else(|| "?".to_string(), |f| format!("{:.2}×", w.rps / f));
            let count = |n: Option<u64>| n.map_or_else(|| "?".to_string(), |n| thousands(n as f64));
            let mut other = count(w.answers_other);
            if let Some(st) = w.first_other_status {
                let _ = write!(other, " (first: {st})");
            }
            let (cpu, per_request) = w.cpu.map_or_else(
                || ("?".to_string(), "?".to_string()),
                |c| {
                    (
                        format!("{:.2} / {:.2} / {:.2}", c.server, c.wrk, c.others),
                        format!("{:.1} µs", c.server_us_per_request),
                    )
                },
            );
            let _ = writeln!(
                o,
                "| {conns} | {} | {} / {} | {ratio} | {:.2} ms | {:.2} ms | {} | {other} | {} | {cpu} | {per_request} | {writer} |",
                thousands(w.rps),
                probe(i),
                probe(i + 1),
                w.p50_ms,
                w.p99_ms,
                count(w.answers_303),
                w.errors.as_deref().unwrap_or("none"),
            );
        }
        let _ = writeln!(o);
        let _ = writeln!(
            o,
            "| fsync probe | When | Disk's own fsync/s | fsync/s as measured | Per write + fdatasync: on CPU / waiting for a CPU / off CPU (the disk) | Disk writes during it: all processes (the probe's own data) | Other programs' writes |"
        );
        let _ = writeln!(o, "| --- | --- | --- | --- | --- | --- | --- |");
        for (j, p) in s.probes.iter().enumerate() {
            let when = match j {
                0 => "after the warm-up, before the first run".to_string(),
                _ => match s.runs.get(j - 1) {
                    Some((conns, _, _)) => format!("after the {conns}-connection run"),
                    None => "?".to_string(),
                },
            };
            let disk = p.disk_bytes.map_or_else(
                || "?".to_string(),
                |b| format!("{} ({})", mb(b), mb(p.syncs * PROBE_BLOCK as u64)),
            );
            let _ = writeln!(
                o,
                "| {} | {when} | {} | {} | {} | {disk} | {} |",
                j + 1,
                thousands(p.rate()),
                thousands(p.measured()),
                p.split().map_or_else(
                    || format!("{:.0} µs in all", p.secs * 1e6 / p.syncs.max(1) as f64),
                    |(cpu, wait, off)| format!("{cpu:.0} / {wait:.0} / {off:.0} µs")
                ),
                p.others_rate()
                    .map_or_else(|| "?".into(), |r| format!("{:.1} MB/s", r / 1e6)),
            );
        }
        let _ = writeln!(o);
        if let Some(w) = &s.warmup {
            let _ = writeln!(
                o,
                "- Warm-up before the first probe, {WARMUP_SECS} s at {} connections: {} `303` answers, {} others.",
                SUBMISSION_CONNECTIONS[0],
                w.answers_303
                    .map_or_else(|| "?".to_string(), |n| thousands(n as f64)),
                w.answers_other
                    .map_or_else(|| "?".to_string(), |n| thousands(n as f64)),
            );
        }
        let _ = writeln!(
            o,
            "- Load average (1, 5, 15 min): {} before the submissions, {} after.",
            s.load_before, s.load_after
        );
        let _ = writeln!(
            o,
            "- The server {} through the runs and {}.",
            if s.server_alive {
                "kept running"
            } else {
                "EXITED"
            },
            if s.stopped_on_term {
                "stopped on SIGTERM"
            } else {
                "did not stop on SIGTERM within 5 s (killed)"
            }
        );
        if let Some((rows, inbox)) = s.stored {
            let diff = rows as i64 - s.answers_303 as i64;
            let verdict = match s.durable() {
                Some(true) if diff == 0 => {
                    "every acknowledged submission was stored, and nothing else".to_string()
                }
                Some(true) => format!(
                    "every acknowledged submission was stored; the {diff} more are requests the server stored and \
                     answered as wrk stopped, after it had stopped counting (at most one per connection per run: {})",
                    s.in_flight
                ),
                _ if diff < 0 => format!(
                    "{} acknowledged submissions are MISSING from the store",
                    -diff
                ),
                _ if s.answers_other > 0 => {
                    "some answers were not `303`, so the counts cannot be matched".to_string()
                }
                _ if inbox < rows => format!("{} were filed as spam", rows - inbox),
                _ => format!("{diff} more than the `303`s, more than could have been in flight"),
            };
            let _ = writeln!(
                o,
                "- Stored after SIGTERM: {} requests ({} in the inbox) against {} `303` answers and {} other answers \
                 counted by wrk over every run, warm-up included: {verdict}.",
                thousands(rows as f64),
                thousands(inbox as f64),
                thousands(s.answers_303 as f64),
                thousands(s.answers_other as f64),
            );
        }
        let _ = writeln!(o);
    }

    /// How the form submissions were measured.
    fn submission_method(&self, o: &mut String, s: &Submissions) {
        let command = s
            .runs
            .first()
            .map(|(_, w, _)| format!("; e.g. `{}`", w.command))
            .unwrap_or_default();
        let _ = writeln!(
            o,
            "- Form submissions: `target/release/kap-practice serve --bind 127.0.0.1:<free port> --data-dir <new temp \
             dir> --config <file>` with `KAP_MIN_FILL_SECONDS=0` (a form sent at once is not filed as spam), default \
             logging (stderr → /dev/null), no mail server, and the config `[contact_form] rate_limit_per_hour = \
             4000000000` (the per-address limit never refuses). One `GET /contact` gives the hidden `form_token`, \
             which every post reuses. wrk posts `{SUBMISSION_BODY}<token>` as \
             `application/x-www-form-urlencoded` to `/contact` from a Lua script whose `response()` counts the \
             `303` answers and the others and whose `done()` prints the counts{command}; then the same at \
             `-c{}`. A figure counts only when every answer was a `303`. A {WARMUP_SECS} s warm-up at \
             `-c{}` comes first: it brings the WAL to its working size.",
            SUBMISSION_CONNECTIONS[1], SUBMISSION_CONNECTIONS[0],
        );
        let fs = s.fs.as_ref().map_or_else(
            || "its filesystem".to_string(),
            |f| {
                format!(
                    "{} on {}, mounted at {}; disk writes from /sys/dev/block/{}/stat",
                    f.kind, f.source, f.mount, f.device
                )
            },
        );
        let _ = writeln!(
            o,
            "- fsync probes: a file in the server's data directory ({fs}) is filled to {} blocks of \
             {PROBE_BLOCK} B (the WAL's size at SQLite's default checkpoint of 1000 pages), then one thread \
             writes {PROBE_BLOCK} B at the next offset (`pwrite`, wrapping round) and calls \
             `File::sync_data()` (fdatasync), in a loop for \
             {FSYNC_PROBE_SECS} s; while the server is idle, after the warm-up and after each run. The disk's own \
             rate leaves out the time the probe's thread waited for a CPU after each fsync (from \
             /proc/thread-self/schedstat): on a machine busy with other work that wait, not the disk, can take \
             milliseconds per fsync. A run's ratio \
             divides its submissions/s by the faster of the probes just before and after it: the one less slowed \
             by other work's writes, and the harder comparison. It is marked ⚠ when other programs wrote more than \
             {:.0} MB/s to the disk during one of those probes (the disk's writes less the probe's own data), or \
             when the two differ by more than {PROBES_APART:.0}×.",
            PROBE_FILE_BYTES / PROBE_BLOCK as u64,
            DISK_BUSY / 1e6
        );
        let _ = writeln!(
            o,
            "- Durability: after the runs the server gets SIGTERM; then `target/release/kap-practice inquiries \
             export --format jsonl --data-dir <its dir> --config <file> | wc -l` (the bench counts the lines) must \
             equal the `303`s wrk counted over every run, warm-up included, or exceed them by at most one per \
             connection per run: a request in flight when wrk stops is stored and answered, but wrk no longer \
             counts it. Every row must be in the inbox, none as spam."
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_wrk_output() {
        let text = "Running 10s test @ http://127.0.0.1:1/
  2 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   500.00us  1.00ms  20.00ms   90.00%
  Latency Distribution
     50%  410.00us
     75%  600.00us
     90%    1.00ms
     99%    2.00ms
  1331616 requests in 10.00s, 10.23GB read
  Socket errors: connect 0, read 0, write 0, timeout 3
Requests/sec: 133128.50
Transfer/sec:      1.02GB
";
        let w = parse_wrk(text, true).expect("parsed");
        assert_eq!(w.requests, 1_331_616);
        assert!((w.rps - 133_128.5).abs() < 1e-6);
        assert!((w.p50_ms - 0.41).abs() < 1e-9);
        assert!((w.p99_ms - 2.0).abs() < 1e-9);
        assert!(w.errors.is_some_and(|e| e.contains("timeout 3")));
        assert!(parse_wrk("nothing here", false).is_err());
    }

    #[test]
    fn finds_what_a_first_visit_fetches() {
        let html = r#"<!doctype html><head>
<link rel="canonical" href="http://127.0.0.1:9/">
<link rel=icon href="/static/icons/favicon.1.svg" type="image/svg+xml">
<link rel="stylesheet" href='/static/css/site.2.css'>
<!-- <script src="/commented.js"></script> -->
<script src="/static/js/compare.3.js" defer></script>
<script type="application/ld+json">{"x":"<link rel=stylesheet href=/no.css>"}</script>
<img src="https://elsewhere.example/x.png"><img src="data:image/png;base64,AAAA">
"#;
        let base = "http://127.0.0.1:9";
        let refs: Vec<(String, String)> = html_references(html)
            .into_iter()
            .filter_map(|(k, u)| Some((k, same_origin(&u, "/", base)?)))
            .collect();
        let expect = |k: &str, u: &str| (k.to_string(), u.to_string());
        assert_eq!(
            refs,
            vec![
                expect("icon", "/static/icons/favicon.1.svg"),
                expect("stylesheet", "/static/css/site.2.css"),
                expect("script", "/static/js/compare.3.js"),
            ]
        );
        assert_eq!(
            same_origin("../fonts/a.woff2", "/static/css/site.css", base).as_deref(),
            Some("/static/fonts/a.woff2")
        );
        assert_eq!(
            css_references("a{background:url('/i.svg')} @import \"x.css\";"),
            vec!["/i.svg".to_string(), "x.css".to_string()]
        );
    }

    #[test]
    fn reads_the_submission_counts_and_the_form_token() {
        let text = "Running 10s test @ http://127.0.0.1:1/contact
  2 threads and 16 connections
  Latency Distribution
     50%   22.56ms
     99%   84.58ms
  6662 requests in 10.01s, 4.21MB read
Requests/sec:    665.32
Transfer/sec:    430.66KB
kap-bench 303: 6660
kap-bench non-303: 2
kap-bench first non-303 status: 429
";
        let w = parse_wrk(text, true).expect("parsed");
        assert_eq!(
            (w.answers_303, w.answers_other, w.first_other_status),
            (Some(6660), Some(2), Some(429))
        );
        assert!(!Submissions::valid(&w));
        let html = r#"<form method="post"><input type="hidden" name="form_token" value="00ab-9f">
<input name="website"></form>"#;
        assert_eq!(form_token(html).as_deref(), Some("00ab-9f"));
        assert_eq!(form_token(r#"<input name="form_token" value='a"b'>"#), None);
        assert!(post_script("a=1&form_token=00ab").contains("wrk.body = \"a=1&form_token=00ab\""));
    }

    #[test]
    fn matches_stored_requests_to_answers() {
        let mut s = Submissions {
            answers_303: 100,
            in_flight: 16 + 64,
            stored: Some((110, 110)),
            ..Submissions::default()
        };
        assert_eq!(s.durable(), Some(true));
        s.stored = Some((99, 99));
        assert_eq!(s.durable(), Some(false));
        s.stored = Some((181, 181));
        assert_eq!(s.durable(), Some(false));
        s.stored = Some((100, 90));
        assert_eq!(s.durable(), Some(false));
        s.probes = vec![
            Probe {
                syncs: 1000,
                secs: 5.0,
                sched: None,
                disk_bytes: None,
            },
            Probe {
                syncs: 2000,
                secs: 5.0,
                sched: None,
                disk_bytes: None,
            },
        ];
        assert_eq!(s.fsync_beside(0), Some(400.0));
        assert!(!s.disk_shared(0));
        s.probes[1].syncs = 3000;
        assert!(s.disk_shared(0));
        s.probes[1].syncs = 1000;
        s.probes[0].disk_bytes = Some(1000 * PROBE_BLOCK as u64 + 20_000_000);
        assert!(s.disk_shared(0));
        assert_eq!(s.fsync_beside(1), None);
        assert!(filesystem(Path::new("/")).is_some_and(|f| f.mount == "/"));
        // 1000 fsyncs in 5 s of which 4 s were spent waiting for a CPU: the disk did 1000/s.
        let waited = Probe {
            syncs: 1000,
            secs: 5.0,
            sched: Some((100_000_000, 4_000_000_000)),
            disk_bytes: None,
        };
        assert!((waited.measured() - 200.0).abs() < 1e-9 && (waited.rate() - 1000.0).abs() < 1e-6);
        let (cpu, wait, off) = waited.split().expect("schedstat");
        assert!(
            (cpu - 100.0).abs() < 1e-9
                && (wait - 4000.0).abs() < 1e-9
                && (off - 900.0).abs() < 1e-6
        );
        assert!(thread_schedstat().is_some());
        let sample = WriterSample {
            cpu_ns: 100_000_000,
            wait_ns: 50_000_000,
            threads: 1,
        };
        let t = writer_time(sample, 1.0, 1000).expect("one thread");
        assert!((t.on_cpu - 100.0).abs() < 1e-9 && (t.waiting - 50.0).abs() < 1e-9);
        assert!((t.off_cpu - 850.0).abs() < 1e-9);
        assert!(writer_time(WriterSample::default(), 1.0, 1000).is_none());
        let stop = AtomicBool::new(true);
        let own = sample_writers(std::process::id(), &stop);
        assert_eq!(own.threads, 0);
    }

    #[test]
    fn parses_responses() {
        let raw = b"HTTP/1.1 200 OK\r\nContent-Encoding: br\r\nContent-Length: 3\r\n\r\nabcEXTRA";
        let r = parse_response(raw).expect("parsed");
        assert_eq!((r.status, r.body.as_slice()), (200, &b"abc"[..]));
        assert_eq!(r.header("content-encoding"), Some("br"));
        let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
        assert_eq!(parse_response(chunked).expect("parsed").body, b"abcde");
    }
}
