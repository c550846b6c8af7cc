//! Applications built on the [`crate::engine`]: the comparison methods, the benchmarks, the
//! cross-scale study and its panels, training, synthetic populations and the demo. They depend
//! on the engine; the engine never depends on them.
//!
//! | module | what |
//! |---|---|
//! | [`coalition`] | comparison attributions: leave-one-out, sampled and exact Shapley and Banzhaf |
//! | [`compare`] | every method side by side on one population |
//! | [`faithfulness`] | deletion curves and agreement with sampled Shapley on the simulated societies |
//! | [`ingest`] | real data: Bluesky's Jetstream events, parsed and streamed |
//! | [`benchmark`] | the ground-truth benchmark, the runtime scaling table, robustness sweeps |
//! | [`panel`] | panels (agents × days × topics) on disk, and the synthetic panel |
//! | [`study`] | the cross-scale study: tiers, sampling protocols, shares, the scaling-bias test, reports |
//! | [`scenario`] | simulated societies with smooth static and rollout indicators, and their folders |
//! | [`train`] | training DeepSet value networks |
//! | [`synth`], [`demo`] | synthetic populations and the built-in demo |
//! | [`markdown`], [`seed`] | report tables; independent random streams from one seed |

pub mod benchmark;
pub mod coalition;
pub mod compare;
pub mod demo;
pub mod faithfulness;
pub mod ingest;
pub mod longtable;
pub mod markdown;
pub mod panel;
pub mod scenario;
pub mod seed;
pub mod study;
pub mod synth;
pub mod train;
