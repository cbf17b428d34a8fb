//! Questionnaires: whether the practice offers them, each person's answers (sealed), the
//! "needs attention" flag with its urgent email, and the measures sent again.
//!
//! A questionnaire's answers are one sealed value bound to the questionnaire's id (see
//! `fields.rs`): every answer, free text and (derived from them) every score stays encrypted at
//! rest. Only `needs_attention` is plain, so that the inbox can raise it without opening
//! anything; it says nothing more than that. Rows go with their request, by the database's
//! `ON DELETE CASCADE`: deleting a request, or retention deleting it, deletes its
//! questionnaires.

use jiff::Timestamp;

use super::engine::{Columns, Db, claim, on_db, record};
use super::fields::{HISTORY_NOTE, QUESTIONNAIRE_ANSWERS, seal_in_row};
use super::inbox::{commit_audited, write_history};
use super::{Store, StoreError, ms};
use crate::audit;
use crate::outbox::queue_mail;
use practice::mail::MailKind;
use practice::questionnaire::{Answers, Kind, Page};

mod offer;

pub(super) use offer::{MAIL_CHECK, OFFERED};
pub use offer::{MailCheck, MailCheckAnswer};

/// Queues the urgent email `$kind` about request `$request_id` to the practice on `$tx`, with
/// the line `$detail` in the request's history.
macro_rules! queue_urgent {
    ($tx:ident, $kind:expr, $request_id:expr, $detail:expr, $now:expr) => {{
        $crate::outbox::queue_mail!($tx, $kind, $request_id, None::<Vec<u8>>, $now).await?;
        write_history!(
            $tx,
            $request_id,
            "system",
            "questionnaire",
            Some($detail),
            $now
        )
        .await?;
    }};
}

/// A questionnaire as stored, opened for the person it is for or the clinician.
#[derive(Clone)]
pub struct StoredQuestionnaire {
    pub id: i64,
    pub request_id: i64,
    pub kind: Kind,
    pub sent_at: Timestamp,
    pub updated_at: Option<Timestamp>,
    pub completed_at: Option<Timestamp>,
    pub needs_attention: bool,
    pub attention_seen_at: Option<Timestamp>,
    /// When the answers last raised "needs attention".
    pub attention_raised_at: Option<Timestamp>,
    pub answers: Answers,
}

practice::debug_shows!(StoredQuestionnaire {
    id,
    request_id,
    kind
});

/// A request with a questionnaire that needs attention, for the top of the inbox.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttentionItem {
    pub request_id: i64,
    pub reference: String,
    pub since: Timestamp,
}

const COLUMNS: &str = "id, request_id, kind, sent_at, updated_at, completed_at, answers_sealed, needs_attention, attention_seen_at, attention_raised_at";

/// What saving a page did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Saved {
    /// This save raised the "needs attention" flag (and queued the urgent email).
    pub attention_raised: bool,
}

impl Store {
    fn questionnaire_row(&self, row: &impl Columns) -> Result<StoredQuestionnaire, StoreError> {
        let id: i64 = row.col("id")?;
        let sealed: Option<Vec<u8>> = row.col("answers_sealed")?;
        let answers = match sealed {
            None => Answers::default(),
            Some(s) => self.unseal_json(QUESTIONNAIRE_ANSWERS, id, &s)?,
        };
        record!(row => StoredQuestionnaire {
            request_id, sent_at: time, updated_at: time_opt, completed_at: time_opt,
            needs_attention, attention_seen_at: time_opt, attention_raised_at: time_opt
        } and { id, kind: row.choice("kind", Kind::parse)?, answers })
    }

    /// The secret a request's links are bound to, if the request exists and is not spam.
    pub async fn questionnaire_link_secret(
        &self,
        request_id: i64,
    ) -> Result<Option<String>, StoreError> {
        Ok(on_db!(&self.db, pool => {
            sqlx::query_scalar(
                "SELECT link_secret FROM consultation_requests WHERE id = $1 AND spam = FALSE",
            )
            .bind(request_id)
            .fetch_optional(pool)
            .await?
        }))
    }

    /// The questionnaire a person's link opens: the request's newest. With `offer_intake`
    /// and none yet, the intake questionnaire is created first (once, however many ask).
    pub async fn current_questionnaire(
        &self,
        request_id: i64,
        offer_intake: bool,
        now: Timestamp,
    ) -> Result<Option<StoredQuestionnaire>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM questionnaires WHERE request_id = $1 ORDER BY id DESC LIMIT 1"
        );
        on_db!(&self.db, pool => {
            let row = sqlx::query(&sql).bind(request_id).fetch_optional(pool).await?;
            if let Some(row) = row {
                return Ok(Some(self.questionnaire_row(&row)?));
            }
            if !offer_intake {
                return Ok(None);
            }
            sqlx::query(
                "INSERT INTO questionnaires (request_id, kind, sent_at) VALUES ($1, 'intake', $2)
                 ON CONFLICT (request_id) WHERE kind = 'intake' DO NOTHING",
            )
            .bind(request_id)
            .bind(ms(now))
            .execute(pool)
            .await?;
            let row = sqlx::query(&sql).bind(request_id).fetch_optional(pool).await?;
            row.map(|r| self.questionnaire_row(&r)).transpose()
        })
    }

    /// Questionnaire `id` if it is one of request `request_id`'s: the one a page was shown for.
    pub async fn questionnaire_of_request(
        &self,
        request_id: i64,
        id: i64,
    ) -> Result<Option<StoredQuestionnaire>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM questionnaires WHERE id = $1 AND request_id = $2");
        self.read_one(&sql, &[id.into(), request_id.into()], |r| {
            self.questionnaire_row(r)
        })
        .await
    }

    /// Every questionnaire of a request, oldest first.
    pub async fn questionnaires(
        &self,
        request_id: i64,
    ) -> Result<Vec<StoredQuestionnaire>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM questionnaires WHERE request_id = $1 ORDER BY id");
        self.read_all(&sql, &[request_id.into()], |r| self.questionnaire_row(r))
            .await
    }

    /// Saves one page of questionnaire `id` (of request `request_id`): takes `page`'s answers
    /// from `sent` into the answers as they stand now, read again inside the saving
    /// transaction (locked on PostgreSQL; SQLite has one writer on one connection), so two
    /// pages saved at once from two tabs both keep their answers. Marks the questionnaire
    /// complete after its last page. Answers that newly need attention, or need it again
    /// because PHQ-9 item 9 rose since the answers stored before (even after the clinician
    /// followed the flag up), set the flag, show it again in the inbox and queue the urgent
    /// email to the practice, in the same transaction. None if the questionnaire is gone.
    pub async fn save_page(
        &self,
        id: i64,
        request_id: i64,
        page: Page,
        sent: &Answers,
        now: Timestamp,
    ) -> Result<Option<Saved>, StoreError> {
        let lock = match &self.db {
            Db::Sqlite(_) => "",
            Db::Postgres(_) => " FOR UPDATE",
        };
        let sql =
            format!("SELECT {COLUMNS} FROM questionnaires WHERE id = $1 AND request_id = $2{lock}");
        on_db!(&self.db, pool => {
            let mut tx = pool.begin().await?;
            let row = sqlx::query(&sql)
                .bind(id)
                .bind(request_id)
                .fetch_optional(&mut *tx)
                .await?;
            let Some(row) = row else {
                return Ok(None);
            };
            let before = self.questionnaire_row(&row)?;
            let mut answers = before.answers.clone();
            answers.take_page(page, sent);
            let complete = answers.complete_after(before.kind, page);
            let sealed = self.seal_json(QUESTIONNAIRE_ANSWERS, id, &answers)?;
            let attention = answers.needs_attention();
            let raised =
                attention && (!before.needs_attention || answers.attention_rises_from(&before.answers));
            sqlx::query(
                "UPDATE questionnaires SET answers_sealed = $1, updated_at = $2,
                 completed_at = CASE WHEN $3 THEN COALESCE(completed_at, $2) ELSE completed_at END,
                 needs_attention = (needs_attention OR $4),
                 attention_seen_at = CASE WHEN $5 THEN NULL ELSE attention_seen_at END,
                 attention_raised_at = CASE WHEN $5 THEN $2 ELSE attention_raised_at END,
                 attention_overdue_at = CASE WHEN $5 THEN NULL ELSE attention_overdue_at END
                 WHERE id = $6",
            )
            .bind(sealed)
            .bind(ms(now))
            .bind(complete)
            .bind(attention)
            .bind(raised)
            .bind(id)
            .execute(&mut *tx)
            .await?;
            if raised {
                queue_urgent!(
                    tx,
                    MailKind::QuestionnaireAttentionNotice,
                    request_id,
                    "needs attention",
                    now
                );
            }
            tx.commit().await?;
            Ok(Some(Saved {
                attention_raised: raised,
            }))
        })
    }

    /// Sends the measures again: a new questionnaire for request `request_id` and the email
    /// with its link, with an audit line (which names the request only). False if the request
    /// is gone.
    pub async fn send_measures(
        &self,
        request_id: i64,
        actor: &str,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        on_db!(&self.db, pool => {
            let mut tx = pool.begin().await?;
            let Some((email, link_secret)) = super::documents::person_of!(tx, request_id).await? else {
                return Ok(false);
            };
            let recipient = self.recipient_of(&link_secret, &email)?;
            sqlx::query(
                "INSERT INTO questionnaires (request_id, kind, sent_at) VALUES ($1, 'measures', $2)",
            )
            .bind(request_id)
            .bind(ms(now))
            .execute(&mut *tx)
            .await?;
            queue_mail!(tx, MailKind::QuestionnaireLink, request_id, recipient, now).await?;
            write_history!(tx, request_id, actor, "questionnaire", Some("measures sent"), now).await?;
            let audit = audit::Entry::new(actor, audit::Action::MeasuresSent).request(request_id);
            commit_audited!(tx, &audit, now).await?;
            Ok(true)
        })
    }

    /// Requests with a questionnaire that needs attention and is not yet followed up, oldest
    /// first.
    pub async fn needing_attention(&self) -> Result<Vec<AttentionItem>, StoreError> {
        self.read_all("SELECT q.request_id, r.reference, MIN(COALESCE(q.attention_raised_at, q.updated_at)) AS since
                 FROM questionnaires q JOIN consultation_requests r ON r.id = q.request_id
                 WHERE q.needs_attention AND q.attention_seen_at IS NULL
                 GROUP BY q.request_id, r.reference
                 ORDER BY since, q.request_id", &[], |r| {
                    record!(r => AttentionItem { request_id, reference, since: time })
                }).await
    }

    /// Queues the second urgent notice of every answer that raised "needs attention" at or
    /// before `raised_by` (the time frame the person was told, before `now`) and is still not
    /// followed up: once per raise, however many servers look, with a line in the request's
    /// history. Returns how many were queued.
    pub async fn queue_overdue_attention(
        &self,
        raised_by: Timestamp,
        now: Timestamp,
    ) -> Result<usize, StoreError> {
        on_db!(&self.db, pool => {
            let mut tx = pool.begin().await?;
            let due: Vec<(i64, i64)> = sqlx::query_as(
                "SELECT id, request_id FROM questionnaires
                 WHERE needs_attention AND attention_seen_at IS NULL
                   AND attention_overdue_at IS NULL
                   AND attention_raised_at IS NOT NULL AND attention_raised_at <= $1
                 ORDER BY id",
            )
            .bind(ms(raised_by))
            .fetch_all(&mut *tx)
            .await?;
            let mut queued = 0;
            for (id, request_id) in due {
                let sql = "UPDATE questionnaires SET attention_overdue_at = $1
                           WHERE id = $2 AND attention_overdue_at IS NULL AND attention_seen_at IS NULL";
                if !claim!(tx, sql, now, id).await? {
                    continue;
                }
                queue_urgent!(
                    tx,
                    MailKind::QuestionnaireAttentionOverdue,
                    request_id,
                    "not followed up in time: second urgent notice",
                    now
                );
                queued += 1;
            }
            tx.commit().await?;
            Ok(queued)
        })
    }

    /// The clinician followed up the request's questionnaires that needed attention, and
    /// wrote `note` of what they did: kept sealed with the request's history line. False if
    /// none needed it.
    pub async fn attention_followed_up(
        &self,
        request_id: i64,
        note: &str,
        actor: &str,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        on_db!(&self.db, pool => {
            let mut tx = pool.begin().await?;
            let n = sqlx::query(
                "UPDATE questionnaires SET attention_seen_at = $1
                 WHERE request_id = $2 AND needs_attention AND attention_seen_at IS NULL",
            )
            .bind(ms(now))
            .bind(request_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n == 0 {
                return Ok(false);
            }
            // The note is sealed for its own history row, whose id the insert gives.
            let row: i64 = sqlx::query_scalar(
                "INSERT INTO request_history (request_id, at, actor, event, detail) VALUES ($1, $2, $3, 'questionnaire', 'followed up') RETURNING id",
            )
            .bind(request_id)
            .bind(ms(now))
            .bind(actor)
            .fetch_one(&mut *tx)
            .await?;
            seal_in_row!(self, tx, HISTORY_NOTE, row, note).await?;
            let audit =
                audit::Entry::new(actor, audit::Action::AttentionFollowedUp).request(request_id);
            commit_audited!(tx, &audit, now).await?;
            Ok(true)
        })
    }
}
