//! wrk runs and the summary its Lua `done()` hook prints.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result};
use serde_json::Value;

use crate::tools;

/// wrk's summary as one JSON line; a POST script adds the count of `303` answers.
pub(super) const DONE_HOOK: &str = r#"
function done(summary, latency, requests)
  local e = summary.errors
  local accepted = -1
  for _, t in ipairs(threads or {}) do
    if accepted < 0 then accepted = 0 end
    accepted = accepted + t:get("answers_303")
  end
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"socket_errors":%d,"status_errors":%d,"p50_us":%d,"p99_us":%d,"accepted":%d}\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(99), accepted))
end
"#;

/// Posts the form and counts the `303` answers (the stored ones) per thread.
pub(super) const POST_HOOKS: &str = r#"
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) answers_303 = 0 end
function response(status, headers, body)
  if status == 303 then answers_303 = answers_303 + 1 end
end
"#;

/// What the `done()` hook printed.
pub(super) struct Wrk {
    pub(super) requests: u64,
    pub(super) duration_us: u64,
    pub(super) socket_errors: u64,
    pub(super) status_errors: u64,
    pub(super) p50_us: u64,
    pub(super) p99_us: u64,
    /// `303` answers, counted by the POST script only (-1 otherwise).
    pub(super) accepted: i64,
}

impl Wrk {
    pub(super) fn from_json(line: &str) -> Result<Wrk> {
        let v: Value = serde_json::from_str(line).context("reading wrk's summary")?;
        let n = |key: &str| {
            v[key]
                .as_i64()
                .with_context(|| format!("wrk's summary has no {key}: {line}"))
        };
        let u = |key: &str| n(key).map(|x| x.max(0) as u64);
        Ok(Wrk {
            requests: u("requests")?,
            duration_us: u("duration_us")?,
            socket_errors: u("socket_errors")?,
            status_errors: u("status_errors")?,
            p50_us: u("p50_us")?,
            p99_us: u("p99_us")?,
            accepted: n("accepted")?,
        })
    }

    pub(super) fn rps(&self) -> f64 {
        self.requests as f64 / (self.duration_us.max(1) as f64 / 1e6)
    }

    pub(super) fn errors_note(&self) -> String {
        if self.socket_errors + self.status_errors == 0 {
            String::new()
        } else {
            format!(
                "; {} socket errors, {} error answers",
                self.socket_errors, self.status_errors
            )
        }
    }
}

/// One wrk run of `secs` seconds with two threads; its summary from the `done()` hook.
pub(super) fn wrk(script: &Path, url: &str, connections: u32, secs: u32) -> Result<Wrk> {
    wrk_with(script, url, connections, secs, &[])
}

/// [`wrk`] with more request headers (`"Name: value"`).
pub(super) fn wrk_with(
    script: &Path,
    url: &str,
    connections: u32,
    secs: u32,
    headers: &[&str],
) -> Result<Wrk> {
    let mut cmd = Command::new("wrk");
    cmd.arg(format!("-t{}", connections.min(2)))
        .arg(format!("-c{connections}"))
        .arg(format!("-d{secs}s"))
        .args(["--timeout", "5s", "-H", "Accept-Encoding: br"]);
    for h in headers {
        cmd.args(["-H", h]);
    }
    let out = tools::output(cmd.arg("-s").arg(script).arg(url))?;
    let line = out
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .with_context(|| format!("wrk printed no summary:\n{out}"))?;
    Wrk::from_json(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_done_hook_summary() {
        let w = Wrk::from_json(
            r#"{"requests":1000,"duration_us":2000000,"socket_errors":0,"status_errors":0,"p50_us":210,"p99_us":900,"accepted":-1}"#,
        )
        .expect("the hook's JSON");
        assert!(Wrk::from_json(r#"{"requests":1}"#).is_err());
        assert_eq!(w.rps(), 500.0);
        assert_eq!(w.errors_note(), "");
    }
}
