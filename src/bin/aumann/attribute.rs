//! `aumann attribute`: φ for every agent and step of a feature array, or of a scenario folder.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result};
use aumann::array::Values;
use aumann::baseline::{Baseline, BaselineSpec};
use aumann::choice::Choice;
use aumann::indicators::{IndicatorKind, IndicatorSpec};
use aumann::path::Rule;
use aumann::run::{self, Method, RunConfig, RunOutput, Summary};
use aumann::scenario::{self, Horizon};
use clap::Args;

use crate::common::{
    ComputeFlags, IndicatorName, RunFlags, ScenarioFlags, choice, inputs, with_flags,
};
use crate::progress::Bar;
use aumann::output::Staged;

/// `aumann attribute`.
#[derive(Debug, Args)]
pub struct AttributeArgs {
    /// Features: a float32/float64 .npy array of shape [n, d] or [T, n, d] (default with
    /// --scenario: the folder's).
    #[arg(long, value_name = "X.npy", required_unless_present = "scenario")]
    pub features: Option<PathBuf>,
    #[command(flatten)]
    pub target: ScenarioFlags,
    /// The macro indicator (deepset needs --model; static and rollout need --scenario,
    /// where static is the default).
    #[arg(
        long,
        value_name = "NAME",
        value_parser = choice::<IndicatorName>(),
        required_unless_present = "scenario"
    )]
    pub indicator: Option<IndicatorName>,
    /// A trained DeepSet's folder (for --indicator deepset), as written by `aumann train`.
    #[arg(long, value_name = "DIR")]
    pub model: Option<PathBuf>,
    /// Baseline: zero, mean (per coordinate and step), first (the first step), or a .npy of
    /// shape [d], [n, d] or [T, n, d]. Default: zero, or a scenario's baseline action.
    #[arg(long, value_name = "zero|mean|first|B.npy")]
    pub baseline: Option<BaselineSpec>,
    /// Path integral by autodiff, or the closed form of an analytic indicator.
    #[arg(long, default_value = "path", value_parser = choice::<Method>())]
    pub method: Method,
    /// Quadrature rule of the path integral.
    #[arg(long, default_value = "midpoint", value_parser = choice::<Rule>())]
    pub rule: Rule,
    /// Number of quadrature points m.
    #[arg(long, default_value_t = 32, value_name = "M", alias = "points")]
    pub steps: usize,
    #[command(flatten)]
    pub compute: ComputeFlags,
    /// Output: φ as .npy, shape [n] or [T, n].
    #[arg(long, value_name = "PHI.npy")]
    pub out: PathBuf,
    /// Also write a JSON summary (sizes, options, per-step V(x), V(b), efficiency gap, timings).
    #[arg(long, value_name = "SUMMARY.json")]
    pub summary: Option<PathBuf>,
    /// Write within-step shares φ / Σφ instead of φ.
    #[arg(long)]
    pub normalize: bool,
    #[command(flatten)]
    pub run: RunFlags,
}

impl AttributeArgs {
    /// The run's configuration for the registry indicator `kind`.
    fn config(&self, kind: IndicatorKind) -> Result<RunConfig> {
        let indicator = IndicatorSpec {
            kind,
            model: self.model.clone(),
        };
        let config = RunConfig {
            method: self.method,
            rule: self.rule,
            points: self.steps,
            precision: self.compute.precision,
            baseline: self.baseline.clone().unwrap_or(BaselineSpec::Zero),
            normalize: self.normalize,
            backend: self.compute.backend,
            threads: self.run.threads,
            ..RunConfig::new(indicator)
        };
        config.validate().map_err(with_flags)?;
        Ok(config)
    }
}

/// Run `aumann attribute`.
pub fn run(args: AttributeArgs) -> Result<ExitCode> {
    let start = Instant::now();
    args.run.apply()?;
    let which = match (&args.indicator, &args.target.scenario) {
        (Some(IndicatorName::Scenario(h)), Some(_)) => Some(*h),
        (None, Some(_)) => Some(Horizon::Static),
        (Some(IndicatorName::Scenario(h)), None) => {
            anyhow::bail!("--indicator {} needs --scenario DIR", h.label())
        }
        _ => None,
    };
    let kind = match args.indicator {
        Some(IndicatorName::Registry(k)) => k,
        // A scenario's indicator: the registry part of the configuration is not used.
        _ => IndicatorKind::choices()[0],
    };
    let config = args.config(kind)?;
    let inputs = inputs([
        args.features.as_deref(),
        args.model.as_deref(),
        args.target.scenario.as_deref(),
        args.baseline.as_ref().and_then(BaselineSpec::file),
    ]);
    let out = Staged::file(&args.out, &inputs)?;
    let summary_file = (args.summary.as_deref())
        .map(|s| Staged::file(s, &inputs))
        .transpose()?;
    let (output, d, shape) = match (&args.target.scenario, which) {
        (Some(dir), Some(which)) => attribute_scenario(&args, &config, dir, which)?,
        _ => attribute_features(&args, &config)?,
    };
    write_phi(&output, &config, &shape, &out, &args.out)?;
    if let (Some(file), Some(name)) = (&summary_file, &args.summary) {
        let source = args.features.clone().unwrap_or_else(|| {
            args.target
                .scenario
                .clone()
                .unwrap_or_default()
                .join("features.npy")
        });
        let mut summary = Summary::new(&config, &source, d, &output, start.elapsed().as_secs_f64());
        if let Some(dir) = &args.target.scenario {
            let indicator = which.map_or(config.indicator.name(), |w| w.label());
            let rows = (args.target.run, args.target.step);
            let baseline = args.baseline.as_ref().map(ToString::to_string);
            summary = summary.for_scenario(dir, indicator, rows, baseline);
        }
        std::fs::write(file.path(), summary.to_json())
            .with_context(|| format!("writing {}", name.display()))?;
    }
    out.commit()?;
    summary_file.map(Staged::commit).transpose()?;
    Ok(ExitCode::SUCCESS)
}

/// A registry indicator on `--features` (or a scenario folder's features and baseline).
fn attribute_features(
    args: &AttributeArgs,
    config: &RunConfig,
) -> Result<(RunOutput, usize, Vec<usize>)> {
    let (features, rank, baseline) = match (&args.features, &args.target.scenario) {
        (Some(path), _) => {
            let (features, rank) = run::read_features(path)?;
            let baseline = Baseline::resolve(&config.baseline, &features)?;
            (features, rank, baseline)
        }
        (None, Some(dir)) => {
            let loaded = scenario::load(dir)?;
            let features = loaded.simulation.features;
            let baseline = match &args.baseline {
                Some(spec) => Baseline::resolve(spec, &features)?,
                None => Baseline::from_array(loaded.simulation.baseline),
            };
            (features, 3, baseline)
        }
        (None, None) => anyhow::bail!("give --features X.npy or --scenario DIR"),
    };
    let mut bar = Bar::new(config.indicator.name(), !args.run.quiet);
    let output = run::run_from(config, &features, &baseline, &mut |p| {
        bar.update(p.done, p.total)
    })
    .map_err(with_flags)?;
    bar.finish();
    let shape = match rank {
        2 => vec![features.agents()],
        _ => vec![features.steps(), features.agents()],
    };
    Ok((output, features.dims(), shape))
}

/// A scenario's static or rollout indicator, step by step.
fn attribute_scenario(
    args: &AttributeArgs,
    config: &RunConfig,
    dir: &Path,
    which: Horizon,
) -> Result<(RunOutput, usize, Vec<usize>)> {
    if config.method == Method::Exact {
        return Err(with_flags(aumann::Error::NoExactForm {
            indicator: which.label().into(),
            reason: "a scenario's risk has no closed form; attribute it by the path integral"
                .into(),
        }));
    }
    let loaded = scenario::load(dir)?;
    let features = match &args.features {
        Some(path) => Some(run::read_features(path)?.0),
        None => None,
    };
    let baseline = match &args.baseline {
        Some(spec) => {
            let x = features.as_ref().unwrap_or(&loaded.simulation.features);
            Some(Baseline::resolve(spec, x)?)
        }
        None => None,
    };
    let device = config
        .backend
        .device_for(config.precision)
        .map_err(with_flags)?;
    let mut bar = Bar::new(which.label(), !args.run.quiet);
    let target = scenario::Target {
        which,
        run: args.target.run,
        step: args.target.step,
    };
    let attribution = scenario::attribute(
        &loaded,
        target,
        features.as_ref(),
        baseline.as_ref(),
        &config.path_options(),
        &device,
        &mut |p| bar.update(p.done, p.total),
    )
    .map_err(with_flags)?;
    bar.finish();
    let shape = target.phi_shape(&loaded.manifest);
    let device = aumann::backend::describe(&device);
    let d = loaded.manifest.features.len();
    Ok((
        RunOutput {
            attribution,
            device,
        },
        d,
        shape,
    ))
}

/// Write φ (or shares) in the configuration's precision: `[n]` for a one-step input.
fn write_phi(
    output: &RunOutput,
    config: &RunConfig,
    shape: &[usize],
    out: &Staged,
    name: &Path,
) -> Result<()> {
    let values = output.values(config).map_err(with_flags)?;
    let what = if config.normalize { "share" } else { "φ" };
    let values = Values::narrowed(values, config.precision, what).map_err(with_flags)?;
    aumann::npy::write(out.path(), shape, &values)
        .with_context(|| format!("writing {}", name.display()))
}
