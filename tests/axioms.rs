//! The four Aumann–Shapley axioms, property-based, on every backend.
//!
//! - efficiency: `Σ_i φ_i = V(x) − V(b)`
//! - symmetry: identical agents get identical `φ`
//! - dummy: an agent `V` does not depend on gets 0, and so does an agent that moved from the
//!   baseline only in a coordinate `V` ignores
//! - linearity: `φ(a V₁ + c V₂) = a φ(V₁) + c φ(V₂)`
//!
//! All in f64 with Gauss–Legendre (m = 32), so quadrature error on `mult` is far below the
//! tolerances and what is tested is the engine.

use aumann::indicators::{Indicator, analytic};
use aumann::prelude::*;
use burn::tensor::{Device, Tensor};
use proptest::prelude::*;
use proptest::test_runner::TestRunner;

use crate::common::*;

/// A random population: n in 2..12, d in 1..4, features in (0.05, 3).
fn population() -> impl Strategy<Value = Array3> {
    (2usize..12, 1usize..4).prop_flat_map(|(n, d)| {
        proptest::collection::vec(0.05f64..3.0, n * d)
            .prop_map(move |v| Array3::from_f64([1, n, d], v))
    })
}

/// The same cases on every backend: a pinned seed, failures recorded for replay.
fn runner(_backend: Backend) -> TestRunner {
    prop_runner("tests/proptest-regressions/axioms.txt", 32)
}

fn run(ind: &dyn Indicator, x: &Array3, b: &Baseline, device: &Device) -> Attribution {
    path_run(ind, x, b, Rule::GaussLegendre, 32, Precision::F64, device)
}

fn zero(x: &Array3) -> Baseline {
    Baseline::resolve(&BaselineSpec::Zero, x).unwrap()
}

fn efficiency(backend: Backend) {
    let device = device(backend);
    runner(backend)
        .run(&population(), |x| {
            for kind in Analytic::ALL {
                let phi = run(analytic(kind).as_ref(), &x, &zero(&x), &device);
                let dv = phi.v_x[0] - phi.v_b[0];
                let gap = phi.efficiency_gap()[0];
                prop_assert!(
                    gap.abs() <= 1e-10 * dv.abs().max(1e-12),
                    "{kind:?}: gap {gap:e}, ΔV {dv}"
                );
            }
            Ok(())
        })
        .unwrap();
}
backend_test!(efficiency);

fn symmetry(backend: Backend) {
    let device = device(backend);
    runner(backend)
        .run(&(population(), 0usize..100), |(x, pick)| {
            // Make agent j an exact copy of agent i.
            let [_, n, d] = x.shape();
            let (i, j) = (pick % n, (pick / n + 1 + pick % n) % n);
            prop_assume!(i != j);
            let mut v: Vec<f64> = (0..n * d).map(|idx| x.get(0, idx / d, idx % d)).collect();
            for k in 0..d {
                v[j * d + k] = v[i * d + k];
            }
            let x = Array3::from_f64([1, n, d], v);
            for kind in Analytic::ALL {
                let phi = run(analytic(kind).as_ref(), &x, &zero(&x), &device);
                let scale = phi.phi.iter().fold(1e-300f64, |m, p| m.max(p.abs()));
                prop_assert!(
                    (phi.phi[i] - phi.phi[j]).abs() <= 1e-12 * scale,
                    "{kind:?}: φ_{i} = {} vs φ_{j} = {}",
                    phi.phi[i],
                    phi.phi[j]
                );
            }
            Ok(())
        })
        .unwrap();
}
backend_test!(symmetry);

/// `V = Σ_i w_i c_i` with `w` zero for the last agent: not permutation-invariant, so a
/// direct test that the engine routes each agent's gradient to that agent.
struct IgnoresLast;

impl Indicator for IgnoresLast {
    fn name(&self) -> &str {
        "ignores_last"
    }
    fn forward(&self, z: Tensor<3>) -> aumann::Result<Tensor<1>> {
        let [rows, _, n] = z.dims();
        let w: Vec<f64> = (0..n)
            .map(|i| if i + 1 == n { 0.0 } else { 1.0 + i as f64 })
            .collect();
        let w = Tensor::<3>::from_data(
            burn::tensor::TensorData::new(w, [1, 1, n]),
            (&z.device(), z.dtype()),
        );
        let c = z.sum_dim(1);
        Ok(
            (c.clone() * w + c.powi_scalar(2).sum_dim(2).mul_scalar(0.0))
                .sum_dim(2)
                .reshape([rows]),
        )
    }
}

/// An analytic indicator of the first `d − 1` coordinates only: the last coordinate is one
/// `V` does not depend on.
struct IgnoresLastCoordinate(Box<dyn Indicator>);

impl Indicator for IgnoresLastCoordinate {
    fn name(&self) -> &str {
        "ignores_last_coordinate"
    }
    fn min_agents(&self) -> usize {
        self.0.min_agents()
    }
    fn forward(&self, z: Tensor<3>) -> aumann::Result<Tensor<1>> {
        let d = z.dims()[1];
        self.0.forward(z.narrow(1, 0, d - 1))
    }
}

fn dummy(backend: Backend) {
    let device = device(backend);
    runner(backend)
        .run(
            &(population(), 0usize..100, 0.5f64..3.0),
            |(x, pick, moved)| {
                let [_, n, d] = x.shape();
                let phi = run(&IgnoresLast, &x, &zero(&x), &device);
                prop_assert_eq!(phi.phi[n - 1], 0.0);
                // An agent that differs from the baseline only in a coordinate V ignores: its
                // x − b is not zero, so φ = 0 says the engine found ∂V/∂x = 0 there.
                prop_assume!(d >= 2);
                let i = pick % n;
                let b: Vec<f64> = (0..n * d).map(|idx| 0.5 + 0.1 * (idx % d) as f64).collect();
                let mut v: Vec<f64> = (0..n * d).map(|idx| x.get(0, idx / d, idx % d)).collect();
                v[i * d..(i + 1) * d].copy_from_slice(&b[i * d..(i + 1) * d]);
                v[i * d + d - 1] += moved;
                let x = Array3::from_f64([1, n, d], v);
                let base = Baseline::from_array(Array3::from_f64([1, n, d], b));
                for kind in Analytic::ALL {
                    let ind = IgnoresLastCoordinate(analytic(kind));
                    let phi = run(&ind, &x, &base, &device);
                    let scale = phi.phi.iter().fold(1e-300f64, |m, p| m.max(p.abs()));
                    prop_assert!(
                        phi.phi[i].abs() <= 1e-14 * scale,
                        "{kind:?}: φ_{i} = {} (max |φ| {scale})",
                        phi.phi[i]
                    );
                }
                Ok(())
            },
        )
        .unwrap();
}
backend_test!(dummy);

/// `a V₁ + c V₂` as one indicator.
struct Combination {
    parts: Vec<(f64, Box<dyn Indicator>)>,
}

impl Indicator for Combination {
    fn name(&self) -> &str {
        "combination"
    }
    fn min_agents(&self) -> usize {
        2
    }
    fn forward(&self, z: Tensor<3>) -> aumann::Result<Tensor<1>> {
        let mut sum = None;
        for (a, ind) in &self.parts {
            let term = ind.forward(z.clone())?.mul_scalar(*a);
            sum = Some(match sum {
                None => term,
                Some(s) => s + term,
            });
        }
        Ok(sum.unwrap())
    }
}

fn linearity(backend: Backend) {
    let device = device(backend);
    runner(backend)
        .run(
            &(
                population(),
                -2.0f64..2.0,
                -2.0f64..2.0,
                0usize..4,
                0usize..4,
            ),
            |(x, a, c, i, j)| {
                let (k1, k2) = (Analytic::ALL[i], Analytic::ALL[j]);
                let combo = Combination {
                    parts: vec![(a, analytic(k1)), (c, analytic(k2))],
                };
                let b = zero(&x);
                let both = run(&combo, &x, &b, &device);
                let p1 = run(analytic(k1).as_ref(), &x, &b, &device);
                let p2 = run(analytic(k2).as_ref(), &x, &b, &device);
                let expect: Vec<f64> = p1
                    .phi
                    .iter()
                    .zip(&p2.phi)
                    .map(|(u, v)| a * u + c * v)
                    .collect();
                let scale = p1
                    .phi
                    .iter()
                    .chain(&p2.phi)
                    .fold(1e-300f64, |m, p| m.max(p.abs()));
                for (g, e) in both.phi.iter().zip(&expect) {
                    prop_assert!(
                        (g - e).abs() <= 1e-11 * scale,
                        "{k1:?}·{a} + {k2:?}·{c}: {g} vs {e}"
                    );
                }
                Ok(())
            },
        )
        .unwrap();
}
backend_test!(linearity);
