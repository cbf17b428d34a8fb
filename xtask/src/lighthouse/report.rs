//! Lighthouse's reports read: a page's scores, the audits that cost points and its timings; the
//! median of its runs; the first view's budget; and the table.

use std::path::PathBuf;

use anyhow::{Result, bail};
use serde_json::Value;

use super::{BLOCKING_BUDGET_MS, CATEGORIES, PAINT_BUDGET_MS, REFERENCE, RUNS};

/// Each page over the first view's budget, with its numbers beside the floor's: its first and
/// largest paint more than [`PAINT_BUDGET_MS`] behind the one-paragraph page's, or
/// [`BLOCKING_BUDGET_MS`] or more of blocking.
pub(super) fn over_budget(reports: &[Report], floor: &Report) -> Vec<String> {
    let ms = |v: Option<f64>| v.map_or("-".into(), |v| format!("{v:.0}"));
    let (f, m) = (&floor.metrics, |r: &Report| r.metrics);
    reports
        .iter()
        .filter(|r| !m(r).within_budget(f))
        .map(|r| {
            let p = m(r);
            format!(
                "{}: FCP {} ms, LCP {} ms (the one-paragraph page {} / {} ms; {PAINT_BUDGET_MS:.0} ms \
                 allowed), TBT {} ms ({BLOCKING_BUDGET_MS:.0} ms allowed)",
                r.path,
                ms(p.fcp),
                ms(p.lcp),
                ms(f.fcp),
                ms(f.lcp),
                ms(p.tbt)
            )
        })
        .collect()
}

/// One page's result.
pub(super) struct Report {
    pub(super) path: &'static str,
    /// (category, score from 0 to 1; None when Lighthouse could not score it)
    pub(super) scores: Vec<(&'static str, Option<f64>)>,
    /// The audits that cost points, per category below 100: (category, id, score, title).
    pub(super) lost: Vec<(String, String, f64, String)>,
    /// First contentful paint, largest contentful paint and total blocking time, in ms.
    pub(super) metrics: Metrics,
    /// The JSON report this came from, and how many runs the page had.
    pub(super) file: PathBuf,
    pub(super) runs: u32,
}

/// The timings of one run, in milliseconds (None when Lighthouse did not measure one).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(super) struct Metrics {
    fcp: Option<f64>,
    lcp: Option<f64>,
    tbt: Option<f64>,
}

impl Metrics {
    fn read(report: &Value) -> Metrics {
        let ms = |id: &str| report["audits"][id]["numericValue"].as_f64();
        Metrics {
            fcp: ms("first-contentful-paint"),
            lcp: ms("largest-contentful-paint"),
            tbt: ms("total-blocking-time"),
        }
    }

    /// Whether these timings are within the first view's budget of the reference page's.
    fn within_budget(&self, floor: &Metrics) -> bool {
        let near = |a: Option<f64>, b: Option<f64>| {
            a.zip(b).is_some_and(|(a, b)| a - b <= PAINT_BUDGET_MS)
        };
        near(self.fcp, floor.fcp)
            && near(self.lcp, floor.lcp)
            && self.tbt.is_some_and(|t| t < BLOCKING_BUDGET_MS)
    }
}

impl Report {
    fn performance(&self) -> Option<f64> {
        self.scores.first().and_then(|(_, s)| *s)
    }

    pub(super) fn failures(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .scores
            .iter()
            .filter(|(_, s)| *s < Some(1.0))
            .map(|(c, s)| match s {
                Some(s) => format!("{} {c}: {:.0}", self.path, s * 100.0),
                None => format!("{} {c}: not scored", self.path),
            })
            .collect();
        for (category, id, score, title) in &self.lost {
            out.push(format!(
                "{} {category}: audit {id} scored {:.2}: {title}",
                self.path, score
            ));
        }
        out
    }
}

/// The median run of `runs`: the middle one by performance score, a slower largest paint
/// counting as the lower of two equal scores (with two runs, the lower of them).
pub(super) fn median_run(mut runs: Vec<Report>) -> Option<Report> {
    runs.sort_by(|a, b| {
        let key = |r: &Report| {
            (
                r.performance().unwrap_or(-1.0),
                -r.metrics.lcp.unwrap_or(f64::MAX),
            )
        };
        key(a)
            .partial_cmp(&key(b))
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    let middle = runs.len().checked_sub(1)? / 2;
    let recorded = runs.len() as u32;
    let mut median = runs.into_iter().nth(middle)?;
    median.runs = recorded;
    Some(median)
}

/// The scores of a Lighthouse JSON report, and the audits that cost points.
pub(super) fn read_report(path: &'static str, report: &Value) -> Result<Report> {
    if let Some(error) = report.get("runtimeError") {
        bail!(
            "lighthouse could not audit {path}: {} ({})",
            error["message"].as_str().unwrap_or("no message"),
            error["code"].as_str().unwrap_or("no code")
        );
    }
    for warning in report["runWarnings"].as_array().into_iter().flatten() {
        eprintln!("    {path}: {}", warning.as_str().unwrap_or_default());
    }
    let mut scores = Vec::new();
    let mut lost = Vec::new();
    for category in CATEGORIES {
        let c = &report["categories"][category];
        if c.is_null() {
            bail!("the report of {path} has no {category} category");
        }
        let score = c["score"].as_f64();
        scores.push((category, score));
        if score >= Some(1.0) {
            continue;
        }
        for r in c["auditRefs"].as_array().into_iter().flatten() {
            let (Some(id), Some(weight)) = (r["id"].as_str(), r["weight"].as_f64()) else {
                continue;
            };
            let audit = &report["audits"][id];
            match audit["score"].as_f64() {
                Some(s) if weight > 0.0 && s < 1.0 => lost.push((
                    category.to_string(),
                    id.to_string(),
                    s,
                    audit["title"].as_str().unwrap_or_default().to_string(),
                )),
                _ => {}
            }
        }
    }
    Ok(Report {
        path,
        scores,
        lost,
        metrics: Metrics::read(report),
        file: PathBuf::new(),
        runs: 1,
    })
}

/// The scores and timings of each page's median run, the one-paragraph page's below them, and
/// each page's distance from it.
pub(super) fn print_table(reports: &[Report], reference: Option<&Report>) {
    println!();
    println!(
        "{:<12} {:>5} {:>5} {:>5} {:>5} {:>7} {:>7} {:>6} {:>7} {:>7} {:>6}  report",
        "page", "perf", "a11y", "b-p", "seo", "FCP", "LCP", "TBT", "ΔFCP", "ΔLCP", "budget"
    );
    let ms = |v: Option<f64>| v.map_or("-".into(), |v| format!("{v:.0}"));
    let delta = |a: Option<f64>, b: Option<f64>| match a.zip(b) {
        Some((a, b)) => format!("{:+.0}", a - b),
        None => "-".into(),
    };
    let floor = reference.map(|r| r.metrics);
    for r in reports.iter().chain(reference) {
        let cell = |i: usize| match r.scores.get(i).and_then(|(_, s)| *s) {
            Some(s) => format!("{:.0}", s * 100.0),
            None => "-".into(),
        };
        let m = &r.metrics;
        let (dfcp, dlcp, budget) = match floor {
            Some(f) if r.path != REFERENCE => (
                delta(m.fcp, f.fcp),
                delta(m.lcp, f.lcp),
                if m.within_budget(&f) {
                    "within"
                } else {
                    "over"
                }
                .to_string(),
            ),
            _ => ("".into(), "".into(), "".into()),
        };
        let file = r.file.file_name().unwrap_or_default().to_string_lossy();
        println!(
            "{:<12} {:>5} {:>5} {:>5} {:>5} {:>7} {:>7} {:>6} {:>7} {:>7} {:>6}  {file} (median of {})",
            r.path,
            cell(0),
            cell(1),
            cell(2),
            cell(3),
            ms(m.fcp),
            ms(m.lcp),
            ms(m.tbt),
            dfcp,
            dlcp,
            budget,
            r.runs
        );
    }
    println!(
        "(timings in ms, median run of {RUNS}; the budget: first and largest paint within \
         {PAINT_BUDGET_MS:.0} ms of the one-paragraph page, blocking under {BLOCKING_BUDGET_MS:.0} ms)"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(perf: Value) -> Value {
        serde_json::json!({
            "categories": {
                "performance": { "score": perf, "auditRefs": [
                    { "id": "largest-contentful-paint", "weight": 25 },
                    { "id": "unminified-css", "weight": 0 }
                ] },
                "accessibility": { "score": 1, "auditRefs": [] },
                "best-practices": { "score": 1, "auditRefs": [] },
                "seo": { "score": 1, "auditRefs": [] }
            },
            "audits": {
                "largest-contentful-paint": { "score": 0.9, "title": "Largest Contentful Paint" },
                "unminified-css": { "score": 0.5, "title": "Minify CSS" }
            }
        })
    }

    #[test]
    fn full_marks_pass() {
        let r = read_report("/", &report(serde_json::json!(1))).expect("a report");
        assert!(r.failures().is_empty());
    }

    #[test]
    fn a_lower_score_fails_and_names_the_weighted_audits_only() {
        let r = read_report("/", &report(serde_json::json!(0.97))).expect("a report");
        let f = r.failures();
        assert_eq!(f[0], "/ performance: 97");
        assert!(f[1].contains("largest-contentful-paint"), "{f:?}");
        assert_eq!(f.len(), 2, "unweighted audits cost nothing: {f:?}");
    }

    #[test]
    fn an_unscored_category_or_a_runtime_error_fails() {
        let r = read_report("/", &report(Value::Null)).expect("a report");
        assert_eq!(r.failures()[0], "/ performance: not scored");
        let mut broken = report(serde_json::json!(1));
        broken["runtimeError"] =
            serde_json::json!({ "code": "NO_FCP", "message": "The page did not paint" });
        assert!(read_report("/", &broken).is_err());
    }

    fn run_with(perf: f64, lcp: f64) -> Report {
        let mut r = read_report("/", &report(serde_json::json!(perf))).expect("a report");
        r.metrics.lcp = Some(lcp);
        r
    }

    #[test]
    fn the_median_run_counts_not_the_best() {
        let runs = vec![
            run_with(1.0, 500.0),
            run_with(0.9, 900.0),
            run_with(0.95, 700.0),
        ];
        let median = median_run(runs).expect("a run");
        assert_eq!(median.performance(), Some(0.95));
        assert_eq!(median.runs, 3);
        // Equal scores: the slower largest paint is the lower run.
        let runs = vec![
            run_with(1.0, 500.0),
            run_with(1.0, 800.0),
            run_with(1.0, 600.0),
        ];
        assert_eq!(median_run(runs).expect("a run").metrics.lcp, Some(600.0));
        // Two recorded runs: the lower counts.
        let runs = vec![run_with(1.0, 500.0), run_with(0.9, 900.0)];
        assert_eq!(median_run(runs).expect("a run").performance(), Some(0.9));
        assert!(median_run(Vec::new()).is_none());
    }

    #[test]
    fn timings_are_read_and_held_to_the_one_paragraph_page() {
        let mut value = report(serde_json::json!(1));
        value["audits"]["first-contentful-paint"] = serde_json::json!({ "numericValue": 700.5 });
        value["audits"]["largest-contentful-paint"] = serde_json::json!({ "numericValue": 760 });
        value["audits"]["total-blocking-time"] = serde_json::json!({ "numericValue": 0 });
        let page = read_report("/", &value).expect("a report").metrics;
        assert_eq!(
            page,
            Metrics {
                fcp: Some(700.5),
                lcp: Some(760.0),
                tbt: Some(0.0)
            }
        );
        let floor = Metrics {
            fcp: Some(650.0),
            lcp: Some(660.0),
            tbt: Some(0.0),
        };
        assert!(page.within_budget(&floor));
        let late = Metrics {
            lcp: Some(761.0),
            ..floor
        };
        assert!(!late.within_budget(&Metrics {
            lcp: Some(660.0),
            ..floor
        }));
        let blocking = Metrics {
            tbt: Some(50.0),
            ..page
        };
        assert!(!blocking.within_budget(&floor));
        assert!(!Metrics::default().within_budget(&floor));
    }

    #[test]
    fn a_page_over_budget_is_named_with_its_numbers_and_the_floors() {
        let with = |path: &'static str, fcp: f64, lcp: f64, tbt: f64| {
            let mut r = read_report(path, &report(serde_json::json!(1))).expect("a report");
            r.metrics = Metrics {
                fcp: Some(fcp),
                lcp: Some(lcp),
                tbt: Some(tbt),
            };
            r
        };
        let floor = with(REFERENCE, 650.0, 650.0, 0.0);
        let pages = [
            with("/", 720.0, 940.0, 10.0),
            with("/contact", 740.0, 740.0, 0.0),
        ];
        let over = over_budget(&pages, &floor);
        assert_eq!(over.len(), 1, "{over:?}");
        assert!(
            over[0].starts_with("/: FCP 720 ms, LCP 940 ms (the one-paragraph page 650 / 650 ms"),
            "{over:?}"
        );
    }
}
