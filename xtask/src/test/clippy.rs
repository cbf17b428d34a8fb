//! clippy in the background, beside the tests, on the same target directory.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::tools;

/// `cargo clippy` on every target, running in the background with its output kept in a file.
pub(super) struct Clippy {
    thread: std::thread::JoinHandle<Result<Duration>>,
    log: PathBuf,
}

impl Clippy {
    pub(super) fn start(root: &Path) -> Self {
        let log = tools::target_dir().join("clippy.log");
        let mut cmd = tools::cargo();
        cmd.current_dir(root).args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--all-features",
            "--",
            "-D",
            "warnings",
        ]);
        eprintln!(
            "==> cargo clippy (beside the tests; its output goes to {})",
            log.display()
        );
        let file = std::fs::File::create(&log);
        let thread = std::thread::spawn(move || {
            let started = Instant::now();
            let file = file.context("cannot write clippy's log")?;
            let status = cmd
                .stdout(file.try_clone().context("clippy's log")?)
                .stderr(file)
                .status()
                .context("cannot run cargo clippy")?;
            if !status.success() {
                bail!("clippy found problems: fix them, nothing is allowed");
            }
            Ok(started.elapsed())
        });
        Self { thread, log }
    }

    /// Waits for clippy; prints its output when it failed.
    pub(super) fn finish(self) -> Result<()> {
        let result = self
            .thread
            .join()
            .map_err(|_| anyhow::anyhow!("clippy's thread panicked"))
            .and_then(|r| r);
        match result {
            Ok(took) => {
                eprintln!(
                    "    clippy took {:.1}s beside the tests",
                    took.as_secs_f64()
                );
                Ok(())
            }
            Err(e) => {
                if let Ok(out) = std::fs::read_to_string(&self.log) {
                    eprintln!("{out}");
                }
                Err(e)
            }
        }
    }
}
