//! One attribution request for every front end: what is attributed (a registry indicator,
//! a DeepSet with its model folder, or a scenario folder's static or rollout risk), on which
//! features, from which baseline, and how (the engine's [`RunConfig`]: method, rule, points,
//! precision, backend, shares). [`Request::attribute`] checks it once and returns `φ` with
//! the shape to write it in and the run's [`Summary`]; the command line and the Python package
//! only parse their arguments into a request and write or return what comes back.
//!
//! ```text
//! subject                  features                baseline (None)                computed by
//! indicator                given (required)        zero                           aumann_engine::run
//! indicator on a scenario  given or the folder's   zero, or the folder's action   aumann_engine::run
//! scenario's risk          given or the folder's   the folder's baseline action   scenario::attribute
//! ```

use std::path::{Path, PathBuf};

use aumann_engine::array::Array3;
use aumann_engine::baseline::{Baseline, BaselineSpec};
use aumann_engine::choice::Choice;
use aumann_engine::error::Error as EngineError;
use aumann_engine::indicators::{IndicatorKind, IndicatorSpec};
use aumann_engine::progress::Progress;
use aumann_engine::run::{self, Method, RunConfig, RunOutput, Summary};

use crate::error::Result;
use crate::scenario::{self, Loaded, Target};

/// What is attributed.
#[derive(Clone, Debug)]
pub enum Subject {
    /// The configuration's registry indicator (with its model folder, for a DeepSet); with a
    /// scenario folder, on its features and from its baseline action where none are given.
    Indicator {
        /// A scenario folder.
        scenario: Option<PathBuf>,
    },
    /// A scenario folder's indicator at the target's steps.
    Scenario {
        /// The folder written by `save`.
        folder: PathBuf,
        /// Which risk, at which run and step.
        target: Target,
    },
}

/// Features given to a request: the array, the rank it came in (2 for `[n, d]`, 3 for
/// `[T, n, d]`) and where it came from (a file's path, or a name such as `<numpy>`).
#[derive(Clone, Debug)]
pub struct Features {
    /// `[T, n, d]`.
    pub array: Array3,
    /// 2 or 3: `φ` is `[n]` for a rank-2 input.
    pub rank: usize,
    /// The file, or a name for an array from memory.
    pub source: PathBuf,
}

impl Features {
    /// The `.npy` file `path`, read and checked.
    ///
    /// # Errors
    /// As [`run::read_features`].
    pub fn read(path: &Path) -> Result<Self> {
        let (array, rank) = run::read_features(path)?;
        Ok(Self {
            array,
            rank,
            source: path.to_path_buf(),
        })
    }
}

/// The baseline of a request.
#[derive(Clone, Debug)]
pub enum BaselineChoice {
    /// A named baseline or a file ([`BaselineSpec`]), resolved against the features.
    Spec(BaselineSpec),
    /// An array already resolved, recorded in the summary as `name`.
    Array {
        /// The baseline.
        baseline: Baseline,
        /// How the summary names it.
        name: String,
    },
}

/// One attribution to run.
#[derive(Clone, Debug)]
pub struct Request {
    /// What is attributed.
    pub subject: Subject,
    /// How; its `baseline` is set from [`Request::baseline`], and its `indicator` is unused
    /// for a scenario.
    pub config: RunConfig,
    /// The features (`None`: a scenario's own).
    pub features: Option<Features>,
    /// The baseline (`None`: zero, or a scenario's baseline action).
    pub baseline: Option<BaselineChoice>,
}

/// What a request produced.
#[derive(Clone, Debug)]
pub struct Response {
    /// `φ`, `V(x)`, `V(b)`, timings and the device.
    pub output: RunOutput,
    /// The shape `φ` is written in: `[n]`, `[T, n]` or a scenario's `[R?, T?, n]`.
    pub shape: Vec<usize>,
    /// The run's summary (`seconds_total` from the request's start to its end).
    pub summary: Summary,
    /// The configuration the run used (the baseline as recorded).
    pub config: RunConfig,
}

impl Response {
    /// The values to write, moved out: `φ`, or the within-step shares if the request asked
    /// for them.
    ///
    /// # Errors
    /// [`EngineError::UndefinedShare`] where a step's macro change is zero.
    pub fn into_values(self) -> Result<Vec<f64>> {
        if self.config.normalize {
            Ok(self.output.attribution.shares()?)
        } else {
            Ok(self.output.attribution.phi)
        }
    }
}

impl Request {
    /// A request for the registry indicator `spec` (on a scenario folder's features and
    /// from its baseline action where none are given), with the engine's default
    /// configuration and no features or baseline yet.
    pub fn indicator(spec: IndicatorSpec, scenario: Option<PathBuf>) -> Self {
        Self {
            subject: Subject::Indicator { scenario },
            config: RunConfig::new(spec),
            features: None,
            baseline: None,
        }
    }

    /// A request for a scenario folder's risk at `target`, with the engine's default
    /// configuration (the path integral, midpoint rule, 32 points, f32, flex).
    pub fn scenario(folder: PathBuf, target: Target) -> Self {
        // The configuration's registry indicator is not used for a scenario.
        let unused = IndicatorSpec {
            kind: IndicatorKind::choices()[0],
            model: None,
            formula: None,
            parameters: Default::default(),
        };
        Self {
            subject: Subject::Scenario { folder, target },
            config: RunConfig::new(unused),
            features: None,
            baseline: None,
        }
    }

    /// Check the request, then attribute. `progress` follows the path integral.
    ///
    /// # Errors
    /// An invalid configuration ([`RunConfig::validate`]; the closed form of a scenario's
    /// risk), no features for an indicator, a scenario folder that cannot be read, a baseline
    /// that cannot be resolved, and whatever the engine reports.
    pub fn attribute(&self, progress: &mut (dyn FnMut(Progress) + Send)) -> Result<Response> {
        let start = std::time::Instant::now();
        let mut config = self.config.clone();
        config.baseline = match &self.baseline {
            Some(BaselineChoice::Spec(spec)) => spec.clone(),
            Some(BaselineChoice::Array { name, .. }) => BaselineSpec::File(name.into()),
            None => BaselineSpec::Zero,
        };
        config.validate()?;
        let (output, shape, summary) = match &self.subject {
            Subject::Indicator { scenario } => {
                self.registry_indicator(&config, scenario.as_deref(), progress)?
            }
            Subject::Scenario { folder, target } => {
                self.scenario_risk(&config, folder, *target, progress)?
            }
        };
        let summary = Summary {
            seconds_total: start.elapsed().as_secs_f64(),
            ..summary
        };
        Ok(Response {
            output,
            shape,
            summary,
            config,
        })
    }

    /// The baseline for `features`: the request's, or else a scenario's baseline `action`,
    /// or else zero.
    fn baseline_for(&self, features: &Array3, action: Option<&Array3>) -> Result<Baseline> {
        Ok(match (&self.baseline, action) {
            (Some(BaselineChoice::Spec(spec)), _) => Baseline::resolve(spec, features)?,
            (Some(BaselineChoice::Array { baseline, .. }), _) => baseline.clone(),
            (None, Some(action)) => Baseline::from_array(action.clone()),
            (None, None) => Baseline::resolve(&BaselineSpec::Zero, features)?,
        })
    }

    /// A registry indicator on the given features, or a scenario folder's.
    fn registry_indicator(
        &self,
        config: &RunConfig,
        scenario: Option<&Path>,
        progress: &mut (dyn FnMut(Progress) + Send),
    ) -> Result<(RunOutput, Vec<usize>, Summary)> {
        let loaded = match (&self.features, scenario) {
            (None, Some(folder)) => Some(scenario::load(folder)?),
            _ => None,
        };
        let (x, rank, source) = match (&self.features, &loaded, scenario) {
            (Some(f), _, _) => (&f.array, f.rank, f.source.clone()),
            (None, Some(l), Some(folder)) => {
                (&l.simulation.features, 3, folder.join("features.npy"))
            }
            _ => {
                return Err(EngineError::Missing {
                    indicator: config.indicator.name().into(),
                    what: "features",
                }
                .into());
            }
        };
        let action = loaded.as_ref().map(|l| &l.simulation.baseline);
        let baseline = self.baseline_for(x, action)?;
        let output = run::run_from(config, x, &baseline, progress)?;
        let shape = match rank {
            2 => vec![x.agents()],
            _ => vec![x.steps(), x.agents()],
        };
        let mut summary = Summary::new(config, &source, x.dims(), &output, 0.0);
        if let Some(folder) = scenario {
            let named = match (&self.baseline, &loaded) {
                (None, Some(_)) => None,
                _ => Some(config.baseline.to_string()),
            };
            summary = summary.for_scenario(folder, config.indicator.name(), (None, None), named);
        }
        Ok((output, shape, summary))
    }

    /// A scenario's static or rollout risk, step by step.
    fn scenario_risk(
        &self,
        config: &RunConfig,
        folder: &Path,
        target: Target,
        progress: &mut (dyn FnMut(Progress) + Send),
    ) -> Result<(RunOutput, Vec<usize>, Summary)> {
        let which = target.which.label();
        if config.method == Method::Exact {
            return Err(EngineError::NoExactForm {
                indicator: which.into(),
                reason: "a scenario's risk has no closed form; attribute it by the path integral"
                    .into(),
            }
            .into());
        }
        let loaded = scenario::load(folder)?;
        let given = self.features.as_ref().map(|f| &f.array);
        let x = loaded.features_or(given)?;
        let baseline = (self.baseline.as_ref())
            .map(|_| self.baseline_for(x, None))
            .transpose()?;
        let device = config.backend.device_for(config.precision)?;
        let attribution = scenario::attribute(
            &loaded,
            target,
            given,
            baseline.as_ref(),
            &config.path_options(),
            &device,
            progress,
        )?;
        let output = RunOutput {
            attribution,
            device: aumann_engine::backend::describe(&device),
        };
        let shape = target.phi_shape(&loaded.manifest);
        let summary = scenario_summary(self, config, &loaded, folder, target, &output);
        Ok((output, shape, summary))
    }
}

/// The summary of a scenario's attribution.
fn scenario_summary(
    request: &Request,
    config: &RunConfig,
    loaded: &Loaded,
    folder: &Path,
    target: Target,
    output: &RunOutput,
) -> Summary {
    let source = (request.features.as_ref())
        .map_or_else(|| folder.join("features.npy"), |f| f.source.clone());
    let d = loaded.manifest.features.len();
    let baseline = request
        .baseline
        .as_ref()
        .map(|_| config.baseline.to_string());
    Summary::new(config, &source, d, output, 0.0).for_scenario(
        folder,
        target.which.label(),
        (target.run, target.step),
        baseline,
    )
}
