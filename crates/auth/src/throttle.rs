//! Sign-in throttling: repeated failures slow down, then pause sign-in for a while.
//!
//! Attempts are counted per typed email (whether or not such an account exists, so the answer
//! reveals nothing) and per client address (an IPv6 client counts as its /64), in the database
//! so that every server sees the same counts. An attempt is counted *before* its password or
//! code is checked, in one statement that also refuses it while its counter is paused: the
//! database hands out the attempts one by one, so attempts sent together cannot get past the
//! limit, and while a counter is paused nothing is checked at all — the right password gets the
//! same "paused" answer as a wrong one. A right answer gives its attempt back; a full sign-in
//! clears its email's count. From the third failure each attempt waits a little longer.
//!
//! **Per address**, the limit does the heavy lifting: at twenty failures within 15 minutes,
//! sign-in from that address pauses for 15 minutes, and a limit in each server's memory
//! ([`ATTEMPTS_PER_MINUTE`]) refuses a flood before it reaches the database.
//!
//! **Per account**, the pause only slows: at five failures in a row the email pauses for one
//! minute ([`ACCOUNT_PAUSE`]), then has five attempts again. Anyone who knows the clinician's
//! email can cause that pause, and while it lasts the owner cannot be told from a guesser (no
//! password is looked at, so a right one cannot open it). A long pause would let a stranger
//! keep the owner out for as long as they liked, above all an account without a second factor
//! (as every account is right after setup); a minute costs the owner little, and leaves a
//! guesser who spreads attempts over many addresses about five guesses a minute against a
//! password the strength check accepted (and a code besides, with two-factor sign-in).
//!
//! The attempt that begins a pause writes it in the audit log, exactly once; attempts refused
//! while paused write nothing.

use std::time::Duration;

use jiff::SignedDuration;

/// A run of failures that began longer ago than this is forgotten.
pub const WINDOW: SignedDuration = SignedDuration::from_mins(15);
/// Failures in a row for one email that pause it.
pub const ACCOUNT_LIMIT: i64 = 5;
/// How long an email's pause lasts (see the module's comment for why it is short).
pub const ACCOUNT_PAUSE: SignedDuration = SignedDuration::from_mins(1);
/// Failures from one address within [`WINDOW`] that pause it.
pub const ADDRESS_LIMIT: i64 = 20;
/// How long an address's pause lasts.
pub const ADDRESS_PAUSE: SignedDuration = SignedDuration::from_mins(15);
/// Attempts one address may make in a minute (a burst of this many, then one every few
/// seconds), counted in each server's memory before the database is touched, so a flood of
/// posts costs no writes.
pub const ATTEMPTS_PER_MINUTE: u32 = 10;

/// One count of attempts the database keeps: for an email or for an address.
pub use store::SignInCounter as Counter;

/// The counter for sign-in attempts with a typed email.
pub fn account(email: &str) -> Counter {
    Counter {
        subject: account_subject(email),
        limit: ACCOUNT_LIMIT,
        pause: ACCOUNT_PAUSE,
        window: WINDOW,
    }
}

/// The counter for sign-in attempts from a client: `client` is its key as every limit counts
/// it (`web::client::ClientKey`).
pub fn address(client: impl std::fmt::Display) -> Counter {
    Counter {
        subject: address_subject(client),
        limit: ADDRESS_LIMIT,
        pause: ADDRESS_PAUSE,
        window: WINDOW,
    }
}

/// The subject under which attempts with a typed email are counted.
pub fn account_subject(email: &str) -> String {
    format!("account:{}", super::email_key(email))
}

/// The subject under which failures from one client are counted: `client` is its key as every
/// limit counts it (`web::client::ClientKey`: an IPv4 address, or an IPv6 address's /64).
pub fn address_subject(client: impl std::fmt::Display) -> String {
    format!("ip:{client}")
}

/// How long an attempt waits before it is checked, given the counts its claim returned (this
/// attempt included) for its email and its address: nothing for the first two failures, then
/// half a second more for each, up to three seconds.
pub fn delay(account_attempts: i64, address_attempts: i64) -> Duration {
    let before = (account_attempts - 1).max((address_attempts - 1) / 4);
    if before >= 2 {
        Duration::from_millis(500 * u64::try_from(before - 1).unwrap_or(1))
            .min(Duration::from_secs(3))
    } else {
        Duration::ZERO
    }
}

/// Waits out the [`delay`] for the attempts counted so far: the account's, then the address's.
pub async fn slow_down(attempts: &[i64]) {
    let count = |i: usize| attempts.get(i).copied().unwrap_or(0);
    tokio::time::sleep(delay(count(0), count(1))).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_slow_down() {
        assert_eq!(delay(1, 1), Duration::ZERO);
        assert_eq!(delay(2, 2), Duration::ZERO);
        assert_eq!(delay(3, 1), Duration::from_millis(500));
        assert_eq!(delay(4, 1), Duration::from_millis(1000));
        assert_eq!(delay(1, 13), Duration::from_millis(1000));
        assert_eq!(delay(20, 1), Duration::from_secs(3));
    }

    #[test]
    fn an_accounts_pause_is_short_and_an_addresss_long() {
        let a = account("Clinician@Practice.example");
        assert_eq!(a.subject, "account:clinician@practice.example");
        assert!(a.pause <= SignedDuration::from_mins(1));
        let b = address("192.0.2.7");
        assert_eq!(b.subject, "ip:192.0.2.7");
        assert!(b.limit > a.limit && b.pause > a.pause);
    }
}
