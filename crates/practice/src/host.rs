//! Host names, as the calendar's invitations and the certificates of the site both need them
//! written: one rule for what a DNS name looks like.

/// A DNS name or IPv4 address: letters, digits and hyphens in dot-separated labels, each 1 to
/// 63 characters that neither start nor end with a hyphen, 253 characters in all.
pub fn is_host(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}
