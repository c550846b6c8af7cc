//! `aumann compare`: every attribution method side by side on one step.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use aumann::array::Values;
use aumann::baseline::{Baseline, BaselineSpec};
use aumann::compare::{self, CompareOptions, Method, Program, Subject};
use aumann::path::PathOptions;
use aumann::scenario::Horizon;
use clap::Args;

use crate::common::{
    ComputeFlags, FeaturesFlag, IndicatorFlags, IndicatorName, RunFlags, choice, inputs,
    scenario_step, with_flags,
};
use crate::progress::Bar;
use aumann::output::Staged;

/// `aumann compare`.
#[derive(Debug, Args)]
pub struct CompareArgs {
    #[command(flatten)]
    pub input: FeaturesFlag,
    /// A scenario folder (`aumann simulate`): its features, baseline action and indicators;
    /// needs --step.
    #[arg(long, value_name = "DIR")]
    pub scenario: Option<PathBuf>,
    /// With --scenario: the run of a scenario with several (numbered from 0).
    #[arg(long = "run", value_name = "R", requires = "scenario")]
    pub scenario_run: Option<usize>,
    /// The step of a [T, n, d] array (or of the scenario's run) to attribute.
    #[arg(long, value_name = "T")]
    pub step: Option<usize>,
    #[command(flatten)]
    pub subject: IndicatorFlags,
    /// Methods.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "as-exact,as-path,loo,shapley-sampled,banzhaf-sampled",
        value_parser = choice::<Method>()
    )]
    pub methods: Vec<Method>,
    /// Output folder: <method>.npy ([n], f64), <method>_se.npy for sampled methods, table.csv.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Baseline: zero, mean, first, previous, or a .npy (default: zero, or a scenario's baseline
    /// action).
    #[arg(long, value_name = "zero|mean|first|previous|B.npy")]
    pub baseline: Option<BaselineSpec>,
    /// K: permutations (Shapley) or coalitions (Banzhaf) of the sampled methods.
    #[arg(long, default_value_t = 100, value_name = "K")]
    pub samples: usize,
    /// Pair each sampled permutation with its reverse (K must be even).
    #[arg(long)]
    pub antithetic: bool,
    /// Seed of the sampled methods.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Quadrature points m of as-path.
    #[arg(long, default_value_t = 32, value_name = "M", alias = "steps")]
    pub points: usize,
    #[command(flatten)]
    pub compute: ComputeFlags,
    #[command(flatten)]
    pub run: RunFlags,
}

impl From<&CompareArgs> for CompareOptions {
    fn from(args: &CompareArgs) -> Self {
        CompareOptions {
            samples: args.samples,
            seed: args.seed,
            antithetic: args.antithetic,
            path: PathOptions {
                points: args.points,
                precision: args.compute.precision,
                ..PathOptions::default()
            },
            backend: args.compute.backend,
        }
    }
}

/// The population, baseline and indicator the flags name.
fn subject(args: &CompareArgs, options: &CompareOptions) -> Result<Subject> {
    if let Some(dir) = &args.scenario {
        return scenario_subject(args, dir);
    }
    let path = (args.input.features.as_ref()).context("give --features X.npy or --scenario DIR")?;
    let (all, _) = aumann::run::read_features(path)?;
    let spec = args.baseline.clone().unwrap_or(BaselineSpec::Zero);
    let baseline = Baseline::resolve(&spec, &all)?;
    let (features, baseline) = compare::one_step(&all, &baseline, args.step)
        .map_err(|e| anyhow::anyhow!("{}: {e} (choose it with --step)", path.display()))?;
    let program = match args.subject.name() {
        Some(IndicatorName::Registry(kind)) => {
            let spec = args.subject.spec(kind);
            Program::of(&spec, features.dims(), options).map_err(with_flags)?
        }
        Some(IndicatorName::Scenario(h)) => {
            anyhow::bail!("--indicator {} needs --scenario DIR", h.name())
        }
        None => anyhow::bail!("give --indicator NAME"),
    };
    Ok(Subject {
        features,
        baseline,
        program,
    })
}

/// Step `--step` of a scenario folder's run, its baseline action and its risk.
fn scenario_subject(args: &CompareArgs, dir: &std::path::Path) -> Result<Subject> {
    let which = match args.subject.name() {
        None => Horizon::Static,
        Some(IndicatorName::Scenario(h)) => h,
        Some(IndicatorName::Registry(k)) => anyhow::bail!(
            "--scenario compares its own static or rollout risk, not --indicator {}",
            k.entry().name
        ),
    };
    let why = "coalition methods attribute one step";
    let (loaded, row) = scenario_step(dir, which, args.scenario_run, args.step, why)?;
    let features = match &args.input.features {
        Some(path) => Some(aumann::run::read_features(path)?.0),
        None => None,
    };
    let subject = Subject::of_scenario(
        &loaded,
        which,
        row,
        features.as_ref(),
        args.baseline.as_ref(),
    );
    // A shape the scenario refuses is the features file's; any other error is not.
    subject.map_err(|e| match (&args.input.features, e) {
        (Some(path), e @ aumann::Error::Shape { .. }) => {
            anyhow::anyhow!("{}: {e}", path.display())
        }
        (_, e) => e.into(),
    })
}

/// Run `aumann compare`.
pub fn run(args: CompareArgs) -> Result<ExitCode> {
    args.run.apply()?;
    let options = CompareOptions::from(&args);
    let subject = subject(&args, &options)?;
    let n = subject.features.agents();
    let staged = Staged::folder(
        &args.out,
        "table.csv",
        &inputs([
            args.input.features.as_deref(),
            args.scenario.as_deref(),
            args.subject.model.as_deref(),
            args.baseline.as_ref().and_then(BaselineSpec::file),
        ]),
    )?;
    std::fs::create_dir_all(staged.path())
        .with_context(|| format!("creating {}", staged.path().display()))?;
    let reference_method = subject.program.reference();
    let reference = subject.run(reference_method, &options, &mut |_| {})?;
    let change = subject.change(&options)?;
    let mut scores = Vec::new();
    for &method in &args.methods {
        let mut bar = Bar::new(method.name(), !args.run.quiet);
        let run = subject
            .run(method, &options, &mut |p| bar.update(p.done, p.total))
            .map_err(with_flags)?;
        bar.finish();
        let write = |name: String, v: &[f64]| {
            aumann::npy::write(&staged.path().join(&name), &[n], &Values::F64(v.to_vec()))
                .with_context(|| format!("writing {name}"))
        };
        write(format!("{}.npy", method.name()), &run.phi)?;
        if let Some(se) = &run.std_error {
            write(format!("{}_se.npy", method.name()), se)?;
        }
        let score = compare::score(&run, &reference.phi, change, &options);
        if !args.run.quiet {
            eprintln!(
                "{:>22}: {:>10.4} s, efficiency gap {:+.2e}, max error vs {} {:.2e}",
                method.name(),
                score.seconds,
                score.gap,
                reference_method.name(),
                score.max_error
            );
        }
        scores.push(score);
    }
    let table = compare::csv(&scores, reference_method);
    std::fs::write(staged.path().join("table.csv"), table).context("writing table.csv")?;
    staged.commit()?;
    Ok(ExitCode::SUCCESS)
}
