//! `social`: bounded-confidence opinion dynamics with posting, likes and dislikes on a
//! Barabási–Albert graph (the paper's SocialLLM scenario).
//!
//! # Simulation (rule-based policy, seeded draws)
//!
//! Beliefs start `U(−½, ½)`. At every step each agent posts with probability
//! `π_post(b) = ½ + ½|b|`; each neighbour `w` of a poster `u` sees the post, interacts with
//! probability `π_act(b_w) = 0.4 + 0.3|b_w|`, likes it if `|b_u − b_w| < ε` (and moves
//! `μ (b_u − b_w) / deg_w` towards it) and dislikes it otherwise (and moves `μ_d (b_u − b_w) /
//! deg_w` away). A poster's belief is then reinforced by its reception,
//! `b_u ← b_u (1 + η (likes_u − dislikes_u) / max(views_u, 1))`; beliefs are clamped to
//! `[−1, 1]`. Features of step t (after its updates): belief, posted, views (of the agent's
//! own post), likes and dislikes received.
//!
//! # Indicators (smooth, deterministic; temperature τ)
//!
//! ```text
//! static   s_i = p_i b_i² ln(1 + v_i) (1 + l_i)/(2 + l_i + q_i)      risky expression
//!          V   = τ softplus((mean_i s_i − θ)/τ)
//! rollout  V^H = static(F^H(x))
//! F:       a(b)   = √(b² + δ²) − δ                                   smooth |b|
//!          c_e    = σ((ε² − (b_u − b_w)²)/τ)                         smooth "close enough", e = u→w
//!          r_e    = p_u π_act(b_w)
//!          b'_w   = b_w + Σ_{e→w} r_e (μ c_e − μ_d (1 − c_e)) (b_u − b_w) / deg_w
//!          b''    = b' + η b (l − q)/(1 + v)                         reception feedback
//!          l'_u   = Σ_{e from u} r_e c_e,   q'_u = Σ_{e from u} r_e (1 − c_e),   v'_u = p_u deg_u
//!          p'     = ½ + ½ a(b'')
//! ```
//!
//! `F` is the mean-field version of one simulated step (expectations in place of draws,
//! sigmoids in place of the confidence threshold); its graph terms are one gather and one
//! scatter-add over the edge list. The baseline action is a neutral, silent agent: belief 0,
//! not posting, no likes or dislikes; its views are its neighbours' doing and are kept.

use burn::tensor::Tensor;
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};

use std::sync::Arc;

use super::graph::{Edges, Graph, barabasi_albert};
use super::{
    GraphIndicator, Horizon, Knobs, OnGraph, Scenario, ScenarioConfig, ScenarioEntry, Simulation,
    check_step, graph_of, positive, refuse,
};
use crate::array::Array3;
use crate::engine::indicators::Indicator;
use crate::error::Result;

/// The registry entry.
pub const ENTRY: ScenarioEntry = scenario_entry!(
    "social",
    "bounded-confidence opinions with posting, likes and dislikes on a Barabási–Albert graph",
    &FEATURES,
    Social,
    SocialConfig
);

/// The `social` scenario: its parameters and its agents' policy.
#[derive(Clone)]
pub struct Social {
    /// Parameters.
    pub config: SocialConfig,
    /// The agents' decisions (default [`RulePolicy`]).
    pub policy: Arc<dyn SocialPolicy + Send + Sync>,
}

impl Social {
    /// The scenario with the rule-based policy.
    pub fn new(config: SocialConfig) -> Self {
        Self {
            config,
            policy: Arc::new(RulePolicy),
        }
    }
}

impl Scenario for Social {
    fn entry(&self) -> &'static ScenarioEntry {
        &ENTRY
    }

    fn parameters(&self) -> serde_json::Value {
        serde_json::to_value(&self.config).unwrap_or_default()
    }

    fn simulate(&self) -> Result<Simulation> {
        let config = self.config.clone().checked()?;
        let run = simulate(&config, self.policy.as_ref());
        let to_f32 = |a: &Array3| {
            Array3::from_f32(
                a.shape(),
                (0..a.steps())
                    .flat_map(|t| a.step_f64(t))
                    .map(|v| v as f32)
                    .collect(),
            )
        };
        Ok(Simulation {
            features: to_f32(&run.features),
            baseline: to_f32(&run.baseline),
            graph: Some(Arc::new(run.graph)),
            context: Vec::new(),
            runs: 1,
        })
    }

    fn indicator(
        &self,
        simulation: &Simulation,
        which: Horizon,
        step: usize,
    ) -> Result<Box<dyn Indicator>> {
        check_step(simulation, step)?;
        let graph = graph_of(simulation, ENTRY.name)?;
        Ok(Box::new(GraphIndicator {
            on: SocialRisk::new(&self.config, graph),
            horizon: which.steps(self.config.horizon),
        }))
    }
}

/// The features, in order.
pub const FEATURES: [&str; 5] = ["belief", "posted", "views", "likes", "dislikes"];

/// Parameters of the `social` scenario (every default documented).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SocialConfig {
    /// Agents `n` (default 1 000).
    pub agents: usize,
    /// Steps `T` (default 60).
    pub steps: usize,
    /// Edges per new node of the Barabási–Albert graph (default 2).
    pub attach: usize,
    /// Confidence bound `ε` (default 0.3).
    pub confidence: f64,
    /// Pull towards a liked post `μ` (default 0.3).
    pub pull: f64,
    /// Push away from a disliked post `μ_d` (default 0.1).
    pub push: f64,
    /// Reception feedback `η` (default 0.5).
    pub feedback: f64,
    /// Risk threshold `θ` of the mean risky expression (default 0.05).
    pub threshold: f64,
    /// Temperature `τ` of every smooth surrogate (default 0.05).
    pub temperature: f64,
    /// Smoothing `δ` of `|b|` (default 0.05).
    pub abs_smoothing: f64,
    /// Rollout horizon `H` (default 3).
    pub horizon: usize,
    /// Seed.
    pub seed: u64,
}

impl ScenarioConfig for SocialConfig {
    fn knobs(&mut self) -> Knobs<'_> {
        knobs_of!(self)
    }

    fn checked(self) -> Result<Self> {
        if self.attach == 0 || self.agents <= self.attach + 1 {
            let reason = format!("needs more than attach + 1 = {} agents", self.attach + 1);
            return refuse("agents", self.agents, &reason);
        }
        if self.steps == 0 {
            return refuse("steps", 0, "at least one step");
        }
        positive("temperature", self.temperature)?;
        positive("confidence", self.confidence)?;
        positive("abs_smoothing", self.abs_smoothing)?;
        Ok(self)
    }
}

impl Default for SocialConfig {
    fn default() -> Self {
        Self {
            agents: 1_000,
            steps: 60,
            attach: 2,
            confidence: 0.3,
            pull: 0.3,
            push: 0.1,
            feedback: 0.5,
            threshold: 0.05,
            temperature: 0.05,
            abs_smoothing: 0.05,
            horizon: 3,
            seed: 7,
        }
    }
}

/// An agent's decisions in the `social` scenario.
pub trait SocialPolicy {
    /// Probability of posting this step, given the agent's belief.
    fn post(&self, belief: f64) -> f64;
    /// Probability of reacting to a post seen, given the viewer's belief.
    fn interact(&self, belief: f64) -> f64;
    /// Whether the viewer likes a post (else dislikes it).
    fn likes(&self, viewer: f64, poster: f64, confidence: f64) -> bool;
}

/// The rule-based policy of the scenario's description.
#[derive(Clone, Copy, Debug, Default)]
pub struct RulePolicy;

impl SocialPolicy for RulePolicy {
    fn post(&self, belief: f64) -> f64 {
        0.5 + 0.5 * belief.abs()
    }

    fn interact(&self, belief: f64) -> f64 {
        0.4 + 0.3 * belief.abs()
    }

    fn likes(&self, viewer: f64, poster: f64, confidence: f64) -> bool {
        (viewer - poster).abs() < confidence
    }
}

/// A simulated run: features `[T, n, 5]`, the baseline action and the graph.
#[derive(Clone, Debug)]
pub struct SocialRun {
    /// Features per step.
    pub features: Array3,
    /// The baseline action per step.
    pub baseline: Array3,
    /// The interaction graph (both directions of every edge).
    pub graph: Graph,
}

/// Simulate `config` with `policy`: deterministic for the seed.
pub fn simulate(config: &SocialConfig, policy: &dyn SocialPolicy) -> SocialRun {
    let (n, d) = (config.agents, FEATURES.len());
    let graph = barabasi_albert(n, config.attach, config.seed);
    let deg = graph.in_degrees();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(crate::seed::mix(&[config.seed, 1]));
    let mut belief: Vec<f64> = (0..n).map(|_| rng.random::<f64>() - 0.5).collect();
    let mut x = Vec::with_capacity(config.steps * n * d);
    let mut base = Vec::with_capacity(config.steps * n * d);
    for _ in 0..config.steps {
        let posted: Vec<bool> = belief
            .iter()
            .map(|&b| rng.random::<f64>() < policy.post(b))
            .collect();
        let (mut views, mut likes, mut dislikes) =
            (vec![0.0f64; n], vec![0.0f64; n], vec![0.0f64; n]);
        let start = belief.clone();
        for &[u, w] in &graph.edges {
            let (u, w) = (u as usize, w as usize);
            if !posted[u] {
                continue;
            }
            views[u] += 1.0;
            if rng.random::<f64>() >= policy.interact(start[w]) {
                continue;
            }
            let gap = start[u] - start[w];
            if policy.likes(start[w], start[u], config.confidence) {
                likes[u] += 1.0;
                belief[w] += config.pull * gap / deg[w];
            } else {
                dislikes[u] += 1.0;
                belief[w] -= config.push * gap / deg[w];
            }
        }
        for i in 0..n {
            let reception = (likes[i] - dislikes[i]) / views[i].max(1.0);
            belief[i] = (belief[i] * (1.0 + config.feedback * reception)).clamp(-1.0, 1.0);
            let p = if posted[i] { 1.0 } else { 0.0 };
            x.extend([belief[i], p, views[i], likes[i], dislikes[i]]);
            base.extend([0.0, 0.0, views[i], 0.0, 0.0]);
        }
    }
    let shape = [config.steps, n, d];
    SocialRun {
        features: Array3::from_f64(shape, x),
        baseline: Array3::from_f64(shape, base),
        graph,
    }
}

/// The scenario's risk and smoothed dynamics on its graph ([`GraphIndicator`] makes the
/// static and rollout indicators of it).
#[derive(Clone, Debug)]
pub struct SocialRisk {
    config: SocialConfig,
    graph: std::sync::Arc<Graph>,
}

impl SocialRisk {
    /// The risk of `config` on `graph`.
    pub fn new(config: &SocialConfig, graph: std::sync::Arc<Graph>) -> Self {
        Self {
            config: config.clone(),
            graph,
        }
    }
}

impl OnGraph for SocialRisk {
    fn graph(&self) -> &Graph {
        &self.graph
    }

    fn risk(&self, z: &Tensor<3>) -> Tensor<1> {
        let rows = z.dims()[0];
        let f = |k| z.clone().narrow(1, k, 1); // [rows, 1, n]
        let (b, p, v, l, q) = (f(0), f(1), f(2), f(3), f(4));
        let approval = (l.clone() + 1.0) / (l + q + 2.0);
        let s = p * b.clone() * b * (v + 1.0).log() * approval;
        let tau = self.config.temperature;
        let excess = s.mean_dim(2).reshape([rows]) - self.config.threshold;
        crate::ops::softplus(excess * (1.0 / tau)) * tau
    }

    fn step(&self, z: Tensor<3>, edges: &Edges) -> Tensor<3> {
        let c = &self.config;
        let f = |k| z.clone().narrow(1, k, 1);
        let (b, p, v, l, q) = (f(0), f(1), f(2), f(3), f(4));
        let smooth_abs =
            |b: Tensor<3>| (b.clone() * b + c.abs_smoothing.powi(2)).sqrt() - c.abs_smoothing;
        // One gather per direction: belief and posting of the source together.
        let source = edges.gather_src(Tensor::cat(vec![b.clone(), p.clone()], 1)); // [rows, 2, E]
        let (bu, pu) = (source.clone().narrow(1, 0, 1), source.narrow(1, 1, 1));
        let bw = edges.gather_dst(b.clone());
        let gap = bu - bw.clone();
        let close = crate::ops::sigmoid(
            (gap.clone() * gap.clone())
                .neg()
                .add_scalar(c.confidence.powi(2))
                * (1.0 / c.temperature),
        );
        let react = pu * (smooth_abs(bw) * 0.3 + 0.4);
        let liked = react.clone() * close.clone();
        let disliked = react - liked.clone();
        let moved = (liked.clone() * c.pull - disliked.clone() * c.push) * gap;
        let b1 = b.clone() + edges.scatter_dst(moved) * edges.inv_in_degree();
        let b2 = b1 + b * (l - q) / (v + 1.0) * c.feedback;
        let p2 = smooth_abs(b2.clone()) * 0.5 + 0.5;
        let v2 = p * edges.in_degree();
        let received = edges.scatter_src(Tensor::cat(vec![liked, disliked], 1)); // [rows, 2, n]
        let (l2, q2) = (received.clone().narrow(1, 0, 1), received.narrow(1, 1, 1));
        Tensor::cat(vec![b2, p2, v2, l2, q2], 1)
    }
}
