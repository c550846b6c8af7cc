//! `aumann faithfulness`: deletion curves and agreement with sampled Shapley on simulated
//! societies.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use aumann::backend::{Backend, Precision};
use aumann::faithfulness::{self, FaithMethod, FaithOptions, Faithfulness, report, robustness};
use aumann::path::{PathOptions, Rule};
use aumann::scenario::{self, Horizon, Loaded, SCENARIOS};
use clap::Args;

use crate::common::{RunFlags, choice, with_flags};
use crate::progress::Bar;
use aumann::output::Staged;

/// `aumann faithfulness`.
#[derive(Debug, Args)]
pub struct FaithfulnessArgs {
    /// Scenario folders (`aumann simulate`), repeatable; none: econ at its default size, social
    /// at 300 agents and cascade at 1 000 (where sampled Shapley runs), simulated here.
    #[arg(long, value_name = "DIR")]
    pub scenario: Vec<PathBuf>,
    /// The indicators attributed: the static risk, and the rollout risk, where the graph makes
    /// agents interact.
    #[arg(
        long,
        alias = "indicator",
        value_delimiter = ',',
        default_value = "static,rollout",
        value_parser = choice::<Horizon>()
    )]
    pub indicators: Vec<Horizon>,
    /// The target step t* (default: the peak of V after the run's midpoint).
    #[arg(long, value_name = "T")]
    pub step: Option<usize>,
    /// The run of a scenario with several (numbered from 0).
    #[arg(long = "run", value_name = "R", default_value_t = 0)]
    pub run: usize,
    /// Methods.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "as-path,shapley-sampled,loo,banzhaf-sampled,random",
        value_parser = choice::<FaithMethod>()
    )]
    pub methods: Vec<FaithMethod>,
    /// K: permutations (Shapley) or coalitions (Banzhaf) of the sampled methods.
    #[arg(long, default_value_t = 1000, value_name = "K")]
    pub samples: usize,
    /// Deletions k = 1..K.
    #[arg(long = "k-max", default_value_t = 10, value_name = "K")]
    pub k_max: usize,
    /// Seeds of the sampled methods and the random ranking.
    #[arg(long, default_value_t = 3)]
    pub seeds: usize,
    /// The first seed.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Seconds a sampled Shapley run may take; beyond, it is reported infeasible with its
    /// extrapolated time.
    #[arg(long, default_value_t = 120.0, value_name = "SECONDS")]
    pub budget: f64,
    /// Replicates of the re-simulated deletion curve: the society simulated again from t* with
    /// the top-k agents held at their baseline action (0: not run).
    #[arg(long, default_value_t = 8, value_name = "R")]
    pub replicates: usize,
    /// Quadrature rule of as-path.
    #[arg(long, default_value = "gauss", value_parser = choice::<Rule>())]
    pub rule: Rule,
    /// Quadrature points m of as-path.
    #[arg(long, default_value_t = 16, value_name = "M", alias = "steps")]
    pub points: usize,
    /// Compute backend.
    #[arg(long, default_value = "flex", value_parser = choice::<Backend>())]
    pub backend: Backend,
    /// Precision of every method.
    #[arg(long, default_value = "f64", value_parser = choice::<Precision>())]
    pub precision: Precision,
    /// Random orders of the agent-by-agent path in the robustness sweeps.
    #[arg(long, default_value_t = 5, value_name = "R")]
    pub orders: usize,
    /// Skip the robustness sweeps (path order, temperature, the cascade's aggregate).
    #[arg(long)]
    pub no_sweeps: bool,
    /// Output folder: faithfulness.csv, deletion.csv, robustness.csv, report.md,
    /// deletion_<scenario>.png.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    #[command(flatten)]
    pub flags: RunFlags,
}

impl From<&FaithfulnessArgs> for FaithOptions {
    fn from(args: &FaithfulnessArgs) -> Self {
        FaithOptions {
            which: args.indicators[0],
            step: args.step,
            run: args.run,
            methods: args.methods.clone(),
            samples: args.samples,
            k_max: args.k_max,
            seeds: args.seeds,
            seed: args.seed,
            budget_seconds: args.budget,
            replicates: args.replicates,
            path: PathOptions {
                rule: args.rule,
                points: args.points,
                precision: args.precision,
                ..PathOptions::default()
            },
        }
    }
}

/// The scenarios: the folders given, or every built-in one at its defaults.
fn scenarios(args: &FaithfulnessArgs) -> Result<Vec<Loaded>> {
    if args.scenario.is_empty() {
        return SCENARIOS
            .iter()
            .map(|e| {
                let s = (e.with)(&faithfulness::built_in_overrides(e.name))?;
                let simulation = s.simulate()?;
                Ok(Loaded::new(s, simulation)?)
            })
            .collect();
    }
    args.scenario
        .iter()
        .map(|dir| Ok(scenario::load(dir)?))
        .collect()
}

/// Run `aumann faithfulness`.
pub fn run(args: FaithfulnessArgs) -> Result<ExitCode> {
    args.flags.apply()?;
    let options = FaithOptions::from(&args);
    let device = args.backend.device_for(args.precision)?;
    let staged = Staged::folder(
        &args.out,
        "faithfulness.csv",
        &(args.scenario.iter())
            .map(PathBuf::as_path)
            .collect::<Vec<_>>(),
    )?;
    let loaded = scenarios(&args)?;
    let mut runs: Vec<Faithfulness> = Vec::new();
    let mut sweeps = Vec::new();
    anyhow::ensure!(
        !args.indicators.is_empty(),
        "--indicators needs an indicator"
    );
    for l in &loaded {
        let name = l.scenario.name();
        for (j, &which) in args.indicators.iter().enumerate() {
            let options = FaithOptions {
                which,
                ..options.clone()
            };
            let mut bar = Bar::new(&format!("{name} {}", which.name()), !args.flags.quiet);
            let f = faithfulness::run(l, &options, &device, &mut |method, p| {
                bar.set_message(method);
                bar.update(p.done, p.total);
            })
            .map_err(|e| with_flags(e).context(format!("scenario {name}")))?;
            // The robustness sweeps move the ranking of the first indicator.
            if j == 0 && !args.no_sweeps {
                bar.set_message("robustness");
                let rows = robustness::sweeps(l, &f, &options, args.orders, &device)
                    .map_err(|e| with_flags(e).context(format!("scenario {name}")))?;
                sweeps.push((name.to_string(), rows));
            }
            bar.finish();
            if !args.flags.quiet {
                let table = report::markdown(std::slice::from_ref(&f), args.samples, args.k_max);
                eprint!("{table}");
            }
            runs.push(f);
        }
    }
    write(staged.path(), &runs, &sweeps, &args)?;
    staged.commit()?;
    Ok(ExitCode::SUCCESS)
}

/// Write the tables, the report and the pictures into `dir`.
fn write(
    dir: &std::path::Path,
    runs: &[Faithfulness],
    sweeps: &[(String, Vec<robustness::Comparison>)],
    args: &FaithfulnessArgs,
) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let save = |name: &str, bytes: &[u8]| {
        std::fs::write(dir.join(name), bytes).with_context(|| format!("writing {name}"))
    };
    let summary: String = runs.iter().map(Faithfulness::summary_csv).collect();
    save(
        "faithfulness.csv",
        format!("{}{summary}", report::SUMMARY_HEADER).as_bytes(),
    )?;
    let deletion: String = runs.iter().map(Faithfulness::deletion_csv).collect();
    save(
        "deletion.csv",
        format!("{}{deletion}", report::DELETION_HEADER).as_bytes(),
    )?;
    let mut text = report::markdown(runs, args.samples, args.k_max);
    if !args.no_sweeps {
        let rows: String = sweeps.iter().map(|(s, r)| robustness::csv(s, r)).collect();
        save(
            "robustness.csv",
            format!("{}{rows}", robustness::HEADER).as_bytes(),
        )?;
        text.push_str(&robustness::markdown(sweeps));
    }
    save("report.md", text.as_bytes())?;
    for f in runs {
        let name = match f.which {
            Horizon::Static => format!("deletion_{}.png", f.scenario),
            which => format!("deletion_{}_{}.png", f.scenario, which.name()),
        };
        save(&name, &report::render_png(f)?)?;
    }
    Ok(())
}
