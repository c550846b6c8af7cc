//! An indicator's numeric parameters: declared once by its registry entry ([`Parameter`]),
//! given by name where the indicator is named ([`Parameters`]), resolved into values in the
//! declared order with defaults filled in ([`Resolved`]).
//!
//! ```text
//! atkinson(epsilon=2)        top_share(p=0.01, tau=0.02)        share_below(threshold=1)
//! ```
//!
//! The same text names an indicator on the command line, in Python and in a run
//! configuration (where the parameters are written as a map beside the name).

use std::collections::BTreeMap;

use crate::error::{Error, Result};

/// Longest text of an indicator's parameters, in bytes.
pub const MAX_PARAMETERS_BYTES: usize = 1024;

/// One parameter an indicator takes.
#[derive(Debug)]
pub struct Parameter {
    /// Its name.
    pub name: &'static str,
    /// What stands where no value is given.
    pub fallback: Fallback,
    /// What it means, for help texts and messages.
    pub meaning: &'static str,
    /// Why a value is refused, if it is (finite values only reach it).
    pub check: fn(f64) -> Option<&'static str>,
}

/// What stands for a parameter that is not given.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Fallback {
    /// This value.
    Value(f64),
    /// Nothing: the parameter must be given.
    Required,
    /// A value the indicator derives from the others (its meaning says how).
    Derived,
}

/// Any finite value.
pub fn any_value(_: f64) -> Option<&'static str> {
    None
}

/// A value above zero.
pub fn positive(v: f64) -> Option<&'static str> {
    (v <= 0.0).then_some("it must be positive")
}

/// Parameters as given: names and values, in no particular order.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Parameters(BTreeMap<String, f64>);

impl Parameters {
    /// Whether none is given.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The parameters of `text`, `name=value` separated by commas (spaces allowed).
    ///
    /// # Errors
    /// [`Error::Parameter`] for text too long, a part without `=`, a value that is not a finite
    /// number, or a name given twice.
    pub fn parse(text: &str) -> Result<Parameters> {
        let refused = |reason: String| Error::Parameter {
            name: "indicator",
            value: excerpt(text),
            reason,
        };
        if text.len() > MAX_PARAMETERS_BYTES {
            return Err(refused(format!(
                "{} bytes; at most {MAX_PARAMETERS_BYTES}",
                text.len()
            )));
        }
        let mut given = BTreeMap::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let Some((name, value)) = part.split_once('=') else {
                return Err(refused(format!("'{part}' is not name=value")));
            };
            let (name, value) = (name.trim(), value.trim());
            let number = value.parse::<f64>().ok().filter(|v| v.is_finite());
            let Some(number) = number else {
                return Err(refused(format!("{name}: '{value}' is not a finite number")));
            };
            if given.insert(name.to_string(), number).is_some() {
                return Err(refused(format!("{name} is given twice")));
            }
        }
        Ok(Parameters(given))
    }

    /// The values of `declared`, in its order: each given value checked, each missing one its
    /// default. `indicator` names the indicator in messages.
    ///
    /// # Errors
    /// [`Error::Parameter`] for a name the indicator does not take (listing those it takes), a
    /// value its check refuses, or a parameter without default that is not given.
    pub fn resolve(&self, indicator: &str, declared: &'static [Parameter]) -> Result<Resolved> {
        let refused = |reason: String| Error::Parameter {
            name: "indicator",
            value: format!("{indicator}{}", self.written(declared)),
            reason,
        };
        let takes = || match declared {
            [] => format!("'{indicator}' takes no parameters"),
            _ => format!("'{indicator}' takes {}", describe(declared)),
        };
        if let Some(name) = self
            .0
            .keys()
            .find(|n| !declared.iter().any(|p| p.name == *n))
        {
            return Err(refused(format!("unknown parameter '{name}'; {}", takes())));
        }
        let mut values = Vec::with_capacity(declared.len());
        for p in declared {
            let value = match (self.0.get(p.name), p.fallback) {
                (Some(&v), _) => Some(v),
                (None, Fallback::Value(v)) => Some(v),
                (None, Fallback::Derived) => None,
                (None, Fallback::Required) => {
                    return Err(refused(format!("{} is not given; {}", p.name, takes())));
                }
            };
            if let Some(why) = value.and_then(p.check) {
                let value = value.unwrap_or_default();
                return Err(refused(format!(
                    "{} = {value}: {why} ({})",
                    p.name, p.meaning
                )));
            }
            values.push(value);
        }
        Ok(Resolved { declared, values })
    }

    /// `(name=value, …)` in the order of `declared` (then any other, by name), or nothing
    /// where none is given.
    pub fn written(&self, declared: &[Parameter]) -> String {
        if self.0.is_empty() {
            return String::new();
        }
        let known = declared.iter().filter_map(|p| self.0.get_key_value(p.name));
        let others = (self.0.iter()).filter(|(n, _)| !declared.iter().any(|p| p.name == *n));
        let parts: Vec<String> = known
            .chain(others)
            .map(|(n, v)| format!("{n}={v}"))
            .collect();
        format!("({})", parts.join(", "))
    }
}

/// Parameters with values, in their declared order.
#[derive(Clone, Debug)]
pub struct Resolved {
    declared: &'static [Parameter],
    values: Vec<Option<f64>>,
}

impl Resolved {
    /// No parameters.
    pub const NONE: Resolved = Resolved {
        declared: &[],
        values: Vec::new(),
    };

    /// The value of the parameter `name`, `None` for a [`Fallback::Derived`] one not given.
    ///
    /// # Panics
    /// If the indicator does not declare `name`: a mistake in its own code.
    pub fn value(&self, name: &str) -> Option<f64> {
        let at = self.declared.iter().position(|p| p.name == name);
        self.values[at.unwrap_or_else(|| panic!("parameter '{name}' is not declared"))]
    }

    /// The value of the parameter `name`, which has one.
    ///
    /// # Panics
    /// If the indicator does not declare `name`, or it is [`Fallback::Derived`] and not given:
    /// mistakes in the indicator's own code.
    pub fn get(&self, name: &str) -> f64 {
        let value = self.value(name);
        value.unwrap_or_else(|| panic!("parameter '{name}' has no value"))
    }
}

/// `name (meaning, default v), …`.
pub fn describe(declared: &[Parameter]) -> String {
    let one = |p: &Parameter| match p.fallback {
        Fallback::Value(v) => format!("{} ({}, default {v})", p.name, p.meaning),
        Fallback::Required => format!("{} ({}, required)", p.name, p.meaning),
        Fallback::Derived => format!("{} ({})", p.name, p.meaning),
    };
    declared.iter().map(one).collect::<Vec<_>>().join(", ")
}

/// At most 80 characters of `text`.
fn excerpt(text: &str) -> String {
    match text.char_indices().nth(80) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DECLARED: &[Parameter] = &[
        Parameter {
            name: "p",
            fallback: Fallback::Value(0.1),
            meaning: "the top fraction",
            check: positive,
        },
        Parameter {
            name: "tau",
            fallback: Fallback::Required,
            meaning: "the temperature",
            check: positive,
        },
    ];

    #[test]
    fn values_come_in_declared_order_with_defaults() {
        let given = Parameters::parse(" tau = 0.5 ").unwrap();
        let r = given.resolve("top", DECLARED).unwrap();
        assert_eq!((r.get("p"), r.get("tau")), (0.1, 0.5));
        let given = Parameters::parse("tau=2,p=0.25").unwrap();
        assert_eq!(given.written(DECLARED), "(p=0.25, tau=2)");
        let given = Parameters::parse("tau=2,p=0.25").unwrap();
        assert_eq!(given.written(&DECLARED[1..]), "(tau=2, p=0.25)");
        let r = given.resolve("top", DECLARED).unwrap();
        assert_eq!((r.get("p"), r.get("tau")), (0.25, 2.0));
    }

    #[test]
    fn bad_parameters_are_refused_with_what_the_indicator_takes() {
        let err = |text: &str| match Parameters::parse(text) {
            Err(e) => e.to_string(),
            Ok(p) => p.resolve("top", DECLARED).unwrap_err().to_string(),
        };
        assert!(
            err("tau").contains("'tau' is not name=value"),
            "{}",
            err("tau")
        );
        assert!(err("tau=nan").contains("tau: 'nan' is not a finite number"));
        assert!(err("tau=1, tau=2").contains("tau is given twice"));
        let unknown = err("eps=1");
        assert!(
            unknown.contains(
                "unknown parameter 'eps'; 'top' takes p (the top fraction, default 0.1), \
                 tau (the temperature, required)"
            ),
            "{unknown}"
        );
        assert!(err("p=0.2").contains("tau is not given"));
        let checked = err("tau=-1");
        assert!(
            checked.contains("tau = -1: it must be positive (the temperature)"),
            "{checked}"
        );
        let none = Parameters::parse("a=1").unwrap().resolve("linear", &[]);
        assert!(
            none.unwrap_err()
                .to_string()
                .contains("'linear' takes no parameters")
        );
        assert!(err(&"a=1,".repeat(400)).contains("at most 1024"));
    }
}
