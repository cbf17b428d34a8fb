//! The inbox's queries: listing and filtering requests, notes, history, status changes, mail
//! delivery state, deletion, retention, and the audit log.

use jiff::Timestamp;
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, Sqlite, Transaction};

use super::sqlite::{from_ms, ms};
use super::{Store, StoreError, StoredRequest};
use crate::audit;
use crate::practice::status::{Status, StatusChange};

/// Which requests to list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InboxFilter {
    /// The spam folder instead of the inbox.
    pub spam: bool,
    pub status: Option<Status>,
    pub outside_licensed_states: bool,
    pub minor: bool,
    /// Matches name or email, case-insensitively.
    pub search: Option<String>,
    /// 0-based page of `per_page`.
    pub page: usize,
    pub per_page: usize,
}

/// A page of the list and how many match in all.
pub struct InboxPage {
    pub requests: Vec<StoredRequest>,
    pub total: usize,
}

/// A private note on a request.
#[derive(Clone, Debug)]
pub struct Note {
    pub author: String,
    pub at: Timestamp,
    pub body: String,
}

/// One event in a request's history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryEntry {
    pub at: Timestamp,
    pub actor: String,
    pub event: String,
    pub detail: Option<String>,
}

/// The delivery state of one email about a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MailState {
    pub kind: String,
    pub status: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub sent_at: Option<Timestamp>,
}

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

impl Store {
    /// Appends one audit row inside `tx`.
    pub(super) async fn write_audit(
        tx: &mut Transaction<'_, Sqlite>,
        entry: &audit::Entry,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO audit_log (at, actor, action, request_id, detail) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(ms(now))
        .bind(&entry.actor)
        .bind(entry.action.as_str())
        .bind(entry.request_id)
        .bind(&entry.detail)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Writes one audit row on its own (sign-ins, views, exports).
    pub async fn audit(&self, entry: &audit::Entry, now: Timestamp) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        Self::write_audit(&mut tx, entry, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The audit log, newest first.
    pub async fn audit_log(
        &self,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<AuditRow>, i64), StoreError> {
        let rows = sqlx::query("SELECT id, at, actor, action, request_id, detail FROM audit_log ORDER BY id DESC LIMIT ? OFFSET ?")
            .bind(limit)
            .bind(offset)
            .fetch_all(&self.pool)
            .await?;
        let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log")
            .fetch_one(&self.pool)
            .await?;
        let rows = rows
            .iter()
            .map(|r| {
                Ok(AuditRow {
                    id: r.try_get("id")?,
                    at: from_ms(r.try_get("at")?),
                    actor: r.try_get("actor")?,
                    action: r.try_get("action")?,
                    request_id: r.try_get("request_id")?,
                    detail: r.try_get("detail")?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok((rows, total))
    }

    /// A page of requests. Name and email are sealed, so a search opens the candidates and
    /// matches in memory — fine for one practice's thousands of requests.
    pub async fn list_requests(&self, f: &InboxFilter) -> Result<InboxPage, StoreError> {
        let mut sql = String::from("SELECT * FROM consultation_requests WHERE spam = ?");
        if f.status.is_some() {
            sql.push_str(" AND status = ?");
        }
        if f.outside_licensed_states {
            sql.push_str(" AND outside_licensed_states = 1");
        }
        if f.minor {
            sql.push_str(" AND minor = 1");
        }
        sql.push_str(" ORDER BY received_at DESC, id DESC");
        let mut q = sqlx::query(&sql).bind(f.spam);
        if let Some(s) = f.status {
            q = q.bind(s.as_str());
        }
        let rows = q.fetch_all(&self.pool).await?;
        let per_page = f.per_page.max(1);
        let needle = f
            .search
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_lowercase);
        let mut matching = Vec::new();
        let mut total = 0;
        for row in &rows {
            let r = self.open_request(row)?;
            if let Some(n) = &needle
                && !r.name.to_lowercase().contains(n)
                && !r.email.to_lowercase().contains(n)
            {
                continue;
            }
            if total >= f.page * per_page && matching.len() < per_page {
                matching.push(r);
            }
            total += 1;
        }
        Ok(InboxPage {
            requests: matching,
            total,
        })
    }

    /// New, non-spam requests.
    pub async fn count_new(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM consultation_requests WHERE spam = 0 AND status = 'new'",
        )
        .fetch_one(&self.pool)
        .await?)
    }

    pub async fn request(&self, id: i64) -> Result<Option<StoredRequest>, StoreError> {
        let row = sqlx::query("SELECT * FROM consultation_requests WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(|r| self.open_request(r)).transpose()
    }

    /// Requests by id, for exporting a selection.
    pub async fn requests_by_id(&self, ids: &[i64]) -> Result<Vec<StoredRequest>, StoreError> {
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(r) = self.request(*id).await? {
                out.push(r);
            }
        }
        Ok(out)
    }

    /// Viewing a request is audited.
    pub async fn view_request(
        &self,
        id: i64,
        actor: &str,
        now: Timestamp,
    ) -> Result<Option<StoredRequest>, StoreError> {
        let request = self.request(id).await?;
        if request.is_some() {
            self.audit(
                &audit::Entry::new(actor, audit::Action::ViewRequest).request(id),
                now,
            )
            .await?;
        }
        Ok(request)
    }

    async fn history_row(
        tx: &mut Transaction<'_, Sqlite>,
        id: i64,
        actor: &str,
        event: &str,
        detail: Option<&str>,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO request_history (request_id, at, actor, event, detail) VALUES (?, ?, ?, ?, ?)")
            .bind(id)
            .bind(ms(now))
            .bind(actor)
            .bind(event)
            .bind(detail)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    /// Moves a request along the process; false when there is no such request.
    pub async fn change_status(
        &self,
        id: i64,
        change: StatusChange,
        actor: &str,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let old: Option<String> =
            sqlx::query_scalar("SELECT status FROM consultation_requests WHERE id = ?")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
        let Some(old) = old else { return Ok(false) };
        let closed_at = (change.to == Status::Closed).then(|| ms(now));
        sqlx::query("UPDATE consultation_requests SET status = ?, closed_reason = ?, closed_at = ? WHERE id = ?")
            .bind(change.to.as_str())
            .bind(change.reason.map(|r| r.as_str()))
            .bind(closed_at)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let old_label = Status::parse(&old).map(Status::label).unwrap_or("?");
        let mut detail = format!("{old_label} → {}", change.to.label());
        if let Some(r) = change.reason {
            detail.push_str(&format!(" ({})", r.label()));
        }
        Self::history_row(&mut tx, id, actor, "status", Some(&detail), now).await?;
        Self::write_audit(
            &mut tx,
            &audit::Entry::new(actor, audit::Action::StatusChange)
                .request(id)
                .detail(detail),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Moves a request to or from the spam folder.
    pub async fn set_spam(
        &self,
        id: i64,
        spam: bool,
        actor: &str,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let done =
            sqlx::query("UPDATE consultation_requests SET spam = ?, spam_reason = ? WHERE id = ?")
                .bind(spam)
                .bind(spam.then_some("clinician"))
                .bind(id)
                .execute(&mut *tx)
                .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        let (event, action) = if spam {
            ("spam", audit::Action::MarkedSpam)
        } else {
            ("not_spam", audit::Action::MarkedNotSpam)
        };
        Self::history_row(&mut tx, id, actor, event, None, now).await?;
        Self::write_audit(&mut tx, &audit::Entry::new(actor, action).request(id), now).await?;
        tx.commit().await?;
        Ok(true)
    }

    pub async fn add_note(
        &self,
        id: i64,
        author: &str,
        body: &str,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let exists: Option<i64> =
            sqlx::query_scalar("SELECT id FROM consultation_requests WHERE id = ?")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
        if exists.is_none() {
            return Ok(false);
        }
        sqlx::query("INSERT INTO request_notes (request_id, author, created_at, body_sealed) VALUES (?, ?, ?, ?)")
            .bind(id)
            .bind(author)
            .bind(ms(now))
            .bind(self.keys.seal("note", body))
            .execute(&mut *tx)
            .await?;
        Self::history_row(&mut tx, id, author, "note", None, now).await?;
        Self::write_audit(
            &mut tx,
            &audit::Entry::new(author, audit::Action::NoteAdded).request(id),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    pub async fn notes(&self, id: i64) -> Result<Vec<Note>, StoreError> {
        let rows = sqlx::query("SELECT author, created_at, body_sealed FROM request_notes WHERE request_id = ? ORDER BY id")
            .bind(id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                let sealed: Vec<u8> = r.try_get("body_sealed")?;
                Ok(Note {
                    author: r.try_get("author")?,
                    at: from_ms(r.try_get("created_at")?),
                    body: self
                        .keys
                        .open("note", &sealed)
                        .map_err(|source| StoreError::Sealed {
                            field: "note",
                            source,
                        })?,
                })
            })
            .collect()
    }

    pub async fn history(&self, id: i64) -> Result<Vec<HistoryEntry>, StoreError> {
        let rows = sqlx::query(
            "SELECT at, actor, event, detail FROM request_history WHERE request_id = ? ORDER BY id",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(history_entry).collect()
    }

    pub async fn mail_states(&self, id: i64) -> Result<Vec<MailState>, StoreError> {
        let rows = sqlx::query("SELECT kind, status, attempts, last_error, sent_at FROM outbox WHERE request_id = ? ORDER BY id")
            .bind(id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                let sent_at: Option<i64> = r.try_get("sent_at")?;
                Ok(MailState {
                    kind: r.try_get("kind")?,
                    status: r.try_get("status")?,
                    attempts: r.try_get("attempts")?,
                    last_error: r.try_get("last_error")?,
                    sent_at: sent_at.map(from_ms),
                })
            })
            .collect()
    }

    /// Puts a request's unsent (or given-up) mail back in the queue, due now.
    pub async fn retry_mail(
        &self,
        id: i64,
        actor: &str,
        now: Timestamp,
    ) -> Result<u64, StoreError> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "UPDATE outbox SET status = 'pending', next_attempt_at = ?, permanent_failures = 0, claimed_until = NULL
             WHERE request_id = ? AND status IN ('pending', 'failed')",
        )
        .bind(ms(now))
        .bind(id)
        .execute(&mut *tx)
        .await?;
        Self::write_audit(
            &mut tx,
            &audit::Entry::new(actor, audit::Action::MailRetry).request(id),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }

    /// Deletes a request with its notes, history and mail, for good.
    pub async fn delete_request(
        &self,
        id: i64,
        actor: &str,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query("DELETE FROM consultation_requests WHERE id = ?")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        Self::write_audit(
            &mut tx,
            &audit::Entry::new(actor, audit::Action::Delete).request(id),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Deletes closed requests closed before `closed_before` and spam received before
    /// `spam_before`; one audit row per deletion. Returns the ids deleted.
    pub async fn purge(
        &self,
        closed_before: Timestamp,
        spam_before: Timestamp,
        now: Timestamp,
    ) -> Result<Vec<i64>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let rows = sqlx::query(
            "SELECT id, spam FROM consultation_requests
             WHERE (spam = 0 AND status = 'closed' AND closed_at < ?) OR (spam = 1 AND received_at < ?)",
        )
        .bind(ms(closed_before))
        .bind(ms(spam_before))
        .fetch_all(&mut *tx)
        .await?;
        let mut ids = Vec::with_capacity(rows.len());
        for row in rows {
            let id: i64 = row.try_get("id")?;
            let spam: bool = row.try_get("spam")?;
            sqlx::query("DELETE FROM consultation_requests WHERE id = ?")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            let why = if spam {
                "spam past its retention period"
            } else {
                "closed past its retention period"
            };
            Self::write_audit(
                &mut tx,
                &audit::Entry::new("system", audit::Action::Purge)
                    .request(id)
                    .detail(why),
                now,
            )
            .await?;
            ids.push(id);
        }
        tx.commit().await?;
        Ok(ids)
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

fn history_entry(r: &SqliteRow) -> Result<HistoryEntry, StoreError> {
    Ok(HistoryEntry {
        at: from_ms(r.try_get("at")?),
        actor: r.try_get("actor")?,
        event: r.try_get("event")?,
        detail: r.try_get("detail")?,
    })
}
