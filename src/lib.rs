//! kap-practice: the website and consultation desk of a psychotherapy practice offering
//! ketamine-assisted psychotherapy (KAP).
//!
//! [`run`] is the whole server: config ▶ content ▶ prepared site ▶ serve (plain HTTP, or HTTPS
//! with a redirecting plain listener when `[tls]` is set), with content and certificate reload
//! on `SIGHUP` and a graceful shutdown on `SIGTERM` or Ctrl-C. `main.rs` only parses the command line.

pub mod backup;
pub mod cli;
/// The practice's words, loaded and checked, from their own crate (`crates/content`).
pub use content;
/// Keys, sealing and signing, from their own crate (`crates/crypto`).
pub use crypto;
/// Problems found in the config and content files, from their own crate (`crates/diagnostics`).
pub use diagnostics;
pub mod export;
pub mod insights;
pub mod pdf;
/// The practice's rules, from their own crate (`crates/practice`).
pub use practice;
pub mod site;
/// Storage (SQLite and PostgreSQL), the audit trail and the data directory, from their own crate
/// (`crates/store`): the only crate that names sqlx or where the data key is kept. `audit` and
/// `data_dir` keep their old paths here.
pub use store;
pub use store::{audit, data_dir};
pub mod tls;
pub mod web;

use std::future::Future;
use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;

use crate::content::ContentSource;
use crate::diagnostics::Diagnostics;
use crate::web::AppState;
use settings::config::{Config, Overrides};

/// Why the program could not start: each names what to fix.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{0}")]
    Invalid(Diagnostics),
    #[error(transparent)]
    Render(#[from] site::RenderError),
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error(transparent)]
    Mail(#[from] mail::TransportError),
    #[error(
        "the database needs an update, and the backup before it failed: {0} (fix the backup destination, or remove it from the config file's [backup] to update without a backup)"
    )]
    BackupFirst(#[from] backup::BackupError),
}

/// A server ready to serve: its state, its background workers (the poll for changes saved on
/// other servers already runs) and, when mail is configured, the outbox worker to start.
pub struct App {
    pub state: AppState,
    pub workers: workers::Workers,
    pub outbox: Option<mail::outbox::Outbox>,
}

/// Opens the data key and the database, puts the practice in force (the file's settings with
/// the details saved in the inbox), and sets up mail.
pub async fn open(config: Arc<Config>, site: site::PageCache) -> Result<App, StartError> {
    let store = open_store(&config).await?;
    let in_force = Arc::new(in_force(config, &store).await);
    let config = in_force.get();
    for warning in config.warnings() {
        tracing::warn!("{warning}");
    }
    let transport = mail::Transport::from_config(&config)?;
    let state = AppState::new(in_force.clone(), site, store.clone(), transport.is_some());
    // The pages with the details saved in the inbox, before the first request; then every
    // second, for changes saved on any server.
    if let Err(e) = web::live::refresh(&state, true).await {
        tracing::warn!(error = %e, "cannot prepare the pages with the details saved in the inbox");
    }
    let workers = workers::Workers::new();
    web::live::poll(&workers, state.clone());
    let outbox = transport.map(|transport| mail::outbox::Outbox {
        store,
        transport,
        in_force,
        wake: state.mail_wake.clone(),
        links: (*state.links).clone(),
    });
    Ok(App {
        state,
        workers,
        outbox,
    })
}

/// The practice in force on `store`: `config` with the details saved in the inbox where the
/// config file does not set them.
pub async fn in_force(config: Arc<Config>, store: &store::Store) -> settings::in_force::InForce {
    let saved = match store.practice_details().await {
        Ok(details) => details.map(|d| d.values),
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the details saved in the inbox; using the configured ones until they can be read");
            None
        }
    };
    let in_force = settings::in_force::InForce::new(config, saved);
    match store.saved_backup_settings().await {
        Ok(saved) => {
            in_force.set_saved_backup(saved);
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the backup settings saved in the inbox; using the configured ones");
        }
    }
    in_force
}

/// Opens the data key and the database the config names: PostgreSQL when `database.url` (or
/// `DATABASE_URL`) is set, else SQLite in the data directory. On PostgreSQL the key must be
/// given, never generated, because every server must share it.
pub async fn open_store(config: &Config) -> Result<store::Store, StartError> {
    let data_dir = &config.server.data_dir;
    let url = config.database.url.as_ref().map(|s| s.0.as_str());
    // A backup before the database's update, when there is one to make.
    let before =
        backup::before_migrations(&config.backup, data_dir, url, jiff::Timestamp::now()).await?;
    let store = store::Store::open_with_data_key(data_dir, url).await?;
    if let Some(before) = &before {
        backup::record_before_migrations(&store, before).await;
    }
    Ok(store)
}

/// Deletes what the practice no longer keeps: closed requests and spam past their retention
/// periods (each deletion audited), expired sign-in sessions and sign-in counts past their
/// window. Returns the requests deleted.
pub async fn housekeeping(state: &AppState) -> Result<usize, store::StoreError> {
    housekeeping_at(state, jiff::Timestamp::now()).await
}

/// The instants before which requests are past their retention periods at `now`, under the
/// periods in force (the config file's, else the inbox's).
pub fn retention_cutoffs(
    admin: &settings::config::AdminConfig,
    now: jiff::Timestamp,
) -> store::Cutoffs {
    let before = |d: u64| {
        let hours = i64::try_from(d).unwrap_or(i64::MAX / 24).saturating_mul(24);
        now.checked_sub(jiff::SignedDuration::from_hours(hours))
            .unwrap_or(jiff::Timestamp::MIN)
    };
    store::Cutoffs {
        closed: before(admin.keep_closed_days),
        consulted: before(admin.keep_consulted_days),
        spam: before(admin.keep_spam_days),
    }
}

/// [`housekeeping`] as of `now` (tests drive the clock with it).
pub async fn housekeeping_at(
    state: &AppState,
    now: jiff::Timestamp,
) -> Result<usize, store::StoreError> {
    use tower_sessions::session_store::ExpiredDeletion;
    let config = state.config();
    let purged = state
        .store
        .purge(&retention_cutoffs(&config.admin, now), now)
        .await?;
    if !purged.is_empty() {
        tracing::info!(
            count = purged.len(),
            "deleted requests past their retention period"
        );
    }
    if let Err(e) = state.store.sessions().delete_expired().await {
        tracing::warn!(error = %e, "cannot delete expired sessions");
    }
    if let Err(e) = state
        .store
        .forget_old_sign_in_attempts(auth::throttle::WINDOW, now)
        .await
    {
        tracing::warn!(error = %e, "cannot delete old sign-in counts");
    }
    let first_kept = state
        .insights
        .first_kept_day(config.insights.retention_months);
    match state
        .store
        .delete_insight_counts_before(&first_kept.to_string())
        .await
    {
        Ok(0) => {}
        Ok(rows) => tracing::info!(rows, "deleted visit counts past their retention period"),
        Err(e) => tracing::warn!(error = %e, "cannot delete old visit counts"),
    }
    Ok(purged.len())
}

/// Runs [`housekeeping`] once an hour across all servers: each server looks every few
/// minutes, and whichever first claims the hour does the work.
fn housekeeping_every_hour(workers: &workers::Workers, state: AppState) {
    workers.every(std::time::Duration::from_secs(300), move || {
        let state = state.clone();
        async move {
            let claimed = state
                .store
                .claim_job(
                    store::Job::Housekeeping,
                    jiff::SignedDuration::from_hours(1),
                    jiff::Timestamp::now(),
                )
                .await;
            match claimed {
                Ok(true) => {
                    if let Err(e) = housekeeping(&state).await {
                        tracing::warn!(error = %e, "housekeeping failed; will try again in an hour");
                    }
                }
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, "cannot reach the database for housekeeping"),
            }
        }
    });
}

/// The backup worker of `state` (it does nothing where backups are not made here).
pub fn backup_worker(state: &AppState) -> backup::worker::BackupWorker {
    let config = state.config();
    backup::worker::BackupWorker {
        store: state.store.clone(),
        settings: config.backup.clone(),
        data_dir: config.server.data_dir.clone(),
        zone: state.time_zone(),
        mail: state.mail_enabled,
        wake: state.mail_wake.clone(),
        in_force: Some(state.in_force.clone()),
    }
}

/// Loads and checks config and content, and prepares the site.
pub fn prepare(overrides: &Overrides) -> Result<(Arc<Config>, site::PageCache), StartError> {
    let config = Config::load(overrides);
    let content = match &config {
        Ok(c) => content::load(&ContentSource::from_config(c.content_dir.as_deref())),
        // Check the content too, so one run reports every problem.
        Err(_) => content::load(&ContentSource::from_config(
            settings::config::content_dir_hint(overrides).as_deref(),
        )),
    };
    match (config, content) {
        (Ok(config), Ok(content)) => {
            let config = Arc::new(config);
            let site = site::build(
                config.clone(),
                Arc::new(content),
                store::SEALED_REQUEST_FIELDS,
            )?;
            Ok((config, site))
        }
        (config, content) => {
            let mut all = Diagnostics::default();
            if let Err(e) = config {
                all.extend(e);
            }
            if let Err(e) = content {
                all.extend(e);
            }
            Err(StartError::Invalid(all))
        }
    }
}

/// Serves `state` on `listener` until `shutdown` resolves, then drains requests in flight.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let options = web::server::Options::from_config(&state.config().server);
    web::server::serve(listener, state, shutdown, &options).await
}

/// Runs the server with the process's signals: the `serve` command.
pub async fn run(overrides: Overrides) -> anyhow::Result<()> {
    let (config, site) = prepare(&overrides)?;
    // A start refused for the data directory says one line, the warnings only come with a start.
    data_dir::check(&config.server.data_dir)?;
    // The certificate first: with certificate files that cannot be used, nothing starts.
    let tls = match &config.tls {
        Some(t) => Some(tls::Tls::start(t, &config.server.data_dir).map_err(|e| {
            anyhow::anyhow!("{e}\n(set in [tls] or KAP_TLS_CERT_FILE / KAP_TLS_KEY_FILE)")
        })?),
        None => None,
    };
    let listener = bind(config.server.bind, "--bind").await?;
    let https = match &config.tls {
        Some(t) => Some(bind(t.bind, "tls.bind (KAP_TLS_BIND)").await?),
        None => None,
    };
    let addr = listener.local_addr()?;
    let App {
        state,
        workers,
        outbox,
    } = open(config, site).await?;
    let state = match &tls {
        Some(tls) => state.with_tls(tls.clone()),
        None => state,
    };
    announce_setup_address(&state).await;
    // Values written before each was bound to its row still open; binding them is the
    // operator's one run of `keys reseal`, not every start's work.
    match state.store.has_unbound_values().await {
        Ok(false) => {}
        Ok(true) => tracing::warn!(
            "some stored values were sealed before each value was bound to its row: run `kap-practice keys reseal` once to bind them (see docs/deployment.md, \"Upgrades\")"
        ),
        Err(e) => {
            tracing::warn!(error = %e, "cannot check whether stored values are bound to their rows")
        }
    }
    // Reminders and the daily agenda are queued only where mail can leave.
    match outbox {
        Some(outbox) => {
            state.reminders().look_every_minute(&workers);
            workers.spawn(outbox.run(workers.stopping()));
        }
        None => tracing::warn!(
            "no SMTP server configured (KAP_SMTP_URL): requests are stored, but no notification emails are sent"
        ),
    }
    tracing::info!(
        address = %addr,
        https = %match &https { Some(l) => l.local_addr()?.to_string(), None => "off".into() },
        site = %state.config().server.base_url,
        content = %match &state.config().content_dir { Some(d) => d.display().to_string(), None => "built-in".into() },
        "serving"
    );
    let shutdown = shutdown_signal();
    reload_on_hangup(&workers, state.clone(), overrides);
    housekeeping_every_hour(&workers, state.clone());
    backup_worker(&state).run_every_few_minutes(&workers);
    let insights = state.insights.clone();
    insights::flush_every_few_seconds(&workers, insights.clone(), state.store.clone());
    if let (Some(tls), Some(settings::config::CertificateSource::Acme(acme))) =
        (&tls, state.config().tls.as_ref().map(|t| &t.certificate))
    {
        // Renewal ends where it is when the server stops: an order left half-way is
        // started again at the next start.
        let renewal = tls::acme::run(
            tls.clone(),
            acme.clone(),
            state.config().server.data_dir.clone(),
        );
        let stop = workers.stopping();
        workers.spawn(async move {
            tokio::select! {
                () = stop.cancelled() => {}
                () = renewal => {}
            }
        });
    }
    let store = state.store.clone();
    match (https, tls) {
        (Some(https), Some(tls)) => {
            let options = web::server::Options::from_config(&state.config().server);
            web::server::serve_https(https, listener, state, tls, shutdown, &options).await?;
        }
        _ => serve(listener, state, shutdown).await?,
    }
    // Every worker ends its round in progress and stops; then the counts gathered since the
    // last batch are written, before the database closes.
    workers.stop().await;
    if let Err(e) = insights.flush(&store).await {
        tracing::warn!(error = %e, "cannot write the last visit counts");
    }
    store.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// While the practice has no account, draws a new one-time setup address and shows it: printed
/// once on standard output and logged, for whoever started the server.
async fn announce_setup_address(state: &AppState) {
    match state.store.issue_setup_token(jiff::Timestamp::now()).await {
        Ok(Some(token)) => {
            let address = format!("{}/admin/setup/{token}", state.config().server.base_url);
            println!(
                "No account exists yet. Open this address to set up the site (it works once, for 24 hours):\n{address}"
            );
            tracing::warn!(
                setup_address = %address,
                "no account exists yet: open the setup address to create the first account (it works once, for 24 hours; a restart gives a new one)"
            );
        }
        Ok(None) => {}
        Err(e) => tracing::warn!(error = %e, "cannot prepare the setup address"),
    }
}

/// Listens on `address`, or says which setting to change.
async fn bind(address: std::net::SocketAddr, setting: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind(address).await.with_context(|| {
        let privileged = if address.port() < 1024 {
            " Ports below 1024 need the CAP_NET_BIND_SERVICE capability (AmbientCapabilities=CAP_NET_BIND_SERVICE in the systemd unit, see docs/deployment.md)."
        } else {
            ""
        };
        format!("cannot listen on {address}: is another program using it? Choose another with {setting}.{privileged}")
    })
}

/// Re-reads config identity and content on `SIGHUP`; on a problem the old site stays up.
fn reload_on_hangup(workers: &workers::Workers, state: AppState, overrides: Overrides) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        // Installed before serving starts, so an early SIGHUP does not end the process.
        let Ok(mut hangups) = signal(SignalKind::hangup()) else {
            tracing::warn!("cannot listen for SIGHUP: content reload is off");
            return;
        };
        let stop = workers.stopping();
        workers.spawn(async move {
            loop {
                tokio::select! {
                    () = stop.cancelled() => break,
                    signal = hangups.recv() => match signal {
                        Some(()) => reload(&state, &overrides),
                        None => break,
                    },
                }
            }
        });
    }
    #[cfg(not(unix))]
    let _ = (workers, state, overrides);
}

/// Rebuilds the site from the files now on disk and swaps it in, and re-reads the certificate
/// files when HTTPS is served from them (the next handshake uses the new certificate).
pub fn reload(state: &AppState, overrides: &Overrides) {
    if let Some(tls) = &state.tls {
        tls.reload();
    }
    match prepare(overrides) {
        Ok((config, site)) => {
            let content = site.renderer.content.clone();
            match web::live::rebuild(state, config, content) {
                Ok(()) => tracing::info!("content reloaded"),
                Err(e) => {
                    tracing::error!(problem = %e, "content reload refused; still serving the previous content")
                }
            }
        }
        Err(e) => {
            for line in e.to_string().lines() {
                tracing::error!(problem = %line, "content reload refused; still serving the previous content");
            }
        }
    }
}

/// Resolves on Ctrl-C or `SIGTERM`. The handlers are installed at once, before the first request
/// can arrive, so a signal is never missed.
fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    let ctrl_c = tokio::signal::ctrl_c();
    async move {
        #[cfg(unix)]
        let terminate = async move {
            match terminate {
                Some(mut s) => {
                    s.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        #[cfg(not(unix))]
        let terminate = std::future::pending::<()>();
        tokio::select! {
            _ = ctrl_c => {},
            () = terminate => {},
        }
        tracing::info!("shutting down: finishing requests in flight");
    }
}
