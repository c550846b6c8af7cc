//! The Gini coefficient of the composite, as Mesa's `compute_gini`, the World Bank and most
//! papers define it.
//!
//! ```text
//! G = Σ_i Σ_j |c_i − c_j| / (2 n² μ) = D (n − 1) / (2 n μ),   μ = (1/n) Σ_i c_i
//! ∂G/∂c_i = ((n − 1)/(2n)) (w(ρ_i)/μ − D/(n μ²)),   w(ρ) = 2 (2ρ − n − 1)/(n(n−1))
//! ```
//!
//! with `D` the Gini mean difference ([`super::gini`], the indicator `gini`). `G` is
//! scale-invariant: `V(αx)` is the same for every `α > 0` and `V(0)` is undefined, so the
//! path must keep a positive mean composite. The zero baseline is refused; the natural
//! baseline is `mean` (everyone at the population mean: `G(b) = 0`, so `Σ_i φ_i = G`), and
//! step-to-step attribution takes the previous step.
//!
//! On the CPU backends the attribution is exact for any baseline ([`aumann_kernels::gini_path`]:
//! ranks change only where two agents' straight paths cross, and the integrals between the
//! crossings have closed forms), whatever the quadrature rule; elsewhere the engine
//! differentiates the tensor program at the rule's points.

use burn::tensor::{Device, Tensor};

use super::gini::Gini;
use super::{DomainError, Entry, HostRoute, HostRun, HostStep, Indicator};
use crate::array::download;
use crate::backend::on_host;
use crate::error::{Error, Result};
use aumann_kernels::gini_path::{self, GiniPathError};

/// The registry entry.
pub const ENTRY: Entry = Entry {
    name: "gini_coefficient",
    summary: "Gini coefficient Σ|c_i − c_j|/(2n²μ) of the composite (needs a baseline with a \
              positive mean, e.g. mean)",
    needs_model: false,
    exact: None,
    parameters: &[],
    build: |_| Ok(Box::new(GiniCoefficient)),
};

/// `G = Σ_i Σ_j |c_i − c_j| / (2 n² μ)`.
#[derive(Clone, Copy, Debug, Default)]
pub struct GiniCoefficient;

impl Indicator for GiniCoefficient {
    fn name(&self) -> &str {
        ENTRY.name
    }

    /// Ranks and arithmetic alone.
    fn f64_forward_on_any_device(&self) -> bool {
        true
    }

    fn min_agents(&self) -> usize {
        2
    }

    fn forward(&self, z: Tensor<3>) -> Result<Tensor<1>> {
        let [rows, _, n] = z.dims();
        let nf = n as f64;
        let spread = Gini.forward(z.clone())?.mul_scalar((nf - 1.0) / (2.0 * nf));
        let sum = crate::ops::sum_dim(z.sum_dim(1), 2).reshape([rows]);
        Ok(spread * sum.recip().mul_scalar(nf))
    }

    /// The mean composite must be positive at both ends of the path (then everywhere on it).
    fn check_domain(&self, x: &Tensor<3>, b: &Tensor<3>) -> Result<Option<DomainError>> {
        let means = |t: &Tensor<3>| {
            download(
                crate::ops::mean_dim(t.clone().sum_dim(1), 2),
                "mean composites",
            )
        };
        let (xm, bm) = (means(x)?, means(b)?);
        Ok((0..xm.len()).find_map(|row| {
            let (at, mean) = match (xm[row], bm[row.min(bm.len() - 1)]) {
                (m, _) if m.is_nan() || m <= 0.0 => ("features", m),
                (_, m) if m.is_nan() || m <= 0.0 => ("baseline", m),
                _ => return None,
            };
            let reason = GiniPathError::NonPositiveMean { at, mean }.to_string();
            Some(DomainError { row, reason })
        }))
    }

    fn host_route(&self, device: &Device) -> Option<Box<dyn HostRoute + '_>> {
        on_host(device).then(|| Box::new(ExactPath) as Box<dyn HostRoute>)
    }
}

/// The exact attribution along the straight path, on the host.
struct ExactPath;

impl HostRoute for ExactPath {
    fn end_values(&self, step: &HostStep, _run: &HostRun) -> Result<[f64; 2]> {
        let (c, beta) = composites(step);
        Ok([
            gini_path::coefficient_value(&c),
            gini_path::coefficient_value(&beta),
        ])
    }

    fn attribute(&self, step: &HostStep, _run: &HostRun, phi: &mut [f64]) -> Result<()> {
        let (c, beta) = composites(step);
        gini_path::coefficient(&c, &beta, gini_path::MAX_CROSSINGS, phi).map_err(|e| {
            Error::Domain {
                indicator: ENTRY.name.into(),
                step: step.index,
                reason: e.to_string(),
            }
        })?;
        Ok(())
    }
}

/// The step's composites and baseline composites, one per agent.
fn composites(step: &HostStep) -> (Vec<f64>, Vec<f64>) {
    let n = step.agents;
    (
        (0..n).map(|i| step.x_composite(i)).collect(),
        (0..n).map(|i| step.b_composite(i)).collect(),
    )
}
