//! Drills: the real binary under conditions a practice meets sooner or later — a data directory
//! that is read-only or full, and one address flooding the contact form while people use it.
//!
//! The disk drills give the server a small tmpfs of its own, mounted in a private mount namespace
//! (`unshare`: directly as root, inside a user namespace as any other user), so the kernel
//! answers with real `EROFS` and `ENOSPC`, nothing stays mounted after the test, and no setup is
//! needed. The test reaches the server's files through `/proc/<pid>/root`, which shows the
//! process's own mounts. The disk drills are of SQLite in the data directory, in both test
//! runs; PostgreSQL going away is drilled in `scale_out.rs`.

use crate::common;

use std::collections::HashSet;
use std::ffi::OsStr;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::common::{
    Process, blocking_get, blocking_post, form_body, free_port, token_in, valid_fields,
};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// A fixed data key, so an export can open what the drill's server wrote.
const KEY: &str = "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a";

/// Whether the tests run as root (who can mount without a user namespace).
fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .expect("/proc/self/status")
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1).map(|euid| euid == "0"))
        .expect("an effective uid")
}

/// `kap-practice <args>` started by `sh` after `setup` (shell commands that may use `$DATA`, the
/// data directory), all in a new private mount namespace.
fn in_namespace(setup: &str, data: &Path, args: &[&OsStr]) -> Command {
    let mut cmd = Command::new("unshare");
    if !is_root() {
        cmd.args(["--user", "--map-root-user"]);
    }
    cmd.args(["--mount", "--propagation", "private", "sh", "-c"])
        .arg(format!("set -e; {setup}; exec \"$@\""))
        .arg("sh")
        .arg(env!("CARGO_BIN_EXE_kap-practice"))
        .args(args)
        .env("DATA", data)
        .env("KAP_DATA_KEY", KEY)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    cmd
}

/// Serving `data` with `config` after `setup` (as in [`in_namespace`]) stops at the start with
/// one line that says `expected`.
fn start_refused_after(setup: &str, data: &Path, config: &Path, expected: &str) {
    let (code, stderr) = run_to_exit(
        &mut in_namespace(setup, data, &serve_args(data, config, "127.0.0.1:0")),
        Duration::from_secs(20),
    );
    assert_refused(code, &stderr, data, expected);
}

/// Explains a namespace that could not be made.
const NEEDS: &str = "this drill mounts a small tmpfs in a private mount namespace (unshare and \
mount from util-linux): it needs root, or unprivileged user namespaces for other users";

/// Runs `cmd` to its end (killing it after `within`): exit code and standard error.
fn run_to_exit(cmd: &mut Command, within: Duration) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("stderr.log");
    let mut child = cmd
        .stderr(std::fs::File::create(&log).expect("log"))
        .spawn()
        .expect("spawn unshare");
    let deadline = Instant::now() + within;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stderr = std::fs::read_to_string(&log).unwrap_or_default();
    let status = status.unwrap_or_else(|| {
        panic!("kap-practice kept running on a data directory it cannot write to: {stderr}")
    });
    (status.code(), stderr)
}

/// What a refused start must look like: exit status 1, one line on standard error that names the
/// directory and says what to do, and no panic.
fn assert_refused(code: Option<i32>, stderr: &str, dir: &Path, expected: &str) {
    assert!(
        !stderr.contains("unshare:") && !stderr.contains("mount:"),
        "{NEEDS}: {stderr}"
    );
    assert_eq!(code, Some(1), "exit status: {stderr}");
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line: {stderr}");
    let line = lines[0];
    assert!(line.starts_with("kap-practice cannot start: "), "{line}");
    assert!(
        line.contains(&dir.display().to_string()),
        "names {dir:?}: {line}"
    );
    assert!(line.contains(expected), "says {expected:?}: {line}");
    assert!(
        line.contains("--data-dir") || line.contains("free some space"),
        "says what to do: {line}"
    );
    assert!(
        !line.contains("panicked") && !line.contains("backtrace"),
        "{line}"
    );
}

fn serve_args<'a>(data: &'a Path, config: &'a Path, bind: &'a str) -> Vec<&'a OsStr> {
    vec![
        OsStr::new("serve"),
        OsStr::new("--bind"),
        OsStr::new(bind),
        OsStr::new("--data-dir"),
        data.as_os_str(),
        OsStr::new("--config"),
        config.as_os_str(),
    ]
}

fn empty_config(dir: &Path) -> PathBuf {
    let config = dir.join("kap-practice.toml");
    std::fs::write(&config, "").expect("config");
    config
}

/// The server refuses to start, saying `expected`, on an empty data directory that `setup`
/// mounts first (see [`start_refused_after`]), with an empty config file.
fn refused_on_a_fresh_mount(setup: &str, expected: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = empty_config(dir.path());
    let data = dir.path().join("data");
    std::fs::create_dir(&data).expect("mount point");
    start_refused_after(setup, &data, &config, expected);
}

#[test]
fn a_data_directory_under_a_file_stops_the_start_with_one_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = empty_config(dir.path());
    let file = dir.path().join("not-a-folder");
    std::fs::write(&file, "a file where the data directory should go").expect("file");
    let data = file.join("data");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kap-practice"));
    cmd.args(serve_args(&data, &config, "127.0.0.1:0"))
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    let (code, stderr) = run_to_exit(&mut cmd, Duration::from_secs(20));
    assert_refused(code, &stderr, &data, "is a file, not a folder");
}

#[test]
fn a_read_only_data_directory_stops_the_start_with_one_line() {
    // An empty read-only file system: nothing can be created.
    refused_on_a_fresh_mount(
        "mount -t tmpfs -o ro,size=1m,mode=0700 kap-drill \"$DATA\"",
        "is on a read-only file system",
    );

    // A working data directory (database, key) that is later mounted read-only, as a disk is
    // after errors: the server refuses to start, and leaves the data as it was.
    let dir = tempfile::tempdir().expect("tempdir");
    let config = empty_config(dir.path());
    let data = dir.path().join("kept");
    let data_arg = data.to_str().expect("utf-8");
    let config_arg = config.to_str().expect("utf-8");
    {
        let p = Process::serve(
            &["--data-dir", data_arg, "--config", config_arg],
            // The drill is of the data directory's SQLite database, on either run.
            &[
                ("KAP_DATA_KEY", KEY),
                ("KAP_MIN_FILL_SECONDS", "0"),
                ("DATABASE_URL", ""),
            ],
        );
        let token = token_in(&p.get("/contact"));
        assert_eq!(post(p.addr, &token, "Kept Before").0, 303);
    }
    let before = std::fs::read(data.join("kap-practice.db")).expect("database");
    start_refused_after(
        "mount --bind \"$DATA\" \"$DATA\"; mount -o remount,bind,ro \"$DATA\"",
        &data,
        &config,
        "is on a read-only file system",
    );
    assert_eq!(
        std::fs::read(data.join("kap-practice.db")).expect("database"),
        before,
        "the database is untouched"
    );
    assert!(
        common::export_with(
            Command::new(env!("CARGO_BIN_EXE_kap-practice")),
            &data,
            "jsonl",
            Some(KEY)
        )
        .contains("Kept Before")
    );
}

#[test]
fn a_full_disk_stops_the_start_with_one_line() {
    refused_on_a_fresh_mount(
        "mount -t tmpfs -o size=1m,mode=0700 kap-drill \"$DATA\"; \
         dd if=/dev/zero of=\"$DATA/filler\" bs=64k 2>/dev/null || true",
        "is full; free some space",
    );
}

/// Posts a valid request named `name` with `token`: (status, head, body).
fn post(addr: SocketAddr, token: &str, name: &str) -> (u16, String, String) {
    let mut pairs: Vec<(&str, String)> = valid_fields(name);
    pairs.push(("form_token", token.to_string()));
    let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    blocking_post(
        addr,
        "/contact",
        "application/x-www-form-urlencoded",
        form_body(&pairs).as_bytes(),
    )
    .expect("a response")
}

/// The same, run in the mount namespace of process `pid` (SQLite resolves the symbolic link
/// `/proc/<pid>/root`, so the database must be opened from inside).
fn export_in_namespace_of(pid: u32, data: &Path) -> String {
    let mut cmd = Command::new("nsenter");
    cmd.args(["--target", &pid.to_string()]);
    if !is_root() {
        cmd.args(["--user", "--preserve-credentials"]);
    }
    cmd.arg("--mount").arg(env!("CARGO_BIN_EXE_kap-practice"));
    common::export_with(cmd, data, "jsonl", Some(KEY))
}

/// The `name` of every request kept by the server `pid` in `data`.
fn exported_names(pid: u32, data: &Path) -> HashSet<String> {
    export_in_namespace_of(pid, data)
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("a JSON line");
            v["name"].as_str().expect("a name").to_string()
        })
        .collect()
}

/// `/healthz`: status and body.
fn health(addr: SocketAddr) -> (u16, serde_json::Value) {
    let raw = blocking_get(addr, "/healthz").expect("healthz answers");
    let status: u16 = raw.get(9..12).and_then(|s| s.parse().ok()).expect("status");
    let body = raw.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    (status, serde_json::from_str(body).expect("healthz JSON"))
}

/// The server on a tmpfs of `size` in its own mount namespace, answering.
/// Returns the process, its data directory as the test sees it (through `/proc/<pid>/root`),
/// and as the server sees it.
fn serve_on_tmpfs(size: &str) -> (Process, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("kap-practice.toml");
    std::fs::write(&config, "[contact_form]\nrate_limit_per_hour = 100000\n").expect("config");
    let data = dir.path().join("data");
    std::fs::create_dir(&data).expect("mount point");
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("addr");
    let stderr_path = dir.path().join("stderr.log");
    let bind = addr.to_string();
    let child = in_namespace(
        &format!("mount -t tmpfs -o size={size},mode=0700 kap-drill \"$DATA\""),
        &data,
        &serve_args(&data, &config, &bind),
    )
    .env("KAP_MIN_FILL_SECONDS", "0")
    .stderr(std::fs::File::create(&stderr_path).expect("log"))
    .spawn()
    .expect("spawn unshare");
    let mut p = Process {
        child,
        addr,
        stderr_path,
        dir,
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(Some(status)) = p.child.try_wait() {
            panic!("the server exited ({status}); {NEEDS}: {}", p.stderr());
        }
        if p.get("/healthz").starts_with("HTTP/1.1 200") {
            break;
        }
        assert!(Instant::now() < deadline, "no answer: {}", p.stderr());
        std::thread::sleep(Duration::from_millis(20));
    }
    // The data directory as the server sees it.
    let inside = PathBuf::from(format!("/proc/{}/root", p.child.id())).join(
        data.strip_prefix("/")
            .expect("an absolute temporary directory"),
    );
    assert!(
        inside.join("kap-practice.db").is_file(),
        "the database on the tmpfs"
    );
    (p, inside, data)
}

/// Writes zeros to `path` until the file system is full; returns the bytes written.
fn fill(path: &Path) -> u64 {
    use std::io::Write;
    let mut file = std::fs::File::create(path).expect("filler");
    let chunk = vec![0u8; 64 * 1024];
    let mut written = 0u64;
    loop {
        match file.write(&chunk) {
            Ok(0) => panic!("no progress writing {}", path.display()),
            Ok(n) => written += n as u64,
            Err(e) => {
                assert_eq!(e.raw_os_error(), Some(28), "ENOSPC, got {e}");
                return written;
            }
        }
    }
}

#[test]
fn a_disk_that_fills_while_serving_refuses_honestly_and_recovers_without_a_restart() {
    let (mut p, data, data_path) = serve_on_tmpfs("8m");
    let token = token_in(&p.get("/contact"));
    let mut acknowledged: Vec<String> = Vec::new();
    let mut refused: Vec<String> = Vec::new();
    for i in 0..5 {
        let name = format!("Before Full {i}");
        assert_eq!(post(p.addr, &token, &name).0, 303);
        acknowledged.push(name);
    }

    // The disk fills up.
    let filled = fill(&data.join("filler"));
    assert!(filled > 4 * 1024 * 1024, "the tmpfs had room: {filled}");
    // SQLite first reuses the space its write-ahead log already holds (what it acknowledges
    // then is really kept, as checked below); once that is used up, every request is refused.
    let mut acknowledged_while_full = 0;
    let mut refused_in_a_row = 0;
    for i in 0..500 {
        let name = format!("While Full {i}");
        let (status, head, body) = post(p.addr, &token, &name);
        match status {
            303 => {
                acknowledged.push(name);
                acknowledged_while_full += 1;
                refused_in_a_row = 0;
            }
            503 => {
                let text = common::visible_text(&body);
                assert!(text.contains("Your request was not received"), "{text}");
                assert!(text.contains("it has NOT reached the practice"), "{text}");
                assert!(text.contains("hello@example.com"), "offers email: {text}");
                assert!(text.contains("(555) 010-0100"), "offers the phone: {text}");
                assert!(
                    head.to_ascii_lowercase().contains("retry-after: 300"),
                    "{head}"
                );
                refused.push(name);
                refused_in_a_row += 1;
                if refused_in_a_row == 20 {
                    break;
                }
            }
            other => panic!("a full disk answered {other}, not 503: {body}"),
        }
    }
    assert_eq!(
        refused_in_a_row,
        20,
        "a full disk refuses requests ({acknowledged_while_full} acknowledged, {} refused)",
        refused.len()
    );
    let (status, v) = health(p.addr);
    assert_eq!(status, 503, "{v}");
    assert_eq!(v["status"], "degraded");
    assert_eq!(v["storage"], "full");
    // The public pages are still served.
    assert!(p.get("/").starts_with("HTTP/1.1 200"));
    let log = p.log_with("consultation request NOT stored");
    assert!(log.contains("consultation request NOT stored"), "{log}");
    assert!(!log.contains("panicked"), "{log}");

    // Space returns: the next request is stored, by the same process.
    std::fs::remove_file(data.join("filler")).expect("free the space");
    let (status, v) = health(p.addr);
    assert_eq!(
        (status, &v["storage"]),
        (503, &serde_json::json!("failing")),
        "until a write succeeds, the last one failed: {v}"
    );
    for i in 0..5 {
        let name = format!("After Full {i}");
        let (status, _, body) = post(p.addr, &token, &name);
        assert_eq!(status, 303, "stored again without a restart: {body}");
        acknowledged.push(name);
    }
    let (status, v) = health(p.addr);
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["storage"], "ok");
    assert!(
        matches!(p.child.try_wait(), Ok(None)),
        "the same process throughout: {}",
        p.stderr()
    );

    // Everything acknowledged is kept; nothing refused was kept behind the person's back.
    let names = exported_names(p.child.id(), &data_path);
    let missing: Vec<_> = acknowledged
        .iter()
        .filter(|n| !names.contains(*n))
        .collect();
    assert!(missing.is_empty(), "acknowledged but lost: {missing:?}");
    let kept: Vec<_> = refused.iter().filter(|n| names.contains(*n)).collect();
    assert!(kept.is_empty(), "said NOT received, but kept: {kept:?}");
    assert_eq!(names.len(), acknowledged.len());
    println!(
        "full disk: {} acknowledged in all ({acknowledged_while_full} of them into the space the \
         log already held), {} refused with 503; filler {} KiB",
        acknowledged.len(),
        refused.len(),
        filled / 1024
    );
}

/// The resident memory of process `pid`, in KiB.
fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .expect("process status")
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .expect("VmRSS")
}

/// An HTTP client whose connections come from `local` (127.0.0.2, …: another visitor).
fn client_from(local: IpAddr) -> Client<HttpConnector, Full<Bytes>> {
    let mut connector = HttpConnector::new();
    connector.set_local_address(Some(local));
    Client::builder(TokioExecutor::new()).build(connector)
}

async fn send(
    client: &Client<HttpConnector, Full<Bytes>>,
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<String>,
) -> (u16, hyper::HeaderMap, Bytes) {
    let mut req = hyper::Request::builder()
        .method(method)
        .uri(format!("http://{addr}{path}"));
    if body.is_some() {
        req = req.header("content-type", "application/x-www-form-urlencoded");
    }
    let req = req
        .body(Full::new(Bytes::from(body.unwrap_or_default())))
        .expect("request");
    let res = tokio::time::timeout(Duration::from_secs(30), client.request(req))
        .await
        .expect("an answer within 30 s")
        .expect("a response");
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let body = res.into_body().collect().await.expect("body").to_bytes();
    (status, headers, body)
}

fn request_body(name: &str, token: &str) -> String {
    let mut pairs: Vec<(&str, String)> = valid_fields(name);
    pairs.push(("form_token", token.to_string()));
    let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    form_body(&pairs)
}

/// How long the flood lasts.
const FLOOD: Duration = Duration::from_secs(15);
/// Concurrent connections of the flood.
const FLOOD_CONNECTIONS: usize = 8;
/// People using the form during the flood, each from an address of their own.
const VISITORS: u8 = 30;
/// The server may grow by this much under the flood: a flood costs it no memory per request.
const RSS_GROWTH_LIMIT_KIB: u64 = 32 * 1024;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_from_one_address_is_refused_while_people_get_through() {
    // The defaults: 10 requests per address per hour, 3 s minimum fill time.
    let p = Process::serve(&[], &[]);
    let addr = p.addr;
    let pid = p.child.id();
    let data = p.dir.path().join("data");
    let limit = 10u64;

    // Warm up (pages, the form, the limiter) before the first measurement.
    let warm = client_from("127.0.0.250".parse().expect("ip"));
    for _ in 0..50 {
        assert_eq!(send(&warm, addr, "GET", "/contact", None).await.0, 200);
        assert_eq!(send(&warm, addr, "GET", "/", None).await.0, 200);
    }
    let rss_before = rss_kib(pid);

    let flood_client = client_from("127.0.0.1".parse().expect("ip"));
    let (status, _, page) = send(&flood_client, addr, "GET", "/contact", None).await;
    assert_eq!(status, 200);
    let flood_body = request_body("Flood Sender", &token_in(&String::from_utf8_lossy(&page)));
    let counts = Arc::new([
        AtomicU64::new(0), // 303
        AtomicU64::new(0), // 429 with the friendly page and Retry-After
        AtomicU64::new(0), // anything else
    ]);
    let started = Instant::now();
    let mut flood = Vec::new();
    for _ in 0..FLOOD_CONNECTIONS {
        let client = flood_client.clone();
        let body = flood_body.clone();
        let counts = counts.clone();
        flood.push(tokio::spawn(async move {
            let mut other = None;
            while started.elapsed() < FLOOD {
                let (status, headers, page) =
                    send(&client, addr, "POST", "/contact", Some(body.clone())).await;
                let friendly = status == 429
                    && headers.get("retry-after").is_some()
                    && String::from_utf8_lossy(&page)
                        .contains("Too many requests from your connection");
                let slot = match status {
                    303 => 0,
                    _ if friendly => 1,
                    _ => {
                        other.get_or_insert((status, String::from_utf8_lossy(&page).into_owned()));
                        2
                    }
                };
                counts[slot].fetch_add(1, Ordering::Relaxed);
            }
            other
        }));
    }

    // People, each from an address of their own, arriving through the flood: open the form,
    // take a few seconds to fill it in, send it.
    let mut visitors = Vec::new();
    for i in 0..VISITORS {
        visitors.push(tokio::spawn(async move {
            tokio::time::sleep(FLOOD.mul_f64(f64::from(i) / f64::from(VISITORS) * 0.7)).await;
            let client = client_from(IpAddr::from([127, 0, 0, 2 + i]));
            let (status, _, page) = send(&client, addr, "GET", "/contact", None).await;
            assert_eq!(status, 200, "visitor {i} gets the form");
            let token = token_in(&String::from_utf8_lossy(&page));
            // A deliberate wait: a person takes a while to fill in the form, longer than the
            // 3 s minimum fill time below which a form counts as sent by a machine.
            tokio::time::sleep(Duration::from_millis(3300)).await;
            let name = format!("Visitor {i}");
            let sent = Instant::now();
            let (status, headers, page) = send(
                &client,
                addr,
                "POST",
                "/contact",
                Some(request_body(&name, &token)),
            )
            .await;
            assert_eq!(
                (
                    status,
                    headers.get("location").and_then(|v| v.to_str().ok())
                ),
                (303, Some("/contact/thanks")),
                "visitor {i}: {}",
                String::from_utf8_lossy(&page)
            );
            (name, sent.elapsed())
        }));
    }

    let mut rss_peak = rss_before;
    while started.elapsed() < FLOOD {
        rss_peak = rss_peak.max(rss_kib(pid));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut people = Vec::new();
    for v in visitors {
        people.push(v.await.expect("a visitor got through"));
    }
    for f in flood {
        if let Some((status, body)) = f.await.expect("flood task") {
            panic!("the flood got {status}, not 303 or 429: {body}");
        }
    }
    let flood_seconds = started.elapsed().as_secs_f64();
    rss_peak = rss_peak.max(rss_kib(pid));
    let rss_after = rss_kib(pid);
    let accepted = counts[0].load(Ordering::Relaxed);
    let limited = counts[1].load(Ordering::Relaxed);
    let slowest = people.iter().map(|(_, t)| *t).max().unwrap_or_default();
    println!(
        "flood: {} posts in {flood_seconds:.1} s ({:.0}/min) from 127.0.0.1: {accepted} × 303, \
         {limited} × 429; {VISITORS} visitors from 127.0.0.2–{}: all 303, slowest {} ms; \
         server RSS {} KiB before, {} KiB peak, {} KiB after",
        accepted + limited,
        (accepted + limited) as f64 * 60.0 / flood_seconds,
        1 + VISITORS,
        slowest.as_millis(),
        rss_before,
        rss_peak,
        rss_after
    );

    assert!(
        (accepted + limited) as f64 * 60.0 / flood_seconds >= 2000.0,
        "a flood of thousands per minute: {} in {flood_seconds:.1} s",
        accepted + limited
    );
    assert_eq!(
        accepted, limit,
        "the flood's address gets its allowance and no more"
    );
    assert!(limited > 1000, "the rest is refused with 429: {limited}");
    assert!(
        rss_peak.saturating_sub(rss_before) < RSS_GROWTH_LIMIT_KIB,
        "memory stays bounded: {rss_before} KiB before, {rss_peak} KiB at the peak"
    );

    // Every person's request is kept, and not as spam.
    let export = common::run_binary(
        &[
            "inquiries",
            "export",
            "--format",
            "jsonl",
            "--data-dir",
            data.to_str().expect("utf-8"),
            "--config",
            p.dir
                .path()
                .join("kap-practice.toml")
                .to_str()
                .expect("utf-8"),
        ],
        p.dir.path(),
    );
    assert_eq!(export.0, 0, "export: {}", export.2);
    let rows: Vec<serde_json::Value> = export
        .1
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    for (name, _) in &people {
        let row = rows
            .iter()
            .find(|r| r["name"] == name.as_str())
            .unwrap_or_else(|| panic!("{name} was acknowledged but is not kept"));
        assert!(row["spam"].is_null(), "{name} filed as spam: {row}");
    }
    let flood_rows = rows.iter().filter(|r| r["name"] == "Flood Sender").count() as u64;
    assert_eq!(flood_rows, limit, "only the flood's allowance is kept");
    assert_eq!(rows.len() as u64, u64::from(VISITORS) + limit);
}

/// The size of the SQLite database and its write-ahead log (nothing in the PostgreSQL run).
fn database_bytes(app: &common::TestApp) -> u64 {
    let data = app.data_dir.path().join("data");
    ["kap-practice.db", "kap-practice.db-wal"]
        .iter()
        .filter_map(|f| std::fs::metadata(data.join(f)).ok())
        .map(|m| m.len())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifteen_seconds_of_sign_in_pages_leave_the_database_as_it_was() {
    let app = common::TestApp::start().await;
    app.add_clinician().await;
    // Let start-up writes settle, then measure.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let sessions_before = app.state.store.session_counts(0).await.expect("count").0;
    let bytes_before = database_bytes(&app);
    let until = Instant::now() + Duration::from_secs(15);
    let served = AtomicU64::new(0);
    let worker = || async {
        while Instant::now() < until {
            let r = app.get("/admin/login").await;
            assert_eq!(r.status, 200);
            assert!(r.header("set-cookie").is_none(), "no cookie before sign-in");
            served.fetch_add(1, Ordering::Relaxed);
        }
    };
    tokio::join!(worker(), worker(), worker(), worker());
    assert!(served.load(Ordering::Relaxed) > 500, "the drill ran");
    assert_eq!(
        app.state.store.session_counts(0).await.expect("count").0,
        sessions_before,
        "no session rows"
    );
    assert_eq!(
        database_bytes(&app),
        bytes_before,
        "the database did not grow"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_seconds_of_sign_in_posts_from_one_address_leave_a_handful_of_audit_rows() {
    let app = common::TestApp::start().await;
    app.add_clinician().await;
    let audit_rows = || async { app.state.store.audit_log(1, 0).await.expect("audit").1 };
    let before = audit_rows().await;
    let page = app.get("/admin/login").await.text();
    let csrf = token_in_form(&page);
    let origin = app.url("");
    let body = form_body(&[
        ("csrf", &csrf),
        ("email", common::clinician::EMAIL),
        ("password", "a wrong password, again and again"),
    ]);
    let until = Instant::now() + Duration::from_secs(10);
    let sent = AtomicU64::new(0);
    let worker = || async {
        while Instant::now() < until {
            let r = app
                .request(
                    "POST",
                    "/admin/login",
                    &[
                        ("origin", origin.as_str()),
                        ("content-type", "application/x-www-form-urlencoded"),
                    ],
                    body.clone(),
                )
                .await;
            assert!(matches!(r.status, 401 | 429), "{}", r.status);
            sent.fetch_add(1, Ordering::Relaxed);
        }
    };
    tokio::join!(worker(), worker(), worker(), worker());
    assert!(sent.load(Ordering::Relaxed) > 100, "the drill ran");
    let written = audit_rows().await - before;
    // At most the per-minute allowance reaches the database (a burst of ten, then one every
    // six seconds); everything else is refused in memory, and refusals while paused write nothing.
    assert!(
        (1..=12).contains(&written),
        "{written} audit rows for {} posts",
        sent.load(Ordering::Relaxed)
    );
    let (rows, _) = app.state.store.audit_log(written, 0).await.expect("audit");
    assert!(
        common::a_detail_says(&rows, "sign-in paused"),
        "the pause is recorded once"
    );
}

fn token_in_form(html: &str) -> String {
    let start = html.find("name=\"csrf\" value=\"").expect("csrf field") + 19;
    html[start..start + 64].to_string()
}
