//! libFuzzer's way into the `token` target. Its body, what it checks and why, is
//! `tests/it/fuzz/token.rs`, which `cargo test` runs too (over the corpus and generated inputs).

#![no_main]

#[path = "../../tests/it/fuzz/token.rs"]
mod body;

libfuzzer_sys::fuzz_target!(|data: &[u8]| body::check(data));
