//! `cascade`: an influence cascade on a directed preferential-attachment follower graph (the
//! paper's MidScale-Social scenario), the scenario that scales to millions of agents.
//!
//! # Simulation (rule-based policy, seeded draws)
//!
//! An edge `u → w` means w follows u. A fraction of agents starts adopted (stance 1). At every
//! step each agent posts with probability `π_post(s) = 0.1 + 0.6 s`; an agent whose adopted
//! followees posted or reshared sees them (exposure: the fraction of its followees who did),
//! adopts with probability `1 − Π (1 − β)` over those posts (independent cascade), and
//! reshares what it saw with probability `π_share = 0.4 s σ((e − e₀)/τ)`. Features of step t:
//! stance, exposure, posting intensity, reshare intensity, influence weight
//! `ω = ln(1 + followers)`.
//!
//! # Indicators (smooth, deterministic; temperature τ)
//!
//! ```text
//! static   V   = τ softplus((P(π) − θ) / τ),   π_i = ω_i s_i (p_i + r_i)   propagation pressure
//!          P   = Σ_i π_i / Σ_i ω_i                                  (aggregate "weighted", default)
//!                ln(1 + Σ_i π_i) / ln(1 + Σ_i ω_i)                  ("log": diminishing returns)
//!                Σ_{u→w} π_u s_w / Σ_{u→w} ω_u                       ("pairwise": what reaches adopters)
//! rollout  V^H = static(F^H(x))
//! F:       m_u   = β s_u (p_u + r_u)                       u's content convinces a follower
//!          s'_w  = 1 − (1 − s_w) exp(Σ_{u→w} ln(1 − m_u))  mean-field independent cascade
//!          e'_w  = Σ_{u→w} s_u (p_u + r_u) / followees_w
//!          p'    = 0.1 + 0.6 s',   r' = 0.4 s' σ((e' − e₀)/τ),   ω' = ω
//! ```
//!
//! Graph terms are one gather and two scatter-adds over the edge list per step. The baseline
//! action is an agent with no stance that neither posts nor reshares; its exposure and
//! influence weight are the graph's doing and are kept.

use aumann_engine::ops::sum_dim;
use std::sync::Arc;

use burn::tensor::Tensor;
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};

use aumann_kernels::graph::par_nodes;
use aumann_kernels::sum::sum_by;

use super::graph::{Edges, Graph, preferential_attachment};
use super::host::{self, AHEAD, HostDynamics, HostGraph, Step, StepBack, StepOut, pack};
use super::{
    Held, Knobs, OnGraph, RiskOf, ScenarioConfig, ScenarioEntry, Simulated, Simulation, is_held,
    positive, refuse, risk_on_graph,
};
use aumann_engine::array::Array3;
use aumann_engine::error::Result;
use aumann_engine::indicators::Indicator;

/// The features, in order.
pub const FEATURES: [&str; 5] = [
    "stance",
    "exposure",
    "posting_intensity",
    "reshare_intensity",
    "influence_weight",
];

/// The registry entry.
pub const ENTRY: ScenarioEntry = scenario_entry!(
    "cascade",
    "an influence cascade on a directed preferential-attachment follower graph",
    &FEATURES,
    Cascade,
    CascadeConfig
);

/// Parameters of the `cascade` scenario (every default documented).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CascadeConfig {
    /// Agents `n` (default 10 000).
    pub agents: usize,
    /// Steps `T` of every run (default 30).
    pub steps: usize,
    /// Independent runs on the same graph, each with its own adopters and draws (default 3;
    /// a `scenario.json` without it had one).
    #[serde(default = "one_run")]
    pub runs: usize,
    /// Followees of every new agent in the graph (default 5, so `|E| ≈ 5 n`).
    pub follows: usize,
    /// Share of agents adopted at the start (default 0.01).
    pub seeded: f64,
    /// Chance that one post or reshare convinces a follower, `β` (default 0.05).
    pub persuasion: f64,
    /// Exposure above which agents reshare, `e₀` (default 0.2).
    pub reshare_exposure: f64,
    /// Risk threshold `θ` of the propagation pressure (default 0.05).
    pub threshold: f64,
    /// Temperature `τ` of every smooth surrogate (default 0.05).
    pub temperature: f64,
    /// Rollout horizon `H` (default 5).
    pub horizon: usize,
    /// How the static risk aggregates the agents' pushes (default weighted; a `scenario.json`
    /// without it had that).
    #[serde(default)]
    pub aggregate: Aggregate,
    /// Seed.
    pub seed: u64,
}

/// How the `cascade` risk aggregates the agents' pushes `π_i = ω_i s_i (p_i + r_i)` into the
/// propagation pressure `P` (the module's formulas).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Aggregate {
    /// The influence-weighted mean.
    #[default]
    Weighted,
    /// A log-aggregate: diminishing returns of total push.
    Log,
    /// Pairwise interactions: the push along every follow edge times the follower's stance.
    Pairwise,
}

impl Aggregate {
    /// Every aggregate.
    pub const ALL: [Aggregate; 3] = [Aggregate::Weighted, Aggregate::Log, Aggregate::Pairwise];

    /// Stable name (as in `scenario.json`).
    pub fn name(self) -> &'static str {
        match self {
            Aggregate::Weighted => "weighted",
            Aggregate::Log => "log",
            Aggregate::Pairwise => "pairwise",
        }
    }
}

aumann_engine::named_choice!(Aggregate, "cascade aggregate");

fn one_run() -> usize {
    1
}

impl Default for CascadeConfig {
    fn default() -> Self {
        Self {
            agents: 10_000,
            steps: 30,
            runs: 3,
            follows: 5,
            seeded: 0.01,
            persuasion: 0.05,
            reshare_exposure: 0.2,
            threshold: 0.05,
            temperature: 0.05,
            horizon: 5,
            aggregate: Aggregate::Weighted,
            seed: 7,
        }
    }
}

impl ScenarioConfig for CascadeConfig {
    fn knobs(&mut self) -> Knobs<'_> {
        knobs_of!(self)
    }

    fn runs(&mut self) -> Option<&mut usize> {
        Some(&mut self.runs)
    }

    fn checked(self) -> Result<Self> {
        if self.follows == 0 || self.agents <= self.follows + 1 {
            let reason = format!("needs more than follows + 1 = {} agents", self.follows + 1);
            return refuse("agents", self.agents, &reason);
        }
        if self.steps == 0 || self.runs == 0 {
            let (name, value) = if self.steps == 0 {
                ("steps", 0)
            } else {
                ("runs", 0)
            };
            return refuse(name, value, "at least one");
        }
        positive("temperature", self.temperature)?;
        for (name, v) in [("seeded", self.seeded), ("persuasion", self.persuasion)] {
            if !(0.0..=0.5).contains(&v) {
                return refuse(name, v, "must lie in [0, 0.5]");
            }
        }
        Ok(self)
    }
}

/// An agent's decisions in the `cascade` scenario.
pub trait CascadePolicy {
    /// Probability of posting this step, given the agent's stance (0 or 1).
    fn post(&self, stance: f64) -> f64;
    /// Probability of resharing what it saw, given its stance and its exposure.
    fn reshare(&self, stance: f64, exposure: f64) -> f64;
}

/// The rule-based policy of the scenario's description: `π_post = 0.1 + 0.6 s`,
/// `π_share = 0.4 s σ((e − e₀)/τ)`.
#[derive(Clone, Copy, Debug)]
pub struct RulePolicy {
    /// `e₀`.
    pub reshare_exposure: f64,
    /// `τ`.
    pub temperature: f64,
}

impl CascadePolicy for RulePolicy {
    fn post(&self, stance: f64) -> f64 {
        0.1 + 0.6 * stance
    }

    fn reshare(&self, stance: f64, exposure: f64) -> f64 {
        let gate = 1.0 / (1.0 + (-(exposure - self.reshare_exposure) / self.temperature).exp());
        0.4 * stance * gate
    }
}

/// The `cascade` scenario: its parameters and its agents' policy.
#[derive(Clone)]
pub struct Cascade {
    /// Parameters.
    pub config: CascadeConfig,
    /// The agents' decisions (default [`RulePolicy`] with the parameters' `e₀` and `τ`).
    pub policy: Arc<dyn CascadePolicy + Send + Sync>,
}

impl Cascade {
    /// The scenario with the rule-based policy.
    pub fn new(config: CascadeConfig) -> Self {
        let policy = RulePolicy {
            reshare_exposure: config.reshare_exposure,
            temperature: config.temperature,
        };
        Self {
            config,
            policy: Arc::new(policy),
        }
    }
}

impl Simulated for Cascade {
    type Config = CascadeConfig;
    const ENTRY: &'static ScenarioEntry = &ENTRY;

    fn config(&self) -> &CascadeConfig {
        &self.config
    }

    fn run(&self, config: &CascadeConfig) -> Result<Simulation> {
        Ok(simulate(config, self.policy.as_ref()))
    }

    fn run_held(
        &self,
        config: &CascadeConfig,
        run: usize,
        held: &Held,
    ) -> Result<Option<Simulation>> {
        if run >= config.runs {
            let reason = format!("the scenario has {} runs, numbered from 0", config.runs);
            return refuse("run", run, &reason);
        }
        let one = CascadeConfig {
            runs: 1,
            ..config.clone()
        };
        Ok(Some(simulate_runs(
            &one,
            self.policy.as_ref(),
            &[run],
            Some(held),
        )))
    }

    fn risk(&self, of: RiskOf<'_>) -> Result<Box<dyn Indicator>> {
        let horizon = of.which.steps(self.config.horizon);
        risk_on_graph(of.simulation, ENTRY.name, horizon, |graph| {
            CascadeRisk::new(&self.config, graph)
        })
    }
}

/// Simulate `config` (checked) with `policy`: deterministic for the seed.
fn simulate(config: &CascadeConfig, policy: &dyn CascadePolicy) -> Simulation {
    let runs: Vec<usize> = (0..config.runs).collect();
    simulate_runs(config, policy, &runs, None)
}

/// Simulate `runs` (`config.runs` of them) with `policy` and `held` agents silent.
fn simulate_runs(
    config: &CascadeConfig,
    policy: &dyn CascadePolicy,
    runs: &[usize],
    held: Option<&Held>,
) -> Simulation {
    let n = config.agents;
    let graph = preferential_attachment(n, config.follows, config.seed);
    let (mut x, mut base) = (Vec::new(), Vec::new());
    for &run in runs {
        let seed = aumann_engine::seed::mix(&[config.seed, 2, run as u64]);
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let mut out = RunOut {
            held,
            seed,
            x: &mut x,
            base: &mut base,
        };
        simulate_run(config, policy, &graph, &mut rng, &mut out);
    }
    let shape = [config.runs * config.steps, n, 5];
    let f32s = |v: Vec<f64>| v.into_iter().map(|a| a as f32).collect();
    Simulation {
        features: Array3::from_f32(shape, f32s(x)),
        baseline: Array3::from_f32(shape, f32s(base)),
        graph: Some(Arc::new(graph)),
        context: Vec::new(),
        runs: config.runs,
    }
}

/// Where one run goes: the agents held silent, the run's seed, its features and baseline
/// actions.
struct RunOut<'a> {
    held: Option<&'a Held>,
    seed: u64,
    x: &'a mut Vec<f64>,
    base: &'a mut Vec<f64>,
}

/// One run on `graph`: its steps' features and baseline actions appended to `out`; held agents
/// keep no stance and neither post nor reshare (their draws are still made).
fn simulate_run(
    config: &CascadeConfig,
    policy: &dyn CascadePolicy,
    graph: &Graph,
    rng: &mut Xoshiro256PlusPlus,
    out: &mut RunOut<'_>,
) {
    let n = config.agents;
    let followees = graph.in_degrees();
    let weight: Vec<f64> = graph.out_degrees().iter().map(|f| f.ln_1p()).collect();
    let mut stance: Vec<bool> = (0..n)
        .map(|_| rng.random::<f64>() < config.seeded)
        .collect();
    let mut shared = vec![false; n];
    for t in 0..config.steps {
        let mask = Held::enter(out.held, t, out.seed, rng);
        for (i, s) in stance.iter_mut().enumerate() {
            *s = *s && !is_held(mask, i);
        }
        let posted: Vec<bool> = (0..n)
            .map(|i| {
                rng.random::<f64>() < policy.post(f64::from(u8::from(stance[i])))
                    && !is_held(mask, i)
            })
            .collect();
        // Followers see the posts and reshares of adopted agents (their voices).
        let mut seen = vec![0.0f64; n];
        for &[u, w] in &graph.edges {
            let u = u as usize;
            if stance[u] && (posted[u] || shared[u]) {
                seen[w as usize] += 1.0;
            }
        }
        let exposure: Vec<f64> = (0..n).map(|i| seen[i] / followees[i].max(1.0)).collect();
        for i in 0..n {
            let convinced = 1.0 - (1.0 - config.persuasion).powf(seen[i]);
            if !stance[i] && rng.random::<f64>() < convinced && !is_held(mask, i) {
                stance[i] = true;
            }
        }
        for i in 0..n {
            let s = f64::from(u8::from(stance[i]));
            let share = rng.random::<f64>() < policy.reshare(s, exposure[i]);
            shared[i] = share && !is_held(mask, i);
            let (p, r) = (
                f64::from(u8::from(posted[i])),
                f64::from(u8::from(shared[i])),
            );
            out.x.extend([s, exposure[i], p, r, weight[i]]);
            out.base.extend([0.0, exposure[i], 0.0, 0.0, weight[i]]);
        }
    }
}

/// The scenario's risk and smoothed dynamics on its graph ([`GraphIndicator`] makes the
/// static and rollout indicators of it).
#[derive(Clone, Debug)]
pub struct CascadeRisk {
    config: CascadeConfig,
    graph: Arc<Graph>,
}

impl CascadeRisk {
    /// The risk of `config` on `graph`.
    pub fn new(config: &CascadeConfig, graph: Arc<Graph>) -> Self {
        Self {
            config: config.clone(),
            graph,
        }
    }
}

impl OnGraph for CascadeRisk {
    fn graph(&self) -> &Graph {
        &self.graph
    }

    /// Host passes for the weighted aggregate; the others are differentiated by autodiff.
    fn host(&self) -> Option<&dyn HostDynamics> {
        (self.config.aggregate == Aggregate::Weighted).then_some(self as &dyn HostDynamics)
    }

    fn risk(&self, z: &Tensor<3>, edges: &Edges) -> Tensor<1> {
        let rows = z.dims()[0];
        let f = |k| z.clone().narrow(1, k, 1);
        let (s, p, r, w) = (f(0), f(2), f(3), f(4));
        let push = w.clone() * s.clone() * (p + r); // [rows, 1, n]
        let pressure = match self.config.aggregate {
            Aggregate::Weighted => sum_dim(push, 2) / sum_dim(w, 2), // [rows, 1, 1]
            Aggregate::Log => {
                aumann_engine::ops::log1p(sum_dim(push, 2))
                    / aumann_engine::ops::log1p(sum_dim(w, 2))
            }
            Aggregate::Pairwise => {
                let reaching = edges.gather_src(push) * edges.gather_dst(s);
                sum_dim(reaching, 2) / sum_dim(edges.gather_src(w), 2)
            }
        };
        let tau = self.config.temperature;
        aumann_engine::ops::softplus(
            (pressure.reshape([rows]) - self.config.threshold) * (1.0 / tau),
        ) * tau
    }

    fn step(&self, z: Tensor<3>, edges: &Edges) -> Tensor<3> {
        let c = &self.config;
        let f = |k| z.clone().narrow(1, k, 1);
        let (s, p, r, w) = (f(0), f(2), f(3), f(4));
        let voice = s.clone() * (p + r); // [rows, 1, n]
        let voice_e = edges.gather_src(voice); // [rows, 1, E]
        let resist = aumann_engine::ops::log1p(voice_e.clone() * (-c.persuasion));
        // One scatter: Σ ln(1 − m_u) and Σ voices into every follower together.
        let into = edges.scatter_dst(Tensor::cat(vec![resist, voice_e], 1)); // [rows, 2, n]
        let stays = into.clone().narrow(1, 0, 1).exp(); // Π (1 − m_u)
        let s2 = (s.neg() + 1.0) * stays.neg() + 1.0;
        let e2 = into.narrow(1, 1, 1) * edges.inv_in_degree(); // per followee
        let p2 = s2.clone() * 0.6 + 0.1;
        let gate =
            aumann_engine::ops::sigmoid((e2.clone() - c.reshare_exposure) * (1.0 / c.temperature));
        let r2 = s2.clone() * gate * 0.4;
        Tensor::cat(vec![s2, e2, p2, r2, w], 1)
    }
}

/// Agent `i`'s `[s, e, p, r, ω]`.
fn agent(z: &[f64], i: usize) -> [f64; 5] {
    let a = &z[i * 5..i * 5 + 5];
    [a[0], a[1], a[2], a[3], a[4]]
}

impl CascadeRisk {
    /// Every agent's voice `s (p + r)` and resistance `ln(1 − β s (p + r))`, `[n, 2]`, into
    /// `buffer`.
    fn voices(&self, z: &[f64], buffer: &mut Vec<f64>) {
        pack(buffer, z.len() / 5, |i| {
            let [s, _, p, r, _] = agent(z, i);
            let voice = s * (p + r);
            [voice, (-self.config.persuasion * voice).ln_1p()]
        });
    }
}

impl HostDynamics for CascadeRisk {
    fn features(&self) -> usize {
        FEATURES.len()
    }

    fn risk_gradient(&self, z: &[f64], grad: &mut [f64]) {
        let c = &self.config;
        let n = z.len() / 5;
        let total = sum_by(n, |i| z[i * 5 + 4]);
        let pushed = sum_by(n, |i| {
            let [s, _, p, r, w] = agent(z, i);
            w * s * (p + r)
        });
        let pressure = pushed / total;
        let slope = host::softplus_slope(pressure, c.threshold, c.temperature) / total;
        par_nodes(grad, 5, |i, g| {
            let [s, _, p, r, w] = agent(z, i);
            let ws = slope * w * s;
            g.copy_from_slice(&[
                slope * w * (p + r),
                0.0,
                ws,
                ws,
                slope * (s * (p + r) - pressure),
            ]);
        });
    }

    fn step(&self, z: &[f64], graph: &HostGraph, out: StepOut<'_>) {
        let c = &self.config;
        let sources = graph.sources();
        self.voices(z, out.scratch);
        let voices = &out.scratch[..];
        par_nodes(out.next, 5, |i, out| {
            sources.prefetch_neighbours(i + AHEAD, voices, 2);
            let [s, .., w] = agent(z, i);
            let (mut resist, mut heard) = (0.0, 0.0);
            for &u in sources.neighbours(i) {
                heard += voices[u as usize * 2];
                resist += voices[u as usize * 2 + 1];
            }
            let s2 = 1.0 - (1.0 - s) * resist.exp();
            let e2 = heard * graph.inv_in_degree[i];
            let gate = host::sigmoid((e2 - c.reshare_exposure) / c.temperature);
            out.copy_from_slice(&[s2, e2, s2 * 0.6 + 0.1, s2 * gate * 0.4, w]);
        });
    }

    fn step_gradient(&self, step: Step<'_>, graph: &HostGraph, back: StepBack<'_>) {
        let StepBack { g, grad, scratch } = back;
        let c = &self.config;
        let Step { z, next, .. } = step;
        let (sources, destinations) = (graph.sources(), graph.destinations());
        let n = graph.nodes();
        self.voices(z, scratch);
        scratch.resize(n * 5, 0.0);
        let (voices, into) = scratch.split_at_mut(n * 2);
        let voices = &*voices;
        // Per follower w: the gradient with respect to its Σ ln(1 − m_u) and its Σ voices,
        // and to its own stance directly.
        par_nodes(into, 3, |i, o| {
            sources.prefetch_neighbours(i + AHEAD, voices, 2);
            let s = z[i * 5];
            let [s2, e2, ..] = agent(next, i);
            let [gs2, ge2, gp2, gr2, _] = agent(g, i);
            let resist: f64 = sources
                .neighbours(i)
                .iter()
                .map(|&u| voices[u as usize * 2 + 1])
                .sum();
            let stays = resist.exp();
            let gate = host::sigmoid((e2 - c.reshare_exposure) / c.temperature);
            let gs = gs2 + 0.6 * gp2 + 0.4 * gate * gr2;
            let ge = ge2 + gr2 * 0.4 * s2 * gate * (1.0 - gate) / c.temperature;
            o.copy_from_slice(&[
                -gs * (1.0 - s) * stays,
                ge * graph.inv_in_degree[i],
                gs * stays,
            ]);
        });
        let into = &*into;
        par_nodes(grad, 5, |i, out| {
            destinations.prefetch_neighbours(i + AHEAD, into, 3);
            let [s, _, p, r, _] = agent(z, i);
            let (mut g_resist, mut g_voice) = (0.0, 0.0);
            for &w in destinations.neighbours(i) {
                g_resist += into[w as usize * 3];
                g_voice += into[w as usize * 3 + 1];
            }
            let voice = voices[i * 2];
            g_voice -= g_resist * c.persuasion / (1.0 - c.persuasion * voice);
            let gs = into[i * 3 + 2] + g_voice * (p + r);
            out.copy_from_slice(&[gs, 0.0, g_voice * s, g_voice * s, g[i * 5 + 4]]);
        });
    }
}
