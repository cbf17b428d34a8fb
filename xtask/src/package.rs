//! `cargo xtask package`: the Debian package, built with cargo-deb (installed if missing) from
//! `[package.metadata.deb]` in Cargo.toml and packaging/debian/, then checked with lintian
//! (errors fail the task).
//!
//! `--check` then installs it into a scratch root the way dpkg unpacks it (`dpkg-deb -x` and
//! `-e`: no chroot and no systemd are needed, so it runs on any machine, as root or not),
//! checks what the package promises (the conffile, the unit's user and hardening, the data
//! directory's mode, the maintainer scripts' upgrade backup, purge and note), and starts the
//! packaged binary with the packaged config, its data directory and ports moved to scratch ones
//! and the certificate authority to a closed local port, until it prints the setup address.
//! It is not part of `cargo xtask test`: it builds the release binary.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::tools::{self, Process};

const USAGE: &str = "usage: cargo xtask package [--check]

  builds target/debian/kap-practice_<version>_<arch>.deb with cargo-deb and checks it with
  lintian (errors fail)
  --check   also installs it into a scratch root and starts the packaged binary with the
            packaged config until it prints the setup address";

/// What the packaged unit must say: the service user and the hardening of docs/deployment.md.
const UNIT_LINES: &[&str] = &[
    "User=kap-practice",
    "ExecStart=/usr/bin/kap-practice --config /etc/kap-practice/kap-practice.toml serve",
    "AmbientCapabilities=CAP_NET_BIND_SERVICE",
    "CapabilityBoundingSet=CAP_NET_BIND_SERVICE",
    "NoNewPrivileges=true",
    "ProtectSystem=strict",
    "ProtectHome=true",
    "PrivateTmp=true",
    "StateDirectory=kap-practice",
    "StateDirectoryMode=0700",
    "ReadWritePaths=/var/lib/kap-practice",
];

/// What each maintainer script must do, in its own words.
const SCRIPT_LINES: &[(&str, &str)] = &[
    ("preinst", "backup \"$file\""),
    ("preinst", "exit 1"),
    ("postinst", "adduser --system"),
    ("postinst", "chmod 0700 \"$DATA\""),
    ("postinst", "journalctl -u kap-practice"),
    ("postinst", "base_url = "),
    ("postrm", "rm -rf /var/lib/kap-practice"),
];

/// The domain the packaged config ships with, which the note asks to edit.
const PACKAGED_SITE: &str = "https://www.yourpractice.example";

pub fn run(args: &[String]) -> Result<()> {
    let mut check = false;
    for a in args {
        match a.as_str() {
            "--check" => check = true,
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            other => bail!("unknown option {other:?}\n{USAGE}"),
        }
    }
    tools::ensure_apt(&[
        ("lintian", "lintian"),
        ("dpkg-shlibdeps", "dpkg-dev"),
        ("curl", "curl"),
    ])?;
    ensure_cargo_deb()?;
    step("building the release binary");
    tools::run(tools::cargo().args(["build", "--release", "--bin", "kap-practice"]))?;
    step("building the package (cargo deb)");
    // The binary just built, as the bench builds it: cargo-deb's own build would use other
    // settings and build the whole tree again.
    let out = tools::output(tools::cargo().args(["deb", "-p", "kap-practice", "--no-build"]))?;
    // cargo-deb prints the package's path as its last line.
    let deb = out
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.ends_with(".deb"))
        .map(PathBuf::from)
        .context("cargo deb printed no .deb path")?;
    println!("{}", deb.display());

    step("lintian");
    let lint = Command::new("lintian")
        .args(["--fail-on", "error", "--no-tag-display-limit"])
        .arg(&deb)
        .output()
        .context("cannot run lintian")?;
    print!("{}", String::from_utf8_lossy(&lint.stdout));
    eprint!("{}", String::from_utf8_lossy(&lint.stderr));
    if !lint.status.success() {
        bail!("lintian finds errors in {} (above)", deb.display());
    }
    println!("lintian: no errors");

    if check {
        install_and_start(&deb)?;
    }
    Ok(())
}

fn step(what: &str) {
    eprintln!("package: {what}");
}

/// Installs cargo-deb unless `cargo deb` already runs.
fn ensure_cargo_deb() -> Result<()> {
    let runs = |cmd: &mut Command| {
        cmd.stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if runs(tools::cargo().args(["deb", "--version"])) {
        return Ok(());
    }
    eprintln!("installing cargo-deb from crates.io (a few minutes, once)");
    tools::run(tools::cargo().args(["install", "cargo-deb", "--locked"]))
        .context("installing cargo-deb")?;
    if !runs(tools::cargo().args(["deb", "--version"])) {
        bail!(
            "`cargo deb` does not run after installing it: is $CARGO_HOME/bin missing from the PATH?"
        );
    }
    Ok(())
}

/// A scratch folder under target/, emptied first and removed when dropped.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Unpacks `deb` into a scratch root, checks it, and starts the packaged binary.
fn install_and_start(deb: &Path) -> Result<()> {
    let scratch = Scratch(tools::target_dir().join("package-check"));
    let _ = std::fs::remove_dir_all(&scratch.0);
    let root = scratch.0.join("root");
    let control = root.join("DEBIAN");
    std::fs::create_dir_all(&root)?;
    step(&format!("installing into {}", root.display()));
    tools::run(Command::new("dpkg-deb").arg("-x").arg(deb).arg(&root))?;
    tools::run(Command::new("dpkg-deb").arg("-e").arg(deb).arg(&control))?;

    let read = |path: &Path| {
        std::fs::read_to_string(path)
            .with_context(|| format!("the package has no {}", path.display()))
    };
    let conffiles = read(&control.join("conffiles"))?;
    if !conffiles
        .lines()
        .any(|l| l.trim() == "/etc/kap-practice/kap-practice.toml")
    {
        bail!("/etc/kap-practice/kap-practice.toml is not a conffile:\n{conffiles}");
    }
    let config = root.join("etc/kap-practice/kap-practice.toml");
    let mode = std::fs::metadata(&config)?.permissions().mode() & 0o777;
    if mode != 0o640 {
        bail!("the config file is packaged with mode {mode:o}, not 640");
    }
    let unit = ["lib/systemd/system", "usr/lib/systemd/system"]
        .iter()
        .map(|d| root.join(d).join("kap-practice.service"))
        .find(|p| p.exists())
        .context("the package has no kap-practice.service")?;
    let unit_text = read(&unit)?;
    for line in UNIT_LINES {
        if !unit_text.lines().any(|l| l.trim() == *line) {
            bail!("{} lacks `{line}`", unit.display());
        }
    }
    for (script, words) in SCRIPT_LINES {
        let path = control.join(script);
        let text = read(&path)?;
        if !text.contains(words) {
            bail!("the {script} script does not contain `{words}`");
        }
        tools::run(Command::new("sh").arg("-n").arg(&path))?;
    }
    println!(
        "installed: conffile, unit {} with {} hardening lines, maintainer scripts",
        unit.strip_prefix(&root).unwrap_or(&unit).display(),
        UNIT_LINES.len()
    );

    step("starting the packaged binary with the packaged config");
    let binary = root.join("usr/bin/kap-practice");
    let data = scratch.0.join("data");
    let (port, tls_port, closed) = (
        tools::free_port()?,
        tools::free_port()?,
        tools::free_port()?,
    );
    let mut cmd = Command::new(&binary);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("KAP_") {
            cmd.env_remove(name);
        }
    }
    cmd.current_dir(&scratch.0)
        .arg("--config")
        .arg(&config)
        .arg("--data-dir")
        .arg(&data)
        .arg("serve")
        // Scratch ports instead of 80 and 443, and a certificate authority that is a closed
        // local port: nothing leaves the machine.
        .env("KAP_BIND", format!("127.0.0.1:{port}"))
        .env("KAP_TLS_BIND", format!("127.0.0.1:{tls_port}"))
        .env(
            "KAP_TLS_ACME_DIRECTORY",
            format!("https://127.0.0.1:{closed}/directory"),
        )
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut server = Process::spawn("the packaged kap-practice", &mut cmd)?;
    let stdout = server.take_stdout().context("no standard output")?;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let address = loop {
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(line) => {
                if let Some(at) = line.find("https://") {
                    break line[at..].trim().to_string();
                }
            }
            Err(_) => bail!(
                "the packaged binary printed no setup address within 30 s (running: {})",
                server.alive()
            ),
        }
    };
    if !address.starts_with(&format!("{PACKAGED_SITE}/admin/setup/")) {
        bail!("the setup address {address:?} is not on the packaged site {PACKAGED_SITE}");
    }
    // 200, or 503 while there is no certificate yet (the certificate authority here is a
    // closed port): either way the server answers.
    let mut health = None;
    server.wait_until(Duration::from_secs(20), || {
        health = tools::status_of(port, "/healthz");
        health.is_some()
    })?;
    let data_mode = std::fs::metadata(&data)?.permissions().mode() & 0o777;
    if data_mode != 0o700 {
        bail!("the data directory was made with mode {data_mode:o}, not 700");
    }
    println!("the packaged binary started with the packaged config and printed:\n  {address}");
    println!(
        "its data directory {} has mode 700; /healthz on the plain port answers {}",
        data.display(),
        health.unwrap_or_default()
    );
    if !server.stop() {
        bail!("the packaged binary did not stop on SIGTERM");
    }
    Ok(())
}
