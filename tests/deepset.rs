//! The DeepSet indicator: a network built by hand to compute the variance exactly must give
//! the variance's closed-form attributions; the memory-bounded gradient must equal autodiff's.

use aumann::indicators::deepset::DeepSet;
use aumann::prelude::*;
use aumann::synth::{SynthConfig, population};
use aumann::verify::{Tolerance, compare};

use crate::common::*;

fn hand_built_variance_matches_the_closed_form(backend: Backend) {
    let device = device(backend);
    // Every oracle case (normal7 with its mean baseline), plus a synthetic multi-step population.
    let mut cases: Vec<(String, Array3, Baseline)> = [
        "social9",
        "normal7_meanbase",
        "ties8",
        "d5_const_base",
        "d1",
    ]
    .iter()
    .map(|name| {
        let dir = oracle_dir().join(name);
        let x = read_population(&dir.join("x.npy"));
        let b = Baseline::resolve(&BaselineSpec::File(dir.join("baseline.npy")), &x).unwrap();
        (name.to_string(), x, b)
    })
    .collect();
    let synth = population(&SynthConfig {
        agents: 1000,
        steps: 3,
        seed: 5,
        ..SynthConfig::default()
    });
    let zero = Baseline::resolve(&BaselineSpec::Zero, &synth).unwrap();
    cases.push(("synthetic".into(), synth, zero));
    for (name, x, b) in &cases {
        let exact = aumann::exact::attribute(Analytic::Variance, x, b).unwrap();
        for precision in [Precision::F32, Precision::F64] {
            let net = DeepSet::variance(x.dims(), &device).with_dtype(precision.dtype());
            let got = path_run(&net, x, b, Rule::Midpoint, 32, precision, &device);
            let agreement = compare(&got, &exact);
            let tol = Tolerance::spec(Analytic::Variance, precision);
            eprintln!("{name} {precision:?} {backend:?}: {agreement:?}");
            assert!(
                tol.holds(&agreement),
                "{name} {precision:?} {backend:?}: {agreement:?}"
            );
        }
    }
}
backend_test!(hand_built_variance_matches_the_closed_form);

/// Pooling and backpropagating in agent blocks changes nothing but rounding.
fn blocked_gradient_equals_autodiff(backend: Backend) {
    let device = device(backend);
    let x = population(&SynthConfig {
        agents: 2000,
        steps: 2,
        seed: 9,
        ..SynthConfig::default()
    });
    let b = Baseline::resolve(&BaselineSpec::Zero, &x).unwrap();
    let config = aumann::indicators::deepset::DeepSetConfig::new(3).with_hidden(16);
    // tanh needs f64 exp, which Vulkan lacks (see aumann::ops): wgpu runs this in f32.
    let (precision, tol) = match backend {
        Backend::Wgpu => (Precision::F32, 1e-5),
        _ => (Precision::F64, 1e-12),
    };
    let whole = config.init(&device).with_dtype(precision.dtype());
    let mut blocked = whole.clone();
    blocked.block_elements = 16 * 700; // 700 agents per block: 3 blocks
    let a = path_run(&whole, &x, &b, Rule::Midpoint, 8, precision, &device);
    let c = path_run(&blocked, &x, &b, Rule::Midpoint, 8, precision, &device);
    let err = max_rel_err(&c.phi, &a.phi);
    assert!(err < tol, "{backend:?}: {err:e}");
}
backend_test!(blocked_gradient_equals_autodiff);
