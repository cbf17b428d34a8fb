//! The `token` fuzz target's body, `check`: written once, run by libFuzzer (`cargo xtask fuzz`)
//! and by `cargo test` (see `tests/it/fuzz/mod.rs`).
//!
//! The signed form token: `FormTokens::verify` on anything a client can put in `form_token`.
//!
//! Two tokens are genuine: one issued by this process at start, and the seed token in
//! `fuzz/corpus/token/` (issued with the same key at the same instant; `SEED` below). `verify` must
//! never panic, must refuse every other input, and must judge the genuine ones by their age:
//! young is accepted with its age, old is `Expired`, from the future is `Forged`. Surrounding
//! whitespace (which `verify` trims) and the case of the hex digits do not make a different token.
//!
//! Each input is tried twice: as a token, and as edits to the seed token (pairs of bytes:
//! position, new byte), so that near misses of a genuine token are explored too.

use std::sync::OnceLock;

use jiff::{SignedDuration, Timestamp};
use web::form_token::{FormTokens, TokenError};

const KEY: [u8; 32] = [7; 32];
/// When both genuine tokens were issued.
const ISSUED_AT: i64 = 1_800_000_000;
/// A token issued with `KEY` at `ISSUED_AT` (random part 5eed0fa11c0ffee0), the corpus seed.
const SEED: &str = "000001a3185c50005eed0fa11c0ffee0408233fabd8a5b226176d7509313fe2e";

struct Setup {
    tokens: FormTokens,
    issued_at: Timestamp,
    genuine: [String; 2],
}

fn setup() -> &'static Setup {
    static SETUP: OnceLock<Setup> = OnceLock::new();
    SETUP.get_or_init(|| {
        let tokens = FormTokens::with_key(KEY);
        let issued_at = Timestamp::from_second(ISSUED_AT).expect("timestamp");
        let issued = tokens.issue(issued_at);
        let max = SignedDuration::from_mins(60);
        for t in [&issued, SEED] {
            assert_eq!(tokens.verify(t, issued_at, max), Ok(SignedDuration::ZERO));
        }
        Setup {
            tokens,
            issued_at,
            genuine: [issued, SEED.to_string()],
        }
    })
}

pub fn check(data: &[u8]) {
    let s = setup();
    // The input as a token.
    judge(s, &String::from_utf8_lossy(data));
    // The input as (position, byte) edits of a genuine token: near misses, where a lax decoder
    // or comparison would show, are rare among arbitrary strings.
    let mut edited = SEED.as_bytes().to_vec();
    for edit in data.chunks_exact(2) {
        let at = usize::from(edit[0]) % edited.len();
        edited[at] = edit[1];
    }
    judge(s, &String::from_utf8_lossy(&edited));
}

fn judge(s: &Setup, input: &str) {
    let trimmed = input.trim();
    let genuine = s.genuine.iter().any(|g| trimmed.eq_ignore_ascii_case(g));

    let max = SignedDuration::from_mins(60);
    let secs = SignedDuration::from_secs;
    // (verified at, what a genuine token gets)
    let cases = [
        (secs(0), Ok(SignedDuration::ZERO)),
        (secs(10), Ok(secs(10))),
        (secs(-30), Ok(SignedDuration::ZERO)),
        (secs(-120), Err(TokenError::Forged)),
        (SignedDuration::from_mins(61), Err(TokenError::Expired)),
    ];
    for (offset, expected) in cases {
        let now = s.issued_at + offset;
        let got = s.tokens.verify(input, now, max);
        if genuine {
            assert_eq!(got, expected, "a genuine token verified at {offset:?}");
        } else {
            assert!(
                got.is_err(),
                "accepted a token that was never issued: {input:?} at {offset:?} gave {got:?}"
            );
        }
    }
    // An unusual clock and age limit must not panic either.
    let _ = s.tokens.verify(input, Timestamp::MAX, SignedDuration::MAX);
    let _ = s.tokens.verify(input, Timestamp::MIN, SignedDuration::MIN);
}
