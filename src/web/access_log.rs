//! The access log: one line per request with its id, method, path (never the query string),
//! status and latency, in the same layout as every other log line.
//!
//! A busy site answers tens of thousands of requests a second, so the line is written without
//! the general logging machinery: it is formatted straight into a buffer of the thread that
//! answered the request, and an event loop writes its buffer out in one system call when it
//! holds a few kilobytes, every [`FLUSH_EVERY`], and when the loop ends. Other threads write
//! each line at once. Whether lines are written at all follows the log filter (`RUST_LOG`):
//! they are `INFO` lines of the target `access`.

use std::cell::RefCell;
use std::io::Write;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The longest an event loop holds a line before writing it.
pub const FLUSH_EVERY: Duration = Duration::from_millis(100);

/// Written out when the buffer holds this much: under `PIPE_BUF`, so that a write to a pipe
/// (journald, a log collector) is never interleaved with another writer's lines.
const FLUSH_AT: usize = 3584;

thread_local! {
    static LINES: RefCell<Lines> = const { RefCell::new(Lines::new()) };
}

/// One thread's lines not yet written, and the timestamp of the current second, formatted.
struct Lines {
    buf: Vec<u8>,
    /// Whether this thread flushes its lines itself (an event loop).
    held: bool,
    second: u64,
    stamp: [u8; 19],
}

impl Lines {
    const fn new() -> Self {
        Lines {
            buf: Vec::new(),
            held: false,
            second: u64::MAX,
            stamp: [0; 19],
        }
    }

    fn flush(&mut self) {
        if self.buf.is_empty() {
            return;
        }
        // A log that cannot be written (stderr closed) is not a reason to fail a request.
        let _ = std::io::stderr().lock().write_all(&self.buf);
        self.buf.clear();
    }

    /// `YYYY-MM-DDTHH:MM:SS.ffffffZ`, as the other log lines have it.
    fn timestamp(&mut self) {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let second = now.as_secs();
        if second != self.second {
            self.second = second;
            let text = i64::try_from(second)
                .ok()
                .and_then(|s| jiff::Timestamp::from_second(s).ok())
                .map(|t| t.strftime("%Y-%m-%dT%H:%M:%S").to_string())
                .unwrap_or_default();
            if text.len() == self.stamp.len() {
                self.stamp.copy_from_slice(text.as_bytes());
            }
        }
        self.buf.extend_from_slice(&self.stamp);
        self.buf.push(b'.');
        let micros = now.subsec_micros();
        let mut digits = [b'0'; 6];
        let mut n = micros;
        for d in digits.iter_mut().rev() {
            *d = b'0' + (n % 10) as u8;
            n /= 10;
        }
        self.buf.extend_from_slice(&digits);
        self.buf.push(b'Z');
    }
}

/// Logs one answered request (when the filter lets `access` `INFO` lines through).
pub fn record(id: u64, method: &str, path: &str, status: u16, latency_us: u64) {
    if !tracing::enabled!(target: "access", tracing::Level::INFO) {
        return;
    }
    LINES.with_borrow_mut(|lines| {
        lines.timestamp();
        let mut n = itoa::Buffer::new();
        let buf = &mut lines.buf;
        buf.extend_from_slice(b"  INFO request request_id=");
        buf.extend_from_slice(n.format(id).as_bytes());
        buf.extend_from_slice(b" method=");
        buf.extend_from_slice(method.as_bytes());
        buf.extend_from_slice(b" path=");
        buf.extend_from_slice(path.as_bytes());
        buf.extend_from_slice(b" status=");
        buf.extend_from_slice(n.format(status).as_bytes());
        buf.extend_from_slice(b" latency_us=");
        buf.extend_from_slice(n.format(latency_us).as_bytes());
        buf.push(b'\n');
        if !lines.held || lines.buf.len() >= FLUSH_AT {
            lines.flush();
        }
    });
}

/// From now on this thread holds its lines until [`flush`] (an event loop, which calls it).
pub fn hold_on_this_thread() {
    LINES.with_borrow_mut(|lines| lines.held = true);
}

/// Writes out this thread's lines.
pub fn flush() {
    LINES.with_borrow_mut(Lines::flush);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_timestamp_has_the_layout_of_the_other_lines() {
        let mut lines = Lines::new();
        lines.timestamp();
        let text = String::from_utf8(lines.buf.clone()).expect("ascii");
        assert_eq!(text.len(), 27, "{text}");
        assert!(text.starts_with("20") && text.ends_with('Z'), "{text}");
        assert_eq!(&text[10..11], "T");
        assert_eq!(&text[19..20], ".");
        let parsed: jiff::Timestamp = text.parse().expect("RFC 3339");
        let age = jiff::Timestamp::now().duration_since(parsed);
        assert!(age.as_secs() < 5, "{text}");
    }
}
