//! A PostgreSQL server for the test run: Debian's `postgresql` (installed when missing), a
//! fresh cluster in a temporary folder on a free loopback port, stopped when dropped.
//! PostgreSQL refuses to run as root, so as root it runs as the `postgres` user the package
//! creates.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result};

use crate::tools;

pub struct Server {
    /// The cluster's folder (data, socket, log).
    pub dir: PathBuf,
    /// The folder of PostgreSQL's programs.
    pub bin: PathBuf,
    /// The admin URL: user `kap`, database `postgres`, trust authentication on loopback.
    pub url: String,
    as_postgres: bool,
}

/// The newest installed server's programs.
fn bin_dir() -> Option<PathBuf> {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| {
            let e = e.ok()?;
            let version = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("pg_ctl").is_file().then_some((version, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin)
}

impl Server {
    pub fn start() -> Result<Server> {
        if bin_dir().is_none() || !tools::have("psql") {
            tools::ensure_apt(&[
                ("/usr/lib/postgresql", "postgresql"),
                ("psql", "postgresql-client"),
            ])?;
        }
        let bin = bin_dir()
            .context("no PostgreSQL server under /usr/lib/postgresql after installing it")?;
        let as_postgres = tools::is_root();
        let dir = std::env::temp_dir().join(format!("kap-practice-test-pg-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        if as_postgres {
            tools::run(
                Command::new("chown")
                    .args(["-R", "postgres:postgres"])
                    .arg(&dir),
            )?;
        }
        let port = tools::free_port()?;
        let server = Server {
            url: format!("postgres://kap@127.0.0.1:{port}/postgres"),
            dir,
            bin,
            as_postgres,
        };
        let data = server.dir.join("data");
        server.run(
            Command::new(server.bin.join("initdb"))
                .arg("-D")
                .arg(&data)
                .args(["-U", "kap", "--auth=trust", "-E", "UTF8", "--no-sync"]),
        )?;
        // Many tests run at once, each with its own database and pool. This server's own crash
        // safety is not under test: it is never stopped mid-run, and the drills that stop a
        // server start clusters of their own with PostgreSQL's defaults. So it does not wait
        // for the disk (fsync, synchronous commits, full-page writes), which would make each
        // test's database copy and each commit wait for it.
        let options = format!(
            "-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={} \
             -c max_connections=400 -c fsync=off -c synchronous_commit=off \
             -c full_page_writes=off",
            server.dir.display()
        );
        server.run(
            Command::new(server.bin.join("pg_ctl"))
                .arg("-D")
                .arg(&data)
                .arg("-l")
                .arg(server.dir.join("server.log"))
                .args(["-w", "-o", &options, "start"]),
        )?;
        let version =
            tools::output(Command::new("psql").args([&server.url, "-tAc", "SHOW server_version"]))?;
        eprintln!("    PostgreSQL {} on 127.0.0.1:{port}", version.trim());
        Ok(server)
    }

    fn run(&self, cmd: &mut Command) -> Result<()> {
        if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"])
                .arg(cmd.get_program())
                .args(cmd.get_args());
            tools::output(&mut c).map(|_| ())
        } else {
            tools::output(cmd).map(|_| ())
        }
    }

    /// The environment that points the tests at this server.
    pub fn test_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("KAP_TEST_POSTGRES", self.url.clone()),
            (
                "KAP_TEST_POSTGRES_DATA",
                self.dir.join("data").display().to_string(),
            ),
            ("KAP_TEST_PG_BIN", self.bin.display().to_string()),
        ]
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.run(
            Command::new(self.bin.join("pg_ctl"))
                .arg("-D")
                .arg(self.dir.join("data"))
                .args(["-w", "-m", "fast", "stop"]),
        );
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
