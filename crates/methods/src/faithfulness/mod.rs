//! Faithfulness of attributions on a simulated society: does removing the agents a method
//! ranks first remove the risk, and does the ranking agree with sampled Shapley? (SPEC §8,
//! the paper's Appendix P.)
//!
//! ```text
//! t*          = argmax_{t ≥ ⌊T/2⌋} V_t(x_t)                 (latest among ties)
//! x_k         = x_{t*} with the top-k agents by signed φ at their baseline action
//! drop_k      = V(x) − V(x_k),   relative: drop_k / (V(x) − V(b))
//! AUC         = (1/K) Σ_{k=1..K} drop_k
//! by |φ|      = the same with the top-k agents by |φ| (the paper's ranking: an agent that
//!               lowers the risk most is deleted as early as one that raises it most)
//! dynamic     = the same with V^H (the rollout risk H smoothed steps after t*)
//! re-simulated = mean over replicates r of V_{t*+H}(x^r) − V_{t*+H}(x^r_k): the society
//!               simulated again from t* (each replicate's own draws, shared step by step
//!               between the runs compared), the top-k agents by signed φ held at their
//!               baseline action from t* on, the static risk read H steps later;
//!               relative to mean_r V_{t*+H}(x^r), the risk with nobody held (the share of
//!               the future risk the deleted agents carried)
//! agreement   = Kendall τ_b with sampled Shapley over its top 10 and over all agents,
//!               |T₁₀(φ) ∩ T₁₀(φ^Sh)| / 10
//! ```
//!
//! Every coalition a method or a curve scores is a row of the indicator's own tensor program
//! ([`crate::coalition::TensorGame`]); the path integral is [`aumann_engine::path::attribute`].
//! Sampled methods and the random ranking run once per seed; a sampled Shapley run whose
//! time, extrapolated from its first batch of permutations, exceeds the budget is reported
//! infeasible instead of run.

use std::time::Instant;

use burn::tensor::Device;
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};

use crate::coalition::{self, Estimate, Game, TensorGame};
use crate::scenario::{Horizon, Loaded};
use aumann_engine::array::Array3;
use aumann_engine::baseline::Baseline;
use aumann_engine::error::{Error, Result};
use aumann_engine::indicators::Indicator;
use aumann_engine::path::{self, PathOptions, Rule};
use aumann_engine::progress::Progress;

pub mod report;
pub mod robustness;

/// A way to rank agents.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FaithMethod {
    /// Aumann–Shapley by the path integral.
    AsPath,
    /// Sampled Shapley (`K` permutations).
    ShapleySampled,
    /// Leave-one-out.
    Loo,
    /// Sampled Banzhaf (`K` coalitions).
    BanzhafSampled,
    /// Exact Shapley (`n ≤ 20`).
    ShapleyExact,
    /// A uniformly random ranking.
    Random,
}

impl FaithMethod {
    /// Every method.
    pub const ALL: [FaithMethod; 6] = [
        FaithMethod::AsPath,
        FaithMethod::ShapleySampled,
        FaithMethod::Loo,
        FaithMethod::BanzhafSampled,
        FaithMethod::ShapleyExact,
        FaithMethod::Random,
    ];

    /// Stable name.
    pub fn name(self) -> &'static str {
        match self {
            FaithMethod::AsPath => "as-path",
            FaithMethod::ShapleySampled => "shapley-sampled",
            FaithMethod::Loo => "loo",
            FaithMethod::BanzhafSampled => "banzhaf-sampled",
            FaithMethod::ShapleyExact => "shapley-exact",
            FaithMethod::Random => "random",
        }
    }

    /// Whether the method runs once per seed.
    pub fn is_seeded(self) -> bool {
        matches!(
            self,
            FaithMethod::ShapleySampled | FaithMethod::BanzhafSampled | FaithMethod::Random
        )
    }
}

aumann_engine::named_choice!(FaithMethod, "method");

/// Options of a faithfulness run.
#[derive(Clone, Debug)]
pub struct FaithOptions {
    /// The indicator attributed.
    pub which: Horizon,
    /// The target step `t*` within the run (`None`: the peak of V after the midpoint).
    pub step: Option<usize>,
    /// The run of a multi-run scenario.
    pub run: usize,
    /// Methods, in the order reported.
    pub methods: Vec<FaithMethod>,
    /// `K` of the sampled methods.
    pub samples: usize,
    /// Deletions `k = 1..k_max`.
    pub k_max: usize,
    /// Seeds of the sampled methods and the random ranking.
    pub seeds: usize,
    /// The first seed.
    pub seed: u64,
    /// Seconds a sampled method may take before it is reported infeasible.
    pub budget_seconds: f64,
    /// Replicates of the re-simulated deletion curve (0: not run).
    pub replicates: usize,
    /// The path integral's options (its precision is every method's).
    pub path: PathOptions,
}

impl Default for FaithOptions {
    fn default() -> Self {
        Self {
            which: Horizon::Static,
            step: None,
            run: 0,
            methods: vec![
                FaithMethod::AsPath,
                FaithMethod::ShapleySampled,
                FaithMethod::Loo,
                FaithMethod::BanzhafSampled,
                FaithMethod::Random,
            ],
            samples: 1000,
            k_max: 10,
            seeds: 3,
            seed: 7,
            budget_seconds: 120.0,
            replicates: 8,
            path: PathOptions {
                rule: Rule::GaussLegendre,
                points: 16,
                precision: aumann_engine::backend::Precision::F64,
                ..PathOptions::default()
            },
        }
    }
}

/// One method's run with one seed.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// The method.
    pub method: FaithMethod,
    /// Its seed (seeded methods).
    pub seed: Option<u64>,
    /// What it found, or why not.
    pub result: Ranked,
    /// Seconds of the attribution (the curves excluded).
    pub seconds: f64,
}

/// A method's attribution and its curves, or the time it would have needed.
#[derive(Clone, Debug)]
pub enum Ranked {
    /// The method ran.
    Done(Curves),
    /// Extrapolated seconds beyond the budget: not run.
    Infeasible(f64),
}

/// An attribution at `t*` and its deletion curves.
#[derive(Clone, Debug)]
pub struct Curves {
    /// `φ_i` at `t*`.
    pub phi: Vec<f64>,
    /// Standard errors (sampled methods).
    pub std_error: Option<Vec<f64>>,
    /// `drop_k` of the attributed indicator, `k = 1..K`.
    pub deletion: Vec<f64>,
    /// `drop_k` of the attributed indicator, deleting by `|φ|`.
    pub deletion_by_magnitude: Vec<f64>,
    /// `drop_k` of the rollout risk `H` steps after `t*`.
    pub dynamic: Vec<f64>,
    /// `drop_k` of the static risk `H` steps after `t*` in the society re-simulated with the
    /// top-k agents held at their baseline action (empty where not run).
    pub resimulated: Vec<f64>,
}

/// A faithfulness run on one scenario.
#[derive(Clone, Debug)]
pub struct Faithfulness {
    /// The scenario's name.
    pub scenario: String,
    /// The indicator attributed.
    pub which: Horizon,
    /// `t*`, within the run.
    pub step: usize,
    /// Agents.
    pub agents: usize,
    /// `V(x) − V(b)` at `t*` of the attributed indicator and of the rollout risk.
    pub change: [f64; 2],
    /// The re-simulated risk: the mean over replicates of `V_{t*+H}` with nobody held (`None`
    /// where not re-simulated).
    pub resimulated_risk: Option<f64>,
    /// Every method and seed.
    pub outcomes: Vec<Outcome>,
}

/// The parameters a faithfulness run simulates a built-in scenario with, when not given a
/// folder: its defaults, but fewer agents where sampled Shapley would not run in its budget:
/// `cascade` at 1 000 (its static risk; at the default 10 000 about half an hour here) and
/// `social` at 300 (its rollout risk, ≈ 75 s a run; at the default 1 000, ≈ 1 100 s).
pub fn built_in_overrides(scenario: &str) -> crate::scenario::Overrides {
    let agents = match scenario {
        "cascade" => Some(1_000),
        "social" => Some(300),
        _ => None,
    };
    crate::scenario::Overrides {
        agents,
        ..crate::scenario::Overrides::default()
    }
}

/// `t*`: the latest peak of `v` (one value per step) in its second half.
pub fn target_step(v: &[f64]) -> usize {
    // `max_by` keeps the last of equal maxima: the latest step.
    (v.len() / 2..v.len())
        .max_by(|&a, &b| v[a].total_cmp(&v[b]))
        .unwrap_or(0)
}

/// The agents by signed `φ`, largest first (ties by index).
pub fn ranking(phi: &[f64]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..phi.len()).collect();
    order.sort_by(|&a, &b| phi[b].total_cmp(&phi[a]).then(a.cmp(&b)));
    order
}

/// Run `options` on a loaded scenario, on `device`.
///
/// # Errors
/// A step or run out of range, `K` larger than the population, an exact method on more than
/// 20 agents, no methods, and whatever attributing or scoring reports.
pub fn run(
    loaded: &Loaded,
    options: &FaithOptions,
    device: &Device,
    progress: &mut (dyn FnMut(&str, Progress) + Send),
) -> Result<Faithfulness> {
    let sim = &loaded.simulation;
    let scenario = loaded.scenario.as_ref();
    let runs = sim.runs.max(1);
    let steps = sim.features.steps() / runs;
    check(options, sim.features.agents(), runs)?;
    let step = target_of(loaded, options, steps)?;
    let t = options.run * steps + step;
    let x = sim.features.select_steps(&[t]);
    let b = Baseline::from_array(sim.baseline.select_steps(&[t]));
    let attributed = scenario.indicator(sim, options.which, t)?;
    let rollout = scenario.indicator(sim, Horizon::Rollout, t)?;
    let precision = options.path.precision;
    let block = options.path.block_elements;
    let game = TensorGame::new(attributed.as_ref(), &x, &b, device, precision, block)?;
    let ahead = TensorGame::new(rollout.as_ref(), &x, &b, device, precision, block)?;
    let target = Target {
        indicator: attributed.as_ref(),
        x: &x,
        b: &b,
        game: &game,
    };
    let resimulation = Resimulation::new(loaded, options, step)?;
    let curves = Deletion {
        game: &game,
        ahead: &ahead,
        resimulation: resimulation.as_ref(),
        k_max: options.k_max,
    };
    let mut outcomes = Vec::new();
    for &method in &options.methods {
        let seeds: Vec<Option<u64>> = if method.is_seeded() {
            (0..options.seeds as u64)
                .map(|s| Some(options.seed + s))
                .collect()
        } else {
            vec![None]
        };
        for seed in seeds {
            let mut report = |p: Progress| progress(method.name(), p);
            let (result, seconds) = attribute(method, seed, &target, options, device, &mut report)?;
            outcomes.push(match result {
                Some(e) => Outcome {
                    method,
                    seed,
                    result: Ranked::Done(curves.of(e)?),
                    seconds,
                },
                None => Outcome {
                    method,
                    seed,
                    result: Ranked::Infeasible(seconds),
                    seconds: 0.0,
                },
            });
        }
    }
    Ok(Faithfulness {
        scenario: scenario.name().into(),
        which: options.which,
        step,
        agents: x.agents(),
        change: [game.change()?, ahead.change()?],
        resimulated_risk: resimulation.map(|r| r.free.iter().sum::<f64>() / r.free.len() as f64),
        outcomes,
    })
}

/// `t*` within the run: the options' step, checked, or the latest peak after the midpoint.
fn target_of(loaded: &Loaded, options: &FaithOptions, steps: usize) -> Result<usize> {
    match options.step {
        Some(t) if t < steps => Ok(t),
        Some(t) => Err(Error::Parameter {
            name: "step",
            value: t.to_string(),
            reason: format!("the run has {steps} steps, numbered from 0"),
        }),
        None => Ok(target_step(&values_per_step(loaded, options, steps)?)),
    }
}

/// Refuse options that cannot run, before any work.
fn check(options: &FaithOptions, n: usize, runs: usize) -> Result<()> {
    let refuse = |name: &'static str, value: String, reason: String| {
        Err(Error::Parameter {
            name,
            value,
            reason,
        })
    };
    if options.methods.is_empty() {
        return refuse("methods", "none".into(), "name at least one method".into());
    }
    if options.k_max == 0 || options.k_max > n {
        let reason = format!("deletions k = 1..K need 1 ≤ K ≤ n = {n} agents");
        return refuse("k-max", options.k_max.to_string(), reason);
    }
    if options.run >= runs {
        let plural = if runs == 1 { "" } else { "s" };
        let reason = format!("the scenario has {runs} run{plural}, numbered from 0");
        return refuse("run", options.run.to_string(), reason);
    }
    if options.seeds == 0 {
        return refuse("seeds", "0".into(), "at least one seed".into());
    }
    aumann_engine::limits::seeds(options.seeds)?;
    let uses = |m| options.methods.contains(&m);
    if uses(FaithMethod::ShapleyExact) {
        crate::coalition::methods::check_exact(n)?;
    }
    if uses(FaithMethod::ShapleySampled) {
        crate::coalition::methods::check_samples(options.samples, false)?;
    }
    if uses(FaithMethod::BanzhafSampled) {
        crate::coalition::methods::check_banzhaf_samples(options.samples)?;
    }
    Ok(())
}

/// `V` of the attributed indicator at every step of the chosen run.
fn values_per_step(loaded: &Loaded, options: &FaithOptions, steps: usize) -> Result<Vec<f64>> {
    let rows: Vec<usize> = (options.run * steps..(options.run + 1) * steps).collect();
    crate::scenario::risk_of_rows(
        loaded.scenario.as_ref(),
        &loaded.simulation,
        options.which,
        &rows,
    )
}

/// What a method attributes.
struct Target<'a> {
    indicator: &'a dyn Indicator,
    x: &'a Array3,
    b: &'a Baseline,
    game: &'a TensorGame<'a>,
}

/// Run one method: its estimate (`None`: infeasible) and seconds (extrapolated if infeasible).
fn attribute(
    method: FaithMethod,
    seed: Option<u64>,
    target: &Target,
    options: &FaithOptions,
    device: &Device,
    progress: &mut (dyn FnMut(Progress) + Send),
) -> Result<(Option<Estimate>, f64)> {
    let start = Instant::now();
    let seed = seed.unwrap_or(options.seed);
    let k = options.samples;
    let game = target.game;
    let estimate = match method {
        FaithMethod::AsPath => {
            let a = path::attribute(
                target.indicator,
                target.x,
                target.b,
                &options.path,
                device,
                progress,
            )?;
            Estimate {
                phi: a.phi,
                std_error: None,
                evaluations: 0,
            }
        }
        FaithMethod::ShapleySampled => {
            let needed = shapley_seconds(game, k, seed)?;
            if needed > options.budget_seconds {
                return Ok((None, needed));
            }
            coalition::shapley_sampled(game, k, false, seed, progress)?
        }
        FaithMethod::Loo => coalition::leave_one_out(game)?,
        FaithMethod::BanzhafSampled => coalition::banzhaf_sampled(game, k, seed, progress)?,
        FaithMethod::ShapleyExact => coalition::shapley_exact(game)?,
        FaithMethod::Random => {
            let mut rng = Xoshiro256PlusPlus::seed_from_u64(aumann_engine::seed::mix(&[seed, 11]));
            Estimate {
                phi: (0..game.players()).map(|_| rng.random::<f64>()).collect(),
                std_error: None,
                evaluations: 0,
            }
        }
    };
    Ok((Some(estimate), start.elapsed().as_secs_f64()))
}

/// Seconds `k` permutations of sampled Shapley would take, from timing the first one's
/// coalitions (at most one batch of them).
fn shapley_seconds(game: &TensorGame, k: usize, seed: u64) -> Result<f64> {
    let n = game.players();
    let rows = (n + 1).min(game.batch().max(1));
    let order = crate::coalition::methods::permutation(n, seed, 0);
    let members = coalition::switched(n, &order[..rows - 1], false);
    let start = Instant::now();
    game.values(&members)?;
    let per_row = start.elapsed().as_secs_f64() / rows as f64;
    Ok(per_row * (k * (n + 1)) as f64)
}

/// The deletion curves of a ranking.
struct Deletion<'a> {
    game: &'a TensorGame<'a>,
    ahead: &'a TensorGame<'a>,
    resimulation: Option<&'a Resimulation<'a>>,
    k_max: usize,
}

/// The society simulated again from `t*` with agents held at their baseline action.
struct Resimulation<'a> {
    scenario: &'a dyn crate::scenario::Scenario,
    run: usize,
    from: usize,
    horizon: usize,
    agents: usize,
    /// `V_{t*+H}` of each replicate with nobody held.
    free: Vec<f64>,
}

impl<'a> Resimulation<'a> {
    /// The replicates of `options` from step `step` of `loaded`, with nobody held; `None` where
    /// no replicates are asked for or the scenario cannot re-simulate.
    fn new(loaded: &'a Loaded, options: &FaithOptions, step: usize) -> Result<Option<Self>> {
        let scenario = loaded.scenario.as_ref();
        let mut this = Self {
            scenario,
            run: options.run,
            from: step,
            horizon: scenario.horizon(),
            agents: loaded.simulation.features.agents(),
            free: Vec::new(),
        };
        for r in 0..options.replicates as u64 {
            match this.value(&[], r)? {
                Some(v) => this.free.push(v),
                None => return Ok(None),
            }
        }
        Ok((!this.free.is_empty()).then_some(this))
    }

    /// `V_{t*+H}` of replicate `replicate` with `held` held (`None`: cannot re-simulate).
    fn value(&self, held: &[usize], replicate: u64) -> Result<Option<f64>> {
        let last = self.from + self.horizon;
        let held = crate::scenario::Held::new(self.agents, self.from, held, replicate)?;
        let Some(sim) = self.scenario.resimulate(self.run, last, &held)? else {
            return Ok(None);
        };
        let v = crate::scenario::risk_of_rows(self.scenario, &sim, Horizon::Static, &[last])?;
        Ok(Some(v[0]))
    }

    /// The mean drop over replicates with `held` held.
    fn drop(&self, held: &[usize]) -> Result<f64> {
        let mut total = 0.0;
        for (r, free) in self.free.iter().enumerate() {
            let Some(v) = self.value(held, r as u64)? else {
                return Err(Error::Parameter {
                    name: "scenario",
                    value: self.scenario.name().into(),
                    reason: "stopped re-simulating".into(),
                });
            };
            total += free - v;
        }
        Ok(total / self.free.len() as f64)
    }

    /// `drop_k`, `k = 1..=k_max`, deleting in `order`.
    fn drops(&self, order: &[usize], k_max: usize) -> Result<Vec<f64>> {
        (1..=k_max).map(|k| self.drop(&order[..k])).collect()
    }
}

impl Deletion<'_> {
    /// `drop_k` for `k = 1..K` of both indicators, deleting by `e`'s signed ranking, and of
    /// the attributed one deleting by `|φ|`.
    fn of(&self, e: Estimate) -> Result<Curves> {
        let n = self.game.players();
        let drops = |game: &TensorGame, order: &[usize]| -> Result<Vec<f64>> {
            // Row k: everyone but the top k (row 0: everyone).
            let members = coalition::switched(n, &order[..self.k_max], true);
            let v = game.values(&members)?;
            Ok(v[1..].iter().map(|vk| v[0] - vk).collect())
        };
        let signed = ranking(&e.phi);
        let magnitude = ranking(&e.phi.iter().map(|p| p.abs()).collect::<Vec<_>>());
        Ok(Curves {
            deletion: drops(self.game, &signed)?,
            deletion_by_magnitude: drops(self.game, &magnitude)?,
            dynamic: drops(self.ahead, &signed)?,
            resimulated: match self.resimulation {
                Some(r) => r.drops(&signed, self.k_max)?,
                None => Vec::new(),
            },
            phi: e.phi,
            std_error: e.std_error,
        })
    }
}
