//! Who may open the inbox: accounts, passwords, two-factor codes and sign-in throttling; and the
//! signed links that let a person come back to their own consultation booking.
//!
//! There is no default account: the clinician creates one with `kap-practice admin add`. The
//! rules here are plain Rust; accounts live in the store and sessions in the web layer.

pub mod link;
pub mod password;
pub mod reset;
pub mod throttle;
pub mod token;
pub mod totp;

/// The one form of an email address that accounts and sign-in throttling compare (the store's:
/// it compares accounts by it).
pub use crate::store::email_key;
