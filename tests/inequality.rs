//! Inequality indices: the Gini coefficient as Mesa's `compute_gini` defines it, attributed
//! exactly from any baseline with a positive mean; the mean difference from per-agent
//! baselines; the efficiency warning; Theil, Atkinson, the coefficient of variation and the
//! smoothed shares as their textbook formulas, efficient from any baseline in their domain.

use aumann::indicators::IndicatorSpec;
use aumann::indicators::gini::Gini;
use aumann::indicators::gini_coefficient::GiniCoefficient;
use burn::tensor::{DType, Tensor};

use crate::common::Autodiff;
use aumann::prelude::*;
use rand::{RngExt, SeedableRng};

/// Mesa-like wealth: `steps` steps of `n` agents' integer wealth, one coordinate, starting at
/// 1 each and moving one unit from a random agent with wealth to a random agent per exchange
/// (the Boltzmann wealth model): many ties, ranks crossing from step to step.
fn boltzmann(steps: usize, n: usize, seed: u64) -> Array3 {
    let mut rng = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut wealth = vec![1.0f64; n];
    let mut out = Vec::with_capacity(steps * n);
    for _ in 0..steps {
        for giver in 0..n {
            if wealth[giver] > 0.0 {
                let taker = rng.random_range(0..n);
                wealth[giver] -= 1.0;
                wealth[taker] += 1.0;
            }
        }
        out.extend_from_slice(&wealth);
    }
    Array3::from_f64([steps, n, 1], out)
}

/// Boltzmann wealth growing by a tenth every step plus one unit for every fifth agent: the
/// mean moves along every path, as it does not when wealth is only exchanged.
fn growing(steps: usize, n: usize, seed: u64) -> Array3 {
    let x = boltzmann(steps, n, seed);
    let values = (0..steps)
        .flat_map(|t| {
            let w = x.step_f64(t);
            let growth = 1.0 + 0.1 * t as f64;
            (0..n).map(move |i| w[i] * growth + f64::from(u8::from(i % 5 == 0)) * t as f64)
        })
        .collect();
    Array3::from_f64([steps, n, 1], values)
}

/// Mesa's `compute_gini`, as its Boltzmann wealth example writes it.
fn mesa_gini(wealth: &[f64]) -> f64 {
    let mut x = wealth.to_vec();
    x.sort_by(f64::total_cmp);
    let n = x.len() as f64;
    let b: f64 = x
        .iter()
        .enumerate()
        .map(|(i, xi)| xi * (n - i as f64))
        .sum::<f64>()
        / (n * x.iter().sum::<f64>());
    1.0 + 1.0 / n - 2.0 * b
}

fn attribute(
    indicator: &dyn Indicator,
    x: &Array3,
    spec: &BaselineSpec,
    rule: Rule,
    points: usize,
) -> aumann::Result<Attribution> {
    let b = Baseline::resolve(spec, x)?;
    let options = PathOptions {
        rule,
        points,
        precision: Precision::F64,
        ..PathOptions::default()
    };
    let device = Backend::Flex.device()?;
    path::attribute(indicator, x, &b, &options, &device, &mut |_| {})
}

/// `V` is Mesa's Gini, step by step.
#[test]
fn the_coefficient_is_mesas_gini() {
    let x = boltzmann(6, 200, 1);
    let device = Backend::Flex.device().unwrap();
    let v = aumann::run::evaluate(&GiniCoefficient, &x, Precision::F64, &device, 1 << 20).unwrap();
    for (t, v) in v.iter().enumerate() {
        let want = mesa_gini(&x.step_f64(t));
        assert!((v - want).abs() <= 1e-12, "step {t}: {v} vs Mesa's {want}");
    }
}

/// From the mean, the first step and the previous step, the attributions add up to the change
/// of the coefficient on every step (1e-10 relative, f64), whatever the rule: the CPU route
/// integrates exactly between the points where agents' paths cross.
#[test]
fn the_coefficient_is_exact_from_any_baseline() {
    for x in [boltzmann(8, 150, 2), growing(8, 150, 2)] {
        exact_from_any_baseline(&x);
    }
}

fn exact_from_any_baseline(x: &Array3) {
    let g = GiniCoefficient;
    for spec in [
        BaselineSpec::Mean,
        BaselineSpec::First,
        BaselineSpec::Previous,
    ] {
        for (rule, points) in [(Rule::Midpoint, 2), (Rule::GaussLegendre, 64)] {
            let a = attribute(&g, x, &spec, rule, points).unwrap();
            for (t, gap) in a.relative_efficiency_gap().iter().enumerate() {
                if let Some(gap) = gap {
                    assert!(*gap <= 1e-10, "{spec} {rule:?} step {t}: gap {gap:e}");
                }
            }
            assert!(a.efficiency_warnings().is_empty());
            if spec == BaselineSpec::Mean {
                // Everyone at the mean has no inequality: the parts add up to G itself.
                for t in 0..8 {
                    let total: f64 = a.step(t).iter().sum();
                    assert!((total - mesa_gini(&x.step_f64(t))).abs() <= 1e-12);
                }
            }
        }
    }
}

/// The exact route against the tensor program at the points of a 4096-point Gauss–Legendre
/// rule: to 1e-8 from the mean (the integrand is smooth), and within the rule's error at the
/// crossings from the previous step (each crossing is a jump of the integrand that a rule of
/// m points resolves to about 1/m of it).
#[test]
fn the_exact_route_agrees_with_a_fine_rule() {
    let g = GiniCoefficient;
    for (x, spec, tolerance) in [
        (boltzmann(3, 40, 3), BaselineSpec::Mean, 1e-8),
        (growing(3, 40, 3), BaselineSpec::Mean, 1e-8),
        (boltzmann(3, 40, 3), BaselineSpec::Previous, 2e-5),
        (growing(3, 40, 3), BaselineSpec::Previous, 2e-5),
    ] {
        let exact = attribute(&g, &x, &spec, Rule::GaussLegendre, 16).unwrap();
        let fine = attribute(&Autodiff(Box::new(g)), &x, &spec, Rule::GaussLegendre, 4096).unwrap();
        let worst = (exact.phi.iter().zip(&fine.phi))
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        assert!(worst <= tolerance, "{spec}: {worst:e}");
    }
}

/// The zero baseline has no Gini coefficient: refused, naming the step and the remedy.
#[test]
fn the_coefficient_refuses_a_zero_mean() {
    let x = boltzmann(2, 20, 4);
    let err = attribute(
        &GiniCoefficient,
        &x,
        &BaselineSpec::Zero,
        Rule::GaussLegendre,
        8,
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("gini_coefficient") && err.contains("positive mean"),
        "{err}"
    );
}

/// The mean difference from the previous step: the path (any rule) and the closed form agree
/// and add up, on data whose ranks cross from step to step.
#[test]
fn the_mean_difference_is_exact_step_to_step() {
    let x = boltzmann(6, 120, 5);
    let path = attribute(&Gini, &x, &BaselineSpec::Previous, Rule::Midpoint, 4).unwrap();
    let b = Baseline::resolve(&BaselineSpec::Previous, &x).unwrap();
    let exact = aumann::exact::attribute(Analytic::Gini, &x, &b).unwrap();
    for (p, e) in path.phi.iter().zip(&exact.phi) {
        assert!((p - e).abs() <= 1e-12, "{p} vs {e}");
    }
    for gap in exact.relative_efficiency_gap().into_iter().flatten() {
        assert!(gap <= 1e-10, "{gap:e}");
    }
}

/// A rule too coarse for the indicator leaves a gap, and every step that misses by more than
/// 1e-3 is named in a warning.
#[test]
fn inefficient_steps_are_warned_about() {
    let x = boltzmann(4, 50, 6);
    let a = attribute(
        &Autodiff(Box::new(GiniCoefficient)),
        &x,
        &BaselineSpec::Previous,
        Rule::Midpoint,
        1,
    )
    .unwrap();
    let gaps = a.relative_efficiency_gap();
    let warnings = a.efficiency_warnings();
    let missed: Vec<usize> = (0..4)
        .filter(|&t| gaps[t].is_some_and(|g| g > 1e-3))
        .collect();
    assert!(!missed.is_empty(), "{gaps:?}");
    assert_eq!(warnings.len(), missed.len(), "{warnings:?}");
    for (w, t) in warnings.iter().zip(&missed) {
        assert!(w.starts_with(&format!("step {t}: ")), "{w}");
        assert!(w.contains("quadrature points"), "{w}");
    }
}

/// Lognormal-like positive wealth with `d` coordinates (the composite is their sum): the
/// indices below are defined on it.
fn positive(steps: usize, n: usize, d: usize, seed: u64) -> Array3 {
    let mut rng = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(seed);
    let values = (0..steps * n * d)
        .map(|_| (rng.random_range(-1.5..1.5f64)).exp() / d as f64)
        .collect();
    Array3::from_f64([steps, n, d], values)
}

/// Every value of `x`, step-major.
fn all_values(x: &Array3) -> Vec<f64> {
    (0..x.steps()).flat_map(|t| x.step_f64(t)).collect()
}

/// The indicator `text` names, built for `d` features in f64 on flex.
fn named(text: &str, d: usize) -> Box<dyn Indicator> {
    let spec: IndicatorSpec = text.parse().unwrap();
    let device = Backend::Flex.device().unwrap();
    spec.build(&device, d, Precision::F64).unwrap()
}

/// The composites of step `t`.
fn composites(x: &Array3, t: usize) -> Vec<f64> {
    let [_, n, d] = x.shape();
    let w = x.step_f64(t);
    (0..n).map(|i| w[i * d..(i + 1) * d].iter().sum()).collect()
}

fn mean(c: &[f64]) -> f64 {
    c.iter().sum::<f64>() / c.len() as f64
}

/// The smoothed top-p share, its cut found by bisection: an independent reference.
fn top_share_by_bisection(c: &[f64], p: f64, tau: f64) -> f64 {
    let mu = mean(c);
    let sigma = |t: f64| 1.0 / (1.0 + (-t).exp());
    let held = |r: f64| c.iter().map(|ci| sigma(ci / mu / tau - r)).sum::<f64>() / c.len() as f64;
    let (mut lo, mut hi) = (-1e4, 1e4);
    for _ in 0..300 {
        let mid = 0.5 * (lo + hi);
        if held(mid) > p { lo = mid } else { hi = mid }
    }
    let r = 0.5 * (lo + hi);
    c.iter()
        .map(|ci| ci / mu * sigma(ci / mu / tau - r))
        .sum::<f64>()
        / c.len() as f64
}

/// Each index as the literature writes it, from the composites directly.
fn textbook(text: &str, c: &[f64]) -> f64 {
    let (n, mu) = (c.len() as f64, mean(c));
    let sigmoid = |t: f64| 1.0 / (1.0 + (-t).exp());
    match text {
        "theil" => c.iter().map(|ci| ci / mu * (ci / mu).ln()).sum::<f64>() / n,
        "atkinson" | "atkinson(epsilon=0.5)" => {
            1.0 - (c.iter().map(|ci| ci.sqrt()).sum::<f64>() / n).powi(2) / mu
        }
        "atkinson(epsilon=1)" => 1.0 - (c.iter().map(|ci| ci.ln()).sum::<f64>() / n).exp() / mu,
        "atkinson(epsilon=2)" => 1.0 - 1.0 / (c.iter().map(|ci| 1.0 / ci).sum::<f64>() / n) / mu,
        "coefficient_of_variation" => {
            (c.iter().map(|ci| (ci - mu).powi(2)).sum::<f64>() / n).sqrt() / mu
        }
        "share_above(threshold=1.2, tau=0.1)" => {
            c.iter().map(|ci| sigmoid((ci - 1.2) / 0.1)).sum::<f64>() / n
        }
        "share_below(threshold=0.5, tau=0.1)" => {
            c.iter().map(|ci| sigmoid((0.5 - ci) / 0.1)).sum::<f64>() / n
        }
        // τ defaults to |θ|/20.
        "share_below(threshold=0.5)" => {
            c.iter().map(|ci| sigmoid((0.5 - ci) / 0.025)).sum::<f64>() / n
        }
        "top_share" => top_share_by_bisection(c, 0.1, 0.05),
        "top_share(p=0.25, tau=0.2)" => top_share_by_bisection(c, 0.25, 0.2),
        other => panic!("no textbook form of {other}"),
    }
}

const INDICES: [&str; 10] = [
    "theil",
    "atkinson",
    "atkinson(epsilon=1)",
    "atkinson(epsilon=2)",
    "coefficient_of_variation",
    "share_above(threshold=1.2, tau=0.1)",
    "share_below(threshold=0.5, tau=0.1)",
    "top_share",
    "top_share(p=0.25, tau=0.2)",
    "atkinson(epsilon=0.5)",
];

/// Every index is its textbook formula, and from the `mean` baseline (everyone equal) its
/// attributions add up with Gauss–Legendre at 64 points: to the index itself for the
/// inequality indices, to `S − p` for the top share.
#[test]
fn every_index_is_its_textbook_formula_and_adds_up_from_the_mean() {
    let x = positive(3, 200, 2, 11);
    for text in INDICES {
        let indicator = named(text, 2);
        let a = attribute(
            &*indicator,
            &x,
            &BaselineSpec::Mean,
            Rule::GaussLegendre,
            64,
        )
        .unwrap();
        for t in 0..3 {
            let c = composites(&x, t);
            let want = textbook(text, &c);
            assert!(
                (a.v_x[t] - want).abs() <= 1e-12 * want.abs().max(1.0),
                "{text} step {t}: V = {} want {want}",
                a.v_x[t]
            );
            let equals = vec![mean(&c); c.len()];
            let at_mean = textbook(text, &equals);
            assert!(
                (a.v_b[t] - at_mean).abs() <= 1e-12,
                "{text} step {t}: V(b) = {}",
                a.v_b[t]
            );
            let total: f64 = a.step(t).iter().sum();
            let gap = (total - (want - at_mean)).abs();
            assert!(
                gap <= 1e-10 * (want - at_mean).abs(),
                "{text} step {t}: gap {gap:e}"
            );
        }
    }
    let sharp = named("share_below(threshold=0.5)", 2);
    let a = attribute(&*sharp, &x, &BaselineSpec::Mean, Rule::GaussLegendre, 8).unwrap();
    let want = textbook("share_below(threshold=0.5)", &composites(&x, 0));
    assert!((a.v_x[0] - want).abs() <= 1e-12, "{} vs {want}", a.v_x[0]);
}

/// Step to step (the previous step as baseline) every index's attributions add up too; these
/// steps are independent draws, so every agent moves far and a narrow cut (the top share's
/// τ = 0.05) needs 128 points.
#[test]
fn every_index_adds_up_step_to_step() {
    let x = positive(4, 150, 3, 12);
    for text in INDICES {
        let indicator = named(text, 3);
        let a = attribute(
            &*indicator,
            &x,
            &BaselineSpec::Previous,
            Rule::GaussLegendre,
            128,
        )
        .unwrap();
        for (t, gap) in a.relative_efficiency_gap().iter().enumerate() {
            if let Some(gap) = gap {
                assert!(*gap <= 1e-10, "{text} step {t}: gap {gap:e}");
            }
        }
    }
}

/// The scale-invariant indices do not change when every composite doubles, nor do their
/// attributions from the mean; the shares do.
#[test]
fn the_inequality_indices_are_scale_invariant() {
    let x = positive(2, 80, 1, 13);
    let doubled = Array3::from_f64(x.shape(), all_values(&x).iter().map(|v| 2.0 * v).collect());
    for text in [
        "theil",
        "atkinson(epsilon=2)",
        "coefficient_of_variation",
        "top_share",
    ] {
        let indicator = named(text, 1);
        let one = attribute(
            &*indicator,
            &x,
            &BaselineSpec::Mean,
            Rule::GaussLegendre,
            32,
        )
        .unwrap();
        let two = attribute(
            &*indicator,
            &doubled,
            &BaselineSpec::Mean,
            Rule::GaussLegendre,
            32,
        )
        .unwrap();
        for (a, b) in one.phi.iter().zip(&two.phi) {
            assert!((a - b).abs() <= 1e-12, "{text}: {a} vs {b}");
        }
    }
}

/// The top share's derivative, through the implicit cut, is that of central finite
/// differences of its value.
#[test]
fn the_top_share_gradient_is_its_finite_differences() {
    use aumann::indicators::top_share::TopShare;
    let x = positive(1, 60, 1, 14);
    let c = composites(&x, 0);
    for share in [
        TopShare { p: 0.1, tau: 0.05 },
        TopShare { p: 0.5, tau: 0.3 },
    ] {
        let mut gradient = vec![0.0; c.len()];
        share.gradient(&c, None, &mut gradient).unwrap();
        let h = 1e-6;
        for i in 0..c.len() {
            let mut plus = c.clone();
            plus[i] += h;
            let mut minus = c.clone();
            minus[i] -= h;
            let fd = (share.value(&plus).unwrap() - share.value(&minus).unwrap()) / (2.0 * h);
            assert!(
                (fd - gradient[i]).abs() <= 1e-6 * fd.abs().max(1e-3),
                "{share:?} agent {i}: {} vs {fd}",
                gradient[i]
            );
        }
        // Scale invariance: Σ_i c_i ∂S/∂c_i = 0.
        let euler: f64 = c.iter().zip(&gradient).map(|(c, g)| c * g).sum();
        assert!(euler.abs() <= 1e-12, "{euler:e}");
    }
}

/// As its temperature falls the top share becomes the share of the total the top ⌈pn⌉
/// agents hold.
#[test]
fn the_top_share_tends_to_the_top_agents_share() {
    let x = positive(1, 200, 1, 15);
    let mut c = composites(&x, 0);
    let total: f64 = c.iter().sum();
    c.sort_by(|a, b| b.total_cmp(a));
    let top: f64 = c[..20].iter().sum::<f64>() / total;
    let a = attribute(
        &*named("top_share(p=0.1, tau=0.0001)", 1),
        &x,
        &BaselineSpec::Mean,
        Rule::GaussLegendre,
        8,
    )
    .unwrap();
    assert!((a.v_x[0] - top).abs() <= 1e-3, "{} vs {top}", a.v_x[0]);
}

/// A path leaving an index's domain is refused, naming the step, the agent and the remedy,
/// on the host route and by the tensor programs' own check.
#[test]
fn indices_refuse_paths_outside_their_domain() {
    let mut values = all_values(&positive(2, 10, 1, 16));
    values[10 + 7] = -0.5; // step 1, agent 7
    let x = Array3::from_f64([2, 10, 1], values);
    for text in ["theil", "atkinson(epsilon=0.5)"] {
        let e = attribute(
            &*named(text, 1),
            &x,
            &BaselineSpec::First,
            Rule::Midpoint,
            4,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("step 1") && e.contains("agent 7's composite is -0.5 in the features"),
            "{text}: {e}"
        );
        assert!(e.contains("every composite positive"), "{e}");
    }
    for text in ["coefficient_of_variation", "top_share", "theil"] {
        let e = attribute(&*named(text, 1), &x, &BaselineSpec::Zero, Rule::Midpoint, 4)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("step 0") && e.contains("in the baseline") && e.contains("e.g. mean"),
            "{text}: {e}"
        );
    }
    // The tensor programs' check, as a device without a host route asks it.
    let device = Backend::Flex.device().unwrap();
    let xt = x.upload(0, 2, &device, DType::F64); // [rows, d, n]
    let zero = Tensor::<3>::zeros([1, 1, 1], (&device, DType::F64));
    let refused = named("theil", 1)
        .check_domain(&xt, &xt.clone())
        .unwrap()
        .unwrap();
    assert_eq!(refused.row, 1);
    assert!(
        refused.reason.contains("agent 7's composite is -0.5"),
        "{}",
        refused.reason
    );
    let refused = named("top_share", 1)
        .check_domain(&xt, &zero)
        .unwrap()
        .unwrap();
    assert!(
        refused
            .reason
            .contains("mean composite is 0 in the baseline"),
        "{}",
        refused.reason
    );
}
