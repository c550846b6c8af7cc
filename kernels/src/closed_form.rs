//! Closed-form Aumann–Shapley attributions of the four analytic indicators, one time step.
//!
//! Notation: composite `c_i = Σ_k x_ik`, baseline composite `β_i = Σ_k b_ik`, means
//! `c̄`, `β̄`, `x̄_k`, `b̄_k` over the `n` agents. The baseline is either one vector for every
//! agent (`b_ik = b_k`, composite `B`) or one row per agent.
//!
//! ```text
//! linear    V = c̄                          φ_i = (c_i − β_i) / n
//! mult      V = ln(1 + Π_k x̄_k)            φ_i = Σ_k (x_ik − b_ik) J_k / n,
//!           J_k = ∫₀¹ Π_{l≠k} z̄_l(α) / (1 + Π_l z̄_l(α)) dα,   z̄_l(α) = b̄_l + α (x̄_l − b̄_l)
//!           (b = 0:  J_k = ln(1 + u) / (d x̄_k),  u = Π_k x̄_k)
//! variance  V = (1/n) Σ_i (c_i − c̄)²       φ_i = (c_i − β_i) ((c_i − c̄) + (β_i − β̄)) / n
//!           (β_i = B:  φ_i = (c_i − c̄)(c_i − B) / n)
//! gini      V = Σ_{i≠j} |c_i − c_j| / (n(n−1))
//!           φ_i = 2 (2ρ_i − n − 1) (c_i − B) / (n(n−1)),   ρ_i the midrank of c_i
//! ```
//!
//! The per-agent baseline forms follow from the same path integral: for `variance` the
//! integrand is linear in `α`; for `mult` it depends on the means only. The Gini form above
//! holds where every agent shares one baseline composite `B` (ranks are constant along the
//! ray); otherwise ranks cross along the path and [`crate::gini_path`] integrates between the
//! crossings, exactly, in `O(n log n + K)` for `K` crossings (at most
//! [`crate::gini_path::MAX_CROSSINGS`]).
//!
//! Every function is `O(n)` except the Gini (`O(n log n)`, one parallel sort), and runs on
//! the rayon pool for `n ≥` [`PARALLEL_MIN`].

use rayon::prelude::*;

use crate::sum::{pairwise, sum_by};
use crate::{PARALLEL_MIN, Real};

/// The four analytic indicators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Analytic {
    /// Mean composite (the linear control).
    Linear,
    /// `ln(1 + Π_k x̄_k)`, multiplicative with log saturation.
    Mult,
    /// Population variance of the composite.
    Variance,
    /// Gini mean difference of the composite.
    Gini,
}

impl Analytic {
    /// All four, in the order the documentation lists them.
    pub const ALL: [Analytic; 4] = [
        Analytic::Linear,
        Analytic::Mult,
        Analytic::Variance,
        Analytic::Gini,
    ];

    /// Stable lowercase name, as the CLI spells it.
    pub const fn name(self) -> &'static str {
        self.described()[0]
    }

    /// One line for help texts.
    pub const fn summary(self) -> &'static str {
        self.described()[1]
    }

    /// Name and summary.
    const fn described(self) -> [&'static str; 2] {
        match self {
            Analytic::Linear => ["linear", "mean composite (1/n) Σ_i c_i"],
            Analytic::Mult => [
                "mult",
                "ln(1 + Π_k x̄_k), multiplicative with log saturation",
            ],
            Analytic::Variance => ["variance", "population variance of the composite"],
            Analytic::Gini => ["gini", "Gini mean difference of the composite"],
        }
    }

    /// The smallest population the indicator is defined for.
    pub fn min_agents(self) -> usize {
        match self {
            Analytic::Variance | Analytic::Gini => 2,
            _ => 1,
        }
    }
}

impl std::fmt::Display for Analytic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The baseline of one step.
#[derive(Clone, Copy, Debug)]
pub enum Baseline<'a> {
    /// One vector `b_k` (length `d`) shared by every agent.
    Shared(&'a [f64]),
    /// One row per agent, row-major `[n, d]`.
    PerAgent(&'a [f64]),
}

impl Baseline<'_> {
    #[inline]
    fn at(&self, i: usize, k: usize, d: usize) -> f64 {
        match self {
            Baseline::Shared(b) => b[k],
            Baseline::PerAgent(b) => b[i * d + k],
        }
    }

    #[inline]
    fn composite(&self, i: usize, d: usize) -> f64 {
        match self {
            Baseline::Shared(b) => b.iter().sum(),
            Baseline::PerAgent(b) => b[i * d..(i + 1) * d].iter().sum(),
        }
    }
}

/// Why a closed form cannot be evaluated.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ClosedFormError {
    /// Fewer agents than the indicator needs.
    #[error("indicator '{}' needs at least {need} agents, got {got}", indicator.name())]
    TooFewAgents {
        /// The indicator.
        indicator: Analytic,
        /// Agents required.
        need: usize,
        /// Agents given.
        got: usize,
    },
    /// `mult` needs `x̄_k > 0` (and `b̄_k ≥ 0`) so that `u ≥ 0` all along the path.
    #[error(
        "indicator 'mult' needs a positive mean in every coordinate of the {of} \
         (non-negative for the baseline), but coordinate {coordinate} has mean {mean}"
    )]
    NonPositiveMean {
        /// `"features"` or `"baseline"`.
        of: &'static str,
        /// The coordinate.
        coordinate: usize,
        /// Its mean.
        mean: f64,
    },
    /// A Gini of a chunk of agents without what its chunked form needs.
    #[error("the exact gini attribution of a chunk of agents needs {0}")]
    ChunkedGini(&'static str),
    /// A Gini path from per-agent baselines that cannot be integrated exactly.
    #[error("the exact gini attribution: {0}; use the path method")]
    GiniPath(#[from] crate::gini_path::GiniPathError),
}

/// `Result` with a [`ClosedFormError`].
pub type Result<T, E = ClosedFormError> = std::result::Result<T, E>;

/// Refuse a population of `n` agents that is too small for `indicator`.
fn enough_agents(indicator: Analytic, n: usize) -> Result<()> {
    let need = indicator.min_agents();
    match n < need {
        true => Err(ClosedFormError::TooFewAgents {
            indicator,
            need,
            got: n,
        }),
        false => Ok(()),
    }
}

/// Exact attribution `φ` of one step: `x` is row-major `[n, d]`, `out` has length `n`.
///
/// # Errors
/// See [`ClosedFormError`].
///
/// # Panics
/// If the slice lengths do not match `n`, `d`.
pub fn attribute<X: Real>(
    indicator: Analytic,
    x: &[X],
    d: usize,
    baseline: Baseline<'_>,
    out: &mut [f64],
) -> Result<()> {
    let n = out.len();
    check_lengths(x.len(), n, d, &baseline);
    enough_agents(indicator, n)?;
    match indicator {
        Analytic::Linear => {
            let nf = n as f64;
            fill(out, |i| {
                (composite(x, i, d) - baseline.composite(i, d)) / nf
            });
        }
        Analytic::Variance => variance(x, d, baseline, out),
        Analytic::Mult => mult(x, d, baseline, out)?,
        Analytic::Gini => gini(x, d, baseline, out)?,
    }
    Ok(())
}

/// The indicator's value `V` of one step, `x` row-major `[n, d]`.
///
/// # Errors
/// [`ClosedFormError::TooFewAgents`] below the indicator's minimum population.
pub fn value<X: Real>(indicator: Analytic, x: &[X], d: usize) -> Result<f64> {
    let n = x.len() / d.max(1);
    enough_agents(indicator, n)?;
    let nf = n as f64;
    Ok(match indicator {
        Analytic::Linear => sum_by(n, |i| composite(x, i, d)) / nf,
        Analytic::Mult => {
            let u: f64 = (0..d).map(|k| column_mean(x, n, d, k)).product();
            u.ln_1p()
        }
        Analytic::Variance => {
            let mean = sum_by(n, |i| composite(x, i, d)) / nf;
            sum_by(n, |i| (composite(x, i, d) - mean).powi(2)) / nf
        }
        Analytic::Gini => {
            let mut c: Vec<f64> = (0..n).map(|i| composite(x, i, d)).collect();
            if n >= PARALLEL_MIN {
                c.par_sort_unstable_by(f64::total_cmp);
            } else {
                c.sort_unstable_by(f64::total_cmp);
            }
            // Σ_{i≠j} |c_i − c_j| = 2 Σ_k (2k − n − 1) c_(k), k 1-based over the sorted values.
            // The weights sum to zero: from the smallest value, equal composites give 0 exactly.
            let s = sum_by(n, |k| (2.0 * (k + 1) as f64 - nf - 1.0) * (c[k] - c[0]));
            2.0 * s / (nf * (nf - 1.0))
        }
    })
}

/// The indicator's value at a baseline shared by `n` agents (`b` of length `d`).
pub fn value_shared(indicator: Analytic, b: &[f64], n: usize) -> f64 {
    match indicator {
        Analytic::Linear => b.iter().sum(),
        Analytic::Mult => b.iter().product::<f64>().ln_1p(),
        // n identical agents: no spread.
        Analytic::Variance | Analytic::Gini => {
            let _ = n;
            0.0
        }
    }
}

fn check_lengths(len: usize, n: usize, d: usize, baseline: &Baseline<'_>) {
    assert_eq!(len, n * d, "features must hold n·d values");
    match baseline {
        Baseline::Shared(b) => assert_eq!(b.len(), d, "shared baseline must hold d values"),
        Baseline::PerAgent(b) => assert_eq!(b.len(), n * d, "per-agent baseline must hold n·d"),
    }
}

#[inline]
fn composite<X: Real>(x: &[X], i: usize, d: usize) -> f64 {
    x[i * d..(i + 1) * d].iter().map(|&v| v.into()).sum()
}

fn column_mean<X: Real>(x: &[X], n: usize, d: usize, k: usize) -> f64 {
    sum_by(n, |i| x[i * d + k].into()) / n as f64
}

fn baseline_column_mean(b: &Baseline<'_>, n: usize, d: usize, k: usize) -> f64 {
    match b {
        Baseline::Shared(b) => b[k],
        Baseline::PerAgent(b) => sum_by(n, |i| b[i * d + k]) / n as f64,
    }
}

/// `out[i] = f(i)`, in parallel chunks for large `out`.
fn fill(out: &mut [f64], f: impl Fn(usize) -> f64 + Sync) {
    const CHUNK: usize = 1 << 14;
    if out.len() < PARALLEL_MIN {
        for (i, o) in out.iter_mut().enumerate() {
            *o = f(i);
        }
    } else {
        out.par_chunks_mut(CHUNK)
            .enumerate()
            .for_each(|(c, chunk)| {
                for (j, o) in chunk.iter_mut().enumerate() {
                    *o = f(c * CHUNK + j);
                }
            });
    }
}

fn variance<X: Real>(x: &[X], d: usize, b: Baseline<'_>, out: &mut [f64]) {
    let n = out.len();
    let nf = n as f64;
    let c_mean = sum_by(n, |i| composite(x, i, d)) / nf;
    match b {
        Baseline::Shared(bv) => {
            let big_b: f64 = bv.iter().sum();
            fill(out, |i| {
                let c = composite(x, i, d);
                (c - c_mean) * (c - big_b) / nf
            });
        }
        Baseline::PerAgent(_) => {
            let beta_mean = sum_by(n, |i| b.composite(i, d)) / nf;
            fill(out, |i| {
                let c = composite(x, i, d);
                let beta = b.composite(i, d);
                (c - beta) * ((c - c_mean) + (beta - beta_mean)) / nf
            });
        }
    }
}

fn mult<X: Real>(x: &[X], d: usize, b: Baseline<'_>, out: &mut [f64]) -> Result<()> {
    let n = out.len();
    let x_mean: Vec<f64> = (0..d).map(|k| column_mean(x, n, d, k)).collect();
    let b_mean: Vec<f64> = (0..d).map(|k| baseline_column_mean(&b, n, d, k)).collect();
    // NaN is refused in the features' means, let through in the baseline's (as it was).
    refuse_mean("features", &x_mean, |m| m > 0.0)?;
    refuse_mean("baseline", &b_mean, |m| m >= 0.0 || m.is_nan())?;
    let j = mult_path_factors(&x_mean, &b_mean);
    let nf = n as f64;
    fill(out, |i| {
        (0..d)
            .map(|k| (x[i * d + k].into() - b.at(i, k, d)) * j[k])
            .sum::<f64>()
            / nf
    });
    Ok(())
}

/// The first of `means` (of the features or the baseline, `of`) that `ok` refuses.
fn refuse_mean(of: &'static str, means: &[f64], ok: impl Fn(f64) -> bool) -> Result<()> {
    match means.iter().position(|&m| !ok(m)) {
        Some(coordinate) => Err(ClosedFormError::NonPositiveMean {
            of,
            coordinate,
            mean: means[coordinate],
        }),
        None => Ok(()),
    }
}

/// `J_k = ∫₀¹ Π_{l≠k} z̄_l(α) / (1 + Π_l z̄_l(α)) dα` for every coordinate `k`.
///
/// Closed form for a zero baseline; adaptive 64-point Gauss–Legendre otherwise, accurate
/// to a few ulps.
pub fn mult_path_factors(x_mean: &[f64], b_mean: &[f64]) -> Vec<f64> {
    let d = x_mean.len();
    if b_mean.iter().all(|&b| b == 0.0) {
        let u: f64 = x_mean.iter().product();
        return x_mean.iter().map(|&m| u.ln_1p() / (d as f64 * m)).collect();
    }
    (0..d)
        .map(|k| {
            let integrand = |a: f64| {
                let z = |l: usize| b_mean[l] + a * (x_mean[l] - b_mean[l]);
                let others: f64 = (0..d).filter(|&l| l != k).map(z).product();
                others / (1.0 + others * z(k))
            };
            crate::quadrature::integrate(integrand, 0.0, 1.0, 1e-15)
        })
        .collect()
}

fn gini<X: Real>(x: &[X], d: usize, b: Baseline<'_>, out: &mut [f64]) -> Result<()> {
    let n = out.len();
    let big_b = b.composite(0, d);
    let mut c = vec![0.0; n];
    fill(&mut c, |i| composite(x, i, d));
    if let Baseline::PerAgent(_) = b
        && (1..n).any(|i| b.composite(i, d) != big_b)
    {
        let beta: Vec<f64> = (0..n).map(|i| b.composite(i, d)).collect();
        crate::gini_path::mean_difference(&c, &beta, crate::gini_path::MAX_CROSSINGS, out)?;
        return Ok(());
    }
    crate::rank::midranks_into(&c, out);
    let nf = n as f64;
    let scale = 2.0 / (nf * (nf - 1.0));
    let ranks_then_phi = |(o, &ci): (&mut f64, &f64)| {
        *o = scale * (2.0 * *o - nf - 1.0) * (ci - big_b);
    };
    if n >= PARALLEL_MIN {
        out.par_iter_mut()
            .zip(c.par_iter())
            .for_each(ranks_then_phi);
    } else {
        out.iter_mut().zip(c.iter()).for_each(ranks_then_phi);
    }
    Ok(())
}

/// What an exact form needs of a whole step's population beyond an agent's own features:
/// its size and the mean of every coordinate of the features and of the baseline.
#[derive(Clone, Copy, Debug)]
pub struct Population<'a> {
    /// Agents `n` of the whole population.
    pub agents: usize,
    /// `x̄_k`, `d` values.
    pub x_means: &'a [f64],
    /// `b̄_k`, `d` values.
    pub b_means: &'a [f64],
}

/// Exact `φ` of a chunk of one step's agents (`x` row-major `[n_chunk, d]`, the baseline of
/// those agents), from the moments of the whole `population` — the formulas above with
/// `c̄ = Σ_k x̄_k`, `β̄ = Σ_k b̄_k` and `n` the population's — and, for the Gini, each chunk
/// agent's midrank in the population (`midranks`, `n_chunk` values). `out` has `n_chunk`
/// values. The Gini's chunked form needs one baseline composite shared by every agent.
///
/// # Errors
/// [`ClosedFormError::TooFewAgents`] for a population below the indicator's minimum,
/// [`ClosedFormError::NonPositiveMean`] for `mult`, [`ClosedFormError::ChunkedGini`] for a
/// Gini without midranks or with per-agent baseline composites.
///
/// # Panics
/// If the slice lengths do not match.
pub fn attribute_chunk<X: Real>(
    indicator: Analytic,
    x: &[X],
    d: usize,
    baseline: Baseline<'_>,
    population: Population<'_>,
    midranks: Option<&[f64]>,
    out: &mut [f64],
) -> Result<()> {
    let n_chunk = out.len();
    check_lengths(x.len(), n_chunk, d, &baseline);
    assert_eq!(population.x_means.len(), d, "x̄ must hold d values");
    assert_eq!(population.b_means.len(), d, "b̄ must hold d values");
    enough_agents(indicator, population.agents)?;
    let nf = population.agents as f64;
    let c_mean: f64 = population.x_means.iter().sum();
    let beta_mean: f64 = population.b_means.iter().sum();
    match indicator {
        Analytic::Linear => fill(out, |i| {
            (composite(x, i, d) - baseline.composite(i, d)) / nf
        }),
        Analytic::Variance => fill(out, |i| {
            let (c, beta) = (composite(x, i, d), baseline.composite(i, d));
            (c - beta) * ((c - c_mean) + (beta - beta_mean)) / nf
        }),
        Analytic::Mult => {
            refuse_mean("features", population.x_means, |m| m > 0.0)?;
            refuse_mean("baseline", population.b_means, |m| m >= 0.0 || m.is_nan())?;
            let j = mult_path_factors(population.x_means, population.b_means);
            fill(out, |i| {
                (0..d)
                    .map(|k| (x[i * d + k].into() - baseline.at(i, k, d)) * j[k])
                    .sum::<f64>()
                    / nf
            });
        }
        Analytic::Gini => {
            let Some(ranks) = midranks else {
                return Err(ClosedFormError::ChunkedGini(
                    "each agent's midrank in the population",
                ));
            };
            assert_eq!(ranks.len(), n_chunk, "one midrank per agent");
            let big_b = baseline.composite(0, d);
            if (1..n_chunk).any(|i| baseline.composite(i, d) != big_b) {
                return Err(ClosedFormError::ChunkedGini(
                    "a baseline shared by every agent",
                ));
            }
            let scale = 2.0 / (nf * (nf - 1.0));
            fill(out, |i| {
                scale * (2.0 * ranks[i] - nf - 1.0) * (composite(x, i, d) - big_b)
            });
        }
    }
    Ok(())
}

/// Sum of an attribution in `f64` (pairwise), for efficiency checks.
pub fn total(phi: &[f64]) -> f64 {
    pairwise(phi)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Brute-force path integral with central finite differences and many midpoints.
    fn brute_force(ind: Analytic, x: &[f64], d: usize, b: &[f64], m: usize) -> Vec<f64> {
        let n = x.len() / d;
        let mut phi = vec![0.0; n];
        let h = 1e-6;
        for j in 0..m {
            let a = (j as f64 + 0.5) / m as f64;
            let z: Vec<f64> = x.iter().zip(b).map(|(x, b)| b + a * (x - b)).collect();
            for i in 0..n {
                for k in 0..d {
                    let mut zp = z.clone();
                    let mut zm = z.clone();
                    zp[i * d + k] += h;
                    zm[i * d + k] -= h;
                    let g = (value(ind, &zp, d).unwrap() - value(ind, &zm, d).unwrap()) / (2.0 * h);
                    phi[i] += (x[i * d + k] - b[i * d + k]) * g / m as f64;
                }
            }
        }
        phi
    }

    fn sample(n: usize, d: usize, seed: u64) -> Vec<f64> {
        let mut s = seed;
        (0..n * d)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                0.2 + 3.0 * ((s >> 11) as f64 / (1u64 << 53) as f64)
            })
            .collect()
    }

    #[test]
    fn closed_forms_match_a_brute_force_path_integral() {
        let (n, d) = (7, 3);
        let x = sample(n, d, 1);
        for (shared, per_agent) in [
            (vec![0.0; d], false),
            (vec![0.3, 0.1, 0.5], false),
            (vec![], true),
        ] {
            let b_full: Vec<f64> = if per_agent {
                sample(n, d, 2).iter().map(|v| v * 0.3).collect()
            } else {
                (0..n).flat_map(|_| shared.clone()).collect()
            };
            let baseline = if per_agent {
                Baseline::PerAgent(&b_full)
            } else {
                Baseline::Shared(&shared)
            };
            for ind in Analytic::ALL {
                if ind == Analytic::Gini && per_agent {
                    continue;
                }
                let mut phi = vec![0.0; n];
                attribute(ind, &x, d, baseline, &mut phi).unwrap();
                let bf = brute_force(ind, &x, d, &b_full, 400);
                let scale = phi.iter().fold(0.0f64, |a, v| a.max(v.abs()));
                for i in 0..n {
                    assert!(
                        (phi[i] - bf[i]).abs() < 2e-5 * scale,
                        "{ind:?} per_agent={per_agent} agent {i}: {} vs {}",
                        phi[i],
                        bf[i]
                    );
                }
                // Efficiency.
                let dv = value(ind, &x, d).unwrap() - value(ind, &b_full, d).unwrap();
                assert!(
                    (total(&phi) - dv).abs() < 1e-12 * dv.abs().max(1.0),
                    "{ind:?}"
                );
            }
        }
    }

    /// Chunks of a population, each attributed from the population's moments (and its
    /// agents' midranks), give the whole population's attribution, for uneven chunks and a
    /// chunk of one agent.
    #[test]
    fn chunks_attributed_from_the_population_are_the_whole() {
        let (n, d) = (23, 3);
        let mut x = sample(n, d, 3);
        x.copy_within(5 * d..6 * d, 3 * d); // a tie
        let per_agent: Vec<f64> = sample(n, d, 4).iter().map(|v| v * 0.4).collect();
        let shared = [0.2, 0.0, 0.1];
        let means = |v: &[f64], rows: usize| -> Vec<f64> {
            (0..d)
                .map(|k| (0..rows).map(|i| v[i * d + k]).sum::<f64>() / rows as f64)
                .collect()
        };
        let composites: Vec<f64> = (0..n).map(|i| x[i * d..(i + 1) * d].iter().sum()).collect();
        let ranks = crate::rank::midranks(&composites);
        let x_means = means(&x, n);
        for ind in Analytic::ALL {
            for per in [false, true] {
                if ind == Analytic::Gini && per {
                    continue;
                }
                let (whole, b_means) = match per {
                    true => (Baseline::PerAgent(&per_agent), means(&per_agent, n)),
                    false => (Baseline::Shared(&shared), shared.to_vec()),
                };
                let mut want = vec![0.0; n];
                attribute(ind, &x, d, whole, &mut want).unwrap();
                let population = Population {
                    agents: n,
                    x_means: &x_means,
                    b_means: &b_means,
                };
                let mut got = vec![0.0; n];
                for (start, end) in [(0, 10), (10, 11), (11, 23)] {
                    let b = match per {
                        true => Baseline::PerAgent(&per_agent[start * d..end * d]),
                        false => Baseline::Shared(&shared),
                    };
                    let r = Some(&ranks[start..end]);
                    let (xs, out) = (&x[start * d..end * d], &mut got[start..end]);
                    attribute_chunk(ind, xs, d, b, population, r, out).unwrap();
                }
                for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                    assert!(
                        (g - w).abs() <= 1e-12 * w.abs().max(1e-3),
                        "{ind:?} {per} {i}: {g} vs {w}"
                    );
                }
            }
        }
        let population = Population {
            agents: n,
            x_means: &x_means,
            b_means: &x_means,
        };
        let e = attribute_chunk(
            Analytic::Gini,
            &x,
            d,
            Baseline::Shared(&shared),
            population,
            None,
            &mut [0.0; 23],
        );
        assert!(e.unwrap_err().to_string().contains("midrank"));
    }

    #[test]
    fn gini_ties_share_a_midrank() {
        let x = [1.0, 2.0, 2.0, 5.0];
        let mut phi = [0.0; 4];
        attribute(Analytic::Gini, &x, 1, Baseline::Shared(&[0.0]), &mut phi).unwrap();
        assert_eq!(phi[1], phi[2]);
        let v = value(Analytic::Gini, &x, 1).unwrap();
        assert!((phi.iter().sum::<f64>() - v).abs() < 1e-14);
    }

    #[test]
    fn errors_are_reported() {
        let mut out = [0.0; 1];
        assert!(matches!(
            attribute(
                Analytic::Variance,
                &[1.0f64],
                1,
                Baseline::Shared(&[0.0]),
                &mut out
            ),
            Err(ClosedFormError::TooFewAgents {
                need: 2,
                got: 1,
                ..
            })
        ));
        let mut out = [0.0; 2];
        assert!(matches!(
            attribute(
                Analytic::Mult,
                &[1.0f64, -2.0],
                1,
                Baseline::Shared(&[0.0]),
                &mut out
            ),
            Err(ClosedFormError::NonPositiveMean { coordinate: 0, .. })
        ));
        assert!(matches!(
            attribute(
                Analytic::Gini,
                &[1.0f64, f64::INFINITY],
                1,
                Baseline::PerAgent(&[0.0, 1.0]),
                &mut out
            ),
            Err(ClosedFormError::GiniPath(_))
        ));
    }

    /// A population of `k` copies of a small one runs the parallel code; by symmetry each copy
    /// of agent `i` gets the small population's `φ_i / k` (linear, mult, variance: the means
    /// and the variance do not change) or `φ_i (n − 1)/(kn − 1)` (Gini: midranks of tied copies
    /// scale its weights by that factor), which the serial code computes.
    #[test]
    fn large_inputs_take_the_parallel_path_and_agree() {
        let (n, d, k) = (3000, 3, 34);
        assert!(n < PARALLEL_MIN && n * k >= PARALLEL_MIN);
        let small_x = sample(n, d, 3);
        let x: Vec<f64> = (0..k).flat_map(|_| small_x.iter().copied()).collect();
        let mut big = vec![0.0; n * k];
        let mut small = vec![0.0; n];
        for ind in Analytic::ALL {
            attribute(ind, &x, d, Baseline::Shared(&[0.0; 3]), &mut big).unwrap();
            attribute(ind, &small_x, d, Baseline::Shared(&[0.0; 3]), &mut small).unwrap();
            let factor = match ind {
                Analytic::Gini => (n as f64 - 1.0) / ((k * n) as f64 - 1.0),
                _ => 1.0 / k as f64,
            };
            let scale = small.iter().fold(0.0f64, |m, v| m.max(v.abs())) * factor;
            for (j, phi) in big.iter().enumerate() {
                let want = small[j % n] * factor;
                assert!(
                    (phi - want).abs() <= 1e-12 * scale,
                    "{ind:?}, agent {j}: parallel {phi}, serial {want}"
                );
            }
            let dv = value(ind, &x, d).unwrap();
            assert!((total(&big) - dv).abs() < 1e-11 * dv.abs(), "{ind:?}");
        }
    }
}
