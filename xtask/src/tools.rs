//! What every task shares: the repository's root and cargo, Debian packages installed when
//! missing, commands run with their failure named, and the servers a task starts — each in a
//! process group of its own, on a free loopback port, waited for until it answers, and stopped
//! when its guard is dropped. HTTP requests go through curl (Debian's), so no task carries an
//! HTTP client of its own.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// The repository's root folder.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Cargo's target folder for the repository.
pub fn target_dir() -> PathBuf {
    let root = root();
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|t| if t.is_absolute() { t } else { root.join(t) })
        .unwrap_or_else(|| root.join("target"))
}

/// The server's `binary` run in `scratch` with the config file `config` and the data folder
/// `scratch/data`; the caller adds the command and its arguments.
pub fn kap_practice(binary: &Path, scratch: &Path, config: &Path) -> Command {
    let mut cmd = Command::new(binary);
    cmd.current_dir(scratch)
        .arg("--config")
        .arg(config)
        .arg("--data-dir")
        .arg(scratch.join("data"));
    cmd
}

/// `cargo` at the repository root, the same cargo that runs this task.
///
/// Without the variables `cargo run` set for this task (`CARGO_MANIFEST_DIR=…/xtask`,
/// `CARGO_PKG_NAME=xtask`, …): build scripts such as ring's rerun when those change, so passing
/// them on would rebuild part of the tree at every switch between cargo by hand and a task.
pub fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.current_dir(root());
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if name.starts_with("CARGO_PKG_")
            || [
                "CARGO_MANIFEST_DIR",
                "CARGO_MANIFEST_PATH",
                "CARGO_MANIFEST_LINKS",
                "CARGO_CRATE_NAME",
                "CARGO_BIN_NAME",
                "CARGO_PRIMARY_PACKAGE",
            ]
            .contains(&name.as_ref())
        {
            cmd.env_remove(name.as_ref());
        }
    }
    cmd
}

/// Whether `program` is on the PATH.
pub fn have(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program} >/dev/null 2>&1")])
        .status()
        .is_ok_and(|s| s.success())
}

/// Whether this task runs as root.
pub fn is_root() -> bool {
    output(Command::new("id").arg("-u")).is_ok_and(|o| o.trim() == "0")
}

/// Installs Debian packages for the programs that are missing: `(program or path, package)`.
pub fn ensure_apt(needs: &[(&str, &str)]) -> Result<()> {
    let mut missing: Vec<&str> = needs
        .iter()
        .filter(|(program, _)| !have(program) && !Path::new(program).exists())
        .map(|(_, package)| *package)
        .collect();
    missing.dedup();
    if missing.is_empty() {
        return Ok(());
    }
    eprintln!("installing {}", missing.join(", "));
    let apt = || {
        let mut cmd = if is_root() {
            Command::new("apt-get")
        } else {
            let mut c = Command::new("sudo");
            c.arg("apt-get");
            c
        };
        cmd.env("DEBIAN_FRONTEND", "noninteractive");
        cmd
    };
    run(apt().args(["update", "-qq"]))?;
    run(apt()
        .args(["install", "-y", "-qq", "--no-install-recommends"])
        .args(&missing))
}

/// Runs a command to completion; an error says which command failed.
pub fn run(cmd: &mut Command) -> Result<()> {
    let status = cmd
        .status()
        .with_context(|| format!("cannot run {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed ({status})");
    }
    Ok(())
}

/// Runs a command and returns its standard output.
pub fn output(cmd: &mut Command) -> Result<String> {
    let out = cmd
        .output()
        .with_context(|| format!("cannot run {cmd:?}"))?;
    if !out.status.success() {
        bail!(
            "{cmd:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A started program in a process group of its own; dropping it stops the whole group.
pub struct Process {
    name: String,
    child: Child,
}

impl Process {
    pub fn spawn(name: &str, cmd: &mut Command) -> Result<Process> {
        let child = cmd
            .stdin(Stdio::null())
            .process_group(0)
            .spawn()
            .with_context(|| format!("cannot start {name}"))?;
        Ok(Process {
            name: name.to_string(),
            child,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Its standard output, when it was started with `Stdio::piped()`.
    pub fn take_stdout(&mut self) -> Option<std::process::ChildStdout> {
        self.child.stdout.take()
    }

    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Sends SIGTERM to the group and waits up to 5 s for the leader, then SIGKILL. True when
    /// it stopped on SIGTERM (or had already exited).
    /// Kills the whole group at once (SIGKILL): no chance to finish anything, as in a crash.
    pub fn kill(&mut self) {
        // Signal the group only while its leader is unreaped, so the id cannot have been reused.
        if self.alive() {
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", self.pid())])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        let _ = self.child.wait();
    }

    pub fn stop(&mut self) -> bool {
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
        eprintln!("{} did not stop on SIGTERM; killing it", self.name);
        signal("-KILL");
        let _ = self.child.wait();
        false
    }

    /// Waits until `ready` holds, failing early when the program exits first.
    pub fn wait_until(&mut self, limit: Duration, mut ready: impl FnMut() -> bool) -> Result<()> {
        let started = Instant::now();
        while !ready() {
            if !self.alive() {
                bail!("{} exited before it was ready", self.name);
            }
            if started.elapsed() > limit {
                bail!("{} was not ready within {limit:?}", self.name);
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        Ok(())
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A free port on loopback.
pub fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .context("no free port")?
        .port())
}

/// The status code of `GET path` on a loopback port, read from the status line of an
/// HTTP/1.0 exchange; `None` while nothing answers. Cheap enough to poll every millisecond,
/// which a cold-start timing needs (starting curl would cost more than the start it times).
pub fn status_of(port: u16, path: &str) -> Option<u16> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}

/// Whether the kap-practice on `port` answers `/healthz` with `200` and every page prepared in
/// every encoding (`"pages":"ready"`), as the load rounds should find it.
pub fn pages_ready(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    if stream
        .set_read_timeout(Some(Duration::from_secs(2)))
        .is_err()
        || write!(stream, "GET /healthz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").is_err()
    {
        return false;
    }
    let mut answer = String::new();
    stream.read_to_string(&mut answer).is_ok()
        && answer.get(8..13) == Some(" 200 ")
        && answer.contains("\"pages\":\"ready\"")
}

/// An answer fetched with curl.
pub struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One request with curl: `method url`, with curl's own `options` (headers, `--insecure`…) and
/// an optional body. A reply of any status is `Ok`; only a failed exchange is an error.
pub fn fetch(method: &str, url: &str, options: &[&str], body: Option<&str>) -> Result<Reply> {
    let mut cmd = Command::new("curl");
    cmd.args(["--silent", "--show-error", "--max-time", "120", "--request"])
        .arg(method)
        .args(options)
        .args(["--output", "-", "--write-out", "\n%{http_code}"])
        .arg(url)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if body.is_some() {
        cmd.args(["--data-binary", "@-"]);
    }
    let mut child = cmd.spawn().context("cannot run curl")?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(body.unwrap_or("").as_bytes())?;
    }
    let out = child.wait_with_output()?;
    if !out.status.success() {
        bail!(
            "{method} {url}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let mut body = out.stdout;
    let at = body
        .iter()
        .rposition(|b| *b == b'\n')
        .context("curl printed no status")?;
    let status = std::str::from_utf8(&body[at + 1..])?.trim().parse()?;
    body.truncate(at);
    Ok(Reply { status, body })
}
