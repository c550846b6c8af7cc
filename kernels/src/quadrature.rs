//! Quadrature rules on `[0, 1]` for the path integral `∫₀¹ g(α) dα ≈ Σ_j w_j g(α_j)`.
//!
//! ```text
//! midpoint,  m points:  α_j = (j − ½)/m,           w_j = 1/m                      j = 1..m
//! trapezoid, m points:  α_j = (j − 1)/(m − 1),     w_j = 1/(m − 1), halved at both ends
//! Gauss–Legendre, m:    α_j = (1 + ξ_j)/2,         w_j = ω_j / 2,   ξ_j roots of P_m
//! ```
//!
//! All three integrate a linear integrand exactly, so their weights sum to 1 (up to one
//! rounding of each weight). Midpoint and trapezoid converge as `O(1/m²)` on smooth
//! integrands; Gauss–Legendre is exact for polynomials of degree `2m − 1` and converges
//! exponentially on analytic ones.

use std::f64::consts::PI;

/// An integration rule for the path integral.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Rule {
    /// Midpoint rule (the default): never evaluates the endpoints.
    Midpoint,
    /// Trapezoid rule: evaluates both endpoints; needs `m ≥ 2`.
    Trapezoid,
    /// Gauss–Legendre rule.
    GaussLegendre,
}

impl Rule {
    /// Every rule.
    pub const ALL: [Rule; 3] = [Rule::Midpoint, Rule::Trapezoid, Rule::GaussLegendre];

    /// Stable lowercase name, as the CLI spells it.
    pub fn name(self) -> &'static str {
        match self {
            Rule::Midpoint => "midpoint",
            Rule::Trapezoid => "trapezoid",
            Rule::GaussLegendre => "gauss",
        }
    }

    /// Nodes `α_j ∈ [0, 1]` and weights `w_j` of the rule with `m` points.
    ///
    /// # Panics
    /// If `m == 0`, or `m == 1` for the trapezoid rule (callers validate `m`).
    ///
    /// The weights sum to exactly 1 in floating point (summed in order), so a constant
    /// integrand, and with it the linear indicator, is integrated without rounding error in the
    /// weights: the last weight is set to `1 − Σ_{j<m−1} w_j` (within `4 m ε` of its formula; by
    /// Sterbenz's lemma the subtraction and the final sum are exact).
    pub fn nodes_weights(self, m: usize) -> (Vec<f64>, Vec<f64>) {
        let (nodes, mut weights) = self.raw_nodes_weights(m);
        let rest: f64 = weights[..m - 1].iter().sum();
        weights[m - 1] = 1.0 - rest;
        (nodes, weights)
    }

    fn raw_nodes_weights(self, m: usize) -> (Vec<f64>, Vec<f64>) {
        assert!(m >= 1, "a quadrature rule needs at least one point");
        match self {
            Rule::Midpoint => {
                let w = 1.0 / m as f64;
                (
                    (0..m).map(|j| (j as f64 + 0.5) / m as f64).collect(),
                    vec![w; m],
                )
            }
            Rule::Trapezoid => {
                assert!(m >= 2, "the trapezoid rule needs at least two points");
                let h = 1.0 / (m - 1) as f64;
                let nodes = (0..m).map(|j| j as f64 / (m - 1) as f64).collect();
                let mut weights = vec![h; m];
                weights[0] = h / 2.0;
                weights[m - 1] = h / 2.0;
                (nodes, weights)
            }
            Rule::GaussLegendre => gauss_legendre(m),
        }
    }

    /// The smallest number of points the rule accepts.
    pub fn min_points(self) -> usize {
        match self {
            Rule::Trapezoid => 2,
            _ => 1,
        }
    }
}

/// Gauss–Legendre nodes and weights mapped to `[0, 1]`, ascending.
///
/// Roots of the Legendre polynomial `P_m` by Newton's method from Tricomi's initial guess,
/// with the three-term recurrence; accurate to a few ulps for `m` up to several thousand.
pub fn gauss_legendre(m: usize) -> (Vec<f64>, Vec<f64>) {
    assert!(m >= 1, "a quadrature rule needs at least one point");
    let mut nodes = vec![0.0; m];
    let mut weights = vec![0.0; m];
    let mf = m as f64;
    for i in 0..m.div_ceil(2) {
        // i-th root from the top, on [-1, 1].
        let mut x = (PI * (i as f64 + 0.75) / (mf + 0.5)).cos();
        let mut dp = 0.0;
        for _ in 0..100 {
            let (p, d) = legendre(m, x);
            dp = d;
            let dx = p / d;
            x -= dx;
            if dx.abs() <= 1e-16 * x.abs().max(1.0) {
                break;
            }
        }
        let (_, d) = legendre(m, x);
        if d != 0.0 {
            dp = d;
        }
        let w = 2.0 / ((1.0 - x * x) * dp * dp);
        // Map to [0, 1]: α = (1 ± x)/2, weight halves.
        nodes[m - 1 - i] = (1.0 + x) / 2.0;
        nodes[i] = (1.0 - x) / 2.0;
        weights[m - 1 - i] = w / 2.0;
        weights[i] = w / 2.0;
    }
    // The weights of an exact rule sum to the length of the interval; remove the last ulps of
    // Newton's rounding so that a constant integrand comes out exact.
    let total = crate::sum::neumaier(weights.iter().copied());
    weights.iter_mut().for_each(|w| *w /= total);
    (nodes, weights)
}

/// `P_m(x)` and `P_m'(x)` by the three-term recurrence.
fn legendre(m: usize, x: f64) -> (f64, f64) {
    let (mut p0, mut p1) = (1.0, x);
    if m == 0 {
        return (1.0, 0.0);
    }
    for k in 2..=m {
        let kf = k as f64;
        let p2 = ((2.0 * kf - 1.0) * x * p1 - (kf - 1.0) * p0) / kf;
        p0 = p1;
        p1 = p2;
    }
    let dp = m as f64 * (x * p1 - p0) / (x * x - 1.0);
    (p1, dp)
}

/// `∫_a^b f(α) dα` by adaptive Gauss–Legendre (64 points a panel, panels bisected until two
/// levels agree to `rel_tol`, at most 2²⁰ panels). Used for the scalar integrals of the
/// closed forms, where the answer should be accurate to machine precision.
pub fn integrate(f: impl Fn(f64) -> f64, a: f64, b: f64, rel_tol: f64) -> f64 {
    let (nodes, weights) = gauss_legendre(64);
    let panel = |lo: f64, hi: f64| -> f64 {
        let h = hi - lo;
        crate::sum::neumaier(nodes.iter().zip(&weights).map(|(&x, &w)| w * f(lo + h * x))) * h
    };
    fn recurse(
        panel: &dyn Fn(f64, f64) -> f64,
        lo: f64,
        hi: f64,
        whole: f64,
        rel_tol: f64,
        depth: u32,
    ) -> f64 {
        let mid = 0.5 * (lo + hi);
        let left = panel(lo, mid);
        let right = panel(mid, hi);
        let halves = left + right;
        if depth >= 20 || (halves - whole).abs() <= rel_tol * halves.abs().max(f64::MIN_POSITIVE) {
            return halves;
        }
        recurse(panel, lo, mid, left, rel_tol, depth + 1)
            + recurse(panel, mid, hi, right, rel_tol, depth + 1)
    }
    let whole = panel(a, b);
    recurse(&panel, a, b, whole, rel_tol, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_integrates_a_linear_integrand_exactly() {
        for rule in [Rule::Midpoint, Rule::Trapezoid, Rule::GaussLegendre] {
            for m in rule.min_points()..=129 {
                let (x, w) = rule.nodes_weights(m);
                let total: f64 = w.iter().sum();
                assert_eq!(total, 1.0, "{rule:?} m={m}: weights must sum to exactly 1");
                let (_, raw) = rule.raw_nodes_weights(m);
                assert!((w[m - 1] - raw[m - 1]).abs() <= 4.0 * m as f64 * f64::EPSILON);
                let lin: f64 = x.iter().zip(&w).map(|(a, w)| w * (3.0 * a + 1.0)).sum();
                assert!((lin - 2.5).abs() < 1e-13, "{rule:?} m={m}: {lin}");
                assert!(x.iter().all(|a| (0.0..=1.0).contains(a)));
            }
        }
    }

    #[test]
    fn gauss_legendre_is_exact_to_degree_2m_minus_1() {
        for m in [1usize, 2, 5, 16, 64] {
            let (x, w) = gauss_legendre(m);
            for p in 0..(2 * m) as i32 {
                let q: f64 = x.iter().zip(&w).map(|(a, w)| w * a.powi(p)).sum();
                let exact = 1.0 / (p as f64 + 1.0);
                assert!((q - exact).abs() < 1e-13, "m={m} p={p}: {q} vs {exact}");
            }
        }
    }

    #[test]
    fn gauss_legendre_known_nodes() {
        let (x, w) = gauss_legendre(2);
        let r = 0.5 / 3f64.sqrt();
        assert!((x[0] - (0.5 - r)).abs() < 1e-16 && (x[1] - (0.5 + r)).abs() < 1e-16);
        assert!(w.iter().all(|w| (w - 0.5).abs() <= f64::EPSILON));
    }

    #[test]
    fn adaptive_integration_reaches_machine_precision() {
        let v = integrate(|a| 1.0 / (1.0 + 1e8 * a * a), 0.0, 1.0, 1e-15);
        let exact = (1e4f64).atan() / 1e4;
        assert!((v - exact).abs() / exact < 1e-14, "{v} vs {exact}");
    }

    #[test]
    fn midpoint_error_decays_as_one_over_m_squared() {
        let exact = 2f64.ln();
        let err = |m| {
            let (x, w) = Rule::Midpoint.nodes_weights(m);
            (x.iter().zip(&w).map(|(a, w)| w / (1.0 + a)).sum::<f64>() - exact).abs()
        };
        let ratio = err(64) / err(32);
        assert!((0.24..0.26).contains(&ratio), "{ratio}");
    }
}
