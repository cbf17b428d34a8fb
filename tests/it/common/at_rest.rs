//! What a test finds written at rest: the files of a data directory, or those of one database
//! on the run's PostgreSQL server.

use std::path::{Path, PathBuf};

/// Every file below `dir`.
pub fn files_below(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let path = e.path();
            if path.is_dir() {
                todo.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out
}

/// The files that hold the database at `database_url` on the PostgreSQL server at `admin_url`
/// (the run's server, whose folder is `KAP_TEST_POSTGRES_DATA`): the database's own folder and
/// the cluster's write-ahead log, after a checkpoint has written everything out. Not the other
/// tests' databases: a cluster holds hundreds, and none of them can hold this test's data.
pub fn postgres_files(admin_url: &str, database_url: &str) -> Vec<PathBuf> {
    super::postgres::psql(admin_url, "CHECKPOINT");
    let cluster = PathBuf::from(
        std::env::var("KAP_TEST_POSTGRES_DATA")
            .expect("the test command names the cluster's folder"),
    );
    let name = database_url
        .trim()
        .rsplit('/')
        .next()
        .expect("a database name");
    let oid = super::postgres::psql(
        admin_url,
        &format!("SELECT oid FROM pg_database WHERE datname = '{name}'"),
    );
    assert!(!oid.is_empty(), "the database {name} exists");
    let mut files = files_below(&cluster.join("base").join(&oid));
    files.extend(files_below(&cluster.join("pg_wal")));
    files
}

/// Whether `needle` is anywhere in `bytes` (the standard library's substring search, which is
/// fast even in a debug build).
pub fn holds(bytes: &[u8], needle: &str) -> bool {
    String::from_utf8_lossy(bytes).contains(needle)
}
