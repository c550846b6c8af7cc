//! Coalition attributions against independent references: brute-force enumeration from the
//! definitions, the Aumann–Shapley closed forms, and the estimators' own convergence.

use aumann::array::Array3;
use aumann::backend::Precision;
use aumann::baseline::Baseline;
use aumann::coalition::{
    AnalyticGame, Incremental, TensorGame, banzhaf_exact, banzhaf_sampled, leave_one_out,
    shapley_exact, shapley_sampled, shapley_sampled_plain,
};
use aumann::kernels::closed_form::{self, Analytic};
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};

/// Positive heavy-ish features `[n, d]` and a baseline: zero, or the per-coordinate mean.
fn population(n: usize, d: usize, seed: u64, mean_baseline: bool) -> (Vec<f64>, Vec<f64>) {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let x: Vec<f64> = (0..n * d)
        .map(|_| 0.1 + (3.0 * rng.random::<f64>()).exp() - 1.0)
        .collect();
    let b = if mean_baseline {
        let means: Vec<f64> = (0..d)
            .map(|k| x.iter().skip(k).step_by(d).sum::<f64>() / n as f64)
            .collect();
        (0..n * d).map(|j| means[j % d]).collect()
    } else {
        vec![0.0; n * d]
    };
    (x, b)
}

fn factorial(k: usize) -> f64 {
    (1..=k).map(|i| i as f64).product()
}

/// Shapley and Banzhaf straight from their definitions, every coalition evaluated from
/// scratch.
fn brute_force(game: &AnalyticGame) -> (Vec<f64>, Vec<f64>) {
    let n = game.players();
    let v = |mask: usize| game.value_of(&(0..n).map(|i| mask >> i & 1 == 1).collect::<Vec<_>>());
    let mut shapley = vec![0.0; n];
    let mut banzhaf = vec![0.0; n];
    for i in 0..n {
        for mask in 0..1usize << n {
            if mask >> i & 1 == 1 {
                continue;
            }
            let s = mask.count_ones() as usize;
            let delta = v(mask | 1 << i) - v(mask);
            shapley[i] += factorial(s) * factorial(n - s - 1) / factorial(n) * delta;
            banzhaf[i] += delta / 2f64.powi(n as i32 - 1);
        }
    }
    (shapley, banzhaf)
}

fn max_rel_diff(a: &[f64], b: &[f64]) -> f64 {
    let scale = b.iter().fold(0.0f64, |m, v| m.max(v.abs())).max(1e-300);
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
        / scale
}

#[test]
fn exact_shapley_and_banzhaf_equal_brute_force() {
    for indicator in Analytic::ALL {
        for mean_baseline in [false, true] {
            for n in [2, 5, 8] {
                let (x, b) = population(n, 3, n as u64, mean_baseline);
                let game = AnalyticGame::new(indicator, x, b, 3);
                let (shapley, banzhaf) = brute_force(&game);
                let s = shapley_exact(&game).unwrap().phi;
                let z = banzhaf_exact(&game).unwrap().phi;
                assert!(
                    max_rel_diff(&s, &shapley) < 1e-12,
                    "{indicator:?} n={n} {s:?} vs {shapley:?}"
                );
                assert!(max_rel_diff(&z, &banzhaf) < 1e-12, "{indicator:?} n={n}");
            }
        }
    }
}

#[test]
fn incremental_states_match_evaluation_from_scratch() {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(5);
    for indicator in Analytic::ALL {
        let (x, mut b) = population(300, 3, 9, true);
        // A baseline that differs per agent too, so the Gini sees crossing ranks.
        b.iter_mut()
            .enumerate()
            .for_each(|(j, v)| *v *= 0.5 + (j % 7) as f64 / 7.0);
        let game = AnalyticGame::new(indicator, x, b, 3);
        let mut members = vec![false; 300];
        let mut state = game.empty();
        for step in 0..3000 {
            let i = rng.random_range(0..300);
            if members[i] {
                game.leave(&mut state, i);
            } else {
                game.join(&mut state, i);
            }
            members[i] = !members[i];
            if step % 97 == 0 {
                let (inc, plain) = (game.value(&state), game.value_of(&members));
                assert!(
                    (inc - plain).abs() <= 1e-12 * plain.abs().max(1.0),
                    "{indicator:?} step {step}: {inc} vs {plain}"
                );
            }
        }
    }
}

/// For linear and variance, the agent game's Shapley value is the Aumann–Shapley value: both
/// are quadratic in the agents' features, where the two coincide.
#[test]
fn shapley_equals_aumann_shapley_for_linear_and_variance() {
    for indicator in [Analytic::Linear, Analytic::Variance] {
        for mean_baseline in [false, true] {
            let (x, b) = population(16, 3, 21, mean_baseline);
            let mut exact = vec![0.0; 16];
            closed_form::attribute(
                indicator,
                &x,
                3,
                closed_form::Baseline::Shared(&b[..3]),
                &mut exact,
            )
            .unwrap();
            let game = AnalyticGame::new(indicator, x, b, 3);
            let s = shapley_exact(&game).unwrap().phi;
            let err = max_rel_diff(&s, &exact);
            println!("{indicator:?} mean baseline {mean_baseline}: max rel diff {err:.1e}");
            assert!(err < 1e-9, "{indicator:?}: {err}");
        }
    }
}

#[test]
fn efficiency_holds_for_shapley_only() {
    let (x, b) = population(12, 3, 4, false);
    let game = AnalyticGame::new(Analytic::Variance, x, b, 3);
    let change = game.value(&game.full()) - game.value(&game.empty());
    let gap = |phi: &[f64]| (phi.iter().sum::<f64>() - change).abs() / change.abs();
    let none = &mut |_| {};
    assert!(gap(&shapley_exact(&game).unwrap().phi) < 1e-12);
    // Every permutation's contributions telescope to the change.
    assert!(gap(&shapley_sampled(&game, 30, false, 1, none).unwrap().phi) < 1e-12);
    assert!(gap(&shapley_sampled(&game, 30, true, 1, none).unwrap().phi) < 1e-12);
    // Leave-one-out is not efficient. Neither is Banzhaf, except on games with pairwise
    // interactions only (such as the variance, where it equals Shapley): take `mult`.
    let loo = gap(&leave_one_out(&game).unwrap().phi);
    assert!(gap(&banzhaf_exact(&game).unwrap().phi) < 1e-12);
    let (x, b) = population(12, 3, 4, false);
    let game = AnalyticGame::new(Analytic::Mult, x, b, 3);
    let change = game.value(&game.full()) - game.value(&game.empty());
    let gap = |phi: &[f64]| (phi.iter().sum::<f64>() - change).abs() / change.abs();
    assert!(gap(&shapley_exact(&game).unwrap().phi) < 1e-12);
    let banzhaf = gap(&banzhaf_exact(&game).unwrap().phi);
    println!("efficiency gaps: leave-one-out {loo:.3}, Banzhaf {banzhaf:.3}");
    assert!(loo > 1e-3 && banzhaf > 1e-3);
}

/// The sampled estimator's error against the exact value falls like 1/√K: quadrupling K
/// halves the root-mean-square error (averaged over independent seeds).
#[test]
fn sampled_shapley_error_shrinks_like_inverse_sqrt_k() {
    let (x, b) = population(12, 3, 8, false);
    let game = AnalyticGame::new(Analytic::Gini, x, b, 3);
    let exact = shapley_exact(&game).unwrap().phi;
    let rmse = |k: usize| {
        let seeds = 24u64;
        let mut total = 0.0;
        for seed in 0..seeds {
            let phi = shapley_sampled(&game, k, false, seed, &mut |_| {})
                .unwrap()
                .phi;
            total += phi
                .iter()
                .zip(&exact)
                .map(|(a, e)| (a - e).powi(2))
                .sum::<f64>();
        }
        (total / (seeds as usize * exact.len()) as f64).sqrt()
    };
    let ks = [16, 64, 256, 1024];
    let errs: Vec<f64> = ks.iter().map(|&k| rmse(k)).collect();
    // Least-squares slope of log err against log K.
    let lx: Vec<f64> = ks.iter().map(|&k| (k as f64).ln()).collect();
    let ly: Vec<f64> = errs.iter().map(|e| e.ln()).collect();
    let (mx, my) = (lx.iter().sum::<f64>() / 4.0, ly.iter().sum::<f64>() / 4.0);
    let slope = lx
        .iter()
        .zip(&ly)
        .map(|(a, b)| (a - mx) * (b - my))
        .sum::<f64>()
        / lx.iter().map(|a| (a - mx).powi(2)).sum::<f64>();
    println!("K {ks:?}: rmse {errs:?}, slope {slope:.3}", errs = errs);
    assert!((slope + 0.5).abs() < 0.1, "slope {slope}");
}

#[test]
fn standard_errors_cover_the_exact_values() {
    let (x, b) = population(10, 3, 2, false);
    let game = AnalyticGame::new(Analytic::Mult, x, b, 3);
    let none = &mut |_| {};
    for (name, est, exact) in [
        (
            "shapley",
            shapley_sampled(&game, 400, false, 3, none).unwrap(),
            shapley_exact(&game).unwrap().phi,
        ),
        (
            "shapley antithetic",
            shapley_sampled(&game, 400, true, 3, none).unwrap(),
            shapley_exact(&game).unwrap().phi,
        ),
        (
            "banzhaf",
            banzhaf_sampled(&game, 4000, 3, none).unwrap(),
            banzhaf_exact(&game).unwrap().phi,
        ),
    ] {
        let se = est.std_error.unwrap();
        for i in 0..10 {
            let z = (est.phi[i] - exact[i]).abs() / se[i];
            assert!(
                z < 4.5,
                "{name} agent {i}: {} ± {} vs {}",
                est.phi[i],
                se[i],
                exact[i]
            );
        }
    }
}

#[test]
fn plain_and_incremental_estimators_agree_and_are_reproducible() {
    let (x, b) = population(40, 3, 6, true);
    let game = AnalyticGame::new(Analytic::Gini, x, b, 3);
    let none = &mut |_| {};
    let inc = shapley_sampled(&game, 20, false, 9, none).unwrap();
    let plain = shapley_sampled_plain(&game, 20, 9, none).unwrap();
    assert!(max_rel_diff(&inc.phi, &plain.phi) < 1e-9);
    // Same seed, one thread or many: the same numbers.
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap()
        .install(|| shapley_sampled(&game, 20, false, 9, &mut |_| {}).unwrap());
    assert_eq!(one.phi, inc.phi);
    let b1 = banzhaf_sampled(&game, 64, 2, none).unwrap();
    assert_eq!(b1, banzhaf_sampled(&game, 64, 2, none).unwrap());
}

#[test]
fn exact_methods_refuse_large_games() {
    let (x, b) = population(21, 3, 1, false);
    let game = AnalyticGame::new(Analytic::Linear, x, b, 3);
    let e = shapley_exact(&game).unwrap_err().to_string();
    assert!(e.contains("n = 21") && e.contains("shapley-sampled"), "{e}");
    assert!(banzhaf_exact(&game).is_err());
    assert!(
        shapley_sampled(&game, 3, true, 0, &mut |_| {}).is_err(),
        "odd antithetic K"
    );
}

#[test]
fn compare_command_writes_every_method_and_the_table() {
    let dir = tempfile::tempdir().unwrap();
    let x = dir.path().join("x.npy");
    let out = dir.path().join("cmp");
    let run = |args: &[&str]| {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_aumann"))
            .args(args)
            .output()
            .unwrap();
        (
            o.status.code().unwrap(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let (code, err) = run(&["synth", "--agents", "10", "--out", x.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let methods =
        "as-exact,as-path,loo,shapley-sampled,banzhaf-sampled,shapley-exact,banzhaf-exact";
    let (code, err) = run(&[
        "compare",
        "--features",
        x.to_str().unwrap(),
        "--indicator",
        "variance",
        "--methods",
        methods,
        "--samples",
        "200",
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ]);
    assert_eq!(code, 0, "{err}");
    let table = std::fs::read_to_string(out.join("table.csv")).unwrap();
    let mut lines = table.lines();
    assert_eq!(
        lines.next().unwrap(),
        "method,seconds,efficiency_gap,relative_efficiency_gap,max_error_vs_as_exact,spearman_vs_as_exact,samples"
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 7);
    for m in methods.split(',') {
        let phi = aumann::npy::read(&out.join(format!("{m}.npy"))).unwrap();
        assert_eq!(phi.shape, vec![10]);
        let row = rows.iter().find(|r| r[0] == m).unwrap();
        // Variance is quadratic: exact Shapley is the Aumann–Shapley value.
        if m == "shapley-exact" {
            assert!(row[4].parse::<f64>().unwrap() < 1e-9, "{row:?}");
        }
    }
    assert!(out.join("shapley-sampled_se.npy").exists());
    // Exact methods refuse large games, naming the limit.
    let (code, err) = run(&["synth", "--agents", "30", "--out", x.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let (code, err) = run(&[
        "compare",
        "--features",
        x.to_str().unwrap(),
        "--indicator",
        "gini",
        "--methods",
        "shapley-exact",
        "--out",
        dir.path().join("no").to_str().unwrap(),
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("n = 20"), "{err}");
    assert!(!dir.path().join("no").exists());
}

/// The tensor route (coalitions as rows of the indicator's tensor program) equals the
/// closed-form route on the four analytic indicators: same permutations, same coalitions.
#[test]
fn tensor_route_equals_the_closed_form_route_on_analytic_indicators() {
    let device = aumann::backend::Backend::Flex.device().unwrap();
    let (n, d) = (12, 3);
    let (x, b) = population(n, d, 11, true);
    let features = Array3::from_f64([1, n, d], x.clone());
    let baseline = Baseline::from_array(Array3::from_f64([1, n, d], b.clone()));
    for kind in Analytic::ALL {
        let closed = AnalyticGame::new(kind, x.clone(), b.clone(), d);
        let program = aumann::indicators::analytic(kind);
        // Blocks of 7 coalitions: batches cut permutations and tables across calls.
        let tensor = TensorGame::new(
            program.as_ref(),
            &features,
            &baseline,
            &device,
            Precision::F64,
            7 * n * d,
        )
        .unwrap();
        let pairs = [
            (
                "loo",
                leave_one_out(&closed).unwrap(),
                leave_one_out(&tensor).unwrap(),
            ),
            (
                "shapley-exact",
                shapley_exact(&closed).unwrap(),
                shapley_exact(&tensor).unwrap(),
            ),
            (
                "banzhaf-exact",
                banzhaf_exact(&closed).unwrap(),
                banzhaf_exact(&tensor).unwrap(),
            ),
            (
                "shapley-sampled",
                shapley_sampled(&closed, 30, false, 5, &mut |_| {}).unwrap(),
                shapley_sampled(&tensor, 30, false, 5, &mut |_| {}).unwrap(),
            ),
            (
                "shapley-sampled antithetic",
                shapley_sampled(&closed, 30, true, 5, &mut |_| {}).unwrap(),
                shapley_sampled(&tensor, 30, true, 5, &mut |_| {}).unwrap(),
            ),
            (
                "banzhaf-sampled",
                banzhaf_sampled(&closed, 64, 5, &mut |_| {}).unwrap(),
                banzhaf_sampled(&tensor, 64, 5, &mut |_| {}).unwrap(),
            ),
        ];
        for (method, a, t) in pairs {
            let diff = max_rel_diff(&t.phi, &a.phi);
            assert!(diff < 1e-12, "{kind:?} {method}: {diff:e}");
            // Standard errors, relative to the values: where they are zero (linear) both are the
            // square root of rounding, about 1e-8 of the values.
            if let (Some(sa), Some(st)) = (&a.std_error, &t.std_error) {
                let scale = a.phi.iter().fold(0.0f64, |m, v| m.max(v.abs()));
                let diff = (st.iter().zip(sa))
                    .map(|(x, y)| (x - y).abs())
                    .fold(0.0, f64::max);
                assert!(
                    diff <= 1e-6 * scale,
                    "{kind:?} {method} standard errors: {diff:e}"
                );
            }
        }
    }
}

/// `aumann compare` on a scenario's risk and on a learned DeepSet: coalition methods through
/// the tensor route, scored against the path integral.
#[test]
fn compare_takes_a_scenario_or_a_model() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let sim = [
        "simulate", "econ", "--agents", "12", "--steps", "8", "--out", "sc",
    ];
    let run = crate::common::aumann(d, &[&sim[..], &["--quiet"]].concat(), &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let synth = ["synth", "--agents", "12", "--out", "x.npy"];
    assert_eq!(crate::common::aumann(d, &synth, &[]).code, 0);
    let model = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models/deepset-variance");
    let model = model.to_str().unwrap();
    let common = [
        "--methods",
        "as-path,shapley-exact,loo",
        "--precision",
        "f64",
        "--steps",
        "64",
        "--quiet",
    ];
    for (name, args) in [
        (
            "scenario",
            &["--scenario", "sc", "--step", "6", "--indicator", "rollout"][..],
        ),
        (
            "model",
            &[
                "--features",
                "x.npy",
                "--indicator",
                "deepset",
                "--model",
                model,
            ][..],
        ),
    ] {
        let out = format!("cmp_{name}");
        let all = [&["compare"][..], args, &common[..], &["--out", &out]].concat();
        let run = crate::common::aumann(d, &all, &[]);
        assert_eq!(run.code, 0, "{name}: {}", run.stderr);
        let table = std::fs::read_to_string(d.join(&out).join("table.csv")).unwrap();
        let header: Vec<&str> = table.lines().next().unwrap().split(',').collect();
        assert!(header.contains(&"spearman_vs_as_path"), "{header:?}");
        let exact: Vec<&str> = table
            .lines()
            .find(|l| l.starts_with("shapley-exact,"))
            .unwrap()
            .split(',')
            .collect();
        let gap: f64 = exact[3].parse().unwrap();
        let rho: f64 = exact[5].parse().unwrap();
        eprintln!("{name}: exact Shapley gap {gap:.1e}, Spearman against as-path {rho:.3}");
        assert!(gap < 1e-10, "{name}: exact Shapley is efficient: {gap}");
        assert!(rho > 0.9, "{name}: exact Shapley ranks like as-path: {rho}");
        let phi = aumann::npy::read(&d.join(&out).join("shapley-exact.npy")).unwrap();
        assert_eq!(phi.shape, vec![12]);
    }
}

/// The tensor route on every backend: exact Shapley of `variance` and `gini` (n = 10) equals
/// the closed-form route's (f64 on the CPU backends, f32 on wgpu).
fn tensor_route_on_every_backend(backend: aumann::backend::Backend) {
    let device = crate::common::device(backend);
    let (precision, tol) = match backend {
        aumann::backend::Backend::Wgpu => (Precision::F32, 1e-4),
        _ => (Precision::F64, 1e-12),
    };
    let (n, d) = (10, 3);
    let (x, b) = population(n, d, 3, true);
    let features = Array3::from_f64([1, n, d], x.clone());
    let baseline = Baseline::from_array(Array3::from_f64([1, n, d], b.clone()));
    for kind in [Analytic::Variance, Analytic::Gini] {
        let closed = shapley_exact(&AnalyticGame::new(kind, x.clone(), b.clone(), d)).unwrap();
        let program = aumann::indicators::analytic(kind);
        let game = TensorGame::new(
            program.as_ref(),
            &features,
            &baseline,
            &device,
            precision,
            1 << 14,
        )
        .unwrap();
        let tensor = shapley_exact(&game).unwrap();
        let diff = max_rel_diff(&tensor.phi, &closed.phi);
        assert!(diff < tol, "{backend:?} {kind:?}: {diff:e}");
    }
}
backend_test!(tensor_route_on_every_backend);
