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
use aumann_kernels::rank::spearman;

use crate::attribution::Attribution;
use crate::backend::Precision;

/// How one attribution compares with a reference, step by step (worst step reported).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Agreement {
    /// `max_i |φ_i − φ_i^ref| / max_i |φ_i^ref|`, worst step.
    pub max_rel_error: f64,
    /// Smallest per-step Spearman correlation (1 where a step has fewer than 2 agents or a
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
            out.spearman = out.spearman.min(spearman(a, r));
        }
        out.rel_gap = out.rel_gap.max(gap.unwrap_or(0.0));
    }
    out
}
