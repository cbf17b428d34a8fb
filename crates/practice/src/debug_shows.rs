//! The one way a record that holds personal detail gets its `Debug`: it names only what is
//! safe to see, so that a stray `{:?}` in a log line or a panic message says which record it
//! was and never what the person wrote.

/// Implements `Debug` for `$ty` showing only the fields named, then `..` for the rest. A name
/// alone shows that field; `name: expr` shows a value worked out from the record, which the
/// expression reaches by the name given after `as`:
///
/// ```
/// # struct Document { id: i64, text: String, signed_at: Option<u64> }
/// practice::debug_shows!(Document as d { id, signed: d.signed_at.is_some() });
/// let d = Document { id: 7, text: "private".into(), signed_at: None };
/// assert_eq!(format!("{d:?}"), "Document { id: 7, signed: false, .. }");
/// ```
#[macro_export]
macro_rules! debug_shows {
    ($ty:ident { $($fields:tt)* }) => {
        $crate::debug_shows!($ty as this { $($fields)* });
    };
    ($ty:ident as $this:ident { $($field:ident $(: $value:expr)?),* $(,)? }) => {
        impl ::std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                let $this = self;
                f.debug_struct(stringify!($ty))
                    $(.field(stringify!($field), &$crate::debug_shows!(@shown $this.$field $(, $value)?)))*
                    .finish_non_exhaustive()
            }
        }
    };
    (@shown $this:ident . $field:ident) => {
        $this.$field
    };
    (@shown $this:ident . $field:ident, $value:expr) => {
        $value
    };
}
