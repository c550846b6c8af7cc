//! Gini mean difference of the composite, through detached midranks.
//!
//! ```text
//! V = Σ_{i≠j} |c_i − c_j| / (n(n−1)) = Σ_i w(ρ_i) c_i,    w(ρ) = 2 (2ρ − n − 1) / (n(n−1))
//! ```
//!
//! This is the mean difference, not the Gini coefficient most papers and Mesa's
//! `compute_gini` report: that is `G = D (n − 1) / (2 n μ)`, the indicator
//! `gini_coefficient` ([`super::gini_coefficient`]). On Mesa's models `D ≈ 2 μ G`.
//!
//! `ρ_i` is the midrank of `c_i` (ties share their mean rank). `|·|` has no derivative at a
//! tie, so the tensor program is the rank form with the weights computed on the host from a
//! detached copy of the composites: the gradient is `w(ρ_i)` for every coordinate, exactly the
//! closed form, and tied (in particular identical) agents get identical attributions.
//!
//! Ranks are taken on composites summed in `f64` wherever the device has it, whatever the
//! precision of the path: composites that are equal in exact arithmetic (`ln 2 + ln 3` and
//! `ln 6 + 0` on count data) then tie, or split, exactly as they do in the closed form.
//!
//! Along a straight path whose baseline gives every agent the same composite `B`, the
//! composites are `B + α (c_i − B)`: their order never changes, so
//! [`Indicator::along_path`] ranks once for the whole path instead of at every point, and
//! [`Indicator::integrated_gradient`] gives the whole integral from that one ranking.
//!
//! On the host ([`Indicator::host_route`]) the same holds without tensors: one sort of the
//! composites (f64, 12 bytes an agent) gives `φ_i = (Σ_j w_j) w(ρ_i) (c_i − B)`; along
//! baselines whose composites differ, the integral between the points where agents cross is
//! exact ([`aumann_kernels::gini_path`], whatever the rule), and only a step with more than
//! [`gini_path::MAX_CROSSINGS`] crossings falls back to ranking each point's composites afresh,
//! `φ_i = (c_i − c_bi) Σ_j w_j w(ρ_i(α_j))`. `V = Σ_k w(k) c_(k)` over the sorted
//! composites (ties do not change the sum: `w` is linear in the rank).
//! Needs `n ≥ 2`.

use std::sync::Mutex;

use aumann_kernels::gini_path::{self, GiniPathError};
use aumann_kernels::rank::Ascending;
use aumann_kernels::sum::sum_by;
use burn::tensor::{DType, Device, Tensor, TensorData};
use rayon::prelude::*;

use super::{Analytic, Entry, HostRoute, HostRun, HostStep, Indicator, PathFn, StraightPaths};
use crate::array::download;
use crate::backend::{Precision, on_host};
use crate::error::{Error, Result};

/// The registry entry.
pub const ENTRY: Entry = Entry::analytic(Analytic::Gini, |_| Ok(Box::new(Gini)));

/// `V = Σ_{i≠j} |c_i − c_j| / (n(n−1))`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Gini;

/// The composites `Σ_k z_k` (`[rows, 1, n]`) to rank by: detached, and in `f64` where the
/// device has it.
fn ranking_composites(z: &Tensor<3>) -> Tensor<3> {
    let z = z.clone().detach();
    if z.device().supports_dtype(DType::F64) {
        z.cast(DType::F64).sum_dim(1)
    } else {
        z.sum_dim(1)
    }
}

/// The Gini weights `w(ρ_i)` of composites `c` (`[rows, 1, n]`), as a constant tensor of
/// `dtype` on `device`.
fn rank_weights(c: Tensor<3>, device: &Device, dtype: DType) -> Result<Tensor<3>> {
    let [rows, _, n] = c.dims();
    let host = download(c, "composites")?;
    let weight = rank_weight(n);
    let mut w = vec![0.0f64; rows * n];
    let rows_done: Vec<Result<()>> = w
        .par_chunks_mut(n)
        .zip(host.par_chunks(n))
        .enumerate()
        .map(|(row, (w, c))| {
            // A NaN is inf − inf in a composite: no order to rank by.
            let sorted = Ascending::new(n, |i| c[i]).map_err(|agent| Error::Overflow {
                what: "indicator 'gini': the composite".into(),
                place: format!("row {row}, agent {agent}"),
                value: f64::NAN,
                precision: Precision::of(dtype),
            })?;
            sorted.update_by_midrank(w, |_, rank, _| weight(rank));
            Ok(())
        })
        .collect();
    rows_done.into_iter().collect::<Result<()>>()?; // the first row's error, if any
    Ok(Tensor::from_data(
        TensorData::new(w, [rows, 1, n]),
        (device, dtype),
    ))
}

/// Whether baselines `b` (`[rows, d, n_b]`) give every agent of a row the same composite:
/// one baseline for every agent, or rows whose composites happen to be equal.
fn shares_one_composite(b: &Tensor<3>) -> Result<bool> {
    let n_b = b.dims()[2];
    Ok(n_b == 1
        || download(b.clone().sum_dim(1), "baseline composites")? // [rows, 1, n]
            .chunks(n_b)
            .all(|row| row.iter().all(|&v| v == row[0])))
}

/// `w(ρ) = 2 (2ρ − n − 1) / (n(n−1))`, the weight of rank `ρ` among `n`.
fn rank_weight(n: usize) -> impl Fn(f64) -> f64 + Copy {
    let nf = n as f64;
    let scale = 2.0 / (nf * (nf - 1.0));
    move |rank| scale * (2.0 * rank - nf - 1.0)
}

impl Indicator for Gini {
    fn name(&self) -> &str {
        Analytic::Gini.name()
    }

    /// Ranks and arithmetic alone.
    fn f64_forward_on_any_device(&self) -> bool {
        true
    }

    fn min_agents(&self) -> usize {
        2
    }

    fn forward(&self, z: Tensor<3>) -> Result<Tensor<1>> {
        let rows = z.dims()[0];
        let w = rank_weights(ranking_composites(&z), &z.device(), z.dtype())?;
        Ok(crate::ops::sum_dim(z.sum_dim(1) * w, 2).reshape([rows])) // [rows, 1, n] -> [rows]
    }

    /// Along a path whose baseline gives every agent the same composite, the gradient
    /// `w(ρ_i)` is the same at every point: `Σ_j w_j ∇V = (Σ_j w_j) w(ρ_i)` in every
    /// coordinate, one ranking and a few tensor operations whatever `n` (the route on a
    /// device; the host has [`Indicator::host_route`]).
    fn integrated_gradient(&self, paths: &StraightPaths) -> Result<Option<Tensor<3>>> {
        let StraightPaths { x, b, weights, .. } = *paths;
        if !shares_one_composite(b)? {
            return Ok(None);
        }
        let [rows, d, n] = x.dims();
        let total: f64 = weights.iter().sum();
        let w = rank_weights(ranking_composites(x), &x.device(), x.dtype())?; // [rows, 1, n]
        Ok(Some(w.mul_scalar(total).expand([rows, d, n])))
    }

    fn along_path<'a>(&'a self, x: &Tensor<3>, b: &Tensor<3>) -> Result<PathFn<'a>> {
        let [rows, _, n] = x.dims();
        if !shares_one_composite(b)? {
            // Ranks may cross along the path: rank at every point.
            return Ok(Box::new(move |z| self.forward(z)));
        }
        let w = rank_weights(ranking_composites(x), &x.device(), x.dtype())?.reshape([1, rows, n]);
        Ok(Box::new(move |z: Tensor<3>| {
            let points = z.dims()[0] / rows;
            let c = z.sum_dim(1).reshape([points, rows, n]);
            Ok(crate::ops::sum_dim(c * w.clone(), 2).reshape([points * rows]))
        }))
    }

    fn host_route(&self, device: &Device) -> Option<Box<dyn HostRoute + '_>> {
        on_host(device).then(|| Box::new(HostGini::default()) as Box<dyn HostRoute>)
    }
}

/// The agents of `step` in ascending order of `composite(i)`.
///
/// # Errors
/// A NaN composite (`inf − inf`: no order to rank by), with its agent.
fn ascending(
    step: &HostStep,
    run: &HostRun,
    what: &str,
    composite: impl Fn(usize) -> f64 + Sync,
) -> Result<Ascending> {
    Ascending::new(step.agents, composite).map_err(|agent| Error::Overflow {
        what: format!("indicator 'gini': the {what}"),
        place: format!("step {}, agent {agent}", step.index),
        value: f64::NAN,
        precision: run.precision,
    })
}

/// `V = Σ_k w(k) c_(k)` of sorted composites.
fn value_of(sorted: &Ascending) -> f64 {
    let weight = rank_weight(sorted.len());
    // The weights sum to zero: measured from the smallest composite, equal composites give
    // exactly zero instead of the rounding of Σ_k w(k) times their value.
    let least = sorted.value(0);
    sum_by(sorted.len(), |k| {
        weight((k + 1) as f64) * (sorted.value(k) - least)
    })
}

/// The baseline composite `B` every agent of `step` shares, if they do.
fn shared_composite(step: &HostStep) -> Option<f64> {
    let b = step.b_composite(0);
    let n = step.baseline_agents();
    (n == 1 || (1..n).into_par_iter().all(|i| step.b_composite(i) == b)).then_some(b)
}

/// The Gini's host route. It keeps the step's sorted composites from
/// [`HostRoute::attribute`] for [`HostRoute::end_values`]: one sort of a step, not two (at
/// `10⁸` agents the sort's 1.2 GB of fresh memory costs more than the sort), timed with `φ`.
#[derive(Default)]
struct HostGini {
    sorted: Mutex<Option<(usize, Ascending)>>,
}

impl HostGini {
    /// The agents of `step` in ascending order of composite: the kept sort, or a new one.
    fn sorted(&self, step: &HostStep, run: &HostRun) -> Result<Ascending> {
        let kept = self.sorted.lock().ok().and_then(|mut kept| kept.take());
        match kept {
            Some((index, sorted)) if index == step.index => Ok(sorted),
            _ => ascending(step, run, "composite", |i| step.x_composite(i)),
        }
    }

    /// Keep `sorted`, step `index`'s, for [`HostRoute::end_values`].
    fn keep(&self, index: usize, sorted: Ascending) {
        if let Ok(mut kept) = self.sorted.lock() {
            *kept = Some((index, sorted));
        }
    }
}

impl HostRoute for HostGini {
    fn end_values(&self, step: &HostStep, run: &HostRun) -> Result<[f64; 2]> {
        let v_x = value_of(&self.sorted(step, run)?);
        let v_b = match shared_composite(step) {
            Some(_) => 0.0,
            None => value_of(&ascending(step, run, "baseline composite", |i| {
                step.b_composite(i)
            })?),
        };
        Ok([v_x, v_b])
    }

    /// One sort where the baseline composite is shared (ranks fixed along the path), one per
    /// point where it is not.
    fn attribute(&self, step: &HostStep, run: &HostRun, phi: &mut [f64]) -> Result<()> {
        let weight = rank_weight(step.agents);
        if let Some(big_b) = shared_composite(step) {
            let total: f64 = run.weights.iter().sum();
            let sorted = self.sorted(step, run)?;
            sorted.update_by_midrank(phi, |_, rank, c| total * weight(rank) * (c - big_b));
            self.keep(step.index, sorted);
            return Ok(());
        }
        let n = step.agents;
        let c: Vec<f64> = (0..n).map(|i| step.x_composite(i)).collect();
        let beta: Vec<f64> = (0..n).map(|i| step.b_composite(i)).collect();
        match gini_path::mean_difference(&c, &beta, gini_path::MAX_CROSSINGS, phi) {
            Err(GiniPathError::TooManyCrossings { .. }) => {}
            Err(e) => {
                return Err(Error::Domain {
                    indicator: "gini".into(),
                    step: step.index,
                    reason: e.to_string(),
                });
            }
            Ok(_) => return Ok(()),
        }
        phi.fill(0.0);
        for (&alpha, &w) in run.nodes.iter().zip(run.weights) {
            let sorted = ascending(step, run, "composite along the path", |i| {
                let cb = step.b_composite(i);
                cb + alpha * (step.x_composite(i) - cb)
            })?;
            sorted.update_by_midrank(phi, |sum, rank, _| sum + w * weight(rank));
        }
        phi.par_iter_mut().enumerate().for_each(|(i, phi)| {
            *phi *= step.x_composite(i) - step.b_composite(i);
        });
        Ok(())
    }
}
