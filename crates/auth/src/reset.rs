//! Password reset links: how an account's owner who forgot the password chooses a new one from
//! the browser.
//!
//! The link carries a token: the account's id and an expiry, signed with HMAC-SHA256 under a key
//! derived from the data key, the signature also covering the account's credentials stamp. The
//! stamp changes whenever the password or two-factor sign-in changes, so a link works once (the
//! reset it makes changes the stamp) and not after any other change; it also lasts only
//! [`RESET_LIFETIME`]. The token names no one: no address, no name.
//!
//! The token is [`super::token`]'s, of version 1, bound to the account's credentials stamp.

use jiff::{SignedDuration, Timestamp};

use super::token::{self, Tokens};
use crypto::Keyring;

const VERSION: u8 = 1;
const PURPOSE: &str = "password-reset";
const LABEL: &str = "kap-practice password reset:";

/// How long a reset link works.
pub const RESET_LIFETIME: SignedDuration = SignedDuration::from_mins(30);

/// Signs and reads reset links.
pub struct ResetTokens {
    tokens: Tokens,
}

/// A token as presented: the account it claims to be for, not yet checked.
#[derive(Clone, Copy, Debug)]
pub struct Presented(token::Presented);

impl Presented {
    /// The account the token claims to be for (not yet proven).
    pub fn account_id(&self) -> i64 {
        self.0.id()
    }
}

impl ResetTokens {
    pub fn new(keys: &Keyring) -> Self {
        ResetTokens {
            tokens: Tokens::new(keys.signer(PURPOSE, LABEL), VERSION),
        }
    }

    /// A token for account `account_id` as its credentials stand now (`stamp`), until `expires`.
    pub fn issue(&self, account_id: i64, stamp: &str, expires: Timestamp) -> String {
        self.tokens.issue(account_id, stamp, expires)
    }

    /// Reads a token's claim, or `None` for one that is not even well formed.
    pub fn read(&self, token: &str) -> Option<Presented> {
        self.tokens.read(token).map(Presented)
    }

    /// Whether `presented` was signed for its account as it stands now (`stamp`) and has not
    /// expired at `now`.
    pub fn valid(&self, presented: &Presented, stamp: &str, now: Timestamp) -> bool {
        self.tokens.signed_for(&presented.0, stamp)
            && now.as_millisecond() < presented.0.expires_ms()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens() -> ResetTokens {
        ResetTokens {
            tokens: Tokens::new(crypto::Signer::new([7; 32], LABEL), VERSION),
        }
    }

    #[test]
    fn a_link_works_for_its_account_as_it_stands_until_it_expires() {
        let t = tokens();
        let now = Timestamp::from_second(1_800_000_000).expect("ts");
        let token = t.issue(42, "stamp-a", now + RESET_LIFETIME);
        let p = t.read(&token).expect("well formed");
        assert_eq!(p.account_id(), 42);
        assert!(t.valid(&p, "stamp-a", now));
        assert!(
            !t.valid(&p, "stamp-b", now),
            "not after the credentials changed"
        );
        assert!(
            !t.valid(&p, "stamp-a", now + RESET_LIFETIME),
            "not once expired"
        );
        let mut altered = token.clone();
        altered.replace_range(2..4, "ff");
        let q = t.read(&altered).expect("well formed");
        assert!(!t.valid(&q, "stamp-a", now));
        assert!(t.read("not a token").is_none());
    }
}
