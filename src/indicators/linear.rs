//! The linear control: the mean composite.
//!
//! ```text
//! V = (1/n) Σ_i c_i,   c_i = Σ_k x_ik            φ_i = (c_i − β_i) / n
//! ```
//!
//! Its integrand is constant along the path, so every quadrature rule is exact.

use burn::tensor::Tensor;

use super::Indicator;

/// `V = (1/n) Σ_i Σ_k x_ik`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Linear;

impl Indicator for Linear {
    fn name(&self) -> &str {
        "linear"
    }

    fn forward(&self, z: Tensor<3>) -> Tensor<1> {
        let rows = z.dims()[0];
        // Mean over agents first: the sum over coordinates is then on [rows, d, 1].
        z.mean_dim(2).sum_dim(1).reshape([rows])
    }
}
