//! The memory bound: splitting steps into chunks, or batching several quadrature points into
//! one backward pass, changes nothing but rounding.

use aumann::indicators::analytic;
use aumann::prelude::*;
use aumann::synth::{SynthConfig, population};

use crate::common::*;

fn chunking_does_not_change_the_result(backend: Backend) {
    let device = device(backend);
    let x = population(&SynthConfig {
        agents: 300,
        steps: 5,
        seed: 3,
        ..SynthConfig::default()
    });
    for spec in [BaselineSpec::Zero, BaselineSpec::Mean, BaselineSpec::First] {
        let b = Baseline::resolve(&spec, &x).unwrap();
        for kind in Analytic::ALL {
            let ind = analytic(kind);
            let run = |block| {
                let options = PathOptions {
                    precision: Precision::F64,
                    block_elements: block,
                    ..PathOptions::default()
                };
                path::attribute(ind.as_ref(), &x, &b, &options, &device, &mut |_| {}).unwrap()
            };
            // Everything in one pass; 3 points per pass; one step at a time.
            let reference = run(usize::MAX);
            for block in [5 * 900 * 3, 900] {
                let other = run(block);
                assert!(
                    max_rel_err(&other.phi, &reference.phi) < 1e-12,
                    "{kind:?} {spec} block {block}"
                );
                assert_eq!(other.v_x, reference.v_x);
            }
        }
    }
}
backend_test!(chunking_does_not_change_the_result);

/// Per-step exact attributions for the multi-step baselines agree with the engine.
#[test]
fn multi_step_baselines_match_the_exact_forms() {
    let device = device(Backend::Flex);
    let x = population(&SynthConfig {
        agents: 500,
        steps: 4,
        seed: 11,
        ..SynthConfig::default()
    });
    for spec in [BaselineSpec::Zero, BaselineSpec::Mean, BaselineSpec::First] {
        let b = Baseline::resolve(&spec, &x).unwrap();
        for kind in Analytic::ALL {
            let exact = aumann::exact::attribute(kind, &x, &b).unwrap();
            let rule = Rule::GaussLegendre;
            let got = path_run(
                analytic(kind).as_ref(),
                &x,
                &b,
                rule,
                32,
                Precision::F64,
                &device,
            );
            let err = max_rel_err(&got.phi, &exact.phi);
            assert!(err < 1e-9, "{kind:?} {spec}: {err:e}");
        }
    }
}

/// An indicator with nothing but a `forward`: the general route.
struct SquareOfMean;

impl Indicator for SquareOfMean {
    fn name(&self) -> &str {
        "square_of_mean"
    }
    fn forward(&self, z: burn::tensor::Tensor<3>) -> aumann::Result<burn::tensor::Tensor<1>> {
        let rows = z.dims()[0];
        let m = z.sum_dim(1).mean_dim(2); // [rows, 1, 1]
        Ok((m.clone() * m).reshape([rows]))
    }
}

/// The general route runs chunks of steps side by side: the result is the one of a single
/// thread, bit for bit, and of one chunk for all steps to rounding, and progress arrives in
/// order up to its total.
#[test]
fn steps_side_by_side_change_nothing() {
    let device = device(Backend::Flex);
    let x = population(&SynthConfig {
        agents: 400,
        steps: 7,
        seed: 5,
        ..SynthConfig::default()
    });
    let b = Baseline::resolve(&BaselineSpec::Mean, &x).unwrap();
    let options = PathOptions {
        precision: Precision::F64,
        block_elements: 400 * 3, // one step per chunk: 7 chunks
        ..PathOptions::default()
    };
    let whole = PathOptions {
        block_elements: usize::MAX,
        ..options.clone()
    };
    let reference = path::attribute(&SquareOfMean, &x, &b, &whole, &device, &mut |_| {}).unwrap();
    let run = |threads| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let mut reports = Vec::new();
        let a = pool.install(|| {
            path::attribute(&SquareOfMean, &x, &b, &options, &device, &mut |p| {
                reports.push((p.done, p.total))
            })
        });
        (a.unwrap(), reports)
    };
    let (serial, serial_reports) = run(1);
    let (parallel, reports) = run(2);
    assert_eq!(parallel.phi, serial.phi);
    assert!(max_rel_err(&parallel.phi, &reference.phi) < 1e-12);
    assert_eq!((parallel.v_x, parallel.v_b), (serial.v_x, serial.v_b));
    let expected: Vec<_> = (1..=7 * 32).map(|done| (done, 7 * 32)).collect();
    assert_eq!(reports, expected);
    assert_eq!(serial_reports, expected);
}
