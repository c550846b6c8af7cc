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
/// config that does not parse or is too large to hold, weights that do not fit the config
/// or are not finite, or another feature dimension.
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
    config
        .check()
        .map_err(|e| model_err(config_path.clone(), e.to_string()))?;
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
    if let Some((layer, value)) = model.first_non_finite()? {
        return Err(model_err(
            weights,
            format!("weight {layer} is {value}; a model with non-finite weights gives NaN"),
        ));
    }
    Ok((model, config))
}
