//! Durable form submissions: accepted `POST /contact`/s beside the disk's fsync rate, and
//! that every acknowledged request is stored.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result};
use serde_json::Value;

use super::wrk::{DONE_HOOK, POST_HOOKS, wrk};
use super::{
    Bench, FSYNC_PROBE_SECS, KAP_ENV, Report, SUBMISSION_BODY, SUBMISSION_CONFIG,
    SUBMISSION_CONNECTIONS, step, thousands,
};
use crate::tools::{self, Process};

/// Issue #28's budget: accepted submissions/s at least this share of the disk's fsync rate.
const SUBMISSIONS_TARGET: f64 = 0.5;
/// The crash run posts this long and the server is killed this far into it.
const KILL_RUN_SECS: u32 = 4;
const KILL_AFTER: Duration = Duration::from_secs(2);

impl Bench<'_> {
    /// A wrk script (in the scratch folder, named `name`) that posts a valid consultation
    /// request to the kap-practice on `port`, with a form token it handed out, and counts the
    /// `303`s.
    pub(super) fn post_script(&self, port: u16, name: &str) -> Result<PathBuf> {
        let form = tools::fetch(
            "GET",
            &format!("http://127.0.0.1:{port}/contact"),
            &[],
            None,
        )?;
        let token = form_token(&form.text()).context("GET /contact has no form_token value")?;
        let script = self.tmp.join(name);
        std::fs::write(
            &script,
            format!("{POST_HOOKS}wrk.body = \"{SUBMISSION_BODY}{token}\"\n{DONE_HOOK}"),
        )?;
        Ok(script)
    }

    /// Durable submissions beside fio's fsync rate, then SIGKILL during more posts and the
    /// stored count against the acknowledged one.
    pub(super) fn submissions(&self, report: &mut Report) -> Result<()> {
        step("form submissions: starting kap-practice");
        let port = tools::free_port()?;
        let mut cmd = self.kap("submissions", port, SUBMISSION_CONFIG)?;
        cmd.env("KAP_MIN_FILL_SECONDS", "0");
        let mut server = Process::spawn("kap-practice (submissions)", &mut cmd)?;
        // Every page's best encodings made first: that work would otherwise share the cores with
        // the first posts.
        server.wait_until(Duration::from_secs(20), || tools::pages_ready(port))?;
        let data = self.tmp.join("submissions/data");
        let script = self.post_script(port, "post.lua")?;

        step("form submissions: fio fsync probe");
        let before = fsync_rate(&data)?;
        step(&format!(
            "form submissions: wrk -c{SUBMISSION_CONNECTIONS} POST /contact"
        ));
        let w = wrk(
            &script,
            &format!("http://127.0.0.1:{port}/contact"),
            SUBMISSION_CONNECTIONS,
            self.o.duration,
        )?;
        step("form submissions: fio fsync probe");
        let after = fsync_rate(&data)?;
        let accepted = u64::try_from(w.accepted).context("the POST script counted no answers")?;
        let per_sec = accepted as f64 / (w.duration_us as f64 / 1e6);
        let disk = before.max(after);
        report.row(
            "Disk fsync rate in the data folder (fio: 4 KiB write + fdatasync, one job)",
            format!("{} fsync/s", thousands(disk)),
            format!(
                "probes before / after: {} / {}",
                thousands(before),
                thousands(after)
            ),
            None,
        );
        report.row(
            &format!("Accepted submissions/s, valid `POST /contact`, {SUBMISSION_CONNECTIONS} connections, each committed before its `303`"),
            format!("{} ({:.2}× fsync/s)", thousands(per_sec), per_sec / disk),
            format!("p50 / p99 {:.2} / {:.2} ms; {} not `303`; target ≥ {SUBMISSIONS_TARGET}× fsync/s", w.p50_us as f64 / 1000.0, w.p99_us as f64 / 1000.0, w.requests.saturating_sub(accepted)),
            Some(per_sec / disk >= SUBMISSIONS_TARGET),
        );

        // The crash: posts go on while the server is killed mid-run. Every request wrk saw
        // acknowledged must be stored; a few more may be (committed, the answer not yet sent).
        step(&format!(
            "form submissions: wrk -c{SUBMISSION_CONNECTIONS} POST /contact, SIGKILL after {KILL_AFTER:?}"
        ));
        let url = format!("http://127.0.0.1:{port}/contact");
        let killed = std::thread::scope(|scope| {
            let posting = scope.spawn(|| wrk(&script, &url, SUBMISSION_CONNECTIONS, KILL_RUN_SECS));
            std::thread::sleep(KILL_AFTER);
            server.kill();
            posting.join()
        });
        let killed = killed.map_err(|_| anyhow::anyhow!("the posting thread panicked"))??;
        drop(server);
        let acknowledged = accepted
            + u64::try_from(killed.accepted).context("the POST script counted no answers")?;
        let stored = count_stored(self.bin, &self.tmp.join("submissions"))?;
        let slack = u64::from(SUBMISSION_CONNECTIONS);
        let lost = acknowledged.saturating_sub(stored);
        report.row(
            "Acknowledged requests lost after SIGKILL mid-run (stored per `kap-practice inquiries export`, against the `303`s wrk counted)",
            format!("{lost} lost ({stored} stored)"),
            format!("{acknowledged} `303`s; target 0 lost, and at most {slack} stored beyond them (committed, not yet answered)"),
            Some(lost == 0 && stored <= acknowledged + slack),
        );
        Ok(())
    }
}

/// The disk's fsync rate in `dir`: fio writing 4 KiB blocks with an fdatasync after each, over
/// a 4 MiB file (the size SQLite's WAL reaches at its default checkpoint) that it writes out
/// first, so each block overwrites written data as the WAL does after a checkpoint; one job.
fn fsync_rate(dir: &Path) -> Result<f64> {
    let out = tools::output(
        Command::new("fio")
            // Before --filename: fio places only the files named after it in the directory.
            .arg(format!("--directory={}", dir.display()))
            .args([
                "--name=fsync-rate",
                "--filename=bench-fsync-probe",
                "--rw=write",
                "--bs=4k",
                "--size=4m",
                "--fdatasync=1",
                "--overwrite=1",
                "--time_based",
                "--output-format=json",
            ])
            .arg(format!("--runtime={FSYNC_PROBE_SECS}")),
    )?;
    let _ = std::fs::remove_file(dir.join("bench-fsync-probe"));
    let json: Value = serde_json::from_str(&out).context("reading fio's JSON")?;
    json["jobs"][0]["write"]["iops"]
        .as_f64()
        .context("fio's JSON has no jobs[0].write.iops")
}

/// The `value` of the form's hidden `form_token` input, when it is safe in a Lua string.
fn form_token(html: &str) -> Option<String> {
    let at = html.find("name=\"form_token\"")?;
    let start = html[..at].rfind('<')?;
    let tag = &html[start..start + html[start..].find('>')?];
    let value = &tag[tag.find("value=\"")? + 7..];
    let value = &value[..value.find('"')?];
    let safe = value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    (safe && !value.is_empty()).then(|| value.to_string())
}

/// `kap-practice inquiries export` on the stopped server's data: the requests it printed.
fn count_stored(bin: &Path, dir: &Path) -> Result<u64> {
    let mut cmd = Command::new(bin);
    for var in KAP_ENV {
        cmd.env_remove(var);
    }
    let out = tools::output(
        cmd.args(["inquiries", "export", "--format", "jsonl"])
            .arg("--config")
            .arg(dir.join("config.toml"))
            .arg("--data-dir")
            .arg(dir.join("data")),
    )?;
    Ok(out.lines().filter(|l| !l.trim().is_empty()).count() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_form_token() {
        let html = r#"<form><input type="hidden" name="form_token" value="abc.DEF-1_2"><input name="x" value="y"></form>"#;
        assert_eq!(form_token(html).as_deref(), Some("abc.DEF-1_2"));
        let unsafe_value = r#"<input name="form_token" value="a\"b">"#;
        assert_eq!(form_token(unsafe_value), None);
        assert_eq!(form_token("<input name=\"other\" value=\"v\">"), None);
    }
}
