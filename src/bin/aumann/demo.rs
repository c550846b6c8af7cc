//! `aumann demo`: the four analytic indicators on a synthetic population, path engine against
//! closed forms.

use std::process::ExitCode;

use anyhow::Result;
use aumann::backend::describe;
use aumann::indicators::Analytic;
use aumann::path::PathOptions;
use aumann::synth::SynthConfig;
use clap::Args;

use crate::common::{ComputeFlags, RunFlags, with_flags};
use crate::progress::Bar;

/// `aumann demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Number of agents.
    #[arg(long, default_value_t = 1_000_000)]
    pub agents: usize,
    /// Number of quadrature points m.
    #[arg(long, default_value_t = 32, value_name = "M", alias = "steps")]
    pub points: usize,
    #[command(flatten)]
    pub compute: ComputeFlags,
    /// Seed of the synthetic population.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    #[command(flatten)]
    pub run: RunFlags,
}

/// Run `aumann demo`.
pub fn run(args: DemoArgs) -> Result<ExitCode> {
    args.run.apply()?;
    let ComputeFlags { backend, precision } = args.compute;
    let options = PathOptions {
        points: args.points,
        precision,
        ..PathOptions::default()
    };
    options.check_points().map_err(with_flags)?;
    let device = backend.device_for(precision).map_err(with_flags)?;
    let config = SynthConfig {
        agents: args.agents,
        seed: args.seed,
        ..SynthConfig::default()
    };
    config.check()?;
    println!(
        "aumann demo: {} synthetic heavy-tailed agents, d = 3, zero baseline; path = midpoint m = {}, {} on {} ({}); exact = closed form in f64",
        args.agents,
        args.points,
        precision.name(),
        backend.name(),
        describe(&device)
    );
    let mut bar = Bar::new("", !args.run.quiet);
    let rows = aumann::demo::run(&config, &options, &device, &mut |kind: Analytic, p| {
        bar.set_message(kind.name());
        bar.update(p.done, p.total);
    })?;
    bar.finish();
    println!();
    print!("{}", aumann::demo::table(&rows));
    println!();
    if rows.iter().all(|r| r.passed()) {
        println!("all four indicators: the path engine agrees with the closed forms");
        Ok(ExitCode::SUCCESS)
    } else {
        println!("some indicator missed its tolerance");
        Ok(ExitCode::from(1))
    }
}
