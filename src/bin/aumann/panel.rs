//! `aumann panel synth`: the synthetic panel (the study's default input) as a folder.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Result;
use aumann::panel::Panel;
use aumann::panel::synth::PanelConfig;
use clap::{Args, Subcommand};

use crate::common::set_threads;
use crate::staged::Staged;

/// `aumann panel ...`.
#[derive(Debug, Subcommand)]
pub enum PanelCommand {
    /// Write a synthetic panel: heavy-tailed followers calibrated to public Bluesky figures,
    /// five topics with distinct temporal shapes.
    Synth(PanelSynthArgs),
}

/// `aumann panel synth`.
#[derive(Debug, Args)]
pub struct PanelSynthArgs {
    /// Number of agents.
    #[arg(long, default_value_t = 1_000_000)]
    pub agents: usize,
    /// Number of days.
    #[arg(long, default_value_t = 14)]
    pub days: usize,
    /// Seed.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Worker threads (default: all cores).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Output panel folder.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

/// Run `aumann panel ...`.
pub fn run(command: PanelCommand) -> Result<ExitCode> {
    let PanelCommand::Synth(args) = command;
    set_threads(args.threads)?;
    let staged = Staged::folder(&args.out, "manifest.json")?;
    let start = Instant::now();
    let panel = generate(args.agents, args.days, args.seed)?;
    panel.save(staged.path())?;
    staged.commit()?;
    eprintln!(
        "wrote {}: {} agents, {} days, topics {} ({:.1} s)",
        args.out.display(),
        args.agents,
        args.days,
        panel.manifest.topics.join(", "),
        start.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}

/// The synthetic panel of `agents` agents over `days` days.
pub fn generate(agents: usize, days: usize, seed: u64) -> Result<Panel> {
    anyhow::ensure!(
        agents >= 2 && days >= 1,
        "--agents must be at least 2 and --days at least 1"
    );
    Ok(aumann::panel::synth::generate(&PanelConfig {
        agents,
        days,
        seed,
        ..PanelConfig::default()
    }))
}
