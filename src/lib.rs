//! # aumann
//!
//! Aumann–Shapley attribution of macro indicators to individual agents: which agents drove an
//! emergent macro phenomenon, and when.
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
//! The crate is in two layers, and the tree shows them:
//!
//! - [`engine`]: indicators, the path integral, the closed forms, baselines, results, runs
//!   and their configurations, arrays and `.npy`, backends, errors;
//! - [`apps`]: what is built on the engine: comparison methods, benchmarks, the cross-scale
//!   study and its panels, training, synthetic populations, the demo.
//!
//! Applications depend on the engine, never the reverse. Every module is also reachable from
//! the crate root (`aumann::path`, `aumann::study`, …).
#![warn(missing_docs)]

pub mod apps;
pub mod engine;

pub use apps::{
    benchmark, coalition, compare, demo, faithfulness, ingest, longtable, markdown, panel,
    scenario, seed, study, synth, train,
};
pub use engine::{
    array, attribution, backend, baseline, choice, error, exact, indicators, input, limits, model,
    npy, ops, output, path, progress, run, verify,
};

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

/// The README's Rust examples, compiled and run with the doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
