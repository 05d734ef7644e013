//! `directory bench …`: figures measured next to their baseline in the same run.

use clap::Subcommand;

#[derive(Subcommand, Debug)]
pub enum BenchCommand {}

pub async fn run(command: BenchCommand) -> anyhow::Result<()> {
    match command {}
}
