//! Where backups are kept: a local directory or S3-compatible object storage.
//!
//! A local copy is written as `NAME.partial`, synced, then renamed, so a copy cut short by a
//! full disk or a crash never carries a backup's name; object storage makes an object visible
//! only once its upload completed. Only complete backups are ever listed.

use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use rusty_s3::{Bucket, Credentials, S3Action, UrlStyle};

use settings::backup::S3Settings;

/// The ending of every backup's name.
pub const SUFFIX: &str = ".kapbak";
/// The beginning of every backup's name.
pub const PREFIX: &str = "kap-practice-";

/// Why a destination did not do what was asked. The messages name storage, never data.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error("the backup directory {path}: {source}")]
    Local {
        path: String,
        source: std::io::Error,
    },
    #[error("the object storage cannot be reached ({0})")]
    Unreachable(String),
    #[error("the object storage did not answer in time")]
    Timeout,
    #[error(
        "the object storage refused the access key (HTTP {0}): check the key id and secret, and that the key may write to the bucket"
    )]
    Refused(u16),
    #[error("the bucket {0} does not exist (or no longer exists) at the object storage")]
    NoBucket(String),
    #[error("no backup named {0} at {1}")]
    NotFound(String, String),
    #[error("the object storage answered HTTP {0}{1}")]
    Status(u16, String),
    #[error("the object storage's address is not valid: {0}")]
    Address(String),
}

/// A backup held by a destination.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listed {
    pub name: String,
    pub bytes: u64,
}

/// One place backups go.
#[derive(Clone, Debug)]
pub enum Target {
    Local(PathBuf),
    S3(Box<S3>),
}

impl Target {
    /// The destinations the settings name (the local directory first).
    pub fn all(settings: &super::BackupSettings) -> Vec<Target> {
        let mut out = Vec::new();
        if let Some(dir) = &settings.dir {
            out.push(Target::Local(dir.clone()));
        }
        if let Some(s3) = &settings.s3 {
            out.push(Target::S3(Box::new(S3::new(s3.clone()))));
        }
        out
    }

    /// Where this is, for people.
    pub fn describe(&self) -> String {
        match self {
            Target::Local(dir) => dir.display().to_string(),
            Target::S3(s3) => format!(
                "{} (bucket {}{})",
                s3.settings.endpoint,
                s3.settings.bucket,
                if s3.settings.prefix.is_empty() {
                    String::new()
                } else {
                    format!(", prefix {}", s3.settings.prefix)
                }
            ),
        }
    }

    /// Stores the finished backup file `file` as `name`.
    pub async fn put(&self, name: &str, file: &Path) -> Result<(), TargetError> {
        match self {
            Target::Local(dir) => {
                let (dir, name, file) = (dir.clone(), name.to_string(), file.to_path_buf());
                blocking(move || put_local(&dir, &name, &file)).await
            }
            Target::S3(s3) => {
                let body = tokio::fs::read(file)
                    .await
                    .map_err(|source| TargetError::Local {
                        path: file.display().to_string(),
                        source,
                    })?;
                s3.put(name, Bytes::from(body)).await
            }
        }
    }

    /// Fetches backup `name` into `to`.
    pub async fn get(&self, name: &str, to: &Path) -> Result<(), TargetError> {
        let local = |source| TargetError::Local {
            path: to.display().to_string(),
            source,
        };
        match self {
            Target::Local(dir) => {
                let from = dir.join(name);
                if !from.is_file() {
                    return Err(TargetError::NotFound(name.into(), self.describe()));
                }
                tokio::fs::copy(&from, to).await.map_err(local)?;
                Ok(())
            }
            Target::S3(s3) => {
                let body = s3.get(name).await?;
                tokio::fs::write(to, body).await.map_err(local)
            }
        }
    }

    /// The complete backups held, oldest first.
    pub async fn list(&self) -> Result<Vec<Listed>, TargetError> {
        let mut listed = match self {
            Target::Local(dir) => {
                let dir = dir.clone();
                blocking(move || list_local(&dir)).await?
            }
            Target::S3(s3) => s3.list().await?,
        };
        listed.retain(|l| is_backup_name(&l.name));
        listed.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(listed)
    }

    /// Deletes backup `name`.
    pub async fn delete(&self, name: &str) -> Result<(), TargetError> {
        match self {
            Target::Local(dir) => {
                let path = dir.join(name);
                tokio::fs::remove_file(&path)
                    .await
                    .map_err(|source| TargetError::Local {
                        path: path.display().to_string(),
                        source,
                    })
            }
            Target::S3(s3) => s3.delete(name).await,
        }
    }

    /// Whether the destination takes a write now: a small test object written and removed.
    pub async fn test(&self) -> Result<(), TargetError> {
        let name = ".kap-practice-connection-test";
        match self {
            Target::Local(dir) => {
                let dir = dir.clone();
                blocking(move || {
                    let path = dir.join(name);
                    let io = |source| TargetError::Local {
                        path: dir.display().to_string(),
                        source,
                    };
                    std::fs::write(&path, b"ok").map_err(io)?;
                    std::fs::remove_file(&path).map_err(io)
                })
                .await
            }
            Target::S3(s3) => {
                s3.put(name, Bytes::from_static(b"ok")).await?;
                s3.delete(name).await
            }
        }
    }
}

/// Whether `name` is a complete backup's name (never a `.partial` or another file).
pub fn is_backup_name(name: &str) -> bool {
    name.starts_with(PREFIX)
        && name.ends_with(SUFFIX)
        && !name.contains('/')
        && name.len() > PREFIX.len() + SUFFIX.len()
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, TargetError> + Send + 'static,
) -> Result<T, TargetError> {
    tokio::task::spawn_blocking(work)
        .await
        .unwrap_or_else(|e| Err(TargetError::Unreachable(format!("the copy stopped: {e}"))))
}

fn put_local(dir: &Path, name: &str, file: &Path) -> Result<(), TargetError> {
    use std::io::Write;
    let io = |source| TargetError::Local {
        path: dir.display().to_string(),
        source,
    };
    if !dir.is_dir() {
        return Err(io(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "it does not exist (is the disk or share mounted?)",
        )));
    }
    let partial = dir.join(format!("{name}.partial"));
    let written = (|| {
        let mut from = std::fs::File::open(file)?;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut to = options.open(&partial)?;
        std::io::copy(&mut from, &mut to)?;
        to.flush()?;
        to.sync_all()?;
        std::fs::rename(&partial, dir.join(name))?;
        // The rename itself is made durable with the directory.
        std::fs::File::open(dir)?.sync_all()
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    written.map_err(io)
}

fn list_local(dir: &Path) -> Result<Vec<Listed>, TargetError> {
    let io = |source| TargetError::Local {
        path: dir.display().to_string(),
        source,
    };
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let Some(name) = entry.file_name().to_str().map(str::to_string) else {
            continue;
        };
        if is_backup_name(&name) {
            let bytes = entry.metadata().map_err(io)?.len();
            out.push(Listed { name, bytes });
        }
    }
    Ok(out)
}

type HttpsClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

/// S3-compatible object storage, spoken to with presigned requests (rusty-s3) over the HTTP
/// client already in the program (hyper, rustls).
#[derive(Clone)]
pub struct S3 {
    settings: S3Settings,
    client: HttpsClient,
}

impl std::fmt::Debug for S3 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "S3({})", self.settings.endpoint)
    }
}

/// How long a presigned request stays valid.
const SIGNED_FOR: Duration = Duration::from_secs(3600);
/// How long an upload or download may take.
const TRANSFER: Duration = Duration::from_secs(30 * 60);
/// How long a small request may take.
const SMALL: Duration = Duration::from_secs(60);

impl S3 {
    pub fn new(settings: S3Settings) -> S3 {
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_platform_verifier()
            .https_or_http()
            .enable_http1()
            .build();
        let client = Client::builder(hyper_util::rt::TokioExecutor::new()).build(https);
        S3 { settings, client }
    }

    fn bucket(&self) -> Result<(Bucket, Credentials), TargetError> {
        let endpoint = self
            .settings
            .endpoint
            .parse()
            .map_err(|e: url::ParseError| TargetError::Address(e.to_string()))?;
        let style = if self.settings.path_style {
            UrlStyle::Path
        } else {
            UrlStyle::VirtualHost
        };
        let bucket = Bucket::new(
            endpoint,
            style,
            self.settings.bucket.clone(),
            self.settings.region.clone(),
        )
        .map_err(|e| TargetError::Address(e.to_string()))?;
        let credentials = Credentials::new(
            self.settings.access_key_id.clone(),
            self.settings.secret_access_key.0.clone(),
        );
        Ok((bucket, credentials))
    }

    fn key(&self, name: &str) -> String {
        format!("{}{name}", self.settings.prefix)
    }

    async fn send(
        &self,
        method: hyper::Method,
        url: url::Url,
        body: Bytes,
        limit: Duration,
    ) -> Result<(u16, Bytes), TargetError> {
        let request = hyper::Request::builder()
            .method(method)
            .uri(url.as_str())
            .header(hyper::header::CONTENT_LENGTH, body.len())
            .body(Full::new(body))
            .map_err(|e| TargetError::Address(e.to_string()))?;
        let exchange = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| TargetError::Unreachable(error_chain(&e)))?;
            let status = response.status().as_u16();
            let body = response
                .into_body()
                .collect()
                .await
                .map_err(|e| TargetError::Unreachable(error_chain(&e)))?
                .to_bytes();
            Ok::<_, TargetError>((status, body))
        };
        tokio::time::timeout(limit, exchange)
            .await
            .map_err(|_| TargetError::Timeout)?
    }

    /// An answer other than success, as the error a person can act on.
    fn refusal(&self, status: u16, body: &[u8], name: Option<&str>) -> TargetError {
        let text = String::from_utf8_lossy(body);
        let code = text
            .split("<Code>")
            .nth(1)
            .and_then(|s| s.split("</Code>").next())
            .unwrap_or("");
        match (status, code) {
            (_, "NoSuchBucket") => TargetError::NoBucket(self.settings.bucket.clone()),
            (404, "NoSuchKey") | (404, "") if name.is_some() => TargetError::NotFound(
                name.unwrap_or_default().into(),
                self.settings.endpoint.clone(),
            ),
            (401 | 403, _) => TargetError::Refused(status),
            (_, "InvalidAccessKeyId" | "SignatureDoesNotMatch") => TargetError::Refused(status),
            _ => TargetError::Status(
                status,
                if code.is_empty() {
                    String::new()
                } else {
                    format!(" ({code})")
                },
            ),
        }
    }

    async fn put(&self, name: &str, body: Bytes) -> Result<(), TargetError> {
        let (bucket, credentials) = self.bucket()?;
        let key = self.key(name);
        let url = bucket.put_object(Some(&credentials), &key).sign(SIGNED_FOR);
        let (status, answer) = self.send(hyper::Method::PUT, url, body, TRANSFER).await?;
        if (200..300).contains(&status) {
            Ok(())
        } else {
            Err(self.refusal(status, &answer, None))
        }
    }

    async fn get(&self, name: &str) -> Result<Bytes, TargetError> {
        let (bucket, credentials) = self.bucket()?;
        let key = self.key(name);
        let url = bucket.get_object(Some(&credentials), &key).sign(SIGNED_FOR);
        let (status, body) = self
            .send(hyper::Method::GET, url, Bytes::new(), TRANSFER)
            .await?;
        if status == 200 {
            Ok(body)
        } else {
            Err(self.refusal(status, &body, Some(name)))
        }
    }

    async fn delete(&self, name: &str) -> Result<(), TargetError> {
        let (bucket, credentials) = self.bucket()?;
        let key = self.key(name);
        let url = bucket
            .delete_object(Some(&credentials), &key)
            .sign(SIGNED_FOR);
        let (status, body) = self
            .send(hyper::Method::DELETE, url, Bytes::new(), SMALL)
            .await?;
        if (200..300).contains(&status) {
            Ok(())
        } else {
            Err(self.refusal(status, &body, None))
        }
    }

    async fn list(&self) -> Result<Vec<Listed>, TargetError> {
        let (bucket, credentials) = self.bucket()?;
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut action = bucket.list_objects_v2(Some(&credentials));
            if !self.settings.prefix.is_empty() {
                action.with_prefix(self.settings.prefix.as_str());
            }
            if let Some(t) = &token {
                action.with_continuation_token(t.as_str());
            }
            let url = action.sign(SIGNED_FOR);
            let (status, body) = self
                .send(hyper::Method::GET, url, Bytes::new(), SMALL)
                .await?;
            if status != 200 {
                return Err(self.refusal(status, &body, None));
            }
            let page = rusty_s3::actions::ListObjectsV2::parse_response(&body).map_err(|e| {
                TargetError::Status(status, format!(" with a listing that cannot be read: {e}"))
            })?;
            for item in page.contents {
                if let Some(name) = item.key.strip_prefix(self.settings.prefix.as_str()) {
                    out.push(Listed {
                        name: name.to_string(),
                        bytes: item.size,
                    });
                }
            }
            match page.next_continuation_token {
                Some(t) => token = Some(t),
                None => break,
            }
        }
        Ok(out)
    }
}

/// An error with its causes, on one line (a connection refused says so).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s3() -> S3 {
        S3::new(S3Settings {
            endpoint: "https://storage.example".into(),
            bucket: "practice".into(),
            region: "us-east-1".into(),
            prefix: String::new(),
            path_style: true,
            access_key_id: "id".into(),
            secret_access_key: settings::config::Secret("secret".into()),
        })
    }

    #[test]
    fn storage_answers_become_errors_a_person_can_act_on() {
        let s3 = s3();
        let body = |code: &str| {
            format!("<?xml version=\"1.0\"?><Error><Code>{code}</Code><Message>m</Message></Error>")
        };
        assert!(matches!(
            s3.refusal(403, body("InvalidAccessKeyId").as_bytes(), None),
            TargetError::Refused(403)
        ));
        assert!(matches!(
            s3.refusal(403, body("SignatureDoesNotMatch").as_bytes(), None),
            TargetError::Refused(403)
        ));
        assert!(matches!(
            s3.refusal(404, body("NoSuchBucket").as_bytes(), None),
            TargetError::NoBucket(_)
        ));
        assert!(matches!(
            s3.refusal(
                404,
                body("NoSuchKey").as_bytes(),
                Some("kap-practice-x.kapbak")
            ),
            TargetError::NotFound(..)
        ));
        let other = s3.refusal(507, body("InsufficientStorage").as_bytes(), None);
        assert_eq!(
            other.to_string(),
            "the object storage answered HTTP 507 (InsufficientStorage)"
        );
        assert!(is_backup_name("kap-practice-20261206T031000.000Z.kapbak"));
        assert!(!is_backup_name(
            "kap-practice-20261206T031000.000Z.kapbak.partial"
        ));
        assert!(!is_backup_name(".kap-practice-connection-test"));
    }
}
