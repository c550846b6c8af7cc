//! `aumann attribute`: φ for every agent and step of a feature array.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result};
use aumann::array::Values;
use aumann::backend::Precision;
use aumann::baseline::BaselineSpec;
use aumann::indicators::IndicatorSpec;
use aumann::path::Rule;
use aumann::run::{self, Method, RunConfig, Summary};
use clap::Args;

use crate::common::{ComputeFlags, RunFlags, choice, with_flags};
use crate::progress::Bar;
use crate::staged::Staged;

/// `aumann attribute`.
#[derive(Debug, Args)]
pub struct AttributeArgs {
    /// Features: a float32/float64 .npy array of shape [n, d] or [T, n, d].
    #[arg(long, value_name = "X.npy")]
    pub features: PathBuf,
    /// The macro indicator (a learned one, deepset, needs --model).
    #[arg(long, value_name = "NAME", value_parser = choice::<aumann::indicators::IndicatorKind>())]
    pub indicator: aumann::indicators::IndicatorKind,
    /// A trained DeepSet's folder (for --indicator deepset), as written by `aumann train`.
    #[arg(long, value_name = "DIR")]
    pub model: Option<PathBuf>,
    /// Baseline: zero, mean (per coordinate and step), first (the first step), or a .npy of
    /// shape [d], [n, d] or [T, n, d].
    #[arg(long, default_value = "zero", value_name = "zero|mean|first|B.npy")]
    pub baseline: BaselineSpec,
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

impl TryFrom<&AttributeArgs> for RunConfig {
    type Error = anyhow::Error;

    fn try_from(args: &AttributeArgs) -> Result<Self> {
        let indicator = IndicatorSpec {
            kind: args.indicator,
            model: args.model.clone(),
        };
        let config = RunConfig {
            method: args.method,
            rule: args.rule,
            points: args.steps,
            precision: args.compute.precision,
            baseline: args.baseline.clone(),
            normalize: args.normalize,
            backend: args.compute.backend,
            threads: args.run.threads,
            ..RunConfig::new(indicator)
        };
        config.validate().map_err(|e| with_flags(e, "--steps"))?;
        Ok(config)
    }
}

/// Run `aumann attribute`.
pub fn run(args: AttributeArgs) -> Result<ExitCode> {
    let start = Instant::now();
    args.run.apply()?;
    let config = RunConfig::try_from(&args)?;
    let out = Staged::new(&args.out)?;
    let summary_file = args.summary.as_deref().map(Staged::new).transpose()?;

    let (features, rank) = run::read_features(&args.features)?;
    let mut bar = Bar::new(config.indicator.name(), !args.run.quiet);
    let output = run::run(&config, &features, &mut |p| bar.update(p.done, p.total))
        .map_err(|e| with_flags(e, "--steps"))?;
    bar.finish();

    let result = &output.attribution;
    let values = output
        .values(&config)
        .map_err(|e| with_flags(e, "--steps"))?;
    let shape = match rank {
        2 => vec![result.agents],
        _ => vec![result.steps, result.agents],
    };
    let values = match config.precision {
        Precision::F32 => Values::F32(values.iter().map(|&v| v as f32).collect()),
        Precision::F64 => Values::F64(values),
    };
    aumann::npy::write(out.path(), &shape, &values)
        .with_context(|| format!("writing {}", args.out.display()))?;
    if let (Some(file), Some(name)) = (&summary_file, &args.summary) {
        let summary = Summary::new(
            &config,
            &args.features,
            features.dims(),
            &output,
            start.elapsed().as_secs_f64(),
        );
        std::fs::write(file.path(), summary.to_json())
            .with_context(|| format!("writing {}", name.display()))?;
    }
    out.commit()?;
    summary_file.map(Staged::commit).transpose()?;
    Ok(ExitCode::SUCCESS)
}
