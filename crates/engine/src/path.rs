//! The path-integral engine: Aumann–Shapley attribution of any [`Indicator`] by autodiff.
//!
//! ```text
//! z(α) = b + α (x − b)
//! φ_i  = Σ_k (x_ik − b_ik) ∫₀¹ ∂V/∂x_ik (z(α)) dα  ≈  Σ_k (x_ik − b_ik) Σ_j w_j ∂V/∂x_ik (z(α_j))
//! ```
//!
//! with the nodes `α_j` and weights `w_j` of a [`Rule`] (midpoint by default, `m = 32`).
//! One backward pass per quadrature point gives the gradient for every agent, coordinate and
//! step at once: steps do not interact, so the gradient of `Σ_t V(z_t)` holds each step's own.
//!
//! # Memory
//!
//! The work is cut into blocks of at most [`PathOptions::block_elements`] feature values
//! (`rows × d × n`, a few times that in working memory). A large input is split over steps
//! (one step at a time at the extreme; a step's agents are never split, since the indicator
//! couples them). A small input batches several quadrature points into one backward pass
//! instead, stacked along the row axis, which amortises the per-operation overhead.
//!
//! An indicator with a [`HostRoute`] (a pooled indicator on the host) is attributed step by
//! step from the features as stored, its own blocks of agents at a time: no tensor copy of
//! the input; beyond `φ`, memory is the route's own (a DeepSet whose points go in several
//! groups keeps one step's gradients).
//!
//! # Where the time goes
//!
//! [`Attribution::phases`] splits a run's wall time into `upload` (features and baseline to
//! the device, domain check), `values` (`V(x)`, `V(b)`), `prepare`
//! ([`Indicator::along_path`]), `forward` (building the path points and evaluating `V`),
//! `backward` (gradients and their accumulation) and `download` (`φ` back to the host).

use std::sync::Mutex;
use std::time::Instant;

use burn::tensor::{DType, Device, Tensor, TensorData};
use rayon::prelude::*;

use crate::array::{Array3, download};
use crate::attribution::Attribution;
use crate::backend::{Precision, on_host};
use crate::baseline::Baseline;
use crate::error::{Error, Result};
use crate::indicators::{HostRoute, HostRun, HostStep, Indicator, PathFn, StraightPaths};
use crate::limits;
pub use crate::progress::Progress;

pub use aumann_kernels::quadrature::Rule;

/// Options of the path integral.
#[derive(Clone, Debug, PartialEq)]
pub struct PathOptions {
    /// Quadrature rule.
    pub rule: Rule,
    /// Number of quadrature points `m`.
    pub points: usize,
    /// Precision of the tensors.
    pub precision: Precision,
    /// Upper bound on the feature values (`rows × d × n`) in one block of work.
    pub block_elements: usize,
}

impl Default for PathOptions {
    fn default() -> Self {
        Self {
            rule: Rule::Midpoint,
            points: 32,
            precision: Precision::F32,
            block_elements: 1 << 22,
        }
    }
}

impl PathOptions {
    /// Check that the rule has the points it needs, and no more than it can use.
    ///
    /// # Errors
    /// [`Error::TooFewPoints`]; [`Error::TooLarge`] above [`limits::MAX_POINTS`] (or
    /// [`limits::MAX_GAUSS_POINTS`] for Gauss–Legendre, whose nodes cost `O(m²)`).
    pub fn check_points(&self) -> Result<()> {
        let need = self.rule.min_points();
        if self.points < need {
            return Err(Error::TooFewPoints {
                rule: self.rule.name(),
                need,
                got: self.points,
            });
        }
        let (max, why) = match self.rule {
            Rule::GaussLegendre => (
                limits::MAX_GAUSS_POINTS,
                "Gauss–Legendre converges exponentially: a few dozen nodes are enough",
            ),
            _ => (
                limits::MAX_POINTS,
                "the rule's error is below f64 rounding long before that",
            ),
        };
        let what = format!("the {} rule's quadrature points", self.rule.name());
        limits::at_most(&what, self.points, max, why)
    }
}

/// How a run is cut into blocks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Plan {
    /// Steps per chunk.
    pub steps_per_chunk: usize,
    /// Quadrature points per backward pass.
    pub points_per_pass: usize,
    /// Number of step chunks.
    pub chunks: usize,
    /// Backward passes per chunk.
    pub passes_per_chunk: usize,
}

impl Plan {
    /// Plan `steps` steps of `n × d` values with `points` quadrature points.
    pub fn new(steps: usize, n: usize, d: usize, points: usize, block_elements: usize) -> Self {
        let per_step = (n * d).max(1);
        let rows = (block_elements / per_step).max(1);
        let (steps_per_chunk, points_per_pass) = if rows >= steps {
            (steps, (rows / steps.max(1)).clamp(1, points))
        } else {
            (rows, 1)
        };
        Self {
            steps_per_chunk,
            points_per_pass,
            chunks: steps.div_ceil(steps_per_chunk),
            passes_per_chunk: points.div_ceil(points_per_pass),
        }
    }
}

/// Attribute `indicator` on `features` (`[T, n, d]`) from `baseline` by the path integral.
///
/// `device` may be plain or autodiff; the engine uses both views of it. `progress` is called
/// after every backward pass, from whichever thread finished it, never concurrently.
///
/// # Errors
/// Too few points for the rule, too few agents for the indicator, an input outside the
/// indicator's domain, a precision the device lacks, or a failed read-back.
pub fn attribute(
    indicator: &dyn Indicator,
    features: &Array3,
    baseline: &Baseline,
    options: &PathOptions,
    device: &Device,
    progress: &mut (dyn FnMut(Progress) + Send),
) -> Result<Attribution> {
    let start = Instant::now();
    let [steps, n, _] = features.shape();
    validate(indicator, options, device, n)?;
    if let Some(host) = indicator.host_route(device) {
        let (nodes, weights) = options.rule.nodes_weights(options.points);
        let run = HostRun {
            nodes: &nodes,
            weights: &weights,
            precision: options.precision,
            device,
        };
        let attribution = on_host_route(&*host, features, baseline, &run, progress)?;
        attribution.check_finite(indicator.name())?;
        return Ok(attribution);
    }
    let engine = Engine::new(
        indicator,
        options,
        device,
        features.shape(),
        baseline.is_zero(),
    );
    let reporter = Reporter::new(engine.plan.chunks * engine.plan.passes_per_chunk, progress);
    let ranges: Vec<_> = (0..steps)
        .step_by(engine.plan.steps_per_chunk)
        .map(|t0| t0..(t0 + engine.plan.steps_per_chunk).min(steps))
        .collect();
    let run = |range| engine.chunk(features, baseline, range, &reporter);
    // burn runs the autodiff route op by op, mostly on one thread: on the host, independent
    // steps side by side keep every core busy. An indicator that integrates itself is parallel
    // inside a step; its first chunk says whether it did.
    let side_by_side = on_host(device) && !indicator.integrates_itself();
    let mut done = Vec::with_capacity(ranges.len());
    if !side_by_side {
        done.push(run(ranges[0].clone())?);
    }
    if side_by_side || (done[0].route == Route::General && on_host(device)) {
        let rest: Vec<_> = ranges[done.len()..]
            .par_iter()
            .cloned()
            .map(run)
            .collect::<Result<_>>()?;
        done.extend(rest);
    } else {
        // Host routes are parallel over agents inside a step; a device queue is one stream.
        for range in &ranges[1..] {
            done.push(run(range.clone())?);
        }
    }
    let wall = start.elapsed().as_secs_f64();
    let attribution = assemble(done, [steps, n], options.precision, wall);
    attribution.check_finite(indicator.name())?;
    Ok(attribution)
}

/// [`attribute`] by the indicator's own [`HostRoute`], step by step, from the features as
/// stored: no copy of the input is made.
fn on_host_route(
    host: &dyn HostRoute,
    features: &Array3,
    baseline: &Baseline,
    run: &HostRun,
    progress: &mut (dyn FnMut(Progress) + Send),
) -> Result<Attribution> {
    let start = Instant::now();
    let [steps, n, d] = features.shape();
    let mut clock = PhaseClock::default();
    let (mut v_x, mut v_b) = (Vec::with_capacity(steps), Vec::with_capacity(steps));
    let mut phi = vec![0.0; steps * n];
    for (t, phi) in phi.chunks_exact_mut(n).enumerate() {
        let step = HostStep {
            index: t,
            x: features.step(t),
            b: baseline.step(t),
            agents: n,
            dims: d,
        };
        host.attribute(&step, run, phi)?;
        clock.lap(Phase::Backward);
        let [x, b] = host.end_values(&step, run)?;
        v_x.push(x);
        v_b.push(b);
        clock.lap(Phase::Values);
        progress(Progress {
            done: t + 1,
            total: steps,
        });
    }
    let wall = start.elapsed().as_secs_f64();
    Ok(Attribution {
        steps,
        agents: n,
        phi,
        v_x,
        v_b,
        precision: run.precision,
        seconds: wall - clock.seconds[Phase::Values as usize],
        phases: PhaseClock::report(clock.seconds),
    })
}

/// One run's chunks, in step order, as an [`Attribution`]. Phases are core time: where
/// chunks ran side by side, they are scaled to add up to the wall time `wall`.
fn assemble(
    chunks: Vec<ChunkResult>,
    [steps, n]: [usize; 2],
    precision: Precision,
    wall: f64,
) -> Attribution {
    let mut phases = [0.0; 6];
    let (mut phi, mut v_x, mut v_b) = (
        Vec::with_capacity(steps * n),
        Vec::with_capacity(steps),
        Vec::with_capacity(steps),
    );
    for chunk in chunks {
        phi.extend(chunk.phi);
        v_x.extend(chunk.v_x);
        v_b.extend(chunk.v_b);
        for (total, s) in phases.iter_mut().zip(chunk.clock.seconds) {
            *total += s;
        }
    }
    let scale = (wall / phases.iter().sum::<f64>()).min(1.0);
    phases.iter_mut().for_each(|s| *s *= scale);
    Attribution {
        steps,
        agents: n,
        phi,
        v_x,
        v_b,
        precision,
        seconds: wall - phases[Phase::Values as usize],
        phases: PhaseClock::report(phases),
    }
}

/// Refuse a run that cannot work before any tensor is made.
fn validate(
    indicator: &dyn Indicator,
    options: &PathOptions,
    device: &Device,
    n: usize,
) -> Result<()> {
    options.check_points()?;
    if n < indicator.min_agents() {
        return Err(Error::TooFewAgents {
            indicator: indicator.name().into(),
            need: indicator.min_agents(),
            got: n,
        });
    }
    if !device.supports_dtype(options.precision.dtype()) {
        return Err(Error::UnsupportedPrecision {
            backend: format!("{device:?}"),
            device: crate::backend::describe(device),
        });
    }
    Ok(())
}

/// What one chunk of steps gives.
struct ChunkResult {
    /// `[rows, n]`.
    phi: Vec<f64>,
    v_x: Vec<f64>,
    v_b: Vec<f64>,
    clock: PhaseClock,
    route: Route,
}

/// How a chunk's gradients were integrated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Route {
    /// The indicator's own [`Indicator::integrated_gradient`].
    Integrated,
    /// A backward pass per block of points.
    General,
}

/// Counts backward passes across threads and reports them in order.
struct Reporter<'p> {
    total: usize,
    /// Passes done, and the caller's callback: one lock, so reports arrive in order.
    state: Mutex<(usize, &'p mut (dyn FnMut(Progress) + Send))>,
}

impl<'p> Reporter<'p> {
    fn new(total: usize, progress: &'p mut (dyn FnMut(Progress) + Send)) -> Self {
        Self {
            total,
            state: Mutex::new((0, progress)),
        }
    }

    /// `passes` more backward passes are done.
    fn add(&self, passes: usize) {
        // A callback that panicked poisons the lock: later reports are dropped, not re-panicked.
        if let Ok(mut state) = self.state.lock() {
            state.0 += passes;
            let done = state.0;
            (state.1)(Progress {
                done,
                total: self.total,
            });
        }
    }
}

/// A run's fixed parts: the indicator, the rule, the plan and the device.
struct Engine<'a> {
    indicator: &'a dyn Indicator,
    plain: Device,
    dtype: DType,
    /// `V(x)` and `V(b)` are evaluated in f64 wherever the device has it, so that the
    /// efficiency gap measures the attribution, not the rounding of an f32 sum over a
    /// million agents.
    value_dtype: DType,
    nodes: Vec<f64>,
    weights: Vec<f64>,
    /// Midpoint weights are all 1/m: sum the gradients and scale once at the end.
    equal_weights: bool,
    plan: Plan,
    zero_baseline: bool,
}

impl<'a> Engine<'a> {
    fn new(
        indicator: &'a dyn Indicator,
        options: &PathOptions,
        device: &Device,
        [steps, n, d]: [usize; 3],
        zero_baseline: bool,
    ) -> Self {
        let m = options.points;
        let (nodes, weights) = options.rule.nodes_weights(m);
        let equal_weights = weights.iter().all(|&w| w == weights[0]);
        Self {
            indicator,
            plain: device.clone().inner(),
            dtype: options.precision.dtype(),
            value_dtype: if device.supports_dtype(DType::F64)
                && (crate::ops::f64_transcendentals_work(device)
                    || indicator.f64_forward_on_any_device())
            {
                DType::F64
            } else {
                options.precision.dtype()
            },
            nodes,
            weights,
            equal_weights,
            plan: Plan::new(steps, n, d, m, options.block_elements),
            zero_baseline,
        }
    }

    /// Attribute the steps `range`.
    fn chunk(
        &self,
        features: &Array3,
        baseline: &Baseline,
        range: std::ops::Range<usize>,
        reporter: &Reporter,
    ) -> Result<ChunkResult> {
        let mut clock = PhaseClock::default();
        let (t0, t1) = (range.start, range.end);
        let x = features.upload(t0, t1, &self.plain, self.dtype); // [rows, d, n]
        let b = baseline.upload(t0, t1, &self.plain, self.dtype); // [rows or 1, d, n or 1]
        if let Some(e) = self.indicator.check_domain(&x, &b)? {
            return Err(Error::Domain {
                indicator: self.indicator.name().into(),
                step: t0 + e.row,
                reason: e.reason,
            });
        }
        clock.lap(Phase::Upload);

        let shape = x.dims();
        let v_x = self.indicator.values(&x, shape, self.value_dtype)?;
        let v_b = self.indicator.values(&b, shape, self.value_dtype)?;
        clock.lap(Phase::Values);

        let (acc, delta, route) = match self.indicator.integrated_gradient(&StraightPaths {
            x: &x,
            b: &b,
            nodes: &self.nodes,
            weights: &self.weights,
        })? {
            Some(acc) => {
                reporter.add(self.plan.passes_per_chunk);
                (acc, self.delta(x, b), Route::Integrated)
            }
            None => {
                let along = self.indicator.along_path(&x, &b)?;
                clock.lap(Phase::Prepare);
                let segment = Segment {
                    indicator: self.indicator,
                    along,
                    delta: self.delta(x, b.clone()),
                    b,
                    zero_baseline: self.zero_baseline,
                };
                let acc = self.integrate(&segment, &mut clock, reporter)?;
                (acc, segment.delta, Route::General)
            }
        };
        let chunk_phi = (acc * delta).sum_dim(1); // [rows, 1, n]
        clock.lap(Phase::Backward);
        let phi = download(chunk_phi, "attributions")?;
        clock.lap(Phase::Download);
        Ok(ChunkResult {
            phi,
            v_x,
            v_b,
            clock,
            route,
        })
    }

    /// `x − b`: `x` itself (no copy) from the zero baseline.
    fn delta(&self, x: Tensor<3>, b: Tensor<3>) -> Tensor<3> {
        if self.zero_baseline { x } else { x - b }
    }

    /// `Σ_j w_j ∇V(z(α_j))` over every quadrature point, `[rows, d, n]`.
    fn integrate(
        &self,
        segment: &Segment,
        clock: &mut PhaseClock,
        reporter: &Reporter,
    ) -> Result<Tensor<3>> {
        let m = self.nodes.len();
        let mut acc: Option<Tensor<3>> = None;
        for pass in 0..self.plan.passes_per_chunk {
            let j0 = pass * self.plan.points_per_pass;
            let j1 = (j0 + self.plan.points_per_pass).min(m);
            let w = (!self.equal_weights).then(|| &self.weights[j0..j1]);
            let g = segment.weighted_gradient(&self.nodes[j0..j1], w, clock)?;
            acc = Some(match acc {
                None => g,
                Some(a) => a + g,
            });
            clock.lap(Phase::Backward);
            reporter.add(1);
        }
        // A plan has at least one pass: a rule has at least one point.
        let acc = acc.unwrap_or_else(|| unreachable!("a rule has at least one point"));
        Ok(if self.equal_weights {
            acc.mul_scalar(self.weights[0])
        } else {
            acc
        })
    }
}

/// The straight paths `z(α) = b + α δ` of one chunk of steps.
struct Segment<'a> {
    /// The indicator, for [`Indicator::gradient`].
    indicator: &'a dyn Indicator,
    /// The indicator restricted to these paths.
    along: PathFn<'a>,
    /// `x − b`, `[rows, d, n]`.
    delta: Tensor<3>,
    /// `[rows or 1, d, n or 1]`.
    b: Tensor<3>,
    /// Skip adding `b`.
    zero_baseline: bool,
}

impl Segment<'_> {
    /// `Σ_j w_j ∇V(z(α_j))` over the given points in one backward pass (`weights = None`:
    /// an unweighted sum). Several points are stacked along the row axis.
    fn weighted_gradient(
        &self,
        alphas: &[f64],
        weights: Option<&[f64]>,
        clock: &mut PhaseClock,
    ) -> Result<Tensor<3>> {
        let b = (!self.zero_baseline).then_some(&self.b);
        let z = points_on_paths(&self.delta, b, alphas); // [p·rows, d, n]
        let g = self.gradient(z, clock)?;
        Ok(sum_point_slices(g, self.delta.dims()[0], weights))
    }

    /// `∂(Σ V)/∂z` at the points `z` (plain): the indicator's own, or autodiff's.
    fn gradient(&self, z: Tensor<3>, clock: &mut PhaseClock) -> Result<Tensor<3>> {
        if let Some(g) = self.indicator.gradient(&z) {
            clock.lap(Phase::Backward);
            return Ok(g);
        }
        let z = z.autodiff().require_grad();
        let v = (self.along)(z.clone())?.sum();
        clock.lap(Phase::Forward);
        // An input the output does not depend on has a zero gradient (a constant indicator).
        Ok(z.grad(&v.backward())
            .unwrap_or_else(|| z.clone().inner().zeros_like()))
    }
}

/// The points `b + α_j δ` of straight paths (`δ`: `[rows, d, n]`; `b`: broadcast against it,
/// `None` for zero), stacked point-major: `[p·rows, d, n]`, row `j·rows + r` is point `j` of
/// row `r`.
pub(crate) fn points_on_paths(
    delta: &Tensor<3>,
    b: Option<&Tensor<3>>,
    alphas: &[f64],
) -> Tensor<3> {
    let [rows, d, n] = delta.dims();
    let z = match alphas {
        [alpha] => delta.clone().mul_scalar(*alpha),
        _ => {
            let alpha = column(alphas, &delta.device(), delta.dtype()); // [p, 1, 1, 1]
            let scaled = delta.clone().unsqueeze_dim::<4>(0) * alpha; // [p, rows, d, n]
            let z = match b {
                Some(b) => scaled + b.clone().unsqueeze_dim(0),
                None => scaled,
            };
            return z.reshape([alphas.len() * rows, d, n]);
        }
    };
    match b {
        Some(b) => z + b.clone(),
        None => z,
    }
}

/// `Σ_j w_j t_j` over the point slices `t_j` of a point-major `[p·rows, d, n]` tensor
/// (`weights = None`: an unweighted sum). Slices, not a reshape to `[p, rows, d, n]`: a
/// gradient may come back with permuted strides, which burn-wgpu 0.22 reshapes wrongly.
pub(crate) fn sum_point_slices(t: Tensor<3>, rows: usize, weights: Option<&[f64]>) -> Tensor<3> {
    let p = t.dims()[0] / rows;
    if p == 1 {
        return match weights {
            Some(w) => t.mul_scalar(w[0]),
            None => t,
        };
    }
    (0..p)
        .map(|j| {
            let slice = t.clone().narrow(0, j * rows, rows);
            match weights {
                Some(w) => slice.mul_scalar(w[j]),
                None => slice,
            }
        })
        .reduce(|a, b| a + b)
        .unwrap_or_else(|| unreachable!("a block has at least one point"))
}

/// The phases of a run, for [`Attribution::phases`].
#[derive(Clone, Copy)]
enum Phase {
    Upload,
    Values,
    Prepare,
    Forward,
    Backward,
    Download,
}

/// Wall time per phase: each lap charges the time since the previous lap to a phase. On an
/// asynchronous device (wgpu) work queued in one phase may run in a later one.
struct PhaseClock {
    last: Instant,
    seconds: [f64; 6],
}

impl Default for PhaseClock {
    fn default() -> Self {
        Self {
            last: Instant::now(),
            seconds: [0.0; 6],
        }
    }
}

impl PhaseClock {
    fn lap(&mut self, phase: Phase) {
        let now = Instant::now();
        self.seconds[phase as usize] += (now - self.last).as_secs_f64();
        self.last = now;
    }

    fn report(seconds: [f64; 6]) -> Vec<(&'static str, f64)> {
        let names = [
            "upload", "values", "prepare", "forward", "backward", "download",
        ];
        names.into_iter().zip(seconds).collect()
    }
}

/// A `[len, 1, 1, 1]` tensor of `values`.
fn column(values: &[f64], device: &Device, dtype: DType) -> Tensor<4> {
    Tensor::from_data(
        TensorData::new(values.to_vec(), [values.len(), 1, 1, 1]),
        (device, dtype),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_split_steps_for_large_inputs_and_batch_points_for_small_ones() {
        let big = Plan::new(14, 1_000_000, 3, 32, 1 << 22);
        assert_eq!(
            (big.steps_per_chunk, big.points_per_pass, big.chunks),
            (1, 1, 14)
        );
        let small = Plan::new(1, 100, 3, 32, 1 << 22);
        assert_eq!((small.steps_per_chunk, small.points_per_pass), (1, 32));
        assert_eq!(small.passes_per_chunk, 1);
        let mid = Plan::new(14, 10_000, 3, 32, 1 << 22);
        assert_eq!((mid.steps_per_chunk, mid.points_per_pass), (14, 9));
        assert_eq!(mid.passes_per_chunk, 4);
    }
}
