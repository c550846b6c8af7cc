//! Multiplicative-saturating ("heat"): log of the product of coordinate means.
//!
//! ```text
//! V = ln(1 + u),   u = Π_k x̄_k,   x̄_k = (1/n) Σ_i x_ik
//! ```
//!
//! Defined along the whole path when every feature mean is positive and every baseline mean
//! non-negative (then `u ≥ 0`); [`Indicator::check_domain`] refuses anything else.

use burn::tensor::{DType, Tensor, TensorData};

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
        let u = crate::ops::mean_dim(z, 2).prod_dim(1); // [rows, d, 1] -> [rows, 1, 1]
        Ok(crate::ops::log1p(u).reshape([rows]))
    }

    /// `∂V/∂x_ik = (1/n) Π_{l≠k} x̄_l / (1 + Π_l x̄_l)` is the same for every agent and depends
    /// on the path only through the means `x̄(α) = b̄ + α (x̄ − b̄)`: the weighted sum over the
    /// points is a `[rows, d]` sum on the host, broadcast over the agents.
    fn integrated_gradient(
        &self,
        x: &Tensor<3>,
        b: &Tensor<3>,
        nodes: &[f64],
        weights: &[f64],
    ) -> Result<Option<Tensor<3>>> {
        let [rows, d, n] = x.dims();
        let xm = download(crate::ops::mean_dim(x.clone(), 2), "coordinate means")?; // [rows, d]
        let bm = crate::ops::mean_dim(b.clone(), 2).expand([rows, d, 1]);
        let bm = download(bm, "baseline means")?;
        let mut g = vec![0.0; rows * d];
        for r in 0..rows {
            let (x, b) = (&xm[r * d..(r + 1) * d], &bm[r * d..(r + 1) * d]);
            for (&alpha, &w) in nodes.iter().zip(weights) {
                let mean: Vec<f64> = (0..d).map(|k| b[k] + alpha * (x[k] - b[k])).collect();
                let u: f64 = mean.iter().product();
                for k in 0..d {
                    let others: f64 = (0..d).filter(|&l| l != k).map(|l| mean[l]).product();
                    g[r * d + k] += w * others / (1.0 + u) / n as f64;
                }
            }
        }
        let data = match x.dtype() {
            DType::F32 => TensorData::new(g.iter().map(|&v| v as f32).collect(), [rows, d, 1]),
            _ => TensorData::new(g, [rows, d, 1]),
        };
        let g = Tensor::<3>::from_data(data, (&x.device(), x.dtype()));
        Ok(Some(g.expand([rows, d, n])))
    }

    fn check_domain(&self, x: &Tensor<3>, b: &Tensor<3>) -> Result<Option<DomainError>> {
        let d = x.dims()[1];
        for (of, t, positive) in [("features", x, true), ("baseline", b, false)] {
            let means = download(crate::ops::mean_dim(t.clone(), 2), "coordinate means")?;
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
