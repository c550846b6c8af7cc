//! Training a DeepSet to regress a macro series from populations.
//!
//! ```text
//! data     X[R, n, d]: R populations (runs or steps) of n agents;  y[R] their macro values
//! loss     mean over a batch of (V_θ(X_r) − ŷ_r)²,  ŷ = (y − μ)/σ standardised on the training set
//! optimum  Adam; the epoch with the lowest validation loss is kept (early stopping)
//! output   V(X) = μ + σ V_θ(X): the standardisation is folded into ρ's last layer
//! ```
//!
//! The path integral evaluates `V` all along the fade-in path `b + α (x − b)`, not only at
//! observed populations. When the target is an analytic indicator, `path_copies = K` adds, for
//! every population, `K` copies scaled by `α ~ U(0, 1)` (points of the zero-baseline path)
//! with their exact targets, so the network is fitted where it will be differentiated.
//! Validation reports R² on held-out populations and on held-out path points separately.
//!
//! Deterministic for a seed on the CPU backends: weights come from the device's seeded
//! generator, the split, the shuffles and the path points from a seeded stream.

use std::path::Path;

use burn::config::Config;
use burn::module::{Module, Param};
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::{DType, Device, Tensor};
use rand::rngs::Xoshiro256PlusPlus;
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};

use aumann_engine::array::{Array3, Values};
use aumann_engine::error::{Error, Result};
use aumann_engine::indicators::Analytic;
use aumann_engine::indicators::deepset::{DeepSet, DeepSetConfig};

/// What the network learns.
#[derive(Clone, Debug, PartialEq)]
pub enum Target {
    /// Given macro values, one per population.
    Values(Vec<f64>),
    /// An analytic indicator, evaluated exactly on every population (and path point).
    Indicator(Analytic),
}

/// Options of a training run.
#[derive(Config, Debug)]
pub struct TrainConfig {
    /// Passes over the training set (at most).
    #[config(default = 300)]
    pub epochs: usize,
    /// Adam's learning rate.
    #[config(default = 3e-3)]
    pub lr: f64,
    /// Populations per batch.
    #[config(default = 32)]
    pub batch: usize,
    /// Seed of the initialisation, split, shuffles and path points.
    #[config(default = 7)]
    pub seed: u64,
    /// Fraction of the populations held out for validation.
    #[config(default = 0.2)]
    pub val_fraction: f64,
    /// Stop after this many epochs without a better validation loss.
    #[config(default = 30)]
    pub patience: usize,
    /// Scaled copies `α x` (zero-baseline path points) per population; needs an indicator target.
    #[config(default = 0)]
    pub path_copies: usize,
}

/// One finished epoch, for progress reports.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Epoch {
    /// 1-based epoch number.
    pub epoch: usize,
    /// The most epochs the run may take.
    pub of: usize,
    /// Mean training loss (standardised units).
    pub train_loss: f64,
    /// Validation loss (standardised units).
    pub val_loss: f64,
}

/// What a training run achieved.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainReport {
    /// Populations, agents, features of the data.
    pub shape: [usize; 3],
    /// Training / validation populations (before path copies).
    pub split: (usize, usize),
    /// Training / validation examples including path copies.
    pub examples: (usize, usize),
    /// Epochs run and the epoch kept.
    pub epochs_run: usize,
    /// The epoch whose weights were kept.
    pub best_epoch: usize,
    /// R² on the training examples.
    pub train_r2: f64,
    /// R² on the held-out populations.
    pub val_r2: f64,
    /// R² on the held-out path points (`None` without path copies).
    pub val_r2_path: Option<f64>,
    /// Every epoch's losses.
    pub history: Vec<Epoch>,
    /// Seconds of training.
    pub seconds: f64,
}

/// Examples: populations with their targets.
struct Examples {
    x: Array3,
    y: Vec<f64>,
}

impl Examples {
    /// The populations `idx` of `x` with their targets.
    fn select(x: &Array3, y: &[f64], idx: &[usize]) -> Self {
        Self {
            x: x.select_steps(idx),
            y: idx.iter().map(|&i| y[i]).collect(),
        }
    }
}

/// Train a DeepSet of shape `network` on `x` (`[R, n, d]`, `d` the network's features) for
/// `target` on `device` (a CPU device gives reproducible runs).
///
/// # Errors
/// Targets with a NaN or a length other than `R`, fewer than two populations, a network that
/// cannot be built or reads another feature count, or path copies without an indicator
/// target: all refused before training starts. A failed read-back.
pub fn train(
    x: &Array3,
    target: &Target,
    network: &DeepSetConfig,
    config: &TrainConfig,
    device: &Device,
    progress: &mut dyn FnMut(Epoch),
) -> Result<(DeepSet, TrainReport)> {
    let start = std::time::Instant::now();
    let y = targets(x, target, config)?;
    check(network, config, x)?;
    // One stream, in a fixed order: the split, the path points, then the epochs' shuffles.
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(config.seed);
    let data = Split::new(x, &y, target, config, &mut rng)?;
    let scale = Scale::of(&data.train.y);
    let fitted = fit(&data, &scale, network, config, device, &mut rng, progress)?;
    let model = unstandardise(fitted.model.fork(device).no_grad(), scale.mean, scale.std);
    let r2 = |ex: &Examples| Ok(r_squared(&predict(&model, &ex.x, device)?, &ex.y));
    let report = TrainReport {
        shape: x.shape(),
        split: data.populations,
        examples: (data.train.y.len(), data.val_all.y.len()),
        epochs_run: fitted.history.len(),
        best_epoch: fitted.best_epoch,
        train_r2: r2(&data.train)?,
        val_r2: r2(&data.val)?,
        val_r2_path: data.val_path.as_ref().map(r2).transpose()?,
        history: fitted.history,
        seconds: start.elapsed().as_secs_f64(),
    };
    Ok((model, report))
}

/// The targets of every population: given values (checked), or the indicator evaluated.
fn targets(x: &Array3, target: &Target, config: &TrainConfig) -> Result<Vec<f64>> {
    let r = x.steps();
    let y = match target {
        Target::Indicator(kind) => {
            return (0..r).map(|t| indicator_value(*kind, x, t)).collect();
        }
        Target::Values(y) => y,
    };
    if y.len() != r {
        return Err(Error::Shape {
            what: "training targets".into(),
            expected: format!("[{r}], one per population of the features"),
            got: vec![y.len()],
        });
    }
    if let Some(i) = y.iter().position(|v| !v.is_finite()) {
        return Err(Error::NonFinite {
            what: "training targets".into(),
            step: i,
            agent: 0,
            coordinate: 0,
            value: y[i],
        });
    }
    if config.path_copies > 0 {
        return Err(Error::Parameter {
            name: "path_copies",
            value: config.path_copies.to_string(),
            reason: "path copies need targets at path points: learn an indicator instead of \
                     target values"
                .into(),
        });
    }
    Ok(y.clone())
}

/// Refuse a network or options that cannot train on the populations `x`.
fn check(network: &DeepSetConfig, config: &TrainConfig, x: &Array3) -> Result<()> {
    let r = x.steps();
    let bad = |name, value: String, reason: &str| {
        Err(Error::Parameter {
            name,
            value,
            reason: reason.into(),
        })
    };
    if r < 2 {
        let reason = "training needs at least 2 populations (one to validate on)";
        return bad("populations", r.to_string(), reason);
    }
    network.check()?;
    if network.features != x.dims() {
        let reason = format!("the populations have {} features", x.dims());
        return bad("features", network.features.to_string(), &reason);
    }
    if config.batch == 0 {
        return bad("batch", "0".into(), "at least one population per batch");
    }
    if config.epochs == 0 {
        return bad("epochs", "0".into(), "at least one epoch");
    }
    if !(0.0..1.0).contains(&config.val_fraction) {
        let reason = "the validation fraction must lie in [0, 1)";
        return bad("val_fraction", config.val_fraction.to_string(), reason);
    }
    Ok(())
}

/// The training and validation examples.
struct Split {
    /// Training / validation populations (before path copies).
    populations: (usize, usize),
    /// Training populations and their path copies.
    train: Examples,
    /// Held-out populations.
    val: Examples,
    /// Held-out path points (with an indicator target and path copies).
    val_path: Option<Examples>,
    /// Validation for early stopping: the held-out populations and their path points.
    val_all: Examples,
}

impl Split {
    fn new(
        x: &Array3,
        y: &[f64],
        target: &Target,
        config: &TrainConfig,
        rng: &mut Xoshiro256PlusPlus,
    ) -> Result<Self> {
        let r = x.steps();
        let mut order: Vec<usize> = (0..r).collect();
        order.shuffle(rng);
        let n_val = ((r as f64 * config.val_fraction).round() as usize).clamp(1, r - 1);
        let (val_idx, train_idx) = order.split_at(n_val);
        let val = Examples::select(x, y, val_idx);
        let val_path = path_copies(x, val_idx, target, config, rng)?;
        let mut train = Examples::select(x, y, train_idx);
        if let Some(extra) = path_copies(x, train_idx, target, config, rng)? {
            train = concat(&train, &extra);
        }
        let val_all = match &val_path {
            Some(p) => concat(&val, p),
            None => Examples::select(x, y, val_idx),
        };
        Ok(Self {
            populations: (train_idx.len(), val_idx.len()),
            train,
            val,
            val_path,
            val_all,
        })
    }
}

/// `path_copies` copies `α x` (α ~ U(0, 1)) of the populations `idx`, with exact targets.
fn path_copies(
    x: &Array3,
    idx: &[usize],
    target: &Target,
    config: &TrainConfig,
    rng: &mut Xoshiro256PlusPlus,
) -> Result<Option<Examples>> {
    let Target::Indicator(kind) = target else {
        return Ok(None);
    };
    if config.path_copies == 0 {
        return Ok(None);
    }
    let [_, n, d] = x.shape();
    aumann_engine::limits::allocation(
        "the path copies",
        &[idx.len(), config.path_copies, n, d],
        8,
    )?;
    let rows: Vec<usize> = idx
        .iter()
        .flat_map(|&i| std::iter::repeat_n(i, config.path_copies))
        .collect();
    let alphas: Vec<f64> = rows.iter().map(|_| rng.random::<f64>()).collect();
    let scaled = scale_steps(&x.select_steps(&rows), &alphas);
    let y = (0..rows.len())
        .map(|t| indicator_value(*kind, &scaled, t))
        .collect::<Result<_>>()?;
    Ok(Some(Examples { x: scaled, y }))
}

/// Targets standardised on the training set: `ŷ = (y − mean) / std`.
struct Scale {
    mean: f64,
    std: f64,
}

impl Scale {
    fn of(y: &[f64]) -> Self {
        let mean = y.iter().sum::<f64>() / y.len() as f64;
        let var = y.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / y.len() as f64;
        Self {
            mean,
            std: var.sqrt().max(1e-12),
        }
    }

    fn apply(&self, y: &[f64]) -> Vec<f64> {
        y.iter().map(|v| (v - self.mean) / self.std).collect()
    }
}

/// What the epochs produced: the best weights (standardised units), its epoch, the history.
struct Fitted {
    model: DeepSet,
    best_epoch: usize,
    history: Vec<Epoch>,
}

/// Adam over shuffled batches, keeping the epoch with the lowest validation loss.
fn fit(
    data: &Split,
    scale: &Scale,
    net_config: &DeepSetConfig,
    config: &TrainConfig,
    device: &Device,
    rng: &mut Xoshiro256PlusPlus,
    progress: &mut dyn FnMut(Epoch),
) -> Result<Fitted> {
    let ad = device.clone().autodiff();
    ad.seed(config.seed);
    let mut model = net_config.init(&ad);
    let mut optimizer = AdamConfig::new().init();
    let mut best = (f64::INFINITY, 0usize, model.clone());
    let mut history = Vec::new();
    let (train_y, val_y) = (scale.apply(&data.train.y), scale.apply(&data.val_all.y));
    let n_train = train_y.len();
    let mut idx: Vec<usize> = (0..n_train).collect();
    for epoch in 1..=config.epochs {
        idx.shuffle(rng);
        let mut loss_sum = 0.0;
        for batch in idx.chunks(config.batch) {
            let xb = data.train.x.upload_rows(batch, &ad, DType::F32);
            let yb = Tensor::<1>::from_data(
                burn::tensor::TensorData::new(
                    batch.iter().map(|&i| train_y[i]).collect::<Vec<_>>(),
                    [batch.len()],
                ),
                (&ad, DType::F32),
            );
            let loss = (model.value(xb) - yb).powi_scalar(2).mean();
            loss_sum += loss.clone().into_scalar::<f64>() * batch.len() as f64;
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optimizer.step(config.lr, model, grads);
        }
        let val_loss = mse(&predict(&model, &data.val_all.x, device)?, &val_y);
        let e = Epoch {
            epoch,
            of: config.epochs,
            train_loss: loss_sum / n_train as f64,
            val_loss,
        };
        history.push(e);
        progress(e);
        if val_loss < best.0 {
            best = (val_loss, epoch, model.clone());
        } else if epoch - best.1 >= config.patience {
            break;
        }
    }
    Ok(Fitted {
        model: best.2,
        best_epoch: best.1,
        history,
    })
}

/// `V` of step `t` of `x` for an analytic indicator.
fn indicator_value(kind: Analytic, x: &Array3, t: usize) -> Result<f64> {
    let d = x.dims();
    let v = match x.step(t) {
        aumann_engine::array::StepSlice::F32(s) => aumann_kernels::closed_form::value(kind, s, d),
        aumann_engine::array::StepSlice::F64(s) => aumann_kernels::closed_form::value(kind, s, d),
    };
    v.map_err(|e| Error::Domain {
        indicator: kind.name().into(),
        step: t,
        reason: format!("training target: {e}"),
    })
}

/// Step `t` multiplied by `alphas[t]`.
fn scale_steps(x: &Array3, alphas: &[f64]) -> Array3 {
    let [r, n, d] = x.shape();
    let len = n * d;
    let values: Vec<f32> = (0..r)
        .flat_map(|t| {
            let a = alphas[t];
            x.step_f64(t).into_iter().map(move |v| (a * v) as f32)
        })
        .collect();
    debug_assert_eq!(values.len(), r * len);
    Array3::from_f32([r, n, d], values)
}

fn concat(a: &Examples, b: &Examples) -> Examples {
    let [ra, n, d] = a.x.shape();
    let rb = b.x.steps();
    let f32s = |x: &Array3| -> Vec<f32> {
        match x.values() {
            Values::F32(v) => v.clone(),
            Values::F64(v) => v.iter().map(|&x| x as f32).collect(),
        }
    };
    let mut v = f32s(&a.x);
    v.extend(f32s(&b.x));
    Examples {
        x: Array3::from_f32([ra + rb, n, d], v),
        y: a.y.iter().chain(&b.y).copied().collect(),
    }
}

/// The model's predictions for every population of `x`, on the plain `device`, in batches.
///
/// # Errors
/// [`Error::Readback`] if the predictions cannot be read back.
pub fn predict(model: &DeepSet, x: &Array3, device: &Device) -> Result<Vec<f64>> {
    let plain = device.clone().inner();
    let model = model.clone().fork(&plain).no_grad();
    let rows: Vec<usize> = (0..x.steps()).collect();
    let mut out = Vec::with_capacity(rows.len());
    for chunk in rows.chunks(256) {
        let v = model.value(x.upload_rows(chunk, &plain, model.dtype()));
        out.extend(aumann_engine::array::download(v, "predictions")?);
    }
    Ok(out)
}

fn mse(pred: &[f64], y: &[f64]) -> f64 {
    pred.iter()
        .zip(y)
        .map(|(p, y)| (p - y).powi(2))
        .sum::<f64>()
        / y.len() as f64
}

/// Coefficient of determination `1 − Σ(ŷ − y)² / Σ(y − ȳ)²`.
pub fn r_squared(pred: &[f64], y: &[f64]) -> f64 {
    let mean = y.iter().sum::<f64>() / y.len() as f64;
    let ss_tot: f64 = y.iter().map(|v| (v - mean).powi(2)).sum();
    let ss_res: f64 = pred.iter().zip(y).map(|(p, v)| (p - v).powi(2)).sum();
    1.0 - ss_res / ss_tot
}

/// Fold `V = μ + σ V_θ` into ρ's last layer.
fn unstandardise(mut model: DeepSet, mean: f64, std: f64) -> DeepSet {
    let last = model.rho.last_mut().expect("ρ has a layer");
    let w = last.weight.val().mul_scalar(std);
    last.weight = Param::from_tensor(w);
    if let Some(b) = last.bias.take() {
        last.bias = Some(Param::from_tensor(b.val().mul_scalar(std).add_scalar(mean)));
    }
    model
}

/// Read training populations: a float `.npy` of shape `[R, n, d]`, finite, no empty axis.
///
/// # Errors
/// Any [`aumann_engine::npy::read`] error, [`Error::Shape`], [`Error::NonFinite`].
pub fn read_populations(path: &Path) -> Result<Array3> {
    let arr = aumann_engine::npy::read(path)?;
    let x = match *arr.shape.as_slice() {
        [r, n, d] if r > 0 && n > 0 && d > 0 => Array3::new([r, n, d], arr.values),
        _ => {
            return Err(Error::Shape {
                what: path.display().to_string(),
                expected: "[R, n, d]: R populations of n agents with d features".into(),
                got: arr.shape,
            });
        }
    };
    x.check_finite(&path.display().to_string())?;
    Ok(x)
}

/// Read training targets: a float `.npy` of shape `[populations]`, every value finite.
///
/// # Errors
/// Any [`aumann_engine::npy::read`] error, [`Error::Shape`] for another length, [`Error::NonFinite`]
/// naming the population.
pub fn read_targets(path: &Path, populations: usize) -> Result<Vec<f64>> {
    let y = aumann_engine::npy::read(path)?;
    let values: Vec<f64> = match y.values {
        Values::F32(v) => v.into_iter().map(f64::from).collect(),
        Values::F64(v) => v,
    };
    if y.shape.len() != 1 || values.len() != populations {
        return Err(Error::Shape {
            what: format!("targets {}", path.display()),
            expected: format!("[{populations}], one value per population"),
            got: y.shape,
        });
    }
    if let Some(i) = values.iter().position(|v| !v.is_finite()) {
        return Err(Error::Parameter {
            name: "targets",
            value: path.display().to_string(),
            reason: format!("{} at population {i}; targets must be finite", values[i]),
        });
    }
    Ok(values)
}

impl Target {
    /// What the network learns, for the model card; `source` names the targets' file.
    pub fn describe(&self, source: Option<&Path>) -> String {
        match (self, source) {
            (Target::Values(_), Some(path)) => format!("values from {}", path.display()),
            (Target::Values(_), None) => "given values".into(),
            (Target::Indicator(kind), _) => {
                format!("the `{}` indicator, evaluated exactly", kind.name())
            }
        }
    }
}

/// The model card: what the network was trained on, how well it fits, and how it was made.
pub fn card(
    report: &TrainReport,
    target: &str,
    network: &DeepSetConfig,
    config: &TrainConfig,
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
        depth = network.depth,
        hidden = network.hidden,
        act = network.activation.name(),
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
