//! One module per subcommand.

mod devnet;
mod genesis;
pub mod keys;
mod report;
mod run;
mod signing_record;
mod sim;
mod tallies;

use crate::cli::{Command, GenesisCommand, ReportCommand, SigningRecordCommand, SimCommand};

pub async fn dispatch(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Run(args) => run::run(args).await,
        Command::Tallies(args) => tallies::tallies(args),
        Command::Keys(args) => keys::run(args),
        Command::Genesis(GenesisCommand::New(args)) => genesis::new(args),
        Command::Genesis(GenesisCommand::Assemble(args)) => genesis::assemble(args),
        Command::Genesis(GenesisCommand::Approve(args)) => genesis::approve(args),
        Command::Genesis(GenesisCommand::Verify(args)) => genesis::verify(args),
        Command::Report(ReportCommand::Compute(args)) => report::compute(args).await,
        Command::Report(ReportCommand::Verify(args)) => report::verify(args).await,
        Command::Report(ReportCommand::VerifyExits(args)) => report::verify_exits(args).await,
        Command::Report(ReportCommand::Explain(args)) => report::explain(args),
        Command::Proof(args) => report::proof(args),
        Command::Sim(SimCommand::Beacon(args)) => sim::beacon(args).await,
        Command::Devnet(args) => devnet::devnet(args).await,
        Command::SigningRecord(SigningRecordCommand::Export(args)) => signing_record::export(args),
        Command::SigningRecord(SigningRecordCommand::Import(args)) => signing_record::import(args),
    }
}
