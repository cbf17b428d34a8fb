//! The HTTP server: one event loop per core, each accepting and serving its own connections.
//!
//! Every thread runs a single-threaded runtime. New connections are accepted in one place and
//! each is handed to one thread, which serves it to the end: a connection stays on one core, with
//! its buffers and socket warm in that core's cache, and no request crosses threads on its way
//! through — the way nginx's worker processes work. When there is a loop for every core the
//! process may use, each loop keeps to its own core, and a connection goes to the loop on the
//! core where the system received it (`SO_INCOMING_CPU`), so that its packets and its answers are
//! handled in one place, unless that loop already has clearly more connections than the others.
//! A client that later moves to another core (its packets arriving there) is asked, between
//! requests, to open a new connection, which then goes to the loop on its new core.
//! Limiting the process's cores (`taskset`, systemd's `CPUAffinity=`) limits the loops with them.
//! The rest of the program (the database writer, the outbox, periodic jobs) keeps running on the
//! main runtime.
//!
//! Each connection has a watchdog instead of a timer per request: a connection that starts no
//! request for [`Options::idle_timeout`] — an idle keep-alive connection, or one sending its
//! headers a byte at a time — is closed, so slow or abandoned clients cannot hold connections
//! open forever. A request being answered is never cut off here; routes that do real work have
//! their own time limit.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};

use super::AppState;
use super::front::FrontDoor;

/// How the server runs.
#[derive(Clone, Debug)]
pub struct Options {
    /// Event loops, each on its own thread. Default: one per available core.
    pub threads: usize,
    /// A connection that starts no request for this long is closed (after between one and one
    /// and a half times this).
    pub idle_timeout: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            idle_timeout: Duration::from_secs(60),
        }
    }
}

/// Serves `state` on `listener` until `shutdown` resolves, then lets the requests in flight
/// finish and returns when every connection has closed.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
    options: &Options,
) -> std::io::Result<()> {
    let front = FrontDoor::new(state);
    let (stop, stopped) = watch::channel(false);
    let threads = options.threads.max(1);
    // With a loop for every core the process may use, each loop keeps to its own core.
    let cores = placement::allowed_cores();
    let pinned = cores.len() == threads;
    let loads: Arc<[LoopLoad]> = (0..threads)
        .map(|n| LoopLoad {
            core: cores.get(n).copied().filter(|_| pinned),
            open: Arc::new(AtomicUsize::new(0)),
        })
        .collect();
    let mut loops = Vec::with_capacity(threads);
    for n in 0..threads {
        let LoopLoad { core, open } = loads[n].clone();
        let (hand, handed) = mpsc::unbounded_channel();
        let event_loop = EventLoop {
            handed,
            core,
            loads: loads.clone(),
            open: open.clone(),
            front: front.clone(),
            stopped: stopped.clone(),
            idle: options.idle_timeout,
        };
        let thread = std::thread::Builder::new()
            .name(format!("http-{n}"))
            .spawn(move || {
                if let Some(core) = core {
                    placement::keep_this_thread_on(core);
                }
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()?;
                runtime.block_on(event_loop.run());
                Ok::<(), std::io::Error>(())
            })?;
        loops.push(Loop { hand, thread });
    }
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let incoming = placement::incoming_core(std::os::fd::AsRawFd::as_raw_fd(&stream));
                    let Some(chosen) = choose(&loads, incoming) else {
                        break;
                    };
                    let (hand, open) = (&loops[chosen].hand, &loads[chosen].open);
                    let stream = match stream.into_std() {
                        Ok(stream) => stream,
                        Err(e) => {
                            tracing::warn!(error = %e, "cannot hand over a connection");
                            continue;
                        }
                    };
                    open.fetch_add(1, Ordering::Relaxed);
                    if hand.send((stream, peer)).is_err() {
                        open.fetch_sub(1, Ordering::Relaxed);
                    }
                }
                Err(e) => {
                    // Out of file descriptors, or the client left before being accepted: wait a
                    // moment instead of spinning, then go on.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    let _ = stop.send(true);
    let threads: Vec<_> = loops.into_iter().map(|l| l.thread).collect();
    // Joining blocks, so it waits on a thread of its own, not on this runtime.
    tokio::task::spawn_blocking(move || {
        for thread in threads {
            match thread.join() {
                Ok(result) => result?,
                Err(_) => return Err(std::io::Error::other("an event loop panicked")),
            }
        }
        Ok(())
    })
    .await
    .map_err(std::io::Error::other)?
}

/// An event loop's core and open connections, as the others see them.
#[derive(Clone, Debug)]
struct LoopLoad {
    core: Option<usize>,
    open: Arc<AtomicUsize>,
}

/// An event loop, as the acceptor sees it (its load is beside it, in the same place in `loads`).
struct Loop {
    hand: mpsc::UnboundedSender<(std::net::TcpStream, SocketAddr)>,
    thread: std::thread::JoinHandle<std::io::Result<()>>,
}

/// The loop for a new connection: the one on the core where the system received it (its
/// packets and the loop then share that core's cache, and no core has to wake another), unless
/// that loop already has clearly more connections than the least busy one, which gets it then.
fn choose(loads: &[LoopLoad], incoming: Option<usize>) -> Option<usize> {
    let seen: Vec<(Option<usize>, usize)> = loads
        .iter()
        .map(|l| (l.core, l.open.load(Ordering::Relaxed)))
        .collect();
    choice(&seen, incoming)
}

/// [`choose`] over each loop's core and open connections: the index of the loop chosen.
fn choice(loops: &[(Option<usize>, usize)], incoming: Option<usize>) -> Option<usize> {
    let (least, &(_, fewest)) = loops
        .iter()
        .enumerate()
        .min_by_key(|(_, (_, open))| *open)?;
    let near = incoming.and_then(|core| loops.iter().position(|(c, _)| *c == Some(core)));
    match near {
        Some(i) if loops[i].1 <= fewest + 8 + fewest / 8 => Some(i),
        _ => Some(least),
    }
}

/// Which core runs what: keeping a loop on one core, and the core a connection arrived on.
#[cfg(target_os = "linux")]
mod placement {
    use std::os::fd::RawFd;

    /// The cores this process may run on.
    pub fn allowed_cores() -> Vec<usize> {
        // SAFETY: cpu_set_t is plain data, zero is a valid empty set, and sched_getaffinity
        // writes at most the size given.
        unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
                return Vec::new();
            }
            (0..libc::CPU_SETSIZE as usize)
                .filter(|&core| libc::CPU_ISSET(core, &set))
                .collect()
        }
    }

    /// Keeps the calling thread on `core` (best effort: left as it is when refused).
    pub fn keep_this_thread_on(core: usize) {
        // SAFETY: as above; 0 names the calling thread.
        unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            libc::CPU_SET(core, &mut set);
            let _ = libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
        }
    }

    /// The core that received the connection's latest packet, if the system says.
    pub fn incoming_core(fd: RawFd) -> Option<usize> {
        let mut core: libc::c_int = -1;
        let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: the buffer and its length describe `core`, an int, as SO_INCOMING_CPU expects.
        let got = unsafe {
            libc::getsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_INCOMING_CPU,
                (&mut core as *mut libc::c_int).cast(),
                &mut len,
            )
        };
        (got == 0)
            .then_some(core)
            .and_then(|c| usize::try_from(c).ok())
    }
}

#[cfg(not(target_os = "linux"))]
mod placement {
    pub fn allowed_cores() -> Vec<usize> {
        Vec::new()
    }

    pub fn keep_this_thread_on(_: usize) {}

    pub fn incoming_core(_: i32) -> Option<usize> {
        None
    }
}

/// One event loop: serves the connections handed to it, on its own thread.
struct EventLoop {
    handed: mpsc::UnboundedReceiver<(std::net::TcpStream, SocketAddr)>,
    /// The core it keeps to, if it is pinned.
    core: Option<usize>,
    /// Every loop's core and load, for telling a client to come back on its own core.
    loads: Arc<[LoopLoad]>,
    /// Its open connections, for the acceptor to choose the least busy loop.
    open: Arc<AtomicUsize>,
    front: FrontDoor,
    stopped: watch::Receiver<bool>,
    idle: Duration,
}

impl EventLoop {
    /// Serves connections until the server stops, then waits for its connections to close.
    async fn run(mut self) {
        let mut connections = tokio::task::JoinSet::new();
        let for_connections = self.stopped.clone();
        super::access_log::hold_on_this_thread();
        let mut write_log = tokio::time::interval(super::access_log::FLUSH_EVERY);
        write_log.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = write_log.tick() => super::access_log::flush(),
                handed = self.handed.recv() => match handed {
                    Some((stream, peer)) => match TcpStream::from_std(stream) {
                        Ok(stream) => {
                            let open = self.open.clone();
                            let place = self.core.map(|core| Place {
                                fd: std::os::fd::AsRawFd::as_raw_fd(&stream),
                                core,
                                loads: self.loads.clone(),
                            });
                            let served = connection(stream, peer, self.front.clone(), for_connections.clone(), self.idle, place);
                            connections.spawn(async move {
                                served.await;
                                open.fetch_sub(1, Ordering::Relaxed);
                            });
                        }
                        Err(e) => {
                            self.open.fetch_sub(1, Ordering::Relaxed);
                            tracing::warn!(error = %e, "cannot serve a connection");
                        }
                    },
                    // The acceptor has stopped: the server is shutting down.
                    None => break,
                },
                // Finished connections are collected as they end, so the set holds only open ones.
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
                _ = self.stopped.wait_for(|s| *s) => break,
            }
        }
        loop {
            tokio::select! {
                _ = write_log.tick() => super::access_log::flush(),
                next = connections.join_next() => if next.is_none() { break },
            }
        }
        super::access_log::flush();
    }
}

/// What the watchdog looks at: requests started, and requests not yet answered.
#[derive(Debug, Default)]
pub struct Activity {
    started: AtomicU64,
    in_flight: AtomicUsize,
    /// Where the connection is served, when its loop keeps to a core.
    place: Option<Place>,
}

/// A connection's socket and the core of the loop serving it.
#[derive(Debug)]
struct Place {
    fd: std::os::fd::RawFd,
    core: usize,
    loads: Arc<[LoopLoad]>,
}

impl Activity {
    pub fn request_started(&self) {
        self.started.fetch_add(1, Ordering::Relaxed);
        self.in_flight.fetch_add(1, Ordering::Relaxed);
    }

    pub fn request_answered(&self) {
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
    }

    /// Whether the client should open a new connection: its packets now arrive on another core
    /// (the client moved there), whose loop is no busier than this one. A new connection goes to
    /// that loop. Looked at every 32nd request: one system call, rarely.
    pub fn client_moved(&self) -> bool {
        let Some(place) = &self.place else {
            return false;
        };
        if self.started.load(Ordering::Relaxed) % 32 != 0 {
            return false;
        }
        let Some(now) = placement::incoming_core(place.fd) else {
            return false;
        };
        if now == place.core {
            return false;
        }
        let load = |core: usize| {
            place
                .loads
                .iter()
                .find(|l| l.core == Some(core))
                .map(|l| l.open.load(Ordering::Relaxed))
        };
        matches!((load(now), load(place.core)), (Some(theirs), Some(mine)) if theirs <= mine)
    }
}

/// Serves one connection to its end.
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    front: FrontDoor,
    mut stopped: watch::Receiver<bool>,
    idle: Duration,
    place: Option<Place>,
) {
    // Responses are written whole; waiting to fill a packet would only delay them.
    let _ = stream.set_nodelay(true);
    let activity = Arc::new(Activity {
        place,
        ..Activity::default()
    });
    let service = front.connection(peer, activity.clone());
    let mut conn =
        hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service);
    // Looked at twice per `idle`: closed when nothing started across a whole look.
    let mut watchdog = tokio::time::interval((idle / 2).max(Duration::from_millis(1)));
    watchdog.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    watchdog.tick().await;
    let mut seen = 0;
    let mut quiet_looks = 0;
    let mut closing = false;
    loop {
        tokio::select! {
            _ = std::future::poll_fn(|cx| conn.poll_without_shutdown(cx)) => break,
            _ = watchdog.tick() => {
                let started = activity.started.load(Ordering::Relaxed);
                let busy = activity.in_flight.load(Ordering::Relaxed) > 0;
                if started != seen || busy {
                    seen = started;
                    quiet_looks = 0;
                    continue;
                }
                quiet_looks += 1;
                if closing {
                    // Asked to close and still here (a client that stopped reading, or half a
                    // request never finished): let it go.
                    return;
                }
                if quiet_looks >= 2 {
                    std::pin::Pin::new(&mut conn).graceful_shutdown();
                    closing = true;
                }
            }
            _ = stopped.wait_for(|s| *s), if !closing => {
                std::pin::Pin::new(&mut conn).graceful_shutdown();
                closing = true;
            }
        }
    }
    linger(conn.into_parts().io.into_inner()).await;
}

/// Closes a connection the way that lets the client read our last answer.
///
/// When we close while the client is still sending (a body refused as too large, say), unread
/// bytes make the system reset the connection, and a reset can destroy the answer before the
/// client reads it. So the sending side is closed first, and what still arrives is read and
/// dropped until the client closes too, for a few seconds at most.
async fn linger(mut stream: TcpStream) {
    const AT_MOST: Duration = Duration::from_secs(5);
    const QUIET: Duration = Duration::from_secs(1);
    const DISCARD_AT_MOST: usize = 1 << 20;
    if stream.shutdown().await.is_err() {
        return;
    }
    let until = tokio::time::Instant::now() + AT_MOST;
    let mut discarded = 0;
    let mut sink = [0u8; 4096];
    while discarded < DISCARD_AT_MOST {
        let wait = QUIET.min(until.saturating_duration_since(tokio::time::Instant::now()));
        match tokio::time::timeout(wait, stream.read(&mut sink)).await {
            Ok(Ok(n)) if n > 0 => discarded += n,
            _ => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::choice;

    #[test]
    fn a_connection_goes_to_the_loop_on_its_core() {
        let loops = [(Some(0), 10), (Some(1), 10)];
        assert_eq!(choice(&loops, Some(1)), Some(1));
        assert_eq!(choice(&loops, Some(0)), Some(0));
    }

    #[test]
    fn unless_that_loop_is_clearly_busier() {
        // Within the slack: locality wins.
        assert_eq!(choice(&[(Some(0), 19), (Some(1), 10)], Some(0)), Some(0));
        // Past it: the least busy loop.
        assert_eq!(choice(&[(Some(0), 20), (Some(1), 10)], Some(0)), Some(1));
        // The slack grows with the load, by an eighth.
        assert_eq!(choice(&[(Some(0), 908), (Some(1), 800)], Some(0)), Some(0));
        assert_eq!(choice(&[(Some(0), 909), (Some(1), 800)], Some(0)), Some(1));
    }

    #[test]
    fn without_a_core_the_least_busy_loop() {
        let loops = [(None, 3), (None, 1), (None, 2)];
        assert_eq!(choice(&loops, None), Some(1));
        assert_eq!(choice(&loops, Some(0)), Some(1), "no loop keeps to core 0");
        let pinned = [(Some(0), 3), (Some(1), 1)];
        assert_eq!(choice(&pinned, Some(7)), Some(1), "a core with no loop");
        assert_eq!(choice(&[], Some(0)), None);
    }
}
