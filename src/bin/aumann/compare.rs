//! `aumann compare`: every attribution method side by side on one step.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use aumann::array::Values;
use aumann::baseline::{Baseline, BaselineSpec};
use aumann::coalition::Game;
use aumann::compare::{self, CompareOptions, Method};
use aumann::indicators::Analytic;
use aumann::path::PathOptions;
use clap::Args;

use crate::common::{ComputeFlags, RunFlags, choice, with_flags};
use crate::progress::Bar;
use crate::staged::Staged;

/// `aumann compare`.
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// Features: a float .npy of shape [n, d] (or [T, n, d] with --step).
    #[arg(long, value_name = "X.npy")]
    pub features: PathBuf,
    /// The step of a [T, n, d] array to attribute.
    #[arg(long, value_name = "T")]
    pub step: Option<usize>,
    /// The macro indicator.
    #[arg(long, value_name = "NAME", value_parser = choice::<Analytic>())]
    pub indicator: Analytic,
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
    /// Baseline: zero, mean, first, or a .npy.
    #[arg(long, default_value = "zero", value_name = "zero|mean|first|B.npy")]
    pub baseline: BaselineSpec,
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
    #[arg(long, default_value_t = 32, value_name = "M", alias = "points")]
    pub steps: usize,
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
                points: args.steps,
                precision: args.compute.precision,
                ..PathOptions::default()
            },
            backend: args.compute.backend,
        }
    }
}

/// Run `aumann compare`.
pub fn run(args: CompareArgs) -> Result<ExitCode> {
    args.run.apply()?;
    let options = CompareOptions::from(&args);
    let (all, _) = aumann::run::read_features(&args.features)?;
    let baseline = Baseline::resolve(&args.baseline, &all)?;
    let (features, baseline) = compare::one_step(&all, &baseline, args.step)
        .map_err(|e| anyhow::anyhow!("{}: {e} (choose it with --step)", args.features.display()))?;
    let n = features.agents();
    let staged = Staged::folder(&args.out, "table.csv")?;
    std::fs::create_dir_all(staged.path())
        .with_context(|| format!("creating {}", staged.path().display()))?;
    let game = compare::game(args.indicator, &features, &baseline)?;
    let change = game.change();
    let reference = compare::run(
        Method::AsExact,
        args.indicator,
        &features,
        &baseline,
        &options,
        &mut |_| {},
    )?;
    let mut scores = Vec::new();
    for &method in &args.methods {
        let mut bar = Bar::new(method.name(), !args.run.quiet);
        let run = compare::run(
            method,
            args.indicator,
            &features,
            &baseline,
            &options,
            &mut |p| bar.update(p.done, p.total),
        )
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
                "{:>22}: {:>10.4} s, efficiency gap {:+.2e}, max error vs as-exact {:.2e}",
                method.name(),
                score.seconds,
                score.gap,
                score.max_error
            );
        }
        scores.push(score);
    }
    std::fs::write(staged.path().join("table.csv"), compare::csv(&scores))
        .context("writing table.csv")?;
    staged.commit()?;
    Ok(ExitCode::SUCCESS)
}
