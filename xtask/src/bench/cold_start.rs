//! Cold start: spawn → first `200` from `/healthz`, and on to every page's brotli variant.

use std::time::{Duration, Instant};

use anyhow::Result;

use super::{Bench, COLD_START_RUNS, COLD_START_TARGET_MS, Report, join, median, step};
use crate::tools::{self, Process};

impl Bench<'_> {
    pub(super) fn cold_start(&self, report: &mut Report) {
        step("cold start");
        let mut runs = Vec::new();
        let mut complete = Vec::new();
        let result = (|| -> Result<()> {
            for i in 0..COLD_START_RUNS {
                let port = tools::free_port()?;
                let mut cmd = self.kap(&format!("cold-{i}"), port, "")?;
                let started = Instant::now();
                let mut p = Process::spawn("kap-practice (cold start)", &mut cmd)?;
                p.wait_until(Duration::from_secs(20), || {
                    tools::status_of(port, "/healthz") == Some(200)
                })?;
                runs.push(started.elapsed().as_secs_f64() * 1000.0);
                p.wait_until(Duration::from_secs(20), || tools::pages_ready(port))?;
                complete.push(started.elapsed().as_secs_f64() * 1000.0);
            }
            Ok(())
        })();
        match result {
            Ok(()) => {
                let ms = median(&runs);
                report.row(
                    &format!("Cold start: spawn → first `200` from `/healthz` (median of {COLD_START_RUNS})"),
                    format!("{ms:.0} ms"),
                    format!("< {COLD_START_TARGET_MS:.0} ms (runs: {})", join(&runs, |v| format!("{v:.0}"))),
                    Some(ms < COLD_START_TARGET_MS),
                );
                report.row(
                    &format!("Start until every page also has its brotli variant (`\"pages\":\"ready\"` in `/healthz`; median of {COLD_START_RUNS})"),
                    format!("{:.0} ms", median(&complete)),
                    format!("gzip is served until then (runs: {})", join(&complete, |v| format!("{v:.0}"))),
                    None,
                );
            }
            Err(e) => report.fail("cold start", e),
        }
    }
}
