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
/// With `precision = F32` the result is rounded to `f32` values, as a path run in `f32` would
/// report them; `V(x)`, `V(b)` stay in `f64`.
///
/// # Errors
/// Too few agents, `mult` outside its domain (with the step and coordinate), or `gini` with a
/// baseline that gives agents different composites.
pub fn attribute(
    indicator: Analytic,
    features: &Array3,
    baseline: &Baseline,
    precision: Precision,
) -> Result<Attribution> {
    let start = Instant::now();
    let [steps, n, d] = features.shape();
    if n < indicator.min_agents() {
        return Err(Error::TooFewAgents {
            indicator: indicator.name().into(),
            need: indicator.min_agents(),
            got: n,
        });
    }
    let mut phi = vec![0.0; steps * n];
    let per_step: Vec<(f64, f64)> = phi
        .par_chunks_mut(n)
        .enumerate()
        .map(|(t, out)| -> Result<(f64, f64)> {
            let b = baseline.step(t);
            let kb = if baseline.is_shared() {
                closed_form::Baseline::Shared(b)
            } else {
                closed_form::Baseline::PerAgent(b)
            };
            let map_err = |e| to_error(e, indicator, t);
            let v_x = match features.step(t) {
                StepSlice::F32(x) => {
                    closed_form::attribute(indicator, x, d, kb, out).map_err(map_err)?;
                    closed_form::value(indicator, x, d).map_err(map_err)?
                }
                StepSlice::F64(x) => {
                    closed_form::attribute(indicator, x, d, kb, out).map_err(map_err)?;
                    closed_form::value(indicator, x, d).map_err(map_err)?
                }
            };
            let v_b = if baseline.is_shared() {
                closed_form::value_shared(indicator, b, n)
            } else {
                closed_form::value(indicator, b, d).map_err(map_err)?
            };
            Ok((v_x, v_b))
        })
        .collect::<Result<_>>()?;
    if precision == Precision::F32 {
        phi.par_iter_mut().for_each(|p| *p = *p as f32 as f64);
    }
    Ok(Attribution {
        steps,
        agents: n,
        phi,
        v_x: per_step.iter().map(|v| v.0).collect(),
        v_b: per_step.iter().map(|v| v.1).collect(),
        precision,
        seconds: start.elapsed().as_secs_f64(),
    })
}

fn to_error(e: ClosedFormError, indicator: Analytic, step: usize) -> Error {
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
        ClosedFormError::UnequalBaselineComposite { .. } => Error::NoExactForm {
            indicator: indicator.name().into(),
            reason: format!("at step {step}, {e}"),
        },
    }
}
