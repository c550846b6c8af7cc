//! `aumann._rust`: the engine for the `aumann` Python package. NumPy arrays in (float32 or
//! float64, `[n, d]` or `[T, n, d]`, copied once into the engine's layout), NumPy arrays out
//! (moved, not copied); the GIL is released while the engine runs; every engine error reaches
//! Python as `EngineError(kind, message)`, which the package turns into its own exceptions.
//!
//! While the engine runs, its progress callback takes the GIL for a moment after every chunk
//! to look for a pending signal: Ctrl-C stops the run there (by unwinding out of the engine,
//! caught at this boundary) and raises `KeyboardInterrupt`. Any other panic is caught too and
//! raised as an engine error, never as pyo3's `PanicException`. A process forked after this
//! module was imported refuses to run the engine: rayon's and the GPU runtime's threads do
//! not survive a fork, so the child would hang.

use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::atomic::{AtomicBool, Ordering};

use numpy::{IntoPyArray, PyArrayDyn, PyArrayMethods, PyReadonlyArrayDyn, PyUntypedArrayMethods};
use pyo3::exceptions::{PyException, PyKeyboardInterrupt};
use pyo3::prelude::*;

use aumann_engine::array::Array3;

/// burn allocates a buffer per tensor operation; mimalloc reuses freed ones where glibc returns
/// them to the kernel and faults them back in. Only the engine's own allocations use it.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use aumann_engine::backend::{Backend, Precision};
use aumann_engine::baseline::BaselineSpec;
use aumann_engine::error::EngineCause;
use aumann_engine::indicators::IndicatorSpec;
use aumann_engine::indicators::formula::{Definition, Formula};
use aumann_engine::run::Method;
use aumann_methods::request::{BaselineChoice, Features, Request};

pyo3::create_exception!(_rust, EngineError, PyException);

/// Set in the child of a `fork`.
static FORKED: AtomicBool = AtomicBool::new(false);

extern "C" fn in_child() {
    FORKED.store(true, Ordering::SeqCst);
}

/// The panic payload that carries a Ctrl-C out of the engine.
struct Interrupted;

/// Keep the panic hook from printing the unwinding that carries a Ctrl-C out of the engine:
/// it is not an error, and Python reports it as a `KeyboardInterrupt`. Every other panic is
/// printed as before.
fn quiet_interrupts() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !info.payload().is::<Interrupted>() {
                previous(info);
            }
        }));
    });
}

/// Run `work` on the engine without the GIL: signals checked after every chunk of progress,
/// panics and Ctrl-C turned into Python exceptions.
fn run_engine<T: Send, E: LibraryError + Send>(
    py: Python<'_>,
    progress: Option<&Py<PyAny>>,
    work: impl FnOnce(&mut (dyn FnMut(usize, usize) + Send)) -> Result<T, E> + Send,
) -> PyResult<T> {
    if FORKED.load(Ordering::SeqCst) {
        return Err(EngineError::new_err((
            "backend",
            "aumann cannot run in a process forked after it was imported: its worker threads \
             do not survive fork(); use multiprocessing with the 'spawn' or 'forkserver' start \
             method"
                .to_string(),
        )));
    }
    let outcome = py.detach(|| {
        let mut check = |done: usize, total: usize| {
            let interrupted = Python::attach(|py| {
                if let Some(callback) = progress {
                    // A failing callback does not stop the run (its error is printed), but a
                    // Ctrl-C that Python delivered while the callback ran does.
                    if let Err(e) = callback.call1(py, (done, total)) {
                        if e.is_instance_of::<PyKeyboardInterrupt>(py) {
                            return true;
                        }
                        e.print(py);
                    }
                }
                py.check_signals().is_err()
            });
            if interrupted {
                std::panic::panic_any(Interrupted);
            }
        };
        catch_unwind(AssertUnwindSafe(|| work(&mut check)))
    });
    match outcome {
        Ok(result) => result.map_err(|e| e.to_py()),
        Err(payload) if payload.is::<Interrupted>() => Err(PyKeyboardInterrupt::new_err(())),
        Err(payload) => {
            let what = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()));
            match what {
                Some(message) => Err(EngineError::new_err((
                    "internal",
                    format!("internal error in the engine: {message}"),
                ))),
                None => resume_unwind(payload),
            }
        }
    }
}

/// The kind of an engine error, for the package's exception classes.
fn kind(e: &aumann_engine::Error) -> &'static str {
    use aumann_engine::Error as E;
    match e {
        E::Backend { .. }
        | E::UnsupportedPrecision { .. }
        | E::InexactTranscendentals { .. }
        | E::Readback { .. } => "backend",
        E::Io { .. } => "io",
        _ => "input",
    }
}

fn engine(e: aumann_engine::Error) -> PyErr {
    EngineError::new_err((kind(&e), e.to_string()))
}

/// An error of the library, as the package's exception: an engine error by its kind, a
/// figure that could not be drawn as a backend failure, anything else (a panel or scenario
/// folder) as bad input.
trait LibraryError: EngineCause {
    /// Whether a figure could not be drawn.
    fn is_render(&self) -> bool {
        false
    }

    fn to_py(&self) -> PyErr {
        let kind = match self.engine() {
            Some(e) => kind(e),
            None if self.is_render() => "backend",
            None => "input",
        };
        EngineError::new_err((kind, self.to_string()))
    }
}

impl LibraryError for aumann_engine::Error {}

impl LibraryError for aumann_panel::Error {}

impl LibraryError for aumann_methods::Error {
    fn is_render(&self) -> bool {
        matches!(self, Self::Render(_))
    }
}

impl LibraryError for aumann_study::Error {
    fn is_render(&self) -> bool {
        matches!(self, Self::Render(_))
    }
}

fn input(message: String) -> PyErr {
    EngineError::new_err(("input", message))
}

/// A NumPy array as `[T, n, d]` features, with the rank it came in.
fn features(x: &Bound<'_, PyAny>) -> PyResult<(Array3, usize)> {
    let shape_of = |shape: &[usize]| -> PyResult<[usize; 3]> {
        match *shape {
            [n, d] => Ok([1, n, d]),
            [t, n, d] => Ok([t, n, d]),
            _ => Err(input(format!(
                "X has shape {shape:?}; expected [n, d] or [T, n, d] (agents × features, optionally per step)"
            ))),
        }
    };
    // One copy: a memcpy of a C-contiguous array (the package makes it so), element by element
    // otherwise.
    let (array, rank) = if let Ok(a) = x.extract::<PyReadonlyArrayDyn<'_, f32>>() {
        let shape = shape_of(a.shape())?;
        let values = match a.as_slice() {
            Ok(s) => s.to_vec(),
            Err(_) => a.as_array().iter().copied().collect(),
        };
        (Array3::from_f32(shape, values), a.ndim())
    } else if let Ok(a) = x.extract::<PyReadonlyArrayDyn<'_, f64>>() {
        let shape = shape_of(a.shape())?;
        let values = match a.as_slice() {
            Ok(s) => s.to_vec(),
            Err(_) => a.as_array().iter().copied().collect(),
        };
        (Array3::from_f64(shape, values), a.ndim())
    } else {
        return Err(input("X must be a float32 or float64 NumPy array".into()));
    };
    if array.shape().contains(&0) {
        return Err(input(format!(
            "X has shape {:?}; at least one step, one agent and one feature are needed",
            array.shape()
        )));
    }
    array.check_finite("X").map_err(engine)?;
    Ok((array, rank))
}

/// The precision asked for, or the features' own.
fn precision_for(precision: Option<&str>, features: &Array3) -> PyResult<Precision> {
    match precision {
        Some(p) => p
            .parse::<Precision>()
            .map_err(|e| input(format!("precision: {e}"))),
        None if features.is_f64() => Ok(Precision::F64),
        None => Ok(Precision::F32),
    }
}

/// A baseline array: `[d]`, `[n, d]` or `[T, n, d]` against features `[T, n, d]`.
fn baseline_of(
    b: &Bound<'_, PyAny>,
    [t, n, d]: [usize; 3],
) -> PyResult<aumann_engine::baseline::Baseline> {
    let a: PyReadonlyArrayDyn<'_, f64> = b.extract().map_err(|_| {
        input("baseline must be a float64 NumPy array (the package converts)".into())
    })?;
    let shape = match *a.shape() {
        [k] if k == d => [1, 1, d],
        [m, k] if m == n && k == d => [1, n, d],
        [s, m, k] if s == t && m == n && k == d => [t, n, d],
        ref other => {
            return Err(input(format!(
                "baseline has shape {other:?}; expected [{d}], [{n}, {d}] or [{t}, {n}, {d}] to match the features"
            )));
        }
    };
    finite_baseline(&a, shape)
}

/// The values of `a` as a baseline of `shape`, refused where one is not finite.
fn finite_baseline(
    a: &PyReadonlyArrayDyn<'_, f64>,
    shape: [usize; 3],
) -> PyResult<aumann_engine::baseline::Baseline> {
    let array = Array3::from_f64(shape, a.as_array().iter().copied().collect());
    array.check_finite("baseline").map_err(engine)?;
    Ok(aumann_engine::baseline::Baseline::from_array(array))
}

/// An indicator as the package passes it: `(name, model folder or None)`, or
/// `("formula", its definition as JSON)`.
#[derive(FromPyObject)]
struct IndicatorArg(String, Option<String>);

impl IndicatorArg {
    /// The indicator it names.
    fn spec(self) -> PyResult<IndicatorSpec> {
        let mut spec: IndicatorSpec = self.0.parse().map_err(engine)?;
        match (spec.is_formula(), self.1) {
            (true, Some(json)) => {
                spec.formula = Some(Definition::from_json(&json).map_err(engine)?)
            }
            (_, model) => spec.model = model.map(Into::into),
        }
        Ok(spec)
    }
}

/// `check_formula(definition JSON) -> the definition as the engine writes it`: a formula
/// indicator read and compiled (its feature count is checked against the data later).
#[pyfunction]
fn check_formula(definition: &str) -> PyResult<String> {
    let definition = Definition::from_json(definition).map_err(engine)?;
    Formula::compile(&definition, None).map_err(engine)?;
    Ok(definition.to_json())
}

/// `attribute(X, (indicator, model), baseline, method, rule, steps, backend, precision,
/// threads, normalize) -> (φ, summary JSON)`: φ has X's shape without its last axis.
#[pyfunction]
#[pyo3(signature = (x, indicator, baseline, method, rule, steps, backend, precision, threads, normalize, progress=None, baseline_array=None))]
#[allow(clippy::too_many_arguments)]
fn attribute<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    indicator: IndicatorArg,
    baseline: &str,
    method: &str,
    rule: &str,
    steps: usize,
    backend: &str,
    precision: Option<&str>,
    threads: Option<usize>,
    normalize: bool,
    progress: Option<Py<PyAny>>,
    baseline_array: Option<Bound<'py, PyAny>>,
) -> PyResult<(Bound<'py, PyArrayDyn<f64>>, String)> {
    let (features, rank) = features(x)?;
    let explicit = baseline_array
        .map(|b| baseline_of(&b, features.shape()))
        .transpose()?;
    let parse = |what: &str, e: String| input(format!("{what}: {e}"));
    let mut request = Request::indicator(indicator.spec()?, None);
    let config = &mut request.config;
    config.method = method
        .parse::<Method>()
        .map_err(|e| parse("method", e.to_string()))?;
    config.rule = <aumann_engine::path::Rule as aumann_engine::choice::Choice>::from_label(rule)
        .map_err(|e| parse("rule", e.to_string()))?;
    config.points = steps;
    config.backend = backend
        .parse::<Backend>()
        .map_err(|e| parse("backend", e.to_string()))?;
    config.precision = precision_for(precision, &features)?;
    config.threads = threads;
    config.normalize = normalize;
    request.features = Some(Features {
        array: features,
        rank,
        source: "<numpy>".into(),
    });
    request.baseline = Some(match explicit {
        Some(baseline) => BaselineChoice::Array {
            baseline,
            name: "<numpy array>".into(),
        },
        None => BaselineChoice::Spec(baseline.parse::<BaselineSpec>().expect("infallible")),
    });
    let (values, shape, summary) =
        run_engine::<_, aumann_methods::Error>(py, progress.as_ref(), |check| {
            let response = request.attribute(&mut |p| check(p.done, p.total))?;
            let (shape, summary) = (response.shape.clone(), response.summary.to_json());
            // φ moves out to NumPy; shares are a new array only when asked for.
            Ok((response.into_values()?, shape, summary))
        })?;
    let phi = values.into_pyarray(py).reshape(shape)?;
    Ok((phi, summary))
}

/// `evaluate(X, (indicator, model), backend, precision) -> V per step`.
#[pyfunction]
#[pyo3(signature = (x, indicator, backend, precision))]
fn evaluate<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    indicator: IndicatorArg,
    backend: &str,
    precision: Option<&str>,
) -> PyResult<Bound<'py, numpy::PyArray1<f64>>> {
    let (features, _) = features(x)?;
    let spec = indicator.spec()?;
    let backend = backend.parse::<Backend>().map_err(engine)?;
    let precision = precision_for(precision, &features)?;
    let values = run_engine(py, None, |_| {
        let device = backend.device_for(precision)?;
        let built = spec.build(&device, features.dims(), precision)?;
        let block = aumann_engine::path::PathOptions::default().block_elements;
        aumann_engine::run::evaluate(built.as_ref(), &features, precision, &device, block)
    })?;
    Ok(values.into_pyarray(py))
}

/// `train_deepset(X, y, target_indicator, dir, hidden, depth, activation, epochs, lr, batch,
/// seed, val_fraction, patience) -> report JSON`: a DeepSet trained on the populations `X`
/// (`[R, n, d]`) for the targets `y` (one per population) or an analytic indicator, saved as
/// a model folder at `dir` (what `aumann train` writes).
#[pyfunction]
#[pyo3(signature = (x, y, target_indicator, dir, hidden, depth, activation, epochs, lr, batch, seed, val_fraction, patience))]
#[allow(clippy::too_many_arguments)]
fn train_deepset(
    py: Python<'_>,
    x: &Bound<'_, PyAny>,
    y: Option<PyReadonlyArrayDyn<'_, f64>>,
    target_indicator: Option<&str>,
    dir: std::path::PathBuf,
    hidden: usize,
    depth: usize,
    activation: &str,
    epochs: usize,
    lr: f64,
    batch: usize,
    seed: u64,
    val_fraction: f64,
    patience: usize,
) -> PyResult<String> {
    use aumann_engine::indicators::deepset::DeepSetConfig;
    use aumann_methods::train::{Target, TrainConfig};
    let (features, _) = features(x)?;
    let target = match (y, target_indicator) {
        (Some(y), _) => Target::Values(y.as_array().iter().copied().collect()),
        (None, Some(name)) => Target::Indicator(
            <aumann_engine::indicators::Analytic as aumann_engine::choice::Choice>::from_label(
                name,
            )
            .map_err(engine)?,
        ),
        (None, None) => {
            return Err(input(
                "give y (one value per population) or target_indicator".into(),
            ));
        }
    };
    let network = DeepSetConfig::new(features.dims())
        .with_hidden(hidden)
        .with_depth(depth)
        .with_activation(activation.parse().map_err(engine)?);
    let config = TrainConfig {
        epochs,
        lr,
        batch,
        seed,
        val_fraction,
        patience,
        path_copies: 0,
    };
    run_engine::<_, aumann_engine::Error>(py, None, |_| {
        let device = Backend::Flex.device()?;
        let (model, report) = aumann_methods::train::train(
            &features,
            &target,
            &network,
            &config,
            &device,
            &mut |_| {},
        )?;
        let card = aumann_methods::train::card(
            &report,
            &target.describe(None),
            &network,
            &config,
            "aumann.DeepSet.fit (Python)",
        );
        aumann_engine::model::save(&dir, &model, &network, &card)?;
        Ok(serde_json::json!({
            "epochs_run": report.epochs_run,
            "best_epoch": report.best_epoch,
            "seconds": report.seconds,
            "history": report.history.iter().map(|e| (e.train_loss, e.val_loss)).collect::<Vec<_>>(),
        })
        .to_string())
    })
}

/// `run_study(out, panel, agents, days, panel_seed, seed, seeds, sizes, indicators,
/// protocols, progress)`: the cross-scale study written to `out` (as `aumann study` writes it,
/// under a temporary name first).
#[pyfunction]
#[pyo3(signature = (out, panel, agents, days, panel_seed, seed, seeds, sizes, indicators, protocols, progress=None))]
#[allow(clippy::too_many_arguments)]
fn run_study(
    py: Python<'_>,
    out: std::path::PathBuf,
    panel: Option<std::path::PathBuf>,
    agents: usize,
    days: usize,
    panel_seed: u64,
    seed: u64,
    seeds: usize,
    sizes: Vec<usize>,
    indicators: Vec<String>,
    protocols: Vec<String>,
    progress: Option<Py<PyAny>>,
) -> PyResult<()> {
    use aumann_engine::choice::Choice;
    use aumann_study::{Protocol, StudyConfig};
    let config = StudyConfig {
        sizes,
        seeds,
        seed,
        indicators: (indicators.iter())
            .map(|i| i.parse::<aumann_study::StudyIndicator>())
            .collect::<aumann_engine::Result<_>>()
            .map_err(engine)?,
        protocols: (protocols.iter())
            .map(|p| Protocol::from_label(p))
            .collect::<aumann_engine::Result<_>>()
            .map_err(engine)?,
        ..StudyConfig::default()
    };
    let inputs: Vec<&std::path::Path> = panel.iter().map(|p| p.as_path()).collect();
    let staged =
        aumann_engine::output::Staged::folder(&out, "run.json", &inputs).map_err(engine)?;
    run_engine::<_, aumann_study::Error>(py, progress.as_ref(), |report| {
        let start = std::time::Instant::now();
        let (panel, origin) = match &panel {
            Some(dir) => (
                aumann_panel::Panel::load(dir)?,
                format!("panel folder {}", dir.display()),
            ),
            None => {
                let config = aumann_panel::synth::PanelConfig {
                    agents,
                    days,
                    seed: panel_seed,
                    ..Default::default()
                };
                let origin = format!(
                    "generated: aumann panel synth --agents {agents} --days {days} --seed {panel_seed}"
                );
                config.check()?;
                (aumann_panel::synth::generate(&config), origin)
            }
        };
        let panel_seconds = start.elapsed().as_secs_f64();
        let results = aumann_study::run(&panel, &config, |p| report(p.done, p.total))?;
        let info = aumann_study::report::RunInfo {
            command: "aumann.study (Python)".into(),
            panel_seconds,
            panel_origin: origin,
            sweep: None,
        };
        aumann_study::report::write(staged.path(), &panel, &results, &info)?;
        Ok(staged.commit()?)
    })
}

/// `compare(X, indicator, methods, samples, seed, antithetic, baseline) -> [(method, φ,
/// std_error, seconds)]`: attribution methods side by side on one step `[n, d]` of an
/// analytic indicator (`aumann compare`).
#[pyfunction]
#[pyo3(signature = (x, indicator, methods, samples, seed, antithetic, baseline))]
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
fn compare<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    indicator: &str,
    methods: Vec<String>,
    samples: usize,
    seed: u64,
    antithetic: bool,
    baseline: &str,
) -> PyResult<
    Vec<(
        String,
        Bound<'py, numpy::PyArray1<f64>>,
        Option<Bound<'py, numpy::PyArray1<f64>>>,
        f64,
    )>,
> {
    use aumann_engine::choice::Choice;
    use aumann_methods::compare::{CompareOptions, Method as CompareMethod, Program, Subject};
    let (features, _) = features(x)?;
    if features.steps() != 1 {
        return Err(input(format!(
            "compare attributes one step: X has {} steps; pass X[t]",
            features.steps()
        )));
    }
    let kind = aumann_engine::indicators::Analytic::from_label(indicator).map_err(engine)?;
    let methods = (methods.iter())
        .map(|m| CompareMethod::from_label(m))
        .collect::<aumann_engine::Result<Vec<_>>>()
        .map_err(engine)?;
    let options = CompareOptions {
        samples,
        seed,
        antithetic,
        ..CompareOptions::default()
    };
    let spec = baseline.parse::<BaselineSpec>().expect("infallible");
    let runs = run_engine(py, None, |_| {
        let subject = Subject {
            baseline: aumann_engine::baseline::Baseline::resolve(&spec, &features)?,
            features,
            program: Program::Analytic(kind),
        };
        (methods.iter())
            .map(|&m| subject.run(m, &options, &mut |_| {}))
            .collect::<aumann_engine::Result<Vec<_>>>()
    })?;
    Ok(runs
        .into_iter()
        .map(|r| {
            (
                r.method.name().to_string(),
                r.phi.into_pyarray(py),
                r.std_error.map(|e| e.into_pyarray(py)),
                r.seconds,
            )
        })
        .collect())
}

/// `attribute_scenario(dir, which, run, step, rule, steps, backend, precision, progress) ->
/// (φ, V(x), V(b))`: a scenario folder's static or rollout risk attributed by the path
/// integral, φ of shape `[runs?, steps?, n]` as `aumann attribute --scenario` writes it.
#[pyfunction]
#[pyo3(signature = (dir, which, run, step, rule, steps, backend, precision, progress=None))]
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
fn attribute_scenario<'py>(
    py: Python<'py>,
    dir: std::path::PathBuf,
    which: &str,
    run: Option<usize>,
    step: Option<usize>,
    rule: &str,
    steps: usize,
    backend: &str,
    precision: &str,
    progress: Option<Py<PyAny>>,
) -> PyResult<(Bound<'py, PyArrayDyn<f64>>, Vec<f64>, Vec<f64>)> {
    use aumann_engine::choice::Choice;
    use aumann_methods::scenario::{Horizon, Target};
    let which = Horizon::from_label(which).map_err(engine)?;
    let mut request = Request::scenario(dir, Target { which, run, step });
    request.config.rule =
        <aumann_engine::path::Rule as Choice>::from_label(rule).map_err(engine)?;
    request.config.points = steps;
    request.config.precision = precision.parse::<Precision>().map_err(engine)?;
    request.config.backend = backend.parse::<Backend>().map_err(engine)?;
    let (phi, shape, v_x, v_b) =
        run_engine::<_, aumann_methods::Error>(py, progress.as_ref(), |report| {
            let response = request.attribute(&mut |p| report(p.done, p.total))?;
            let a = response.output.attribution;
            Ok((a.phi, response.shape, a.v_x, a.v_b))
        })?;
    Ok((phi.into_pyarray(py).reshape(shape)?, v_x, v_b))
}

/// A float64 NumPy array the engine returns.
type Array<'py> = Bound<'py, PyArrayDyn<f64>>;

/// A chunk's baseline: float64 `[1 or T, 1 or n_chunk, d]`.
fn chunk_baseline(b: PyReadonlyArrayDyn<'_, f64>) -> PyResult<aumann_engine::baseline::Baseline> {
    let shape = match *b.shape() {
        [t, n, d] => [t, n, d],
        ref other => {
            return Err(input(format!(
                "a chunk's baseline has shape {other:?}; expected [1 or T, 1 or n, d]"
            )));
        }
    };
    finite_baseline(&b, shape)
}

/// A chunk `[T, n_chunk, d]` of features.
fn chunk_features(x: &Bound<'_, PyAny>) -> PyResult<Array3> {
    let (array, rank) = features(x)?;
    match rank {
        3 => Ok(array),
        _ => Err(input("a chunk of features has shape [T, n, d]".into())),
    }
}

/// `quadrature(rule, points) -> (nodes, weights)` on [0, 1].
#[pyfunction]
fn quadrature(rule: &str, points: usize) -> PyResult<(Vec<f64>, Vec<f64>)> {
    use aumann_engine::choice::Choice;
    let rule = <aumann_engine::path::Rule as Choice>::from_label(rule).map_err(engine)?;
    let options = aumann_engine::path::PathOptions {
        rule,
        points,
        ..Default::default()
    };
    options.check_points().map_err(engine)?;
    Ok(rule.nodes_weights(points))
}

/// `chunk_exact_sums(x, b) -> [T, 2, d]`: the chunk's column sums of the features and the
/// baseline, step by step.
#[pyfunction]
fn chunk_exact_sums<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    b: PyReadonlyArrayDyn<'py, f64>,
) -> PyResult<Bound<'py, PyArrayDyn<f64>>> {
    let (x, b) = (chunk_features(x)?, chunk_baseline(b)?);
    let [t, _, d] = x.shape();
    let sums = run_engine(py, None, |_| aumann_engine::chunked::exact_sums(&x, &b))?;
    sums.into_pyarray(py).reshape(vec![t, 2, d])
}

/// `chunk_exact_phi(indicator, x, b, agents, means [T, 2, d], midranks [T, n] or None,
/// threads) -> φ [T, n_chunk]`: a chunk's exact attribution from its population's moments.
#[pyfunction]
#[pyo3(signature = (indicator, x, b, agents, means, midranks, threads))]
#[allow(clippy::too_many_arguments)]
fn chunk_exact_phi<'py>(
    py: Python<'py>,
    indicator: &str,
    x: &Bound<'py, PyAny>,
    b: PyReadonlyArrayDyn<'py, f64>,
    agents: usize,
    means: PyReadonlyArrayDyn<'py, f64>,
    midranks: Option<PyReadonlyArrayDyn<'py, f64>>,
    threads: Option<usize>,
) -> PyResult<Bound<'py, PyArrayDyn<f64>>> {
    use aumann_engine::choice::Choice;
    let kind = aumann_engine::indicators::Analytic::from_label(indicator).map_err(engine)?;
    let (x, b) = (chunk_features(x)?, chunk_baseline(b)?);
    let [t, n, _] = x.shape();
    let means: Vec<f64> = means.as_array().iter().copied().collect();
    let ranks: Option<Vec<f64>> = midranks.map(|r| r.as_array().iter().copied().collect());
    let phi = run_engine(py, None, |_| {
        aumann_engine::run::with_threads(threads, || {
            aumann_engine::chunked::exact_phi(kind, &x, &b, agents, &means, ranks.as_deref())
        })
    })?;
    phi.into_pyarray(py).reshape(vec![t, n])
}

/// The indicator on the CPU, for `d` features in `precision`.
fn host_indicator(
    indicator: IndicatorArg,
    d: usize,
    precision: Precision,
) -> PyResult<Box<dyn aumann_engine::indicators::Indicator>> {
    let spec = indicator.spec()?;
    let device = Backend::Flex.device().map_err(engine)?;
    spec.build(&device, d, precision).map_err(engine)
}

/// `pooled_width(indicator, d) -> k`: the number of means the indicator pools.
#[pyfunction]
fn pooled_width(indicator: IndicatorArg, d: usize) -> PyResult<usize> {
    let built = host_indicator(indicator, d, Precision::F64)?;
    aumann_engine::chunked::pooled_width(built.as_ref()).map_err(engine)
}

/// `chunk_pooled_sums(x, indicator, b, nodes, precision, threads) -> [T, m + 2, k]`.
#[pyfunction]
#[pyo3(signature = (x, indicator, b, nodes, precision, threads))]
fn chunk_pooled_sums<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    indicator: IndicatorArg,
    b: PyReadonlyArrayDyn<'py, f64>,
    nodes: Vec<f64>,
    precision: &str,
    threads: Option<usize>,
) -> PyResult<Bound<'py, PyArrayDyn<f64>>> {
    let (x, b) = (chunk_features(x)?, chunk_baseline(b)?);
    let precision = precision.parse::<Precision>().map_err(engine)?;
    let built = host_indicator(indicator, x.dims(), precision)?;
    let sums = run_engine(py, None, |_| {
        aumann_engine::run::with_threads(threads, || {
            aumann_engine::chunked::pooled_sums(built.as_ref(), &x, &b, &nodes, precision)
        })
    })?;
    let k = sums.len() / (x.steps() * (nodes.len() + 2));
    sums.into_pyarray(py)
        .reshape(vec![x.steps(), nodes.len() + 2, k])
}

/// `pooled_shared(indicator, d, sums [T, m + 2, k], agents, weights, shared_baseline [T or 1,
/// d] or None) -> (values [T, 2], shared [T, m, k])`: the driver's step.
#[pyfunction]
#[pyo3(signature = (indicator, d, sums, agents, weights, shared_baseline))]
fn pooled_shared<'py>(
    py: Python<'py>,
    indicator: IndicatorArg,
    d: usize,
    sums: PyReadonlyArrayDyn<'py, f64>,
    agents: usize,
    weights: Vec<f64>,
    shared_baseline: Option<PyReadonlyArrayDyn<'py, f64>>,
) -> PyResult<(Array<'py>, Array<'py>)> {
    let built = host_indicator(indicator, d, Precision::F64)?;
    let steps = sums.shape()[0];
    let sums: Vec<f64> = sums.as_array().iter().copied().collect();
    let common = shared_baseline.map(|b| {
        let rows = b.shape()[0];
        let values = b.as_array().iter().copied().collect();
        aumann_engine::baseline::Baseline::from_array(Array3::from_f64([rows, 1, d], values))
    });
    let (values, shared) = run_engine(py, None, |_| {
        aumann_engine::chunked::pooled_shared(
            built.as_ref(),
            &sums,
            agents,
            &weights,
            common.as_ref(),
        )
    })?;
    let k = shared.len() / (steps * weights.len()).max(1);
    Ok((
        values.into_pyarray(py).reshape(vec![steps, 2])?,
        shared
            .into_pyarray(py)
            .reshape(vec![steps, weights.len(), k])?,
    ))
}

/// `chunk_pooled_phi(x, indicator, b, nodes, shared [T, m, k], precision, threads) -> φ [T,
/// n_chunk]`.
#[pyfunction]
#[pyo3(signature = (x, indicator, b, nodes, shared, precision, threads))]
#[allow(clippy::too_many_arguments)]
fn chunk_pooled_phi<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    indicator: IndicatorArg,
    b: PyReadonlyArrayDyn<'py, f64>,
    nodes: Vec<f64>,
    shared: PyReadonlyArrayDyn<'py, f64>,
    precision: &str,
    threads: Option<usize>,
) -> PyResult<Bound<'py, PyArrayDyn<f64>>> {
    let (x, b) = (chunk_features(x)?, chunk_baseline(b)?);
    let [t, n, d] = x.shape();
    let precision = precision.parse::<Precision>().map_err(engine)?;
    let built = host_indicator(indicator, d, precision)?;
    let shared: Vec<f64> = shared.as_array().iter().copied().collect();
    let phi = run_engine(py, None, |_| {
        aumann_engine::run::with_threads(threads, || {
            aumann_engine::chunked::pooled_phi(built.as_ref(), &x, &b, &nodes, &shared, precision)
        })
    })?;
    phi.into_pyarray(py).reshape(vec![t, n])
}

#[pymodule]
fn _rust(m: &Bound<'_, PyModule>) -> PyResult<()> {
    quiet_interrupts();
    m.add_function(wrap_pyfunction!(attribute_scenario, m)?)?;
    m.add_function(wrap_pyfunction!(compare, m)?)?;
    m.add_function(wrap_pyfunction!(run_study, m)?)?;
    m.add_function(wrap_pyfunction!(train_deepset, m)?)?;
    // SAFETY: `in_child` only stores to an atomic, which is async-signal-safe after fork.
    let registered = unsafe { libc::pthread_atfork(None, None, Some(in_child)) };
    if registered != 0 {
        return Err(PyException::new_err("cannot register the fork handler"));
    }
    m.add_function(wrap_pyfunction!(evaluate, m)?)?;
    m.add("EngineError", m.py().get_type::<EngineError>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(attribute, m)?)?;
    m.add_function(wrap_pyfunction!(check_formula, m)?)?;
    m.add_function(wrap_pyfunction!(quadrature, m)?)?;
    m.add_function(wrap_pyfunction!(chunk_exact_sums, m)?)?;
    m.add_function(wrap_pyfunction!(chunk_exact_phi, m)?)?;
    m.add_function(wrap_pyfunction!(pooled_width, m)?)?;
    m.add_function(wrap_pyfunction!(chunk_pooled_sums, m)?)?;
    m.add_function(wrap_pyfunction!(pooled_shared, m)?)?;
    m.add_function(wrap_pyfunction!(chunk_pooled_phi, m)?)?;
    Ok(())
}
