//! `kap-practice backup …`: make the key, back up now, list, verify and restore.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use jiff::Timestamp;

use super::one_line;
use crypto::BackupKey;
use settings::config::{Config, Overrides};
use web::backup::{self, BackupError, BackupSettings, Target};

/// The subcommands of `kap-practice backup`.
#[derive(clap::Subcommand, Debug)]
pub enum BackupCommand {
    /// Make a new backup key: its twelve words are shown once, to write down or print, and
    /// three of them are asked back.
    Key,
    /// Make a backup now, to the destinations in the config file ([backup]).
    Now,
    /// List the backups at each destination.
    List {
        /// A directory of backups to read instead of the configured destinations.
        #[arg(long, value_name = "DIR")]
        from: Option<PathBuf>,
    },
    /// Download a backup (the newest, or NAME), open it with the backup key, check its
    /// integrity, count its records and open its sealed values.
    Verify {
        name: Option<String>,
        #[arg(long, value_name = "DIR")]
        from: Option<PathBuf>,
    },
    /// Restore a backup (the newest, or NAME) into the data directory, which must be empty.
    /// The backup key's words are read from KAP_BACKUP_KEY or asked for.
    Restore {
        name: Option<String>,
        #[arg(long, value_name = "DIR")]
        from: Option<PathBuf>,
    },
}

/// Runs `command`.
pub async fn run(overrides: &Overrides, command: &BackupCommand) -> ExitCode {
    let result = match command {
        BackupCommand::Key => key(overrides).await,
        BackupCommand::Now => now(overrides).await,
        BackupCommand::List { from } => list(overrides, from.as_deref()).await,
        BackupCommand::Verify { name, from } => {
            verify(overrides, name.as_deref(), from.as_deref()).await
        }
        BackupCommand::Restore { name, from } => {
            restore(overrides, name.as_deref(), from.as_deref()).await
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("backup: {}", one_line(&e));
            ExitCode::FAILURE
        }
    }
}

fn refuse_postgres(config: &Config) -> anyhow::Result<()> {
    if config.database.url.is_some() {
        return Err(BackupError::Postgres.into());
    }
    Ok(())
}

fn targets(settings: &BackupSettings, from: Option<&Path>) -> anyhow::Result<Vec<Target>> {
    let targets = match from {
        Some(dir) => vec![Target::Local(dir.to_path_buf())],
        None => Target::all(settings),
    };
    anyhow::ensure!(!targets.is_empty(), BackupError::NotConfigured);
    Ok(targets)
}

/// The key: from the environment or the key file, else asked for.
fn key_for_reading(settings: &BackupSettings, data_dir: &Path) -> anyhow::Result<BackupKey> {
    if let Some(key) = backup::load_key(settings, data_dir)? {
        return Ok(key);
    }
    if std::io::stdin().is_terminal() {
        eprint!("The backup key (the twelve words): ");
        std::io::stderr().flush().ok();
    }
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(BackupKey::from_words(&line)?)
}

/// What reading backups needs: the config (SQLite only), the key, the destinations.
fn for_reading(
    overrides: &Overrides,
    from: Option<&Path>,
) -> anyhow::Result<(Config, BackupKey, Vec<Target>)> {
    let config = Config::load(overrides)?;
    refuse_postgres(&config)?;
    let targets = targets(&config.backup, from)?;
    let key = key_for_reading(&config.backup, &config.server.data_dir)?;
    Ok((config, key, targets))
}

async fn key(overrides: &Overrides) -> anyhow::Result<()> {
    let config = Config::load(overrides)?;
    refuse_postgres(&config)?;
    let store = crate::open_store(&config).await?;
    let data_dir = &config.server.data_dir;
    let made = backup::make_key(&store, &config.backup, data_dir, Timestamp::now()).await;
    let key = match made {
        Ok(k) => k,
        Err(e) => {
            store.close().await;
            return Err(e.into());
        }
    };
    let words = key.words();
    println!("The backup key. Write these twelve words down, in order, or print this page,");
    println!("and keep it away from this server: without them no backup can be opened.\n");
    for (i, w) in words.iter().enumerate() {
        println!("  {:>2}. {w}", i + 1);
    }
    println!();
    let asked = [3usize, 7, 11];
    let mut confirmed = true;
    let stdin = std::io::stdin();
    for n in asked {
        if stdin.is_terminal() {
            eprint!("To check, type word {n}: ");
            std::io::stderr().flush().ok();
        }
        let mut line = String::new();
        stdin.lock().read_line(&mut line)?;
        if !line.trim().eq_ignore_ascii_case(words[n - 1]) {
            confirmed = false;
        }
    }
    let result = if confirmed {
        backup::confirm_key(&store, &key, Timestamp::now()).await?;
        println!("Confirmed. Backups are sealed with this key from now on.");
        Ok(())
    } else {
        Err(anyhow::anyhow!(
            "a word did not match: the key is kept, but not confirmed (the inbox warns until it is); run `kap-practice backup key` again for a new one"
        ))
    };
    store.close().await;
    result
}

async fn now(overrides: &Overrides) -> anyhow::Result<()> {
    let config = Config::load(overrides)?;
    refuse_postgres(&config)?;
    let store = crate::open_store(&config).await?;
    let made = backup::backup_and_record(
        &store,
        &config.backup,
        &config.server.data_dir,
        Timestamp::now(),
    )
    .await;
    store.close().await;
    let made = made?;
    println!(
        "backed up: {} ({} bytes){}",
        made.name,
        made.bytes,
        if made.pruned > 0 {
            format!("; {} older backups pruned", made.pruned)
        } else {
            String::new()
        }
    );
    Ok(())
}

async fn list(overrides: &Overrides, from: Option<&Path>) -> anyhow::Result<()> {
    let config = Config::load(overrides)?;
    refuse_postgres(&config)?;
    for target in targets(&config.backup, from)? {
        println!("{}:", target.describe());
        let listed = target
            .list()
            .await
            .with_context(|| format!("cannot list {}", target.describe()))?;
        if listed.is_empty() {
            println!("  (no backups)");
        }
        for l in listed {
            let when = backup::retention::time_of(&l.name)
                .map(|t| t.to_string())
                .unwrap_or_default();
            println!("  {}  {when}  {} bytes", l.name, l.bytes);
        }
    }
    Ok(())
}

async fn verify(
    overrides: &Overrides,
    name: Option<&str>,
    from: Option<&Path>,
) -> anyhow::Result<()> {
    let (_, key, targets) = for_reading(overrides, from)?;
    let work = std::env::temp_dir().join(format!(
        "kap-practice-verify-{}",
        crypto::hex::hex(&crypto::random::bytes::<8>())
    ));
    let mut failed = false;
    for target in &targets {
        match backup::verify(target, name, &key, &work).await {
            Ok(v) => println!("{}: {v}", target.describe()),
            Err(e) => {
                failed = true;
                println!("{}: FAILED: {e}", target.describe());
            }
        }
    }
    anyhow::ensure!(!failed, "a backup did not verify");
    Ok(())
}

async fn restore(
    overrides: &Overrides,
    name: Option<&str>,
    from: Option<&Path>,
) -> anyhow::Result<()> {
    let (config, key, targets) = for_reading(overrides, from)?;
    let data_dir = &config.server.data_dir;
    // The first destination that answers is restored from.
    let mut last = None;
    for target in &targets {
        match backup::restore(target, name, &key, data_dir).await {
            Ok(r) => {
                println!(
                    "restored {} (made {}) into {}: {}",
                    r.name,
                    r.created_at,
                    data_dir.display(),
                    r.counts
                );
                if r.previous_keys > 0 {
                    println!(
                        "the backup also held {} previous data keys: they are in data.keys.previous; give them in KAP_DATA_KEYS_PREVIOUS and run `kap-practice keys reseal` once",
                        r.previous_keys
                    );
                }
                println!(
                    "the data key is in {}/data.key: start the server with this data directory (and no other KAP_DATA_KEY)",
                    data_dir.display()
                );
                return Ok(());
            }
            Err(e @ BackupError::NotEmpty(_)) => return Err(e.into()),
            Err(e) => {
                eprintln!("{}: {e}", target.describe());
                last = Some(e);
            }
        }
    }
    Err(last.map_or_else(|| BackupError::NotConfigured.into(), Into::into))
}
