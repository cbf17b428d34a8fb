//! Compression of a whole body, as the server sends its pages and files: brotli and gzip, each
//! at a quality the caller chooses (the prepared pages at the best, a page made for one request
//! at a quick one).
//!
//! Both write into memory, which cannot fail, so neither returns an error: the encoders fail
//! only when their output does.

use std::io::Write;

/// `body` compressed with brotli at `quality` (0 to 11, higher clamped).
pub fn brotli(body: &[u8], quality: u32) -> Vec<u8> {
    let mut out = Vec::new();
    // A window just large enough for the body (less memory), but never under 2^18: at qualities
    // 5 to 9 a window of 2^16 or less takes the encoder's slow path, 20 ms for the contact page
    // (35 kB) against 0.8 ms at 2^18, for a few bytes' difference either way.
    let lgwin = (usize::BITS - body.len().max(1).leading_zeros()).clamp(18, 22) as i32;
    let params = brotli::enc::BrotliEncoderParams {
        quality: quality.min(11) as i32,
        lgwin,
        ..Default::default()
    };
    let mut input = body;
    match brotli::BrotliCompress(&mut input, &mut out, &params) {
        Ok(_) => out,
        Err(_) => Vec::new(),
    }
}

/// `body` compressed with gzip at `level` (0 to 9, higher clamped).
pub fn gzip(body: &[u8], level: u32) -> Vec<u8> {
    let mut encoder =
        flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(level.min(9)));
    match encoder.write_all(body) {
        Ok(()) => encoder.finish().unwrap_or_default(),
        Err(_) => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    /// A page's worth of HTML-like text, repetitive as markup is.
    fn page() -> Vec<u8> {
        (0..800)
            .map(|i| format!("<p class=\"step\">Step {i}: a paragraph of the page.</p>\n"))
            .collect::<String>()
            .into_bytes()
    }

    #[test]
    fn brotli_round_trips_at_every_quality() {
        let body = page();
        for quality in [0, 1, 5, 6, 9, 11, 12] {
            let packed = super::brotli(&body, quality);
            assert!(packed.len() < body.len() / 4, "quality {quality}");
            let mut unpacked = Vec::new();
            brotli::Decompressor::new(packed.as_slice(), 4096)
                .read_to_end(&mut unpacked)
                .expect("a valid brotli stream");
            assert_eq!(unpacked, body, "quality {quality}");
        }
        let mut empty = Vec::new();
        brotli::Decompressor::new(super::brotli(b"", 6).as_slice(), 4096)
            .read_to_end(&mut empty)
            .expect("an empty body is a valid stream");
        assert!(empty.is_empty());
    }

    #[test]
    fn gzip_round_trips_at_every_level() {
        let body = page();
        for level in [0, 1, 6, 9, 10] {
            let packed = super::gzip(&body, level);
            let mut unpacked = Vec::new();
            flate2::read::GzDecoder::new(packed.as_slice())
                .read_to_end(&mut unpacked)
                .expect("a valid gzip stream");
            assert_eq!(unpacked, body, "level {level}");
        }
        assert!(super::gzip(&body, 9).len() < body.len() / 4);
    }
}
