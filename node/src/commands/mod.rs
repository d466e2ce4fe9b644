//! One module per subcommand.

mod run;
mod sim;
mod tallies;

use crate::cli::{Command, SimCommand};

pub async fn dispatch(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Run(args) => run::run(args).await,
        Command::Tallies(args) => tallies::tallies(args),
        Command::Sim(SimCommand::Beacon(args)) => sim::beacon(args).await,
    }
}
