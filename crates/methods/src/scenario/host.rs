//! The graph scenarios' gradients on the host: hand-written forward and reverse passes of the
//! smoothed dynamics on plain slices, node-parallel over grouped edge lists.
//!
//! ```text
//! z_0 = z,   z_{k+1} = F(z_k)                 forward, every state kept (H + 1 of them)
//! ḡ_H = ∇R(z_H),   ḡ_k = J_F(z_k)ᵀ ḡ_{k+1}     reverse, one vector–Jacobian product per step
//! ∂V^H/∂z = ḡ_0
//! ```
//!
//! Every edge term of `F` and of its vector–Jacobian product is a sum over a node's in-edges,
//! its out-edges ([`Csr`]) or both ([`Neighbourhood`]), so each node computes its own output
//! from its neighbours' records: no atomics, the same bits on any thread count. What is costly
//! per edge (a sigmoid) is computed once in the forward pass and kept on the step's tape for
//! the reverse pass.
//!
//! Such passes are bound by the random reads of the neighbours' records, not by arithmetic:
//! each pass packs what a neighbour reads of an agent into one record (one cache line),
//! prefetches the records of the agents a few places ahead of the one it works on, and reuses
//! its buffers from call to call ([`Workspace`]; fresh memory costs a page fault per page).
//! burn's autodiff of the same dynamics ([`OnGraph`](super::OnGraph)) makes a tensor operation
//! and an edge-sized buffer per term and per backward; at 10⁶ agents the host passes are 3–5×
//! faster, and the tensor program remains the reference they are tested against.
//!
//! The host path computes in f64 whatever the run's precision (the state is widened on the way
//! in, the gradient rounded on the way out) and serves the CPU backends; on a GPU the engine
//! differentiates the tensor program.
//!
//! States are agent-major `[n, d]` slices (agent `i`, feature `k` at `i·d + k`).

use std::sync::{Mutex, OnceLock};

use aumann_kernels::Real;
use aumann_kernels::graph::{Csr, Neighbourhood, par_nodes};
use burn::tensor::{DType, Tensor, TensorData};
use rayon::prelude::*;

use super::graph::Graph;

/// A graph grouped by node for the host passes, each grouping built on first use (a scenario
/// reads only the ones its dynamics need).
#[derive(Debug)]
pub struct HostGraph {
    n: usize,
    src: Vec<u32>,
    dst: Vec<u32>,
    sources: OnceLock<Csr>,
    destinations: OnceLock<Csr>,
    neighbourhood: OnceLock<Neighbourhood>,
    /// In-degree of every node.
    pub in_degree: Vec<f64>,
    /// `1 / max(in-degree, 1)` of every node.
    pub inv_in_degree: Vec<f64>,
}

impl HostGraph {
    /// The edges of `graph`, to be grouped.
    pub fn new(graph: &Graph) -> Self {
        let in_degree = graph.in_degrees();
        let inv_in_degree = in_degree.iter().map(|&d| 1.0 / d.max(1.0)).collect();
        Self {
            n: graph.n,
            src: graph.edges.iter().map(|e| e[0]).collect(),
            dst: graph.edges.iter().map(|e| e[1]).collect(),
            sources: OnceLock::new(),
            destinations: OnceLock::new(),
            neighbourhood: OnceLock::new(),
            in_degree,
            inv_in_degree,
        }
    }

    /// For every node `w`, the sources `u` of its in-edges `u → w`.
    pub fn sources(&self) -> &Csr {
        self.sources
            .get_or_init(|| Csr::group(self.n, &self.dst, &self.src))
    }

    /// For every node `u`, the destinations `w` of its out-edges `u → w`.
    pub fn destinations(&self) -> &Csr {
        self.destinations
            .get_or_init(|| Csr::group(self.n, &self.src, &self.dst))
    }

    /// Every node's neighbours either way, each once, with the edge counts per direction.
    pub fn neighbourhood(&self) -> &Neighbourhood {
        self.neighbourhood
            .get_or_init(|| Neighbourhood::new(self.n, &self.src, &self.dst))
    }

    /// Number of nodes.
    pub fn nodes(&self) -> usize {
        self.in_degree.len()
    }
}

/// A graph scenario's risk and smoothed dynamics with their derivatives, on `[n, d]` slices:
/// the same functions as its [`OnGraph`](super::OnGraph) tensor program.
///
/// `scratch` buffers are the caller's, kept between calls (resize them, never rely on their
/// contents): fresh memory of the size of a population costs a page fault per page.
pub trait HostDynamics: Send + Sync {
    /// Features per agent `d`.
    fn features(&self) -> usize;

    /// `∇R(z)` into `grad` (overwritten).
    fn risk_gradient(&self, z: &[f64], grad: &mut [f64]);

    /// One step `F(z)` into `out.next` (overwritten), leaving in `out.tape` whatever the
    /// step's gradient will read again (per-edge terms, say) instead of recomputing it.
    fn step(&self, z: &[f64], graph: &HostGraph, out: StepOut<'_>);

    /// `J_F(z)ᵀ g` into `back.grad` (overwritten): `g = back.g` the gradient with respect to
    /// `step.next`.
    fn step_gradient(&self, step: Step<'_>, graph: &HostGraph, back: StepBack<'_>);
}

/// What a step's gradient reads and where it writes.
#[derive(Debug)]
pub struct StepBack<'a> {
    /// The gradient with respect to the state after, `[n, d]`.
    pub g: &'a [f64],
    /// The gradient with respect to the state before, `[n, d]` (overwritten).
    pub grad: &'a mut [f64],
    /// Working memory.
    pub scratch: &'a mut Vec<f64>,
}

/// Where a step writes.
#[derive(Debug)]
pub struct StepOut<'a> {
    /// The state after, `[n, d]`.
    pub next: &'a mut [f64],
    /// Kept for the step's gradient.
    pub tape: &'a mut Vec<f64>,
    /// Working memory.
    pub scratch: &'a mut Vec<f64>,
}

/// One step of a forward pass, as its gradient sees it.
#[derive(Clone, Copy, Debug)]
pub struct Step<'a> {
    /// The state before, `[n, d]`.
    pub z: &'a [f64],
    /// The state after, `F(z)`.
    pub next: &'a [f64],
    /// What [`HostDynamics::step`] left for the gradient.
    pub tape: &'a [f64],
}

/// The memory of one rollout gradient, reused from call to call.
#[derive(Debug, Default)]
pub struct Workspace {
    /// `z_0 … z_H`.
    states: Vec<Vec<f64>>,
    tapes: Vec<Vec<f64>>,
    grad: Vec<f64>,
    below: Vec<f64>,
    scratch: Vec<f64>,
}

impl Workspace {
    /// `∂R(F^H(z))/∂z` of one population, `[n, d]`; `z` is `states[0]`, set by the caller.
    fn rollout_gradient(
        &mut self,
        dynamics: &dyn HostDynamics,
        graph: &HostGraph,
        horizon: usize,
    ) -> &[f64] {
        let len = self.states[0].len();
        self.states.resize_with(horizon + 1, Vec::new);
        self.tapes.resize_with(horizon, Vec::new);
        for k in 0..horizon {
            let (done, ahead) = self.states.split_at_mut(k + 1);
            ahead[0].resize(len, 0.0);
            let out = StepOut {
                next: &mut ahead[0],
                tape: &mut self.tapes[k],
                scratch: &mut self.scratch,
            };
            dynamics.step(&done[k], graph, out);
        }
        self.grad.resize(len, 0.0);
        self.below.resize(len, 0.0);
        dynamics.risk_gradient(&self.states[horizon], &mut self.grad);
        for k in (0..horizon).rev() {
            let step = Step {
                z: &self.states[k],
                next: &self.states[k + 1],
                tape: &self.tapes[k],
            };
            let back = StepBack {
                g: &self.grad,
                grad: &mut self.below,
                scratch: &mut self.scratch,
            };
            dynamics.step_gradient(step, graph, back);
            std::mem::swap(&mut self.grad, &mut self.below);
        }
        &self.grad
    }
}

/// How many agents ahead a pass over neighbourhoods prefetches the neighbours' records
/// ([`Csr::prefetch_neighbours`]): far enough for the loads to land before the pass gets there,
/// near enough for them to still be in cache.
pub(crate) const AHEAD: usize = 4;

/// `n` records of `K` values, `f(i)` for agent `i`, into `buffer` (resized): what an agent's
/// neighbours read of it, packed so that an edge costs one cache line.
pub(crate) fn pack<const K: usize>(
    buffer: &mut Vec<f64>,
    n: usize,
    f: impl Fn(usize) -> [f64; K] + Sync + Send,
) {
    buffer.resize(n * K, 0.0);
    par_nodes(buffer, K, |i, o| o.copy_from_slice(&f(i)));
}

/// `σ(u)` in f64.
pub(crate) fn sigmoid(u: f64) -> f64 {
    if u >= 0.0 {
        1.0 / (1.0 + (-u).exp())
    } else {
        let e = u.exp();
        e / (1.0 + e)
    }
}

/// `τ softplus((s − θ)/τ)` has derivative `σ((s − θ)/τ)` in `s`.
pub(crate) fn softplus_slope(s: f64, threshold: f64, temperature: f64) -> f64 {
    sigmoid((s - threshold) / temperature)
}

/// `∂(Σ_rows R(F^H(z_row)))/∂z` of a `[rows, d, n]` tensor, rows in parallel, as a tensor of
/// `z`'s shape, dtype and device; `None` if `z` cannot be read back or is neither f32 nor f64.
pub(crate) fn gradient(
    dynamics: &dyn HostDynamics,
    graph: &HostGraph,
    horizon: usize,
    z: &Tensor<3>,
    pool: &Mutex<Vec<Workspace>>,
) -> Option<Tensor<3>> {
    let [rows, d, n] = z.dims();
    if d != dynamics.features() || n != graph.nodes() {
        return None;
    }
    let data = z.clone().into_data();
    let rollout = Rollout {
        dynamics,
        graph,
        horizon,
        pool,
        shape: [d, n],
    };
    // Read and write in the tensor's own precision: no f64 copy of an f32 tensor either way.
    let out = match z.dtype() {
        DType::F32 => TensorData::new(rollout.run(data.as_slice::<f32>().ok()?), [rows, d, n]),
        DType::F64 => TensorData::new(rollout.run(data.as_slice::<f64>().ok()?), [rows, d, n]),
        _ => return None,
    };
    Some(Tensor::<3>::from_data(out, (&z.device(), z.dtype())))
}

/// The rollout gradients of a tensor's rows.
struct Rollout<'a> {
    dynamics: &'a dyn HostDynamics,
    graph: &'a HostGraph,
    horizon: usize,
    pool: &'a Mutex<Vec<Workspace>>,
    /// `[d, n]` of a row.
    shape: [usize; 2],
}

impl Rollout<'_> {
    /// The gradient of every `[d, n]` row of `values`, in the same layout and precision.
    fn run<T: Real + Default + FromF64>(&self, values: &[T]) -> Vec<T> {
        let [d, n] = self.shape;
        let mut out = vec![T::default(); values.len()];
        out.par_chunks_exact_mut(d * n)
            .zip(values.par_chunks_exact(d * n))
            .for_each(|(grad, row)| {
                let take = self.pool.lock().ok().and_then(|mut p| p.pop());
                let mut work = take.unwrap_or_default();
                work.states.resize_with(1, Vec::new);
                let z = &mut work.states[0];
                z.resize(d * n, 0.0);
                for (k, feature) in row.chunks_exact(n).enumerate() {
                    for (i, &v) in feature.iter().enumerate() {
                        z[i * d + k] = v.into();
                    }
                }
                let g = work.rollout_gradient(self.dynamics, self.graph, self.horizon);
                for (k, feature) in grad.chunks_exact_mut(n).enumerate() {
                    for (i, v) in feature.iter_mut().enumerate() {
                        *v = T::from_f64(g[i * d + k]);
                    }
                }
                if let Ok(mut p) = self.pool.lock() {
                    p.push(work);
                }
            });
        out
    }
}

/// Rounding from `f64`.
trait FromF64 {
    fn from_f64(v: f64) -> Self;
}

impl FromF64 for f32 {
    fn from_f64(v: f64) -> Self {
        v as f32
    }
}

impl FromF64 for f64 {
    fn from_f64(v: f64) -> Self {
        v
    }
}
