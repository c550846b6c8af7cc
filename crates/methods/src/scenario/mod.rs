//! Simulated societies whose macro risk is a smooth function of the agents' state, so that the
//! path integral applies (SPEC §8).
//!
//! A [`Scenario`] simulates `n` agents over `T` steps deterministically from a seed with a
//! pluggable policy and yields features `X[T, n, d]` with named coordinates, the **baseline
//! action** `A[T, n, d]` (what "this agent does nothing" means), the context its indicators
//! read (the interaction graph as an edge list), and two smooth indicators of step t:
//!
//! ```text
//! static    V_t(x)   = R(x; C_t)                      the risk from the step's features
//! rollout   V_t^H(x) = R(F^H(x; C_t); C_t)            the risk H smoothed steps ahead
//! ```
//!
//! `F` is one step of the scenario's mean-field dynamics with every draw replaced by its
//! expectation and every threshold by a sigmoid of temperature τ; graph terms are gathers and
//! scatter-adds over the edge list ([`graph::Edges`]), `O(H |E|)` per evaluation. Both are
//! deterministic, twice-differentiable functions of x: their attributions satisfy efficiency.
//! On the CPU backends a graph scenario's gradients come from hand-written passes over the
//! grouped edge lists instead of burn's autodiff ([`host`], [`GraphKernel`]): the same
//! function, several times faster at millions of agents.
//!
//! Indicators multiply by reciprocals instead of dividing tensors by scalars: burn-autodiff
//! 0.22's backward of a scalar division rounds the scalar to f32 (a 10⁻⁸ relative error in
//! every gradient through it, which an f64 efficiency check sees), its backward of a scalar
//! product does not.
//!
//! | scenario | what | features |
//! |---|---|---|
//! | `econ` | EconAgent-like households: labour, tax, rationed consumption, prices ([`econ`]) | consumption, income, consumption rate, investment rate, labour, saving rate, wealth |
//! | `social` | bounded confidence with posting, likes, dislikes on a Barabási–Albert graph ([`social`]) | belief, posted, views, likes, dislikes |
//! | `cascade` | an influence cascade on a directed preferential-attachment follower graph ([`cascade`]) | stance, exposure, posting intensity, reshare intensity, influence weight |
//!
//! # The scenario folder
//!
//! ```text
//! DIR/scenario.json        format "aumann-scenario", version, scenario, features, agents,
//!                          steps, edges, parameters (every one, with the seed)
//! DIR/features.npy         float32 [T, n, d]
//! DIR/baseline.npy         float32 [T, n, d], the baseline action
//! DIR/context/edges.npy    int64 [E, 2], (src, dst): dst sees what src does
//! DIR/context/<name>.npy   float64 [T], per-step context (econ: price, inventory, interest)
//! DIR/macro.npy            float64 [T, 2], static and rollout V per step
//! ```
//!
//! # Adding a scenario
//!
//! Implement [`Simulated`] for a type holding its parameters (a [`ScenarioConfig`]): how they
//! simulate and what the risks of a step are; the [`Scenario`] around it comes with it. Or
//! implement [`Scenario`] itself. Give it a [`ScenarioEntry`]:
//! [`save`] writes its folders, [`load_with`] reads them back, [`attribute`] attributes its
//! indicators. Listing the entry in [`SCENARIOS`] also makes it reachable from
//! `aumann simulate` and `aumann attribute --scenario`. The README's *A scenario of your own*
//! walks through a complete one (a doctest).

/// [`Knobs`] of a configuration whose fields are named `agents`, `steps`, `seed`, `horizon`
/// and `temperature`.
macro_rules! knobs_of {
    ($config:expr) => {
        $crate::scenario::Knobs {
            agents: &mut $config.agents,
            steps: &mut $config.steps,
            seed: &mut $config.seed,
            horizon: &mut $config.horizon,
            temperature: &mut $config.temperature,
        }
    };
}

/// The [`ScenarioEntry`] of a scenario type with `new(config)` and a [`ScenarioConfig`].
macro_rules! scenario_entry {
    ($name:literal, $summary:literal, $features:expr, $scenario:ident, $config:ty) => {
        $crate::scenario::ScenarioEntry {
            name: $name,
            summary: $summary,
            features: $features,
            with: |overrides| {
                let config = <$config>::default().with(overrides)?;
                Ok(Box::new($scenario::new(config)))
            },
            from_parameters: |parameters| {
                let config = <$config>::from_parameters(parameters, $name)?;
                Ok(Box::new($scenario::new(config)))
            },
        }
    };
}

pub mod cascade;
pub mod econ;
pub mod folder;
pub mod graph;
pub mod host;
pub mod social;

pub use folder::{FORMAT, Loaded, Manifest, VERSION, load, load_with, save};

use std::sync::{Arc, Mutex, OnceLock};

use burn::tensor::{DType, Device, Tensor};
use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;
use serde::Serialize;

use self::graph::Graph;
use aumann_engine::array::Array3;
use aumann_engine::choice::Choice;
use aumann_engine::error::{Error, Result};
use aumann_engine::indicators::{Indicator, PathFn};
use aumann_engine::limits;

/// Which of a scenario's indicators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Horizon {
    /// The risk from the step's own features.
    #[default]
    Static,
    /// The risk after `H` steps of the smoothed dynamics.
    Rollout,
}

impl Horizon {
    /// Both.
    pub const ALL: [Horizon; 2] = [Horizon::Static, Horizon::Rollout];

    /// `"static"` or `"rollout"`.
    pub fn name(self) -> &'static str {
        match self {
            Horizon::Static => "static",
            Horizon::Rollout => "rollout",
        }
    }
}

aumann_engine::named_choice!(Horizon, "scenario indicator");

impl Horizon {
    /// Rollout steps for a scenario whose horizon is `horizon`: 0 for the static risk.
    pub fn steps(self, horizon: usize) -> usize {
        match self {
            Horizon::Static => 0,
            Horizon::Rollout => horizon,
        }
    }
}

/// A simulated run.
#[derive(Clone, Debug)]
pub struct Simulation {
    /// Features `[T, n, d]` (float32).
    pub features: Array3,
    /// The baseline action `[T, n, d]` (float32).
    pub baseline: Array3,
    /// The interaction graph, if the scenario has one.
    pub graph: Option<Arc<Graph>>,
    /// Per-step context series the indicators read (prices, inventories …): name and `[T]`
    /// values.
    pub context: Vec<(String, Vec<f64>)>,
    /// Independent runs `R`: the features hold `R · T` steps, run-major (1 for most
    /// scenarios).
    pub runs: usize,
}

impl Simulation {
    /// The context series `name`.
    ///
    /// # Errors
    /// [`Error::Parameter`] if the simulation has no such series.
    pub fn series(&self, name: &str) -> Result<&[f64]> {
        self.context
            .iter()
            .find(|c| c.0 == name)
            .map(|c| c.1.as_slice())
            .ok_or_else(|| Error::Parameter {
                name: "context",
                value: name.into(),
                reason: "the simulation has no such context series".into(),
            })
    }
}

/// Overrides of a scenario's defaults, as the command line gives them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Overrides {
    /// Agents `n`.
    pub agents: Option<usize>,
    /// Steps `T`.
    pub steps: Option<usize>,
    /// Independent runs `R` (for the scenarios that have several).
    pub runs: Option<usize>,
    /// Seed.
    pub seed: Option<u64>,
    /// Rollout horizon `H`.
    pub horizon: Option<usize>,
    /// Temperature τ of the smooth surrogates.
    pub temperature: Option<f64>,
}

/// The parameters of a scenario: the knobs every scenario has, and its own checks.
pub trait ScenarioConfig: Serialize + serde::de::DeserializeOwned + Sized {
    /// The knobs the command line sets.
    fn knobs(&mut self) -> Knobs<'_>;

    /// The number of independent runs, for a scenario that simulates several.
    fn runs(&mut self) -> Option<&mut usize> {
        None
    }

    /// The parameters if they can simulate.
    ///
    /// # Errors
    /// [`Error::Parameter`] naming the first that cannot.
    fn checked(self) -> Result<Self>;

    /// These parameters with `overrides` applied, checked.
    ///
    /// # Errors
    /// As [`ScenarioConfig::checked`].
    fn with(mut self, overrides: &Overrides) -> Result<Self> {
        let k = self.knobs();
        let set = |knob: &mut usize, v: Option<usize>| *knob = v.unwrap_or(*knob);
        set(k.agents, overrides.agents);
        set(k.steps, overrides.steps);
        set(k.horizon, overrides.horizon);
        *k.seed = overrides.seed.unwrap_or(*k.seed);
        *k.temperature = overrides.temperature.unwrap_or(*k.temperature);
        match (overrides.runs, self.runs()) {
            (Some(r), Some(runs)) => *runs = r,
            (Some(r), None) => return refuse("runs", r, "this scenario simulates one run"),
            (None, _) => {}
        }
        self.sized()?.checked()
    }

    /// These parameters if their sizes are within bounds: the horizon at most
    /// [`limits::MAX_HORIZON`], and the simulation's arrays (features and baseline action,
    /// at most [`BYTES_PER_AGENT_STEP`] per agent and step) within available memory.
    ///
    /// # Errors
    /// [`Error::TooLarge`] naming the value and the bound.
    fn sized(mut self) -> Result<Self> {
        let runs = self.runs().map_or(1, |r| *r);
        let k = self.knobs();
        let why = "the smoothed dynamics forget their start long before that";
        limits::at_most("rollout horizon", *k.horizon, limits::MAX_HORIZON, why)?;
        let shape = [runs, *k.steps, *k.agents];
        limits::allocation("the simulation", &shape, BYTES_PER_AGENT_STEP)?;
        Ok(self)
    }

    /// The parameters recorded in a `scenario.json`, checked.
    ///
    /// # Errors
    /// [`Error::Parameter`] if they are not this scenario's, or fail the checks.
    fn from_parameters(parameters: &serde_json::Value, scenario: &str) -> Result<Self> {
        let config: Self =
            serde_json::from_value(parameters.clone()).map_err(|e| Error::Parameter {
                name: "parameters",
                value: "scenario.json".into(),
                reason: format!("not the {scenario} scenario's parameters ({e})"),
            })?;
        config.sized()?.checked()
    }
}

/// Memory a simulation holds per agent and step, for the size check: features and baseline
/// action of up to 8 coordinates in f64.
pub const BYTES_PER_AGENT_STEP: usize = 2 * 8 * 8;

/// Mutable views of the knobs every scenario has.
pub struct Knobs<'a> {
    /// Agents `n`.
    pub agents: &'a mut usize,
    /// Steps `T`.
    pub steps: &'a mut usize,
    /// Seed.
    pub seed: &'a mut u64,
    /// Rollout horizon `H`.
    pub horizon: &'a mut usize,
    /// Temperature `τ`.
    pub temperature: &'a mut f64,
}

/// `Err(Error::Parameter)` for a parameter that cannot simulate.
pub(crate) fn refuse<T>(name: &'static str, value: impl ToString, reason: &str) -> Result<T> {
    Err(Error::Parameter {
        name,
        value: value.to_string(),
        reason: reason.into(),
    })
}

/// Refuse a parameter that is not positive and finite.
pub(crate) fn positive(name: &'static str, value: f64) -> Result<()> {
    match value.is_finite() && value > 0.0 {
        true => Ok(()),
        false => refuse(name, value, "must be positive and finite"),
    }
}

/// Refuse a step the simulation does not have.
pub(crate) fn check_step(simulation: &Simulation, step: usize) -> Result<()> {
    let steps = simulation.features.steps();
    match step < steps {
        true => Ok(()),
        false => refuse(
            "step",
            step,
            &format!("the scenario has {steps} steps, numbered from 0"),
        ),
    }
}

/// The risk `horizon` smoothed steps ahead that `risk` makes of the simulation's interaction
/// graph, which `scenario` needs.
pub(crate) fn risk_on_graph<R: OnGraph + 'static>(
    simulation: &Simulation,
    scenario: &str,
    horizon: usize,
    risk: impl FnOnce(Arc<Graph>) -> R,
) -> Result<Box<dyn Indicator>> {
    let Some(graph) = &simulation.graph else {
        let reason = format!("the {scenario} scenario needs its graph");
        return refuse("graph", "none", &reason);
    };
    let on = risk(graph.clone());
    Ok(Box::new(GraphIndicator::new(
        on,
        horizon,
        GraphKernel::default(),
    )))
}

/// A scenario's risk on a graph and its smoothed dynamics: with a horizon, made an
/// [`Indicator`] by [`GraphIndicator`], which uploads the edges once per path.
pub trait OnGraph: Send + Sync {
    /// The graph.
    fn graph(&self) -> &Graph;
    /// The static risk of every row of a state `z` (`[rows, d, n]`), the edges on its device.
    fn risk(&self, z: &Tensor<3>, edges: &graph::Edges) -> Tensor<1>;
    /// One step of the smoothed dynamics, the edges on `z`'s device.
    fn step(&self, z: Tensor<3>, edges: &graph::Edges) -> Tensor<3>;
    /// The same risk and dynamics with hand-written derivatives on the host, if the scenario
    /// has them: the CPU backends then take gradients from them instead of from autodiff.
    fn host(&self) -> Option<&dyn host::HostDynamics> {
        None
    }
}

/// The risk of an [`OnGraph`] scenario `horizon` smoothed steps ahead (0: the static risk).
pub struct GraphIndicator<R> {
    on: R,
    horizon: usize,
    kernel: GraphKernel,
    /// The graph grouped by node, built on the first host gradient.
    grouped: OnceLock<host::HostGraph>,
    /// The host gradients' memory, one workspace per row in flight.
    workspaces: Mutex<Vec<host::Workspace>>,
    /// The edges as uploaded, per device and dtype.
    uploaded: Mutex<Vec<(Device, DType, graph::Edges)>>,
}

/// How a [`GraphIndicator`] is differentiated on a CPU backend.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum GraphKernel {
    /// The scenario's host passes where it has them (the default).
    #[default]
    Host,
    /// burn's autodiff of the tensor program everywhere (the reference).
    Autodiff,
}

impl<R: OnGraph> GraphIndicator<R> {
    /// The risk of `on` after `horizon` smoothed steps, differentiated by `kernel`.
    pub fn new(on: R, horizon: usize, kernel: GraphKernel) -> Self {
        Self {
            on,
            horizon,
            kernel,
            grouped: OnceLock::new(),
            workspaces: Mutex::new(Vec::new()),
            uploaded: Mutex::new(Vec::new()),
        }
    }

    fn value(&self, mut z: Tensor<3>, edges: &graph::Edges) -> Tensor<1> {
        for _ in 0..self.horizon {
            z = self.on.step(z, edges);
        }
        self.on.risk(&z, edges)
    }
}

impl<R: OnGraph> GraphIndicator<R> {
    /// The edges on `device` in `dtype`, uploaded on first use and kept: an indicator scored
    /// batch after batch (coalitions, deletion curves) would otherwise upload them every call.
    fn edges(&self, device: &Device, dtype: DType) -> graph::Edges {
        let mut cache = self.uploaded.lock().unwrap_or_else(|p| p.into_inner());
        let same = |d: &Device| d == device && d.is_autodiff() == device.is_autodiff();
        if let Some((_, _, e)) = cache.iter().find(|(d, t, _)| same(d) && *t == dtype) {
            return e.clone();
        }
        let edges = self.on.graph().upload(device, dtype);
        cache.push((device.clone(), dtype, edges.clone()));
        edges
    }
}

impl<R: OnGraph> Indicator for GraphIndicator<R> {
    fn name(&self) -> &str {
        match self.horizon {
            0 => "static",
            _ => "rollout",
        }
    }

    fn forward(&self, z: Tensor<3>) -> Result<Tensor<1>> {
        let edges = self.edges(&z.device(), z.dtype());
        Ok(self.value(z, &edges))
    }

    fn along_path<'a>(&'a self, x: &Tensor<3>, _b: &Tensor<3>) -> Result<PathFn<'a>> {
        let edges = self.edges(&x.device(), x.dtype());
        Ok(Box::new(move |z| Ok(self.value(z, &edges))))
    }

    /// On a CPU backend, the host passes of [`host`]; `None` (autodiff) elsewhere.
    fn gradient(&self, z: &Tensor<3>) -> Option<Tensor<3>> {
        let dynamics = self.on.host()?;
        if self.kernel != GraphKernel::Host || !aumann_engine::backend::on_host(&z.device()) {
            return None;
        }
        let grouped = self
            .grouped
            .get_or_init(|| host::HostGraph::new(self.on.graph()));
        host::gradient(dynamics, grouped, self.horizon, z, &self.workspaces)
    }
}

/// A simulated society with two smooth indicators.
pub trait Scenario: Send + Sync {
    /// Its registry entry (name, feature names).
    fn entry(&self) -> &'static ScenarioEntry;

    /// Stable name (`"social"`).
    fn name(&self) -> &'static str {
        self.entry().name
    }

    /// The feature names, `d` of them.
    fn feature_names(&self) -> &'static [&'static str] {
        self.entry().features
    }

    /// Every parameter, for `scenario.json`.
    ///
    /// # Errors
    /// [`RenderError`](crate::error::RenderError) if the parameters cannot be written as JSON.
    fn parameters(&self) -> crate::Result<serde_json::Value>;

    /// Simulate: deterministic for the seed in the parameters, whatever the thread count.
    ///
    /// # Errors
    /// Parameters that cannot simulate.
    fn simulate(&self) -> Result<Simulation>;

    /// The indicator `which` of step `step` of `simulation`.
    ///
    /// # Errors
    /// A step out of range, or context the simulation lacks.
    fn indicator(
        &self,
        simulation: &Simulation,
        which: Horizon,
        step: usize,
    ) -> Result<Box<dyn Indicator>>;

    /// The rollout horizon `H` of its rollout risk (the default: 0, for a scenario that does
    /// not say; what a re-simulation reads `H` steps ahead).
    fn horizon(&self) -> usize {
        0
    }

    /// Simulate run `run` again through step `last` (possibly past the original end) with
    /// `held` agents at their baseline action: a one-run simulation of `last + 1` steps, or
    /// `None` if the scenario cannot re-simulate.
    ///
    /// # Errors
    /// A run the scenario does not have, or parameters that cannot simulate.
    fn resimulate(&self, run: usize, last: usize, held: &Held) -> Result<Option<Simulation>> {
        let _ = (run, last, held);
        Ok(None)
    }
}

/// Agents held at their baseline action in a re-simulation (the dynamic deletion curve of
/// SPEC §8): from step `from` on, the held agents do nothing, and each step's draws come from
/// the replicate's own stream for that step. Re-simulations of one replicate with different
/// agents held thus share their draws step by step (common random numbers), and their
/// difference measures the agents rather than the luck of the draw.
#[derive(Clone, Debug)]
pub struct Held {
    from: usize,
    mask: Vec<bool>,
    replicate: u64,
}

impl Held {
    /// `agents` of a population of `n` held from step `from`, in replicate `replicate`.
    ///
    /// # Errors
    /// [`Error::Parameter`] for an agent outside the population.
    pub fn new(n: usize, from: usize, agents: &[usize], replicate: u64) -> Result<Self> {
        let mut mask = vec![false; n];
        for &i in agents {
            match mask.get_mut(i) {
                Some(m) => *m = true,
                None => return refuse("agent", i, &format!("the population has {n} agents")),
            }
        }
        Ok(Self {
            from,
            mask,
            replicate,
        })
    }

    /// At the start of step `t` of a simulation seeded `seed`: the held agents' mask (`None`
    /// before `from`), with `rng` reseeded for the step from `from` on.
    pub fn enter<'a>(
        held: Option<&'a Self>,
        t: usize,
        seed: u64,
        rng: &mut Xoshiro256PlusPlus,
    ) -> Option<&'a [bool]> {
        let held = held.filter(|h| t >= h.from)?;
        let stream = aumann_engine::seed::mix(&[seed, 17, held.replicate, t as u64]);
        *rng = Xoshiro256PlusPlus::seed_from_u64(stream);
        Some(&held.mask)
    }
}

/// Refuse a run other than 0 of a scenario that simulates one.
pub(crate) fn only_run(run: usize) -> Result<()> {
    match run {
        0 => Ok(()),
        _ => refuse("run", run, "the scenario has 1 run, numbered from 0"),
    }
}

/// Whether agent `i` is held by `mask` (`None`: nobody is).
pub(crate) fn is_held(mask: Option<&[bool]>, i: usize) -> bool {
    mask.is_some_and(|m| m[i])
}

/// A scenario as its parameters, a simulation of them and its risks: everything else a
/// [`Scenario`] does (its name, `scenario.json`'s parameters, checking the parameters before
/// simulating and the step before building a risk) is shared by the implementation of
/// [`Scenario`] for every `Simulated`.
pub trait Simulated: Send + Sync {
    /// Its parameters.
    type Config: ScenarioConfig + Clone;

    /// Its registry entry (name, feature names).
    const ENTRY: &'static ScenarioEntry;

    /// Its parameters, as given (not yet checked).
    fn config(&self) -> &Self::Config;

    /// Simulate the checked parameters `config`: deterministic for their seed, whatever the
    /// thread count.
    ///
    /// # Errors
    /// A simulation that fails part way.
    fn run(&self, config: &Self::Config) -> Result<Simulation>;

    /// The risk `of.which` of step `of.step` of `of.simulation` (a step it has).
    ///
    /// # Errors
    /// Context the simulation lacks.
    fn risk(&self, of: RiskOf<'_>) -> Result<Box<dyn Indicator>>;

    /// Simulate run `run` of the checked parameters `config` with `held` agents at their
    /// baseline action ([`Held::enter`] at every step), or `None` if the scenario cannot.
    ///
    /// # Errors
    /// A run the scenario does not have.
    fn run_held(
        &self,
        config: &Self::Config,
        run: usize,
        held: &Held,
    ) -> Result<Option<Simulation>> {
        let _ = (config, run, held);
        Ok(None)
    }
}

/// Which risk of a simulation, at which step.
#[derive(Clone, Copy, Debug)]
pub struct RiskOf<'a> {
    /// The simulation.
    pub simulation: &'a Simulation,
    /// Static or rollout.
    pub which: Horizon,
    /// The step, one the simulation has.
    pub step: usize,
}

impl<S: Simulated> Scenario for S {
    fn entry(&self) -> &'static ScenarioEntry {
        S::ENTRY
    }

    fn parameters(&self) -> crate::Result<serde_json::Value> {
        let value = serde_json::to_value(self.config()).map_err(|e| crate::error::RenderError {
            what: format!("the {} scenario's parameters", S::ENTRY.name),
            reason: e.to_string(),
        })?;
        Ok(value)
    }

    fn simulate(&self) -> Result<Simulation> {
        self.run(&self.config().clone().checked()?)
    }

    fn indicator(
        &self,
        simulation: &Simulation,
        which: Horizon,
        step: usize,
    ) -> Result<Box<dyn Indicator>> {
        check_step(simulation, step)?;
        self.risk(RiskOf {
            simulation,
            which,
            step,
        })
    }

    fn horizon(&self) -> usize {
        *self.config().clone().knobs().horizon
    }

    fn resimulate(&self, run: usize, last: usize, held: &Held) -> Result<Option<Simulation>> {
        let mut config = self.config().clone();
        *config.knobs().steps = last + 1;
        self.run_held(&config.sized()?.checked()?, run, held)
    }
}

/// A scenario reachable by name.
#[derive(Debug)]
pub struct ScenarioEntry {
    /// Stable name.
    pub name: &'static str,
    /// One line for help texts.
    pub summary: &'static str,
    /// The feature names, in order.
    pub features: &'static [&'static str],
    /// The scenario with its defaults and `overrides`.
    pub with: fn(&Overrides) -> Result<Box<dyn Scenario>>,
    /// The scenario from the `parameters` of its `scenario.json`.
    pub from_parameters: fn(&serde_json::Value) -> Result<Box<dyn Scenario>>,
}

/// Every scenario reachable by name.
pub const SCENARIOS: &[ScenarioEntry] = &[econ::ENTRY, social::ENTRY, cascade::ENTRY];

/// A [`ScenarioEntry`] chosen by name.
#[derive(Clone, Copy, Debug)]
pub struct ScenarioKind(&'static ScenarioEntry);

impl ScenarioKind {
    /// The registry entry.
    pub fn entry(self) -> &'static ScenarioEntry {
        self.0
    }
}

impl PartialEq for ScenarioKind {
    fn eq(&self, other: &Self) -> bool {
        self.0.name == other.0.name
    }
}

impl Choice for ScenarioKind {
    const WHAT: &'static str = "scenario";

    fn choices() -> Vec<Self> {
        SCENARIOS.iter().map(ScenarioKind).collect()
    }

    fn label(&self) -> &'static str {
        self.0.name
    }
}

/// `V` of every step, `[T, 2]` (static, rollout), in f64 on flex.
///
/// # Errors
/// Whatever building or evaluating the indicators reports.
pub fn macro_series(scenario: &dyn Scenario, simulation: &Simulation) -> Result<Vec<f64>> {
    let rows: Vec<usize> = (0..simulation.features.steps()).collect();
    let [risk, ahead] = Horizon::ALL.map(|which| risk_of_rows(scenario, simulation, which, &rows));
    Ok(risk?
        .into_iter()
        .zip(ahead?)
        .flat_map(|(a, b)| [a, b])
        .collect())
}

/// The indicator `which` of each of `rows` (run-major steps) on that row's own features, in
/// f64 on flex.
///
/// # Errors
/// Whatever building or evaluating the indicators reports.
pub fn risk_of_rows(
    scenario: &dyn Scenario,
    simulation: &Simulation,
    which: Horizon,
    rows: &[usize],
) -> Result<Vec<f64>> {
    let device = aumann_engine::backend::Backend::Flex.device()?;
    rows.iter()
        .map(|&t| {
            let x = simulation
                .features
                .upload(t, t + 1, &device, burn::tensor::DType::F64);
            let v = scenario.indicator(simulation, which, t)?.forward(x)?;
            Ok(aumann_engine::array::download(v, "scenario risk")?[0])
        })
        .collect()
}

/// Which indicator of a scenario, at which steps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Target {
    /// Static or rollout.
    pub which: Horizon,
    /// One run (`None`: every run).
    pub run: Option<usize>,
    /// One step of each chosen run (`None`: every step).
    pub step: Option<usize>,
}

impl Target {
    /// The simulation rows (run-major steps) this target attributes, for `runs` runs of
    /// `steps` steps.
    ///
    /// # Errors
    /// [`Error::Parameter`] for a run or step out of range.
    pub fn rows(&self, runs: usize, steps: usize) -> Result<Vec<usize>> {
        let range = |name: &'static str, v: Option<usize>, count: usize| match v {
            Some(v) if v >= count => refuse(
                name,
                v,
                &format!("the scenario has {count} {name}s, numbered from 0"),
            ),
            Some(v) => Ok(v..v + 1),
            None => Ok(0..count),
        };
        let (r, t) = (
            range("run", self.run, runs)?,
            range("step", self.step, steps)?,
        );
        Ok(r.flat_map(|r| t.clone().map(move |t| r * steps + t))
            .collect())
    }

    /// The shape of this target's φ in a folder described by `manifest`:
    /// `[runs?, steps?, n]`, the runs axis where every run of several is attributed, the steps
    /// axis where every step is.
    pub fn phi_shape(&self, manifest: &Manifest) -> Vec<usize> {
        let runs = (self.run.is_none() && manifest.runs > 1).then_some(manifest.runs);
        let steps = self.step.is_none().then_some(manifest.steps);
        runs.into_iter()
            .chain(steps)
            .chain([manifest.agents])
            .collect()
    }
}

/// Attribute the indicator `target.which` of `loaded` on `features` (`[T, n, d]`; `None`: the
/// scenario's) from `baseline` (`None`: the scenario's baseline action), step by step (each
/// step has its own indicator): every step, or only `target.step`. Returns `φ` of those
/// steps. Only the attributed steps are copied, so one step of a large scenario costs one
/// step's memory beyond the folder.
///
/// # Errors
/// A step out of range, features of another shape than the scenario's, f64 on a device whose
/// f64 `exp` and `log` are wrong ([`Error::InexactTranscendentals`]), and whatever the path
/// integral reports.
pub fn attribute(
    loaded: &Loaded,
    target: Target,
    features: Option<&Array3>,
    baseline: Option<&aumann_engine::baseline::Baseline>,
    options: &aumann_engine::path::PathOptions,
    device: &burn::tensor::Device,
    progress: &mut (dyn FnMut(aumann_engine::progress::Progress) + Send),
) -> Result<aumann_engine::attribution::Attribution> {
    let features = loaded.features_or(features)?;
    let steps = features.steps();
    let runs = loaded.simulation.runs.max(1);
    let chosen = target.rows(runs, steps / runs)?;
    if options.precision == aumann_engine::backend::Precision::F64
        && !aumann_engine::ops::f64_transcendentals_work(device)
    {
        return Err(Error::InexactTranscendentals {
            what: format!("the {} scenario", loaded.scenario.name()),
            device: aumann_engine::backend::describe(device),
        });
    }
    let mut parts = Vec::with_capacity(chosen.len());
    for (k, &t) in chosen.iter().enumerate() {
        let indicator = loaded
            .scenario
            .indicator(&loaded.simulation, target.which, t)?;
        let x = features.select_steps(&[t]);
        let b = match baseline {
            Some(b) => b.select_step(t),
            None => aumann_engine::baseline::Baseline::from_array(
                loaded.simulation.baseline.select_steps(&[t]),
            ),
        };
        let a = aumann_engine::path::attribute(
            indicator.as_ref(),
            &x,
            &b,
            options,
            device,
            &mut |p| {
                progress(aumann_engine::progress::Progress {
                    done: k * p.total + p.done,
                    total: chosen.len() * p.total,
                })
            },
        )?;
        parts.push(a);
    }
    Ok(aumann_engine::attribution::Attribution::concat(parts))
}
