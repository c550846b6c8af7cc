//! `aumann train`: fit a DeepSet value network and write its model folder.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use aumann::backend::Backend;
use aumann::indicators::Analytic;
use aumann::indicators::deepset::{Activation, DeepSetConfig};
use aumann::train::{Target, TrainConfig};
use clap::Args;

use crate::common::{RunFlags, choice, inputs};
use crate::progress::Bar;
use aumann::output::Staged;

/// `--target` or `--target-indicator`: what the network learns (one of them).
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct TargetFlags {
    /// Targets: a float .npy of shape [R], one macro value per population.
    #[arg(long = "target", value_name = "Y.npy")]
    pub values: Option<PathBuf>,
    /// Or learn an analytic indicator, evaluated exactly; this allows --path-copies.
    #[arg(long = "target-indicator", value_name = "NAME", value_parser = choice::<Analytic>())]
    pub indicator: Option<Analytic>,
}

/// `aumann train`.
#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Populations: a float .npy of shape [R, n, d] (R runs or steps, n agents each).
    #[arg(long, value_name = "X.npy")]
    pub features: PathBuf,
    #[command(flatten)]
    pub target: TargetFlags,
    /// Output model folder (config.json, model.bpk, card.md), e.g. models/NAME.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Width of the hidden layers.
    #[arg(long, default_value_t = 32)]
    pub hidden: usize,
    /// Linear layers in ψ and in ρ.
    #[arg(long, default_value_t = 2)]
    pub depth: usize,
    /// Activation (ReLU is not offered: its kinks break the path integral's convergence).
    #[arg(long, default_value = "tanh", value_parser = choice::<Activation>())]
    pub activation: Activation,
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
    #[arg(long, default_value = "flex", value_parser = choice::<Backend>())]
    pub backend: Backend,
    #[command(flatten)]
    pub run: RunFlags,
}

impl From<&TrainArgs> for TrainConfig {
    fn from(args: &TrainArgs) -> Self {
        TrainConfig::new()
            .with_epochs(args.epochs)
            .with_lr(args.lr)
            .with_batch(args.batch)
            .with_seed(args.seed)
            .with_val_fraction(args.val_fraction)
            .with_patience(args.patience)
            .with_path_copies(args.path_copies)
    }
}

/// Run `aumann train`.
pub fn run(args: TrainArgs) -> Result<ExitCode> {
    args.run.apply()?;
    let x = aumann::train::read_populations(&args.features)?;
    let target = match (&args.target.values, args.target.indicator) {
        (Some(path), _) => Target::Values(aumann::train::read_targets(path, x.steps())?),
        (None, Some(kind)) => Target::Indicator(kind),
        (None, None) => anyhow::bail!("give --target Y.npy or --target-indicator NAME"),
    };
    let config = TrainConfig::from(&args);
    let network = DeepSetConfig::new(x.dims())
        .with_hidden(args.hidden)
        .with_depth(args.depth)
        .with_activation(args.activation);
    let staged = Staged::folder(
        &args.out,
        "config.json",
        &inputs([Some(args.features.as_path()), args.target.values.as_deref()]),
    )?;
    let device = args.backend.device()?;
    let mut bar = Bar::new("train", !args.run.quiet);
    let (model, report) =
        aumann::train::train(&x, &target, &network, &config, &device, &mut |e| {
            bar.set_message(&format!("loss {:.3e} val {:.3e}", e.train_loss, e.val_loss));
            bar.update(e.epoch, e.of);
        })?;
    bar.finish();
    let command: Vec<String> = std::iter::once("aumann".to_string())
        .chain(std::env::args().skip(1))
        .collect();
    let label = target.describe(args.target.values.as_deref());
    let card = aumann::train::card(&report, &label, &network, &config, &command.join(" "));
    aumann::model::save(staged.path(), &model, &network, &card)?;
    std::fs::write(
        staged.path().join("training.json"),
        serde_json::to_string_pretty(&config)? + "\n",
    )
    .with_context(|| format!("writing {}", args.out.display()))?;
    staged.commit()?;
    println!(
        "{}: validation R² {:.4} on held-out populations{}, {} epochs (best {}), {:.1} s",
        args.out.display(),
        report.val_r2,
        report
            .val_r2_path
            .map(|r| format!(", {r:.4} on held-out path points"))
            .unwrap_or_default(),
        report.epochs_run,
        report.best_epoch,
        report.seconds
    );
    Ok(ExitCode::SUCCESS)
}
