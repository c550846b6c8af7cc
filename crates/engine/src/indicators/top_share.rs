//! The smoothed share of the total composite held by the top `p` of agents.
//!
//! ```text
//! S = (1/n) Σ_i y_i σ(y_i/τ − r),   y_i = c_i / μ,   r such that (1/n) Σ_i σ(y_i/τ − r) = p
//! ```
//!
//! `σ` is the logistic sigmoid and `μ` the mean composite: `σ(y_i/τ − r)` is a smoothed
//! "agent `i` is in the top `p`" (its width `τ` relative to the mean), and `S` the share of the
//! total those agents hold — the top-`p` share `Σ_{top ⌈pn⌉} c_i / Σ_i c_i` as `τ → 0`. A
//! population of equals holds `S = p`: with the `mean` baseline, `Σ_i φ_i = S − p`.
//!
//! `S` is scale-invariant and needs a positive mean composite at both ends of the path (then
//! along it). `r` is not a pooled mean: it is solved at every point (Newton's method inside a
//! bracket, `O(n)` per iteration), and its derivative comes from the implicit-function
//! theorem. With `s_i = σ_i (1 − σ_i)`, `A = Σ y_i s_i`, `B = Σ s_i`, `Q = Σ y_i² s_i`:
//!
//! ```text
//! ∂S/∂c_i = (σ_i + (y_i − A/B) s_i/τ − K) / (n μ),   K = S + (Q − A²/B) / (n τ)
//! ```
//!
//! (`Σ_i c_i ∂S/∂c_i = 0`, as scale invariance demands). The attribution runs on the host for
//! every backend, in `f64`, agent blocks in parallel with their sums added in a fixed order.

use burn::tensor::{DType, Device, Tensor, TensorData};
use rayon::prelude::*;

use super::parameters::{Fallback, Parameter, positive};
use super::{BuildContext, DomainError, Entry, HostRoute, HostRun, HostStep, Indicator};
use crate::array::download;
use crate::error::{Error, Result};

/// Agents per parallel task.
const TASK_AGENTS: usize = 1 << 13;
/// Most iterations of the solve for `r`.
const MAX_ITERATIONS: usize = 200;

/// The registry entry.
pub const ENTRY: Entry = Entry {
    name: "top_share",
    summary: "share of the total composite held by the top p of agents, smoothed over tau \
              (relative to the mean; a baseline with a positive mean, e.g. mean)",
    needs_model: false,
    exact: None,
    parameters: &[
        Parameter {
            name: "p",
            fallback: Fallback::Value(0.1),
            meaning: "the top fraction of agents, in (0, 1)",
            check: |p| (p >= 1.0 || p <= 0.0).then_some("it must lie strictly between 0 and 1"),
        },
        Parameter {
            name: "tau",
            fallback: Fallback::Value(0.05),
            meaning: "the width of the smoothed rank cut, relative to the mean composite",
            check: positive,
        },
    ],
    build,
};

fn build(context: &BuildContext) -> Result<Box<dyn Indicator>> {
    Ok(Box::new(TopShare {
        p: context.parameters.get("p"),
        tau: context.parameters.get("tau"),
    }))
}

/// The smoothed top-`p` share: see the [module](self) docs.
#[derive(Clone, Copy, Debug)]
pub struct TopShare {
    /// The top fraction of agents.
    pub p: f64,
    /// The width of the cut, relative to the mean composite.
    pub tau: f64,
}

/// `σ(t)`, without overflow.
#[inline]
fn sigmoid(t: f64) -> f64 {
    if t >= 0.0 {
        1.0 / (1.0 + (-t).exp())
    } else {
        let e = t.exp();
        e / (1.0 + e)
    }
}

/// `Σ_i f(c_i)` of `N` sums, agent blocks in parallel, added in a fixed order.
fn sums<const N: usize>(c: &[f64], f: impl Fn(f64) -> [f64; N] + Sync) -> [f64; N] {
    let partial: Vec<[f64; N]> = c
        .par_chunks(TASK_AGENTS)
        .map(|block| {
            block.iter().fold([0.0; N], |mut acc, &ci| {
                for (a, v) in acc.iter_mut().zip(f(ci)) {
                    *a += v;
                }
                acc
            })
        })
        .collect();
    partial.iter().fold([0.0; N], |mut acc, block| {
        for (a, v) in acc.iter_mut().zip(block) {
            *a += v;
        }
        acc
    })
}

/// Where the cut lies at one population: what every agent's derivative needs.
#[derive(Clone, Copy, Debug)]
struct Cut {
    /// `1/(μ τ)`: `u_i = c_i/(μ τ) = y_i/τ`.
    scale: f64,
    /// The mean composite `μ`.
    mean: f64,
    /// The solved `r`.
    r: f64,
    /// The share `S`.
    share: f64,
    /// `A / B`.
    a_over_b: f64,
    /// `K`.
    k: f64,
    /// Agents `n`.
    n: f64,
}

impl TopShare {
    /// The cut of the composites `c`, with the solve started at `start` (the cut of a nearby
    /// point of the path) where given; `None` where the mean composite is not positive.
    fn cut(&self, c: &[f64], start: Option<f64>) -> Option<Cut> {
        let n = c.len() as f64;
        let mean = sums(c, |ci| [ci])[0] / n;
        if mean.is_nan() || mean <= 0.0 {
            return None;
        }
        let scale = 1.0 / (mean * self.tau);
        let r = self.solve(c, scale, start);
        let [sigma_y, b, a, q] = sums(c, |ci| {
            let u = ci * scale;
            let s = sigmoid(u - r);
            let slope = s * (1.0 - s);
            let y = u * self.tau;
            [y * s, slope, y * slope, y * y * slope]
        });
        // All slopes underflow only where every agent is far from the cut: then each agent's
        // A/B term carries its own slope, 0.
        let a_over_b = if b > 0.0 { a / b } else { 0.0 };
        let share = sigma_y / n;
        let k = share + (q - a * a_over_b) / (n * self.tau);
        Some(Cut {
            scale,
            mean,
            r,
            share,
            a_over_b,
            k,
            n,
        })
    }

    /// `r` with `(1/n) Σ_i σ(c_i scale − r) = p`: Newton's method kept inside a bracket that
    /// halves where a step would leave it.
    fn solve(&self, c: &[f64], scale: f64, start: Option<f64>) -> f64 {
        let n = c.len() as f64;
        let logit = (self.p / (1.0 - self.p)).ln();
        let (min_u, max_u) = (c.iter()).fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &ci| {
            (a.min(ci * scale), b.max(ci * scale))
        });
        // f(r) = (1/n) Σ_i σ(u_i − r) − p is ≥ 0 at the smallest u − logit p, ≤ 0 at the largest.
        let (mut lo, mut hi) = (min_u - logit, max_u - logit);
        let mut r = start
            .filter(|r| (lo..=hi).contains(r))
            .unwrap_or(0.5 * (lo + hi));
        for _ in 0..MAX_ITERATIONS {
            let [f, slope] = sums(c, |ci| {
                let s = sigmoid(ci * scale - r);
                [s, s * (1.0 - s)]
            });
            let f = f / n - self.p;
            if f == 0.0 {
                return r;
            }
            if f > 0.0 {
                lo = r;
            } else {
                hi = r;
            }
            let newton = r + f / (slope / n);
            let next = if slope > 0.0 && newton > lo && newton < hi {
                newton
            } else {
                0.5 * (lo + hi)
            };
            if (next - r).abs() <= 4.0 * f64::EPSILON * r.abs().max(1.0) || hi - lo <= 0.0 {
                return next;
            }
            r = next;
        }
        r
    }
}

impl TopShare {
    /// `S` of the composites `c`; `None` where their mean is not positive.
    pub fn value(&self, c: &[f64]) -> Option<f64> {
        self.cut(c, None).map(|cut| cut.share)
    }

    /// `∂S/∂c_i` of every agent of `c` into `gradient`, and the cut's `r` (to start the next
    /// point's solve); `None` where the mean composite is not positive.
    pub fn gradient(&self, c: &[f64], start: Option<f64>, gradient: &mut [f64]) -> Option<f64> {
        let cut = self.cut(c, start)?;
        gradient
            .par_chunks_mut(TASK_AGENTS)
            .zip(c.par_chunks(TASK_AGENTS))
            .for_each(|(g, c)| {
                for (g, &ci) in g.iter_mut().zip(c) {
                    *g = cut.derivative(ci, self.tau);
                }
            });
        Some(cut.r)
    }
}

impl Cut {
    /// `∂S/∂c_i` of an agent with composite `ci`.
    #[inline]
    fn derivative(&self, ci: f64, tau: f64) -> f64 {
        let u = ci * self.scale;
        let s = sigmoid(u - self.r);
        let slope = s * (1.0 - s);
        (s + (u * tau - self.a_over_b) * slope / tau - self.k) / (self.n * self.mean)
    }
}

/// The message for a mean composite `mean` that is not positive at `at`.
fn non_positive_mean(at: &str, mean: f64) -> String {
    format!(
        "the mean composite is {mean} in the {at}; top_share needs a positive mean composite \
         along the path (use a baseline with a positive mean, e.g. mean)"
    )
}

impl Indicator for TopShare {
    fn name(&self) -> &str {
        ENTRY.name
    }

    /// Computed on the host in f64.
    fn f64_forward_on_any_device(&self) -> bool {
        true
    }

    /// Each row's composites read back and `S` computed on the host; a row whose mean composite
    /// is not positive is NaN (the engine checks the path's domain first).
    fn forward(&self, z: Tensor<3>) -> Result<Tensor<1>> {
        let [rows, _, n] = z.dims();
        let (device, dtype) = (z.device(), z.dtype());
        let c = download(z.sum_dim(1).cast(DType::F64), "composites")?;
        let v: Vec<f64> = (c.chunks_exact(n))
            .map(|row| self.value(row).unwrap_or(f64::NAN))
            .collect();
        let v = Tensor::<1>::from_data(TensorData::new(v, [rows]), (&device, DType::F64));
        Ok(v.cast(dtype))
    }

    /// The mean composite must be positive at both ends of the path (then everywhere on it).
    fn check_domain(&self, x: &Tensor<3>, b: &Tensor<3>) -> Result<Option<DomainError>> {
        for (at, t) in [("features", x), ("baseline", b)] {
            let rows = t.dims()[0];
            let composites = t.clone().sum_dim(1);
            let means = download(crate::ops::mean_dim(composites, 2).reshape([rows]), "means")?;
            if let Some(row) = means.iter().position(|&m| m.is_nan() || m <= 0.0) {
                let reason = non_positive_mean(at, means[row]);
                return Ok(Some(DomainError { row, reason }));
            }
        }
        Ok(None)
    }

    /// The cut is solved on the host whatever the device.
    fn host_route(&self, _device: &Device) -> Option<Box<dyn HostRoute + '_>> {
        Some(Box::new(*self))
    }
}

impl HostRoute for TopShare {
    fn end_values(&self, step: &HostStep, _run: &HostRun) -> Result<[f64; 2]> {
        let x: Vec<f64> = (0..step.agents).map(|i| step.x_composite(i)).collect();
        let b: Vec<f64> = (0..step.baseline_agents())
            .map(|i| step.b_composite(i))
            .collect();
        let refuse = |at: &str, c: &[f64]| Error::Domain {
            indicator: ENTRY.name.into(),
            step: step.index,
            reason: non_positive_mean(at, c.iter().sum::<f64>() / c.len() as f64),
        };
        let v_x = self.value(&x).ok_or_else(|| refuse("features", &x))?;
        let v_b = self.value(&b).ok_or_else(|| refuse("baseline", &b))?;
        Ok([v_x, v_b])
    }

    /// The mean composite is checked at both ends (then it is positive along the path).
    fn attribute(&self, step: &HostStep, run: &HostRun, phi: &mut [f64]) -> Result<()> {
        let n = step.agents;
        let x: Vec<f64> = (0..n).map(|i| step.x_composite(i)).collect();
        let b: Vec<f64> = (0..n).map(|i| step.b_composite(i)).collect();
        for (at, c) in [("features", &x), ("baseline", &b)] {
            let mean = c.iter().sum::<f64>() / n as f64;
            if mean.is_nan() || mean <= 0.0 {
                return Err(Error::Domain {
                    indicator: ENTRY.name.into(),
                    step: step.index,
                    reason: non_positive_mean(at, mean),
                });
            }
        }
        let (mut point, mut gradient) = (vec![0.0; n], vec![0.0; n]);
        phi.fill(0.0);
        let mut start = None;
        for (&alpha, &w) in run.nodes.iter().zip(run.weights) {
            for ((z, &x), &b) in point.iter_mut().zip(&x).zip(&b) {
                *z = b + alpha * (x - b);
            }
            start = self.gradient(&point, start, &mut gradient);
            if start.is_none() {
                let mean = point.iter().sum::<f64>() / n as f64;
                return Err(Error::Domain {
                    indicator: ENTRY.name.into(),
                    step: step.index,
                    reason: non_positive_mean(&format!("path at α = {alpha}"), mean),
                });
            }
            for (((phi, &g), &x), &b) in phi.iter_mut().zip(&gradient).zip(&x).zip(&b) {
                *phi += w * (x - b) * g;
            }
        }
        Ok(())
    }
}
