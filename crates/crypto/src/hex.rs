//! Hex, the one spelling of bytes in URLs, tokens and key files.

/// Lower-case hex digits for `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Decodes hex digits only: no sign, no space, no other spelling of the same bytes, so one
/// value has exactly one written form (a `+0` is not `00`).
pub fn unhex(s: &str) -> Option<Vec<u8>> {
    let digits = s.as_bytes();
    if digits.len() % 2 != 0 {
        return None;
    }
    digits
        .chunks(2)
        .map(|pair| {
            let hi = char::from(pair[0]).to_digit(16)?;
            let lo = char::from(pair[1]).to_digit(16)?;
            u8::try_from(hi * 16 + lo).ok()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_has_one_spelling() {
        assert_eq!(unhex("00ff10"), Some(vec![0, 255, 16]));
        assert_eq!(hex(&[0, 255, 16]), "00ff10");
        assert_eq!(
            unhex("+0"),
            None,
            "found by fuzzing: from_str_radix accepts a sign"
        );
        assert_eq!(unhex("+5ff"), None);
        assert_eq!(unhex(" 0"), None);
        assert_eq!(unhex("0"), None);
    }
}
