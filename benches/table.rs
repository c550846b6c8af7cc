//! The scaling table of `BENCHMARKS.md`: median wall time of exact and path attribution
//! (midpoint, m = 32, f32) for n = 10² … 10⁶ and T = 1, 14, on flex and ndarray.
//!
//! ```sh
//! cargo bench --bench table                       # the whole table (about 20 minutes on 2 cores)
//! cargo bench --bench table -- --max-n 100000 --reps 5 --backends flex --steps 1
//! ```
//!
//! Each cell is the median of `--reps` runs (1 run where n·T ≥ 10⁷), after one warm-up.

/// The allocator the command line uses (see its `main.rs`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use aumann::indicators::analytic;
use aumann::prelude::*;
use aumann::synth::{SynthConfig, population};

struct Opts {
    max_n: usize,
    reps: usize,
    backends: Vec<Backend>,
    steps: Vec<usize>,
}

fn parse() -> Opts {
    let mut o = Opts {
        max_n: 1_000_000,
        reps: 3,
        backends: vec![Backend::Flex, Backend::NdArray],
        steps: vec![1, 14],
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut val = || it.next().expect("option value").clone();
        match a.as_str() {
            "--max-n" => o.max_n = val().parse().unwrap(),
            "--reps" => o.reps = val().parse().unwrap(),
            "--backends" => o.backends = val().split(',').map(|b| b.parse().unwrap()).collect(),
            "--steps" => o.steps = val().split(',').map(|s| s.parse().unwrap()).collect(),
            _ => {} // cargo bench passes --bench
        }
    }
    o
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn time(reps: usize, mut f: impl FnMut() -> f64) -> f64 {
    f(); // warm-up
    median((0..reps).map(|_| f()).collect())
}

fn fmt(s: f64) -> String {
    if s < 1e-3 {
        format!("{:.0} µs", s * 1e6)
    } else if s < 1.0 {
        format!("{:.1} ms", s * 1e3)
    } else {
        format!("{:.2} s", s)
    }
}

fn main() {
    let o = parse();
    let mut columns = vec!["exact".to_string()];
    columns.extend(o.backends.iter().map(|b| format!("path {}", b.name())));
    println!("| T | n | indicator | {} |", columns.join(" | "));
    println!("|---:|---:|---|{}", "---:|".repeat(columns.len()));
    let devices: Vec<_> = o.backends.iter().map(|b| b.device().unwrap()).collect();
    for &t in &o.steps {
        let mut n = 100;
        while n <= o.max_n {
            let x = population(&SynthConfig {
                agents: n,
                steps: t,
                ..SynthConfig::default()
            });
            let b = Baseline::resolve(&BaselineSpec::Zero, &x).unwrap();
            let reps = if n * t >= 10_000_000 { 1 } else { o.reps };
            for kind in Analytic::ALL {
                let mut cells = vec![fmt(time(reps, || {
                    aumann::exact::attribute(kind, &x, &b).unwrap().seconds
                }))];
                let ind = analytic(kind);
                for device in &devices {
                    cells.push(fmt(time(reps, || {
                        let opts = PathOptions::default();
                        aumann::path::attribute(ind.as_ref(), &x, &b, &opts, device, &mut |_| {})
                            .unwrap()
                            .seconds
                    })));
                }
                println!("| {t} | {n} | {} | {} |", kind.name(), cells.join(" | "));
            }
            n *= 10;
        }
    }
    // Where the time goes: one run per indicator at the largest n, T = 1, first backend.
    let (backend, device) = (o.backends[0], &devices[0]);
    let x = population(&SynthConfig {
        agents: o.max_n,
        steps: 1,
        ..SynthConfig::default()
    });
    let b = Baseline::resolve(&BaselineSpec::Zero, &x).unwrap();
    println!();
    println!(
        "phases of one path run, n = {}, T = 1, {}:",
        o.max_n,
        backend.name()
    );
    println!();
    let mut header = false;
    for kind in Analytic::ALL {
        let run = || {
            let opts = PathOptions::default();
            aumann::path::attribute(analytic(kind).as_ref(), &x, &b, &opts, device, &mut |_| {})
                .unwrap()
        };
        run(); // warm-up
        let a = run();
        if !header {
            let names: Vec<_> = a.phases.iter().map(|p| p.0).collect();
            println!("| indicator | {} | total |", names.join(" | "));
            println!("|---|{}---:|", "---:|".repeat(names.len()));
            header = true;
        }
        let cells: Vec<_> = a.phases.iter().map(|p| fmt(p.1)).collect();
        let total: f64 = a.phases.iter().map(|p| p.1).sum();
        println!(
            "| {} | {} | {} |",
            kind.name(),
            cells.join(" | "),
            fmt(total)
        );
    }
}
