//! Automatic certificates from an ACME certificate authority (Let's Encrypt by default).
//!
//! One task per server: it looks at the serving certificate every `tls.acme_check_seconds` and
//! orders a new one when it is due ([`renewal_due`]): when `tls.acme_renew_days_before` days
//! remain (30 by default: a Let's Encrypt certificate lives 90), or at two thirds of the lifetime
//! for certificates that live less than that. The HTTP-01 challenge is answered by the plain
//! listener. A failure is retried with doubling delays (up to six hours) while the old
//! certificate keeps serving, and is shown in the inbox when expiry is near. The account key and
//! the certificate live in `tls/` in the data directory, readable by the owner only.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use instant_acme::{
    Account, AccountCredentials, AuthorizationStatus, ChallengeType, Identifier, NewAccount,
    NewOrder, OrderStatus, RetryPolicy,
};
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use super::{CertificateInfo, Loaded, Tls, load_pem};
use settings::config::AcmeConfig;

/// The longest wait between retries after failures.
const MAX_BACKOFF: Duration = Duration::from_secs(6 * 3600);

/// Whether a certificate should be replaced now.
pub fn renewal_due(info: &CertificateInfo, now: Timestamp, renew_days_before: u64) -> bool {
    let days = SignedDuration::from_hours(24 * i64::try_from(renew_days_before).unwrap_or(30));
    let lifetime = info.lifetime();
    let before = if days < lifetime { days } else { lifetime / 3 };
    info.not_after.duration_since(now) <= before
}

/// The wait before the next try after `failures` failures in a row.
pub fn backoff(check: Duration, failures: u32) -> Duration {
    let first = check.min(Duration::from_secs(60));
    first
        .saturating_mul(2u32.saturating_pow(failures.saturating_sub(1).min(20)))
        .min(MAX_BACKOFF)
}

/// The files in `tls/` of the data directory.
pub struct CertificateFiles {
    dir: PathBuf,
}

#[derive(Serialize, Deserialize)]
struct StoredAccount {
    directory: String,
    credentials: AccountCredentials,
}

impl CertificateFiles {
    pub fn new(data_dir: &Path) -> Self {
        CertificateFiles {
            dir: data_dir.join("tls"),
        }
    }

    pub fn certificate_path(&self) -> PathBuf {
        self.dir.join("certificate.pem")
    }

    pub fn key_path(&self) -> PathBuf {
        self.dir.join("key.pem")
    }

    fn account_path(&self) -> PathBuf {
        self.dir.join("account.json")
    }

    /// The certificate kept from an earlier run, if any.
    pub fn load_certificate(&self) -> Result<Option<Loaded>, super::TlsError> {
        let (cert, key) = (self.certificate_path(), self.key_path());
        if !cert.exists() || !key.exists() {
            return Ok(None);
        }
        super::load_files(&cert, &key).map(Some)
    }

    fn save_certificate(&self, chain_pem: &str, key_pem: &str) -> std::io::Result<()> {
        write_private(&self.key_path(), key_pem.as_bytes())?;
        write_private(&self.certificate_path(), chain_pem.as_bytes())
    }

    fn load_account(&self, directory: &str) -> Option<AccountCredentials> {
        let text = std::fs::read(self.account_path()).ok()?;
        let stored: StoredAccount = serde_json::from_slice(&text).ok()?;
        (stored.directory == directory).then_some(stored.credentials)
    }

    fn save_account(
        &self,
        directory: &str,
        credentials: AccountCredentials,
    ) -> std::io::Result<()> {
        let text = serde_json::to_vec(&StoredAccount {
            directory: directory.to_string(),
            credentials,
        })
        .map_err(std::io::Error::other)?;
        write_private(&self.account_path(), &text)
    }
}

/// Writes a file only its owner can read, all at once (a temporary file renamed into place).
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&tmp)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)
}

/// Keeps a certificate for `config.domains` in `tls`, until the process ends.
pub async fn run(tls: Arc<Tls>, config: AcmeConfig, data_dir: PathBuf) {
    let files = CertificateFiles::new(&data_dir);
    let check = Duration::from_secs(config.check_seconds);
    let mut account: Option<Account> = None;
    let mut failures = 0u32;
    loop {
        let due = tls
            .info()
            .is_none_or(|info| renewal_due(&info, Timestamp::now(), config.renew_days_before));
        if due {
            match obtain(&tls, &config, &files, &mut account).await {
                Ok(loaded) => {
                    failures = 0;
                    tls.clear_failure();
                    tls.install(loaded);
                }
                Err(reason) => {
                    failures = failures.saturating_add(1);
                    tracing::warn!(
                        problem = %reason,
                        failures,
                        "cannot obtain a certificate; the current one (if any) keeps serving"
                    );
                    tls.record_failure(reason.to_string());
                }
            }
        }
        let wait = if failures > 0 {
            backoff(check, failures)
        } else {
            check
        };
        tokio::time::sleep(wait).await;
    }
}

/// Why a certificate could not be obtained, in words for the log and the health check.
#[derive(Debug, thiserror::Error)]
pub enum AcmeError {
    #[error("tls.acme_ca_file {path} cannot be used: {source}")]
    CaFile {
        path: String,
        source: instant_acme::Error,
    },
    #[error("{0}")]
    Client(instant_acme::Error),
    #[error("the certificate authority cannot be reached: {0}")]
    Unreachable(instant_acme::Error),
    #[error("cannot open an account with the certificate authority: {0}")]
    NewAccount(instant_acme::Error),
    #[error("cannot keep the account key in the data directory: {0}")]
    SaveAccount(std::io::Error),
    #[error("the certificate authority refused: {0}")]
    Refused(#[from] instant_acme::Error),
    #[error("the authorization is {0:?}")]
    Authorization(AuthorizationStatus),
    #[error("the certificate authority offers no HTTP-01 challenge")]
    NoHttp01,
    #[error(
        "the certificate authority could not validate the domains ({0:?}): check that they point at this server and that port 80 is open"
    )]
    NotValidated(OrderStatus),
    #[error("the certificate authority sent an unusable certificate: {0}")]
    Unusable(super::TlsError),
    #[error("cannot keep the certificate in the data directory: {0}")]
    SaveCertificate(std::io::Error),
}

/// The account, created on first use and kept in the data directory.
async fn account(config: &AcmeConfig, files: &CertificateFiles) -> Result<Account, AcmeError> {
    let builder = || match &config.ca_file {
        Some(ca) => Account::builder_with_root(ca).map_err(|source| AcmeError::CaFile {
            path: ca.display().to_string(),
            source,
        }),
        None => Account::builder().map_err(AcmeError::Client),
    };
    if let Some(credentials) = files.load_account(&config.directory) {
        return builder()?
            .from_credentials(credentials)
            .await
            .map_err(AcmeError::Unreachable);
    }
    let contact = config.email.as_ref().map(|e| format!("mailto:{e}"));
    let contacts: Vec<&str> = contact.iter().map(String::as_str).collect();
    let (account, credentials) = builder()?
        .create(
            &NewAccount {
                contact: &contacts,
                terms_of_service_agreed: true,
                only_return_existing: false,
            },
            config.directory.clone(),
            None,
        )
        .await
        .map_err(AcmeError::NewAccount)?;
    files
        .save_account(&config.directory, credentials)
        .map_err(AcmeError::SaveAccount)?;
    tracing::info!(directory = %config.directory, "opened an account with the certificate authority");
    Ok(account)
}

/// Orders, validates and downloads one certificate, and keeps it in the data directory.
async fn obtain(
    tls: &Tls,
    config: &AcmeConfig,
    files: &CertificateFiles,
    cached: &mut Option<Account>,
) -> Result<Loaded, AcmeError> {
    let account = match cached {
        Some(a) => a.clone(),
        None => {
            let a = account(config, files).await?;
            *cached = Some(a.clone());
            a
        }
    };
    let result = order(tls, config, &account).await;
    tls.set_challenges(HashMap::new());
    let (chain, key) = result?;
    let loaded = load_pem(
        chain.as_bytes(),
        key.as_bytes(),
        &files.certificate_path(),
        &files.key_path(),
    )
    .map_err(AcmeError::Unusable)?;
    files
        .save_certificate(&chain, &key)
        .map_err(AcmeError::SaveCertificate)?;
    Ok(loaded)
}

async fn order(
    tls: &Tls,
    config: &AcmeConfig,
    account: &Account,
) -> Result<(String, String), AcmeError> {
    let identifiers: Vec<Identifier> = config
        .domains
        .iter()
        .map(|d| Identifier::Dns(d.clone()))
        .collect();
    let mut order = account.new_order(&NewOrder::new(&identifiers)).await?;
    let mut answers = HashMap::new();
    {
        let mut authorizations = order.authorizations();
        while let Some(authz) = authorizations.next().await {
            let mut authz = authz?;
            match authz.status {
                AuthorizationStatus::Pending => {}
                AuthorizationStatus::Valid => continue,
                other => return Err(AcmeError::Authorization(other)),
            }
            let challenge = authz
                .challenge(ChallengeType::Http01)
                .ok_or(AcmeError::NoHttp01)?;
            answers.insert(
                challenge.token.clone(),
                challenge.key_authorization().as_str().to_string(),
            );
            tls.set_challenges(answers.clone());
            let mut challenge = challenge;
            challenge.set_ready().await?;
        }
    }
    let retry = RetryPolicy::new().timeout(Duration::from_secs(90));
    let status = order.poll_ready(&retry).await?;
    if status != OrderStatus::Ready {
        return Err(AcmeError::NotValidated(status));
    }
    let key = order.finalize().await?;
    let chain = order.poll_certificate(&retry).await?;
    Ok((chain, key))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(not_before: &str, not_after: &str) -> CertificateInfo {
        CertificateInfo {
            not_before: not_before.parse().expect("time"),
            not_after: not_after.parse().expect("time"),
            names: vec!["practice.example".into()],
            serial: "01".into(),
        }
    }

    /// Asserts that the certificate valid from `not_before` to `not_after` is not yet due for
    /// renewal at `still_early` but is at `due` (with the usual 30 days).
    fn renews_between(not_before: &str, not_after: &str, still_early: &str, due: &str) {
        let c = info(not_before, not_after);
        assert!(!renewal_due(&c, still_early.parse().expect("t"), 30));
        assert!(renewal_due(&c, due.parse().expect("t"), 30));
    }

    #[test]
    fn ninety_day_certificates_renew_thirty_days_before_expiry() {
        renews_between(
            "2026-01-01T00:00:00Z",
            "2026-04-01T00:00:00Z",
            "2026-03-01T00:00:00Z",
            "2026-03-03T00:00:00Z",
        );
    }

    #[test]
    fn short_certificates_renew_at_two_thirds_of_their_lifetime() {
        renews_between(
            "2026-01-01T00:00:00Z",
            "2026-01-07T00:00:00Z",
            "2026-01-04T23:00:00Z",
            "2026-01-05T01:00:00Z",
        );
    }

    #[test]
    fn retries_back_off_to_six_hours() {
        let hour = Duration::from_secs(3600);
        assert_eq!(backoff(hour, 1), Duration::from_secs(60));
        assert_eq!(backoff(hour, 2), Duration::from_secs(120));
        assert_eq!(backoff(hour, 30), MAX_BACKOFF);
        assert_eq!(backoff(Duration::from_secs(1), 3), Duration::from_secs(4));
    }

    #[cfg(unix)]
    #[test]
    fn kept_files_are_for_the_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("tls").join("key.pem");
        write_private(&path, b"secret").expect("write");
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(std::fs::read(&path).expect("read"), b"secret");
    }
}
