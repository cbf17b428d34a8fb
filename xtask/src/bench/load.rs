//! GET / under wrk, kap-practice beside nginx serving the same bytes, plain and over TLS;
//! then the servers' resident memory.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};

use super::wrk::{DONE_HOOK, Wrk, wrk};
use super::{
    Bench, LIVE_PRACTICE, P99_TARGET, RPS_TARGET, RSS_TARGET, Report, join, median, step, thousands,
};
use crate::tools::{self, Process};

impl Bench<'_> {
    /// GET / under wrk, kap-practice beside nginx, plain and over TLS; then memory.
    pub(super) fn load(&self, report: &mut Report) -> Result<()> {
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
}

/// A page server under load and its runs.
pub(super) struct Target {
    pub(super) name: &'static str,
    pub(super) url: String,
    pub(super) runs: Vec<Wrk>,
}

impl Target {
    pub(super) fn new(name: &'static str, url: String) -> Target {
        Target {
            name,
            url,
            runs: Vec::new(),
        }
    }

    pub(super) fn best(&self) -> Option<&Wrk> {
        self.runs.iter().max_by(|a, b| a.rps().total_cmp(&b.rps()))
    }
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
    # One line per request, as kap-practice writes one (its default, `RUST_LOG=info`): nginx's
    # own default, to a file, so that both servers do the same work for each request.
    access_log {d}/access.log;
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

fn vm_rss(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}
