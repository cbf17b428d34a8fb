//! The HTTP server: accepted connections, served by hyper with the bounds a public server needs.
//!
//! Every connection is served by hyper-util's auto connection builder, which speaks HTTP/1.1 and
//! HTTP/2 (chosen by the client's first bytes), on the one multi-threaded tokio runtime the rest
//! of the program runs on. Every request, prepared pages included, goes through the same
//! [`router`](super::router) and its middleware: security headers, the access log and panic
//! catching apply to every response. A prepared page is still only a lookup.
//!
//! [`serve`] accepts plain TCP connections; [`serve_https`] accepts TLS connections (rustls, by
//! tokio-rustls) beside a plain listener that redirects to them, whose responses pass the same
//! middleware ([`plain_router`](super::plain_router)). [`Server::serve_connection`]
//! serves any stream that reads and writes, so a TLS stream is served exactly as a TCP one.
//!
//! The bounds, each set here rather than left to a library's default (see [`Options`]):
//! - headers: at most [`Options::max_header_bytes`] (HTTP/1.1 answers 431; HTTP/2 refuses the
//!   stream) and [`Options::header_read_timeout`] to send them, which also closes an HTTP/1.1
//!   keep-alive connection that starts no new request in that time (slow or idle clients),
//!   and any connection on which no request has started that long after it opened (a client
//!   that never speaks, or sends only part or all of HTTP/2's preface and then nothing: hyper's
//!   own timeout starts only once it knows the protocol);
//! - a connection on which no request starts for [`Options::idle_timeout`] is closed, whatever
//!   its protocol (an HTTP/2 connection with nothing more to ask);
//! - HTTP/2: [`Options::max_concurrent_streams`] per connection, and a connection whose client
//!   resets streams as fast as it opens them ("rapid reset") is closed;
//! - connections per client address: [`Options::max_connections_per_address`]; past it a new
//!   connection is closed at once, so one client cannot use up the process's open files (an
//!   IPv6 client counts as its /64, as every limit counts it: [`ClientKey`]);
//! - bodies and request time are bounded by the middleware (413 past 64 KiB; 503 past 30 s on
//!   routes that do real work).
//!
//! On shutdown the listener closes, every connection is asked to finish (hyper-util's graceful
//! shutdown: HTTP/1.1 after the response in progress, HTTP/2 with a GOAWAY), and requests in
//! flight are answered, for up to [`Options::drain_timeout`].

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tower::ServiceExt;

use super::AppState;
use super::client::ClientKey;

/// How the server treats connections. Every bound is set explicitly from here.
#[derive(Clone, Debug)]
pub struct Options {
    /// Time for a client to send a request's headers, from the moment the server waits for them
    /// (HTTP/1.1). Also how long an HTTP/1.1 connection may stay idle between requests, and how
    /// long any connection (either protocol: silent, a partial or bare HTTP/2 preface) may go
    /// from its start without a request.
    pub header_read_timeout: Duration,
    /// A connection on which no request starts (and none is being answered) for this long is
    /// closed: idle HTTP/2 connections. (One that never sends a request goes after
    /// [`Options::header_read_timeout`].)
    pub idle_timeout: Duration,
    /// The largest request head (HTTP/1.1) or header list (HTTP/2) accepted.
    pub max_header_bytes: usize,
    /// Requests one HTTP/2 connection may have open at once.
    pub max_concurrent_streams: u32,
    /// HTTP/2 streams a client may open and reset before they are served ("rapid reset")
    /// before its connection is closed.
    pub max_pending_accept_reset_streams: usize,
    /// HTTP/2 streams the server may have to reset because of a client's mistakes before its
    /// connection is closed.
    pub max_local_error_reset_streams: usize,
    /// Open connections from one client address (an IPv6 /64 is one); past it a new one is
    /// closed at once. Trusted proxies (`server.trusted_proxies`) are not limited: every
    /// visitor comes through them.
    pub max_connections_per_address: usize,
    /// Addresses whose connections are not counted (the reverse proxies in front).
    pub unlimited_addresses: Vec<IpAddr>,
    /// On shutdown, how long requests in flight have to finish before their connections close.
    pub drain_timeout: Duration,
    /// Time for a client to complete the TLS handshake; past it the connection is closed.
    pub tls_handshake_timeout: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_header_bytes: 16 * 1024,
            max_concurrent_streams: 100,
            max_pending_accept_reset_streams: 20,
            max_local_error_reset_streams: 256,
            max_connections_per_address: 64,
            unlimited_addresses: Vec::new(),
            drain_timeout: Duration::from_secs(35),
            tls_handshake_timeout: Duration::from_secs(10),
        }
    }
}

impl Options {
    /// The defaults, with what the configuration sets.
    pub fn from_config(server: &settings::config::ServerConfig) -> Self {
        Options {
            max_connections_per_address: server.max_connections_per_address,
            unlimited_addresses: server.trusted_proxies.clone(),
            header_read_timeout: server.header_timeout,
            tls_handshake_timeout: server.tls_handshake_timeout,
            ..Options::default()
        }
    }
}

/// Serves `state` on `listener` until `shutdown` resolves, then lets the requests in flight
/// finish (for up to [`Options::drain_timeout`]) and returns.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
    options: &Options,
) -> std::io::Result<()> {
    let server = Server::new(state, options.clone());
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                if let Some(accepted) = server.admitted(accepted).await {
                    server.spawn(accepted);
                }
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    server.shutdown().await;
    Ok(())
}

/// Serves `state` over HTTPS on `https` and redirects to it from the plain listener `plain`
/// (which also answers the certificate authority's HTTP-01 challenges), until `shutdown`
/// resolves; then both drain as [`serve`] does.
///
/// Each TLS connection is counted against its client's address before the handshake, which
/// must finish within [`Options::tls_handshake_timeout`]; the certificate is the one `tls`
/// holds at that handshake, so a new one is used from the next connection on.
pub async fn serve_https(
    https: TcpListener,
    plain: TcpListener,
    state: AppState,
    tls: Arc<crate::tls::Tls>,
    shutdown: impl Future<Output = ()> + Send + 'static,
    options: &Options,
) -> std::io::Result<()> {
    let acceptor = tokio_rustls::TlsAcceptor::from(tls.server_config());
    let redirect = Server::with_router(super::plain_router(state.clone(), tls), options.clone());
    let server = Server::new(state, options.clone());
    let handshake_timeout = options.tls_handshake_timeout;
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = https.accept() => {
                if let Some(Accepted { stream, peer, admitted }) = server.admitted(accepted).await {
                    let connection = server.connection();
                    let handshake = acceptor.accept(stream);
                    tokio::spawn(async move {
                        // A failed or slow handshake is the client's: nothing to log.
                        if let Ok(Ok(stream)) = tokio::time::timeout(handshake_timeout, handshake).await {
                            connection.serve(stream, peer).await;
                        }
                        drop(admitted);
                    });
                }
            }
            accepted = plain.accept() => {
                if let Some(accepted) = redirect.admitted(accepted).await {
                    redirect.spawn(accepted);
                }
            }
            () = &mut shutdown => break,
        }
    }
    drop(https);
    drop(plain);
    tokio::join!(server.shutdown(), redirect.shutdown());
    Ok(())
}

/// A connection taken from a listener and counted against its client's address.
pub struct Accepted {
    pub stream: TcpStream,
    pub peer: SocketAddr,
    pub admitted: Admitted,
}

/// What serves connections: the application, hyper's connection settings, the connections
/// open per client address, and the signal that asks them all to finish.
pub struct Server {
    router: Router,
    builder: Arc<auto::Builder<TokioExecutor>>,
    options: Options,
    per_address: Arc<PerAddress>,
    graceful: GracefulShutdown,
}

impl Server {
    pub fn new(state: AppState, options: Options) -> Self {
        Self::with_router(super::router(state), options)
    }

    /// Serves `router` instead of the application (the plain listener's
    /// [`plain_router`](super::plain_router), when the program serves HTTPS itself).
    pub fn with_router(router: Router, options: Options) -> Self {
        Server {
            router,
            builder: Arc::new(builder(&options)),
            per_address: Arc::new(PerAddress::new(
                options.max_connections_per_address,
                options.unlimited_addresses.clone(),
            )),
            options,
            graceful: GracefulShutdown::new(),
        }
    }

    /// Counts a new connection from `address`: `None` when that address already has its share
    /// open (close the connection). The count drops when the returned value is dropped.
    pub fn admit(&self, address: IpAddr) -> Option<Admitted> {
        PerAddress::admit(&self.per_address, address)
    }

    /// Takes one result of `accept`. A connection over its address's share is closed at once,
    /// before it costs more than this; an error (out of file descriptors, or a client that left
    /// before being accepted) waits a moment instead of spinning. Either gives `None`.
    pub async fn admitted(
        &self,
        accepted: std::io::Result<(TcpStream, SocketAddr)>,
    ) -> Option<Accepted> {
        match accepted {
            Ok((stream, peer)) => {
                let admitted = self.admit(peer.ip())?;
                // Responses are written whole; waiting to fill a packet would only delay them.
                let _ = stream.set_nodelay(true);
                Some(Accepted {
                    stream,
                    peer,
                    admitted,
                })
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot accept a connection");
                tokio::time::sleep(Duration::from_millis(50)).await;
                None
            }
        }
    }

    /// Serves an admitted plain connection in a task of its own, to its end.
    pub fn spawn(&self, accepted: Accepted) {
        let Accepted {
            stream,
            peer,
            admitted,
        } = accepted;
        let served = self.serve_connection(stream, peer);
        tokio::spawn(async move {
            served.await;
            drop(admitted);
        });
    }

    /// Serves one accepted connection from `peer` to its end. `io` is any stream that reads and
    /// writes: a TCP stream, or one wrapped in TLS.
    pub fn serve_connection<S>(
        &self,
        io: S,
        peer: SocketAddr,
    ) -> impl Future<Output = ()> + Send + 'static + use<S>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        self.connection().serve(io, peer)
    }

    /// What serves one connection, taken now: for a connection that must first be prepared
    /// (a TLS handshake) in a task of its own. Shutdown waits for it, so take it only when the
    /// connection has been accepted.
    pub fn connection(&self) -> Connection {
        Connection {
            router: self.router.clone(),
            builder: self.builder.clone(),
            watcher: self.graceful.watcher(),
            idle: self.options.idle_timeout,
            first_request: self.options.header_read_timeout,
        }
    }

    /// Asks every connection to finish, and waits until they have (or until
    /// [`Options::drain_timeout`]).
    pub async fn shutdown(self) {
        let Server {
            graceful, options, ..
        } = self;
        if tokio::time::timeout(options.drain_timeout, graceful.shutdown())
            .await
            .is_err()
        {
            tracing::warn!(
                "requests still unanswered after {:?}: closing their connections",
                options.drain_timeout
            );
        }
    }
}

/// One connection's share of a [`Server`]: see [`Server::connection`].
pub struct Connection {
    router: Router,
    builder: Arc<auto::Builder<TokioExecutor>>,
    watcher: hyper_util::server::graceful::Watcher,
    idle: Duration,
    /// Time from the connection's start for its first request to begin.
    first_request: Duration,
}

impl Connection {
    /// Serves `io`, accepted from `peer`, to its end.
    pub fn serve<S>(self, io: S, peer: SocketAddr) -> impl Future<Output = ()> + Send + 'static
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let Connection {
            router,
            builder,
            watcher,
            idle,
            first_request,
        } = self;
        let activity = Arc::new(Activity::default());
        let service = {
            let activity = activity.clone();
            hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
                request.extensions_mut().insert(ConnectInfo(peer));
                let answering = Answering::start(&activity);
                let answer = router.clone().oneshot(request);
                async move {
                    let response = answer.await;
                    drop(answering);
                    response
                }
            })
        };
        async move {
            let connection = builder.serve_connection(TokioIo::new(io), service);
            let connection = watcher.watch(connection);
            tokio::select! {
                // Errors here are the client's (reset, bad bytes, headers too slow): nothing to log.
                _ = connection => {}
                () = activity.idle_for(idle) => {}
                () = activity.no_request_within(first_request) => {}
            }
        }
    }
}

/// hyper's settings, each bound set explicitly.
fn builder(options: &Options) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(options.header_read_timeout)
        .keep_alive(true)
        .max_headers(100)
        // hyper needs at least 8 KiB to read into.
        .max_buf_size(options.max_header_bytes.max(8192));
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(options.max_concurrent_streams)
        .max_pending_accept_reset_streams(options.max_pending_accept_reset_streams)
        .max_local_error_reset_streams(options.max_local_error_reset_streams)
        .max_header_list_size(u32::try_from(options.max_header_bytes).unwrap_or(u32::MAX))
        // A peer that stops answering pings is gone: its connection closes.
        .keep_alive_interval(Some(Duration::from_secs(30)))
        .keep_alive_timeout(Duration::from_secs(20));
    builder
}

/// Open connections per client (an IPv4 address or an IPv6 /64).
#[derive(Debug)]
struct PerAddress {
    limit: usize,
    unlimited: Vec<IpAddr>,
    open: Mutex<HashMap<ClientKey, usize>>,
}

impl PerAddress {
    fn new(limit: usize, unlimited: Vec<IpAddr>) -> Self {
        PerAddress {
            limit,
            unlimited,
            open: Mutex::new(HashMap::new()),
        }
    }

    fn admit(this: &Arc<Self>, address: IpAddr) -> Option<Admitted> {
        if this.unlimited.contains(&address) {
            return Some(Admitted(None));
        }
        let client = ClientKey::of(address);
        let mut open = this.open.lock().unwrap_or_else(|e| e.into_inner());
        let count = open.entry(client).or_insert(0);
        if *count >= this.limit {
            return None;
        }
        *count += 1;
        Some(Admitted(Some((this.clone(), client))))
    }

    fn release(&self, client: ClientKey) {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = open.get_mut(&client) {
            *count -= 1;
            if *count == 0 {
                open.remove(&client);
            }
        }
    }
}

/// A connection counted against its client, until dropped.
#[derive(Debug)]
pub struct Admitted(Option<(Arc<PerAddress>, ClientKey)>);

impl Drop for Admitted {
    fn drop(&mut self) {
        if let Some((per_address, client)) = &self.0 {
            per_address.release(*client);
        }
    }
}

/// Requests started on a connection, and those not yet answered.
#[derive(Debug, Default)]
struct Activity {
    started: AtomicU64,
    in_flight: AtomicUsize,
}

impl Activity {
    /// Resolves after `limit` if no request has started by then; never otherwise. Covers the
    /// time before hyper knows the protocol (it waits for the first bytes, and for HTTP/2's
    /// whole preface and settings, with no timeout of its own).
    async fn no_request_within(&self, limit: Duration) {
        tokio::time::sleep(limit).await;
        if self.started.load(Ordering::Relaxed) > 0 {
            std::future::pending::<()>().await;
        }
    }

    /// Resolves once no request has started, and none has been in flight, for about `idle`
    /// (between one and one and a half times it: looked at twice per `idle`).
    async fn idle_for(&self, idle: Duration) {
        let mut look = tokio::time::interval((idle / 2).max(Duration::from_millis(1)));
        look.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        look.tick().await;
        let mut seen = 0;
        let mut quiet_looks = 0;
        loop {
            look.tick().await;
            let started = self.started.load(Ordering::Relaxed);
            if started != seen || self.in_flight.load(Ordering::Relaxed) > 0 {
                seen = started;
                quiet_looks = 0;
                continue;
            }
            quiet_looks += 1;
            if quiet_looks >= 2 {
                return;
            }
        }
    }
}

/// A request being answered; counted answered when dropped.
struct Answering(Arc<Activity>);

impl Answering {
    fn start(activity: &Arc<Activity>) -> Self {
        activity.started.fetch_add(1, Ordering::Relaxed);
        activity.in_flight.fetch_add(1, Ordering::Relaxed);
        Answering(activity.clone())
    }
}

impl Drop for Answering {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_gets_its_share_and_no_more() {
        let a: IpAddr = [192, 0, 2, 1].into();
        let b: IpAddr = [192, 0, 2, 2].into();
        let proxy: IpAddr = [127, 0, 0, 1].into();
        let per = Arc::new(PerAddress::new(2, vec![proxy]));
        let first = PerAddress::admit(&per, a).expect("first");
        let _second = PerAddress::admit(&per, a).expect("second");
        assert!(
            PerAddress::admit(&per, a).is_none(),
            "third from one address"
        );
        assert!(PerAddress::admit(&per, b).is_some(), "another address");
        drop(first);
        assert!(PerAddress::admit(&per, a).is_some(), "a place came free");
        let proxied: Vec<_> = (0..10).map(|_| PerAddress::admit(&per, proxy)).collect();
        assert!(proxied.iter().all(Option::is_some), "a trusted proxy");
    }

    #[test]
    fn an_ipv6_client_is_its_slash_64() {
        let per = Arc::new(PerAddress::new(2, Vec::new()));
        let in_64 = |last: u16| IpAddr::from([0x2001, 0xdb8, 7, 9, last, 0, 0, last]);
        let _first = PerAddress::admit(&per, in_64(1)).expect("first");
        let second = PerAddress::admit(&per, in_64(2)).expect("second");
        assert!(
            PerAddress::admit(&per, in_64(3)).is_none(),
            "a third address of the same /64"
        );
        let next_64 = IpAddr::from([0x2001, 0xdb8, 7, 10, 0, 0, 0, 1]);
        assert!(PerAddress::admit(&per, next_64).is_some(), "the next /64");
        drop(second);
        assert!(
            PerAddress::admit(&per, in_64(4)).is_some(),
            "a place came free"
        );
    }
}
