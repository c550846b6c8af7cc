//! Coalition attributions, the methods the path integral is compared with: leave-one-out,
//! sampled and exact Shapley, sampled and exact Banzhaf, over the agents of one step.
//!
//! A coalition `S ⊆ [n]` is scored by `v(S) = V(x_S, b_{−S})`: the agents outside `S` are set
//! to the baseline and the population size stays `n` ([`game`]). The estimators ([`methods`])
//! work on any [`Game`]; [`AnalyticGame`] plays the four analytic indicators with
//! incremental updates and evaluates coalitions from scratch through the same closed-form
//! kernels as the exact attributions. [`batch`] runs the same estimators on any indicator
//! (a DeepSet, a scenario's risk) by scoring coalitions as rows of its tensor program
//! ([`TensorGame`]).

pub mod batch;
pub mod game;
pub mod methods;

pub use batch::{BatchGame, TensorGame};
pub use game::{AnalyticGame, Game};
pub use methods::{
    EXACT_MAX_PLAYERS, Estimate, banzhaf_exact, banzhaf_sampled, leave_one_out, shapley_exact,
    shapley_sampled, shapley_sampled_plain,
};
