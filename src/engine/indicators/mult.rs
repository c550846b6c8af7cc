//! Multiplicative-saturating ("heat"): log of the product of coordinate means.
//!
//! ```text
//! V = ln(1 + u),   u = Π_k x̄_k,   x̄_k = (1/n) Σ_i x_ik
//! ```
//!
//! Defined along the whole path when every feature mean is positive and every baseline mean
//! non-negative (then `u ≥ 0`); [`Indicator::check_domain`] refuses anything else.

use burn::tensor::Tensor;

use super::{Analytic, DomainError, Entry, Indicator};
use crate::array::download;
use crate::error::Result;

/// The registry entry.
pub const ENTRY: Entry = Entry {
    name: "mult",
    summary: "ln(1 + Π_k x̄_k), multiplicative with log saturation",
    needs_model: false,
    exact: Some(Analytic::Mult),
    build: |_| Ok(Box::new(Mult)),
};

/// `V = ln(1 + Π_k x̄_k)`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Mult;

impl Indicator for Mult {
    fn name(&self) -> &str {
        "mult"
    }

    fn forward(&self, z: Tensor<3>) -> Result<Tensor<1>> {
        let rows = z.dims()[0];
        let u = z.mean_dim(2).prod_dim(1); // [rows, d, 1] -> [rows, 1, 1]
        Ok(crate::ops::log1p(u).reshape([rows]))
    }

    fn check_domain(&self, x: &Tensor<3>, b: &Tensor<3>) -> Result<Option<DomainError>> {
        let d = x.dims()[1];
        for (of, t, positive) in [("features", x, true), ("baseline", b, false)] {
            let means = download(t.clone().mean_dim(2), "coordinate means")?;
            for (j, &m) in means.iter().enumerate() {
                let ok = if positive { m > 0.0 } else { m >= 0.0 };
                if !ok {
                    return Ok(Some(DomainError {
                        row: j / d,
                        reason: format!(
                            "needs a {} mean in every coordinate of the {of}, but coordinate {} \
                             has mean {m}",
                            if positive { "positive" } else { "non-negative" },
                            j % d
                        ),
                    }));
                }
            }
        }
        Ok(None)
    }
}
