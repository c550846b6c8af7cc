//! The DeepSet's integrated gradient along a straight path, from its structure, on the host.
//!
//! ```text
//! ∂V/∂z_i = (1/n) J_ψ(z_i)ᵀ g,        g = ∇ρ(p̄) shared by every agent
//! p̄ = W_kᵀ ā + c_k,  ā = (1/n) Σ_i a_{k−1}(z_i)     the last layer of ψ commutes with the mean
//! u₁(α) = W₁ᵀ(b_i + α δ_i) + c₁ = A_i + α B_i          affine in α: W₁ᵀ b_i, W₁ᵀ δ_i once per agent
//! Σ_j w_j ∂V/∂z_i(α_j) = (1/n) W₁ Σ_j w_j s_ij,      s_ij = J_{σ∘…}(u₁)ᵀ (W_k g_j), an h-vector
//! ```
//!
//! Two passes over the agents for all `m` points at once: the first pools `ā(α_j)` for every
//! point (agent blocks in parallel, partial sums in f64 combined in a fixed order), then
//! `g_j = ∇ρ(p̄_j)` is `m` small backward passes through ρ, and the second accumulates each
//! agent's `Σ_j w_j s_ij` in an `h`-vector and maps it through `W₁` once. Nothing of size
//! `n × m` is held; every sum is in f64 whatever the run's precision, so an f32 run keeps its
//! efficiency gap at millions of agents.
//!
//! For a depth-2 ψ each agent-point costs one activation and its derivative per hidden unit.
//! Which of this module's routes runs is [`RayNet::integrated_gradient`]'s choice: the depth-2
//! square network's three moments, the tanh progression along each ray (f64 runs), or the
//! layered route (`deepset::layers`) for every other depth of two or more and activation, GELU
//! included (`erf` from `libm` in f64, in lanes in f32). A one-layer ψ commutes with the mean
//! and is left to autodiff ([`RayNet::new`] declines it).

use rayon::prelude::*;

use super::layers::{Buffers, Real, Stack};
use super::{Activation, DeepSet};
use crate::array::download;
use crate::indicators::HostStep;
use crate::indicators::scalar::Scalar;

/// Agents per parallel task.
const AGENTS_PER_TASK: usize = 1024;

/// A dense layer on the host: `y = Wᵀ x + c`, `W` `[inputs, outputs]` row-major.
#[derive(Clone, Debug)]
pub(super) struct Dense {
    pub(super) w: Vec<f64>,
    pub(super) c: Vec<f64>,
    pub(super) inputs: usize,
    pub(super) outputs: usize,
}

impl Dense {
    /// A layer's weights read back in f64; `None` if they cannot be.
    pub(super) fn of(l: &burn::nn::Linear) -> Option<Dense> {
        let w = l.weight.val();
        let [inputs, outputs] = w.dims();
        let c = match &l.bias {
            Some(b) => download(b.val(), "DeepSet bias").ok()?,
            None => vec![0.0; outputs],
        };
        Some(Dense {
            w: download(w, "DeepSet weight").ok()?,
            c,
            inputs,
            outputs,
        })
    }

    /// `y = Wᵀ x + c` over any [`Scalar`].
    pub(super) fn apply<S: Scalar>(&self, x: &[S]) -> Vec<S> {
        let mut y: Vec<S> = self.c.iter().map(|&c| S::constant(c)).collect();
        for (i, &xi) in x.iter().enumerate() {
            let row = &self.w[i * self.outputs..(i + 1) * self.outputs];
            for (yo, &w) in y.iter_mut().zip(row) {
                *yo = *yo + xi * w;
            }
        }
        y
    }

    fn forward(&self, x: &[f64], y: &mut [f64]) {
        y.copy_from_slice(&self.c);
        for (i, &xi) in x.iter().enumerate() {
            let row = &self.w[i * self.outputs..(i + 1) * self.outputs];
            for (yo, &w) in y.iter_mut().zip(row) {
                *yo += xi * w;
            }
        }
    }

    /// `W g`: the gradient with respect to `x` of `gᵀ y`.
    pub(super) fn backward(&self, g: &[f64], x_grad: &mut [f64]) {
        for (i, xg) in x_grad.iter_mut().enumerate() {
            let row = &self.w[i * self.outputs..(i + 1) * self.outputs];
            *xg = row.iter().zip(g).map(|(w, g)| w * g).sum();
        }
    }
}

/// `σ(u)` and `σ'(u)`.
pub(super) fn activate(activation: Activation, u: f64) -> (f64, f64) {
    match activation {
        Activation::Tanh => {
            let t = u.tanh();
            (t, 1.0 - t * t)
        }
        Activation::Softplus => {
            let s = if u > 0.0 {
                u + (-u).exp().ln_1p()
            } else {
                u.exp().ln_1p()
            };
            let e = (-u.abs()).exp();
            let slope = if u >= 0.0 {
                1.0 / (1.0 + e)
            } else {
                e / (1.0 + e)
            };
            (s, slope)
        }
        Activation::Square => (u * u, 2.0 * u),
        Activation::Gelu => {
            let cdf = 0.5 * (1.0 + libm::erf(u * std::f64::consts::FRAC_1_SQRT_2));
            let density = (-0.5 * u * u).exp()
                * (0.5 * std::f64::consts::FRAC_2_SQRT_PI)
                * std::f64::consts::FRAC_1_SQRT_2;
            (u * cdf, cdf + u * density)
        }
    }
}

/// tanh of every hidden unit of one agent along its ray, node by node, on equally spaced
/// nodes: `e^{2u}` advances by a factor per unit, so a node costs a division per unit, and the
/// loop over units vectorises. Units whose `e^{2u}` would leave the floating-point range
/// along the ray are listed in `exact`; they read `t = 0` here and their caller adds the
/// library's `tanh`.
#[derive(Default)]
struct TanhRay {
    e: Vec<f64>,
    ratio: Vec<f64>,
    exact: Vec<usize>,
}

impl TanhRay {
    /// Start at the first node: `u_q = a_q + α b_q`.
    fn start(&mut self, [a, b]: [&[f64]; 2], nodes: &[f64], dx: f64) {
        let h = a.len();
        self.e.resize(h, 0.0);
        self.ratio.resize(h, 0.0);
        self.exact.clear();
        let steps = (nodes.len() - 1) as f64;
        for q in 0..h {
            let (u0, du) = (a[q] + nodes[0] * b[q], dx * b[q]);
            if u0.abs().max((u0 + du * steps).abs()) < 300.0 {
                (self.e[q], self.ratio[q]) = ((2.0 * u0).exp(), (2.0 * du).exp());
            } else {
                (self.e[q], self.ratio[q]) = (1.0, 1.0);
                self.exact.push(q);
            }
        }
    }

    /// `tanh(u_q)` at the current node into `t`, then on to the next node.
    fn next(&mut self, t: &mut [f64]) {
        for ((t, e), r) in t.iter_mut().zip(&mut self.e).zip(&self.ratio) {
            *t = 1.0 - 2.0 / (*e + 1.0);
            *e *= r;
        }
    }
}

/// The common spacing of `nodes`, if they are equally spaced.
fn spacing(nodes: &[f64]) -> Option<f64> {
    let dx = match nodes {
        [a, b, ..] => b - a,
        _ => return Some(0.0),
    };
    nodes
        .windows(2)
        .all(|w| ((w[1] - w[0]) - dx).abs() <= 1e-12)
        .then_some(dx)
}

/// A DeepSet's weights on the host, in f64.
#[derive(Clone, Debug)]
pub struct RayNet {
    psi: Vec<Dense>,
    rho: Vec<Dense>,
    activation: Activation,
    /// Memory for the layered route's kept slopes ([`DeepSet::kept_bytes`]).
    kept_bytes: usize,
    /// The layered route's buffers (kept slopes, working memory, partial sums, staged
    /// gradients), refilled from one group of points and one step to the next.
    buffers: super::layers::BufferCache,
}

impl RayNet {
    /// The network's weights read back; `None` for a one-layer ψ, or if a weight cannot be
    /// read.
    pub fn new(net: &DeepSet) -> Option<Self> {
        if net.psi.len() < 2 {
            // A one-layer ψ commutes with the mean: V is ρ of an affine map of the mean
            // features, which the autodiff route differentiates in one small graph.
            return None;
        }
        let dense = Dense::of;
        Some(Self {
            psi: net.psi.iter().map(dense).collect::<Option<_>>()?,
            rho: net.rho.iter().map(dense).collect::<Option<_>>()?,
            activation: net.activation,
            kept_bytes: net.kept_bytes,
            buffers: Default::default(),
        })
    }

    /// Features per agent `d`, the first layer's inputs.
    pub fn inputs(&self) -> usize {
        self.psi[0].inputs
    }

    /// `∇ρ(p)`.
    fn rho_gradient(&self, p: &[f64]) -> Vec<f64> {
        // Forward, keeping every layer's input and pre-activation.
        let mut inputs = vec![p.to_vec()];
        let mut slopes = Vec::new();
        for (l, layer) in self.rho.iter().enumerate() {
            let mut u = vec![0.0; layer.outputs];
            layer.forward(&inputs[l], &mut u);
            if l + 1 < self.rho.len() {
                let (a, s): (Vec<f64>, Vec<f64>) =
                    u.iter().map(|&u| activate(self.activation, u)).unzip();
                slopes.push(s);
                inputs.push(a);
            }
        }
        let mut g = vec![1.0];
        for (l, layer) in self.rho.iter().enumerate().rev() {
            let mut below = vec![0.0; layer.inputs];
            layer.backward(&g, &mut below);
            if l > 0 {
                for (b, s) in below.iter_mut().zip(&slopes[l - 1]) {
                    *b *= s;
                }
            }
            g = below;
        }
        g
    }

    /// `V(z)` of one population `z` (`[d, n]`, agents last), pooling in f64 agent block by
    /// agent block: memory `O(h)` per block whatever `n`.
    pub fn value(&self, z: &[f64], n: usize) -> f64 {
        self.value_at(RayEnds::AgentsLast([z, z]), n, 0.0)
    }

    /// `V` of the population at `α` on the rays `ends` of `n` agents.
    pub fn value_at(&self, ends: RayEnds, n: usize, alpha: f64) -> f64 {
        let rays = Rays {
            first: &self.psi[0],
            ends,
            n,
        };
        let sums = Stack::<f64>::new(&self.psi, self.activation, rays, &[alpha], Vec::new())
            .pool(false, &mut Buffers::default());
        self.readout_of_sums(&sums, n)
    }

    /// `ρ(W_k ā + c_k)` from the pooled sums `Σ_i a_{k−1}` of `n` agents.
    pub(super) fn readout_of_sums(&self, sums: &[f64], n: usize) -> f64 {
        let last = &self.psi[self.psi.len() - 1];
        let mean: Vec<f64> = sums.iter().map(|s| s / n as f64).collect();
        let mut p = vec![0.0; last.outputs];
        last.forward(&mean, &mut p);
        self.rho_value(&p)
    }

    /// `ρ(p)`.
    fn rho_value(&self, p: &[f64]) -> f64 {
        let mut a = p.to_vec();
        for (l, layer) in self.rho.iter().enumerate() {
            let mut u = vec![0.0; layer.outputs];
            layer.forward(&a, &mut u);
            a = if l + 1 < self.rho.len() {
                u.iter().map(|&u| activate(self.activation, u).0).collect()
            } else {
                u
            };
        }
        a[0]
    }

    /// `g'_j = w_j W_k ∇ρ(p̄_j) / n` of every point `j`, from the pooled sums `Σ_i a_{k−1}`
    /// (`m × h`): the vector every agent's backward pass at point `j` starts from.
    pub(super) fn shared_vectors(
        &self,
        pooled: &[f64],
        n: usize,
        weights: &[f64],
    ) -> Vec<Vec<f64>> {
        let last = &self.psi[self.psi.len() - 1];
        let h = last.inputs;
        pooled
            .chunks_exact(h)
            .zip(weights)
            .map(|(sums, w)| {
                let mean: Vec<f64> = sums.iter().map(|s| s / n as f64).collect();
                let mut p = vec![0.0; last.outputs];
                last.forward(&mean, &mut p);
                let g = self.rho_gradient(&p);
                let mut gk = vec![0.0; h];
                last.backward(&g, &mut gk);
                gk.iter().map(|v| v * w / n as f64).collect()
            })
            .collect()
    }

    /// A depth-2 ψ with the square activation: `σ(A + αB) = A² + 2αAB + α²B²` is a quadratic
    /// in α, so an agent adds three h-vectors to the pool of every point at once, and its
    /// weighted gradient is `2 W₁ (A ⊙ Σ_j g'_j + B ⊙ Σ_j α_j g'_j)`: `O(h)` per agent,
    /// whatever `m`.
    fn square_ray(&self, rays: &Rays, [nodes, weights]: [&[f64]; 2], out: &mut Out) {
        let first = &self.psi[0];
        let (d, h, n) = (first.inputs, first.outputs, rays.n);
        let blocks: Vec<Vec<f64>> = (0..n.div_ceil(AGENTS_PER_TASK))
            .into_par_iter()
            .map(|blk| {
                let mut moments = vec![0.0; 3 * h]; // Σ A², Σ AB, Σ B²
                let (mut a, mut bv) = (vec![0.0; h], vec![0.0; h]);
                for i in blk * AGENTS_PER_TASK..n.min((blk + 1) * AGENTS_PER_TASK) {
                    rays.at(i, &mut a, &mut bv);
                    for q in 0..h {
                        moments[q] += a[q] * a[q];
                        moments[h + q] += a[q] * bv[q];
                        moments[2 * h + q] += bv[q] * bv[q];
                    }
                }
                moments
            })
            .collect();
        let mut moments = vec![0.0; 3 * h];
        for blk in &blocks {
            for (m, s) in moments.iter_mut().zip(blk) {
                *m += s;
            }
        }
        let pooled: Vec<f64> = nodes
            .iter()
            .flat_map(|&alpha| {
                let moments = &moments;
                (0..h).map(move |q| {
                    moments[q] + 2.0 * alpha * moments[h + q] + alpha * alpha * moments[2 * h + q]
                })
            })
            .collect();
        let shared = self.shared_vectors(&pooled, n, weights);
        let (mut g0, mut g1) = (vec![0.0; h], vec![0.0; h]);
        for (g, &alpha) in shared.iter().zip(nodes) {
            for q in 0..h {
                g0[q] += g[q];
                g1[q] += alpha * g[q];
            }
        }
        out.each_task(rays, AGENTS_PER_TASK, |blk, rows| {
            let (mut acc, mut a, mut bv) = (vec![0.0; h], vec![0.0; h], vec![0.0; h]);
            for (r, grad) in rows.chunks_exact_mut(d).enumerate() {
                rays.at(blk * AGENTS_PER_TASK + r, &mut a, &mut bv);
                for q in 0..h {
                    acc[q] = 2.0 * (a[q] * g0[q] + bv[q] * g1[q]);
                }
                first.backward(&acc, grad);
            }
        });
    }

    /// `Σ_j w_j ∇V(b + α_j (x − b))` of one population: `x`, `b` `[d, n]` (agents last),
    /// returned `[d, n]`. `lanes` is the precision of the per agent-point work of the
    /// layered route (`deepset::layers`); sums across agents and points are f64 either way.
    pub fn integrated_gradient(
        &self,
        [x, b]: [&[f64]; 2],
        n: usize,
        path: [&[f64]; 2],
        lanes: Lanes,
    ) -> Vec<f64> {
        let d = self.psi[0].inputs;
        let mut per_agent = vec![0.0; n * d];
        let ends = RayEnds::AgentsLast([x, b]);
        self.integrate(ends, n, path, lanes, &mut Out::Gradients(&mut per_agent));
        crate::array::transpose(&per_agent, 1, n, d, |v| v)
    }

    /// Every agent's attribution `φ_i = Σ_k δ_ik Σ_j w_j ∂V/∂z_ik(b + α_j δ)` into `phi`
    /// (`n` values), the rays' ends read as `ends` holds them; as
    /// [`RayNet::integrated_gradient`] otherwise.
    pub fn attribute(
        &self,
        ends: RayEnds,
        n: usize,
        path: [&[f64]; 2],
        lanes: Lanes,
        phi: &mut [f64],
    ) {
        self.integrate(ends, n, path, lanes, &mut Out::Attributions(phi));
    }

    /// The integrated gradients of the `n` agents on the rays `ends`, into `out`.
    fn integrate(
        &self,
        ends: RayEnds,
        n: usize,
        [nodes, weights]: [&[f64]; 2],
        lanes: Lanes,
        out: &mut Out,
    ) {
        let first = &self.psi[0];
        let (d, h1) = (first.inputs, first.outputs);
        let last = &self.psi[self.psi.len() - 1];
        let h = last.inputs;
        let m = nodes.len();
        let rays = Rays { first, ends, n };
        let path = Nodes {
            nodes,
            even: spacing(nodes),
        };
        match self.route(&path, lanes) {
            Route::SquareRay => return self.square_ray(&rays, [nodes, weights], out),
            Route::Layers => {
                return match lanes {
                    Lanes::F32 => self.layered::<f32>(rays, [nodes, weights], out),
                    Lanes::F64 => self.layered::<f64>(rays, [nodes, weights], out),
                };
            }
            Route::Rays => {}
        }
        // Pass 1: ā(α_j) for every point, block sums combined in block order.
        let blocks: Vec<Vec<f64>> = (0..n.div_ceil(AGENTS_PER_TASK))
            .into_par_iter()
            .map(|blk| {
                let (mut sums, mut scratch) = (vec![0.0; m * h], Scratch::new(h1));
                let (mut a, mut bv) = (vec![0.0; h1], vec![0.0; h1]);
                for i in blk * AGENTS_PER_TASK..n.min((blk + 1) * AGENTS_PER_TASK) {
                    rays.at(i, &mut a, &mut bv);
                    self.pool_agent([&a, &bv], &path, &mut scratch, &mut sums);
                }
                sums
            })
            .collect();
        let mut pooled = vec![0.0; m * h];
        for blk in &blocks {
            for (p, s) in pooled.iter_mut().zip(blk) {
                *p += s;
            }
        }
        let shared = self.shared_vectors(&pooled, n, weights);
        // Pass 2: each agent's Σ_j w_j s_ij, through W₁ once.
        out.each_task(&rays, AGENTS_PER_TASK, |blk, rows| {
            let (mut acc, mut scratch) = (vec![0.0; h1], Scratch::new(h1));
            let (mut a, mut bv) = (vec![0.0; h1], vec![0.0; h1]);
            for (r, grad) in rows.chunks_exact_mut(d).enumerate() {
                rays.at(blk * AGENTS_PER_TASK + r, &mut a, &mut bv);
                self.agent_gradient([&a, &bv], &path, &shared, &mut scratch, &mut acc);
                first.backward(&acc, grad);
            }
        });
    }
}

/// The precision of the layered route's per agent-point work.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lanes {
    /// f32, eight lanes per instruction with AVX.
    F32,
    /// f64.
    F64,
}

/// How [`RayNet::integrated_gradient`] runs.
enum Route {
    /// Depth 2, square: three moments per agent whatever `m`.
    SquareRay,
    /// Agent by agent along the ray (depth-2 tanh in f64 on equally spaced nodes).
    Rays,
    /// Blocks of agent-points through the hidden layers ([`super::layers`]).
    Layers,
}

impl RayNet {
    /// The fastest route measured: f32 lanes beat the f64 tanh progression at depth 2.
    fn route(&self, path: &Nodes, lanes: Lanes) -> Route {
        match (self.psi.len(), self.activation) {
            (2, Activation::Square) => Route::SquareRay,
            (2, Activation::Tanh) if path.even.is_some() && lanes == Lanes::F64 => Route::Rays,
            _ => Route::Layers,
        }
    }

    /// The two passes of [`super::layers`] around `g'_j`, in precision `T`. With hidden
    /// layers between the first and the last, the points go in groups whose slopes above the
    /// first level fit in [`DeepSet::kept_bytes`]: the pooling pass keeps them and the gradient pass
    /// skips its forward matrix products.
    fn layered<T: Real>(&self, rays: Rays, [nodes, weights]: [&[f64]; 2], out: &mut Out) {
        let (n, d) = (rays.n, rays.first.inputs);
        let kept_per_point: usize = self.psi[1..self.psi.len() - 1]
            .iter()
            .map(|l| l.outputs * n * std::mem::size_of::<T>())
            .sum();
        // Slopes are kept for as many points as fit; where not one point's fit (a population
        // of tens of millions), none are, and the gradient pass redoes the forward products.
        let keep = kept_per_point > 0 && kept_per_point <= self.kept_bytes;
        let group = match keep {
            false => nodes.len().max(1),
            true => (self.kept_bytes / kept_per_point).clamp(1, nodes.len().max(1)),
        };
        let mut buffers = self.buffers.take::<T>();
        if let (Out::Attributions(_), true) = (&out, group < nodes.len()) {
            // Several groups add to each agent's gradient before it is attributed.
            let mut g = std::mem::take(&mut buffers.staged);
            g.clear();
            g.resize(n * d, 0.0);
            let staged = &mut Out::Gradients(&mut g);
            self.layered_groups::<T>(rays, [nodes, weights], (group, keep), staged, &mut buffers);
            let per = AGENTS_PER_TASK;
            out.each_task(&rays, per, |t, rows| {
                rows.copy_from_slice(&g[t * per * d..][..rows.len()])
            });
            buffers.staged = g;
        } else {
            self.layered_groups::<T>(rays, [nodes, weights], (group, keep), out, &mut buffers);
        }
        self.buffers.put(buffers);
    }

    /// [`RayNet::layered`]'s passes, `group` points at a time, keeping the slopes or not.
    fn layered_groups<T: Real>(
        &self,
        rays: Rays,
        [nodes, weights]: [&[f64]; 2],
        (group, keep): (usize, bool),
        out: &mut Out,
        buffers: &mut Buffers<T>,
    ) {
        for (nodes, weights) in nodes.chunks(group).zip(weights.chunks(group)) {
            let works = std::mem::take(&mut buffers.works);
            let stack = Stack::<T>::new(&self.psi, self.activation, rays, nodes, works);
            let pooled = stack.pool(keep, buffers);
            let shared: Vec<f64> = self.shared_vectors(&pooled, rays.n, weights).concat();
            let kept: &[_] = if keep { &buffers.kept } else { &[] };
            stack.add_gradients(&shared, kept, out);
            buffers.works = stack.into_spare();
        }
    }
}

/// Every agent's first pre-activation along its ray, `u₁(α) = A + α B`, from its ends.
#[derive(Clone, Copy)]
pub(super) struct Rays<'a> {
    pub(super) first: &'a Dense,
    pub(super) ends: RayEnds<'a>,
    pub(super) n: usize,
}

/// Where the rays' ends `x` and `b` are read from.
#[derive(Clone, Copy)]
pub enum RayEnds<'a> {
    /// `x` and `b`, `[d, n]` (agents last).
    AgentsLast([&'a [f64]; 2]),
    /// A step as stored.
    Stored(HostStep<'a>),
}

impl Rays<'_> {
    /// Coordinate `k` of agent `i`'s ends, `(x, b)`.
    #[inline(always)]
    fn ends_at(&self, i: usize, k: usize) -> (f64, f64) {
        match self.ends {
            RayEnds::AgentsLast([x, b]) => (x[k * self.n + i], b[k * self.n + i]),
            RayEnds::Stored(step) => step.at(i, k),
        }
    }

    /// Agent `i`'s `A = W₁ᵀ b_i + c₁` and `B = W₁ᵀ (x_i − b_i)`, into `a` and `slope`.
    pub(super) fn at(&self, i: usize, a: &mut [f64], slope: &mut [f64]) {
        let outputs = self.first.outputs;
        a.copy_from_slice(&self.first.c);
        slope.fill(0.0);
        for k in 0..self.first.inputs {
            let (xk, bk) = self.ends_at(i, k);
            let row = &self.first.w[k * outputs..(k + 1) * outputs];
            for ((a, s), w) in a.iter_mut().zip(slope.iter_mut()).zip(row) {
                *a += bk * w;
                *s += (xk - bk) * w;
            }
        }
    }

    /// `Σ_k (x_ik − b_ik) g_k`: agent `i`'s attribution from its integrated gradient `g`.
    fn attribution(&self, i: usize, g: &[f64]) -> f64 {
        (g.iter().enumerate())
            .map(|(k, g)| {
                let (x, b) = self.ends_at(i, k);
                (x - b) * g
            })
            .sum()
    }
}

/// Where the per-agent passes put each agent's integrated gradient.
pub(super) enum Out<'a> {
    /// The gradients, `[n, d]` (agent-major), added to.
    Gradients(&'a mut [f64]),
    /// Each agent's attribution `Σ_k δ_ik g_ik`, `[n]`.
    Attributions(&'a mut [f64]),
}

impl Out<'_> {
    /// `task(t, rows)` for every parallel task `t` of `per_task` agents, in parallel: `rows`
    /// (`[agents, d]`) starts as the task's part of the gradients, or zeros, and is added to;
    /// then it is delivered.
    pub(super) fn each_task(
        &mut self,
        rays: &Rays,
        per_task: usize,
        task: impl Fn(usize, &mut [f64]) + Sync,
    ) {
        let d = rays.first.inputs;
        match self {
            Out::Gradients(g) => g
                .par_chunks_mut(d * per_task)
                .enumerate()
                .for_each(|(t, rows)| task(t, rows)),
            Out::Attributions(phi) => {
                phi.par_chunks_mut(per_task)
                    .enumerate()
                    .for_each(|(t, phi)| {
                        let mut rows = vec![0.0; phi.len() * d];
                        task(t, &mut rows);
                        for (r, (phi, g)) in phi.iter_mut().zip(rows.chunks_exact(d)).enumerate() {
                            *phi = rays.attribution(t * per_task + r, g);
                        }
                    })
            }
        }
    }
}

/// The quadrature nodes, and their spacing if equal.
struct Nodes<'a> {
    nodes: &'a [f64],
    even: Option<f64>,
}

/// One task's working memory for the per-agent passes.
struct Scratch {
    tanh_ray: TanhRay,
    t: Vec<f64>,
}

impl Scratch {
    fn new(h: usize) -> Self {
        Self {
            tanh_ray: TanhRay::default(),
            t: vec![0.0; h],
        }
    }
}

impl RayNet {
    /// Whether tanh along the ray can advance node by node for all units at once.
    fn tanh_progression(&self, path: &Nodes) -> Option<f64> {
        (self.psi.len() == 2 && self.activation == Activation::Tanh)
            .then_some(path.even)
            .flatten()
    }

    /// Add one agent's `a_{k−1}(u₁(α_j))` to `sums[j·h ..]` for every node `j`.
    fn pool_agent(&self, [a, bv]: [&[f64]; 2], path: &Nodes, s: &mut Scratch, sums: &mut [f64]) {
        let h = self.psi[self.psi.len() - 1].inputs;
        if let Some(dx) = self.tanh_progression(path) {
            s.tanh_ray.start([a, bv], path.nodes, dx);
            for (j, &alpha) in path.nodes.iter().enumerate() {
                s.tanh_ray.next(&mut s.t);
                let sum = &mut sums[j * h..(j + 1) * h];
                for (acc, t) in sum.iter_mut().zip(&s.t) {
                    *acc += t;
                }
                for &q in &s.tanh_ray.exact {
                    sum[q] += (a[q] + alpha * bv[q]).tanh();
                }
            }
        }
    }

    /// One agent's `Σ_j w_j s_ij` (the gradient with respect to `u₁`, weighted) into `acc`.
    fn agent_gradient(
        &self,
        [a, bv]: [&[f64]; 2],
        path: &Nodes,
        shared: &[Vec<f64>],
        s: &mut Scratch,
        acc: &mut [f64],
    ) {
        acc.iter_mut().for_each(|v| *v = 0.0);
        if let Some(dx) = self.tanh_progression(path) {
            s.tanh_ray.start([a, bv], path.nodes, dx);
            for (j, &alpha) in path.nodes.iter().enumerate() {
                s.tanh_ray.next(&mut s.t);
                let g = &shared[j];
                for ((ac, t), g) in acc.iter_mut().zip(&s.t).zip(g) {
                    *ac += (1.0 - t * t) * g;
                }
                // Those units read t = 0 (slope 1): replace it by the true slope.
                for &q in &s.tanh_ray.exact {
                    let tq = (a[q] + alpha * bv[q]).tanh();
                    acc[q] += (1.0 - tq * tq - 1.0) * g[q];
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tanh_along_a_ray_follows_the_library_and_hands_over_out_of_range_units() {
        let m = 32;
        let nodes: Vec<f64> = (0..m).map(|j| (j as f64 + 0.5) / m as f64).collect();
        // Units: ordinary, steep, and one whose e^{2u} would overflow along the ray.
        let (a, b) = ([0.3, -2.0, -200.0], [-1.1, 9.0, 900.0]);
        let mut ray = TanhRay::default();
        ray.start([&a, &b], &nodes, 1.0 / m as f64);
        assert_eq!(ray.exact, vec![2]);
        let mut t = vec![0.0; 3];
        for &alpha in &nodes {
            ray.next(&mut t);
            for q in 0..2 {
                let want = (a[q] + alpha * b[q]).tanh();
                assert!(
                    (t[q] - want).abs() < 1e-14,
                    "unit {q} at {alpha}: {} vs {want}",
                    t[q]
                );
            }
            assert_eq!(t[2], 0.0, "handed over: the caller adds the library's tanh");
        }
        assert_eq!(spacing(&nodes), Some(1.0 / m as f64));
        assert_eq!(spacing(&[0.1, 0.2, 0.5]), None);
    }
}
