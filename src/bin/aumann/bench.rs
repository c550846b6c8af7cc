//! `aumann bench synthetic` and `aumann bench scaling`: aumann among the other attribution
//! methods.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use aumann::benchmark::{self, ScalingOptions, SyntheticOptions};
use aumann::compare::{CompareOptions, Method};
use aumann::indicators::Analytic;
use clap::{Args, Subcommand};

use crate::common::{RunFlags, choice, listed};
use crate::progress::Bar;
use aumann::output::Staged;

/// `aumann bench ...`.
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// The ground-truth benchmark: additive, quadratic and softplus value functions with exact
    /// attributions; MAE, cosine, efficiency error, top-10 Kendall τ and time per method.
    Synthetic(BenchSyntheticArgs),
    /// Wall time against n for every method; cells over the budget are extrapolated.
    Scaling(BenchScalingArgs),
}

/// `aumann bench synthetic`.
#[derive(Debug, Args)]
pub struct BenchSyntheticArgs {
    /// Output folder: synthetic.csv, synthetic.md.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Sizes n (the quadratic function stops at n·d = 6000).
    #[arg(long, value_delimiter = ',', default_value = listed(synthetic_defaults().sizes))]
    pub sizes: Vec<usize>,
    /// Seeds per cell.
    #[arg(long, default_value_t = 5)]
    pub seeds: usize,
    /// K of the sampled methods.
    #[arg(long, default_value_t = 100)]
    pub samples: usize,
    /// Quadrature points m of the path integral.
    #[arg(
        long = "points",
        alias = "steps",
        default_value_t = 32,
        value_name = "M"
    )]
    pub points: usize,
    #[command(flatten)]
    pub run: RunFlags,
}

/// `aumann bench scaling`.
#[derive(Debug, Args)]
pub struct BenchScalingArgs {
    /// Output folder: scaling.csv, scaling.md.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Sizes n.
    #[arg(long, value_delimiter = ',', default_value = listed(scaling_defaults().sizes))]
    pub sizes: Vec<usize>,
    /// Methods.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = listed(scaling_defaults().methods),
        value_parser = choice::<Method>()
    )]
    pub methods: Vec<Method>,
    /// The indicator.
    #[arg(long, default_value = "variance", value_parser = choice::<Analytic>())]
    pub indicator: Analytic,
    /// Measure a cell only if predicted to take at most this many seconds.
    #[arg(long, default_value_t = 30.0)]
    pub budget: f64,
    /// K of the sampled methods.
    #[arg(long, default_value_t = 100)]
    pub samples: usize,
    #[command(flatten)]
    pub run: RunFlags,
}

/// The library's options of the ground-truth benchmark, whose defaults the flags show.
fn synthetic_defaults() -> SyntheticOptions {
    SyntheticOptions::default()
}

/// The library's options of the scaling benchmark, whose defaults the flags show.
fn scaling_defaults() -> ScalingOptions {
    ScalingOptions::default()
}

/// Run `aumann bench ...`.
pub fn run(command: BenchCommand) -> Result<ExitCode> {
    match command {
        BenchCommand::Synthetic(args) => synthetic(args),
        BenchCommand::Scaling(args) => scaling(args),
    }
}

fn synthetic(args: BenchSyntheticArgs) -> Result<ExitCode> {
    args.run.apply()?;
    let options = SyntheticOptions {
        sizes: args.sizes.clone(),
        seeds: args.seeds,
        samples: args.samples,
        points: args.points,
        ..SyntheticOptions::default()
    };
    anyhow::ensure!(
        options.sizes.iter().all(|&n| n >= 2) && options.seeds > 0,
        "--sizes must be at least 2 and --seeds at least 1"
    );
    let mut bar = Bar::new("synthetic", !args.run.quiet);
    let rows = benchmark::synthetic_table(&options, &mut |p| bar.update(p.done, p.total))?;
    bar.finish();
    let md = benchmark::synthetic_markdown(&rows);
    let csv = benchmark::synthetic_csv(&rows);
    let files = [("synthetic.csv", csv), ("synthetic.md", md.clone())];
    write_folder(&args.out, "synthetic.csv", &files)?;
    if !args.run.quiet {
        println!("{md}");
    }
    Ok(ExitCode::SUCCESS)
}

fn scaling(args: BenchScalingArgs) -> Result<ExitCode> {
    args.run.apply()?;
    let mut sizes = args.sizes.clone();
    sizes.sort_unstable();
    sizes.dedup();
    anyhow::ensure!(
        sizes.first().is_none_or(|&n| n >= 2),
        "--sizes must be at least 2"
    );
    let options = ScalingOptions {
        sizes,
        methods: args.methods.clone(),
        indicator: args.indicator,
        budget: args.budget,
        compare: CompareOptions {
            samples: args.samples,
            ..CompareOptions::default()
        },
        ..ScalingOptions::default()
    };
    let mut bar = Bar::new("scaling", !args.run.quiet);
    let rows = benchmark::scaling_table(&options, &mut |p| bar.update(p.done, p.total))?;
    bar.finish();
    let md = benchmark::scaling_markdown(&rows);
    if !args.run.quiet {
        eprintln!("robustness sweeps: integration rules, baselines, path choice");
    }
    let ablations = benchmark::ablations::markdown(
        &benchmark::ablations::rule_convergence(100_000, 7)?,
        &benchmark::ablations::baseline_robustness(100_000, 14, 7)?,
        &benchmark::ablations::path_choice(10_000, 5, 7)?,
    );
    let files = [
        ("scaling.csv", benchmark::scaling_csv(&rows)),
        ("scaling.md", md.clone()),
        ("ablations.md", ablations.clone()),
    ];
    write_folder(&args.out, "scaling.csv", &files)?;
    if !args.run.quiet {
        println!("{ablations}");
        println!("{md}");
    }
    Ok(ExitCode::SUCCESS)
}

/// Write `files` (name, contents) into the folder `out`, all or nothing.
fn write_folder(out: &Path, marker: &str, files: &[(&str, String)]) -> Result<()> {
    let staged = Staged::folder(out, marker, &[])?;
    std::fs::create_dir_all(staged.path())
        .with_context(|| format!("creating {}", staged.path().display()))?;
    for (name, text) in files {
        std::fs::write(staged.path().join(name), text)
            .with_context(|| format!("writing {name}"))?;
    }
    Ok(staged.commit()?)
}
