//! The DeepSet indicator: a network built by hand to compute the variance exactly must give
//! the variance's closed-form attributions; the memory-bounded gradient must equal autodiff's.

use aumann::indicators::deepset::{Activation, DeepSet, DeepSetConfig, DeepSetKernel};
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
    let mut whole = config.init(&device).with_dtype(precision.dtype());
    whole.kernel = DeepSetKernel::Autodiff;
    let mut blocked = whole.clone();
    blocked.block_elements = 16 * 700; // 700 agents per block: 3 blocks
    let a = path_run(&whole, &x, &b, Rule::Midpoint, 8, precision, &device);
    let c = path_run(&blocked, &x, &b, Rule::Midpoint, 8, precision, &device);
    let err = max_rel_err(&c.phi, &a.phi);
    assert!(err < tol, "{backend:?}: {err:e}");
}
backend_test!(blocked_gradient_equals_autodiff);

/// The structured route (every quadrature point at once from the network's structure) equals
/// burn's autodiff, one pass per point, on random networks of depth 1 to 3 with every
/// activation, from a non-zero baseline (f64; wgpu runs autodiff either way, in f32): its
/// attributions and its end values. On the host it reads the input as stored (f64 and f32)
/// and keeps the slopes of all points, of a few at a time, or of none.
fn structured_route_equals_autodiff(backend: Backend) {
    let device = device(backend);
    let x64 = population(&SynthConfig {
        agents: 300,
        steps: 2,
        seed: 4,
        ..SynthConfig::default()
    });
    let x32 = stored_f32(&x64);
    let (precision, tol) = match backend {
        Backend::Wgpu => (Precision::F32, 1e-5),
        _ => (Precision::F64, 1e-10),
    };
    // A GPU evaluates the end values in f32 (f64 `exp`/`log` do not run there), and Vulkan
    // lets a driver approximate f32 `exp`/`log` (NVIDIA's does): routes that compute ρ(p̄) in
    // different kernels agree on V to the contract's f32 efficiency bound, not to φ's.
    let ends_tol = match backend {
        Backend::Wgpu => 1e-4,
        _ => tol,
    };
    for depth in [1, 2, 3] {
        for activation in Activation::ALL {
            let config = DeepSetConfig::new(3)
                .with_hidden(8)
                .with_depth(depth)
                .with_activation(activation);
            let structured = config.init(&device).with_dtype(precision.dtype());
            let mut reference = structured.clone();
            reference.kernel = DeepSetKernel::Autodiff;
            let mut tensors = structured.clone();
            tensors.kernel = DeepSetKernel::StructuredTensors;
            // Blocks of 100 agents (two steps of width 8), one point a group.
            let mut tensors_by_point = tensors.clone();
            tensors_by_point.block_elements = 2 * 100 * 8;
            // One point's kept slopes at depth 3: 300 agents × width 8 × 8 bytes.
            let (mut few_kept, mut none_kept) = (structured.clone(), structured.clone());
            (few_kept.kept_bytes, none_kept.kept_bytes) = (3 * 300 * 8 * 8, 1);
            let mut kernels = structured.clone();
            kernels.kernel = DeepSetKernel::GpuKernels;
            let mut routes = vec![
                ("structured", &structured),
                ("tensors", &tensors),
                (
                    "tensors, agent blocks, one point a group",
                    &tensors_by_point,
                ),
                ("structured, 3 points kept", &few_kept),
                ("structured, none kept", &none_kept),
            ];
            if backend == Backend::Wgpu && depth >= 2 {
                routes.push(("GPU kernels", &kernels));
            }
            for (stored, x) in [("f64", &x64), ("f32", &x32)] {
                let b = Baseline::resolve(&BaselineSpec::Mean, x).unwrap();
                for (rule, m) in [(Rule::Midpoint, 8), (Rule::GaussLegendre, 6)] {
                    let r = path_run(&reference, x, &b, rule, m, precision, &device);
                    for &(route, net) in &routes {
                        let a = path_run(net, x, &b, rule, m, precision, &device);
                        let err = max_rel_err(&a.phi, &r.phi);
                        let ends = |a: &Attribution| [a.v_x.clone(), a.v_b.clone()].concat();
                        let ends_err = max_rel_err(&ends(&a), &ends(&r));
                        let what = format!(
                            "{backend:?} {route} depth {depth} {activation:?} {rule:?} {stored} stored"
                        );
                        eprintln!("{what}: φ {err:.1e}, V {ends_err:.1e}");
                        assert!(
                            err < tol && ends_err < ends_tol,
                            "{what}: φ {err:e}, V {ends_err:e}"
                        );
                    }
                }
            }
        }
    }
}
backend_test!(structured_route_equals_autodiff);

/// The GPU kernels equal burn's autodiff (both on wgpu, f32) where their limits bite: widths
/// and depths past the structured test's (the tiled kernels: tiles of 100, 32 and 64 agents,
/// the last one partly filled), m = 32 points in several pull-back launches, several tiles
/// pooled by each cube, from a per-agent baseline (the first step's features). On the CPU
/// backends the kernels refuse, naming the device.
fn gpu_kernels_equal_autodiff_at_full_width(backend: Backend) {
    let device = device(backend);
    for (hidden, depth, agents, activation) in [
        (40, 3, 1000, Activation::Gelu),
        (128, 6, 300, Activation::Tanh),
        (64, 3, 7_999, Activation::Softplus),
    ] {
        let x = population(&SynthConfig {
            agents,
            steps: 2,
            seed: 11,
            ..SynthConfig::default()
        });
        let b = Baseline::resolve(&BaselineSpec::First, &x).unwrap();
        device.seed(hidden as u64);
        let config = DeepSetConfig::new(3)
            .with_hidden(hidden)
            .with_depth(depth)
            .with_activation(activation);
        let mut kernels = config.init(&device);
        kernels.kernel = DeepSetKernel::GpuKernels;
        let what = format!("{backend:?} width {hidden} depth {depth} n {agents} {activation:?}");
        if backend != Backend::Wgpu {
            let err = aumann::path::attribute(
                &kernels,
                &x,
                &b,
                &PathOptions::default(),
                &device,
                &mut |_| {},
            )
            .expect_err("the GPU kernels need a CubeCL device");
            assert!(err.to_string().contains("CubeCL device"), "{what}: {err}");
            continue;
        }
        let mut reference = kernels.clone();
        reference.kernel = DeepSetKernel::Autodiff;
        let r = path_run(
            &reference,
            &x,
            &b,
            Rule::Midpoint,
            32,
            Precision::F32,
            &device,
        );
        let a = path_run(
            &kernels,
            &x,
            &b,
            Rule::Midpoint,
            32,
            Precision::F32,
            &device,
        );
        let err = max_rel_err(&a.phi, &r.phi);
        eprintln!("{what}: φ {err:.1e}");
        assert!(err < 1e-5, "{what}: φ {err:e}");
    }
}
backend_test!(gpu_kernels_equal_autodiff_at_full_width);

/// The tiled GPU kernels in f64 (a square network: no transcendental function, so a GPU
/// runs it in f64 as the host does) equal burn's autodiff to f64 accuracy, tiles of 128
/// agents with the last one partly filled, eight points.
#[test]
fn tiled_gpu_kernels_hold_in_f64() {
    let device = device(Backend::Wgpu);
    let x = population(&SynthConfig {
        agents: 301,
        steps: 2,
        seed: 5,
        ..SynthConfig::default()
    });
    let b = Baseline::resolve(&BaselineSpec::First, &x).unwrap();
    device.seed(32);
    let config = DeepSetConfig::new(3)
        .with_hidden(32)
        .with_depth(3)
        .with_activation(Activation::Square);
    let mut kernels = config.init(&device).with_dtype(Precision::F64.dtype());
    kernels.kernel = DeepSetKernel::GpuKernels;
    let mut reference = kernels.clone();
    reference.kernel = DeepSetKernel::Autodiff;
    let run = |net: &DeepSet| path_run(net, &x, &b, Rule::Midpoint, 8, Precision::F64, &device);
    let (a, r) = (run(&kernels), run(&reference));
    let err = max_rel_err(&a.phi, &r.phi);
    eprintln!("width 32 depth 3 f64: φ {err:.1e}");
    assert!(err < 1e-10, "φ {err:e}");
}

/// An f32 run's structured route (f32 lanes on the host, f64 sums) equals f64 autodiff to f32
/// accuracy, at depths 2 to 4, every activation, widths that leave partial register tiles.
#[test]
fn f32_structured_route_equals_f64_autodiff() {
    let device = device(Backend::Flex);
    let x = population(&SynthConfig {
        agents: 700,
        steps: 2,
        seed: 8,
        ..SynthConfig::default()
    });
    let b = Baseline::resolve(&BaselineSpec::Mean, &x).unwrap();
    for (depth, hidden) in [(2, 24), (3, 21), (4, 16)] {
        for activation in Activation::ALL {
            let config = DeepSetConfig::new(3)
                .with_hidden(hidden)
                .with_depth(depth)
                .with_activation(activation);
            device.seed(depth as u64);
            let net = config.init(&device);
            let mut reference = net.clone().with_dtype(Precision::F64.dtype());
            reference.kernel = DeepSetKernel::Autodiff;
            let r = path_run(
                &reference,
                &x,
                &b,
                Rule::Midpoint,
                16,
                Precision::F64,
                &device,
            );
            let f32_net = net.with_dtype(Precision::F32.dtype());
            let a = path_run(
                &f32_net,
                &x,
                &b,
                Rule::Midpoint,
                16,
                Precision::F32,
                &device,
            );
            let err = max_rel_err(&a.phi, &r.phi);
            eprintln!("depth {depth} width {hidden} {activation:?}: {err:.1e}");
            assert!(err < 2e-6, "depth {depth} {activation:?}: {err:e}");
        }
    }
}

/// A network given features of another width is refused with the shapes named, on the host
/// route as on the tensor route, not read at the wrong stride.
#[test]
fn features_of_another_width_are_refused() {
    let device = device(Backend::Flex);
    let net = DeepSetConfig::new(3).with_depth(3).init(&device);
    let x = population(&SynthConfig {
        agents: 50,
        steps: 1,
        seed: 3,
        ..SynthConfig::default()
    });
    let [t, n, _] = x.shape();
    let two = Array3::from_f64(
        [t, n, 2],
        (0..t * n * 2).map(|i| x.get(0, i / 2, i % 2)).collect(),
    );
    let b = Baseline::resolve(&BaselineSpec::Zero, &two).unwrap();
    let options = PathOptions::default();
    match path::attribute(&net, &two, &b, &options, &device, &mut |_| {}) {
        Err(aumann::Error::Shape { expected, .. }) => {
            assert!(expected.contains("[50, 3]"), "{expected}")
        }
        other => panic!("{other:?}"),
    }
}

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

/// f32 keeps its efficiency gap on `[3, 100 000, 3]`: the pooled sums are f64, so an f32 run's
/// gap is the quadrature's, as in f64. The shipped model (midpoint m = 32) stays under 1e-4
/// (the f32 autodiff route does not); a random width-64 tanh network's midpoint gap is its
/// curvature's, the same in f32 and f64, and with Gauss–Legendre m = 16 it is under 1e-4.
#[test]
fn f32_runs_keep_their_efficiency_gap() {
    let device = device(Backend::Flex);
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models/deepset-variance");
    let (shipped, _) = aumann::model::load(&dir, &device, Some(3)).unwrap();
    // Seeded: an unseeded network's gaps change from run to run.
    device.seed(64);
    let wide = DeepSetConfig::new(3)
        .with_hidden(64)
        .with_activation(Activation::Tanh)
        .init(&device);
    let x = population(&SynthConfig {
        agents: 100_000,
        steps: 3,
        seed: 77,
        ..SynthConfig::default()
    });
    let b = Baseline::resolve(&BaselineSpec::Zero, &x).unwrap();
    let gap = |net: &DeepSet, rule, m, precision: Precision| {
        let net = net.clone().with_dtype(precision.dtype());
        let a = path_run(&net, &x, &b, rule, m, precision, &device);
        (a.relative_efficiency_gap().into_iter().flatten()).fold(0.0, f64::max)
    };
    let shipped_gap = gap(&shipped, Rule::Midpoint, 32, Precision::F32);
    let mut autodiff = shipped.clone();
    autodiff.kernel = DeepSetKernel::Autodiff;
    let autodiff_gap = gap(&autodiff, Rule::Midpoint, 32, Precision::F32);
    eprintln!("shipped: f32 gap {shipped_gap:.1e} (f32 autodiff {autodiff_gap:.1e})");
    assert!(shipped_gap <= 1e-4, "shipped: {shipped_gap:e}");
    let (f32_mid, f64_mid) = (
        gap(&wide, Rule::Midpoint, 32, Precision::F32),
        gap(&wide, Rule::Midpoint, 32, Precision::F64),
    );
    let f32_gauss = gap(&wide, Rule::GaussLegendre, 16, Precision::F32);
    eprintln!(
        "tanh 64: midpoint f32 {f32_mid:.2e}, f64 {f64_mid:.2e}; Gauss–Legendre f32 {f32_gauss:.1e}"
    );
    assert!(
        (f32_mid - f64_mid).abs() <= 1e-6,
        "f32 adds rounding: {f32_mid:e} vs {f64_mid:e}"
    );
    assert!(f32_gauss <= 1e-4, "tanh 64, Gauss–Legendre: {f32_gauss:e}");
}

/// Training is deterministic for a seed on the CPU backends, and refuses bad targets first.
#[test]
fn training_is_reproducible() {
    let device = device(Backend::Flex);
    let x = aumann::synth::independent_populations(40, 32, 5);
    let network = DeepSetConfig::new(x.dims()).with_hidden(8);
    let config = aumann::train::TrainConfig::new()
        .with_epochs(5)
        .with_path_copies(1);
    let target = aumann::train::Target::Indicator(Analytic::Variance);
    let run = || {
        let (model, report) =
            aumann::train::train(&x, &target, &network, &config, &device, &mut |_| {}).unwrap();
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
    let refuses = |target: &aumann::train::Target, network: &DeepSetConfig| {
        let trained = &mut |_| panic!("trained");
        aumann::train::train(&x, target, network, &config, &device, trained).is_err()
    };
    assert!(refuses(&bad, &network));
    assert!(refuses(&target, &DeepSetConfig::new(x.dims() + 1)));
    assert!(refuses(&target, &network.clone().with_depth(0)));
}
