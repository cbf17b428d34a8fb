//! A page of the questionnaire's questions: the screening, medications and the measures'
//! items, each with what is stored (or was just sent) and its problems.

use super::*;

/// A page of questions, with what is stored (or was just sent) filled in.
pub(super) fn question_page(
    state: &AppState,
    token: &str,
    q: &StoredQuestionnaire,
    page: Page,
    sent: Option<&Sent>,
    errors: Vec<(String, String)>,
) -> QuestionnairePage {
    let pages = q.kind.pages();
    let index = pages.iter().position(|p| *p == page).unwrap_or(0);
    let last = index + 1 == pages.len();
    let content = &state.site.load().renderer.content;
    let a = &q.answers;
    let error_of = |name: &str| {
        errors
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, m)| m.clone())
    };
    let (heading, intro_html, stem, choices, texts) = match page {
        Page::Screening => {
            let s = &content.screening;
            let choices = s
                .questions
                .iter()
                .enumerate()
                .map(|(i, question)| {
                    let name = format!("s{i}");
                    let current = match sent {
                        Some(f) => f.get(&name).cloned().unwrap_or_default(),
                        None => a
                            .screening
                            .iter()
                            .find(|x| &x.question == question)
                            .map(|x| x.answer.clone())
                            .unwrap_or_default(),
                    };
                    ChoiceQuestion {
                        options: ScreeningAnswer::ALL
                            .iter()
                            .map(|o| ChoiceOption {
                                id: format!("{name}-{}", o.as_str()),
                                value: o.as_str().into(),
                                label: o.label().into(),
                                checked: current == o.as_str(),
                            })
                            .collect(),
                        error: error_of(&name),
                        legend: question.clone(),
                        name,
                    }
                })
                .collect();
            let intro = format!(
                "<p>{}</p>{}",
                crate::site::views::escaped(&s.description),
                s.html
            );
            (s.title.clone(), Some(intro), None, choices, Vec::new())
        }
        Page::Medications => {
            let value = |name: &str, stored: &Option<String>| match sent {
                Some(f) => f.get(name).cloned().unwrap_or_default(),
                None => stored.clone().unwrap_or_default(),
            };
            let texts = vec![
                TextQuestion {
                    name: "medications".into(),
                    label: "What medications, supplements or other substances do you take now?".into(),
                    hint: "Include the dose if you know it. Leave this empty if you take none or would rather talk about it when you meet.".into(),
                    value: value("medications", &a.medications),
                    error: error_of("medications"),
                },
                TextQuestion {
                    name: "prescriber".into(),
                    label: "Who prescribes them?".into(),
                    hint: "For example, the name of your doctor or psychiatrist and their practice.".into(),
                    value: value("prescriber", &a.prescriber),
                    error: error_of("prescriber"),
                },
            ];
            (
                "Your medications".to_string(),
                None,
                None,
                Vec::new(),
                texts,
            )
        }
        Page::Phq9 | Page::Gad7 => {
            let measure = if page == Page::Phq9 {
                Measure::Phq9
            } else {
                Measure::Gad7
            };
            let stored = a.responses(measure).0;
            let difficulty = a.difficulty_answer(measure);
            // The numbered items, then the published, unscored "how difficult" question.
            let questions = measure
                .items()
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    (
                        format!("{}-{i}", measure.key()),
                        format!("{}. {item}", i + 1),
                        stored.get(i).copied().flatten(),
                        &OPTIONS,
                    )
                })
                .chain([(
                    format!("{}-difficulty", measure.key()),
                    measure.difficulty_question().to_string(),
                    difficulty,
                    &measures::DIFFICULTY_OPTIONS,
                )]);
            let choices = questions
                .map(|(name, legend, stored, labels)| {
                    let current = match sent {
                        Some(f) => f.get(&name).cloned().unwrap_or_default(),
                        None => stored.map(|v| v.to_string()).unwrap_or_default(),
                    };
                    ChoiceQuestion {
                        options: labels
                            .iter()
                            .enumerate()
                            .map(|(v, label)| ChoiceOption {
                                id: format!("{name}-{v}"),
                                value: v.to_string(),
                                label: (*label).into(),
                                checked: current == v.to_string(),
                            })
                            .collect(),
                        error: error_of(&name),
                        legend,
                        name,
                    }
                })
                .collect();
            let heading = match measure {
                Measure::Phq9 => "Mood over the last 2 weeks (PHQ-9)",
                Measure::Gad7 => "Anxiety over the last 2 weeks (GAD-7)",
            };
            (
                heading.to_string(),
                None,
                Some(measure.stem().to_string()),
                choices,
                Vec::new(),
            )
        }
    };
    let mut p = empty_page(heading);
    p.caption = Some(format!("Part {} of {}", index + 1, pages.len()));
    // The crisis resources open every page after the PHQ-9 once item 9 is above "Not at all".
    p.crisis = page == Page::Gad7 && a.needs_attention();
    p.intro_html = intro_html;
    p.errors = errors
        .iter()
        .map(|(n, m)| ErrorLink {
            target: match page {
                Page::Medications => n.clone(),
                _ => format!("{n}-{}", if page == Page::Screening { "yes" } else { "0" }),
            },
            message: m.clone(),
        })
        .collect();
    p.form = Some(QuestionForm {
        action: part(token, q, page.slug()),
        // A measure's page carries the line its published form carries.
        attribution: stem.is_some().then_some(practice::measures::ATTRIBUTION),
        stem,
        choices,
        texts,
        submit: if last {
            "Save and finish"
        } else {
            "Save and continue"
        }
        .into(),
    });
    p.back_href = Some(if index == 0 {
        format!("{}?q={}", base(token), q.id)
    } else {
        part(token, q, pages[index - 1].slug())
    });
    p
}
