//! `cargo xtask deny`: the dependency policy in deny.toml (licences, one version of each crate,
//! no wildcard versions, crates.io only), checked with cargo-deny, which it installs when missing.
//!
//! It runs `cargo deny --workspace check licenses bans sources`. The fourth check, `advisories`,
//! is left out on purpose: it clones the RustSec advisory database from GitHub, which this
//! project's machines and CI cannot reach. deny.toml says how to run it where they can.

use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::tools;

/// The cargo-deny the policy is written for. 0.20.2 builds with the Rust installed here (1.95)
/// in about four minutes on two cores; a newer release may need a newer Rust or read deny.toml
/// differently, so moving it is a change of its own (install it, run this task, read the diff).
pub const CARGO_DENY_VERSION: &str = "0.20.2";

/// The checks run: all but `advisories` (see above).
const CHECKS: &[&str] = &["licenses", "bans", "sources"];

const USAGE: &str = "usage: cargo xtask deny";

pub fn run(args: &[String]) -> Result<()> {
    if let Some(arg) = args.first() {
        return match arg.as_str() {
            "-h" | "--help" => {
                println!("{USAGE}");
                println!(
                    "checks deny.toml's {} with cargo-deny {CARGO_DENY_VERSION} (installed if missing)",
                    CHECKS.join(", ")
                );
                Ok(())
            }
            other => bail!("unknown option {other:?}\n{USAGE}"),
        };
    }
    ensure_cargo_deny()?;
    let status = tools::cargo()
        .args(["deny", "--workspace", "check"])
        .args(CHECKS)
        .status()
        .context("cannot run cargo deny")?;
    if status.success() {
        Ok(())
    } else {
        Err(anyhow::anyhow!(
            "cargo deny check {} failed ({status}): a dependency breaks the policy in deny.toml \
             (a licence not on the list, a second version of a crate, a wildcard version, or a \
             crate from outside crates.io; the report above names it and who pulls it in). Fix \
             the dependency (often `cargo update -p <crate>`), or, if accepting it is a \
             decision, record it in deny.toml with its reason.",
            CHECKS.join(" ")
        ))
    }
}

/// Installs the pinned cargo-deny unless that version is already there.
fn ensure_cargo_deny() -> Result<()> {
    let installed = installed_version();
    if installed.as_deref() == Some(CARGO_DENY_VERSION) {
        return Ok(());
    }
    match &installed {
        Some(other) => eprintln!(
            "cargo-deny {other} is installed; this project is checked with {CARGO_DENY_VERSION}, installing it"
        ),
        None => eprintln!(
            "installing cargo-deny {CARGO_DENY_VERSION} from crates.io (a few minutes, once)"
        ),
    }
    let started = Instant::now();
    tools::run(tools::cargo().args([
        "install",
        "cargo-deny",
        "--version",
        &format!("={CARGO_DENY_VERSION}"),
        "--locked",
    ]))
    .with_context(|| format!("installing cargo-deny {CARGO_DENY_VERSION}"))?;
    eprintln!(
        "cargo-deny {CARGO_DENY_VERSION} installed in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    match installed_version() {
        Some(v) if v == CARGO_DENY_VERSION => Ok(()),
        Some(v) => Err(anyhow::anyhow!(
            "`cargo deny` still runs version {v} after installing {CARGO_DENY_VERSION}: another \
             cargo-deny comes first on the PATH"
        )),
        None => bail!(
            "`cargo deny` does not run after installing it: is $CARGO_HOME/bin missing \
             from the PATH?"
        ),
    }
}

/// The version `cargo deny --version` reports ("cargo-deny 0.20.2"), if it runs.
fn installed_version() -> Option<String> {
    let out = tools::cargo().args(["deny", "--version"]).output().ok()?;
    if !out.status.success() {
        return None;
    }
    parse_version(&String::from_utf8_lossy(&out.stdout))
}

fn parse_version(text: &str) -> Option<String> {
    text.split_whitespace()
        .skip_while(|w| *w != "cargo-deny")
        .nth(1)
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::parse_version;

    #[test]
    fn reads_the_version_cargo_deny_reports() {
        assert_eq!(
            parse_version("cargo-deny 0.20.2\n").as_deref(),
            Some("0.20.2")
        );
        assert_eq!(parse_version("error: no such command: `deny`"), None);
        assert_eq!(parse_version(""), None);
    }
}
