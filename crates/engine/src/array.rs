//! Host arrays of agent features: `[T, n, d]` (steps, agents, coordinates), row-major, the
//! layout of a numpy array, in `f32` or `f64` as read from disk.
//!
//! Tensors on a device use `[T, d, n]` instead (agents on the contiguous last axis, where
//! reductions over agents are fastest); [`Array3::upload`] does that transposition.

use burn::tensor::{DType, Device, Tensor, TensorData};
use rayon::prelude::*;

use crate::backend::Precision;
use crate::error::{Error, Result};

/// The values of an array in the precision they were stored in.
#[derive(Clone, Debug, PartialEq)]
pub enum Values {
    /// Single precision.
    F32(Vec<f32>),
    /// Double precision.
    F64(Vec<f64>),
}

impl Values {
    /// `values` in `precision`, for writing: every value must be finite and, in f32, within
    /// its range. `what` names the array in the error.
    ///
    /// # Errors
    /// [`Error::Overflow`] naming the index of the first value that is not.
    pub fn narrowed(values: Vec<f64>, precision: Precision, what: &str) -> Result<Values> {
        let bad = |v: f64| match precision {
            Precision::F32 => !v.is_finite() || v.abs() > f64::from(f32::MAX),
            Precision::F64 => !v.is_finite(),
        };
        if let Some(at) = values.iter().position(|&v| bad(v)) {
            return Err(Error::Overflow {
                what: what.to_string(),
                place: format!("index {at}"),
                value: values[at],
                precision,
            });
        }
        Ok(match precision {
            Precision::F32 => Values::F32(values.iter().map(|&v| v as f32).collect()),
            Precision::F64 => Values::F64(values),
        })
    }
}

/// One step's `[n, d]` slice in its stored precision.
#[derive(Clone, Copy, Debug)]
pub enum StepSlice<'a> {
    /// Single precision.
    F32(&'a [f32]),
    /// Double precision.
    F64(&'a [f64]),
}

/// A `[T, n, d]` array on the host.
#[derive(Clone, Debug, PartialEq)]
pub struct Array3 {
    shape: [usize; 3],
    values: Values,
}

impl Array3 {
    /// Wrap `values` (row-major) with `shape = [T, n, d]`.
    ///
    /// # Panics
    /// If the number of values is not `T·n·d`.
    pub fn new(shape: [usize; 3], values: Values) -> Self {
        let len = match &values {
            Values::F32(v) => v.len(),
            Values::F64(v) => v.len(),
        };
        assert_eq!(
            len,
            shape.iter().product::<usize>(),
            "Array3: {shape:?} needs {len} values"
        );
        Self { shape, values }
    }

    /// An `f64` array.
    pub fn from_f64(shape: [usize; 3], values: Vec<f64>) -> Self {
        Self::new(shape, Values::F64(values))
    }

    /// An `f32` array.
    pub fn from_f32(shape: [usize; 3], values: Vec<f32>) -> Self {
        Self::new(shape, Values::F32(values))
    }

    /// `[T, n, d]`.
    pub fn shape(&self) -> [usize; 3] {
        self.shape
    }

    /// Number of time steps `T`.
    pub fn steps(&self) -> usize {
        self.shape[0]
    }

    /// Number of agents `n`.
    pub fn agents(&self) -> usize {
        self.shape[1]
    }

    /// Number of coordinates `d`.
    pub fn dims(&self) -> usize {
        self.shape[2]
    }

    /// The stored values.
    pub fn values(&self) -> &Values {
        &self.values
    }

    /// Whether the values are stored in `f64`.
    pub fn is_f64(&self) -> bool {
        matches!(self.values, Values::F64(_))
    }

    /// Step `t` as an `[n, d]` slice.
    pub fn step(&self, t: usize) -> StepSlice<'_> {
        let len = self.shape[1] * self.shape[2];
        match &self.values {
            Values::F32(v) => StepSlice::F32(&v[t * len..(t + 1) * len]),
            Values::F64(v) => StepSlice::F64(&v[t * len..(t + 1) * len]),
        }
    }

    /// Step `t` widened to `f64`.
    pub fn step_f64(&self, t: usize) -> Vec<f64> {
        match self.step(t) {
            StepSlice::F32(s) => s.iter().map(|&v| v as f64).collect(),
            StepSlice::F64(s) => s.to_vec(),
        }
    }

    /// Value at step `t`, agent `i`, coordinate `k`, as `f64`.
    pub fn get(&self, t: usize, i: usize, k: usize) -> f64 {
        let idx = (t * self.shape[1] + i) * self.shape[2] + k;
        match &self.values {
            Values::F32(v) => v[idx] as f64,
            Values::F64(v) => v[idx],
        }
    }

    /// The first NaN or infinite value, reported against `what` (usually the file name).
    ///
    /// # Errors
    /// [`Error::NonFinite`] with the step, agent and coordinate of the first bad value.
    pub fn check_finite(&self, what: &str) -> Result<()> {
        // Chunks in parallel, then the first bad index inside the first bad chunk.
        fn first<T: Copy + Sync>(v: &[T], bad: impl Fn(T) -> bool + Sync) -> Option<usize> {
            const CHUNK: usize = 1 << 16;
            let c = v
                .par_chunks(CHUNK)
                .position_first(|c| c.iter().any(|&x| bad(x)))?;
            let start = c * CHUNK;
            v[start..].iter().position(|&x| bad(x)).map(|i| start + i)
        }
        let first_bad = match &self.values {
            Values::F32(v) => first(v, |x: f32| !x.is_finite()),
            Values::F64(v) => first(v, |x: f64| !x.is_finite()),
        };
        match first_bad {
            None => Ok(()),
            Some(idx) => {
                let [_, n, d] = self.shape;
                let (t, rest) = (idx / (n * d), idx % (n * d));
                Err(Error::NonFinite {
                    what: what.to_string(),
                    step: t,
                    agent: rest / d,
                    coordinate: rest % d,
                    value: self.get(t, rest / d, rest % d),
                })
            }
        }
    }

    /// Steps `t0..t1` on `device` as a `[t1 − t0, d, n]` tensor of `dtype` (agents last).
    pub fn upload(&self, t0: usize, t1: usize, device: &Device, dtype: DType) -> Tensor<3> {
        let [_, n, d] = self.shape;
        let rows = t1 - t0;
        let data = match &self.values {
            Values::F32(v) if dtype == DType::F32 => TensorData::new(
                transpose(&v[t0 * n * d..t1 * n * d], rows, n, d, |x| x),
                [rows, d, n],
            ),
            Values::F32(v) => TensorData::new(
                transpose(&v[t0 * n * d..t1 * n * d], rows, n, d, |x| x as f64),
                [rows, d, n],
            ),
            Values::F64(v) if dtype == DType::F64 => TensorData::new(
                transpose(&v[t0 * n * d..t1 * n * d], rows, n, d, |x| x),
                [rows, d, n],
            ),
            Values::F64(v) => TensorData::new(
                transpose(&v[t0 * n * d..t1 * n * d], rows, n, d, |x| x as f32),
                [rows, d, n],
            ),
        };
        Tensor::from_data(data, (device, dtype))
    }
}

impl Array3 {
    /// The steps listed in `rows` (any order, repeats allowed) on `device` as a
    /// `[rows.len(), d, n]` tensor of `dtype`: a shuffled batch of populations.
    pub fn upload_rows(&self, rows: &[usize], device: &Device, dtype: DType) -> Tensor<3> {
        let [_, n, d] = self.shape;
        let mut values = Vec::with_capacity(rows.len() * n * d);
        for &r in rows {
            match self.step(r) {
                StepSlice::F32(s) => values.extend(transpose(s, 1, n, d, |x| x as f64)),
                StepSlice::F64(s) => values.extend(transpose(s, 1, n, d, |x| x)),
            }
        }
        Tensor::from_data(TensorData::new(values, [rows.len(), d, n]), (device, dtype))
    }

    /// A new array of the listed steps, in `f32` or `f64` as stored.
    pub fn select_steps(&self, rows: &[usize]) -> Array3 {
        let [_, n, d] = self.shape;
        let len = n * d;
        let values = match &self.values {
            Values::F32(v) => Values::F32(
                rows.iter()
                    .flat_map(|&r| v[r * len..(r + 1) * len].iter().copied())
                    .collect(),
            ),
            Values::F64(v) => Values::F64(
                rows.iter()
                    .flat_map(|&r| v[r * len..(r + 1) * len].iter().copied())
                    .collect(),
            ),
        };
        Array3::new([rows.len(), n, d], values)
    }
}

/// Agents `s..s + len` of one step stored `[n, d]` as a `[1, d, len]` tensor of `dtype`.
pub(crate) fn agents_block(
    step: StepSlice,
    d: usize,
    s: usize,
    len: usize,
    device: &Device,
    dtype: DType,
) -> Tensor<3> {
    let data = match (step, dtype) {
        (StepSlice::F32(v), DType::F32) => TensorData::new(
            transpose(&v[s * d..(s + len) * d], 1, len, d, |x| x),
            [1, d, len],
        ),
        (StepSlice::F32(v), _) => TensorData::new(
            transpose(&v[s * d..(s + len) * d], 1, len, d, f64::from),
            [1, d, len],
        ),
        (StepSlice::F64(v), DType::F32) => TensorData::new(
            transpose(&v[s * d..(s + len) * d], 1, len, d, |x| x as f32),
            [1, d, len],
        ),
        (StepSlice::F64(v), _) => TensorData::new(
            transpose(&v[s * d..(s + len) * d], 1, len, d, |x| x),
            [1, d, len],
        ),
    };
    Tensor::from_data(data, (device, dtype))
}

/// `[rows, n, d]` → `[rows, d, n]`, converting each element with `f`.
pub(crate) fn transpose<A: Copy + Sync, B: Copy + Send + Default>(
    src: &[A],
    rows: usize,
    n: usize,
    d: usize,
    f: impl Fn(A) -> B + Sync,
) -> Vec<B> {
    let mut out = vec![B::default(); rows * n * d];
    // One output row (a step's coordinate) per task.
    out.par_chunks_mut(n.max(1))
        .enumerate()
        .for_each(|(row, dst)| {
            let (t, k) = (row / d, row % d);
            let src = &src[t * n * d..(t + 1) * n * d];
            for (i, o) in dst.iter_mut().enumerate() {
                *o = f(src[i * d + k]);
            }
        });
    out
}

/// Read a tensor (`what`, for the message) into a row-major `f64` vector.
///
/// # Errors
/// [`Error::Readback`] if the device cannot return the data.
pub fn download<const D: usize>(t: Tensor<D>, what: &'static str) -> Result<Vec<f64>> {
    download_as(t, what)
}

/// Read a tensor (`what`, for the message) into a row-major vector of `E`.
///
/// # Errors
/// [`Error::Readback`] if the device cannot return the data.
pub fn download_as<E: burn::tensor::Element, const D: usize>(
    t: Tensor<D>,
    what: &'static str,
) -> Result<Vec<E>> {
    t.into_data()
        .try_into_vec_as::<E>()
        .map_err(|source| Error::Readback { what, source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_first_non_finite_value() {
        let mut v = vec![0.0f32; 2 * 3 * 2];
        v[(3 + 2) * 2 + 1] = f32::NAN; // step 1, agent 2, coordinate 1
        let a = Array3::from_f32([2, 3, 2], v);
        match a.check_finite("x.npy") {
            Err(Error::NonFinite {
                step: 1,
                agent: 2,
                coordinate: 1,
                ..
            }) => {}
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn transposes_agents_to_the_last_axis() {
        // [T=2, n=3, d=2]
        let v: Vec<f64> = (0..12).map(f64::from).collect();
        let out = transpose(&v, 2, 3, 2, |x| x);
        assert_eq!(out, vec![0., 2., 4., 1., 3., 5., 6., 8., 10., 7., 9., 11.]);
    }
}
