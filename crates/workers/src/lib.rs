//! The background work of one server, started and stopped together.
//!
//! The outbox, the reminder worker, the hourly housekeeping, the visit-count flusher, the poll
//! for changes saved on other servers, certificate renewal and the reload on `SIGHUP` all run
//! here. Each does its work between waits and looks at the stop signal only while it waits, so
//! at shutdown a round in progress (an email being handed to the SMTP server, a batch of counts
//! being written) finishes, and [`Workers::stop`] returns once every worker has ended.
//!
//! A crate of its own, on the runtime only, so that the mail and the web can both run their
//! workers here without one depending on the other: it must never know what a worker does.

use std::future::Future;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// The server's background workers.
#[derive(Clone, Default)]
pub struct Workers {
    tracker: TaskTracker,
    stop: CancellationToken,
}

impl Workers {
    pub fn new() -> Workers {
        Workers::default()
    }

    /// The signal a worker waits on beside its own wait, to end at its next pause.
    pub fn stopping(&self) -> CancellationToken {
        self.stop.clone()
    }

    /// Runs `work`, which ends by itself once [`Workers::stopping`] is cancelled.
    pub fn spawn(&self, work: impl Future<Output = ()> + Send + 'static) {
        self.tracker.spawn(work);
    }

    /// Runs `round` every `period` (the first at once), until stopped.
    pub fn every<F, R>(&self, period: Duration, mut round: F)
    where
        F: FnMut() -> R + Send + 'static,
        R: Future<Output = ()> + Send,
    {
        let stop = self.stop.clone();
        self.tracker.spawn(async move {
            let mut tick = tokio::time::interval(period);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    () = stop.cancelled() => break,
                    _ = tick.tick() => {}
                }
                round().await;
            }
        });
    }

    /// Tells every worker to stop at its next wait, and waits until all have.
    pub async fn stop(&self) {
        self.stop.cancel();
        self.tracker.close();
        self.tracker.wait().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test]
    async fn a_round_in_progress_finishes_and_stop_waits_for_it() {
        let workers = Workers::new();
        let (started_tx, started) = tokio::sync::oneshot::channel::<()>();
        let (release, released) = tokio::sync::oneshot::channel::<()>();
        let finished = Arc::new(AtomicU32::new(0));
        let counted = finished.clone();
        let mut pending = Some((started_tx, released));
        workers.every(Duration::from_secs(3600), move || {
            let counted = counted.clone();
            let step = pending.take();
            async move {
                if let Some((started_tx, released)) = step {
                    let _ = started_tx.send(());
                    let _ = released.await;
                }
                counted.fetch_add(1, Ordering::SeqCst);
            }
        });
        started.await.expect("the first round starts at once");
        let mut stopping = tokio::spawn({
            let workers = workers.clone();
            async move { workers.stop().await }
        });
        // The round is held in progress: stop does not return while it is.
        assert!(
            tokio::time::timeout(Duration::from_millis(100), &mut stopping)
                .await
                .is_err(),
            "stop returned while a round was in progress"
        );
        release.send(()).expect("the round waits");
        stopping.await.expect("stopped");
        assert_eq!(
            finished.load(Ordering::SeqCst),
            1,
            "the round finished, none began after"
        );
    }
}
