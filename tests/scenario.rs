//! Simulated societies: deterministic folders, efficiency and quadrature convergence of the
//! static and rollout indicators, gradients against finite differences, symmetry and dummy on
//! constructed graphs, every backend.

use std::sync::Arc;

use aumann::array::Array3;
use aumann::backend::{Backend, Precision};
use aumann::baseline::Baseline;
use aumann::coalition::{self, TensorGame};
use aumann::indicators::Indicator;
use aumann::path::{PathOptions, Rule};
use aumann::scenario::cascade::{Aggregate, Cascade, CascadeConfig, CascadeRisk};
use aumann::scenario::graph::Graph;
use aumann::scenario::social::{Social, SocialConfig, SocialRisk};
use aumann::scenario::{
    self, GraphIndicator, GraphKernel, Horizon, Overrides, SCENARIOS, Scenario, Simulation,
};
use burn::tensor::{DType, Tensor, TensorData};

use crate::common::{aumann, device};

fn small() -> Social {
    Social::new(SocialConfig {
        agents: 40,
        steps: 6,
        ..SocialConfig::default()
    })
}

/// Every registered scenario at 40 agents and 6 steps.
fn every_scenario() -> Vec<Box<dyn Scenario>> {
    let overrides = Overrides {
        agents: Some(40),
        steps: Some(6),
        ..Overrides::default()
    };
    SCENARIOS
        .iter()
        .map(|e| (e.with)(&overrides).unwrap())
        .collect()
}

/// φ of step `t` of `sim`'s indicator `which`, from its baseline action.
fn phi(
    scenario: &dyn Scenario,
    sim: &Simulation,
    which: Horizon,
    t: usize,
    options: &PathOptions,
    backend: Backend,
) -> aumann::attribution::Attribution {
    let indicator = scenario.indicator(sim, which, t).unwrap();
    let x = sim.features.select_steps(&[t]);
    let b = Baseline::from_array(sim.baseline.select_steps(&[t]));
    aumann::path::attribute(
        indicator.as_ref(),
        &x,
        &b,
        options,
        &device(backend),
        &mut |_| {},
    )
    .unwrap()
}

fn options(rule: Rule, points: usize, precision: Precision) -> PathOptions {
    PathOptions {
        rule,
        points,
        precision,
        ..PathOptions::default()
    }
}

#[test]
fn same_seed_same_folder_bytes_whatever_the_threads() {
    let dirs = tempfile::tempdir().unwrap();
    let write = |name: &str, threads: usize| {
        let dir = dirs.path().join(name);
        let s = small();
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| scenario::save(&dir, &s, &s.simulate().unwrap()))
            .unwrap();
        dir
    };
    let (a, b) = (write("a", 1), write("b", 2));
    for (k, sc) in every_scenario().into_iter().enumerate() {
        let (x, y) = (
            dirs.path().join(format!("x{k}")),
            dirs.path().join(format!("y{k}")),
        );
        scenario::save(&x, sc.as_ref(), &sc.simulate().unwrap()).unwrap();
        scenario::save(&y, sc.as_ref(), &sc.simulate().unwrap()).unwrap();
        for file in [
            "features.npy",
            "baseline.npy",
            "context/edges.npy",
            "macro.npy",
        ] {
            let same = std::fs::read(x.join(file)).unwrap() == std::fs::read(y.join(file)).unwrap();
            assert!(same, "{}: {file} differs between runs", sc.name());
        }
    }
    for file in [
        "scenario.json",
        "features.npy",
        "baseline.npy",
        "context/edges.npy",
        "macro.npy",
    ] {
        let (x, y) = (
            std::fs::read(a.join(file)).unwrap(),
            std::fs::read(b.join(file)).unwrap(),
        );
        assert!(x == y, "{file} differs between runs");
    }
    let loaded = scenario::load(&a).unwrap();
    let again = small().simulate().unwrap();
    assert_eq!(loaded.simulation.features, again.features);
    assert_eq!(loaded.simulation.graph.as_deref(), again.graph.as_deref());
    let other = Social::new(SocialConfig {
        seed: 8,
        ..small().config
    });
    assert_ne!(other.simulate().unwrap().features, again.features);
}

/// Efficiency in f64 (Gauss–Legendre m = 64) and f32 (midpoint m = 128, Gauss–Legendre
/// m = 16); the midpoint error shrinks as 1/m² against a Gauss–Legendre m = 128 reference.
#[test]
fn efficiency_and_quadrature_convergence() {
    for s in every_scenario() {
        efficiency_and_convergence_of(s.as_ref());
    }
}

fn efficiency_and_convergence_of(s: &dyn Scenario) {
    let sim = s.simulate().unwrap();
    for which in Horizon::ALL {
        // Two steps with a macro change (a step without one has no relative gap to check).
        let f = Backend::Flex;
        let gl64 = options(Rule::GaussLegendre, 64, Precision::F64);
        let changed: Vec<(usize, Option<f64>)> = (2..sim.features.steps())
            .map(|t| {
                (
                    t,
                    phi(s, &sim, which, t, &gl64, f).relative_efficiency_gap()[0],
                )
            })
            .filter(|(_, g)| g.is_some())
            .take(2)
            .collect();
        assert_eq!(
            changed.len(),
            2,
            "{} {which:?}: no change to attribute",
            s.name()
        );
        for (t, gap) in changed {
            let gap = gap.unwrap_or_default();
            assert!(
                gap <= 1e-10,
                "{} {which:?} step {t}: f64 gap {gap:e}",
                s.name()
            );
            // The surrogates' temperature τ = 0.05 gives the integrand a curvature of order 1/τ:
            // the midpoint rule's O(1/m²) error is ~5e-4 at m = 32 and needs m ≈ 128 for 1e-4
            // (Gauss–Legendre needs far fewer points), in f32 as in f64.
            let f32 = phi(
                s,
                &sim,
                which,
                t,
                &options(Rule::Midpoint, 128, Precision::F32),
                f,
            );
            let gap = f32.relative_efficiency_gap()[0].unwrap();
            assert!(
                gap <= 1e-4,
                "{which:?} step {t}: f32 gap {gap:e} (midpoint, m = 128)"
            );
            let f32 = phi(
                s,
                &sim,
                which,
                t,
                &options(Rule::GaussLegendre, 16, Precision::F32),
                f,
            );
            let gap = f32.relative_efficiency_gap()[0].unwrap();
            assert!(
                gap <= 1e-4,
                "{which:?} step {t}: f32 gap {gap:e} (Gauss–Legendre, m = 16)"
            );
            let reference = phi(
                s,
                &sim,
                which,
                t,
                &options(Rule::GaussLegendre, 128, Precision::F64),
                f,
            );
            let scale = reference.phi.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            let error = |m| {
                let a = phi(
                    s,
                    &sim,
                    which,
                    t,
                    &options(Rule::Midpoint, m, Precision::F64),
                    f,
                );
                (a.phi.iter().zip(&reference.phi))
                    .map(|(x, y)| (x - y).abs())
                    .fold(0.0, f64::max)
                    / scale
            };
            let (e32, e64) = (error(32), error(64));
            let ratio = e64 / e32;
            eprintln!(
                "{} {which:?} step {t}: midpoint error {e32:.2e} (m = 32), {e64:.2e} (m = 64), ratio {ratio:.3}",
                s.name()
            );
            assert!(
                (0.2..=0.3).contains(&ratio),
                "{which:?} step {t}: ratio {ratio}"
            );
        }
    }
}

/// `∂V/∂x` by autodiff equals central finite differences of `V` (f64, n ≤ 50).
#[test]
fn gradients_match_finite_differences() {
    for s in every_scenario() {
        gradients_of(s.as_ref());
    }
}

fn gradients_of(s: &dyn Scenario) {
    let sim = s.simulate().unwrap();
    let device = Backend::Flex.device().unwrap();
    let [_, n, d] = sim.features.shape();
    let t = 4;
    for which in Horizon::ALL {
        let indicator = s.indicator(&sim, which, t).unwrap();
        // A point inside the path: halfway between the baseline action and the features.
        let x = sim.features.select_steps(&[t]);
        let b = sim.baseline.select_steps(&[t]);
        let z: Vec<f64> = (0..n * d)
            .map(|k| 0.5 * (x.get(0, k / d, k % d) + b.get(0, k / d, k % d)) + 0.01)
            .collect();
        let tensor = |v: Vec<f64>| {
            let agents_last: Vec<f64> = (0..d)
                .flat_map(|k| (0..n).map(move |i| (i, k)))
                .map(|(i, k)| v[i * d + k])
                .collect();
            Tensor::<3>::from_data(
                TensorData::new(agents_last, [1, d, n]),
                (&device, DType::F64),
            )
        };
        let value = |v: Vec<f64>| {
            let out = indicator.forward(tensor(v)).unwrap();
            aumann::array::download(out, "V").unwrap()[0]
        };
        let zt = tensor(z.clone()).autodiff().require_grad();
        let autodiff = zt
            .grad(&indicator.forward(zt.clone()).unwrap().sum().backward())
            .unwrap();
        // The engine's gradient: the indicator's own (host passes) where it has one.
        let own = indicator.gradient(&tensor(z.clone()));
        let name = s.name();
        let mut gradients = vec![("autodiff", autodiff)];
        gradients.extend(own.map(|g| ("host", g)));
        let h = 1e-5;
        let fd: Vec<(usize, f64)> = (0..n)
            .step_by(7)
            .flat_map(|i| (0..d).map(move |k| (i, k)))
            .map(|(i, k)| {
                let (mut up, mut down) = (z.clone(), z.clone());
                up[i * d + k] += h;
                down[i * d + k] -= h;
                (k * n + i, (value(up) - value(down)) / (2.0 * h))
            })
            .collect();
        for (how, g) in gradients {
            let g = aumann::array::download(g, "gradient").unwrap(); // [d, n]
            let scale = g.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            let worst = fd
                .iter()
                .map(|&(at, fd)| (fd - g[at]).abs() / scale)
                .fold(0.0, f64::max);
            eprintln!("{name} {which:?} ({how}): worst relative gradient error {worst:.1e}");
            assert!(
                worst < 1e-6,
                "{name} {which:?} ({how}): worst relative gradient error {worst:e}"
            );
        }
    }
}

/// The host passes equal burn's autodiff of the tensor program at a size that runs them on
/// every thread (f64, two points per call, the rollout's default horizon).
#[test]
fn host_gradients_equal_autodiff_on_large_graphs() {
    let n = 40_000;
    let social = SocialConfig {
        agents: n,
        steps: 3,
        ..SocialConfig::default()
    };
    let cascade = CascadeConfig {
        agents: n,
        steps: 3,
        runs: 1,
        ..CascadeConfig::default()
    };
    let sims: Vec<(Box<dyn Scenario>, usize)> = vec![
        (Box::new(Social::new(social.clone())), 3),
        (Box::new(Cascade::new(cascade.clone())), 5),
    ];
    let device = Backend::Flex.device().unwrap();
    for (s, horizon) in sims {
        let sim = s.simulate().unwrap();
        let x = sim.features.select_steps(&[2]);
        let b = sim.baseline.select_steps(&[2]);
        // Two points of the path, [2, d, n].
        let z = x.upload(0, 1, &device, DType::F64);
        let b = b.upload(0, 1, &device, DType::F64);
        let z = Tensor::cat(
            vec![z.clone() * 0.3 + b.clone() * 0.7, z * 0.8 + b * 0.2],
            0,
        );
        let host = s.indicator(&sim, Horizon::Rollout, 2).unwrap();
        let host = aumann::array::download(host.gradient(&z).unwrap(), "host").unwrap();
        let graph = sim.graph.clone().unwrap();
        let reference: Box<dyn Indicator> = match s.name() {
            "social" => Box::new(GraphIndicator::new(
                SocialRisk::new(&social, graph),
                horizon,
                GraphKernel::Autodiff,
            )),
            _ => Box::new(GraphIndicator::new(
                CascadeRisk::new(&cascade, graph),
                horizon,
                GraphKernel::Autodiff,
            )),
        };
        assert!(
            reference.gradient(&z).is_none(),
            "the reference is autodiff"
        );
        let zt = z.autodiff().require_grad();
        let g = zt.grad(&reference.forward(zt.clone()).unwrap().sum().backward());
        let autodiff = aumann::array::download(g.unwrap(), "autodiff").unwrap();
        let scale = autodiff.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        assert!(scale > 0.0);
        let worst = host
            .iter()
            .zip(&autodiff)
            .map(|(h, a)| (h - a).abs() / scale)
            .fold(0.0, f64::max);
        eprintln!("{}: host against autodiff, worst {worst:.1e}", s.name());
        assert!(
            worst < 1e-12,
            "{}: worst relative difference {worst:e}",
            s.name()
        );
    }
}

/// A star: the hub 0 and leaves 1..=4 (following each other both ways), plus an isolated
/// agent 5. Leaves 1 and 2 have equal features (they are automorphic), agent 5 sits at its
/// baseline action.
fn star(rows: [[f64; 5]; 6], baseline: impl Fn(&[f64; 5]) -> [f64; 5]) -> Simulation {
    let mut edges = Vec::new();
    for leaf in 1..=4u32 {
        edges.extend([[0, leaf], [leaf, 0]]);
    }
    let x: Vec<f64> = rows.iter().flatten().copied().collect();
    let b: Vec<f64> = rows.iter().flat_map(&baseline).collect();
    Simulation {
        features: Array3::from_f64([1, 6, 5], x),
        baseline: Array3::from_f64([1, 6, 5], b),
        graph: Some(Arc::new(Graph { n: 6, edges })),
        context: Vec::new(),
        runs: 1,
    }
}

/// Each scenario on the star, with rows of its own features.
fn stars() -> Vec<(Box<dyn Scenario>, Simulation)> {
    let social = Social::new(SocialConfig {
        agents: 6,
        steps: 1,
        ..SocialConfig::default()
    });
    let social_rows = [
        [0.6, 1.0, 4.0, 2.0, 1.0],
        [-0.4, 1.0, 1.0, 1.0, 0.0],
        [-0.4, 1.0, 1.0, 1.0, 0.0],
        [0.2, 0.0, 0.0, 0.0, 0.0],
        [0.9, 1.0, 1.0, 0.0, 1.0],
        [0.0, 0.0, 0.0, 0.0, 0.0],
    ];
    let cascade = Cascade::new(CascadeConfig {
        agents: 6,
        steps: 1,
        follows: 1,
        ..CascadeConfig::default()
    });
    let cascade_rows = [
        [1.0, 0.5, 0.7, 0.4, 1.6],
        [0.8, 1.0, 0.6, 0.3, 0.7],
        [0.8, 1.0, 0.6, 0.3, 0.7],
        [0.0, 1.0, 0.1, 0.0, 0.7],
        [0.3, 1.0, 0.2, 0.1, 0.7],
        [0.0, 0.0, 0.0, 0.0, 0.0],
    ];
    let social_star = star(social_rows, |r| [0.0, 0.0, r[2], 0.0, 0.0]);
    let cascade_star = star(cascade_rows, |r| [0.0, r[1], 0.0, 0.0, r[4]]);
    vec![
        (Box::new(social) as Box<dyn Scenario>, social_star),
        (Box::new(cascade), cascade_star),
    ]
}

fn symmetry_and_dummy(backend: Backend) {
    let precision = match backend {
        Backend::Wgpu => Precision::F32,
        _ => Precision::F64,
    };
    let tol = match precision {
        Precision::F64 => 1e-12,
        Precision::F32 => 1e-5,
    };
    for (s, sim) in stars() {
        for which in Horizon::ALL {
            let o = options(Rule::Midpoint, 32, precision);
            let a = phi(s.as_ref(), &sim, which, 0, &o, backend);
            let name = s.name();
            let scale = a.phi.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            assert!(scale > 0.0, "{name} {which:?}: all φ zero");
            let (p1, p2) = (a.phi[1], a.phi[2]);
            assert!(
                (p1 - p2).abs() <= tol * scale,
                "{name} {which:?}: {:?}",
                a.phi
            );
            assert_eq!(
                a.phi[5], 0.0,
                "{name} {which:?}: the isolated agent at its baseline"
            );
        }
    }
}
backend_test!(symmetry_and_dummy);

/// f64 on wgpu: efficient to 1e-10 where the device computes f64 `exp` and `log` correctly,
/// refused by name where it does not (lavapipe, like every Vulkan driver that follows the
/// specification's f32-only transcendentals).
#[test]
fn f64_on_wgpu_is_efficient_or_refused_by_name() {
    let device = device(Backend::Wgpu);
    let exact = aumann::ops::f64_transcendentals_work(&device);
    for s in every_scenario() {
        let name = s.name();
        let simulation = s.simulate().unwrap();
        let loaded = scenario::Loaded::new(s, simulation).unwrap();
        let target = scenario::Target {
            which: Horizon::Rollout,
            run: None,
            step: Some(3),
        };
        let o = options(Rule::GaussLegendre, 64, Precision::F64);
        let out = scenario::attribute(&loaded, target, None, None, &o, &device, &mut |_| {});
        match out {
            Ok(a) if exact => {
                let gap = a.relative_efficiency_gap()[0].unwrap();
                assert!(gap <= 1e-10, "{name}: gap {gap:e}");
            }
            Err(aumann::Error::InexactTranscendentals { what, .. }) if !exact => {
                assert!(what.contains(name), "{what}");
            }
            other => panic!("{name} (exact f64: {exact}): {:?}", other.map(|a| a.v_x)),
        }
    }
}

#[test]
fn simulate_then_attribute_from_the_folder() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let sim = [
        "simulate", "social", "--agents", "60", "--steps", "4", "--quiet",
    ];
    let run = aumann(d, &[&sim[..], &["--out", "sc"]].concat(), &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    for (file, shape) in [
        ("features.npy", vec![4, 60, 5]),
        ("baseline.npy", vec![4, 60, 5]),
        ("macro.npy", vec![4, 2]),
    ] {
        assert_eq!(
            aumann::npy::read(&d.join("sc").join(file)).unwrap().shape,
            shape
        );
    }
    let edges = aumann::npy::read_counts(&d.join("sc/context/edges.npy")).unwrap();
    assert_eq!(edges.shape[1], 2);
    let attribute = |extra: &[&str]| {
        let base = [
            "attribute",
            "--scenario",
            "sc",
            "--out",
            "phi.npy",
            "--summary",
            "s.json",
        ];
        aumann(d, &[&base[..], extra, &["--quiet"]].concat(), &[])
    };
    let run = attribute(&["--indicator", "rollout", "--rule", "gauss", "--steps", "16"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        aumann::npy::read(&d.join("phi.npy")).unwrap().shape,
        vec![4, 60]
    );
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("s.json")).unwrap()).unwrap();
    assert_eq!(s["indicator"], "rollout");
    assert_eq!(s["baseline"], "action");
    let gaps = s["relative_efficiency_gap"].as_array().unwrap();
    assert_eq!(gaps.len(), 4);
    assert!(gaps.iter().all(|g| g.as_f64().unwrap() < 1e-4), "{gaps:?}");
    // eval: the static risk of every step's population, as macro.npy recorded it.
    let run = aumann(
        d,
        &[
            "eval",
            "--features",
            "sc/features.npy",
            "--scenario",
            "sc",
            "--step",
            "0",
            "--precision",
            "f64",
            "--out",
            "v.npy",
        ],
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let v = crate::common::read_vector(&d.join("v.npy"));
    let recorded = crate::common::read_vector(&d.join("sc/macro.npy"));
    assert_eq!(v.len(), 4);
    for (t, v) in v.iter().enumerate() {
        assert!(
            (v - recorded[2 * t]).abs() <= 1e-15 * v.abs(),
            "step {t}: {v} vs {}",
            recorded[2 * t]
        );
    }
    let run = attribute(&["--step", "2"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        aumann::npy::read(&d.join("phi.npy")).unwrap().shape,
        vec![60]
    );
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("s.json")).unwrap()).unwrap();
    assert_eq!(
        (s["indicator"].as_str(), s["step"].as_u64()),
        (Some("static"), Some(2))
    );
}

#[test]
fn bad_scenarios_are_refused_in_one_line_leaving_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let run = aumann(
        d,
        &[
            "simulate", "social", "--agents", "30", "--steps", "3", "--out", "sc", "--quiet",
        ],
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let refuses = |args: &[&str], needles: &[&str]| {
        let run = aumann(d, args, &[]);
        assert_eq!(run.code, 2, "{args:?} succeeded");
        let msg = run.stderr.trim_end();
        assert_eq!(msg.lines().count(), 1, "{args:?}: not one line:\n{msg}");
        for needle in needles {
            assert!(msg.contains(needle), "{args:?}: {msg:?} lacks {needle:?}");
        }
        assert!(
            !d.join("phi.npy").exists() && !d.join("new").exists(),
            "{args:?} left output"
        );
    };
    let attribute = ["attribute", "--scenario", "sc", "--out", "phi.npy"];
    refuses(
        &[&attribute[..], &["--step", "3"]].concat(),
        &["step = 3", "3 steps"],
    );
    refuses(
        &[&attribute[..], &["--indicator", "entropy"]].concat(),
        &["unknown indicator 'entropy'", "rollout"],
    );
    refuses(
        &[
            "attribute",
            "--features",
            "sc/features.npy",
            "--indicator",
            "rollout",
            "--out",
            "phi.npy",
        ],
        &["needs --scenario"],
    );
    refuses(
        &["simulate", "opinion", "--out", "new"],
        &["unknown scenario 'opinion'", "social"],
    );
    refuses(
        &["simulate", "social", "--horizon", "-1", "--out", "new"],
        &["--horizon", "-1"],
    );
    refuses(
        &[
            "simulate",
            "social",
            "--temperature",
            "-0.5",
            "--out",
            "new",
        ],
        &["temperature = -0.5"],
    );
    // A mis-shaped array, then a missing one.
    let x = aumann::npy::read(&d.join("sc/features.npy")).unwrap();
    aumann::npy::write(
        &d.join("sc/features.npy"),
        &[3, 30, 4],
        &aumann::array::Values::F64(vec![0.0; 360]),
    )
    .unwrap();
    refuses(&attribute, &["features.npy", "[3, 30, 5]", "[3, 30, 4]"]);
    aumann::npy::write(&d.join("sc/features.npy"), &x.shape, &x.values).unwrap();
    std::fs::remove_file(d.join("sc/baseline.npy")).unwrap();
    refuses(&attribute, &["baseline.npy"]);
}

/// `econ` has no graph: two households with equal features (and baseline actions) get equal φ.
#[test]
fn econ_households_with_equal_features_get_equal_attributions() {
    let s = aumann::scenario::econ::Econ::new(aumann::scenario::econ::EconConfig {
        agents: 12,
        steps: 4,
        ..Default::default()
    });
    let mut sim = s.simulate().unwrap();
    let copy_agent = |a: &Array3| {
        let [steps, n, d] = a.shape();
        let mut v: Vec<f64> = (0..steps).flat_map(|t| a.step_f64(t)).collect();
        for t in 0..steps {
            for k in 0..d {
                v[(t * n + 3) * d + k] = v[(t * n + 7) * d + k];
            }
        }
        Array3::from_f64([steps, n, d], v)
    };
    sim.features = copy_agent(&sim.features);
    sim.baseline = copy_agent(&sim.baseline);
    for which in Horizon::ALL {
        let o = options(Rule::GaussLegendre, 32, Precision::F64);
        let a = phi(&s, &sim, which, 3, &o, Backend::Flex);
        let scale = a.phi.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        assert!(scale > 0.0);
        assert!(
            (a.phi[3] - a.phi[7]).abs() <= 1e-12 * scale,
            "{which:?}: {:?}",
            a.phi
        );
    }
}

/// `econ`'s rollout risk of month t runs the dynamics in month t's context and reads the risk in
/// month t + H's (SPEC §8, `R(F^H(x; C_t); C_{t+H})`): changing the price of month t + H moves
/// it, changing month t + H + 1's does not; at the run's last months t + H is clamped to it.
#[test]
fn econ_rollout_reads_the_context_h_months_ahead() {
    let config = aumann::scenario::econ::EconConfig {
        agents: 20,
        steps: 8,
        ..Default::default()
    };
    let h = config.horizon;
    let s = aumann::scenario::econ::Econ::new(config);
    let sim = s.simulate().unwrap();
    let value = |sim: &aumann::scenario::Simulation, t: usize| {
        let risk = s.indicator(sim, Horizon::Rollout, t).unwrap();
        let x = sim.features.select_steps(&[t]);
        let device = device(Backend::Flex);
        aumann::run::evaluate(risk.as_ref(), &x, Precision::F64, &device, 1 << 20).unwrap()[0]
    };
    let with_price = |row: usize, factor: f64| {
        let mut changed = sim.clone();
        let price = changed.context.iter_mut().find(|c| c.0 == "price").unwrap();
        price.1[row] *= factor;
        changed
    };
    let t = 1;
    assert!(t + h + 1 < 8, "the test needs month t + H + 1 in the run");
    let v = value(&sim, t);
    let ahead = value(&with_price(t + h, 1.5), t);
    let beyond = value(&with_price(t + h + 1, 1.5), t);
    assert!(
        (ahead - v).abs() > 1e-9 * v.abs(),
        "month t + H's price: {v} against {ahead}"
    );
    assert_eq!(beyond, v, "month t + H + 1's price is not read");
    // The last month: t + H is past the run, so its own context is read.
    let last = 7;
    let v = value(&sim, last);
    assert_ne!(value(&with_price(last, 1.5), last), v);
}

/// Several runs: `[R, T, …]` arrays, `--run` and `--step` select rows, out-of-range runs and
/// runs of a one-run scenario are refused.
#[test]
fn cascade_runs_are_folders_of_runs() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let sim = [
        "simulate", "cascade", "--agents", "60", "--steps", "3", "--runs", "2",
    ];
    let run = aumann(d, &[&sim[..], &["--out", "cr", "--quiet"]].concat(), &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let shape = |f: &str| aumann::npy::read(&d.join(f)).unwrap().shape;
    assert_eq!(shape("cr/features.npy"), vec![2, 3, 60, 5]);
    assert_eq!(shape("cr/baseline.npy"), vec![2, 3, 60, 5]);
    assert_eq!(shape("cr/macro.npy"), vec![2, 3, 2]);
    let loaded = scenario::load(&d.join("cr")).unwrap();
    assert_eq!(
        (loaded.manifest.runs, loaded.simulation.features.steps()),
        (2, 6)
    );
    for (extra, want) in [
        (vec!["--run", "1", "--step", "2"], vec![60]),
        (vec!["--step", "1"], vec![2, 60]),
        (vec!["--run", "0"], vec![3, 60]),
        (vec![], vec![2, 3, 60]),
    ] {
        let base = [
            "attribute",
            "--scenario",
            "cr",
            "--out",
            "phi.npy",
            "--quiet",
        ];
        let run = aumann(d, &[&base[..], &extra].concat(), &[]);
        assert_eq!(run.code, 0, "{extra:?}: {}", run.stderr);
        assert_eq!(shape("phi.npy"), want, "{extra:?}");
    }
    let run = aumann(
        d,
        &[
            "attribute",
            "--scenario",
            "cr",
            "--run",
            "2",
            "--out",
            "x.npy",
        ],
        &[],
    );
    assert!(
        run.code == 2 && run.stderr.contains("run = 2"),
        "{}",
        run.stderr
    );
    let run = aumann(d, &["simulate", "econ", "--runs", "2", "--out", "e"], &[]);
    assert!(
        run.code == 2 && run.stderr.contains("one run"),
        "{}",
        run.stderr
    );
}

/// Every permutation of `0..n` (Heap's algorithm).
fn permutations(n: usize) -> Vec<Vec<usize>> {
    fn heap(k: usize, a: &mut Vec<usize>, out: &mut Vec<Vec<usize>>) {
        if k <= 1 {
            out.push(a.clone());
            return;
        }
        for i in 0..k {
            heap(k - 1, a, out);
            let j = if k.is_multiple_of(2) { i } else { 0 };
            a.swap(j, k - 1);
        }
    }
    let mut out = Vec::new();
    heap(n, &mut (0..n).collect(), &mut out);
    out
}

/// Exact Shapley by the tensor route on tiny instances of every scenario equals the
/// definition: the mean over all `n!` orders of each agent's marginal contribution, every
/// coalition scored on its own (f64).
#[test]
fn exact_shapley_of_tiny_scenarios_equals_the_definition() {
    let n = 7;
    let overrides = Overrides {
        agents: Some(n),
        steps: Some(5),
        ..Overrides::default()
    };
    let device = Backend::Flex.device().unwrap();
    let orders = permutations(n);
    assert_eq!(orders.len(), 5040);
    // A cascade of 7 agents needs more than 1 % of them adopted at the start.
    let cascade = Cascade::new(CascadeConfig {
        agents: n,
        steps: 5,
        runs: 1,
        seeded: 0.5,
        ..CascadeConfig::default()
    });
    let scenarios: Vec<Box<dyn Scenario>> = vec![
        (SCENARIOS[0].with)(&overrides).unwrap(),
        (SCENARIOS[1].with)(&overrides).unwrap(),
        Box::new(cascade),
    ];
    for s in scenarios {
        let sim = s.simulate().unwrap();
        // The step whose static risk changes most from the baseline action.
        let change = |t: usize| {
            let static_risk = s.indicator(&sim, Horizon::Static, t).unwrap();
            let v = |a: &Array3| {
                let z = a.select_steps(&[t]).upload(0, 1, &device, DType::F64);
                aumann::array::download(static_risk.forward(z).unwrap(), "v").unwrap()[0]
            };
            (v(&sim.features) - v(&sim.baseline)).abs()
        };
        let t = (0..sim.features.steps())
            .max_by(|&p, &q| change(p).total_cmp(&change(q)))
            .unwrap();
        let x = sim.features.select_steps(&[t]);
        let b = sim.baseline.select_steps(&[t]);
        let d = x.dims();
        for which in Horizon::ALL {
            let indicator = s.indicator(&sim, which, t).unwrap();
            // v(S) one coalition at a time: agents outside S at their baseline action.
            let v: Vec<f64> = (0..1usize << n)
                .map(|mask| {
                    let z: Vec<f64> = (0..d)
                        .flat_map(|k| (0..n).map(move |i| (i, k)))
                        .map(|(i, k)| {
                            let inside = mask >> i & 1 == 1;
                            if inside {
                                x.get(0, i, k)
                            } else {
                                b.get(0, i, k)
                            }
                        })
                        .collect();
                    let z = Tensor::<3>::from_data(
                        TensorData::new(z, [1, d, n]),
                        (&device, DType::F64),
                    );
                    aumann::array::download(indicator.forward(z).unwrap(), "v").unwrap()[0]
                })
                .collect();
            let mut definition = vec![0.0; n];
            for order in &orders {
                let mut mask = 0usize;
                for &i in order {
                    definition[i] += v[mask | 1 << i] - v[mask];
                    mask |= 1 << i;
                }
            }
            definition
                .iter_mut()
                .for_each(|p| *p /= orders.len() as f64);
            let baseline = Baseline::from_array(b.clone());
            let game = TensorGame::new(
                indicator.as_ref(),
                &x,
                &baseline,
                &device,
                Precision::F64,
                1 << 12,
            )
            .unwrap();
            let exact = coalition::shapley_exact(&game).unwrap().phi;
            let scale = definition.iter().fold(0.0f64, |m, p| m.max(p.abs()));
            assert!(scale > 0.0, "{} {which:?}: all zero", s.name());
            let worst = (exact.iter().zip(&definition))
                .map(|(a, b)| (a - b).abs() / scale)
                .fold(0.0, f64::max);
            eprintln!(
                "{} {which:?}: exact Shapley against the definition {worst:.1e}",
                s.name()
            );
            assert!(worst <= 1e-12, "{} {which:?}: {worst:e}", s.name());
        }
    }
}

/// The cascade's other aggregates (log, pairwise) are differentiable (finite differences) and
/// efficient (f64, Gauss–Legendre m = 64), and they rank agents differently from the weighted
/// mean.
#[test]
fn cascade_aggregates_are_differentiable_and_efficient() {
    let mut firsts = Vec::new();
    for aggregate in Aggregate::ALL {
        let cascade = Cascade::new(CascadeConfig {
            agents: 40,
            steps: 6,
            runs: 1,
            seeded: 0.2,
            aggregate,
            ..CascadeConfig::default()
        });
        gradients_of(&cascade);
        let sim = cascade.simulate().unwrap();
        for which in Horizon::ALL {
            let o = options(Rule::GaussLegendre, 64, Precision::F64);
            let a = phi(&cascade, &sim, which, 4, &o, Backend::Flex);
            let gap = a.relative_efficiency_gap()[0].unwrap();
            assert!(gap <= 1e-10, "{aggregate:?} {which:?}: gap {gap:e}");
            if which == Horizon::Static {
                firsts.push(a.phi);
            }
        }
    }
    assert!(firsts[0] != firsts[1] && firsts[0] != firsts[2]);
}

/// A request for a registry indicator on a scenario folder, with neither features nor a
/// baseline given, attributes the folder's features from its baseline action: each step's φ
/// sums to `V(x_t) − V(b_t)` of those two arrays, evaluated independently by the closed form.
#[test]
fn a_request_on_a_scenario_folder_starts_from_its_baseline_action() {
    use aumann::kernels::closed_form::{self, Analytic};
    use aumann::methods::request::Request;
    use aumann::run::Method;
    let dir = tempfile::tempdir().unwrap();
    let s = small();
    let sim = s.simulate().unwrap();
    scenario::save(dir.path(), &s, &sim).unwrap();
    let mut request =
        Request::indicator("variance".parse().unwrap(), Some(dir.path().to_path_buf()));
    request.config.method = Method::Exact;
    let response = request.attribute(&mut |_| {}).unwrap();
    let [steps, n, d] = sim.features.shape();
    assert_eq!(response.shape, vec![steps, n]);
    assert_eq!(response.summary.baseline, "action");
    let phi = &response.output.attribution.phi;
    for t in 0..steps {
        let v = |a: &Array3| closed_form::value(Analytic::Variance, &a.step_f64(t), d).unwrap();
        let change = v(&sim.features) - v(&sim.baseline);
        let total: f64 = phi[t * n..(t + 1) * n].iter().sum();
        assert!(
            (total - change).abs() <= 1e-9 * change.abs().max(1.0),
            "step {t}: Σφ = {total}, V(x) − V(action) = {change}"
        );
    }
}

/// Re-simulating with nobody held before the end reproduces the simulation bit for bit, run by
/// run: the draws of a step depend only on the seed and what came before.
#[test]
fn resimulating_without_holding_reproduces_every_run() {
    for s in every_scenario() {
        let sim = s.simulate().unwrap();
        let (runs, n) = (sim.runs.max(1), sim.features.agents());
        let steps = sim.features.steps() / runs;
        for run in 0..runs {
            let held = scenario::Held::new(n, steps, &[], 0).unwrap();
            let again = s.resimulate(run, steps - 1, &held).unwrap().unwrap();
            let rows: Vec<usize> = (run * steps..(run + 1) * steps).collect();
            let (want, got) = (sim.features.select_steps(&rows), again.features);
            let same = (0..steps).all(|t| want.step_f64(t) == got.step_f64(t));
            assert!(same, "{} run {run} differs", s.name());
        }
        let held = scenario::Held::new(n, 0, &[], 0).unwrap();
        assert!(
            s.resimulate(runs, 2, &held).is_err(),
            "{}: run {runs}",
            s.name()
        );
    }
}

/// Held agents take their baseline action from the step they are held on, and the
/// re-simulation runs past the original end; before that step nothing changes.
#[test]
fn held_agents_take_their_baseline_action() {
    let (from, last, held) = (3, 8, [0usize, 5, 17]);
    for s in every_scenario() {
        let sim = s.simulate().unwrap();
        let (n, d) = (sim.features.agents(), s.feature_names().len());
        let hold = scenario::Held::new(n, from, &held, 4).unwrap();
        let again = s.resimulate(0, last, &hold).unwrap().unwrap();
        assert_eq!(again.features.steps(), last + 1, "{}", s.name());
        for t in 0..from {
            assert_eq!(again.features.step_f64(t), sim.features.step_f64(t));
        }
        for t in from..=last {
            let (x, b) = (again.features.step_f64(t), again.baseline.step_f64(t));
            for &i in &held {
                let row = i * d..(i + 1) * d;
                assert_eq!(x[row.clone()], b[row], "{} step {t} agent {i}", s.name());
            }
        }
        assert!(scenario::Held::new(n, 0, &[n], 0).is_err());
    }
}
