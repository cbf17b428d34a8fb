//! Databases as older versions of the program left them, for the tests of upgrades.

/// A SQLite database in `dir`, written by the migrations up to `version` only, open on the
/// returned pool; and the keys the program will open it with (and their hex).
pub async fn sqlite_database_at(
    dir: &std::path::Path,
    version: i64,
) -> (
    std::path::PathBuf,
    sqlx::SqlitePool,
    crypto::Keyring,
    String,
) {
    use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
    let old = dir.join("migrations");
    std::fs::create_dir(&old).expect("dir");
    let source = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/sqlite");
    for entry in std::fs::read_dir(&source).expect("migrations") {
        let path = entry.expect("entry").path();
        let name = path.file_name().and_then(|n| n.to_str()).expect("name");
        if name
            .get(..4)
            .and_then(|v| v.parse::<i64>().ok())
            .is_some_and(|v| v <= version)
        {
            std::fs::copy(&path, old.join(name)).expect("copy");
        }
    }
    let data = dir.join("data");
    std::fs::create_dir(&data).expect("data dir");
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(
            SqliteConnectOptions::new()
                .filename(data.join(store::data_dir::DATABASE_FILE))
                .create_if_missing(true)
                .foreign_keys(true),
        )
        .await
        .expect("old database");
    let migrator = sqlx::migrate::Migrator::new(old.as_path())
        .await
        .expect("old migrations");
    assert_eq!(migrator.iter().last().map(|m| m.version), Some(version));
    migrator.run(&pool).await.expect("old migrations run");
    let key = crypto::generate_key_hex();
    let keys = crypto::Keyring::from_hex(&key, &[]).expect("key");
    (data, pool, keys, key)
}
