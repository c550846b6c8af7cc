//! What aumann compares and checks its attributions on: the simulated societies with their
//! smooth static and rollout indicators, the coalition methods (leave-one-out, sampled and
//! exact Shapley and Banzhaf), every method side by side, faithfulness (deletion curves and
//! agreement with sampled Shapley), the ground-truth benchmark and runtime tables, training
//! of DeepSet value networks, synthetic populations and the demo. Built on
//! [`aumann_engine`]; the engine never depends on it.
//!
//! | module | what |
//! |---|---|
//! | [`scenario`] | simulated societies with smooth static and rollout indicators, and their folders |
//! | [`coalition`] | comparison attributions: leave-one-out, sampled and exact Shapley and Banzhaf |
//! | [`compare`] | every method side by side on one population |
//! | [`faithfulness`] | deletion curves and agreement with sampled Shapley on the simulated societies |
//! | [`request`] | one attribution request (indicator, model or scenario) for every front end |
//! | [`benchmark`] | the ground-truth benchmark, the runtime scaling table, robustness sweeps |
//! | [`train`] | training DeepSet value networks |
//! | [`synth`], [`demo`] | synthetic populations and the built-in demo |
//! | [`error`] | the error type: the engine's, a figure's, or a scenario folder's |
#![warn(missing_docs)]

pub mod benchmark;
pub mod coalition;
pub mod compare;
pub mod demo;
pub mod error;
pub mod faithfulness;
pub mod request;
pub mod scenario;
pub mod synth;
pub mod train;

pub use error::{Error, Result};
