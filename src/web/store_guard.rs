//! A safety net for the database connection after a failed commit.
//!
//! When SQLite cannot finish a COMMIT — the disk is full, or an I/O error — it rolls the
//! transaction back by itself. sqlx then sends its own ROLLBACK, which fails ("no transaction is
//! active"), and from then on believes the connection is still inside a transaction: every later
//! transaction on it becomes a SAVEPOINT inside a transaction that is never committed. Writes
//! "succeed", are seen by this connection alone, and are gone when the process ends. (The
//! drills in tests/drills.rs provoke exactly this with a full disk.)
//!
//! So before a consultation request is written, a connection in that state is closed, and the
//! pool opens a fresh one. Nothing else can hold the connection at that moment: it is idle in
//! the pool, so it should be in no transaction at all.

use sqlx::{Database, Sqlite, TransactionManager};

use crate::store::Store;

/// Closes the pool's connection if sqlx believes it is still inside a transaction.
pub async fn retire_if_confused(store: &Store) {
    let Ok(mut conn) = store.sqlite_pool().acquire().await else {
        // The write that follows meets the same problem and reports it.
        return;
    };
    let depth = <Sqlite as Database>::TransactionManager::get_transaction_depth(&conn);
    if depth > 0 {
        tracing::warn!(
            depth,
            "the database connection was left inside a failed transaction; opening a new one"
        );
        conn.close_on_drop();
    }
}
