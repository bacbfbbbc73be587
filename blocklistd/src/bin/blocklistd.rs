//! `blocklistd`: the sync daemon. Parses arguments, sets up logging and
//! signals, claims the data folder, binds the API and runs
//! [`blocklistd::daemon::serve`].

use std::path::PathBuf;
use std::process::ExitCode;

use blocklistd::cli_docs;
use blocklistd::daemon::{self, config, Config};
use blocklistd::logging::LogFormat;
use clap::{CommandFactory as _, Parser};

/// Keeps a local replica of the blocklist current and answers lookups on a local API.
#[derive(Parser, Debug)]
#[command(
    name = "blocklistd",
    version,
    after_help = "Examples:\n  blocklistd                              # embedded default: ./blocklistd-data, drop folder ./blocklistd-data/inbox, API on 127.0.0.1:8477\n  blocklistd --config /etc/blocklistd/blocklistd.toml\n  blocklistd --print-default-config > blocklistd.toml\n  blocklistd --config /etc/blocklistd/blocklistd.toml --print-identity   # the replica id to register at the centre\n\nPrints \"listening on http://ADDR\" on stdout once the API is bound. Stops on SIGTERM/SIGINT.\nLogs go to stderr (RUST_LOG=debug for more; log.format = \"json\" for JSON lines; colour only on a terminal, never with NO_COLOR). Reference: docs/DAEMON.md."
)]
struct Cli {
    /// The TOML configuration file (without it, the embedded default).
    #[arg(long, short = 'c', value_name = "FILE")]
    config: Option<PathBuf>,
    /// Print the default configuration, every key documented, and exit.
    #[arg(long)]
    print_default_config: bool,
    /// Print the shell completion script (bash, zsh, fish, elvish, powershell) and exit.
    #[arg(long, value_name = "SHELL")]
    print_completions: Option<cli_docs::Shell>,
    /// Write the man page (blocklistd.8) into DIR and exit.
    #[arg(long, value_name = "DIR")]
    man: Option<PathBuf>,
    /// Print this daemon's replica id and identity key (made in the data
    /// folder if it has none yet), to register at the centre, and exit.
    #[arg(long)]
    print_identity: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.print_default_config {
        print!("{}", config::EXAMPLE);
        return ExitCode::SUCCESS;
    }
    if let Some(shell) = cli.print_completions {
        cli_docs::completions(Cli::command(), shell, &mut std::io::stdout());
        return ExitCode::SUCCESS;
    }
    if let Some(dir) = &cli.man {
        return match cli_docs::man_pages(Cli::command(), "8", dir) {
            Ok(_) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!(
                    "error: cannot write the man page into {}: {e}",
                    dir.display()
                );
                ExitCode::FAILURE
            }
        };
    }
    let config = cli
        .config
        .as_deref()
        .map_or_else(|| Ok(Config::default()), Config::load);
    if cli.print_identity {
        return print_identity(config);
    }
    // The configuration names the log format; one that does not load is
    // reported in text.
    blocklistd::logging::init(config.as_ref().map_or(LogFormat::Text, |c| c.log.format));
    if cli.config.is_none() {
        tracing::info!("no --config: running on the embedded default");
    }
    let result = config.and_then(|config| {
        let runtime = tokio::runtime::Runtime::new().map_err(|e| daemon::DaemonError::Runtime {
            action: "start the runtime",
            reason: e.to_string(),
        })?;
        let claim = daemon::claim_data_dir(&config)?;
        runtime.block_on(async {
            let listener = daemon::bind(config.api.listen).await?;
            let bound = listener
                .local_addr()
                .map_err(|source| daemon::DaemonError::Listen {
                    address: config.api.listen.to_string(),
                    source,
                })?;
            println!("listening on http://{bound}");
            std::io::Write::flush(&mut std::io::stdout()).ok();
            daemon::serve(
                config,
                claim,
                listener,
                blocklistd::signal::shutdown_signal(),
            )
            .await
        })
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

/// `--print-identity`: the replica id and public key of the daemon of
/// `config`, and the centre's command that registers it.
fn print_identity(config: Result<Config, daemon::DaemonError>) -> ExitCode {
    match config.and_then(|c| daemon::identity::load_or_create(&c.data_dir)) {
        Ok(key) => {
            let public = key.public_key();
            println!("replica id: {}", hex::encode(public.id().0));
            println!("public key: {}", hex::encode(public.to_bytes()));
            println!(
                "register it at the centre: blocklist replicas add DIR --name NAME --key {}",
                hex::encode(public.to_bytes())
            );
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}
