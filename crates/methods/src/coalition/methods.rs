//! Coalition attributions of a [`Game`] `v` over players `[n]`:
//!
//! ```text
//! leave-one-out     φ_i = v([n]) − v([n] \ {i})
//! Shapley           φ_i = Σ_{S ⊆ [n]\{i}} |S|! (n − |S| − 1)! / n! · (v(S ∪ {i}) − v(S))
//!                       = E_π [v(P_i^π ∪ {i}) − v(P_i^π)],  P_i^π the players before i in π
//! Banzhaf           β_i = 2^{−(n−1)} Σ_{S ⊆ [n]\{i}} (v(S ∪ {i}) − v(S))
//! ```
//!
//! Each estimator is written once over any [`Game`]: the game says how it values coalitions
//! (an [`Incremental`] game one join at a time, a tensor game many rows at once).
//!
//! * **Sampled Shapley**: `K` uniform random permutations, each agent's marginal
//!   contribution when it joins: the `n + 1` prefixes of each permutation valued (one join
//!   per step on an incremental game, `O(K n)` joins) or, for the plain estimator, `v`
//!   re-evaluated from scratch at every step (`O(K n²)`). The antithetic option pairs each permutation with its reverse. Standard
//!   error: the standard deviation of the per-permutation (per-pair) contributions over
//!   `√K` (`√(K/2)`).
//! * **Sampled Banzhaf** (maximum sample reuse): `K` coalitions, each player in with
//!   probability ½ independently; `β_i` = mean of `v` over the coalitions containing `i`
//!   minus the mean over those that do not, every evaluation reused for every player.
//!   Standard error `√(s²_in/K_in + s²_out/K_out)`.
//! * **Exact** Shapley and Banzhaf enumerate all `2^n` coalitions (an incremental game in
//!   Gray-code order, one join or leave per coalition), for `n ≤` [`EXACT_MAX_PLAYERS`].
//!
//! Shapley values are efficient (`Σ φ = v([n]) − v(∅)`, sampled ones exactly so per
//! permutation); leave-one-out and Banzhaf are not. Every estimator is seeded and gives the
//! same numbers for a seed whatever the number of threads: permutation `k` and coalition `k`
//! are drawn from their own streams, and contributions are summed in draw order.

use rand::rngs::Xoshiro256PlusPlus;
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};
use rayon::prelude::*;

use super::game::{FromScratch, Game, Incremental, Sum};
use aumann_engine::error::{Error, Result};
use aumann_engine::progress::Progress;
use aumann_engine::seed::mix;

/// The largest game the exact methods enumerate (2²⁰ coalitions).
pub const EXACT_MAX_PLAYERS: usize = 20;

/// An attribution from a coalition method.
#[derive(Clone, Debug, PartialEq)]
pub struct Estimate {
    /// `φ_i`, one per player.
    pub phi: Vec<f64>,
    /// Standard error per player (sampled methods only).
    pub std_error: Option<Vec<f64>>,
    /// Evaluations of `v` (joins, leaves or full evaluations).
    pub evaluations: u64,
}

/// Leave-one-out: `φ_i = v([n]) − v([n] \ {i})`.
///
/// # Errors
/// Whatever scoring fails with.
pub fn leave_one_out(game: &impl Game) -> Result<Estimate> {
    let n = game.players();
    let full = game.values(&vec![true; n])?[0];
    let phi = game.without_each()?.into_iter().map(|v| full - v).collect();
    Ok(Estimate {
        phi,
        std_error: None,
        evaluations: (n + 1) as u64,
    })
}

/// Per-player sums of samples and of their squares.
#[derive(Clone)]
struct Moments {
    sum: Vec<Sum>,
    sq: Vec<Sum>,
}

impl Moments {
    fn new(n: usize) -> Self {
        Self {
            sum: vec![Sum::default(); n],
            sq: vec![Sum::default(); n],
        }
    }

    fn push(&mut self, i: usize, x: f64) {
        self.sum[i].add(x);
        self.sq[i].add(x * x);
    }

    /// Means and standard errors of the mean over `k` samples each.
    fn finish(&self, k: usize) -> (Vec<f64>, Vec<f64>) {
        let kf = k as f64;
        self.sum
            .iter()
            .zip(&self.sq)
            .map(|(s, q)| {
                let mean = s.get() / kf;
                let var = if k > 1 {
                    ((q.get() - kf * mean * mean) / (kf - 1.0)).max(0.0)
                } else {
                    0.0
                };
                (mean, (var / kf).sqrt())
            })
            .unzip()
    }
}

/// Permutation `k` of the sampled Shapley estimators.
pub(crate) fn permutation(n: usize, seed: u64, k: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut Xoshiro256PlusPlus::seed_from_u64(mix(&[
        seed, k as u64,
    ])));
    order
}

/// Sampled Shapley over `samples` uniform random permutations: each player's marginal
/// contribution where it joins, averaged. With `antithetic`, permutations come in pairs
/// `(π, reverse π)` and `samples` must be even. Permutation `k` is the same for a seed whatever
/// the game, so every game's estimate uses the same orders.
///
/// # Errors
/// [`Error::Parameter`] for zero samples or an odd count with `antithetic`; whatever scoring
/// fails with.
pub fn shapley_sampled(
    game: &impl Game,
    samples: usize,
    antithetic: bool,
    seed: u64,
    progress: &mut (dyn FnMut(Progress) + Send),
) -> Result<Estimate> {
    check_samples(samples, antithetic)?;
    let n = game.players();
    let draws = if antithetic { samples / 2 } else { samples };
    let orders_per_draw = if antithetic { 2 } else { 1 };
    let group = (game.walks_per_call() / orders_per_draw).max(1);
    let mut moments = Moments::new(n);
    // The reversed permutation's contributions, by player, until its pair is pushed.
    let mut back = vec![0.0; if antithetic { n } else { 0 }];
    for start in (0..draws).step_by(group) {
        let end = draws.min(start + group);
        let orders: Vec<Vec<usize>> = (start..end)
            .into_par_iter()
            .flat_map_iter(|k| {
                let order = permutation(n, seed, k);
                let back = antithetic.then(|| order.iter().rev().copied().collect());
                back.into_iter().chain([order])
            })
            .collect();
        let v = game.walks(&orders)?;
        // Player `order[j]`'s marginal contribution along order `o`, for each `j`.
        let marginals = |o: usize| {
            let v = &v[o * (n + 1)..(o + 1) * (n + 1)];
            (orders[o].iter()).zip(v.windows(2).map(|w| w[1] - w[0]))
        };
        for d in 0..end - start {
            if antithetic {
                for (&i, c) in marginals(2 * d) {
                    back[i] = c;
                }
                for (&i, c) in marginals(2 * d + 1) {
                    moments.push(i, 0.5 * (c + back[i]));
                }
            } else {
                for (&i, c) in marginals(d) {
                    moments.push(i, c);
                }
            }
        }
        progress(Progress {
            done: end,
            total: draws,
        });
    }
    let (phi, se) = moments.finish(draws);
    Ok(Estimate {
        phi,
        std_error: Some(se),
        evaluations: (draws * orders_per_draw * (n + 1)) as u64,
    })
}

/// Sampled Shapley, plain estimator: every marginal contribution re-evaluates `v` from
/// scratch ([`Incremental::value_of`]), `O(K n²)`; the same permutations as
/// [`shapley_sampled`] without `antithetic`, so the two agree up to rounding.
///
/// # Errors
/// [`Error::Parameter`] for zero samples.
pub fn shapley_sampled_plain<G: Incremental>(
    game: &G,
    samples: usize,
    seed: u64,
    progress: &mut (dyn FnMut(Progress) + Send),
) -> Result<Estimate> {
    shapley_sampled(&FromScratch(game), samples, false, seed, progress)
}

/// Sampled Banzhaf, maximum-sample-reuse estimator over `samples` coalitions, each player in
/// with probability ½ (coalition `k` the same for a seed whatever the game).
///
/// # Errors
/// [`Error::Parameter`] for fewer than 2 samples, or when some player was in every
/// sampled coalition or in none (then its value has no estimate: draw more samples);
/// whatever scoring fails with.
pub fn banzhaf_sampled(
    game: &impl Game,
    samples: usize,
    seed: u64,
    progress: &mut (dyn FnMut(Progress) + Send),
) -> Result<Estimate> {
    check_banzhaf_samples(samples)?;
    let n = game.players();
    let group = game.batch().max(1);
    let mut scored = Vec::with_capacity(samples);
    for start in (0..samples).step_by(group) {
        let coalitions: Vec<Vec<bool>> = (start..samples.min(start + group))
            .into_par_iter()
            .map(|k| banzhaf_coalition(n, seed, k))
            .collect();
        let v = game.values(&coalitions.concat())?;
        scored.extend(coalitions.into_iter().zip(v));
        progress(Progress {
            done: scored.len(),
            total: samples,
        });
    }
    banzhaf_from_samples(n, &scored)
}

pub(crate) fn check_banzhaf_samples(samples: usize) -> Result<()> {
    if samples < 2 {
        return Err(Error::Parameter {
            name: "samples",
            value: samples.to_string(),
            reason: "sampled Banzhaf needs at least 2 samples".into(),
        });
    }
    at_most_samples(samples)
}

fn at_most_samples(samples: usize) -> Result<()> {
    let why = "the estimate's standard error is negligible long before that";
    aumann_engine::limits::at_most("samples", samples, aumann_engine::limits::MAX_SAMPLES, why)
}

/// Coalition `k` of the sampled Banzhaf estimators: each player in with probability ½.
fn banzhaf_coalition(n: usize, seed: u64, k: usize) -> Vec<bool> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(mix(&[seed, k as u64]));
    (0..n).map(|_| rng.random::<bool>()).collect()
}

/// The maximum-sample-reuse estimate from sampled coalitions and their values.
fn banzhaf_from_samples(n: usize, values: &[(Vec<bool>, f64)]) -> Result<Estimate> {
    let samples = values.len();
    // Per player: moments of v over the coalitions containing it; plus moments of all.
    let mut all = Sum::default();
    let mut all_sq = Sum::default();
    let mut inside = Moments::new(n);
    let mut count = vec![0usize; n];
    for (members, v) in values {
        all.add(*v);
        all_sq.add(v * v);
        for i in (0..n).filter(|&i| members[i]) {
            inside.push(i, *v);
            count[i] += 1;
        }
    }
    let mut phi = Vec::with_capacity(n);
    let mut se = Vec::with_capacity(n);
    for (i, &k_in) in count.iter().enumerate() {
        let k_out = samples - k_in;
        if k_in == 0 || k_out == 0 {
            return Err(Error::Parameter {
                name: "samples",
                value: samples.to_string(),
                reason: format!(
                    "sampled Banzhaf: agent {i} was {} sampled coalition; use more samples",
                    if k_in == 0 { "in no" } else { "in every" }
                ),
            });
        }
        let (s_in, q_in) = (inside.sum[i].get(), inside.sq[i].get());
        let (s_out, q_out) = (all.get() - s_in, all_sq.get() - q_in);
        let mean_var = |s: f64, q: f64, k: usize| {
            let kf = k as f64;
            let mean = s / kf;
            let var = if k > 1 {
                ((q - kf * mean * mean) / (kf - 1.0)).max(0.0)
            } else {
                0.0
            };
            (mean, var / kf)
        };
        let (m_in, v_in) = mean_var(s_in, q_in, k_in);
        let (m_out, v_out) = mean_var(s_out, q_out, k_out);
        phi.push(m_in - m_out);
        se.push((v_in + v_out).sqrt());
    }
    Ok(Estimate {
        phi,
        std_error: Some(se),
        evaluations: samples as u64 * n as u64 / 2,
    })
}

pub(crate) fn check_samples(samples: usize, antithetic: bool) -> Result<()> {
    if samples == 0 {
        return Err(Error::Parameter {
            name: "samples",
            value: samples.to_string(),
            reason: "at least one sample is needed".into(),
        });
    }
    if antithetic && !samples.is_multiple_of(2) {
        return Err(Error::Parameter {
            name: "samples",
            value: samples.to_string(),
            reason: "antithetic sampling pairs each permutation with its reverse: the count \
                     must be even"
                .into(),
        });
    }
    at_most_samples(samples)
}

/// Refuse a game too large to enumerate.
pub(crate) fn check_exact(n: usize) -> Result<()> {
    if n > EXACT_MAX_PLAYERS {
        return Err(Error::Parameter {
            name: "players",
            value: n.to_string(),
            reason: format!(
                "exact Shapley and Banzhaf enumerate all 2^n coalitions and stop at n = \
                 {EXACT_MAX_PLAYERS}; this game has n = {n}: use shapley-sampled or \
                 banzhaf-sampled"
            ),
        });
    }
    Ok(())
}

/// `v` of all `2^n` coalitions, for games small enough to enumerate.
fn all_values(game: &impl Game) -> Result<Vec<f64>> {
    check_exact(game.players())?;
    game.table()
}

/// Exact Shapley values by enumeration.
///
/// # Errors
/// [`Error::Parameter`] for more than [`EXACT_MAX_PLAYERS`] players; whatever scoring fails
/// with.
pub fn shapley_exact(game: &impl Game) -> Result<Estimate> {
    Ok(shapley_from_table(&all_values(game)?))
}

/// Exact Banzhaf values by enumeration.
///
/// # Errors
/// As [`shapley_exact`].
pub fn banzhaf_exact(game: &impl Game) -> Result<Estimate> {
    Ok(banzhaf_from_table(&all_values(game)?))
}

/// Shapley values from `v` of every coalition (indexed by bit mask, `2^n` of them).
fn shapley_from_table(values: &[f64]) -> Estimate {
    let n = values.len().trailing_zeros() as usize;
    // w(s) = s! (n − s − 1)! / n! = 1 / (n · C(n − 1, s)).
    let mut binom = vec![1.0f64; n];
    for s in 1..n {
        binom[s] = binom[s - 1] * (n - s) as f64 / s as f64;
    }
    let phi = (0..n)
        .into_par_iter()
        .map(|i| {
            let mut acc = Sum::default();
            for mask in (0..values.len()).filter(|m| m & (1 << i) == 0) {
                let s = mask.count_ones() as usize;
                acc.add((values[mask | 1 << i] - values[mask]) / (n as f64 * binom[s]));
            }
            acc.get()
        })
        .collect();
    Estimate {
        phi,
        std_error: None,
        evaluations: values.len() as u64,
    }
}

/// Banzhaf values from `v` of every coalition (indexed by bit mask).
fn banzhaf_from_table(values: &[f64]) -> Estimate {
    let n = values.len().trailing_zeros() as usize;
    let scale = 0.5f64.powi(n as i32 - 1);
    let phi = (0..n)
        .into_par_iter()
        .map(|i| {
            let mut acc = Sum::default();
            for mask in (0..values.len()).filter(|m| m & (1 << i) == 0) {
                acc.add(values[mask | 1 << i] - values[mask]);
            }
            acc.get() * scale
        })
        .collect();
    Estimate {
        phi,
        std_error: None,
        evaluations: values.len() as u64,
    }
}
