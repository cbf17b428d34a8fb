//! The one way an enum of the practice gets its text form: the word stored in a column, put in
//! a form or a URL, and read back.

/// Declares an enum whose every variant has one text form (`Variant = "text"`), with `ALL`
/// (every variant, in order), `as_str` and `parse` (the exact inverse of `as_str`). With the
/// words people read for each variant as well (`Variant = "text" => "Words"`), `label` gives
/// them.
#[macro_export]
macro_rules! text_forms {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $text:literal => $label:literal ),+ $(,)?
        }
    ) => {
        $crate::text_forms! {
            $(#[$meta])*
            $vis enum $name {
                $( $(#[$vmeta])* $variant = $text ),+
            }
        }

        impl $name {
            /// The words people read for it.
            pub fn label(self) -> &'static str {
                match self {
                    $($name::$variant => $label),+
                }
            }
        }
    };
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $text:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        $vis enum $name {
            $( $(#[$vmeta])* $variant ),+
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: [$name; [$($text),+].len()] = [$($name::$variant),+];

            /// The text form: what is stored and sent.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            /// The variant whose text form is `s`.
            pub fn parse(s: &str) -> Option<Self> {
                match s {
                    $($text => Some($name::$variant),)+
                    _ => None,
                }
            }
        }
    };
}

#[cfg(test)]
mod tests {
    crate::text_forms! {
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        enum Colour {
            /// A comment on a variant stays.
            Red = "red",
            DarkBlue = "dark_blue",
        }
    }

    crate::text_forms! {
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        enum Shade {
            Light = "light" => "Light",
            /// A comment on a labelled variant stays.
            VeryDark = "very_dark" => "Very dark",
        }
    }

    #[test]
    fn every_variant_reads_back_from_its_text() {
        assert_eq!(Colour::ALL, [Colour::Red, Colour::DarkBlue]);
        for c in Colour::ALL {
            assert_eq!(Colour::parse(c.as_str()), Some(c));
        }
        assert_eq!(Colour::DarkBlue.as_str(), "dark_blue");
        assert_eq!(Colour::parse("Red"), None);
        assert_eq!(
            Shade::parse(Shade::VeryDark.as_str()),
            Some(Shade::VeryDark)
        );
        assert_eq!(Shade::VeryDark.label(), "Very dark");
        assert_eq!(Shade::ALL.map(Shade::label), ["Light", "Very dark"]);
    }
}
