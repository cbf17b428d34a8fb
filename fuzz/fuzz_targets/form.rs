//! libFuzzer's way into the `form` target. Its body, what it checks and why, is
//! `tests/it/fuzz/form.rs`, which `cargo test` runs too (over the corpus and generated inputs).

#![no_main]

#[path = "../../tests/it/fuzz/form.rs"]
mod body;

libfuzzer_sys::fuzz_target!(|data: &[u8]| body::check(data));
