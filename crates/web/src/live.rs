//! The live site: the prepared pages follow what the clinician saves in the inbox.
//!
//! The config file and the built-in (or `content.dir`) words are where a site starts; what the
//! clinician saves in the inbox (the practice's details, the published words) is stored in the database and raises
//! the site's version in the same transaction. Every server looks at that version every
//! [`POLL_EVERY`] and, when it moved, prepares its pages again from the config and the stored
//! values (in the background: compressing the whole site takes a moment) and swaps them in. On
//! PostgreSQL this is how a change made on one server reaches the others within seconds; on
//! the server that saved, the change is prepared at once.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use arc_swap::ArcSwap;

use super::AppState;
use crate::site::PageCache;
use settings::config::Config;
use store::{SEALED_REQUEST_FIELDS, StoredPage};

/// How often each server asks the database whether the site changed.
pub const POLL_EVERY: Duration = Duration::from_secs(1);

/// What this server last prepared its pages from.
#[derive(Debug, Default)]
pub struct Live {
    /// The site version the pages were prepared at (`-1`: not yet looked).
    seen: AtomicI64,
    /// The published words by content file, where they differ from the built-in ones.
    words: ArcSwap<BTreeMap<String, String>>,
    /// The clinician's own pages as last read.
    pages: ArcSwap<Vec<StoredPage>>,
    /// Whether the pages include any of the clinician's own pages (shown or removed).
    own_pages: std::sync::atomic::AtomicBool,
    /// The going-live checklist's items confirmed as reviewed, as last read.
    reviews: ArcSwap<Vec<String>>,
    /// Only one rebuild at a time on this server.
    building: tokio::sync::Mutex<()>,
}

impl Live {
    pub fn new() -> Live {
        Live {
            seen: AtomicI64::new(-1),
            ..Live::default()
        }
    }

    /// The published words this server shows, by content file.
    pub fn words(&self) -> Arc<BTreeMap<String, String>> {
        self.words.load_full()
    }

    /// The going-live items confirmed as reviewed, as this server last read them.
    pub fn reviews(&self) -> Arc<Vec<String>> {
        self.reviews.load_full()
    }
}

/// The going-live checklist of the practice in force on this server.
pub fn checklist(state: &AppState) -> Vec<settings::going_live::Entry> {
    let config = state.config();
    let words = state.live.words();
    let reviewed = state.live.reviews();
    settings::going_live::checklist(&settings::going_live::Facts {
        config: &config,
        words: &words,
        reviewed: &reviewed,
    })
}

/// Closes or opens the public site as the practice in force and the checklist say.
fn set_gate(state: &AppState, config: &Config) {
    let words = state.live.words();
    let reviewed = state.live.reviews();
    let done = settings::going_live::complete(&settings::going_live::Facts {
        config,
        words: &words,
        reviewed: &reviewed,
    });
    state
        .setup
        .set_closed(super::setup::closed_with(config, done));
}

/// The published words: each section's text, by its file name.
pub(crate) async fn published_texts(
    state: &AppState,
) -> Result<BTreeMap<String, String>, crate::AppError> {
    let published = state.store.published_words().await?;
    Ok(published
        .into_iter()
        .map(|(section, r)| (section, r.body))
        .collect())
}

/// Prepares the pages again from the database's current state if the site's version moved
/// since this server last looked (or always, with `force`).
pub async fn refresh(state: &AppState, force: bool) -> Result<(), crate::AppError> {
    let _one = state.live.building.lock().await;
    let version = state.store.site_version().await?;
    if !force && version == state.live.seen.load(Ordering::Relaxed) {
        return Ok(());
    }
    let saved = state.store.practice_details().await?.map(|d| d.values);
    let words = published_texts(state).await?;
    let own_pages = state.store.own_pages().await?;
    let reviews: Vec<String> = state
        .store
        .going_live_reviews()
        .await?
        .into_iter()
        .map(|r| r.item)
        .collect();
    state.live.reviews.store(Arc::new(reviews));
    if saved.is_none()
        && state.in_force.saved().is_none()
        && words.is_empty()
        && state.live.words().is_empty()
        && own_pages.is_empty()
        && !state.live.own_pages.load(Ordering::Relaxed)
    {
        // Nothing stored yet: the pages prepared at start are the site.
        set_gate(state, &state.config());
        state.live.seen.store(version, Ordering::Relaxed);
        return Ok(());
    }
    // Emails, flags and workers follow the saved details from here on; the pages once built.
    let config = state.in_force.set_saved(saved);
    let content = with_notice(
        with_own_pages(content_with(state, &words), &own_pages),
        &config,
        &words,
    );
    let built = {
        let config = config.clone();
        tokio::task::spawn_blocking(move || {
            crate::site::build(config, content, SEALED_REQUEST_FIELDS)
        })
        .await??
    };
    state.live.words.store(Arc::new(words));
    state
        .live
        .own_pages
        .store(!own_pages.is_empty(), Ordering::Relaxed);
    state.live.pages.store(Arc::new(own_pages));
    swap_in(state, &config, built);
    state.live.seen.store(version, Ordering::Relaxed);
    Ok(())
}

/// The words the site shows: the built-in ones with the published revisions in place. With
/// `content.dir` set the files are the words, and the inbox does not change them.
fn content_with(state: &AppState, words: &BTreeMap<String, String>) -> Arc<content::Content> {
    let current = state.site.load().renderer.content.clone();
    if state.config().content_dir.is_some() {
        return current;
    }
    match content::load_edited(words) {
        Ok(content) => Arc::new(content),
        Err(e) => {
            // Checked when published; a later version may read words more strictly.
            for line in e.to_string().lines() {
                tracing::error!(problem = %line, "published words cannot be used; showing the previous words");
            }
            current
        }
    }
}

/// `content` with the clinician's own pages: those shown in the navigation and those removed
/// (410). A page whose Markdown no longer passes the checks is left out and logged.
fn with_own_pages(content: Arc<content::Content>, pages: &[StoredPage]) -> Arc<content::Content> {
    if pages.is_empty() && content.own_pages.is_empty() && content.removed_pages.is_empty() {
        return content;
    }
    let mut content = (*content).clone();
    content.own_pages.clear();
    content.removed_pages.clear();
    for p in pages {
        if p.removed {
            content.removed_pages.push(p.path.clone());
            continue;
        }
        match content::own_page(&p.path, &p.title, &p.body) {
            Ok(page) => content.own_pages.push(page),
            Err(e) => {
                tracing::error!(path = %p.path, problem = %e, "a page of the practice's own cannot be shown")
            }
        }
    }
    Arc::new(content)
}

/// `content` with the published Notice of Privacy Practices at its public address, unless the
/// clinician has a page of their own there.
fn with_notice(
    content: Arc<content::Content>,
    config: &Config,
    words: &BTreeMap<String, String>,
) -> Arc<content::Content> {
    use crate::admin::documents::{NOTICE_DOCUMENT, NOTICE_PATH, notice_page};
    if content.own_pages.iter().any(|p| p.path == NOTICE_PATH)
        || content.removed_pages.iter().any(|p| p == NOTICE_PATH)
    {
        return content;
    }
    match notice_page(config, words.get(NOTICE_DOCUMENT).map(String::as_str)) {
        Some(page) => {
            let mut content = (*content).clone();
            content.own_pages.push(page);
            Arc::new(content)
        }
        None => content,
    }
}

/// Serves `site`, prepared from `config`, from now on; opens the public site once the
/// practice's own details are in place and the going-live checklist is done (and closes it
/// again should an item come undone, such as the example's words restored).
fn swap_in(state: &AppState, config: &Config, site: PageCache) {
    // The best gzip and brotli variants follow on their own thread; nothing here waits for them.
    drop(state.replace_site(site));
    set_gate(state, config);
}

/// Rebuilds the pages from `config` (re-read from the file) and `content` with the stored
/// details this server knows, and puts that config in force (content reload on `SIGHUP`).
pub fn rebuild(
    state: &AppState,
    config: Arc<Config>,
    content: Arc<content::Content>,
) -> Result<(), crate::site::RenderError> {
    let config = state.in_force.set_file(config);
    let words = state.live.words();
    let content = if config.content_dir.is_none() && !words.is_empty() {
        content::load_edited(&words).map_or(content, Arc::new)
    } else {
        content
    };
    let content = with_notice(
        with_own_pages(content, &state.live.pages.load()),
        &config,
        &words,
    );
    let site = crate::site::build(config.clone(), content, SEALED_REQUEST_FIELDS)?;
    swap_in(state, &config, site);
    Ok(())
}

/// Looks at the site's version every [`POLL_EVERY`] until the server stops.
pub fn poll(workers: &workers::Workers, state: AppState) {
    workers.every(POLL_EVERY, move || {
        let state = state.clone();
        async move {
            if let Err(e) = refresh(&state, false).await {
                tracing::warn!(error = %e, "cannot check for changes to the site; will try again");
            }
        }
    });
}
