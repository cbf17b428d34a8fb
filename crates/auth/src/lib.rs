//! Who may open the inbox: accounts, passwords, two-factor codes and sign-in throttling; and the
//! signed links that let a person come back to their own consultation booking.
//!
//! There is no default account: the clinician creates one with `kap-practice admin add`. The
//! rules here are plain Rust; accounts live in the store and sessions in the web layer.
//!
//! A crate of its own, on the crypto crate and the store only: it must never know of pages,
//! forms, sessions or mail (the web and the mail use it, never the other way round), and it
//! holds no key of its own (the keys are the crypto crate's, handed in).

pub mod link;
pub mod password;
pub mod reset;
pub mod throttle;
pub mod token;
pub mod totp;

/// The one form of an email address that accounts and sign-in throttling compare (the store's:
/// it compares accounts by it).
pub use store::email_key;
