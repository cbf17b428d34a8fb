//! Signed form tokens: when a form was served, so that bots that post too fast, replay an old
//! form, or forge one can be told apart from people.
//!
//! A token is `issued-at (8 bytes) | random (8 bytes) | HMAC-SHA256 (16 bytes)`, hex-encoded.
//! The HMAC key is derived from the data key, so every server that shares the data key accepts
//! the others' tokens. Tokens hold nothing about the visitor.

use hmac::{Hmac, Mac};
use jiff::{SignedDuration, Timestamp};
use sha2::Sha256;

use crate::store::sealed::{hex, unhex};

const MAC_LEN: usize = 16;
const PAYLOAD_LEN: usize = 16;

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
    key: [u8; 32],
}

impl FormTokens {
    pub fn new(key: [u8; 32]) -> Self {
        FormTokens { key }
    }

    fn mac(&self, payload: &[u8]) -> [u8; MAC_LEN] {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(b"kap-practice form token v1:");
        mac.update(payload);
        let full = mac.finalize().into_bytes();
        let mut out = [0u8; MAC_LEN];
        out.copy_from_slice(&full[..MAC_LEN]);
        out
    }

    /// A token for a form served at `now`.
    pub fn issue(&self, now: Timestamp) -> String {
        let mut payload = [0u8; PAYLOAD_LEN];
        payload[..8].copy_from_slice(&now.as_millisecond().to_be_bytes());
        let _ = getrandom::getrandom(&mut payload[8..]);
        let mac = self.mac(&payload);
        let mut token = hex(&payload);
        token.push_str(&hex(&mac));
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
        if bytes.len() != PAYLOAD_LEN + MAC_LEN {
            return Err(TokenError::Forged);
        }
        let (payload, mac) = bytes.split_at(PAYLOAD_LEN);
        let expected = self.mac(payload);
        // Constant-time comparison.
        if mac
            .iter()
            .zip(expected.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            != 0
        {
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
        let t = FormTokens::new([7; 32]);
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
        let t = FormTokens::new([7; 32]);
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
        let t = FormTokens::new([7; 32]);
        let other = FormTokens::new([8; 32]);
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
