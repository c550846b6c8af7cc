//! The aumann engine: indicators as differentiable tensor programs, the path integral, the
//! closed forms, baselines, results, arrays and `.npy` files, backends and errors. It knows
//! nothing of the applications built on it (the simulated societies and comparison methods,
//! panels and ingest, the study), which depend on it; it has no network, no plotting and no
//! application's error.
//!
//! For a population `x` (`[T, n, d]`: steps, agents, features), a baseline `b` and a
//! differentiable macro indicator `V`, the attribution of agent `i` at step `t` is
//!
//! ```text
//! φ_{t,i} = Σ_k (x_{t,i,k} − b_{t,i,k}) ∫₀¹ ∂V/∂x_{t,i,k} (b_t + α (x_t − b_t)) dα
//! ```
//!
//! It satisfies efficiency (`Σ_i φ_{t,i} = V(x_t) − V(b_t)`), symmetry, dummy and linearity.
//!
//! | module | what |
//! |---|---|
//! | [`indicators`] | the [`Indicator`](indicators::Indicator) trait, the analytic indicators, the DeepSet, the registry of names |
//! | [`path`] | the path-integral engine: autodiff, quadrature, memory-bounded blocks |
//! | [`exact`] | closed-form attributions (from [`aumann_kernels`]), the fast path and the oracle |
//! | [`run`] | one attribution run from a serialisable [`RunConfig`](run::RunConfig), and its JSON summary |
//! | [`baseline`] | zero, mean, first-step, previous-step and file baselines |
//! | [`attribution`] | results, efficiency gaps, shares |
//! | [`verify`] | the verification contract between engine and closed forms |
//! | [`model`] | DeepSet model folders |
//! | [`array`](mod@array), [`npy`] | host arrays and `.npy` I/O |
//! | [`input`] | input files opened only when they are regular files |
//! | [`limits`] | sizes checked before they are allocated: overflow, available memory, maxima |
//! | [`output`] | outputs written under a temporary name and moved into place, only where asked |
//! | [`backend`], [`ops`] | flex, ndarray and wgpu devices; f32/f64; functions accurate on every device |
//! | [`choice`] | named choices: one list of names per choice, parsed once |
//! | [`longtable`] | long tables (one row per step and agent) pivoted into `[T, n, d]` |
//! | [`seed`] | independent random streams from one seed |
//! | [`progress`], [`error`] | progress reports and the error type |

#![warn(missing_docs)]

pub mod array;
pub mod attribution;
pub mod backend;
pub mod baseline;
pub mod choice;
pub mod chunked;
pub mod error;
pub mod exact;
pub mod indicators;
pub mod input;
pub mod limits;
pub mod longtable;
pub mod model;
pub mod npy;
pub mod ops;
pub mod output;
pub mod path;
pub mod progress;
pub mod run;
pub mod seed;
pub mod verify;

pub use aumann_kernels as kernels;
pub use error::{Error, Result};

/// The types most programs need.
pub mod prelude {
    pub use crate::array::Array3;
    pub use crate::attribution::Attribution;
    pub use crate::backend::{Backend, Precision};
    pub use crate::baseline::{Baseline, BaselineSpec};
    pub use crate::indicators::pooled::{Pooled, Pooling};
    pub use crate::indicators::pooled_fn::{PooledFn, PoolingFn};
    pub use crate::indicators::scalar::Scalar;
    pub use crate::indicators::{Analytic, Indicator, IndicatorSpec};
    pub use crate::path::{self, PathOptions, Rule};
    pub use crate::run::RunConfig;
}
