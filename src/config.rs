//! The one typed configuration of the practice.
//!
//! Every setting is declared here once, with its default. Settings come from a TOML file (given by
//! `--config`/`KAP_CONFIG`, or `kap-practice.toml` in the working directory when present) and then
//! from the environment, which wins. `Config::load` validates everything and reports each problem
//! as `file:line: what is wrong and how to fix it`, so `kap-practice check` and `serve` speak with
//! the same voice. `config/example.toml` documents every setting for the clinician.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use crate::diagnostics::{Diagnostic, Diagnostics, line_of};
use crate::practice::us_states;

pub mod colour;

/// The file looked for in the working directory when no config file is named.
pub const DEFAULT_CONFIG_FILE: &str = "kap-practice.toml";

/// Everything the program needs to know, validated.
#[derive(Clone, Debug)]
pub struct Config {
    /// Where the config came from, for messages (`None`: built-in defaults only).
    pub source: Option<PathBuf>,
    /// The `[practice]`, `[contact_form]` and `[admin]` keys the file sets, as `table.key`:
    /// those values win over what the clinician saves in the inbox (see `details`).
    pub file_keys: std::collections::BTreeSet<String>,
    pub server: ServerConfig,
    pub practice: Practice,
    /// A folder of content that replaces the built-in content.
    pub content_dir: Option<PathBuf>,
    pub mail: MailConfig,
    pub form: FormConfig,
    pub admin: AdminConfig,
    pub database: DatabaseConfig,
    /// HTTPS served by the program itself; `None`: plain HTTP (behind a reverse proxy, say).
    pub tls: Option<TlsConfig>,
    pub insights: InsightsConfig,
    /// The going-live items the file confirms as reviewed (`going_live.reviewed`), with those
    /// confirmed in the inbox (see [`crate::going_live`]).
    pub going_live_reviewed: Vec<String>,
    /// Automatic encrypted backups (`[backup]`, see `src/backup/`).
    pub backup: crate::backup::BackupSettings,
}

/// Counting visits for the clinician's insights page (see `src/insights/`).
#[derive(Clone, Debug)]
pub struct InsightsConfig {
    /// Count page views, visitors, sources and the steps towards a consultation.
    pub enabled: bool,
    /// Counts older than this many months are deleted by the hourly housekeeping.
    pub retention_months: u32,
}

impl Default for InsightsConfig {
    fn default() -> Self {
        InsightsConfig {
            enabled: true,
            retention_months: 25,
        }
    }
}

/// HTTPS served by the program itself: where its certificate comes from and where it listens.
#[derive(Clone, Debug)]
pub struct TlsConfig {
    /// The HTTPS listener (HTTP/2 and HTTP/1.1, chosen by ALPN). `server.bind` then only
    /// redirects to it.
    pub bind: SocketAddr,
    pub certificate: CertificateSource,
}

/// Where the HTTPS certificate comes from.
#[derive(Clone, Debug)]
pub enum CertificateSource {
    /// PEM files, read at start and again on `SIGHUP`.
    Files {
        cert_file: PathBuf,
        key_file: PathBuf,
    },
    /// Obtained and renewed automatically from an ACME certificate authority.
    Acme(AcmeConfig),
}

/// Automatic certificates (ACME, RFC 8555) with the HTTP-01 challenge on the plain listener.
#[derive(Clone, Debug)]
pub struct AcmeConfig {
    /// The names the certificate covers; the first is the site's host.
    pub domains: Vec<String>,
    /// The contact address given to the certificate authority (expiry notices).
    pub email: String,
    /// The certificate authority's directory URL.
    pub directory: String,
    /// A root certificate (PEM) to trust for the directory instead of the public roots.
    pub ca_file: Option<PathBuf>,
    /// Renew when this many days remain, or at two thirds of the lifetime if that is sooner.
    pub renew_days_before: u64,
    /// How often the certificate's age is looked at (and the first retry after a failure).
    pub check_seconds: u64,
}

/// Let's Encrypt's production directory, the default certificate authority.
pub const LETS_ENCRYPT: &str = "https://acme-v02.api.letsencrypt.org/directory";

/// Where the practice's data lives.
#[derive(Clone, Debug, Default)]
pub struct DatabaseConfig {
    /// `postgres://user:password@host/db`: PostgreSQL, shared by several servers. `None`: SQLite
    /// in the data directory (one server, no setup).
    pub url: Option<Secret>,
}

/// The inbox: sign-in sessions and how long requests are kept.
#[derive(Clone, Debug)]
pub struct AdminConfig {
    /// A session ends after this long without a request.
    pub idle_timeout_minutes: u64,
    /// A session ends this long after sign-in, however active.
    pub absolute_timeout_hours: u64,
    /// Closed requests that never reached a consultation are deleted this many days after they
    /// were closed.
    pub keep_closed_days: u64,
    /// Closed requests that reached a consultation or went further (the start of a clinical
    /// record, which state rules keep for years) are deleted this many days after they were
    /// closed: seven years by default.
    pub keep_consulted_days: u64,
    /// Spam is deleted this many days after it arrived.
    pub keep_spam_days: u64,
}

/// Days a closed request that never reached a consultation is kept: a year.
pub const DEFAULT_KEEP_CLOSED_DAYS: u64 = 365;

/// Days a closed request that reached a consultation is kept by default: seven years (with
/// their leap days). How long clinical records must be kept depends on the state: the
/// practice checks it with its counsel and sets it here or in the inbox.
pub const DEFAULT_KEEP_CONSULTED_DAYS: u64 = 2557;

/// A value that must never be printed (a password inside a URL, say).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"(redacted)\"")
    }
}

/// Email: where notifications go and how they are sent.
#[derive(Clone, Debug)]
pub struct MailConfig {
    /// `smtp://host:port` (plain, loopback only), `smtp://host?tls=required` (STARTTLS) or
    /// `smtps://host` (TLS), optionally with `user:password@`. `None`: notifications are off.
    pub smtp_url: Option<Secret>,
    /// The practice's inbox for "a new request arrived" notices. Default: practice.email.
    pub notify_email: String,
    /// True when `notify_email` was not given and is practice.email.
    pub notify_email_is_default: bool,
    /// The sender of every email. Default: the practice's name and email.
    pub from: String,
    /// True when `from` was not given and is made from the practice's name and email, so it
    /// follows them when the clinician changes them in the inbox.
    pub from_is_default: bool,
    /// First retry delay; doubles on each attempt up to `retry_max_seconds`.
    pub retry_base_seconds: u64,
    pub retry_max_seconds: u64,
    /// Give up on a message after this many permanent (5xx) refusals.
    pub max_permanent_failures: i64,
}

/// The contact form's behaviour.
#[derive(Clone, Debug)]
pub struct FormConfig {
    /// Forms sent faster than this after being served are treated as spam. 0 disables the check.
    pub min_fill_seconds: u64,
    /// A served form can be sent for this long.
    pub token_max_age_minutes: u64,
    /// Requests accepted per client address per hour (a burst of this many, refilled evenly).
    pub rate_limit_per_hour: u32,
    /// The crisis line to call ("988" in the US); empty when there is none. Words and links
    /// are made by `crisis::Crisis`.
    pub crisis_call: String,
    /// What it is called ("Suicide & Crisis Lifeline" for 988); may be empty.
    pub crisis_call_name: String,
    /// The crisis line to text ("988", or "741741" for the Crisis Text Line); empty when there
    /// is none. The same number and name as the call line make one "call or text" line.
    pub crisis_text: String,
    /// The word to text to it ("HOME" for the Crisis Text Line); may be empty.
    pub crisis_text_keyword: String,
    /// What the text line is called ("Crisis Text Line"); may be empty.
    pub crisis_text_name: String,
    /// The emergency number shown on every page ("911" in the US).
    pub emergency_number: String,
    /// When people can expect a reply, as a phrase: "within two business days".
    pub reply_time: String,
    /// Within how many hours the clinician gets in touch after a questionnaire answer about
    /// self-harm: the person is told so with the crisis resources, and a second urgent notice
    /// leaves if the answer is not followed up by then.
    pub urgent_reply_hours: u32,
    /// Send the person a short acknowledgement email (no echo of what they wrote).
    pub acknowledge: bool,
}

/// How the server listens and where it keeps its files.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    pub bind: SocketAddr,
    pub data_dir: PathBuf,
    /// The public address of the site, without a trailing slash, e.g. `https://example.org`.
    /// Canonical links, the sitemap and emails are built from it.
    pub base_url: String,
    /// Reverse proxies whose `X-Forwarded-For` is believed, for the client's address.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Connections one client address may have open at once; past it a new one is closed at
    /// once. Trusted proxies are not limited.
    pub max_connections_per_address: usize,
    /// How long a request to a route that does real work may take before it is answered 503.
    pub request_timeout: std::time::Duration,
    /// How long a client has to send a request's head, from the connection's start or the
    /// previous answer; past it the connection is closed.
    pub header_timeout: std::time::Duration,
    /// How long a client has to finish the TLS handshake; past it the connection is closed.
    pub tls_handshake_timeout: std::time::Duration,
    /// The brotli quality the prepared pages are compressed with once, after a start or a
    /// content change: 11, the smallest. Only tests set another ([`Overrides::brotli_quality`]),
    /// to start servers without waiting for the best compression.
    pub brotli_quality: u32,
}

impl ServerConfig {
    /// True when the public address is https: enables HSTS and secure-only cookies.
    pub fn https(&self) -> bool {
        self.base_url.starts_with("https://")
    }
}

/// The practice's identity, shown on every page.
#[derive(Clone, Debug, PartialEq)]
pub struct Practice {
    pub name: String,
    pub clinician_name: String,
    pub credentials: String,
    /// Two-letter US state codes where the clinician is licensed.
    pub licensed_states: Vec<String>,
    pub email: String,
    pub phone: String,
    pub city: String,
    /// The IANA name, as written in the config ("America/Los_Angeles").
    pub time_zone: String,
    /// The same zone, looked up once when the config is read (a name that is not a known zone
    /// stops the start), so no later code needs a fallback.
    pub zone: jiff::tz::TimeZone,
    /// `#rrggbb`, dark enough for white text on it (WCAG AA, 4.5:1).
    pub accent_color: String,
}

impl Practice {
    /// "Jordan Ellis, LCSW".
    /// When the name already ends with the credentials ("Maya Okafor, LCSW" with "LCSW"), they
    /// are not written twice.
    pub fn clinician_name_with_credentials(&self) -> String {
        if self.credentials.trim().is_empty() || self.name_repeats_credentials() {
            self.clinician_name.clone()
        } else {
            format!("{}, {}", self.clinician_name, self.credentials)
        }
    }

    /// Whether the clinician's name already ends with the credentials ("Maya Okafor, LCSW" with
    /// "LCSW"): shown once, and sent back by the going-live checklist to be written once.
    pub fn name_repeats_credentials(&self) -> bool {
        let (name, credentials) = (self.clinician_name.trim(), self.credentials.trim());
        !credentials.is_empty()
            && name
                .len()
                .checked_sub(credentials.len())
                .and_then(|at| name.get(at..))
                .is_some_and(|end| end.eq_ignore_ascii_case(credentials))
    }

    /// The phone number as a `tel:` URI (digits and a leading `+` only).
    pub fn phone_uri(&self) -> String {
        let digits: String = self
            .phone
            .chars()
            .filter(|c| c.is_ascii_digit() || *c == '+')
            .collect();
        format!("tel:{digits}")
    }

    /// The full names of the licensed states, for people to read.
    pub fn licensed_state_names(&self) -> Vec<&'static str> {
        self.licensed_states
            .iter()
            .filter_map(|code| us_states::name(code))
            .collect()
    }
}

/// The crisis lines as the file gives them.
struct CrisisLines {
    call: String,
    call_name: String,
    text: String,
    text_keyword: String,
    text_name: String,
}

impl CrisisLines {
    /// From `[line, call, text]` numbers and their names: the older single `crisis_line` is
    /// both a line to call and one to text, and the newer keys win over it. With none of the
    /// numbers set, the line is 988, the Suicide & Crisis Lifeline (calls and texts).
    fn resolve(
        numbers: [Option<String>; 3],
        names: [Option<String>; 3],
        text_keyword: Option<String>,
    ) -> Self {
        let trim = |v: Option<String>| v.map(|v| v.trim().to_string());
        let none_set = numbers.iter().all(Option::is_none);
        let [line, call, text] = numbers.map(trim);
        let [line_name, call_name, text_name] = names.map(trim);
        let (line, line_name) = if none_set {
            (
                Some("988".to_string()),
                line_name.or_else(|| Some("Suicide & Crisis Lifeline".to_string())),
            )
        } else {
            (line, line_name)
        };
        CrisisLines {
            call: call.or_else(|| line.clone()).unwrap_or_default(),
            call_name: call_name.or_else(|| line_name.clone()).unwrap_or_default(),
            text: text.or(line).unwrap_or_default(),
            text_keyword: trim(text_keyword).unwrap_or_default(),
            text_name: text_name.or(line_name).unwrap_or_default(),
        }
    }
}

/// The `table.key` names the file sets in the tables the inbox can also set.
fn file_keys(text: &str) -> std::collections::BTreeSet<String> {
    let Ok(table) = text.parse::<toml::Table>() else {
        return Default::default();
    };
    ["practice", "contact_form", "admin"]
        .into_iter()
        .filter_map(|name| Some((name, table.get(name)?.as_table()?)))
        .flat_map(|(name, t)| t.keys().map(move |k| format!("{name}.{k}")))
        .collect()
}

/// The sender made from the practice's name and email when `mail.from` is not set:
/// `Practice Name <hello@practice.org>`.
pub fn default_sender(practice_name: &str, email: &str) -> String {
    format!(
        "{} <{}>",
        practice_name.replace(['<', '>', '"', ','], ""),
        email
    )
}

/// Values given on the command line or in the environment; they win over the file.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    pub config_file: Option<PathBuf>,
    pub bind: Option<SocketAddr>,
    pub data_dir: Option<PathBuf>,
    pub base_url: Option<String>,
    pub content_dir: Option<PathBuf>,
    pub smtp_url: Option<String>,
    pub notify_email: Option<String>,
    pub min_fill_seconds: Option<u64>,
    pub database_url: Option<String>,
    pub tls_cert_file: Option<String>,
    pub tls_key_file: Option<String>,
    /// Comma-separated.
    pub tls_acme_domains: Option<String>,
    pub tls_acme_email: Option<String>,
    pub tls_acme_directory: Option<String>,
    pub tls_acme_ca_file: Option<String>,
    pub tls_bind: Option<String>,
    /// The brotli quality of the prepared pages instead of 11 (1 to 11): for tests, which start
    /// many servers; no flag or setting gives it.
    pub brotli_quality: Option<u32>,
}

impl Overrides {
    /// The settings that only the environment provides (the CLI reads its own through clap).
    pub fn with_env(mut self) -> Self {
        if let Some(v) = non_empty_env("KAP_BASE_URL") {
            self.base_url = Some(v);
        }
        if let Some(v) = non_empty_env("KAP_CONTENT_DIR") {
            self.content_dir = Some(PathBuf::from(v));
        }
        if let Some(v) = non_empty_env("DATABASE_URL") {
            self.database_url = Some(v);
        }
        if let Some(v) = non_empty_env("KAP_SMTP_URL") {
            self.smtp_url = Some(v);
        }
        if let Some(v) = non_empty_env("KAP_NOTIFY_EMAIL") {
            self.notify_email = Some(v);
        }
        if let Some(v) = non_empty_env("KAP_MIN_FILL_SECONDS").and_then(|v| v.trim().parse().ok()) {
            self.min_fill_seconds = Some(v);
        }
        self.tls_cert_file = non_empty_env("KAP_TLS_CERT_FILE").or(self.tls_cert_file);
        self.tls_key_file = non_empty_env("KAP_TLS_KEY_FILE").or(self.tls_key_file);
        self.tls_acme_domains = non_empty_env("KAP_TLS_ACME_DOMAINS").or(self.tls_acme_domains);
        self.tls_acme_email = non_empty_env("KAP_TLS_ACME_EMAIL").or(self.tls_acme_email);
        self.tls_acme_directory =
            non_empty_env("KAP_TLS_ACME_DIRECTORY").or(self.tls_acme_directory);
        self.tls_acme_ca_file = non_empty_env("KAP_TLS_ACME_CA_FILE").or(self.tls_acme_ca_file);
        self.tls_bind = non_empty_env("KAP_TLS_BIND").or(self.tls_bind);
        self
    }
}

fn non_empty_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

// ---- The file's shape ---------------------------------------------------------------------

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    #[serde(default)]
    server: FileServer,
    #[serde(default)]
    practice: FilePractice,
    #[serde(default)]
    content: FileContent,
    #[serde(default)]
    mail: FileMail,
    #[serde(default)]
    contact_form: FileForm,
    #[serde(default)]
    admin: FileAdmin,
    #[serde(default)]
    database: FileDatabase,
    #[serde(default)]
    tls: FileTls,
    #[serde(default)]
    insights: FileInsights,
    #[serde(default)]
    backup: crate::backup::FileBackup,
    #[serde(default)]
    going_live: FileGoingLive,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FileGoingLive {
    reviewed: Option<Spanned<Vec<Spanned<String>>>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FileInsights {
    enabled: Option<bool>,
    retention_months: Option<Spanned<u32>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FileTls {
    cert_file: Option<Spanned<String>>,
    key_file: Option<Spanned<String>>,
    acme_domains: Option<Spanned<Vec<String>>>,
    acme_email: Option<Spanned<String>>,
    acme_directory: Option<Spanned<String>>,
    acme_ca_file: Option<Spanned<String>>,
    acme_renew_days_before: Option<Spanned<u64>>,
    acme_check_seconds: Option<Spanned<u64>>,
    bind: Option<Spanned<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FileDatabase {
    url: Option<Spanned<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FileAdmin {
    idle_timeout_minutes: Option<Spanned<u64>>,
    absolute_timeout_hours: Option<Spanned<u64>>,
    keep_closed_days: Option<Spanned<u64>>,
    keep_consulted_days: Option<Spanned<u64>>,
    keep_spam_days: Option<Spanned<u64>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FileMail {
    smtp_url: Option<Spanned<String>>,
    notify_email: Option<Spanned<String>>,
    from: Option<Spanned<String>>,
    retry_base_seconds: Option<u64>,
    retry_max_seconds: Option<u64>,
    max_permanent_failures: Option<u32>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FileForm {
    min_fill_seconds: Option<u64>,
    token_max_age_minutes: Option<Spanned<u64>>,
    rate_limit_per_hour: Option<Spanned<u32>>,
    /// One line to call or text (the older setting): both `crisis_call` and `crisis_text`.
    crisis_line: Option<String>,
    crisis_line_name: Option<String>,
    crisis_call: Option<String>,
    crisis_call_name: Option<String>,
    crisis_text: Option<String>,
    crisis_text_keyword: Option<String>,
    crisis_text_name: Option<String>,
    emergency_number: Option<String>,
    reply_time: Option<String>,
    urgent_reply_hours: Option<Spanned<u32>>,
    acknowledge: Option<bool>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FileServer {
    bind: Option<Spanned<String>>,
    data_dir: Option<String>,
    base_url: Option<Spanned<String>>,
    trusted_proxies: Option<Spanned<Vec<String>>>,
    max_connections_per_address: Option<Spanned<u64>>,
    request_timeout_seconds: Option<Spanned<u64>>,
    header_timeout_seconds: Option<Spanned<u64>>,
    tls_handshake_timeout_seconds: Option<Spanned<u64>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FileContent {
    dir: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FilePractice {
    name: Option<Spanned<String>>,
    clinician_name: Option<Spanned<String>>,
    credentials: Option<Spanned<String>>,
    licensed_states: Option<Spanned<Vec<Spanned<String>>>>,
    email: Option<Spanned<String>>,
    phone: Option<Spanned<String>>,
    city: Option<Spanned<String>>,
    time_zone: Option<Spanned<String>>,
    accent_color: Option<Spanned<String>>,
}

/// The built-in identity: an example practice, so the site runs with no setup at all.
pub fn default_practice() -> Practice {
    Practice {
        name: "Clearwater Psychotherapy".into(),
        clinician_name: "Jordan Ellis".into(),
        credentials: "LCSW".into(),
        licensed_states: vec!["CA".into()],
        email: "hello@example.com".into(),
        phone: "(555) 010-0100".into(),
        city: "Oakland, California".into(),
        time_zone: "America/Los_Angeles".into(),
        zone: jiff::tz::TimeZone::get("America/Los_Angeles").unwrap_or(jiff::tz::TimeZone::UTC),
        accent_color: "#2f5d54".into(),
    }
}

impl Config {
    /// Reads the file (if any), applies the overrides and validates the result.
    pub fn load(overrides: &Overrides) -> Result<Config, Diagnostics> {
        let path = match &overrides.config_file {
            Some(p) => Some(p.clone()),
            None => {
                let p = PathBuf::from(DEFAULT_CONFIG_FILE);
                p.is_file().then_some(p)
            }
        };
        let (text, name) = match &path {
            Some(p) => match std::fs::read_to_string(p) {
                Ok(t) => (t, p.display().to_string()),
                Err(e) => {
                    return Err(Diagnostics::one(Diagnostic::new(
                        p.display().to_string(),
                        0,
                        format!("cannot read the config file: {e}"),
                    )));
                }
            },
            None => (String::new(), "(built-in defaults)".to_string()),
        };
        Self::from_toml(&text, &name, path.as_deref(), overrides)
    }

    /// Parses and validates config text; `name` is used in messages.
    pub fn from_toml(
        text: &str,
        name: &str,
        path: Option<&Path>,
        overrides: &Overrides,
    ) -> Result<Config, Diagnostics> {
        let file: FileConfig = toml::from_str(text).map_err(|e| {
            let line = e.span().map(|s| line_of(text, s.start)).unwrap_or(0);
            Diagnostics::one(Diagnostic::new(name, line, toml_message(&e)))
        })?;
        let file_keys = file_keys(text);
        let mut errors = Diagnostics::default();
        let at = |s: &std::ops::Range<usize>| line_of(text, s.start);
        let defaults = default_practice();

        let text_setting = |v: Option<Spanned<String>>,
                            default: String,
                            key: &str,
                            errors: &mut Diagnostics| {
            match v {
                None => default,
                Some(s) => {
                    let line = at(&s.span());
                    let value = s.into_inner().trim().to_string();
                    if value.is_empty() {
                        errors.push(Diagnostic::new(name, line, format!("practice.{key} is empty: write a value or remove the line to use the default")));
                    } else if value.chars().any(char::is_control) {
                        errors.push(Diagnostic::new(
                            name,
                            line,
                            format!(
                                "practice.{key} contains a control character: keep it on one line"
                            ),
                        ));
                    }
                    value
                }
            }
        };

        let p = file.practice;
        let practice_name = text_setting(p.name, defaults.name.clone(), "name", &mut errors);
        let clinician_name = text_setting(
            p.clinician_name,
            defaults.clinician_name.clone(),
            "clinician_name",
            &mut errors,
        );
        let credentials = text_setting(
            p.credentials,
            defaults.credentials.clone(),
            "credentials",
            &mut errors,
        );
        let city = text_setting(p.city, defaults.city.clone(), "city", &mut errors);

        let email = match p.email {
            None => defaults.email.clone(),
            Some(s) => {
                let line = at(&s.span());
                let v = s.into_inner().trim().to_string();
                if !looks_like_email(&v) {
                    errors.push(Diagnostic::new(name, line, format!("practice.email {v:?} is not an email address: write it like \"hello@yourpractice.com\"")));
                }
                v
            }
        };
        let phone = match p.phone {
            None => defaults.phone.clone(),
            Some(s) => {
                let line = at(&s.span());
                let v = s.into_inner().trim().to_string();
                let digits = v.chars().filter(char::is_ascii_digit).count();
                let allowed = v
                    .chars()
                    .all(|c| c.is_ascii_digit() || " +-().".contains(c));
                if !allowed || !(7..=15).contains(&digits) {
                    errors.push(Diagnostic::new(name, line, format!("practice.phone {v:?} is not a phone number: use digits, spaces, + - ( ) only, e.g. \"(510) 555-0123\"")));
                }
                v
            }
        };
        let licensed_states = match p.licensed_states {
            None => defaults.licensed_states.clone(),
            Some(list) => {
                let list_line = at(&list.span());
                let list = list.into_inner();
                if list.is_empty() {
                    errors.push(Diagnostic::new(name, list_line, "practice.licensed_states is empty: list at least one two-letter state code, e.g. [\"CA\"]"));
                }
                let mut codes = Vec::new();
                for item in list {
                    let line = at(&item.span());
                    let code = item.into_inner().trim().to_ascii_uppercase();
                    if us_states::name(&code).is_none() {
                        errors.push(Diagnostic::new(name, line, format!("practice.licensed_states: {code:?} is not a US state code: use two letters such as \"CA\" or \"NY\"")));
                    } else if !codes.contains(&code) {
                        codes.push(code);
                    }
                }
                codes
            }
        };
        let time_zone = match p.time_zone {
            None => defaults.time_zone.clone(),
            Some(s) => {
                let line = at(&s.span());
                let v = s.into_inner().trim().to_string();
                if jiff::tz::TimeZone::get(&v).is_err() {
                    errors.push(Diagnostic::new(name, line, format!("practice.time_zone {v:?} is not a known time zone: use an IANA name such as \"America/New_York\" or \"America/Los_Angeles\"")));
                }
                v
            }
        };
        // Checked just above: an unknown name is already an error that stops the start.
        let zone = jiff::tz::TimeZone::get(&time_zone).unwrap_or(jiff::tz::TimeZone::UTC);
        let accent_color = match p.accent_color {
            None => defaults.accent_color.clone(),
            Some(s) => {
                let line = at(&s.span());
                let v = s.into_inner().trim().to_ascii_lowercase();
                match colour::Rgb::parse(&v) {
                    None => errors.push(Diagnostic::new(name, line, format!("practice.accent_color {v:?} is not a colour: write it as \"#rrggbb\", e.g. \"#2f5d54\""))),
                    Some(rgb) => {
                        let ratio = rgb.contrast(colour::Rgb::WHITE);
                        if ratio < 4.5 {
                            errors.push(Diagnostic::new(name, line, format!("practice.accent_color {v} is too light for white text on it (contrast {ratio:.1}:1, at least 4.5:1 is needed): choose a darker shade")));
                        }
                    }
                }
                v
            }
        };

        let s = file.server;
        let bind = match (overrides.bind, s.bind) {
            (Some(b), _) => b,
            (None, None) => SocketAddr::from(([127, 0, 0, 1], 8080)),
            (None, Some(v)) => {
                let line = at(&v.span());
                match v.get_ref().trim().parse() {
                    Ok(b) => b,
                    Err(_) => {
                        errors.push(Diagnostic::new(name, line, format!("server.bind {:?} is not an address: write it as \"127.0.0.1:8080\"", v.get_ref())));
                        SocketAddr::from(([127, 0, 0, 1], 8080))
                    }
                }
            }
        };
        let data_dir = overrides
            .data_dir
            .clone()
            .or(s.data_dir.map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from("./data"));
        let (base_url, base_line, base_name) = match (&overrides.base_url, s.base_url) {
            (Some(v), _) => (v.clone(), 0, "KAP_BASE_URL".to_string()),
            (None, Some(v)) => (v.get_ref().clone(), at(&v.span()), name.to_string()),
            (None, None) => (format!("http://{bind}"), 0, name.to_string()),
        };
        let base_url = base_url.trim().trim_end_matches('/').to_string();
        if !valid_base_url(&base_url) {
            errors.push(Diagnostic::new(base_name, base_line, format!("server.base_url {base_url:?} is not a site address: write it as \"https://www.yourpractice.com\" (scheme and host, no path)")));
        }
        let mut trusted_proxies = Vec::new();
        if let Some(list) = s.trusted_proxies {
            let line = at(&list.span());
            for p in list.into_inner() {
                match p.trim().parse() {
                    Ok(ip) => trusted_proxies.push(ip),
                    Err(_) => errors.push(Diagnostic::new(name, line, format!("server.trusted_proxies: {p:?} is not an IP address: write addresses like \"127.0.0.1\""))),
                }
            }
        }
        let max_connections_per_address = match s.max_connections_per_address {
            Some(v) if *v.get_ref() == 0 => {
                errors.push(Diagnostic::new(
                    name,
                    at(&v.span()),
                    "server.max_connections_per_address must be at least 1: a browser opens a few connections at once (64 is the default)".to_string(),
                ));
                64
            }
            Some(v) => usize::try_from(v.into_inner()).unwrap_or(usize::MAX),
            None => 64,
        };
        // Time limits in whole seconds, at least 1 and at most an hour.
        let mut seconds = |value: Option<Spanned<u64>>, key: &str, default: u64| match value {
            Some(v) if !(1..=3600).contains(v.get_ref()) => {
                errors.push(Diagnostic::new(
                    name,
                    at(&v.span()),
                    format!(
                        "server.{key} must be between 1 and 3600 seconds ({default} is the default)"
                    ),
                ));
                std::time::Duration::from_secs(default)
            }
            Some(v) => std::time::Duration::from_secs(v.into_inner()),
            None => std::time::Duration::from_secs(default),
        };
        let request_timeout = seconds(s.request_timeout_seconds, "request_timeout_seconds", 30);
        let header_timeout = seconds(s.header_timeout_seconds, "header_timeout_seconds", 10);
        let tls_handshake_timeout = seconds(
            s.tls_handshake_timeout_seconds,
            "tls_handshake_timeout_seconds",
            10,
        );

        let database_url = match (&overrides.database_url, file.database.url) {
            (Some(v), _) => Some((v.trim().to_string(), 0, "DATABASE_URL".to_string())),
            (None, Some(v)) => Some((
                v.get_ref().trim().to_string(),
                at(&v.span()),
                name.to_string(),
            )),
            (None, None) => None,
        }
        .filter(|(url, _, _)| !url.is_empty());
        if let Some((url, line, file)) = &database_url
            && !(url.starts_with("postgres://") || url.starts_with("postgresql://"))
        {
            errors.push(Diagnostic::new(file.clone(), *line, "database.url must start with postgres:// (e.g. \"postgres://kap@localhost/kap\"); leave it out to keep the data in SQLite in the data directory"));
        }
        let m = file.mail;
        let smtp_url = match (&overrides.smtp_url, m.smtp_url) {
            (Some(v), _) => Some((v.clone(), 0, "KAP_SMTP_URL".to_string())),
            (None, Some(v)) => Some((
                v.get_ref().trim().to_string(),
                at(&v.span()),
                name.to_string(),
            )),
            (None, None) => None,
        };
        if let Some((url, line, file)) = &smtp_url
            && !(url.starts_with("smtp://") || url.starts_with("smtps://"))
        {
            errors.push(Diagnostic::new(file.clone(), *line, "mail.smtp_url must start with smtp:// or smtps://, e.g. \"smtps://user:password@smtp.example.com\""));
        }
        let notify_email_is_default = overrides.notify_email.is_none() && m.notify_email.is_none();
        let notify_email = match (&overrides.notify_email, m.notify_email) {
            (Some(v), _) => (v.trim().to_string(), 0, "KAP_NOTIFY_EMAIL".to_string()),
            (None, Some(v)) => (
                v.get_ref().trim().to_string(),
                at(&v.span()),
                name.to_string(),
            ),
            (None, None) => (email.clone(), 0, name.to_string()),
        };
        if !looks_like_email(&notify_email.0) {
            errors.push(Diagnostic::new(
                notify_email.2.clone(),
                notify_email.1,
                format!("mail.notify_email {:?} is not an email address: write it like \"hello@yourpractice.com\"", notify_email.0),
            ));
        }
        let from_is_default = m.from.is_none();
        let from = match m.from {
            Some(v) => {
                let text = v.get_ref().trim().to_string();
                if text.parse::<lettre::message::Mailbox>().is_err() {
                    errors.push(Diagnostic::new(name, at(&v.span()), format!("mail.from {text:?} is not a sender: write it as \"Practice Name <hello@yourpractice.com>\"")));
                }
                text
            }
            None => default_sender(&practice_name, &email),
        };
        let retry_base_seconds = m.retry_base_seconds.unwrap_or(5).max(1);
        let retry_max_seconds = m.retry_max_seconds.unwrap_or(600).max(retry_base_seconds);

        let f = file.contact_form;
        let token_max_age_minutes = match f.token_max_age_minutes {
            Some(v) if *v.get_ref() == 0 => {
                errors.push(Diagnostic::new(
                    name,
                    at(&v.span()),
                    "contact_form.token_max_age_minutes must be at least 1",
                ));
                120
            }
            Some(v) => v.into_inner(),
            None => 120,
        };
        let urgent_reply_hours = match f.urgent_reply_hours {
            Some(v) => match urgent_reply_hours(&v.get_ref().to_string()) {
                Ok(h) => h,
                Err(message) => {
                    errors.push(Diagnostic::new(name, at(&v.span()), message));
                    DEFAULT_URGENT_REPLY_HOURS
                }
            },
            None => DEFAULT_URGENT_REPLY_HOURS,
        };
        let rate_limit_per_hour = match f.rate_limit_per_hour {
            Some(v) if *v.get_ref() == 0 => {
                errors.push(Diagnostic::new(
                    name,
                    at(&v.span()),
                    "contact_form.rate_limit_per_hour must be at least 1",
                ));
                10
            }
            Some(v) => v.into_inner(),
            None => 10,
        };
        let crisis = CrisisLines::resolve(
            [f.crisis_line, f.crisis_call, f.crisis_text],
            [f.crisis_line_name, f.crisis_call_name, f.crisis_text_name],
            f.crisis_text_keyword,
        );

        let a = file.admin;
        let mut positive = |v: Option<Spanned<u64>>, key: &str, default: u64| match v {
            Some(v) if *v.get_ref() == 0 => {
                errors.push(Diagnostic::new(
                    name,
                    at(&v.span()),
                    format!("admin.{key} must be at least 1"),
                ));
                default
            }
            Some(v) => v.into_inner(),
            None => default,
        };
        let admin = AdminConfig {
            idle_timeout_minutes: positive(a.idle_timeout_minutes, "idle_timeout_minutes", 30),
            absolute_timeout_hours: positive(
                a.absolute_timeout_hours,
                "absolute_timeout_hours",
                12,
            ),
            keep_closed_days: positive(
                a.keep_closed_days,
                "keep_closed_days",
                DEFAULT_KEEP_CLOSED_DAYS,
            ),
            keep_consulted_days: positive(
                a.keep_consulted_days,
                "keep_consulted_days",
                DEFAULT_KEEP_CONSULTED_DAYS,
            ),
            keep_spam_days: positive(a.keep_spam_days, "keep_spam_days", 30),
        };

        let tls = tls_config(file.tls, overrides, name, text, &base_url, &mut errors);

        let defaults_insights = InsightsConfig::default();
        let insights = InsightsConfig {
            enabled: file.insights.enabled.unwrap_or(defaults_insights.enabled),
            retention_months: match file.insights.retention_months {
                Some(v) if *v.get_ref() == 0 => {
                    errors.push(Diagnostic::new(
                        name,
                        at(&v.span()),
                        "insights.retention_months must be at least 1 (25 is the default: two years and the month before, to compare a month with the same month a year earlier)",
                    ));
                    defaults_insights.retention_months
                }
                Some(v) => v.into_inner(),
                None => defaults_insights.retention_months,
            },
        };

        let mut going_live_reviewed = Vec::new();
        for item in file
            .going_live
            .reviewed
            .map(Spanned::into_inner)
            .unwrap_or_default()
        {
            match crate::going_live::Item::parse(item.get_ref().trim()) {
                Some(i) if i.may_be_confirmed_in_the_file() => {
                    going_live_reviewed.push(i.as_str().to_string())
                }
                _ => errors.push(Diagnostic::new(
                    name,
                    at(&item.span()),
                    format!(
                        "going_live.reviewed: \"{}\" is not an item that can be confirmed: use \"about\" (only when the built-in words are about you), \"credentials\", \"privacy\" or \"crisis\" (the details and the city are confirmed by writing your own in [practice])",
                        item.get_ref()
                    ),
                )),
            }
        }

        let content_dir = overrides.content_dir.clone().or(file
            .content
            .dir
            .filter(|d| !d.trim().is_empty())
            .map(PathBuf::from));

        let backup = crate::backup::BackupSettings::from_file(file.backup, name, text, &mut errors);

        errors.into_result(Config {
            backup,
            insights,
            going_live_reviewed,
            database: DatabaseConfig {
                url: database_url.map(|(url, _, _)| Secret(url)),
            },
            source: path.map(Path::to_path_buf),
            file_keys,
            server: ServerConfig {
                bind,
                data_dir,
                base_url,
                trusted_proxies,
                max_connections_per_address,
                request_timeout,
                header_timeout,
                tls_handshake_timeout,
                brotli_quality: overrides.brotli_quality.unwrap_or(11).clamp(1, 11),
            },
            practice: Practice {
                name: practice_name,
                clinician_name,
                credentials,
                licensed_states,
                email,
                phone,
                city,
                time_zone,
                zone,
                accent_color,
            },
            content_dir,
            mail: MailConfig {
                smtp_url: smtp_url.map(|(url, _, _)| Secret(url)),
                notify_email_is_default,
                notify_email: notify_email.0,
                from,
                from_is_default,
                retry_base_seconds,
                retry_max_seconds,
                max_permanent_failures: i64::from(m.max_permanent_failures.unwrap_or(5).max(1)),
            },
            form: FormConfig {
                min_fill_seconds: overrides
                    .min_fill_seconds
                    .or(f.min_fill_seconds)
                    .unwrap_or(3),
                token_max_age_minutes,
                rate_limit_per_hour,
                crisis_call: crisis.call,
                crisis_call_name: crisis.call_name,
                crisis_text: crisis.text,
                crisis_text_keyword: crisis.text_keyword,
                crisis_text_name: crisis.text_name,
                emergency_number: f
                    .emergency_number
                    .map(|v| v.trim().to_string())
                    .unwrap_or_else(|| "911".into()),
                reply_time: f
                    .reply_time
                    .map(|v| v.trim().to_string())
                    .unwrap_or_else(|| "within two business days".into()),
                urgent_reply_hours,
                acknowledge: f.acknowledge.unwrap_or(false),
            },
            admin,
            tls,
        })
    }
}

/// `contact_form.urgent_reply_hours` when none is set.
pub const DEFAULT_URGENT_REPLY_HOURS: u32 = 24;

/// Reads `contact_form.urgent_reply_hours` (from the file or the inbox): a whole number of
/// hours from 1 to 72; an empty value is the default.
pub fn urgent_reply_hours(text: &str) -> Result<u32, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(DEFAULT_URGENT_REPLY_HOURS);
    }
    match text.parse::<u32>() {
        Ok(h) if (1..=72).contains(&h) => Ok(h),
        _ => Err(
            "contact_form.urgent_reply_hours must be a whole number of hours from 1 to 72".into(),
        ),
    }
}

/// A setting from the environment (named `env`) or the file, with where it came from.
fn setting(
    env: &Option<String>,
    env_name: &str,
    file: Option<Spanned<String>>,
    name: &str,
    text: &str,
) -> Option<(String, String, usize)> {
    match (env, file) {
        (Some(v), _) => Some((v.trim().to_string(), env_name.to_string(), 0)),
        (None, Some(v)) => Some((
            v.get_ref().trim().to_string(),
            name.to_string(),
            line_of(text, v.span().start),
        )),
        (None, None) => None,
    }
    .filter(|(v, _, _)| !v.is_empty())
}

/// Reads `[tls]`: certificate files or ACME, never both; the public address must be https on
/// one of the certificate's names.
fn tls_config(
    t: FileTls,
    overrides: &Overrides,
    name: &str,
    text: &str,
    base_url: &str,
    errors: &mut Diagnostics,
) -> Option<TlsConfig> {
    let at = |s: &std::ops::Range<usize>| line_of(text, s.start);
    let cert_file = setting(
        &overrides.tls_cert_file,
        "KAP_TLS_CERT_FILE",
        t.cert_file,
        name,
        text,
    );
    let key_file = setting(
        &overrides.tls_key_file,
        "KAP_TLS_KEY_FILE",
        t.key_file,
        name,
        text,
    );
    let domains: Option<(Vec<String>, String, usize)> =
        match (&overrides.tls_acme_domains, t.acme_domains) {
            (Some(v), _) => Some((
                v.split(',')
                    .map(|d| d.trim().to_string())
                    .collect::<Vec<String>>(),
                "KAP_TLS_ACME_DOMAINS".to_string(),
                0,
            )),
            (None, Some(v)) => {
                let line = at(&v.span());
                Some((
                    v.into_inner()
                        .into_iter()
                        .map(|d| d.trim().to_string())
                        .collect(),
                    name.to_string(),
                    line,
                ))
            }
            (None, None) => None,
        }
        .map(|(d, f, l)| {
            (
                d.into_iter().filter(|d| !d.is_empty()).collect::<Vec<_>>(),
                f,
                l,
            )
        })
        .filter(|(d, _, _)| !d.is_empty());
    let email = setting(
        &overrides.tls_acme_email,
        "KAP_TLS_ACME_EMAIL",
        t.acme_email,
        name,
        text,
    );
    let directory = setting(
        &overrides.tls_acme_directory,
        "KAP_TLS_ACME_DIRECTORY",
        t.acme_directory,
        name,
        text,
    );
    let ca_file = setting(
        &overrides.tls_acme_ca_file,
        "KAP_TLS_ACME_CA_FILE",
        t.acme_ca_file,
        name,
        text,
    );
    let bind = setting(&overrides.tls_bind, "KAP_TLS_BIND", t.bind, name, text);

    let certificate = match (cert_file, key_file, domains) {
        (None, None, None) => {
            if let Some((_, file, line)) = email.as_ref().or(directory.as_ref()).or(bind.as_ref()) {
                errors.push(Diagnostic::new(file.clone(), *line, "[tls] is set without a certificate: give tls.cert_file and tls.key_file, or tls.acme_domains for automatic certificates"));
            }
            return None;
        }
        (Some(_), _, Some((_, file, line))) | (_, Some(_), Some((_, file, line))) => {
            errors.push(Diagnostic::new(file, line, "tls.acme_domains and tls.cert_file/tls.key_file are both set: choose certificate files or automatic certificates, not both"));
            return None;
        }
        (Some((cert, ..)), Some((key, ..)), None) => CertificateSource::Files {
            cert_file: PathBuf::from(cert),
            key_file: PathBuf::from(key),
        },
        (Some((_, file, line)), None, None) => {
            errors.push(Diagnostic::new(
                file,
                line,
                "tls.cert_file is set without tls.key_file: give both files (PEM)",
            ));
            return None;
        }
        (None, Some((_, file, line)), None) => {
            errors.push(Diagnostic::new(
                file,
                line,
                "tls.key_file is set without tls.cert_file: give both files (PEM)",
            ));
            return None;
        }
        (None, None, Some((domains, file, line))) => {
            for d in &domains {
                if !valid_dns_name(d) {
                    errors.push(Diagnostic::new(file.clone(), line, format!("tls.acme_domains: {d:?} is not a domain name: write names like \"www.yourpractice.com\" (no scheme, no port)")));
                }
            }
            let email = match email {
                Some((e, file, line)) => {
                    if !looks_like_email(&e) {
                        errors.push(Diagnostic::new(file, line, format!("tls.acme_email {e:?} is not an email address: write it like \"you@yourpractice.com\"")));
                    }
                    e
                }
                None => {
                    errors.push(Diagnostic::new(file.clone(), line, "tls.acme_domains needs tls.acme_email: the certificate authority writes there about expiring certificates"));
                    String::new()
                }
            };
            let directory = match directory {
                Some((d, file, line)) => {
                    if !d.starts_with("https://") {
                        errors.push(Diagnostic::new(file, line, format!("tls.acme_directory {d:?} is not an https URL: leave it out for Let's Encrypt ({LETS_ENCRYPT})")));
                    }
                    d
                }
                None => LETS_ENCRYPT.to_string(),
            };
            let renew_days_before = match t.acme_renew_days_before {
                Some(v) if *v.get_ref() == 0 => {
                    errors.push(Diagnostic::new(
                        name,
                        at(&v.span()),
                        "tls.acme_renew_days_before must be at least 1",
                    ));
                    30
                }
                Some(v) => v.into_inner(),
                None => 30,
            };
            let check_seconds = match t.acme_check_seconds {
                Some(v) if *v.get_ref() == 0 => {
                    errors.push(Diagnostic::new(
                        name,
                        at(&v.span()),
                        "tls.acme_check_seconds must be at least 1",
                    ));
                    3600
                }
                Some(v) => v.into_inner(),
                None => 3600,
            };
            CertificateSource::Acme(AcmeConfig {
                domains,
                email,
                directory,
                ca_file: ca_file.map(|(f, _, _)| PathBuf::from(f)),
                renew_days_before,
                check_seconds,
            })
        }
    };
    let bind = match bind {
        None => SocketAddr::from(([0, 0, 0, 0], 443)),
        Some((v, file, line)) => v.parse().unwrap_or_else(|_| {
            errors.push(Diagnostic::new(
                file,
                line,
                format!("tls.bind {v:?} is not an address: write it as \"0.0.0.0:443\""),
            ));
            SocketAddr::from(([0, 0, 0, 0], 443))
        }),
    };
    if !base_url.starts_with("https://") {
        errors.push(Diagnostic::new(name, 0, format!("server.base_url {base_url:?} must start with https:// when [tls] is set: the site is served over HTTPS (e.g. \"https://www.yourpractice.com\")")));
    }
    Some(TlsConfig { bind, certificate })
}

/// A DNS name a certificate can be issued for (a leading `*.` allowed).
fn valid_dns_name(name: &str) -> bool {
    let name = name.strip_prefix("*.").unwrap_or(name);
    name.contains('.')
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

impl ServerConfig {
    /// The host of the public address, without port, lowercased (`www.example.org`).
    pub fn host(&self) -> String {
        let rest = self
            .base_url
            .split_once("://")
            .map_or(self.base_url.as_str(), |(_, r)| r);
        let host = if let Some(v6) = rest.strip_prefix('[') {
            v6.split(']').next().unwrap_or(v6)
        } else {
            rest.rsplit_once(':').map_or(rest, |(h, _)| h)
        };
        host.to_ascii_lowercase()
    }
}

/// The content folder a config names, read leniently: lets `check` report content problems even
/// when the rest of the config is invalid.
pub fn content_dir_hint(overrides: &Overrides) -> Option<PathBuf> {
    if let Some(d) = &overrides.content_dir {
        return Some(d.clone());
    }
    let path = overrides
        .config_file
        .clone()
        .unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG_FILE));
    let text = std::fs::read_to_string(path).ok()?;
    let table: toml::Table = toml::from_str(&text).ok()?;
    let dir = table.get("content")?.get("dir")?.as_str()?;
    (!dir.trim().is_empty()).then(|| PathBuf::from(dir))
}

fn toml_message(e: &toml::de::Error) -> String {
    let msg = e.message().trim().to_string();
    if msg.starts_with("unknown field") {
        format!("{msg}: check the spelling against config/example.toml")
    } else {
        format!("{msg} (see config/example.toml for the format)")
    }
}

fn looks_like_email(v: &str) -> bool {
    let Some((local, domain)) = v.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !v
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "<>\"".contains(c))
        && !domain.contains('@')
}

fn valid_base_url(v: &str) -> bool {
    let rest = v
        .strip_prefix("https://")
        .or_else(|| v.strip_prefix("http://"));
    match rest {
        Some(host) => {
            !host.is_empty()
                && !host.contains('/')
                && !host.contains('?')
                && !host.contains('#')
                && !host.chars().any(|c| c.is_whitespace() || c.is_control())
        }
        None => false,
    }
}

/// True for addresses that can never reach anyone: the example domains reserved by RFC 2606 and
/// RFC 6761 (`example.com`, `.org`, `.net`, `*.example`, `*.test`, `*.invalid`).
pub fn is_example_address(email: &str) -> bool {
    let Some((_, domain)) = email.rsplit_once('@') else {
        return false;
    };
    let domain = domain.trim().trim_end_matches('.').to_ascii_lowercase();
    let labels: Vec<&str> = domain.rsplit('.').collect();
    matches!(
        labels.as_slice(),
        ["example" | "test" | "invalid", ..] | ["com" | "org" | "net", "example", ..]
    )
}

impl Config {
    /// Settings that let the program run but would let the practice down: each names the
    /// setting and the fix. `check` prints them and `serve` logs them at start.
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mail = &self.mail;
        let sending = mail.smtp_url.is_some();
        if is_example_address(&self.practice.email) {
            out.push(format!(
                "practice.email {:?} is an example address, shown to visitors on every page: set practice.email to the practice's real address",
                self.practice.email
            ));
        }
        if is_example_address(&mail.notify_email) {
            let setting = if mail.notify_email_is_default {
                "practice.email (used because mail.notify_email is not set)"
            } else {
                "mail.notify_email"
            };
            out.push(format!(
                "notices of new consultation requests go to {:?}, an example address, from {setting}: {} set mail.notify_email (or KAP_NOTIFY_EMAIL) to the inbox the practice reads",
                mail.notify_email,
                if sending {
                    "real requests would arrive unannounced;"
                } else {
                    "once mail is on, real requests would arrive unannounced;"
                }
            ));
        } else if sending && mail.notify_email_is_default {
            out.push(format!(
                "mail.smtp_url is set but mail.notify_email is not: notices of new consultation requests go to practice.email {:?}; set mail.notify_email (or KAP_NOTIFY_EMAIL) to the inbox the practice reads",
                mail.notify_email
            ));
        }
        out
    }
}

impl fmt::Display for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "config {} (site {}, data in {})",
            self.source
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| "built-in defaults".into()),
            self.server.base_url,
            self.server.data_dir.display()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Config, Diagnostics> {
        Config::from_toml(text, "kap.toml", None, &Overrides::default())
    }

    #[test]
    fn defaults_are_valid() {
        let c = load("").expect("defaults load");
        assert_eq!(c.practice, default_practice());
        assert_eq!(c.server.base_url, "http://127.0.0.1:8080");
        assert!(!c.server.https());
    }

    #[test]
    fn insights_are_on_by_default_and_their_retention_is_checked() {
        let c = load("").expect("defaults load");
        assert!(c.insights.enabled);
        assert_eq!(c.insights.retention_months, 25);
        let c = load("[insights]\nenabled = false\nretention_months = 13\n").expect("loads");
        assert!(!c.insights.enabled);
        assert_eq!(c.insights.retention_months, 13);
        let e = load("[insights]\nretention_months = 0\n")
            .expect_err("zero months refused")
            .to_string();
        assert!(
            e.contains("insights.retention_months must be at least 1"),
            "{e}"
        );
    }

    #[test]
    fn errors_name_the_line_and_the_fix() {
        let text = "[practice]\nname = \"A\"\naccent_color = \"#eeeeee\"\nlicensed_states = [\"CA\", \"XX\"]\ntime_zone = \"Mars/Olympus\"\n";
        let errs = load(text).expect_err("invalid").to_string();
        assert!(
            errs.contains("kap.toml:3: practice.accent_color #eeeeee is too light"),
            "{errs}"
        );
        assert!(
            errs.contains("kap.toml:4: practice.licensed_states: \"XX\""),
            "{errs}"
        );
        assert!(errs.contains("kap.toml:5: practice.time_zone"), "{errs}");
    }

    #[test]
    fn unknown_keys_are_reported_with_their_line() {
        let errs = load("[server]\nbind = \"127.0.0.1:9\"\nbnid = 1\n")
            .expect_err("typo")
            .to_string();
        assert!(errs.starts_with("kap.toml:3: unknown field"), "{errs}");
    }

    #[test]
    fn example_addresses_are_recognised() {
        for a in [
            "hello@example.com",
            "a@EXAMPLE.org",
            "a@mail.example.net",
            "a@practice.example",
            "a@x.test",
            "a@x.invalid",
        ] {
            assert!(is_example_address(a), "{a}");
        }
        for a in [
            "a@example.co.uk",
            "a@myexample.com",
            "a@practice.org",
            "a@test.com",
        ] {
            assert!(!is_example_address(a), "{a}");
        }
    }

    #[test]
    fn warnings_name_the_setting_and_the_fix() {
        let defaults = load("").expect("defaults");
        let w = defaults.warnings().join("\n");
        assert!(
            w.contains("practice.email \"hello@example.com\" is an example address"),
            "{w}"
        );
        assert!(
            w.contains("from practice.email (used because mail.notify_email is not set)"),
            "{w}"
        );
        let real = "[practice]\nemail = \"hello@practice.org\"\n";
        assert!(load(real).expect("valid").warnings().is_empty());
        let sending = format!("{real}[mail]\nsmtp_url = \"smtp://127.0.0.1:25\"\n");
        let w = load(&sending).expect("valid").warnings().join("\n");
        assert!(
            w.contains("mail.smtp_url is set but mail.notify_email is not"),
            "{w}"
        );
        let noted = format!("{sending}notify_email = \"inbox@practice.test\"\n");
        let w = load(&noted).expect("valid").warnings().join("\n");
        assert!(
            w.contains("an example address, from mail.notify_email"),
            "{w}"
        );
        assert!(w.contains("real requests would arrive unannounced"), "{w}");
    }

    #[test]
    fn https_base_url_turns_on_https() {
        let c = load("[server]\nbase_url = \"https://example.org/\"\n").expect("valid");
        assert_eq!(c.server.base_url, "https://example.org");
        assert!(c.server.https());
        assert!(load("[server]\nbase_url = \"example.org\"\n").is_err());
    }

    #[test]
    fn connections_per_address_are_capped_at_64_unless_set() {
        let c = load("").expect("valid");
        assert_eq!(c.server.max_connections_per_address, 64);
        let c = load("[server]\nmax_connections_per_address = 8\n").expect("valid");
        assert_eq!(c.server.max_connections_per_address, 8);
        assert!(load("[server]\nmax_connections_per_address = 0\n").is_err());
    }

    #[test]
    fn time_limits_default_to_production_and_can_be_set_in_whole_seconds() {
        use std::time::Duration;
        let c = load("").expect("valid");
        assert_eq!(c.server.request_timeout, Duration::from_secs(30));
        assert_eq!(c.server.header_timeout, Duration::from_secs(10));
        assert_eq!(c.server.tls_handshake_timeout, Duration::from_secs(10));
        assert_eq!(c.server.brotli_quality, 11);
        let c = load(
            "[server]\nrequest_timeout_seconds = 2\nheader_timeout_seconds = 1\ntls_handshake_timeout_seconds = 3\n",
        )
        .expect("valid");
        assert_eq!(c.server.request_timeout, Duration::from_secs(2));
        assert_eq!(c.server.header_timeout, Duration::from_secs(1));
        assert_eq!(c.server.tls_handshake_timeout, Duration::from_secs(3));
        for bad in [
            "request_timeout_seconds = 0",
            "header_timeout_seconds = 3601",
            "tls_handshake_timeout_seconds = 0",
        ] {
            let err = load(&format!("[server]\n{bad}\n")).expect_err(bad);
            assert!(
                err.to_string().contains("between 1 and 3600 seconds"),
                "{err}"
            );
        }
    }
}
