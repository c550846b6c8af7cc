//! A population split into chunks of agents and attributed chunk by chunk (`chunked`), only the
//! population's sums passing between chunks, gives the single-process attribution: exact forms
//! to 1e-12, pooled indicators to 1e-12 in f64, for uneven chunks and a chunk of one agent.

use aumann::chunked;
use aumann::indicators::IndicatorSpec;
use aumann::prelude::*;
use rand::{RngExt, SeedableRng};

fn population(steps: usize, n: usize, d: usize, seed: u64) -> Array3 {
    let mut rng = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(seed);
    let values = (0..steps * n * d)
        .map(|_| rng.random_range(0.05..2.0f64))
        .collect();
    Array3::from_f64([steps, n, d], values)
}

/// Agents `range` of every step of `x`.
fn agents(x: &Array3, range: std::ops::Range<usize>) -> Array3 {
    let [steps, n, d] = x.shape();
    let values = (0..steps)
        .flat_map(|t| x.step_f64(t)[range.start * d..range.end * d].to_vec())
        .collect();
    let _ = n;
    Array3::from_f64([steps, range.len(), d], values)
}

/// The baseline of agents `range`: itself where it is shared.
fn baseline_of(b: &Baseline, range: std::ops::Range<usize>) -> Baseline {
    match b.is_shared() {
        true => b.clone(),
        false => Baseline::from_array(agents(b.array(), range)),
    }
}

const CHUNKS: [std::ops::Range<usize>; 4] = [0..17, 17..18, 18..40, 40..61];

fn assert_close(got: &[f64], want: &[f64], what: &str) {
    let scale = want.iter().fold(0.0f64, |a, v| a.max(v.abs()));
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((g - w).abs() <= 1e-12 * scale, "{what} [{i}]: {g} vs {w}");
    }
}

#[test]
fn exact_forms_chunk_by_chunk_are_the_whole() {
    let x = population(3, 61, 2, 1);
    let [steps, n, d] = x.shape();
    for spec in [BaselineSpec::Zero, BaselineSpec::Mean, BaselineSpec::First] {
        let b = Baseline::resolve(&spec, &x).unwrap();
        for kind in [
            Analytic::Linear,
            Analytic::Mult,
            Analytic::Variance,
            Analytic::Gini,
        ] {
            if kind == Analytic::Gini && spec == BaselineSpec::First {
                continue;
            }
            let want = aumann::exact::attribute(kind, &x, &b).unwrap().phi;
            let mut sums = vec![0.0; steps * 2 * d];
            for r in CHUNKS {
                let part =
                    chunked::exact_sums(&agents(&x, r.clone()), &baseline_of(&b, r)).unwrap();
                sums.iter_mut().zip(part).for_each(|(s, p)| *s += p);
            }
            let means: Vec<f64> = sums.iter().map(|s| s / n as f64).collect();
            let ranks: Vec<f64> = (0..steps)
                .flat_map(|t| {
                    let w = x.step_f64(t);
                    let c: Vec<f64> = (0..n).map(|i| w[i * d..(i + 1) * d].iter().sum()).collect();
                    aumann::kernels::rank::midranks(&c)
                })
                .collect();
            let mut got = vec![0.0; steps * n];
            for r in CHUNKS {
                let chunk_ranks: Vec<f64> = (0..steps)
                    .flat_map(|t| ranks[t * n + r.start..t * n + r.end].to_vec())
                    .collect();
                let phi = chunked::exact_phi(
                    kind,
                    &agents(&x, r.clone()),
                    &baseline_of(&b, r.clone()),
                    n,
                    &means,
                    Some(&chunk_ranks),
                )
                .unwrap();
                for t in 0..steps {
                    got[t * n + r.start..t * n + r.end]
                        .copy_from_slice(&phi[t * r.len()..(t + 1) * r.len()]);
                }
            }
            assert_close(&got, &want, &format!("{kind:?} from {spec}"));
        }
    }
}

#[test]
fn pooled_indicators_chunk_by_chunk_are_the_whole() {
    let x = population(2, 61, 3, 2);
    let [steps, n, d] = x.shape();
    let device = Backend::Flex.device().unwrap();
    let (nodes, weights) = Rule::GaussLegendre.nodes_weights(16);
    for text in [
        "theil",
        "share_above(threshold=2, tau=0.3)",
        "coefficient_of_variation",
    ] {
        let spec: IndicatorSpec = text.parse().unwrap();
        for precision in [Precision::F64, Precision::F32] {
            let indicator = spec.build(&device, d, precision).unwrap();
            for baseline in [BaselineSpec::Mean, BaselineSpec::Previous] {
                let b = Baseline::resolve(&baseline, &x).unwrap();
                let options = PathOptions {
                    rule: Rule::GaussLegendre,
                    points: 16,
                    precision,
                    ..PathOptions::default()
                };
                let want =
                    path::attribute(&*indicator, &x, &b, &options, &device, &mut |_| {}).unwrap();
                let mut sums = Vec::new();
                for r in CHUNKS {
                    let part = chunked::pooled_sums(
                        &*indicator,
                        &agents(&x, r.clone()),
                        &baseline_of(&b, r),
                        &nodes,
                        precision,
                    )
                    .unwrap();
                    if sums.is_empty() {
                        sums = vec![0.0; part.len()];
                    }
                    sums.iter_mut().zip(part).for_each(|(s, p)| *s += p);
                }
                let common = b.is_shared().then_some(&b);
                let (values, shared) =
                    chunked::pooled_shared(&*indicator, &sums, n, &weights, common).unwrap();
                let mut got = vec![0.0; steps * n];
                for r in CHUNKS {
                    let phi = chunked::pooled_phi(
                        &*indicator,
                        &agents(&x, r.clone()),
                        &baseline_of(&b, r.clone()),
                        &nodes,
                        &shared,
                        precision,
                    )
                    .unwrap();
                    for t in 0..steps {
                        got[t * n + r.start..t * n + r.end]
                            .copy_from_slice(&phi[t * r.len()..(t + 1) * r.len()]);
                    }
                }
                let what = format!("{text} {precision:?} from {baseline}");
                // f32: the same ψ in f32, only the order of the f64 population sums differs.
                let tolerance = match precision {
                    Precision::F64 => 1e-12,
                    Precision::F32 => 1e-6,
                };
                let scale = want.phi.iter().fold(0.0f64, |a, v| a.max(v.abs()));
                for (i, (g, w)) in got.iter().zip(&want.phi).enumerate() {
                    assert!(
                        (g - w).abs() <= tolerance * scale,
                        "{what} [{i}]: {g} vs {w}"
                    );
                }
                for t in 0..steps {
                    assert!(
                        (values[2 * t] - want.v_x[t]).abs() <= 1e-12 * want.v_x[t].abs().max(1.0),
                        "{what}: V(x)"
                    );
                    assert!(
                        (values[2 * t + 1] - want.v_b[t]).abs()
                            <= 1e-12 * want.v_b[t].abs().max(1.0),
                        "{what}: V(b)"
                    );
                }
            }
        }
    }
    // An indicator without pooled passes is refused by name.
    let top = "top_share"
        .parse::<IndicatorSpec>()
        .unwrap()
        .build(&device, d, Precision::F64)
        .unwrap();
    let b = Baseline::resolve(&BaselineSpec::Mean, &x).unwrap();
    let e = chunked::pooled_sums(&*top, &x, &b, &nodes, Precision::F64)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("top_share") && e.contains("pooled passes"),
        "{e}"
    );
}

/// A DeepSet of every activation and depth, chunk by chunk through its pooled form (ψ and ρ on
/// dual numbers), against the single process's structured route: two independent
/// differentiations of the same network at the same points.
#[test]
fn deepsets_chunk_by_chunk_are_the_whole() {
    use aumann::indicators::deepset::{Activation, DeepSetConfig};
    let x = population(2, 61, 3, 5);
    let [steps, n, d] = x.shape();
    let device = Backend::Flex.device().unwrap();
    let (nodes, weights) = Rule::GaussLegendre.nodes_weights(16);
    let b = Baseline::resolve(&BaselineSpec::Mean, &x).unwrap();
    for activation in Activation::ALL {
        for depth in [1, 3] {
            let net = DeepSetConfig::new(d)
                .with_hidden(6)
                .with_depth(depth)
                .with_activation(activation);
            let net = net.init(&device);
            let options = PathOptions {
                rule: Rule::GaussLegendre,
                points: 16,
                precision: Precision::F64,
                ..PathOptions::default()
            };
            let want = path::attribute(&net, &x, &b, &options, &device, &mut |_| {}).unwrap();
            let mut sums = Vec::new();
            for r in CHUNKS {
                let part =
                    chunked::pooled_sums(&net, &agents(&x, r.clone()), &b, &nodes, Precision::F64)
                        .unwrap();
                if sums.is_empty() {
                    sums = vec![0.0; part.len()];
                }
                sums.iter_mut().zip(part).for_each(|(s, p)| *s += p);
            }
            let (values, shared) =
                chunked::pooled_shared(&net, &sums, n, &weights, Some(&b)).unwrap();
            let mut got = vec![0.0; steps * n];
            for r in CHUNKS {
                let phi = chunked::pooled_phi(
                    &net,
                    &agents(&x, r.clone()),
                    &b,
                    &nodes,
                    &shared,
                    Precision::F64,
                )
                .unwrap();
                for t in 0..steps {
                    got[t * n + r.start..t * n + r.end]
                        .copy_from_slice(&phi[t * r.len()..(t + 1) * r.len()]);
                }
            }
            let what = format!("{activation:?} depth {depth}");
            assert_close(&got, &want.phi, &what);
            for t in 0..steps {
                assert!(
                    (values[2 * t] - want.v_x[t]).abs() <= 1e-12 * want.v_x[t].abs().max(1.0),
                    "{what}: V(x)"
                );
            }
        }
    }
}

/// A population-wide condition (the coefficient of variation's positive mean) is the whole
/// population's: a chunk whose own mean is negative is attributed, a population whose mean is
/// not positive is refused by the driver, naming the step.
#[test]
fn population_conditions_are_the_populations() {
    let mut x = population(1, 30, 2, 6);
    let device = Backend::Flex.device().unwrap();
    let cv = "coefficient_of_variation".parse::<IndicatorSpec>().unwrap();
    let indicator = cv.build(&device, 2, Precision::F64).unwrap();
    let (nodes, weights) = Rule::GaussLegendre.nodes_weights(8);
    let run = |x: &Array3| {
        let b = Baseline::resolve(&BaselineSpec::Mean, x).unwrap();
        let mut sums = vec![0.0; 10 * 2];
        for r in [0..5, 5..30] {
            let part = chunked::pooled_sums(
                &*indicator,
                &agents(x, r.clone()),
                &b,
                &nodes,
                Precision::F64,
            )?;
            sums.iter_mut().zip(part).for_each(|(s, p)| *s += p);
        }
        chunked::pooled_shared(&*indicator, &sums, 30, &weights, Some(&b)).map(|_| ())
    };
    let mut values: Vec<f64> = x.step_f64(0);
    values[..10].iter_mut().for_each(|v| *v = -1.0); // agents 0–4: a negative chunk mean
    x = Array3::from_f64([1, 30, 2], values.clone());
    run(&x).unwrap();
    values.iter_mut().for_each(|v| *v = -v.abs());
    let e = run(&Array3::from_f64([1, 30, 2], values))
        .unwrap_err()
        .to_string();
    assert!(e.contains("step 0") && e.contains("mean composite"), "{e}");
}
