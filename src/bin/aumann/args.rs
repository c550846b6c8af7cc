//! Command-line arguments, as close to the flags as possible; `main.rs` turns them into the
//! library's types.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Aumann–Shapley attribution of macro indicators to agents.
#[derive(Debug, Parser)]
#[command(name = "aumann", version, about, long_about = None)]
pub struct Cli {
    /// What to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Attribute a macro indicator to every agent and step of a feature array.
    Attribute(AttributeArgs),
    /// Attribute a synthetic heavy-tailed population with all four indicators and check the
    /// path engine against the closed forms.
    Demo(DemoArgs),
    /// Write a synthetic heavy-tailed population (reach, activity, resonance) as [T, n, 3].
    Synth(SynthArgs),
    /// Train a DeepSet value network to regress a macro series from populations.
    Train(TrainArgs),
    /// Run attribution methods side by side on one step: Aumann–Shapley (closed form, path)
    /// against leave-one-out, sampled and exact Shapley and Banzhaf.
    Compare(CompareArgs),
    /// Benchmarks against the other attribution methods: ground truth and runtime scaling.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Panels: one population over days and topics (the study's input).
    #[command(subcommand)]
    Panel(PanelCommand),
    /// The cross-scale study: full panel vs biased and random small panels, the scaling-bias
    /// test, heatmaps and a report. With only --out it runs on the default synthetic panel.
    Study(StudyArgs),
}

/// `aumann compare`.
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// Features: a float .npy of shape [n, d] (or [T, n, d] with --step).
    #[arg(long, value_name = "X.npy")]
    pub features: PathBuf,
    /// The step of a [T, n, d] array to attribute.
    #[arg(long, value_name = "T")]
    pub step: Option<usize>,
    /// The macro indicator: linear, mult, variance or gini.
    #[arg(long, value_name = "NAME")]
    pub indicator: String,
    /// Methods: as-exact, as-path, loo, shapley-sampled, shapley-sampled-plain,
    /// banzhaf-sampled, shapley-exact, banzhaf-exact.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "as-exact,as-path,loo,shapley-sampled,banzhaf-sampled"
    )]
    pub methods: Vec<String>,
    /// Output folder: <method>.npy ([n], f64), <method>_se.npy for sampled methods, table.csv.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Baseline: zero, mean, first, or a .npy.
    #[arg(long, default_value = "zero", value_name = "zero|mean|first|B.npy")]
    pub baseline: String,
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
    #[arg(long, default_value_t = 32, value_name = "M")]
    pub steps: usize,
    /// Backend of as-path.
    #[arg(long, default_value = "flex", value_name = "flex|ndarray|wgpu")]
    pub backend: String,
    /// Precision of as-path.
    #[arg(long, default_value = "f32", value_name = "f32|f64")]
    pub precision: String,
    /// Worker threads (default: all cores).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

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
    #[arg(long, value_delimiter = ',', default_value = "10,100,1000,10000")]
    pub sizes: Vec<usize>,
    /// Seeds per cell.
    #[arg(long, default_value_t = 5)]
    pub seeds: usize,
    /// K of the sampled methods.
    #[arg(long, default_value_t = 100)]
    pub samples: usize,
    /// Quadrature points of the path integral.
    #[arg(long, default_value_t = 32)]
    pub points: usize,
    /// Worker threads (default: all cores).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

/// `aumann bench scaling`.
#[derive(Debug, Args)]
pub struct BenchScalingArgs {
    /// Output folder: scaling.csv, scaling.md.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Sizes n.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "10,100,1000,10000,100000,1000000"
    )]
    pub sizes: Vec<usize>,
    /// Methods.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "as-exact,as-path,loo,shapley-sampled,shapley-sampled-plain,banzhaf-sampled,shapley-exact,banzhaf-exact"
    )]
    pub methods: Vec<String>,
    /// The indicator.
    #[arg(long, default_value = "variance")]
    pub indicator: String,
    /// Measure a cell only if predicted to take at most this many seconds.
    #[arg(long, default_value_t = 30.0)]
    pub budget: f64,
    /// K of the sampled methods.
    #[arg(long, default_value_t = 100)]
    pub samples: usize,
    /// Worker threads (default: all cores).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

/// `aumann panel ...`.
#[derive(Debug, Subcommand)]
pub enum PanelCommand {
    /// Write a synthetic panel: heavy-tailed followers calibrated to public Bluesky figures,
    /// five topics with distinct temporal shapes.
    Synth(PanelSynthArgs),
}

/// `aumann panel synth`.
#[derive(Debug, Args)]
pub struct PanelSynthArgs {
    /// Number of agents.
    #[arg(long, default_value_t = 1_000_000)]
    pub agents: usize,
    /// Number of days.
    #[arg(long, default_value_t = 14)]
    pub days: usize,
    /// Seed.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Worker threads (default: all cores).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Output panel folder.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

/// `aumann study`.
#[derive(Debug, Args)]
pub struct StudyArgs {
    /// Output folder: CSVs, heatmaps, report.md, run.json.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
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
    /// Seed of the generated panel and of the draws.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Draws per protocol and size.
    #[arg(long, default_value_t = 10)]
    pub seeds: usize,
    /// Small-panel sizes.
    #[arg(long, value_delimiter = ',', default_value = "100,1000,10000,100000")]
    pub sizes: Vec<usize>,
    /// Indicators (linear, mult, variance, gini).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "linear,mult,variance,gini"
    )]
    pub indicators: Vec<String>,
    /// Sampling protocols (bias-visibility, bias-topic-x-follow, bias-topic-top, random);
    /// the full panel is always run.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "bias-visibility,bias-topic-x-follow,bias-topic-top,random"
    )]
    pub protocols: Vec<String>,
    /// Tier fractions: top, middle (the tail is the rest).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "0.01,0.09",
        value_name = "TOP,MID"
    )]
    pub tiers: Vec<f64>,
    /// The bias-visibility pool's share of the panel.
    #[arg(long, default_value_t = 0.01)]
    pub visibility_pool: f64,
    /// The heatmaps' indicator.
    #[arg(long, default_value = "mult")]
    pub heatmap_indicator: String,
    /// k of the top-k recovery.
    #[arg(long, value_delimiter = ',', default_value = "10,100")]
    pub top_k: Vec<usize>,
    /// Also write per-agent full-panel attributions (per_agent/<topic>_<indicator>.npy).
    #[arg(long)]
    pub per_agent: bool,
    /// Worker threads (default: all cores).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

/// `aumann train`.
#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Populations: a float .npy of shape [R, n, d] (R runs or steps, n agents each).
    #[arg(long, value_name = "X.npy")]
    pub features: PathBuf,
    /// Targets: a float .npy of shape [R], one macro value per population.
    #[arg(
        long,
        value_name = "Y.npy",
        conflicts_with = "target_indicator",
        required_unless_present = "target_indicator"
    )]
    pub target: Option<PathBuf>,
    /// Or learn an analytic indicator (linear, mult, variance, gini), evaluated exactly; this
    /// allows --path-copies.
    #[arg(long, value_name = "NAME")]
    pub target_indicator: Option<String>,
    /// Output model folder (config.json, model.bpk, card.md), e.g. models/NAME.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Width of the hidden layers.
    #[arg(long, default_value_t = 32)]
    pub hidden: usize,
    /// Linear layers in ψ and in ρ.
    #[arg(long, default_value_t = 2)]
    pub depth: usize,
    /// Activation: tanh, softplus, gelu or square.
    #[arg(long, default_value = "tanh")]
    pub activation: String,
    /// Most passes over the training set.
    #[arg(long, default_value_t = 300)]
    pub epochs: usize,
    /// Adam's learning rate.
    #[arg(long, default_value_t = 3e-3)]
    pub lr: f64,
    /// Populations per batch.
    #[arg(long, default_value_t = 32)]
    pub batch: usize,
    /// Seed.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Fraction of populations held out for validation.
    #[arg(long, default_value_t = 0.2)]
    pub val_fraction: f64,
    /// Stop after this many epochs without a better validation loss.
    #[arg(long, default_value_t = 30)]
    pub patience: usize,
    /// Scaled copies α·x per population (points of the zero-baseline path), so the network
    /// is fitted where the path integral evaluates it; needs --target-indicator.
    #[arg(long, default_value_t = 0)]
    pub path_copies: usize,
    /// Compute backend (a CPU backend gives reproducible runs).
    #[arg(long, default_value = "flex", value_name = "flex|ndarray|wgpu")]
    pub backend: String,
    /// Worker threads (default: all cores).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

/// `aumann synth`.
#[derive(Debug, Args)]
pub struct SynthArgs {
    /// Number of agents.
    #[arg(long, default_value_t = 1_000_000)]
    pub agents: usize,
    /// Number of time steps.
    #[arg(long = "time-steps", default_value_t = 1, value_name = "T")]
    pub time_steps: usize,
    /// Seed.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Make every step an independent population with its own tail index (drawn from
    /// [1, 2]): training data for `aumann train`.
    #[arg(long)]
    pub independent: bool,
    /// Output .npy (float32, [T, n, 3]; [n, 3] when T = 1).
    #[arg(long, value_name = "X.npy")]
    pub out: PathBuf,
}

/// `aumann attribute`.
#[derive(Debug, Args)]
pub struct AttributeArgs {
    /// Features: a float32/float64 .npy array of shape [n, d] or [T, n, d].
    #[arg(long, value_name = "X.npy")]
    pub features: PathBuf,
    /// The macro indicator: linear, mult, variance, gini, or deepset (with --model).
    #[arg(long, value_name = "NAME")]
    pub indicator: String,
    /// A trained DeepSet's folder (for --indicator deepset), as written by `aumann train`.
    #[arg(long, value_name = "DIR")]
    pub model: Option<PathBuf>,
    /// Baseline: zero, mean (per coordinate and step), first (the first step), or a .npy of
    /// shape [d], [n, d] or [T, n, d].
    #[arg(long, default_value = "zero", value_name = "zero|mean|first|B.npy")]
    pub baseline: String,
    /// Path integral by autodiff, or the closed form of an analytic indicator.
    #[arg(long, value_enum, default_value_t = Method::Path)]
    pub method: Method,
    /// Quadrature rule of the path integral.
    #[arg(long, value_enum, default_value_t = RuleArg::Midpoint)]
    pub rule: RuleArg,
    /// Number of quadrature points m.
    #[arg(long, default_value_t = 32, value_name = "M")]
    pub steps: usize,
    /// Compute backend.
    #[arg(long, default_value = "flex", value_name = "flex|ndarray|wgpu")]
    pub backend: String,
    /// Precision of the computation and of PHI.npy.
    #[arg(long, default_value = "f32", value_name = "f32|f64")]
    pub precision: String,
    /// Worker threads for the CPU backends and kernels (default: all cores).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Output: φ as .npy, shape [n] or [T, n].
    #[arg(long, value_name = "PHI.npy")]
    pub out: PathBuf,
    /// Also write a JSON summary (sizes, options, per-step V(x), V(b), efficiency gap, timings).
    #[arg(long, value_name = "SUMMARY.json")]
    pub summary: Option<PathBuf>,
    /// Write within-step shares φ / Σφ instead of φ.
    #[arg(long)]
    pub normalize: bool,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

/// `aumann demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Number of agents.
    #[arg(long, default_value_t = 1_000_000)]
    pub agents: usize,
    /// Number of quadrature points m.
    #[arg(long, default_value_t = 32, value_name = "M")]
    pub steps: usize,
    /// Compute backend.
    #[arg(long, default_value = "flex", value_name = "flex|ndarray|wgpu")]
    pub backend: String,
    /// Precision of the path integral.
    #[arg(long, default_value = "f32", value_name = "f32|f64")]
    pub precision: String,
    /// Seed of the synthetic population.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Worker threads (default: all cores).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

/// Attribution method.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Method {
    /// Numerical path integral with autodiff (any indicator).
    Path,
    /// Closed form (linear, mult, variance, gini).
    Exact,
}

/// Quadrature rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum RuleArg {
    /// Midpoint rule.
    Midpoint,
    /// Trapezoid rule.
    Trapezoid,
    /// Gauss–Legendre.
    Gauss,
}
