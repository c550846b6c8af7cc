//! Coalition attributions of a [`Game`] `v` over players `[n]`:
//!
//! ```text
//! leave-one-out     φ_i = v([n]) − v([n] \ {i})
//! Shapley           φ_i = Σ_{S ⊆ [n]\{i}} |S|! (n − |S| − 1)! / n! · (v(S ∪ {i}) − v(S))
//!                       = E_π [v(P_i^π ∪ {i}) − v(P_i^π)],  P_i^π the players before i in π
//! Banzhaf           β_i = 2^{−(n−1)} Σ_{S ⊆ [n]\{i}} (v(S ∪ {i}) − v(S))
//! ```
//!
//! * **Sampled Shapley**: `K` uniform random permutations, each agent's marginal
//!   contribution when it joins, evaluated incrementally (one join per step, `O(K n)` joins)
//!   or, for the plain estimator, by re-evaluating `v` from scratch at every step
//!   (`O(K n²)`). The antithetic option pairs each permutation with its reverse. Standard
//!   error: the standard deviation of the per-permutation (per-pair) contributions over
//!   `√K` (`√(K/2)`).
//! * **Sampled Banzhaf** (maximum sample reuse): `K` coalitions, each player in with
//!   probability ½ independently; `β_i` = mean of `v` over the coalitions containing `i`
//!   minus the mean over those that do not, every evaluation reused for every player.
//!   Standard error `√(s²_in/K_in + s²_out/K_out)`.
//! * **Exact** Shapley and Banzhaf enumerate all `2^n` coalitions in Gray-code order (one
//!   join or leave per coalition), for `n ≤` [`EXACT_MAX_PLAYERS`].
//!
//! Shapley values are efficient (`Σ φ = v([n]) − v(∅)`, sampled ones exactly so per
//! permutation); leave-one-out and Banzhaf are not. Every estimator is seeded and gives the
//! same numbers for a seed whatever the number of threads: permutation `k` and coalition `k`
//! are drawn from their own streams, and partial sums are combined in a fixed order.

use rand::rngs::Xoshiro256PlusPlus;
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};
use rayon::prelude::*;

use super::game::{Game, Sum};
use aumann_engine::error::{Error, Result};
use aumann_engine::progress::Progress;
use aumann_engine::seed::mix;

/// The largest game the exact methods enumerate (2²⁰ coalitions).
pub const EXACT_MAX_PLAYERS: usize = 20;

/// Draws handled by one task: partial sums of a chunk are combined in chunk order.
const CHUNK: usize = 4;

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

/// Leave-one-out.
pub fn leave_one_out<G: Game>(game: &G) -> Estimate {
    let n = game.players();
    let full = game.full();
    let v_full = game.value(&full);
    let chunk = n.div_ceil(rayon::current_num_threads().max(1)).max(1);
    let phi: Vec<f64> = (0..n)
        .collect::<Vec<_>>()
        .par_chunks(chunk)
        .flat_map_iter(|players| {
            let mut s = full.clone();
            players
                .iter()
                .map(|&i| {
                    game.leave(&mut s, i);
                    let v = game.value(&s);
                    game.join(&mut s, i);
                    v_full - v
                })
                .collect::<Vec<_>>()
        })
        .collect();
    Estimate {
        phi,
        std_error: None,
        evaluations: 2 * n as u64,
    }
}

/// Per-player sums of samples and of their squares.
#[derive(Clone)]
pub(super) struct Moments {
    sum: Vec<Sum>,
    sq: Vec<Sum>,
}

impl Moments {
    pub(super) fn new(n: usize) -> Self {
        Self {
            sum: vec![Sum::default(); n],
            sq: vec![Sum::default(); n],
        }
    }

    pub(super) fn push(&mut self, i: usize, x: f64) {
        self.sum[i].add(x);
        self.sq[i].add(x * x);
    }

    fn merge(&mut self, other: &Moments) {
        for i in 0..self.sum.len() {
            self.sum[i].add(other.sum[i].get());
            self.sq[i].add(other.sq[i].get());
        }
    }

    /// Means and standard errors of the mean over `k` samples each.
    pub(super) fn finish(&self, k: usize) -> (Vec<f64>, Vec<f64>) {
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

/// Run `draws` independent draws in fixed chunks, in parallel, reporting progress between
/// batches; `draw(k, &mut moments)` adds draw `k`'s samples.
fn sample_in_chunks(
    n: usize,
    draws: usize,
    progress: &mut (dyn FnMut(Progress) + Send),
    draw: impl Fn(usize, &mut Moments) + Sync,
) -> Moments {
    let chunks = draws.div_ceil(CHUNK);
    let batch = (rayon::current_num_threads() * 4).max(1);
    let mut total = Moments::new(n);
    let mut done = 0;
    for start in (0..chunks).step_by(batch) {
        let parts: Vec<Moments> = (start..chunks.min(start + batch))
            .into_par_iter()
            .map(|c| {
                let mut m = Moments::new(n);
                for k in c * CHUNK..draws.min((c + 1) * CHUNK) {
                    draw(k, &mut m);
                }
                m
            })
            .collect();
        for p in &parts {
            total.merge(p);
        }
        done = draws.min((start + batch) * CHUNK).max(done);
        progress(Progress { done, total: draws });
    }
    total
}

/// Permutation `k` of the sampled Shapley estimators.
pub(crate) fn permutation(n: usize, seed: u64, k: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut Xoshiro256PlusPlus::seed_from_u64(mix(&[
        seed, k as u64,
    ])));
    order
}

/// Sampled Shapley with `samples` permutations, evaluated incrementally. With `antithetic`,
/// permutations come in pairs `(π, reverse π)` and `samples` must be even.
///
/// # Errors
/// [`Error::Parameter`] for zero samples or an odd count with `antithetic`.
pub fn shapley_sampled<G: Game>(
    game: &G,
    samples: usize,
    antithetic: bool,
    seed: u64,
    progress: &mut (dyn FnMut(Progress) + Send),
) -> Result<Estimate> {
    check_samples(samples, antithetic)?;
    let n = game.players();
    // Marginal contributions along one ordering of the players.
    let along = |order: &mut dyn Iterator<Item = usize>, out: &mut [f64]| {
        let mut s = game.empty();
        let mut prev = game.value(&s);
        for i in order {
            game.join(&mut s, i);
            let v = game.value(&s);
            out[i] = v - prev;
            prev = v;
        }
    };
    let draws = if antithetic { samples / 2 } else { samples };
    let m = sample_in_chunks(n, draws, progress, |k, m| {
        let order = permutation(n, seed, k);
        let mut contrib = vec![0.0; n];
        along(&mut order.iter().copied(), &mut contrib);
        if antithetic {
            let mut back = vec![0.0; n];
            along(&mut order.iter().rev().copied(), &mut back);
            for i in 0..n {
                m.push(i, 0.5 * (contrib[i] + back[i]));
            }
        } else {
            for (i, c) in contrib.iter().enumerate() {
                m.push(i, *c);
            }
        }
    });
    let (phi, se) = m.finish(draws);
    Ok(Estimate {
        phi,
        std_error: Some(se),
        evaluations: (samples * n) as u64,
    })
}

/// Sampled Shapley, plain estimator: every marginal contribution re-evaluates `v` from
/// scratch ([`Game::value_of`]), `O(K n²)`; the same permutations as [`shapley_sampled`]
/// without `antithetic`, so the two agree up to rounding.
///
/// # Errors
/// [`Error::Parameter`] for zero samples.
pub fn shapley_sampled_plain<G: Game>(
    game: &G,
    samples: usize,
    seed: u64,
    progress: &mut (dyn FnMut(Progress) + Send),
) -> Result<Estimate> {
    check_samples(samples, false)?;
    let n = game.players();
    let m = sample_in_chunks(n, samples, progress, |k, m| {
        let order = permutation(n, seed, k);
        let mut members = vec![false; n];
        let mut prev = game.value_of(&members);
        for &i in &order {
            members[i] = true;
            let v = game.value_of(&members);
            m.push(i, v - prev);
            prev = v;
        }
    });
    let (phi, se) = m.finish(samples);
    Ok(Estimate {
        phi,
        std_error: Some(se),
        evaluations: (samples * (n + 1)) as u64,
    })
}

/// Sampled Banzhaf, maximum-sample-reuse estimator over `samples` coalitions.
///
/// # Errors
/// [`Error::Parameter`] for fewer than 2 samples, or when some player was in every
/// sampled coalition or in none (then its value has no estimate: draw more samples).
pub fn banzhaf_sampled<G: Game>(
    game: &G,
    samples: usize,
    seed: u64,
    progress: &mut (dyn FnMut(Progress) + Send),
) -> Result<Estimate> {
    check_banzhaf_samples(samples)?;
    let n = game.players();
    let mut values = Vec::with_capacity(samples);
    let batch = (rayon::current_num_threads() * 8).max(1);
    for start in (0..samples).step_by(batch) {
        let part: Vec<(Vec<bool>, f64)> = (start..samples.min(start + batch))
            .into_par_iter()
            .map(|k| {
                let members = banzhaf_coalition(n, seed, k);
                let mut s = game.empty();
                for (i, _) in members.iter().enumerate().filter(|m| *m.1) {
                    game.join(&mut s, i);
                }
                (members, game.value(&s))
            })
            .collect();
        values.extend(part);
        progress(Progress {
            done: values.len(),
            total: samples,
        });
    }
    banzhaf_from_samples(n, &values)
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
pub(super) fn banzhaf_coalition(n: usize, seed: u64, k: usize) -> Vec<bool> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(mix(&[seed, k as u64]));
    (0..n).map(|_| rng.random::<bool>()).collect()
}

/// The maximum-sample-reuse estimate from sampled coalitions and their values.
pub(super) fn banzhaf_from_samples(n: usize, values: &[(Vec<bool>, f64)]) -> Result<Estimate> {
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

/// `v` of every coalition, indexed by its bit mask (bit `i` = player `i`), by a Gray-code walk.
fn all_values<G: Game>(game: &G) -> Result<Vec<f64>> {
    let n = game.players();
    check_exact(n)?;
    let mut values = vec![0.0; 1 << n];
    let mut s = game.empty();
    values[0] = game.value(&s);
    let mut mask = 0usize;
    for k in 1usize..1 << n {
        let bit = k.trailing_zeros() as usize;
        mask ^= 1 << bit;
        if mask & (1 << bit) != 0 {
            game.join(&mut s, bit);
        } else {
            game.leave(&mut s, bit);
        }
        values[mask] = game.value(&s);
    }
    Ok(values)
}

/// Exact Shapley values by enumeration.
///
/// # Errors
/// [`Error::Parameter`] for more than [`EXACT_MAX_PLAYERS`] players.
pub fn shapley_exact<G: Game>(game: &G) -> Result<Estimate> {
    Ok(shapley_from_table(&all_values(game)?))
}

/// Exact Banzhaf values by enumeration.
///
/// # Errors
/// [`Error::Parameter`] for more than [`EXACT_MAX_PLAYERS`] players.
pub fn banzhaf_exact<G: Game>(game: &G) -> Result<Estimate> {
    Ok(banzhaf_from_table(&all_values(game)?))
}

/// Shapley values from `v` of every coalition (indexed by bit mask, `2^n` of them).
pub(super) fn shapley_from_table(values: &[f64]) -> Estimate {
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
pub(super) fn banzhaf_from_table(values: &[f64]) -> Estimate {
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
