//! The questionnaires panel's results and scores chart, checked without a server.

use super::*;
use practice::questionnaire::{Answers, Kind};

fn answered(phq9: Vec<Option<u8>>, gad7: Vec<Option<u8>>, at_ms: i64) -> StoredQuestionnaire {
    let at = Timestamp::from_millisecond(at_ms).expect("time");
    StoredQuestionnaire {
        id: at_ms,
        request_id: 1,
        kind: Kind::Measures,
        sent_at: at,
        updated_at: Some(at),
        completed_at: Some(at),
        needs_attention: false,
        attention_seen_at: None,
        attention_raised_at: None,
        answers: Answers {
            phq9,
            gad7,
            ..Answers::default()
        },
    }
}

#[test]
fn the_chart_places_each_complete_measure_and_its_table_says_the_same() {
    assert_eq!(y_of(0), BASELINE);
    assert_eq!(y_of(27), TOP);
    assert!(y_of(10) > y_of(11), "higher scores are drawn higher");
    let qs = [
        answered(vec![Some(3); 9], vec![Some(1); 7], 1_700_000_000_000),
        // An incomplete PHQ-9 has no point; the GAD-7 of the same set has one.
        answered(
            vec![Some(1), None, None, None, None, None, None, None, None],
            vec![Some(0); 7],
            1_700_100_000_000,
        ),
        answered(Vec::new(), Vec::new(), 1_700_200_000_000),
    ];
    let c = chart(&qs, &TimeZone::UTC).expect("a chart");
    let phq: Vec<u8> = c.lines[0].points.iter().map(|p| p.value).collect();
    let gad: Vec<u8> = c.lines[1].points.iter().map(|p| p.value).collect();
    assert_eq!((phq, gad), (vec![27], vec![7, 0]));
    assert!(
        c.lines[1].points[0].x < c.lines[1].points[1].x,
        "in order of answering"
    );
    assert_eq!(
        c.rows.len(),
        2,
        "a set with no complete measure is not a row"
    );
    assert_eq!(
        (c.rows[0].1.as_str(), c.rows[0].2.as_str()),
        ("27 (Severe)", "7 (Mild)")
    );
    assert_eq!(c.rows[1].1, "Not complete (1 of 9 answered)");
    // Every item's answer, in words, for the clinician.
    let items = result_view(&qs[1], &TimeZone::UTC).items;
    assert_eq!(items[0].0, "PHQ-9");
    assert_eq!(items[0].1.len(), 9);
    assert_eq!(items[0].1[0], (Measure::Phq9.items()[0], "Several days"));
    assert_eq!(items[0].1[1].1, "Not answered");
    assert_eq!(items[1].1.len(), 7);
    assert_eq!(items[1].1[6], (Measure::Gad7.items()[6], "Not at all"));
    // Each row and each point says when it was answered.
    assert_eq!(c.rows[0].0, "Nov 14, 2023, 10:13 PM UTC");
    assert_eq!(
        c.lines[0].points[0].title,
        "PHQ-9 Nov 14, 2023, 10:13 PM UTC: 27 (Severe)"
    );
    assert_eq!(
        c.rows[1].1,
        result_view(&qs[1], &TimeZone::UTC).scores[0].1,
        "the table and the results say the same"
    );
    assert!(chart(&qs[2..], &TimeZone::UTC).is_none(), "nothing to draw");
}
