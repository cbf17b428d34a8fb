//! The two database engines behind one store.
//!
//! Every query of the practice is written once, in SQL that both engines read the same way
//! (`$1` placeholders, `TRUE`/`FALSE`, `RETURNING`, `ON CONFLICT`), and run on whichever engine
//! the configuration chose: [`on_db!`] expands a block once per engine, so the same text is
//! compiled against `SqlitePool` and `PgPool` with their own row types. What truly differs
//! lives here and nowhere else: how to connect, the migrations folder, and the few clauses one
//! engine has and the other lacks (`FOR UPDATE SKIP LOCKED`, `VACUUM INTO`).
//!
//! - **SQLite** (the default): one file in the data directory, WAL mode, `synchronous=FULL`,
//!   one connection for everything that writes (SQLite has one writer anyway; one connection
//!   never meets "database is locked"), and a few read-only connections for the reads on a
//!   visitor's path ([`Db::open_sqlite_readers`]): in WAL mode a reader neither waits for the
//!   writer's commit (its fsync) nor holds it up, so such a read does not queue behind the
//!   writes.
//! - **PostgreSQL** (`DATABASE_URL=postgres://…`): a pool shared by any number of servers;
//!   migrations take an advisory lock, so servers starting together apply them once.

use std::path::Path;
use std::time::Duration;

use sqlx::Row as _;
use sqlx::postgres::{PgPool, PgPoolOptions, PgRow};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};

use super::StoreError;

/// A connection pool on one of the two engines.
#[derive(Clone, Debug)]
pub(crate) enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Which engine a store runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

impl Engine {
    pub fn name(self) -> &'static str {
        match self {
            Engine::Sqlite => "SQLite",
            Engine::Postgres => "PostgreSQL",
        }
    }
}

/// Runs `$body` with `$pool` bound to the concrete pool of whichever engine `$db` is.
macro_rules! on_db {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            $crate::engine::Db::Sqlite($pool) => $body,
            $crate::engine::Db::Postgres($pool) => $body,
        }
    };
}
pub(crate) use on_db;

impl Db {
    pub(crate) fn engine(&self) -> Engine {
        match self {
            Db::Sqlite(_) => Engine::Sqlite,
            Db::Postgres(_) => Engine::Postgres,
        }
    }

    /// Opens (creating if needed) the SQLite database at `path` and applies its migrations.
    pub(crate) async fn open_sqlite(path: &Path) -> Result<Db, StoreError> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        migrate_sqlite(&options).await?;
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(10))
            // The one connection is local and always alive: no ping before each use.
            .test_before_acquire(false)
            // When SQLite cannot finish a COMMIT (disk full, I/O error) it rolls the transaction
            // back itself; sqlx's own ROLLBACK then fails, and sqlx goes on believing a
            // transaction is open, so every later transaction on the connection would be a
            // SAVEPOINT inside one that never commits: "stored", then lost. A connection left
            // in that state is closed instead of reused, and the pool opens a fresh one.
            .after_release(|conn, _| {
                Box::pin(async move {
                    use sqlx::{Connection, Database, Sqlite, TransactionManager};
                    let depth = |c: &mut sqlx::SqliteConnection| {
                        <Sqlite as Database>::TransactionManager::get_transaction_depth(c)
                    };
                    if depth(conn) == 0 {
                        return Ok(true);
                    }
                    // A dropped transaction's ROLLBACK may still be queued: let it run first.
                    conn.ping().await?;
                    let clean = depth(conn) == 0;
                    if !clean {
                        tracing::warn!(
                            "the database connection was left inside a failed transaction; opening a new one"
                        );
                    }
                    Ok(clean)
                })
            })
            .connect_with(options.clone())
            .await?;
        Ok(Db::Sqlite(pool))
    }

    /// Read-only connections to the SQLite database at `path` (opened and migrated by
    /// [`Db::open_sqlite`] first), for the reads that need not queue behind the one writing
    /// connection. Each sees what was committed when its read began; a write sent here fails
    /// ("attempt to write a readonly database") instead of bypassing the writer.
    pub(crate) async fn open_sqlite_readers(path: &Path) -> Result<Db, StoreError> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .read_only(true)
            .busy_timeout(Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(READERS)
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(10))
            // Local and always alive, like the writer: no ping before each use.
            .test_before_acquire(false)
            .connect_with(options)
            .await?;
        Ok(Db::Sqlite(pool))
    }

    /// Connects to PostgreSQL at `url` and applies its migrations (under an advisory lock, so a
    /// second server starting at the same moment waits, then finds nothing left to do).
    ///
    /// A server that starts while its database is still starting, or slow to answer, waits for
    /// it for up to [`START_WAIT`] instead of giving up at the first timed-out connection.
    pub(crate) async fn open_postgres(url: &str) -> Result<Db, StoreError> {
        let started = std::time::Instant::now();
        loop {
            match Self::try_open_postgres(url).await {
                Err(StoreError::Unavailable(e))
                    if matches!(e, sqlx::Error::PoolTimedOut | sqlx::Error::Io(_))
                        && started.elapsed() < START_WAIT =>
                {
                    tracing::warn!(error = %e, "the database does not answer yet; trying again");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                other => return other,
            }
        }
    }

    async fn try_open_postgres(url: &str) -> Result<Db, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            // While the database is down, a request waits this long before the honest 503.
            .acquire_timeout(Duration::from_secs(3))
            .connect(url)
            .await?;
        sqlx::migrate!("../../migrations/postgres")
            .run(&pool)
            .await?;
        Ok(Db::Postgres(pool))
    }

    pub(crate) async fn close(&self) {
        on_db!(self, pool => pool.close().await)
    }
}

/// Applies the SQLite migrations on a connection of their own with foreign keys off, as SQLite
/// asks for schema changes that rebuild a table: with them on, dropping the old table would
/// delete every row that refers to it (`ON DELETE CASCADE`). The pragma cannot be changed inside
/// the transaction each migration runs in, so it is set when the connection opens. Afterwards
/// every reference must still hold, or the server refuses to start.
async fn migrate_sqlite(options: &SqliteConnectOptions) -> Result<(), StoreError> {
    use sqlx::{ConnectOptions, Connection};
    let mut conn = options.clone().foreign_keys(false).connect().await?;
    sqlx::migrate!("../../migrations/sqlite")
        .run(&mut conn)
        .await?;
    let broken = sqlx::query("PRAGMA foreign_key_check")
        .fetch_all(&mut conn)
        .await?;
    conn.close().await?;
    if broken.is_empty() {
        Ok(())
    } else {
        Err(StoreError::BrokenReferences(broken.len()))
    }
}

/// When the SQLite database at `database` exists and has migrations still to apply, a
/// consistent copy of it at `out` (`VACUUM INTO`) taken before anything changes it. Returns how
/// many migrations are pending (0: nothing to apply, or no database yet; no copy made).
pub(crate) async fn snapshot_if_pending(database: &Path, out: &Path) -> Result<usize, StoreError> {
    use sqlx::{ConnectOptions, Connection};
    if !database.exists() {
        return Ok(0);
    }
    let mut conn = SqliteConnectOptions::new()
        .filename(database)
        .busy_timeout(Duration::from_secs(5))
        .connect()
        .await?;
    let has_table: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
    )
    .fetch_one(&mut conn)
    .await?;
    let applied: Vec<i64> = if has_table > 0 {
        sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success")
            .fetch_all(&mut conn)
            .await?
    } else {
        Vec::new()
    };
    let pending = sqlx::migrate!("../../migrations/sqlite")
        .iter()
        .filter(|m| !m.migration_type.is_down_migration() && !applied.contains(&m.version))
        .count();
    if pending > 0 {
        sqlx::query("VACUUM INTO $1")
            .bind(out.display().to_string())
            .execute(&mut conn)
            .await?;
    }
    conn.close().await?;
    Ok(pending)
}

/// The read-only SQLite connections ([`Db::open_sqlite_readers`]): enough for the reads of a
/// busy moment to run side by side, each on a thread of its own.
const READERS: u32 = 4;

/// How long a starting server waits for a PostgreSQL database that does not answer yet.
const START_WAIT: Duration = Duration::from_secs(30);

/// A value bound to a statement that runs on either engine (see [`crate::Store::execute_audited`]).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Bind<'a> {
    Int(i64),
    MaybeInt(Option<i64>),
    Bool(bool),
    Text(&'a str),
    MaybeText(Option<&'a str>),
    Bytes(&'a [u8]),
}

/// `From` each type of value for its [`Bind`].
macro_rules! binds_from {
    ($lt:lifetime: $($ty:ty => $variant:ident),* $(,)?) => {$(
        impl<$lt> From<$ty> for Bind<$lt> {
            fn from(v: $ty) -> Self {
                Bind::$variant(v)
            }
        }
    )*};
}
binds_from!('a:
    i64 => Int,
    Option<i64> => MaybeInt,
    bool => Bool,
    &'a str => Text,
    Option<&'a str> => MaybeText,
    &'a [u8] => Bytes,
);

/// Binds `$binds` ([`Bind`]s, in order) to `$query` on whichever engine the query is for.
macro_rules! bind_all {
    ($query:expr, $binds:expr) => {{
        let mut query = $query;
        for bind in $binds {
            query = match *bind {
                $crate::engine::Bind::Int(v) => query.bind(v),
                $crate::engine::Bind::MaybeInt(v) => query.bind(v),
                $crate::engine::Bind::Bool(v) => query.bind(v),
                $crate::engine::Bind::Text(v) => query.bind(v),
                $crate::engine::Bind::MaybeText(v) => query.bind(v),
                $crate::engine::Bind::Bytes(v) => query.bind(v),
            };
        }
        query
    }};
}
pub(crate) use bind_all;

/// Claims row `$id` for this server on `$conn` with `$sql`, an update that stamps its claim
/// (`$1`: `$now`) only where none is stamped yet (`$2`: the row). However many servers look
/// at once, exactly one update changes the row: true for that one.
macro_rules! claim {
    ($conn:ident, $sql:expr, $now:expr, $id:expr) => {
        async {
            sqlx::query($sql)
                .bind($crate::ms($now))
                .bind($id)
                .execute(&mut *$conn)
                .await
                .map(|done| done.rows_affected() == 1)
        }
    };
}
pub(crate) use claim;

/// A row of either engine, for the readers that turn a row into a record.
#[derive(Clone, Copy)]
pub(crate) enum Row<'r> {
    Sqlite(&'r SqliteRow),
    Postgres(&'r PgRow),
}

impl<'r> From<&'r SqliteRow> for Row<'r> {
    fn from(row: &'r SqliteRow) -> Self {
        Row::Sqlite(row)
    }
}

impl<'r> From<&'r PgRow> for Row<'r> {
    fn from(row: &'r PgRow) -> Self {
        Row::Postgres(row)
    }
}

impl Columns for Row<'_> {
    fn col<T: Value>(&self, column: &str) -> Result<T, sqlx::Error> {
        match self {
            Row::Sqlite(row) => T::from_sqlite(row, column),
            Row::Postgres(row) => T::from_postgres(row, column),
        }
    }
}

impl crate::Store {
    /// Runs the query `sql` (`binds` for `$1`, `$2`…) and reads every row it gives with `read`.
    pub(crate) async fn read_all<T>(
        &self,
        sql: &str,
        binds: &[Bind<'_>],
        read: impl Fn(&Row<'_>) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        on_db!(&self.db, pool => {
            let rows = bind_all!(sqlx::query(sql), binds).fetch_all(pool).await?;
            rows.iter().map(|row| read(&row.into())).collect()
        })
    }

    /// Runs the query `sql` (`binds` for `$1`, `$2`…) and reads the row it gives, if any, with
    /// `read`.
    pub(crate) async fn read_one<T>(
        &self,
        sql: &str,
        binds: &[Bind<'_>],
        read: impl FnOnce(&Row<'_>) -> Result<T, StoreError>,
    ) -> Result<Option<T>, StoreError> {
        on_db!(&self.db, pool => {
            let row = bind_all!(sqlx::query(sql), binds).fetch_optional(pool).await?;
            row.as_ref().map(|row| read(&row.into())).transpose()
        })
    }
}

/// A value that both engines' rows can hand back.
pub(crate) trait Value: Sized {
    fn from_sqlite(row: &SqliteRow, column: &str) -> Result<Self, sqlx::Error>;
    fn from_postgres(row: &PgRow, column: &str) -> Result<Self, sqlx::Error>;
}

macro_rules! values {
    ($($t:ty),*) => {$(
        impl Value for $t {
            fn from_sqlite(row: &SqliteRow, column: &str) -> Result<Self, sqlx::Error> {
                row.try_get(column)
            }
            fn from_postgres(row: &PgRow, column: &str) -> Result<Self, sqlx::Error> {
                row.try_get(column)
            }
        }
    )*};
}
values!(
    i64,
    Option<i64>,
    bool,
    Option<bool>,
    String,
    Option<String>,
    Vec<u8>,
    Option<Vec<u8>>
);

/// A record read from `$row`, each field from the column of its name: `record!(r => Review {
/// item, reviewed_at: time })` reads `item` with [`Columns::col`] and `reviewed_at` with
/// [`Columns::time`]; `start: time("start_at")` names another column. Fields that are not
/// columns follow in `and { name: value }`.
macro_rules! record {
    (
        $row:ident => $ty:ident { $($field:ident $(: $read:ident $(($column:literal))?)?),* $(,)? }
        $(and { $($name:ident $(: $value:expr)?),* $(,)? })?
    ) => {
        Ok($ty {
            $($field: $crate::engine::record!(@read $row, $field $(, $read $(, $column)?)?),)*
            $($($name $(: $value)?,)*)?
        })
    };
    (@read $row:ident, $field:ident) => {
        $row.col(stringify!($field))?
    };
    (@read $row:ident, $field:ident, $read:ident) => {
        $row.$read(stringify!($field))?
    };
    (@read $row:ident, $field:ident, $read:ident, $column:literal) => {
        $row.$read($column)?
    };
}
pub(crate) use record;

/// Reads a column the same way from either engine's row.
pub(crate) trait Columns {
    fn col<T: Value>(&self, column: &str) -> Result<T, sqlx::Error>;

    /// A time column, stored as milliseconds since 1970.
    fn time(&self, column: &'static str) -> Result<jiff::Timestamp, StoreError> {
        super::from_ms(column, self.col(column)?)
    }

    /// A time column that may be empty.
    fn time_opt(&self, column: &'static str) -> Result<Option<jiff::Timestamp>, StoreError> {
        self.col::<Option<i64>>(column)?
            .map(|v| super::from_ms(column, v))
            .transpose()
    }

    /// A column holding one of a fixed set of words, read with `parse`.
    fn choice<T>(
        &self,
        column: &'static str,
        parse: impl FnOnce(&str) -> Option<T>,
    ) -> Result<T, StoreError> {
        super::parsed(column, self.col(column)?, parse)
    }
}

impl Columns for SqliteRow {
    fn col<T: Value>(&self, column: &str) -> Result<T, sqlx::Error> {
        T::from_sqlite(self, column)
    }
}

impl Columns for PgRow {
    fn col<T: Value>(&self, column: &str) -> Result<T, sqlx::Error> {
        T::from_postgres(self, column)
    }
}
