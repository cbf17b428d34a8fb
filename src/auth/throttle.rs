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

use std::net::{IpAddr, Ipv6Addr};
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

/// The address that limits count against: an IPv4 address, or an IPv6 address's /64 (one
/// household or server is given a whole /64, so single IPv6 addresses cost nothing to change).
pub fn address_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

pub fn address_subject(ip: IpAddr) -> String {
    match address_key(ip) {
        IpAddr::V4(v4) => format!("ip:{v4}"),
        IpAddr::V6(v6) => format!("ip:{v6}/64"),
    }
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

    #[test]
    fn an_ipv6_slash_64_is_one_address() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().expect("ip");
        let b: IpAddr = "2001:db8:1:2:ffff:1:2:3".parse().expect("ip");
        let c: IpAddr = "2001:db8:1:3::1".parse().expect("ip");
        assert_eq!(address_subject(a), address_subject(b));
        assert_eq!(address_subject(a), "ip:2001:db8:1:2::/64");
        assert_ne!(address_subject(a), address_subject(c));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().expect("ip");
        assert_eq!(address_subject(mapped), "ip:192.0.2.7");
        assert_eq!(
            address_key(mapped),
            "192.0.2.7".parse::<IpAddr>().expect("ip")
        );
    }
}
