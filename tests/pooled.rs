//! The pooled route against the general autodiff route, on random ψ and ρ of several shapes.

use aumann::indicators::{DomainError, StraightPaths};
use aumann::prelude::*;
use burn::tensor::{DType, Tensor, TensorData};
use rand::{RngExt, SeedableRng};

use crate::common::stored_f32;

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

/// Theil's index with its domain checked: every composite on the path positive.
struct CheckedTheil;

impl Pooled for CheckedTheil {
    fn name(&self) -> &str {
        "checked_theil"
    }
    fn psi(&self, z: Tensor<3>) -> Tensor<3> {
        Theil.psi(z)
    }
    fn rho(&self, p: Tensor<2>) -> Tensor<1> {
        Theil.rho(p)
    }
    fn check_domain(&self, x: &Tensor<3>, b: &Tensor<3>) -> aumann::Result<Option<DomainError>> {
        // The lowest composite of each row, of x and of b (b may be one row for all).
        let lowest = |t: &Tensor<3>| {
            let m = t.clone().sum_dim(1).min_dim(2);
            m.into_data().try_into_vec_as::<f64>().unwrap()
        };
        let (x, b) = (lowest(x), lowest(b));
        let row = (0..x.len()).find(|&r| x[r] <= 0.0 || b[r.min(b.len() - 1)] <= 0.0);
        Ok(row.map(|row| DomainError {
            row,
            reason: "a composite is not positive".into(),
        }))
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

/// φ and the end values by `indicator`'s own route and the general autodiff route: the
/// largest difference relative to the largest |φ| (or |V|).
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
    assert!(general.phi.iter().any(|&v| v != 0.0));
    // The end values, relative to the largest |V| of either end (V(b) may be 0).
    let ends = |a: &aumann::attribution::Attribution| [a.v_x.clone(), a.v_b.clone()].concat();
    relative_gap(&pooled.phi, &general.phi).max(relative_gap(&ends(&pooled), &ends(&general)))
}

/// `Pooling`'s routes (on a host device: blocks read from the input as stored, f64 or f32;
/// and the tensor route, which every device takes) against the general autodiff route.
fn pooled_route_equals_autodiff(backend: Backend) {
    let shapes = [(1, 4, 1), (3, 8, 2), (3, 16, 5), (2, 5, 3)];
    for (case, &(d, h, k)) in shapes.iter().enumerate() {
        let x64 = population(3, 700, d, 10 + case as u64);
        let x32 = stored_f32(&x64);
        // Small blocks: several blocks of agents and of points.
        let indicator =
            Pooling::new(RandomPooled::new(d, h, k, case as u64)).with_block_elements(5000);
        let routes: [(&str, &dyn Indicator); 2] =
            [("own", &indicator), ("tensor", &TensorRoute(&indicator))];
        for ((route, indicator), (stored, x)) in routes
            .into_iter()
            .flat_map(|r| [(r, ("f64", &x64)), (r, ("f32", &x32))])
        {
            for spec in [BaselineSpec::Zero, BaselineSpec::Mean, BaselineSpec::First] {
                let b = Baseline::resolve(&spec, x).unwrap();
                let precisions: &[(Precision, f64)] = match backend {
                    Backend::Wgpu => &[(Precision::F32, 1e-6)],
                    _ => &[(Precision::F64, 1e-12), (Precision::F32, 1e-6)],
                };
                for &(precision, tolerance) in precisions {
                    let g = gap(indicator, x, &b, precision, backend);
                    assert!(
                        g <= tolerance,
                        "d={d} h={h} k={k} {spec:?} {stored} stored, {precision:?}, {route} \
                         route: off by {g:e} of the largest value"
                    );
                }
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

/// An indicator with its host route hidden: the engine takes its tensor route
/// (`integrated_gradient` on `[rows, d, n]` tensors).
struct TensorRoute<'a>(&'a dyn Indicator);

impl Indicator for TensorRoute<'_> {
    fn name(&self) -> &str {
        "tensor_route"
    }
    fn forward(&self, z: Tensor<3>) -> aumann::Result<Tensor<1>> {
        self.0.forward(z)
    }
    fn values(&self, z: &Tensor<3>, shape: [usize; 3], dtype: DType) -> aumann::Result<Vec<f64>> {
        self.0.values(z, shape, dtype)
    }
    fn check_domain(&self, x: &Tensor<3>, b: &Tensor<3>) -> aumann::Result<Option<DomainError>> {
        self.0.check_domain(x, b)
    }
    fn integrated_gradient(&self, paths: &StraightPaths) -> aumann::Result<Option<Tensor<3>>> {
        let StraightPaths {
            x,
            b,
            nodes,
            weights,
        } = *paths;
        self.0.integrated_gradient(&StraightPaths {
            x,
            b,
            nodes,
            weights,
        })
    }
}

/// The largest difference between `got` and `reference`, relative to the largest |value| of
/// `reference`.
fn relative_gap(got: &[f64], reference: &[f64]) -> f64 {
    let scale = reference.iter().fold(0.0f64, |s, v| s.max(v.abs()));
    let worst = got
        .iter()
        .zip(reference)
        .fold(0.0f64, |s, (a, r)| s.max((a - r).abs()));
    worst / scale
}

/// ψ and ρ as plain Rust over `Scalar` (dual numbers on packs of agents, on the host) give the
/// φ and the end values of the same functions as tensor programs through burn's autodiff, by
/// both of `PoolingFn`'s routes (the host route reading the input as stored, f64 or f32, and
/// the tensor route), for every baseline and shapes whose agents and coordinates leave
/// partial packs and direction chunks: every coordinate count up to 4 and pooled width up to
/// 4 (the fixed-size buffers), wider ψ and more coordinates (the general buffers), and agents
/// over several parallel tasks.
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
        let x32 = stored_f32(&x);
        let random = RandomPooled::new(d, h, k, case as u64);
        let tensors = Pooling::new(RandomPooled::new(d, h, k, case as u64));
        let host = PoolingFn::new(random);
        for spec in [BaselineSpec::Zero, BaselineSpec::Mean, BaselineSpec::First] {
            let run = |indicator: &dyn Indicator, x: &Array3, precision| {
                let b = Baseline::resolve(&spec, x).unwrap();
                let options = PathOptions {
                    points: 12,
                    precision,
                    rule: Rule::GaussLegendre,
                    ..PathOptions::default()
                };
                let device = Backend::Flex.device().unwrap();
                path::attribute(indicator, x, &b, &options, &device, &mut |_| {}).unwrap()
            };
            for (stored, x) in [("f64", &x), ("f32", &x32)] {
                let reference = run(&General(&tensors), x, Precision::F64);
                for (precision, tolerance) in [(Precision::F64, 1e-12), (Precision::F32, 1e-6)] {
                    let routes: [(&str, &dyn Indicator); 2] =
                        [("host", &host), ("tensor", &TensorRoute(&host))];
                    for (route, indicator) in routes {
                        let got = run(indicator, x, precision);
                        let what = format!(
                            "d={d} h={h} k={k} {spec:?} {stored} stored, {precision:?}, {route} route"
                        );
                        let phi = relative_gap(&got.phi, &reference.phi);
                        assert!(
                            phi <= tolerance,
                            "{what}: φ off by {phi:e} of the largest φ"
                        );
                        // The host route reads the ends as stored; the tensor route in the
                        // run's precision.
                        let exact = if route == "host" {
                            1e-11
                        } else {
                            tolerance.max(1e-11)
                        };
                        for (ends, r) in [(&got.v_x, &reference.v_x), (&got.v_b, &reference.v_b)] {
                            let v = relative_gap(ends, r);
                            assert!(v <= exact, "{what}: end values off by {v:e}");
                        }
                    }
                }
            }
        }
    }
}

/// A path leaving the domain is refused, naming its step, by both of `Pooling`'s routes: the
/// host route asks one block of agents at a time.
#[test]
fn pooled_routes_refuse_a_path_outside_the_domain() {
    let mut x = population(3, 5000, 2, 7);
    let [_, n, d] = x.shape();
    let values: Vec<f64> = (0..3 * n * d)
        .map(|i| match i == (2 * n + 4321) * d {
            true => -5.0, // step 2, agent 4321 (the second block)
            false => x.get(i / (n * d), i / d % n, i % d),
        })
        .collect();
    x = Array3::from_f64([3, n, d], values);
    let b = Baseline::resolve(&BaselineSpec::Mean, &x).unwrap();
    let checked = Pooling::new(CheckedTheil).with_block_elements(4096 * 2);
    let routes: [&dyn Indicator; 2] = [&checked, &TensorRoute(&checked)];
    for indicator in routes {
        let device = Backend::Flex.device().unwrap();
        let options = PathOptions::default();
        match path::attribute(indicator, &x, &b, &options, &device, &mut |_| {}) {
            Err(aumann::Error::Domain { step: 2, .. }) => {}
            other => panic!("{}: {other:?}", indicator.name()),
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
