//! The Good Faith Estimate (No Surprises Act, 45 CFR 149.610): made on a request's page from
//! the clinician's fees and identifiers (set in the file or the inbox, the file winning), with
//! its due date, given as a PDF whose text carries every element of the regulation's list;
//! sealed at rest, and nothing personal in the audit log, the history or the addresses. The
//! public notice of the right to an estimate where fees are discussed, on the contact page and
//! where a consultation is booked.

use crate::common::booking::start;
use crate::common::clinician::{Clinician, assert_export};
use crate::common::details::new_practice;
use crate::common::documents::pdf_text;
use crate::common::questionnaire::newest_request;

const PERSON: &str = "Wrenna Halloway-Pike";
const BIRTH: &str = "1979-03-14";

/// The identifiers in the file; the office and fees saved in the inbox.
const FILE: &str = "[estimate]\nnpi = \"1234567893\"\ntin = \"12-3456789\"\n";

/// The details form with the estimate's settings the inbox keeps (the NPI given here too, which
/// the file's value outranks).
fn details_with_fees() -> Vec<(&'static str, &'static str)> {
    let mut fields = new_practice();
    fields.extend([
        ("version", "0"),
        ("npi", "9999999999"),
        (
            "office_address",
            "12 Larkspur Row, Suite 4, Brooklyn, NY 11201",
        ),
        ("consultation_fee", "0"),
        ("consultation_count", "1"),
        ("preparation_fee", "180"),
        ("preparation_count", "2"),
        ("medication_session_fee", "$1,250.50"),
        ("medication_session_count", "3"),
        ("integration_fee", "180.00"),
        ("integration_count", "4"),
    ]);
    fields
}

/// Makes an estimate on the request's page `page_path` from `fields`: that page after.
async fn made(c: &mut Clinician<'_>, page_path: &str, fields: &[(&str, &str)]) -> String {
    let r = c
        .action(page_path, &format!("{page_path}/estimates"), fields)
        .await;
    assert_eq!(r.status, 303, "{}", r.text());
    c.get(page_path).await.text()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_estimate_carries_every_element_is_due_on_time_given_and_kept_sealed() {
    let app = start(None, FILE).await;
    app.submitted(PERSON, &[]).await;
    let id = newest_request(&app).await;
    let mut c = Clinician::signed_in(&app).await;
    let page_path = format!("/admin/requests/{id}");

    // Until the office and fees are set, no estimate can be made, and the page says what is
    // missing.
    let page = c.get(&page_path).await.text();
    assert!(page.contains("Before an estimate can be made"), "{page}");
    assert!(page.contains("the office address"));
    assert!(!page.contains("id=\"make-estimate\""));
    let r = c
        .action(
            &page_path,
            &format!("{page_path}/estimates"),
            &[("person_name", PERSON), ("date_of_birth", BIRTH)],
        )
        .await;
    assert_eq!(r.status, 409, "{}", r.text());

    // A bad fee is refused in the form's words.
    let mut bad = details_with_fees();
    bad.retain(|(k, _)| *k != "preparation_fee");
    bad.push(("preparation_fee", "lots"));
    let r = c.action("/admin/details", "/admin/details", &bad).await;
    r.assert_shows(
        422,
        "Fee for a preparation session, in dollars: write an amount in dollars",
    );
    let r = c
        .action("/admin/details", "/admin/details", &details_with_fees())
        .await;
    assert_eq!(r.status, 303, "{}", r.text());
    let page = c.get(&page_path).await.text();
    assert!(page.contains("id=\"make-estimate\""), "{page}");

    // Mistakes in the form are named, and nothing is made.
    let r = c
        .action(
            &page_path,
            &format!("{page_path}/estimates"),
            &[
                ("person_name", PERSON),
                ("date_of_birth", "14/03/1979"),
                ("due_because", "requested"),
                ("due_from", "2026-01-05"),
                ("diagnosis_codes", "F33.1; drop table"),
            ],
        )
        .await;
    r.assert_shows(422, "date of birth as year-month-day");
    assert!(r.text().contains("diagnosis codes separated by commas"));
    assert!(
        app.state
            .store
            .estimates(id)
            .await
            .expect("read")
            .is_empty()
    );

    // Asked on Friday, January 9, 2026: due three business days on, Wednesday the 14th.
    let page = made(
        &mut c,
        &page_path,
        &[
            ("person_name", PERSON),
            ("date_of_birth", BIRTH),
            ("due_because", "requested"),
            ("due_from", "2026-01-09"),
            ("code-preparation", "90837"),
            ("code-integration", ""),
            ("diagnosis_codes", "F33.1, F43.10"),
        ],
    )
    .await;
    assert!(
        page.contains("Due by Wednesday, January 14, 2026"),
        "{page}"
    );
    assert!(page.contains("Not given yet"));
    assert!(page.contains("<span class=\"tag\">Late</span>"), "past due");
    let estimates = app.state.store.estimates(id).await.expect("read");
    assert_eq!(estimates.len(), 1);
    let eid = estimates[0].id;
    // A copy of each estimate is kept at least six years: its request is kept for the
    // longer of the two periods, as one that reached the consultation.
    assert_eq!(
        app.database_texts(&format!(
            "SELECT 'kept longer' FROM consultation_requests WHERE id = {id} AND reached_consultation = TRUE"
        ))
        .await,
        ["kept longer"]
    );

    // The PDF, item by item against the list (45 CFR 149.610(e)).
    let pdf = c.get(&format!("{page_path}/estimates/{eid}/pdf")).await;
    assert_eq!(pdf.status, 200);
    assert_eq!(pdf.header("content-type"), Some("application/pdf"));
    assert_eq!(pdf.header("cache-control"), Some("no-store"));
    let text = pdf_text(&pdf.body);
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    for needle in [
        "Good Faith Estimate",
        // The person's name and date of birth.
        &format!("Name: {PERSON}"),
        "Date of birth: March 14, 1979",
        // Each service in clear language with its code where given and expected charge,
        // grouped under the provider.
        "Provider: Sam Rivera, LMFT, Harbor Light Therapy",
        "Initial consultation (psychotherapy intake): 1 x $0.00 = $0.00",
        "Preparation session (psychotherapy) (service code 90837): 2 x $180.00 = $360.00",
        "3 x $1,250.50 = $3,751.50",
        "Integration session (psychotherapy): 4 x $180.00 = $720.00",
        "Total estimated charges: $4,831.50",
        // Diagnosis codes.
        "F33.1, F43.10",
        // The provider's NPI (the file's, not the inbox's), TIN, office and states.
        "National Provider Identifier (NPI): 1234567893",
        "Taxpayer Identification Number (TIN): 12-3456789",
        "Office: 12 Larkspur Row, Suite 4, Brooklyn, NY 11201",
        "State(s) where services are expected: New York, New Jersey",
        // Items estimated separately: the prescriber and the medication.
        "prescribing by the separate prescriber",
        "The medication itself",
        // The disclaimers.
        "must be scheduled or requested separately and are not included in this estimate",
        "This is only an estimate. The actual items, services or charges may differ",
        "billed at least $400 more than this estimate",
        "patient-provider dispute resolution process",
        "www.cms.gov/nosurprises",
        "is not a contract and does not require you to obtain",
        // The date.
        "Date of this estimate",
    ] {
        assert!(flat.contains(needle), "{needle:?} missing from:\n{text}");
    }
    assert!(!flat.contains("9999999999"), "the file's NPI wins");

    // Given: recorded once, shown with the day.
    let r = c
        .action(
            &page_path,
            &format!("{page_path}/estimates/{eid}/given"),
            &[],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text());
    let page = c.get(&page_path).await.text();
    assert!(page.contains("as a PDF."), "{page}");
    assert!(!page.contains("<span class=\"tag\">Late</span>"));

    // Scheduled two weeks ahead on Monday, January 12: due Thursday the 15th.
    let page = made(
        &mut c,
        &page_path,
        &[
            ("person_name", PERSON),
            ("date_of_birth", BIRTH),
            ("due_because", "scheduled"),
            ("due_from", "2026-01-12"),
            ("service_on", "2026-01-26"),
        ],
    )
    .await;
    assert!(page.contains("Due by Thursday, January 15, 2026"), "{page}");

    // The request's export carries both estimates as given, with when each was due and given.
    let csv = c.export_csv(id).await;
    let expected = [
        "\"\"due_on\"\":\"\"2026-01-14\"\"",
        "\"\"due_on\"\":\"\"2026-01-15\"\"",
        "\"\"service_on\"\":\"\"2026-01-26\"\"",
        "\"\"given_how\"\":\"\"pdf\"\"",
        "Name: ",
        "Total estimated charges: $4,831.50",
        "www.cms.gov/nosurprises",
    ];
    assert_export(&csv, ",estimates", &expected);

    // Another's estimate is not reachable through this request.
    assert_eq!(
        c.get(&format!("/admin/requests/{}/estimates/{eid}/pdf", id + 1))
            .await
            .status,
        404
    );

    // Nothing personal in the audit log, the history or any address.
    assert!(app.audited("estimate_made", id).await);
    assert!(app.audited("estimate_given", id).await);
    app.assert_nothing_personal_logged(id, &[PERSON, "Halloway", "1979", "F33"])
        .await;
    for href in page.split("href=\"").skip(1) {
        let href = href.split('"').next().unwrap_or("");
        assert!(
            !href.contains("Halloway") && !href.contains("1979"),
            "{href}"
        );
    }
    // Sealed at rest: on SQLite, no byte of the database holds the name or the birth date.
    if app.overrides.database_url.is_none() {
        let data = app.data_dir.path().join("data");
        for entry in std::fs::read_dir(&data).expect("data dir").flatten() {
            let bytes = std::fs::read(entry.path()).unwrap_or_default();
            for m in ["Halloway-Pike", "March 14, 1979", "F43.10"] {
                assert!(
                    !bytes.windows(m.len()).any(|w| w == m.as_bytes()),
                    "{m} at rest"
                );
            }
        }
    }
}

#[tokio::test]
async fn the_right_to_an_estimate_is_shown_where_fees_are_discussed_and_booked() {
    let app = start(None, "").await;
    for path in ["/", "/contact"] {
        let r = app.get(path).await;
        assert_eq!(r.status, 200, "{path}");
        let html = r.text();
        assert!(
            html.contains("id=\"good-faith-estimate-title\">Your right to a Good Faith Estimate"),
            "{path}: {html}"
        );
        for fact in [
            "do not have health insurance",
            "within 3 business days",
            "within 1 business day of scheduling",
            "billed separately",
            "at least $400 more than the estimate",
            "https://www.cms.gov/nosurprises",
            "1-800-985-3059",
        ] {
            assert!(html.contains(fact), "{path}: {fact}");
        }
    }
}
