//! Coalition methods for any indicator: coalitions scored by the indicator's own tensor
//! program, many at once.
//!
//! ```text
//! z_S = b + 1_S ⊙ (x − b)           [rows, d, n]: one row per coalition S
//! v(S) = V(z_S)
//! ```
//!
//! A [`BatchGame`] scores a list of coalitions in one call; [`TensorGame`] does it with any
//! [`Indicator`] on any backend, stacking coalitions as rows of one tensor in blocks of at most
//! a given number of feature values. The estimators here are those of [`super::methods`] with
//! the same formulas, the same permutations and the same sampled coalitions for a seed, so on
//! the analytic indicators the two routes agree to rounding: the incremental closed-form games
//! are the fast path there, this is the path for learned and simulated indicators.
//!
//! | estimator | coalitions scored |
//! |---|---|
//! | leave-one-out | `n + 1` |
//! | sampled Shapley | `n + 1` per permutation (its prefixes), twice with `antithetic` |
//! | sampled Banzhaf | `K` |
//! | exact Shapley and Banzhaf | `2^n`, `n ≤` [`super::EXACT_MAX_PLAYERS`] |

use burn::tensor::{Device, Tensor, TensorData};

use super::methods::{
    Moments, banzhaf_coalition, banzhaf_from_samples, banzhaf_from_table, check_banzhaf_samples,
    check_exact, check_samples, permutation, shapley_from_table,
};
use crate::coalition::Estimate;
use aumann_engine::array::{Array3, download};
use aumann_engine::backend::Precision;
use aumann_engine::baseline::Baseline;
use aumann_engine::error::{Error, Result};
use aumann_engine::indicators::Indicator;
use aumann_engine::progress::Progress;

/// A cooperative game whose coalitions are scored in batches.
pub trait BatchGame {
    /// Number of players `n`.
    fn players(&self) -> usize;

    /// Coalitions worth scoring in one call (the caller's batches are a multiple of it or
    /// less, to bound memory).
    fn batch(&self) -> usize;

    /// `v` of every coalition in `members` (`rows × n` flags, row-major: player `i` of
    /// coalition `r` at `r·n + i`).
    ///
    /// # Errors
    /// Whatever scoring a coalition can fail with (a read-back, say).
    fn values(&self, members: &[bool]) -> Result<Vec<f64>>;
}

/// One step of a population as a game scored by an indicator's tensor program.
pub struct TensorGame<'a> {
    indicator: &'a dyn Indicator,
    /// `x − b`, `[1, d, n]`.
    delta: Tensor<3>,
    /// `[1, d, n]`.
    b: Tensor<3>,
    n: usize,
    rows: usize,
}

impl<'a> TensorGame<'a> {
    /// The game of `indicator` on the one-step `features` (`[1, n, d]`) from `baseline`
    /// (broadcast to them), on `device` in `precision`; coalitions are scored in blocks of at
    /// most `block_elements` feature values.
    ///
    /// # Errors
    /// Features of more than one step, too few agents for the indicator, or a precision the
    /// device lacks.
    pub fn new(
        indicator: &'a dyn Indicator,
        features: &Array3,
        baseline: &Baseline,
        device: &Device,
        precision: Precision,
        block_elements: usize,
    ) -> Result<Self> {
        let [steps, n, d] = features.shape();
        if steps != 1 {
            return Err(Error::Shape {
                what: "the population of a coalition game".into(),
                expected: "one step, [1, n, d]".into(),
                got: features.shape().to_vec(),
            });
        }
        if n < indicator.min_agents() {
            return Err(Error::TooFewAgents {
                indicator: indicator.name().into(),
                need: indicator.min_agents(),
                got: n,
            });
        }
        let dtype = precision.dtype();
        if !device.supports_dtype(dtype) {
            return Err(Error::UnsupportedPrecision {
                backend: format!("{device:?}"),
                device: aumann_engine::backend::describe(device),
            });
        }
        let x = features.upload(0, 1, device, dtype);
        let b = baseline.upload(0, 1, device, dtype).expand([1, d, n]);
        Ok(Self {
            indicator,
            delta: x - b.clone(),
            b,
            n,
            rows: (block_elements / (n * d).max(1)).max(1),
        })
    }
}

impl TensorGame<'_> {
    /// `v(N) − v(∅)`: the change the attributions share out.
    ///
    /// # Errors
    /// Whatever scoring fails with.
    pub fn change(&self) -> Result<f64> {
        let mut members = vec![true; self.n];
        members.extend(vec![false; self.n]);
        let v = self.values(&members)?;
        Ok(v[0] - v[1])
    }
}

impl BatchGame for TensorGame<'_> {
    fn players(&self) -> usize {
        self.n
    }

    fn batch(&self) -> usize {
        self.rows
    }

    fn values(&self, members: &[bool]) -> Result<Vec<f64>> {
        let n = self.n;
        let (device, dtype) = (self.b.device(), self.b.dtype());
        let mut out = Vec::with_capacity(members.len() / n.max(1));
        for block in members.chunks(self.rows * n) {
            let rows = block.len() / n;
            let mask: Vec<f64> = block.iter().map(|&m| f64::from(u8::from(m))).collect();
            let mask =
                Tensor::<3>::from_data(TensorData::new(mask, [rows, 1, n]), (&device, dtype));
            let z = mask * self.delta.clone() + self.b.clone(); // [rows, d, n]
            let v = self.indicator.forward(z)?;
            out.extend(download(v, "coalition values")?);
        }
        Ok(out)
    }
}

/// The flags of coalition `mask` (bit `i` = player `i`), appended to `out`.
fn push_mask(out: &mut Vec<bool>, mask: usize, n: usize) {
    out.extend((0..n).map(|i| mask & (1 << i) != 0));
}

/// The coalitions along `order` as flags (`(order.len() + 1) × n`): row 0 has every player
/// `from` (all out, or all in), and each later row switches the next player of `order`.
/// With `from = false` over a whole permutation these are its prefixes.
pub fn switched(n: usize, order: &[usize], from: bool) -> Vec<bool> {
    let mut members = Vec::with_capacity((order.len() + 1) * n);
    let mut row = vec![from; n];
    members.extend_from_slice(&row);
    for &i in order {
        row[i] = !from;
        members.extend_from_slice(&row);
    }
    members
}

/// Leave-one-out: `v([n]) − v([n] \ {i})`.
///
/// # Errors
/// Whatever scoring fails with.
pub fn leave_one_out(game: &impl BatchGame) -> Result<Estimate> {
    let n = game.players();
    let full = game.values(&vec![true; n])?[0];
    let mut phi = Vec::with_capacity(n);
    for start in (0..n).step_by(game.batch().max(1)) {
        let end = n.min(start + game.batch().max(1));
        let mut members = vec![true; (end - start) * n];
        for (row, i) in (start..end).enumerate() {
            members[row * n + i] = false;
        }
        phi.extend(game.values(&members)?.into_iter().map(|v| full - v));
    }
    Ok(Estimate {
        phi,
        std_error: None,
        evaluations: (n + 1) as u64,
    })
}

/// Sampled Shapley over `samples` permutations (the same as
/// [`super::methods::shapley_sampled`]'s for a seed); with `antithetic`, each with its reverse.
///
/// # Errors
/// [`Error::Parameter`] for zero samples or an odd count with `antithetic`; whatever scoring
/// fails with.
pub fn shapley_sampled(
    game: &impl BatchGame,
    samples: usize,
    antithetic: bool,
    seed: u64,
    progress: &mut (dyn FnMut(Progress) + Send),
) -> Result<Estimate> {
    check_samples(samples, antithetic)?;
    let n = game.players();
    let draws = if antithetic { samples / 2 } else { samples };
    let orders_per_draw = if antithetic { 2 } else { 1 };
    // Permutations per call: their prefixes fill about one batch.
    let group = (game.batch() / (orders_per_draw * (n + 1))).max(1);
    let mut moments = Moments::new(n);
    for start in (0..draws).step_by(group) {
        let end = draws.min(start + group);
        let mut orders = Vec::with_capacity((end - start) * orders_per_draw);
        for k in start..end {
            let order = permutation(n, seed, k);
            if antithetic {
                orders.push(order.iter().rev().copied().collect());
            }
            orders.push(order);
        }
        let members: Vec<bool> = (orders.iter())
            .flat_map(|order| switched(n, order, false))
            .collect();
        let v = game.values(&members)?;
        let contributions = |o: usize| {
            let mut c = vec![0.0; n];
            let v = &v[o * (n + 1)..(o + 1) * (n + 1)];
            for (j, &i) in orders[o].iter().enumerate() {
                c[i] = v[j + 1] - v[j];
            }
            c
        };
        for d in 0..end - start {
            if antithetic {
                let (back, forth) = (contributions(2 * d), contributions(2 * d + 1));
                for i in 0..n {
                    moments.push(i, 0.5 * (forth[i] + back[i]));
                }
            } else {
                for (i, c) in contributions(d).into_iter().enumerate() {
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

/// Sampled Banzhaf over `samples` coalitions (the same as
/// [`super::methods::banzhaf_sampled`]'s for a seed), maximum sample reuse.
///
/// # Errors
/// As [`super::methods::banzhaf_sampled`]; whatever scoring fails with.
pub fn banzhaf_sampled(
    game: &impl BatchGame,
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

/// `v` of all `2^n` coalitions, indexed by bit mask.
fn all_values(game: &impl BatchGame) -> Result<Vec<f64>> {
    let n = game.players();
    check_exact(n)?;
    let total = 1usize << n;
    let group = game.batch().max(1);
    let mut values = Vec::with_capacity(total);
    for start in (0..total).step_by(group) {
        let mut members = Vec::with_capacity(group * n);
        for mask in start..total.min(start + group) {
            push_mask(&mut members, mask, n);
        }
        values.extend(game.values(&members)?);
    }
    Ok(values)
}

/// Exact Shapley values by enumeration.
///
/// # Errors
/// [`Error::Parameter`] for more than [`super::EXACT_MAX_PLAYERS`] players; whatever scoring
/// fails with.
pub fn shapley_exact(game: &impl BatchGame) -> Result<Estimate> {
    Ok(shapley_from_table(&all_values(game)?))
}

/// Exact Banzhaf values by enumeration.
///
/// # Errors
/// As [`shapley_exact`].
pub fn banzhaf_exact(game: &impl BatchGame) -> Result<Estimate> {
    Ok(banzhaf_from_table(&all_values(game)?))
}
