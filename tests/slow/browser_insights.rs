//! The clinician's insights page in a real browser: accessible by axe-core's WCAG 2.2 AA rules
//! for both periods, and every chart showing exactly the numbers of its table.

use crate::common::TestApp;
use crate::common::insights::{FUNNEL_CONFIG, walk_the_funnel};
use crate::harness::{Browser, DESKTOP, Options};

/// The numbers a chart draws (its bars' values and, if it writes them, its labels) and those in
/// the table that repeats it.
#[derive(serde::Deserialize, Debug)]
struct Compared {
    bars: Vec<i64>,
    labels: Vec<i64>,
    table: Vec<i64>,
    /// The bars' drawn lengths, to check they follow the values.
    lengths: Vec<f64>,
}

async fn compare(browser: &Browser, chart: &str, table_cells: &str, horizontal: bool) -> Compared {
    browser
        .js(
            r#"
            const [chart, cells, horizontal] = arguments;
            const bars = Array.from(document.querySelectorAll(chart + ' rect'));
            return {
              bars: bars.map(r => Number(r.getAttribute('data-value'))),
              labels: Array.from(document.querySelectorAll(chart + ' text.chart-value'))
                .map(t => Number(t.textContent)),
              table: Array.from(document.querySelectorAll(cells)).map(td => Number(td.textContent.trim())),
              lengths: bars.map(r => { const b = r.getBBox(); return horizontal ? b.width : b.height; }),
            };
            "#,
            vec![
                serde_json::json!(chart),
                serde_json::json!(table_cells),
                serde_json::json!(horizontal),
            ],
        )
        .await
}

fn check(what: &str, c: &Compared) {
    assert!(!c.bars.is_empty(), "{what}: no bars");
    assert_eq!(c.bars, c.table, "{what}: the chart and its table differ");
    assert!(c.bars.iter().sum::<i64>() > 0, "{what}: nothing drawn");
    // Longer bars for larger numbers, none for zero.
    for (i, a) in c.bars.iter().enumerate() {
        for (j, b) in c.bars.iter().enumerate() {
            if a > b {
                assert!(
                    c.lengths[i] > c.lengths[j],
                    "{what}: {a} is drawn no longer than {b}: {c:?}"
                );
            }
        }
        if *a == 0 {
            assert_eq!(c.lengths[i], 0.0, "{what}: a zero is drawn");
        }
    }
}

#[tokio::test]
async fn the_insights_page_is_accessible_and_its_charts_say_what_its_tables_say() {
    let app = TestApp::with_config(FUNNEL_CONFIG).await;
    app.add_clinician().await;
    walk_the_funnel(&app).await;

    let browser = Browser::signed_in(&app, Options::new(DESKTOP)).await;
    for path in ["/admin/insights", "/admin/insights?period=12m"] {
        browser.goto(&app.url(path)).await;
        browser.assert_accessible(path).await;
        let visits = compare(
            &browser,
            "#visits-chart",
            "#visits-table td.page-views",
            false,
        )
        .await;
        check(&format!("visits on {path}"), &visits);
        let funnel = compare(&browser, "#funnel-chart", "#funnel-table td.count", true).await;
        check(&format!("funnel on {path}"), &funnel);
        assert_eq!(funnel.labels, funnel.table, "the funnel's written numbers");
        assert_eq!(funnel.table, vec![4, 3, 3, 2, 1]);
    }
    browser.close().await;
}
