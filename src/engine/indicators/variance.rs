//! Population variance of the composite.
//!
//! ```text
//! V = (1/n) Σ_i (c_i − c̄)²             φ_i = (c_i − c̄)(c_i − B) / n    (shared baseline B)
//! ```
//!
//! The integrand is linear in `α`, so the midpoint rule is exact up to rounding.
//! Below-mean agents get negative attribution. Needs `n ≥ 2`.

use burn::tensor::Tensor;

use super::{Analytic, Entry, Indicator};
use crate::error::Result;

/// The registry entry.
pub const ENTRY: Entry = Entry {
    name: "variance",
    summary: "population variance of the composite",
    needs_model: false,
    exact: Some(Analytic::Variance),
    build: |_| Ok(Box::new(Variance)),
};

/// `V = (1/n) Σ_i (c_i − c̄)²`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Variance;

impl Indicator for Variance {
    fn name(&self) -> &str {
        "variance"
    }

    fn min_agents(&self) -> usize {
        2
    }

    fn forward(&self, z: Tensor<3>) -> Result<Tensor<1>> {
        let rows = z.dims()[0];
        let c = z.sum_dim(1); // [rows, 1, n]
        let centred = c.clone() - c.mean_dim(2); // [rows, 1, n]
        Ok(centred.powi_scalar(2).mean_dim(2).reshape([rows]))
    }
}
