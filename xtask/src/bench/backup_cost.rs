//! What a nightly backup costs the site: `GET /` and a form post under wrk while a backup of a
//! database with [`REQUESTS`] consultation requests is being made, against the same load with
//! no backup, in alternating rounds of one run.
//!
//! The backups are the program's own (`kap-practice backup now`: `VACUUM INTO`, gzip, sealing
//! under the backup key, written to a local backup directory), run back to back beside the
//! serving process for the whole of each "during a backup" round, on the same data directory:
//! the same work the nightly worker does inside the server, here in a process of its own so that
//! the rounds without a backup are sure to have none.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::wrk::{DONE_HOOK, Wrk, wrk};
use super::{
    Bench, KAP_ENV, Report, SUBMISSION_CONFIG, SUBMISSION_CONNECTIONS, join, median, step,
    thousands,
};
use crate::tools::{self, Process};

/// Consultation requests in the database being backed up.
pub(super) const REQUESTS: u64 = 10_000;
/// Filling the database gives up after this long.
const FILL_LIMIT: Duration = Duration::from_secs(600);

/// A load and its runs without and with a backup going on.
struct Load {
    name: String,
    url: String,
    script: std::path::PathBuf,
    connections: u32,
    quiet: Vec<Wrk>,
    during: Vec<Wrk>,
}

impl Bench<'_> {
    pub(super) fn backup_cost(&self, report: &mut Report) -> Result<()> {
        step("backup cost: starting kap-practice");
        let name = "backup-cost";
        let dir = self.tmp.join(name);
        let port = tools::free_port()?;
        let mut cmd = self.kap(name, port, SUBMISSION_CONFIG)?;
        cmd.env("KAP_MIN_FILL_SECONDS", "0");
        let mut server = Process::spawn("kap-practice (backup cost)", &mut cmd)?;
        server.wait_until(Duration::from_secs(20), || tools::pages_ready(port))?;
        // The backing-up process reads the same data directory with [backup] set; the server
        // itself has none, so its own worker never backs up during a quiet round.
        let backups = dir.join("backups");
        // The directory must exist: the program takes a missing one for a disk not mounted.
        std::fs::create_dir_all(&backups)?;
        let backup_config = dir.join("backup.toml");
        std::fs::write(
            &backup_config,
            format!(
                "{SUBMISSION_CONFIG}[backup]\ndir = \"{}\"\n",
                backups.display()
            ),
        )?;

        let base = format!("http://127.0.0.1:{port}");
        let post = self.post_script(port, "backup-post.lua")?;
        let get = self.tmp.join("done.lua");
        std::fs::write(&get, DONE_HOOK)?;

        step(&format!(
            "backup cost: filling the database with {REQUESTS} requests"
        ));
        let started = Instant::now();
        let mut stored = 0u64;
        while stored < REQUESTS {
            if started.elapsed() > FILL_LIMIT {
                bail!("only {stored} requests stored after {FILL_LIMIT:?}");
            }
            let w = wrk(&post, &format!("{base}/contact"), SUBMISSION_CONNECTIONS, 5)?;
            stored += u64::try_from(w.accepted).context("the POST script counted no answers")?;
        }

        step("backup cost: the backup key and a first backup");
        let mut key = self.backup_command(&dir, &backup_config, &["backup", "key"]);
        // The words are asked back on standard input; none come, so the key is made and kept
        // unconfirmed, which backing up does not need.
        let _ = tools::output(key.stdin(Stdio::null()));
        if !dir.join("data/backup.key").exists() {
            bail!("`kap-practice backup key` made no data/backup.key");
        }
        let first = Instant::now();
        let printed =
            tools::output(&mut self.backup_command(&dir, &backup_config, &["backup", "now"]))?;
        let took = first.elapsed().as_secs_f64();
        let bytes = printed
            .split('(')
            .nth(1)
            .and_then(|s| s.split(' ').next())
            .and_then(|n| n.parse::<u64>().ok())
            .with_context(|| format!("`backup now` printed no size: {printed}"))?;
        let database = std::fs::metadata(dir.join("data/kap-practice.db"))
            .map(|m| m.len())
            .unwrap_or(0);
        report.row(
            &format!(
                "Nightly backup of a database with {} requests (`kap-practice backup now`: snapshot, gzip, sealed, to a local directory)",
                thousands(stored as f64)
            ),
            format!("{took:.1} s, {:.1} MB sealed", bytes as f64 / 1e6),
            format!(
                "database {:.1} MB; the site's cost of it in the two rows below",
                database as f64 / 1e6
            ),
            None,
        );

        let mut loads = [
            Load {
                name: format!("GET / at {} connections", self.o.connections),
                url: format!("{base}/"),
                script: get,
                connections: self.o.connections,
                quiet: Vec::new(),
                during: Vec::new(),
            },
            Load {
                name: format!(
                    "valid `POST /contact` at {SUBMISSION_CONNECTIONS} connections, each committed before its `303`"
                ),
                url: format!("{base}/contact"),
                script: post,
                connections: SUBMISSION_CONNECTIONS,
                quiet: Vec::new(),
                during: Vec::new(),
            },
        ];
        let mut made = 0;
        for round in 1..=self.o.rounds {
            // Quiet first in odd rounds, during a backup first in even ones.
            let order = if round % 2 == 1 {
                [false, true]
            } else {
                [true, false]
            };
            for load in &mut loads {
                for backing_up in order {
                    step(&format!(
                        "backup cost: {}, {}, round {round} of {}",
                        load.name,
                        if backing_up {
                            "during backups"
                        } else {
                            "no backup"
                        },
                        self.o.rounds
                    ));
                    if backing_up {
                        let (w, n) = self.during_backups(&dir, &backup_config, || {
                            wrk(&load.script, &load.url, load.connections, self.o.duration)
                        })?;
                        made += n;
                        load.during.push(w);
                    } else {
                        load.quiet.push(wrk(
                            &load.script,
                            &load.url,
                            load.connections,
                            self.o.duration,
                        )?);
                    }
                }
            }
        }
        if !server.alive() {
            bail!("the server exited during the rounds");
        }
        let ms = |w: &Wrk| format!("{:.2}", w.p99_us as f64 / 1000.0);
        let p99 = |runs: &[Wrk]| {
            median(
                &runs
                    .iter()
                    .map(|w| w.p99_us as f64 / 1000.0)
                    .collect::<Vec<_>>(),
            )
        };
        for load in &loads {
            let (quiet, during) = (p99(&load.quiet), p99(&load.during));
            let errors: String = load.during.iter().map(Wrk::errors_note).collect();
            let not_303: u64 = load
                .during
                .iter()
                .filter(|w| w.accepted >= 0)
                .map(|w| w.requests.saturating_sub(w.accepted as u64))
                .sum();
            let not_303 = if load.during.iter().any(|w| w.accepted >= 0) {
                format!("; {not_303} not `303` during backups")
            } else {
                String::new()
            };
            report.row(
                &format!(
                    "{}: p99 latency during a backup, against no backup (median of rounds)",
                    load.name
                ),
                format!(
                    "{during:.2} ms ({:.2}× no backup; rounds: {}){errors}{not_303}",
                    during / quiet,
                    join(&load.during, ms)
                ),
                format!(
                    "no backup {quiet:.2} ms (rounds: {}); requests/s best {} during, {} without",
                    join(&load.quiet, ms),
                    thousands(load.during.iter().map(Wrk::rps).fold(0.0, f64::max)),
                    thousands(load.quiet.iter().map(Wrk::rps).fold(0.0, f64::max)),
                ),
                None,
            );
        }
        step(&format!(
            "backup cost: {made} backups made during the rounds"
        ));
        Ok(())
    }

    /// `kap-practice COMMAND…` on the backup-cost server's data directory with `config`.
    fn backup_command(&self, dir: &Path, config: &Path, args: &[&str]) -> Command {
        let mut cmd = tools::kap_practice(self.bin, dir, config);
        for var in KAP_ENV {
            cmd.env_remove(var);
        }
        cmd.args(args).stderr(Stdio::piped());
        cmd
    }

    /// Runs `measure` while backups are made one after another beside it; the measurement and
    /// the number of backups that finished. A backup that fails is an error.
    fn during_backups(
        &self,
        dir: &Path,
        config: &Path,
        measure: impl FnOnce() -> Result<Wrk>,
    ) -> Result<(Wrk, usize)> {
        let stop = Arc::new(AtomicBool::new(false));
        let (dir, config, bin) = (
            dir.to_path_buf(),
            config.to_path_buf(),
            self.bin.to_path_buf(),
        );
        let flag = Arc::clone(&stop);
        let backing_up = std::thread::spawn(move || -> Result<usize> {
            let mut made = 0;
            while !flag.load(Ordering::Relaxed) {
                let mut cmd = tools::kap_practice(&bin, &dir, &config);
                for var in KAP_ENV {
                    cmd.env_remove(var);
                }
                tools::output(cmd.args(["backup", "now"]))?;
                made += 1;
            }
            Ok(made)
        });
        let measured = measure();
        stop.store(true, Ordering::Relaxed);
        let made = backing_up
            .join()
            .map_err(|_| anyhow::anyhow!("the backing-up thread panicked"))??;
        Ok((measured?, made))
    }
}
