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
//! | `gini` | `Σ_{i≠j} \|c_i − c_j\| / (n(n−1))` | [`gini`] |
//! | `deepset` | `ρ((1/n) Σ_i ψ(x_i))`, learned | [`deepset`] |
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
//! use aumann::prelude::*;
//! use burn::tensor::Tensor;
//!
//! struct MeanSquare;
//!
//! impl Indicator for MeanSquare {
//!     fn name(&self) -> &str {
//!         "mean_square"
//!     }
//!     fn forward(&self, z: Tensor<3>) -> Tensor<1> {
//!         let rows = z.dims()[0];
//!         let c = z.sum_dim(1); // [rows, 1, n]
//!         c.powi_scalar(2).mean_dim(2).reshape([rows])
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

use burn::tensor::Tensor;

use crate::error::Result;

pub mod deepset;
pub mod gini;
pub mod linear;
pub mod mult;
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
pub type PathFn<'a> = Box<dyn Fn(Tensor<3>) -> Tensor<1> + 'a>;

/// A differentiable, permutation-invariant macro indicator, defined for every population size.
pub trait Indicator: Send + Sync {
    /// Stable snake_case id: the CLI value and the name in summaries.
    fn name(&self) -> &str;

    /// The smallest population the indicator is defined for.
    fn min_agents(&self) -> usize {
        1
    }

    /// `V` of every row.
    ///
    /// # Shapes
    /// - `z`: `[rows, d, n]`
    /// - output: `[rows]`
    fn forward(&self, z: Tensor<3>) -> Tensor<1>;

    /// Check that the whole path from `b` to `x` lies in the indicator's domain.
    ///
    /// # Shapes
    /// - `x`: `[rows, d, n]`
    /// - `b`: `[rows or 1, d, n or 1]`, broadcast against `x` (a shared baseline stays small)
    ///
    /// # Errors
    /// A [`DomainError`] naming the first offending row.
    fn check_domain(&self, x: &Tensor<3>, b: &Tensor<3>) -> std::result::Result<(), DomainError> {
        let _ = (x, b);
        Ok(())
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

/// Parse an analytic indicator id (`linear`, `mult`, `variance`, `gini`).
///
/// # Errors
/// [`crate::Error::InvalidOption`] listing the known ids.
pub fn parse_analytic(name: &str) -> Result<Analytic> {
    Analytic::ALL
        .into_iter()
        .find(|a| a.name() == name)
        .ok_or_else(|| {
            crate::Error::InvalidOption(format!(
                "unknown indicator '{name}'; choose one of linear, mult, variance, gini"
            ))
        })
}
