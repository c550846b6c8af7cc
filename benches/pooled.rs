//! A pooled indicator written through the public API — as plain Rust over `Scalar`
//! (`PooledFn`) and as tensor programs (`Pooled`) — attributed by the pooled routes and, the
//! same function written as a plain `forward`, by the general autodiff route.
//!
//! ```sh
//! aumann synth --agents 1000000 --time-steps 14 --out x.npy
//! cargo bench --bench pooled -- x.npy [THREADS [ROUTE [BACKEND]]]   # GE(2) inequality index, mean baseline, m = 32, f32
//! python benches/pooled_jax.py x.npy                 # the same integral in JAX (jit)
//! ```
//!
//! Prints, per route, the seconds of attribution and the largest relative efficiency gap.

/// The allocator the command line uses (see its `main.rs`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::PathBuf;
use std::time::Instant;

use aumann::prelude::*;
use burn::tensor::Tensor;

/// The generalised-entropy inequality index GE(2) of the composite `c = Σ_k z_k`, half the
/// squared coefficient of variation: `GE(2) = (mean(c²)/c̄² − 1)/2`, pooled as
/// `ψ(z) = (c, c²)`, `ρ(s) = (s₂/s₁² − 1)/2`.
struct Ge2;

impl Pooled for Ge2 {
    fn name(&self) -> &str {
        "ge2"
    }
    fn psi(&self, z: Tensor<3>) -> Tensor<3> {
        let c = z.sum_dim(1); // [rows, 1, n]
        Tensor::cat(vec![c.clone(), c.clone() * c], 1)
    }
    fn rho(&self, p: Tensor<2>) -> Tensor<1> {
        let rows = p.dims()[0];
        let mean = p.clone().narrow(1, 0, 1);
        let square = p.narrow(1, 1, 1);
        (square / (mean.clone() * mean))
            .sub_scalar(1.0)
            .mul_scalar(0.5)
            .reshape([rows])
    }
}

/// The same index with ψ and ρ written once over any `Scalar`: the host route.
#[allow(dead_code)] // the variance is the formula benchmark's
#[path = "common/pooled_fns.rs"]
mod pooled_fns;
use pooled_fns::Ge2Fn;

/// The same index as one tensor program: what a user writes without the pooled form.
struct Ge2Forward;

impl Indicator for Ge2Forward {
    fn name(&self) -> &str {
        "ge2_forward"
    }
    fn forward(&self, z: Tensor<3>) -> aumann::Result<Tensor<1>> {
        let rows = z.dims()[0];
        let c = z.sum_dim(1); // [rows, 1, n]
        let mean = c.clone().mean_dim(2);
        let v = (c.clone() * c).mean_dim(2) / (mean.clone() * mean);
        Ok(v.sub_scalar(1.0).mul_scalar(0.5).reshape([rows]))
    }
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let Some(file) = args.first() else {
        eprintln!("usage: cargo bench --bench pooled -- X.npy [THREADS [ROUTE [BACKEND]]]");
        std::process::exit(2);
    };
    let threads: Option<usize> = args.get(1).and_then(|t| t.parse().ok());
    let (x, _) =
        aumann::run::read_features(&PathBuf::from(file)).expect("an [n, d] or [T, n, d] .npy file");
    let [t, n, d] = x.shape();
    let b = Baseline::resolve(&BaselineSpec::Mean, &x).unwrap();
    let options = PathOptions::default(); // midpoint, m = 32, f32
    // flex unless named (`wgpu` for the GPU's launches: see benches/dispatches.sh).
    let backend: Backend = args
        .get(3)
        .map_or(Backend::Flex, |b| b.parse().expect("a backend"));
    let device = backend.device().unwrap();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads.unwrap_or(0))
        .build()
        .unwrap();
    let routes: [(&str, &dyn Indicator); 3] = [
        ("pooled_fn", &PoolingFn::new(Ge2Fn)),
        ("pooled", &Pooling::new(Ge2)),
        ("general", &Ge2Forward),
    ];
    let only = args.get(2); // a route's name: run that one alone
    for (route, indicator) in routes {
        if only.is_some_and(|r| r != route) {
            continue;
        }
        let start = Instant::now();
        let phi =
            pool.install(|| path::attribute(indicator, &x, &b, &options, &device, &mut |_| {}));
        let seconds = start.elapsed().as_secs_f64();
        let phi = phi.unwrap();
        let gap = (phi.relative_efficiency_gap().into_iter().flatten()).fold(0.0f64, f64::max);
        let phases: Vec<String> = (phi.phases.iter())
            .map(|(phase, s)| format!("{phase}={s:.2}"))
            .collect();
        println!(
            "route={route} shape=[{t}, {n}, {d}] threads={} seconds={seconds:.2} rel_gap={gap:.1e} {}",
            pool.current_num_threads(),
            phases.join(" ")
        );
    }
}
