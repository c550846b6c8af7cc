//! Multiplicative-saturating ("heat"): log of the product of coordinate means.
//!
//! ```text
//! V = ln(1 + u),   u = Π_k x̄_k,   x̄_k = (1/n) Σ_i x_ik
//! ```
//!
//! Defined along the whole path when every feature mean is positive and every baseline mean
//! non-negative (then `u ≥ 0`); anything else is refused ([`Indicator::check_domain`] on the
//! tensor route, the host route's own check on the CPU).

use burn::tensor::{DType, Device, Tensor, TensorData};
use rayon::prelude::*;

use super::{Analytic, DomainError, Entry, HostRoute, HostRun, HostStep, Indicator, StraightPaths};
use crate::array::{StepSlice, download};
use crate::backend::on_host;
use crate::error::{Error, Result};

/// The registry entry.
pub const ENTRY: Entry = Entry::analytic(Analytic::Mult, |_| Ok(Box::new(Mult)));

/// `V = ln(1 + Π_k x̄_k)`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Mult;

impl Indicator for Mult {
    fn name(&self) -> &str {
        Analytic::Mult.name()
    }

    /// `ln(1 + u)` through `ops::log1p`.
    fn f64_forward_on_any_device(&self) -> bool {
        true
    }

    fn forward(&self, z: Tensor<3>) -> Result<Tensor<1>> {
        let rows = z.dims()[0];
        let u = crate::ops::mean_dim(z, 2).prod_dim(1); // [rows, d, 1] -> [rows, 1, 1]
        Ok(crate::ops::log1p(u).reshape([rows]))
    }

    /// `∂V/∂x_ik = (1/n) Π_{l≠k} x̄_l / (1 + Π_l x̄_l)` is the same for every agent and depends
    /// on the path only through the means `x̄(α) = b̄ + α (x̄ − b̄)`: the weighted sum over the
    /// points is a `[rows, d]` sum on the host, broadcast over the agents.
    fn integrated_gradient(&self, paths: &StraightPaths) -> Result<Option<Tensor<3>>> {
        let StraightPaths { x, b, .. } = *paths;
        let [rows, d, n] = x.dims();
        let xm = download(crate::ops::mean_dim(x.clone(), 2), "coordinate means")?; // [rows, d]
        let bm = crate::ops::mean_dim(b.clone(), 2).expand([rows, d, 1]);
        let bm = download(bm, "baseline means")?;
        let g: Vec<f64> = (0..rows)
            .flat_map(|r| {
                let means = [&xm[r * d..(r + 1) * d], &bm[r * d..(r + 1) * d]];
                shared_gradient(means, [paths.nodes, paths.weights], n)
            })
            .collect();
        let data = match x.dtype() {
            DType::F32 => TensorData::new(g.iter().map(|&v| v as f32).collect(), [rows, d, 1]),
            _ => TensorData::new(g, [rows, d, 1]),
        };
        let g = Tensor::<3>::from_data(data, (&x.device(), x.dtype()));
        Ok(Some(g.expand([rows, d, n])))
    }

    fn check_domain(&self, x: &Tensor<3>, b: &Tensor<3>) -> Result<Option<DomainError>> {
        let d = x.dims()[1];
        let xm = download(crate::ops::mean_dim(x.clone(), 2), "coordinate means")?;
        let bm = download(crate::ops::mean_dim(b.clone(), 2), "coordinate means")?;
        let rows = xm.len() / d;
        Ok((0..rows).find_map(|r| {
            let b = (r * d).min(bm.len() - d);
            let reason = outside_domain([&xm[r * d..(r + 1) * d], &bm[b..b + d]])?;
            Some(DomainError { row: r, reason })
        }))
    }

    fn host_route(&self, device: &Device) -> Option<Box<dyn HostRoute + '_>> {
        on_host(device).then(|| Box::new(*self) as Box<dyn HostRoute>)
    }
}

/// Why a path with these coordinate means of the features and the baseline leaves the
/// domain, or `None`.
fn outside_domain([x, b]: [&[f64]; 2]) -> Option<String> {
    for (of, means, positive) in [("features", x, true), ("baseline", b, false)] {
        for (k, &m) in means.iter().enumerate() {
            let ok = if positive { m > 0.0 } else { m >= 0.0 };
            if !ok {
                return Some(format!(
                    "needs a {} mean in every coordinate of the {of}, but coordinate {k} has \
                     mean {m}",
                    if positive { "positive" } else { "non-negative" },
                ));
            }
        }
    }
    None
}

/// `Σ_j w_j ∂V/∂x_ik(α_j)`, the same for every agent `i`: `d` values from the coordinate
/// means of the features and the baseline.
fn shared_gradient([x, b]: [&[f64]; 2], [nodes, weights]: [&[f64]; 2], n: usize) -> Vec<f64> {
    let d = x.len();
    let mut g = vec![0.0; d];
    for (&alpha, &w) in nodes.iter().zip(weights) {
        let mean: Vec<f64> = (0..d).map(|k| b[k] + alpha * (x[k] - b[k])).collect();
        let u: f64 = mean.iter().product();
        for (k, g) in g.iter_mut().enumerate() {
            let others: f64 = (0..d).filter(|&l| l != k).map(|l| mean[l]).product();
            *g += w * others / (1.0 + u) / n as f64;
        }
    }
    g
}

/// Agents per chunk of [`coordinate_means`]: chunks summed in parallel, in a fixed order.
const MEAN_CHUNK: usize = 1 << 16;

/// The coordinate means of `n` agents stored `[n, d]` in `E`, in f64: one pass, chunk sums
/// added in chunk order (the same bits for any thread count).
fn coordinate_means<E: Copy + Into<f64> + Sync>(v: &[E], d: usize) -> Vec<f64> {
    let n = v.len() / d;
    let chunks: Vec<Vec<f64>> = v
        .par_chunks(MEAN_CHUNK * d)
        .map(|chunk| {
            let mut sums = vec![0.0; d];
            for agent in chunk.chunks_exact(d) {
                for (s, &x) in sums.iter_mut().zip(agent) {
                    *s += x.into();
                }
            }
            sums
        })
        .collect();
    (0..d)
        .map(|k| chunks.iter().map(|c| c[k]).sum::<f64>() / n as f64)
        .collect()
}

/// The coordinate means of the features and of the baseline of one step, in f64.
fn step_means(step: &HostStep) -> [Vec<f64>; 2] {
    let x = match step.x {
        StepSlice::F32(x) => coordinate_means(x, step.dims),
        StepSlice::F64(x) => coordinate_means(x, step.dims),
    };
    [x, coordinate_means(step.b, step.dims)]
}

/// `φ_i = Σ_k (x_ik − b_ik) g_k` of every agent stored `[n, d]` in `E`.
fn attribute_stored<E: Copy + Into<f64> + Sync>(x: &[E], b: &[f64], g: &[f64], phi: &mut [f64]) {
    let d = g.len();
    let shared = b.len() == d;
    phi.par_iter_mut().enumerate().for_each(|(i, phi)| {
        let agent = &x[i * d..(i + 1) * d];
        let b = if shared { b } else { &b[i * d..(i + 1) * d] };
        *phi = (agent.iter().zip(b).zip(g))
            .map(|((&x, b), g)| (x.into() - b) * g)
            .sum();
    });
}

impl HostRoute for Mult {
    fn end_values(&self, step: &HostStep, _run: &HostRun) -> Result<[f64; 2]> {
        let means = step_means(step);
        Ok(means.map(|m| m.iter().product::<f64>().ln_1p()))
    }

    /// `φ_i = Σ_k δ_ik g_k`, `g_k` the weighted sum of `∂V/∂x_ik` along the path, from the
    /// step's means.
    fn attribute(&self, step: &HostStep, run: &HostRun, phi: &mut [f64]) -> Result<()> {
        let [x, b] = step_means(step);
        if let Some(reason) = outside_domain([&x, &b]) {
            return Err(Error::Domain {
                indicator: self.name().into(),
                step: step.index,
                reason,
            });
        }
        let g = shared_gradient([&x, &b], [run.nodes, run.weights], step.agents);
        match step.x {
            StepSlice::F32(x) => attribute_stored(x, step.b, &g, phi),
            StepSlice::F64(x) => attribute_stored(x, step.b, &g, phi),
        }
        Ok(())
    }
}
