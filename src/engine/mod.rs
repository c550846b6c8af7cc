//! The engine: indicators as differentiable tensor programs, the path integral, the closed
//! forms, baselines, results, arrays and `.npy` files, backends and errors. It knows nothing
//! of the applications built on it ([`crate::apps`]).
//!
//! | module | what |
//! |---|---|
//! | [`indicators`] | the [`Indicator`](indicators::Indicator) trait, the analytic indicators, the DeepSet, the registry of names |
//! | [`path`] | the path-integral engine: autodiff, quadrature, memory-bounded blocks |
//! | [`exact`] | closed-form attributions (from [`aumann_kernels`]), the fast path and the oracle |
//! | [`run`] | one attribution run from a serialisable [`RunConfig`](run::RunConfig), and its JSON summary |
//! | [`baseline`] | zero, mean, first-step and file baselines |
//! | [`attribution`] | results, efficiency gaps, shares |
//! | [`verify`] | the verification contract between engine and closed forms |
//! | [`model`] | DeepSet model folders |
//! | [`array`](mod@array), [`npy`] | host arrays and `.npy` I/O |
//! | [`input`] | input files opened only when they are regular files |
//! | [`limits`] | sizes checked before they are allocated: overflow, available memory, maxima |
//! | [`output`] | outputs written under a temporary name and moved into place, only where asked |
//! | [`backend`], [`ops`] | flex, ndarray and wgpu devices; f32/f64; functions accurate on every device |
//! | [`choice`] | named choices: one list of names per choice, parsed once |
//! | [`progress`], [`error`] | progress reports and the error type |

pub mod array;
pub mod attribution;
pub mod backend;
pub mod baseline;
pub mod choice;
pub mod error;
pub mod exact;
pub mod indicators;
pub mod input;
pub mod limits;
pub mod model;
pub mod npy;
pub mod ops;
pub mod output;
pub mod path;
pub mod progress;
pub mod run;
pub mod verify;
