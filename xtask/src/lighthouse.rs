//! `cargo xtask lighthouse [--release]`: Lighthouse's four scores — performance,
//! accessibility, best practices, SEO — for the home, contact and privacy pages and a page the
//! clinician made in the inbox, as a phone sees them (Lighthouse's default: a mid-range phone on
//! a slow 4G connection, simulated). Every score must be 100; anything less fails the task and
//! names the audits that cost points.
//!
//! It installs what is missing (Debian's Chromium; Lighthouse from npm, pinned in
//! tests/browser/package.json), builds the server (debug, or release with `--release`), starts
//! it on a free loopback port with a temporary data folder, makes a page of the clinician's own
//! the way a clinician does (an account added with `admin add`, then signing in and sending the
//! form of `/admin/pages`, see [`add_own_page`]), runs Lighthouse on each page with
//! Debian's Chromium (again, up to three runs, if the performance score of a run is below 100 or
//! Lighthouse could not record the page load: see [`RUNS`]), and prints a table. The full reports go to target/lighthouse/ (HTML to read,
//! JSON for tools).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use serde_json::Value;

use crate::test::{CHROMIUM, ensure_browser};
use crate::tools::{self, Process};

/// Runs per page at most. Performance is measured in time on a machine that may be busy with
/// other work, and that can only ever add time; so a page gets up to this many runs and its
/// fastest counts (the others are kept beside it). The other three categories do not depend on
/// time and come out the same in every run.
const RUNS: u32 = 3;

/// The pages, and the name of each report.
const PAGES: [(&str, &str); 4] = [
    ("/", "home"),
    ("/contact", "contact"),
    ("/privacy", "privacy"),
    (OWN_PAGE.0, "own-page"),
];

/// The clinician-made page: its address, title and words (a few paragraphs and a list, as a
/// practice's fees page would have).
const OWN_PAGE: (&str, &str, &str) = (
    "/fees",
    "Fees and insurance",
    "A first consultation of twenty minutes is **free of charge**. After it, each session is \
billed at the practice's standard rate.\n\n\
Most sessions are paid at the end of the session; a receipt you can send to your insurer \
follows by email.\n\n\
What is included:\n\n\
- preparation sessions before the first dosing session\n\
- the dosing session itself, with the clinician present throughout\n\
- integration sessions in the weeks after\n\n\
The practice is out of network for most plans. Ask your insurer whether they reimburse \
psychotherapy from an out-of-network provider, and how much.\n",
);

/// The account that makes [`OWN_PAGE`], and its password (long enough for the password rules).
const CLINICIAN: (&str, &str) = (
    "lighthouse@practice.example",
    "quiet harbour lantern meadow",
);

/// Lighthouse's categories, in the order of its report.
const CATEGORIES: [&str; 4] = ["performance", "accessibility", "best-practices", "seo"];

/// The same flags as the browser tests: headless, no sandbox (the tests may run as root),
/// nothing in the background that could disturb a measurement.
const CHROME_FLAGS: &str = "--headless=new --no-sandbox --disable-gpu \
    --disable-background-networking --disable-component-update --disable-sync --no-first-run";

const USAGE: &str = "usage: cargo xtask lighthouse [--release]  (reports in target/lighthouse/)";

pub fn run(args: &[String]) -> Result<()> {
    let mut release = false;
    for arg in args {
        match arg.as_str() {
            "--release" => release = true,
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            other => bail!("unknown option {other:?}\n{USAGE}"),
        }
    }
    audit(release, &[])
}

/// Builds the server (with `cargo_args` added to `cargo build`, so a caller can match the
/// features of a build it already has) and audits the pages.
pub fn audit(release: bool, cargo_args: &[&str]) -> Result<()> {
    let root = tools::root();
    ensure_browser()?;
    let cli = ensure_lighthouse(&root)?;

    let profile = if release { "release" } else { "debug" };
    eprintln!("==> building the server ({profile})");
    let mut build = tools::cargo();
    build
        .args(["build", "--quiet", "--bin", "kap-practice"])
        .args(cargo_args);
    if release {
        build.arg("--release");
    }
    tools::run(&mut build)?;
    let binary = tools::target_dir().join(profile).join("kap-practice");

    let out = tools::target_dir().join("lighthouse");
    std::fs::create_dir_all(&out).with_context(|| out.display().to_string())?;
    let scratch = std::env::temp_dir().join(format!("kap-lighthouse-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).with_context(|| scratch.display().to_string())?;
    let result = audit_all(&binary, &cli, &scratch, &out);
    let _ = std::fs::remove_dir_all(&scratch);
    let reports = result?;

    print_table(&reports);
    let failures: Vec<String> = reports.iter().flat_map(Report::failures).collect();
    if failures.is_empty() {
        println!("every score is 100 (reports in {})", out.display());
        Ok(())
    } else {
        for f in &failures {
            println!("  {f}");
        }
        Err(anyhow!(
            "{} score(s) below 100 (above; full reports in {})",
            reports
                .iter()
                .map(|r| r.scores.iter().filter(|(_, s)| *s < Some(1.0)).count())
                .sum::<usize>(),
            out.display()
        ))
    }
}

/// Installs the npm packages of tests/browser unless Lighthouse is there at the pinned version;
/// returns the path of its command-line script.
fn ensure_lighthouse(root: &Path) -> Result<PathBuf> {
    let dir = root.join("tests/browser");
    let manifest = read_json(&dir.join("package.json"))?;
    let pinned = manifest["devDependencies"]["lighthouse"]
        .as_str()
        .context("tests/browser/package.json does not pin lighthouse")?
        .to_string();
    let package = dir.join("node_modules/lighthouse");
    let cli = package.join("cli/index.js");
    let installed = read_json(&package.join("package.json"))
        .ok()
        .and_then(|p| p["version"].as_str().map(str::to_string));
    if installed.as_deref() != Some(pinned.as_str()) || !cli.is_file() {
        tools::ensure_apt(&[("node", "nodejs"), ("npm", "npm")])?;
        eprintln!("installing lighthouse {pinned} (npm ci in tests/browser)");
        tools::run(Command::new("npm").current_dir(&dir).args([
            "ci",
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
        ]))?;
    }
    if !cli.is_file() {
        bail!("{} is missing after npm ci", cli.display());
    }
    let node = tools::output(Command::new("node").arg("--version"))?;
    eprintln!("    lighthouse {pinned} on node {}", node.trim());
    Ok(cli)
}

fn read_json(path: &Path) -> Result<Value> {
    let text = std::fs::read_to_string(path).with_context(|| path.display().to_string())?;
    serde_json::from_str(&text).with_context(|| path.display().to_string())
}

/// One page's result.
struct Report {
    path: &'static str,
    /// (category, score from 0 to 1; None when Lighthouse could not score it)
    scores: Vec<(&'static str, Option<f64>)>,
    /// The audits that cost points, per category below 100: (category, id, score, title).
    lost: Vec<(String, String, f64, String)>,
    /// The JSON report this came from, and how many runs the page had.
    file: PathBuf,
    runs: u32,
}

impl Report {
    /// The sum of the scores, to pick the best run.
    fn total(&self) -> f64 {
        self.scores.iter().filter_map(|(_, s)| *s).sum()
    }

    fn failures(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .scores
            .iter()
            .filter(|(_, s)| *s < Some(1.0))
            .map(|(c, s)| match s {
                Some(s) => format!("{} {c}: {:.0}", self.path, s * 100.0),
                None => format!("{} {c}: not scored", self.path),
            })
            .collect();
        for (category, id, score, title) in &self.lost {
            out.push(format!(
                "{} {category}: audit {id} scored {:.2}: {title}",
                self.path, score
            ));
        }
        out
    }
}

fn audit_all(binary: &Path, cli: &Path, scratch: &Path, out: &Path) -> Result<Vec<Report>> {
    // An empty config file, so no kap-practice.toml nearby is picked up.
    let config = scratch.join("kap-practice.toml");
    std::fs::write(&config, "").with_context(|| config.display().to_string())?;
    let port = tools::free_port()?;
    let base = format!("http://127.0.0.1:{port}");
    let log = scratch.join("server.log");
    // The account, added as a practice adds its first one from the command line.
    let mut add = Command::new(binary);
    add.current_dir(scratch)
        .arg("--config")
        .arg(&config)
        .arg("--data-dir")
        .arg(scratch.join("data"))
        .args(["admin", "add", CLINICIAN.0])
        .env("KAP_BASE_URL", &base)
        .stdin(Stdio::piped())
        .stdout(Stdio::null());
    let mut child = add.spawn().context("cannot run kap-practice admin add")?;
    if let Some(mut stdin) = child.stdin.take() {
        use std::io::Write;
        writeln!(stdin, "{}", CLINICIAN.1)?;
    }
    if !child.wait()?.success() {
        bail!("kap-practice admin add {} failed", CLINICIAN.0);
    }
    let mut server = Process::spawn(
        "the server",
        Command::new(binary)
            .current_dir(scratch)
            .arg("--config")
            .arg(&config)
            .arg("--data-dir")
            .arg(scratch.join("data"))
            .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
            .env("KAP_BASE_URL", &base)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::from(
                std::fs::File::create(&log).with_context(|| log.display().to_string())?,
            )),
    )?;
    let healthz = format!("{base}/healthz");
    server
        .wait_until(Duration::from_secs(30), || {
            tools::fetch("GET", &healthz, &[], None)
                .is_ok_and(|r| r.text().contains("\"status\":\"ok\""))
        })
        .with_context(|| {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            format!("server log:\n{text}")
        })?;
    add_own_page(&base, scratch)?;

    let mut reports = Vec::new();
    for (path, name) in PAGES {
        let mut best: Option<Report> = None;
        let mut last_error = None;
        for attempt in 1..=RUNS {
            eprintln!("==> lighthouse {path} (run {attempt})");
            let base_name = out.join(format!("{name}-{attempt}"));
            let mut report = match audit_once(cli, &format!("{base}{path}"), path, &base_name) {
                Ok(report) => report,
                // Lighthouse's own trace errors (NO_NAVSTART, NO_FCP and the like) say "please
                // run Lighthouse again": the run measured nothing, so it is one more of the
                // page's runs, and the page fails only if none of them could audit it.
                Err(e) => {
                    eprintln!("    run {attempt} of {path} could not audit the page: {e:#}");
                    last_error = Some(e);
                    continue;
                }
            };
            report.runs = attempt;
            if best.as_ref().is_none_or(|b| report.total() > b.total()) {
                best = Some(report);
            } else if let Some(b) = best.as_mut() {
                b.runs = attempt;
            }
            if best.as_ref().is_some_and(|b| b.failures().is_empty()) {
                break;
            }
        }
        let Some(best) = best else {
            let e = last_error.unwrap_or_else(|| anyhow!("lighthouse did not run"));
            return Err(e.context(format!("no run of {RUNS} could audit {path}")));
        };
        reports.push(best);
    }
    drop(server);
    Ok(reports)
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
            ])
            .arg(format!("--output-path={}", base_name.display()))
            .arg(format!("--chrome-flags={CHROME_FLAGS}"))
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

/// Signs in as [`CLINICIAN`] and adds [`OWN_PAGE`] with the form of `/admin/pages`, as a
/// browser would (the session cookie in a jar, the page's CSRF token, the site's Origin); then
/// checks that the page is served.
fn add_own_page(base: &str, scratch: &Path) -> Result<()> {
    let jar = scratch.join("cookies.txt");
    let jar = jar
        .to_str()
        .context("the scratch folder's path is not UTF-8")?;
    let origin = format!("Origin: {base}");
    let browser = ["--cookie", jar, "--cookie-jar", jar, "--header", &origin];
    let csrf = |path: &str| -> Result<String> {
        let page = tools::fetch("GET", &format!("{base}{path}"), &browser, None)?.text();
        let start = page
            .find("name=\"csrf\" value=\"")
            .with_context(|| format!("{path} has no CSRF field"))?
            + 19;
        let end = page[start..]
            .find('"')
            .with_context(|| format!("{path}: the CSRF field does not end"))?;
        Ok(page[start..start + end].to_string())
    };
    let post = |path: &str, fields: &[(&str, &str)]| -> Result<u16> {
        let mut options: Vec<String> = browser.iter().map(|s| s.to_string()).collect();
        for (name, value) in fields {
            options.push("--data-urlencode".into());
            options.push(format!("{name}={value}"));
        }
        let options: Vec<&str> = options.iter().map(String::as_str).collect();
        Ok(tools::fetch("POST", &format!("{base}{path}"), &options, None)?.status)
    };
    let token = csrf("/admin/login")?;
    let status = post(
        "/admin/login",
        &[
            ("csrf", &token),
            ("email", CLINICIAN.0),
            ("password", CLINICIAN.1),
        ],
    )?;
    if status != 303 {
        bail!("signing in answered {status}, not 303");
    }
    let token = csrf("/admin/pages")?;
    let (path, title, words) = OWN_PAGE;
    let status = post(
        "/admin/pages",
        &[
            ("csrf", &token),
            ("title", title),
            ("path", path),
            ("body", words),
        ],
    )?;
    if status != 303 {
        bail!("adding {path} in /admin/pages answered {status}, not 303");
    }
    let page = tools::fetch("GET", &format!("{base}{path}"), &[], None)?;
    if page.status != 200 || !page.text().contains(title) {
        bail!("{path} answered {} without its title", page.status);
    }
    Ok(())
}

fn env_or(var: &str, default: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| default.to_string())
}

/// The scores of a Lighthouse JSON report, and the audits that cost points.
fn read_report(path: &'static str, report: &Value) -> Result<Report> {
    if let Some(error) = report.get("runtimeError") {
        bail!(
            "lighthouse could not audit {path}: {} ({})",
            error["message"].as_str().unwrap_or("no message"),
            error["code"].as_str().unwrap_or("no code")
        );
    }
    for warning in report["runWarnings"].as_array().into_iter().flatten() {
        eprintln!("    {path}: {}", warning.as_str().unwrap_or_default());
    }
    let mut scores = Vec::new();
    let mut lost = Vec::new();
    for category in CATEGORIES {
        let c = &report["categories"][category];
        if c.is_null() {
            bail!("the report of {path} has no {category} category");
        }
        let score = c["score"].as_f64();
        scores.push((category, score));
        if score >= Some(1.0) {
            continue;
        }
        for r in c["auditRefs"].as_array().into_iter().flatten() {
            let (Some(id), Some(weight)) = (r["id"].as_str(), r["weight"].as_f64()) else {
                continue;
            };
            let audit = &report["audits"][id];
            match audit["score"].as_f64() {
                Some(s) if weight > 0.0 && s < 1.0 => lost.push((
                    category.to_string(),
                    id.to_string(),
                    s,
                    audit["title"].as_str().unwrap_or_default().to_string(),
                )),
                _ => {}
            }
        }
    }
    Ok(Report {
        path,
        scores,
        lost,
        file: PathBuf::new(),
        runs: 1,
    })
}

fn print_table(reports: &[Report]) {
    println!();
    println!(
        "{:<10} {:>12} {:>14} {:>15} {:>5} {:>5}  report",
        "page", "performance", "accessibility", "best-practices", "seo", "runs"
    );
    for r in reports {
        let cell = |i: usize| match r.scores.get(i).and_then(|(_, s)| *s) {
            Some(s) => format!("{:.0}", s * 100.0),
            None => "-".into(),
        };
        let file = r.file.file_name().unwrap_or_default().to_string_lossy();
        println!(
            "{:<10} {:>12} {:>14} {:>15} {:>5} {:>5}  {file}",
            r.path,
            cell(0),
            cell(1),
            cell(2),
            cell(3),
            r.runs
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(perf: Value) -> Value {
        serde_json::json!({
            "categories": {
                "performance": { "score": perf, "auditRefs": [
                    { "id": "largest-contentful-paint", "weight": 25 },
                    { "id": "unminified-css", "weight": 0 }
                ] },
                "accessibility": { "score": 1, "auditRefs": [] },
                "best-practices": { "score": 1, "auditRefs": [] },
                "seo": { "score": 1, "auditRefs": [] }
            },
            "audits": {
                "largest-contentful-paint": { "score": 0.9, "title": "Largest Contentful Paint" },
                "unminified-css": { "score": 0.5, "title": "Minify CSS" }
            }
        })
    }

    #[test]
    fn full_marks_pass() {
        let r = read_report("/", &report(serde_json::json!(1))).expect("a report");
        assert!(r.failures().is_empty());
    }

    #[test]
    fn a_lower_score_fails_and_names_the_weighted_audits_only() {
        let r = read_report("/", &report(serde_json::json!(0.97))).expect("a report");
        let f = r.failures();
        assert_eq!(f[0], "/ performance: 97");
        assert!(f[1].contains("largest-contentful-paint"), "{f:?}");
        assert_eq!(f.len(), 2, "unweighted audits cost nothing: {f:?}");
    }

    #[test]
    fn an_unscored_category_or_a_runtime_error_fails() {
        let r = read_report("/", &report(Value::Null)).expect("a report");
        assert_eq!(r.failures()[0], "/ performance: not scored");
        let mut broken = report(serde_json::json!(1));
        broken["runtimeError"] =
            serde_json::json!({ "code": "NO_FCP", "message": "The page did not paint" });
        assert!(read_report("/", &broken).is_err());
    }
}
