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
