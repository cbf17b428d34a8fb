//! `/calendar/{secret}.ics`: the clinician's private feed of confirmed consultations.

use super::*;

/// `GET /calendar/{secret}.ics`: confirmed consultations, neutral words only.
pub async fn feed(
    State(state): State<AppState>,
    Token(file): Token,
    method: Method,
) -> Result<Response, AppError> {
    let Some(secret) = file.strip_suffix(".ics") else {
        return Err(AppError::NotFound);
    };
    if !state.store.is_calendar_feed_secret(secret).await? {
        return Err(AppError::NotFound);
    }
    let now = Timestamp::now();
    let since = now
        .checked_sub(jiff::SignedDuration::from_hours(24 * 90))
        .unwrap_or(now);
    let bookings = state.store.confirmed_bookings(since).await?;
    let events: Vec<ConsultationEvent> = bookings
        .iter()
        .map(|b| ConsultationEvent {
            reference: u64::try_from(b.id).unwrap_or(0),
            format: b.format,
            start: b.start,
            end: b.end,
            sequence: u32::try_from(b.sequence).unwrap_or(u32::MAX),
            status: EventStatus::Confirmed,
            join: None,
        })
        .collect();
    let sender = mail::booking::calendar_sender(&state.config())?;
    let ics = calendar::write(CalendarMethod::Publish, &sender, &events, now)?;
    let head = method == Method::HEAD;
    let content_type = "text/calendar; charset=utf-8";
    let mut r = crate::respond::uncached(StatusCode::OK, ics.into_bytes(), content_type, head);
    r.headers_mut().insert(
        "x-robots-tag",
        HeaderValue::from_static("noindex, nofollow"),
    );
    Ok(r)
}
