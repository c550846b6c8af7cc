//! What one small panel `S` is scored on, against the full panel.
//!
//! With `φ_i^{(S)}` the attribution of agent `i` recomputed on `S` alone (summed over days)
//! and `φ_i^{(n)}` its full-panel attribution:
//!
//! ```text
//! shares       a_i = φ_i^{(S)} / Σ_{j∈S} φ_j^{(S)}          f_i = φ_i^{(n)} / Σ_{j≤n} φ_j^{(n)}
//! tier share   s_G(S) = Σ_{i∈S∩G} a_i                        (the three tiers sum to 1)
//! rescaling    c* = ⟨a, f⟩ / ⟨f, f⟩                          over i ∈ S
//! residual     r = ‖a − c* f‖ / ‖a‖                          (0 for a linear V, zero baseline)
//! Spearman     rank correlation of a and f over S
//! top-k        Jaccard of the k largest a and the k largest f in S (for k < |S|)
//! composition  s_comp = Σ_{i∈S∩top} f_i / Σ_{i∈S} f_i                (the full panel's view of S)
//! ```
//!
//! `s_comp` splits the flip `Δ_top = s_top(S) − s_top(n)` into composition, `s_comp − s_top(n)`
//! (who is in the panel), and re-attribution, `s_top(S) − s_comp` (what the indicator does on a
//! small population).
//!
//! Shares are undefined when `Σ_{j∈S} φ_j^{(S)} = 0` (no macro change on S): such a run
//! is left out of its cell's means, and the cell's seed count says how many were kept.

use aumann_kernels::rank::{self, jaccard, spearman};
use aumann_kernels::sum::{neumaier, pairwise};

use super::tiers::TOP;

/// The scores of one run.
#[derive(Clone, Debug, PartialEq)]
pub struct RunMetrics {
    /// Tier shares `[top, mid, tail]`, one triple per anchor.
    pub shares: Vec<[f64; 3]>,
    /// Tier shares of the positive attribution mass alone (first anchor):
    /// `Σ_{i∈S∩G} max(φ_i, 0) / Σ_{i∈S} max(φ_i, 0)`; `None` if no agent's `φ` is positive.
    pub positive_shares: Option<[f64; 3]>,
    /// Agents of `S` in the top tier of the first anchor.
    pub top_agents: usize,
    /// The top tier's share of the full panel's own attributions within `S` (first anchor),
    /// `s_comp`; `None` where they sum to zero on `S`.
    pub composition: Option<f64>,
    /// Optimal rescaling `c*`.
    pub c_star: f64,
    /// Relative residual `r`.
    pub residual: f64,
    /// Spearman correlation of `a` and `f` (`None` where either is constant on `S`).
    pub spearman: Option<f64>,
    /// Top-k Jaccard, one per requested `k` (`None` where `k ≥ |S|`).
    pub jaccard: Vec<Option<f64>>,
    /// Per day, the tier shares of that day's attribution on `S` (first anchor); `None` on a
    /// day with no macro change. Empty for the full panel (its days are kept apart).
    pub daily: Vec<Option<[f64; 3]>>,
}

impl RunMetrics {
    /// Its Δ_top less the composition part: `s_top(S) − s_comp` (first anchor); `None`
    /// without `s_comp`.
    pub fn reattribution(&self) -> Option<f64> {
        Some(self.shares[0][0] - self.composition?)
    }
}

/// Score one run: `phi` are the within-S totals `φ^{(S)}` of the agents `subset`,
/// `full_shares` the full-panel shares of every agent, `anchors` one tier label per agent per
/// anchor. `None` when the shares on `S` are undefined.
pub fn score(
    phi: &[f64],
    subset: &[u32],
    full_shares: &[f64],
    anchors: &[&[u8]],
    top_k: &[usize],
) -> Option<RunMetrics> {
    let total = pairwise(phi);
    if total == 0.0 || !total.is_finite() {
        return None;
    }
    let a: Vec<f64> = phi.iter().map(|p| p / total).collect();
    let f: Vec<f64> = subset.iter().map(|&i| full_shares[i as usize]).collect();
    let shares = anchors
        .iter()
        .map(|labels| tier_shares(&a, subset, labels))
        .collect();
    let top_agents = subset
        .iter()
        .filter(|&&i| anchors[0][i as usize] == TOP)
        .count();
    let f_total = pairwise(&f);
    let composition = (f_total != 0.0 && f_total.is_finite())
        .then(|| tier_shares(&f, subset, anchors[0])[TOP as usize] / f_total);
    let af = neumaier(a.iter().zip(&f).map(|(x, y)| x * y));
    let ff = neumaier(f.iter().map(|y| y * y));
    let c_star = af / ff;
    let res = neumaier(a.iter().zip(&f).map(|(x, y)| (x - c_star * y).powi(2))).sqrt();
    let norm = neumaier(a.iter().map(|x| x * x)).sqrt();
    Some(RunMetrics {
        shares,
        positive_shares: positive_shares(phi, subset, anchors[0]),
        top_agents,
        composition,
        c_star,
        residual: res / norm,
        spearman: Some(spearman(&a, &f)).filter(|r| r.is_finite()),
        jaccard: top_k
            .iter()
            .map(|&k| (k < a.len()).then(|| jaccard(&rank::top_k(&a, k), &rank::top_k(&f, k))))
            .collect(),
        daily: Vec::new(),
    })
}

/// Per day, the tier shares of `phi` (`[T, |S|]`, row-major) over the agents `subset`.
pub fn daily_shares(phi: &[f64], subset: &[u32], labels: &[u8]) -> Vec<Option<[f64; 3]>> {
    phi.chunks(subset.len())
        .map(|day| {
            let total = pairwise(day);
            (total != 0.0 && total.is_finite())
                .then(|| tier_shares(day, subset, labels).map(|p| p / total))
        })
        .collect()
}

/// Tier shares of the positive part of `phi` over the agents `subset`.
pub fn positive_shares(phi: &[f64], subset: &[u32], labels: &[u8]) -> Option<[f64; 3]> {
    let positive: Vec<f64> = phi.iter().map(|&p| p.max(0.0)).collect();
    let total = pairwise(&positive);
    (total > 0.0).then(|| tier_shares(&positive, subset, labels).map(|p| p / total))
}

/// Tier shares `[top, mid, tail]` of shares `a` over the agents `subset`.
pub fn tier_shares(a: &[f64], subset: &[u32], labels: &[u8]) -> [f64; 3] {
    let mut parts: [Vec<f64>; 3] = Default::default();
    for (x, &i) in a.iter().zip(subset) {
        parts[labels[i as usize] as usize].push(*x);
    }
    parts.map(|p| pairwise(&p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proportional_shares_have_zero_residual() {
        let subset: Vec<u32> = vec![0, 2, 3, 5];
        let full: Vec<f64> = vec![0.1, 0.2, 0.3, 0.1, 0.05, 0.25];
        let phi: Vec<f64> = subset.iter().map(|&i| 7.0 * full[i as usize]).collect();
        let labels = [0u8, 1, 1, 2, 2, 2];
        let m = score(&phi, &subset, &full, &[&labels], &[2, 10]).unwrap();
        assert!(m.residual < 1e-15);
        assert!((m.spearman.unwrap() - 1.0).abs() < 1e-15);
        assert_eq!(m.positive_shares, Some(m.shares[0]));
        assert_eq!(m.jaccard, vec![Some(1.0), None]);
        let s = m.shares[0];
        assert!((s.iter().sum::<f64>() - 1.0).abs() < 1e-15);
        assert!((s[0] - 0.1 / 0.75).abs() < 1e-15);
        assert_eq!(m.top_agents, 1);
        // The full panel's own shares within S: agent 0 of 0.75.
        assert!((m.composition.unwrap() - 0.1 / 0.75).abs() < 1e-15);
        // A non-proportional change leaves a residual.
        let mut phi2 = phi.clone();
        phi2[0] *= 3.0;
        assert!(
            score(&phi2, &subset, &full, &[&labels], &[2])
                .unwrap()
                .residual
                > 0.1
        );
        // A constant ranking has no Spearman correlation; negative φ are left out of the
        // positive mass.
        let flat = score(&[1.0; 4], &subset, &full, &[&labels], &[]).unwrap();
        assert_eq!(flat.spearman, None);
        let mixed = score(&[2.0, -1.0, 1.0, 1.0], &subset, &full, &[&labels], &[]).unwrap();
        assert_eq!(mixed.positive_shares, Some([0.5, 0.0, 0.5]));
        // No macro change: undefined.
        assert!(score(&[1.0, -1.0, 0.0, 0.0], &subset, &full, &[&labels], &[]).is_none());
    }

    #[test]
    fn jaccard_of_top_sets() {
        assert_eq!(rank::top_k(&[1.0, 5.0, 3.0, 5.0], 2), vec![1, 3]);
        assert_eq!(jaccard(&[1, 2], &[2, 3]), 1.0 / 3.0);
    }
}
