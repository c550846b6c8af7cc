//! Model folders: a trained DeepSet on disk.
//!
//! ```text
//! models/NAME/
//!   config.json   the network's shape (DeepSetConfig) and the training run's parameters
//!   model.bpk     the weights, a burn record (burnpack)
//!   card.md       what it was trained on, how well it fits, and the command that made it
//! ```

use std::path::{Path, PathBuf};

use burn::config::Config;
use burn::module::Module;
use burn::tensor::Device;

use crate::error::{Error, Result};
use crate::indicators::deepset::{DeepSet, DeepSetConfig};

/// The network's shape file in a model folder.
pub const CONFIG_FILE: &str = "config.json";
/// The weights file in a model folder.
pub const WEIGHTS_FILE: &str = "model.bpk";
/// The model card in a model folder.
pub const CARD_FILE: &str = "card.md";

/// Write `model` (of shape `config`) and its `card` into the folder `dir`, creating it.
///
/// # Errors
/// [`Error::Io`] if the folder or a file cannot be written.
pub fn save(dir: &Path, model: &DeepSet, config: &DeepSetConfig, card: &str) -> Result<()> {
    let io = |path: PathBuf| move |source| Error::Io { path, source };
    std::fs::create_dir_all(dir).map_err(io(dir.to_path_buf()))?;
    config
        .save(dir.join(CONFIG_FILE))
        .map_err(io(dir.join(CONFIG_FILE)))?;
    model
        .clone()
        .save_file(dir.join(WEIGHTS_FILE))
        .map_err(|e| Error::Io {
            path: dir.join(WEIGHTS_FILE),
            source: std::io::Error::other(format!("{e:?}")),
        })?;
    std::fs::write(dir.join(CARD_FILE), card).map_err(io(dir.join(CARD_FILE)))
}

/// Load the DeepSet in the folder `dir` onto `device`, checking it takes `features` features
/// per agent (if given).
///
/// # Errors
/// [`Error::Model`] naming the file and what was expected: a missing folder or file, a
/// config that does not parse, weights that do not fit the config, or another feature
/// dimension.
pub fn load(
    dir: &Path,
    device: &Device,
    features: Option<usize>,
) -> Result<(DeepSet, DeepSetConfig)> {
    let model_err = |path: PathBuf, reason: String| Error::Model { path, reason };
    if !dir.is_dir() {
        return Err(model_err(
            dir.to_path_buf(),
            format!(
                "no such model folder; expected one holding {CONFIG_FILE} and {WEIGHTS_FILE} (made by `aumann train`)"
            ),
        ));
    }
    let config_path = dir.join(CONFIG_FILE);
    if !config_path.is_file() {
        return Err(model_err(
            config_path,
            "missing: the model folder has no network shape".into(),
        ));
    }
    let config = DeepSetConfig::load(&config_path).map_err(|e| {
        model_err(
            config_path.clone(),
            format!(
                "not a DeepSet config ({e}); expected JSON with features, hidden, depth, activation"
            ),
        )
    })?;
    if let Some(d) = features
        && config.features != d
    {
        return Err(model_err(
            config_path,
            format!(
                "the model takes d = {} features per agent, the input has d = {d}",
                config.features
            ),
        ));
    }
    if config.depth == 0 || config.hidden == 0 {
        return Err(model_err(
            config_path,
            "depth and hidden must be at least 1".into(),
        ));
    }
    let weights = dir.join(WEIGHTS_FILE);
    if !weights.is_file() {
        return Err(model_err(
            weights,
            "missing: the model folder has no weights".into(),
        ));
    }
    let model = config.init(device).try_load_file(&weights).map_err(|e| {
        model_err(
            weights.clone(),
            format!(
                "weights do not load into a DeepSet of d = {}, hidden = {}, depth = {} ({e:?})",
                config.features, config.hidden, config.depth
            ),
        )
    })?;
    Ok((model, config))
}

/// The model card: what the network was trained on, how well it fits, and how it was made.
pub fn card(
    report: &crate::train::TrainReport,
    target: &str,
    config: &crate::train::TrainConfig,
    command: &str,
) -> String {
    let [r, n, d] = report.shape;
    let path_r2 = match report.val_r2_path {
        Some(v) => format!("{v:.6}"),
        None => "not measured (no path copies)".into(),
    };
    format!(
        "# DeepSet value network\n\n\
         `V(X) = ρ((1/n) Σ_i ψ(x_i))`, {depth} linear layers in ψ and in ρ, width {hidden}, \
         {act} activation (aumann {version}).\n\n\
         ## Data\n\n\
         - {r} populations of {n} agents with d = {d} features each\n\
         - target: {target}\n\
         - split: {tr} populations for training, {va} held out for validation (seed {seed})\n\
         - path points: {copies} scaled copies α·x per population, α ~ U(0, 1) (points of the \
           zero-baseline path, where attribution evaluates the network){copies_note}\n\
         - examples: {ex_tr} training, {ex_va} validation\n\n\
         ## Fit\n\n\
         | metric | value |\n|---|---:|\n\
         | R², training examples | {train_r2:.6} |\n\
         | R², held-out populations (path endpoints) | {val_r2:.6} |\n\
         | R², held-out path points | {path_r2} |\n\
         | epochs run (kept) | {epochs} ({best}) |\n\
         | training time | {secs:.1} s |\n\n\
         Adam, learning rate {lr}, batch {batch}, early stopping after {patience} epochs \
         without a better validation loss; targets standardised for training, the scaling \
         folded into ρ's last layer.\n\n\
         ## Made by\n\n\
         ```sh\n{command}\n```\n",
        depth = config.depth,
        hidden = config.hidden,
        act = config.activation.name(),
        version = env!("CARGO_PKG_VERSION"),
        tr = report.split.0,
        va = report.split.1,
        seed = config.seed,
        copies = config.path_copies,
        copies_note = if config.path_copies == 0 {
            " (none used)"
        } else {
            ""
        },
        ex_tr = report.examples.0,
        ex_va = report.examples.1,
        train_r2 = report.train_r2,
        val_r2 = report.val_r2,
        epochs = report.epochs_run,
        best = report.best_epoch,
        secs = report.seconds,
        lr = config.lr,
        batch = config.batch,
        patience = config.patience,
    )
}
