//! Random bytes from the operating system: the one source every key, secret, token, salt,
//! reference and recovery code is drawn from.
//!
//! A system that cannot give randomness stops the work at hand loudly (a panic, which the
//! server's panic catcher answers with an honest error page and a log line), never with a value
//! of zeros or a guessable fallback that would look like a secret.

/// `N` random bytes.
pub fn bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    fill(&mut out);
    out
}

/// Fills `buf` with random bytes.
pub fn fill(buf: &mut [u8]) {
    if let Err(e) = getrandom::getrandom(buf) {
        panic!("the operating system gave no random bytes ({e}): nothing secret can be made");
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn two_draws_differ_and_are_not_zero() {
        let (a, b) = (super::bytes::<32>(), super::bytes::<32>());
        assert_ne!(a, b);
        assert_ne!(a, [0u8; 32]);
    }
}
