//! The command line: `serve` (the default), `check`, and the options every command shares.

pub mod backup_commands;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use settings::config::Overrides;

#[derive(Parser, Debug)]
#[command(
    name = "kap-practice",
    version,
    about = "The website and consultation desk of a KAP psychotherapy practice."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Options accepted by every command.
#[derive(Args, Debug, Clone)]
pub struct Global {
    /// The config file (TOML). Default: kap-practice.toml in the working directory, if present.
    #[arg(long, global = true, env = "KAP_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Where the practice's data is kept. Default: ./data
    #[arg(long, global = true, env = "KAP_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Serve the site (the default when no command is given).
    Serve {
        /// The address to listen on. Default: 127.0.0.1:8080
        #[arg(long, env = "KAP_BIND", value_name = "ADDR")]
        bind: Option<SocketAddr>,
    },
    /// Check the config and content, print every problem as file:line, and exit.
    Check,
    /// Data keys for field encryption.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Accounts that may sign in to the inbox.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Backups: `backup FILE` copies the database, consistently, while the server runs
    /// (SQLite; on PostgreSQL use pg_dump), to be put in place of the database with the server
    /// stopped. `backup key|now|list|verify|restore`: the automatic encrypted backups.
    #[command(args_conflicts_with_subcommands = true)]
    Backup {
        /// Where to write the copy; it must not exist yet.
        file: Option<PathBuf>,
        #[command(subcommand)]
        command: Option<backup_commands::BackupCommand>,
    },
    /// Consultation requests kept by the practice.
    Inquiries {
        #[command(subcommand)]
        command: InquiriesCommand,
    },
    /// The page's words as published in the inbox.
    Words {
        #[command(subcommand)]
        command: WordsCommand,
    },
}

#[derive(Subcommand, Debug)]
pub enum WordsCommand {
    /// Write the words the site shows (the built-in ones with every publish from the inbox in
    /// place) as the folder that content.dir expects: home/, contact.md and privacy.md.
    Export {
        /// The folder to create; it must not exist yet.
        dir: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
pub enum AdminCommand {
    /// Add an account. The password is read from standard input, or asked for at a terminal.
    Add { email: String },
    /// Change an account's password.
    Passwd { email: String },
    /// Remove an account.
    Remove { email: String },
    /// List the accounts.
    List,
}

#[derive(Subcommand, Debug)]
pub enum KeysCommand {
    /// Print a new random data key (64 hex characters) for KAP_DATA_KEY.
    Generate,
    /// Seal every stored value again under the current key (after a rotation, with the old
    /// key still in KAP_DATA_KEYS_PREVIOUS); afterwards the old key can be removed.
    Reseal,
}

#[derive(Subcommand, Debug)]
pub enum InquiriesCommand {
    /// Print every consultation request, decrypted, to standard output.
    Export {
        /// jsonl: one JSON object per line; csv: a spreadsheet-safe table.
        #[arg(long, value_enum, default_value = "jsonl")]
        format: ExportFormat,
    },
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportFormat {
    Jsonl,
    Csv,
}

impl Cli {
    /// The settings given on the command line and in the environment.
    pub fn overrides(&self) -> Overrides {
        let bind = match &self.command {
            Some(Command::Serve { bind }) => *bind,
            _ => None,
        };
        Overrides {
            config_file: self.global.config.clone(),
            bind,
            data_dir: self.global.data_dir.clone(),
            ..Overrides::default()
        }
        .with_env()
    }
}

/// `kap-practice check`: prints `ok` or every problem, one per line.
pub fn check(overrides: &Overrides) -> ExitCode {
    match crate::prepare(overrides) {
        Ok((config, site)) => {
            for warning in config.warnings() {
                eprintln!("warning: {warning}");
            }
            let mut failed = false;
            for finding in web::tls::diagnose(&config, jiff::Timestamp::now()) {
                match finding {
                    web::tls::check::Finding::Error(m) => {
                        failed = true;
                        eprintln!("error: {m}");
                    }
                    web::tls::check::Finding::Warning(m) => eprintln!("warning: {m}"),
                }
            }
            if failed {
                return ExitCode::FAILURE;
            }
            println!(
                "ok: {} — {} pages and assets ready, content {}",
                config,
                site.pages.len(),
                match &config.content_dir {
                    Some(d) => d.display().to_string(),
                    None => "built-in".into(),
                }
            );
            if let Some((kind, note)) = web::backup::check_notes(&config) {
                eprintln!("{kind}: {note}");
            }
            let data_dir = &config.server.data_dir;
            if store::data_dir::open_to_others(data_dir) {
                println!(
                    "warning: the data directory {} can be read by other users of this machine: `chmod 700 {}` (the database and key files in it are 0600, but their names and sizes show)",
                    data_dir.display(),
                    data_dir.display()
                );
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

/// `kap-practice backup FILE`.
pub async fn backup(overrides: &Overrides, file: &std::path::Path) -> ExitCode {
    if file.exists() {
        eprintln!(
            "cannot back up: {} already exists; choose a new file name",
            file.display()
        );
        return ExitCode::FAILURE;
    }
    let result = async {
        let (_, store) = open_store(overrides).await?;
        let copied = store.backup_to(file).await;
        store.close().await;
        copied?;
        Ok::<(), anyhow::Error>(())
    }
    .await;
    match result {
        Ok(()) => {
            eprintln!(
                "backed up to {}: keep it with the data key (data.key or KAP_DATA_KEY), without which it cannot be read",
                file.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("cannot back up: {}", one_line(&e));
            ExitCode::FAILURE
        }
    }
}

/// `kap-practice keys generate`.
pub fn generate_key() -> ExitCode {
    println!("{}", crypto::generate_key_hex());
    ExitCode::SUCCESS
}

/// `kap-practice keys reseal`: every value sealed under a previous key, or before values were
/// bound to their rows, sealed again under the current key and bound to its row. Safe to run
/// while servers run, and again.
pub async fn reseal(overrides: &Overrides) -> ExitCode {
    let result = async {
        let (_, store) = open_store(overrides).await?;
        let n = store.reseal_all().await;
        store.close().await;
        Ok::<u64, anyhow::Error>(n?)
    }
    .await;
    match result {
        Ok(n) => {
            eprintln!(
                "re-sealed {n} values under the current key, each bound to its row; every stored value now opens with it alone, so the previous keys can be removed from KAP_DATA_KEYS_PREVIOUS (keep them with backups made before now)"
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("cannot re-seal: {}", one_line(&e));
            ExitCode::FAILURE
        }
    }
}

/// `kap-practice inquiries export`: every request, decrypted, for the clinician's own records.
pub async fn export(overrides: &Overrides, format: ExportFormat) -> ExitCode {
    let result = async {
        let (_, store) = open_store(overrides).await?;
        let requests = store.all_requests().await?;
        let attached = web::export::Attached::of(&store, &requests).await?;
        store
            .audit(
                &store::audit::Entry::new("cli", store::audit::Action::Export)
                    .detail(format!("{} requests", requests.len())),
                jiff::Timestamp::now(),
            )
            .await?;
        store.close().await;
        let stdout = std::io::stdout();
        let mut out = std::io::BufWriter::new(stdout.lock());
        match format {
            ExportFormat::Jsonl => web::export::jsonl(&requests, &attached, &mut out)?,
            ExportFormat::Csv => web::export::csv(&requests, &attached, &mut out)?,
        }
        std::io::Write::flush(&mut out)?;
        Ok::<usize, anyhow::Error>(requests.len())
    }
    .await;
    match result {
        Ok(n) => {
            eprintln!("exported {n} consultation requests");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("cannot export: {}", one_line(&e));
            ExitCode::FAILURE
        }
    }
}

/// `kap-practice words export DIR`: the published words as the folder `content.dir` expects.
pub async fn export_words(overrides: &Overrides, dir: &std::path::Path) -> ExitCode {
    let result = async {
        anyhow::ensure!(
            !dir.exists(),
            "{} already exists: name a new folder, so nothing is overwritten",
            dir.display()
        );
        let (_, store) = open_store(overrides).await?;
        let published = store.published_words().await?;
        store.close().await;
        let mut count = 0;
        for (rel, built_in) in content::built_in_files() {
            let text = published.get(&rel).map_or(built_in, |r| r.body.clone());
            let path = dir.join(&rel);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(&path, text)?;
            count += 1;
        }
        Ok::<(usize, usize), anyhow::Error>((count, published.len()))
    }
    .await;
    match result {
        Ok((files, edited)) => {
            eprintln!(
                "wrote {files} files ({edited} as published in the inbox) to {}: set content.dir to it to edit them as files",
                dir.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("cannot export the words: {}", one_line(&e));
            ExitCode::FAILURE
        }
    }
}

/// Opens the store for a command-line task, with the practice in force on it (the details
/// saved in the inbox where the config file does not set them).
async fn open_store(
    overrides: &Overrides,
) -> anyhow::Result<(std::sync::Arc<settings::config::Config>, store::Store)> {
    let config = std::sync::Arc::new(settings::config::Config::load(overrides)?);
    let store = crate::open_store(&config).await?;
    let config = crate::in_force(config, &store).await.get();
    Ok((config, store))
}

/// Reads a new password: prompted twice at a terminal, otherwise one line of standard input.
fn read_new_password() -> anyhow::Result<String> {
    use std::io::IsTerminal;
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("New password (at least 12 characters): ")?;
        let second = rpassword::prompt_password("The same password again: ")?;
        anyhow::ensure!(
            first == second,
            "the two passwords differ; nothing was changed"
        );
        Ok(first)
    } else {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        Ok(line.trim_end_matches(['\r', '\n']).to_string())
    }
}

/// The site's public address, `server.base_url`, or, where it is not set, the address the
/// server listens on, with a warning that it is only that (with `[tls]` it must be set).
fn public_address(config: &settings::config::Config) -> (String, Option<&'static str>) {
    let server = &config.server;
    let unset = server.base_url == format!("http://{}", server.bind);
    (
        server.base_url.clone(),
        unset.then_some(
            "server.base_url is not set, so this is the address the server listens on, which may not be the one people reach: set server.base_url (or KAP_BASE_URL) to the site's public address",
        ),
    )
}

/// What `admin add` tells the operator: where the new account signs in, that it turns on
/// two-factor sign-in first, and, while the practice's details were never saved, where they go.
fn signed_in_next(config: &settings::config::Config, email: &str, details_saved: bool) -> String {
    let (base, warning) = public_address(config);
    let mut out = format!(
        "added {email}: sign in at {base}/admin/login\nAt the first sign-in, turn on two-factor sign-in at {base}/admin/two-factor: the inbox opens once it is on."
    );
    if !details_saved {
        out.push_str(&format!(
            "\nThen enter the practice's details at {base}/admin/details: until then the public site says it is being set up."
        ));
    }
    if let Some(w) = warning {
        out.push_str(&format!("\nNote: {w}."));
    }
    out
}

/// `kap-practice admin …`.
pub async fn admin(overrides: &Overrides, command: &AdminCommand) -> ExitCode {
    use auth::password;
    use store::audit::{Action, Entry};
    let result: anyhow::Result<String> = async {
        let (config, store) = open_store(overrides).await?;
        let now = jiff::Timestamp::now();
        let new_hash = |email: &str| -> anyhow::Result<String> {
            let pw = read_new_password()?;
            let context = [
                email,
                config.practice.name.as_str(),
                config.practice.clinician_name.as_str(),
            ];
            password::check_policy(&pw, &context)
                .map_err(|e| anyhow::anyhow!("{e}; nothing was changed"))?;
            password::hash(&pw).map_err(|e| anyhow::anyhow!("cannot hash the password: {e}"))
        };
        let message = match command {
            AdminCommand::Add { email } => {
                let email = email.trim();
                anyhow::ensure!(
                    practice::consultation::valid_email(email),
                    "{email:?} is not an email address"
                );
                let hash = new_hash(email)?;
                let audit = Entry::new("cli", Action::AccountAdded).detail(email.to_string());
                match store.add_account(email, &hash, now, &audit).await? {
                    Some(_) => {
                        let details_saved = store.practice_details().await?.is_some();
                        signed_in_next(&config, email, details_saved)
                    }
                    None => anyhow::bail!(
                        "{email} already has an account; use `admin passwd` to change its password"
                    ),
                }
            }
            AdminCommand::Passwd { email } => {
                let hash = new_hash(email)?;
                let audit = Entry::new("cli", Action::PasswordChanged).detail(email.clone());
                anyhow::ensure!(
                    store.set_password(email, &hash, now, &audit).await?,
                    "there is no account {email}"
                );
                format!("changed the password of {email}")
            }
            AdminCommand::Remove { email } => {
                let audit = Entry::new("cli", Action::AccountRemoved).detail(email.clone());
                anyhow::ensure!(
                    store.remove_account(email, now, &audit).await?,
                    "there is no account {email}"
                );
                format!("removed {email}")
            }
            AdminCommand::List => {
                let accounts = store.list_accounts().await?;
                if accounts.is_empty() {
                    "no accounts yet: add one with `kap-practice admin add EMAIL`".to_string()
                } else {
                    accounts
                        .iter()
                        .map(|a| {
                            format!(
                                "{}\t{}",
                                a.email,
                                if a.two_factor {
                                    "two-factor on"
                                } else {
                                    "two-factor off"
                                }
                            )
                        })
                        .collect::<Vec<_>>()
                        .join("\n")
                }
            }
        };
        store.close().await;
        Ok(message)
    }
    .await;
    match result {
        Ok(m) => {
            println!("{m}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{}", one_line(&e));
            ExitCode::FAILURE
        }
    }
}

/// An error and its causes on one line ("a: b: c"), without repeating a cause whose text the
/// message before it already quotes.
pub fn one_line(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}
