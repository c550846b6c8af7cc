//! The linear control: the mean composite.
//!
//! ```text
//! V = (1/n) Σ_i c_i,   c_i = Σ_k x_ik            φ_i = (c_i − β_i) / n
//! ```
//!
//! Its integrand is constant along the path, so every quadrature rule is exact.

use aumann_kernels::sum::sum_by;
use burn::tensor::{Device, Tensor};
use rayon::prelude::*;

use super::{Analytic, Entry, HostRoute, HostRun, HostStep, Indicator, StraightPaths};
use crate::backend::on_host;
use crate::error::Result;

/// The registry entry.
pub const ENTRY: Entry = Entry::analytic(Analytic::Linear, |_| Ok(Box::new(Linear)));

/// `V = (1/n) Σ_i Σ_k x_ik`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Linear;

impl Indicator for Linear {
    fn name(&self) -> &str {
        Analytic::Linear.name()
    }

    /// Arithmetic alone.
    fn f64_forward_on_any_device(&self) -> bool {
        true
    }

    fn forward(&self, z: Tensor<3>) -> Result<Tensor<1>> {
        let rows = z.dims()[0];
        // Mean over agents first: the sum over coordinates is then on [rows, d, 1].
        Ok(crate::ops::mean_dim(z, 2).sum_dim(1).reshape([rows]))
    }

    /// `∇V = 1/n` at every point: the weighted sum is `(Σ_j w_j)/n` everywhere.
    fn integrated_gradient(&self, paths: &StraightPaths) -> Result<Option<Tensor<3>>> {
        let StraightPaths { x, weights, .. } = *paths;
        let n = x.dims()[2] as f64;
        Ok(Some(
            x.ones_like().mul_scalar(weights.iter().sum::<f64>() / n),
        ))
    }

    fn host_route(&self, device: &Device) -> Option<Box<dyn HostRoute + '_>> {
        on_host(device).then(|| Box::new(*self) as Box<dyn HostRoute>)
    }
}

impl HostRoute for Linear {
    fn end_values(&self, step: &HostStep, _run: &HostRun) -> Result<[f64; 2]> {
        let mean = |n: usize, c: &(dyn Fn(usize) -> f64 + Sync)| sum_by(n, c) / n as f64;
        let v_x = mean(step.agents, &|i| step.x_composite(i));
        let v_b = mean(step.baseline_agents(), &|i| step.b_composite(i));
        Ok([v_x, v_b])
    }

    /// `φ_i = (c_i − β_i) Σ_j w_j / n`.
    fn attribute(&self, step: &HostStep, run: &HostRun, phi: &mut [f64]) -> Result<()> {
        let scale = run.weights.iter().sum::<f64>() / step.agents as f64;
        phi.par_iter_mut().enumerate().for_each(|(i, phi)| {
            *phi = (step.x_composite(i) - step.b_composite(i)) * scale;
        });
        Ok(())
    }
}
