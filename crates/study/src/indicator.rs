//! The study's indicators: any indicator of the engine's registry ([`IndicatorSpec`]: a name
//! with its parameters, a formula, a model folder), with the label the outputs name it by, and
//! how the study attributes it.
//!
//! Every attribution is from the zero baseline, day by day (`x_t` a day's `[n, d]` features):
//!
//! ```text
//! linear, mult, variance, gini  φ_{t,i} by their closed forms (aumann_engine::exact::phi)
//! any other indicator V         φ_{t,i} = Σ_k x_{t,ik} Σ_j w_j ∂V/∂x_ik(α_j x_t)
//!                               (aumann_engine::path::attribute: Gauss–Legendre nodes α_j and
//!                               weights w_j on [0, 1], PATH_POINTS of them, f64, flex backend)
//! ```
//!
//! Gauss–Legendre with [`PATH_POINTS`] nodes integrates a polynomial of degree up to
//! `2·PATH_POINTS − 1` exactly and a smooth integrand to rounding: a formula such as
//! `psi: c, c^2; rho: m1 - m0^2` (the variance) gives the closed form's attributions to
//! rounding. A pooled indicator (a formula, a built-in index) runs on its host route.
//!
//! Scale-invariant indices (`gini_coefficient`, `theil`, `atkinson`, `coefficient_of_variation`,
//! `top_share`) have `V(αx) = V(x)` for every `α > 0`, so `V(0)` is undefined and no path
//! from zero exists: the study refuses them with the engine's error, which names the indicator
//! and the day (step). Threshold shares (`share_above`, `share_below`) and formulas defined at
//! zero can be studied.
//!
//! Labels: a registry indicator is labelled as it is written (`variance`,
//! `atkinson(epsilon=2)`, `share_above(threshold=1, tau=0.2)`), a formula by its definition's
//! `name` (`formula` where it has none). The label names the indicator in every CSV, the report
//! and the per-agent file names, so it never holds a path separator, and two indicators of one
//! study never share one ([`StudyIndicator::check_distinct`]).

use std::str::FromStr;

use aumann_engine::array::{Array3, StepSlice};
use aumann_engine::backend::{Backend, Precision};
use aumann_engine::baseline::Baseline;
use aumann_engine::indicators::formula::definition::top_level_items;
use aumann_engine::indicators::formula::{Definition, Formula};
use aumann_engine::indicators::{Analytic, IndicatorSpec};
use aumann_engine::path::{self, PathOptions, Rule};
use aumann_engine::{Error, Result};

/// Gauss–Legendre nodes of the path integral of an indicator without a closed form.
pub const PATH_POINTS: usize = 32;

/// One indicator of a study: what it is and its label.
#[derive(Clone, Debug, PartialEq)]
pub struct StudyIndicator {
    spec: IndicatorSpec,
    label: String,
}

impl StudyIndicator {
    /// The indicator `spec`, checked ([`IndicatorSpec::validate`]); a formula indicator in a
    /// folder is read from it, and a formula is checked against the panels' features.
    ///
    /// # Errors
    /// [`IndicatorSpec::validate`]'s; [`Definition::load`]'s for a formula's folder;
    /// [`Formula::compile`]'s for a formula that does not read the panels' features;
    /// [`Error::Parameter`] for a label a file name cannot hold.
    pub fn new(spec: IndicatorSpec) -> Result<Self> {
        spec.validate()?;
        let spec = match (&spec.model, spec.is_formula()) {
            (Some(dir), true) => IndicatorSpec::formula(Definition::load(dir)?),
            _ => spec,
        };
        if let Some(definition) = &spec.formula {
            Formula::compile(definition, Some(aumann_panel::FEATURES.len()))?;
        }
        let label = match &spec.formula {
            Some(definition) => definition.name.clone(),
            None => spec.to_string(),
        };
        check_label(&label)?;
        Ok(Self { spec, label })
    }

    /// One of the four analytic indicators.
    pub fn analytic(kind: Analytic) -> Self {
        Self {
            label: kind.name().into(),
            spec: IndicatorSpec::analytic(kind),
        }
    }

    /// The formula indicator `definition`, labelled by its name.
    ///
    /// # Errors
    /// As [`StudyIndicator::new`]: a definition that does not compile.
    pub fn formula(definition: Definition) -> Result<Self> {
        Self::new(IndicatorSpec::formula(definition))
    }

    /// Registry indicators written one after another, separated by commas outside parentheses:
    /// `linear, atkinson(epsilon=2), top_share(p=0.1, tau=0.05)`.
    ///
    /// # Errors
    /// [`IndicatorSpec`]'s parse errors, naming the item; [`Error::Parameter`] for an empty
    /// item.
    pub fn list(text: &str) -> Result<Vec<Self>> {
        top_level_items(text)
            .into_iter()
            .map(|item| match item.trim() {
                "" => Err(Error::Parameter {
                    name: "indicators",
                    value: text.chars().take(80).collect(),
                    reason: "an empty item: indicators are separated by single commas".into(),
                }),
                item => item.parse(),
            })
            .collect()
    }

    /// The indicator that `text` names: one of `studied` by its label (a formula by its name),
    /// or else a registry indicator as [`StudyIndicator::from_str`] reads it.
    ///
    /// # Errors
    /// As [`StudyIndicator::from_str`], for a text that is neither.
    pub fn named(text: &str, studied: &[StudyIndicator]) -> Result<Self> {
        match studied.iter().find(|i| i.label == text.trim()) {
            Some(found) => Ok(found.clone()),
            None => text.parse(),
        }
    }

    /// Refuse two of `indicators` with the same label: their outputs could not be told apart.
    ///
    /// # Errors
    /// [`Error::Parameter`] naming the label.
    pub fn check_distinct(indicators: &[StudyIndicator]) -> Result<()> {
        for (j, b) in indicators.iter().enumerate() {
            if indicators[..j].iter().any(|a| a.label == b.label) {
                return Err(Error::Parameter {
                    name: "indicators",
                    value: b.label.clone(),
                    reason: format!(
                        "two indicators are labelled '{}', and the outputs name indicators by \
                         their labels; study each once, and give each formula its own name \
                         (name: …)",
                        b.label
                    ),
                });
            }
        }
        Ok(())
    }

    /// The label: in CSV columns, file names and the report.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The indicator as the engine's registry specifies it.
    pub fn spec(&self) -> &IndicatorSpec {
        &self.spec
    }

    /// Its closed form, where it is one of the four analytic indicators.
    pub fn exact(&self) -> Option<Analytic> {
        self.spec.exact()
    }

    /// Whether it is the linear indicator, the study's linear control.
    pub fn is_linear(&self) -> bool {
        self.exact() == Some(Analytic::Linear)
    }

    /// A number that tells indicators apart, for seeding a random stream per indicator: an
    /// analytic indicator's index among the four, otherwise a hash (FNV-1a) of the label.
    pub fn key(&self) -> u64 {
        match self.exact() {
            Some(kind) => kind as u64,
            None => (self.label.bytes()).fold(0xcbf2_9ce4_8422_2325, |h, b| {
                (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
            }),
        }
    }

    /// How the study attributes it ([`Attributor::phi`]): its closed form, or the path
    /// integral of its program, built here once for the study's `d` features.
    ///
    /// # Errors
    /// What building the indicator reports (a formula whose features are not `d`, say).
    pub(crate) fn attributor(&self, d: usize) -> Result<Attributor> {
        if let Some(kind) = self.exact() {
            return Ok(Attributor::Exact(kind));
        }
        let device = Backend::Flex.device()?;
        let built = self.spec.build(&device, d, Precision::F64)?;
        let options = PathOptions {
            rule: Rule::GaussLegendre,
            points: PATH_POINTS,
            precision: Precision::F64,
            ..PathOptions::default()
        };
        options.check_points()?;
        let label = self.label.clone();
        Ok(Attributor::Path(Box::new(move |x: &Array3| {
            let zero = zero_baseline(x);
            path::attribute(&*built, x, &zero, &options, &device, &mut |_| {})
                .map(|a| a.phi)
                .map_err(|e| from_zero(e, &label))
        })))
    }
}

/// A registry indicator as written: `name` or `name(parameter=value, …)`.
impl FromStr for StudyIndicator {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self> {
        Self::new(text.parse()?)
    }
}

impl From<Analytic> for StudyIndicator {
    fn from(kind: Analytic) -> Self {
        Self::analytic(kind)
    }
}

/// The analytic indicator it is.
impl PartialEq<Analytic> for StudyIndicator {
    fn eq(&self, other: &Analytic) -> bool {
        self.exact() == Some(*other)
    }
}

/// The label.
impl std::fmt::Display for StudyIndicator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.label)
    }
}

/// A label that can name a file: not empty, no path separator or control character, not
/// starting with a dot.
fn check_label(label: &str) -> Result<()> {
    let bad = label.is_empty()
        || label.starts_with('.')
        || label
            .chars()
            .any(|c| c == '/' || c == '\\' || c.is_control());
    if bad {
        return Err(Error::Parameter {
            name: "indicator",
            value: label.escape_debug().to_string(),
            reason: "an indicator's label names its output files: it must be non-empty, hold \
                     no path separator or control character and not start with '.'"
                .into(),
        });
    }
    Ok(())
}

/// The zero baseline of `x`'s features.
fn zero_baseline(x: &Array3) -> Baseline {
    let d = x.dims();
    Baseline::from_array(Array3::from_f64([1, 1, d], vec![0.0; d]))
}

/// A path outside the indicator's domain, said to be the zero baseline's doing where it is.
fn from_zero(e: Error, label: &str) -> Error {
    match e {
        Error::Domain {
            indicator,
            step,
            reason,
        } => Error::Domain {
            indicator,
            step,
            reason: format!(
                "{reason} (the study attributes '{label}' from the zero baseline: an indicator \
                 undefined at zero, such as a scale-invariant index, cannot be studied)"
            ),
        },
        e => e,
    }
}

/// A path integral over one topic's features.
type PathFn = Box<dyn Fn(&Array3) -> Result<Vec<f64>> + Send + Sync>;

/// How the study attributes one indicator.
pub(crate) enum Attributor {
    /// Its closed form.
    Exact(Analytic),
    /// The path integral of its program ([`PATH_POINTS`] Gauss–Legendre nodes, f64, flex).
    Path(PathFn),
}

impl Attributor {
    /// `φ_{t,i}` (zero baseline, row-major `[T, n]`) of a topic's `[T, n, d]` features.
    ///
    /// A `mult` day with no activity at all in some coordinate has `V = ln(1 + 0)` along its
    /// whole path and every agent's feature in that coordinate zero: `φ = 0` that day (the
    /// closed form's continuous limit), where the engine would refuse the day as outside the
    /// indicator's domain.
    pub(crate) fn phi(&self, x: &Array3) -> Result<Vec<f64>> {
        match self {
            Attributor::Exact(Analytic::Mult) => mult_without_idle_days(x),
            Attributor::Exact(kind) => aumann_engine::exact::phi(*kind, x, &zero_baseline(x)),
            Attributor::Path(attribute) => attribute(x),
        }
    }
}

/// `mult`'s exact `φ`, zero on its idle days ([`Attributor::phi`]).
fn mult_without_idle_days(x: &Array3) -> Result<Vec<f64>> {
    let [days, n, d] = x.shape();
    let zero = zero_baseline(x);
    let idle = |t: usize| match x.step(t) {
        StepSlice::F32(s) => (0..d).any(|k| s.iter().skip(k).step_by(d).all(|&v| v == 0.0)),
        StepSlice::F64(s) => (0..d).any(|k| s.iter().skip(k).step_by(d).all(|&v| v == 0.0)),
    };
    let active: Vec<usize> = (0..days).filter(|&t| !idle(t)).collect();
    if active.len() == days {
        return aumann_engine::exact::phi(Analytic::Mult, x, &zero);
    }
    let part = aumann_engine::exact::phi(Analytic::Mult, &x.select_steps(&active), &zero)?;
    let mut phi = vec![0.0; days * n];
    for (k, &t) in active.iter().enumerate() {
        phi[t * n..(t + 1) * n].copy_from_slice(&part[k * n..(k + 1) * n]);
    }
    Ok(phi)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aumann_engine::indicators::formula;

    #[test]
    fn lists_split_outside_parentheses_and_labels_are_written_forms() {
        let list =
            StudyIndicator::list("linear, top_share(p=0.1, tau=0.05),atkinson( epsilon = 2 )")
                .unwrap();
        let labels: Vec<&str> = list.iter().map(StudyIndicator::label).collect();
        assert_eq!(
            labels,
            [
                "linear",
                "top_share(p=0.1, tau=0.05)",
                "atkinson(epsilon=2)"
            ]
        );
        assert!(list[0] == Analytic::Linear && list[0].is_linear());
        assert_eq!(list[1].exact(), None);
        let e = StudyIndicator::list("linear,,gini")
            .unwrap_err()
            .to_string();
        assert!(e.contains("empty item"), "{e}");
        let e = StudyIndicator::list("linear,entropy")
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown indicator 'entropy'"), "{e}");
    }

    #[test]
    fn formulas_are_labelled_by_name_and_labels_must_differ() {
        let formula = |text: &str| StudyIndicator::formula(text.parse().unwrap()).unwrap();
        let unnamed = formula("psi: c, c^2; rho: m1 - m0^2");
        assert_eq!(unnamed.label(), formula::definition::DEFAULT_NAME);
        let named = formula("name: poor; psi: sigmoid((0.1 - c)/0.05); rho: m0");
        assert_eq!(named.label(), "poor");
        assert!(StudyIndicator::named("poor", &[unnamed.clone(), named.clone()]).unwrap() == named);
        let heat = StudyIndicator::named(" mult ", std::slice::from_ref(&named)).unwrap();
        assert!(heat == Analytic::Mult);
        StudyIndicator::check_distinct(&[unnamed.clone(), named.clone()]).unwrap();
        let e = StudyIndicator::check_distinct(&[unnamed.clone(), named, unnamed])
            .unwrap_err()
            .to_string();
        assert!(e.contains("two indicators are labelled 'formula'"), "{e}");
        let bad = formula::Definition {
            name: "../x".into(),
            ..formula::Definition::parse("psi: c; rho: m0").unwrap()
        };
        assert!(StudyIndicator::formula(bad).is_err());
        assert!(check_label("a/b").is_err() && check_label(".x").is_err());
        assert_ne!(
            StudyIndicator::analytic(Analytic::Gini).key(),
            "share_above(threshold=1)"
                .parse::<StudyIndicator>()
                .unwrap()
                .key()
        );
    }

    #[test]
    fn the_variance_formula_attributes_as_the_closed_form() {
        let x = Array3::from_f64(
            [2, 3, 3],
            vec![
                1.0, 0.5, 0.0, 2.0, 0.0, 0.25, 0.1, 0.2, 0.3, //
                3.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.5, 0.5, 0.5,
            ],
        );
        let formula = StudyIndicator::formula("psi: c, c^2; rho: m1 - m0^2".parse().unwrap());
        let path = formula.unwrap().attributor(3).unwrap().phi(&x).unwrap();
        let exact = StudyIndicator::analytic(Analytic::Variance)
            .attributor(3)
            .unwrap()
            .phi(&x)
            .unwrap();
        for (a, b) in path.iter().zip(&exact) {
            assert!((a - b).abs() <= 1e-12 * b.abs().max(1.0), "{a} vs {b}");
        }
    }

    #[test]
    fn scale_invariant_indices_are_refused_from_zero() {
        let x = Array3::from_f64([1, 2, 3], vec![1.0, 0.0, 0.0, 2.0, 0.0, 0.0]);
        let gini: StudyIndicator = "gini_coefficient".parse().unwrap();
        let e = gini.attributor(3).unwrap().phi(&x).unwrap_err().to_string();
        assert!(
            e.contains("gini_coefficient") && e.contains("step 0") && e.contains("positive mean"),
            "{e}"
        );
        assert!(e.contains("zero baseline"), "{e}");
    }
}
