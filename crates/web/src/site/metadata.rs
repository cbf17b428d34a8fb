//! What search engines read about the practice: the sitemap of the public pages and the
//! JSON-LD that describes the practice and its clinician.

use settings::config::Config;

use super::PAGES;

pub(super) fn sitemap(base: &str, own_pages: &[&str]) -> String {
    let mut s = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n",
    );
    for path in PAGES.iter().chain(own_pages) {
        s.push_str(&format!(
            "<url><loc>{}</loc></url>\n",
            xml_escape(&format!("{base}{path}"))
        ));
    }
    s.push_str("</urlset>\n");
    s
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The clinician's job title as search engines read it: the licence the credentials name
/// ("LCSW" ▶ "Licensed Clinical Social Worker"), else the credentials as written, else
/// "Psychotherapist".
pub fn job_title(credentials: &str) -> String {
    const TITLES: &[(&str, &str)] = &[
        ("LCSW", "Licensed Clinical Social Worker"),
        ("LICSW", "Licensed Independent Clinical Social Worker"),
        ("LMFT", "Licensed Marriage and Family Therapist"),
        ("LPC", "Licensed Professional Counselor"),
        ("LPCC", "Licensed Professional Clinical Counselor"),
        ("LMHC", "Licensed Mental Health Counselor"),
        ("PSYD", "Psychologist"),
        ("PMHNP", "Psychiatric Mental Health Nurse Practitioner"),
        ("MD", "Physician"),
    ];
    let first = credentials
        .split([',', '/', ' '])
        .map(|c| c.trim().replace('.', "").to_ascii_uppercase())
        .find(|c| !c.is_empty());
    match first {
        None => "Psychotherapist".to_string(),
        Some(code) => TITLES
            .iter()
            .find(|(c, _)| *c == code)
            .map(|(_, title)| (*title).to_string())
            .unwrap_or_else(|| credentials.trim().to_string()),
    }
}

/// schema.org data about the practice and the clinician, safe inside `<script>`.
pub(super) fn json_ld(config: &Config, description: &str) -> String {
    let p = &config.practice;
    let base = &config.server.base_url;
    let states: Vec<_> = p
        .licensed_state_names()
        .into_iter()
        .map(|name| serde_json::json!({"@type": "State", "name": name}))
        .collect();
    let value = serde_json::json!({
        "@context": "https://schema.org",
        "@graph": [
            {
                "@type": "MedicalBusiness",
                "@id": format!("{base}/#practice"),
                "name": p.name,
                "url": format!("{base}/"),
                "description": description,
                "email": p.email,
                "telephone": p.phone,
                "address": {"@type": "PostalAddress", "addressLocality": p.city, "addressCountry": "US"},
                "areaServed": states,
                "availableService": [
                    {"@type": "MedicalTherapy", "name": "Psychotherapy"},
                    {
                        "@type": "MedicalTherapy",
                        "name": "Ketamine-assisted psychotherapy",
                        "alternateName": "KAP"
                    }
                ],
                "employee": {"@id": format!("{base}/#clinician")}
            },
            {
                "@type": "Person",
                "@id": format!("{base}/#clinician"),
                "name": p.clinician_name,
                "honorificSuffix": p.credentials,
                "jobTitle": job_title(&p.credentials),
                "worksFor": {"@id": format!("{base}/#practice")},
                "knowsAbout": ["Ketamine-assisted psychotherapy", "Psychedelic-assisted therapy", "Psychotherapy"]
            }
        ]
    });
    // `<`, `>` and `&` escaped so no value can close the script element.
    value
        .to_string()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}
