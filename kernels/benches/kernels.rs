//! Criterion benches of the closed forms and the building blocks they use.
//!
//! `cargo bench -p aumann-kernels`

use std::hint::black_box;

use aumann_kernels::closed_form::{Analytic, Baseline, attribute};
use aumann_kernels::{dense, quadrature, rank, sum};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};

/// Heavy-tailed `ln(1 + count)` features, deterministic.
fn features(n: usize, d: usize) -> Vec<f32> {
    let mut s = 0x9E37_79B9_7F4A_7C15u64;
    (0..n * d)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            let u = ((s >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
            (u.powf(-1.0 / 1.2) - 1.0).ln_1p() as f32
        })
        .collect()
}

fn closed_forms(c: &mut Criterion) {
    let mut group = c.benchmark_group("closed_form");
    group.sample_size(20);
    for n in [100usize, 10_000, 1_000_000] {
        let x = features(n, 3);
        let mut out = vec![0.0; n];
        for ind in Analytic::ALL {
            group.bench_with_input(BenchmarkId::new(ind.name(), n), &n, |bch, _| {
                bch.iter(|| {
                    attribute(ind, black_box(&x), 3, Baseline::Shared(&[0.0; 3]), &mut out)
                        .unwrap();
                    black_box(out[0])
                })
            });
        }
    }
    group.finish();
}

fn building_blocks(c: &mut Criterion) {
    let mut group = c.benchmark_group("blocks");
    group.sample_size(20);
    let n = 1_000_000;
    let x: Vec<f64> = features(n, 1).into_iter().map(f64::from).collect();
    group.bench_function("pairwise_sum/1000000", |b| {
        b.iter(|| sum::pairwise(black_box(&x)))
    });
    group.bench_function("midranks/1000000", |b| {
        b.iter(|| rank::midranks(black_box(&x)))
    });
    group.bench_function("gauss_legendre/64", |b| {
        b.iter(|| quadrature::gauss_legendre(black_box(64)))
    });
    // The J_k integrals of mult with a non-zero baseline.
    group.bench_function("mult_path_factors/d3", |b| {
        b.iter(|| {
            aumann_kernels::closed_form::mult_path_factors(
                black_box(&[2.0, 1.5, 0.7]),
                black_box(&[0.25, 0.25, 0.25]),
            )
        })
    });
    group.finish();
}

/// The products of a DeepSet's hidden layers on one block of agent-points (256 rows, as the
/// host route's blocks): forward `C += A W` and backward `C = (A Wᵀ) ⊙ S`, f32, in GFLOP/s.
fn dense_products(c: &mut Criterion) {
    let mut group = c.benchmark_group("dense");
    group.sample_size(30);
    let rows = 256;
    for width in [32usize, 64] {
        let a = features(rows * width, 1);
        let w = features(width * width, 1);
        let scale = features(rows * width, 1);
        let mut out = vec![0.0f32; rows * width];
        let flops = (2 * rows * width * width) as u64;
        group.throughput(criterion::Throughput::Elements(flops));
        group.bench_function(BenchmarkId::new("matmul_acc_f32", width), |b| {
            b.iter(|| {
                dense::matmul_acc([rows, width, width], black_box(&a), &w, &mut out);
                black_box(out[0])
            })
        });
        group.bench_function(BenchmarkId::new("matmul_scaled_f32", width), |b| {
            b.iter(|| {
                dense::matmul_scaled([rows, width, width], black_box(&a), &w, &scale, &mut out);
                black_box(out[0])
            })
        });
    }
    group.finish();
}

criterion_group!(benches, closed_forms, building_blocks, dense_products);
criterion_main!(benches);
