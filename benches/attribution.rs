//! Criterion benches of the attribution methods on synthetic heavy-tailed populations.
//!
//! ```sh
//! cargo bench --bench attribution                 # everything below
//! cargo bench --bench attribution -- 'exact/'      # one group
//! ```
//!
//! `exact`: closed forms, n = 10² … 10⁶, T = 1 and 14. `path`: midpoint m = 32, f32, on flex
//! and ndarray, n = 10² … 10⁶ at T = 1 and n = 10² … 10⁵ at T = 14 (the T = 14, n = 10⁶
//! cells take seconds each: `benches/table.rs` times them).

/// The allocator the command line uses (see its `main.rs`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::hint::black_box;

use aumann::indicators::analytic;
use aumann::prelude::*;
use aumann::synth::{SynthConfig, population};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};

fn sizes() -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    for t in [1usize, 14] {
        for n in [100usize, 1_000, 10_000, 100_000, 1_000_000] {
            out.push((t, n));
        }
    }
    out
}

fn exact(c: &mut Criterion) {
    let mut group = c.benchmark_group("exact");
    group.sample_size(10);
    for (t, n) in sizes() {
        let x = population(&SynthConfig {
            agents: n,
            steps: t,
            ..SynthConfig::default()
        });
        let b = Baseline::resolve(&BaselineSpec::Zero, &x).unwrap();
        for kind in Analytic::ALL {
            group.bench_function(BenchmarkId::new(kind.name(), format!("T{t}xn{n}")), |bch| {
                bch.iter(|| black_box(aumann::exact::attribute(kind, black_box(&x), &b).unwrap()))
            });
        }
    }
    group.finish();
}

fn path(c: &mut Criterion) {
    let mut group = c.benchmark_group("path");
    group.sample_size(10);
    for backend in [Backend::Flex, Backend::NdArray] {
        let device = backend.device().unwrap();
        for (t, n) in sizes() {
            if t > 1 && n > 100_000 {
                continue;
            }
            let x = population(&SynthConfig {
                agents: n,
                steps: t,
                ..SynthConfig::default()
            });
            let b = Baseline::resolve(&BaselineSpec::Zero, &x).unwrap();
            for kind in Analytic::ALL {
                let ind = analytic(kind);
                let id = BenchmarkId::new(
                    format!("{}/{}", kind.name(), backend.name()),
                    format!("T{t}xn{n}"),
                );
                group.bench_function(id, |bch| {
                    bch.iter(|| {
                        black_box(
                            aumann::path::attribute(
                                ind.as_ref(),
                                &x,
                                &b,
                                &PathOptions::default(),
                                &device,
                                &mut |_| {},
                            )
                            .unwrap(),
                        )
                    })
                });
            }
        }
    }
    group.finish();
}

criterion_group!(benches, exact, path);
criterion_main!(benches);
