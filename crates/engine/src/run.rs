//! One attribution run, described by a serialisable [`RunConfig`]: which indicator, which
//! method (path integral or closed form), rule and points, precision, baseline, backend.
//!
//! ```text
//! φ_{t,i} = Σ_k (x_{t,i,k} − b_{t,i,k}) Σ_j w_j ∂V/∂x_{t,i,k}(b_t + α_j (x_t − b_t))   (path)
//! φ_{t,i} = the indicator's closed form                                              (exact)
//! ```
//!
//! [`run`] resolves the baseline, builds the indicator on the backend's device and attributes;
//! [`Summary`] is the JSON record of a finished run (the configuration, the sizes, `V(x)`,
//! `V(b)`, the efficiency gaps and the timings).

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::array::Array3;
use crate::attribution::Attribution;
use crate::backend::{Backend, Precision, describe};
use crate::baseline::{Baseline, BaselineSpec};
use crate::choice::by_name;
use crate::error::{Error, Result};
use crate::indicators::IndicatorSpec;
use crate::path::{self, PathOptions, Progress, Rule};

/// How `φ` is computed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Method {
    /// The numerical path integral by autodiff (any indicator).
    #[default]
    Path,
    /// The closed form (the analytic indicators).
    Exact,
}

impl Method {
    /// Both methods.
    pub const ALL: [Method; 2] = [Method::Path, Method::Exact];

    /// `"path"` or `"exact"`.
    pub fn name(self) -> &'static str {
        match self {
            Method::Path => "path",
            Method::Exact => "exact",
        }
    }
}

crate::named_choice!(Method, "method");

/// Everything that decides an attribution run's result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunConfig {
    /// The indicator (and its model folder).
    #[serde(flatten)]
    pub indicator: IndicatorSpec,
    /// Path integral or closed form.
    #[serde(with = "by_name")]
    pub method: Method,
    /// Quadrature rule of the path integral.
    #[serde(with = "by_name")]
    pub rule: Rule,
    /// Quadrature points `m` (read also under its former name, `steps`).
    #[serde(alias = "steps")]
    pub points: usize,
    /// Precision of the computation and of the written `φ`.
    #[serde(with = "by_name")]
    pub precision: Precision,
    /// The baseline.
    pub baseline: BaselineSpec,
    /// Write within-step shares `φ / Σφ` instead of `φ`.
    pub normalize: bool,
    /// The backend of the path integral.
    #[serde(with = "by_name")]
    pub backend: Backend,
    /// Worker threads (`None`: the current pool's).
    pub threads: Option<usize>,
    /// Upper bound on the feature values in one block of work ([`PathOptions`]).
    pub block_elements: usize,
}

impl RunConfig {
    /// The defaults for `indicator`: path integral, midpoint rule, `m = 32`, f32, zero
    /// baseline, flex.
    pub fn new(indicator: IndicatorSpec) -> Self {
        let path = PathOptions::default();
        Self {
            indicator,
            method: Method::Path,
            rule: path.rule,
            points: path.points,
            precision: path.precision,
            baseline: BaselineSpec::Zero,
            normalize: false,
            backend: Backend::Flex,
            threads: None,
            block_elements: path.block_elements,
        }
    }

    /// The path integral's options.
    pub fn path_options(&self) -> PathOptions {
        PathOptions {
            rule: self.rule,
            points: self.points,
            precision: self.precision,
            block_elements: self.block_elements,
        }
    }

    /// Refuse a configuration that cannot run, before any data is read.
    ///
    /// # Errors
    /// [`Error::TooFewPoints`], [`Error::NoExactForm`] for the closed form of an indicator that
    /// has none, [`IndicatorSpec::validate`]'s errors (a learned indicator without its model, a
    /// formula that does not compile), [`Error::Parameter`] for zero threads.
    pub fn validate(&self) -> Result<()> {
        self.path_options().check_points()?;
        self.indicator.validate()?;
        if self.method == Method::Exact && self.indicator.exact().is_none() {
            return Err(Error::NoExactForm {
                indicator: self.indicator.name().into(),
                reason: "the engine has no closed form for it; attribute it by the path integral"
                    .into(),
            });
        }
        if let Some(n) = self.threads {
            crate::limits::threads(n)?;
        }
        Ok(())
    }
}

/// A finished run: the attribution and the device that computed it.
#[derive(Clone, Debug)]
pub struct RunOutput {
    /// `φ`, `V(x)`, `V(b)` and timings.
    pub attribution: Attribution,
    /// The device, as [`describe`] names it (`host (closed form, f64)` for the exact method).
    pub device: String,
}

impl RunOutput {
    /// The values to write: `φ`, or the within-step shares if the configuration asks for them.
    ///
    /// # Errors
    /// [`Error::UndefinedShare`] where a step's macro change is zero.
    pub fn values(&self, config: &RunConfig) -> Result<Vec<f64>> {
        if config.normalize {
            self.attribution.shares()
        } else {
            Ok(self.attribution.phi.clone())
        }
    }
}

/// Attribute `features` (`[T, n, d]`) as `config` says, on a pool of `config.threads` worker
/// threads (the current pool if `None` or the same size). `progress` follows the path
/// integral.
///
/// # Errors
/// An invalid configuration ([`RunConfig::validate`]), a baseline that cannot be resolved, an
/// unavailable backend or precision, a model that cannot be loaded, and whatever the method
/// reports.
pub fn run(
    config: &RunConfig,
    features: &Array3,
    progress: &mut (dyn FnMut(Progress) + Send),
) -> Result<RunOutput> {
    config.validate()?;
    let baseline = Baseline::resolve(&config.baseline, features)?;
    run_from(config, features, &baseline, progress)
}

/// [`run`] from a baseline already resolved (a scenario's baseline action, say); the
/// configuration's baseline is only recorded.
///
/// # Errors
/// As [`run`].
pub fn run_from(
    config: &RunConfig,
    features: &Array3,
    baseline: &Baseline,
    progress: &mut (dyn FnMut(Progress) + Send),
) -> Result<RunOutput> {
    config.validate()?;
    let work = || -> Result<RunOutput> {
        if let (Method::Exact, Some(kind)) = (config.method, config.indicator.exact()) {
            return Ok(RunOutput {
                attribution: crate::exact::attribute(kind, features, baseline)?,
                device: "host (closed form, f64)".into(),
            });
        }
        let device = config.backend.device_for(config.precision)?;
        let indicator = config
            .indicator
            .build(&device, features.dims(), config.precision)?;
        let options = config.path_options();
        let attribution = path::attribute(
            indicator.as_ref(),
            features,
            baseline,
            &options,
            &device,
            progress,
        )?;
        Ok(RunOutput {
            attribution,
            device: describe(&device),
        })
    };
    with_threads(config.threads, work)
}

/// `work` on a pool of `threads` threads (`None`: the global pool, every core).
///
/// # Errors
/// [`Error::Parameter`] where the pool cannot be built; `work`'s.
pub fn with_threads<T: Send>(
    threads: Option<usize>,
    work: impl FnOnce() -> Result<T> + Send,
) -> Result<T> {
    match threads {
        Some(t) if t != rayon::current_num_threads() => rayon::ThreadPoolBuilder::new()
            .num_threads(t)
            .build()
            .map_err(|e| Error::Parameter {
                name: "threads",
                value: t.to_string(),
                reason: format!("the thread pool could not be built: {e}"),
            })?
            .install(work),
        _ => work(),
    }
}

/// `V` of every row of `features` (`[R, n, d]`: R populations, steps or what-if variants),
/// computed in `precision` on `device`, a block of rows at a time (at most `block_elements`
/// feature values per block, at least one row).
///
/// # Errors
/// Too few agents for the indicator, a precision the device lacks, whatever the indicator's
/// evaluation reports, a failed read-back.
pub fn evaluate(
    indicator: &dyn crate::indicators::Indicator,
    features: &Array3,
    precision: Precision,
    device: &burn::tensor::Device,
    block_elements: usize,
) -> Result<Vec<f64>> {
    let [rows, n, d] = features.shape();
    if n < indicator.min_agents() {
        return Err(Error::TooFewAgents {
            indicator: indicator.name().into(),
            need: indicator.min_agents(),
            got: n,
        });
    }
    if !device.supports_dtype(precision.dtype()) {
        return Err(Error::UnsupportedPrecision {
            backend: format!("{device:?}"),
            device: describe(device),
        });
    }
    let per_block = (block_elements / (n * d).max(1)).max(1);
    let mut out = Vec::with_capacity(rows);
    for r0 in (0..rows).step_by(per_block) {
        let r1 = (r0 + per_block).min(rows);
        let x = features.upload(r0, r1, device, precision.dtype());
        // The domain the attribution enforces holds for a value too (the row is its own
        // baseline: the path is the one point).
        if let Some(e) = indicator.check_domain(&x, &x)? {
            return Err(Error::Domain {
                indicator: indicator.name().into(),
                step: r0 + e.row,
                reason: e.reason,
            });
        }
        let v = indicator.forward(x)?;
        out.extend(crate::array::download(v, "indicator values")?);
    }
    if let Some(r) = crate::attribution::first_non_finite(&out) {
        return Err(Error::Overflow {
            what: format!("indicator '{}': V", indicator.name()),
            place: format!("row {r}"),
            value: out[r],
            precision,
        });
    }
    Ok(out)
}

/// Read features: a float `.npy` of shape `[n, d]` or `[T, n, d]`, finite and non-empty.
/// Returns them as `[T, n, d]` (`T = 1` for a 2-d file) with the file's rank.
///
/// # Errors
/// Any [`crate::npy::read`] error; [`Error::Shape`] for another rank or an empty axis;
/// [`Error::NonFinite`] naming the step, agent and coordinate of a NaN or infinity.
pub fn read_features(path: &Path) -> Result<(Array3, usize)> {
    let arr = crate::npy::read(path)?;
    let what = path.display().to_string();
    let shape = match *arr.shape.as_slice() {
        [n, d] => [1, n, d],
        [t, n, d] => [t, n, d],
        _ => {
            return Err(Error::Shape {
                what,
                expected: "[n, d] or [T, n, d] (agents × features, optionally per step)".into(),
                got: arr.shape,
            });
        }
    };
    if shape.contains(&0) {
        return Err(Error::Shape {
            what,
            expected: "at least one step, one agent and one feature".into(),
            got: arr.shape,
        });
    }
    let features = Array3::new(shape, arr.values);
    features.check_finite(&what)?;
    Ok((features, arr.shape.len()))
}

/// The JSON record of a finished run.
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    /// The library's version.
    pub aumann_version: &'static str,
    /// Where the features came from.
    pub features: String,
    /// Agents `n`.
    pub n: usize,
    /// Features per agent `d`.
    pub d: usize,
    /// Time steps `T`.
    #[serde(rename = "T")]
    pub time_steps: usize,
    /// The indicator's name.
    pub indicator: &'static str,
    /// Its model folder.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// A formula indicator's definition, where it was given as such.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub formula: Option<crate::indicators::formula::Definition>,
    /// The values given to its parameters.
    #[serde(skip_serializing_if = "crate::indicators::parameters::Parameters::is_empty")]
    pub parameters: crate::indicators::parameters::Parameters,
    /// `"path"` or `"exact"`.
    pub method: &'static str,
    /// The quadrature rule.
    pub rule: &'static str,
    /// Quadrature points `m`.
    pub points: usize,
    /// The backend.
    pub backend: &'static str,
    /// The device that computed `φ`.
    pub device: String,
    /// `"f32"` or `"f64"`.
    pub precision: &'static str,
    /// The baseline as given.
    pub baseline: String,
    /// Whether shares were written.
    pub normalize: bool,
    /// Worker threads.
    pub threads: usize,
    /// `V(x_t)`.
    pub v_x: Vec<f64>,
    /// `V(b_t)`.
    pub v_b: Vec<f64>,
    /// `Σ_i φ_{t,i} − (V(x_t) − V(b_t))`.
    pub efficiency_gap: Vec<f64>,
    /// The gap relative to the macro change (`null` where it is zero).
    pub relative_efficiency_gap: Vec<Option<f64>>,
    /// Seconds computing `φ`.
    pub seconds_attribution: f64,
    /// Wall time by phase.
    pub seconds_phases: BTreeMap<&'static str, f64>,
    /// Seconds of the whole command.
    pub seconds_total: f64,
    /// Non-default block size of the path integral.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub block_elements: Option<usize>,
    /// The scenario folder the indicator came from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scenario: Option<String>,
    /// The one run attributed, where only one of several was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run: Option<usize>,
    /// The one step attributed, where only one was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<usize>,
}

impl Summary {
    /// A warning for every step whose relative efficiency gap is above
    /// [`crate::attribution::EFFICIENCY_WARNING`].
    pub fn efficiency_warnings(&self) -> Vec<String> {
        crate::attribution::efficiency_warnings(&self.relative_efficiency_gap)
    }

    /// The record of `output`, a run of `config` on the features read from `features`
    /// (`d` features per agent), `seconds_total` after the command started.
    pub fn new(
        config: &RunConfig,
        features: &Path,
        d: usize,
        output: &RunOutput,
        seconds_total: f64,
    ) -> Self {
        let a = &output.attribution;
        Self {
            aumann_version: env!("CARGO_PKG_VERSION"),
            features: features.display().to_string(),
            n: a.agents,
            d,
            time_steps: a.steps,
            indicator: config.indicator.name(),
            model: config
                .indicator
                .model
                .as_ref()
                .map(|m| m.display().to_string()),
            formula: config.indicator.formula.clone(),
            parameters: config.indicator.parameters.clone(),
            method: config.method.name(),
            rule: config.rule.name(),
            points: config.points,
            backend: config.backend.name(),
            device: output.device.clone(),
            precision: config.precision.name(),
            baseline: config.baseline.to_string(),
            normalize: config.normalize,
            threads: config.threads.unwrap_or_else(rayon::current_num_threads),
            v_x: a.v_x.clone(),
            v_b: a.v_b.clone(),
            efficiency_gap: a.efficiency_gap(),
            relative_efficiency_gap: a.relative_efficiency_gap(),
            seconds_attribution: a.seconds,
            seconds_phases: a.phases.iter().copied().collect(),
            seconds_total,
            block_elements: (config.block_elements != PathOptions::default().block_elements)
                .then_some(config.block_elements),
            scenario: None,
            run: None,
            step: None,
        }
    }

    /// The record of a scenario's indicator (`indicator`, from the folder `scenario`) at the
    /// chosen `(run, step)` (`None`: all), from its baseline action unless `baseline` names
    /// another.
    pub fn for_scenario(
        self,
        scenario: &Path,
        indicator: &'static str,
        (run, step): (Option<usize>, Option<usize>),
        baseline: Option<String>,
    ) -> Self {
        Self {
            indicator,
            baseline: baseline.unwrap_or_else(|| "action".into()),
            scenario: Some(scenario.display().to_string()),
            run,
            step,
            ..self
        }
    }

    /// Pretty JSON with a final newline.
    pub fn to_json(&self) -> String {
        // Plain data (strings, numbers, maps with string keys): serialising cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_else(|e| unreachable!("{e}")) + "\n"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_config_round_trips_through_json() {
        let mut config = RunConfig::new("deepset".parse().unwrap());
        config.indicator.model = Some("models/deepset-variance".into());
        config.rule = Rule::GaussLegendre;
        config.points = 8;
        config.baseline = BaselineSpec::File("b.npy".into());
        config.threads = Some(2);
        let json = serde_json::to_string(&config).unwrap();
        assert!(json.contains(r#""indicator":"deepset""#), "{json}");
        assert!(json.contains(r#""rule":"gauss""#) && json.contains(r#""points":8"#));
        let back: RunConfig = serde_json::from_str(&json).unwrap();
        assert_eq!(back, config);
    }

    #[test]
    fn invalid_configurations_are_refused_before_any_work() {
        let mut config = RunConfig::new("linear".parse().unwrap());
        config.rule = Rule::Trapezoid;
        config.points = 1;
        assert!(matches!(
            config.validate(),
            Err(Error::TooFewPoints {
                need: 2,
                got: 1,
                ..
            })
        ));
        let mut config = RunConfig::new("deepset".parse().unwrap());
        config.indicator.model = Some("m".into());
        config.method = Method::Exact;
        assert!(matches!(config.validate(), Err(Error::NoExactForm { .. })));
    }
}
