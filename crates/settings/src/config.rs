//! The one typed configuration of the practice.
//!
//! Every setting is declared once, with its default, in the module of its section (`[server]`
//! in `server.rs`, and so on), which also reads and checks it. Settings come from a TOML file
//! (given by `--config`/`KAP_CONFIG`, or `kap-practice.toml` in the working directory when
//! present) and then from the environment, which wins. `Config::load` validates everything and
//! reports each problem as `file:line: what is wrong and how to fix it`, so `kap-practice check`
//! and `serve` speak with the same voice. `config/example.toml` documents every setting for the
//! clinician.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use diagnostics::{Diagnostic, Diagnostics, line_of};

mod admin;
pub mod colour;
mod contact_form;
mod database;
mod estimate;
mod insights;
mod mail;
mod practice;
pub(crate) mod read;
mod server;
mod tls;

pub use admin::{AdminConfig, DEFAULT_KEEP_CLOSED_DAYS, DEFAULT_KEEP_CONSULTED_DAYS};
pub use contact_form::{DEFAULT_URGENT_REPLY_HOURS, FormConfig, urgent_reply_hours};
pub use database::DatabaseConfig;
pub use estimate::{
    EstimateConfig, Key as EstimateKey, Value as EstimateValue, check as check_estimate,
    keys as estimate_keys,
};
pub use insights::InsightsConfig;
pub use mail::{MailConfig, default_sender};
pub use practice::{Practice, default_practice};
pub use server::ServerConfig;
pub use tls::{AcmeConfig, CertificateSource, LETS_ENCRYPT, TlsConfig};

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
    /// What the Good Faith Estimate is made from (`[estimate]`).
    pub estimate: EstimateConfig,
    /// The going-live items the file confirms as reviewed (`going_live.reviewed`), with those
    /// confirmed in the inbox (see [`crate::going_live`]).
    pub going_live_reviewed: Vec<String>,
    /// Automatic encrypted backups (`[backup]`, see `src/backup/`).
    pub backup: crate::backup::BackupSettings,
}

/// A value that must never be printed (a password inside a URL, say).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"(redacted)\"")
    }
}

/// The `table.key` names the file sets in the tables the inbox can also set.
fn file_keys(text: &str) -> std::collections::BTreeSet<String> {
    let Ok(table) = text.parse::<toml::Table>() else {
        return Default::default();
    };
    ["practice", "contact_form", "admin", "estimate"]
        .into_iter()
        .filter_map(|name| Some((name, table.get(name)?.as_table()?)))
        .flat_map(|(name, t)| t.keys().map(move |k| format!("{name}.{k}")))
        .collect()
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

/// The file as written: a table per section, each read by its section's module.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    #[serde(default)]
    server: server::FileServer,
    #[serde(default)]
    practice: practice::FilePractice,
    #[serde(default)]
    content: FileContent,
    #[serde(default)]
    mail: mail::FileMail,
    #[serde(default)]
    contact_form: contact_form::FileForm,
    #[serde(default)]
    admin: admin::FileAdmin,
    #[serde(default)]
    database: database::FileDatabase,
    #[serde(default)]
    tls: tls::FileTls,
    #[serde(default)]
    insights: insights::FileInsights,
    #[serde(default)]
    backup: crate::backup::FileBackup,
    #[serde(default)]
    going_live: FileGoingLive,
    #[serde(default)]
    estimate: estimate::FileEstimate,
}

/// `[going_live]` as the file writes it.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FileGoingLive {
    reviewed: Option<Spanned<Vec<Spanned<String>>>>,
}

/// `[content]` as the file writes it.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FileContent {
    dir: Option<String>,
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
        let mut read = read::Reader::new(name, text);
        let practice = read.practice(file.practice);
        let server = read.server(file.server, overrides);
        let database = read.database(file.database, overrides);
        let mail = read.mail(file.mail, &practice, overrides);
        let form = read.contact_form(file.contact_form, overrides);
        let admin = read.admin(file.admin);
        let tls = read.tls(file.tls, overrides, &server.base_url);
        let insights = read.insights(file.insights);
        let going_live_reviewed = read.going_live(file.going_live);
        let estimate = read.estimate(file.estimate);
        let backup = crate::backup::BackupSettings::from_file(file.backup, &mut read);
        let content_dir = overrides.content_dir.clone().or(file
            .content
            .dir
            .filter(|d| !d.trim().is_empty())
            .map(PathBuf::from));
        read.errors.into_result(Config {
            source: path.map(Path::to_path_buf),
            file_keys: file_keys(text),
            server,
            practice,
            content_dir,
            mail,
            form,
            admin,
            database,
            tls,
            insights,
            estimate,
            going_live_reviewed,
            backup,
        })
    }
}

impl read::Reader<'_> {
    /// Reads `[going_live]`: the checklist items the file confirms (never the details or the
    /// city, which are confirmed by writing the practice's own in `[practice]`).
    fn going_live(&mut self, file: FileGoingLive) -> Vec<String> {
        let mut reviewed = Vec::new();
        for item in file.reviewed.map(Spanned::into_inner).unwrap_or_default() {
            match crate::going_live::Item::parse(item.get_ref().trim()) {
                Some(i) if i.may_be_confirmed_in_the_file() => {
                    reviewed.push(i.as_str().to_string())
                }
                _ => {
                    let line = self.line(&item);
                    self.error(
                        line,
                        format!(
                            "going_live.reviewed: \"{}\" is not an item that can be confirmed: use \"about\" (only when the built-in words are about you), \"credentials\", \"privacy\" or \"crisis\" (the details and the city are confirmed by writing your own in [practice])",
                            item.get_ref()
                        ),
                    )
                }
            }
        }
        reviewed
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
mod tests;
