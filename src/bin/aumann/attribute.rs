//! `aumann attribute`: φ for every agent and step of a feature array, or of a scenario folder.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result};
use aumann::array::Values;
use aumann::baseline::BaselineSpec;
use aumann::choice::Choice;
use aumann::methods::request::{BaselineChoice, Features, Request, Response, Subject};
use aumann::path::Rule;
use aumann::run::{Method, RunConfig};
use aumann::scenario::{Horizon, Target};
use clap::Args;

use crate::common::{
    ComputeFlags, FeaturesFlag, IndicatorFlags, IndicatorName, RunFlags, ScenarioFlags, choice,
    inputs, with_flags,
};
use crate::progress::Bar;
use aumann::output::Staged;

/// `aumann attribute`.
#[derive(Debug, Args)]
pub struct AttributeArgs {
    #[command(flatten)]
    pub input: FeaturesFlag,
    #[command(flatten)]
    pub target: ScenarioFlags,
    #[command(flatten)]
    pub subject: IndicatorFlags,
    /// Baseline: zero, mean (per coordinate and step), first (the first step), previous (the
    /// previous step: what each step's change did), or a .npy of
    /// shape [d], [n, d] or [T, n, d]. Default: zero, or a scenario's baseline action.
    #[arg(long, value_name = "zero|mean|first|previous|B.npy")]
    pub baseline: Option<BaselineSpec>,
    /// Path integral by autodiff, or the closed form of an analytic indicator.
    #[arg(long, default_value = "path", value_parser = choice::<Method>())]
    pub method: Method,
    /// Quadrature rule of the path integral.
    #[arg(long, default_value = "midpoint", value_parser = choice::<Rule>())]
    pub rule: Rule,
    /// Number of quadrature points m.
    #[arg(long, default_value_t = 32, value_name = "M", alias = "steps")]
    pub points: usize,
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
    /// The request the arguments describe.
    fn request(&self) -> Result<Request> {
        let indicator = self.subject.name();
        let which = match (&indicator, &self.target.scenario) {
            (Some(IndicatorName::Scenario(h)), Some(_)) => Some(*h),
            (None, Some(_)) => Some(Horizon::Static),
            (Some(IndicatorName::Scenario(h)), None) => {
                anyhow::bail!("--indicator {} needs --scenario DIR", h.label())
            }
            _ => None,
        };
        let mut request = match (&self.target.scenario, which, indicator) {
            (Some(folder), Some(which), _) => {
                let (run, step) = (self.target.run, self.target.step);
                Request::scenario(folder.clone(), Target { which, run, step })
            }
            (scenario, _, Some(IndicatorName::Registry(kind))) => {
                Request::indicator(self.subject.spec(kind), scenario.clone())
            }
            _ => anyhow::bail!("give --indicator NAME, or --scenario DIR"),
        };
        request.config = RunConfig {
            method: self.method,
            rule: self.rule,
            points: self.points,
            precision: self.compute.precision,
            normalize: self.normalize,
            backend: self.compute.backend,
            threads: self.run.threads,
            ..request.config
        };
        let features = self
            .input
            .features
            .as_deref()
            .map(Features::read)
            .transpose();
        request.features = features.map_err(with_flags)?;
        request.baseline = self.baseline.clone().map(BaselineChoice::Spec);
        Ok(request)
    }
}

/// Run `aumann attribute`.
pub fn run(args: AttributeArgs) -> Result<ExitCode> {
    let start = Instant::now();
    args.run.apply()?;
    let request = args.request()?;
    let inputs = inputs([
        args.input.features.as_deref(),
        args.subject.model.as_deref(),
        args.target.scenario.as_deref(),
        args.baseline.as_ref().and_then(BaselineSpec::file),
    ]);
    let out = Staged::file(&args.out, &inputs)?;
    let summary_file = (args.summary.as_deref())
        .map(|s| Staged::file(s, &inputs))
        .transpose()?;
    let label = match &request.subject {
        Subject::Scenario { target, .. } => target.which.label(),
        Subject::Indicator { .. } => request.config.indicator.name(),
    };
    let mut bar = Bar::new(label, !args.run.quiet);
    let mut response =
        (request.attribute(&mut |p| bar.update(p.done, p.total))).map_err(with_flags)?;
    bar.finish();
    for warning in response.summary.efficiency_warnings() {
        eprintln!("warning: {warning}");
    }
    response.summary.seconds_total = start.elapsed().as_secs_f64();
    let summary = response.summary.to_json();
    write_phi(response, &out, &args.out)?;
    if let (Some(file), Some(name)) = (&summary_file, &args.summary) {
        std::fs::write(file.path(), summary)
            .with_context(|| format!("writing {}", name.display()))?;
    }
    out.commit()?;
    summary_file.map(Staged::commit).transpose()?;
    Ok(ExitCode::SUCCESS)
}

/// Write φ (or shares) in the run's precision, in the response's shape.
fn write_phi(response: Response, out: &Staged, name: &Path) -> Result<()> {
    let (precision, normalize) = (response.config.precision, response.config.normalize);
    let shape = response.shape.clone();
    let values = response.into_values().map_err(with_flags)?;
    let what = if normalize { "share" } else { "φ" };
    let values = Values::narrowed(values, precision, what).map_err(with_flags)?;
    aumann::npy::write(out.path(), &shape, &values)
        .with_context(|| format!("writing {}", name.display()))
}
