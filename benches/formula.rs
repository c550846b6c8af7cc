//! Formula indicators against the same indicators written in Rust: the built-in `variance`
//! (its integral in closed form along the path), and `PooledFn`s whose ψ and ρ are compiled
//! Rust (the host route with the user's code inlined), each beside the formula that restates
//! it (the same host route, ψ and ρ interpreted from the formula's tree).
//!
//! ```sh
//! aumann synth --agents 1000000 --time-steps 4 --out x.npy
//! cargo bench --bench formula -- x.npy [ROUNDS [THREADS [ONLY]]]   # mean baseline, m = 32, f32, flex
//! ```
//!
//! Prints, per round and indicator, the seconds of attribution of each form, the formula's
//! time over the Rust form's, and the largest relative efficiency gap; then the medians. `ONLY`
//! runs the pairs whose label contains it (`ge2`, `share`, `built-in`).

/// The allocator the command line uses (see its `main.rs`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::PathBuf;
use std::time::Instant;

use aumann::indicators::IndicatorSpec;
use aumann::prelude::*;

#[path = "common/pooled_fns.rs"]
mod pooled_fns;
use pooled_fns::{Ge2Fn, VarianceFn};

/// The smoothed share of agents whose composite is below 2.5 (a step of width 0.5).
struct ShareFn;

impl PooledFn for ShareFn {
    fn name(&self) -> &str {
        "share_fn"
    }
    fn pooled_width(&self) -> usize {
        1
    }
    #[inline(always)]
    fn psi<S: Scalar>(&self, z: &[S], out: &mut [S]) {
        let c = z.iter().fold(S::constant(0.0), |c, &v| c + v);
        out[0] = ((S::constant(2.5) - c) / 0.5).sigmoid();
    }
    fn rho<S: Scalar>(&self, p: &[S]) -> S {
        p[0]
    }
}

/// A formula indicator as the registry builds it on `device` for `d` features.
fn formula(text: &str, device: &burn::tensor::Device, d: usize) -> Box<dyn Indicator> {
    let spec = IndicatorSpec::formula(text.parse().expect("a formula"));
    spec.build(device, d, Precision::F32)
        .expect("a formula that compiles")
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let Some(file) = args.first() else {
        eprintln!("usage: cargo bench --bench formula -- X.npy [ROUNDS [THREADS [ONLY]]]");
        std::process::exit(2);
    };
    let rounds: usize = args.get(1).and_then(|r| r.parse().ok()).unwrap_or(3);
    let threads: usize = args.get(2).and_then(|t| t.parse().ok()).unwrap_or(0);
    let only = args.get(3).map_or("", String::as_str);
    let (x, _) =
        aumann::run::read_features(&PathBuf::from(file)).expect("an [n, d] or [T, n, d] .npy file");
    let [t, n, d] = x.shape();
    let b = Baseline::resolve(&BaselineSpec::Mean, &x).unwrap();
    let options = PathOptions::default(); // midpoint, m = 32, f32
    let device = Backend::Flex.device().unwrap();
    let builtin = IndicatorSpec::analytic(Analytic::Variance)
        .build(&device, d, Precision::F32)
        .unwrap();
    let all: [(&str, &dyn Indicator, Box<dyn Indicator>); 4] = [
        (
            "variance vs built-in",
            builtin.as_ref(),
            formula("psi: c, c^2; rho: m1 - m0^2", &device, d),
        ),
        (
            "variance vs PooledFn",
            &PoolingFn::new(VarianceFn),
            formula("psi: c, c^2; rho: m1 - m0^2", &device, d),
        ),
        (
            "ge2 vs PooledFn",
            &PoolingFn::new(Ge2Fn),
            formula("psi: c, c^2; rho: (m1 / m0^2 - 1) / 2", &device, d),
        ),
        (
            "share vs PooledFn",
            &PoolingFn::new(ShareFn),
            formula("psi: sigmoid((2.5 - c) / 0.5); rho: m0", &device, d),
        ),
    ];
    let pairs: Vec<_> = all.into_iter().filter(|p| p.0.contains(only)).collect();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    let time = |indicator: &dyn Indicator| {
        let start = Instant::now();
        let phi =
            pool.install(|| path::attribute(indicator, &x, &b, &options, &device, &mut |_| {}));
        let seconds = start.elapsed().as_secs_f64();
        let gap = (phi.unwrap().relative_efficiency_gap().into_iter().flatten())
            .fold(0.0f64, |g, v| g.max(v.abs()));
        (seconds, gap)
    };
    println!(
        "shape=[{t}, {n}, {d}] threads={} rounds={rounds}",
        pool.current_num_threads()
    );
    let mut seconds = vec![[Vec::new(), Vec::new()]; pairs.len()];
    for round in 0..rounds {
        for (p, (label, rust, text)) in pairs.iter().enumerate() {
            let (rust_s, rust_gap) = time(*rust);
            let (formula_s, formula_gap) = time(text.as_ref());
            seconds[p][0].push(rust_s);
            seconds[p][1].push(formula_s);
            println!(
                "round={round} {label}: rust={rust_s:.3} s formula={formula_s:.3} s \
                 ratio={:.2} rel_gap rust={rust_gap:.1e} formula={formula_gap:.1e}",
                formula_s / rust_s
            );
        }
    }
    for ((label, ..), [rust, formula]) in pairs.iter().zip(&mut seconds) {
        let (rust, formula) = (median(rust), median(formula));
        println!(
            "median {label}: rust={rust:.3} s formula={formula:.3} s ratio={:.2}",
            formula / rust
        );
    }
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}
