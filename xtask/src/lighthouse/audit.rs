//! Running Lighthouse: rounds over every page and each page's median, one run and its report,
//! and the one-paragraph page served beside the site as the floor.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, anyhow};

use super::report::{Report, median_run, read_report};
use super::{RUNS, env_or, read_json};
use crate::test::CHROMIUM;
use crate::tools;

/// The reference page: one paragraph, with what Lighthouse asks of any page (a language, a
/// title, a description, a viewport) and nothing else.
pub(super) const ONE_PARAGRAPH: &str = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>One paragraph</title><meta name=\"description\" content=\"A page of one paragraph.\">\
<link rel=\"icon\" href=\"data:,\"></head><body><p>A page of one paragraph: the fastest first \
view a phone can have over this network, the floor every page of the site is measured \
against.</p></body></html>";

/// A page to audit: its address, its name in the table and its reports' file name.
pub(super) struct Target {
    pub url: String,
    pub path: &'static str,
    pub name: &'static str,
}

/// Runs Lighthouse on every target in [`RUNS`] rounds, each round every target once in order,
/// and returns each target's median run (or why none could be recorded). Round by round rather
/// than page by page, so that the floor's runs and each page's are spread over the same minutes:
/// a minute in which the machine is slower costs the floor's runs as it costs the pages'.
pub(super) fn audit_rounds(cli: &Path, targets: &[Target], out: &Path) -> Vec<Result<Report>> {
    let mut runs: Vec<Vec<Report>> = targets.iter().map(|_| Vec::new()).collect();
    let mut last_errors: Vec<Option<anyhow::Error>> = targets.iter().map(|_| None).collect();
    for round in 1..=RUNS {
        for (target, (runs, last_error)) in
            targets.iter().zip(runs.iter_mut().zip(&mut last_errors))
        {
            eprintln!("==> lighthouse {} (round {round} of {RUNS})", target.path);
            let base_name = out.join(format!("{}-{round}", target.name));
            match audit_once(cli, &target.url, target.path, &base_name) {
                Ok(report) => runs.push(report),
                // Lighthouse's own trace errors (NO_NAVSTART, NO_FCP and the like) say "please
                // run Lighthouse again": the run measured nothing, so it is left out, and the
                // page fails only if none of its runs could audit it.
                Err(e) => {
                    eprintln!(
                        "    round {round} of {} could not audit the page: {e:#}",
                        target.path
                    );
                    *last_error = Some(e);
                }
            }
        }
    }
    runs.into_iter()
        .zip(last_errors)
        .zip(targets)
        .map(|((runs, last_error), target)| {
            median_run(runs).ok_or_else(|| {
                last_error
                    .unwrap_or_else(|| anyhow!("lighthouse did not run"))
                    .context(format!("no run of {RUNS} could audit {}", target.path))
            })
        })
        .collect()
}

/// Serves [`ONE_PARAGRAPH`] on a free loopback port, for as long as the program runs (a thread
/// per connection, `Connection: close`; Lighthouse asks for it a few times). Returns its URL.
pub(super) fn reference_page() -> Result<String> {
    use std::io::{BufRead, BufReader, Write};
    let listener =
        std::net::TcpListener::bind("127.0.0.1:0").context("no port for the reference page")?;
    let url = format!("http://{}/", listener.local_addr()?);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut reader = BufReader::new(&stream);
                let mut first = String::new();
                if reader.read_line(&mut first).is_err() {
                    return;
                }
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                    line.clear();
                }
                let (status, body) = if first.starts_with("GET / ") {
                    ("200 OK", ONE_PARAGRAPH)
                } else {
                    ("404 Not Found", "")
                };
                let reply = format!(
                    "HTTP/1.1 {status}\r\ncontent-type: text/html; charset=utf-8\r\n\
                     content-length: {}\r\ncache-control: no-cache\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = (&stream).write_all(reply.as_bytes());
            });
        }
    });
    Ok(url)
}

/// One Lighthouse run on `url`, its reports written next to `base_name`. Lighthouse writes its
/// report even when it ends with a runtime error, and that error names the cause better than
/// the exit status, so the report is read first.
fn audit_once(cli: &Path, url: &str, path: &'static str, base_name: &Path) -> Result<Report> {
    let json = PathBuf::from(format!("{}.report.json", base_name.display()));
    // A report left by an earlier audit must not stand in for this run's.
    let _ = std::fs::remove_file(&json);
    let ran = tools::run(
        Command::new("node")
            .arg(cli)
            .arg(url)
            .args([
                "--output=json",
                "--output=html",
                "--quiet",
                "--only-categories=performance,accessibility,best-practices,seo",
                // The screenshot of the whole page (for the report's element pictures) costs
                // a second or more a run and counts in no score.
                "--disable-full-page-screenshot",
            ])
            .arg(format!("--output-path={}", base_name.display()))
            .arg(format!(
                "--chrome-flags={}",
                crate::chromium_flags::HEADLESS.join(" ")
            ))
            .env("CHROME_PATH", env_or("CHROMIUM", CHROMIUM)),
    );
    let value = match read_json(&json) {
        Ok(value) => value,
        Err(e) => return Err(ran.err().unwrap_or(e)),
    };
    // A runtime error in the report is the clearer message; a report from a run that failed
    // for another reason is still a failed run.
    let report = read_report(path, &value)?;
    ran?;
    Ok(Report {
        file: json,
        ..report
    })
}
