//! The pooled route against the general autodiff route, on random ψ and ρ of several shapes.

use aumann::indicators::DomainError;
use aumann::prelude::*;
use burn::tensor::{Tensor, TensorData};
use rand::{RngExt, SeedableRng};

/// `ψ(z) = W₂ᵀ tanh(W₁ᵀ z + c₁)` (`d → h → k`) and `ρ(p) = Σ_l a_l ln(1 + (Mᵀ p)_l²) + eᵀp`, all
/// weights drawn from a seed.
struct RandomPooled {
    d: usize,
    h: usize,
    k: usize,
    w1: Vec<f64>,
    c1: Vec<f64>,
    w2: Vec<f64>,
    m: Vec<f64>,
    a: Vec<f64>,
    e: Vec<f64>,
}

impl RandomPooled {
    fn new(d: usize, h: usize, k: usize, seed: u64) -> Self {
        let mut rng = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(seed);
        let mut draw =
            |len: usize| -> Vec<f64> { (0..len).map(|_| rng.random_range(-1.0..1.0)).collect() };
        Self {
            w1: draw(d * h),
            c1: draw(h),
            w2: draw(h * k),
            m: draw(k * k),
            a: draw(k),
            e: draw(k),
            d,
            h,
            k,
        }
    }
}

/// A `[rows, cols]` constant like `like` (its device and dtype).
fn constant<const D: usize>(values: &[f64], shape: [usize; D], like: &Tensor<D>) -> Tensor<D> {
    Tensor::from_data(
        TensorData::new(values.to_vec(), shape),
        (&like.device(), like.dtype()),
    )
}

impl Pooled for RandomPooled {
    fn name(&self) -> &str {
        "random_pooled"
    }

    fn psi(&self, z: Tensor<3>) -> Tensor<3> {
        let [rows, _, n] = z.dims();
        let zt = z.swap_dims(1, 2); // [rows, n, d]
        let w1 = constant(&self.w1, [1, self.d, self.h], &zt);
        let c1 = constant(&self.c1, [1, 1, self.h], &zt);
        let w2 = constant(&self.w2, [1, self.h, self.k], &zt);
        let hidden = (zt.matmul(w1) + c1).tanh(); // [rows, n, h]
        let out = hidden.matmul(w2); // [rows, n, k]
        debug_assert_eq!(out.dims(), [rows, n, self.k]);
        out.swap_dims(1, 2)
    }

    fn rho(&self, p: Tensor<2>) -> Tensor<1> {
        let [rows, _] = p.dims();
        let m = constant(&self.m, [self.k, self.k], &p);
        let a = constant(&self.a, [self.k, 1], &p);
        let e = constant(&self.e, [self.k, 1], &p);
        let u = p.clone().matmul(m);
        let soft = (u.clone() * u).add_scalar(1.0).log();
        (soft.matmul(a) + p.matmul(e)).reshape([rows])
    }
}

/// The same ψ and ρ written once over any `Scalar`, for the host route.
impl PooledFn for RandomPooled {
    fn name(&self) -> &str {
        "random_pooled_fn"
    }
    fn pooled_width(&self) -> usize {
        self.k
    }
    fn psi<S: Scalar>(&self, z: &[S], out: &mut [S]) {
        let hidden: Vec<S> = (0..self.h)
            .map(|q| {
                let u = (0..self.d).fold(S::constant(self.c1[q]), |u, c| {
                    u + z[c] * self.w1[c * self.h + q]
                });
                u.tanh()
            })
            .collect();
        for (o, out) in out.iter_mut().enumerate() {
            *out = (0..self.h).fold(S::constant(0.0), |acc, q| {
                acc + hidden[q] * self.w2[q * self.k + o]
            });
        }
    }
    fn rho<S: Scalar>(&self, p: &[S]) -> S {
        (0..self.k).fold(S::constant(0.0), |acc, l| {
            let u = (0..self.k).fold(S::constant(0.0), |u, o| u + p[o] * self.m[o * self.k + l]);
            acc + (u * u + 1.0).ln() * self.a[l] + p[l] * self.e[l]
        })
    }
}

/// Theil's index of the composite: a pooled indicator with a domain (`c > 0`).
struct Theil;

impl Pooled for Theil {
    fn name(&self) -> &str {
        "theil"
    }
    fn psi(&self, z: Tensor<3>) -> Tensor<3> {
        let c = z.sum_dim(1);
        Tensor::cat(vec![c.clone(), c.clone() * c.log()], 1)
    }
    fn rho(&self, p: Tensor<2>) -> Tensor<1> {
        let rows = p.dims()[0];
        let mean = p.clone().narrow(1, 0, 1);
        (p.narrow(1, 1, 1) / mean.clone() - mean.log()).reshape([rows])
    }
    fn check_domain(&self, _x: &Tensor<3>, _b: &Tensor<3>) -> aumann::Result<Option<DomainError>> {
        Ok(None)
    }
}

/// The same indicator with only its `forward`: the engine's general autodiff route.
struct General<'a>(&'a dyn Indicator);

impl Indicator for General<'_> {
    fn name(&self) -> &str {
        "general"
    }
    fn forward(&self, z: Tensor<3>) -> aumann::Result<Tensor<1>> {
        self.0.forward(z)
    }
}

fn population(t: usize, n: usize, d: usize, seed: u64) -> Array3 {
    let mut rng = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(seed);
    let values = (0..t * n * d).map(|_| rng.random_range(0.2..2.0)).collect();
    Array3::from_f64([t, n, d], values)
}

/// φ by both routes; the largest difference relative to the largest |φ|.
fn gap(
    indicator: &dyn Indicator,
    x: &Array3,
    b: &Baseline,
    precision: Precision,
    backend: Backend,
) -> f64 {
    let device = backend.device().unwrap();
    let options = PathOptions {
        points: 12,
        precision,
        rule: Rule::GaussLegendre,
        ..PathOptions::default()
    };
    let pooled = path::attribute(indicator, x, b, &options, &device, &mut |_| {}).unwrap();
    let general =
        path::attribute(&General(indicator), x, b, &options, &device, &mut |_| {}).unwrap();
    let scale = general.phi.iter().fold(0.0f64, |s, v| s.max(v.abs()));
    assert!(scale > 0.0);
    let worst = pooled
        .phi
        .iter()
        .zip(&general.phi)
        .fold(0.0f64, |s, (p, g)| s.max((p - g).abs()));
    worst / scale
}

fn pooled_route_equals_autodiff(backend: Backend) {
    let shapes = [(1, 4, 1), (3, 8, 2), (3, 16, 5), (2, 5, 3)];
    for (case, &(d, h, k)) in shapes.iter().enumerate() {
        let x = population(3, 700, d, 10 + case as u64);
        let baselines = [
            Baseline::resolve(&BaselineSpec::Zero, &x).unwrap(),
            Baseline::resolve(&BaselineSpec::Mean, &x).unwrap(),
            Baseline::resolve(&BaselineSpec::First, &x).unwrap(),
        ];
        // Small blocks: several blocks of agents and of points.
        let indicator =
            Pooling::new(RandomPooled::new(d, h, k, case as u64)).with_block_elements(5000);
        for b in &baselines {
            let precisions: &[(Precision, f64)] = match backend {
                Backend::Wgpu => &[(Precision::F32, 1e-6)],
                _ => &[(Precision::F64, 1e-12), (Precision::F32, 1e-6)],
            };
            for &(precision, tolerance) in precisions {
                let g = gap(&indicator, &x, b, precision, backend);
                assert!(
                    g <= tolerance,
                    "d={d} h={h} k={k} {precision:?}: the routes differ by {g:e} of the largest φ"
                );
            }
        }
    }
    let x = population(2, 500, 3, 99);
    let b = Baseline::resolve(&BaselineSpec::Mean, &x).unwrap();
    let theil = Pooling::new(Theil).with_block_elements(3000);
    let precision = match backend {
        Backend::Wgpu => Precision::F32,
        _ => Precision::F64,
    };
    assert!(gap(&theil, &x, &b, precision, backend) <= 1e-6);
}

backend_test!(pooled_route_equals_autodiff);

/// ψ and ρ as plain Rust over `Scalar` (dual numbers on packs of agents, on the host) give the
/// φ of the same functions as tensor programs through burn's autodiff, for every baseline and
/// shapes whose agents and coordinates leave partial packs and direction chunks: every
/// coordinate count up to 4 and pooled width up to 4 (the fixed-size buffers), wider ψ and
/// more coordinates (the general buffers), and agents over several parallel tasks.
#[test]
fn pooled_fn_route_equals_autodiff() {
    let shapes = [
        (1, 4, 1, 701),
        (2, 5, 4, 701),
        (3, 8, 2, 9001),
        (4, 3, 3, 701),
        (2, 4, 6, 701),
        (5, 6, 3, 701),
        (9, 3, 2, 701),
    ];
    for (case, &(d, h, k, n)) in shapes.iter().enumerate() {
        let x = population(3, n, d, 20 + case as u64);
        let random = RandomPooled::new(d, h, k, case as u64);
        let tensors = Pooling::new(RandomPooled::new(d, h, k, case as u64));
        let host = PoolingFn::new(random);
        for spec in [BaselineSpec::Zero, BaselineSpec::Mean, BaselineSpec::First] {
            let b = Baseline::resolve(&spec, &x).unwrap();
            let run = |indicator: &dyn Indicator, precision| {
                let options = PathOptions {
                    points: 12,
                    precision,
                    rule: Rule::GaussLegendre,
                    ..PathOptions::default()
                };
                let device = Backend::Flex.device().unwrap();
                path::attribute(indicator, &x, &b, &options, &device, &mut |_| {}).unwrap()
            };
            let reference = run(&General(&tensors), Precision::F64);
            for (precision, tolerance) in [(Precision::F64, 1e-12), (Precision::F32, 1e-6)] {
                let got = run(&host, precision);
                let scale = reference.phi.iter().fold(0.0f64, |s, v| s.max(v.abs()));
                let worst = got
                    .phi
                    .iter()
                    .zip(&reference.phi)
                    .fold(0.0f64, |s, (a, r)| s.max((a - r).abs()));
                assert!(
                    worst <= tolerance * scale,
                    "d={d} h={h} k={k} {spec:?} {precision:?}: {:e} of the largest φ",
                    worst / scale
                );
            }
        }
    }
}

/// Efficiency of the pooled route against Theil's closed form, in f64.
#[test]
fn theil_attributions_add_up_to_the_index() {
    let x = population(2, 3000, 3, 5);
    let b = Baseline::resolve(&BaselineSpec::Mean, &x).unwrap();
    let options = PathOptions {
        points: 24,
        precision: Precision::F64,
        rule: Rule::GaussLegendre,
        ..PathOptions::default()
    };
    let device = Backend::Flex.device().unwrap();
    let phi =
        path::attribute(&Pooling::new(Theil), &x, &b, &options, &device, &mut |_| {}).unwrap();
    let [t, n, d] = x.shape();
    for step in 0..t {
        let c: Vec<f64> = (0..n)
            .map(|i| (0..d).map(|k| x.get(step, i, k)).sum())
            .collect();
        let mean = c.iter().sum::<f64>() / n as f64;
        let theil = c.iter().map(|c| c * c.ln()).sum::<f64>() / n as f64 / mean - mean.ln();
        let total: f64 = phi.phi[step * n..(step + 1) * n].iter().sum();
        assert!(
            (total - theil).abs() <= 1e-10 * theil.abs(),
            "step {step}: {total} vs {theil}"
        );
    }
}
