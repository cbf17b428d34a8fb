//! Visit counting: GET / as a browser asks for it, counting on against counting off.

use std::process::Command;

use anyhow::{Context, Result, bail};

use super::wrk::{DONE_HOOK, wrk_with};
use super::{BROWSER_AGENT, Bench, INSIGHTS_TARGET, Report, load::Target, median, step, thousands};
use crate::tools;

/// At least this many pairs of rounds, whatever `--rounds` says: the cost is a few per cent,
/// and a median of three pairs still moves by more than that on a busy machine.
pub(super) const MIN_PAIRS: u32 = 7;

impl Bench<'_> {
    /// GET / as a browser asks for it, from one server counting visits and one not, in
    /// alternating rounds of the same run: what counting costs serving.
    ///
    /// The cost is a few per cent, less than what a shared machine's speed wanders between two
    /// rounds, so each round is a pair run back to back (on first in odd rounds, off first in
    /// even ones) and the figure is the median of the pairs' ratios: a slow moment then costs
    /// one pair, not the comparison of two best rounds taken minutes apart. Beside it, the
    /// servers' own CPU time per request served (from `/proc/<pid>/stat`) in each run: what
    /// counting costs, less moved by what else the machine is doing than requests/s are.
    pub(super) fn insights(&self, report: &mut Report) -> Result<()> {
        step("visit counting: starting kap-practice with counting on and off");
        let (mut on, on_port) = self.start_kap("insights-on", "[insights]\nenabled = true\n")?;
        let (mut off, off_port) =
            self.start_kap("insights-off", "[insights]\nenabled = false\n")?;
        let script = self.tmp.join("done.lua");
        std::fs::write(&script, DONE_HOOK)?;
        let mut servers = [
            Target::new("counting on", format!("http://127.0.0.1:{on_port}/")),
            Target::new("counting off", format!("http://127.0.0.1:{off_port}/")),
        ];
        let c = self.o.connections;
        for s in &mut servers {
            step(&format!("warm-up: {}", s.name));
            wrk_with(&script, &s.url, c, 1, &[BROWSER_AGENT])?;
        }
        let ticks = clock_ticks()?;
        let pids = [on.pid(), off.pid()];
        // Microseconds of CPU per request, per run, for on and off.
        let mut cpu: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
        let rounds = self.o.rounds.max(MIN_PAIRS);
        for round in 1..=rounds {
            let order = if round % 2 == 1 { [0, 1] } else { [1, 0] };
            for i in order {
                let s = &mut servers[i];
                step(&format!(
                    "wrk -c{c} GET / as a browser, {}, round {round} of {rounds}",
                    s.name
                ));
                let before = cpu_ticks(pids[i])?;
                let w = wrk_with(&script, &s.url, c, self.o.duration, &[BROWSER_AGENT])?;
                let used = (cpu_ticks(pids[i])? - before) as f64 / ticks * 1e6;
                cpu[i].push(used / w.requests.max(1) as f64);
                s.runs.push(w);
            }
        }
        if !on.alive() || !off.alive() {
            bail!("a server exited during the rounds");
        }
        let (Some(on_best), Some(off_best)) = (servers[0].best(), servers[1].best()) else {
            bail!("no completed run");
        };
        let ratios: Vec<f64> = servers[0]
            .runs
            .iter()
            .zip(&servers[1].runs)
            .map(|(on, off)| on.rps() / off.rps())
            .collect();
        let ratio = median(&ratios);
        let pairs = ratios
            .iter()
            .map(|r| format!("{:.1}%", r * 100.0))
            .collect::<Vec<_>>()
            .join(" / ");
        report.row(
            &format!(
                "GET / at {c} connections, HTTP/1.1, as a browser: requests/s with visit counting on, as a share of off (median of the rounds' pairs)"
            ),
            format!(
                "{:.1}% (pairs: {pairs}){}",
                ratio * 100.0,
                on_best.errors_note()
            ),
            format!(
                "best rounds: on {}, off {}{}; target ≥ {:.0}%",
                thousands(on_best.rps()),
                thousands(off_best.rps()),
                off_best.errors_note(),
                INSIGHTS_TARGET * 100.0
            ),
            Some(ratio >= INSIGHTS_TARGET),
        );
        let (cpu_on, cpu_off) = (median(&cpu[0]), median(&cpu[1]));
        let us = |v: &f64| format!("{v:.1}");
        report.row(
            &format!(
                "GET / at {c} connections, HTTP/1.1, as a browser: the server's CPU time per request, visit counting on against off (median of rounds)"
            ),
            format!(
                "{} µs on, {:.2}× off (runs: {})",
                us(&cpu_on),
                cpu_on / cpu_off,
                super::join(&cpu[0], us)
            ),
            format!(
                "off {} µs (runs: {}); target ≤ {:.2}×",
                us(&cpu_off),
                super::join(&cpu[1], us),
                2.0 - INSIGHTS_TARGET
            ),
            Some(cpu_on / cpu_off <= 2.0 - INSIGHTS_TARGET),
        );
        Ok(())
    }
}

/// The clock ticks per second that `/proc/<pid>/stat` counts CPU time in.
fn clock_ticks() -> Result<f64> {
    tools::output(Command::new("getconf").arg("CLK_TCK"))?
        .trim()
        .parse()
        .context("getconf CLK_TCK")
}

/// The CPU time (user and system) process `pid` has used, in clock ticks.
fn cpu_ticks(pid: u32) -> Result<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The fields after the command name, which is in parentheses and may hold spaces:
    // state is field 3, utime 14 and stime 15.
    let fields: Vec<&str> = stat[stat.rfind(')').context("no ) in stat")? + 2..]
        .split_whitespace()
        .collect();
    let field = |n: usize| -> Result<u64> {
        fields
            .get(n - 3)
            .and_then(|v| v.parse().ok())
            .with_context(|| format!("/proc/{pid}/stat has no field {n}"))
    };
    Ok(field(14)? + field(15)?)
}
