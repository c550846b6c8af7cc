//! Pooled indicators written as plain Rust functions: ψ and ρ once, over any [`Scalar`],
//! compiled to native code and differentiated exactly by dual numbers.
//!
//! ```text
//! V(z) = ρ(p̄),   p̄ = (1/n) Σ_i ψ(z_i)
//! Σ_j w_j ∂V/∂z_i(α_j) = Σ_j J_ψ(z_i(α_j))ᵀ g_j,     g_j = w_j ∇ρ(p̄(α_j)) / n
//! J_ψ(z) column by column: ψ on Dual<Pack<4>, 4> inputs, 4 agents × 4 coordinates at once
//! ```
//!
//! The same three passes as [`super::pooled`] (pool, `∇ρ` per point, pull back), on the host
//! in f64 whatever the run's precision or backend: ψ runs on [`Pack`]s of 4 agents, so each
//! operation of the user's function is a vector instruction over agents, and its Jacobian
//! comes from the same code on [`Dual`] numbers, four input coordinates per evaluation. Agent
//! blocks run in parallel and their sums are added in a fixed order, so results do not depend
//! on the thread count. Memory: one step's path ends in f64 and its gradient, `O(d n)`.
//!
//! # Example
//!
//! The generalised-entropy index GE(2) of the composite `c = Σ_k z_k`, `(mean(c²)/c̄² − 1)/2`:
//!
//! ```
//! use aumann::prelude::*;
//! use aumann::indicators::scalar::Scalar;
//!
//! struct Ge2;
//!
//! impl PooledFn for Ge2 {
//!     fn name(&self) -> &str {
//!         "ge2"
//!     }
//!     fn pooled_width(&self) -> usize {
//!         2
//!     }
//!     #[inline(always)]
//!     fn psi<S: Scalar>(&self, z: &[S], out: &mut [S]) {
//!         let c = z.iter().fold(S::constant(0.0), |c, &v| c + v);
//!         out[0] = c;
//!         out[1] = c * c;
//!     }
//!     fn rho<S: Scalar>(&self, p: &[S]) -> S {
//!         (p[1] / (p[0] * p[0]) - 1.0) * 0.5
//!     }
//! }
//!
//! let x = Array3::from_f64([1, 3, 1], vec![1.0, 2.0, 4.0]);
//! let baseline = Baseline::resolve(&BaselineSpec::Mean, &x).unwrap(); // everyone at c̄
//! let options = PathOptions { precision: Precision::F64, ..PathOptions::default() };
//! let device = Backend::Flex.device().unwrap();
//! let phi = path::attribute(&PoolingFn::new(Ge2), &x, &baseline, &options, &device, &mut |_| {})
//!     .unwrap();
//! // Efficiency: the attributions add up to V(x) − V(b), and V(b) = 0 (everyone equal).
//! let ge2 = ((1.0 + 4.0 + 16.0) / 3.0 / (7.0f64 / 3.0).powi(2) - 1.0) / 2.0;
//! assert!((phi.phi.iter().sum::<f64>() - ge2).abs() < 1e-12);
//! ```

use burn::tensor::{DType, Tensor, TensorData};
use rayon::prelude::*;

use super::Indicator;
use super::scalar::{Dual, Pack, Scalar};
use crate::array::download;
use crate::error::Result;

/// Agents a vector instruction carries (four f64 in 256 bits).
const LANES: usize = 4;
/// Input coordinates differentiated per evaluation of ψ.
const DIRECTIONS: usize = 4;
/// Agents per parallel task.
const TASK_AGENTS: usize = 1 << 12;

type Lanes = Pack<LANES>;
type Tangent = Dual<Lanes, DIRECTIONS>;

/// An indicator `V(z) = ρ((1/n) Σ_i ψ(z_i))` with ψ and ρ written once over any [`Scalar`]:
/// see the [module](self) docs.
pub trait PooledFn: Send + Sync {
    /// Stable snake_case id, the name in summaries.
    fn name(&self) -> &str;

    /// The smallest population the indicator is defined for.
    fn min_agents(&self) -> usize {
        1
    }

    /// `k`, the number of means ψ pools.
    fn pooled_width(&self) -> usize;

    /// `ψ(z)` of one agent's `d` features into `out` (`k` values).
    ///
    /// It runs once per agent-point and coordinate chunk: mark the implementation
    /// `#[inline(always)]` so that it compiles into the route's vectorised loops (a GE(2) ψ
    /// ran 1.4× faster so).
    fn psi<S: Scalar>(&self, z: &[S], out: &mut [S]);

    /// `ρ(p)` of the `k` pooled means.
    fn rho<S: Scalar>(&self, p: &[S]) -> S;
}

/// A [`PooledFn`] as an [`Indicator`], attributed on the host.
#[derive(Clone, Debug)]
pub struct PoolingFn<P>(P);

impl<P: PooledFn> PoolingFn<P> {
    /// Wrap `pooled`.
    pub fn new(pooled: P) -> Self {
        Self(pooled)
    }

    /// The wrapped indicator.
    pub fn inner(&self) -> &P {
        &self.0
    }
}

/// One step's population on the host: `x` and `b`, `[d, n]` (agents last).
struct Ends<'a> {
    x: &'a [f64],
    b: &'a [f64],
    d: usize,
    n: usize,
}

impl Ends<'_> {
    /// The pack of agents from `i`: every coordinate's start `b` and step `x − b`, into `start`
    /// and `step`; lanes past the last agent repeat it (their results are dropped).
    fn pack(&self, i: usize, start: &mut [Lanes], step: &mut [Lanes]) {
        for (c, (s, d)) in start.iter_mut().zip(step.iter_mut()).enumerate() {
            let row = c * self.n;
            for l in 0..LANES {
                let a = row + (i + l).min(self.n - 1);
                (s.0[l], d.0[l]) = (self.b[a], self.x[a] - self.b[a]);
            }
        }
    }

    /// The packs of parallel task `task`: `(first agent, agents in the pack)`.
    fn packs(&self, task: usize) -> impl Iterator<Item = (usize, usize)> + use<> {
        let (start, end) = (task * TASK_AGENTS, self.n.min((task + 1) * TASK_AGENTS));
        (start..end)
            .step_by(LANES)
            .map(move |i| (i, LANES.min(end - i)))
    }

    fn tasks(&self) -> usize {
        self.n.div_ceil(TASK_AGENTS)
    }
}

impl<P: PooledFn> PoolingFn<P> {
    /// `Σ_i ψ(z_i(α_j))` of every node `j`, `[m, k]` in f64.
    fn pool(&self, ends: &Ends, nodes: &[f64]) -> Vec<f64> {
        let (k, m) = (self.0.pooled_width(), nodes.len());
        let partial = |task: usize| {
            #[cfg(target_arch = "x86_64")]
            if aumann_kernels::dense::fused_lanes() {
                // SAFETY: the processor has AVX2 and FMA (checked just above).
                return unsafe { self.pool_task_avx(ends, nodes, task) };
            }
            self.pool_task(ends, nodes, task)
        };
        let partials: Vec<Vec<f64>> = (0..ends.tasks()).into_par_iter().map(partial).collect();
        let mut sums = vec![0.0; m * k];
        for part in partials {
            for (s, v) in sums.iter_mut().zip(part) {
                *s += v;
            }
        }
        sums
    }

    /// [`PoolingFn::pool_task`] compiled for AVX2 and FMA.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    fn pool_task_avx(&self, ends: &Ends, nodes: &[f64], task: usize) -> Vec<f64> {
        self.pool_task(ends, nodes, task)
    }

    /// The sums of parallel task `task`'s agents, `[m, k]`.
    #[inline(always)]
    fn pool_task(&self, ends: &Ends, nodes: &[f64], task: usize) -> Vec<f64> {
        let (k, m) = (self.0.pooled_width(), nodes.len());
        let zero = Lanes::constant(0.0);
        // Lane-wise sums, added across lanes once at the end.
        let (mut sums, mut z) = (vec![zero; m * k], vec![zero; ends.d]);
        let (mut start, mut step) = (z.clone(), z.clone());
        let mut out = vec![zero; k];
        for (i, count) in ends.packs(task) {
            ends.pack(i, &mut start, &mut step);
            // Lanes past the last agent repeat it: weight 0.
            let mask = Pack(std::array::from_fn(|l| if l < count { 1.0 } else { 0.0 }));
            for (j, &alpha) in nodes.iter().enumerate() {
                for ((z, &s), &d) in z.iter_mut().zip(&start).zip(&step) {
                    *z = s + d * alpha;
                }
                self.0.psi(&z, &mut out);
                for (s, &o) in sums[j * k..(j + 1) * k].iter_mut().zip(&out) {
                    *s = *s + if count == LANES { o } else { o * mask };
                }
            }
        }
        sums.iter().map(|s| s.0.iter().sum()).collect()
    }

    /// `∇ρ(p)`, four coordinates per evaluation.
    fn rho_gradient(&self, p: &[f64]) -> Vec<f64> {
        let mut grad = vec![0.0; p.len()];
        for c0 in (0..p.len()).step_by(DIRECTIONS) {
            let duals: Vec<Dual<f64, DIRECTIONS>> = p
                .iter()
                .enumerate()
                .map(|(c, &v)| Dual::variable(v, c.wrapping_sub(c0)))
                .collect();
            let r = self.0.rho(&duals);
            let span = DIRECTIONS.min(p.len() - c0);
            grad[c0..c0 + span].copy_from_slice(&r.d[..span]);
        }
        grad
    }

    /// Every agent's `Σ_j J_ψ(z_i(α_j))ᵀ g_j`, `[n, d]` agent-major; `shared` `[m, k]`.
    fn pull_back(&self, ends: &Ends, nodes: &[f64], shared: &[f64]) -> Vec<f64> {
        let d = ends.d;
        let mut grads = vec![0.0; ends.n * d];
        grads
            .par_chunks_mut(TASK_AGENTS * d)
            .enumerate()
            .for_each(|(task, grads)| {
                #[cfg(target_arch = "x86_64")]
                if aumann_kernels::dense::fused_lanes() {
                    // SAFETY: the processor has AVX2 and FMA (checked just above).
                    return unsafe { self.pull_back_task_avx(ends, nodes, shared, task, grads) };
                }
                self.pull_back_task(ends, nodes, shared, task, grads);
            });
        grads
    }

    /// [`PoolingFn::pull_back_task`] compiled for AVX2 and FMA: the user's ψ, inlined here,
    /// runs on 256-bit vectors.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    fn pull_back_task_avx(
        &self,
        ends: &Ends,
        nodes: &[f64],
        shared: &[f64],
        task: usize,
        grads: &mut [f64],
    ) {
        self.pull_back_task(ends, nodes, shared, task, grads);
    }

    /// The pull-back of the agents of parallel task `task` into `grads` (theirs, `[agents, d]`).
    #[inline(always)]
    fn pull_back_task(
        &self,
        ends: &Ends,
        nodes: &[f64],
        shared: &[f64],
        task: usize,
        grads: &mut [f64],
    ) {
        let (k, d) = (self.0.pooled_width(), ends.d);
        let mut z = vec![Tangent::constant(0.0); d];
        let mut out = vec![Tangent::constant(0.0); k];
        let mut acc = vec![Lanes::constant(0.0); d];
        let (mut start, mut step) = (acc.clone(), acc.clone());
        for (i, count) in ends.packs(task) {
            ends.pack(i, &mut start, &mut step);
            acc.iter_mut().for_each(|a| *a = Lanes::constant(0.0));
            for (j, &alpha) in nodes.iter().enumerate() {
                let g = &shared[j * k..(j + 1) * k];
                for c0 in (0..d).step_by(DIRECTIONS) {
                    for (c, z) in z.iter_mut().enumerate() {
                        let at = start[c] + step[c] * alpha;
                        *z = Tangent::variable(at, c.wrapping_sub(c0));
                    }
                    self.0.psi(&z, &mut out);
                    for (t, acc) in acc[c0..].iter_mut().take(DIRECTIONS).enumerate() {
                        for (o, &g) in out.iter().zip(g) {
                            *acc = *acc + o.d[t] * g;
                        }
                    }
                }
            }
            let first = i - task * TASK_AGENTS;
            for (l, grad) in grads[first * d..]
                .chunks_exact_mut(d)
                .take(count)
                .enumerate()
            {
                for (g, a) in grad.iter_mut().zip(&acc) {
                    *g = a.0[l];
                }
            }
        }
    }

    /// `V` of one population `z` (`[d, n]`).
    fn value(&self, z: &[f64], d: usize, n: usize) -> f64 {
        let ends = Ends { x: z, b: z, d, n };
        let sums = self.pool(&ends, &[0.0]);
        let means: Vec<f64> = sums.iter().map(|s| s / n as f64).collect();
        self.0.rho(&means)
    }
}

/// Row `r` of a `[rows, d, n]` tensor, or of one broadcast along rows or agents, as `[d, n]` f64.
fn row_of(t: &Tensor<3>, r: usize, [d, n]: [usize; 2], what: &'static str) -> Result<Vec<f64>> {
    let [rows, _, _] = t.dims();
    let row = t.clone().narrow(0, r.min(rows - 1), 1);
    download(row.expand([1, d, n]), what)
}

impl<P: PooledFn> Indicator for PoolingFn<P> {
    fn name(&self) -> &str {
        self.0.name()
    }

    fn min_agents(&self) -> usize {
        self.0.min_agents()
    }

    fn forward(&self, z: Tensor<3>) -> Result<Tensor<1>> {
        let [rows, d, n] = z.dims();
        let v = (0..rows)
            .map(|r| Ok(self.value(&row_of(&z, r, [d, n], "populations")?, d, n)))
            .collect::<Result<Vec<f64>>>()?;
        let device = z.device();
        let v = Tensor::<1>::from_data(TensorData::new(v, [rows]), (&device, DType::F64));
        Ok(v.cast(z.dtype()))
    }

    fn integrated_gradient(
        &self,
        x: &Tensor<3>,
        b: &Tensor<3>,
        nodes: &[f64],
        weights: &[f64],
    ) -> Result<Option<Tensor<3>>> {
        let [rows, d, n] = x.dims();
        let k = self.0.pooled_width();
        let mut out = Vec::with_capacity(rows * d * n);
        for r in 0..rows {
            let (xs, bs) = (
                row_of(x, r, [d, n], "path ends")?,
                row_of(b, r, [d, n], "baselines")?,
            );
            let ends = Ends {
                x: &xs,
                b: &bs,
                d,
                n,
            };
            let sums = self.pool(&ends, nodes);
            let mut shared = Vec::with_capacity(sums.len());
            for (p, &w) in sums.chunks_exact(k.max(1)).zip(weights) {
                let means: Vec<f64> = p.iter().map(|s| s / n as f64).collect();
                shared.extend(self.rho_gradient(&means).iter().map(|g| g * w / n as f64));
            }
            let grads = self.pull_back(&ends, nodes, &shared);
            out.extend(crate::array::transpose(&grads, 1, n, d, |v| v));
        }
        let device = x.device();
        let g = Tensor::<3>::from_data(TensorData::new(out, [rows, d, n]), (&device, DType::F64));
        Ok(Some(g.cast(x.dtype())))
    }
}
