//! A learnable macro indicator: the DeepSet value network.
//!
//! ```text
//! V(X) = ρ( (1/n) Σ_i ψ(x_i) )
//! ψ = L_ψ,depth ∘ σ ∘ … ∘ σ ∘ L_ψ,1 : R^d → R^h        (no activation after the last layer)
//! ρ = L_ρ,depth ∘ σ ∘ … ∘ σ ∘ L_ρ,1 : R^h → R
//! ```
//!
//! Mean pooling makes `V` permutation-invariant and defined for every population size `n`.
//! The activation `σ` is smooth (tanh, softplus, GELU, or the square `u²`): Aumann–Shapley
//! attribution integrates the gradient along a path, and a ReLU network's gradient jumps at
//! every kink and has no second derivative (its Hessian is zero almost everywhere), so its
//! path integrals need not converge in `m` at the rate the quadrature rules promise. The square
//! is there because with it a DeepSet can represent polynomial indicators exactly: through
//! `(u + 1)² − (u − 1)² = 4u`, ψ can output `(c, c²)` and ρ can output `b − a²`, the variance
//! (see [`DeepSet::variance`]).
//!
//! # Memory
//!
//! `V` depends on the agents only through the pooled mean `p̄ = (1/n) Σ_i ψ(x_i)`, so
//!
//! ```text
//! ∂V/∂x_i = (1/n) J_ψ(x_i)ᵀ ∇ρ(p̄)
//! ```
//!
//! [`Indicator::gradient`] uses that to bound memory: pool once (agent block by agent block,
//! no graph), take `∇ρ(p̄)` with one small backward pass, then backpropagate `ψ` block by block
//! with `∇ρ(p̄)` held fixed. Memory is one block's activations, whatever `n`.
//!
//! The path integral uses the same split for every quadrature point at once: on the host
//! ([`ray`]), and on a GPU by two CubeCL kernels (`cube`, [`aumann_kernels::cube`]) that
//! loop over the agents inside each thread, so a run launches the same number of kernels
//! whatever `n`.
//!
//! # Shapes
//! - input: `[rows, d, n]`
//! - output: `[rows]`

use burn::config::Config;
use burn::module::{Module, ModuleMapper, Param};
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::{softplus, tanh};
use burn::tensor::{DType, Device, Tensor, TensorData};

use super::pooled_fn::PoolingFn;
use super::{
    BuildContext, Entry, HostRoute, HostRun, HostStep, Indicator, PooledPasses, StraightPaths,
};
use crate::array::StepSlice;

mod cube;
mod layers;
pub mod pooled;
pub mod ray;
use crate::backend::Precision;
use crate::error::{Error, Result};
use crate::limits;

/// The registry entry: a trained network loaded from its model folder.
pub const ENTRY: Entry = Entry {
    name: "deepset",
    summary: "a trained DeepSet value network ρ((1/n) Σ_i ψ(x_i)), from a model folder",
    needs_model: true,
    exact: None,
    parameters: &[],
    build: |context| Ok(Box::new(load(context)?)),
};

/// The DeepSet in the context's model folder, on its device, in its precision.
///
/// # Errors
/// Whatever [`crate::model::load`] reports; [`Error::Model`] for an activation that needs
/// `f64` transcendentals on a device that cannot run them (every GPU).
fn load(context: &BuildContext) -> Result<DeepSet> {
    let dir = context.model.ok_or_else(|| Error::Missing {
        indicator: ENTRY.name.into(),
        what: "a model folder",
    })?;
    let (model, config) = crate::model::load(dir, context.device, Some(context.features))?;
    if context.precision == Precision::F64
        && config.activation.is_transcendental()
        && !crate::ops::f64_transcendentals_work(context.device)
    {
        return Err(Error::Model {
            path: dir.to_path_buf(),
            reason: format!(
                "its {} activation needs f64 exp/log, which this device cannot compute \
                 (Vulkan defines them for 32-bit floats only); compute in f32 or on a CPU backend",
                config.activation.name()
            ),
        });
    }
    Ok(model.with_dtype(context.precision.dtype()))
}

/// The activation `σ` between layers.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum Activation {
    /// `tanh(u)`.
    Tanh,
    /// `ln(1 + eᵘ)`.
    Softplus,
    /// `u Φ(u)`, Φ the standard normal CDF.
    Gelu,
    /// `u²`: with it the network represents polynomials exactly.
    Square,
}

impl Activation {
    /// Every activation. ReLU is not offered: its kinks break the path integral's convergence.
    pub const ALL: [Activation; 4] = [
        Activation::Tanh,
        Activation::Softplus,
        Activation::Gelu,
        Activation::Square,
    ];

    /// Apply `σ` elementwise.
    pub fn apply<const D: usize>(self, u: Tensor<D>) -> Tensor<D> {
        match self {
            Activation::Tanh => tanh(u),
            Activation::Softplus => softplus(u, 1.0),
            // Spelled out rather than burn's `gelu`: some backends (ndarray) differentiate that
            // as the tanh approximation while evaluating the exact erf form, a 5e-4 error in
            // the gradient; `erf`'s own derivative is exact everywhere.
            Activation::Gelu => {
                let cdf = u
                    .clone()
                    .mul_scalar(std::f64::consts::FRAC_1_SQRT_2)
                    .erf()
                    .add_scalar(1.0);
                u * cdf.mul_scalar(0.5)
            }
            Activation::Square => u.clone() * u,
        }
    }

    /// Whether `σ` needs `exp`/`log`, which some devices lack in `f64` (see [`crate::ops`]).
    pub fn is_transcendental(self) -> bool {
        self != Activation::Square
    }

    /// The lowercase name, as the CLI spells it.
    pub fn name(self) -> &'static str {
        match self {
            Activation::Tanh => "tanh",
            Activation::Softplus => "softplus",
            Activation::Gelu => "gelu",
            Activation::Square => "square",
        }
    }
}

crate::named_choice!(@parse Activation, "activation");

/// Shape of a [`DeepSet`].
#[derive(Config, Debug)]
pub struct DeepSetConfig {
    /// Features per agent `d`.
    pub features: usize,
    /// Width `h` of every hidden layer and of the pooled representation.
    #[config(default = 32)]
    pub hidden: usize,
    /// Linear layers in ψ and in ρ (each ≥ 1).
    #[config(default = 2)]
    pub depth: usize,
    /// The activation between layers.
    #[config(default = "Activation::Tanh")]
    pub activation: Activation,
}

impl DeepSetConfig {
    /// Check the shape is one a DeepSet can have and this machine can hold.
    ///
    /// # Errors
    /// [`Error::Parameter`] for a zero width, depth or feature count; [`Error::TooLarge`]
    /// above [`limits::MAX_DEPTH`] or [`limits::MAX_HIDDEN`], or for weights that do not
    /// fit in memory.
    pub fn check(&self) -> Result<()> {
        if self.depth == 0 || self.hidden == 0 || self.features == 0 {
            return Err(Error::Parameter {
                name: "network",
                value: format!(
                    "features {}, hidden {}, depth {}",
                    self.features, self.hidden, self.depth
                ),
                reason: "a DeepSet needs at least one feature, width and depth of at least 1"
                    .into(),
            });
        }
        let why = "no DeepSet of a macro indicator needs more";
        limits::at_most("DeepSet depth", self.depth, limits::MAX_DEPTH, why)?;
        limits::at_most("DeepSet width", self.hidden, limits::MAX_HIDDEN, why)?;
        let widest = self.hidden.max(self.features);
        limits::allocation("DeepSet weights", &[2 * self.depth, widest, self.hidden], 8)?;
        Ok(())
    }

    /// A DeepSet with freshly initialised weights on `device`.
    ///
    /// # Panics
    /// If `depth` or `hidden` is zero.
    pub fn init(&self, device: &Device) -> DeepSet {
        assert!(
            self.depth >= 1 && self.hidden >= 1,
            "a DeepSet needs depth ≥ 1 and hidden ≥ 1"
        );
        let (d, h) = (self.features, self.hidden);
        let psi = (0..self.depth)
            .map(|l| LinearConfig::new(if l == 0 { d } else { h }, h).init(device))
            .collect();
        let rho = (0..self.depth)
            .map(|l| {
                let out = if l + 1 == self.depth { 1 } else { h };
                LinearConfig::new(h, out).init(device)
            })
            .collect();
        DeepSet {
            psi,
            rho,
            activation: self.activation,
            block_elements: DEFAULT_BLOCK_ELEMENTS,
            kept_bytes: DEFAULT_KEPT_BYTES,
            kernel: DeepSetKernel::default(),
            passes: Default::default(),
        }
    }
}

/// Activations held per agent block in the memory-bounded gradient (`rows × block × h`).
pub const DEFAULT_BLOCK_ELEMENTS: usize = 1 << 22;

/// Default [`DeepSet::kept_bytes`].
pub const DEFAULT_KEPT_BYTES: usize = 256 << 20;

/// `V(X) = ρ((1/n) Σ_i ψ(x_i))`.
#[derive(Module, Debug)]
pub struct DeepSet {
    /// Layers of ψ, input first.
    pub psi: Vec<Linear>,
    /// Layers of ρ, input first; the last has one output.
    pub rho: Vec<Linear>,
    /// The activation between layers.
    #[module(skip)]
    pub activation: Activation,
    /// Bound on `rows × agents × h` activations per block of the memory-bounded gradient.
    #[module(skip)]
    pub block_elements: usize,
    /// Memory for the slopes the structured route keeps between its pooling and gradient
    /// passes (the points go in groups that fit; none are kept where one point's do not).
    #[module(skip)]
    pub kept_bytes: usize,
    /// How the path integral differentiates the network.
    #[module(skip)]
    pub kernel: DeepSetKernel,
    /// Its pooled passes ([`Indicator::pooled_passes`]), read from the weights when first
    /// asked for.
    #[module(skip)]
    pub passes: std::sync::OnceLock<Option<PoolingFn<pooled::DeepSetFn>>>,
}

impl DeepSet {
    /// The structured integrated gradient in tensor ops (a GPU's route for a depth-2 ψ wider
    /// than its kernels take): a depth-2 ψ only (`None` otherwise). With `u_j = A + α_j B`,
    /// `A = W₁ᵀb + c₁`, `B = W₁ᵀδ`: pool `σ(u_j)`, take
    /// `g'_j = W₂ ∇ρ(p̄_j)` (a small backward pass), then accumulate `Σ_j w_j σ'(u_j) ⊙ g'_j`
    /// (σ' by autodiff of the activation alone) and map it through `W₁` once. Agents go in
    /// blocks of one point's activations within [`DeepSet::block_elements`] and the points in
    /// groups that fit beside them, so the kernels launched are a fixed number per block and
    /// group: at most `m` groups whatever `n`, one block until `n` fills the budget.
    fn tensor_integrated_gradient(
        &self,
        x: &Tensor<3>,
        b: &Tensor<3>,
        nodes: &[f64],
        weights: &[f64],
    ) -> Result<Option<Tensor<3>>> {
        let [first, second] = self.psi.as_slice() else {
            return Ok(None);
        };
        let [rows, d, n] = x.dims();
        let out_dtype = x.dtype();
        let x = self.match_dtype(x.clone());
        let b = self.match_dtype(b.clone().expand([rows, d, n]));
        let h = first.weight.val().dims()[1];
        // Agents per block: one point's activations in the budget; points per group: as many
        // as fit beside them.
        let block = (self.block_elements / (rows * h).max(1)).clamp(1, n);
        let group = (self.block_elements / (rows * block * h)).clamp(1, nodes.len().max(1));
        let starts: Vec<usize> = (0..n).step_by(block).collect();
        let (device, dtype) = (x.device(), x.dtype());
        // One value per point, repeated for its rows: `[p·rows, 1, 1]`.
        let per_row = |values: &[f64]| {
            let data: Vec<f64> = values
                .iter()
                .flat_map(|&v| std::iter::repeat_n(v, rows))
                .collect();
            Tensor::<3>::from_data(
                TensorData::new(data, [values.len() * rows, 1, 1]),
                (&device, dtype),
            )
        };
        // u₁ at the path's start and its slope along the path, for agents s..s+len:
        // `[rows, len, h]` each.
        let ray = |s: usize| {
            let len = block.min(n - s);
            let a = first.forward(b.clone().narrow(2, s, len).swap_dims(1, 2));
            let end = first.forward(x.clone().narrow(2, s, len).swap_dims(1, 2));
            (a.clone(), end - a)
        };
        // The pre-activations at every point of `nodes`, point-major: `[p·rows, len, h]`.
        let points = |(a, slope): &(Tensor<3>, Tensor<3>), nodes: &[f64]| {
            let p = nodes.len();
            a.clone().repeat_dim(0, p) + slope.clone().repeat_dim(0, p) * per_row(nodes)
        };
        let w2t = second.weight.val().transpose().unsqueeze(); // [1, h_out, h_in]
        let groups: Vec<(&[f64], &[f64])> =
            nodes.chunks(group).zip(weights.chunks(group)).collect();
        // Every group's pooled sums, block by block: `[p·rows, 1, h]` each.
        let mut sums: Vec<Option<Tensor<3>>> = vec![None; groups.len()];
        for &s in &starts {
            let ray = ray(s);
            for (sum, &(nodes, _)) in sums.iter_mut().zip(&groups) {
                let block = crate::ops::sum_dim(self.activation.apply(points(&ray, nodes)), 1);
                *sum = Some(match sum.take() {
                    Some(sum) => sum + block,
                    None => block,
                });
            }
        }
        // g'_j = W₂ ∇ρ(p̄_j) · w_j / n.
        let shared: Vec<Tensor<3>> = sums
            .into_iter()
            .zip(&groups)
            .map(|(sums, &(_, weights))| {
                let sums = sums.expect("n ≥ 1");
                let pooled = second
                    .forward(sums.mul_scalar(1.0 / n as f64))
                    .autodiff()
                    .require_grad();
                let grad_rho = pooled
                    .grad(&self.readout(pooled.clone()).sum().backward())
                    .unwrap_or_else(|| pooled.clone().inner().zeros_like());
                grad_rho.matmul(w2t.clone()) * per_row(weights).mul_scalar(1.0 / n as f64)
            })
            .collect();
        // Σ_j σ'(u_j) ⊙ g'_j, block by block.
        let blocks: Vec<Tensor<3>> = starts
            .iter()
            .map(|&s| {
                let ray = ray(s);
                let mut acc: Option<Tensor<3>> = None; // [rows, len, h]
                for (&(nodes, _), shared) in groups.iter().zip(&shared) {
                    let u = points(&ray, nodes).autodiff().require_grad();
                    let v = (self.activation.apply(u.clone()) * shared.clone()).sum();
                    let g = u
                        .grad(&v.backward())
                        .unwrap_or_else(|| u.clone().inner().zeros_like()); // [p·rows, len, h]
                    for j in 0..nodes.len() {
                        let point = g.clone().narrow(0, j * rows, rows);
                        acc = Some(match acc {
                            Some(acc) => acc + point,
                            None => point,
                        });
                    }
                }
                acc.expect("a rule has a point")
            })
            .collect();
        let acc = Tensor::cat(blocks, 1); // [rows, n, h]
        let w1t = first.weight.val().transpose().unsqueeze(); // [1, h, d]
        let g = acc.matmul(w1t).swap_dims(1, 2); // [rows, d, n]
        Ok(Some(if g.dtype() == out_dtype {
            g
        } else {
            g.cast(out_dtype)
        }))
    }

    /// `V` of every row of a plain `z` on a CPU backend, pooled in f64 block by block
    /// ([`ray::RayNet::value`]); `None` where the structured kernel does not serve (a GPU, an
    /// autodiff input, [`DeepSetKernel::Autodiff`], a one-layer ψ).
    fn host_value(&self, z: &Tensor<3>) -> Result<Option<Tensor<1>>> {
        let device = z.device();
        if self.kernel != DeepSetKernel::Structured
            || z.is_autodiff()
            || !crate::backend::on_host(&device)
        {
            return Ok(None);
        }
        let Some(net) = ray::RayNet::new(self) else {
            return Ok(None);
        };
        let [rows, d, n] = z.dims();
        let values = crate::array::download(z.clone(), "populations")?;
        let v: Vec<f64> = values
            .chunks_exact(d * n)
            .map(|row| net.value(row, n))
            .collect();
        let v = Tensor::<1>::from_data(TensorData::new(v, [rows]), (&device, DType::F64));
        Ok(Some(v.cast(z.dtype())))
    }
}

/// A [`DeepSet`]'s weights on the host, for the steps of one run.
struct HostNet(ray::RayNet);

impl HostNet {
    /// Refuse a step whose features per agent are not the network's inputs.
    fn check_width(&self, step: &HostStep) -> Result<()> {
        let inputs = self.0.inputs();
        if step.dims == inputs {
            return Ok(());
        }
        Err(Error::Shape {
            what: format!("step {} of the features", step.index),
            expected: format!(
                "[{}, {inputs}] (the DeepSet's features per agent)",
                step.agents
            ),
            got: vec![step.agents, step.dims],
        })
    }
}

impl HostRoute for HostNet {
    fn end_values(&self, step: &HostStep, _run: &HostRun) -> Result<[f64; 2]> {
        self.check_width(step)?;
        // The ends as the points α = 1 of rays from the origin.
        let origin = vec![0.0; step.dims];
        let x = HostStep {
            b: &origin,
            ..*step
        };
        let b = HostStep {
            x: StepSlice::F64(step.b),
            b: &origin,
            agents: step.baseline_agents(),
            ..*step
        };
        Ok([
            self.0.value_at(ray::RayEnds::Stored(x), x.agents, 1.0),
            self.0.value_at(ray::RayEnds::Stored(b), b.agents, 1.0),
        ])
    }

    fn attribute(&self, step: &HostStep, run: &HostRun, phi: &mut [f64]) -> Result<()> {
        self.check_width(step)?;
        let lanes = match run.precision {
            Precision::F32 => ray::Lanes::F32,
            Precision::F64 => ray::Lanes::F64,
        };
        let ends = ray::RayEnds::Stored(*step);
        let path = [run.nodes, run.weights];
        self.0.attribute(ends, step.agents, path, lanes, phi);
        Ok(())
    }
}

/// How the path integral differentiates a [`DeepSet`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DeepSetKernel {
    /// Every quadrature point at once from the network's structure: on the host ([`ray`]) on a
    /// CPU backend, by two CubeCL kernels on a GPU (any depth ≥ 2; tensor ops for a depth-2
    /// network wider than the kernels take) (the default).
    #[default]
    Structured,
    /// The structured route in tensor ops on every backend (a depth-2 ψ).
    StructuredTensors,
    /// The pooling and pull-back kernels of a CubeCL device; an error where they do not serve
    /// (another backend, a one-layer ψ, a network wider than the kernels take).
    GpuKernels,
    /// burn's autodiff, one pass per point (the reference).
    Autodiff,
}

impl DeepSet {
    /// `ψ(x_i)` for every agent: `[rows, d, n] → [rows, n, h]`.
    pub fn embed(&self, z: Tensor<3>) -> Tensor<3> {
        let mut h = z.swap_dims(1, 2); // [rows, n, d]
        for (l, layer) in self.psi.iter().enumerate() {
            h = layer.forward(h);
            if l + 1 < self.psi.len() {
                h = self.activation.apply(h);
            }
        }
        h
    }

    /// `ρ(p)`: `[rows, 1, h] → [rows]`.
    pub fn readout(&self, pooled: Tensor<3>) -> Tensor<1> {
        let rows = pooled.dims()[0];
        let mut h = pooled;
        for (l, layer) in self.rho.iter().enumerate() {
            h = layer.forward(h);
            if l + 1 < self.rho.len() {
                h = self.activation.apply(h);
            }
        }
        h.reshape([rows])
    }

    /// `V` of every row (the model's dtype is used; see [`DeepSet::with_dtype`]).
    pub fn value(&self, z: Tensor<3>) -> Tensor<1> {
        let z = self.match_dtype(z);
        self.readout(crate::ops::mean_dim(self.embed(z), 1))
    }

    /// The first weight or bias that is NaN or infinite: `(layer, value)`, the layer named
    /// as `psi.0.weight`, `rho.1.bias` and so on.
    ///
    /// # Errors
    /// [`Error::Readback`] if a weight cannot be read back from the device.
    pub fn first_non_finite(&self) -> Result<Option<(String, f64)>> {
        let layers = (self
            .psi
            .iter()
            .enumerate()
            .map(|(l, x)| (format!("psi.{l}"), x)))
        .chain(
            self.rho
                .iter()
                .enumerate()
                .map(|(l, x)| (format!("rho.{l}"), x)),
        );
        for (name, layer) in layers {
            let bias = layer.bias.as_ref().map(|b| b.val().into_data());
            let tensors = [
                ("weight", Some(layer.weight.val().into_data())),
                ("bias", bias),
            ];
            for (part, data) in tensors {
                let Some(data) = data else { continue };
                let values = data
                    .convert::<f64>()
                    .try_into_vec::<f64>()
                    .map_err(|source| Error::Readback {
                        what: "the DeepSet's weights",
                        source,
                    })?;
                if let Some(v) = values.into_iter().find(|v| !v.is_finite()) {
                    return Ok(Some((format!("{name}.{part}"), v)));
                }
            }
        }
        Ok(None)
    }

    /// The dtype of the weights.
    pub fn dtype(&self) -> DType {
        self.psi[0].weight.val().dtype()
    }

    /// The same network with every weight cast to `dtype`.
    pub fn with_dtype(self, dtype: DType) -> Self {
        struct Cast(DType);
        impl ModuleMapper for Cast {
            fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
                let dtype = self.0;
                param.map(|t| t.cast(dtype))
            }
        }
        self.map(&mut Cast(dtype))
    }

    /// Cast `z` to the weights' dtype if it differs (an f64 path point on an f32 model).
    fn match_dtype(&self, z: Tensor<3>) -> Tensor<3> {
        let dtype = self.dtype();
        if z.dtype() == dtype { z } else { z.cast(dtype) }
    }

    /// A DeepSet with hand-set weights that computes the population variance of the composite
    /// `c_i = Σ_k x_ik` exactly, with the square activation (width 3, depth 2):
    ///
    /// ```text
    /// ψ: x ↦ (c + 1, c − 1, c) ↦ square ↦ ((c+1)² − (c−1)²)/4, c², 0) = (c, c², 0)
    /// pool: (a, b, 0) = (mean c, mean c², 0)
    /// ρ: (a, b + 1, b − 1) ↦ square ↦ −a² + ((b+1)² − (b−1)²)/4 = b − a²
    /// ```
    pub fn variance(features: usize, device: &Device) -> Self {
        let linear = |w: Vec<f64>, shape: [usize; 2], b: Vec<f64>| Linear {
            weight: Param::from_tensor(Tensor::from_data(TensorData::new(w, shape), device)),
            bias: Some(Param::from_tensor(Tensor::from_data(
                TensorData::new(b, [shape[1]]),
                device,
            ))),
        };
        let d = features;
        DeepSet {
            psi: vec![
                linear(vec![1.0; d * 3], [d, 3], vec![1.0, -1.0, 0.0]),
                linear(
                    vec![0.25, 0.0, 0.0, -0.25, 0.0, 0.0, 0.0, 1.0, 0.0],
                    [3, 3],
                    vec![0.0; 3],
                ),
            ],
            rho: vec![
                linear(
                    vec![1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0],
                    [3, 3],
                    vec![0.0, 1.0, -1.0],
                ),
                linear(vec![-1.0, 0.25, -0.25], [3, 1], vec![0.0]),
            ],
            activation: Activation::Square,
            block_elements: DEFAULT_BLOCK_ELEMENTS,
            kept_bytes: DEFAULT_KEPT_BYTES,
            kernel: DeepSetKernel::default(),
            passes: Default::default(),
        }
    }

    /// Agents per block of the memory-bounded gradient for `rows` rows.
    fn block_agents(&self, rows: usize) -> usize {
        let h = self.psi.last().map_or(1, |l| l.weight.val().dims()[1]);
        (self.block_elements / (rows * h).max(1)).max(1)
    }
}

impl Indicator for DeepSet {
    fn name(&self) -> &str {
        "deepset"
    }

    fn pooled_passes(&self) -> Option<&dyn PooledPasses> {
        let passes = self.passes.get_or_init(|| pooled::passes(self));
        passes.as_ref().map(|p| p as &dyn PooledPasses)
    }

    /// A transcendental activation stays in the network's own precision on such a device.
    fn f64_forward_on_any_device(&self) -> bool {
        true
    }

    /// An f64 point on a lower-precision network is evaluated by an f64 copy of it where the
    /// device can (a CPU backend, or an activation without exp or log): the engine evaluates
    /// `V(x)` and `V(b)` so, and the efficiency gap of an f32 run should measure the
    /// attribution, not the f32 rounding of a pooled mean over millions of agents.
    fn forward(&self, z: Tensor<3>) -> Result<Tensor<1>> {
        if let Some(v) = self.host_value(&z)? {
            return Ok(v);
        }
        let out_dtype = z.dtype();
        let widen = out_dtype == DType::F64
            && self.dtype() != DType::F64
            && (!self.activation.is_transcendental()
                || crate::ops::f64_transcendentals_work(&z.device()));
        let wide;
        let net = if widen {
            wide = self.clone().with_dtype(DType::F64);
            &wide
        } else {
            self
        };
        let pooled_by_kernel = (self.kernel == DeepSetKernel::Structured
            && !z.is_autodiff()
            && !crate::backend::on_host(&z.device()))
        .then(|| cube::value(net, &z))
        .transpose()?
        .flatten();
        let v = match pooled_by_kernel {
            Some(v) => v,
            None => net.value(z),
        };
        Ok(if v.dtype() == out_dtype {
            v
        } else {
            v.cast(out_dtype)
        })
    }

    fn integrates_itself(&self) -> bool {
        self.kernel != DeepSetKernel::Autodiff
    }

    /// On a CPU backend, every quadrature point at once from the network's structure
    /// ([`ray`] and its layered route); on a GPU the pooling and pull-back kernels
    /// (depth ≥ 2), else the structured route in tensor ops for a depth-2 ψ; `None` (one pass
    /// per point) otherwise (a one-layer ψ, too), or when `kernel` says so.
    fn integrated_gradient(&self, paths: &StraightPaths) -> Result<Option<Tensor<3>>> {
        let StraightPaths {
            x,
            b,
            nodes,
            weights,
        } = *paths;
        match self.kernel {
            DeepSetKernel::Autodiff => return Ok(None),
            DeepSetKernel::StructuredTensors => {
                return self.tensor_integrated_gradient(x, b, nodes, weights);
            }
            DeepSetKernel::Structured if !crate::backend::on_host(&x.device()) => {
                if let Some(acc) = cube::integrated_gradient(self, x, b, nodes, weights)? {
                    return Ok(Some(acc));
                }
                return self.tensor_integrated_gradient(x, b, nodes, weights);
            }
            DeepSetKernel::GpuKernels => {
                return match cube::integrated_gradient(self, x, b, nodes, weights)? {
                    Some(acc) => Ok(Some(acc)),
                    None => Err(Error::Parameter {
                        name: "DeepSet kernel",
                        value: "GPU kernels".into(),
                        reason: format!(
                            "they do not serve here: they need a CubeCL device (this is {:?}), \
                             ψ of depth ≥ 2 and at most {} units wide, at most {} features, \
                             f32 (f64 on a GPU with no transcendental activation), at most \
                             65 535 rows and points a block and {} partial sums",
                            x.device(),
                            cube::MAX_WIDTH,
                            cube::MAX_FEATURES,
                            cube::MAX_SUMS,
                        ),
                    }),
                };
            }
            DeepSetKernel::Structured => {}
        }
        let Some(net) = ray::RayNet::new(self) else {
            return self.tensor_integrated_gradient(x, b, nodes, weights);
        };
        let [rows, d, n] = x.dims();
        let xs = crate::array::download(x.clone(), "path ends")?;
        let bs = crate::array::download(b.clone().expand([rows, d, n]), "baselines")?;
        let lanes = match x.dtype() {
            DType::F64 => ray::Lanes::F64,
            _ => ray::Lanes::F32,
        };
        let out: Vec<f64> = (0..rows)
            .flat_map(|r| {
                let range = r * d * n..(r + 1) * d * n;
                let ends = [&xs[range.clone()], &bs[range]];
                net.integrated_gradient(ends, n, [nodes, weights], lanes)
            })
            .collect();
        let device = x.device();
        let acc = Tensor::<3>::from_data(TensorData::new(out, [rows, d, n]), (&device, DType::F64));
        Ok(Some(acc.cast(x.dtype())))
    }

    /// On a CPU backend with the structured kernel, the rays of [`ray`] read from the input as
    /// stored: each agent's attribution is written as its gradient is done.
    fn host_route(&self, device: &Device) -> Option<Box<dyn HostRoute + '_>> {
        if self.kernel != DeepSetKernel::Structured || !crate::backend::on_host(device) {
            return None;
        }
        let net = ray::RayNet::new(self)?;
        Some(Box::new(HostNet(net)))
    }

    /// Pool block by block, then backpropagate ψ block by block with `∇ρ(p̄)` fixed; `None`
    /// (plain autodiff) when all agents fit in one block.
    fn gradient(&self, z: &Tensor<3>) -> Option<Tensor<3>> {
        let [rows, _, n] = z.dims();
        let block = self.block_agents(rows);
        if n <= block {
            return None;
        }
        let out_dtype = z.dtype();
        let z = self.match_dtype(z.clone().inner());
        let starts: Vec<usize> = (0..n).step_by(block).collect();
        // p̄ = (1/n) Σ_i ψ(x_i), without a graph.
        let pooled = starts
            .iter()
            .map(|&s| crate::ops::sum_dim(self.embed(z.clone().narrow(2, s, block.min(n - s))), 1))
            .reduce(|a, b| a + b)
            .expect("n ≥ 1")
            .div_scalar(n as f64); // [rows, 1, h]
        // ∇ρ(p̄), one small backward pass.
        let p = pooled.autodiff().require_grad();
        let grad_rho = p
            .grad(&self.readout(p.clone()).sum().backward())
            .expect("ρ depends on its input")
            .div_scalar(n as f64); // [rows, 1, h], already divided by n
        // ∂V/∂x_i = J_ψ(x_i)ᵀ ∇ρ(p̄) / n, block by block.
        let blocks: Vec<Tensor<3>> = starts
            .iter()
            .map(|&s| {
                let zb = z
                    .clone()
                    .narrow(2, s, block.min(n - s))
                    .autodiff()
                    .require_grad();
                let s = (self.embed(zb.clone()) * grad_rho.clone()).sum();
                zb.grad(&s.backward()).expect("ψ depends on its input")
            })
            .collect();
        let g = Tensor::cat(blocks, 2);
        Some(if g.dtype() == out_dtype {
            g
        } else {
            g.cast(out_dtype)
        })
    }
}
