//! Pooled indicators: functions of a few population means, and their path integral without an
//! autodiff graph over the whole population.
//!
//! ```text
//! V(z) = ρ(p̄),   p̄ = (1/n) Σ_i ψ(z_i),   ψ : R^d → R^k,   ρ : R^k → R
//! ∂V/∂z_i = (1/n) J_ψ(z_i)ᵀ ∇ρ(p̄)
//! Σ_j w_j ∂V/∂z_i(α_j) = Σ_j J_ψ(b_i + α_j δ_i)ᵀ g_j,     g_j = w_j ∇ρ(p̄(α_j)) / n
//! ```
//!
//! Most macro indicators have this form: a DeepSet is ρ(mean ψ) with learned ψ and ρ; the
//! variance is `ψ(z) = (c, c²)`, `ρ(s) = s₂ − s₁²`; Theil's index is `ψ(z) = (c, c ln c)`,
//! `ρ(s) = s₂/s₁ − ln s₁` (with the composite `c = Σ_k z_k`). Implement [`Pooled`] (ψ and ρ
//! as tensor programs) and wrap it in [`Pooling`] to get an [`Indicator`] whose integrated
//! gradient takes three passes for every quadrature point at once:
//!
//! 1. **pool**: `ψ` forward over the agents, a block of agents and of points at a time (blocks
//!    in parallel), each block's sums added in f64 on the host: `p̄(α_j)` for every point `j`;
//! 2. **ρ**: `g_j`, one small backward pass through ρ for all points (`m × k` numbers);
//! 3. **pull back**: per block of agents (blocks in parallel), one backward pass through `ψ`
//!    against the fixed `g_j` of a block of points, summed over the points.
//!
//! No graph spans more than one block, so memory is a block's activations whatever `n`; the
//! result is the φ of the general autodiff route (the same derivative, summed in another
//! order). On a host device (`flex`, `ndarray`) the blocks are read from the input as stored
//! ([`Indicator::host_route`]): no tensor of a whole step is made, and
//! [`Pooled::check_domain`] is asked about one block of agents at a time.
//!
//! # Example
//!
//! Theil's index of the composite, `T = mean(c ln c)/c̄ − ln c̄`:
//!
//! ```
//! use aumann_engine::prelude::*;
//! use burn::tensor::Tensor;
//!
//! struct Theil;
//!
//! impl Pooled for Theil {
//!     fn name(&self) -> &str {
//!         "theil"
//!     }
//!     fn psi(&self, z: Tensor<3>) -> Tensor<3> {
//!         let c = z.sum_dim(1); // [rows, 1, n]
//!         let c_ln_c = c.clone() * c.clone().log();
//!         Tensor::cat(vec![c, c_ln_c], 1) // [rows, 2, n]
//!     }
//!     fn rho(&self, p: Tensor<2>) -> Tensor<1> {
//!         let [rows, _] = p.dims();
//!         let mean = p.clone().narrow(1, 0, 1);
//!         let mean_c_ln_c = p.narrow(1, 1, 1);
//!         (mean_c_ln_c / mean.clone() - mean.log()).reshape([rows])
//!     }
//! }
//!
//! let x = Array3::from_f64([1, 3, 1], vec![1.0, 2.0, 4.0]);
//! let baseline = Baseline::resolve(&BaselineSpec::Mean, &x).unwrap(); // everyone at c̄
//! let options = PathOptions {
//!     precision: Precision::F64,
//!     rule: Rule::GaussLegendre,
//!     ..PathOptions::default()
//! };
//! let device = Backend::Flex.device().unwrap();
//! let phi = path::attribute(&Pooling::new(Theil), &x, &baseline, &options, &device, &mut |_| {})
//!     .unwrap();
//! // Efficiency: the attributions add up to V(x) − V(b), and V(b) = 0 (everyone equal).
//! let theil = (2.0 * 2f64.ln() + 4.0 * 4f64.ln()) / 7.0 - (7.0f64 / 3.0).ln();
//! assert!((phi.phi.iter().sum::<f64>() - theil).abs() < 1e-9);
//! ```

use burn::tensor::{DType, Device, Tensor, TensorData};
use rayon::prelude::*;

use super::{DomainError, HostRoute, HostRun, HostStep, Indicator, StraightPaths};
use crate::array::{StepSlice, agents_block, download};
use crate::backend::on_host;
use crate::error::{Error, Result};
use crate::path::{points_on_paths, sum_point_slices};

/// An indicator of the form `V(z) = ρ((1/n) Σ_i ψ(z_i))`: see the [module](self) docs.
///
/// `ψ` and `ρ` are tensor programs on the device they are given, differentiable by autodiff.
/// They receive tensors in the run's precision or in f64 (the engine evaluates `V(x)` and
/// `V(b)` in f64 where the device has it): build any constant with the input's dtype.
pub trait Pooled: Send + Sync {
    /// Stable snake_case id, the name in summaries.
    fn name(&self) -> &str;

    /// The smallest population the indicator is defined for.
    fn min_agents(&self) -> usize {
        1
    }

    /// `ψ` of every agent.
    ///
    /// # Shapes
    /// - `z`: `[rows, d, n]`
    /// - output: `[rows, k, n]`
    fn psi(&self, z: Tensor<3>) -> Tensor<3>;

    /// `ρ` of every row's pooled mean.
    ///
    /// # Shapes
    /// - `p`: `[rows, k]`
    /// - output: `[rows]`
    fn rho(&self, p: Tensor<2>) -> Tensor<1>;

    /// Check that the whole path from `b` to `x` lies in the indicator's domain: as
    /// [`Indicator::check_domain`]. On a host device it is asked about one block of agents at
    /// a time (`x`, `b`: `[1, d, len]`, `b` `[1, d, 1]` when shared): state conditions on
    /// agents' values.
    ///
    /// # Errors
    /// If reading the check's statistics back from the device fails.
    fn check_domain(&self, x: &Tensor<3>, b: &Tensor<3>) -> Result<Option<DomainError>> {
        let _ = (x, b);
        Ok(None)
    }
}

/// A [`Pooled`] indicator as an [`Indicator`], attributed by the pooled route.
#[derive(Clone, Debug)]
pub struct Pooling<P> {
    pooled: P,
    /// Upper bound on the path-point values (`points × rows × d × agents`) of one block on
    /// the host.
    block_elements: usize,
    /// The same bound on a GPU, where blocks are as large as memory allows: every block is a
    /// fixed number of kernel launches, so fewer, larger blocks mean fewer launches.
    device_block_elements: usize,
}

/// Default [`Pooling::with_block_elements`] on the host: about 4 M values a block.
pub const DEFAULT_BLOCK_ELEMENTS: usize = 1 << 22;

/// Default bound on a GPU: about 8 M values a block, every agent of a step in one block up to
/// millions of agents. Not more: wgpu binds at most 128 MiB of a buffer to a kernel by
/// default, and a block's intermediate tensors (f64 sums among them) must fit (blocks of 2²⁶
/// values failed to allocate on lavapipe at `[1, 10⁶, 3]`).
pub const DEFAULT_DEVICE_BLOCK_ELEMENTS: usize = 1 << 23;

/// Most agents in one block. Small blocks keep each operation's tensors near the cache (at
/// `[14, 10⁶, 3]` blocks of 2¹² agents ran 2.7× faster than blocks of 2¹⁶) and give the
/// threads many blocks to share. Fixed, not derived from the number of threads, so results do
/// not depend on it.
const MAX_BLOCK_AGENTS: usize = 1 << 12;

impl<P: Pooled> Pooling<P> {
    /// `pooled`, with blocks of [`DEFAULT_BLOCK_ELEMENTS`].
    pub fn new(pooled: P) -> Self {
        Self {
            pooled,
            block_elements: DEFAULT_BLOCK_ELEMENTS,
            device_block_elements: DEFAULT_DEVICE_BLOCK_ELEMENTS,
        }
    }

    /// Blocks of at most `elements` path-point values (at least one agent and one point), on
    /// every device.
    pub fn with_block_elements(self, elements: usize) -> Self {
        Self {
            block_elements: elements.max(1),
            device_block_elements: elements.max(1),
            ..self
        }
    }

    /// The wrapped indicator.
    pub fn inner(&self) -> &P {
        &self.pooled
    }
}

impl<P: Pooled> Indicator for Pooling<P> {
    fn name(&self) -> &str {
        self.pooled.name()
    }

    fn min_agents(&self) -> usize {
        self.pooled.min_agents()
    }

    fn forward(&self, z: Tensor<3>) -> Result<Tensor<1>> {
        let rows = z.dims()[0];
        let psi = self.pooled.psi(z);
        let k = psi.dims()[1];
        Ok(self
            .pooled
            .rho(crate::ops::mean_dim(psi, 2).reshape([rows, k])))
    }

    fn check_domain(&self, x: &Tensor<3>, b: &Tensor<3>) -> Result<Option<DomainError>> {
        self.pooled.check_domain(x, b)
    }

    fn integrated_gradient(&self, paths: &StraightPaths) -> Result<Option<Tensor<3>>> {
        let StraightPaths {
            x,
            b,
            nodes,
            weights,
        } = *paths;
        let route = Route::new(&self.pooled, x, b, nodes, self.device_block_elements);
        let pooled = route.pool()?;
        let shared = route.shared_vectors(&pooled, weights)?;
        Ok(Some(route.pull_back(&shared)?))
    }

    /// On the host, blocks of agents are read from the input as stored.
    fn host_route(&self, device: &Device) -> Option<Box<dyn HostRoute + '_>> {
        on_host(device).then(|| Box::new(self) as Box<dyn HostRoute>)
    }
}

impl<P: Pooled> HostRoute for Pooling<P> {
    fn end_values(&self, step: &HostStep, run: &HostRun) -> Result<[f64; 2]> {
        let blocks = HostBlocks::new(self, step, run, &[0.0]);
        let v_x = blocks.value(BlockOf::Features)?;
        let v_b = blocks.value(BlockOf::Baseline)?;
        Ok([v_x, v_b])
    }

    fn attribute(&self, step: &HostStep, run: &HostRun, phi: &mut [f64]) -> Result<()> {
        let blocks = HostBlocks::new(self, step, run, run.nodes);
        blocks.check_domain()?;
        let sums = blocks.pool(run.dtype(), BlockOf::Path)?;
        let shape = [1, blocks.k, step.agents];
        let on = (run.device, run.dtype());
        let shared = shared_gradients(&self.pooled, &sums, shape, run.weights, on)?;
        blocks.pull_back(&shared, phi)
    }
}

/// `[agents, points]` of a block: at most `block_elements` values of `per_agent_point` for
/// each of its agents and points (at least one of each, at most `max_agents` of `n` agents
/// and all `m` points).
fn block_shape(
    block_elements: usize,
    per_agent_point: usize,
    [n, m]: [usize; 2],
    max_agents: usize,
) -> [usize; 2] {
    let agents = (block_elements / per_agent_point).clamp(1, n.min(max_agents));
    let points = (block_elements / (per_agent_point * agents)).clamp(1, m.max(1));
    [agents, points]
}

/// The sum of parallel blocks' partial sums (`len` values each), added in block order: the
/// same bits for any thread count.
pub(super) fn add_in_order(partials: Vec<Vec<f64>>, len: usize) -> Vec<f64> {
    let mut sums = vec![0.0; len];
    for part in partials {
        for (sum, v) in sums.iter_mut().zip(part) {
            *sum += v;
        }
    }
    sums
}

/// Which ends of one step's paths a block holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BlockOf {
    /// The features `x` (one point).
    Features,
    /// The baseline `b` (one point).
    Baseline,
    /// The path's points `b + α_j δ` at every node.
    Path,
}

/// One step read from the host in blocks of agents, each made a `[1, d, len]` tensor only
/// while it is worked on: the three passes of the pooled route with memory `O(block)`.
struct HostBlocks<'a, P> {
    pooled: &'a P,
    step: &'a HostStep<'a>,
    run: &'a HostRun<'a>,
    nodes: &'a [f64],
    /// `k`, the width of ψ.
    k: usize,
    /// Agents per block.
    agents: usize,
    /// Quadrature points per block.
    points: usize,
}

impl<'a, P: Pooled> HostBlocks<'a, P> {
    fn new(
        pooling: &'a Pooling<P>,
        step: &'a HostStep<'a>,
        run: &'a HostRun<'a>,
        nodes: &'a [f64],
    ) -> Self {
        let pooled = &pooling.pooled;
        let one = agents_block(step.x, step.dims, 0, 1, run.device, run.dtype());
        let k = pooled.psi(one).dims()[1];
        let per_agent_point = step.dims.max(k);
        let [agents, points] = block_shape(
            pooling.block_elements,
            per_agent_point,
            [step.agents, nodes.len()],
            MAX_BLOCK_AGENTS,
        );
        Self {
            pooled,
            step,
            run,
            nodes,
            k,
            agents,
            points,
        }
    }

    /// The first agent of every block, and its length.
    fn blocks(&self) -> Vec<(usize, usize)> {
        let n = self.step.agents;
        (0..n)
            .step_by(self.agents)
            .map(|s| (s, self.agents.min(n - s)))
            .collect()
    }

    /// The path's ends of agents `s..s + len` in `dtype`: `x` and `b` (`[1, d, 1]` when
    /// shared), `[1, d, len]`.
    fn ends(&self, (s, len): (usize, usize), dtype: DType) -> (Tensor<3>, Tensor<3>) {
        let (d, device) = (self.step.dims, self.run.device);
        let x = agents_block(self.step.x, d, s, len, device, dtype);
        let b = match self.step.b.len() == d {
            true => agents_block(StepSlice::F64(self.step.b), d, 0, 1, device, dtype),
            false => agents_block(StepSlice::F64(self.step.b), d, s, len, device, dtype),
        };
        (x, b)
    }

    /// The points of `what` for one block and the nodes `j0..j1`, `[(j1 − j0), d, len]`.
    fn points(
        &self,
        block: (usize, usize),
        what: BlockOf,
        [j0, j1]: [usize; 2],
        dtype: DType,
    ) -> Tensor<3> {
        let (x, b) = self.ends(block, dtype);
        match what {
            BlockOf::Features => x,
            BlockOf::Baseline => b,
            BlockOf::Path => points_on_paths(&(x - b.clone()), Some(&b), &self.nodes[j0..j1]),
        }
    }

    /// `Σ_i ψ(z_i)` of every node, `[m, k]` flattened, in f64: blocks in parallel, their sums
    /// added in block order.
    fn pool(&self, dtype: DType, what: BlockOf) -> Result<Vec<f64>> {
        let (m, k) = (self.nodes.len(), self.k);
        let partial = |block: (usize, usize)| -> Result<Vec<f64>> {
            let mut sums = vec![0.0; m * k];
            for j0 in (0..m).step_by(self.points) {
                let j1 = (j0 + self.points).min(m);
                let psi = self.pooled.psi(self.points(block, what, [j0, j1], dtype));
                let block = download(crate::ops::sum_dim(psi, 2), "pooled sums")?;
                sums[j0 * k..j1 * k].copy_from_slice(&block);
            }
            Ok(sums)
        };
        let blocks = match what {
            // A shared baseline pools to ψ of that point: one agent is enough.
            BlockOf::Baseline if self.step.b.len() == self.step.dims => vec![(0, 1)],
            _ => self.blocks(),
        };
        let partials: Vec<Vec<f64>> = blocks.into_par_iter().map(partial).collect::<Result<_>>()?;
        Ok(add_in_order(partials, m * k))
    }

    /// `V` of the features or the baseline, ψ and ρ in f64.
    fn value(&self, what: BlockOf) -> Result<f64> {
        let sums = self.pool(DType::F64, what)?;
        let n = match what {
            BlockOf::Baseline if self.step.b.len() == self.step.dims => 1,
            _ => self.step.agents,
        };
        let means: Vec<f64> = sums.iter().map(|s| s / n as f64).collect();
        let p = Tensor::<2>::from_data(
            TensorData::new(means, [1, self.k]),
            (self.run.device, DType::F64),
        );
        Ok(download(self.pooled.rho(p), "values")?[0])
    }

    /// The domain of every block's paths, by [`Pooled::check_domain`].
    fn check_domain(&self) -> Result<()> {
        let dtype = self.run.dtype();
        for block in self.blocks() {
            let (x, b) = self.ends(block, dtype);
            if let Some(e) = self.pooled.check_domain(&x, &b)? {
                return Err(Error::Domain {
                    indicator: self.pooled.name().into(),
                    step: self.step.index,
                    reason: e.reason,
                });
            }
        }
        Ok(())
    }

    /// `φ_i = Σ_c δ_ic Σ_j (J_ψ(z_i(α_j))ᵀ g_j)_c` of every agent into `phi`; `shared`: `g_j`,
    /// `[m, k, 1]`. Blocks in parallel.
    fn pull_back(&self, shared: &Tensor<3>, phi: &mut [f64]) -> Result<()> {
        let (m, dtype) = (self.nodes.len(), self.run.dtype());
        let blocks = self.blocks();
        let work = phi.par_chunks_mut(self.agents).zip(blocks.into_par_iter());
        work.try_for_each(|(phi, block)| {
            let (x, b) = self.ends(block, dtype);
            let delta = x - b.clone();
            let mut acc: Option<Tensor<3>> = None;
            for j0 in (0..m).step_by(self.points) {
                let j1 = (j0 + self.points).min(m);
                let z = points_on_paths(&delta, Some(&b), &self.nodes[j0..j1]);
                let z = z.autodiff().require_grad();
                let g = shared.clone().narrow(0, j0, j1 - j0);
                let y = (self.pooled.psi(z.clone()) * g).sum();
                let grad = z
                    .grad(&y.backward())
                    .unwrap_or_else(|| z.clone().inner().zeros_like());
                let grad = sum_point_slices(grad, 1, None);
                acc = Some(match acc {
                    None => grad,
                    Some(a) => a + grad,
                });
            }
            let acc = acc.unwrap_or_else(|| unreachable!("a rule has at least one point"));
            phi.copy_from_slice(&download((acc * delta).sum_dim(1), "attributions")?);
            Ok(())
        })
    }
}

/// `g_j = w_j ∇ρ(p̄(α_j)) / n` of every point and row from the pooled sums `[m·rows, k]`,
/// as `[m·rows, k, 1]` in the run's precision on its device.
fn shared_gradients<P: Pooled>(
    pooled: &P,
    sums: &[f64],
    [rows, k, n]: [usize; 3],
    weights: &[f64],
    (device, dtype): (&Device, DType),
) -> Result<Tensor<3>> {
    let m = weights.len();
    // `p̄` and `∇ρ` in f64 where the device runs a program of the user's in f64 safely.
    let pool_dtype = if crate::ops::f64_transcendentals_work(device) {
        DType::F64
    } else {
        dtype
    };
    let means: Vec<f64> = sums.iter().map(|s| s / n as f64).collect();
    let p = Tensor::<2>::from_data(TensorData::new(means, [m * rows, k]), (device, pool_dtype))
        .autodiff()
        .require_grad();
    let grad = p
        .grad(&pooled.rho(p.clone()).sum().backward())
        .unwrap_or_else(|| p.clone().inner().zeros_like());
    let mut g = download(grad, "gradients of ρ")?;
    for (j, &w) in weights.iter().enumerate() {
        for v in &mut g[j * rows * k..(j + 1) * rows * k] {
            *v *= w / n as f64;
        }
    }
    Ok(
        Tensor::<3>::from_data(TensorData::new(g, [m * rows, k, 1]), (device, pool_dtype))
            .cast(dtype),
    )
}

/// One chunk of steps on its way through the three passes.
struct Route<'a, P> {
    pooled: &'a P,
    /// `[rows, d, n]`.
    x: Tensor<3>,
    /// `[rows or 1, d, n or 1]`.
    b: Tensor<3>,
    nodes: &'a [f64],
    /// `k`, the width of ψ.
    k: usize,
    /// Agents per block.
    agents: usize,
    /// Quadrature points per block.
    points: usize,
}

impl<'a, P: Pooled> Route<'a, P> {
    fn new(
        pooled: &'a P,
        x: &Tensor<3>,
        b: &Tensor<3>,
        nodes: &'a [f64],
        block_elements: usize,
    ) -> Self {
        let [rows, d, n] = x.dims();
        // ψ of one agent tells its width k.
        let k = pooled.psi(x.clone().narrow(0, 0, 1).narrow(2, 0, 1)).dims()[1];
        // The host's cache bound on agents does not apply to a GPU's blocks.
        let max_agents = match on_host(&x.device()) {
            true => MAX_BLOCK_AGENTS,
            false => n,
        };
        let per_agent_point = rows * d.max(k);
        let [agents, points] = block_shape(
            block_elements,
            per_agent_point,
            [n, nodes.len()],
            max_agents,
        );
        Self {
            pooled,
            x: x.clone(),
            b: b.clone(),
            nodes,
            k,
            agents,
            points,
        }
    }

    /// The first agent of every block.
    fn agent_starts(&self) -> Vec<usize> {
        (0..self.x.dims()[2]).step_by(self.agents).collect()
    }

    /// The first point of every block.
    fn point_starts(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.nodes.len()).step_by(self.points)
    }

    /// The path's ends for agents `s..s + len`: `δ` `[rows, d, len]` and `b` (broadcast).
    fn block(&self, s: usize, len: usize) -> (Tensor<3>, Tensor<3>) {
        let n = self.x.dims()[2];
        let b = match self.b.dims()[2] == n && n > 1 {
            true => self.b.clone().narrow(2, s, len),
            false => self.b.clone(),
        };
        (self.x.clone().narrow(2, s, len) - b.clone(), b)
    }

    /// Pass 1: `Σ_i ψ(z_i(α_j))` of every point and row, `[m][rows][k]` flattened, in f64.
    /// Agent blocks in parallel, their partial sums added in block order.
    fn pool(&self) -> Result<Vec<f64>> {
        let [rows, _, n] = self.x.dims();
        let (m, k) = (self.nodes.len(), self.k);
        let wide = self.x.device().supports_dtype(DType::F64);
        let partial = |s: usize| -> Result<Vec<f64>> {
            let (delta, b) = self.block(s, self.agents.min(n - s));
            let mut sums = vec![0.0; m * rows * k];
            for j0 in self.point_starts() {
                let j1 = (j0 + self.points).min(m);
                let psi = self
                    .pooled
                    .psi(points_on_paths(&delta, Some(&b), &self.nodes[j0..j1]));
                // Summed in f64 where the device has it: a GPU's block holds every agent of
                // a step, and an f32 sum over a million of them would show in the gap.
                let psi = match wide && psi.dtype() != DType::F64 {
                    true => psi.cast(DType::F64),
                    false => psi,
                };
                let block = crate::ops::sum_dim(psi, 2);
                let block = download(block, "pooled sums")?; // [(j1 − j0)·rows, k, 1]
                sums[j0 * rows * k..j1 * rows * k].copy_from_slice(&block);
            }
            Ok(sums)
        };
        let partials: Vec<Vec<f64>> = (self.agent_starts().into_par_iter())
            .map(partial)
            .collect::<Result<_>>()?;
        Ok(add_in_order(partials, m * rows * k))
    }

    /// Pass 2: `g_j = w_j ∇ρ(p̄(α_j)) / n` of every point and row, `[m·rows, k, 1]`.
    fn shared_vectors(&self, sums: &[f64], weights: &[f64]) -> Result<Tensor<3>> {
        let [rows, _, n] = self.x.dims();
        let on = (&self.x.device(), self.x.dtype());
        shared_gradients(self.pooled, sums, [rows, self.k, n], weights, on)
    }

    /// Pass 3: `Σ_j J_ψ(z_i(α_j))ᵀ g_j` of every agent, `[rows, d, n]`.
    fn pull_back(&self, shared: &Tensor<3>) -> Result<Tensor<3>> {
        let [rows, _, n] = self.x.dims();
        let m = self.nodes.len();
        let blocks: Vec<Tensor<3>> = (self.agent_starts().into_par_iter())
            .map(|s| {
                let (delta, b) = self.block(s, self.agents.min(n - s));
                self.point_starts()
                    .map(|j0| {
                        let j1 = (j0 + self.points).min(m);
                        let z = points_on_paths(&delta, Some(&b), &self.nodes[j0..j1]);
                        let z = z.autodiff().require_grad();
                        let g = shared.clone().narrow(0, j0 * rows, (j1 - j0) * rows);
                        let y = (self.pooled.psi(z.clone()) * g).sum();
                        let grad = z
                            .grad(&y.backward())
                            .unwrap_or_else(|| z.clone().inner().zeros_like());
                        sum_point_slices(grad, rows, None)
                    })
                    .reduce(|a, b| a + b)
                    .unwrap_or_else(|| unreachable!("a rule has at least one point"))
            })
            .collect();
        Ok(Tensor::cat(blocks, 2))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_blocks_stay_near_the_cache_and_device_blocks_take_every_agent() {
        // The host: at most 2¹² agents a block, every point beside them.
        let host = block_shape(DEFAULT_BLOCK_ELEMENTS, 3, [1_000_000, 32], MAX_BLOCK_AGENTS);
        assert_eq!(host, [MAX_BLOCK_AGENTS, 32]);
        // A GPU: a million agents in one block, the points in groups of two.
        let device = block_shape(DEFAULT_DEVICE_BLOCK_ELEMENTS, 3, [1_000_000, 32], 1_000_000);
        assert_eq!(device, [1_000_000, 2]);
        // At least one agent and one point, whatever the budget.
        assert_eq!(block_shape(1, 3, [10, 5], 10), [1, 1]);
    }
}
