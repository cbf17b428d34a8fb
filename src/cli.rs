//! The command line: `serve` (the default), `check`, and the options every command shares.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::config::Overrides;

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
    /// Consultation requests kept by the practice.
    Inquiries {
        #[command(subcommand)]
        command: InquiriesCommand,
    },
}

#[derive(Subcommand, Debug)]
pub enum KeysCommand {
    /// Print a new random data key (64 hex characters) for KAP_DATA_KEY.
    Generate,
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
            println!(
                "ok: {} — {} pages and assets ready, content {}",
                config,
                site.pages.len(),
                match &config.content_dir {
                    Some(d) => d.display().to_string(),
                    None => "built-in".into(),
                }
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

/// `kap-practice keys generate`.
pub fn generate_key() -> ExitCode {
    println!("{}", crate::store::sealed::generate_key_hex());
    ExitCode::SUCCESS
}

/// `kap-practice inquiries export`: every request, decrypted, for the clinician's own records.
pub async fn export(overrides: &Overrides, format: ExportFormat) -> ExitCode {
    let config = match crate::config::Config::load(overrides) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let result = async {
        let keys = crate::store::Keyring::load(
            &config.server.data_dir,
            std::env::var("KAP_DATA_KEY").ok().as_deref(),
            std::env::var("KAP_DATA_KEYS_PREVIOUS").ok().as_deref(),
        )?;
        let store = crate::store::Store::open_sqlite(&config.server.data_dir, keys).await?;
        let requests = store.all_requests().await?;
        store.close().await;
        let stdout = std::io::stdout();
        let mut out = std::io::BufWriter::new(stdout.lock());
        match format {
            ExportFormat::Jsonl => crate::export::jsonl(&requests, &mut out)?,
            ExportFormat::Csv => crate::export::csv(&requests, &mut out)?,
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
            eprintln!("cannot export: {e}");
            ExitCode::FAILURE
        }
    }
}
