//! Pooled indicators written as plain Rust functions: ψ and ρ once, over any [`Scalar`],
//! compiled to native code and differentiated exactly by dual numbers.
//!
//! ```text
//! V(z) = ρ(p̄),   p̄ = (1/n) Σ_i ψ(z_i)
//! Σ_j w_j ∂V/∂z_i(α_j) = Σ_j J_ψ(z_i(α_j))ᵀ g_j,     g_j = w_j ∇ρ(p̄(α_j)) / n
//! J_ψ(z) column by column: ψ on Dual<Pack<T, L>, N> inputs, L agents × N coordinates at once
//! ```
//!
//! The same three passes as [`super::pooled`] (pool, `∇ρ` per point, pull back), on the host
//! in the run's precision `T` whatever the backend: ψ runs on [`Pack`]s of agents that fill a
//! 256-bit vector (8 in f32, 4 in f64), so each operation of the user's function is one vector
//! instruction over agents, and its Jacobian comes from the same code on [`Dual`] numbers, one
//! direction per input coordinate (`N = d` up to four, chunks of four above). With at most four
//! coordinates and four pooled means the buffers have fixed sizes and stay in registers. Every
//! pooled sum, `∇ρ` and `V` is in f64; agent blocks run in parallel and their sums are added in
//! a fixed order, so results do not depend on the thread count. A run reads the features as
//! stored (agent-major, f32 or f64; [`Indicator::host_route`]) and writes each agent's `φ` as
//! soon as its pack is pulled back: memory beyond the input and `φ` is a few values per task.
//!
//! # Example
//!
//! The generalised-entropy index GE(2) of the composite `c = Σ_k z_k`, `(mean(c²)/c̄² − 1)/2`:
//!
//! ```
//! use aumann_engine::prelude::*;
//! use aumann_engine::indicators::scalar::Scalar;
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

use burn::tensor::{DType, Device, Element, Tensor, TensorData};
use rayon::prelude::*;

use super::StraightPaths;
use super::pooled::add_in_order;
use super::scalar::{Dual, Lane, Pack, Scalar};
use super::{HostRoute, HostRun, HostStep, Indicator, PooledPasses};
use crate::array::{StepSlice, download_as};
use crate::backend::Precision;
use crate::error::Result;

/// Input coordinates differentiated per evaluation of ψ when there are more than this many.
const DIRECTIONS: usize = 4;
/// Agents per parallel task.
const TASK_AGENTS: usize = 1 << 12;

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

    /// Whether [`PoolingFn`] hands ψ all of a pack's quadrature points in one call
    /// ([`PooledFn::psi_points`]) instead of one point a call ([`PooledFn::psi`], the
    /// default): worth it for a ψ that pays a fixed cost per call, such as an interpreter of
    /// formulas; compiled Rust keeps one point's values in registers and is faster point by
    /// point.
    const POINTS_AT_ONCE: bool = false;

    /// `ψ` of several points, coordinate-major: `z` holds feature 0 of every point, then
    /// feature 1 of every point, …; `out` likewise component 0 of every point, then
    /// component 1, …. The default calls [`PooledFn::psi`] on each point.
    fn psi_points<S: Scalar>(&self, d: usize, z: &[S], out: &mut [S]) {
        let k = self.pooled_width();
        let points = z.len() / d.max(1);
        let (mut one_z, mut one_out) = (vec![S::constant(0.0); d], vec![S::constant(0.0); k]);
        for p in 0..points {
            for (c, v) in one_z.iter_mut().enumerate() {
                *v = z[c * points + p];
            }
            self.psi(&one_z, &mut one_out);
            for (o, &v) in one_out.iter().enumerate() {
                out[o * points + p] = v;
            }
        }
    }
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

/// How one step's `[d, n]` values are laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Layout {
    /// `[d, n]`: a tensor's row (agents last).
    AgentsLast,
    /// `[n, d]`: a step of the `[T, n, d]` input as stored.
    AgentsFirst,
}

/// One step's population on the host: `x` (`[d, n]` or `[n, d]`, see [`Layout`]) stored in
/// precision `E`, and `b` in `B`, laid out as `x`, or `d` values where every agent starts from
/// the same point.
struct Ends<'a, E, B = E> {
    x: &'a [E],
    b: &'a [B],
    d: usize,
    n: usize,
    layout: Layout,
}

impl<E: Lane, B: Lane> Ends<'_, E, B> {
    /// Where coordinate `c` of agent `i` is stored.
    #[inline(always)]
    fn at(&self, c: usize, i: usize) -> usize {
        match self.layout {
            Layout::AgentsLast => c * self.n + i,
            Layout::AgentsFirst => i * self.d + c,
        }
    }

    /// The pack of agents from `i` in precision `T`: every coordinate's start `b` and step
    /// `x − b`, into `start` and `step`; lanes past the last agent repeat it (their results
    /// are dropped).
    #[inline(always)]
    fn pack<T: Lane, const L: usize>(
        &self,
        i: usize,
        start: &mut [Pack<T, L>],
        step: &mut [Pack<T, L>],
    ) {
        let shared = self.b.len() == self.d;
        for (c, (s, d)) in start.iter_mut().zip(step.iter_mut()).enumerate() {
            let (mut x, mut b) = ([T::of(0.0); L], [T::of(self.b[c].to_f64()); L]);
            for l in 0..L {
                let a = self.at(c, (i + l).min(self.n - 1));
                x[l] = T::of(self.x[a].to_f64());
                if !shared {
                    b[l] = T::of(self.b[a].to_f64());
                }
            }
            *s = Pack(b);
            *d = Pack(x) - Pack(b);
        }
    }

    /// The packs of parallel task `task`: `(first agent, agents in the pack)`.
    fn packs<const L: usize>(
        &self,
        task: usize,
    ) -> impl Iterator<Item = (usize, usize)> + use<L, E, B> {
        let (start, end) = (task * TASK_AGENTS, self.n.min((task + 1) * TASK_AGENTS));
        (start..end).step_by(L).map(move |i| (i, L.min(end - i)))
    }

    fn tasks(&self) -> usize {
        self.n.div_ceil(TASK_AGENTS)
    }
}

/// `$fixed!(D, K)` for `d = D ≤ 4` and `k ≤ K ∈ {2, 4}` (buffers of fixed size, which the
/// compiler keeps in registers: ψ's outputs padded to `K`), `$dynamic` otherwise.
macro_rules! by_shape {
    ($d:expr, $k:expr, $fixed:ident, $dynamic:expr) => {
        match ($d, $k) {
            (1, ..=2) => $fixed!(1, 2),
            (2, ..=2) => $fixed!(2, 2),
            (3, ..=2) => $fixed!(3, 2),
            (4, ..=2) => $fixed!(4, 2),
            (1, 3..=4) => $fixed!(1, 4),
            (2, 3..=4) => $fixed!(2, 4),
            (3, 3..=4) => $fixed!(3, 4),
            (4, 3..=4) => $fixed!(4, 4),
            _ => $dynamic,
        }
    };
}

impl<P: PooledFn> PoolingFn<P> {
    /// `Σ_i ψ(z_i(α_j))` of every node `j`, `[m, k]` in f64: ψ on packs of `L` agents in
    /// precision `T`.
    fn pool<E: Lane, B: Lane, T: Lane, const L: usize>(
        &self,
        ends: &Ends<E, B>,
        nodes: &[f64],
    ) -> Vec<f64> {
        let (k, m) = (self.0.pooled_width(), nodes.len());
        let partial = |task: usize| self.pool_task_dispatch::<E, B, T, L>(ends, nodes, task);
        let partials: Vec<Vec<f64>> = (0..ends.tasks()).into_par_iter().map(partial).collect();
        add_in_order(partials, m * k)
    }

    fn pool_task_dispatch<E: Lane, B: Lane, T: Lane, const L: usize>(
        &self,
        ends: &Ends<E, B>,
        nodes: &[f64],
        task: usize,
    ) -> Vec<f64> {
        #[cfg(target_arch = "x86_64")]
        if aumann_kernels::dense::fused_lanes() {
            // SAFETY: the processor has AVX2 and FMA (checked just above).
            return unsafe { self.pool_task_avx::<E, B, T, L>(ends, nodes, task) };
        }
        self.pool_task::<E, B, T, L>(ends, nodes, task)
    }

    /// [`PoolingFn::pool_task`] compiled for AVX2 and FMA.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    fn pool_task_avx<E: Lane, B: Lane, T: Lane, const L: usize>(
        &self,
        ends: &Ends<E, B>,
        nodes: &[f64],
        task: usize,
    ) -> Vec<f64> {
        self.pool_task::<E, B, T, L>(ends, nodes, task)
    }

    /// The sums of parallel task `task`'s agents, `[m, k]`: ψ in `T`, sums in f64.
    #[inline(always)]
    fn pool_task<E: Lane, B: Lane, T: Lane, const L: usize>(
        &self,
        ends: &Ends<E, B>,
        nodes: &[f64],
        task: usize,
    ) -> Vec<f64> {
        if P::POINTS_AT_ONCE {
            return self.pool_points::<E, B, T, L>(ends, nodes, task);
        }
        let zero = Pack::<T, L>::constant(0.0);
        let (d, k) = (ends.d, self.0.pooled_width());
        macro_rules! fixed {
            ($d:literal, $k:literal) => {
                self.pool_packs(
                    ends,
                    nodes,
                    task,
                    &mut [zero; $k],
                    [&mut [zero; $d], &mut [zero; $d], &mut [zero; $d]],
                )
            };
        }
        by_shape!(
            d,
            k,
            fixed,
            self.pool_packs(
                ends,
                nodes,
                task,
                &mut vec![zero; k],
                [&mut vec![zero; d], &mut vec![zero; d], &mut vec![zero; d]],
            )
        )
    }

    /// [`PoolingFn::pool_task`] with `out`, at least `k` values for ψ's outputs (those past
    /// `k` stay zero), and a pack's `d` path points, starts and steps.
    #[inline(always)]
    fn pool_packs<E: Lane, B: Lane, T: Lane, const L: usize>(
        &self,
        ends: &Ends<E, B>,
        nodes: &[f64],
        task: usize,
        out: &mut [Pack<T, L>],
        [z, start, step]: [&mut [Pack<T, L>]; 3],
    ) -> Vec<f64> {
        let (k, m, width) = (self.0.pooled_width(), nodes.len(), out.len());
        let alphas: Vec<T> = nodes.iter().map(|&a| T::of(a)).collect();
        // Lane-wise sums, added across lanes once at the end.
        let mut sums = vec![Pack([0.0f64; L]); m * width];
        for (i, count) in ends.packs::<L>(task) {
            ends.pack(i, start, step);
            for (j, &alpha) in alphas.iter().enumerate() {
                for ((z, &s), &d) in z.iter_mut().zip(start.iter()).zip(step.iter()) {
                    *z = s + d * Pack([alpha; L]);
                }
                self.0.psi(z, &mut out[..k]);
                for (s, o) in sums[j * width..(j + 1) * width].iter_mut().zip(out.iter()) {
                    let mut wide = [0.0; L];
                    for (w, v) in wide.iter_mut().zip(o.0) {
                        *w = v.to_f64();
                    }
                    if count < L {
                        // Lanes past the last agent repeat it: dropped.
                        wide[count..].fill(0.0);
                    }
                    *s = *s + Pack(wide);
                }
            }
        }
        (sums.chunks_exact(width))
            .flat_map(|node| node[..k].iter().map(|s| s.0.iter().sum()))
            .collect()
    }

    /// [`PoolingFn::pool_task`] for a ψ that takes a pack's points at once
    /// ([`PooledFn::POINTS_AT_ONCE`]): the same sums, one call of ψ a pack.
    #[inline(always)]
    fn pool_points<E: Lane, B: Lane, T: Lane, const L: usize>(
        &self,
        ends: &Ends<E, B>,
        nodes: &[f64],
        task: usize,
    ) -> Vec<f64> {
        let (d, k, m) = (ends.d, self.0.pooled_width(), nodes.len());
        let zero = Pack::<T, L>::constant(0.0);
        let alphas: Vec<T> = nodes.iter().map(|&a| T::of(a)).collect();
        let (mut start, mut step) = (vec![zero; d], vec![zero; d]);
        let (mut z, mut out) = (vec![zero; m * d], vec![zero; m * k]);
        let mut sums = vec![Pack([0.0f64; L]); m * k];
        for (i, count) in ends.packs::<L>(task) {
            ends.pack(i, &mut start, &mut step);
            for ((z, &s), &d) in z.chunks_exact_mut(m).zip(&start).zip(&step) {
                for (z, &alpha) in z.iter_mut().zip(&alphas) {
                    *z = s + d * Pack([alpha; L]);
                }
            }
            self.0.psi_points(d, &z, &mut out);
            for (j, sums) in sums.chunks_exact_mut(k).enumerate() {
                for (o, s) in sums.iter_mut().enumerate() {
                    *s = *s + widened(out[o * m + j], count);
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

    /// Every agent's `Σ_j J_ψ(z_i(α_j))ᵀ g_j` (`shared`: `g_j`, `[m, k]`) into `sink`: ψ's
    /// duals on packs of `L` agents, parallel tasks of [`TASK_AGENTS`].
    fn pull_back<E: Lane, B: Lane, T: Lane, const L: usize>(
        &self,
        ends: &Ends<E, B>,
        nodes: &[f64],
        shared: &[f64],
        sink: Sink<'_, T>,
    ) {
        let n = ends.n;
        let tasks: Vec<Sink<T>> = match sink {
            Sink::Gradient(grads) => {
                // Task t owns agents [t·TASK_AGENTS, …) of every coordinate's row.
                let mut tasks: Vec<Vec<&mut [T]>> = (0..ends.tasks()).map(|_| Vec::new()).collect();
                for row in grads.chunks_mut(n) {
                    for (t, part) in row.chunks_mut(TASK_AGENTS).enumerate() {
                        tasks[t].push(part);
                    }
                }
                tasks.into_iter().map(Sink::Rows).collect()
            }
            Sink::Attribution(phi) => phi.chunks_mut(TASK_AGENTS).map(Sink::Attribution).collect(),
            Sink::Rows(_) => unreachable!("a task's rows are made here"),
        };
        tasks.into_par_iter().enumerate().for_each(|(task, sink)| {
            let work = Work {
                ends,
                nodes,
                shared,
                task,
            };
            self.pull_back_dispatch::<E, B, T, L>(&work, sink);
        });
    }

    fn pull_back_dispatch<E: Lane, B: Lane, T: Lane, const L: usize>(
        &self,
        work: &Work<E, B>,
        sink: Sink<T>,
    ) {
        #[cfg(target_arch = "x86_64")]
        if aumann_kernels::dense::fused_lanes() {
            // SAFETY: the processor has AVX2 and FMA (checked just above).
            return unsafe { self.pull_back_task_avx::<E, B, T, L>(work, sink) };
        }
        self.pull_back_task::<E, B, T, L>(work, sink);
    }

    /// [`PoolingFn::pull_back_task`] compiled for AVX2 and FMA: the user's ψ, inlined here,
    /// runs on 256-bit vectors.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    fn pull_back_task_avx<E: Lane, B: Lane, T: Lane, const L: usize>(
        &self,
        work: &Work<E, B>,
        sink: Sink<T>,
    ) {
        self.pull_back_task::<E, B, T, L>(work, sink);
    }

    /// The pull-back of one task's agents into its `sink`: ψ on duals with one direction per
    /// coordinate up to four, four at a time above.
    #[inline(always)]
    fn pull_back_task<E: Lane, B: Lane, T: Lane, const L: usize>(
        &self,
        work: &Work<E, B>,
        mut sink: Sink<T>,
    ) {
        let (d, k) = (work.ends.d, self.0.pooled_width());
        if P::POINTS_AT_ONCE {
            return match d {
                1 => self.pull_back_points::<E, B, T, L, 1>(work, &mut sink),
                2 => self.pull_back_points::<E, B, T, L, 2>(work, &mut sink),
                3 => self.pull_back_points::<E, B, T, L, 3>(work, &mut sink),
                _ => self.pull_back_points::<E, B, T, L, DIRECTIONS>(work, &mut sink),
            };
        }
        let zero = Pack::<T, L>::constant(0.0);
        macro_rules! fixed {
            ($d:literal, $k:literal) => {
                self.pull_back_packs(
                    work,
                    &mut [Dual::<Pack<T, L>, $d>::constant(0.0); $d],
                    &mut [Dual::<Pack<T, L>, $d>::constant(0.0); $k],
                    [&mut [zero; $d], &mut [zero; $d], &mut [zero; $d]],
                    &mut sink,
                )
            };
        }
        by_shape!(
            d,
            k,
            fixed,
            self.pull_back_packs(
                work,
                &mut vec![Dual::<Pack<T, L>, DIRECTIONS>::constant(0.0); d],
                &mut vec![Dual::<Pack<T, L>, DIRECTIONS>::constant(0.0); k],
                [&mut vec![zero; d], &mut vec![zero; d], &mut vec![zero; d]],
                &mut sink,
            )
        )
    }

    /// [`PoolingFn::pull_back_task`] with `z`, `d` duals of `N` directions; `out`, at least
    /// `k` of them for ψ's outputs (those past `k` stay zero); and the `d` accumulators, path
    /// starts and steps of a pack.
    #[inline(always)]
    fn pull_back_packs<E: Lane, B: Lane, T: Lane, const L: usize, const N: usize>(
        &self,
        work: &Work<E, B>,
        z: &mut [Dual<Pack<T, L>, N>],
        out: &mut [Dual<Pack<T, L>, N>],
        [acc, start, step]: [&mut [Pack<T, L>]; 3],
        sink: &mut Sink<T>,
    ) {
        let (k, d, m) = (self.0.pooled_width(), work.ends.d, work.nodes.len());
        let width = out.len();
        let alphas: Vec<T> = work.nodes.iter().map(|&a| T::of(a)).collect();
        let zero = Pack::<T, L>::constant(0.0);
        // `g_j` padded with zeros to `width`.
        let mut shared = vec![zero; m * width];
        for (padded, g) in shared
            .chunks_exact_mut(width)
            .zip(work.shared.chunks_exact(k))
        {
            for (p, &g) in padded.iter_mut().zip(g) {
                *p = Pack::constant(g);
            }
        }
        for (i, count) in work.ends.packs::<L>(work.task) {
            work.ends.pack(i, start, step);
            acc.iter_mut().for_each(|a| *a = zero);
            for j in 0..m {
                let (alpha, g) = (Pack([alphas[j]; L]), &shared[j * width..(j + 1) * width]);
                for c0 in (0..d).step_by(N) {
                    for (c, z) in z.iter_mut().enumerate() {
                        *z = Dual::variable(start[c] + step[c] * alpha, c.wrapping_sub(c0));
                    }
                    self.0.psi(z, &mut out[..k]);
                    for (t, acc) in acc[c0..].iter_mut().take(N).enumerate() {
                        for (o, &g) in out.iter().zip(g) {
                            *acc = *acc + o.d[t] * g;
                        }
                    }
                }
            }
            sink.put(i - work.task * TASK_AGENTS, count, acc, step);
        }
    }

    /// [`PoolingFn::pull_back_task`] for a ψ that takes a pack's points at once
    /// ([`PooledFn::POINTS_AT_ONCE`]): duals of `N` directions, one call of ψ a pack and chunk
    /// of coordinates, the same sums in the same order.
    #[inline(always)]
    fn pull_back_points<E: Lane, B: Lane, T: Lane, const L: usize, const N: usize>(
        &self,
        work: &Work<E, B>,
        sink: &mut Sink<T>,
    ) {
        let (k, d, m) = (self.0.pooled_width(), work.ends.d, work.nodes.len());
        let zero = Pack::<T, L>::constant(0.0);
        let alphas: Vec<Pack<T, L>> = work.nodes.iter().map(|&a| Pack([T::of(a); L])).collect();
        let shared: Vec<Pack<T, L>> = work.shared.iter().map(|&g| Pack::constant(g)).collect();
        let (mut acc, mut start, mut step) = (vec![zero; d], vec![zero; d], vec![zero; d]);
        let unset = Dual::<Pack<T, L>, N>::constant(0.0);
        let (mut z, mut out) = (vec![unset; m * d], vec![unset; m * k]);
        for (i, count) in work.ends.packs::<L>(work.task) {
            work.ends.pack(i, &mut start, &mut step);
            acc.fill(zero);
            for c0 in (0..d).step_by(N) {
                for (c, z) in z.chunks_exact_mut(m).enumerate() {
                    for (z, &alpha) in z.iter_mut().zip(&alphas) {
                        *z = Dual::variable(start[c] + step[c] * alpha, c.wrapping_sub(c0));
                    }
                }
                self.0.psi_points(d, &z, &mut out);
                for (j, g) in shared.chunks_exact(k).enumerate() {
                    for (t, acc) in acc[c0..].iter_mut().take(N).enumerate() {
                        for (o, &g) in g.iter().enumerate() {
                            *acc = *acc + out[o * m + j].d[t] * g;
                        }
                    }
                }
            }
            sink.put(i - work.task * TASK_AGENTS, count, &acc, &step);
        }
    }

    /// `V` of one population `z` (`d` values of each of `n` agents, laid out as `layout`,
    /// stored in `E`), ψ and the sums in f64.
    fn value<E: Lane>(&self, z: &[E], [d, n]: [usize; 2], layout: Layout) -> f64 {
        let ends = Ends {
            x: z,
            b: z,
            d,
            n,
            layout,
        };
        let sums = self.pool::<E, E, f64, 4>(&ends, &[0.0]);
        let means: Vec<f64> = sums.iter().map(|s| s / n as f64).collect();
        self.0.rho(&means)
    }

    /// [`Indicator::values`] of `z` stored in `E`.
    fn values_of<E: Lane + Element>(
        &self,
        z: &Tensor<3>,
        [rows, d, _]: [usize; 3],
    ) -> Result<Vec<f64>> {
        // A population sharing one point pools to ψ of that point: one agent is enough.
        let agents = z.dims()[2];
        (0..rows)
            .map(|r| {
                let row = row_of::<E>(z, r, [d, agents], "populations")?;
                Ok(self.value(&row, [d, agents], Layout::AgentsLast))
            })
            .collect()
    }

    /// `g_j = w_j ∇ρ(p̄(α_j)) / n` of every node, `[m, k]`: the pooling pass over `ends`.
    fn shared_gradients<E: Lane, B: Lane, T: Lane, const L: usize>(
        &self,
        ends: &Ends<E, B>,
        nodes: &[f64],
        weights: &[f64],
    ) -> Vec<f64> {
        let sums = self.pool::<E, B, T, L>(ends, nodes);
        self.shared_of_sums(&sums, ends.n, weights)
    }

    /// `g_j = w_j ∇ρ(p̄_j) / n` from the pooled sums `n p̄_j` (`[m, k]`) of `n` agents.
    fn shared_of_sums(&self, sums: &[f64], n: usize, weights: &[f64]) -> Vec<f64> {
        let (k, n) = (self.0.pooled_width(), n as f64);
        let mut shared = Vec::with_capacity(sums.len());
        for (p, &w) in sums.chunks_exact(k.max(1)).zip(weights) {
            let means: Vec<f64> = p.iter().map(|s| s / n).collect();
            shared.extend(self.rho_gradient(&means).iter().map(|g| g * w / n));
        }
        shared
    }

    /// [`Indicator::integrated_gradient`] in precision `T`.
    fn integrated<T: Lane + Element, const L: usize>(
        &self,
        x: &Tensor<3>,
        b: &Tensor<3>,
        nodes: &[f64],
        weights: &[f64],
    ) -> Result<Tensor<3>> {
        let [rows, d, n] = x.dims();
        let mut out: Vec<T> = Vec::new();
        for r in 0..rows {
            let xs = row_of::<T>(x, r, [d, n], "path ends")?;
            let bs = row_of::<T>(b, r, [d, b.dims()[2]], "baselines")?;
            let ends = Ends {
                x: &xs,
                b: &bs,
                d,
                n,
                layout: Layout::AgentsLast,
            };
            let shared = self.shared_gradients::<T, T, T, L>(&ends, nodes, weights);
            // One allocation for every step: a step's gradient is written in place.
            if r == 0 {
                out = Vec::with_capacity(rows * d * n);
            }
            let len = out.len();
            out.resize(len + d * n, T::of(0.0));
            let gradient = Sink::Gradient(&mut out[len..]);
            self.pull_back::<T, T, T, L>(&ends, nodes, &shared, gradient);
        }
        let data = TensorData::new(out, [rows, d, n]);
        Ok(Tensor::from_data(data, (&x.device(), x.dtype())))
    }
}

/// A pack's values in f64, lanes from `count` on (past the last agent) zero.
#[inline(always)]
fn widened<T: Lane, const L: usize>(pack: Pack<T, L>, count: usize) -> Pack<f64, L> {
    let mut wide = [0.0; L];
    for (w, v) in wide.iter_mut().zip(pack.0).take(count) {
        *w = v.to_f64();
    }
    Pack(wide)
}

/// What one task of the pull-back reads.
struct Work<'a, E, B> {
    ends: &'a Ends<'a, E, B>,
    nodes: &'a [f64],
    shared: &'a [f64],
    task: usize,
}

/// Where the pull-back writes one task's agents.
enum Sink<'a, T> {
    /// The gradients, `[d, n]`: all agents, split into tasks by [`PoolingFn::pull_back`].
    Gradient(&'a mut [T]),
    /// One task's part of every coordinate's row of the gradients.
    Rows(Vec<&'a mut [T]>),
    /// Attributions `φ_i = Σ_c δ_ic · gradient_ic`: all agents, or one task's.
    Attribution(&'a mut [f64]),
}

impl<T: Lane> Sink<'_, T> {
    /// The integrated gradients `acc` of the pack of `count` agents from `first` (counted
    /// within the task), whose steps are `step`.
    #[inline(always)]
    fn put<const L: usize>(
        &mut self,
        first: usize,
        count: usize,
        acc: &[Pack<T, L>],
        step: &[Pack<T, L>],
    ) {
        match self {
            Sink::Rows(rows) => {
                for (row, a) in rows.iter_mut().zip(acc) {
                    row[first..first + count].copy_from_slice(&a.0[..count]);
                }
            }
            Sink::Attribution(phi) => {
                for (l, phi) in phi[first..first + count].iter_mut().enumerate() {
                    *phi = (acc.iter().zip(step))
                        .map(|(a, s)| a.0[l].to_f64() * s.0[l].to_f64())
                        .sum();
                }
            }
            Sink::Gradient(_) => unreachable!("the pull-back splits the gradients into tasks"),
        }
    }
}

/// Row `r` of a `[rows, d, agents]` tensor, or of one broadcast along rows, as `[d, agents]`.
fn row_of<T: Element>(
    t: &Tensor<3>,
    r: usize,
    [d, agents]: [usize; 2],
    what: &'static str,
) -> Result<Vec<T>> {
    let [rows, _, _] = t.dims();
    let row = t.clone().narrow(0, r.min(rows - 1), 1);
    download_as(row.expand([1, d, agents]), what)
}

impl<P: PooledFn> Indicator for PoolingFn<P> {
    fn name(&self) -> &str {
        self.0.name()
    }

    fn min_agents(&self) -> usize {
        self.0.min_agents()
    }

    fn forward(&self, z: Tensor<3>) -> Result<Tensor<1>> {
        let shape = z.dims();
        let v = self.values(&z, shape, DType::F64)?;
        let (device, rows) = (z.device(), shape[0]);
        let v = Tensor::<1>::from_data(TensorData::new(v, [rows]), (&device, DType::F64));
        Ok(v.cast(z.dtype()))
    }

    /// ψ and the sums in f64 whatever `dtype`, read from `z` in its own precision.
    fn values(&self, z: &Tensor<3>, shape: [usize; 3], _dtype: DType) -> Result<Vec<f64>> {
        match z.dtype() {
            DType::F32 => self.values_of::<f32>(z, shape),
            _ => self.values_of::<f64>(z, shape),
        }
    }

    fn integrated_gradient(&self, paths: &StraightPaths) -> Result<Option<Tensor<3>>> {
        let StraightPaths {
            x,
            b,
            nodes,
            weights,
        } = *paths;
        Ok(Some(match x.dtype() {
            // Lanes: one 256-bit vector of the run's precision.
            DType::F32 => self.integrated::<f32, 8>(x, b, nodes, weights)?,
            _ => self.integrated::<f64, 4>(x, b, nodes, weights)?,
        }))
    }

    fn host_route(&self, _device: &Device) -> Option<Box<dyn HostRoute + '_>> {
        Some(Box::new(self))
    }

    fn pooled_passes(&self) -> Option<&dyn PooledPasses> {
        Some(self)
    }
}

impl<P: PooledFn> HostRoute for PoolingFn<P> {
    fn end_values(&self, step: &HostStep, _run: &HostRun) -> Result<[f64; 2]> {
        let [n, d] = [step.agents, step.dims];
        let v_x = match step.x {
            StepSlice::F32(x) => self.value(x, [d, n], Layout::AgentsFirst),
            StepSlice::F64(x) => self.value(x, [d, n], Layout::AgentsFirst),
        };
        // A shared baseline pools to ψ of that point: one agent is enough.
        let v_b = self.value(step.b, [d, step.b.len() / d], Layout::AgentsFirst);
        Ok([v_x, v_b])
    }

    /// The pooled passes over the whole step.
    fn attribute(&self, step: &HostStep, run: &HostRun, phi: &mut [f64]) -> Result<()> {
        let sums = PooledPasses::pool(self, step, run.nodes, run.precision)?;
        let shared = self.shared_of_sums(&sums, step.agents, run.weights);
        PooledPasses::pull_back(self, step, run.nodes, &shared, run.precision, phi);
        Ok(())
    }
}

/// `$body` with `$x` the step's features as stored, `$e` their type, `$t` the run's
/// precision and `$l` the lanes of one 256-bit vector of it.
macro_rules! stored_and_run {
    ($step:expr, $precision:expr, |$x:ident, $e:ident, $t:ident, $l:ident| $body:expr) => {
        match ($step.x, $precision) {
            (StepSlice::F32($x), Precision::F32) => {
                type $e = f32;
                type $t = f32;
                const $l: usize = 8;
                $body
            }
            (StepSlice::F32($x), Precision::F64) => {
                type $e = f32;
                type $t = f64;
                const $l: usize = 4;
                $body
            }
            (StepSlice::F64($x), Precision::F32) => {
                type $e = f64;
                type $t = f32;
                const $l: usize = 8;
                $body
            }
            (StepSlice::F64($x), Precision::F64) => {
                type $e = f64;
                type $t = f64;
                const $l: usize = 4;
                $body
            }
        }
    };
}

impl<P: PooledFn> PoolingFn<P> {
    /// The step's features and baseline as the passes read them.
    fn step_ends<'a, E: Lane>(step: &'a HostStep, x: &'a [E]) -> Ends<'a, E, f64> {
        Ends {
            x,
            b: step.b,
            d: step.dims,
            n: step.agents,
            layout: Layout::AgentsFirst,
        }
    }

    /// `Σ_i ψ(z)` of the `n` agents of `z` (`[n, d]`), in f64.
    fn sums_at<E: Lane>(&self, z: &[E], d: usize) -> Vec<f64> {
        let ends = Ends {
            x: z,
            b: z,
            d,
            n: z.len() / d,
            layout: Layout::AgentsFirst,
        };
        self.pool::<E, E, f64, 4>(&ends, &[0.0])
    }
}

impl<P: PooledFn> PooledPasses for PoolingFn<P> {
    fn width(&self) -> usize {
        self.0.pooled_width()
    }

    fn pool(&self, step: &HostStep, nodes: &[f64], precision: Precision) -> Result<Vec<f64>> {
        Ok(stored_and_run!(step, precision, |x, E, T, L| {
            self.pool::<E, f64, T, L>(&Self::step_ends(step, x), nodes)
        }))
    }

    fn pool_ends(&self, step: &HostStep) -> Result<[Vec<f64>; 2]> {
        let d = step.dims;
        let at_x = match step.x {
            StepSlice::F32(x) => self.sums_at(x, d),
            StepSlice::F64(x) => self.sums_at(x, d),
        };
        let mut at_b = self.sums_at(step.b, d);
        if step.b.len() == d {
            // Every agent at the one shared point.
            at_b.iter_mut().for_each(|s| *s *= step.agents as f64);
        }
        Ok([at_x, at_b])
    }

    fn rho(&self, means: &[f64]) -> (f64, Vec<f64>) {
        (self.0.rho(means), self.rho_gradient(means))
    }

    fn pull_back(
        &self,
        step: &HostStep,
        nodes: &[f64],
        shared: &[f64],
        precision: Precision,
        phi: &mut [f64],
    ) {
        stored_and_run!(step, precision, |x, E, T, L| {
            let sink = Sink::Attribution(phi);
            self.pull_back::<E, f64, T, L>(&Self::step_ends(step, x), nodes, shared, sink)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::array::Array3;
    use crate::baseline::{Baseline, BaselineSpec};
    use crate::path::{self, PathOptions};

    /// GE(2) and a smooth share of the composite, ψ handed a pack's points one at a time or
    /// all at once (`AT_ONCE`, through the default `psi_points`).
    struct Mixed<const AT_ONCE: bool>;

    impl<const AT_ONCE: bool> PooledFn for Mixed<AT_ONCE> {
        fn name(&self) -> &str {
            "mixed"
        }
        fn pooled_width(&self) -> usize {
            3
        }
        fn psi<S: Scalar>(&self, z: &[S], out: &mut [S]) {
            let c = z.iter().fold(S::constant(0.0), |c, &v| c + v);
            out[0] = c;
            out[1] = c * c;
            out[2] = ((S::constant(2.0) - z[0]) / 0.3).sigmoid() * z[z.len() - 1];
        }
        fn rho<S: Scalar>(&self, p: &[S]) -> S {
            (p[1] / (p[0] * p[0]) - 1.0) * 0.5 + p[2]
        }
        const POINTS_AT_ONCE: bool = AT_ONCE;
    }

    /// The points-at-once passes compute the same sums in the same order: the same bits, for
    /// every number of features (one dual chunk and several), precision and stored type.
    #[test]
    fn points_at_once_give_the_bits_of_point_by_point() {
        let device = crate::backend::Backend::Flex.device().unwrap();
        for d in [1, 3, 6] {
            let values = (0..2 * 300 * d).map(|i| 0.1 + ((i * 37) % 23) as f64 / 7.0);
            let x = Array3::from_f64([2, 300, d], values.collect());
            let b = Baseline::resolve(&BaselineSpec::Mean, &x).unwrap();
            for precision in [Precision::F32, Precision::F64] {
                let options = PathOptions {
                    precision,
                    points: 7,
                    ..PathOptions::default()
                };
                let run = |indicator: &dyn Indicator| {
                    path::attribute(indicator, &x, &b, &options, &device, &mut |_| {}).unwrap()
                };
                let one = run(&PoolingFn::new(Mixed::<false>));
                let all = run(&PoolingFn::new(Mixed::<true>));
                assert!(one.phi == all.phi, "d = {d}, {precision:?}: φ differs");
                assert_eq!(
                    (one.v_x, one.v_b),
                    (all.v_x, all.v_b),
                    "d = {d}, {precision:?}"
                );
            }
        }
    }
}
