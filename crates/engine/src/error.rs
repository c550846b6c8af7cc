//! The engine's error type: every message names the problem and where it is (file, step,
//! agent, coordinate), in lowercase, with the fix where there is one.

use std::path::PathBuf;

/// Everything that can go wrong in an attribution run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A long table (one row per step and agent) that cannot be pivoted.
    #[error("{}: {reason}", path.display())]
    Table {
        /// The file.
        path: PathBuf,
        /// What is wrong, with the line, step, agent or column.
        reason: String,
    },
    /// A file could not be opened, read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A result the computation could not represent: it overflowed the working precision.
    #[error("{what} at {place} is {value}: {}", overflow_fix(*precision, *value))]
    Overflow {
        /// What overflowed (`"φ"`, `"V(x)"` …), with the indicator.
        what: String,
        /// Where: the step and agent, or the row.
        place: String,
        /// The value (infinite or NaN).
        value: f64,
        /// The precision it was computed or is to be written in.
        precision: crate::backend::Precision,
    },
    /// A size or count beyond what the machine can hold or a run can meaningfully use.
    #[error("{what}: {value} exceeds {bound}; {reason}")]
    TooLarge {
        /// What is too large (a file, a parameter).
        what: String,
        /// The value asked for.
        value: String,
        /// The bound.
        bound: String,
        /// Why the bound is there.
        reason: String,
    },
    /// An input path that is not a file of data.
    #[error("{}: {reason}", path.display())]
    Input {
        /// The path given.
        path: PathBuf,
        /// What it is, and what was expected.
        reason: String,
    },
    /// An output path that cannot be written safely.
    #[error("{}: {reason}", path.display())]
    Output {
        /// The output path asked for.
        path: PathBuf,
        /// Why it is refused, and what to do.
        reason: String,
    },
    /// The file is not a readable `.npy` array.
    #[error("{}: not a valid .npy file ({reason})", path.display())]
    NotNpy {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The array's element type is not one aumann reads.
    #[error(
        "{}: unsupported dtype '{found}'; aumann reads float32 ('<f4') and float64 ('<f8') arrays, \
         convert with numpy's .astype('float64')",
        path.display()
    )]
    UnsupportedDtype {
        /// The file.
        path: PathBuf,
        /// The numpy type string found.
        found: String,
    },
    /// An array has the wrong rank or a shape that does not fit the others.
    #[error("{what}: expected shape {expected}, got {got:?}")]
    Shape {
        /// Which array (usually its file name).
        what: String,
        /// The shapes that would be accepted.
        expected: String,
        /// The shape found.
        got: Vec<usize>,
    },
    /// A NaN or infinite value.
    #[error(
        "{what}: {value} at step {step}, agent {agent}, coordinate {coordinate}; attributions need finite values"
    )]
    NonFinite {
        /// Which array (usually its file name).
        what: String,
        /// Time step (0-based).
        step: usize,
        /// Agent (0-based).
        agent: usize,
        /// Coordinate (0-based).
        coordinate: usize,
        /// The value.
        value: f64,
    },
    /// The population is smaller than the indicator needs.
    #[error("indicator '{indicator}' needs at least {need} agents, got {got}")]
    TooFewAgents {
        /// The indicator.
        indicator: String,
        /// Agents required.
        need: usize,
        /// Agents given.
        got: usize,
    },
    /// The input lies outside the indicator's domain.
    #[error("indicator '{indicator}' at step {step}: {reason}")]
    Domain {
        /// The indicator.
        indicator: String,
        /// Time step (0-based).
        step: usize,
        /// What is wrong, with the coordinate or agent.
        reason: String,
    },
    /// Shares `φ / (V(x) − V(b))` were asked for where the macro change is zero.
    #[error(
        "shares are undefined at step {step}: V(x) = {v_x} and V(b) = {v_b} are equal, so there \
         is no change to share out; write φ itself or choose another baseline"
    )]
    UndefinedShare {
        /// Time step (0-based).
        step: usize,
        /// `V(x)`.
        v_x: f64,
        /// `V(b)`.
        v_b: f64,
    },
    /// A name that is not one of the known choices (an indicator, a backend, a rule …).
    #[error("unknown {what} '{got}'; choose one of {}", choices.join(", "))]
    UnknownName {
        /// What kind of choice (`"indicator"`, `"backend"` …).
        what: &'static str,
        /// The name given.
        got: String,
        /// The known names.
        choices: Vec<&'static str>,
    },
    /// A quadrature rule with fewer points than it needs.
    #[error(
        "the {rule} rule needs at least {need} quadrature {}, got {got}",
        if *need == 1 { "point" } else { "points" }
    )]
    TooFewPoints {
        /// The rule's name.
        rule: &'static str,
        /// Points required.
        need: usize,
        /// Points given.
        got: usize,
    },
    /// A parameter value that cannot work.
    #[error("{name} = {value}: {reason}")]
    Parameter {
        /// The parameter, as the library names it (`"samples"`, `"tiers"` …).
        name: &'static str,
        /// The value given.
        value: String,
        /// Why it cannot work, and what would.
        reason: String,
    },
    /// A model or indicator needs a file that was not given.
    #[error("indicator '{indicator}' needs {what}")]
    Missing {
        /// The indicator.
        indicator: String,
        /// What it needs.
        what: &'static str,
    },
    /// The requested backend is not available.
    #[error("backend '{backend}' is unavailable: {reason}")]
    Backend {
        /// The backend.
        backend: String,
        /// Why, and how to fix it.
        reason: String,
    },
    /// The device cannot compute in the requested precision.
    #[error(
        "{backend} device '{device}' does not support f64 arithmetic; compute in f32, on a CPU \
         backend (flex, ndarray) or on a Vulkan GPU"
    )]
    UnsupportedPrecision {
        /// The backend.
        backend: String,
        /// The device's name.
        device: String,
    },
    /// The device cannot compute f64 `exp` and `log` (Vulkan defines them for f32 only).
    #[error(
        "{what} needs f64 exp and log, which device '{device}' cannot compute (Vulkan defines \
         them for 32-bit floats only); compute in f32 or on a CPU backend (flex, ndarray)"
    )]
    InexactTranscendentals {
        /// What needs them.
        what: String,
        /// The device's name.
        device: String,
    },
    /// The exact method does not cover this case.
    #[error("no exact attribution for indicator '{indicator}': {reason}")]
    NoExactForm {
        /// The indicator.
        indicator: String,
        /// Why, and what to use instead.
        reason: String,
    },
    /// A model folder that cannot be used.
    #[error("model {}: {reason}", path.display())]
    Model {
        /// The folder or file.
        path: PathBuf,
        /// What is wrong and what was expected.
        reason: String,
    },
    /// A formula indicator's definition, or one of its expressions, that cannot be used.
    #[error("formula {part}{}: {reason}", located(text, *column))]
    Formula {
        /// Which part: `definition`, `name`, `features`, `psi m1 (poor)`, `rho`.
        part: String,
        /// The text refused: the expression or the name (empty for the definition as a whole).
        text: String,
        /// Column of the offending character in `text`, from 1, where there is one.
        column: Option<usize>,
        /// What is wrong, and what was expected.
        reason: String,
    },
    /// A tensor could not be read back from the device.
    #[error("reading {what} back from the device failed: {source}")]
    Readback {
        /// What was being read.
        what: &'static str,
        /// burn's error.
        source: burn::tensor::DataError,
    },
}

/// ` "text", column c` for a message: at most 60 characters of `text`, around the column.
fn located(text: &str, column: Option<usize>) -> String {
    const HALF: usize = 30;
    let chars: Vec<char> = (text.chars())
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let centre = column.map_or(0, |c| c.saturating_sub(1));
    let start = centre
        .saturating_sub(HALF)
        .min(chars.len().saturating_sub(2 * HALF));
    let end = (start + 2 * HALF).min(chars.len());
    let mut shown: String = chars[start..end].iter().collect();
    if start > 0 {
        shown.insert(0, '…');
    }
    if end < chars.len() {
        shown.push('…');
    }
    match (text.is_empty(), column) {
        (true, _) => String::new(),
        (false, Some(c)) => format!(" \"{shown}\", column {c}"),
        (false, None) => format!(" \"{shown}\""),
    }
}

/// Why a value came out infinite or NaN in `precision`, and what to do.
fn overflow_fix(precision: crate::backend::Precision, value: f64) -> &'static str {
    use crate::backend::Precision::{F32, F64};
    match (precision, value.is_nan()) {
        (F32, false) => {
            "the values overflow f32 (beyond ±3.4e38); compute in f64, or rescale the features"
        }
        (F64, false) => "the values overflow f64; rescale the features (divide them by a constant)",
        (F32, true) => {
            "an undefined operation (0/0, ∞ − ∞) in f32: the input is outside the indicator's \
             domain, or its values overflow f32; check the input, or compute in f64"
        }
        (F64, true) => {
            "an undefined operation (0/0, ∞ − ∞): the input is outside the indicator's domain \
             or too large; check the input, or rescale it"
        }
    }
}

/// An error that is, or holds, an engine error: what a front end looks into to add its own
/// advice (the flag that fixes it, the exception class). Each application crate's error
/// implements it.
pub trait EngineCause: std::error::Error + Send + Sync + 'static {
    /// The engine error, if this is or holds one.
    fn engine(&self) -> Option<&Error>;
}

impl EngineCause for Error {
    fn engine(&self) -> Option<&Error> {
        Some(self)
    }
}

/// `Result` with the library's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
