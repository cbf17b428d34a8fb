//! The steps of a run and the summary at its end.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use super::binaries::Counts;

/// The steps run so far, for the summary.
#[derive(Default)]
pub(super) struct Steps {
    done: Vec<(&'static str, Duration, Result<(), String>)>,
    start: Option<Instant>,
}

impl Steps {
    /// Runs one step; on failure prints the summary (but for the last step, whose caller
    /// prints it with the test counts) and returns the error.
    pub(super) fn run<T>(
        &mut self,
        name: &'static str,
        step: impl FnOnce() -> Result<T>,
    ) -> Result<T> {
        self.start.get_or_insert_with(Instant::now);
        eprintln!("==> {name}");
        let started = Instant::now();
        let result = step();
        let outcome = result.as_ref().map(|_| ()).map_err(|e| format!("{e:#}"));
        self.done.push((name, started.elapsed(), outcome));
        if result.is_err()
            && !name.starts_with("cargo test")
            && !matches!(
                name,
                "PostgreSQL server" | "lighthouse" | "cargo clippy" | "cargo deny"
            )
        {
            self.summary(None);
        }
        result.with_context(|| name)
    }

    /// Records a step that ran elsewhere (on a thread of its own) and took `took`.
    pub(super) fn record(
        &mut self,
        name: &'static str,
        took: Duration,
        result: Result<()>,
    ) -> Result<()> {
        let outcome = result.as_ref().map(|_| ()).map_err(|e| format!("{e:#}"));
        self.done.push((name, took, outcome));
        result.with_context(|| name)
    }

    pub(super) fn summary(&self, counts: Option<&Counts>) {
        println!();
        println!("summary of cargo xtask test:");
        for (name, took, outcome) in &self.done {
            let mark = match outcome {
                Ok(()) => "ok".to_string(),
                Err(e) => format!("FAILED: {e}"),
            };
            println!("  {name:<20} {:>6.1}s  {mark}", took.as_secs_f64());
        }
        if let Some(start) = self.start {
            println!("  {:<20} {:>6.1}s", "total", start.elapsed().as_secs_f64());
        }
        if let Some(c) = counts {
            let skipped = if c.ignored > 0 {
                format!(", {} skipped", c.ignored)
            } else {
                String::new()
            };
            println!("  ({} test binaries)", c.binaries);
            println!("tests: {} passed, {} failed{skipped}", c.passed, c.failed);
        }
    }
}
