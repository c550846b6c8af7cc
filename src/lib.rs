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
//! The crate is laid out as the method is:
//!
//! | module | what |
//! |---|---|
//! | [`indicators`] | the [`Indicator`](indicators::Indicator) trait and the four analytic indicators, as burn tensor programs |
//! | [`path`] | the path-integral engine: autodiff, quadrature, memory-bounded blocks |
//! | [`exact`] | closed-form attributions (from [`aumann_kernels`]), the fast path and the oracle |
//! | [`baseline`] | zero, mean, first-step and file baselines |
//! | [`attribution`] | results, efficiency gaps, shares |
//! | [`benchmark`] | the ground-truth benchmark and the runtime scaling table |
//! | [`compare`] | every method side by side on one population |
//! | [`coalition`] | comparison attributions: leave-one-out, sampled and exact Shapley and Banzhaf |
//! | [`verify`] | the verification contract between engine and closed forms |
//! | [`model`], [`train`] | DeepSet model folders and their training |
//! | [`array`](mod@array), [`npy`] | host arrays and `.npy` I/O |
//! | [`backend`], [`ops`] | flex, ndarray and wgpu devices; f32/f64; functions accurate on every device |
//! | [`synth`], [`demo`] | synthetic populations and the built-in demo |
//! | [`panel`] | panels (agents × days × topics) on disk, and the synthetic panel |
//! | [`study`] | the cross-scale study: tiers, sampling protocols, shares, the scaling-bias test, reports |
//! | [`seed`] | independent random streams from one seed |
#![warn(missing_docs)]

pub mod array;
pub mod attribution;
pub mod backend;
pub mod baseline;
pub mod benchmark;
pub mod coalition;
pub mod compare;
pub mod demo;
pub mod error;
pub mod exact;
pub mod indicators;
pub mod model;
pub mod npy;
pub mod ops;
pub mod panel;
pub mod path;
pub mod seed;
pub mod study;
pub mod synth;
pub mod train;
pub mod verify;

pub use aumann_kernels as kernels;
pub use error::{Error, Result};

/// The types most programs need.
pub mod prelude {
    pub use crate::array::Array3;
    pub use crate::attribution::Attribution;
    pub use crate::backend::{Backend, Precision};
    pub use crate::baseline::{Baseline, BaselineSpec};
    pub use crate::indicators::{Analytic, Indicator};
    pub use crate::path::{self, PathOptions, Rule};
}
