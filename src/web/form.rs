//! A strict reader of `application/x-www-form-urlencoded` bodies.
//!
//! Browsers send well-formed forms; anything else is refused with a reason a person can read,
//! before it reaches the rules of the practice: bytes that are not UTF-8 (after percent-decoding),
//! a field sent twice, a broken percent escape. Unknown fields are ignored.

use std::collections::HashMap;

/// Why a form body cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormDecodeError {
    #[error("the field “{0}” was sent more than once")]
    Duplicate(String),
    #[error("part of the form is not valid text (UTF-8)")]
    InvalidUtf8,
    #[error("part of the form is not encoded correctly")]
    BadEscape,
}

/// Decodes a body into field values, refusing duplicates of the `known` fields.
pub fn decode(body: &[u8], known: &[&str]) -> Result<HashMap<String, String>, FormDecodeError> {
    let mut fields = HashMap::new();
    for pair in body.split(|b| *b == b'&') {
        if pair.is_empty() {
            continue;
        }
        let (name, value) = match pair.iter().position(|b| *b == b'=') {
            Some(i) => (&pair[..i], &pair[i + 1..]),
            None => (pair, &[][..]),
        };
        let name = unescape(name)?;
        if !known.contains(&name.as_str()) {
            continue;
        }
        let value = unescape(value)?;
        if fields.insert(name.clone(), value).is_some() {
            return Err(FormDecodeError::Duplicate(name));
        }
    }
    Ok(fields)
}

fn unescape(input: &[u8]) -> Result<String, FormDecodeError> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        match input[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = input.get(i + 1..i + 3).ok_or(FormDecodeError::BadEscape)?;
                let hi = (hex[0] as char)
                    .to_digit(16)
                    .ok_or(FormDecodeError::BadEscape)?;
                let lo = (hex[1] as char)
                    .to_digit(16)
                    .ok_or(FormDecodeError::BadEscape)?;
                out.push((hi * 16 + lo) as u8);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| FormDecodeError::InvalidUtf8)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KNOWN: &[&str] = &["name", "message"];

    #[test]
    fn decodes_plus_and_percent() {
        let f = decode(b"name=Ada+L%C3%B6velace&message=a%26b%3Dc&other=x", KNOWN).expect("ok");
        assert_eq!(f["name"], "Ada Lövelace");
        assert_eq!(f["message"], "a&b=c");
        assert!(!f.contains_key("other"));
    }

    #[test]
    fn refuses_duplicates_bad_utf8_and_bad_escapes() {
        assert_eq!(
            decode(b"name=a&name=b", KNOWN),
            Err(FormDecodeError::Duplicate("name".into()))
        );
        assert_eq!(
            decode(b"name=%FF%FE", KNOWN),
            Err(FormDecodeError::InvalidUtf8)
        );
        assert_eq!(decode(b"name=%4", KNOWN), Err(FormDecodeError::BadEscape));
        assert_eq!(decode(b"name=%zz", KNOWN), Err(FormDecodeError::BadEscape));
        assert_eq!(
            decode(b"name=\xff", KNOWN),
            Err(FormDecodeError::InvalidUtf8)
        );
    }

    #[test]
    fn keeps_nul_and_newlines_for_the_rules_to_judge() {
        let f = decode(b"name=a%00b&message=x%0D%0Ay", KNOWN).expect("ok");
        assert_eq!(f["name"], "a\0b");
        assert_eq!(f["message"], "x\r\ny");
    }
}
