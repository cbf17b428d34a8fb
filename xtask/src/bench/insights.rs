//! Visit counting: GET / as a browser asks for it, counting on against counting off.

use anyhow::{Result, bail};

use super::wrk::{DONE_HOOK, wrk_with};
use super::{BROWSER_AGENT, Bench, INSIGHTS_TARGET, Report, load::Target, median, step, thousands};

impl Bench<'_> {
    /// GET / as a browser asks for it, from one server counting visits and one not, in
    /// alternating rounds of the same run: what counting costs serving.
    ///
    /// The cost is a few per cent, less than what a shared machine's speed wanders between two
    /// rounds, so each round is a pair run back to back (on first in odd rounds, off first in
    /// even ones) and the figure is the median of the pairs' ratios: a slow moment then costs
    /// one pair, not the comparison of two best rounds taken minutes apart.
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
        for round in 1..=self.o.rounds {
            let order = if round % 2 == 1 { [0, 1] } else { [1, 0] };
            for i in order {
                let s = &mut servers[i];
                step(&format!(
                    "wrk -c{c} GET / as a browser, {}, round {round} of {}",
                    s.name, self.o.rounds
                ));
                s.runs.push(wrk_with(
                    &script,
                    &s.url,
                    c,
                    self.o.duration,
                    &[BROWSER_AGENT],
                )?);
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
        Ok(())
    }
}
