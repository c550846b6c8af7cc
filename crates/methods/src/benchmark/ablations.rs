//! Robustness sweeps of the Aumann–Shapley attribution itself:
//!
//! * **integration rules**: midpoint, trapezoid and Gauss–Legendre with `m = 1 … 128` points
//!   on `mult` (whose integrand is not polynomial), relative error
//!   `max_i |φ_i − φ_i^exact| / max_i |φ_i^exact|` against the closed form, and time;
//! * **baselines**: zero vs population mean vs first step ("pre-event") on a `[T, n, 3]`
//!   population, agents ranked by their total `Σ_t φ_{t,i}`: top-k Jaccard, Kendall τ (on a
//!   seeded sample of agents: τ is `O(k²)`), Spearman (all agents);
//! * **path choice**: the straight path against a coordinate-by-coordinate path that moves
//!   the agents from the baseline to their features one at a time in a random order (its
//!   path integral is that permutation's marginal contributions): Kendall τ and top-10
//!   overlap of the two rankings, per indicator, over several orders.

use std::time::Instant;

use aumann_kernels::rank::{jaccard, spearman, top_k};
use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;
use rand::seq::index;

use super::kendall_tau;
use crate::coalition;
use crate::compare;
use crate::synth::{SynthConfig, population};
use aumann_engine::array::Array3;
use aumann_engine::backend::{Backend, Precision};
use aumann_engine::baseline::{Baseline, BaselineSpec};
use aumann_engine::error::Result;
use aumann_engine::indicators::{self, Analytic};
use aumann_engine::path::{self, PathOptions, Rule};

/// One rule at one `m`.
#[derive(Clone, Debug)]
pub struct RuleRow {
    /// The rule.
    pub rule: Rule,
    /// Points.
    pub points: usize,
    /// Relative max error against the closed form.
    pub error: f64,
    /// Seconds.
    pub seconds: f64,
}

/// Integration-rule convergence on `mult` for `n` agents (one step, zero baseline, f64).
///
/// # Errors
/// A backend failure.
pub fn rule_convergence(n: usize, seed: u64) -> Result<Vec<RuleRow>> {
    let x = population(&SynthConfig {
        agents: n,
        steps: 1,
        seed,
        ..SynthConfig::default()
    });
    let b = Baseline::resolve(&BaselineSpec::Zero, &x)?;
    let exact = aumann_engine::exact::attribute(Analytic::Mult, &x, &b)?.phi;
    let scale = exact.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let device = Backend::NdArray.device()?;
    let indicator = indicators::analytic(Analytic::Mult);
    let mut rows = Vec::new();
    for rule in [Rule::Midpoint, Rule::Trapezoid, Rule::GaussLegendre] {
        for points in [1, 2, 4, 8, 16, 32, 64, 128] {
            if points < rule.min_points() {
                continue;
            }
            let options = PathOptions {
                rule,
                points,
                precision: Precision::F64,
                ..PathOptions::default()
            };
            let start = Instant::now();
            let a = path::attribute(indicator.as_ref(), &x, &b, &options, &device, &mut |_| {})?;
            let seconds = start.elapsed().as_secs_f64();
            let error = a
                .phi
                .iter()
                .zip(&exact)
                .map(|(p, e)| (p - e).abs())
                .fold(0.0, f64::max)
                / scale;
            rows.push(RuleRow {
                rule,
                points,
                error,
                seconds,
            });
        }
    }
    Ok(rows)
}

/// Two baselines compared.
#[derive(Clone, Debug)]
pub struct BaselineRow {
    /// The indicator.
    pub indicator: Analytic,
    /// The two baselines.
    pub pair: (&'static str, &'static str),
    /// Top-100 Jaccard.
    pub jaccard_100: f64,
    /// Top-1000 Jaccard.
    pub jaccard_1000: f64,
    /// Kendall τ on a sample of agents.
    pub kendall: f64,
    /// Spearman on all agents.
    pub spearman: f64,
}

fn sampled_kendall(a: &[f64], b: &[f64], sample: usize, seed: u64) -> f64 {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let idx = index::sample(&mut rng, a.len(), sample.min(a.len())).into_vec();
    kendall_tau(
        &idx.iter().map(|&i| a[i]).collect::<Vec<_>>(),
        &idx.iter().map(|&i| b[i]).collect::<Vec<_>>(),
    )
}

/// Baseline robustness on a `[steps, n, 3]` population: agent totals under the zero, mean
/// and first-step baselines, compared pairwise (exact attributions; the first step, where
/// the pre-event baseline gives zero, is included in every total).
///
/// # Errors
/// A closed-form failure.
pub fn baseline_robustness(n: usize, steps: usize, seed: u64) -> Result<Vec<BaselineRow>> {
    let x = population(&SynthConfig {
        agents: n,
        steps,
        seed,
        ..SynthConfig::default()
    });
    let mut rows = Vec::new();
    for indicator in [Analytic::Mult, Analytic::Variance] {
        let totals = |spec: BaselineSpec| -> Result<Vec<f64>> {
            let b = Baseline::resolve(&spec, &x)?;
            Ok(aumann_engine::exact::attribute(indicator, &x, &b)?.agent_totals())
        };
        let runs = [
            ("zero", totals(BaselineSpec::Zero)?),
            ("mean", totals(BaselineSpec::Mean)?),
            ("first", totals(BaselineSpec::First)?),
        ];
        for (i, j) in [(0, 1), (0, 2), (1, 2)] {
            let (a, b) = (&runs[i].1, &runs[j].1);
            rows.push(BaselineRow {
                indicator,
                pair: (runs[i].0, runs[j].0),
                jaccard_100: jaccard(&top_k(a, 100), &top_k(b, 100)),
                jaccard_1000: jaccard(&top_k(a, 1000), &top_k(b, 1000)),
                kendall: sampled_kendall(a, b, 2000, seed),
                spearman: spearman(a, b),
            });
        }
    }
    Ok(rows)
}

/// Straight path against agent-by-agent paths.
#[derive(Clone, Debug)]
pub struct PathRow {
    /// The indicator.
    pub indicator: Analytic,
    /// Random orders averaged.
    pub orders: usize,
    /// Mean Kendall τ (on a sample of agents) between the two rankings.
    pub kendall: f64,
    /// Mean overlap of the two top-10 sets (fraction of 10).
    pub top10_overlap: f64,
}

/// Path-choice ablation on one step of `n` agents, zero baseline.
///
/// # Errors
/// A closed-form failure.
pub fn path_choice(n: usize, orders: usize, seed: u64) -> Result<Vec<PathRow>> {
    let x: Array3 = population(&SynthConfig {
        agents: n,
        steps: 1,
        seed,
        ..SynthConfig::default()
    });
    let b = Baseline::resolve(&BaselineSpec::Zero, &x)?;
    let mut rows = Vec::new();
    for indicator in Analytic::ALL {
        let straight = aumann_engine::exact::attribute(indicator, &x, &b)?.phi;
        let game = compare::game(indicator, &x, &b)?;
        let (mut tau, mut overlap) = (0.0, 0.0);
        for o in 0..orders as u64 {
            // One permutation's marginal contributions: the agent-by-agent path integral.
            let staircase = coalition::shapley_sampled(&game, 1, false, seed ^ o, &mut |_| {})?.phi;
            tau += sampled_kendall(&straight, &staircase, 2000, seed + o);
            let (ta, tb) = (top_k(&straight, 10), top_k(&staircase, 10));
            overlap += ta.iter().filter(|i| tb.contains(i)).count() as f64 / 10.0;
        }
        rows.push(PathRow {
            indicator,
            orders,
            kendall: tau / orders as f64,
            top10_overlap: overlap / orders as f64,
        });
    }
    Ok(rows)
}

/// The three sweeps as markdown.
pub fn markdown(rules: &[RuleRow], baselines: &[BaselineRow], paths: &[PathRow]) -> String {
    use aumann_report::markdown::{Align::*, Table};
    let mut t = Table::new(&[
        ("rule", Left),
        ("m", Right),
        ("error", Right),
        ("seconds", Right),
    ]);
    for r in rules {
        t.row([
            r.rule.name().to_string(),
            r.points.to_string(),
            format!("{:.2e}", r.error),
            format!("{:.3}", r.seconds),
        ]);
    }
    let mut out = format!(
        "**Integration rules** on `mult` (relative max error against the closed form; f64)\n\n{t}"
    );
    let mut t = Table::new(&[
        ("indicator", Left),
        ("pair", Left),
        ("top-100 Jaccard", Right),
        ("top-1000 Jaccard", Right),
        ("Kendall τ", Right),
        ("Spearman", Right),
    ]);
    for r in baselines {
        t.row([
            r.indicator.name().to_string(),
            format!("{} vs {}", r.pair.0, r.pair.1),
            format!("{:.3}", r.jaccard_100),
            format!("{:.3}", r.jaccard_1000),
            format!("{:.3}", r.kendall),
            format!("{:.3}", r.spearman),
        ]);
    }
    out += &format!("\n**Baselines** (agent totals over all steps)\n\n{t}");
    let mut t = Table::new(&[
        ("indicator", Left),
        ("orders", Right),
        ("Kendall τ", Right),
        ("top-10 overlap", Right),
    ]);
    for r in paths {
        t.row([
            r.indicator.name().to_string(),
            r.orders.to_string(),
            format!("{:.3}", r.kendall),
            format!("{:.2}", r.top10_overlap),
        ]);
    }
    out += &format!(
        "\n**Path choice**: straight path vs agent-by-agent path in a random order\n\n{t}"
    );
    out
}
