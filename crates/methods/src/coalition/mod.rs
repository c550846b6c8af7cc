//! Coalition attributions, the methods the path integral is compared with: leave-one-out,
//! sampled and exact Shapley, sampled and exact Banzhaf, over the agents of one step.
//!
//! A coalition `S ⊆ [n]` is scored by `v(S) = V(x_S, b_{−S})`: the agents outside `S` are set
//! to the baseline and the population size stays `n` ([`game`]). The estimators ([`methods`])
//! are written once over the [`Game`] trait, which says only how a game values coalitions:
//! [`AnalyticGame`] plays the four analytic indicators as an [`Incremental`] game (one join or
//! leave at a time) and evaluates coalitions from scratch through the same closed-form
//! kernels as the exact attributions ([`FromScratch`]); [`TensorGame`] plays any indicator
//! (a DeepSet, a scenario's risk) by scoring coalitions as rows of its tensor program
//! ([`tensor`]).

pub mod game;
pub mod methods;
pub mod tensor;

pub use game::{AnalyticGame, FromScratch, Game, Incremental, switched};
pub use methods::{
    EXACT_MAX_PLAYERS, Estimate, banzhaf_exact, banzhaf_sampled, leave_one_out, shapley_exact,
    shapley_sampled, shapley_sampled_plain,
};
pub use tensor::TensorGame;
