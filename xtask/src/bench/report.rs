//! The report: one table row per figure, written as Markdown to docs/benchmarks.md.

use std::fmt::Write as _;
use std::process::Command;

use super::{
    COLD_START_RUNS, FSYNC_PROBE_SECS, Options, SUBMISSION_CONNECTIONS, backup_cost, thousands,
};
use crate::tools;

/// One line of the report's table.
pub(super) struct Row {
    figure: String,
    value: String,
    reference: String,
    /// `Some` when the figure has a target: met or not.
    met: Option<bool>,
}

#[derive(Default)]
pub(super) struct Report {
    pub(super) command: String,
    pub(super) load_before: String,
    pub(super) load_after: String,
    pub(super) rows: Vec<Row>,
    pub(super) failures: Vec<String>,
}

impl Report {
    pub(super) fn row(
        &mut self,
        figure: &str,
        value: String,
        reference: String,
        met: Option<bool>,
    ) {
        self.rows.push(Row {
            figure: figure.into(),
            value,
            reference,
            met,
        });
    }

    pub(super) fn fail(&mut self, what: &str, e: anyhow::Error) {
        eprintln!("bench: {what}: {e:#}");
        self.row(what, "not measured".into(), format!("{e:#}"), None);
        self.failures.push(format!("{what} ({e:#})"));
    }
}

impl Report {
    pub(super) fn render(&self, o: &Options) -> String {
        let mut s = String::new();
        let date = tools::output(Command::new("date").arg("-u")).unwrap_or_default();
        let _ = writeln!(
            s,
            "# Benchmarks\n\n\
             Written by `cargo xtask bench` (xtask/src/bench/); do not edit by hand. nginx serving \
             the same bytes is the reference for the server's own cost, not a race; the disk's fsync \
             rate is the reference for durable form submissions. On a shared machine the figures \
             are indicative.\n\n\
             | | |\n| --- | --- |\n\
             | Machine | {} |\n| Date | {} |\n| Command | `{}` |\n\
             | Load average before / after | {} / {} |\n\n\
             | Figure | kap-practice | Reference / target | |\n| --- | --- | --- | --- |",
            machine(),
            date.trim(),
            self.command,
            self.load_before,
            self.load_after,
        );
        for r in &self.rows {
            let mark = match r.met {
                Some(true) => "✓",
                Some(false) => "✗",
                None => "",
            };
            let _ = writeln!(
                s,
                "| {} | {} | {} | {mark} |",
                r.figure, r.value, r.reference
            );
        }
        let _ = write!(
            s,
            "\n## How it was measured\n\n\
             - The release build (or the binary named with `--binary`), each server on loopback \
             with a data folder of its own and no `KAP_*` settings from the environment; wrk, \
             nginx, fio, openssl and curl are Debian's.\n\
             - First view: curl fetches `/` and every `/static/` asset it links with \
             `Accept-Encoding: br` and the bodies are added up; Lighthouse's figure (when a report \
             is there) also counts headers. Each public page's first view (the pages the sitemap lists, with a page of \
             the clinician's own, `/fees`, added in the inbox first; a booking page and a questionnaire, \
             reached as a person reaches them, by the link after a request and once a time is held, \
             in a practice whose notice address a code sent to a local mail server confirmed; and \
             the not-found page) is \
             the page and the stylesheets linked in its head, which block its first paint (one linked in the body \
             blocks none), with `Accept-Encoding: br`, against 14 KiB, what TCP's initial window \
             of ten segments carries in the first round trip.\n\
             - Cold start: the time from spawning the binary to the first `200` from `/healthz`, \
             polled every millisecond, {COLD_START_RUNS} starts, each on a fresh data folder; \
             then on to `\"pages\":\"ready\"` there, when the brotli variants made after the \
             start are in. The first view and the load rounds begin only then.\n\
             - Load: `wrk -t2 -c{c} -d{d}s -H 'Accept-Encoding: br'` on `/`, with a Lua `done()` \
             hook printing wrk's summary as JSON. nginx serves the body kap-practice sent for `/` \
             with the same headers, on a plain and a TLS port; each server writes one log line \
             per request, as both do by default (nginx its access log to a file, kap-practice \
             its `access` line to standard error); the TLS servers share one \
             self-signed certificate (`openssl req -x509`, P-256). After a 1 s warm-up each, the \
             servers take turns (rounds: {r}); each keeps its best requests/s and the median of \
             its p99s.\n\
             - Memory: `VmRSS` from `/proc/<pid>/status` once the load rounds are over.\n\
             - Visit counting: two servers, counting on and off, GET / with a browser's user \
             agent; each round is a pair run back to back (on first in odd rounds, off first in \
             even ones), at least {pairs} pairs, and the figure is the median of the pairs' \
             ratios; beside it, each server's CPU time per request served (utime + stime from \
             `/proc/<pid>/stat` around each run), median of the runs.\n\
             - Submissions: wrk posts a valid consultation request (one form token, rate limit \
             lifted, minimum fill time 0) over {SUBMISSION_CONNECTIONS} connections for {d} s and \
             counts the `303` answers. fio measures the disk's fsync rate in the server's data \
             folder before and after (`--rw=write --bs=4k --size=4m --fdatasync=1 --overwrite=1`, \
             {FSYNC_PROBE_SECS} s); the better probe is the reference. Then wrk posts again and the \
             server is killed (SIGKILL) in the middle of it; `kap-practice inquiries export` \
             counts the stored requests against every `303` wrk counted in both runs.\n\
             - Backup cost: a server's database is filled with {backup_requests} consultation \
             requests by posting the form; then, in alternating rounds, `GET /` ({c} \
             connections) and valid form posts ({SUBMISSION_CONNECTIONS} connections) run for \
             {d} s with no backup, and with `kap-practice backup now` (the nightly backup's own \
             code: `VACUUM INTO`, gzip, sealed under the backup key, to a local directory) run \
             back to back on the same data directory for the whole run. The figure is the \
             median p99 of the rounds.\n",
            c = o.connections,
            d = o.duration,
            r = o.rounds,
            pairs = o.rounds.max(super::insights::MIN_PAIRS),
            backup_requests = thousands(backup_cost::REQUESTS as f64),
        );
        s
    }
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpu
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|m| m.trim_start_matches([' ', '\t', ':']).to_string())
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = cpu.lines().filter(|l| l.starts_with("processor")).count();
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!("{model}, {cores} cores, Linux {}", kernel.trim())
}
