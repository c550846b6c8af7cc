//! Macro indicators: differentiable tensor programs `V : R^{n×d} → R`, evaluated for every
//! time step at once.
//!
//! An indicator sees a population as a `[rows, d, n]` tensor (agents on the last, contiguous
//! axis) and returns `[rows]`: one value per row, each row an independent population. The
//! path-integral engine differentiates it with burn's autodiff, so any indicator written with
//! tensor operations gets attributions for free.
//!
//! | id | formula | module |
//! |---|---|---|
//! | `linear` | `(1/n) Σ_i c_i` | [`linear`] |
//! | `mult` | `ln(1 + Π_k x̄_k)` | [`mult`] |
//! | `variance` | `(1/n) Σ_i (c_i − c̄)²` | [`variance`] |
//! | `gini` | `Σ_{i≠j} \|c_i − c_j\| / (n(n−1))` (the mean difference) | [`gini`] |
//! | `gini_coefficient` | `Σ_i Σ_j \|c_i − c_j\| / (2 n² μ)` (Mesa's `compute_gini`) | [`gini_coefficient`] |
//! | `theil` | `(1/n) Σ_i (c_i/μ) ln(c_i/μ)` | [`inequality`] |
//! | `atkinson(epsilon=ε)` | `1 − ((1/n) Σ_i c_i^{1−ε})^{1/(1−ε)} / μ` | [`inequality`] |
//! | `coefficient_of_variation` | `sqrt((1/n) Σ_i (c_i − μ)²) / μ` | [`inequality`] |
//! | `top_share(p=p, tau=τ)` | the share of `Σ_i c_i` held by the top `p` of agents, smoothed | [`top_share`] |
//! | `share_above(threshold=θ, tau=τ)` | `(1/n) Σ_i σ((c_i − θ)/τ)`, `share_below` likewise | [`inequality`] |
//! | `deepset` | `ρ((1/n) Σ_i ψ(x_i))`, learned | [`deepset`] |
//! | `formula` | `ρ((1/n) Σ_i ψ(x_i))`, ψ and ρ written as formulas | [`formula`] |
//!
//! Any `ρ((1/n) Σ_i ψ(z_i))` of one's own — an entropy, an inequality index, a smoothed
//! threshold share — can be written as formulas without Rust ([`formula`]), or stated as
//! [`pooled_fn::PooledFn`] (ψ and ρ as plain Rust over any
//! [`scalar::Scalar`], differentiated exactly by dual numbers, the fastest route on a CPU) or
//! as [`pooled::Pooled`] (ψ and ρ as tensor programs, on any backend): its attribution then
//! needs no autodiff graph over the population.
//!
//! with the composite `c_i = Σ_k x_ik`.
//!
//! # Adding an indicator
//!
//! Implement [`Indicator`]; `forward` is all that is required. Here the mean of each
//! agent's squared composite, `V = (1/n) Σ_i c_i²`, gets its Aumann–Shapley attribution
//! (`φ_i = c_i²/n` with a zero baseline) from the engine:
//!
//! ```
//! use aumann_engine::prelude::*;
//! use burn::tensor::Tensor;
//!
//! struct MeanSquare;
//!
//! impl Indicator for MeanSquare {
//!     fn name(&self) -> &str {
//!         "mean_square"
//!     }
//!     fn forward(&self, z: Tensor<3>) -> aumann_engine::Result<Tensor<1>> {
//!         let rows = z.dims()[0];
//!         let c = z.sum_dim(1); // [rows, 1, n]
//!         Ok(c.powi_scalar(2).mean_dim(2).reshape([rows]))
//!     }
//! }
//!
//! // Two agents, one step, d = 2: composites 3 and 1.
//! let x = Array3::from_f64([1, 2, 2], vec![1.0, 2.0, 0.5, 0.5]);
//! let baseline = Baseline::resolve(&BaselineSpec::Zero, &x).unwrap();
//! let options = PathOptions { precision: Precision::F64, ..PathOptions::default() };
//! let phi = path::attribute(&MeanSquare, &x, &baseline, &options, &Backend::Flex.device().unwrap(), &mut |_| {})
//!     .unwrap();
//! assert!((phi.phi[0] - 4.5).abs() < 1e-12 && (phi.phi[1] - 0.5).abs() < 1e-12);
//! ```
//!
//! To make it reachable by name (the command line, run configurations), give its module an
//! [`Entry`] and list that entry in [`REGISTRY`]: one new file, one line here.

use std::path::{Path, PathBuf};

use burn::tensor::{DType, Device, Tensor};

use crate::array::StepSlice;
use crate::backend::Precision;
use crate::choice::Choice;
use crate::error::{Error, Result};
use parameters::{Parameter, Parameters, Resolved};

pub mod deepset;
pub mod formula;
pub mod gini;
pub mod gini_coefficient;
pub mod inequality;
pub mod linear;
pub mod mult;
pub mod parameters;
pub mod pooled;
pub mod pooled_fn;
pub mod scalar;
pub mod top_share;
pub mod variance;

pub use aumann_kernels::closed_form::Analytic;

/// A point on the path outside the indicator's domain.
#[derive(Clone, Debug, PartialEq)]
pub struct DomainError {
    /// Row (time step) of the tensor the indicator was given.
    pub row: usize,
    /// What is wrong, naming the coordinate or agent.
    pub reason: String,
}

/// Evaluates an indicator at points of one straight path (see [`Indicator::along_path`]).
pub type PathFn<'a> = Box<dyn Fn(Tensor<3>) -> Result<Tensor<1>> + 'a>;

/// The straight paths `z(α) = b + α (x − b)` of a chunk of steps and the quadrature rule along
/// them: what [`Indicator::integrated_gradient`] integrates over.
#[derive(Clone, Copy, Debug)]
pub struct StraightPaths<'a> {
    /// The paths' ends, the features: `[rows, d, n]`.
    pub x: &'a Tensor<3>,
    /// Their starts, the baseline: shaped as in [`Indicator::check_domain`].
    pub b: &'a Tensor<3>,
    /// The quadrature nodes `α_j`.
    pub nodes: &'a [f64],
    /// The quadrature weights `w_j`.
    pub weights: &'a [f64],
}

/// A differentiable, permutation-invariant macro indicator, defined for every population size.
pub trait Indicator: Send + Sync {
    /// Stable snake_case id: the CLI value and the name in summaries.
    fn name(&self) -> &str;

    /// The smallest population the indicator is defined for.
    fn min_agents(&self) -> usize {
        1
    }

    /// Whether [`Indicator::forward`] stays correct on `f64` points on a device whose `f64`
    /// `exp` and `log` do not ([`crate::ops::f64_transcendentals_work`]: every GPU): true where
    /// it uses arithmetic and `sqrt` alone, or routes its transcendental functions through
    /// [`crate::ops`]. The engine evaluates `V(x)` and `V(b)` in `f64` on such a device only
    /// then; the default, `false`, evaluates them in the run's precision there.
    fn f64_forward_on_any_device(&self) -> bool {
        false
    }

    /// `V` of every row.
    ///
    /// # Shapes
    /// - `z`: `[rows, d, n]`
    /// - output: `[rows]`
    ///
    /// # Errors
    /// If the indicator must read data back from the device and that fails.
    fn forward(&self, z: Tensor<3>) -> Result<Tensor<1>>;

    /// `V` of every row of `z` broadcast to `shape` (`[rows, d, n]`; `z` may be
    /// `[rows or 1, d, n or 1]`), evaluated in `dtype` (f64 where the device has it): the
    /// values the efficiency gap is measured against.
    ///
    /// The default broadcasts `z`, casts it and calls [`Indicator::forward`]. Override it when
    /// the indicator can do better from `z` as it is: a pooled indicator reads f32 and sums in
    /// f64 without a cast, and evaluates one agent for a population that shares one point.
    ///
    /// # Errors
    /// If the indicator must read data back from the device and that fails.
    fn values(&self, z: &Tensor<3>, shape: [usize; 3], dtype: DType) -> Result<Vec<f64>> {
        let v = self.forward(z.clone().expand(shape).cast(dtype))?;
        crate::array::download(v, "indicator values")
    }

    /// Check that the whole path from `b` to `x` lies in the indicator's domain.
    ///
    /// # Shapes
    /// - `x`: `[rows, d, n]`
    /// - `b`: `[rows or 1, d, n or 1]`, broadcast against `x` (a shared baseline stays small)
    ///
    /// Returns `Some` [`DomainError`] naming the first offending row, `None` if the whole
    /// path lies in the domain.
    ///
    /// # Errors
    /// If reading the check's statistics back from the device fails.
    fn check_domain(&self, x: &Tensor<3>, b: &Tensor<3>) -> Result<Option<DomainError>> {
        let _ = (x, b);
        Ok(None)
    }

    /// `∂(Σ_rows V(z))/∂z` (`[rows, d, n]`, plain), computed by the indicator itself, or `None`
    /// to let the engine differentiate [`Indicator::along_path`] with autodiff (the default).
    ///
    /// Override it when the indicator can bound memory better than one autodiff graph over all
    /// agents (a mean-pooled network can backpropagate agent block by agent block).
    fn gradient(&self, z: &Tensor<3>) -> Option<Tensor<3>> {
        let _ = z;
        None
    }

    /// `Σ_j w_j ∇V(b + α_j (x − b))` over the quadrature points of `paths` (nodes `α_j`,
    /// weights `w_j`), `[rows, d, n]` plain, computed by the indicator from its structure along
    /// the path, or `None` to let the engine evaluate the points one pass at a time (the
    /// default).
    ///
    /// Override it when the indicator can do all the points at once more cheaply than one
    /// gradient per point (a mean-pooled network shares `∇ρ` across agents and is affine in α
    /// before its first activation).
    ///
    /// # Errors
    /// If the indicator's own route fails (a tensor cannot be read back, say).
    fn integrated_gradient(&self, paths: &StraightPaths) -> Result<Option<Tensor<3>>> {
        let _ = paths;
        Ok(None)
    }

    /// Whether [`Indicator::integrated_gradient`] computes the integral itself on the CPU
    /// backends (returns `Some`), for an indicator without a [`Indicator::host_route`] there.
    /// A scheduling hint, not a result: where it says so the engine attributes a run's steps
    /// one after another (the indicator's own route is parallel inside a step, and memory
    /// stays one step's), otherwise every step side by side from the start, as the autodiff
    /// route needs to keep the cores busy. Either answer gives the same attribution. The
    /// default is `false`.
    fn integrates_itself(&self) -> bool {
        false
    }

    /// The indicator restricted to the straight path `z(α) = b + α (x − b)`, with `x` and `b`
    /// shaped as in [`Indicator::check_domain`].
    ///
    /// Override it to precompute what is constant along the path (the Gini's ranks, for
    /// instance) so a run does that work once instead of once per quadrature point.
    ///
    /// The returned function receives `[p·rows, d, n]` tensors: `p` points of the path for
    /// the `rows` steps of `x`, point-major (row `r` is point `r / rows`, step `r % rows`),
    /// and returns `[p·rows]`.
    ///
    /// # Errors
    /// If the precomputation fails (a tensor cannot be read back, say).
    fn along_path<'a>(&'a self, x: &Tensor<3>, b: &Tensor<3>) -> Result<PathFn<'a>> {
        let _ = (x, b);
        Ok(Box::new(move |z| self.forward(z)))
    }

    /// The indicator's attribution of whole steps on the host, read from the features as
    /// stored, for one run on `device` (the route may hold what its steps share); `None` (the
    /// default) for the tensor routes.
    ///
    /// A run takes it when offered: no tensor copy of the input is made, and working memory
    /// beyond `φ` is the route's own. The route is answerable for its domain (nothing calls
    /// [`Indicator::check_domain`]) and for agreeing with the autodiff route.
    fn host_route(&self, device: &Device) -> Option<Box<dyn HostRoute + '_>> {
        let _ = device;
        None
    }

    /// The indicator's pooled passes on the host, for a population split into chunks of
    /// agents ([`crate::chunked`]); `None` (the default) where it is not a pooled indicator
    /// `ρ((1/n) Σ_i ψ(z_i))` with such passes.
    fn pooled_passes(&self) -> Option<&dyn PooledPasses> {
        None
    }
}

/// A pooled indicator `V = ρ((1/n) Σ_i ψ(z_i))` pass by pass, over one step of a chunk of a
/// population's agents: what [`crate::chunked`] needs to attribute a population no process
/// holds whole.
///
/// ```text
/// pool       s_j = Σ_{i ∈ chunk} ψ(b_i + α_j δ_i)            (summed over chunks: n p̄_j)
/// rho        ρ(p̄), ∇ρ(p̄)                                    (once per point, for everyone)
/// pull_back  φ_i = Σ_j ⟨J_ψ(b_i + α_j δ_i) δ_i, g_j⟩,  g_j = w_j ∇ρ(p̄_j) / n
/// ```
pub trait PooledPasses: Sync {
    /// `k`, the number of means ψ pools.
    fn width(&self) -> usize;

    /// `s_j` of every node `α_j` (`[m, k]`, f64), ψ in `precision`.
    ///
    /// # Errors
    /// [`Error::Domain`] for a path outside the indicator's domain.
    fn pool(&self, step: &HostStep, nodes: &[f64], precision: Precision) -> Result<Vec<f64>>;

    /// `Σ_{i ∈ chunk} ψ(x_i)` and `Σ_{i ∈ chunk} ψ(b_i)` (`k` values each), in f64: the sums
    /// `V(x)` and `V(b)` are read from.
    ///
    /// # Errors
    /// [`Error::Domain`] for a path outside the indicator's domain.
    fn pool_ends(&self, step: &HostStep) -> Result<[Vec<f64>; 2]>;

    /// `ρ(p̄)` and `∇ρ(p̄)` of `k` pooled means.
    fn rho(&self, means: &[f64]) -> (f64, Vec<f64>);

    /// Refuse a path whose ends' pooled means (the whole population's, `k` each) leave the
    /// indicator's domain, where the domain is a condition on the population (a positive mean,
    /// say) that no chunk can check alone. The default accepts every path.
    ///
    /// # Errors
    /// [`Error::Domain`] naming `step`.
    fn check_population(&self, step: usize, at_x: &[f64], at_b: &[f64]) -> Result<()> {
        let _ = (step, at_x, at_b);
        Ok(())
    }

    /// Every agent's `φ_i` into `phi`, from `shared` = `g_j` (`[m, k]`).
    fn pull_back(
        &self,
        step: &HostStep,
        nodes: &[f64],
        shared: &[f64],
        precision: Precision,
        phi: &mut [f64],
    );
}

/// One step of a population on the host, as stored: what a [`HostRoute`] reads.
#[derive(Clone, Copy, Debug)]
pub struct HostStep<'a> {
    /// The step's index in the input, for messages.
    pub index: usize,
    /// The agents' features, `[n, d]` (agent-major, a step of the `[T, n, d]` input).
    pub x: StepSlice<'a>,
    /// Their baseline: `d` values shared by every agent, or `[n, d]`.
    pub b: &'a [f64],
    /// Agents `n`.
    pub agents: usize,
    /// Features per agent `d`.
    pub dims: usize,
}

impl HostStep<'_> {
    /// Coordinate `k` of agent `i`: `(x, b)`.
    #[inline(always)]
    pub fn at(&self, i: usize, k: usize) -> (f64, f64) {
        let d = self.dims;
        let x = match self.x {
            StepSlice::F32(x) => f64::from(x[i * d + k]),
            StepSlice::F64(x) => x[i * d + k],
        };
        (
            x,
            if self.b.len() == d {
                self.b[k]
            } else {
                self.b[i * d + k]
            },
        )
    }

    /// Agent `i`'s composite `Σ_k x_ik`, summed in f64 from the stored type.
    #[inline(always)]
    pub fn x_composite(&self, i: usize) -> f64 {
        let agent = i * self.dims..(i + 1) * self.dims;
        match self.x {
            StepSlice::F32(x) => x[agent].iter().fold(0.0, |s, &v| s + f64::from(v)),
            StepSlice::F64(x) => x[agent].iter().fold(0.0, |s, &v| s + v),
        }
    }

    /// Agent `i`'s baseline composite `Σ_k b_ik` (the shared one where every agent shares it).
    #[inline(always)]
    pub fn b_composite(&self, i: usize) -> f64 {
        let d = self.dims;
        let b = if self.b.len() == d {
            self.b
        } else {
            &self.b[i * d..(i + 1) * d]
        };
        b.iter().fold(0.0, |s, &v| s + v)
    }

    /// Agents with a baseline of their own: `n`, or 1 where every agent shares it.
    pub fn baseline_agents(&self) -> usize {
        self.b.len() / self.dims
    }
}

/// How a [`HostRoute`] runs: the quadrature, the precision and the device.
#[derive(Clone, Copy, Debug)]
pub struct HostRun<'a> {
    /// Nodes `α_j`.
    pub nodes: &'a [f64],
    /// Weights `w_j`.
    pub weights: &'a [f64],
    /// Precision of the path's points and the gradients.
    pub precision: Precision,
    /// The run's device, for a route that runs tensor programs.
    pub device: &'a Device,
}

impl HostRun<'_> {
    /// The dtype of [`HostRun::precision`].
    pub fn dtype(&self) -> DType {
        self.precision.dtype()
    }
}

/// An indicator's own attribution of one step on the host (see [`Indicator::host_route`]):
///
/// ```text
/// φ_i = Σ_k δ_ik Σ_j w_j ∂V/∂z_ik(b + α_j δ),   δ = x − b
/// ```
pub trait HostRoute: Sync {
    /// `[V(x), V(b)]` of the step, in f64, asked after [`HostRoute::attribute`] of the same
    /// step.
    ///
    /// # Errors
    /// If the route's tensors cannot be read back.
    fn end_values(&self, step: &HostStep, run: &HostRun) -> Result<[f64; 2]>;

    /// Every agent's `φ_i` into `phi` (`n` values).
    ///
    /// # Errors
    /// A path outside the indicator's domain ([`Error::Domain`]), or tensors that cannot be
    /// read back.
    fn attribute(&self, step: &HostStep, run: &HostRun, phi: &mut [f64]) -> Result<()>;
}

impl<R: HostRoute + ?Sized> HostRoute for &R {
    fn end_values(&self, step: &HostStep, run: &HostRun) -> Result<[f64; 2]> {
        (**self).end_values(step, run)
    }

    fn attribute(&self, step: &HostStep, run: &HostRun, phi: &mut [f64]) -> Result<()> {
        (**self).attribute(step, run, phi)
    }
}

/// The tensor program of one of the four analytic indicators.
pub fn analytic(kind: Analytic) -> Box<dyn Indicator> {
    match kind {
        Analytic::Linear => Box::new(linear::Linear),
        Analytic::Mult => Box::new(mult::Mult),
        Analytic::Variance => Box::new(variance::Variance),
        Analytic::Gini => Box::new(gini::Gini),
    }
}

/// What building an indicator needs besides its name.
#[derive(Clone, Copy, Debug)]
pub struct BuildContext<'a> {
    /// The device it will run on.
    pub device: &'a Device,
    /// Features per agent `d`.
    pub features: usize,
    /// Precision of the run.
    pub precision: Precision,
    /// The model folder of a learned indicator, or the folder of a formula indicator.
    pub model: Option<&'a Path>,
    /// A formula indicator's definition, given as such.
    pub formula: Option<&'a formula::Definition>,
    /// The values of the parameters its entry declares.
    pub parameters: &'a Resolved,
}

/// An indicator reachable by name: one entry of [`REGISTRY`].
#[derive(Debug)]
pub struct Entry {
    /// Stable snake_case name.
    pub name: &'static str,
    /// One line for help texts.
    pub summary: &'static str,
    /// Whether it is built from a model folder ([`BuildContext::model`]).
    pub needs_model: bool,
    /// Its closed form, where one exists.
    pub exact: Option<Analytic>,
    /// The parameters it takes ([`IndicatorSpec::parameters`]).
    pub parameters: &'static [Parameter],
    /// Build its tensor program.
    pub build: fn(&BuildContext) -> Result<Box<dyn Indicator>>,
}

impl Entry {
    /// The entry of the analytic indicator `kind` (its name, summary and closed form), whose
    /// tensor program `build` makes.
    pub const fn analytic(
        kind: Analytic,
        build: fn(&BuildContext) -> Result<Box<dyn Indicator>>,
    ) -> Entry {
        Entry {
            name: kind.name(),
            summary: kind.summary(),
            needs_model: false,
            exact: Some(kind),
            parameters: &[],
            build,
        }
    }
}

/// Every indicator reachable by name, in the order help lists them.
pub const REGISTRY: &[Entry] = &[
    linear::ENTRY,
    mult::ENTRY,
    variance::ENTRY,
    gini::ENTRY,
    gini_coefficient::ENTRY,
    inequality::THEIL,
    inequality::ATKINSON,
    inequality::COEFFICIENT_OF_VARIATION,
    top_share::ENTRY,
    inequality::SHARE_ABOVE,
    inequality::SHARE_BELOW,
    deepset::ENTRY,
    formula::ENTRY,
];

/// An [`Entry`] of [`REGISTRY`], chosen by name.
#[derive(Clone, Copy)]
pub struct IndicatorKind(&'static Entry);

impl IndicatorKind {
    /// The registry entry.
    pub fn entry(self) -> &'static Entry {
        self.0
    }

    /// The stable name.
    pub fn name(self) -> &'static str {
        self.0.name
    }
}

impl PartialEq for IndicatorKind {
    fn eq(&self, other: &Self) -> bool {
        self.0.name == other.0.name
    }
}

impl std::fmt::Debug for IndicatorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0.name)
    }
}

impl Choice for IndicatorKind {
    const WHAT: &'static str = "indicator";

    fn choices() -> Vec<Self> {
        REGISTRY.iter().map(IndicatorKind).collect()
    }

    fn label(&self) -> &'static str {
        self.0.name
    }
}

/// Which indicator to attribute: a registry name, the model folder of a learned one, and the
/// definition of a formula indicator (or its folder, as `model`).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct IndicatorSpec {
    /// The registry entry.
    #[serde(rename = "indicator", with = "crate::choice::by_name")]
    pub kind: IndicatorKind,
    /// The model folder, for an indicator that needs one; a formula indicator's folder.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub model: Option<PathBuf>,
    /// A formula indicator's definition, given as such.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub formula: Option<formula::Definition>,
    /// The values given to the parameters its entry takes ([`Entry::parameters`]).
    #[serde(skip_serializing_if = "Parameters::is_empty", default)]
    pub parameters: Parameters,
}

impl IndicatorSpec {
    /// An analytic indicator.
    pub fn analytic(kind: Analytic) -> Self {
        let kind = IndicatorKind::choices()
            .into_iter()
            .find(|k| k.0.exact == Some(kind))
            .unwrap_or_else(|| unreachable!("every analytic indicator has a registry entry"));
        Self {
            kind,
            model: None,
            formula: None,
            parameters: Parameters::default(),
        }
    }

    /// The formula indicator `definition`.
    pub fn formula(definition: formula::Definition) -> Self {
        Self {
            kind: IndicatorKind(&formula::ENTRY),
            model: None,
            formula: Some(definition),
            parameters: Parameters::default(),
        }
    }

    /// The indicator a folder holds: a formula indicator where it has
    /// [`formula::definition::FILE`], a DeepSet otherwise.
    pub fn in_folder(dir: PathBuf) -> Self {
        let entry = match formula::Definition::is_in(&dir) {
            true => &formula::ENTRY,
            false => &deepset::ENTRY,
        };
        Self {
            kind: IndicatorKind(entry),
            model: Some(dir),
            formula: None,
            parameters: Parameters::default(),
        }
    }

    /// Whether it is a formula indicator.
    pub fn is_formula(&self) -> bool {
        self.name() == formula::ENTRY.name
    }

    /// Refuse a specification that cannot be built, before any data is read: a learned
    /// indicator without its folder, a formula indicator that does not compile (its feature
    /// count is checked when the data is known), a definition given to another indicator.
    ///
    /// # Errors
    /// [`Error::Missing`], [`Error::Parameter`], and [`formula::Formula::from_source`]'s.
    pub fn validate(&self) -> Result<()> {
        if self.needs_model() && self.model.is_none() {
            return Err(Error::Missing {
                indicator: self.name().into(),
                what: "a model folder",
            });
        }
        match (self.is_formula(), &self.formula) {
            (true, _) => {
                formula::Formula::from_source(self.formula.as_ref(), self.model.as_deref(), None)?;
            }
            (false, Some(definition)) => {
                return Err(Error::Parameter {
                    name: "formula",
                    value: definition.name.clone(),
                    reason: format!(
                        "indicator '{}' takes no formula; a formula is its own indicator",
                        self.name()
                    ),
                });
            }
            (false, None) => {}
        }
        self.resolved_parameters().map(drop)
    }

    /// The values of the parameters its entry takes, defaults filled in.
    ///
    /// # Errors
    /// [`Parameters::resolve`]'s: an unknown name, a value refused, one missing.
    pub fn resolved_parameters(&self) -> Result<Resolved> {
        self.parameters.resolve(self.name(), self.kind.0.parameters)
    }

    /// The same indicator with a model folder.
    pub fn with_model(self, model: Option<PathBuf>) -> Self {
        Self { model, ..self }
    }

    /// The stable name.
    pub fn name(&self) -> &'static str {
        self.kind.name()
    }

    /// The closed form, where one exists.
    pub fn exact(&self) -> Option<Analytic> {
        self.kind.0.exact
    }

    /// Whether it is built from a model folder.
    pub fn needs_model(&self) -> bool {
        self.kind.0.needs_model
    }

    /// Its tensor program on `device`, for `features` features per agent in `precision`.
    ///
    /// # Errors
    /// [`Error::Missing`] for a learned indicator without a model folder; whatever loading
    /// the model reports.
    pub fn build(
        &self,
        device: &Device,
        features: usize,
        precision: Precision,
    ) -> Result<Box<dyn Indicator>> {
        if self.needs_model() && self.model.is_none() {
            return Err(Error::Missing {
                indicator: self.name().into(),
                what: "a model folder",
            });
        }
        (self.kind.0.build)(&BuildContext {
            device,
            features,
            precision,
            model: self.model.as_deref(),
            formula: self.formula.as_ref(),
            parameters: &self.resolved_parameters()?,
        })
    }
}

/// `name` or `name(parameter=value, …)`.
impl std::str::FromStr for IndicatorSpec {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let s = s.trim();
        let (name, parameters) = match s.split_once('(') {
            Some((name, rest)) => {
                let Some(inner) = rest.trim_end().strip_suffix(')') else {
                    return Err(Error::Parameter {
                        name: "indicator",
                        value: s.chars().take(80).collect(),
                        reason: "the parameters' list is not closed by ')'".into(),
                    });
                };
                (name.trim(), Parameters::parse(inner)?)
            }
            None => (s, Parameters::default()),
        };
        let spec = Self {
            kind: IndicatorKind::from_label(name)?,
            model: None,
            formula: None,
            parameters,
        };
        spec.resolved_parameters()?;
        Ok(spec)
    }
}

/// `name` or `name(parameter=value, …)`, as parsed.
impl std::fmt::Display for IndicatorSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let declared = self.kind.0.parameters;
        write!(f, "{}{}", self.name(), self.parameters.written(declared))
    }
}

/// Parse an analytic indicator id (`linear`, `mult`, `variance`, `gini`).
///
/// # Errors
/// [`Error::UnknownName`] listing the known ids.
pub fn parse_analytic(name: &str) -> Result<Analytic> {
    Analytic::from_label(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_names_are_unique_and_parse_back() {
        let names = IndicatorKind::labels();
        let want = [
            "linear",
            "mult",
            "variance",
            "gini",
            "gini_coefficient",
            "theil",
            "atkinson",
            "coefficient_of_variation",
            "top_share",
            "share_above",
            "share_below",
            "deepset",
            "formula",
        ];
        assert_eq!(names, want);
        for name in &names {
            if *name == "share_above" || *name == "share_below" {
                let spec: IndicatorSpec = format!("{name}(threshold=1)").parse().unwrap();
                assert_eq!(spec.to_string(), format!("{name}(threshold=1)"));
                continue;
            }
            let spec: IndicatorSpec = name.parse().unwrap();
            assert_eq!(spec.name(), *name);
            assert_eq!(spec.to_string(), *name);
        }
        let e = "entropy".parse::<IndicatorSpec>().unwrap_err().to_string();
        assert_eq!(
            e,
            "unknown indicator 'entropy'; choose one of linear, mult, variance, gini, \
             gini_coefficient, theil, atkinson, coefficient_of_variation, top_share, share_above, \
             share_below, deepset, formula"
        );
        let spec: IndicatorSpec = " atkinson( epsilon = 2 ) ".parse().unwrap();
        assert_eq!(spec.to_string(), "atkinson(epsilon=2)");
        let json = serde_json::to_string(&spec).unwrap();
        assert_eq!(
            json,
            r#"{"indicator":"atkinson","parameters":{"epsilon":2.0}}"#
        );
        assert_eq!(serde_json::from_str::<IndicatorSpec>(&json).unwrap(), spec);
        let e = "atkinson(epsilon=2"
            .parse::<IndicatorSpec>()
            .unwrap_err()
            .to_string();
        assert!(e.contains("not closed by ')'"), "{e}");
        let e = "variance(epsilon=2)"
            .parse::<IndicatorSpec>()
            .unwrap_err()
            .to_string();
        assert!(e.contains("'variance' takes no parameters"), "{e}");
        let e = "share_above"
            .parse::<IndicatorSpec>()
            .unwrap_err()
            .to_string();
        assert!(e.contains("threshold is not given"), "{e}");
    }

    #[test]
    fn analytic_entries_build_their_closed_forms_program() {
        let device = Device::flex();
        for kind in Analytic::ALL {
            let spec = IndicatorSpec::analytic(kind);
            assert_eq!(spec.exact(), Some(kind));
            let built = spec.build(&device, 3, Precision::F64).unwrap();
            assert_eq!(built.name(), kind.name());
        }
        let deepset: IndicatorSpec = "deepset".parse().unwrap();
        assert_eq!(deepset.exact(), None);
        assert!(matches!(
            deepset.build(&device, 3, Precision::F32),
            Err(Error::Missing { .. })
        ));
    }
}
