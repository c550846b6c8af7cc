//! Benchmarks that place aumann among the other attribution methods, on this machine:
//!
//! * [`synthetic_table`]: the ground-truth benchmark of SPEC §6 — three value functions with
//!   exact Aumann–Shapley values ([`synthetic`]), every method's MAE, cosine similarity,
//!   efficiency error, top-10 Kendall τ and wall time, averaged over seeds;
//! * [`scaling_table`]: wall time against `n` for every method on the synthetic heavy-tailed
//!   population, measured while a cell is predicted to fit a time budget and extrapolated
//!   from a power law fitted to the measured cells beyond it;
//! * [`ablations`]: integration-rule convergence, baseline robustness, path choice.

pub mod ablations;
pub mod synthetic;

use std::time::Instant;

use crate::coalition::{self, EXACT_MAX_PLAYERS, Incremental};
use crate::compare::{self, CompareOptions, Method};
use aumann_engine::array::Array3;
use aumann_engine::backend::{Backend, Precision};
use aumann_engine::baseline::{Baseline, BaselineSpec};
use aumann_engine::error::Result;
use aumann_engine::indicators::Analytic;
use aumann_engine::path::{self, PathOptions};
use aumann_engine::progress::Progress;
use synthetic::{Instance, Kind, QUADRATIC_MAX};

/// Accuracy of one method on one instance, against the truth.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Accuracy {
    /// Mean absolute error.
    pub mae: f64,
    /// Cosine similarity.
    pub cosine: f64,
    /// `|Σ φ − (V(x) − V(b))|`.
    pub efficiency_error: f64,
    /// Kendall τ between `|φ|` and `|φ_true|` on the truth's top-10 agents by `|φ_true|`.
    pub kendall_top10: f64,
    /// Seconds.
    pub seconds: f64,
}

/// Score `phi` against `truth`, given the macro change `change`.
pub fn accuracy(phi: &[f64], truth: &[f64], change: f64, seconds: f64) -> Accuracy {
    let n = truth.len() as f64;
    let mae = phi
        .iter()
        .zip(truth)
        .map(|(a, b)| (a - b).abs())
        .sum::<f64>()
        / n;
    let dot = phi.iter().zip(truth).map(|(a, b)| a * b).sum::<f64>();
    let norm = |v: &[f64]| v.iter().map(|a| a * a).sum::<f64>().sqrt();
    let cosine = dot / (norm(phi) * norm(truth));
    let mut top: Vec<usize> = (0..truth.len()).collect();
    top.sort_by(|&a, &b| truth[b].abs().total_cmp(&truth[a].abs()).then(a.cmp(&b)));
    top.truncate(10);
    Accuracy {
        mae,
        cosine,
        efficiency_error: (phi.iter().sum::<f64>() - change).abs(),
        kendall_top10: kendall_tau(
            &top.iter().map(|&i| phi[i].abs()).collect::<Vec<_>>(),
            &top.iter().map(|&i| truth[i].abs()).collect::<Vec<_>>(),
        ),
        seconds,
    }
}

/// Kendall's τ-a of two equally long lists (1 for fewer than two items).
pub fn kendall_tau(a: &[f64], b: &[f64]) -> f64 {
    let k = a.len();
    if k < 2 {
        return 1.0;
    }
    let mut s = 0.0;
    for i in 0..k {
        for j in i + 1..k {
            s += ((a[i] - a[j]) * (b[i] - b[j])).signum();
        }
    }
    s / (k * (k - 1) / 2) as f64
}

/// One row of the ground-truth table: a function, a size, a method, means over seeds.
#[derive(Clone, Debug)]
pub struct SyntheticRow {
    /// The function.
    pub kind: Kind,
    /// Agents.
    pub n: usize,
    /// The method.
    pub method: Method,
    /// Seeds averaged.
    pub seeds: usize,
    /// Mean accuracy over the seeds.
    pub mean: Accuracy,
}

/// Options of the ground-truth benchmark.
#[derive(Clone, Debug)]
pub struct SyntheticOptions {
    /// Sizes `n`.
    pub sizes: Vec<usize>,
    /// Features per agent.
    pub d: usize,
    /// Seeds per cell.
    pub seeds: usize,
    /// `K` of the sampled methods.
    pub samples: usize,
    /// Quadrature points of the path integral (midpoint, f64, ndarray backend).
    pub points: usize,
}

impl Default for SyntheticOptions {
    fn default() -> Self {
        Self {
            sizes: vec![10, 100, 1_000, 10_000],
            d: 3,
            seeds: 5,
            samples: 100,
            points: 32,
        }
    }
}

/// The methods of the ground-truth benchmark that are feasible at `n`.
pub fn synthetic_methods(n: usize) -> Vec<Method> {
    let mut m = vec![
        Method::AsPath,
        Method::Loo,
        Method::ShapleySampled,
        Method::BanzhafSampled,
    ];
    if n <= EXACT_MAX_PLAYERS {
        m.extend([Method::ShapleyExact, Method::BanzhafExact]);
    }
    m
}

/// Check every population size fits in memory: its features and a few working copies of them
/// in f64 (the methods' inputs, baselines and gradients).
fn check_sizes(sizes: &[usize], d: usize) -> Result<()> {
    for &n in sizes {
        aumann_engine::limits::allocation(&format!("a population of {n} agents"), &[8, n, d], 8)?;
    }
    Ok(())
}

/// Run the ground-truth benchmark.
///
/// # Errors
/// A backend that fails, bad sampling options.
pub fn synthetic_table(
    options: &SyntheticOptions,
    progress: &mut (dyn FnMut(Progress) + Send),
) -> Result<Vec<SyntheticRow>> {
    check_sizes(&options.sizes, options.d)?;
    aumann_engine::limits::seeds(options.seeds)?;
    let device = Backend::NdArray.device()?;
    let cells: Vec<(Kind, usize)> = Kind::ALL
        .iter()
        .flat_map(|&k| options.sizes.iter().map(move |&n| (k, n)))
        .filter(|&(k, n)| k != Kind::Quadratic || n * options.d <= QUADRATIC_MAX)
        .collect();
    let mut rows = Vec::new();
    for (c, &(kind, n)) in cells.iter().enumerate() {
        let methods = synthetic_methods(n);
        let mut sums = vec![Accuracy::default(); methods.len()];
        for seed in 0..options.seeds as u64 {
            let inst = Instance::new(kind, n, options.d, seed);
            let change = inst.value(&inst.x) - inst.value(&vec![0.0; n * options.d]);
            for (j, &method) in methods.iter().enumerate() {
                let start = Instant::now();
                let none = &mut |_| {};
                let phi = match method {
                    Method::AsPath => {
                        let x = Array3::from_f64([1, n, options.d], inst.x.clone());
                        let b = Baseline::resolve(&BaselineSpec::Zero, &x)?;
                        let opts = PathOptions {
                            points: options.points,
                            precision: Precision::F64,
                            ..PathOptions::default()
                        };
                        path::attribute(&inst, &x, &b, &opts, &device, &mut |_| {})?.phi
                    }
                    Method::Loo => coalition::leave_one_out(&inst)?.phi,
                    Method::ShapleySampled => {
                        coalition::shapley_sampled(&inst, options.samples, false, seed, none)?.phi
                    }
                    Method::BanzhafSampled => {
                        coalition::banzhaf_sampled(&inst, options.samples, seed, none)?.phi
                    }
                    Method::ShapleyExact => coalition::shapley_exact(&inst)?.phi,
                    Method::BanzhafExact => coalition::banzhaf_exact(&inst)?.phi,
                    _ => unreachable!("not in synthetic_methods"),
                };
                let a = accuracy(&phi, &inst.truth, change, start.elapsed().as_secs_f64());
                let s = &mut sums[j];
                s.mae += a.mae;
                s.cosine += a.cosine;
                s.efficiency_error += a.efficiency_error;
                s.kendall_top10 += a.kendall_top10;
                s.seconds += a.seconds;
            }
        }
        let k = options.seeds as f64;
        for (method, s) in methods.into_iter().zip(sums) {
            rows.push(SyntheticRow {
                kind,
                n,
                method,
                seeds: options.seeds,
                mean: Accuracy {
                    mae: s.mae / k,
                    cosine: s.cosine / k,
                    efficiency_error: s.efficiency_error / k,
                    kendall_top10: s.kendall_top10 / k,
                    seconds: s.seconds / k,
                },
            });
        }
        progress(Progress {
            done: c + 1,
            total: cells.len(),
        });
    }
    Ok(rows)
}

/// How a scaling cell was obtained.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Timed on this machine.
    Measured,
    /// Predicted from a power law fitted to the measured cells of the method.
    Extrapolated,
    /// The method cannot run at this size (exact enumeration above 20 players).
    Infeasible,
}

impl Status {
    /// Stable name.
    pub fn name(self) -> &'static str {
        match self {
            Status::Measured => "measured",
            Status::Extrapolated => "extrapolated",
            Status::Infeasible => "infeasible",
        }
    }
}

/// One cell of the scaling table.
#[derive(Clone, Debug)]
pub struct ScalingRow {
    /// Agents.
    pub n: usize,
    /// The method.
    pub method: Method,
    /// Seconds (measured or extrapolated).
    pub seconds: Option<f64>,
    /// How.
    pub status: Status,
}

/// Options of the scaling table.
#[derive(Clone, Debug)]
pub struct ScalingOptions {
    /// Sizes `n`, ascending.
    pub sizes: Vec<usize>,
    /// Methods.
    pub methods: Vec<Method>,
    /// The indicator.
    pub indicator: Analytic,
    /// Measure a cell only if it is predicted to take at most this many seconds.
    pub budget: f64,
    /// The methods' options (`K`, the path's `m`).
    pub compare: CompareOptions,
    /// Seed of the synthetic population.
    pub seed: u64,
}

impl Default for ScalingOptions {
    fn default() -> Self {
        Self {
            sizes: vec![10, 100, 1_000, 10_000, 100_000, 1_000_000],
            methods: Method::ALL.to_vec(),
            indicator: Analytic::Variance,
            budget: 30.0,
            compare: CompareOptions::default(),
            seed: 7,
        }
    }
}

/// Least-squares fit of `ln t = a + b ln n`; with one point, `b` from the method's
/// complexity.
fn power_law(points: &[(f64, f64)], default_exponent: f64) -> Option<(f64, f64)> {
    match points.len() {
        0 => None,
        1 => {
            let (n, t) = points[0];
            Some((t.ln() - default_exponent * n.ln(), default_exponent))
        }
        _ => {
            let k = points.len() as f64;
            let mx = points.iter().map(|p| p.0.ln()).sum::<f64>() / k;
            let my = points.iter().map(|p| p.1.ln()).sum::<f64>() / k;
            let sxy: f64 = points
                .iter()
                .map(|p| (p.0.ln() - mx) * (p.1.ln() - my))
                .sum();
            let sxx: f64 = points.iter().map(|p| (p.0.ln() - mx).powi(2)).sum();
            let b = sxy / sxx;
            Some((my - b * mx, b))
        }
    }
}

/// Time every method at every size: measure while the fitted power law predicts the cell
/// within the budget, extrapolate beyond.
///
/// # Errors
/// A method that fails where it is feasible.
pub fn scaling_table(
    options: &ScalingOptions,
    progress: &mut (dyn FnMut(Progress) + Send),
) -> Result<Vec<ScalingRow>> {
    check_sizes(&options.sizes, 3)?;
    let mut rows = Vec::new();
    let total = options.sizes.len() * options.methods.len();
    let mut measured: Vec<Vec<(f64, f64)>> = vec![Vec::new(); options.methods.len()];
    for (s, &n) in options.sizes.iter().enumerate() {
        let x = crate::synth::population(&crate::synth::SynthConfig {
            agents: n,
            steps: 1,
            seed: options.seed,
            ..crate::synth::SynthConfig::default()
        });
        let b = Baseline::resolve(&BaselineSpec::Zero, &x)?;
        for (j, &method) in options.methods.iter().enumerate() {
            let exponent = match method {
                Method::ShapleySampledPlain => 2.0,
                _ => 1.0,
            };
            let (seconds, status) = if matches!(method, Method::ShapleyExact | Method::BanzhafExact)
                && n > EXACT_MAX_PLAYERS
            {
                (None, Status::Infeasible)
            } else {
                let predicted =
                    power_law(&measured[j], exponent).map(|(a, b)| (a + b * (n as f64).ln()).exp());
                if predicted.is_some_and(|p| p > options.budget) {
                    (predicted, Status::Extrapolated)
                } else {
                    let run = compare::run(
                        method,
                        options.indicator,
                        &x,
                        &b,
                        &options.compare,
                        &mut |_| {},
                    )?;
                    let t = run.seconds.max(1e-9);
                    measured[j].push((n as f64, t));
                    (Some(t), Status::Measured)
                }
            };
            rows.push(ScalingRow {
                n,
                method,
                seconds,
                status,
            });
            progress(Progress {
                done: s * options.methods.len() + j + 1,
                total,
            });
        }
    }
    Ok(rows)
}

/// The exact game value change `V(x) − V(b)` of an analytic indicator on one step.
pub fn change(game: &impl Incremental) -> f64 {
    game.value(&game.full()) - game.value(&game.empty())
}

/// The ground-truth rows as CSV:
/// `function,n,method,seeds,mae,cosine,efficiency_error,kendall_top10,seconds`.
pub fn synthetic_csv(rows: &[SyntheticRow]) -> String {
    let mut out =
        String::from("function,n,method,seeds,mae,cosine,efficiency_error,kendall_top10,seconds\n");
    for r in rows {
        let a = &r.mean;
        out.push_str(&format!(
            "{},{},{},{},{:.6e},{:.9},{:.6e},{:.4},{:.6e}\n",
            r.kind.name(),
            r.n,
            r.method.name(),
            r.seeds,
            a.mae,
            a.cosine,
            a.efficiency_error,
            a.kendall_top10,
            a.seconds
        ));
    }
    out
}

/// The ground-truth rows as markdown: one table per function and size.
pub fn synthetic_markdown(rows: &[SyntheticRow]) -> String {
    let mut out = String::new();
    for kind in Kind::ALL {
        let mut sizes: Vec<usize> = rows
            .iter()
            .filter(|r| r.kind == kind)
            .map(|r| r.n)
            .collect();
        sizes.dedup();
        for n in sizes {
            out.push_str(&format!(
                "**{}**, n = {n} (mean over {} seeds)\n\n| method | MAE | cosine | efficiency error | top-10 Kendall τ | seconds |\n|---|---:|---:|---:|---:|---:|\n",
                kind.name(),
                rows.iter().find(|r| r.kind == kind).map_or(0, |r| r.seeds)
            ));
            for r in rows.iter().filter(|r| r.kind == kind && r.n == n) {
                let a = &r.mean;
                out.push_str(&format!(
                    "| {} | {:.2e} | {:.6} | {:.2e} | {:.3} | {:.2e} |\n",
                    r.method.name(),
                    a.mae,
                    a.cosine,
                    a.efficiency_error,
                    a.kendall_top10,
                    a.seconds
                ));
            }
            out.push('\n');
        }
    }
    out
}

/// The scaling rows as CSV: `n,method,seconds,status`.
pub fn scaling_csv(rows: &[ScalingRow]) -> String {
    let mut out = String::from("n,method,seconds,status\n");
    for r in rows {
        out.push_str(&format!(
            "{},{},{},{}\n",
            r.n,
            r.method.name(),
            r.seconds.map(|s| format!("{s:.6e}")).unwrap_or_default(),
            r.status.name()
        ));
    }
    out
}

/// The scaling rows as a markdown table (sizes down, methods across; `~` marks an
/// extrapolated cell), with the ratios of sampled Shapley to the Aumann–Shapley methods.
pub fn scaling_markdown(rows: &[ScalingRow]) -> String {
    let mut methods: Vec<Method> = Vec::new();
    for r in rows {
        if !methods.contains(&r.method) {
            methods.push(r.method);
        }
    }
    let mut sizes: Vec<usize> = rows.iter().map(|r| r.n).collect();
    sizes.dedup();
    let cell = |n: usize, m: Method| rows.iter().find(|r| r.n == n && r.method == m);
    let fmt = |r: Option<&ScalingRow>| match r {
        Some(ScalingRow {
            seconds: Some(s),
            status,
            ..
        }) => format!(
            "{}{}",
            if *status == Status::Extrapolated {
                "~"
            } else {
                ""
            },
            human_seconds(*s)
        ),
        Some(ScalingRow {
            status: Status::Infeasible,
            ..
        }) => "infeasible".into(),
        _ => "–".into(),
    };
    let mut out = String::from("| n |");
    for m in &methods {
        out.push_str(&format!(" {} |", m.name()));
    }
    let ratios = [
        (Method::ShapleySampled, Method::AsExact),
        (Method::ShapleySampledPlain, Method::AsExact),
        (Method::ShapleySampled, Method::AsPath),
        (Method::ShapleySampledPlain, Method::AsPath),
    ];
    let ratios: Vec<_> = ratios
        .into_iter()
        .filter(|(a, b)| methods.contains(a) && methods.contains(b))
        .collect();
    for (a, b) in &ratios {
        out.push_str(&format!(" {} / {} |", a.name(), b.name()));
    }
    out.push_str(&format!(
        "\n|---:|{}\n",
        "---:|".repeat(methods.len() + ratios.len())
    ));
    for n in sizes {
        out.push_str(&format!("| {n} |"));
        for &m in &methods {
            out.push_str(&format!(" {} |", fmt(cell(n, m))));
        }
        for &(a, b) in &ratios {
            let r = match (cell(n, a), cell(n, b)) {
                (Some(x), Some(y)) => match (x.seconds, y.seconds) {
                    (Some(p), Some(q)) => {
                        let approx = x.status != Status::Measured || y.status != Status::Measured;
                        format!("{}{:.1e}×", if approx { "~" } else { "" }, p / q)
                    }
                    _ => "–".into(),
                },
                _ => "–".into(),
            };
            out.push_str(&format!(" {r} |"));
        }
        out.push('\n');
    }
    out
}

fn human_seconds(s: f64) -> String {
    if s < 1e-3 {
        format!("{:.0} µs", s * 1e6)
    } else if s < 1.0 {
        format!("{:.1} ms", s * 1e3)
    } else if s < 3600.0 {
        format!("{s:.1} s")
    } else if s < 86400.0 * 2.0 {
        format!("{:.1} h", s / 3600.0)
    } else {
        format!("{:.0} d", s / 86400.0)
    }
}
