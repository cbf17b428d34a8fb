//! Signed links: how a person comes back to their own consultation booking without an account.
//!
//! The link to choose, change or cancel a consultation time carries a token: the request's id
//! and an expiry, signed with HMAC-SHA256 under a key derived from the data key (so every server
//! sharing the data key accepts the others' links). The signature also covers the request's
//! link secret, 128 random bits stored with the request and never sent anywhere: a token names
//! one request row, not merely an id, so it opens nothing once that request is deleted, even if
//! an id were ever given again. The token names no person and holds nothing they wrote. A
//! guessed or altered token, or one for another request, is refused as [`LinkError::Forged`],
//! an old one as [`LinkError::Expired`]; pages say no more than that.
//!
//! Checking takes two steps because the secret lives in the store: [`LinkTokens::read`] gives
//! the request a token claims to be for, and [`LinkTokens::verify`] checks it against that
//! request's stored secret.
//!
//! The token is [`super::token`]'s, of version 2, bound to the request's link secret. Tokens of
//! version 1, signed without a secret, are refused.

use jiff::{SignedDuration, Timestamp};

use super::token::{self, Tokens};
use crypto::{Keyring, Signer};

const VERSION: u8 = 2;
/// The length of a link secret, in hex characters (128 bits).
pub const SECRET_LEN: usize = 32;
/// What the links' signing key is derived for, and the label signed with each link.
const PURPOSE: &str = "booking-link";
const LABEL: &str = "kap-practice booking link:";

/// How long a link lasts at least: the one on the thank-you page and in emails.
pub const LINK_LIFETIME: SignedDuration = SignedDuration::from_hours(30 * 24);

/// Why a link was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    /// Malformed, altered, signed with another key, or for another request.
    #[error("the link is not genuine")]
    Forged,
    #[error("the link has expired")]
    Expired,
}

/// A token as presented, read but not yet checked against its request's secret.
#[derive(Clone, Copy, Debug)]
pub struct Presented(token::Presented);

impl Presented {
    /// The request the token claims to be for (not yet proven).
    pub fn request_id(&self) -> i64 {
        self.0.id()
    }
}

/// Issues and checks the links.
#[derive(Clone)]
pub struct LinkTokens {
    tokens: Tokens,
}

impl LinkTokens {
    /// The links of the servers sharing these data keys.
    pub fn new(keys: &Keyring) -> Self {
        LinkTokens {
            tokens: Tokens::new(keys.signer(PURPOSE, LABEL), VERSION),
        }
    }

    /// Links signed with one given key (tests and tools).
    pub fn with_key(key: [u8; 32]) -> Self {
        LinkTokens {
            tokens: Tokens::new(Signer::new(key, LABEL), VERSION),
        }
    }

    /// A token for request `request_id` whose stored link secret is `link_secret`, good until
    /// `expires`.
    pub fn issue(&self, request_id: i64, link_secret: &str, expires: Timestamp) -> String {
        self.tokens.issue(request_id, link_secret, expires)
    }

    /// Reads a token of the current version; which request it is for still needs
    /// [`LinkTokens::verify`].
    pub fn read(&self, token: &str) -> Result<Presented, LinkError> {
        self.tokens
            .read(token)
            .map(Presented)
            .ok_or(LinkError::Forged)
    }

    /// The request a genuine, unexpired token is for, given that request's stored link secret.
    pub fn verify(
        &self,
        presented: &Presented,
        link_secret: &str,
        now: Timestamp,
    ) -> Result<i64, LinkError> {
        // A request without a secret of the full length never has a genuine link.
        if link_secret.len() != SECRET_LEN || !self.tokens.signed_for(&presented.0, link_secret) {
            return Err(LinkError::Forged);
        }
        if now.as_millisecond() > presented.0.expires_ms() {
            return Err(LinkError::Expired);
        }
        Ok(presented.request_id())
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

    const SECRET: &str = "00112233445566778899aabbccddeeff";
    const OTHER: &str = "ffeeddccbbaa99887766554433221100";

    fn now() -> Timestamp {
        Timestamp::from_second(1_800_000_000).expect("ts")
    }

    fn check(t: &LinkTokens, token: &str, secret: &str, at: Timestamp) -> Result<i64, LinkError> {
        t.verify(&t.read(token)?, secret, at)
    }

    #[test]
    fn a_link_names_its_request_until_it_expires() {
        let t = LinkTokens::with_key([3; 32]);
        let until = now() + SignedDuration::from_hours(1);
        let token = t.issue(42, SECRET, until);
        assert_eq!(token.len(), 66);
        assert_eq!(t.read(&token).map(|p| p.request_id()), Ok(42));
        assert_eq!(check(&t, &token, SECRET, now()), Ok(42));
        assert_eq!(check(&t, &token, SECRET, until), Ok(42));
        assert_eq!(
            check(&t, &token, SECRET, until + SignedDuration::from_millis(1)),
            Err(LinkError::Expired)
        );
    }

    #[test]
    fn a_link_opens_only_the_request_with_its_secret() {
        let t = LinkTokens::with_key([3; 32]);
        let until = now() + SignedDuration::from_hours(1);
        let token = t.issue(42, SECRET, until);
        assert_eq!(check(&t, &token, OTHER, now()), Err(LinkError::Forged));
        assert_eq!(check(&t, &token, "", now()), Err(LinkError::Forged));
        // Even expired, a link for another request says only "not genuine".
        let later = until + SignedDuration::from_hours(1);
        assert_eq!(check(&t, &token, OTHER, later), Err(LinkError::Forged));
        // A link issued for a request without a secret opens nothing.
        let bare = t.issue(42, "", until);
        assert_eq!(check(&t, &bare, "", now()), Err(LinkError::Forged));
    }

    #[test]
    fn links_of_the_first_version_are_refused() {
        let t = LinkTokens::with_key([3; 32]);
        let until = now() + SignedDuration::from_hours(1);
        // Version 1 signed the id and expiry alone: as a secret-less token of that version.
        let first = Tokens::new(Signer::new([3; 32], LABEL), 1);
        let old = first.issue(42, "", until);
        assert_eq!(t.read(&old).map(|p| p.request_id()), Err(LinkError::Forged));
    }

    #[test]
    fn altered_or_foreign_links_are_forged() {
        let t = LinkTokens::with_key([3; 32]);
        let until = now() + SignedDuration::from_hours(1);
        let token = t.issue(42, SECRET, until);
        assert_eq!(
            check(&LinkTokens::with_key([4; 32]), &token, SECRET, now()),
            Err(LinkError::Forged)
        );
        for i in 0..token.len() {
            let mut bytes = token.clone().into_bytes();
            bytes[i] = if bytes[i] == b'0' { b'1' } else { b'0' };
            let altered = String::from_utf8(bytes).expect("ascii");
            assert_eq!(
                check(&t, &altered, SECRET, now()),
                Err(LinkError::Forged),
                "{i}"
            );
        }
        assert_eq!(check(&t, "", SECRET, now()), Err(LinkError::Forged));
        assert_eq!(
            check(&t, &token[..64], SECRET, now()),
            Err(LinkError::Forged)
        );
        assert_eq!(
            check(&t, &format!("{token}00"), SECRET, now()),
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
