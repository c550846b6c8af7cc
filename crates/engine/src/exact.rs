//! Exact attributions of the four analytic indicators, from their closed forms.
//!
//! The formulas live in [`aumann_kernels::closed_form`] (plain slices, `f64`, multithreaded);
//! this module runs them step by step over a `[T, n, d]` array and a [`Baseline`]. They are the
//! fast path for the analytic indicators and the oracle that checks the engine.

use std::time::Instant;

use aumann_kernels::closed_form::{self, Analytic, ClosedFormError};
use rayon::prelude::*;

use crate::array::{Array3, StepSlice};
use crate::attribution::Attribution;
use crate::backend::Precision;
use crate::baseline::Baseline;
use crate::error::{Error, Result};

/// Exact attributions of `indicator` on `features` from `baseline`, computed in `f64`.
///
/// [`Attribution::seconds`] times the computation of `φ`; `V(x)` and `V(b)`, evaluated
/// independently for the efficiency check, are not included.
///
/// # Errors
/// Too few agents, `mult` outside its domain (with the step and coordinate), or `gini` with a
/// baseline that gives agents different composites.
pub fn attribute(
    indicator: Analytic,
    features: &Array3,
    baseline: &Baseline,
) -> Result<Attribution> {
    let [steps, n, d] = features.shape();
    let start = Instant::now();
    let phi = phi(indicator, features, baseline)?;
    let seconds = start.elapsed().as_secs_f64();
    let values: Vec<(f64, f64)> = (0..steps)
        .into_par_iter()
        .map(|t| -> Result<(f64, f64)> {
            let map_err = |e| to_error(e, indicator, t);
            let v_x = match features.step(t) {
                StepSlice::F32(x) => closed_form::value(indicator, x, d),
                StepSlice::F64(x) => closed_form::value(indicator, x, d),
            }
            .map_err(map_err)?;
            let b = baseline.step(t);
            let v_b = if baseline.is_shared() {
                closed_form::value_shared(indicator, b, n)
            } else {
                closed_form::value(indicator, b, d).map_err(map_err)?
            };
            Ok((v_x, v_b))
        })
        .collect::<Result<_>>()?;
    let attribution = Attribution {
        steps,
        agents: n,
        phi,
        v_x: values.iter().map(|v| v.0).collect(),
        v_b: values.iter().map(|v| v.1).collect(),
        precision: Precision::F64,
        seconds,
        phases: vec![("phi", seconds)],
    };
    attribution.check_finite(indicator.name())?;
    Ok(attribution)
}

/// `φ` alone (row-major `[T, n]`, f64) of `indicator` on `features` from `baseline`: what
/// [`attribute`] computes before it evaluates `V(x)` and `V(b)` for the efficiency check.
///
/// # Errors
/// As [`attribute`].
pub fn phi(indicator: Analytic, features: &Array3, baseline: &Baseline) -> Result<Vec<f64>> {
    let [steps, n, d] = features.shape();
    check_agents(indicator, n)?;
    let mut phi = vec![0.0; steps * n];
    phi.par_chunks_mut(n)
        .enumerate()
        .try_for_each(|(t, out)| -> Result<()> {
            match features.step(t) {
                StepSlice::F32(x) => {
                    closed_form::attribute(indicator, x, d, kernel_baseline(baseline, t), out)
                }
                StepSlice::F64(x) => {
                    closed_form::attribute(indicator, x, d, kernel_baseline(baseline, t), out)
                }
            }
            .map_err(|e| to_error(e, indicator, t))
        })?;
    Ok(phi)
}

/// Check that `n` agents are enough for `indicator`.
///
/// # Errors
/// [`Error::TooFewAgents`].
pub fn check_agents(indicator: Analytic, n: usize) -> Result<()> {
    if n < indicator.min_agents() {
        return Err(Error::TooFewAgents {
            indicator: indicator.name().into(),
            need: indicator.min_agents(),
            got: n,
        });
    }
    Ok(())
}

fn kernel_baseline(baseline: &Baseline, t: usize) -> closed_form::Baseline<'_> {
    if baseline.is_shared() {
        closed_form::Baseline::Shared(baseline.step(t))
    } else {
        closed_form::Baseline::PerAgent(baseline.step(t))
    }
}

/// A closed form's refusal as the engine's error, naming the indicator and the step.
pub(crate) fn to_error(e: ClosedFormError, indicator: Analytic, step: usize) -> Error {
    match e {
        ClosedFormError::TooFewAgents { need, got, .. } => Error::TooFewAgents {
            indicator: indicator.name().into(),
            need,
            got,
        },
        ClosedFormError::NonPositiveMean {
            of,
            coordinate,
            mean,
        } => Error::Domain {
            indicator: indicator.name().into(),
            step,
            reason: format!(
                "needs a {} mean in every coordinate of the {of}, but coordinate {coordinate} \
                 has mean {mean}",
                if of == "features" {
                    "positive"
                } else {
                    "non-negative"
                }
            ),
        },
        ClosedFormError::GiniPath(_) | ClosedFormError::ChunkedGini(_) => Error::NoExactForm {
            indicator: indicator.name().into(),
            reason: format!("at step {step}, {e}"),
        },
    }
}
