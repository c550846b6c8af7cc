//! Coalition games over agents: `v(S) = V(x_S, b_{−S})`, the population with the agents of
//! `S` at their features and everyone else at the baseline (the population size stays `n`).
//!
//! An [`Incremental`] game keeps the current population's sufficient statistics in a state
//! that one agent at a time joins or leaves, so a marginal contribution costs `O(1)`–`O(log n)`
//! instead of re-evaluating `V` over all `n` agents:
//!
//! ```text
//! linear    Σ_i c_i                         V = (1/n) Σ c
//! mult      s_k = Σ_i z_ik                  V = ln(1 + Π_k s_k / n)
//! variance  Σ_i c_i, Σ_i c_i²               V = Σc²/n − (Σc/n)²
//! gini      Fenwick trees of counts and sums of composites over their sorted values,
//!           G = Σ_{i<j} |c_i − c_j| updated in O(log n)      V = 2G / (n(n−1))
//! ```
//!
//! Running sums are compensated (Neumaier), so millions of joins and leaves do not drift.
//! [`Incremental::value_of`] evaluates a coalition from scratch through the same closed-form
//! kernels the exact attributions use: the plain estimator, and the reference the
//! incremental states are tested against.

use aumann_kernels::closed_form::{self, Analytic};
use rayon::prelude::*;

use aumann_engine::error::Result;

/// A cooperative game over `n` players: how its coalitions are scored. The estimators of
/// [`super::methods`] are written once over this trait; a game says only how it values
/// coalitions, one list of them at a time ([`Game::values`]) and, where it has a faster way,
/// the lists every estimator asks for (prefixes of orders, every player left out, all `2^n`).
pub trait Game {
    /// Number of players `n`.
    fn players(&self) -> usize;

    /// Coalitions worth scoring in one call to [`Game::values`] (the estimators' calls hold
    /// at most this many, to bound memory).
    fn batch(&self) -> usize;

    /// `v` of every coalition in `members` (`rows × n` flags, row-major: player `i` of
    /// coalition `r` at `r·n + i`).
    ///
    /// # Errors
    /// Whatever scoring a coalition can fail with (a read-back, say).
    fn values(&self, members: &[bool]) -> Result<Vec<f64>>;

    /// Orders worth walking in one call to [`Game::walks`].
    fn walks_per_call(&self) -> usize {
        (self.batch() / (self.players() + 1)).max(1)
    }

    /// `v` of the `n + 1` prefixes of each of `orders` (permutations of the players), order
    /// after order: `(orders.len() · (n + 1))` values.
    ///
    /// # Errors
    /// As [`Game::values`].
    fn walks(&self, orders: &[Vec<usize>]) -> Result<Vec<f64>> {
        let n = self.players();
        let members: Vec<bool> = (orders.iter())
            .flat_map(|order| switched(n, order, false))
            .collect();
        self.values(&members)
    }

    /// `v([n] \ {i})` for every player `i`, in order.
    ///
    /// # Errors
    /// As [`Game::values`].
    fn without_each(&self) -> Result<Vec<f64>> {
        let n = self.players();
        let rows = self.batch().max(1);
        let mut out = Vec::with_capacity(n);
        for start in (0..n).step_by(rows) {
            let end = n.min(start + rows);
            let mut members = vec![true; (end - start) * n];
            for (row, i) in (start..end).enumerate() {
                members[row * n + i] = false;
            }
            out.extend(self.values(&members)?);
        }
        Ok(out)
    }

    /// `v` of all `2^n` coalitions, indexed by bit mask (bit `i` = player `i`).
    ///
    /// # Errors
    /// As [`Game::values`].
    fn table(&self) -> Result<Vec<f64>> {
        let n = self.players();
        let total = 1usize << n;
        let rows = self.batch().max(1);
        let mut values = Vec::with_capacity(total);
        for start in (0..total).step_by(rows) {
            let mut members = Vec::with_capacity(rows * n);
            for mask in start..total.min(start + rows) {
                members.extend((0..n).map(|i| mask & (1 << i) != 0));
            }
            values.extend(self.values(&members)?);
        }
        Ok(values)
    }

    /// `v(N) − v(∅)`: the change the attributions share out.
    ///
    /// # Errors
    /// As [`Game::values`].
    fn change(&self) -> Result<f64> {
        let n = self.players();
        let mut members = vec![true; n];
        members.extend(vec![false; n]);
        let v = self.values(&members)?;
        Ok(v[0] - v[1])
    }
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

/// A game evaluated incrementally: the population's sufficient statistics in a state that one
/// player at a time joins or leaves. Every incremental game is a [`Game`]: prefixes, players
/// left out one at a time and the Gray-code walk over all coalitions cost one join or leave
/// each, in parallel over orders and coalitions.
pub trait Incremental: Sync {
    /// The population's statistics for one coalition.
    type State: Clone + Send + Sync;
    /// Number of players `n`.
    fn players(&self) -> usize;
    /// The state of the empty coalition (everyone at the baseline).
    fn empty(&self) -> Self::State;
    /// Player `i` joins (its features replace its baseline).
    fn join(&self, state: &mut Self::State, i: usize);
    /// Player `i` leaves (back to its baseline).
    fn leave(&self, state: &mut Self::State, i: usize);
    /// `v` of the state's coalition.
    fn value(&self, state: &Self::State) -> f64;
    /// `v(S)` for `members[i]` = whether player `i` is in `S`, evaluated from scratch.
    fn value_of(&self, members: &[bool]) -> f64;

    /// The state of the grand coalition.
    fn full(&self) -> Self::State {
        let mut s = self.empty();
        for i in 0..self.players() {
            self.join(&mut s, i);
        }
        s
    }
}

impl<G: Incremental> Game for G {
    fn players(&self) -> usize {
        Incremental::players(self)
    }

    fn batch(&self) -> usize {
        (rayon::current_num_threads() * 8).max(1)
    }

    fn values(&self, members: &[bool]) -> Result<Vec<f64>> {
        let n = Incremental::players(self).max(1);
        Ok(members
            .par_chunks(n)
            .map(|row| {
                let mut s = self.empty();
                for (i, _) in row.iter().enumerate().filter(|m| *m.1) {
                    self.join(&mut s, i);
                }
                self.value(&s)
            })
            .collect())
    }

    fn walks_per_call(&self) -> usize {
        (rayon::current_num_threads() * 4).max(1)
    }

    fn walks(&self, orders: &[Vec<usize>]) -> Result<Vec<f64>> {
        let n = Incremental::players(self);
        let mut chains = vec![0.0; orders.len() * (n + 1)];
        (chains.par_chunks_mut(n + 1).zip(orders)).for_each(|(chain, order)| {
            let mut s = self.empty();
            chain[0] = self.value(&s);
            for (j, &i) in order.iter().enumerate() {
                self.join(&mut s, i);
                chain[j + 1] = self.value(&s);
            }
        });
        Ok(chains)
    }

    fn without_each(&self) -> Result<Vec<f64>> {
        let n = Incremental::players(self);
        let full = self.full();
        let chunk = n.div_ceil(rayon::current_num_threads().max(1)).max(1);
        Ok((0..n)
            .collect::<Vec<_>>()
            .par_chunks(chunk)
            .flat_map_iter(|players| {
                let mut s = full.clone();
                players
                    .iter()
                    .map(|&i| {
                        self.leave(&mut s, i);
                        let v = self.value(&s);
                        self.join(&mut s, i);
                        v
                    })
                    .collect::<Vec<_>>()
            })
            .collect())
    }

    /// By a Gray-code walk: one join or leave per coalition.
    fn table(&self) -> Result<Vec<f64>> {
        let n = Incremental::players(self);
        let mut values = vec![0.0; 1 << n];
        let mut s = self.empty();
        values[0] = self.value(&s);
        let mut mask = 0usize;
        for k in 1usize..1 << n {
            let bit = k.trailing_zeros() as usize;
            mask ^= 1 << bit;
            if mask & (1 << bit) != 0 {
                self.join(&mut s, bit);
            } else {
                self.leave(&mut s, bit);
            }
            values[mask] = self.value(&s);
        }
        Ok(values)
    }

    fn change(&self) -> Result<f64> {
        Ok(self.value(&self.full()) - self.value(&self.empty()))
    }
}

/// An incremental game scored from scratch ([`Incremental::value_of`]) at every coalition:
/// the plain estimators, `O(n)` per coalition, and the reference the incremental states are
/// tested against.
pub struct FromScratch<'a, G>(pub &'a G);

impl<G: Incremental> Game for FromScratch<'_, G> {
    fn players(&self) -> usize {
        self.0.players()
    }

    fn batch(&self) -> usize {
        (rayon::current_num_threads() * 8).max(1) * (self.0.players() + 1)
    }

    fn values(&self, members: &[bool]) -> Result<Vec<f64>> {
        let n = self.0.players().max(1);
        Ok(members
            .par_chunks(n)
            .map(|row| self.0.value_of(row))
            .collect())
    }
}

/// A compensated (Neumaier) running sum.
#[derive(Clone, Copy, Debug, Default)]
pub struct Sum {
    sum: f64,
    comp: f64,
}

impl Sum {
    /// Add `x`.
    #[inline]
    pub fn add(&mut self, x: f64) {
        let t = self.sum + x;
        if self.sum.abs() >= x.abs() {
            self.comp += (self.sum - t) + x;
        } else {
            self.comp += (x - t) + self.sum;
        }
        self.sum = t;
    }

    /// The sum.
    #[inline]
    pub fn get(&self) -> f64 {
        self.sum + self.comp
    }
}

/// One of the four analytic indicators as a game over the agents of one step.
#[derive(Clone, Debug)]
pub struct AnalyticGame {
    indicator: Analytic,
    n: usize,
    d: usize,
    /// Features, `[n, d]` row-major.
    x: Vec<f64>,
    /// Baseline, `[n, d]` row-major.
    b: Vec<f64>,
    /// Composites of the features and of the baseline.
    cx: Vec<f64>,
    cb: Vec<f64>,
    /// Gini: every composite value (features and baseline), sorted, and each agent's two
    /// positions in it.
    sorted: Vec<f64>,
    pos_x: Vec<usize>,
    pos_b: Vec<usize>,
}

/// An [`AnalyticGame`]'s state.
#[derive(Clone, Debug)]
pub struct AnalyticState {
    coord: Vec<Sum>,
    c: Sum,
    c2: Sum,
    /// Gini: Fenwick trees of counts and of sums over `sorted`, and `G`.
    count: Vec<i64>,
    total: Vec<f64>,
    g: Sum,
}

impl AnalyticGame {
    /// The game of `indicator` on features `x` and baseline `b`, both `[n, d]` row-major.
    ///
    /// # Panics
    /// If the lengths are not `n · d`, or `n` is below the indicator's minimum: a caller with
    /// untrusted input checks both first.
    pub fn new(indicator: Analytic, x: Vec<f64>, b: Vec<f64>, d: usize) -> Self {
        assert_eq!(x.len(), b.len(), "features and baseline differ in length");
        assert!(
            d > 0 && x.len().is_multiple_of(d),
            "length is not a multiple of d"
        );
        let n = x.len() / d;
        assert!(
            n >= indicator.min_agents(),
            "{} needs at least {} players, got {n}",
            indicator.name(),
            indicator.min_agents()
        );
        let composite = |v: &[f64]| -> Vec<f64> { v.chunks(d).map(|r| r.iter().sum()).collect() };
        let (cx, cb) = (composite(&x), composite(&b));
        let (mut sorted, mut pos_x, mut pos_b) = (Vec::new(), Vec::new(), Vec::new());
        if indicator == Analytic::Gini {
            sorted = cx.iter().chain(&cb).copied().collect();
            sorted.sort_by(f64::total_cmp);
            sorted.dedup();
            let find = |v: f64| sorted.partition_point(|&s| s < v);
            pos_x = cx.iter().map(|&v| find(v)).collect();
            pos_b = cb.iter().map(|&v| find(v)).collect();
        }
        Self {
            indicator,
            n,
            d,
            x,
            b,
            cx,
            cb,
            sorted,
            pos_x,
            pos_b,
        }
    }

    /// The indicator.
    pub fn indicator(&self) -> Analytic {
        self.indicator
    }

    fn row<'a>(&'a self, v: &'a [f64], i: usize) -> &'a [f64] {
        &v[i * self.d..(i + 1) * self.d]
    }

    /// Move agent `i` from (`from_row`, `from_c`, `from_pos`) to the other side.
    fn shift(&self, s: &mut AnalyticState, i: usize, joining: bool) {
        let (from, to) = if joining {
            (&self.b, &self.x)
        } else {
            (&self.x, &self.b)
        };
        let (cf, ct) = if joining {
            (self.cb[i], self.cx[i])
        } else {
            (self.cx[i], self.cb[i])
        };
        match self.indicator {
            Analytic::Linear => s.c.add(ct - cf),
            Analytic::Mult => {
                for (k, (t, f)) in self.row(to, i).iter().zip(self.row(from, i)).enumerate() {
                    s.coord[k].add(t - f);
                }
            }
            Analytic::Variance => {
                s.c.add(ct - cf);
                s.c2.add(ct * ct - cf * cf);
            }
            Analytic::Gini => {
                let (pf, pt) = if joining {
                    (self.pos_b[i], self.pos_x[i])
                } else {
                    (self.pos_x[i], self.pos_b[i])
                };
                fenwick_add(&mut s.count, &mut s.total, pf, -1, -cf);
                s.g.add(-self.distance_sum(s, cf, pf));
                s.g.add(self.distance_sum(s, ct, pt));
                fenwick_add(&mut s.count, &mut s.total, pt, 1, ct);
            }
        }
    }

    /// `Σ_j |v − z_j|` over the agents in the Fenwick trees; `v` sits at position `p`.
    fn distance_sum(&self, s: &AnalyticState, v: f64, p: usize) -> f64 {
        let (cnt_le, sum_le) = fenwick_prefix(&s.count, &s.total, p + 1);
        let (cnt_all, sum_all) = fenwick_prefix(&s.count, &s.total, self.sorted.len());
        let below = cnt_le as f64 * v - sum_le;
        let above = (sum_all - sum_le) - (cnt_all - cnt_le) as f64 * v;
        below + above
    }
}

fn fenwick_add(count: &mut [i64], total: &mut [f64], p: usize, dc: i64, ds: f64) {
    let mut i = p + 1;
    while i <= count.len() {
        count[i - 1] += dc;
        total[i - 1] += ds;
        i += i & i.wrapping_neg();
    }
}

/// Counts and sums over positions `0 .. p`.
fn fenwick_prefix(count: &[i64], total: &[f64], p: usize) -> (i64, f64) {
    let (mut c, mut s) = (0, 0.0);
    let mut i = p;
    while i > 0 {
        c += count[i - 1];
        s += total[i - 1];
        i &= i - 1;
    }
    (c, s)
}

impl Incremental for AnalyticGame {
    type State = AnalyticState;

    fn players(&self) -> usize {
        self.n
    }

    fn empty(&self) -> AnalyticState {
        let mut s = AnalyticState {
            coord: vec![Sum::default(); self.d],
            c: Sum::default(),
            c2: Sum::default(),
            count: vec![0; self.sorted.len()],
            total: vec![0.0; self.sorted.len()],
            g: Sum::default(),
        };
        match self.indicator {
            Analytic::Linear => self.cb.iter().for_each(|&c| s.c.add(c)),
            Analytic::Mult => {
                for row in self.b.chunks(self.d) {
                    for (k, v) in row.iter().enumerate() {
                        s.coord[k].add(*v);
                    }
                }
            }
            Analytic::Variance => {
                for &c in &self.cb {
                    s.c.add(c);
                    s.c2.add(c * c);
                }
            }
            Analytic::Gini => {
                // Insert every baseline composite, accumulating G as we go.
                for i in 0..self.n {
                    let (v, p) = (self.cb[i], self.pos_b[i]);
                    s.g.add(self.distance_sum(&s, v, p));
                    fenwick_add(&mut s.count, &mut s.total, p, 1, v);
                }
            }
        }
        s
    }

    fn join(&self, state: &mut AnalyticState, i: usize) {
        self.shift(state, i, true);
    }

    fn leave(&self, state: &mut AnalyticState, i: usize) {
        self.shift(state, i, false);
    }

    fn value(&self, s: &AnalyticState) -> f64 {
        let n = self.n as f64;
        match self.indicator {
            Analytic::Linear => s.c.get() / n,
            Analytic::Mult => {
                let u: f64 = s.coord.iter().map(|c| c.get() / n).product();
                u.ln_1p()
            }
            Analytic::Variance => {
                let m = s.c.get() / n;
                s.c2.get() / n - m * m
            }
            Analytic::Gini => 2.0 * s.g.get() / (n * (n - 1.0)),
        }
    }

    fn value_of(&self, members: &[bool]) -> f64 {
        let z: Vec<f64> = (0..self.n)
            .flat_map(|i| {
                let src = if members[i] { &self.x } else { &self.b };
                self.row(src, i).to_vec()
            })
            .collect();
        match closed_form::value(self.indicator, &z, self.d) {
            Ok(v) => v,
            // `mult` with a coordinate whose mean is zero (an empty coalition over a zero
            // baseline, say): the closed form refuses the boundary, where V = ln(1 + 0).
            Err(_) if self.indicator == Analytic::Mult => {
                let n = self.n as f64;
                let u: f64 = (0..self.d)
                    .map(|k| z.iter().skip(k).step_by(self.d).sum::<f64>() / n)
                    .product();
                u.ln_1p()
            }
            // `new` refused populations below the indicator's minimum; `mult`'s boundary is
            // handled above, and the other indicators are defined everywhere.
            Err(e) => unreachable!("a coalition outside the indicator's domain: {e}"),
        }
    }
}
