//! The result of an attribution run: `φ_{t,i}` for every step and agent, the indicator's
//! values at both ends of the path, and the efficiency gap.
//!
//! ```text
//! δ_t  = Σ_i φ_{t,i} − (V(x_t) − V(b_t))              efficiency gap
//! φ̃_{t,i} = φ_{t,i} / Σ_j φ_{t,j}                      share (undefined where V(x_t) = V(b_t))
//! ```

use aumann_kernels::sum::pairwise;

use crate::backend::Precision;
use crate::error::{Error, Result};

/// A relative efficiency gap `|Σ_i φ_{t,i} − (V(x_t) − V(b_t))| / |V(x_t) − V(b_t)|` above
/// this is reported: the quadrature has not converged, and per-agent values may be off by more
/// than the total shows (the tolerances of a converged run are far below it).
pub const EFFICIENCY_WARNING: f64 = 1e-3;

/// One line for every step whose relative gap in `gaps` (one per step, `None` where the macro
/// change is zero) exceeds [`EFFICIENCY_WARNING`]: the step, the gap and the remedy.
pub fn efficiency_warnings(gaps: &[Option<f64>]) -> Vec<String> {
    (gaps.iter().enumerate())
        .filter_map(|(t, g)| {
            g.filter(|g| *g > EFFICIENCY_WARNING || g.is_nan())
                .map(|g| (t, g))
        })
        .map(|(t, g)| {
            format!(
                "step {t}: the attributions miss V(x) − V(b) by {g:.2e} of it (more than \
                 {EFFICIENCY_WARNING:e}); use more quadrature points or the Gauss–Legendre rule, \
                 or an indicator's exact route where it has one"
            )
        })
        .collect()
}

/// `Σ_t φ_{t,i}` per agent of a row-major `[T, n]` array `phi` of `agents` columns (steps in
/// order for every agent, so the result does not depend on the thread count).
pub fn agent_totals(phi: &[f64], agents: usize) -> Vec<f64> {
    use rayon::prelude::*;
    let steps = phi.len() / agents.max(1);
    (0..agents)
        .into_par_iter()
        .map(|i| (0..steps).map(|t| phi[t * agents + i]).sum())
        .collect()
}

/// The index of the first value of `v` that is NaN or infinite.
pub fn first_non_finite(v: &[f64]) -> Option<usize> {
    use rayon::prelude::*;
    const CHUNK: usize = 1 << 16;
    let c = v
        .par_chunks(CHUNK)
        .position_first(|c| c.iter().any(|x| !x.is_finite()))?;
    let start = c * CHUNK;
    v[start..]
        .iter()
        .position(|x| !x.is_finite())
        .map(|i| start + i)
}

/// Per-agent, per-step attributions with their efficiency bookkeeping.
#[derive(Clone, Debug, PartialEq)]
pub struct Attribution {
    /// Number of steps `T`.
    pub steps: usize,
    /// Number of agents `n`.
    pub agents: usize,
    /// `φ`, row-major `[T, n]`; values computed in `f32` are exactly representable in `f32`.
    pub phi: Vec<f64>,
    /// `V(x_t)` per step.
    pub v_x: Vec<f64>,
    /// `V(b_t)` per step.
    pub v_b: Vec<f64>,
    /// Precision of the computation.
    pub precision: Precision,
    /// Seconds spent computing `φ` (no file I/O; the evaluations of `V(x)` and `V(b)` for the
    /// efficiency check are not included).
    pub seconds: f64,
    /// Wall time by phase of the computation, in the order the phases run.
    pub phases: Vec<(&'static str, f64)>,
}

impl Attribution {
    /// The attributions of consecutive runs over the same agents, one after the other: their
    /// steps in order, their times and phases added.
    ///
    /// # Panics
    /// If `parts` is empty or the agent counts differ.
    pub fn concat(parts: Vec<Attribution>) -> Attribution {
        let mut it = parts.into_iter();
        let mut all = it
            .next()
            .unwrap_or_else(|| unreachable!("at least one part"));
        for p in it {
            assert_eq!(
                p.agents, all.agents,
                "attributions of different populations"
            );
            all.steps += p.steps;
            all.phi.extend(p.phi);
            all.v_x.extend(p.v_x);
            all.v_b.extend(p.v_b);
            all.seconds += p.seconds;
            for (phase, s) in p.phases {
                match all.phases.iter_mut().find(|q| q.0 == phase) {
                    Some(q) => q.1 += s,
                    None => all.phases.push((phase, s)),
                }
            }
        }
        all
    }

    /// Check that every `φ`, `V(x)` and `V(b)` of `indicator`'s attribution is finite.
    ///
    /// # Errors
    /// [`Error::Overflow`] naming the first value that is not, its step and agent.
    pub fn check_finite(&self, indicator: &str) -> Result<()> {
        let overflow = |what: &str, place: String, value: f64| Error::Overflow {
            what: format!("indicator '{indicator}': {what}"),
            place,
            value,
            precision: self.precision,
        };
        for (what, values) in [("V(x)", &self.v_x), ("V(b)", &self.v_b)] {
            if let Some(t) = values.iter().position(|v| !v.is_finite()) {
                return Err(overflow(what, format!("step {t}"), values[t]));
            }
        }
        if let Some(at) = first_non_finite(&self.phi) {
            let (t, i) = (at / self.agents.max(1), at % self.agents.max(1));
            return Err(overflow("φ", format!("step {t}, agent {i}"), self.phi[at]));
        }
        Ok(())
    }

    /// `φ_{t,·}`.
    pub fn step(&self, t: usize) -> &[f64] {
        &self.phi[t * self.agents..(t + 1) * self.agents]
    }

    /// `Σ_i φ_{t,i}` per step (pairwise sum in `f64`).
    pub fn totals(&self) -> Vec<f64> {
        (0..self.steps).map(|t| pairwise(self.step(t))).collect()
    }

    /// `Σ_t φ_{t,i}` per agent: each agent's attribution over the whole run.
    pub fn agent_totals(&self) -> Vec<f64> {
        agent_totals(&self.phi, self.agents)
    }

    /// The efficiency gap `δ_t = Σ_i φ_{t,i} − (V(x_t) − V(b_t))` per step.
    pub fn efficiency_gap(&self) -> Vec<f64> {
        self.totals()
            .iter()
            .enumerate()
            .map(|(t, s)| s - (self.v_x[t] - self.v_b[t]))
            .collect()
    }

    /// `|δ_t| / |V(x_t) − V(b_t)|` per step; `None` where the macro change is zero.
    pub fn relative_efficiency_gap(&self) -> Vec<Option<f64>> {
        self.efficiency_gap()
            .iter()
            .enumerate()
            .map(|(t, g)| {
                let dv = self.v_x[t] - self.v_b[t];
                (!self.change_is_zero(t)).then(|| (g / dv).abs())
            })
            .collect()
    }

    /// A warning for every step whose relative efficiency gap exceeds
    /// [`EFFICIENCY_WARNING`] (see [`efficiency_warnings`]).
    pub fn efficiency_warnings(&self) -> Vec<String> {
        efficiency_warnings(&self.relative_efficiency_gap())
    }

    /// Whether `V(x_t) = V(b_t)` to within the rounding of the computation's precision.
    pub fn change_is_zero(&self, t: usize) -> bool {
        let scale = self.v_x[t].abs().max(self.v_b[t].abs());
        (self.v_x[t] - self.v_b[t]).abs() <= 100.0 * self.precision.epsilon() * scale
    }

    /// The within-step shares `φ̃_{t,i} = φ_{t,i} / Σ_j φ_{t,j}`, row-major `[T, n]`.
    ///
    /// # Errors
    /// [`Error::UndefinedShare`] for the first step where `V(x_t) = V(b_t)`.
    pub fn shares(&self) -> Result<Vec<f64>> {
        let totals = self.totals();
        let mut out = Vec::with_capacity(self.phi.len());
        for (t, total) in totals.iter().enumerate() {
            if self.change_is_zero(t) || *total == 0.0 {
                return Err(Error::UndefinedShare {
                    step: t,
                    v_x: self.v_x[t],
                    v_b: self.v_b[t],
                });
            }
            out.extend(self.step(t).iter().map(|p| p / total));
        }
        Ok(out)
    }
}
