//! `aumann study`: the cross-scale study, full panel against small panels.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result};
use aumann::indicators::formula::Definition;
use aumann::panel::Panel;
use aumann::study::report::RunInfo;
use aumann::study::{Protocol, StudyConfig, StudyIndicator};
use clap::builder::TypedValueParser;
use clap::{ArgAction, Args, Command};

use crate::common::{FormulaParser, RunFlags, choice, inputs, invalid, listed};
use crate::progress::Bar;
use aumann::output::Staged;

/// `aumann study`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct StudyArgs {
    /// What else to run instead of the study itself.
    #[command(subcommand)]
    pub command: Option<StudyCommand>,
    /// Output folder: CSVs, heatmaps, report.md, run.json.
    #[arg(long, value_name = "DIR", required = true)]
    pub out: Option<PathBuf>,
    /// A panel folder (as written by `aumann panel synth`); default: generate the synthetic
    /// panel.
    #[arg(long, value_name = "DIR")]
    pub panel: Option<PathBuf>,
    /// Agents of the generated panel.
    #[arg(long, default_value_t = 1_000_000, conflicts_with = "panel")]
    pub agents: usize,
    /// Days of the generated panel.
    #[arg(long, default_value_t = 14, conflicts_with = "panel")]
    pub days: usize,
    /// Seed of the draws (which small panels are drawn).
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Seed of the generated panel (so the draws can be re-run on a fixed panel).
    #[arg(long, default_value_t = 7, conflicts_with = "panel")]
    pub panel_seed: u64,
    /// Draws per protocol and size.
    #[arg(long, default_value_t = 10)]
    pub seeds: usize,
    /// Small-panel sizes.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = listed(study_defaults().sizes)
    )]
    pub sizes: Vec<usize>,
    /// Indicators of the registry, separated by commas; parameters follow a name in
    /// parentheses ('atkinson(epsilon=2)', 'share_above(threshold=1, tau=0.2)'), whose commas
    /// do not separate. May be repeated. The four analytic ones are attributed exactly, the
    /// others by the path integral from the zero baseline (where scale-invariant indices such as
    /// gini_coefficient or theil are undefined).
    #[arg(
        long,
        value_name = "NAME[,NAME...]",
        action = ArgAction::Append,
        default_value = listed(study_defaults().indicators),
        value_parser = IndicatorListParser
    )]
    pub indicators: Vec<IndicatorList>,
    /// A formula indicator to study beside the --indicators, labelled by its name ('formula'
    /// where it has none), e.g. 'name: var; psi: c, c^2; rho: m1 - m0^2'. May be repeated.
    #[arg(long = "formula", value_name = "TEXT", value_parser = FormulaParser)]
    pub formulas: Vec<Definition>,
    /// Sampling protocols; the full panel is always run.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = listed(study_defaults().protocols),
        value_parser = choice::<Protocol>()
    )]
    pub protocols: Vec<Protocol>,
    /// Tier fractions: top, middle (the tail is the rest).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = listed(<[f64; 2]>::from(study_defaults().tiers)),
        value_name = "TOP,MID"
    )]
    pub tiers: Vec<f64>,
    /// The bias-visibility pool's share of the panel.
    #[arg(long, default_value_t = 0.01)]
    pub visibility_pool: f64,
    /// The heatmaps' indicator: one studied (a formula by its name) or any of the registry.
    #[arg(long, value_name = "NAME", default_value = "mult")]
    pub heatmap_indicator: String,
    /// k of the top-k recovery.
    #[arg(long, value_delimiter = ',', default_value = listed(study_defaults().top_k))]
    pub top_k: Vec<usize>,
    /// Also write per-agent full-panel attributions (per_agent/<topic>_<indicator>.npy).
    #[arg(long)]
    pub per_agent: bool,
    /// The findings' margin, a share (0.02: 2 pp): a flip must lie beyond it, the random
    /// control within it.
    #[arg(long, default_value_t = study_defaults().margin)]
    pub margin: f64,
    /// A sweep's output folder (`aumann study sweep`): the report says which of its findings
    /// survive which generator settings.
    #[arg(long, value_name = "DIR")]
    pub sweep: Option<PathBuf>,
    #[command(flatten)]
    pub run: RunFlags,
}

/// The library's study options, whose defaults the list flags show.
fn study_defaults() -> StudyConfig {
    StudyConfig::default()
}

impl TryFrom<&StudyArgs> for StudyConfig {
    type Error = anyhow::Error;

    fn try_from(args: &StudyArgs) -> Result<Self> {
        let [top, mid] = args.tiers[..] else {
            anyhow::bail!("--tiers takes two fractions, top and middle, e.g. 0.01,0.09");
        };
        let mut indicators: Vec<StudyIndicator> =
            args.indicators.iter().flat_map(|l| l.0.clone()).collect();
        for definition in &args.formulas {
            indicators.push(StudyIndicator::formula(definition.clone()).context("--formula")?);
        }
        StudyIndicator::check_distinct(&indicators)?;
        let heatmap_indicator = StudyIndicator::named(&args.heatmap_indicator, &indicators)
            .context("--heatmap-indicator")?;
        Ok(StudyConfig {
            tiers: (top, mid),
            visibility_pool: args.visibility_pool,
            sizes: args.sizes.clone(),
            seeds: args.seeds,
            seed: args.seed,
            indicators,
            protocols: (args.protocols.iter().copied())
                .filter(|&p| p != Protocol::Full)
                .collect(),
            heatmap_indicator,
            top_k: args.top_k.clone(),
            per_agent: args.per_agent,
            margin: args.margin,
            ..StudyConfig::default()
        })
    }
}

/// `--indicators`' value: the indicators one occurrence lists.
#[derive(Clone, Debug)]
pub struct IndicatorList(Vec<StudyIndicator>);

/// clap's parser for `--indicators`: [`StudyIndicator::list`], its error after the flag.
#[derive(Clone)]
pub struct IndicatorListParser;

impl TypedValueParser for IndicatorListParser {
    type Value = IndicatorList;

    fn parse_ref(
        &self,
        cmd: &Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<IndicatorList, clap::Error> {
        let text = value.to_string_lossy();
        StudyIndicator::list(&text)
            .map(IndicatorList)
            .map_err(|e| invalid(cmd, arg, &text, &e))
    }
}

/// Run `aumann study`.
pub fn run(args: StudyArgs) -> Result<ExitCode> {
    if let Some(StudyCommand::Sweep(sweep)) = args.command {
        return run_sweep(sweep);
    }
    let out = args
        .out
        .clone()
        .expect("clap requires --out without a subcommand");
    args.run.apply()?;
    let config = StudyConfig::try_from(&args)?;
    let staged = Staged::folder(&out, "run.json", &inputs([args.panel.as_deref()]))?;
    let sweep = args.sweep.as_deref().map(read_sweep).transpose()?;
    let start = Instant::now();
    let (panel, origin) = load_or_generate(&args)?;
    let panel_seconds = start.elapsed().as_secs_f64();
    let mut bar = Bar::new("study", !args.run.quiet);
    let results = aumann::study::run(&panel, &config, |p| bar.update(p.done, p.total))?;
    bar.finish();
    let info = RunInfo {
        command: std::env::args().collect::<Vec<_>>().join(" "),
        panel_seconds,
        panel_origin: origin,
        sweep,
    };
    let write_start = Instant::now();
    aumann::study::report::write(staged.path(), &panel, &results, &info)?;
    staged.commit()?;
    if !args.run.quiet {
        eprintln!(
            "wrote {} ({} cells; panel {:.1} s, study {:.1} s, files {:.1} s)",
            out.display(),
            results.cells.len(),
            panel_seconds,
            results.timings.iter().map(|t| t.1).sum::<f64>(),
            write_start.elapsed().as_secs_f64()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The verdicts of the sweep in folder `dir` (its `sweep.csv`).
fn read_sweep(dir: &std::path::Path) -> Result<aumann::study::report::SweepVerdicts> {
    let file = dir.join("sweep.csv");
    Ok(aumann::study::report::SweepVerdicts {
        survival: aumann::study::sweep::Survival::read(&file)?,
        origin: file.display().to_string(),
    })
}

/// The panel folder given, or the synthetic panel; with where it came from.
fn load_or_generate(args: &StudyArgs) -> Result<(Panel, String)> {
    if let Some(dir) = &args.panel {
        return Ok((Panel::load(dir)?, format!("panel folder {}", dir.display())));
    }
    if !args.run.quiet {
        eprintln!(
            "generating the synthetic panel: {} agents, {} days, seed {}",
            args.agents, args.days, args.panel_seed
        );
    }
    let panel = crate::panel::generate(args.agents, args.days, args.panel_seed)?;
    let origin = format!(
        "generated: aumann panel synth --agents {} --days {} --seed {}",
        args.agents, args.days, args.panel_seed
    );
    Ok((panel, origin))
}

/// `aumann study ...` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum StudyCommand {
    /// What the synthetic panel builds in: rerun the study on panels from a grid of generator
    /// settings (each dependence on followers off in turn, a null generator with engagement
    /// independent of followers, follower spreads, event strengths) and report which findings
    /// survive, in DIR/sweep.csv and DIR/sweep.md.
    Sweep(SweepArgs),
}

/// `aumann study sweep`.
#[derive(Debug, Args)]
pub struct SweepArgs {
    /// Output folder.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Agents of each generated panel.
    #[arg(long, default_value_t = 100_000)]
    pub agents: usize,
    /// Seeds of the generated panels: each setting is run on one panel per seed, pooled.
    #[arg(long, value_delimiter = ',', default_value = "7,8,9")]
    pub panel_seeds: Vec<u64>,
    /// Seed of the draws.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Draws per protocol and size.
    #[arg(long, default_value_t = 10)]
    pub seeds: usize,
    /// Small-panel sizes (the findings are read at the smallest).
    #[arg(long, value_delimiter = ',', default_value = "100,1000,10000")]
    pub sizes: Vec<usize>,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

fn run_sweep(args: SweepArgs) -> Result<ExitCode> {
    use aumann::study::sweep;
    let start = Instant::now();
    let staged = Staged::folder(&args.out, "sweep.csv", &[])?;
    let config = StudyConfig {
        sizes: args.sizes.clone(),
        seeds: args.seeds,
        seed: args.seed,
        ..StudyConfig::default()
    };
    let grid = sweep::default_grid();
    let mut bar = Bar::new("studies", !args.quiet);
    anyhow::ensure!(!args.panel_seeds.is_empty(), "--panel-seeds needs a seed");
    let seeds = &args.panel_seeds;
    let findings = sweep::run(args.agents, seeds, &config, &grid, &mut |d, n| {
        bar.update(d, n)
    })?;
    bar.finish();
    std::fs::create_dir_all(staged.path())?;
    std::fs::write(staged.path().join("sweep.csv"), sweep::csv(&findings))?;
    std::fs::write(
        staged.path().join("sweep.md"),
        sweep::markdown(&findings, &grid, seeds),
    )?;
    staged.commit()?;
    eprintln!(
        "wrote {}: {} settings x {} findings ({:.1} s)",
        args.out.display(),
        grid.len(),
        findings.len() / grid.len().max(1),
        start.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}
