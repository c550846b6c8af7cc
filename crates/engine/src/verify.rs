//! The verification contract: how closely the path engine must reproduce the
//! exact attributions.
//!
//! ```text
//! max_i |φ_i − φ_i^exact|  ≤  tol · max_i |φ_i^exact|      tol = 1e-4 (linear, variance, gini)
//!                                                           tol = 1e-3 (mult, midpoint m = 32)
//! spearman(φ, φ^exact) ≥ 0.9999
//! |δ| / |V(x) − V(b)|  ≤  1e-4 (f32), 1e-10 (f64)           (linear, variance, gini)
//!                       ≤  1e-3                              (mult, midpoint m = 32)
//! ```
//!
//! The integrands of `linear`, `variance` and `gini` are polynomials of degree ≤ 1 in `α`, so
//! the midpoint rule is exact and what remains of the gap is rounding. The `mult` integrand is
//! rational: its gap is the midpoint rule's `O(1/m²)` quadrature error, the same error the
//! per-agent bound allows, and it is held to that bound.

use aumann_kernels::closed_form::Analytic;
use aumann_kernels::rank::{midranks, pearson};

use crate::attribution::Attribution;
use crate::backend::Precision;

/// How one attribution compares with a reference, step by step (worst step reported).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Agreement {
    /// `max_i |φ_i − φ_i^ref| / max_i |φ_i^ref|`, worst step.
    pub max_rel_error: f64,
    /// Smallest per-step Spearman correlation with the reference's ranking, ties of the
    /// reference kept ([`ranking_agreement`]; 1 where a step has fewer than 2 agents or a
    /// constant reference).
    pub spearman: f64,
    /// Largest per-step relative efficiency gap of the attribution under test (0 where the
    /// macro change is zero).
    pub rel_gap: f64,
}

/// The tolerances of the verification contract.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tolerance {
    /// Bound on [`Agreement::max_rel_error`].
    pub max_rel_error: f64,
    /// Bound below [`Agreement::spearman`].
    pub spearman: f64,
    /// Bound on [`Agreement::rel_gap`].
    pub rel_gap: f64,
}

impl Tolerance {
    /// The contract for `indicator` in `precision` with the midpoint rule at `m = 32`.
    pub fn spec(indicator: Analytic, precision: Precision) -> Self {
        Self {
            max_rel_error: if indicator == Analytic::Mult {
                1e-3
            } else {
                1e-4
            },
            spearman: 0.9999,
            rel_gap: match (indicator, precision) {
                (Analytic::Mult, _) => 1e-3,
                (_, Precision::F32) => 1e-4,
                (_, Precision::F64) => 1e-10,
            },
        }
    }

    /// Whether `a` meets every bound.
    pub fn holds(&self, a: &Agreement) -> bool {
        a.max_rel_error <= self.max_rel_error
            && a.spearman >= self.spearman
            && a.rel_gap <= self.rel_gap
    }
}

/// Compare `phi` with the reference `reference` (same shape).
///
/// # Panics
/// If the shapes differ.
pub fn compare(phi: &Attribution, reference: &Attribution) -> Agreement {
    assert_eq!(
        (phi.steps, phi.agents),
        (reference.steps, reference.agents),
        "compare: shapes differ"
    );
    let mut out = Agreement {
        max_rel_error: 0.0,
        spearman: 1.0,
        rel_gap: 0.0,
    };
    let gaps = phi.relative_efficiency_gap();
    for (t, gap) in gaps.iter().enumerate() {
        let (a, r) = (phi.step(t), reference.step(t));
        let scale = r.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let err = a
            .iter()
            .zip(r)
            .fold(0.0f64, |m, (a, r)| m.max((a - r).abs()));
        let rel = if scale > 0.0 { err / scale } else { err };
        out.max_rel_error = out.max_rel_error.max(rel);
        let constant = r.iter().all(|v| *v == r[0]);
        if r.len() >= 2 && !constant {
            out.spearman = out.spearman.min(ranking_agreement(a, r));
        }
        out.rel_gap = out.rel_gap.max(gap.unwrap_or(0.0));
    }
    out
}

/// Spearman correlation of `a` with the ranking of `reference`, where agents tied in the
/// reference stay tied: each agent's rank in `a` is its midrank with the comparisons against
/// the agents of its own reference tie counted as ties. Equal exact attributions (agents with
/// equal features) have no order between them, so rounding that splits such a tie in `a` (a
/// GPU's f32 reductions can) is not a disagreement; an agent out of order against any agent
/// of another reference value still is.
///
/// ```text
/// rank_i = midrank_i(a) − midrank_i(a within i's tie) + (size of i's tie − 1)/2
/// ```
pub fn ranking_agreement(a: &[f64], reference: &[f64]) -> f64 {
    let mut ranks = midranks(a);
    let mut order: Vec<usize> = (0..reference.len()).collect();
    order.sort_unstable_by(|&i, &j| reference[i].total_cmp(&reference[j]));
    for tie in order.chunk_by(|&i, &j| reference[i] == reference[j]) {
        let values: Vec<f64> = tie.iter().map(|&i| a[i]).collect();
        let within = midranks(&values);
        let middle = (tie.len() - 1) as f64 / 2.0;
        for (&i, w) in tie.iter().zip(within) {
            ranks[i] += middle - w;
        }
    }
    pearson(&ranks, &midranks(reference))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aumann_kernels::rank::spearman;

    #[test]
    fn rounding_inside_a_reference_tie_is_not_a_disagreement_but_a_swap_is() {
        // Five distinct values, each shared by 40 agents; `a` splits every tie by 1e-9.
        let reference: Vec<f64> = (0..200).map(|i| (i % 5) as f64).collect();
        let split: Vec<f64> = (0..200).map(|i| (i % 5) as f64 + 1e-9 * i as f64).collect();
        assert!(spearman(&split, &reference) < 0.9999);
        assert!(ranking_agreement(&split, &reference) > 1.0 - 1e-12);
        // Swapping two distinct values of one agent each is still seen.
        let mut swapped = split.clone();
        swapped.swap(0, 4);
        let rho = ranking_agreement(&swapped, &reference);
        assert!(rho < 0.9999, "{rho}");
    }
}
