//! `aumann eval`: an indicator's value on every population row of a feature array.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use aumann::array::Values;
use aumann::indicators::Indicator;
use aumann::path::PathOptions;
use aumann::run;
use aumann::scenario::Horizon;
use clap::Args;

use crate::common::{
    ComputeFlags, IndicatorFlags, IndicatorName, RunFlags, ScenarioFlags, inputs, scenario_step,
    with_flags,
};
use aumann::output::Staged;

/// `aumann eval`.
#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Populations: a float .npy of shape [R, n, d] (or [n, d], one population).
    #[arg(long, value_name = "X.npy")]
    pub features: PathBuf,
    #[command(flatten)]
    pub subject: IndicatorFlags,
    /// The scenario indicator of one step (`--step`, and `--run` with several runs), with that
    /// step's context.
    #[command(flatten)]
    pub target: ScenarioFlags,
    #[command(flatten)]
    pub compute: ComputeFlags,
    /// Output: V per population, float .npy of shape [R] in the chosen precision.
    #[arg(long, value_name = "V.npy")]
    pub out: PathBuf,
    #[command(flatten)]
    pub run: RunFlags,
}

/// Run `aumann eval`.
pub fn run(args: EvalArgs) -> Result<ExitCode> {
    args.run.apply()?;
    let inputs = inputs([
        Some(args.features.as_path()),
        args.subject.model.as_deref(),
        args.target.scenario.as_deref(),
    ]);
    let out = Staged::file(&args.out, &inputs)?;
    let (features, _) = run::read_features(&args.features)?;
    let ComputeFlags { backend, precision } = args.compute;
    let device = backend.device_for(precision).map_err(with_flags)?;
    let indicator = indicator(&args, [features.agents(), features.dims()], &device)?;
    let block = PathOptions::default().block_elements;
    let v = run::evaluate(indicator.as_ref(), &features, precision, &device, block)
        .map_err(with_flags)?;
    let values = Values::narrowed(v, precision, "V").map_err(with_flags)?;
    aumann::npy::write(out.path(), &[features.steps()], &values)
        .with_context(|| format!("writing {}", args.out.display()))?;
    out.commit()?;
    Ok(ExitCode::SUCCESS)
}

/// The indicator the flags name, built on `device` for `d` features.
fn indicator(
    args: &EvalArgs,
    [agents, d]: [usize; 2],
    device: &burn::tensor::Device,
) -> Result<Box<dyn Indicator>> {
    let precision = args.compute.precision;
    match (args.subject.name(), &args.target.scenario) {
        (Some(IndicatorName::Registry(kind)), _) => {
            let spec = args.subject.spec(kind);
            spec.build(device, d, precision).map_err(with_flags)
        }
        (which, Some(dir)) => {
            let which = match which {
                Some(IndicatorName::Scenario(h)) => h,
                _ => Horizon::Static,
            };
            let why = "the indicator reads that step's context";
            let (loaded, row) = scenario_step(dir, which, args.target.run, args.target.step, why)?;
            let (n, expected) = (loaded.manifest.agents, loaded.manifest.features.len());
            anyhow::ensure!(
                (agents, d) == (n, expected),
                "{}: populations of {agents} agents with d = {d}, the scenario's indicator takes \
                 {n} agents (its graph's nodes) with d = {expected}",
                args.features.display()
            );
            Ok(loaded.scenario.indicator(&loaded.simulation, which, row)?)
        }
        (Some(IndicatorName::Scenario(h)), None) => {
            anyhow::bail!("--indicator {} needs --scenario DIR", h.name())
        }
        (None, None) => anyhow::bail!("give --indicator NAME, --model DIR or --scenario DIR"),
    }
}
