//! Every attribution method side by side on one step of one population: the Aumann–Shapley
//! value (closed form and path integral) against the coalition methods of [`crate::coalition`].
//!
//! | method | what | cost |
//! |---|---|---|
//! | `as-exact` | Aumann–Shapley, closed form ([`aumann_engine::exact`]) | `O(n)`, `O(n log n)` for the Gini |
//! | `as-path` | Aumann–Shapley, path integral by autodiff ([`aumann_engine::path`]) | `O(m n)` |
//! | `loo` | leave-one-out | `n` evaluations |
//! | `shapley-sampled` | `K` permutations, incremental | `K n` joins |
//! | `shapley-sampled-plain` | `K` permutations, `v` re-evaluated from scratch | `O(K n²)` |
//! | `banzhaf-sampled` | `K` coalitions, maximum sample reuse | `K n / 2` joins |
//! | `shapley-exact`, `banzhaf-exact` | enumeration of `2^n` coalitions, `n ≤ 20` | `2^n` |
//!
//! [`run`] plays the analytic indicators' closed-form games; [`run_any`] any indicator's
//! tensor program (a DeepSet, a scenario's risk), scored against the path integral. A
//! [`Subject`] (one step's population, its baseline and its [`Program`]) picks between them,
//! for features or a scenario's step alike.

use std::time::Instant;

use crate::coalition::{self, AnalyticGame, Estimate, Game};
use aumann_engine::array::Array3;
use aumann_engine::backend::Backend;
use aumann_engine::baseline::Baseline;
use aumann_engine::error::{Error, Result};
use aumann_engine::indicators::{Analytic, Indicator};
use aumann_engine::path::{self, PathOptions};
use aumann_engine::progress::Progress;

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

    /// Whether the method satisfies efficiency (`Σ φ = V(x) − V(b)`) by construction.
    pub fn is_efficient(self) -> bool {
        !matches!(
            self,
            Method::Loo | Method::BanzhafSampled | Method::BanzhafExact
        )
    }
}

aumann_engine::named_choice!(Method, "method");

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
/// [`Error::Shape`] if `features` has more than one step, [`Error::TooFewAgents`].
pub fn game(indicator: Analytic, features: &Array3, baseline: &Baseline) -> Result<AnalyticGame> {
    let [steps, n, d] = features.shape();
    aumann_engine::exact::check_agents(indicator, n)?;
    if steps != 1 {
        return Err(Error::Shape {
            what: "coalition game features".into(),
            expected: "one step: coalition methods attribute one step at a time".into(),
            got: features.shape().to_vec(),
        });
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
    progress: &mut (dyn FnMut(Progress) + Send),
) -> Result<MethodRun> {
    let n = features.agents();
    aumann_engine::exact::check_agents(indicator, n)?;
    let from_estimate = |e: Estimate, seconds| MethodRun {
        method,
        phi: e.phi,
        std_error: e.std_error,
        seconds,
    };
    match method {
        Method::AsExact => {
            let a = aumann_engine::exact::attribute(indicator, features, baseline)?;
            Ok(MethodRun {
                method,
                seconds: a.seconds,
                phi: a.phi,
                std_error: None,
            })
        }
        Method::AsPath => {
            let program = aumann_engine::indicators::analytic(indicator);
            run_any(
                method,
                program.as_ref(),
                features,
                baseline,
                options,
                progress,
            )
        }
        _ => {
            let g = game(indicator, features, baseline)?;
            let start = Instant::now();
            let e = match method {
                Method::ShapleySampledPlain => {
                    coalition::shapley_sampled_plain(&g, options.samples, options.seed, progress)?
                }
                m => estimate(m, &g, options, progress)?,
            };
            Ok(from_estimate(e, start.elapsed().as_secs_f64()))
        }
    }
}

/// Run `method` on any indicator's tensor program (a DeepSet, a scenario's risk) on a
/// one-step population: the coalition methods score coalitions as rows of the program
/// ([`coalition::TensorGame`]; the plain sampled estimator is the same there), the path integral
/// runs on `options.backend`.
///
/// # Errors
/// [`Error::NoExactForm`] for `as-exact`; too few agents, an exact method on more than
/// [`coalition::EXACT_MAX_PLAYERS`] agents, bad sampling options, an unavailable backend.
pub fn run_any(
    method: Method,
    indicator: &dyn aumann_engine::indicators::Indicator,
    features: &Array3,
    baseline: &Baseline,
    options: &CompareOptions,
    progress: &mut (dyn FnMut(Progress) + Send),
) -> Result<MethodRun> {
    let device = options.backend.device_for(options.path.precision)?;
    let start = Instant::now();
    let game = || {
        coalition::TensorGame::new(
            indicator,
            features,
            baseline,
            &device,
            options.path.precision,
            options.path.block_elements,
        )
    };
    let e = match method {
        Method::AsExact => {
            return Err(Error::NoExactForm {
                indicator: indicator.name().into(),
                reason: "only the four analytic indicators have closed forms; use as-path".into(),
            });
        }
        Method::AsPath => {
            let a = path::attribute(
                indicator,
                features,
                baseline,
                &options.path,
                &device,
                progress,
            )?;
            return Ok(MethodRun {
                method,
                seconds: a.seconds,
                phi: a.phi,
                std_error: None,
            });
        }
        m => estimate(m, &game()?, options, progress)?,
    };
    Ok(MethodRun {
        method,
        phi: e.phi,
        std_error: e.std_error,
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// The estimate of the coalition method `method` on `game`: one dispatch for the analytic
/// games and the tensor games alike (the plain sampled Shapley is the sampled one on a game
/// without a faster route).
fn estimate(
    method: Method,
    game: &impl Game,
    options: &CompareOptions,
    progress: &mut (dyn FnMut(Progress) + Send),
) -> Result<Estimate> {
    let (k, seed) = (options.samples, options.seed);
    match method {
        Method::Loo => coalition::leave_one_out(game),
        Method::ShapleySampled | Method::ShapleySampledPlain => {
            coalition::shapley_sampled(game, k, options.antithetic, seed, progress)
        }
        Method::BanzhafSampled => coalition::banzhaf_sampled(game, k, seed, progress),
        Method::ShapleyExact => coalition::shapley_exact(game),
        Method::BanzhafExact => coalition::banzhaf_exact(game),
        Method::AsExact | Method::AsPath => unreachable!("the callers match these first"),
    }
}

/// `V(x) − V(b)` of any indicator's tensor program on a one-step population, in the options'
/// precision on their backend.
///
/// # Errors
/// As [`run_any`].
pub fn change_any(
    indicator: &dyn aumann_engine::indicators::Indicator,
    features: &Array3,
    baseline: &Baseline,
    options: &CompareOptions,
) -> Result<f64> {
    let device = options.backend.device_for(options.path.precision)?;
    let precision = options.path.precision;
    let block = options.path.block_elements;
    coalition::TensorGame::new(indicator, features, baseline, &device, precision, block)?.change()
}

/// One method's line of the comparison table, scored against the closed form.
#[derive(Clone, Debug, PartialEq)]
pub struct Score {
    /// The method.
    pub method: Method,
    /// Seconds of computation.
    pub seconds: f64,
    /// `Σ_i φ_i − (V(x) − V(b))`.
    pub gap: f64,
    /// `|gap| / |V(x) − V(b)|` (`None` where the change is zero).
    pub rel_gap: Option<f64>,
    /// `max_i |φ_i − φ_i^exact| / max_i |φ_i^exact|`.
    pub max_error: f64,
    /// Spearman's ρ against the closed form (`None` where undefined).
    pub spearman: Option<f64>,
    /// `K` of a sampled method.
    pub samples: Option<usize>,
}

impl Method {
    /// Whether the method draws samples.
    pub fn is_sampled(self) -> bool {
        matches!(
            self,
            Method::ShapleySampled | Method::ShapleySampledPlain | Method::BanzhafSampled
        )
    }
}

/// Score `run` against `reference` (the closed form) for a macro change `change`.
pub fn score(run: &MethodRun, reference: &[f64], change: f64, options: &CompareOptions) -> Score {
    let gap = run.phi.iter().sum::<f64>() - change;
    let scale = reference.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let max_error = run
        .phi
        .iter()
        .zip(reference)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max)
        / scale.max(f64::MIN_POSITIVE);
    let rho = aumann_kernels::rank::spearman(&run.phi, reference);
    Score {
        method: run.method,
        seconds: run.seconds,
        gap,
        rel_gap: (change != 0.0).then(|| gap.abs() / change.abs()),
        max_error,
        spearman: rho.is_finite().then_some(rho),
        samples: run.method.is_sampled().then_some(options.samples),
    }
}

/// The comparison table as CSV (`method,seconds,efficiency_gap,relative_efficiency_gap,
/// max_error_vs_<reference>,spearman_vs_<reference>,samples`; empty cells where undefined),
/// `reference` the method scored against (`as-exact` for the analytic indicators).
pub fn csv(scores: &[Score], reference: Method) -> String {
    let r = reference.name().replace('-', "_");
    let mut out = format!(
        "method,seconds,efficiency_gap,relative_efficiency_gap,max_error_vs_{r},\
         spearman_vs_{r},samples\n"
    );
    for s in scores {
        out.push_str(&format!(
            "{},{:.6e},{:.6e},{},{:.6e},{},{}\n",
            s.method.name(),
            s.seconds,
            s.gap,
            s.rel_gap.map(|g| format!("{g:.6e}")).unwrap_or_default(),
            s.max_error,
            s.spearman.map(|r| format!("{r:.6}")).unwrap_or_default(),
            s.samples.map(|k| k.to_string()).unwrap_or_default(),
        ));
    }
    out
}

/// One step `t` of `features` and its baseline, as a one-step population for the coalition
/// methods.
///
/// # Errors
/// [`Error::Parameter`] if `t` is out of range, or if `t` is `None` and there is more than
/// one step.
pub fn one_step(
    features: &Array3,
    baseline: &Baseline,
    step: Option<usize>,
) -> Result<(Array3, Baseline)> {
    let steps = features.steps();
    let t = match step {
        Some(t) if t < steps => t,
        None if steps == 1 => 0,
        _ => {
            return Err(Error::Parameter {
                name: "step",
                value: step.map_or_else(|| "none".into(), |t| t.to_string()),
                reason: format!(
                    "the features have {steps} steps; coalition methods attribute one, numbered \
                     from 0"
                ),
            });
        }
    };
    Ok((features.select_steps(&[t]), baseline.select_step(t)))
}

/// What a comparison scores: an analytic indicator (closed-form games, scored against
/// [`Method::AsExact`]) or any tensor program (scored against [`Method::AsPath`]).
pub enum Program {
    /// An analytic indicator.
    Analytic(Analytic),
    /// Any indicator's tensor program (a DeepSet, a scenario's risk).
    Any(Box<dyn Indicator>),
}

impl Program {
    /// The indicator `spec` names on `d` features: its closed-form games where it has them,
    /// its tensor program (built on `options`' backend, in their precision) otherwise.
    ///
    /// # Errors
    /// As [`aumann_engine::indicators::IndicatorSpec::build`]; a backend that is not available.
    pub fn of(
        spec: &aumann_engine::indicators::IndicatorSpec,
        d: usize,
        options: &CompareOptions,
    ) -> Result<Self> {
        if let Some(analytic) = spec.kind.entry().exact {
            return Ok(Program::Analytic(analytic));
        }
        let device = options.backend.device_for(options.path.precision)?;
        Ok(Program::Any(spec.build(
            &device,
            d,
            options.path.precision,
        )?))
    }

    /// The method the others are scored against.
    pub fn reference(&self) -> Method {
        match self {
            Program::Analytic(_) => Method::AsExact,
            Program::Any(_) => Method::AsPath,
        }
    }
}

/// One step's population, its baseline and the indicator compared on it.
pub struct Subject {
    /// `[1, n, d]`.
    pub features: Array3,
    /// The baseline of that step.
    pub baseline: Baseline,
    /// The indicator.
    pub program: Program,
}

impl Subject {
    /// Step `t` of a scenario's simulation (a run-major row of it) with its risk `which`:
    /// the scenario's own features and baseline action unless `features` (the whole
    /// simulation's shape) or `baseline` replace them.
    ///
    /// # Errors
    /// [`Error::Shape`] for features of another shape; a baseline that does not resolve; a
    /// step the simulation lacks.
    pub fn of_scenario(
        loaded: &crate::scenario::Loaded,
        which: crate::scenario::Horizon,
        row: usize,
        features: Option<&Array3>,
        baseline: Option<&aumann_engine::baseline::BaselineSpec>,
    ) -> Result<Self> {
        let features = loaded.features_or(features)?.select_steps(&[row]);
        let baseline = match baseline {
            Some(spec) => Baseline::resolve(spec, &features)?,
            None => Baseline::from_array(loaded.simulation.baseline.select_steps(&[row])),
        };
        let program = Program::Any(loaded.scenario.indicator(&loaded.simulation, which, row)?);
        Ok(Self {
            features,
            baseline,
            program,
        })
    }

    /// `V(x) − V(b)`, the change the attributions share out.
    ///
    /// # Errors
    /// As [`game`] and [`change_any`].
    pub fn change(&self, options: &CompareOptions) -> Result<f64> {
        match &self.program {
            Program::Analytic(a) => game(*a, &self.features, &self.baseline)?.change(),
            Program::Any(i) => change_any(i.as_ref(), &self.features, &self.baseline, options),
        }
    }

    /// Run `method` on the subject.
    ///
    /// # Errors
    /// As [`run`] and [`run_any`].
    pub fn run(
        &self,
        method: Method,
        options: &CompareOptions,
        progress: &mut (dyn FnMut(Progress) + Send),
    ) -> Result<MethodRun> {
        let (x, b) = (&self.features, &self.baseline);
        match &self.program {
            Program::Analytic(a) => run(method, *a, x, b, options, progress),
            Program::Any(i) => run_any(method, i.as_ref(), x, b, options, progress),
        }
    }
}
