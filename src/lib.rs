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
//! This crate gathers the workspace's crates under one name, and is the command line. The
//! layers are crates, and their dependencies point one way:
//!
//! - [`kernels`] (`aumann-kernels`): plain-slice numeric kernels, no burn;
//! - [`engine`] (`aumann-engine`): indicators, the path integral, the closed forms,
//!   baselines, results, runs, arrays and `.npy`, backends, the engine's errors;
//! - [`report`] (`aumann-report`): markdown tables and PNG figures;
//! - [`methods`] (`aumann-methods`): the simulated societies, the coalition methods,
//!   comparison, faithfulness, benchmarks, training, synthetic populations, the demo;
//! - [`panel`] (`aumann-panel`): panels, Jetstream ingest, and capture (the `capture`
//!   feature);
//! - [`study`] (`aumann-study`): the cross-scale study and its report.
//!
//! Every module is also reachable from here (`aumann::path`, `aumann::scenario`,
//! `aumann::ingest`, …).
#![warn(missing_docs)]

pub use aumann_engine as engine;
pub use aumann_kernels as kernels;
pub use aumann_methods as methods;
pub use aumann_panel as panel;
pub use aumann_report as report;
pub use aumann_study as study;

pub use aumann_engine::{
    array, attribution, backend, baseline, choice, chunked, error, exact, indicators, input,
    limits, longtable, model, npy, ops, output, path, progress, run, seed, verify,
};
pub use aumann_methods::{
    benchmark, coalition, compare, demo, faithfulness, scenario, synth, train,
};
pub use aumann_panel::ingest;
pub use aumann_report::markdown;

pub use aumann_engine::{Error, Result};

pub use aumann_engine::prelude;

/// The README's Rust examples, compiled and run with the doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
