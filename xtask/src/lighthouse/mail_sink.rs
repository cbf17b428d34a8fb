//! The practice's email, received as the tests receive it: a real SMTP server on loopback
//! (Debian's python3-aiosmtpd, run with the tests' own script) that keeps each message in a
//! Maildir, so the code of the test of urgent notices is read from the email, as the clinician
//! reads it.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::tools::{self, Process};

/// The tests' SMTP server: aiosmtpd on loopback at the port given (0: one the system gives),
/// mail kept in the Maildir given; it prints its port once it listens.
const SMTP_SERVER: &str = include_str!("../../../tests/it/common/smtp_server.py");

/// How long a message may take to arrive: the outbox sends at once when woken, and retries
/// after a failure within seconds.
const PATIENCE: Duration = Duration::from_secs(60);

pub(crate) struct MailSink {
    server: Process,
    port: u16,
    maildir: PathBuf,
}

impl MailSink {
    /// Starts the server with a Maildir in `scratch`.
    pub(crate) fn start(scratch: &Path) -> Result<MailSink> {
        tools::ensure_apt(&[(crate::test::AIOSMTPD, "python3-aiosmtpd")])?;
        let maildir = scratch.join("maildir");
        let mut server = Process::spawn(
            "the SMTP server",
            // Debian's python3, which has the package (another python3 may come first in PATH).
            Command::new("/usr/bin/python3")
                .args(["-c", SMTP_SERVER, "0"])
                .arg(&maildir)
                .stdout(Stdio::piped())
                .stderr(Stdio::null()),
        )?;
        let mut line = String::new();
        if let Some(out) = server.take_stdout() {
            BufReader::new(out).read_line(&mut line)?;
        }
        let port = line
            .trim()
            .parse()
            .with_context(|| format!("aiosmtpd did not start: {line:?}"))?;
        Ok(MailSink {
            server,
            port,
            maildir,
        })
    }

    /// The server's address, for the practice's `KAP_SMTP_URL`.
    pub(crate) fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Waits for the message whose subject starts with `subject` and returns it as sent.
    pub(crate) fn wait_for(&mut self, subject: &str) -> Result<String> {
        let header = format!("\nSubject: {subject}");
        let find = |maildir: &Path| -> Option<String> {
            std::fs::read_dir(maildir.join("new"))
                .ok()?
                .flatten()
                .filter_map(|e| std::fs::read_to_string(e.path()).ok())
                .find(|m| m.replace("\r\n", "\n").contains(&header))
        };
        let maildir = self.maildir.clone();
        let arrived = self
            .server
            .wait_until(PATIENCE, || find(&maildir).is_some());
        match (arrived, find(&self.maildir)) {
            (Ok(()), Some(message)) => Ok(message),
            (Err(e), _) => Err(e.context(format!("no email {subject:?} arrived"))),
            (Ok(()), None) => bail!("no email {subject:?} arrived"),
        }
    }
}
