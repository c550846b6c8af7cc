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

use aumann_kernels::graph::par_nodes;
use aumann_kernels::sum::sum_by;

use super::graph::{Edges, Graph, barabasi_albert};
use super::host::{self, AHEAD, HostDynamics, HostGraph, Step, StepBack, StepOut, pack};
use super::{
    Held, Knobs, OnGraph, RiskOf, ScenarioConfig, ScenarioEntry, Simulated, Simulation, is_held,
    only_run, positive, refuse, risk_on_graph,
};
use aumann_engine::array::Array3;
use aumann_engine::error::Result;
use aumann_engine::indicators::Indicator;

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

impl Simulated for Social {
    type Config = SocialConfig;
    const ENTRY: &'static ScenarioEntry = &ENTRY;

    fn config(&self) -> &SocialConfig {
        &self.config
    }

    fn run(&self, config: &SocialConfig) -> Result<Simulation> {
        Ok(to_simulation(simulate(config, self.policy.as_ref())))
    }

    fn run_held(
        &self,
        config: &SocialConfig,
        run: usize,
        held: &Held,
    ) -> Result<Option<Simulation>> {
        only_run(run)?;
        let run = simulate_held(config, self.policy.as_ref(), Some(held));
        Ok(Some(to_simulation(run)))
    }

    fn risk(&self, of: RiskOf<'_>) -> Result<Box<dyn Indicator>> {
        let horizon = of.which.steps(self.config.horizon);
        risk_on_graph(of.simulation, ENTRY.name, horizon, |graph| {
            SocialRisk::new(&self.config, graph)
        })
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

/// A run's arrays in f32, as a [`Simulation`].
fn to_simulation(run: SocialRun) -> Simulation {
    let to_f32 = |a: &Array3| {
        Array3::from_f32(
            a.shape(),
            (0..a.steps())
                .flat_map(|t| a.step_f64(t))
                .map(|v| v as f32)
                .collect(),
        )
    };
    Simulation {
        features: to_f32(&run.features),
        baseline: to_f32(&run.baseline),
        graph: Some(Arc::new(run.graph)),
        context: Vec::new(),
        runs: 1,
    }
}

/// Simulate `config` with `policy`: deterministic for the seed.
pub fn simulate(config: &SocialConfig, policy: &dyn SocialPolicy) -> SocialRun {
    simulate_held(config, policy, None)
}

/// Simulate `config` with `policy` and `held` agents silent: belief 0, neither posting nor
/// reacting to posts (their draws are still made).
fn simulate_held(
    config: &SocialConfig,
    policy: &dyn SocialPolicy,
    held: Option<&Held>,
) -> SocialRun {
    let (n, d) = (config.agents, FEATURES.len());
    let graph = barabasi_albert(n, config.attach, config.seed);
    let deg = graph.in_degrees();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(aumann_engine::seed::mix(&[config.seed, 1]));
    let mut belief: Vec<f64> = (0..n).map(|_| rng.random::<f64>() - 0.5).collect();
    let mut x = Vec::with_capacity(config.steps * n * d);
    let mut base = Vec::with_capacity(config.steps * n * d);
    for t in 0..config.steps {
        let mask = Held::enter(held, t, config.seed, &mut rng);
        for (i, b) in belief.iter_mut().enumerate() {
            *b = if is_held(mask, i) { 0.0 } else { *b };
        }
        let posted: Vec<bool> = (belief.iter().enumerate())
            .map(|(i, &b)| rng.random::<f64>() < policy.post(b) && !is_held(mask, i))
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
            if rng.random::<f64>() >= policy.interact(start[w]) || is_held(mask, w) {
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

    fn host(&self) -> Option<&dyn HostDynamics> {
        Some(self)
    }

    fn risk(&self, z: &Tensor<3>, _edges: &Edges) -> Tensor<1> {
        let rows = z.dims()[0];
        let f = |k| z.clone().narrow(1, k, 1); // [rows, 1, n]
        let (b, p, v, l, q) = (f(0), f(1), f(2), f(3), f(4));
        let approval = (l.clone() + 1.0) / (l + q + 2.0);
        let s = p * b.clone() * b * (v + 1.0).log() * approval;
        let tau = self.config.temperature;
        let excess = aumann_engine::ops::mean_dim(s, 2).reshape([rows]) - self.config.threshold;
        aumann_engine::ops::softplus(excess * (1.0 / tau)) * tau
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
        let close = aumann_engine::ops::sigmoid(
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

/// One edge `u → w` of the smoothed step: what w does with u's post.
struct Reaction {
    gap: f64,
    close: f64,
    react: f64,
}

impl Reaction {
    /// The edge from u's belief and posting to w, whose belief is `bw` and whose reaction
    /// propensity is `aw = 0.3 a(b_w) + 0.4`, with the closeness `σ((ε² − gap²)/τ)` of the two
    /// beliefs given (`None`: computed).
    fn new(c: &SocialConfig, [bu, pu]: [f64; 2], [bw, aw]: [f64; 2], close: Option<f64>) -> Self {
        let gap = bu - bw;
        let close = close.unwrap_or_else(|| {
            host::sigmoid((c.confidence * c.confidence - gap * gap) / c.temperature)
        });
        Self {
            gap,
            close,
            react: pu * aw,
        }
    }

    fn liked(&self) -> f64 {
        self.react * self.close
    }

    fn disliked(&self) -> f64 {
        self.react - self.liked()
    }

    /// `w`'s belief change before the `1/deg_w`.
    fn moved(&self, c: &SocialConfig) -> f64 {
        (self.liked() * c.pull - self.disliked() * c.push) * self.gap
    }

    /// The gradients with respect to the gap `b_u − b_w` and to `react = p_u a_w` of
    /// `g_moved · moved + g_liked · liked + g_disliked · disliked`.
    fn gradient(&self, c: &SocialConfig, [g_moved, g_liked, g_disliked]: [f64; 3]) -> [f64; 2] {
        let g_l = g_liked + g_moved * c.pull * self.gap;
        let g_d = g_disliked - g_moved * c.push * self.gap;
        let g_react = g_l * self.close + g_d * (1.0 - self.close);
        let g_close = (g_l - g_d) * self.react;
        let g_gap = g_moved * (self.liked() * c.pull - self.disliked() * c.push)
            - g_close * self.close * (1.0 - self.close) * 2.0 * self.gap / c.temperature;
        [g_gap, g_react]
    }
}

/// `√(b² + δ²) − δ`.
fn smooth_abs(b: f64, delta: f64) -> f64 {
    (b * b + delta * delta).sqrt() - delta
}

/// `b / √(b² + δ²)`.
fn smooth_abs_slope(b: f64, delta: f64) -> f64 {
    b / (b * b + delta * delta).sqrt()
}

/// Agent `i`'s `[b, p, v, l, q]`.
fn agent(z: &[f64], i: usize) -> [f64; 5] {
    let a = &z[i * 5..i * 5 + 5];
    [a[0], a[1], a[2], a[3], a[4]]
}

impl SocialRisk {
    /// `0.3 a(b) + 0.4`: how readily an agent of belief `b` reacts to a post.
    fn propensity(&self, b: f64) -> f64 {
        smooth_abs(b, self.config.abs_smoothing) * 0.3 + 0.4
    }
}

impl HostDynamics for SocialRisk {
    fn features(&self) -> usize {
        FEATURES.len()
    }

    fn risk_gradient(&self, z: &[f64], grad: &mut [f64]) {
        let c = &self.config;
        let n = z.len() / 5;
        let expression = |i: usize| {
            let [b, p, v, l, q] = agent(z, i);
            p * b * b * (v + 1.0).ln() * (l + 1.0) / (l + q + 2.0)
        };
        let mean = sum_by(n, expression) / n as f64;
        let slope = host::softplus_slope(mean, c.threshold, c.temperature) / n as f64;
        par_nodes(grad, 5, |i, g| {
            let [b, p, v, l, q] = agent(z, i);
            let (ln_v, den) = ((v + 1.0).ln(), l + q + 2.0);
            let approval = (l + 1.0) / den;
            let s = p * b * b * ln_v;
            g[0] = slope * 2.0 * p * b * ln_v * approval;
            g[1] = slope * b * b * ln_v * approval;
            g[2] = slope * p * b * b / (v + 1.0) * approval;
            g[3] = slope * s * (q + 1.0) / (den * den);
            g[4] = -slope * s * (l + 1.0) / (den * den);
        });
    }

    /// One pass over every agent's neighbourhood: the closeness of each neighbour's belief
    /// (the same both ways, kept on the tape per neighbourhood slot) moves the agent's belief
    /// along the edges into it and weighs the likes and dislikes along the edges out of it.
    fn step(&self, z: &[f64], graph: &HostGraph, out: StepOut<'_>) {
        let c = &self.config;
        let StepOut {
            next,
            tape,
            scratch,
        } = out;
        pack(scratch, graph.nodes(), |i| {
            [z[i * 5], z[i * 5 + 1], self.propensity(z[i * 5])]
        });
        let near = &scratch[..];
        let hood = graph.neighbourhood();
        tape.resize(hood.csr.edges(), 0.0);
        hood.csr
            .par_nodes_and_edges(next, 5, tape, |i, out, closes| {
                hood.csr.prefetch_neighbours(i + AHEAD, near, 3);
                let [b, p, v, l, q] = agent(z, i);
                let a = near[i * 3 + 2];
                let (mut moved, mut liked, mut disliked) = (0.0, 0.0, 0.0);
                let slots = hood.csr.slots(i);
                let each = hood.csr.neighbours(i).iter().zip(&hood.counts[slots]);
                for ((&j, &[into, out_of]), close) in each.zip(closes) {
                    let j = j as usize * 3;
                    let (bj, pj, aj) = (near[j], near[j + 1], near[j + 2]);
                    let seen = Reaction::new(c, [bj, pj], [b, a], None); // j → i
                    *close = seen.close;
                    moved += f64::from(into) * seen.moved(c);
                    if out_of > 0 {
                        let shown = Reaction::new(c, [b, p], [bj, aj], Some(seen.close)); // i → j
                        liked += f64::from(out_of) * shown.liked();
                        disliked += f64::from(out_of) * shown.disliked();
                    }
                }
                let b1 = b + moved * graph.inv_in_degree[i];
                let b2 = b1 + b * (l - q) / (v + 1.0) * c.feedback;
                let p2 = smooth_abs(b2, c.abs_smoothing) * 0.5 + 0.5;
                out.copy_from_slice(&[b2, p2, p * graph.in_degree[i], liked, disliked]);
            });
    }

    fn step_gradient(&self, step: Step<'_>, graph: &HostGraph, back: StepBack<'_>) {
        let StepBack { g, grad, scratch } = back;
        let c = &self.config;
        let Step { z, next, tape } = step;
        // The gradient with respect to b'' (through b'' and through p' = ½ a(b'') + ½).
        let g_belief = |i: usize| {
            let slope = smooth_abs_slope(next[i * 5], c.abs_smoothing);
            g[i * 5] + g[i * 5 + 1] * 0.5 * slope
        };
        // What an agent's neighbours read of it: [b, p, 0.3 a(b) + 0.4, g_moved, g_likes,
        // g_dislikes], g_moved what each edge into it receives of g_belief.
        pack(scratch, graph.nodes(), |i| {
            let (b, gm) = (z[i * 5], g_belief(i) * graph.inv_in_degree[i]);
            [
                b,
                z[i * 5 + 1],
                self.propensity(b),
                gm,
                g[i * 5 + 3],
                g[i * 5 + 4],
            ]
        });
        let near = &scratch[..];
        let hood = graph.neighbourhood();
        par_nodes(grad, 5, |i, out| {
            hood.csr.prefetch_neighbours(i + AHEAD, near, 6);
            let [b, p, v, l, q] = agent(z, i);
            let [_, _, a, gm, gl, gq] = six(near, i);
            let a_slope = 0.3 * smooth_abs_slope(b, c.abs_smoothing);
            let (mut g_b, mut g_p) = (0.0, g[i * 5 + 2] * graph.in_degree[i]);
            let slots = hood.csr.slots(i);
            let each = hood
                .csr
                .neighbours(i)
                .iter()
                .zip(&hood.counts[slots.clone()]);
            for ((&j, &[into, out_of]), &close) in each.zip(&tape[slots]) {
                let [bj, pj, aj, gmj, glj, gqj] = six(near, j as usize);
                if into > 0 {
                    let seen = Reaction::new(c, [bj, pj], [b, a], Some(close)); // j → i
                    let [g_gap, g_react] = seen.gradient(c, [gm, glj, gqj]);
                    g_b += f64::from(into) * (g_react * pj * a_slope - g_gap);
                }
                if out_of > 0 {
                    let shown = Reaction::new(c, [b, p], [bj, aj], Some(close)); // i → j
                    let [g_gap, g_react] = shown.gradient(c, [gmj, gl, gq]);
                    g_b += f64::from(out_of) * g_gap;
                    g_p += f64::from(out_of) * g_react * aj;
                }
            }
            let gb = g_belief(i);
            let feedback = c.feedback / (v + 1.0);
            g_b += gb * (1.0 + feedback * (l - q));
            let g_v = -gb * feedback * b * (l - q) / (v + 1.0);
            let g_l = gb * feedback * b;
            out.copy_from_slice(&[g_b, g_p, g_v, g_l, -g_l]);
        });
    }
}

/// Entry `i` of a pack of six.
fn six(pack: &[f64], i: usize) -> [f64; 6] {
    let a = &pack[i * 6..i * 6 + 6];
    [a[0], a[1], a[2], a[3], a[4], a[5]]
}
