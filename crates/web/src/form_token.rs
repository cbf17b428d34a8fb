//! Signed form tokens: when a form was served, so that bots that post too fast, replay an old
//! form, or forge one can be told apart from people.
//!
//! A token is `issued-at (8 bytes) | random (8 bytes) | HMAC-SHA256 (16 bytes)`, hex-encoded.
//! The HMAC key is derived from the data key, so every server that shares the data key accepts
//! the others' tokens. Tokens hold nothing about the visitor.

use jiff::{SignedDuration, Timestamp};

use crypto::hex::{hex, unhex};
use crypto::{Keyring, Signer, TAG_LEN};

const PAYLOAD_LEN: usize = 16;
/// What the tokens' signing key is derived for, and the label signed with each token.
const PURPOSE: &str = "form-token";
const LABEL: &str = "kap-practice form token v1:";

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenError {
    /// Missing, malformed, or signed by someone else.
    Forged,
    /// Older than the allowed age.
    Expired,
}

/// Issues and checks tokens.
#[derive(Clone)]
pub struct FormTokens {
    signer: Signer,
}

impl FormTokens {
    /// The tokens of the servers sharing these data keys.
    pub fn new(keys: &Keyring) -> Self {
        FormTokens {
            signer: keys.signer(PURPOSE, LABEL),
        }
    }

    /// Tokens signed with one given key (tests and tools).
    pub fn with_key(key: [u8; 32]) -> Self {
        FormTokens {
            signer: Signer::new(key, LABEL),
        }
    }

    /// A token for a form served at `now`.
    pub fn issue(&self, now: Timestamp) -> String {
        let mut payload = [0u8; PAYLOAD_LEN];
        payload[..8].copy_from_slice(&now.as_millisecond().to_be_bytes());
        crypto::random::fill(&mut payload[8..]);
        let mut token = hex(&payload);
        token.push_str(&hex(&self.signer.sign(&payload)));
        token
    }

    /// How long ago the token's form was served, if the token is genuine and young enough.
    pub fn verify(
        &self,
        token: &str,
        now: Timestamp,
        max_age: SignedDuration,
    ) -> Result<SignedDuration, TokenError> {
        let bytes = unhex(token.trim()).ok_or(TokenError::Forged)?;
        if bytes.len() != PAYLOAD_LEN + TAG_LEN {
            return Err(TokenError::Forged);
        }
        let (payload, tag) = bytes.split_at(PAYLOAD_LEN);
        if !self.signer.verify(payload, tag) {
            return Err(TokenError::Forged);
        }
        let mut issued = [0u8; 8];
        issued.copy_from_slice(&payload[..8]);
        let issued = Timestamp::from_millisecond(i64::from_be_bytes(issued))
            .map_err(|_| TokenError::Forged)?;
        let age = now.duration_since(issued);
        if age < SignedDuration::from_secs(-60) {
            // Served in the future: clocks between servers may differ a little, not this much.
            return Err(TokenError::Forged);
        }
        if age > max_age {
            return Err(TokenError::Expired);
        }
        Ok(age.max(SignedDuration::ZERO))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn genuine_tokens_report_their_age() {
        let t = FormTokens::with_key([7; 32]);
        let now = Timestamp::from_second(1_800_000_000).expect("ts");
        let token = t.issue(now);
        let later = now + SignedDuration::from_secs(10);
        assert_eq!(
            t.verify(&token, later, SignedDuration::from_mins(60)),
            Ok(SignedDuration::from_secs(10))
        );
        assert_eq!(
            t.verify(
                &token,
                now + SignedDuration::from_mins(61),
                SignedDuration::from_mins(60)
            ),
            Err(TokenError::Expired)
        );
    }

    #[test]
    fn a_token_has_one_spelling() {
        // Found by fuzzing: "+0" used to decode like "00", so a genuine token could be rewritten.
        let t = FormTokens::with_key([7; 32]);
        let now = Timestamp::from_second(1_800_000_000).expect("ts");
        let max = SignedDuration::from_mins(60);
        let token = t.issue(now);
        for i in (0..token.len()).step_by(2) {
            if &token[i..i + 1] == "0" {
                let rewritten = format!("{}+{}", &token[..i], &token[i + 1..]);
                assert_eq!(
                    t.verify(&rewritten, now, max),
                    Err(TokenError::Forged),
                    "{rewritten}"
                );
            }
        }
    }

    #[test]
    fn forgeries_are_refused() {
        let t = FormTokens::with_key([7; 32]);
        let other = FormTokens::with_key([8; 32]);
        let now = Timestamp::from_second(1_800_000_000).expect("ts");
        let max = SignedDuration::from_mins(60);
        assert_eq!(
            t.verify(&other.issue(now), now, max),
            Err(TokenError::Forged)
        );
        assert_eq!(t.verify("", now, max), Err(TokenError::Forged));
        assert_eq!(t.verify("zz", now, max), Err(TokenError::Forged));
        let mut token = t.issue(now).into_bytes();
        token[3] = if token[3] == b'0' { b'1' } else { b'0' };
        assert_eq!(
            t.verify(&String::from_utf8(token).expect("ascii"), now, max),
            Err(TokenError::Forged)
        );
    }
}
