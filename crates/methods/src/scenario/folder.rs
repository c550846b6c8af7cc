//! The scenario folder: `scenario.json` and the arrays of one simulation, written by [`save`]
//! and read back, checked, by [`load_with`].

use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::graph::Graph;
use super::{SCENARIOS, Scenario, ScenarioEntry, ScenarioKind, Simulation, macro_series};
use crate::error::{Error, RenderError, Result};
use aumann_engine::Error as EngineError;
use aumann_engine::array::{Array3, Values};
use aumann_engine::choice::Choice;

/// The folder's format name.
pub const FORMAT: &str = "aumann-scenario";
/// The folder's format version.
pub const VERSION: u32 = 1;

/// `scenario.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`FORMAT`].
    pub format: String,
    /// [`VERSION`].
    pub version: u32,
    /// The library that wrote it.
    pub aumann_version: String,
    /// The scenario's name.
    pub scenario: String,
    /// Feature names.
    pub features: Vec<String>,
    /// Agents `n`.
    pub agents: usize,
    /// Steps `T` of every run.
    pub steps: usize,
    /// Independent runs `R` (the arrays are `[R, T, …]` when R > 1).
    #[serde(default = "one")]
    pub runs: usize,
    /// Directed edges of the context graph (0 without one).
    pub edges: usize,
    /// Per-step context series, each `context/<name>.npy` of shape `[T]`.
    #[serde(default)]
    pub context: Vec<String>,
    /// Every parameter of the scenario, the seed included.
    pub parameters: serde_json::Value,
}

impl Manifest {
    /// The manifest of `simulation` of `scenario`.
    ///
    /// # Errors
    /// [`Error::Render`] if the scenario's parameters cannot be written as JSON.
    pub fn of(scenario: &dyn Scenario, simulation: &Simulation) -> Result<Self> {
        let [rows, n, _] = simulation.features.shape();
        let runs = simulation.runs.max(1);
        let steps = rows / runs;
        Ok(Manifest {
            format: FORMAT.into(),
            version: VERSION,
            aumann_version: env!("CARGO_PKG_VERSION").into(),
            scenario: scenario.name().into(),
            features: scenario
                .feature_names()
                .iter()
                .map(|s| s.to_string())
                .collect(),
            agents: n,
            steps,
            runs,
            edges: simulation.graph.as_deref().map_or(0, |g| g.edges.len()),
            context: simulation.context.iter().map(|c| c.0.clone()).collect(),
            parameters: scenario.parameters()?,
        })
    }
}

fn one() -> usize {
    1
}

/// A scenario folder read back: the scenario and its simulation.
pub struct Loaded {
    /// The scenario, rebuilt from its parameters.
    pub scenario: Box<dyn Scenario>,
    /// Its simulation.
    pub simulation: Simulation,
    /// `scenario.json`.
    pub manifest: Manifest,
}

impl Loaded {
    /// `features` in place of the simulation's own (every run and step of them), or the
    /// simulation's where none are given.
    ///
    /// # Errors
    /// [`EngineError::Shape`] for features of another shape than the simulation's.
    pub fn features_or<'a>(
        &'a self,
        features: Option<&'a Array3>,
    ) -> aumann_engine::Result<&'a Array3> {
        let own = &self.simulation.features;
        match features {
            Some(given) if given.shape() != own.shape() => Err(aumann_engine::Error::Shape {
                what: "features of the scenario".into(),
                expected: format!("{:?}, the scenario's", own.shape()),
                got: given.shape().to_vec(),
            }),
            given => Ok(given.unwrap_or(own)),
        }
    }

    /// A scenario and its simulation, as if read from their folder.
    ///
    /// # Errors
    /// [`Error::Render`] if the scenario's parameters cannot be written as JSON.
    pub fn new(scenario: Box<dyn Scenario>, simulation: Simulation) -> Result<Self> {
        let manifest = Manifest::of(scenario.as_ref(), &simulation)?;
        Ok(Self {
            scenario,
            simulation,
            manifest,
        })
    }
}

/// `[R, T]` for several runs of `rows / R` steps, `[T]` for one.
fn leading_shape(runs: usize, rows: usize) -> Vec<usize> {
    match runs {
        0 | 1 => vec![rows],
        r => vec![r, rows / r],
    }
}

/// Write `simulation` of `scenario` into the folder `dir` (created if needed).
///
/// # Errors
/// [`EngineError::Io`] naming the file that could not be written; evaluation errors of the macro
/// series.
pub fn save(dir: &Path, scenario: &dyn Scenario, simulation: &Simulation) -> Result<()> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| EngineError::Io { path, source }
    };
    std::fs::create_dir_all(dir.join("context")).map_err(io(&dir.join("context")))?;
    let [rows, n, d] = simulation.features.shape();
    let lead = leading_shape(simulation.runs, rows);
    let shape = |tail: &[usize]| [&lead[..], tail].concat();
    let features = (simulation.features.values(), dir.join("features.npy"));
    aumann_engine::npy::write(&features.1, &shape(&[n, d]), features.0)?;
    let baseline = (simulation.baseline.values(), dir.join("baseline.npy"));
    aumann_engine::npy::write(&baseline.1, &shape(&[n, d]), baseline.0)?;
    let edges = simulation.graph.as_deref().map_or(0, |g| g.edges.len());
    let flat = simulation
        .graph
        .as_deref()
        .map(Graph::to_i64)
        .unwrap_or_default();
    aumann_engine::npy::write_i64(&dir.join("context/edges.npy"), &[edges, 2], &flat)?;
    for (name, values) in &simulation.context {
        // Context series are per step of the whole simulation (all runs, run-major).
        let path = dir.join("context").join(format!("{name}.npy"));
        aumann_engine::npy::write(&path, &[values.len()], &Values::F64(values.clone()))?;
    }
    let series = macro_series(scenario, simulation)?;
    aumann_engine::npy::write(&dir.join("macro.npy"), &shape(&[2]), &Values::F64(series))?;
    let manifest = Manifest::of(scenario, simulation)?;
    let path = dir.join("scenario.json");
    let json = serde_json::to_string_pretty(&manifest).map_err(|e| RenderError {
        what: "scenario.json".into(),
        reason: e.to_string(),
    })?;
    Ok(std::fs::write(&path, json + "\n").map_err(io(&path))?)
}

/// Read the scenario folder `dir`.
///
/// # Errors
/// [`Error::Scenario`] or [`EngineError::Shape`] naming the file: a missing or unreadable manifest, an unknown scenario, arrays of the wrong shape, edges naming no agent.
pub fn load(dir: &Path) -> Result<Loaded> {
    load_with(dir, SCENARIOS)
}

/// Read the scenario folder `dir` of one of the scenarios in `registry`: a program's own
/// scenarios, which [`SCENARIOS`] does not list ([`load`] reads folders of those).
///
/// # Errors
/// As [`load`]; [`EngineError::UnknownName`] for a scenario `registry` does not list.
pub fn load_with(dir: &Path, registry: &[ScenarioEntry]) -> Result<Loaded> {
    let folder = Folder(dir);
    let manifest = folder.manifest()?;
    let entry = (registry.iter())
        .find(|e| e.name == manifest.scenario)
        .ok_or_else(|| EngineError::UnknownName {
            what: ScenarioKind::WHAT,
            got: manifest.scenario.clone(),
            choices: registry.iter().map(|e| e.name).collect(),
        })?;
    let scenario = (entry.from_parameters)(&manifest.parameters)?;
    let rows = manifest.runs.max(1) * manifest.steps;
    let lead = leading_shape(manifest.runs, rows);
    let shape = [rows, manifest.agents, manifest.features.len()];
    let simulation = Simulation {
        features: folder.steps_array("features.npy", &lead, shape)?,
        baseline: folder.steps_array("baseline.npy", &lead, shape)?,
        graph: folder.graph(&manifest)?,
        context: (manifest.context.iter())
            .map(|name| Ok((name.clone(), folder.series(name, rows)?)))
            .collect::<Result<_>>()?,
        runs: manifest.runs.max(1),
    };
    Ok(Loaded {
        scenario,
        simulation,
        manifest,
    })
}

/// A scenario folder being read.
struct Folder<'a>(&'a Path);

impl Folder<'_> {
    fn bad(&self, file: &str, reason: String) -> Error {
        Error::Scenario {
            path: self.0.join(file),
            reason,
        }
    }

    fn shape_error(&self, file: &str, expected: String, got: Vec<usize>) -> Error {
        EngineError::Shape {
            what: self.0.join(file).display().to_string(),
            expected,
            got,
        }
        .into()
    }

    /// `scenario.json`, of this format and version.
    fn manifest(&self) -> Result<Manifest> {
        let file = "scenario.json";
        aumann_engine::input::check_regular(&self.0.join(file))
            .map_err(|e| self.bad(file, format!("cannot be read ({e})")))?;
        let text = std::fs::read_to_string(self.0.join(file))
            .map_err(|e| self.bad(file, format!("cannot be read ({e})")))?;
        let manifest: Manifest = serde_json::from_str(&text)
            .map_err(|e| self.bad(file, format!("not a scenario manifest ({e})")))?;
        if manifest.format != FORMAT || manifest.version != VERSION {
            let (f, v) = (&manifest.format, manifest.version);
            let reason = format!("format {f} v{v}, expected {FORMAT} v{VERSION}");
            return Err(self.bad(file, reason));
        }
        Ok(manifest)
    }

    /// A finite `[T, n, d]` (or `[R, T, n, d]`) array, as `[R · T, n, d]`.
    fn steps_array(&self, file: &str, lead: &[usize], [rows, n, d]: [usize; 3]) -> Result<Array3> {
        let a = aumann_engine::npy::read(&self.0.join(file))?;
        let want = [lead, &[n, d]].concat();
        if a.shape != want {
            let expected = format!("{want:?} as scenario.json says");
            return Err(self.shape_error(file, expected, a.shape));
        }
        let array = Array3::new([rows, n, d], a.values);
        array.check_finite(&self.0.join(file).display().to_string())?;
        Ok(array)
    }

    /// `context/edges.npy` (`None` for a scenario without a graph).
    fn graph(&self, manifest: &Manifest) -> Result<Option<Arc<Graph>>> {
        let file = "context/edges.npy";
        let e = aumann_engine::npy::read_counts(&self.0.join(file))?;
        if e.shape != [manifest.edges, 2] {
            let expected = format!("[{}, 2] as scenario.json says", manifest.edges);
            return Err(self.shape_error(file, expected, e.shape));
        }
        if manifest.edges == 0 {
            return Ok(None);
        }
        let values: Vec<f64> = match e.values {
            Values::F64(v) => v,
            Values::F32(v) => v.into_iter().map(f64::from).collect(),
        };
        // Agent ids are whole numbers: a NaN, an infinity or a fraction names no agent.
        if let Some(at) = values
            .iter()
            .position(|x| x.fract() != 0.0 || !x.is_finite())
        {
            let reason = format!("edge {} holds {}, not an agent number", at / 2, values[at]);
            return Err(self.bad(file, reason));
        }
        let flat: Vec<i64> = values.into_iter().map(|x| x as i64).collect();
        let n = manifest.agents;
        let graph = Graph::from_i64(n, &flat).map_err(|(edge, v)| {
            self.bad(file, format!("edge {edge} names agent {v}, outside 0..{n}"))
        })?;
        Ok(Some(Arc::new(graph)))
    }

    /// `context/<name>.npy`: `[T]` finite values.
    fn series(&self, name: &str, steps: usize) -> Result<Vec<f64>> {
        let file = format!("context/{name}.npy");
        let a = aumann_engine::npy::read(&self.0.join(&file))?;
        if a.shape != [steps] {
            let expected = format!("[{steps}], one value per step");
            return Err(self.shape_error(&file, expected, a.shape));
        }
        let values: Vec<f64> = match a.values {
            Values::F64(v) => v,
            Values::F32(v) => v.into_iter().map(f64::from).collect(),
        };
        match values.iter().position(|v| !v.is_finite()) {
            Some(t) => Err(self.bad(&file, format!("{} at step {t}", values[t]))),
            None => Ok(values),
        }
    }
}
