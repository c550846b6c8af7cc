//! Golden attributions from an independent implementation (`data/fixtures/oracle`): the exact
//! method and the path engine (midpoint, m = 32) against every case, in f32 and f64, on every
//! backend, within the tolerances of `aumann::verify`.

use aumann::prelude::*;
use aumann::verify::Tolerance;
use burn::tensor::Tensor;

use crate::common::*;

struct Case {
    name: String,
    x: Array3,
    baseline: Baseline,
    /// (indicator, φ, V(x), V(b))
    expected: Vec<(Analytic, Vec<f64>, f64, f64)>,
}

fn cases() -> Vec<Case> {
    let dir = oracle_dir();
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    let mut out = Vec::new();
    for (name, entry) in manifest.as_object().unwrap() {
        let case = dir.join(name);
        let x = read_population(&case.join("x.npy"));
        let baseline =
            Baseline::resolve(&BaselineSpec::File(case.join("baseline.npy")), &x).unwrap();
        let mut expected = Vec::new();
        for kind in Analytic::ALL {
            if let Some(v) = entry.get(kind.name()) {
                let phi = read_vector(&case.join(format!("phi_{}.npy", kind.name())));
                expected.push((
                    kind,
                    phi,
                    v["V_x"].as_f64().unwrap(),
                    v["V_b"].as_f64().unwrap(),
                ));
            }
        }
        out.push(Case {
            name: name.clone(),
            x,
            baseline,
            expected,
        });
    }
    assert_eq!(out.len(), 5, "every oracle case is loaded");
    out
}

#[test]
fn exact_method_matches_every_fixture() {
    for case in cases() {
        for (kind, phi, v_x, v_b) in &case.expected {
            // Exact attributions are computed in f64 whatever the output precision.
            let got = aumann::exact::attribute(*kind, &case.x, &case.baseline).unwrap();
            let err = max_rel_err(&got.phi, phi);
            assert!(err <= 1e-12, "{} {kind:?}: {err:e}", case.name);
            // Written as f32, they stay within f32 rounding.
            let as_f32: Vec<f64> = got.phi.iter().map(|&p| p as f32 as f64).collect();
            assert!(
                max_rel_err(&as_f32, phi) <= 1e-6,
                "{} {kind:?} as f32",
                case.name
            );
            assert!((got.v_x[0] - v_x).abs() <= 1e-12 * v_x.abs().max(1.0));
            assert!((got.v_b[0] - v_b).abs() <= 1e-12 * v_b.abs().max(1.0));
        }
    }
}

fn path_matches_every_fixture(backend: Backend) {
    matches_every_fixture(backend, aumann::indicators::analytic);
}
backend_test!(path_matches_every_fixture);

/// The path engine on `build(kind)` (midpoint, m = 32, f32 and f64) against every case's φ,
/// `V(x)`, `V(b)` and efficiency.
fn matches_every_fixture(backend: Backend, build: fn(Analytic) -> Box<dyn Indicator>) {
    let device = device(backend);
    for case in cases() {
        for (kind, phi, v_x, v_b) in &case.expected {
            let indicator = build(*kind);
            for precision in [Precision::F32, Precision::F64] {
                let got = path_run(
                    indicator.as_ref(),
                    &case.x,
                    &case.baseline,
                    Rule::Midpoint,
                    32,
                    precision,
                    &device,
                );
                let tol = Tolerance::spec(*kind, precision);
                let label = format!("{} {kind:?} {precision:?} {backend:?}", case.name);
                let err = max_rel_err(&got.phi, phi);
                // f64 runs of the three polynomial indicators are exact up to rounding.
                let bound = if precision == Precision::F64 && *kind != Analytic::Mult {
                    1e-10
                } else {
                    tol.max_rel_error
                };
                assert!(err <= bound, "{label}: max rel error {err:e} > {bound:e}");
                let v_tol = match precision {
                    Precision::F32 => 1e-5,
                    Precision::F64 => 1e-12,
                };
                assert!(
                    (got.v_x[0] - v_x).abs() <= v_tol * v_x.abs().max(1.0),
                    "{label}"
                );
                assert!(
                    (got.v_b[0] - v_b).abs() <= v_tol * v_b.abs().max(1.0),
                    "{label}"
                );
                if let Some(gap) = got.relative_efficiency_gap()[0] {
                    // Midpoint error on mult is quadrature, not rounding: it sits under the
                    // per-agent bound instead.
                    let gap_tol = if *kind == Analytic::Mult {
                        tol.max_rel_error
                    } else {
                        tol.rel_gap
                    };
                    assert!(gap <= gap_tol, "{label}: relative efficiency gap {gap:e}");
                }
            }
        }
    }
}

#[test]
fn undefined_shares_are_an_error_not_a_nan() {
    let case = cases()
        .into_iter()
        .find(|c| c.name == "normal7_meanbase")
        .unwrap();
    let got = aumann::exact::attribute(Analytic::Linear, &case.x, &case.baseline).unwrap();
    assert!(matches!(
        got.shares(),
        Err(aumann::Error::UndefinedShare { step: 0, .. })
    ));
    // Variance shares are defined: the independent implementation's φ over its own
    // V(x) − V(b).
    let var = aumann::exact::attribute(Analytic::Variance, &case.x, &case.baseline).unwrap();
    let golden = read_vector(&oracle_dir().join("normal7_meanbase/phi_variance.npy"));
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(oracle_dir().join("manifest.json")).unwrap())
            .unwrap();
    let entry = &manifest["normal7_meanbase"]["variance"];
    let change = entry["V_x"].as_f64().unwrap() - entry["V_b"].as_f64().unwrap();
    let expected: Vec<f64> = golden.iter().map(|p| p / change).collect();
    assert!(max_rel_err(&var.shares().unwrap(), &expected) < 1e-12);
}

/// The Gini mean difference as its definition, `Σ_{i≠j} |c_i − c_j| / (n(n−1))`, over every
/// pair: no ranks (the library's Gini and its closed form share the midrank kernel). Its
/// autodiff gradient, `Σ_j sign(c_i − c_j) · 2/(n(n−1))`, counts a tie as neither side, which
/// is the midrank weight.
struct PairwiseGini;

impl Indicator for PairwiseGini {
    fn name(&self) -> &str {
        "gini_pairwise"
    }
    fn min_agents(&self) -> usize {
        2
    }
    fn forward(&self, z: Tensor<3>) -> aumann::Result<Tensor<1>> {
        let [rows, _, n] = z.dims();
        let c = z.sum_dim(1); // [rows, 1, n]
        let pairs = (c.clone().reshape([rows, n, 1]) - c.reshape([rows, 1, n])).abs();
        let scale = 1.0 / (n * (n - 1)) as f64;
        Ok(pairs
            .sum_dim(2)
            .sum_dim(1)
            .reshape([rows])
            .mul_scalar(scale))
    }
}

/// The autodiff route of an analytic indicator: its own `forward` for the three polynomial
/// ones, the pairwise definition for the Gini.
fn through_autodiff(kind: Analytic) -> Box<dyn Indicator> {
    match kind {
        Analytic::Gini => Box::new(PairwiseGini),
        _ => Box::new(Autodiff(aumann::indicators::analytic(kind))),
    }
}

/// The general autodiff route, not the indicators' hand-derived ones, against every fixture
/// within the same tolerances.
fn autodiff_route_matches_every_fixture(backend: Backend) {
    matches_every_fixture(backend, through_autodiff);
}
backend_test!(autodiff_route_matches_every_fixture);

/// The general autodiff route against the closed forms on a few hundred agents and several
/// steps, for the baselines each closed form covers: Gauss–Legendre in f64, to rounding.
/// Continuous features: no two composites tie (the pairwise Gini's rounding would split a tie
/// that the closed form keeps; the fixtures hold exact ties).
#[test]
fn autodiff_route_matches_the_closed_forms() {
    use rand::{RngExt, SeedableRng};
    let device = device(Backend::Flex);
    let mut rng = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(17);
    let values = (0..3 * 300 * 3)
        .map(|_| rng.random_range(0.1..3.0))
        .collect();
    let x = Array3::from_f64([3, 300, 3], values);
    for spec in [BaselineSpec::Zero, BaselineSpec::Mean, BaselineSpec::First] {
        let b = Baseline::resolve(&spec, &x).unwrap();
        for kind in Analytic::ALL {
            if kind == Analytic::Gini && spec == BaselineSpec::First {
                // Its integrand jumps where ranks cross, which a 32-point rule resolves only
                // to O(1/m); the exact path is checked against piecewise quadrature in
                // inequality.rs and the kernel's tests.
                continue;
            }
            let exact = aumann::exact::attribute(kind, &x, &b).unwrap();
            let got = path_run(
                through_autodiff(kind).as_ref(),
                &x,
                &b,
                Rule::GaussLegendre,
                32,
                Precision::F64,
                &device,
            );
            let err = max_rel_err(&got.phi, &exact.phi);
            assert!(err < 1e-9, "{kind:?} {spec}: {err:e}");
        }
    }
}

/// The analytic indicators' own host routes against the general autodiff route (the pairwise
/// definition for the Gini), on f64- and f32-stored features with exact ties (two identical
/// agents), for baselines shared and per agent (along which the Gini's ranks cross):
/// `φ`, `V(x)` and `V(b)` to rounding (relative to `max |φ|` and `max |V(x)|`).
#[test]
fn host_routes_equal_the_autodiff_route() {
    use rand::{RngExt, SeedableRng};
    let device = device(Backend::Flex);
    let mut rng = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(23);
    let [steps, n, d] = [3, 200, 3];
    let mut values: Vec<f64> = (0..steps * n * d)
        .map(|_| rng.random_range(0.1..3.0))
        .collect();
    for t in 0..steps {
        let agent = t * n * d;
        values.copy_within(agent..agent + d, agent + d); // agent 1 = agent 0
    }
    let x64 = Array3::from_f64([steps, n, d], values);
    for x in [x64.clone(), crate::common::stored_f32(&x64)] {
        for spec in [BaselineSpec::Zero, BaselineSpec::Mean, BaselineSpec::First] {
            let b = Baseline::resolve(&spec, &x).unwrap();
            for kind in Analytic::ALL {
                let run = |indicator: &dyn Indicator| {
                    path_run(
                        indicator,
                        &x,
                        &b,
                        Rule::Midpoint,
                        32,
                        Precision::F64,
                        &device,
                    )
                };
                let host = run(aumann::indicators::analytic(kind).as_ref());
                let autodiff = run(through_autodiff(kind).as_ref());
                let err = max_rel_err(&host.phi, &autodiff.phi);
                // Along per-agent baselines the Gini's host route integrates exactly between
                // the crossings, which the rule does not: only the values are compared.
                let crossing = kind == Analytic::Gini && spec == BaselineSpec::First;
                assert!(
                    crossing || err < 1e-12,
                    "{kind:?} {spec} f64 {}: φ {err:e}",
                    x.is_f64()
                );
                // Relative to V(x): V(b) may be zero, or rounding away from it.
                let scale = autodiff.v_x.iter().fold(0.0f64, |m, v| m.max(v.abs()));
                for (h, a) in [(&host.v_x, &autodiff.v_x), (&host.v_b, &autodiff.v_b)] {
                    for (h, a) in h.iter().zip(a.iter()) {
                        assert!(
                            (h - a).abs() <= 1e-12 * scale,
                            "{kind:?} {spec}: V {h} vs {a}"
                        );
                    }
                }
            }
        }
    }
}
