//! Baselines `b`: the point each agent's features fade in from.
//!
//! ```text
//! zero    b_{t,i,k} = 0
//! mean    b_{t,i,k} = x̄_{t,k} = (1/n) Σ_j x_{t,j,k}       per coordinate, per step
//! first   b_{t,i,k} = x_{0,i,k}                           the first step ("pre-event")
//! file    a [d], [n, d] or [T, n, d] array, broadcast over the missing axes
//! ```
//!
//! A baseline is held as a `[T_b, n_b, d]` array with `T_b ∈ {1, T}` and `n_b ∈ {1, n}`:
//! broadcasting keeps a shared baseline at `d` numbers instead of `T·n·d`.

use std::path::PathBuf;

use burn::tensor::{DType, Device, Tensor};

use crate::array::{Array3, StepSlice, Values};
use crate::error::{Error, Result};

/// Which baseline to use, as the user names it.
#[derive(Clone, Debug, PartialEq)]
pub enum BaselineSpec {
    /// All zeros (the default).
    Zero,
    /// The population mean of each coordinate, per step.
    Mean,
    /// The first step's features, for every step.
    First,
    /// The previous step's features (the first step's own at the first step): what each
    /// step's change did, step to step.
    Previous,
    /// An `.npy` file of shape `[d]`, `[n, d]` or `[T, n, d]`.
    File(PathBuf),
}

impl BaselineSpec {
    /// The file of a baseline read from one.
    pub fn file(&self) -> Option<&std::path::Path> {
        match self {
            BaselineSpec::File(p) => Some(p),
            _ => None,
        }
    }
}

impl std::str::FromStr for BaselineSpec {
    type Err = std::convert::Infallible;

    /// `zero`, `mean`, `first`, `previous`, or a path to an `.npy` file.
    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        Ok(match s {
            "zero" => BaselineSpec::Zero,
            "mean" => BaselineSpec::Mean,
            "first" => BaselineSpec::First,
            "previous" => BaselineSpec::Previous,
            path => BaselineSpec::File(PathBuf::from(path)),
        })
    }
}

impl std::fmt::Display for BaselineSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BaselineSpec::Zero => f.write_str("zero"),
            BaselineSpec::Mean => f.write_str("mean"),
            BaselineSpec::First => f.write_str("first"),
            BaselineSpec::Previous => f.write_str("previous"),
            BaselineSpec::File(p) => write!(f, "{}", p.display()),
        }
    }
}

impl serde::Serialize for BaselineSpec {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for BaselineSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        let Ok(spec) = text.parse();
        Ok(spec)
    }
}

/// A resolved baseline: a `[T_b, n_b, d]` `f64` array broadcastable to the features.
#[derive(Clone, Debug, PartialEq)]
pub struct Baseline {
    array: Array3,
}

impl Baseline {
    /// Resolve `spec` against `features` (`[T, n, d]`), reading a file if it names one.
    ///
    /// # Errors
    /// For a file: any [`crate::npy::read`] error, a shape that does not broadcast to the
    /// features, or a NaN/infinite value.
    pub fn resolve(spec: &BaselineSpec, features: &Array3) -> Result<Self> {
        let [t, n, d] = features.shape();
        let array = match spec {
            BaselineSpec::Zero => Array3::from_f64([1, 1, d], vec![0.0; d]),
            BaselineSpec::Mean => {
                let mut means = Vec::with_capacity(t * d);
                for step in 0..t {
                    // Read as stored: a copy of the step in f64 would double its size.
                    for k in 0..d {
                        let s = match features.step(step) {
                            StepSlice::F32(x) => {
                                aumann_kernels::sum::sum_by(n, |i| x[i * d + k] as f64)
                            }
                            StepSlice::F64(x) => aumann_kernels::sum::sum_by(n, |i| x[i * d + k]),
                        };
                        means.push(s / n as f64);
                    }
                }
                Array3::from_f64([t, 1, d], means)
            }
            BaselineSpec::First => Array3::from_f64([1, n, d], features.step_f64(0)),
            BaselineSpec::Previous => {
                let steps = (0..t).flat_map(|step| features.step_f64(step.saturating_sub(1)));
                Array3::from_f64([t, n, d], steps.collect())
            }
            BaselineSpec::File(path) => {
                let arr = crate::npy::read(path)?;
                let what = path.display().to_string();
                let shape = match *arr.shape.as_slice() {
                    [k] if k == d => [1, 1, d],
                    [a, k] if a == n && k == d => [1, n, d],
                    [s, a, k] if s == t && a == n && k == d => [t, n, d],
                    _ => {
                        return Err(Error::Shape {
                            what: format!("baseline {what}"),
                            expected: format!(
                                "[{d}], [{n}, {d}] or [{t}, {n}, {d}] to match the features"
                            ),
                            got: arr.shape.clone(),
                        });
                    }
                };
                let values = match arr.values {
                    Values::F32(v) => v.into_iter().map(f64::from).collect(),
                    Values::F64(v) => v,
                };
                let array = Array3::from_f64(shape, values);
                array.check_finite(&format!("baseline {what}"))?;
                array
            }
        };
        Ok(Self { array })
    }

    /// A baseline from an explicit `[T_b, n_b, d]` array (`T_b ∈ {1, T}`, `n_b ∈ {1, n}`).
    pub fn from_array(array: Array3) -> Self {
        let values = match array.values() {
            Values::F64(_) => array,
            Values::F32(v) => {
                Array3::from_f64(array.shape(), v.iter().map(|&x| x as f64).collect())
            }
        };
        Self { array: values }
    }

    /// The `[T_b, n_b, d]` array.
    pub fn array(&self) -> &Array3 {
        &self.array
    }

    /// The baseline's rows for step `t`: `d` values if shared by all agents, else `n·d`.
    pub fn step(&self, t: usize) -> &[f64] {
        let t = if self.array.steps() == 1 { 0 } else { t };
        let len = self.array.agents() * self.array.dims();
        match self.array.values() {
            Values::F64(v) => &v[t * len..(t + 1) * len],
            Values::F32(_) => unreachable!("baselines are stored in f64"),
        }
    }

    /// The baseline of step `t` alone, for a one-step population.
    pub fn select_step(&self, t: usize) -> Self {
        let [_, n_b, d] = self.array.shape();
        Self {
            array: Array3::from_f64([1, n_b, d], self.step(t).to_vec()),
        }
    }

    /// Whether the baseline is zero everywhere.
    pub fn is_zero(&self) -> bool {
        match self.array.values() {
            Values::F64(v) => v.iter().all(|&b| b == 0.0),
            Values::F32(v) => v.iter().all(|&b| b == 0.0),
        }
    }

    /// Whether every agent has the same baseline (`n_b = 1`).
    pub fn is_shared(&self) -> bool {
        self.array.agents() == 1
    }

    /// Steps `t0..t1` on `device` as a `[t1 − t0 or 1, d, n_b]` tensor (agents last), ready
    /// to broadcast against the features' `[t1 − t0, d, n]`.
    pub fn upload(&self, t0: usize, t1: usize, device: &Device, dtype: DType) -> Tensor<3> {
        if self.array.steps() == 1 {
            self.array.upload(0, 1, device, dtype)
        } else {
            self.array.upload(t0, t1, device, dtype)
        }
    }
}
