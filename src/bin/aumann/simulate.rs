//! `aumann simulate`: run a simulated society and write its scenario folder.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Result;
use aumann::scenario::{self, Overrides, ScenarioKind};
use clap::Args;

use crate::common::{RunFlags, choice};
use aumann::output::Staged;

/// `aumann simulate`.
#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// The scenario.
    #[arg(value_parser = choice::<ScenarioKind>())]
    pub scenario: ScenarioKind,
    /// Agents n (default: the scenario's).
    #[arg(long)]
    pub agents: Option<usize>,
    /// Time steps T (default: the scenario's).
    #[arg(long = "steps", value_name = "T")]
    pub steps: Option<usize>,
    /// Independent runs R, for a scenario that simulates several (cascade; default 3).
    #[arg(long, value_name = "R")]
    pub runs: Option<usize>,
    /// Seed (default: the scenario's).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Rollout horizon H of the rollout indicator (default: the scenario's).
    #[arg(long, value_name = "H", allow_negative_numbers = true)]
    pub horizon: Option<usize>,
    /// Temperature τ of the smooth surrogates (default: the scenario's).
    #[arg(long, value_name = "TAU", allow_negative_numbers = true)]
    pub temperature: Option<f64>,
    /// Output scenario folder.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    #[command(flatten)]
    pub run: RunFlags,
}

/// Run `aumann simulate`.
pub fn run(args: SimulateArgs) -> Result<ExitCode> {
    args.run.apply()?;
    let overrides = Overrides {
        agents: args.agents,
        steps: args.steps,
        runs: args.runs,
        seed: args.seed,
        horizon: args.horizon,
        temperature: args.temperature,
    };
    let scenario = (args.scenario.entry().with)(&overrides)?;
    let staged = Staged::folder(&args.out, "scenario.json", &[])?;
    let start = Instant::now();
    let simulation = scenario.simulate()?;
    scenario::save(staged.path(), scenario.as_ref(), &simulation)?;
    staged.commit()?;
    if !args.run.quiet {
        let [steps, n, d] = simulation.features.shape();
        eprintln!(
            "wrote {}: {} scenario, [{steps}, {n}, {d}] ({:.1} s)",
            args.out.display(),
            scenario.name(),
            start.elapsed().as_secs_f64()
        );
    }
    Ok(ExitCode::SUCCESS)
}
