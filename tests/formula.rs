//! Formula indicators: ψ and ρ written as text give the attributions of the same indicator
//! written in Rust, satisfy efficiency, run on the pooled routes, work from the command line and
//! from a folder, and hostile formulas are refused in one line with nothing written.

use std::path::Path;

use aumann::array::Values;
use aumann::compare::{self, CompareOptions, Method};
use aumann::indicators::formula::{Definition, Formula};
use aumann::indicators::{Indicator, IndicatorSpec};
use aumann::prelude::*;
use rand::{RngExt, SeedableRng};

use crate::common::{aumann, max_rel_err};

/// The smoothed share of agents whose composite is below 2.5 (a step of width 0.25), in Rust.
struct SmoothShare;

impl PooledFn for SmoothShare {
    fn name(&self) -> &str {
        "smooth_share"
    }
    fn pooled_width(&self) -> usize {
        1
    }
    fn psi<S: Scalar>(&self, z: &[S], out: &mut [S]) {
        let c = z.iter().fold(S::constant(0.0), |c, &v| c + v);
        out[0] = ((S::constant(2.5) - c) / 0.25).sigmoid();
    }
    fn rho<S: Scalar>(&self, p: &[S]) -> S {
        p[0]
    }
}

/// The same share as a formula over named features.
const SMOOTH_SHARE: &str = "name: smooth_share; features: reach, activity, resonance; psi: below = sigmoid((2.5 - c) / 0.25); rho: below";

/// Theil's index of the composite, `mean(c ln c)/c̄ − ln c̄`, in Rust.
struct Theil;

impl PooledFn for Theil {
    fn name(&self) -> &str {
        "theil"
    }
    fn pooled_width(&self) -> usize {
        2
    }
    fn psi<S: Scalar>(&self, z: &[S], out: &mut [S]) {
        let c = z.iter().fold(S::constant(0.0), |c, &v| c + v);
        out[0] = c;
        out[1] = c * c.ln();
    }
    fn rho<S: Scalar>(&self, p: &[S]) -> S {
        p[1] / p[0] - p[0].ln()
    }
}

/// Theil's index as a formula.
const THEIL: &str = "psi: c, c * ln(c); rho: m1 / m0 - ln(m0)";

/// The population variance of the composite as a formula.
const VARIANCE: &str = "psi: c, c^2; rho: m1 - m0^2";

/// `[t, n, d]` features drawn uniformly from `(0.05, 1.5)`.
fn population([t, n, d]: [usize; 3], seed: u64) -> Array3 {
    let mut rng = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(seed);
    let values = (0..t * n * d)
        .map(|_| rng.random_range(0.05..1.5))
        .collect();
    Array3::from_f64([t, n, d], values)
}

fn compiled(text: &str, d: usize) -> Formula {
    Formula::compile(&text.parse().unwrap(), Some(d)).unwrap()
}

/// φ of `indicator` in f64 with `m` points of `rule` on the flex backend.
fn phi(indicator: &dyn Indicator, x: &Array3, b: &Baseline, rule: Rule, m: usize) -> Attribution {
    let options = PathOptions {
        rule,
        points: m,
        precision: Precision::F64,
        ..PathOptions::default()
    };
    let device = Backend::Flex.device().unwrap();
    path::attribute(indicator, x, b, &options, &device, &mut |_| {}).unwrap()
}

/// (1) A formula gives the attributions of the same indicator written in Rust: a smoothed
/// share (k = 1, features by name), Theil's index (k = 2, ln), and the variance against the
/// built-in `variance` and its closed form.
#[test]
fn formulas_match_the_same_indicators_written_in_rust() {
    let x = population([2, 500, 3], 1);
    let mean = Baseline::resolve(&BaselineSpec::Mean, &x).unwrap();
    let zero = Baseline::resolve(&BaselineSpec::Zero, &x).unwrap();
    let cases: [(&str, &dyn Indicator, &Baseline); 2] = [
        (SMOOTH_SHARE, &PoolingFn::new(SmoothShare), &zero),
        (THEIL, &PoolingFn::new(Theil), &mean),
    ];
    for (text, rust, b) in cases {
        let formula = PoolingFn::new(compiled(text, 3));
        let want = phi(rust, &x, b, Rule::Midpoint, 32);
        let got = phi(&formula, &x, b, Rule::Midpoint, 32);
        let err = max_rel_err(&got.phi, &want.phi);
        assert!(err <= 1e-10, "{text}: max relative error {err:e}");
        assert!(max_rel_err(&got.v_x, &want.v_x) <= 1e-12, "{text}: V(x)");
    }
    let variance = IndicatorSpec::analytic(Analytic::Variance);
    let device = Backend::Flex.device().unwrap();
    let builtin = variance.build(&device, 3, Precision::F64).unwrap();
    let formula = PoolingFn::new(compiled(VARIANCE, 3));
    let got = phi(&formula, &x, &zero, Rule::Midpoint, 32);
    let want = phi(builtin.as_ref(), &x, &zero, Rule::Midpoint, 32);
    let exact = aumann::exact::attribute(Analytic::Variance, &x, &zero).unwrap();
    assert!(max_rel_err(&got.phi, &want.phi) <= 1e-10);
    assert!(max_rel_err(&got.phi, &exact.phi) <= 1e-10);
}

/// (2) Efficiency: `Σ_i φ_i = V(x) − V(b)` to 1e-10 relative with Gauss–Legendre, m = 64.
#[test]
fn formulas_are_efficient_with_gauss_legendre() {
    let x = population([3, 2000, 3], 2);
    let zero = Baseline::resolve(&BaselineSpec::Zero, &x).unwrap();
    let mean = Baseline::resolve(&BaselineSpec::Mean, &x).unwrap();
    // Smooth along every path from zero: sqrt and the power are shifted off their branch points
    // at 0, where the integrand's derivative is singular, and no kink (abs, min, max) is
    // crossed; either slows the quadrature's convergence far below this tolerance.
    let mixed = "features: a, b, e; psi: softplus((a - 0.7) / 0.2) * exp(-b), tanh(e) * sqrt(1 + a + b), \
                 pow(1 + c, 1.5); rho: ln(1 + m0 * m1) + tanh(m2)";
    for (text, b) in [
        (SMOOTH_SHARE, &zero),
        (THEIL, &mean),
        (mixed, &zero),
        (VARIANCE, &zero),
    ] {
        let a = phi(
            &PoolingFn::new(compiled(text, 3)),
            &x,
            b,
            Rule::GaussLegendre,
            64,
        );
        for (t, gap) in a.relative_efficiency_gap().into_iter().enumerate() {
            let gap = gap.unwrap_or_else(|| panic!("{text}: no macro change at step {t}"));
            assert!(gap.abs() <= 1e-10, "{text}: step {t}: relative gap {gap:e}");
        }
    }
}

/// (3) A formula runs on the pooled routes: on a CPU backend the registry builds the host
/// route of `PoolingFn` (dual numbers; the same bits as wrapping the formula by hand), and its
/// tensor programs integrate by the pooled route (`integrated_gradient`), not by a graph over
/// every agent; both agree with the general autodiff route through its `forward`.
#[test]
fn formulas_run_on_the_pooled_routes() {
    let x = population([2, 300, 3], 3);
    let mean = Baseline::resolve(&BaselineSpec::Mean, &x).unwrap();
    let device = Backend::Flex.device().unwrap();
    let spec = IndicatorSpec::formula(THEIL.replace("psi:", "name: theil; psi:").parse().unwrap());
    spec.validate().unwrap();
    let built = spec.build(&device, 3, Precision::F64).unwrap();
    assert_eq!(built.name(), "theil");
    assert!(built.host_route(&device).is_some(), "no host route on flex");
    let host = phi(built.as_ref(), &x, &mean, Rule::Midpoint, 16);
    let by_hand = phi(
        &PoolingFn::new(compiled(THEIL, 3)),
        &x,
        &mean,
        Rule::Midpoint,
        16,
    );
    assert_eq!(host.phi, by_hand.phi);

    let tensor = Pooling::new(compiled(THEIL, 3));
    let x_t = x.upload(0, 2, &device, burn::tensor::DType::F64);
    let b_t = mean.upload(0, 2, &device, burn::tensor::DType::F64);
    let (nodes, weights) = Rule::Midpoint.nodes_weights(16);
    let paths = aumann::indicators::StraightPaths {
        x: &x_t,
        b: &b_t,
        nodes: &nodes,
        weights: &weights,
    };
    assert!(tensor.integrated_gradient(&paths).unwrap().is_some());
    let pooled = phi(&tensor, &x, &mean, Rule::Midpoint, 16);
    assert!(max_rel_err(&pooled.phi, &host.phi) <= 1e-10);
    let general = phi(&ForwardOnly(tensor), &x, &mean, Rule::Midpoint, 16);
    assert!(max_rel_err(&general.phi, &host.phi) <= 1e-10);
}

/// An indicator with nothing but a tensor program: the engine's general autodiff route.
struct ForwardOnly<I>(I);

impl<I: Indicator> Indicator for ForwardOnly<I> {
    fn name(&self) -> &str {
        self.0.name()
    }
    fn forward(&self, z: burn::tensor::Tensor<3>) -> aumann::Result<burn::tensor::Tensor<1>> {
        self.0.forward(z)
    }
}

/// Every backend: the registry's formula indicator (the tensor programs on wgpu) agrees in f32
/// with the f64 host route.
fn formula_on_every_backend(backend: Backend) {
    let x = population([2, 200, 3], 4);
    let zero = Baseline::resolve(&BaselineSpec::Zero, &x).unwrap();
    let text = "features: a, b, e; psi: sigmoid((1.5 - c) / 0.25), abs(a - b) * e, c^2; \
                rho: m0 + m1 * min(m2, 4) - max(m0, 0.5)";
    let want = phi(
        &PoolingFn::new(compiled(text, 3)),
        &x,
        &zero,
        Rule::Midpoint,
        16,
    );
    let spec = IndicatorSpec::formula(text.parse().unwrap());
    let device = crate::common::device(backend);
    let built = spec.build(&device, 3, Precision::F32).unwrap();
    let options = PathOptions {
        points: 16,
        ..PathOptions::default()
    };
    let got = path::attribute(built.as_ref(), &x, &zero, &options, &device, &mut |_| {}).unwrap();
    let err = max_rel_err(&got.phi, &want.phi);
    assert!(err <= 1e-4, "{backend:?}: max relative error {err:e}");
}

backend_test!(formula_on_every_backend);

/// Exact Shapley values take a formula like any indicator: the formula variance's equal the
/// closed-form game's.
#[test]
fn exact_shapley_takes_a_formula() {
    let x = population([1, 9, 2], 5);
    let zero = Baseline::resolve(&BaselineSpec::Zero, &x).unwrap();
    let options = CompareOptions {
        samples: 10,
        seed: 7,
        antithetic: false,
        path: PathOptions {
            precision: Precision::F64,
            ..PathOptions::default()
        },
        backend: Backend::Flex,
    };
    let formula = PoolingFn::new(compiled(VARIANCE, 2));
    let got = compare::run_any(
        Method::ShapleyExact,
        &formula,
        &x,
        &zero,
        &options,
        &mut |_| {},
    )
    .unwrap();
    let want = compare::run(
        Method::ShapleyExact,
        Analytic::Variance,
        &x,
        &zero,
        &options,
        &mut |_| {},
    )
    .unwrap();
    assert!(max_rel_err(&got.phi, &want.phi) <= 1e-10);
}

fn write_npy(dir: &Path, name: &str, x: &Array3) {
    let Values::F64(values) = x.values().clone() else {
        unreachable!("populations here are f64")
    };
    aumann::npy::write(&dir.join(name), &x.shape(), &Values::F64(values)).unwrap();
}

fn read_npy(path: &Path) -> Vec<f64> {
    match aumann::npy::read(path).unwrap().values {
        Values::F64(v) => v,
        Values::F32(v) => v.into_iter().map(f64::from).collect(),
    }
}

/// (4) `aumann attribute --formula` and `--model DIR` (a folder holding indicator.json) write
/// the library's φ to 1e-10; the summary records the definition, and its phases show the host
/// route (no upload of the input, no forward pass of a graph); `aumann eval` writes its V.
#[test]
fn the_command_line_writes_the_librarys_phi() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let x = population([2, 400, 3], 6);
    write_npy(d, "x.npy", &x);
    let zero = Baseline::resolve(&BaselineSpec::Zero, &x).unwrap();
    let want = phi(
        &PoolingFn::new(SmoothShare),
        &x,
        &zero,
        Rule::GaussLegendre,
        64,
    );
    let folder = d.join("share");
    std::fs::create_dir(&folder).unwrap();
    let definition: Definition = SMOOTH_SHARE.parse().unwrap();
    std::fs::write(folder.join("indicator.json"), definition.to_json()).unwrap();
    let common = [
        "--features",
        "x.npy",
        "--precision",
        "f64",
        "--rule",
        "gauss",
        "--points",
        "64",
    ];
    for (flag, value, out) in [("--formula", SMOOTH_SHARE, "a"), ("--model", "share", "b")] {
        let phi_file = format!("{out}.npy");
        let summary_file = format!("{out}.json");
        let mut args = vec!["attribute", flag, value, "--out", &phi_file];
        args.extend(common);
        args.extend(["--summary", &summary_file, "--quiet"]);
        let run = aumann(d, &args, &[]);
        assert_eq!(run.code, 0, "{flag}: {}", run.stderr);
        let got = read_npy(&d.join(&phi_file));
        assert_eq!(got.len(), 800);
        let err = max_rel_err(&got, &want.phi);
        assert!(err <= 1e-10, "{flag}: max relative error {err:e}");
        let text = std::fs::read_to_string(d.join(&summary_file)).unwrap();
        let summary: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(summary["indicator"], "formula");
        assert_eq!(summary["seconds_phases"]["upload"], 0.0, "{text}");
        assert_eq!(summary["seconds_phases"]["forward"], 0.0, "{text}");
        match flag {
            "--formula" => assert_eq!(
                summary["formula"]["psi"]["below"],
                "sigmoid((2.5 - c) / 0.25)"
            ),
            _ => assert!(summary["model"].as_str().unwrap().ends_with("share")),
        }
    }
    let run = aumann(
        d,
        &[
            "eval",
            "--features",
            "x.npy",
            "--model",
            "share",
            "--precision",
            "f64",
            "--out",
            "v.npy",
        ],
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(max_rel_err(&read_npy(&d.join("v.npy")), &want.v_x) <= 1e-12);
}

/// (5) Hostile formulas are refused by the command line in one line naming the problem, and
/// nothing is written.
#[test]
fn hostile_formulas_are_refused_in_one_line_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_npy(d, "x.npy", &population([1, 20, 3], 7));
    write_npy(d, "neg.npy", &Array3::from_f64([1, 2, 3], vec![-1.0; 6]));
    let deep = format!("psi: {}c{}; rho: m0", "(".repeat(500), ")".repeat(500));
    let long = format!("psi: {}; rho: m0", "c + ".repeat(20_000));
    let bell = "psi: c\u{7}; rho: m0";
    let cases: Vec<(String, &str, &[&str])> = vec![
        (
            "psi: c +; rho: m0".into(),
            "x.npy",
            &[
                "--formula",
                "psi m0",
                "column 4",
                "unexpected end of the expression",
            ],
        ),
        (
            "psi: welth; rho: m0".into(),
            "x.npy",
            &["unknown name 'welth'", "x0, x1, …", "c, their sum"],
        ),
        (
            "psi: ln(0) * c; rho: m0".into(),
            "x.npy",
            &["column 1", "evaluates to -inf"],
        ),
        (
            "psi: c / (2 - 2); rho: m0".into(),
            "x.npy",
            &["division by the constant 0"],
        ),
        (
            "psi: c ^ x0; rho: m0".into(),
            "x.npy",
            &["exponent must be a constant"],
        ),
        (
            "psi: c; rho: m0 + wealth".into(),
            "x.npy",
            &["formula rho", "unknown name 'wealth'"],
        ),
        (
            "psi: c; rho: c".into(),
            "x.npy",
            &["'c' belongs to an agent"],
        ),
        ("psi: nan; rho: m0".into(), "x.npy", &["unknown name 'nan'"]),
        (
            "psi: 1e999; rho: m0".into(),
            "x.npy",
            &["beyond the range of f64"],
        ),
        (
            "features: a, b; psi: a; rho: m0".into(),
            "x.npy",
            &["names 2 features (a, b)", "d = 3"],
        ),
        (
            "features: a, sqrt; psi: a; rho: m0".into(),
            "x.npy",
            &["'sqrt' is a function"],
        ),
        ("psi: c".into(), "x.npy", &["no 'rho:' section"]),
        ("".into(), "x.npy", &["no 'psi:' section"]),
        (deep, "x.npy", &["nests more than 100 levels"]),
        (long, "x.npy", &["bytes long; at most 65536"]),
        (bell.into(), "x.npy", &["unexpected character '\\u{7}'"]),
        (
            "psi: ln(c); rho: m0".into(),
            "neg.npy",
            &["is NaN", "outside the indicator's domain"],
        ),
    ];
    for (formula, features, needles) in &cases {
        let args = [
            "attribute",
            "--features",
            features,
            "--formula",
            formula,
            "--out",
            "phi.npy",
            "--summary",
            "s.json",
            "--quiet",
        ];
        let run = aumann(d, &args, &[]);
        let msg = run.stderr.trim_end();
        let shown = &formula[..formula.len().min(40)];
        assert_eq!(run.code, 2, "{shown}: {msg}");
        assert_eq!(msg.lines().count(), 1, "{shown}: not one line:\n{msg}");
        assert!(!msg.contains("panicked"), "{shown}: {msg}");
        assert!(msg.len() < 1200, "{shown}: {} characters", msg.len());
        for needle in *needles {
            assert!(msg.contains(needle), "{shown}: {msg:?} lacks {needle:?}");
        }
        assert!(
            !d.join("phi.npy").exists() && !d.join("s.json").exists(),
            "{shown}"
        );
    }
    let bad_folder = d.join("bad");
    std::fs::create_dir(&bad_folder).unwrap();
    let files = [
        (
            r#"{"format": "aumann-formula/1", "psi": ["c"], "rho": "m0", "rh": 1}"#,
            "unknown field `rh`",
        ),
        (
            r#"{"format": "aumann-formula/1", "psi": {"x1": "c"}, "rho": "m0"}"#,
            "'x1' is a feature's index",
        ),
        (
            r#"{"format": "aumann-formula/2", "psi": ["c"], "rho": "m0"}"#,
            "format 'aumann-formula/2'",
        ),
        (
            r#"{"format": "aumann-formula/1", "psi": ["c"], "rho": "m0 +"}"#,
            "formula rho \"m0 +\", column 5",
        ),
    ];
    for (json, needle) in files {
        std::fs::write(bad_folder.join("indicator.json"), json).unwrap();
        let args = [
            "attribute",
            "--features",
            "x.npy",
            "--model",
            "bad",
            "--out",
            "phi.npy",
            "--quiet",
        ];
        let run = aumann(d, &args, &[]);
        let msg = run.stderr.trim_end();
        assert_eq!(run.code, 2, "{json}: {msg}");
        assert_eq!(msg.lines().count(), 1, "{json}: not one line:\n{msg}");
        assert!(
            msg.contains("indicator.json") && msg.contains(needle),
            "{json}: {msg}"
        );
        assert!(!d.join("phi.npy").exists(), "{json}");
    }
    let both = [
        "attribute",
        "--features",
        "x.npy",
        "--formula",
        "psi: c; rho: m0",
        "--indicator",
        "variance",
        "--out",
        "phi.npy",
    ];
    let run = aumann(d, &both, &[]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("cannot be used with"), "{}", run.stderr);
    let run = aumann(
        d,
        &[
            "attribute",
            "--features",
            "x.npy",
            "--indicator",
            "formula",
            "--out",
            "phi.npy",
        ],
        &[],
    );
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("needs --formula TEXT, or --model DIR"),
        "{}",
        run.stderr
    );
    assert!(!d.join("phi.npy").exists());
}
