//! Good Faith Estimates made for a request's person (45 CFR 149.610): what each says, sealed
//! and written once, when it was due and when it was given.
//!
//! The estimate's content (the person's name and date of birth as the clinician entered them,
//! the services and their charges, the text as given) is one sealed value bound to the row's
//! id; a correction is a new estimate, so each copy given stays as given (the law asks the
//! practice to keep them). Making and giving one writes a line in the request's history and in
//! the audit log, which name the request only. Rows go with their request, by the database's
//! `ON DELETE CASCADE`.

use jiff::Timestamp;

use super::engine::{Columns, on_db, record};
use super::fields::{ESTIMATE, seal_in_row};
use super::inbox::{commit_audited, request_column, write_history};
use super::{Store, StoreError, ms, parsed};
use crate::audit;

practice::text_forms! {
    /// What made an estimate due.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum DueBecause {
        /// The person asked for one.
        Requested = "requested",
        /// A service was scheduled.
        Scheduled = "scheduled",
    }
}

practice::text_forms! {
    /// How an estimate was given to the person.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum GivenHow {
        /// A link to it sent by email.
        Email = "email",
        /// The PDF given by the clinician.
        Pdf = "pdf",
    }
}

/// An estimate to keep.
#[derive(Clone)]
pub struct NewEstimate {
    pub due_because: DueBecause,
    /// When the person asked, or the service was scheduled.
    pub due_from: Timestamp,
    /// The scheduled service's day (`YYYY-MM-DD`).
    pub service_on: Option<String>,
    /// The last day to give it (`YYYY-MM-DD`), if the law asks for one.
    pub due_on: Option<String>,
    /// What it says (sealed): the web's own serialisation of the estimate.
    pub content: String,
}

/// An estimate kept for a request.
#[derive(Clone)]
pub struct StoredEstimate {
    pub id: i64,
    pub request_id: i64,
    pub made_at: Timestamp,
    pub made_by: String,
    pub due_because: DueBecause,
    pub due_from: Timestamp,
    pub service_on: Option<String>,
    pub due_on: Option<String>,
    /// What it says, opened.
    pub content: String,
    pub given_at: Option<Timestamp>,
    pub given_how: Option<GivenHow>,
}

practice::debug_shows!(StoredEstimate as e {
    id,
    request_id,
    due_on,
    given: e.given_at.is_some(),
});

impl Store {
    fn stored_estimate(&self, row: &impl Columns) -> Result<StoredEstimate, StoreError> {
        let id: i64 = row.col("id")?;
        let content = self.unseal_present(ESTIMATE, id, row.col("estimate_sealed")?)?;
        let given_how: Option<String> = row.col("given_how")?;
        record!(row => StoredEstimate {
            request_id, made_at: time, made_by, due_from: time, service_on, due_on,
            given_at: time_opt
        } and {
            id,
            due_because: row.choice("due_because", DueBecause::parse)?,
            content,
            given_how: given_how.map(|v| parsed("given_how", v, GivenHow::parse)).transpose()?,
        })
    }

    /// Keeps `estimate` for request `request_id`, with a line in the history and the audit
    /// log, in one transaction. `None` if the request is gone.
    pub async fn add_estimate(
        &self,
        request_id: i64,
        estimate: &NewEstimate,
        actor: &str,
        now: Timestamp,
    ) -> Result<Option<i64>, StoreError> {
        on_db!(&self.db, pool => {
            let mut tx = pool.begin().await?;
            let found: Option<i64> = request_column!(&mut *tx, "id", request_id).await?;
            if found.is_none() {
                return Ok(None);
            }
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO good_faith_estimates
                     (request_id, made_at, made_by, due_because, due_from, service_on, due_on)
                 VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
            )
            .bind(request_id)
            .bind(ms(now))
            .bind(actor)
            .bind(estimate.due_because.as_str())
            .bind(ms(estimate.due_from))
            .bind(&estimate.service_on)
            .bind(&estimate.due_on)
            .fetch_one(&mut *tx)
            .await?;
            // Sealed for its own row, whose id the insert gives.
            seal_in_row!(self, tx, ESTIMATE, id, &estimate.content).await?;
            // A copy of each estimate is kept for at least six years (45 CFR 149.610): its
            // request is kept for the longer period, as one that reached the consultation.
            sqlx::query("UPDATE consultation_requests SET reached_consultation = TRUE WHERE id = $1")
                .bind(request_id)
                .execute(&mut *tx)
                .await?;
            write_history!(tx, request_id, actor, "estimate", Some("Good Faith Estimate made"), now)
                .await?;
            let audit = audit::Entry::new(actor, audit::Action::EstimateMade).request(request_id);
            commit_audited!(tx, &audit, now).await?;
            Ok(Some(id))
        })
    }

    /// Every estimate of request `request_id`, newest first.
    pub async fn estimates(&self, request_id: i64) -> Result<Vec<StoredEstimate>, StoreError> {
        self.read_all(
            "SELECT * FROM good_faith_estimates WHERE request_id = $1 ORDER BY id DESC",
            &[request_id.into()],
            |r| self.stored_estimate(r),
        )
        .await
    }

    /// Estimate `id` of request `request_id`, if both exist.
    pub async fn estimate(
        &self,
        request_id: i64,
        id: i64,
    ) -> Result<Option<StoredEstimate>, StoreError> {
        self.read_one(
            "SELECT * FROM good_faith_estimates WHERE request_id = $1 AND id = $2",
            &[request_id.into(), id.into()],
            |r| self.stored_estimate(r),
        )
        .await
    }

    /// Records that estimate `id` of request `request_id` was given `how`, the first time only,
    /// with a line in the history and the audit log. Whether it was recorded now.
    pub async fn estimate_given(
        &self,
        request_id: i64,
        id: i64,
        how: GivenHow,
        actor: &str,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        on_db!(&self.db, pool => {
            let mut tx = pool.begin().await?;
            let done = sqlx::query(
                "UPDATE good_faith_estimates SET given_at = $1, given_how = $2
                 WHERE request_id = $3 AND id = $4 AND given_at IS NULL",
            )
            .bind(ms(now))
            .bind(how.as_str())
            .bind(request_id)
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if done == 0 {
                return Ok(false);
            }
            let detail = match how {
                GivenHow::Email => "Good Faith Estimate sent by email",
                GivenHow::Pdf => "Good Faith Estimate given as a PDF",
            };
            write_history!(tx, request_id, actor, "estimate", Some(detail), now).await?;
            let audit = audit::Entry::new(actor, audit::Action::EstimateGiven).request(request_id);
            commit_audited!(tx, &audit, now).await?;
            Ok(true)
        })
    }
}
