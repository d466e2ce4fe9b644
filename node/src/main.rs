//! `claystack-oracle`: the ClayStack oracle committee node.
//!
//! This binary only parses the command line and wires crates together; every
//! behaviour lives in `crates/`.

mod cli;
mod commands;
mod config;

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    // devnet narrates on stdout; its own transactions' logs would drown that out.
    let quiet = matches!(cli.command, cli::Command::Devnet(_)) && std::env::var_os("CLAYSTACK_LOG").is_none();
    init_logging(if quiet { "warn" } else { &cli.log });
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(commands::dispatch(cli.command)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // One line: the outermost context first, then each cause.
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn init_logging(level: &str) {
    use std::io::IsTerminal;
    // gossipsub warns at every refused duplicate publication (our timed rebroadcasts); that
    // is expected here, so only its errors are shown unless the filter names it.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("{level},libp2p_gossipsub=error")));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .init();
}
