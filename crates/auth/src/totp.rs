//! Two-factor sign-in: time-based one-time codes (RFC 6238) and single-use recovery codes.
//!
//! A code is accepted for the current 30-second step and one step either side (clock drift),
//! and never twice: the last step used is remembered per account, so a code seen over someone's
//! shoulder cannot be replayed. Recovery codes are random, shown once, and stored as SHA-256
//! hashes (they are long and random, so a fast hash is enough).

use jiff::Timestamp;
use qrcode::QrCode;
use qrcode::render::svg;
use sha2::{Digest, Sha256};
use totp_rs::{Algorithm, TOTP};

/// The length of a new secret in bytes (160 bits, as RFC 4226 recommends).
const SECRET_LEN: usize = 20;
const STEP: u64 = 30;

/// A new random secret.
pub fn new_secret() -> Vec<u8> {
    crypto::random::bytes::<SECRET_LEN>().to_vec()
}

fn totp(secret: &[u8], issuer: &str, account: &str) -> Option<TOTP> {
    let issuer = issuer.replace(':', " ");
    let account = account.replace(':', " ");
    TOTP::new(
        Algorithm::SHA1,
        6,
        1,
        STEP,
        secret.to_vec(),
        Some(issuer),
        account,
    )
    .ok()
}

/// The `otpauth://` URL an authenticator app reads from the QR code.
pub fn otpauth_url(secret: &[u8], issuer: &str, account: &str) -> Option<String> {
    totp(secret, issuer, account).map(|t| t.get_url())
}

/// The secret in base32, for typing into an app by hand.
pub fn secret_base32(secret: &[u8], issuer: &str, account: &str) -> Option<String> {
    totp(secret, issuer, account).map(|t| t.get_secret_base32())
}

/// The QR code of `url` as inline SVG (no XML declaration), dark on light.
pub fn qr_svg(url: &str) -> Option<String> {
    let code = QrCode::new(url.as_bytes()).ok()?;
    let image = code
        .render::<svg::Color>()
        .min_dimensions(220, 220)
        .dark_color(svg::Color("#000000"))
        .light_color(svg::Color("#ffffff"))
        .build();
    let start = image.find("<svg")?;
    Some(image[start..].replacen(
        "<svg ",
        "<svg role=\"img\" aria-label=\"QR code for your authenticator app\" ",
        1,
    ))
}

/// The step a valid, not yet used `code` belongs to.
pub fn verify(
    secret: &[u8],
    code: &str,
    now: Timestamp,
    last_used_step: Option<i64>,
) -> Option<i64> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != 6 || !code.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let t = totp(secret, "kap-practice", "account")?;
    let now = u64::try_from(now.as_second()).ok()?;
    let current = now / STEP;
    [current.saturating_sub(1), current, current + 1]
        .into_iter()
        .filter(|step| {
            last_used_step.is_none_or(|last| i64::try_from(*step).is_ok_and(|s| s > last))
        })
        .find(|step| {
            let generated = t.generate(step * STEP);
            crypto::equal(generated.as_bytes(), code.as_bytes())
        })
        .and_then(|step| i64::try_from(step).ok())
}

/// The current code (for tests and for showing that enrolment works).
pub fn current_code(secret: &[u8], now: Timestamp) -> Option<String> {
    let t = totp(secret, "kap-practice", "account")?;
    Some(t.generate(u64::try_from(now.as_second()).ok()?))
}

/// Ten new recovery codes, like `k7f3q-m2xwd`.
pub fn new_recovery_codes() -> Vec<String> {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    (0..10)
        .map(|_| {
            let bytes: [u8; 10] = crypto::random::bytes();
            let chars: String = bytes
                .iter()
                .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
                .collect();
            format!("{}-{}", &chars[..5], &chars[5..])
        })
        .collect()
}

/// How a recovery code is stored: the SHA-256 of its normalised form.
pub fn recovery_code_hash(code: &str) -> String {
    let normal: String = code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    crypto::hex::hex(&Sha256::digest(normal.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_verify_once_within_the_window() {
        let secret = new_secret();
        let now = Timestamp::from_second(1_800_000_000).expect("ts");
        let code = current_code(&secret, now).expect("code");
        let step = verify(&secret, &code, now, None).expect("valid");
        assert_eq!(verify(&secret, &code, now, Some(step)), None, "not twice");
        assert!(
            verify(
                &secret,
                &code,
                now + jiff::SignedDuration::from_secs(30),
                None
            )
            .is_some(),
            "one step of drift"
        );
        assert_eq!(
            verify(
                &secret,
                &code,
                now + jiff::SignedDuration::from_secs(120),
                None
            ),
            None
        );
        assert_eq!(verify(&secret, "12345", now, None), None);
        assert_eq!(verify(&secret, "abcdef", now, None), None);
    }

    #[test]
    fn enrolment_material() {
        let secret = new_secret();
        let url = otpauth_url(&secret, "Clearwater: Psychotherapy", "a@b.c").expect("url");
        assert!(url.starts_with("otpauth://totp/"), "{url}");
        let svg = qr_svg(&url).expect("svg");
        assert!(svg.starts_with("<svg role=\"img\""), "{svg:.80}");
        assert!(!svg.contains("style"));
    }

    #[test]
    fn recovery_codes_are_random_and_normalised() {
        let codes = new_recovery_codes();
        assert_eq!(codes.len(), 10);
        assert_ne!(codes[0], codes[1]);
        assert_eq!(
            recovery_code_hash("ABCDE-fghjk"),
            recovery_code_hash(" abcde fghjk ")
        );
    }
}
