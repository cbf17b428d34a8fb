//! What the tests need on the machine, installed when it is missing.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

use super::{CHROMEDRIVER, CHROMIUM};
use crate::tools;

/// Installed by python3-aiosmtpd, the SMTP server of the mail tests.
pub const AIOSMTPD: &str = "/usr/lib/python3/dist-packages/aiosmtpd/__init__.py";
/// A font for text in screenshots and layout (Chromium renders boxes without any).
const FONT: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";

/// Everything the suite starts besides the browser: pebble (the ACME test server of the TLS
/// tests), openssl (test certificates), fio (the disk's fsync rate) and pdftotext (an
/// independent reader of the signed documents' PDFs).
pub(super) fn ensure_test_tools() -> Result<()> {
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
pub(super) fn ensure_s3_server() -> Result<()> {
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

pub(super) fn absolute(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

pub(super) fn read_json(path: &Path) -> Result<serde_json::Value> {
    let text = std::fs::read_to_string(path).with_context(|| path.display().to_string())?;
    serde_json::from_str(&text).with_context(|| path.display().to_string())
}
