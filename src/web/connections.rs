//! Open connections, and giving memory back after a burst of them.
//!
//! Each connection holds buffers while it is open; when a burst of connections ends, the
//! system allocator (glibc's) keeps the freed memory for reuse rather than returning it, so
//! the server would stay at its peak size. When the number of open connections has fallen well
//! below its recent peak, the freed memory is returned with `malloc_trim`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

/// How often the count is looked at.
const EVERY: Duration = Duration::from_secs(1);
/// Bursts smaller than this are not worth a trim.
const BURST: usize = 64;

/// The open connections, and the most open at once since the last look.
#[derive(Debug, Default)]
pub struct Connections {
    open: AtomicUsize,
    peak: AtomicUsize,
}

impl Connections {
    pub fn opened(&self) {
        let now = self.open.fetch_add(1, Ordering::Relaxed) + 1;
        self.peak.fetch_max(now, Ordering::Relaxed);
    }

    pub fn closed(&self) {
        self.open.fetch_sub(1, Ordering::Relaxed);
    }

    pub fn open(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }

    /// The peak since the last call, starting the next period at the current count.
    fn take_peak(&self) -> usize {
        self.peak.swap(self.open(), Ordering::Relaxed)
    }
}

/// Watches `connections` for as long as the server holds them; after a burst has ended,
/// returns the memory it used.
pub fn spawn_memory_return(connections: &Arc<Connections>) {
    let connections: Weak<Connections> = Arc::downgrade(connections);
    tokio::spawn(async move {
        let mut every = tokio::time::interval(EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut burst = 0;
        loop {
            every.tick().await;
            let Some(c) = connections.upgrade() else {
                return;
            };
            burst = burst.max(c.take_peak());
            if burst >= BURST && c.open() <= burst / 8 {
                return_freed_memory();
                burst = 0;
            }
        }
    });
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn return_freed_memory() {
    // SAFETY: malloc_trim has no preconditions and may be called from any thread at any time;
    // it only releases free memory held by the allocator.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn return_freed_memory() {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_open_connections_and_their_peak() {
        let c = Connections::default();
        for _ in 0..5 {
            c.opened();
        }
        c.closed();
        c.closed();
        assert_eq!(c.open(), 3);
        assert_eq!(c.take_peak(), 5);
        assert_eq!(
            c.take_peak(),
            3,
            "the next period starts at the current count"
        );
    }
}
