//! The public site, rendered once into the [`PageCache`].
//!
//! Pages are built from the validated content and the practice's identity at start and on
//! content reload, never per request: what a visitor gets is prepared bytes.

pub mod assets;
pub mod cache;
pub mod documents;
pub mod metadata;
pub mod privacy;
pub mod questionnaire;
pub mod views;

use std::collections::HashMap;
use std::sync::Arc;

use askama::Template;
use axum::http::StatusCode;

use bytes::Bytes;
pub use cache::{Caching, Encoding, Page, PageCache};
use content::Content;
use metadata::{json_ld, sitemap};
use settings::config::Config;
pub use views::FormView;
pub use views::{
    BookPage, BookingPage, DayChoice, ErrorLink, FormatChoice, LocationQuestion, TimeChoice,
};
use views::{
    BookView, BookingView, Chrome, ContactView, Head, HomeView, PrivacyView, StatusView, TextView,
    ThanksView,
};

use practice::consultation::ConsultationForm;

/// A form page's title, marked "Error: " when the form came back with errors (the first
/// thing a screen reader announces), on the public pages and the clinician's alike.
pub(crate) fn error_title(title: &str, has_errors: bool) -> String {
    if has_errors {
        format!("Error: {title}")
    } else {
        title.to_string()
    }
}

/// The public pages, for the sitemap and for tests.
pub const PAGES: &[&str] = &["/", "/contact", "/privacy"];

/// A template failed to render: a bug of ours, reported at start.
#[derive(Debug, thiserror::Error)]
#[error("rendering {page}: {source}")]
pub struct RenderError {
    page: &'static str,
    source: askama::Error,
}

impl RenderError {
    /// The error of rendering `page`, for `map_err`.
    fn of(page: &'static str) -> impl FnOnce(askama::Error) -> RenderError {
        move |source| RenderError { page, source }
    }
}

const HTML: &str = "text/html; charset=utf-8";

/// Renders pages from the config, the content and the assets. Kept in the [`PageCache`] for
/// the few pages that depend on the request (the contact form with a fresh token or errors).
pub struct Renderer {
    pub config: Arc<Config>,
    pub content: Arc<Content>,
    pub assets: assets::Assets,
}

impl Renderer {
    fn head(&self, path: &str, title: String, description: &str) -> Head {
        Head {
            title,
            description: description.to_string(),
            canonical: format!("{}{path}", self.config.server.base_url),
            indexable: true,
            script: false,
            json_ld: None,
        }
    }

    /// The head of a page that search engines are asked not to index.
    fn unlisted_head(&self, path: &str, title: String, description: &str) -> Head {
        Head {
            indexable: false,
            ..self.head(path, title, description)
        }
    }

    /// A page not in the site's navigation (a status page, a person's own page): its `view`
    /// made from `head` and the chrome that marks no link as current, rendered.
    fn unlisted<'a, V: Template>(
        &'a self,
        page: &'static str,
        head: Head,
        view: impl FnOnce(Head, Chrome<'a>) -> V,
    ) -> Result<String, RenderError> {
        view(head, self.chrome(""))
            .render()
            .map_err(RenderError::of(page))
    }

    /// The title of a page with its form, marked when the form came back with errors.
    fn form_title(&self, page: &str, errors: bool) -> String {
        error_title(&self.title(page), errors)
    }

    fn chrome<'a>(&'a self, current: &'a str) -> Chrome<'a> {
        let mut chrome = Chrome::new(&self.config, &self.assets, current);
        chrome.own_pages = &self.content.own_pages;
        chrome
    }

    fn title(&self, page: &str) -> String {
        let p = &self.config.practice;
        format!(
            "{page} · {} · {}",
            p.name,
            p.clinician_name_with_credentials()
        )
    }

    /// The contact page with its form in the state given.
    pub fn contact(&self, form: FormView) -> Result<String, RenderError> {
        let content = &self.content;
        let title = self.form_title(
            &content.contact.title,
            !form.errors.is_empty() || form.notice.is_some(),
        );
        ContactView {
            head: self.head("/contact", title, &content.contact.description),
            chrome: self.chrome("/contact"),
            page: &content.contact,
            form,
        }
        .render()
        .map_err(RenderError::of("/contact"))
    }

    /// An empty contact form for this token.
    pub fn empty_form(&self, token: String) -> FormView {
        FormView::new(
            &self.config.form,
            ConsultationForm::default(),
            &[],
            None,
            token,
        )
    }

    /// A page that explains a status: not found, a refused request, an outage.
    pub fn status(&self, heading: &str, paragraphs: &[&str]) -> Result<String, RenderError> {
        let p = &self.config.practice;
        let head = self.unlisted_head("/", format!("{heading} · {}", p.name), heading);
        self.unlisted("status", head, |head, chrome| StatusView {
            head,
            chrome,
            heading,
            paragraphs,
        })
    }

    /// The page where a person chooses a consultation time (rendered per request: it shows
    /// the open times of the moment). Not indexed.
    pub fn book(&self, page: BookPage) -> Result<String, RenderError> {
        let head = self.unlisted_head("/book", page.title.clone(), "Choose a consultation time.");
        self.unlisted("/book", head, |head, chrome| BookView {
            head,
            chrome,
            page,
        })
    }

    /// The page that shows a person where their booking stands. Not indexed.
    pub fn booking(&self, page: BookingPage) -> Result<String, RenderError> {
        let head = self.unlisted_head("/book", self.title(&page.heading), &page.heading);
        self.unlisted("/book", head, |head, chrome| BookingView {
            head,
            chrome,
            page,
        })
    }

    fn thanks(
        &self,
        notes: ThanksNotes,
        booking_href: Option<&str>,
    ) -> Result<String, RenderError> {
        let ThanksNotes {
            outside_licensed_states,
            minor,
            outside_us,
            minor_alone,
        } = notes;
        let form = &self.config.form;
        let head = self.unlisted_head(
            "/contact/thanks",
            self.title("Thank you"),
            "Your request has arrived.",
        );
        let mut chrome = self.chrome("");
        chrome.crisis = settings::crisis::Crisis::for_reader(form, outside_us);
        ThanksView {
            head,
            chrome,
            reply_time: &form.reply_time,
            outside_licensed_states,
            minor,
            minor_alone,
            booking_href,
        }
        .render()
        .map_err(RenderError::of("/contact/thanks"))
    }
}

/// What the thank-you page notes about a request.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ThanksNotes {
    pub outside_licensed_states: bool,
    pub minor: bool,
    /// The person will be outside the US: the crisis notes name local emergency services.
    pub outside_us: bool,
    /// Someone under 18 wrote for themselves: told kindly what involving a parent or
    /// guardian means, never refused.
    pub minor_alone: bool,
}

impl ThanksNotes {
    /// The index of its prepared page in [`PageCache::thanks`].
    pub fn index(self) -> usize {
        usize::from(self.outside_licensed_states)
            | (usize::from(self.minor) << 1)
            | (usize::from(self.outside_us) << 2)
            | (usize::from(self.minor_alone) << 3)
    }

    /// How many sets of notes there are.
    pub const PAGES: usize = 16;

    pub fn from_index(index: usize) -> Self {
        ThanksNotes {
            outside_licensed_states: index & 1 != 0,
            minor: index & 2 != 0,
            outside_us: index & 4 != 0,
            minor_alone: index & 8 != 0,
        }
    }
}

/// The contact page cut where its token goes, so serving it is two copies and a token.
#[derive(Clone, Debug)]
pub struct SplitPage {
    pub prefix: Bytes,
    pub suffix: Bytes,
}

impl SplitPage {
    /// Cuts the page `render` makes at the place its template writes the one value given to
    /// it (the form's token, the booking link).
    ///
    /// The page is rendered twice, with `0` and then `1` as the value, and cut at the one byte
    /// where the two differ: the position of the value itself, whatever the practice's words
    /// around it say. (Searching the page for a marker instead would cut at the first place the
    /// marker's text appears, which can be in the practice's own words.) Anything but exactly
    /// one differing byte is refused, so a template that writes the value twice, or not at
    /// all, fails at start rather than serving a broken page.
    fn at_value(
        page: &'static str,
        render: impl Fn(&str) -> Result<String, RenderError>,
    ) -> Result<SplitPage, RenderError> {
        let (zero, one) = (render("0")?, render("1")?);
        let (zero, one) = (zero.as_bytes(), one.as_bytes());
        let at = zero.iter().zip(one).position(|(a, b)| a != b);
        match at {
            Some(at)
                if zero.len() == one.len()
                    && zero[at] == b'0'
                    && zero[at + 1..] == one[at + 1..] =>
            {
                Ok(SplitPage {
                    prefix: Bytes::copy_from_slice(&zero[..at]),
                    suffix: Bytes::copy_from_slice(&zero[at + 1..]),
                })
            }
            _ => Err(RenderError {
                page,
                source: askama::Error::Custom(
                    "the page does not write its value exactly once".into(),
                ),
            }),
        }
    }
}

/// Renders every public page and asset. `sealed_fields` are the fields of a consultation request
/// the store seals, by name, for the privacy notice to list (`store::SEALED_REQUEST_FIELDS`).
pub fn build(
    config: Arc<Config>,
    content: Arc<Content>,
    sealed_fields: &[&str],
) -> Result<PageCache, RenderError> {
    let renderer = Renderer {
        assets: assets::Assets::build(&config.practice),
        config,
        content,
    };
    let r = &renderer;
    let base = &r.config.server.base_url;
    let render = |page: &'static str, result: Result<String, askama::Error>| {
        result
            .map(String::into_bytes)
            .map_err(RenderError::of(page))
    };

    let mut pages: HashMap<String, Arc<Page>> = HashMap::new();
    let mut add = |path: &str, content_type: &'static str, caching: Caching, body: Vec<u8>| {
        pages.insert(
            path.to_string(),
            Arc::new(Page::new(StatusCode::OK, content_type, caching, body)),
        );
    };

    let home = &r.content.home;
    let mut home_head = r.head(
        "/",
        format!("{} · {}", home.hero.title, r.config.practice.name),
        &home.hero.description,
    );
    home_head.script = true;
    home_head.json_ld = Some(json_ld(&r.config, &home.hero.description));
    let html = render(
        "/",
        HomeView {
            head: home_head,
            chrome: r.chrome("/"),
            home,
        }
        .render(),
    )?;
    add("/", HTML, Caching::Revalidate, html);

    let privacy = &r.content.privacy;
    let html = render(
        "/privacy",
        PrivacyView {
            head: r.head("/privacy", r.title(&privacy.title), &privacy.description),
            chrome: r.chrome("/privacy"),
            page: privacy,
            facts: privacy::PrivacyFacts::from_config(&r.config, sealed_fields),
        }
        .render(),
    )?;
    // A practice's own privacy.md may still name the retention periods: they come from the
    // config, so the notice always states the real ones.
    let admin = &r.config.admin;
    let html = String::from_utf8_lossy(&html)
        .replace("{keep_closed_days}", &admin.keep_closed_days.to_string())
        .replace(
            "{keep_consulted_days}",
            &admin.keep_consulted_days.to_string(),
        )
        .replace("{keep_spam_days}", &admin.keep_spam_days.to_string())
        .into_bytes();
    add("/privacy", HTML, Caching::Revalidate, html);

    for own in &r.content.own_pages {
        let html = render(
            "own page",
            TextView {
                head: r.head(&own.path, r.title(&own.page.title), &own.page.description),
                chrome: r.chrome(&own.path),
                page: &own.page,
            }
            .render(),
        )?;
        add(&own.path, HTML, Caching::Revalidate, html);
    }
    let mut gone = Vec::new();
    for path in &r.content.removed_pages {
        let head = r.unlisted_head(
            path,
            format!("Page removed · {}", r.config.practice.name),
            "Page removed",
        );
        let html = render(
            "removed page",
            StatusView {
                head,
                chrome: r.chrome(""),
                heading: "This page has been removed",
                paragraphs: &["The practice took this page down. Everything else is still here."],
            }
            .render(),
        )?;
        gone.push((path.clone(), html));
    }
    let own_paths: Vec<&str> = r
        .content
        .own_pages
        .iter()
        .map(|p| p.path.as_str())
        .collect();
    add(
        "/robots.txt",
        "text/plain; charset=utf-8",
        Caching::Revalidate,
        format!("User-agent: *\nAllow: /\nDisallow: /admin\nDisallow: /contact/thanks\nDisallow: /book/\nDisallow: /calendar/\n\nSitemap: {base}/sitemap.xml\n").into_bytes(),
    );
    add(
        "/sitemap.xml",
        "application/xml; charset=utf-8",
        Caching::Revalidate,
        sitemap(base, &own_paths).into_bytes(),
    );
    for asset in &r.assets.all {
        add(
            &asset.url,
            asset.content_type,
            Caching::Immutable,
            asset.body.clone(),
        );
    }

    // Removed pages answer 410 Gone, prepared like the rest.
    for (path, html) in gone {
        pages.insert(
            path,
            Arc::new(Page::new(StatusCode::GONE, HTML, Caching::Revalidate, html)),
        );
    }

    let contact_form =
        SplitPage::at_value("/contact", |token| r.contact(r.empty_form(token.into())))?;

    let thanks_page = |index: usize| {
        let notes = ThanksNotes::from_index(index);
        r.thanks(notes, None).map(|html| {
            Arc::new(Page::new(
                StatusCode::OK,
                HTML,
                Caching::NoStore,
                html.into_bytes(),
            ))
        })
    };
    let thanks = (0..ThanksNotes::PAGES)
        .map(thanks_page)
        .collect::<Result<Vec<_>, _>>()?;
    // The thank-you page with the link to choose a consultation time, cut where the link goes
    // (only a request with no flags books online).
    let thanks_booking = SplitPage::at_value("/contact/thanks", |link| {
        r.thanks(ThanksNotes::default(), Some(link))
    })?;

    let status_page = |status: StatusCode, heading: &str, paragraphs: &[&str]| {
        r.status(heading, paragraphs)
            .map(|html| Arc::new(Page::new(status, HTML, Caching::NoStore, html.into_bytes())))
    };
    let not_found = status_page(
        StatusCode::NOT_FOUND,
        "We can’t find that page",
        &[
            "The address may be mistyped, or the page may have moved. Nothing is wrong on your side.",
        ],
    )?;
    let server_error = status_page(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Something went wrong on our side",
        &[
            "This is our fault, not yours. Please try again in a few minutes.",
            "If you were sending a message, it may not have reached us. You can always write or call instead.",
        ],
    )?;
    let unavailable = status_page(
        StatusCode::SERVICE_UNAVAILABLE,
        "The site is briefly unavailable",
        &["We are working on it. Please try again in a few minutes, or write or call instead."],
    )?;
    let form = &r.config.form;
    let not_received_crisis = format!(
        "Please try again in a few minutes, or contact the practice directly by email or phone (below). If you are in crisis, {}.",
        settings::crisis::Crisis::new(form).sentence()
    );
    let not_received = status_page(
        StatusCode::SERVICE_UNAVAILABLE,
        "Your request was not received",
        &[
            "We are sorry: a problem on our side stopped your request from being saved, so it has NOT reached the practice. Nothing you did caused this.",
            not_received_crisis.as_str(),
        ],
    )?;
    let method_not_allowed = status_page(
        StatusCode::METHOD_NOT_ALLOWED,
        "That kind of request isn’t possible here",
        &["This address can only be read, not sent to. Try the links below."],
    )?;

    Ok(PageCache {
        pages,
        not_found,
        server_error,
        unavailable,
        not_received,
        method_not_allowed,
        contact_form,
        thanks,
        thanks_booking,
        renderer: Arc::new(renderer),
        complete: false,
    })
}
