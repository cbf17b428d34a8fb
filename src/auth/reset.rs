//! Password reset links: how an account's owner who forgot the password chooses a new one from
//! the browser.
//!
//! The link carries a token: the account's id and an expiry, signed with HMAC-SHA256 under a key
//! derived from the data key, the signature also covering the account's credentials stamp. The
//! stamp changes whenever the password or two-factor sign-in changes, so a link works once (the
//! reset it makes changes the stamp) and not after any other change; it also lasts only
//! [`RESET_LIFETIME`]. The token names no one: no address, no name.
//!
//! Layout, hex-encoded: `version (1) | account id (8) | expiry, ms since 1970 (8) | HMAC (16)`.

use jiff::{SignedDuration, Timestamp};

use crate::crypto::hex::{hex, unhex};
use crate::crypto::{Keyring, Signer, TAG_LEN};

const VERSION: u8 = 1;
const PAYLOAD_LEN: usize = 17;
const PURPOSE: &str = "password-reset";
const LABEL: &str = "kap-practice password reset:";

/// How long a reset link works.
pub const RESET_LIFETIME: SignedDuration = SignedDuration::from_mins(30);

/// Signs and reads reset links.
pub struct ResetTokens {
    signer: Signer,
}

/// A token as presented: the account it claims to be for, not yet checked.
#[derive(Clone, Copy, Debug)]
pub struct Presented {
    payload: [u8; PAYLOAD_LEN],
    tag: [u8; TAG_LEN],
}

impl Presented {
    /// The account the token claims to be for (not yet proven).
    pub fn account_id(&self) -> i64 {
        let mut id = [0u8; 8];
        id.copy_from_slice(&self.payload[1..9]);
        i64::from_be_bytes(id)
    }

    fn expires_ms(&self) -> i64 {
        let mut at = [0u8; 8];
        at.copy_from_slice(&self.payload[9..17]);
        i64::from_be_bytes(at)
    }
}

impl ResetTokens {
    pub fn new(keys: &Keyring) -> Self {
        ResetTokens {
            signer: keys.signer(PURPOSE, LABEL),
        }
    }

    fn signed(payload: &[u8], stamp: &str) -> Vec<u8> {
        let mut v = payload.to_vec();
        v.extend_from_slice(stamp.as_bytes());
        v
    }

    /// A token for account `account_id` as its credentials stand now (`stamp`), until `expires`.
    pub fn issue(&self, account_id: i64, stamp: &str, expires: Timestamp) -> String {
        let mut payload = [0u8; PAYLOAD_LEN];
        payload[0] = VERSION;
        payload[1..9].copy_from_slice(&account_id.to_be_bytes());
        payload[9..17].copy_from_slice(&expires.as_millisecond().to_be_bytes());
        let tag = self.signer.sign(&Self::signed(&payload, stamp));
        format!("{}{}", hex(&payload), hex(&tag))
    }

    /// Reads a token's claim, or `None` for one that is not even well formed.
    pub fn read(&self, token: &str) -> Option<Presented> {
        let bytes = unhex(token)?;
        if bytes.len() != PAYLOAD_LEN + TAG_LEN || bytes[0] != VERSION {
            return None;
        }
        let mut payload = [0u8; PAYLOAD_LEN];
        payload.copy_from_slice(&bytes[..PAYLOAD_LEN]);
        let mut tag = [0u8; TAG_LEN];
        tag.copy_from_slice(&bytes[PAYLOAD_LEN..]);
        Some(Presented { payload, tag })
    }

    /// Whether `presented` was signed for its account as it stands now (`stamp`) and has not
    /// expired at `now`.
    pub fn valid(&self, presented: &Presented, stamp: &str, now: Timestamp) -> bool {
        self.signer
            .verify(&Self::signed(&presented.payload, stamp), &presented.tag)
            && now.as_millisecond() < presented.expires_ms()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens() -> ResetTokens {
        ResetTokens {
            signer: Signer::new([7; 32], LABEL),
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
