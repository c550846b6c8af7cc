//! Exact Aumann–Shapley attributions of the Gini forms along a straight path from any
//! baseline, one time step.
//!
//! Along `c_i(α) = β_i + α (c_i − β_i)` each pair's difference is linear in `α`, so an agent's
//! midrank `ρ_i(α)` is piecewise constant, changing only where two lines cross. With
//! `D = Σ_{i≠j} |c_i − c_j| / (n(n−1))` (the mean difference), `μ` the mean composite and
//! `w(ρ) = 2 (2ρ − n − 1) / (n(n−1))`:
//!
//! ```text
//! mean difference   φ_i = δ_i ∫₀¹ w(ρ_i(α)) dα,                               δ_i = c_i − β_i
//! coefficient       G = k D / μ,  k = (n − 1)/(2n)          (Σ_ij |c_i − c_j| / (2 n² μ))
//!                   φ_i = k δ_i ∫₀¹ [ w(ρ_i(α)) / μ(α) − D(α) / (n μ(α)²) ] dα
//! ```
//!
//! Sorting the agents by `(β_i, c_i)` fixes every pair that does not cross inside `(0, 1)`:
//! their order there is the order of that sort (identical lines tie for the whole path). The
//! pairs that do cross are the strict inversions of `c` in that order, enumerated by a merge
//! sort in `O(n log n + K)` for `K` crossings; each adds its crossing point's share to two
//! agents' rank integrals. With a weight `u(α)` (`1`, or `1/μ(α)`) and `U(a, b) = ∫_a^b u`:
//!
//! ```text
//! ∫₀¹ ρ_i u = ρ_i^sort U(0, 1) + Σ_{j crossing i} ± U(r_ij, 1),   r_ij the crossing point
//! D(α)      = Σ_i w(ρ_i^sort) c_i(α) + (4 / (n(n−1))) Σ_{crossings} (α − r) (a + e) 1[α > r]
//! ```
//!
//! where a pair below-then-above crosses at `r = a / (a + e)`, `a` its gap at `α = 0`, `e` at
//! `α = 1`. The integrals of `1/μ`, `1/μ²` and `α/μ²` with `μ` linear have closed forms,
//! written here without cancellation when `μ` barely changes. Both attributions are exact:
//! `Σ φ_i = V(x) − V(b)` up to rounding, whatever the baseline. A step whose crossings exceed
//! a caller's bound is refused before any is enumerated (the count costs one merge sort).

/// The most crossings a step's exact Gini path enumerates (16 bytes each in memory): about
/// `2.7 × 10⁸`, a few seconds.
pub const MAX_CROSSINGS: u64 = 1 << 28;

/// Why an exact Gini path cannot be computed.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum GiniPathError {
    /// More crossings than the bound allows.
    #[error(
        "{crossings} pairs of agents change order along the path, more than the {bound} the \
         exact Gini form enumerates"
    )]
    TooManyCrossings {
        /// Crossings of the step.
        crossings: u64,
        /// The bound.
        bound: u64,
    },
    /// The Gini coefficient divides by the mean composite, which must stay positive.
    #[error(
        "the Gini coefficient needs a positive mean composite at both ends of the path, but \
         the {at}'s is {mean}; use a baseline with a positive mean (e.g. the mean or the \
         previous step)"
    )]
    NonPositiveMean {
        /// `"features"` or `"baseline"`.
        at: &'static str,
        /// Its mean composite.
        mean: f64,
    },
    /// A composite that is not a number.
    #[error("the composite of agent {agent} is not finite")]
    NotFinite {
        /// The agent.
        agent: usize,
    },
}

/// One crossing: the agent below at `α = 0`, the one above, where they cross, and the rate at
/// which their difference changes (`a + e`).
#[derive(Clone, Copy, Debug)]
struct Crossing {
    below: usize,
    above: usize,
    at: f64,
    rate: f64,
}

/// The pairs of one step's straight paths: the agents' midranks in `(β, c)` order and the
/// pairs that cross inside `(0, 1)`.
struct Pairs {
    midrank: Vec<f64>,
    crossings: Vec<Crossing>,
}

/// The Gini mean difference's exact `φ` (length `n`) from composites `c` and baseline
/// composites `beta`; returns the number of crossings.
///
/// # Errors
/// More than `bound` crossings, or a composite that is not finite.
pub fn mean_difference(
    c: &[f64],
    beta: &[f64],
    bound: u64,
    out: &mut [f64],
) -> Result<u64, GiniPathError> {
    let pairs = Pairs::new(c, beta, bound)?;
    let n = c.len() as f64;
    let scale = 2.0 / (n * (n - 1.0));
    let rank = pairs.rank_integrals(|a, b| b - a);
    for (i, o) in out.iter_mut().enumerate() {
        *o = (c[i] - beta[i]) * scale * (2.0 * rank[i] - n - 1.0);
    }
    Ok(pairs.crossings.len() as u64)
}

/// The Gini coefficient's exact `φ` (length `n`); returns the number of crossings.
///
/// # Errors
/// As [`mean_difference`], and a mean composite that is not positive at an end of the path.
pub fn coefficient(
    c: &[f64],
    beta: &[f64],
    bound: u64,
    out: &mut [f64],
) -> Result<u64, GiniPathError> {
    let n = c.len() as f64;
    let mean = |v: &[f64]| crate::sum::pairwise(v) / n;
    let line = Line {
        m0: mean(beta),
        m1: mean(c) - mean(beta),
    };
    for (at, m) in [("baseline", line.m0), ("features", line.m0 + line.m1)] {
        if m.is_nan() || m <= 0.0 {
            return Err(GiniPathError::NonPositiveMean { at, mean: m });
        }
    }
    let pairs = Pairs::new(c, beta, bound)?;
    let scale = 2.0 / (n * (n - 1.0));
    let k = (n - 1.0) / (2.0 * n);
    let rank = pairs.rank_integrals(|a, b| line.inverse(a, b));
    // ∫ D/μ²: the sorted order's linear part, then each crossing's correction.
    let (mut p, mut q) = (0.0, 0.0);
    for i in 0..c.len() {
        let w = scale * (2.0 * pairs.midrank[i] - n - 1.0);
        p += w * beta[i];
        q += w * (c[i] - beta[i]);
    }
    let mut d_over_mu2 = p * line.inverse_square(0.0, 1.0) + q * line.alpha_over_square(0.0, 1.0);
    for x in &pairs.crossings {
        let tail = line.alpha_over_square(x.at, 1.0) - x.at * line.inverse_square(x.at, 1.0);
        d_over_mu2 += 2.0 * scale * x.rate * tail;
    }
    let inverse = line.inverse(0.0, 1.0);
    for (i, o) in out.iter_mut().enumerate() {
        let w_over_mu = scale * (2.0 * rank[i] - (n + 1.0) * inverse);
        *o = k * (c[i] - beta[i]) * (w_over_mu - d_over_mu2 / n);
    }
    Ok(pairs.crossings.len() as u64)
}

/// The Gini coefficient `Σ_ij |c_i − c_j| / (2 n² μ)` of composites `c`.
pub fn coefficient_value(c: &[f64]) -> f64 {
    let n = c.len() as f64;
    let mut sorted = c.to_vec();
    sorted.sort_unstable_by(f64::total_cmp);
    // The weights sum to zero: from the smallest value, equal composites give 0 exactly.
    let spread = crate::sum::sum_by(sorted.len(), |k| {
        (2.0 * (k + 1) as f64 - n - 1.0) * (sorted[k] - sorted[0])
    });
    spread / (n * crate::sum::pairwise(c))
}

impl Pairs {
    /// The midranks in `(β, c)` order and the crossings, if there are at most `bound`.
    fn new(c: &[f64], beta: &[f64], bound: u64) -> Result<Self, GiniPathError> {
        let n = c.len();
        assert_eq!(beta.len(), n, "one baseline composite per agent");
        if let Some(agent) = (0..n).find(|&i| !(c[i].is_finite() && beta[i].is_finite())) {
            return Err(GiniPathError::NotFinite { agent });
        }
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_unstable_by(|&i, &j| beta[i].total_cmp(&beta[j]).then(c[i].total_cmp(&c[j])));
        let mut midrank = vec![0.0; n];
        midranks_of_order(&order, |i| (beta[i], c[i]), &mut midrank);
        let crossings = count_inversions(&order, c);
        if crossings > bound {
            return Err(GiniPathError::TooManyCrossings { crossings, bound });
        }
        let mut found = Vec::with_capacity(crossings as usize);
        enumerate_inversions(&mut order, c, &mut |below, above| {
            // `below` sorts first but ends higher: below at α = 0, above at α = 1.
            let (a, e) = (beta[above] - beta[below], c[below] - c[above]);
            found.push(Crossing {
                below,
                above,
                at: a / (a + e),
                rate: a + e,
            });
        });
        Ok(Self {
            midrank,
            crossings: found,
        })
    }

    /// `∫₀¹ ρ_i(α) u(α) dα` per agent, from `u_between(a, b) = ∫_a^b u`.
    fn rank_integrals(&self, u_between: impl Fn(f64, f64) -> f64) -> Vec<f64> {
        let whole = u_between(0.0, 1.0);
        let mut rank: Vec<f64> = self.midrank.iter().map(|r| r * whole).collect();
        for x in &self.crossings {
            let tail = u_between(x.at, 1.0);
            rank[x.below] += tail;
            rank[x.above] -= tail;
        }
        rank
    }
}

/// Midranks (1-based, ties sharing their mean) of the agents in `order`, sorted by `key`.
fn midranks_of_order<K: PartialEq>(order: &[usize], key: impl Fn(usize) -> K, out: &mut [f64]) {
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && key(order[end]) == key(order[start]) {
            end += 1;
        }
        let rank = (start + end + 1) as f64 / 2.0;
        for &i in &order[start..end] {
            out[i] = rank;
        }
        start = end;
    }
}

/// Strict inversions of `c` along `order`: pairs earlier in `order` with a larger `c`.
fn count_inversions(order: &[usize], c: &[f64]) -> u64 {
    let mut keys: Vec<f64> = order.iter().map(|&i| c[i]).collect();
    let mut scratch = keys.clone();
    count_sorting(&mut keys, &mut scratch)
}

/// Sort `v` ascending, counting strict inversions.
fn count_sorting(v: &mut [f64], scratch: &mut [f64]) -> u64 {
    let n = v.len();
    if n < 2 {
        return 0;
    }
    let mid = n / 2;
    let (left, right) = v.split_at_mut(mid);
    let mut count =
        count_sorting(left, &mut scratch[..mid]) + count_sorting(right, &mut scratch[mid..]);
    let (mut i, mut j) = (0, mid);
    for slot in scratch[..n].iter_mut() {
        if j >= n || (i < mid && v[i] <= v[j]) {
            *slot = v[i];
            i += 1;
        } else {
            count += (mid - i) as u64;
            *slot = v[j];
            j += 1;
        }
    }
    v.copy_from_slice(&scratch[..n]);
    count
}

/// Call `found(earlier, later)` for every strict inversion of `c` along `order` (earlier in
/// `order`, larger `c`), sorting `order` by `c` on the way.
fn enumerate_inversions(order: &mut [usize], c: &[f64], found: &mut impl FnMut(usize, usize)) {
    let n = order.len();
    if n < 2 {
        return;
    }
    let mid = n / 2;
    enumerate_inversions(&mut order[..mid], c, found);
    enumerate_inversions(&mut order[mid..], c, found);
    let mut merged = Vec::with_capacity(n);
    let (mut i, mut j) = (0, mid);
    while i < mid || j < n {
        if j >= n || (i < mid && c[order[i]] <= c[order[j]]) {
            merged.push(order[i]);
            i += 1;
        } else {
            for &earlier in &order[i..mid] {
                found(earlier, order[j]);
            }
            merged.push(order[j]);
            j += 1;
        }
    }
    order.copy_from_slice(&merged);
}

/// `μ(α) = m0 + m1 α`, positive on `[0, 1]`, and integrals against it.
#[derive(Clone, Copy, Debug)]
struct Line {
    m0: f64,
    m1: f64,
}

impl Line {
    fn at(self, alpha: f64) -> f64 {
        self.m0 + self.m1 * alpha
    }

    /// `∫_a^b 1/μ`.
    fn inverse(self, a: f64, b: f64) -> f64 {
        let (h, mu_a) = (b - a, self.at(a));
        h / mu_a * log1p_over(self.m1 * h / mu_a)
    }

    /// `∫_a^b 1/μ²`.
    fn inverse_square(self, a: f64, b: f64) -> f64 {
        (b - a) / (self.at(a) * self.at(b))
    }

    /// `∫_a^b α/μ²`.
    fn alpha_over_square(self, a: f64, b: f64) -> f64 {
        let (h, mu_a) = (b - a, self.at(a));
        // ∫_a^b (α − a)/μ² + a ∫_a^b 1/μ².
        h * h / (mu_a * mu_a) * lift(self.m1 * h / mu_a) + a * self.inverse_square(a, b)
    }
}

/// `ln(1 + t)/t`, `1` at `t = 0`.
fn log1p_over(t: f64) -> f64 {
    if t.abs() < 1e-4 {
        1.0 - t / 2.0 + t * t / 3.0 - t * t * t / 4.0
    } else {
        t.ln_1p() / t
    }
}

/// `(ln(1 + t) − t/(1 + t)) / t²` (`∫₀¹ s/(1 + t s)² ds`), `1/2` at `t = 0`.
fn lift(t: f64) -> f64 {
    if t.abs() < 0.05 {
        // Σ_k (−1)^k (k + 1)/(k + 2) t^k: 14 terms leave < 1e-18 at |t| < 0.05.
        (0..14)
            .rev()
            .fold(0.0, |acc, k| acc * -t + (k as f64 + 1.0) / (k as f64 + 2.0))
    } else {
        (t.ln_1p() - t / (1.0 + t)) / (t * t)
    }
}

/// `Σ_{i≠j} |c_i − c_j| / (n(n−1))` by brute force, for tests.
#[cfg(test)]
fn mean_difference_value(c: &[f64]) -> f64 {
    let n = c.len() as f64;
    let s: f64 = c
        .iter()
        .flat_map(|a| c.iter().map(move |b| (a - b).abs()))
        .sum();
    s / (n * (n - 1.0))
}

/// Midranks of plain values (for the sorted-order check in tests).
#[cfg(test)]
fn midranks(c: &[f64]) -> Vec<f64> {
    let mut out = vec![0.0; c.len()];
    crate::rank::midranks_into(c, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small deterministic generator of test data.
    fn data(n: usize, seed: u64, ties: bool) -> (Vec<f64>, Vec<f64>) {
        let mut s = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let mut next = move || {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let u = (s >> 11) as f64 / (1u64 << 53) as f64;
            if ties {
                (u * 5.0).floor() + 1.0
            } else {
                u * 10.0 + 0.5
            }
        };
        let c: Vec<f64> = (0..n).map(|_| next()).collect();
        let beta: Vec<f64> = (0..n).map(|_| next()).collect();
        (c, beta)
    }

    /// `δ_i ∫₀¹ ∂V/∂c_i dα` by a Gauss–Legendre rule on every piece between two crossing
    /// points of any pair (found by brute force), ranks taken afresh at every node: the
    /// integrand is smooth on each piece.
    fn quadrature(c: &[f64], beta: &[f64], coefficient: bool) -> Vec<f64> {
        let n = c.len();
        let nf = n as f64;
        let mut cuts = vec![0.0, 1.0];
        for i in 0..n {
            for j in 0..n {
                let (a, s) = (beta[i] - beta[j], (c[i] - beta[i]) - (c[j] - beta[j]));
                let r = -a / s;
                if s != 0.0 && r > 0.0 && r < 1.0 {
                    cuts.push(r);
                }
            }
        }
        cuts.sort_by(f64::total_cmp);
        let (nodes, weights) = crate::quadrature::gauss_legendre(8);
        let scale = 2.0 / (nf * (nf - 1.0));
        let mut phi = vec![0.0; n];
        for piece in cuts.windows(2) {
            let (lo, hi) = (piece[0], piece[1]);
            for (&x, &w) in nodes.iter().zip(&weights) {
                let alpha = lo + (hi - lo) * x;
                let z: Vec<f64> = (0..n).map(|i| beta[i] + alpha * (c[i] - beta[i])).collect();
                let rank = midranks(&z);
                let mu = z.iter().sum::<f64>() / nf;
                let d = mean_difference_value(&z);
                for i in 0..n {
                    let wi = scale * (2.0 * rank[i] - nf - 1.0);
                    let g = match coefficient {
                        false => wi,
                        true => (nf - 1.0) / (2.0 * nf) * (wi / mu - d / (nf * mu * mu)),
                    };
                    phi[i] += w * (hi - lo) * g * (c[i] - beta[i]);
                }
            }
        }
        phi
    }

    #[test]
    fn exact_forms_match_fine_quadrature_and_add_up() {
        for (seed, ties) in [(1, false), (2, true), (3, false)] {
            let (c, beta) = data(40, seed, ties);
            let mut md = vec![0.0; 40];
            let k = mean_difference(&c, &beta, u64::MAX, &mut md).unwrap();
            assert!(k > 0, "the data must cross");
            let want = quadrature(&c, &beta, false);
            for i in 0..40 {
                assert!(
                    (md[i] - want[i]).abs() < 1e-12,
                    "md agent {i}: {} vs {}",
                    md[i],
                    want[i]
                );
            }
            let gap =
                md.iter().sum::<f64>() - (mean_difference_value(&c) - mean_difference_value(&beta));
            assert!(gap.abs() < 1e-12, "md efficiency {gap}");
            let mut g = vec![0.0; 40];
            coefficient(&c, &beta, u64::MAX, &mut g).unwrap();
            let want = quadrature(&c, &beta, true);
            for i in 0..40 {
                assert!(
                    (g[i] - want[i]).abs() < 1e-12,
                    "G agent {i}: {} vs {}",
                    g[i],
                    want[i]
                );
            }
            let gap = g.iter().sum::<f64>() - (coefficient_value(&c) - coefficient_value(&beta));
            assert!(gap.abs() < 1e-13, "G efficiency {gap}");
        }
    }

    #[test]
    fn a_shared_baseline_gives_the_rank_form() {
        let (c, _) = data(30, 4, true);
        let beta = vec![2.5; 30];
        let mut md = vec![0.0; 30];
        assert_eq!(mean_difference(&c, &beta, u64::MAX, &mut md).unwrap(), 0);
        let rank = midranks(&c);
        let scale = 2.0 / (30.0 * 29.0);
        for i in 0..30 {
            let want = scale * (2.0 * rank[i] - 31.0) * (c[i] - 2.5);
            assert!((md[i] - want).abs() < 1e-14);
        }
    }

    #[test]
    fn crossings_beyond_the_bound_and_bad_means_are_refused() {
        let (c, beta) = data(50, 5, false);
        let mut out = vec![0.0; 50];
        let k = mean_difference(&c, &beta, u64::MAX, &mut out).unwrap();
        let err = mean_difference(&c, &beta, k - 1, &mut out).unwrap_err();
        assert_eq!(
            err,
            GiniPathError::TooManyCrossings {
                crossings: k,
                bound: k - 1
            }
        );
        let zero = vec![0.0; 50];
        assert!(matches!(
            coefficient(&c, &zero, u64::MAX, &mut out),
            Err(GiniPathError::NonPositiveMean { at: "baseline", .. })
        ));
        let mut bad = c.clone();
        bad[7] = f64::NAN;
        assert_eq!(
            mean_difference(&bad, &beta, u64::MAX, &mut out),
            Err(GiniPathError::NotFinite { agent: 7 })
        );
    }

    #[test]
    fn nearly_constant_means_keep_their_precision() {
        for t in [1e-9, 1e-5, 0.01, 0.049, 0.051, 0.5, -0.3] {
            let s: f64 = (1..=200_000)
                .map(|j| {
                    let x = (j as f64 - 0.5) / 200_000.0;
                    x / (1.0 + t * x).powi(2)
                })
                .sum::<f64>()
                / 200_000.0;
            assert!((lift(t) - s).abs() < 1e-10, "t = {t}: {} vs {s}", lift(t));
            let l: f64 = (1..=200_000)
                .map(|j| 1.0 / (1.0 + t * (j as f64 - 0.5) / 200_000.0))
                .sum::<f64>()
                / 200_000.0;
            assert!((log1p_over(t) - l).abs() < 1e-10, "t = {t}");
        }
    }
}
