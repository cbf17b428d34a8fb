//! The `kap-practice` binary: parse the command line, start logging, call into the library.

use std::process::ExitCode;

use clap::Parser;
use kap_practice::cli::{Cli, Command, InquiriesCommand, KeysCommand, WordsCommand};

/// Runs an async command-line task on a fresh runtime.
fn block_on(task: impl std::future::Future<Output = ExitCode>) -> ExitCode {
    match tokio::runtime::Runtime::new() {
        Ok(rt) => rt.block_on(task),
        Err(e) => {
            eprintln!("cannot start: {e}");
            ExitCode::FAILURE
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let overrides = cli.overrides();
    match cli.command {
        Some(Command::Check) => kap_practice::cli::check(&overrides),
        Some(Command::Keys {
            command: KeysCommand::Generate,
        }) => kap_practice::cli::generate_key(),
        Some(Command::Keys {
            command: KeysCommand::Reseal,
        }) => block_on(kap_practice::cli::reseal(&overrides)),
        Some(Command::Inquiries {
            command: InquiriesCommand::Export { format },
        }) => block_on(kap_practice::cli::export(&overrides, format)),
        Some(Command::Words {
            command: WordsCommand::Export { dir },
        }) => block_on(kap_practice::cli::export_words(&overrides, &dir)),
        Some(Command::Backup {
            command: Some(command),
            ..
        }) => block_on(kap_practice::cli::backup_commands::run(
            &overrides, &command,
        )),
        Some(Command::Backup {
            file: Some(file), ..
        }) => block_on(kap_practice::cli::backup(&overrides, &file)),
        Some(Command::Backup { .. }) => {
            eprintln!(
                "backup: name a FILE to copy the database to, or one of key, now, list, verify, restore (see `kap-practice backup --help`)"
            );
            ExitCode::FAILURE
        }
        Some(Command::Admin { command }) => {
            block_on(kap_practice::cli::admin(&overrides, &command))
        }
        None | Some(Command::Serve { .. }) => {
            // Kept until the end of main, so the last lines are flushed at exit.
            let _log_guard = init_tracing();
            let runtime = match tokio::runtime::Runtime::new() {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("cannot start: {e}");
                    return ExitCode::FAILURE;
                }
            };
            match runtime.block_on(kap_practice::run(overrides)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    // One problem fits on one line; a list (config, content) gets its own lines.
                    let problem = kap_practice::cli::one_line(&e);
                    let sep = if problem.contains('\n') { "\n" } else { " " };
                    eprintln!("kap-practice cannot start:{sep}{problem}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

/// Logs go to standard error; `RUST_LOG` adjusts the level (default `info`). Lines are never
/// dropped: when the queue is full, the request waits for the writer.
fn init_tracing() -> tracing_appender::non_blocking::WorkerGuard {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        // The queue is allocated and written whole at start: the default of 128,000 lines is
        // 4 MB of memory held for ever. 16,384 lines (512 kB) is a third of a second of access
        // log at full load, ample for a writer that only copies lines to standard error.
        .buffered_lines_limit(16_384)
        .thread_name("log-writer")
        .finish(std::io::BufWriter::new(std::io::stderr()));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .init();
    guard
}
