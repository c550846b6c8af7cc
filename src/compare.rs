//! Every attribution method side by side on one step of one population: the Aumann–Shapley
//! value (closed form and path integral) against the coalition methods of [`crate::coalition`].
//!
//! | method | what | cost |
//! |---|---|---|
//! | `as-exact` | Aumann–Shapley, closed form ([`crate::exact`]) | `O(n)`, `O(n log n)` for the Gini |
//! | `as-path` | Aumann–Shapley, path integral by autodiff ([`crate::path`]) | `O(m n)` |
//! | `loo` | leave-one-out | `n` evaluations |
//! | `shapley-sampled` | `K` permutations, incremental | `K n` joins |
//! | `shapley-sampled-plain` | `K` permutations, `v` re-evaluated from scratch | `O(K n²)` |
//! | `banzhaf-sampled` | `K` coalitions, maximum sample reuse | `K n / 2` joins |
//! | `shapley-exact`, `banzhaf-exact` | enumeration of `2^n` coalitions, `n ≤ 20` | `2^n` |

use std::time::Instant;

use crate::array::Array3;
use crate::backend::Backend;
use crate::baseline::Baseline;
use crate::coalition::{self, AnalyticGame, Estimate};
use crate::error::{Error, Result};
use crate::indicators::{self, Analytic};
use crate::path::{self, PathOptions};

/// An attribution method.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    /// Aumann–Shapley, closed form.
    AsExact,
    /// Aumann–Shapley, path integral.
    AsPath,
    /// Leave-one-out.
    Loo,
    /// Sampled Shapley, incremental.
    ShapleySampled,
    /// Sampled Shapley, plain estimator.
    ShapleySampledPlain,
    /// Sampled Banzhaf (maximum sample reuse).
    BanzhafSampled,
    /// Exact Shapley.
    ShapleyExact,
    /// Exact Banzhaf.
    BanzhafExact,
}

impl Method {
    /// Every method.
    pub const ALL: [Method; 8] = [
        Method::AsExact,
        Method::AsPath,
        Method::Loo,
        Method::ShapleySampled,
        Method::ShapleySampledPlain,
        Method::BanzhafSampled,
        Method::ShapleyExact,
        Method::BanzhafExact,
    ];

    /// Stable name, as the CLI and the tables spell it.
    pub fn name(self) -> &'static str {
        match self {
            Method::AsExact => "as-exact",
            Method::AsPath => "as-path",
            Method::Loo => "loo",
            Method::ShapleySampled => "shapley-sampled",
            Method::ShapleySampledPlain => "shapley-sampled-plain",
            Method::BanzhafSampled => "banzhaf-sampled",
            Method::ShapleyExact => "shapley-exact",
            Method::BanzhafExact => "banzhaf-exact",
        }
    }

    /// The method called `name`.
    ///
    /// # Errors
    /// [`Error::InvalidOption`] listing the methods.
    pub fn parse(name: &str) -> Result<Method> {
        Method::ALL
            .into_iter()
            .find(|m| m.name() == name)
            .ok_or_else(|| {
                Error::InvalidOption(format!(
                    "unknown method '{name}'; choose from {}",
                    Method::ALL.map(Method::name).join(", ")
                ))
            })
    }

    /// Whether the method satisfies efficiency (`Σ φ = V(x) − V(b)`) by construction.
    pub fn is_efficient(self) -> bool {
        !matches!(
            self,
            Method::Loo | Method::BanzhafSampled | Method::BanzhafExact
        )
    }
}

/// Options of the methods that have any.
#[derive(Clone, Debug)]
pub struct CompareOptions {
    /// `K`: permutations or coalitions of the sampled methods.
    pub samples: usize,
    /// Seed of the sampled methods.
    pub seed: u64,
    /// Pair each sampled permutation with its reverse.
    pub antithetic: bool,
    /// The path integral's options.
    pub path: PathOptions,
    /// The path integral's backend.
    pub backend: Backend,
}

impl Default for CompareOptions {
    fn default() -> Self {
        Self {
            samples: 100,
            seed: 7,
            antithetic: false,
            path: PathOptions::default(),
            backend: Backend::Flex,
        }
    }
}

/// One method's result.
#[derive(Clone, Debug)]
pub struct MethodRun {
    /// The method.
    pub method: Method,
    /// `φ_i`.
    pub phi: Vec<f64>,
    /// Standard errors (sampled methods).
    pub std_error: Option<Vec<f64>>,
    /// Seconds of computation.
    pub seconds: f64,
}

/// The coalition game of `indicator` on a one-step population and its baseline.
///
/// # Errors
/// [`Error::InvalidOption`] if `features` has more than one step.
pub fn game(indicator: Analytic, features: &Array3, baseline: &Baseline) -> Result<AnalyticGame> {
    let [steps, n, d] = features.shape();
    if steps != 1 {
        return Err(Error::InvalidOption(format!(
            "coalition methods take one step; the features have {steps} (select one with --step)"
        )));
    }
    let b = baseline.step(0);
    let b = if b.len() == d {
        b.iter().copied().cycle().take(n * d).collect()
    } else {
        b.to_vec()
    };
    Ok(AnalyticGame::new(indicator, features.step_f64(0), b, d))
}

/// Run `method` on a one-step population.
///
/// # Errors
/// Too few agents, an indicator outside its domain, an exact method on more than
/// [`coalition::EXACT_MAX_PLAYERS`] agents, bad sampling options, a backend that is
/// unavailable.
pub fn run(
    method: Method,
    indicator: Analytic,
    features: &Array3,
    baseline: &Baseline,
    options: &CompareOptions,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<MethodRun> {
    let n = features.agents();
    if n < indicator.min_agents() {
        return Err(Error::TooFewAgents {
            indicator: indicator.name().into(),
            need: indicator.min_agents(),
            got: n,
        });
    }
    let from_estimate = |e: Estimate, seconds| MethodRun {
        method,
        phi: e.phi,
        std_error: e.std_error,
        seconds,
    };
    match method {
        Method::AsExact => {
            let a = crate::exact::attribute(indicator, features, baseline)?;
            Ok(MethodRun {
                method,
                seconds: a.seconds,
                phi: a.phi,
                std_error: None,
            })
        }
        Method::AsPath => {
            let device = options.backend.device()?;
            options
                .backend
                .check_precision(&device, options.path.precision)?;
            let a = path::attribute(
                indicators::analytic(indicator).as_ref(),
                features,
                baseline,
                &options.path,
                &device,
                &mut |p| progress(p.done, p.total),
            )?;
            Ok(MethodRun {
                method,
                seconds: a.seconds,
                phi: a.phi,
                std_error: None,
            })
        }
        _ => {
            let g = game(indicator, features, baseline)?;
            let start = Instant::now();
            let e = match method {
                Method::Loo => coalition::leave_one_out(&g),
                Method::ShapleySampled => coalition::shapley_sampled(
                    &g,
                    options.samples,
                    options.antithetic,
                    options.seed,
                    progress,
                )?,
                Method::ShapleySampledPlain => {
                    coalition::shapley_sampled_plain(&g, options.samples, options.seed, progress)?
                }
                Method::BanzhafSampled => {
                    coalition::banzhaf_sampled(&g, options.samples, options.seed, progress)?
                }
                Method::ShapleyExact => coalition::shapley_exact(&g)?,
                Method::BanzhafExact => coalition::banzhaf_exact(&g)?,
                Method::AsExact | Method::AsPath => unreachable!("handled above"),
            };
            Ok(from_estimate(e, start.elapsed().as_secs_f64()))
        }
    }
}
