//! `aumann synth`: a synthetic heavy-tailed population as `.npy`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use aumann::synth::SynthConfig;
use clap::Args;

use aumann::output::Staged;

/// `aumann synth`.
#[derive(Debug, Args)]
pub struct SynthArgs {
    /// Number of agents.
    #[arg(long, default_value_t = 1_000_000)]
    pub agents: usize,
    /// Number of time steps.
    #[arg(long = "time-steps", default_value_t = 1, value_name = "T")]
    pub time_steps: usize,
    /// Seed.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Make every step an independent population with its own tail index (drawn from
    /// [1, 2]): training data for `aumann train`.
    #[arg(long)]
    pub independent: bool,
    /// Output .npy (float32, [T, n, 3]; [n, 3] when T = 1).
    #[arg(long, value_name = "X.npy")]
    pub out: PathBuf,
}

/// Run `aumann synth`.
pub fn run(args: SynthArgs) -> Result<ExitCode> {
    anyhow::ensure!(
        args.agents > 0 && args.time_steps > 0,
        "--agents and --time-steps must be at least 1"
    );
    let config = SynthConfig {
        agents: args.agents,
        steps: args.time_steps,
        seed: args.seed,
        ..SynthConfig::default()
    };
    config.check()?;
    let out = Staged::file(&args.out, &[])?;
    let x = if args.independent {
        aumann::synth::independent_populations(args.time_steps, args.agents, args.seed)
    } else {
        aumann::synth::population(&config)
    };
    let shape = match args.time_steps {
        1 => vec![args.agents, 3],
        _ => x.shape().to_vec(),
    };
    aumann::npy::write(out.path(), &shape, x.values())
        .with_context(|| format!("writing {}", args.out.display()))?;
    out.commit()?;
    Ok(ExitCode::SUCCESS)
}
