//! Sign-in throttling: repeated failures slow down, then lock for a while.
//!
//! Failures are counted per typed email (whether or not such an account exists, so the answer
//! reveals nothing) and per client address, over a 15-minute window, in the database so that
//! every server sees the same counts. From the third failure each attempt waits a little longer;
//! at five for an email, or twenty from one address, sign-in pauses for 15 minutes after the
//! last failure. The failure that starts a pause says so in the audit log; attempts refused
//! while paused write nothing, and a per-address limit in memory (see [`ATTEMPTS_PER_MINUTE`])
//! refuses a flood before it reaches the database.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

pub const WINDOW: SignedDuration = SignedDuration::from_mins(15);
pub const LOCK_FOR: SignedDuration = SignedDuration::from_mins(15);
pub const ACCOUNT_LIMIT: i64 = 5;
pub const ADDRESS_LIMIT: i64 = 20;
/// Attempts one address may make in a minute (a burst of this many, then one every few
/// seconds), counted in each server's memory before the database is touched, so a flood of
/// posts costs no writes.
pub const ATTEMPTS_PER_MINUTE: u32 = 10;

/// Failures in the window and when the latest was.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Failures {
    pub count: i64,
    pub latest: Option<Timestamp>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Go ahead, after waiting this long.
    Allow(Duration),
    /// Refused until then.
    Locked(Timestamp),
}

/// The subject under which failures for a typed email are counted.
pub fn account_subject(email: &str) -> String {
    format!("account:{}", email.trim().to_lowercase())
}

pub fn address_subject(ip: std::net::IpAddr) -> String {
    format!("ip:{ip}")
}

pub fn verdict(account: Failures, address: Failures, now: Timestamp) -> Verdict {
    for (f, limit) in [(account, ACCOUNT_LIMIT), (address, ADDRESS_LIMIT)] {
        if f.count >= limit
            && let Some(latest) = f.latest
        {
            let until = latest.checked_add(LOCK_FOR).unwrap_or(latest);
            if until > now {
                return Verdict::Locked(until);
            }
        }
    }
    let n = account.count.max(address.count / 4);
    let delay = if n >= 2 {
        Duration::from_millis(500 * u64::try_from(n - 1).unwrap_or(1)).min(Duration::from_secs(3))
    } else {
        Duration::ZERO
    };
    Verdict::Allow(delay)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + s).expect("ts")
    }

    #[test]
    fn failures_slow_down_then_lock() {
        let none = Failures::default();
        assert_eq!(verdict(none, none, at(0)), Verdict::Allow(Duration::ZERO));
        let three = Failures {
            count: 3,
            latest: Some(at(0)),
        };
        assert_eq!(
            verdict(three, none, at(1)),
            Verdict::Allow(Duration::from_millis(1000))
        );
        let five = Failures {
            count: 5,
            latest: Some(at(0)),
        };
        assert_eq!(verdict(five, none, at(60)), Verdict::Locked(at(900)));
        assert_eq!(
            verdict(five, none, at(901)),
            Verdict::Allow(Duration::from_secs(2))
        );
        let many = Failures {
            count: 20,
            latest: Some(at(0)),
        };
        assert_eq!(verdict(none, many, at(10)), Verdict::Locked(at(900)));
    }
}
