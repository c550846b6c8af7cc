//! Populations split into chunks of agents — over the processes or machines of a cluster — and
//! attributed chunk by chunk, only the population's statistics passing between chunks.
//!
//! ```text
//! exact forms  pass 1   Σ_{i ∈ chunk} x_ik, Σ_{i ∈ chunk} b_ik          (summed: n x̄_k, n b̄_k)
//!                       [gini: each agent's midrank in the population]
//!              pass 2   φ of the chunk from (n, x̄, b̄)                  (closed_form::attribute_chunk)
//! pooled       pass 1   s_j = Σ_{i ∈ chunk} ψ(b_i + α_j δ_i), and Σ ψ(x_i), Σ ψ(b_i)
//!              driver   p̄_j = Σ_chunks s_j / n,  g_j = w_j ∇ρ(p̄_j) / n,  V(x), V(b)
//!              pass 2   φ_i = Σ_j ⟨J_ψ(b_i + α_j δ_i) δ_i, g_j⟩        (PooledPasses::pull_back)
//! ```
//!
//! Each function takes one chunk `[T, n_chunk, d]` of a `[T, n, d]` population (every step,
//! some agents) and its baseline (shared, `[1 or T, 1, d]`, or the chunk's agents'
//! `[1 or T, n_chunk, d]`). Per step a pooled chunk sends `(m + 2) k` values and receives
//! `m k`; an exact chunk sends `2d` and receives `2d` (and, for the Gini, its agents' ranks).
//! A chunk's pass 2 is the same arithmetic as the whole population's, agent by agent, so the
//! chunks' `φ` are the single-process `φ` up to the order of the population sums.

use aumann_kernels::closed_form::{self, Analytic, Population};

use crate::array::{Array3, StepSlice};
use crate::backend::Precision;
use crate::baseline::Baseline;
use crate::error::{Error, Result};
use crate::indicators::{HostStep, Indicator, PooledPasses};

/// Step `t` of a chunk as the passes read it.
fn step<'a>(x: &'a Array3, b: &'a Baseline, t: usize) -> HostStep<'a> {
    let [_, n, d] = x.shape();
    HostStep {
        index: t,
        x: x.step(t),
        b: b.step(t),
        agents: n,
        dims: d,
    }
}

/// Refuse a baseline that does not fit the chunk `x`.
fn check_baseline(x: &Array3, b: &Baseline) -> Result<()> {
    let [t, n, d] = x.shape();
    let [tb, nb, db] = b.array().shape();
    if db != d || (tb != 1 && tb != t) || (nb != 1 && nb != n) {
        return Err(Error::Parameter {
            name: "baseline",
            value: format!("{:?}", [tb, nb, db]),
            reason: format!(
                "a chunk's baseline is [1 or {t}, 1 or {n}, {d}] for its features [{t}, {n}, {d}]"
            ),
        });
    }
    Ok(())
}

/// `Σ_{i ∈ chunk} x_ik` and `Σ_{i ∈ chunk} b_ik` of every step: `[T, 2, d]`, f64.
pub fn exact_sums(x: &Array3, b: &Baseline) -> Result<Vec<f64>> {
    check_baseline(x, b)?;
    let [steps, n, d] = x.shape();
    let mut out = Vec::with_capacity(steps * 2 * d);
    for t in 0..steps {
        let s = step(x, b, t);
        out.extend((0..d).map(|k| (0..n).map(|i| s.at(i, k).0).sum::<f64>()));
        match s.baseline_agents() {
            1 => out.extend(s.b.iter().map(|v| v * n as f64)),
            _ => out.extend((0..d).map(|k| (0..n).map(|i| s.at(i, k).1).sum::<f64>())),
        }
    }
    Ok(out)
}

/// Exact `φ` (`[T, n_chunk]`) of a chunk from its population's moments: `agents` in the whole
/// population, `means` `[T, 2, d]` (`x̄` then `b̄` of every step), and for the Gini each chunk
/// agent's midrank in its step's population (`[T, n_chunk]`).
///
/// # Errors
/// A baseline that does not fit; the closed form's ([`Error::Domain`] naming the step).
pub fn exact_phi(
    kind: Analytic,
    x: &Array3,
    b: &Baseline,
    agents: usize,
    means: &[f64],
    midranks: Option<&[f64]>,
) -> Result<Vec<f64>> {
    check_baseline(x, b)?;
    let [steps, n, d] = x.shape();
    let mut phi = vec![0.0; steps * n];
    for (t, out) in phi.chunks_exact_mut(n).enumerate() {
        let m = &means[t * 2 * d..(t + 1) * 2 * d];
        let population = Population {
            agents,
            x_means: &m[..d],
            b_means: &m[d..],
        };
        let baseline = match b.step(t) {
            shared if shared.len() == d => closed_form::Baseline::Shared(shared),
            rows => closed_form::Baseline::PerAgent(rows),
        };
        let ranks = midranks.map(|r| &r[t * n..(t + 1) * n]);
        let done = match x.step(t) {
            StepSlice::F32(v) => {
                closed_form::attribute_chunk(kind, v, d, baseline, population, ranks, out)
            }
            StepSlice::F64(v) => {
                closed_form::attribute_chunk(kind, v, d, baseline, population, ranks, out)
            }
        };
        done.map_err(|e| crate::exact::to_error(e, kind, t))?;
    }
    Ok(phi)
}

/// The pooled passes of `indicator`, or a refusal naming it.
fn passes(indicator: &dyn Indicator) -> Result<&dyn PooledPasses> {
    indicator.pooled_passes().ok_or_else(|| Error::Parameter {
        name: "indicator",
        value: indicator.name().into(),
        reason: "a population split into chunks is attributed by the exact forms of the \
                 analytic indicators or by the pooled passes of a pooled indicator \
                 ρ(mean ψ) (formulas, the built-in indices of that form, on a CPU backend); \
                 this indicator has neither"
            .into(),
    })
}

/// `k`, the number of means `indicator` pools.
///
/// # Errors
/// An indicator without pooled passes.
pub fn pooled_width(indicator: &dyn Indicator) -> Result<usize> {
    Ok(passes(indicator)?.width())
}

/// Pass 1 of the pooled route: `[T, m + 2, k]`, the chunk's sums of ψ at every node, then at
/// `x`, then at `b`.
///
/// # Errors
/// An indicator without pooled passes, a baseline that does not fit, a path outside the
/// indicator's domain.
pub fn pooled_sums(
    indicator: &dyn Indicator,
    x: &Array3,
    b: &Baseline,
    nodes: &[f64],
    precision: Precision,
) -> Result<Vec<f64>> {
    let passes = passes(indicator)?;
    check_baseline(x, b)?;
    let (k, m) = (passes.width(), nodes.len());
    let mut out = Vec::with_capacity(x.steps() * (m + 2) * k);
    for t in 0..x.steps() {
        let s = step(x, b, t);
        out.extend(passes.pool(&s, nodes, precision)?);
        let [at_x, at_b] = passes.pool_ends(&s)?;
        out.extend(at_x);
        out.extend(at_b);
    }
    Ok(out)
}

/// The driver's step of the pooled route, from the population's sums (`[T, m + 2, k]`, the
/// chunks' [`pooled_sums`] added) of `agents` agents: `[V(x), V(b)]` of every step (`[T, 2]`)
/// and the shared vectors `g_j = w_j ∇ρ(p̄_j) / n` (`[T, m, k]`). Where every agent shares
/// one baseline, `shared_baseline` gives it, and `V(b)` is `ρ(ψ(b))` exactly (the sums of
/// the chunks' copies of `ψ(b)`, divided by `n`, would round).
///
/// # Errors
/// An indicator without pooled passes; a value or gradient that is not finite (naming the
/// step).
pub fn pooled_shared(
    indicator: &dyn Indicator,
    sums: &[f64],
    agents: usize,
    weights: &[f64],
    shared_baseline: Option<&Baseline>,
) -> Result<(Vec<f64>, Vec<f64>)> {
    let passes = passes(indicator)?;
    let (k, m, n) = (passes.width(), weights.len(), agents as f64);
    let (mut values, mut shared) = (Vec::new(), Vec::new());
    for (t, sums) in sums.chunks_exact((m + 2) * k).enumerate() {
        let means: Vec<f64> = sums.iter().map(|s| s / n).collect();
        passes.check_population(t, &means[m * k..(m + 1) * k], &means[(m + 1) * k..])?;
        values.push(passes.rho(&means[m * k..(m + 1) * k]).0);
        values.push(match shared_baseline {
            Some(b) => {
                let point = b.step(t);
                let one = HostStep {
                    index: t,
                    x: StepSlice::F64(point),
                    b: point,
                    agents: 1,
                    dims: point.len(),
                };
                passes.rho(&passes.pool_ends(&one)?[0]).0
            }
            None => passes.rho(&means[(m + 1) * k..]).0,
        });
        for (j, &w) in weights.iter().enumerate() {
            let (_, gradient) = passes.rho(&means[j * k..(j + 1) * k]);
            shared.extend(gradient.iter().map(|g| g * w / n));
        }
        let undefined =
            (values[2 * t..].iter().chain(&shared[t * m * k..])).any(|v| !v.is_finite());
        if undefined {
            return Err(Error::Domain {
                indicator: indicator.name().into(),
                step: t,
                reason: "V or its gradient is not finite at the population's pooled means".into(),
            });
        }
    }
    Ok((values, shared))
}

/// Pass 2 of the pooled route: the chunk's `φ` (`[T, n_chunk]`) from the shared vectors of
/// [`pooled_shared`].
///
/// # Errors
/// An indicator without pooled passes, a baseline that does not fit, shared vectors of the
/// wrong length.
pub fn pooled_phi(
    indicator: &dyn Indicator,
    x: &Array3,
    b: &Baseline,
    nodes: &[f64],
    shared: &[f64],
    precision: Precision,
) -> Result<Vec<f64>> {
    let passes = passes(indicator)?;
    check_baseline(x, b)?;
    let [steps, n, _] = x.shape();
    let per_step = nodes.len() * passes.width();
    if shared.len() != steps * per_step {
        return Err(Error::Parameter {
            name: "shared",
            value: shared.len().to_string(),
            reason: format!("expected {steps} steps × {per_step} values"),
        });
    }
    let mut phi = vec![0.0; steps * n];
    for (t, out) in phi.chunks_exact_mut(n).enumerate() {
        let g = &shared[t * per_step..(t + 1) * per_step];
        passes.pull_back(&step(x, b, t), nodes, g, precision, out);
    }
    Ok(phi)
}
