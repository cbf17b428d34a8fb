//! kap-practice: the website and consultation desk of a psychotherapy practice offering
//! ketamine-assisted psychotherapy (KAP).
//!
//! [`run`] is the whole server: config ▶ content ▶ prepared site ▶ serve (plain HTTP, or HTTPS
//! with a redirecting plain listener when `[tls]` is set), with content and certificate reload
//! on `SIGHUP` and a graceful shutdown on `SIGTERM` or Ctrl-C. `main.rs` only parses the command line.

//!
//! This package is the program itself: the binary, its command line (`cli`) and start-up
//! (open the store, put the practice in force, start the workers, serve, reload, stop). Every
//! layer below is a crate of its own (the README's "How it is built" draws the graph); nothing
//! here is imported by them.

pub mod cli;

use std::future::Future;
use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;

use content::ContentSource;
use diagnostics::Diagnostics;
use settings::config::{Config, Overrides};
use store::data_dir;
use web::AppState;
use web::{backup, insights, site, tls};

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
    web::housekeeping::every_hour(&workers, state.clone());
    state.backup_worker().run_every_few_minutes(&workers);
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
