//! Sign-in throttling: repeated failures slow down, then pause sign-in for a while.
//!
//! Failures are counted per typed email (whether or not such an account exists, so the answer
//! reveals nothing) and per client address (an IPv6 client counts as its /64), over a 15-minute
//! window, in the database so that every server sees the same counts. From the third failure
//! each attempt waits a little longer. At twenty from one address, sign-in from it pauses for
//! 15 minutes after the last failure. At five for an email the account pauses, but not for its
//! owner: the right password with a valid second factor still signs in, so strangers' wrong
//! guesses cannot lock the clinician out (an account without a second factor waits like
//! everyone else). The failure that starts a pause says so in the audit log; attempts refused
//! while paused write nothing, and a per-address limit in memory ([`ATTEMPTS_PER_MINUTE`])
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
    /// The account is paused until then, but not the address: only the right password with a
    /// second factor gets in (the owner, not whoever tried five passwords).
    AccountPaused(Timestamp),
}

/// The subject under which failures for a typed email are counted.
pub fn account_subject(email: &str) -> String {
    format!("account:{}", super::email_key(email))
}

/// The subject under which failures from one client are counted: `client` is its key as every
/// limit counts it (`web::client::ClientKey`: an IPv4 address, or an IPv6 address's /64).
pub fn address_subject(client: impl std::fmt::Display) -> String {
    format!("ip:{client}")
}

fn paused_until(f: Failures, limit: i64, now: Timestamp) -> Option<Timestamp> {
    let latest = f.latest.filter(|_| f.count >= limit)?;
    let until = latest.checked_add(LOCK_FOR).unwrap_or(latest);
    (until > now).then_some(until)
}

pub fn verdict(account: Failures, address: Failures, now: Timestamp) -> Verdict {
    if let Some(until) = paused_until(address, ADDRESS_LIMIT, now) {
        return Verdict::Locked(until);
    }
    if let Some(until) = paused_until(account, ACCOUNT_LIMIT, now) {
        return Verdict::AccountPaused(until);
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
        assert_eq!(verdict(five, none, at(60)), Verdict::AccountPaused(at(900)));
        assert_eq!(
            verdict(five, none, at(901)),
            Verdict::Allow(Duration::from_secs(2))
        );
        let many = Failures {
            count: 20,
            latest: Some(at(0)),
        };
        assert_eq!(verdict(none, many, at(10)), Verdict::Locked(at(900)));
        assert_eq!(verdict(five, many, at(10)), Verdict::Locked(at(900)));
    }
}
