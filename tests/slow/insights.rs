//! Counting visits on several servers of one practice (PostgreSQL).

use crate::common;
use crate::common::TestApp;
use crate::common::clinician::Clinician;
use crate::common::insights::{CHROME, FIREFOX, counts, total, visit};

/// Two servers on one PostgreSQL database, each counting its own visitors and writing its own
/// batches at the same moment: the stored numbers are their sums, and either server's page
/// shows them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_on_postgresql_add_up_to_one_set_of_numbers() {
    let (url, _cluster) = crate::scale_out::database();
    let key = crypto::generate_key_hex();
    let (a, b) = crate::scale_out::two_servers(|| TestApp::builder().database(&url, &key)).await;
    a.add_clinician().await;
    let ua = ("user-agent", FIREFOX);
    let referred = ("referer", "https://directory.test/listing");
    for round in 0..3 {
        for _ in 0..(round + 1) {
            visit(&a, "/", &[ua, referred]).await;
            visit(&b, "/", &[ua, referred]).await;
            visit(&b, "/privacy", &[("user-agent", CHROME)]).await;
        }
        // Both write their batches at once, adding to the same rows.
        let (x, y) = tokio::join!(
            a.state.insights.flush(&a.state.store),
            b.state.insights.flush(&b.state.store)
        );
        x.expect("a's batch");
        y.expect("b's batch");
    }
    // 1 + 2 + 3 rounds on each server.
    let stored = counts(&a).await;
    assert_eq!(total(&stored, "view", "/"), 12, "{stored:?}");
    assert_eq!(total(&stored, "view", "/privacy"), 6, "{stored:?}");
    assert_eq!(total(&stored, "source", "directory.test"), 12, "{stored:?}");
    // Each server knows its own visitors only (its salt never leaves it): one browser on a,
    // two on b.
    assert_eq!(total(&stored, "visitor", ""), 3, "{stored:?}");
    let mut c = Clinician::signed_in(&a).await;
    let text = common::visible_text(&c.get("/admin/insights").await.text());
    assert!(text.contains(": 18 page views."), "{text}");
    assert!(text.contains("directory.test 12"), "{text}");
}
