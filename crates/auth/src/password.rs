//! Passwords: the policy a new password must meet, and argon2id hashing.
//!
//! The policy follows NIST SP 800-63B: at least 12 characters, long passphrases welcome (up to
//! 1,024), no composition rules, and a check against common passwords, names and keyboard
//! patterns (zxcvbn, whose lists include the most common passwords). Hashes are argon2id with
//! OWASP's recommended parameters (19 MiB of memory, 2 iterations, 1 lane) and a random salt.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

pub const MIN_LEN: usize = 12;
pub const MAX_LEN: usize = 1024;

/// Why a new password is refused, in words for the person choosing it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordProblem {
    #[error(
        "the password must be at least 12 characters long (a few unrelated words make a good one)"
    )]
    TooShort,
    #[error("the password must be at most 1,024 characters long")]
    TooLong,
    #[error(
        "the password is too common or too easy to guess{0}: choose something less predictable, such as a few unrelated words"
    )]
    Guessable(String),
}

/// The argon2id instance with the parameters we store hashes with.
fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Checks a new password against the policy. `context` holds words that must not make it
/// guessable (the account's email, the practice's name).
pub fn check_policy(password: &str, context: &[&str]) -> Result<(), PasswordProblem> {
    let n = password.chars().count();
    if n < MIN_LEN {
        return Err(PasswordProblem::TooShort);
    }
    if n > MAX_LEN {
        return Err(PasswordProblem::TooLong);
    }
    // zxcvbn is slow on very long input and long passphrases are strong anyway.
    let sample: String = password.chars().take(100).collect();
    let estimate = zxcvbn::zxcvbn(&sample, context);
    if (estimate.score() as u8) < 3 {
        let hint = estimate
            .feedback()
            .and_then(|f| f.warning())
            .map(|w| format!(" ({})", w.to_string().trim_end_matches('.').to_lowercase()))
            .unwrap_or_default();
        return Err(PasswordProblem::Guessable(hint));
    }
    Ok(())
}

/// The PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`) for `password`.
pub fn hash(password: &str) -> Result<String, argon2::password_hash::Error> {
    let salt = SaltString::generate(&mut OsRng);
    Ok(argon2()
        .hash_password(password.as_bytes(), &salt)?
        .to_string())
}

/// Whether `password` matches the stored `hash`.
pub fn verify(password: &str, hash: &str) -> bool {
    match PasswordHash::new(hash) {
        Ok(parsed) => argon2()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// Verifies `password` against `hash`, or against a fixed hash when there is no account (so an
/// unknown account takes as long as a known one), on a thread for blocking work: argon2 takes
/// tens of milliseconds of CPU, which must not hold up the runtime threads serving other visitors.
pub async fn verify_aside(password: String, hash: Option<String>) -> bool {
    tokio::task::spawn_blocking(move || match hash {
        Some(hash) => verify(&password, &hash),
        None => {
            verify_dummy(&password);
            false
        }
    })
    .await
    .unwrap_or(false)
}

/// Verifies against a fixed hash, so an unknown account takes as long as a known one.
pub fn verify_dummy(password: &str) {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let h = DUMMY.get_or_init(|| hash("dummy password for timing").unwrap_or_default());
    let _ = verify(password, h);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_with_owasp_parameters() {
        let h = hash("correct horse battery staple").expect("hash");
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify("correct horse battery staple", &h));
        assert!(!verify("correct horse battery stapler", &h));
        assert!(!verify("x", "not a hash"));
    }

    #[test]
    fn the_policy_is_length_and_guessability_not_composition() {
        assert_eq!(check_policy("short", &[]), Err(PasswordProblem::TooShort));
        assert!(matches!(
            check_policy("password1234", &[]),
            Err(PasswordProblem::Guessable(_))
        ));
        assert!(matches!(
            check_policy("qwertyuiopasdf", &[]),
            Err(PasswordProblem::Guessable(_))
        ));
        assert!(matches!(
            check_policy("clearwaterclearwater", &["clearwater"]),
            Err(PasswordProblem::Guessable(_))
        ));
        assert_eq!(
            check_policy(&"x".repeat(1025), &[]),
            Err(PasswordProblem::TooLong)
        );
        // All lowercase, no digits or symbols: fine when it is not guessable.
        assert_eq!(check_policy("lantern orchard velvet tide", &[]), Ok(()));
        assert_eq!(
            check_policy(&"lantern orchard velvet tide ".repeat(30), &[]),
            Ok(())
        );
    }
}
