//! PostgreSQL for the tests: a fresh database per test on the server the test command started
//! (`KAP_TEST_POSTGRES`, an admin URL), and whole private clusters for the drills that stop
//! their server.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

/// The admin URL of the test server, when this run is the PostgreSQL run.
pub fn admin_url() -> Option<String> {
    std::env::var("KAP_TEST_POSTGRES")
        .ok()
        .filter(|v| !v.trim().is_empty())
}

/// A new database of its own on the server at `admin_url`, with the program's migrations
/// already applied (as the program itself applies them: `_sqlx_migrations` records each, so the
/// server starts on it as on a database it migrated before); returns its URL.
///
/// Each is a copy of one template this test process migrates once per server: applying every
/// migration costs about a second a database, a copy a tenth of that.
pub fn fresh_database(admin_url: &str) -> String {
    static TEMPLATES: Mutex<Vec<(String, String)>> = Mutex::new(Vec::new());
    let mut templates = TEMPLATES.lock().unwrap_or_else(|e| e.into_inner());
    let template = match templates.iter().find(|(url, _)| url == admin_url) {
        Some((_, template)) => template.clone(),
        None => {
            drop_leftovers(admin_url);
            let template = new_database_name();
            psql(admin_url, &format!("CREATE DATABASE {template}"));
            migrate(&with_database(admin_url, &template));
            templates.push((admin_url.to_string(), template.clone()));
            template
        }
    };
    // Copies are made one at a time: PostgreSQL refuses a copy while anything else is
    // connected to its template.
    let name = new_database_name();
    psql(
        admin_url,
        &format!("CREATE DATABASE {name} TEMPLATE {template}"),
    );
    drop(templates);
    with_database(admin_url, &name)
}

/// A new, empty database on the server at `admin_url` (no migration applied): for tests of
/// servers migrating a database themselves, such as two servers starting on it at once.
pub fn empty_database(admin_url: &str) -> String {
    let name = new_database_name();
    psql(admin_url, &format!("CREATE DATABASE {name}"));
    with_database(admin_url, &name)
}

/// Drops the databases that test processes which have ended left on the server at `admin_url`:
/// a test's database lives as long as its process and nothing drops it at exit, so a
/// developer's long-running server would otherwise fill its disk run after run. A database
/// whose process (named in it, see [`new_database_name`]) still runs here is kept, and so is
/// one anybody is connected to (the server may be shared with test runs on other machines,
/// whose processes this one cannot see): it is dropped without force, and a drop refused
/// because someone connected meanwhile is left for a later run.
fn drop_leftovers(admin_url: &str) {
    let names = psql(
        admin_url,
        "SELECT datname FROM pg_database d WHERE datname LIKE 'kap\\_%' \
         AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.datname = d.datname)",
    );
    for name in names.lines().map(str::trim) {
        let pid = name.split('_').nth(1).and_then(|p| p.parse::<u32>().ok());
        if let Some(pid) = pid
            && pid != std::process::id()
            && !std::path::Path::new(&format!("/proc/{pid}")).exists()
        {
            // Best effort: an error (someone connected since) leaves the database be.
            let _ = Command::new("psql")
                .args([
                    admin_url,
                    "-tAc",
                    &format!("DROP DATABASE IF EXISTS {name}"),
                ])
                .output();
        }
    }
}

fn new_database_name() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "kap_{}_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed),
        nanos
    )
}

/// Applies the program's PostgreSQL migrations to the database at `url`, with sqlx's migrator
/// (the program's own), on a runtime of its own: callers may be inside a test's runtime.
fn migrate(url: &str) {
    let url = url.to_string();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime for the migrations");
        runtime.block_on(async {
            let pool = sqlx::postgres::PgPoolOptions::new()
                .max_connections(1)
                .connect(&url)
                .await
                .expect("connect to the template database");
            sqlx::migrate!("./migrations/postgres")
                .run(&pool)
                .await
                .expect("migrate the template database");
            pool.close().await;
        });
    })
    .join()
    .expect("the template's migrations");
}

/// `url` with its database name replaced by `name`.
pub fn with_database(url: &str, name: &str) -> String {
    let (base, _) = url.rsplit_once('/').expect("a database URL has a path");
    format!("{base}/{name}")
}

/// Runs one SQL statement with psql; panics with psql's message on failure.
pub fn psql(url: &str, sql: &str) -> String {
    let out = Command::new("psql")
        .args([url, "-v", "ON_ERROR_STOP=1", "-tAc", sql])
        .output()
        .expect("run psql (Debian package postgresql-client)");
    let stdout = super::stdout_of(out, &format!("psql {sql}"));
    String::from_utf8_lossy(&stdout).trim().to_string()
}

/// Where PostgreSQL's programs are: `KAP_TEST_PG_BIN`, else Debian's newest.
pub fn bin_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("KAP_TEST_PG_BIN") {
        return PathBuf::from(dir);
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL is installed (Debian package postgresql); the test command installs it")
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|p| p.join("pg_ctl").is_file())
        .collect();
    found.sort_by_key(|p| {
        p.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    found
        .pop()
        .expect("a PostgreSQL server under /usr/lib/postgresql")
}

/// A private PostgreSQL cluster on loopback, for a drill that stops and starts its server.
/// PostgreSQL refuses to run as root, so as root it runs as the `postgres` user.
pub struct Cluster {
    dir: tempfile::TempDir,
    pub port: u16,
    bin: PathBuf,
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

impl Cluster {
    pub fn start() -> Cluster {
        let dir = tempfile::Builder::new()
            .prefix("kap-pg-")
            .tempdir()
            .expect("tempdir");
        if is_root() {
            let ok = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path())
                .status()
                .expect("chown");
            assert!(ok.success(), "chown the cluster folder to postgres");
        }
        let cluster = Cluster {
            port: super::free_port(),
            bin: bin_dir(),
            dir,
        };
        let data = cluster.data();
        cluster.run(
            Command::new(cluster.bin.join("initdb"))
                .arg("-D")
                .arg(&data)
                .args(["-U", "kap", "--auth=trust", "-E", "UTF8"]),
        );
        cluster.start_server();
        cluster
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn run(&self, cmd: &mut Command) {
        let mut full = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(cmd.get_program());
            c.args(cmd.get_args());
            c
        } else {
            let mut c = Command::new(cmd.get_program());
            c.args(cmd.get_args());
            c
        };
        let out = full.output().expect("run a PostgreSQL program");
        assert!(
            out.status.success(),
            "{:?}: {}{}",
            cmd.get_program(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Starts (or restarts) the server and waits until it accepts connections.
    pub fn start_server(&self) {
        let options = format!(
            "-c listen_addresses=127.0.0.1 -c port={} -c unix_socket_directories={} -c max_connections=200",
            self.port,
            self.dir.path().display()
        );
        self.run(
            Command::new(self.bin.join("pg_ctl"))
                .arg("-D")
                .arg(self.data())
                .arg("-l")
                .arg(self.dir.path().join("server.log"))
                .args(["-w", "-o", &options, "start"]),
        );
    }

    /// `pg_ctl stop -m immediate`: the server goes away at once, as in a crash.
    pub fn stop_immediate(&self) {
        self.run(
            Command::new(self.bin.join("pg_ctl"))
                .arg("-D")
                .arg(self.data())
                .args(["-w", "-m", "immediate", "stop"]),
        );
    }

    /// The admin URL (database `postgres`).
    pub fn url(&self) -> String {
        format!("postgres://kap@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let pg_ctl = self.bin.join("pg_ctl");
        let mut c = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&pg_ctl);
            c
        } else {
            Command::new(&pg_ctl)
        };
        let _ = c
            .arg("-D")
            .arg(self.data())
            .args(["-m", "immediate", "stop"])
            .output();
    }
}
