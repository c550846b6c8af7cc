//! Plain-slice numeric kernels for aumann.
//!
//! Everything here works on `&[f64]`/`&[f32]` slices on the host, with no tensor library:
//! the closed-form Aumann–Shapley attributions of the four analytic indicators
//! ([`closed_form`]), accurate sums ([`sum`]), midranks and rank correlation ([`rank`]),
//! quadrature rules on `[0, 1]` ([`quadrature`]), node-parallel sums over a graph's
//! edges ([`graph`]), and small dense matrix products for neural layers ([`dense`]). With the
//! `cube` feature, [`cube`] holds GPU kernels (CubeCL) beside them.
//!
//! These are both the fast path (`O(n)` or `O(n log n)` per step, multithreaded with rayon
//! where it pays) and the oracle that checks the autodiff path-integral engine.
//!
//! Features are row-major `[n, d]` slices (agent `i`, coordinate `k` at `i * d + k`), the
//! layout of a `.npy` file written by numpy.
#![warn(missing_docs)]

pub mod closed_form;
#[cfg(feature = "cube")]
pub mod cube;
pub mod dense;
pub mod gini_path;
pub mod graph;
pub mod quadrature;
pub mod rank;
pub mod sum;

/// A floating-point element the kernels read: `f32` or `f64`, always widened to `f64`.
pub trait Real: Copy + Send + Sync + Into<f64> + 'static {}
impl Real for f32 {}
impl Real for f64 {}

/// Below this many agents the kernels stay on one thread: spawning costs more than it saves.
pub const PARALLEL_MIN: usize = 1 << 15;
