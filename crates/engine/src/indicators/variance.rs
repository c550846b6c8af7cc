//! Population variance of the composite.
//!
//! ```text
//! V = (1/n) Σ_i (c_i − c̄)²             φ_i = (c_i − c̄)(c_i − B) / n    (shared baseline B)
//! ```
//!
//! The integrand is linear in `α`, so the midpoint rule is exact up to rounding; the path
//! integral sums it in closed form along the path ([`Indicator::integrated_gradient`]; on the
//! host, from the features as stored, in f64: [`Indicator::host_route`]).
//! Below-mean agents get negative attribution. Needs `n ≥ 2`.

use aumann_kernels::sum::sum_by;
use burn::tensor::{Device, Tensor};
use rayon::prelude::*;

use super::{Analytic, Entry, HostRoute, HostRun, HostStep, Indicator, StraightPaths};
use crate::backend::on_host;
use crate::error::Result;

/// The registry entry.
pub const ENTRY: Entry = Entry::analytic(Analytic::Variance, |_| Ok(Box::new(Variance)));

/// `V = (1/n) Σ_i (c_i − c̄)²`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Variance;

impl Indicator for Variance {
    fn name(&self) -> &str {
        Analytic::Variance.name()
    }

    /// Arithmetic alone.
    fn f64_forward_on_any_device(&self) -> bool {
        true
    }

    fn min_agents(&self) -> usize {
        2
    }

    fn forward(&self, z: Tensor<3>) -> Result<Tensor<1>> {
        let rows = z.dims()[0];
        let c = z.sum_dim(1); // [rows, 1, n]
        let centred = c.clone() - crate::ops::mean_dim(c, 2); // [rows, 1, n]
        Ok(crate::ops::mean_dim(centred.powi_scalar(2), 2).reshape([rows]))
    }

    /// `∂V/∂x_ik = (2/n)(c_i − c̄)` is affine along the path: with `c(α) = c_b + α c_δ`, the
    /// weighted sum is `(2/n)[(c_b − c̄_b) Σ_j w_j + (c_δ − c̄_δ) Σ_j w_j α_j]`.
    fn integrated_gradient(&self, paths: &StraightPaths) -> Result<Option<Tensor<3>>> {
        let StraightPaths { x, b, .. } = *paths;
        let (nodes, weights) = (paths.nodes, paths.weights);
        let [rows, d, n] = x.dims();
        let w0: f64 = weights.iter().sum();
        let w1: f64 = nodes.iter().zip(weights).map(|(a, w)| a * w).sum();
        let centre = |c: Tensor<3>| c.clone() - crate::ops::mean_dim(c, 2);
        let start = centre(b.clone().sum_dim(1)); // [rows or 1, 1, n or 1]
        let slope = centre((x.clone() - b.clone()).sum_dim(1)); // [rows, 1, n]
        let scale = 2.0 / n as f64;
        let g = slope.mul_scalar(w1 * scale) + start.mul_scalar(w0 * scale);
        Ok(Some(g.expand([rows, d, n])))
    }

    fn host_route(&self, device: &Device) -> Option<Box<dyn HostRoute + '_>> {
        on_host(device).then(|| Box::new(*self) as Box<dyn HostRoute>)
    }
}

/// The variance of `n` values `c(i)`, two passes in f64.
fn variance_of(n: usize, c: impl Fn(usize) -> f64 + Sync) -> f64 {
    let mean = sum_by(n, &c) / n as f64;
    sum_by(n, |i| (c(i) - mean).powi(2)) / n as f64
}

impl HostRoute for Variance {
    fn end_values(&self, step: &HostStep, _run: &HostRun) -> Result<[f64; 2]> {
        let v_x = variance_of(step.agents, |i| step.x_composite(i));
        let v_b = variance_of(step.baseline_agents(), |i| step.b_composite(i));
        Ok([v_x, v_b])
    }

    /// `φ_i = c_δi (2/n)[(c_bi − c̄_b) Σ_j w_j + (c_δi − c̄_δ) Σ_j w_j α_j]`.
    fn attribute(&self, step: &HostStep, run: &HostRun, phi: &mut [f64]) -> Result<()> {
        let n = step.agents;
        let w0: f64 = run.weights.iter().sum();
        let w1: f64 = run.nodes.iter().zip(run.weights).map(|(a, w)| a * w).sum();
        let mean_x = sum_by(n, |i| step.x_composite(i)) / n as f64;
        let start = match step.baseline_agents() {
            1 => step.b_composite(0),
            _ => sum_by(n, |i| step.b_composite(i)) / n as f64,
        };
        let slope = mean_x - start;
        let scale = 2.0 / n as f64;
        phi.par_iter_mut().enumerate().for_each(|(i, phi)| {
            let cb = step.b_composite(i);
            let cd = step.x_composite(i) - cb;
            *phi = cd * scale * ((cb - start) * w0 + (cd - slope) * w1);
        });
        Ok(())
    }
}
