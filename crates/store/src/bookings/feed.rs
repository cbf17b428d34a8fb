//! The calendar feed's secret: created on first use, replaced on request, compared in constant
//! time.

use jiff::Timestamp;

use super::super::settings::PUT_SETTING;
use super::super::{Store, StoreError};
use super::CALENDAR_FEED;
use crate::audit;

impl Store {
    /// The calendar feed's secret, created on first use.
    pub async fn calendar_feed_secret(&self) -> Result<String, StoreError> {
        let fresh = self.seal_setting(CALENDAR_FEED, &new_feed_secret()?);
        let sealed = self.setting_or_insert(CALENDAR_FEED, fresh).await?;
        self.open_setting(CALENDAR_FEED, "calendar feed", &sealed)
    }

    /// Replaces the calendar feed's secret: the old link stops working at once.
    pub async fn replace_calendar_feed_secret(
        &self,
        actor: &str,
        now: Timestamp,
    ) -> Result<String, StoreError> {
        let secret = new_feed_secret()?;
        let sealed = self.seal_setting(CALENDAR_FEED, &secret);
        self.execute_audited(
            PUT_SETTING,
            &[CALENDAR_FEED.into(), sealed.as_slice().into()],
            &audit::Entry::new(actor, audit::Action::CalendarLinkReplaced),
            now,
        )
        .await?;
        Ok(secret)
    }

    /// Whether `candidate` is the calendar feed's secret (compared in constant time).
    pub async fn is_calendar_feed_secret(&self, candidate: &str) -> Result<bool, StoreError> {
        if candidate.len() != 64 {
            return Ok(false);
        }
        let Some(secret) = self.read_setting(CALENDAR_FEED, "calendar feed").await? else {
            return Ok(false);
        };
        Ok(crypto::equal(secret.as_bytes(), candidate.as_bytes()))
    }
}

/// 256 random bits, hex: the calendar feed's secret.
fn new_feed_secret() -> Result<String, StoreError> {
    Ok(crypto::hex::hex(&crypto::random::bytes::<32>()))
}
