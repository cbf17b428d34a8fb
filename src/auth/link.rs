//! Signed links: how a person comes back to their own consultation booking without an account.
//!
//! The link to choose, change or cancel a consultation time carries a token: the request's id
//! and an expiry, signed with HMAC-SHA256 under a key derived from the data key (so every server
//! sharing the data key accepts the others' links). The token names no person and holds nothing
//! they wrote; it only says "request N, until T". A guessed or altered token is refused as
//! [`LinkError::Forged`], an old one as [`LinkError::Expired`]; pages say no more than that.
//!
//! Layout, hex-encoded: `version (1) | request id (8) | expiry, ms since 1970 (8) | HMAC (16)`.

use jiff::{SignedDuration, Timestamp};

use crate::crypto::hex::{hex, unhex};
use crate::crypto::{Keyring, Signer, TAG_LEN};

const VERSION: u8 = 1;
const PAYLOAD_LEN: usize = 17;
/// What the links' signing key is derived for, and the label signed with each link.
const PURPOSE: &str = "booking-link";
const LABEL: &str = "kap-practice booking link:";

/// How long a link lasts at least: the one on the thank-you page and in emails.
pub const LINK_LIFETIME: SignedDuration = SignedDuration::from_hours(30 * 24);

/// Why a link was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    /// Malformed, altered, or signed with another key.
    #[error("the link is not genuine")]
    Forged,
    #[error("the link has expired")]
    Expired,
}

/// Issues and checks the links.
#[derive(Clone)]
pub struct LinkTokens {
    signer: Signer,
}

impl LinkTokens {
    /// The links of the servers sharing these data keys.
    pub fn new(keys: &Keyring) -> Self {
        LinkTokens {
            signer: keys.signer(PURPOSE, LABEL),
        }
    }

    /// Links signed with one given key (tests and tools).
    pub fn with_key(key: [u8; 32]) -> Self {
        LinkTokens {
            signer: Signer::new(key, LABEL),
        }
    }

    /// A token for request `request_id`, good until `expires`.
    pub fn issue(&self, request_id: i64, expires: Timestamp) -> String {
        let mut payload = [0u8; PAYLOAD_LEN];
        payload[0] = VERSION;
        payload[1..9].copy_from_slice(&request_id.to_be_bytes());
        payload[9..].copy_from_slice(&expires.as_millisecond().to_be_bytes());
        let mut token = hex(&payload);
        token.push_str(&hex(&self.signer.sign(&payload)));
        token
    }

    /// The request a genuine, unexpired token is for.
    pub fn verify(&self, token: &str, now: Timestamp) -> Result<i64, LinkError> {
        let bytes = unhex(token).ok_or(LinkError::Forged)?;
        if bytes.len() != PAYLOAD_LEN + TAG_LEN {
            return Err(LinkError::Forged);
        }
        let (payload, tag) = bytes.split_at(PAYLOAD_LEN);
        if !self.signer.verify(payload, tag) || payload[0] != VERSION {
            return Err(LinkError::Forged);
        }
        let mut id = [0u8; 8];
        id.copy_from_slice(&payload[1..9]);
        let mut expires = [0u8; 8];
        expires.copy_from_slice(&payload[9..]);
        if now.as_millisecond() > i64::from_be_bytes(expires) {
            return Err(LinkError::Expired);
        }
        Ok(i64::from_be_bytes(id))
    }
}

/// When a link sent at `now` about a consultation ending at `end` (if any) stops working: after
/// [`LINK_LIFETIME`], or once the consultation is over if that is later.
pub fn expiry(now: Timestamp, end: Option<Timestamp>) -> Timestamp {
    let lifetime = now.checked_add(LINK_LIFETIME).unwrap_or(now);
    end.map_or(lifetime, |end| end.max(lifetime))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        Timestamp::from_second(1_800_000_000).expect("ts")
    }

    #[test]
    fn a_link_names_its_request_until_it_expires() {
        let t = LinkTokens::with_key([3; 32]);
        let until = now() + SignedDuration::from_hours(1);
        let token = t.issue(42, until);
        assert_eq!(token.len(), 66);
        assert_eq!(t.verify(&token, now()), Ok(42));
        assert_eq!(t.verify(&token, until), Ok(42));
        assert_eq!(
            t.verify(&token, until + SignedDuration::from_millis(1)),
            Err(LinkError::Expired)
        );
    }

    #[test]
    fn altered_or_foreign_links_are_forged() {
        let t = LinkTokens::with_key([3; 32]);
        let until = now() + SignedDuration::from_hours(1);
        let token = t.issue(42, until);
        assert_eq!(
            LinkTokens::with_key([4; 32]).verify(&token, now()),
            Err(LinkError::Forged)
        );
        for i in 0..token.len() {
            let mut bytes = token.clone().into_bytes();
            bytes[i] = if bytes[i] == b'0' { b'1' } else { b'0' };
            let altered = String::from_utf8(bytes).expect("ascii");
            assert_eq!(t.verify(&altered, now()), Err(LinkError::Forged), "{i}");
        }
        assert_eq!(t.verify("", now()), Err(LinkError::Forged));
        assert_eq!(t.verify(&token[..64], now()), Err(LinkError::Forged));
        assert_eq!(
            t.verify(&format!("{token}00"), now()),
            Err(LinkError::Forged)
        );
    }

    #[test]
    fn links_outlive_the_consultation() {
        let end = now() + SignedDuration::from_hours(24 * 90);
        assert_eq!(expiry(now(), Some(end)), end);
        assert_eq!(expiry(now(), None), now() + LINK_LIFETIME);
    }
}
