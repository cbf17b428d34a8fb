//! The audit log: who did what and when, written in the transaction of the change it records,
//! and read back in pages for the inbox and the export.

use jiff::Timestamp;

use super::super::engine::{Bind, Columns, bind_all, on_db, record};
use super::super::{Store, StoreError};
use crate::audit;

/// A row of the audit log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditRow {
    pub id: i64,
    pub at: Timestamp,
    pub actor: String,
    pub action: String,
    pub request_id: Option<i64>,
    pub detail: Option<String>,
}

/// Appends one audit row on `$conn` (inside the transaction whose change it records).
macro_rules! write_audit {
    ($conn:ident, $entry:expr, $now:expr) => {
        async {
            let entry: &$crate::audit::Entry = $entry;
            sqlx::query(
                "INSERT INTO audit_log (at, actor, action, request_id, detail) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind($crate::ms($now))
            .bind(&entry.actor)
            .bind(entry.action.as_str())
            .bind(entry.request_id)
            .bind(&entry.detail)
            .execute(&mut *$conn)
            .await
            .map(|_| ())
        }
    };
}
pub(crate) use write_audit;

/// Appends the audit row of the change made in the transaction `$tx`, and commits both: a
/// change and its audit row are kept together or not at all.
macro_rules! commit_audited {
    ($tx:ident, $entry:expr, $now:expr) => {
        async {
            $crate::inbox::write_audit!($tx, $entry, $now).await?;
            $tx.commit().await
        }
    };
}
pub(crate) use commit_audited;

/// One row of `audit_log`, as the queries below select it.
fn audit_row(r: &impl Columns) -> Result<AuditRow, StoreError> {
    record!(r => AuditRow { id, at: time, actor, action, request_id, detail })
}

impl Store {
    /// Runs one statement (`binds` for `$1`, `$2`…) and, when it changed a row, the audit row
    /// of the change, in one transaction. Returns how many rows changed; when none did, nothing
    /// is written, not even the audit row.
    pub(crate) async fn execute_audited(
        &self,
        sql: &str,
        binds: &[Bind<'_>],
        entry: &audit::Entry,
        now: Timestamp,
    ) -> Result<u64, StoreError> {
        on_db!(&self.db, pool => {
            let mut tx = pool.begin().await?;
            let changed = bind_all!(sqlx::query(sql), binds)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if changed > 0 {
                commit_audited!(tx, entry, now).await?;
            }
            Ok(changed)
        })
    }

    /// Writes one audit row on its own (sign-ins, views, exports).
    pub async fn audit(&self, entry: &audit::Entry, now: Timestamp) -> Result<(), StoreError> {
        on_db!(&self.db, pool => {
            let mut tx = pool.begin().await?;
            commit_audited!(tx, entry, now).await?;
        });
        Ok(())
    }

    /// Up to `limit` audit rows older than the row `before` (newest first): the export reads
    /// the log in pages like this, so it never holds the whole log in memory.
    pub async fn audit_rows_before(
        &self,
        before: i64,
        limit: i64,
    ) -> Result<Vec<AuditRow>, StoreError> {
        self.read_all(
            "SELECT id, at, actor, action, request_id, detail
             FROM audit_log WHERE id < $1 ORDER BY id DESC LIMIT $2",
            &[before.into(), limit.into()],
            |r| audit_row(r),
        )
        .await
    }

    /// A page of the audit log, newest first, and how many rows it has in all.
    pub async fn audit_log(
        &self,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<AuditRow>, i64), StoreError> {
        on_db!(&self.db, pool => {
            let rows = sqlx::query("SELECT id, at, actor, action, request_id, detail FROM audit_log ORDER BY id DESC LIMIT $1 OFFSET $2")
                .bind(limit)
                .bind(offset)
                .fetch_all(pool)
                .await?;
            let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log")
                .fetch_one(pool)
                .await?;
            let rows = rows
                .iter()
                .map(audit_row)
                .collect::<Result<Vec<_>, StoreError>>()?;
            Ok((rows, total))
        })
    }

    /// Records that `actor` exported `count` requests.
    pub async fn audit_export(
        &self,
        actor: &str,
        count: usize,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.audit(
            &audit::Entry::new(actor, audit::Action::Export).detail(format!("{count} requests")),
            now,
        )
        .await
    }
}
