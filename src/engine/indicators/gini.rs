//! Gini mean difference of the composite, through detached midranks.
//!
//! ```text
//! V = Σ_{i≠j} |c_i − c_j| / (n(n−1)) = Σ_i w(ρ_i) c_i,    w(ρ) = 2 (2ρ − n − 1) / (n(n−1))
//! ```
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
//! [`Indicator::along_path`] ranks once for the whole path instead of at every point.
//! Needs `n ≥ 2`.

use burn::tensor::{DType, Device, Tensor, TensorData};
use rayon::prelude::*;

use super::{Analytic, Entry, Indicator, PathFn};
use crate::array::download;
use crate::backend::Precision;
use crate::error::{Error, Result};

/// The registry entry.
pub const ENTRY: Entry = Entry {
    name: "gini",
    summary: "Gini mean difference of the composite",
    needs_model: false,
    exact: Some(Analytic::Gini),
    build: |_| Ok(Box::new(Gini)),
};

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
    if let Some(at) = host.iter().position(|v| v.is_nan()) {
        // inf − inf in a composite: no order to rank by.
        return Err(Error::Overflow {
            what: "indicator 'gini': the composite".into(),
            place: format!("row {}, agent {}", at / n, at % n),
            value: host[at],
            precision: Precision::of(dtype),
        });
    }
    let nf = n as f64;
    let scale = 2.0 / (nf * (nf - 1.0));
    let mut w = vec![0.0f64; rows * n];
    w.par_chunks_mut(n)
        .zip(host.par_chunks(n))
        .for_each(|(w, c)| {
            aumann_kernels::rank::midranks_into(c, w);
            w.iter_mut()
                .for_each(|r| *r = scale * (2.0 * *r - nf - 1.0));
        });
    Ok(Tensor::from_data(
        TensorData::new(w, [rows, 1, n]),
        (device, dtype),
    ))
}

impl Indicator for Gini {
    fn name(&self) -> &str {
        "gini"
    }

    fn min_agents(&self) -> usize {
        2
    }

    fn forward(&self, z: Tensor<3>) -> Result<Tensor<1>> {
        let rows = z.dims()[0];
        let w = rank_weights(ranking_composites(&z), &z.device(), z.dtype())?;
        Ok(crate::ops::sum_dim(z.sum_dim(1) * w, 2).reshape([rows])) // [rows, 1, n] -> [rows]
    }

    fn along_path<'a>(&'a self, x: &Tensor<3>, b: &Tensor<3>) -> Result<PathFn<'a>> {
        let [rows, _, n] = x.dims();
        let n_b = b.dims()[2];
        // One baseline row for every agent, or rows whose composites happen to be equal.
        let shared = n_b == 1
            || download(b.clone().sum_dim(1), "baseline composites")? // [rows, 1, n]
                .chunks(n_b)
                .all(|row| row.iter().all(|&v| v == row[0]));
        if !shared {
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
}
