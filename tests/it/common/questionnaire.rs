//! Questionnaire helpers shared by the fast and slow tiers: a request that held a time, its
//! answers, the questionnaire turned on as the booking settings do, and the urgent notice's
//! delivery.

use jiff::{SignedDuration, Timestamp};

use crate::common::booking::{link_to, times_in};
use crate::common::{Reply, TestApp, form_body};

pub async fn post(app: &TestApp, path: &str, pairs: &[(&str, &str)]) -> Reply {
    app.request(
        "POST",
        path,
        &[("content-type", "application/x-www-form-urlencoded")],
        form_body(pairs),
    )
    .await
}

/// The answers of a measure's page: item `i` answered `values[i]`.
pub fn measure(key: &str, values: &[u8]) -> Vec<(String, String)> {
    values
        .iter()
        .enumerate()
        .map(|(i, v)| (format!("{key}-{i}"), v.to_string()))
        .collect()
}

pub async fn post_owned(app: &TestApp, path: &str, pairs: &[(String, String)]) -> Reply {
    let borrowed: Vec<(&str, &str)> = pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    post(app, path, &borrowed).await
}

/// Answers the measure `key` (phq9 or gad7) on the questionnaire link `q`, and the answer is
/// taken.
pub async fn answer(app: &TestApp, q: &str, key: &str, values: &[u8]) {
    let r = post_owned(app, &format!("{q}/{key}"), &measure(key, values)).await;
    assert_eq!(r.status, 303, "{}", r.text());
}

/// A request that held a time: (request id, the path of its questionnaire).
pub async fn held(app: &TestApp) -> (i64, String) {
    held_with(app, &[]).await
}

/// The id of the request received last.
pub async fn newest_request(app: &TestApp) -> i64 {
    let requests = app.state.store.all_requests().await.expect("read");
    requests.iter().map(|r| r.id).max().expect("a request")
}

/// As [`held`], with `changes` to the form's usual answers.
pub async fn held_with(app: &TestApp, changes: &[(&str, &str)]) -> (i64, String) {
    app.submitted("Oriel Vantasse", changes).await;
    let id = newest_request(app).await;
    let book = link_to(app, id, Timestamp::now() + SignedDuration::from_hours(24)).await;
    let times = times_in(&app.get(&book).await.text());
    let r = post(app, &book, &[("start", &times[0]), ("format", "video")]).await;
    assert_eq!(r.status, 303, "{}", r.text());
    let token = book.trim_start_matches("/book/").to_string();
    (id, format!("/questionnaire/{token}"))
}

/// Turns the questionnaires on, as the booking settings do once a test email to the notice
/// address is confirmed (the code taken from the store, as the email carries it).
pub async fn offer_questionnaires(app: &TestApp) {
    let to = app.state.notices_to().expect("mail is set up");
    let code = app
        .state
        .store
        .send_mail_check(&to, Timestamp::now())
        .await
        .expect("test queued");
    let answer = app
        .state
        .store
        .confirm_mail_check(&code, &to, "test", Timestamp::now())
        .await
        .expect("confirmed");
    assert_eq!(answer, store::MailCheckAnswer::Confirmed);
    app.state
        .store
        .set_questionnaires_offered(true, "test", Timestamp::now())
        .await
        .expect("on");
    assert!(app.state.questionnaires_offered().await.expect("read"));
}

/// Waits until the outbox has tried request `id`'s latest urgent notice and left it `status`
/// ("sent", or "pending" after a failed attempt).
pub async fn notice_attempted(app: &TestApp, id: i64, status: &str) {
    super::patiently(|| async {
        let states = app.state.store.mail_states(id).await.expect("states");
        let latest = states
            .iter()
            .rev()
            .find(|m| m.kind == "questionnaire_attention_notice");
        match latest.is_some_and(|m| m.status == status && m.attempts > 0) {
            true => Ok(()),
            false => Err(format!("the urgent notice is not {status}: {states:?}")),
        }
    })
    .await
}
