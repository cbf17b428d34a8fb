//! The inbox's queries: listing and filtering requests, notes, history, status changes, mail
//! delivery state and deletion; retention (`retention.rs`) and the audit log (`audit_log.rs`).

use jiff::Timestamp;

use super::engine::{Columns, on_db, record};
use super::fields::{HISTORY_NOTE, NOTE, seal_in_row};
use super::{Store, StoreError, StoredRequest, ms, parsed};
use crate::audit;
use practice::consultation::SpamReason;
use practice::mail::OutboxStatus;
use practice::status::{Status, StatusChange};

mod audit_log;
mod retention;

pub use audit_log::AuditRow;
pub(super) use audit_log::{commit_audited, write_audit};
pub use retention::{Cutoffs, DueForDeletion};

/// One request, by id (`$1`).
const REQUEST_BY_ID: &str = "SELECT * FROM consultation_requests WHERE id = $1";

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
    pub requests: Vec<FoundRequest>,
    pub total: usize,
}

/// A request as the inbox finds it: opened, or one that cannot be read.
#[derive(Clone, Debug)]
pub enum FoundRequest {
    Readable(StoredRequest),
    Unreadable(UnreadableRequest),
}

/// A request that cannot be read (a sealed field that does not open with the key, a damaged
/// value, a value this version cannot read), with what of it can: enough to list it, say that
/// it cannot be read, and delete it. Nothing of the person.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnreadableRequest {
    pub id: i64,
    pub reference: Option<String>,
    pub received_at: Option<Timestamp>,
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
    /// The note written with it (a follow-up's), opened.
    pub note: Option<String>,
}

/// The delivery state of one email about a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MailState {
    pub kind: String,
    pub status: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub sent_at: Option<Timestamp>,
    /// When it was queued.
    pub created_at: Timestamp,
    /// When it is tried next, while it waits.
    pub next_attempt_at: Timestamp,
    /// For mail to the practice, the address it went to once sent.
    pub sent_to: Option<String>,
}

/// The column `$column` of request `$id` (`None`: no such request), read on `$executor`.
macro_rules! request_column {
    ($executor:expr, $column:literal, $id:expr) => {
        sqlx::query_scalar(concat!(
            "SELECT ",
            $column,
            " FROM consultation_requests WHERE id = $1"
        ))
        .bind($id)
        .fetch_optional($executor)
    };
}
pub(super) use request_column;

/// Appends one entry to a request's history on `$conn`.
macro_rules! write_history {
    ($conn:ident, $id:expr, $actor:expr, $event:expr, $detail:expr, $now:expr) => {
        sqlx::query(
            "INSERT INTO request_history (request_id, at, actor, event, detail) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind($id)
        .bind($crate::ms($now))
        .bind($actor)
        .bind($event)
        .bind($detail)
        .execute(&mut *$conn)
    };
}
pub(super) use write_history;

impl Store {
    /// A page of requests. Name and email are sealed, so a search opens the candidates and
    /// matches in memory — fine for one practice's thousands of requests.
    pub async fn list_requests(&self, f: &InboxFilter) -> Result<InboxPage, StoreError> {
        let mut sql = String::from("SELECT * FROM consultation_requests WHERE spam = $1");
        if f.status.is_some() {
            sql.push_str(" AND status = $2");
        }
        if f.outside_licensed_states {
            sql.push_str(" AND outside_licensed_states = TRUE");
        }
        if f.minor {
            sql.push_str(" AND minor = TRUE");
        }
        sql.push_str(" ORDER BY received_at DESC, id DESC");
        let per_page = f.per_page.max(1);
        let needle = f
            .search
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_lowercase);
        let mut matching = Vec::new();
        let mut total = 0;
        on_db!(&self.db, pool => {
            let mut q = sqlx::query(&sql).bind(f.spam);
            if let Some(s) = f.status {
                q = q.bind(s.as_str());
            }
            let rows = q.fetch_all(pool).await?;
            for row in &rows {
                // One request that cannot be read is listed as such; the others as always.
                let r = self.open_or_unreadable(row)?;
                if let Some(n) = &needle {
                    let found = match &r {
                        FoundRequest::Readable(r) => {
                            r.name.to_lowercase().contains(n) || r.email.to_lowercase().contains(n)
                        }
                        FoundRequest::Unreadable(_) => false,
                    };
                    if !found {
                        continue;
                    }
                }
                if total >= f.page * per_page && matching.len() < per_page {
                    matching.push(r);
                }
                total += 1;
            }
        });
        Ok(InboxPage {
            requests: matching,
            total,
        })
    }

    /// New, non-spam requests.
    pub async fn count_new(&self) -> Result<i64, StoreError> {
        Ok(on_db!(&self.db, pool => sqlx::query_scalar(
            "SELECT COUNT(*) FROM consultation_requests WHERE spam = FALSE AND status = 'new'",
        )
        .fetch_one(pool)
        .await?))
    }

    pub async fn request(&self, id: i64) -> Result<Option<StoredRequest>, StoreError> {
        self.read_one(REQUEST_BY_ID, &[id.into()], |r| self.open_request(r))
            .await
    }

    /// Request `id` as the inbox shows it: opened, or, when it cannot be read, what can be.
    pub async fn find_request(&self, id: i64) -> Result<Option<FoundRequest>, StoreError> {
        self.read_one(REQUEST_BY_ID, &[id.into()], |r| self.open_or_unreadable(r))
            .await
    }

    /// Opens a request's row; one that cannot be read is logged by its id alone and given as
    /// what can be read of it. A failing database is still an error.
    fn open_or_unreadable(&self, row: &impl Columns) -> Result<FoundRequest, StoreError> {
        match self.open_request(row) {
            Ok(r) => Ok(FoundRequest::Readable(r)),
            Err(e @ (StoreError::Sealed { .. } | StoreError::Unreadable { .. })) => {
                let id: i64 = row.col("id")?;
                tracing::error!(
                    request = id,
                    problem = super::meeting::unreadable(&e),
                    "a consultation request cannot be read; the inbox shows it as such"
                );
                Ok(FoundRequest::Unreadable(UnreadableRequest {
                    id,
                    reference: row.col("reference").ok(),
                    received_at: row.time("received_at").ok(),
                }))
            }
            Err(e) => Err(e),
        }
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
    ) -> Result<Option<FoundRequest>, StoreError> {
        let request = self.find_request(id).await?;
        if request.is_some() {
            self.audit(
                &audit::Entry::new(actor, audit::Action::ViewRequest).request(id),
                now,
            )
            .await?;
        }
        Ok(request)
    }

    /// Moves a request along the process; false when there is no such request.
    ///
    /// Closing it also cancels its booking, in the same transaction, when the time has not begun
    /// (see `cancel_on_closing!` in `bookings.rs`); with `mail`, the person is sent the
    /// cancellation.
    pub async fn change_status(
        &self,
        id: i64,
        change: StatusChange,
        actor: &str,
        mail: bool,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        on_db!(&self.db, pool => {
            let mut tx = pool.begin().await?;
            let old: Option<String> = request_column!(&mut *tx, "status", id).await?;
            let Some(old) = old else { return Ok(false) };
            let closed_at = (change.to == Status::Closed).then(|| ms(now));
            sqlx::query("UPDATE consultation_requests SET status = $1, closed_reason = $2, closed_at = $3, reached_consultation = (reached_consultation OR $4) WHERE id = $5")
                .bind(change.to.as_str())
                .bind(change.reason.map(|r| r.as_str()))
                .bind(closed_at)
                .bind(change.to.reaches_consultation())
                .bind(id)
                .execute(&mut *tx)
                .await?;
            let old = parsed("status", old, Status::parse)?;
            let mut detail = format!("{} → {}", old.label(), change.to.label());
            if let Some(r) = change.reason {
                detail.push_str(&format!(" ({})", r.label()));
            }
            write_history!(tx, id, actor, "status", Some(&detail), now).await?;
            write_audit!(
                tx,
                &audit::Entry::new(actor, audit::Action::StatusChange)
                    .request(id)
                    .detail(detail),
                now
            )
            .await?;
            if change.to == Status::Closed {
                super::bookings::cancel_on_closing!(tx, self, id, actor, mail, now).await?;
            }
            tx.commit().await?;
            Ok(true)
        })
    }

    /// Moves a request to or from the spam folder.
    pub async fn set_spam(
        &self,
        id: i64,
        spam: bool,
        actor: &str,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let (event, action) = if spam {
            ("spam", audit::Action::MarkedSpam)
        } else {
            ("not_spam", audit::Action::MarkedNotSpam)
        };
        on_db!(&self.db, pool => {
            let mut tx = pool.begin().await?;
            let done = sqlx::query(
                "UPDATE consultation_requests SET spam = $1, spam_reason = $2 WHERE id = $3",
            )
            .bind(spam)
            .bind(spam.then_some(SpamReason::Clinician.as_str()))
            .bind(id)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 0 {
                return Ok(false);
            }
            write_history!(tx, id, actor, event, None::<&str>, now).await?;
            commit_audited!(tx, &audit::Entry::new(actor, action).request(id), now).await?;
            Ok(true)
        })
    }

    pub async fn add_note(
        &self,
        id: i64,
        author: &str,
        body: &str,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        on_db!(&self.db, pool => {
            let mut tx = pool.begin().await?;
            let exists: Option<i64> = request_column!(&mut *tx, "id", id).await?;
            if exists.is_none() {
                return Ok(false);
            }
            // The note is sealed for its own row, whose id the insert gives.
            let note_id: i64 = sqlx::query_scalar("INSERT INTO request_notes (request_id, author, created_at, body_sealed) VALUES ($1, $2, $3, $4) RETURNING id")
                .bind(id)
                .bind(author)
                .bind(ms(now))
                .bind(Vec::<u8>::new())
                .fetch_one(&mut *tx)
                .await?;
            seal_in_row!(self, tx, NOTE, note_id, body).await?;
            write_history!(tx, id, author, "note", None::<&str>, now).await?;
            let audit = audit::Entry::new(author, audit::Action::NoteAdded).request(id);
            commit_audited!(tx, &audit, now).await?;
            Ok(true)
        })
    }

    pub async fn notes(&self, id: i64) -> Result<Vec<Note>, StoreError> {
        self.read_all(
            "SELECT id, author, created_at, body_sealed
             FROM request_notes WHERE request_id = $1 ORDER BY id",
            &[id.into()],
            |r| {
                let sealed: Vec<u8> = r.col("body_sealed")?;
                let note_id: i64 = r.col("id")?;
                Ok(Note {
                    author: r.col("author")?,
                    at: r.time("created_at")?,
                    body: self.unseal(NOTE, note_id, &sealed)?,
                })
            },
        )
        .await
    }

    pub async fn history(&self, id: i64) -> Result<Vec<HistoryEntry>, StoreError> {
        self.read_all(
            "SELECT id, at, actor, event, detail, note_sealed
             FROM request_history WHERE request_id = $1 ORDER BY id",
            &[id.into()],
            |r| {
                let mut entry = history_entry(r)?;
                let sealed: Option<Vec<u8>> = r.col("note_sealed")?;
                if let Some(sealed) = sealed {
                    let row: i64 = r.col("id")?;
                    entry.note = Some(self.unseal(HISTORY_NOTE, row, &sealed)?);
                }
                Ok(entry)
            },
        )
        .await
    }

    pub async fn mail_states(&self, id: i64) -> Result<Vec<MailState>, StoreError> {
        self.read_all(
            "SELECT kind, status, attempts, last_error, sent_at, created_at, next_attempt_at, sent_to
             FROM outbox WHERE request_id = $1 ORDER BY id",
            &[id.into()],
            |r| {
                    record!(r => MailState {
                        kind, status, attempts, last_error, sent_at: time_opt, created_at: time,
                        next_attempt_at: time, sent_to
                    })
                }).await
    }

    /// Puts a request's unsent (or given-up) mail back in the queue, due now.
    pub async fn retry_mail(
        &self,
        id: i64,
        actor: &str,
        now: Timestamp,
    ) -> Result<u64, StoreError> {
        on_db!(&self.db, pool => {
            let mut tx = pool.begin().await?;
            let done = sqlx::query(
                "UPDATE outbox SET status = $3, next_attempt_at = $1, permanent_failures = 0, claimed_until = NULL
                 WHERE request_id = $2 AND status IN ($3, $4)",
            )
            .bind(ms(now))
            .bind(id)
            .bind(OutboxStatus::Pending.as_str())
            .bind(OutboxStatus::Failed.as_str())
            .execute(&mut *tx)
            .await?;
            let audit = audit::Entry::new(actor, audit::Action::MailRetry).request(id);
            commit_audited!(tx, &audit, now).await?;
            Ok(done.rows_affected())
        })
    }

    /// Deletes a request with its notes, history and mail, for good.
    pub async fn delete_request(
        &self,
        id: i64,
        actor: &str,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let deleted = self
            .execute_audited(
                "DELETE FROM consultation_requests WHERE id = $1",
                &[id.into()],
                &audit::Entry::new(actor, audit::Action::Delete).request(id),
                now,
            )
            .await?;
        Ok(deleted > 0)
    }
}

fn history_entry(r: &impl Columns) -> Result<HistoryEntry, StoreError> {
    record!(r => HistoryEntry { at: time, actor, event, detail } and { note: None })
}
