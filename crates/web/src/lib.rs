//! HTTP: the router, the shared state and the middleware, and what serving needs beside them.
//!
//! `web` turns requests into calls on the rest of the program and results into responses. It
//! holds no business rules and writes no SQL. Public pages come from the prepared
//! [`PageCache`](crate::site::PageCache); everything else has a route of its own.
//!
//! A crate of its own, at the top of the layers: it owns the handlers and their templates
//! (`templates/` beside this crate's Cargo.toml), the prepared site (`site`), HTTPS (`tls`),
//! the visit counts (`insights`), backups (`backup`), the clinician's exports (`export`, `pdf`)
//! and housekeeping. It may use every crate below it; no crate may depend on it, so nothing
//! below the web can reach its state, its requests or its pages. It holds no keys and writes no
//! SQL (it has no sqlx).

pub mod admin;
pub mod backup;
pub mod booking;
pub mod client;
pub mod contact;
pub mod documents;
pub mod error;
pub mod export;
pub mod form;
pub mod form_token;
mod health;
pub mod housekeeping;
pub mod insights;
pub mod live;
pub mod middleware;
mod pages;
pub mod pdf;
pub mod questionnaire;
pub mod respond;
pub mod server;
pub mod setup;
pub mod site;
pub mod tls;

use std::sync::Arc;

use arc_swap::ArcSwap;
use axum::Router;
use axum::routing::{get, post};
use tokio::sync::Notify;

use crate::site::PageCache;
pub use error::AppError;
use settings::config::Config;
use settings::in_force::InForce;
use store::Store;

/// What every handler can reach: one `Arc`, so the clone that each request makes (for every
/// extractor and middleware that takes the state) is one counter, not one per part.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// The parts of [`AppState`].
#[derive(Clone)]
pub struct Shared {
    /// The prepared public site; replaced whole when content is reloaded.
    pub site: Arc<ArcSwap<PageCache>>,
    /// The practice in force: the config file's settings with the details saved in the inbox.
    /// Read it with [`AppState::config`]; nothing reads the file's values directly.
    pub in_force: Arc<InForce>,
    /// Headers every response carries, prepared from the config.
    pub security_headers: Arc<middleware::SecurityHeaders>,
    /// Consultation requests and the outbox.
    pub store: Store,
    /// Wakes the outbox worker when mail is queued.
    pub mail_wake: Arc<Notify>,
    /// Whether an SMTP server is configured (otherwise no mail is queued).
    pub mail_enabled: bool,
    /// Signs and checks the contact form's tokens.
    pub form_tokens: Arc<form_token::FormTokens>,
    /// Per-address limit on sending the contact form.
    pub form_limiter: Arc<client::AddressLimiter>,
    /// Per-address limit on choosing or cancelling a consultation time (each sends email).
    pub booking_limiter: Arc<client::AddressLimiter>,
    /// Per-address limit on sign-in attempts, applied before anything is read or written.
    pub sign_in_limiter: Arc<client::AddressLimiter>,
    /// Signs and checks the links back to a person's consultation booking.
    pub links: Arc<auth::link::LinkTokens>,
    /// The data directory's free space and read-only state, and how the last writes went.
    pub storage: Arc<store::data_dir::Watch>,
    /// The HTTPS certificate and its renewal state, when the program serves HTTPS itself.
    pub tls: Option<Arc<crate::tls::Tls>>,
    /// This server's visit counter (`insights.enabled`), written to the store in batches.
    pub insights: Arc<crate::insights::Insights>,
    /// Whether visitors get the "being set up" page instead of the example practice.
    pub setup: Arc<setup::SetupGate>,
    /// What the prepared pages were last built from: the site's version and stored details.
    pub live: Arc<live::Live>,
}

impl AppState {
    pub fn new(in_force: Arc<InForce>, site: PageCache, store: Store, mail_enabled: bool) -> Self {
        let config = in_force.get();
        let security_headers = Arc::new(middleware::SecurityHeaders::new(config.server.https()));
        let site = Arc::new(site);
        let time_zone = config.practice.zone.clone();
        let served = Arc::new(ArcSwap::new(site.clone()));
        // Detached: the served site shows when it is complete.
        drop(add_best_encodings(
            &served,
            site,
            config.server.brotli_quality,
        ));
        AppState(Arc::new(Shared {
            insights: Arc::new(crate::insights::Insights::new(
                config.insights.enabled,
                time_zone.clone(),
                &config.server.base_url,
            )),
            security_headers,
            form_tokens: Arc::new(form_token::FormTokens::new(store.keys())),
            form_limiter: Arc::new(client::AddressLimiter::new(config.form.rate_limit_per_hour)),
            booking_limiter: Arc::new(client::AddressLimiter::new(config.form.rate_limit_per_hour)),
            sign_in_limiter: Arc::new(client::AddressLimiter::per_minute(
                auth::throttle::ATTEMPTS_PER_MINUTE,
            )),
            links: Arc::new(auth::link::LinkTokens::new(store.keys())),
            storage: Arc::new(store::data_dir::Watch::new(&config.server.data_dir)),
            setup: Arc::new(setup::SetupGate::until_checked(&config)),
            live: Arc::new(live::Live::new()),
            site: served,
            in_force,
            store,
            mail_wake: Arc::new(Notify::new()),
            mail_enabled,
            tls: None,
        }))
    }

    /// The same state, serving HTTPS with `tls`.
    pub fn with_tls(self, tls: Arc<crate::tls::Tls>) -> Self {
        AppState(Arc::new(Shared {
            tls: Some(tls),
            ..(*self.0).clone()
        }))
    }
}

impl AppState {
    /// The practice in force: the file's value where set, else the one saved in the inbox,
    /// else the built-in.
    pub fn config(&self) -> Arc<Config> {
        self.in_force.get()
    }

    /// The practice's time zone in force.
    pub fn time_zone(&self) -> jiff::tz::TimeZone {
        self.in_force.get().practice.zone.clone()
    }

    /// The worker that queues reminders and the daily agenda, with this state's store, practice
    /// and outbox wake-up.
    pub fn reminders(&self) -> mail::reminders::Reminders {
        mail::reminders::Reminders {
            store: self.store.clone(),
            in_force: self.in_force.clone(),
            wake: self.mail_wake.clone(),
        }
    }

    /// Where urgent notices go now, or `None` when this server sends no email.
    pub fn notices_to(&self) -> Option<String> {
        self.mail_enabled
            .then(|| self.in_force.get().mail.notify_email.clone())
    }

    /// The backup worker of this server (it does nothing where backups are not made here).
    pub fn backup_worker(&self) -> backup::worker::BackupWorker {
        let config = self.config();
        backup::worker::BackupWorker {
            store: self.store.clone(),
            settings: config.backup.clone(),
            data_dir: config.server.data_dir.clone(),
            zone: self.time_zone(),
            mail: self.mail_enabled,
            wake: self.mail_wake.clone(),
            in_force: Some(self.in_force.clone()),
        }
    }

    /// Whether the questionnaire is offered now: turned on, and its urgent notice known to
    /// reach the notice address in force.
    pub async fn questionnaires_offered(&self) -> Result<bool, store::StoreError> {
        self.store
            .questionnaires_offered(self.notices_to().as_deref())
            .await
    }

    /// Serves a newly prepared site from now on (content reload). Returns the thread that makes
    /// its best gzip and brotli variants, if one was started, for a caller that waits for it (tests do);
    /// dropping it lets the thread finish on its own.
    pub fn replace_site(&self, site: PageCache) -> Option<std::thread::JoinHandle<()>> {
        let site = Arc::new(site);
        self.site.store(site.clone());
        add_best_encodings(&self.site, site, self.config().server.brotli_quality)
    }

    /// Whether the site being served has all its encodings (brotli follows a new site by a
    /// moment; see [`crate::site::cache`]).
    pub fn site_complete(&self) -> bool {
        self.site.load().complete
    }
}

/// Makes `site`'s best gzip and brotli variants on a thread of their own and serves them,
/// unless a newer site has replaced it meanwhile. Until then its pages go out with a quick gzip,
/// so the server answers at once after a start or a content change.
fn add_best_encodings(
    slot: &Arc<ArcSwap<PageCache>>,
    site: Arc<PageCache>,
    quality: u32,
) -> Option<std::thread::JoinHandle<()>> {
    if site.complete {
        return None;
    }
    let slot = slot.clone();
    let spawned = std::thread::Builder::new()
        .name("compress".into())
        .spawn(move || {
            let complete = Arc::new(site.with_best_encodings(quality));
            // Swapped only if `site` is still the one served.
            slot.compare_and_swap(&site, complete);
        });
    match spawned {
        Ok(thread) => Some(thread),
        Err(e) => {
            tracing::warn!(error = %e, "cannot start compressing the pages at their best; they go out with a quick gzip");
            None
        }
    }
}

/// Pages with routes of their own (not in the prepared cache).
pub const DYNAMIC_PAGES: &[&str] = &[
    "/contact",
    "/contact/thanks",
    "/healthz",
    "/admin",
    "/admin/login",
    "/admin/audit",
    "/admin/insights",
];

/// The whole application: every route and the middleware stack.
pub fn router(state: AppState) -> Router {
    let routes = Router::new()
        .route("/healthz", get(health::healthz))
        .route("/contact", get(contact::show).post(contact::submit))
        .route("/contact/thanks", get(contact::thanks))
        .route("/book/{token}", get(booking::show).post(booking::choose))
        .route("/book/{token}/change", get(booking::change))
        .route("/book/{token}/cancel", post(booking::cancel))
        .route("/calendar/{file}", get(booking::feed))
        .route("/questionnaire/{token}", get(questionnaire::start))
        .route(
            "/documents/{token}",
            get(documents::show).post(documents::sign),
        )
        .route(
            "/documents/{token}/revoke/{document}",
            post(documents::revoke),
        )
        .route("/documents/{token}/pdf/{document}", get(documents::pdf))
        .route(
            "/questionnaire/{token}/{page}",
            get(questionnaire::show).post(questionnaire::save),
        )
        .merge(admin::router(&state))
        .route_layer(middleware::timeout(state.config().server.request_timeout))
        .fallback(pages::prepared)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            setup::gate,
        ))
        .with_state(state.clone());
    middleware::stack(routes, state)
}

/// The plain-HTTP listener's application when the program serves HTTPS itself: redirects to
/// https and the certificate authority's HTTP-01 answers ([`crate::tls::redirect`]), and
/// `/healthz` answered in place, so a load balancer's or monitor's plain check keeps working
/// instead of getting a redirect. Every response passes the same middleware stack as the
/// application's: security headers, request id, access log, panic catching, body limit. The
/// headers are those of a plain-HTTP site: no HSTS, which must not be sent over plain HTTP
/// (RFC 6797 §7.2), and no `upgrade-insecure-requests`.
pub fn plain_router(state: AppState, tls: Arc<crate::tls::Tls>) -> Router {
    let state = AppState(Arc::new(Shared {
        security_headers: Arc::new(middleware::SecurityHeaders::new(false)),
        ..(*state).clone()
    }));
    let routes = Router::new()
        .route("/healthz", get(health::healthz))
        .with_state(state.clone())
        .merge(crate::tls::redirect::router(tls, &state.config()));
    middleware::stack(routes, state)
}
