//! What every subcommand shares: the parser of named choices, the flags several commands take,
//! and the command-line context added to library errors.

use std::marker::PhantomData;
use std::path::Path;

use anyhow::Result;
use aumann::Error;
use aumann::backend::{Backend, Precision};
use aumann::choice::Choice;
use aumann::error::EngineCause;
use aumann::indicators::formula::{self, Definition, Formula};
use aumann::indicators::parameters::Parameters;
use aumann::indicators::{IndicatorKind, IndicatorSpec};
use aumann::scenario::Horizon;
use clap::builder::{PossibleValue, TypedValueParser};
use clap::error::ErrorKind;
use clap::{Args, Command};

/// clap's parser for a library [`Choice`]: the names come from the library's list, the error
/// from the library's message (with clap's "invalid value … for '--flag'" in front), and
/// `--help` lists the possible values.
#[derive(Clone)]
pub struct ChoiceParser<T>(PhantomData<T>);

/// clap's "invalid value … for '--flag'" in front of the library's message `e`.
pub fn invalid(cmd: &Command, arg: Option<&clap::Arg>, text: &str, e: &Error) -> clap::Error {
    let flag = arg.map_or_else(|| "...".to_string(), ToString::to_string);
    clap::Error::raw(
        ErrorKind::ValueValidation,
        format!("invalid value '{text}' for '{flag}': {e}\n"),
    )
    .with_cmd(cmd)
}

/// The parser of `T`'s names, for `#[arg(value_parser = choice::<T>())]`.
pub fn choice<T: Choice>() -> ChoiceParser<T> {
    ChoiceParser(PhantomData)
}

impl<T: Choice> TypedValueParser for ChoiceParser<T> {
    type Value = T;

    fn parse_ref(
        &self,
        cmd: &Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<T, clap::Error> {
        let text = value.to_string_lossy();
        T::from_label(&text).map_err(|e| invalid(cmd, arg, &text, &e))
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        Some(Box::new(T::labels().into_iter().map(PossibleValue::new)))
    }
}

/// clap's parser for `--formula`: the text read and compiled (the number of features is
/// checked against the data later); a refusal gives the library's message after the flag,
/// without echoing the whole text.
#[derive(Clone)]
pub struct FormulaParser;

impl TypedValueParser for FormulaParser {
    type Value = Definition;

    fn parse_ref(
        &self,
        cmd: &Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<Definition, clap::Error> {
        let flag = arg.map_or_else(|| "...".to_string(), ToString::to_string);
        let refuse = |reason: String| {
            clap::Error::raw(ErrorKind::ValueValidation, format!("'{flag}': {reason}\n"))
                .with_cmd(cmd)
        };
        let text = value
            .to_str()
            .ok_or_else(|| refuse("the formula is not UTF-8 text".into()))?;
        let definition: Definition = text.parse().map_err(|e: Error| refuse(e.to_string()))?;
        Formula::compile(&definition, None).map_err(|e| refuse(e.to_string()))?;
        Ok(definition)
    }
}

/// A list flag's default as the flag takes it, comma-separated (`10,100,1000`).
pub fn listed<T: std::fmt::Display>(values: impl IntoIterator<Item = T>) -> String {
    let values: Vec<String> = values.into_iter().map(|v| v.to_string()).collect();
    values.join(",")
}

/// `--threads` and `--quiet`.
#[derive(Debug, Args)]
pub struct RunFlags {
    /// Worker threads (default: all cores).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

impl RunFlags {
    /// Size the global thread pool as asked.
    pub fn apply(&self) -> Result<()> {
        set_threads(self.threads)
    }
}

/// `--scenario`, `--step` and `--run`: a scenario folder and which of its steps.
#[derive(Debug, Args)]
pub struct ScenarioFlags {
    /// A scenario folder (`aumann simulate`): its features, baseline action, indicators.
    #[arg(long, value_name = "DIR")]
    pub scenario: Option<std::path::PathBuf>,
    /// With --scenario: one step of each run (numbered from 0).
    #[arg(long, value_name = "T", requires = "scenario")]
    pub step: Option<usize>,
    /// With --scenario: one run of a scenario with several (numbered from 0).
    #[arg(long = "run", value_name = "R", requires = "scenario")]
    pub run: Option<usize>,
}

/// `--backend` and `--precision`.
#[derive(Debug, Args)]
pub struct ComputeFlags {
    /// Compute backend.
    #[arg(long, default_value = "flex", value_parser = choice::<Backend>())]
    pub backend: Backend,
    /// Precision of the computation.
    #[arg(long, default_value = "f32", value_parser = choice::<Precision>())]
    pub precision: Precision,
}

/// The input paths given (for the outputs to be checked against).
pub fn inputs<const N: usize>(paths: [Option<&Path>; N]) -> Vec<&Path> {
    paths.into_iter().flatten().collect()
}

/// Size the global thread pool (`None`: all cores).
pub fn set_threads(threads: Option<usize>) -> Result<()> {
    if let Some(n) = threads {
        aumann::limits::threads(n).map_err(|e| anyhow::anyhow!("--threads: {e}"))?;
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global()
            .map_err(|e| anyhow::anyhow!("configuring the thread pool: {e}"))?;
    }
    Ok(())
}

/// A library error with the command line's context: the flag behind it, and the flag that
/// fixes it.
pub fn with_flags(err: impl EngineCause) -> anyhow::Error {
    let hint = match err.engine() {
        Some(Error::TooFewPoints { .. }) => return anyhow::Error::new(err).context("--points"),
        Some(Error::Backend { .. }) => "; or run on the CPU with --backend flex",
        Some(Error::UnsupportedPrecision { .. } | Error::InexactTranscendentals { .. }) => {
            " (--precision f32)"
        }
        Some(Error::UndefinedShare { .. }) => " (drop --normalize)",
        Some(Error::Overflow {
            precision: Precision::F32,
            ..
        }) => " (--precision f64)",
        Some(Error::Formula { .. }) => return anyhow::Error::new(err).context("--formula"),
        Some(Error::Missing { indicator, .. }) if indicator == formula::ENTRY.name => {
            return anyhow::anyhow!(
                "--indicator formula needs --formula TEXT, or --model DIR, a folder holding {}",
                formula::definition::FILE
            );
        }
        Some(Error::Missing { indicator, .. }) => {
            return anyhow::anyhow!(
                "--indicator {indicator} needs --model DIR, a folder written by `aumann train`"
            );
        }
        _ => return err.into(),
    };
    anyhow::anyhow!("{err}{hint}")
}

/// `--features`: the input array, or a scenario folder's.
#[derive(Debug, Args)]
pub struct FeaturesFlag {
    /// Features: a float32/float64 .npy array of shape [n, d] or [T, n, d] (default with
    /// --scenario: the folder's).
    #[arg(long, value_name = "X.npy", required_unless_present = "scenario")]
    pub features: Option<std::path::PathBuf>,
}

/// `--indicator`, `--model` and `--formula`: the macro indicator.
#[derive(Debug, Args)]
pub struct IndicatorFlags {
    /// The macro indicator: an analytic one, deepset (with --model), formula (with --formula
    /// or --model), or a scenario's static or rollout risk (with --scenario, where static is
    /// the default).
    /// Parameters follow the name in parentheses: 'atkinson(epsilon=2)', 'top_share(p=0.01)'.
    #[arg(long, value_name = "NAME", value_parser = IndicatorParser)]
    pub indicator: Option<NamedIndicator>,
    /// A trained DeepSet's folder, as written by `aumann train`, or a folder holding a formula
    /// indicator's indicator.json (alone: the indicator the folder holds).
    #[arg(long, value_name = "DIR")]
    pub model: Option<std::path::PathBuf>,
    /// A pooled indicator ρ(mean ψ) written as formulas, e.g. 'features: wealth; psi: poor =
    /// sigmoid((0.1 - wealth) / 0.05); rho: poor' or 'psi: c, c^2; rho: m1 - m0^2' (see the
    /// README's "Formula indicators").
    #[arg(long, value_name = "TEXT", value_parser = FormulaParser, conflicts_with_all = ["indicator", "model"])]
    pub formula: Option<Definition>,
}

impl IndicatorFlags {
    /// The indicator named; `--formula` names a formula indicator, `--model` alone the one its
    /// folder holds.
    pub fn name(&self) -> Option<IndicatorName> {
        match (&self.indicator, &self.model, &self.formula) {
            (None, _, Some(definition)) => Some(IndicatorSpec::formula(definition.clone()).kind),
            (None, Some(dir), None) => Some(IndicatorSpec::in_folder(dir.clone()).kind),
            (named, _, _) => return named.as_ref().map(|n| n.name),
        }
        .map(IndicatorName::Registry)
    }

    /// The registry indicator `kind` with the model folder or formula given.
    pub fn spec(&self, kind: IndicatorKind) -> IndicatorSpec {
        IndicatorSpec {
            kind,
            model: self.model.clone(),
            formula: self.formula.clone(),
            parameters: (self.indicator.as_ref())
                .map_or_else(Parameters::default, |n| n.parameters.clone()),
        }
    }
}

/// `--indicator`'s value: a name and the parameters given after it.
#[derive(Clone, Debug)]
pub struct NamedIndicator {
    /// The indicator.
    pub name: IndicatorName,
    /// Its parameters (none for a scenario's risk).
    pub parameters: Parameters,
}

/// clap's parser for `--indicator`: `NAME` or `NAME(parameter=value, …)`, the name one of
/// [`IndicatorName`]'s and the parameters checked against those the indicator takes.
#[derive(Clone)]
pub struct IndicatorParser;

impl TypedValueParser for IndicatorParser {
    type Value = NamedIndicator;

    fn parse_ref(
        &self,
        cmd: &Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<NamedIndicator, clap::Error> {
        let text = value.to_string_lossy();
        let named = match IndicatorName::from_label(text.trim()) {
            Ok(name) => Ok(NamedIndicator {
                name,
                parameters: Parameters::default(),
            }),
            Err(unknown) => match text.contains('(') {
                true => text.parse::<IndicatorSpec>().map(|spec| NamedIndicator {
                    name: IndicatorName::Registry(spec.kind),
                    parameters: spec.parameters,
                }),
                false => Err(unknown),
            },
        };
        named.map_err(|e| invalid(cmd, arg, &text, &e))
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        let names = IndicatorName::labels().into_iter();
        Some(Box::new(names.map(PossibleValue::new)))
    }
}

/// An indicator as `--indicator` names it: one of the registry's, or a scenario's.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum IndicatorName {
    /// A registry indicator (`linear`, …, `deepset`).
    Registry(IndicatorKind),
    /// A scenario's `static` or `rollout` risk (with `--scenario`).
    Scenario(Horizon),
}

impl Choice for IndicatorName {
    const WHAT: &'static str = "indicator";

    fn choices() -> Vec<Self> {
        let registry = IndicatorKind::choices().into_iter().map(Self::Registry);
        registry
            .chain(Horizon::choices().into_iter().map(Self::Scenario))
            .collect()
    }

    fn label(&self) -> &'static str {
        match self {
            Self::Registry(k) => k.label(),
            Self::Scenario(h) => h.label(),
        }
    }
}

/// The scenario folder `dir` and the row (run-major step) of `step` in run `run` (default
/// 0), for a command that works on one step; `why` says why the step is needed.
pub fn scenario_step(
    dir: &std::path::Path,
    which: Horizon,
    run: Option<usize>,
    step: Option<usize>,
    why: &str,
) -> Result<(aumann::scenario::Loaded, usize)> {
    let Some(step) = step else {
        anyhow::bail!("--scenario needs --step T: {why}");
    };
    let loaded = aumann::scenario::load(dir)?;
    let target = aumann::scenario::Target {
        which,
        run: Some(run.unwrap_or(0)),
        step: Some(step),
    };
    let m = &loaded.manifest;
    let row = target.rows(m.runs.max(1), m.steps)?[0];
    Ok((loaded, row))
}
