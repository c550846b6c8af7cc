//! Coalition games over agents: `v(S) = V(x_S, b_{−S})`, the population with the agents of
//! `S` at their features and everyone else at the baseline (the population size stays `n`).
//!
//! A [`Game`] keeps the current population's sufficient statistics in a state that one
//! agent at a time joins or leaves, so a marginal contribution costs `O(1)`–`O(log n)`
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
//! [`Game::value_of`] evaluates a coalition from scratch through the same closed-form
//! kernels the exact attributions use: the plain estimator, and the reference the
//! incremental states are tested against.

use aumann_kernels::closed_form::{self, Analytic};

/// A cooperative game over `n` players with incremental evaluation.
pub trait Game: Sync {
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

    /// `v(N) − v(∅)`: the change the attributions share out.
    fn change(&self) -> f64 {
        self.value(&self.full()) - self.value(&self.empty())
    }

    /// The state of the grand coalition.
    fn full(&self) -> Self::State {
        let mut s = self.empty();
        for i in 0..self.players() {
            self.join(&mut s, i);
        }
        s
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

impl Game for AnalyticGame {
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
