//! The token the signed links carry (booking links, password reset links): a row's id and an
//! expiry, signed with HMAC-SHA256 together with a secret of that row that never leaves the
//! store (a request's link secret, an account's credentials stamp), so that a token opens only
//! that row as it stands.
//!
//! Layout, hex-encoded: `version (1) | id (8) | expiry, ms since 1970 (8) | HMAC (16)`, the HMAC
//! over the first three and the row's secret.

use jiff::Timestamp;

use crypto::hex::{hex, unhex};
use crypto::{Signer, TAG_LEN};

const PAYLOAD_LEN: usize = 17;

/// A token as presented: read, but not yet checked against its row's secret.
#[derive(Clone, Copy, Debug)]
pub struct Presented {
    payload: [u8; PAYLOAD_LEN],
    tag: [u8; TAG_LEN],
}

impl Presented {
    /// The row the token claims to be for (not yet proven).
    pub fn id(&self) -> i64 {
        be_i64(&self.payload[1..9])
    }

    /// When the token stops working, in milliseconds since 1970.
    pub fn expires_ms(&self) -> i64 {
        be_i64(&self.payload[9..])
    }
}

fn be_i64(bytes: &[u8]) -> i64 {
    let mut n = [0u8; 8];
    n.copy_from_slice(bytes);
    i64::from_be_bytes(n)
}

/// Issues and reads the tokens of one version, signed with one signer.
#[derive(Clone)]
pub struct Tokens {
    signer: Signer,
    version: u8,
}

impl Tokens {
    pub fn new(signer: Signer, version: u8) -> Self {
        Tokens { signer, version }
    }

    fn signed(payload: &[u8], secret: &str) -> Vec<u8> {
        let mut signed = Vec::with_capacity(payload.len() + secret.len());
        signed.extend_from_slice(payload);
        signed.extend_from_slice(secret.as_bytes());
        signed
    }

    /// A token for row `id` whose secret is `secret`, good until `expires`.
    pub fn issue(&self, id: i64, secret: &str, expires: Timestamp) -> String {
        let mut payload = [0u8; PAYLOAD_LEN];
        payload[0] = self.version;
        payload[1..9].copy_from_slice(&id.to_be_bytes());
        payload[9..].copy_from_slice(&expires.as_millisecond().to_be_bytes());
        let tag = self.signer.sign(&Self::signed(&payload, secret));
        format!("{}{}", hex(&payload), hex(&tag))
    }

    /// Reads a token of this version, or `None` for one that is not even well formed.
    pub fn read(&self, token: &str) -> Option<Presented> {
        let bytes = unhex(token)?;
        if bytes.len() != PAYLOAD_LEN + TAG_LEN || bytes[0] != self.version {
            return None;
        }
        let mut presented = Presented {
            payload: [0; PAYLOAD_LEN],
            tag: [0; TAG_LEN],
        };
        presented.payload.copy_from_slice(&bytes[..PAYLOAD_LEN]);
        presented.tag.copy_from_slice(&bytes[PAYLOAD_LEN..]);
        Some(presented)
    }

    /// Whether `presented` was signed for its row with `secret` (expired or not).
    pub fn signed_for(&self, presented: &Presented, secret: &str) -> bool {
        self.signer
            .verify(&Self::signed(&presented.payload, secret), &presented.tag)
    }
}
