//! The standard measures a person may answer before and between sessions: the PHQ-9
//! (depression) and the GAD-7 (anxiety), with their published wording, answer options, scoring
//! and severity bands, and the rule that a questionnaire needs the clinician's attention soon.
//!
//! Both were developed by Drs. Robert L. Spitzer, Janet B.W. Williams, Kurt Kroenke and
//! colleagues, with an educational grant from Pfizer Inc.; no permission is required to
//! reproduce, translate, display or distribute them. The wording here is the published one and
//! must not be edited: scores are only comparable over time (and with the literature) if every
//! person reads the same words.
//!
//! Every item is optional. A total is given only for a complete measure: a sum over some items
//! would read as a lower score than the person has.

/// The PHQ-9's stem, as published.
pub const PHQ9_STEM: &str =
    "Over the last 2 weeks, how often have you been bothered by any of the following problems?";

/// The GAD-7's stem, as published: it differs from the PHQ-9's by "any of".
pub const GAD7_STEM: &str =
    "Over the last 2 weeks, how often have you been bothered by the following problems?";

/// The line both published forms carry under their questions, shown with each measure.
pub const ATTRIBUTION: &str = "Developed by Drs. Robert L. Spitzer, Janet B.W. Williams, Kurt Kroenke and colleagues, with an educational grant from Pfizer Inc.";

/// The four answers of every item, scored 0 to 3 in this order.
pub const OPTIONS: [&str; 4] = [
    "Not at all",
    "Several days",
    "More than half the days",
    "Nearly every day",
];

/// The PHQ-9's nine items.
pub const PHQ9_ITEMS: [&str; 9] = [
    "Little interest or pleasure in doing things",
    "Feeling down, depressed, or hopeless",
    "Trouble falling or staying asleep, or sleeping too much",
    "Feeling tired or having little energy",
    "Poor appetite or overeating",
    "Feeling bad about yourself \u{2014} or that you are a failure or have let yourself or your family down",
    "Trouble concentrating on things, such as reading the newspaper or watching television",
    "Moving or speaking so slowly that other people could have noticed? Or the opposite \u{2014} being so fidgety or restless that you have been moving around a lot more than usual",
    "Thoughts that you would be better off dead or of hurting yourself in some way",
];

/// The GAD-7's seven items.
pub const GAD7_ITEMS: [&str; 7] = [
    "Feeling nervous, anxious, or on edge",
    "Not being able to stop or control worrying",
    "Worrying too much about different things",
    "Trouble relaxing",
    "Being so restless that it is hard to sit still",
    "Becoming easily annoyed or irritable",
    "Feeling afraid as if something awful might happen",
];

/// The question that closes the PHQ-9, as published. It is not scored: it tells the clinician
/// how much the problems weigh on daily life.
pub const PHQ9_DIFFICULTY: &str = "If you checked off any problems, how difficult have these problems made it for you to do your work, take care of things at home, or get along with other people?";

/// The question that closes the GAD-7, as published ("these", where the PHQ-9 has "these
/// problems"). Not scored either.
pub const GAD7_DIFFICULTY: &str = "If you checked off any problems, how difficult have these made it for you to do your work, take care of things at home, or get along with other people?";

/// The four answers of the closing question, in order (kept as 0 to 3, never added to a total).
pub const DIFFICULTY_OPTIONS: [&str; 4] = [
    "Not difficult at all",
    "Somewhat difficult",
    "Very difficult",
    "Extremely difficult",
];

/// The PHQ-9's item about thoughts of death or self-harm (item 9), as an index.
pub const PHQ9_SAFETY_ITEM: usize = 8;

/// Which measure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Measure {
    Phq9,
    Gad7,
}

impl Measure {
    pub const ALL: [Measure; 2] = [Measure::Phq9, Measure::Gad7];

    pub fn name(self) -> &'static str {
        match self {
            Measure::Phq9 => "PHQ-9",
            Measure::Gad7 => "GAD-7",
        }
    }

    /// The key of the measure in stored answers and form field names.
    pub fn key(self) -> &'static str {
        match self {
            Measure::Phq9 => "phq9",
            Measure::Gad7 => "gad7",
        }
    }

    /// The question that opens the measure's items.
    pub fn stem(self) -> &'static str {
        match self {
            Measure::Phq9 => PHQ9_STEM,
            Measure::Gad7 => GAD7_STEM,
        }
    }

    /// The unscored question after the items ([`PHQ9_DIFFICULTY`], [`GAD7_DIFFICULTY`]).
    pub fn difficulty_question(self) -> &'static str {
        match self {
            Measure::Phq9 => PHQ9_DIFFICULTY,
            Measure::Gad7 => GAD7_DIFFICULTY,
        }
    }

    pub fn items(self) -> &'static [&'static str] {
        match self {
            Measure::Phq9 => &PHQ9_ITEMS,
            Measure::Gad7 => &GAD7_ITEMS,
        }
    }

    /// The highest total: 27 for the PHQ-9, 21 for the GAD-7.
    pub fn max_score(self) -> u8 {
        u8::try_from(self.items().len() * 3).unwrap_or(u8::MAX)
    }

    /// The severity band of a total.
    pub fn band(self, score: u8) -> Band {
        match (self, score) {
            (_, 0..=4) => Band::Minimal,
            (_, 5..=9) => Band::Mild,
            (_, 10..=14) => Band::Moderate,
            (Measure::Phq9, 15..=19) => Band::ModeratelySevere,
            _ => Band::Severe,
        }
    }
}

/// The published severity bands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Band {
    Minimal,
    Mild,
    Moderate,
    /// PHQ-9 only (15–19).
    ModeratelySevere,
    Severe,
}

impl Band {
    pub fn label(self) -> &'static str {
        match self {
            Band::Minimal => "Minimal",
            Band::Mild => "Mild",
            Band::Moderate => "Moderate",
            Band::ModeratelySevere => "Moderately severe",
            Band::Severe => "Severe",
        }
    }
}

/// One measure's answers: each item 0–3, or `None` if left unanswered.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Responses(pub Vec<Option<u8>>);

/// A complete measure's total and band.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Score {
    pub measure: Measure,
    pub total: u8,
    pub band: Band,
}

/// Why an answer was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AnswerError {
    #[error("an answer must be one of the four choices")]
    OutOfRange,
}

/// Reads one item's answer as sent ("0" to "3"; empty is unanswered).
pub fn parse_answer(value: &str) -> Result<Option<u8>, AnswerError> {
    match value.trim() {
        "" => Ok(None),
        "0" => Ok(Some(0)),
        "1" => Ok(Some(1)),
        "2" => Ok(Some(2)),
        "3" => Ok(Some(3)),
        _ => Err(AnswerError::OutOfRange),
    }
}

/// The total and band of `measure`, if every item is answered with 0–3.
pub fn score(measure: Measure, responses: &Responses) -> Option<Score> {
    let items = measure.items().len();
    if responses.0.len() != items {
        return None;
    }
    let mut total: u8 = 0;
    for r in &responses.0 {
        let v = (*r).filter(|v| *v <= 3)?;
        total += v;
    }
    Some(Score {
        measure,
        total,
        band: measure.band(total),
    })
}

/// Whether the PHQ-9 answers need the clinician's attention soon: item 9 (thoughts of being
/// better off dead or of hurting oneself) answered anything but "Not at all". An unanswered
/// item 9 does not; any other item, however high, does not either (it shows in the score).
pub fn needs_attention(phq9: &Responses) -> bool {
    phq9.0
        .get(PHQ9_SAFETY_ITEM)
        .copied()
        .flatten()
        .is_some_and(|v| v > 0)
}

/// Whether new PHQ-9 answers need the clinician's attention again compared with the answers
/// stored before: item 9 goes from "Not at all" or unanswered to above it, or rises. A flag the
/// clinician has followed up is raised again by this, so a worse answer never goes unseen; the
/// same or a lower answer leaves it as it was.
pub fn attention_rises(before: &Responses, after: &Responses) -> bool {
    let item9 = |r: &Responses| r.0.get(PHQ9_SAFETY_ITEM).copied().flatten().unwrap_or(0);
    needs_attention(after) && item9(after) > item9(before)
}

crate::text_forms! {
    /// A screening answer: yes, no or not sure. A "yes" is raised at the consultation; it never
    /// decides anything by itself.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum ScreeningAnswer {
        Yes = "yes" => "Yes",
        No = "no" => "No",
        NotSure = "not_sure" => "Not sure",
    }
}

impl ScreeningAnswer {
    /// Whether to raise it at the consultation: a "Yes", and a "Not sure" as much (the
    /// person could not rule it out).
    pub fn to_discuss(self) -> bool {
        matches!(self, ScreeningAnswer::Yes | ScreeningAnswer::NotSure)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(measure: Measure, v: u8) -> Responses {
        Responses(vec![Some(v); measure.items().len()])
    }

    /// Responses summing to `total`, spread over the items.
    fn summing(measure: Measure, total: u8) -> Responses {
        let mut left = total;
        Responses(
            (0..measure.items().len())
                .map(|_| {
                    let v = left.min(3);
                    left -= v;
                    Some(v)
                })
                .collect(),
        )
    }

    #[test]
    fn the_published_wording_is_kept() {
        // The GAD-7's last item has no comma after "afraid" on the published form.
        assert_eq!(
            GAD7_ITEMS[6],
            "Feeling afraid as if something awful might happen"
        );
        assert!(ATTRIBUTION.starts_with("Developed by Drs. Robert L. Spitzer"));
        assert!(ATTRIBUTION.ends_with("with an educational grant from Pfizer Inc."));
        assert_eq!(PHQ9_ITEMS.len(), 9);
        assert_eq!(GAD7_ITEMS.len(), 7);
        assert_eq!(
            Measure::Phq9.stem(),
            "Over the last 2 weeks, how often have you been bothered by any of the following problems?"
        );
        assert_eq!(
            Measure::Gad7.stem(),
            "Over the last 2 weeks, how often have you been bothered by the following problems?"
        );
        assert_eq!(
            OPTIONS,
            [
                "Not at all",
                "Several days",
                "More than half the days",
                "Nearly every day"
            ]
        );
        assert!(
            PHQ9_ITEMS[PHQ9_SAFETY_ITEM].starts_with("Thoughts that you would be better off dead")
        );
        assert_eq!(
            Measure::Phq9.difficulty_question(),
            "If you checked off any problems, how difficult have these problems made it for you to do your work, take care of things at home, or get along with other people?"
        );
        assert!(
            Measure::Gad7
                .difficulty_question()
                .contains("how difficult have these made it")
        );
        assert_eq!(
            DIFFICULTY_OPTIONS,
            [
                "Not difficult at all",
                "Somewhat difficult",
                "Very difficult",
                "Extremely difficult"
            ]
        );
    }

    #[test]
    fn totals_run_from_zero_to_the_maximum() {
        assert_eq!(
            score(Measure::Phq9, &all(Measure::Phq9, 0)).map(|s| s.total),
            Some(0)
        );
        assert_eq!(
            score(Measure::Phq9, &all(Measure::Phq9, 3)).map(|s| s.total),
            Some(27)
        );
        assert_eq!(
            score(Measure::Gad7, &all(Measure::Gad7, 0)).map(|s| s.total),
            Some(0)
        );
        assert_eq!(
            score(Measure::Gad7, &all(Measure::Gad7, 3)).map(|s| s.total),
            Some(21)
        );
        assert_eq!(Measure::Phq9.max_score(), 27);
        assert_eq!(Measure::Gad7.max_score(), 21);
        let mixed = Responses(vec![
            Some(0),
            Some(1),
            Some(2),
            Some(3),
            Some(0),
            Some(1),
            Some(2),
        ]);
        assert_eq!(score(Measure::Gad7, &mixed).map(|s| s.total), Some(9));
    }

    #[test]
    fn every_phq9_total_has_its_published_band() {
        use Band::*;
        let expected = |t: u8| match t {
            0..=4 => Minimal,
            5..=9 => Mild,
            10..=14 => Moderate,
            15..=19 => ModeratelySevere,
            _ => Severe,
        };
        for t in 0..=27 {
            let s = score(Measure::Phq9, &summing(Measure::Phq9, t)).expect("complete");
            assert_eq!(s.total, t);
            assert_eq!(s.band, expected(t), "PHQ-9 total {t}");
        }
        // Each boundary, both sides.
        for (below, above, a, b) in [
            (4, 5, Minimal, Mild),
            (9, 10, Mild, Moderate),
            (14, 15, Moderate, ModeratelySevere),
            (19, 20, ModeratelySevere, Severe),
        ] {
            assert_eq!(Measure::Phq9.band(below), a);
            assert_eq!(Measure::Phq9.band(above), b);
        }
        assert_eq!(Measure::Phq9.band(27), Severe);
    }

    #[test]
    fn every_gad7_total_has_its_published_band() {
        use Band::*;
        for t in 0..=21 {
            let s = score(Measure::Gad7, &summing(Measure::Gad7, t)).expect("complete");
            assert_eq!(s.total, t);
            let expected = match t {
                0..=4 => Minimal,
                5..=9 => Mild,
                10..=14 => Moderate,
                _ => Severe,
            };
            assert_eq!(s.band, expected, "GAD-7 total {t}");
            assert_ne!(s.band, ModeratelySevere);
        }
        for (below, above, a, b) in [
            (4, 5, Minimal, Mild),
            (9, 10, Mild, Moderate),
            (14, 15, Moderate, Severe),
        ] {
            assert_eq!(Measure::Gad7.band(below), a);
            assert_eq!(Measure::Gad7.band(above), b);
        }
    }

    #[test]
    fn an_incomplete_or_malformed_measure_has_no_total() {
        let mut r = all(Measure::Phq9, 2);
        r.0[3] = None;
        assert_eq!(score(Measure::Phq9, &r), None);
        assert_eq!(score(Measure::Phq9, &Responses::default()), None);
        assert_eq!(score(Measure::Gad7, &all(Measure::Phq9, 1)), None);
        let mut bad = all(Measure::Gad7, 1);
        bad.0[0] = Some(4);
        assert_eq!(score(Measure::Gad7, &bad), None);
    }

    #[test]
    fn answers_are_read_strictly() {
        assert_eq!(parse_answer(""), Ok(None));
        assert_eq!(parse_answer("0"), Ok(Some(0)));
        assert_eq!(parse_answer("3"), Ok(Some(3)));
        assert_eq!(parse_answer("4"), Err(AnswerError::OutOfRange));
        assert_eq!(parse_answer("-1"), Err(AnswerError::OutOfRange));
        assert_eq!(parse_answer("nearly"), Err(AnswerError::OutOfRange));
    }

    #[test]
    fn item_nine_above_not_at_all_needs_attention() {
        for v in 1..=3 {
            let mut r = all(Measure::Phq9, 0);
            r.0[PHQ9_SAFETY_ITEM] = Some(v);
            assert!(needs_attention(&r), "item 9 = {v}");
        }
        let mut zero = all(Measure::Phq9, 3);
        zero.0[PHQ9_SAFETY_ITEM] = Some(0);
        assert!(!needs_attention(&zero), "a high score alone is not item 9");
        let mut unanswered = all(Measure::Phq9, 3);
        unanswered.0[PHQ9_SAFETY_ITEM] = None;
        assert!(!needs_attention(&unanswered));
        assert!(!needs_attention(&Responses::default()));
        // Item 9 alone, the rest unanswered, still counts.
        let mut only = Responses(vec![None; 9]);
        only.0[PHQ9_SAFETY_ITEM] = Some(1);
        assert!(needs_attention(&only));
    }

    #[test]
    fn item_nine_rising_needs_attention_again() {
        let with = |v: Option<u8>| {
            let mut r = all(Measure::Phq9, 1);
            r.0[PHQ9_SAFETY_ITEM] = v;
            r
        };
        for before in [None, Some(0)] {
            for after in 1..=3 {
                assert!(attention_rises(&with(before), &with(Some(after))));
            }
        }
        assert!(attention_rises(&Responses::default(), &with(Some(1))));
        assert!(attention_rises(&with(Some(1)), &with(Some(2))));
        assert!(attention_rises(&with(Some(2)), &with(Some(3))));
        assert!(!attention_rises(&with(Some(2)), &with(Some(2))), "the same");
        assert!(!attention_rises(&with(Some(3)), &with(Some(1))), "lower");
        assert!(!attention_rises(&with(Some(1)), &with(Some(0))));
        assert!(!attention_rises(&with(Some(1)), &with(None)));
        assert!(!attention_rises(&with(None), &with(Some(0))));
        // Other items rising do not raise it.
        let mut higher = all(Measure::Phq9, 3);
        higher.0[PHQ9_SAFETY_ITEM] = Some(0);
        assert!(!attention_rises(&with(Some(0)), &higher));
    }

    #[test]
    fn screening_answers_read_back_and_yes_or_not_sure_is_raised() {
        for a in ScreeningAnswer::ALL {
            assert_eq!(ScreeningAnswer::parse(a.as_str()), Some(a));
        }
        assert_eq!(ScreeningAnswer::parse("maybe"), None);
        assert!(ScreeningAnswer::Yes.to_discuss());
        assert!(!ScreeningAnswer::No.to_discuss());
        assert!(ScreeningAnswer::NotSure.to_discuss());
    }
}
