//! Inequality indices: the Gini coefficient as Mesa's `compute_gini` defines it, attributed
//! exactly from any baseline with a positive mean; the mean difference from per-agent
//! baselines; the efficiency warning.

use aumann::indicators::gini::Gini;
use aumann::indicators::gini_coefficient::GiniCoefficient;

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
