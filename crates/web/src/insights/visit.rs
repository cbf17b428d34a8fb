//! Reading a page view: who is a bot, what is a prefetch, which site referred it (its host
//! only) and which campaign tag the link carried. Plain functions on header values.

use std::sync::LazyLock;

use aho_corasick::AhoCorasick;

/// Words that user agents of crawlers, monitors and scripts say about themselves.
const BOT_WORDS: &[&str] = &[
    "bot",
    "crawl",
    "spider",
    "slurp",
    "monitor",
    "uptime",
    "pingdom",
    "preview",
    "facebookexternalhit",
    "curl/",
    "wget/",
    "python-",
    "go-http-client",
    "headless",
    "lighthouse",
];

/// [`BOT_WORDS`] in any case, found in one pass over a user agent, without copying it.
static BOT_SEARCH: LazyLock<AhoCorasick> = LazyLock::new(|| {
    AhoCorasick::builder()
        .ascii_case_insensitive(true)
        .build(BOT_WORDS)
        // Fifteen fixed short words are far within the automaton's limits; the unit tests build it.
        .expect("the bot words' automaton")
});

/// Whether a user agent says it is a bot, a monitor or a script (or says nothing at all).
pub fn is_bot(user_agent: &str) -> bool {
    let ua = user_agent.trim();
    ua.is_empty() || BOT_SEARCH.is_match(ua)
}

/// Whether a request is a prefetch (`Sec-Purpose: prefetch` or the older `Purpose: prefetch`):
/// the browser guesses the page may be read; it has not been.
pub fn is_prefetch(sec_purpose: Option<&str>, purpose: Option<&str>) -> bool {
    [sec_purpose, purpose]
        .into_iter()
        .flatten()
        .any(|v| v.to_ascii_lowercase().contains("prefetch"))
}

/// The host of an `http` or `https` URL, lower case, without port, user or a leading `www.`.
pub fn host_of(url: &str) -> Option<String> {
    let url = url.trim();
    let lower_scheme = url
        .get(..8)
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    let rest = if lower_scheme.starts_with("https://") {
        &url[8..]
    } else if lower_scheme.starts_with("http://") {
        &url[7..]
    } else {
        return None;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = authority.rsplit('@').next().unwrap_or("");
    bare_host(host_port)
}

/// A `Host` header's value (or an authority) as a bare host: lower case, without port or `www.`.
fn bare_host(host_port: &str) -> Option<String> {
    let host = if let Some(v6) = host_port.strip_prefix('[') {
        // An IPv6 address: `[::1]:8080`.
        v6.split(']').next().unwrap_or("")
    } else {
        host_port.split(':').next().unwrap_or("")
    };
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let host = host.strip_prefix("www.").unwrap_or(&host).to_string();
    let valid = !host.is_empty()
        && host.len() <= 253
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == ':');
    valid.then_some(host)
}

/// The referring site of a page view, as its host only (never the path or query, which can
/// say what someone searched for), or `None` for no referrer, an unreadable one, or a link
/// within this site (`request_host` is the `Host` the request was sent to, `own_host` the site's
/// configured one).
pub fn referrer_host(
    referrer: &str,
    request_host: Option<&str>,
    own_host: Option<&str>,
) -> Option<String> {
    let host = host_of(referrer)?;
    let same_site = request_host.and_then(bare_host).as_deref() == Some(host.as_str())
        || own_host == Some(host.as_str());
    (!same_site).then_some(host)
}

/// The longest campaign tag kept.
const TAG_MAX: usize = 64;

/// The campaign tag a link carries (`?ref=…`, else `?utm_source=…`), in lower case, keeping
/// only letters, digits, `.`, `-` and `_` (at most 64); `None` if there is none.
pub fn campaign_tag(query: &str) -> Option<String> {
    let mut utm = None;
    for pair in query.split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match key {
            "ref" => return clean_tag(value),
            "utm_source" if utm.is_none() => utm = clean_tag(value),
            _ => {}
        }
    }
    utm
}

fn clean_tag(raw: &str) -> Option<String> {
    let decoded = percent_decode(raw);
    let tag: String = decoded
        .chars()
        .map(|c| {
            if c == ' ' {
                '-'
            } else {
                c.to_ascii_lowercase()
            }
        })
        .filter(|c| c.is_ascii_alphanumeric() || ".-_".contains(*c))
        .take(TAG_MAX)
        .collect();
    (!tag.is_empty()).then_some(tag)
}

/// `%XX` and `+` decoded; anything malformed is kept as it is.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match (hex_digit(bytes[i + 1]), hex_digit(bytes[i + 2])) {
                    (Some(hi), Some(lo)) => {
                        out.push(hi * 16 + lo);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_digit(b: u8) -> Option<u8> {
    char::from(b)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bots_and_scripts_say_so() {
        for ua in [
            "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
            "Mozilla/5.0 (compatible; bingbot/2.0)",
            "UptimeRobot/2.0",
            "curl/8.5.0",
            "Mozilla/5.0 (compatible; HeadlessChrome)",
            "",
            "   ",
        ] {
            assert!(is_bot(ua), "{ua:?}");
        }
        assert!(!is_bot(
            "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
        ));
    }

    #[test]
    fn prefetches_are_recognised() {
        assert!(is_prefetch(Some("prefetch"), None));
        assert!(is_prefetch(Some("prefetch;prerender"), None));
        assert!(is_prefetch(None, Some("prefetch")));
        assert!(!is_prefetch(None, None));
    }

    #[test]
    fn a_referrer_is_reduced_to_its_host() {
        assert_eq!(
            referrer_host(
                "https://www.Example.org:8443/search?q=ketamine+therapy#x",
                None,
                None
            )
            .as_deref(),
            Some("example.org")
        );
        assert_eq!(
            referrer_host("http://user:pw@directory.test/listing/42", None, None).as_deref(),
            Some("directory.test")
        );
        assert_eq!(referrer_host("android-app://com.example", None, None), None);
        assert_eq!(referrer_host("not a url", None, None), None);
        assert_eq!(referrer_host("https://bad_host!/", None, None), None);
    }

    #[test]
    fn links_within_the_site_are_no_source() {
        assert_eq!(
            referrer_host("https://practice.test/about", Some("practice.test"), None),
            None
        );
        assert_eq!(
            referrer_host("http://127.0.0.1:8080/", Some("127.0.0.1:8080"), None),
            None
        );
        assert_eq!(
            referrer_host("https://www.practice.test/", None, Some("practice.test")),
            None
        );
    }

    #[test]
    fn campaign_tags_are_read_and_cleaned() {
        assert_eq!(
            campaign_tag("ref=Newsletter").as_deref(),
            Some("newsletter")
        );
        assert_eq!(
            campaign_tag("utm_medium=x&utm_source=Psychology%20Today").as_deref(),
            Some("psychology-today")
        );
        assert_eq!(
            campaign_tag("utm_source=a&ref=b").as_deref(),
            Some("b"),
            "ref wins"
        );
        assert_eq!(campaign_tag("ref=%3Cscript%3E").as_deref(), Some("script"));
        assert_eq!(campaign_tag("ref=").as_deref(), None);
        assert_eq!(campaign_tag("q=1").as_deref(), None);
        assert_eq!(campaign_tag("ref=%zz").as_deref(), Some("zz"));
        assert_eq!(
            campaign_tag(&format!("ref={}", "a".repeat(100))).map(|t| t.len()),
            Some(64)
        );
    }
}
