//! `cargo xtask <command>`: the project's own tasks, with everything they need provisioned.
//!
//! - `test`: installs what the tests need when it is missing (Chromium and chromedriver, pebble,
//!   the npm test tools…), then runs formatting and lint checks and the whole test suite (plain
//!   `cargo test` is the fast tier).
//! - `deny`: checks the dependency policy in deny.toml with cargo-deny (installed if missing).
//! - `fuzz`: coverage-guided fuzzing of the form, the content parser and the form token (cargo-fuzz),
//!   for as long as one likes; see docs/fuzzing.md.
//! - `lighthouse`: Lighthouse's performance, accessibility, best-practices and SEO scores of the
//!   public pages on a simulated phone; anything below 100 fails.
//! - `bench`: measures the release server with wrk, fio and curl, beside nginx serving the same
//!   bytes, and writes docs/benchmarks.md.
//! - `screenshots`: pictures of every public page at phone and desktop widths, for review.
//! - `package`: the Debian package (cargo-deb), checked with lintian; `--check` installs it into
//!   a scratch root and starts the packaged binary. Not part of `test` (it builds the release
//!   binary).

mod bench;
// Shared with the browser tests, which start Chromium with the same flags.
#[path = "../../tests/browser/chromium_flags.rs"]
mod chromium_flags;
mod deny;
mod fuzz;
mod lighthouse;
mod package;
mod postgres;
mod screenshots;
mod test;
mod tools;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (command, rest) = match args.split_first() {
        Some((c, rest)) => (c.as_str(), rest),
        None => ("help", &[][..]),
    };
    let result = match command {
        "test" => test::run(rest),
        "bench" => bench::run(rest),
        "deny" => deny::run(rest),
        "fuzz" => fuzz::run(rest),
        "lighthouse" => lighthouse::run(rest),
        "package" => package::run(rest),
        "screenshots" => screenshots::run(rest),
        _ => {
            eprintln!(
                "usage: cargo xtask <test|deny|fuzz|lighthouse|bench|screenshots|package> [options]"
            );
            return if command == "help" || command == "--help" {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            };
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask {command}: {e:#}");
            ExitCode::FAILURE
        }
    }
}
