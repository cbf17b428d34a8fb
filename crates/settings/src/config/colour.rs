//! The practice's accent colour: parsing, WCAG contrast, and a variant for dark mode.
//!
//! The clinician picks one colour in the config. We check it is dark enough for white text (the
//! buttons) and derive a lighter shade that stays readable on the dark-mode background, so any
//! accepted colour keeps the site at WCAG 2.2 AA contrast. The config checks the colour when it
//! is read; the site draws its stylesheet with it.

/// A colour in sRGB.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rgb(pub u8, pub u8, pub u8);

impl Rgb {
    pub const WHITE: Rgb = Rgb(255, 255, 255);
    /// The dark-mode page background used by the stylesheet.
    pub const DARK_BACKGROUND: Rgb = Rgb(0x17, 0x1a, 0x19);

    /// Parses `#rrggbb`.
    pub fn parse(s: &str) -> Option<Rgb> {
        let hex = s.strip_prefix('#')?;
        if hex.len() != 6 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return None;
        }
        let byte = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).ok();
        Some(Rgb(byte(0)?, byte(2)?, byte(4)?))
    }

    pub fn hex(self) -> String {
        format!("#{:02x}{:02x}{:02x}", self.0, self.1, self.2)
    }

    /// Relative luminance as WCAG defines it.
    pub fn luminance(self) -> f64 {
        let channel = |c: u8| {
            let c = f64::from(c) / 255.0;
            if c <= 0.04045 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * channel(self.0) + 0.7152 * channel(self.1) + 0.0722 * channel(self.2)
    }

    /// WCAG contrast ratio between two colours (1.0 to 21.0).
    pub fn contrast(self, other: Rgb) -> f64 {
        let (a, b) = (self.luminance(), other.luminance());
        let (hi, lo) = if a > b { (a, b) } else { (b, a) };
        (hi + 0.05) / (lo + 0.05)
    }

    /// Mixes toward white by `t` (0.0 = self, 1.0 = white).
    pub fn tint(self, t: f64) -> Rgb {
        let mix = |c: u8| (f64::from(c) + (255.0 - f64::from(c)) * t).round() as u8;
        Rgb(mix(self.0), mix(self.1), mix(self.2))
    }

    /// The least-tinted shade of this colour that reaches `ratio` against `background`.
    pub fn readable_on(self, background: Rgb, ratio: f64) -> Rgb {
        (0..=100)
            .map(|i| self.tint(f64::from(i) / 100.0))
            .find(|c| c.contrast(background) >= ratio)
            .unwrap_or(Rgb::WHITE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contrast_matches_wcag_examples() {
        assert!((Rgb(0, 0, 0).contrast(Rgb::WHITE) - 21.0).abs() < 0.01);
        assert!((Rgb(0x76, 0x76, 0x76).contrast(Rgb::WHITE) - 4.54).abs() < 0.01);
        assert_eq!(Rgb::parse("#2f5d54"), Some(Rgb(0x2f, 0x5d, 0x54)));
        assert_eq!(Rgb::parse("2f5d54"), None);
        assert_eq!(Rgb::parse("#2f5d5"), None);
    }

    #[test]
    fn dark_mode_shade_is_readable() {
        let accent = Rgb::parse("#2f5d54").expect("valid");
        let light = accent.readable_on(Rgb::DARK_BACKGROUND, 4.5);
        assert!(light.contrast(Rgb::DARK_BACKGROUND) >= 4.5);
    }
}
