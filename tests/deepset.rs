//! The DeepSet indicator: a network built by hand to compute the variance exactly must give
//! the variance's closed-form attributions; the memory-bounded gradient must equal autodiff's.

use aumann::indicators::deepset::{DeepSet, DeepSetConfig};
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
    let config = DeepSetConfig::new(3).with_hidden(16);
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

/// Save → load gives bit-identical attributions.
#[test]
fn save_load_round_trip_is_bit_identical() {
    let device = device(Backend::Flex);
    device.seed(3);
    let config = DeepSetConfig::new(3).with_hidden(8);
    let net = config.init(&device);
    let dir = tempfile::tempdir().unwrap();
    aumann::model::save(dir.path(), &net, &config, "# test\n").unwrap();
    let (loaded, loaded_config) = aumann::model::load(dir.path(), &device, Some(3)).unwrap();
    assert_eq!(loaded_config.hidden, 8);
    let x = population(&SynthConfig {
        agents: 500,
        steps: 2,
        ..SynthConfig::default()
    });
    let b = Baseline::resolve(&BaselineSpec::Mean, &x).unwrap();
    for precision in [Precision::F32, Precision::F64] {
        let a = path_run(
            &net.clone().with_dtype(precision.dtype()),
            &x,
            &b,
            Rule::Midpoint,
            16,
            precision,
            &device,
        );
        let c = path_run(
            &loaded.clone().with_dtype(precision.dtype()),
            &x,
            &b,
            Rule::Midpoint,
            16,
            precision,
            &device,
        );
        assert_eq!(a.phi, c.phi, "{precision:?}");
        assert_eq!(a.v_x, c.v_x);
    }
}

/// The shipped `models/deepset-variance`: it fits fresh populations, and its attributions on a
/// fresh heavy-tailed population of 10⁵ agents rank agents as the exact variance attributions
/// do.
#[test]
fn shipped_variance_model_fits_and_attributes() {
    let device = device(Backend::Flex);
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models/deepset-variance");
    let (model, _) = aumann::model::load(&dir, &device, Some(3)).unwrap();
    // Fresh populations (seeds the training data never used).
    let fresh = aumann::synth::independent_populations(300, 256, 987_654);
    let truth: Vec<f64> = (0..300)
        .map(|t| {
            aumann::kernels::closed_form::value(Analytic::Variance, &fresh.step_f64(t), 3).unwrap()
        })
        .collect();
    let r2 = aumann::train::r_squared(
        &aumann::train::predict(&model, &fresh, &device).unwrap(),
        &truth,
    );
    eprintln!("R² on 300 fresh populations: {r2:.4}");
    assert!(r2 >= 0.99, "R² {r2}");

    let x = population(&SynthConfig {
        agents: 100_000,
        seed: 2024,
        ..SynthConfig::default()
    });
    let b = Baseline::resolve(&BaselineSpec::Zero, &x).unwrap();
    let exact = aumann::exact::attribute(Analytic::Variance, &x, &b).unwrap();
    let mut previous: Option<Vec<f64>> = None;
    for m in [8, 16, 32, 64] {
        let phi = path_run(&model, &x, &b, Rule::Midpoint, m, Precision::F32, &device);
        let rho = aumann::kernels::rank::spearman(&phi.phi, &exact.phi);
        let gap = phi.relative_efficiency_gap()[0].unwrap();
        let change = previous.as_ref().map(|p| max_rel_err(&phi.phi, p));
        eprintln!(
            "m = {m}: Spearman {rho:.4}, relative efficiency gap {gap:.2e}, V(x) {:.4} (exact {:.4}), max change from m/2 {change:?}",
            phi.v_x[0], exact.v_x[0]
        );
        assert!(rho >= 0.95, "m = {m}: Spearman {rho}");
        previous = Some(phi.phi);
    }
}

/// Training is deterministic for a seed on the CPU backends, and refuses bad targets first.
#[test]
fn training_is_reproducible() {
    let device = device(Backend::Flex);
    let x = aumann::synth::independent_populations(40, 32, 5);
    let config = aumann::train::TrainConfig::new()
        .with_hidden(8)
        .with_epochs(5)
        .with_path_copies(1);
    let target = aumann::train::Target::Indicator(Analytic::Variance);
    let run = || {
        let (model, _, report) =
            aumann::train::train(&x, &target, &config, &device, &mut |_| {}).unwrap();
        (
            aumann::train::predict(&model, &x, &device).unwrap(),
            report.history,
        )
    };
    let (a, ha) = run();
    let (b, hb) = run();
    assert_eq!(a, b);
    assert_eq!(ha, hb);
    let bad = aumann::train::Target::Values(vec![1.0; 39]);
    assert!(aumann::train::train(&x, &bad, &config, &device, &mut |_| panic!("trained")).is_err());
}
