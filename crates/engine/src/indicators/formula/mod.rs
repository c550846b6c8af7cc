//! Pooled indicators written as formulas: per-agent expressions ψ₀ … ψ_{k−1} over an agent's
//! features, and an expression ρ over their population means — an indicator of one's own
//! without writing Rust.
//!
//! ```text
//! V(z) = ρ(m₀, …, m_{k−1}),   m_j = (1/n) Σ_i ψ_j(z_i)
//! ```
//!
//! For instance the share of agents with (nearly) no wealth, a step smoothed over a width of
//! 0.05, or the variance of the composite:
//!
//! ```text
//! features: wealth, income; psi: poor = sigmoid((0.1 - wealth) / 0.05); rho: poor
//! psi: c, c^2; rho: m1 - m0^2
//! ```
//!
//! # Grammar
//!
//! A definition ([`Definition`]) is text (`[name: ID;] [features: NAME, …;] psi: [NAME =]
//! EXPR, …; rho: EXPR`) or a folder's `indicator.json` (see [`definition`]). An expression is
//!
//! ```text
//! numbers       1, 0.05, 2.5e-3
//! operators     + - * / and ^ (or **) with a constant exponent; -x^2 = -(x^2), 2^3^2 = 2^9
//! functions     exp ln (log) sqrt tanh sigmoid softplus abs min(a, b) max(a, b) pow(x, p)
//! in ψ          the features by name or index (x0, x1, …) and c = Σ_k x_k, the composite
//! in ρ          the pooled means by index (m0, m1, …) or by their components' names
//! ```
//!
//! Smooth surrogates of steps: `sigmoid((t − x)/τ)` is a step down at `t` of width `τ` (→ the
//! indicator `x < t` as `τ → 0`), `τ·softplus((x − t)/τ)` a smoothed `max(x − t, 0)`. The
//! path integral needs `V` differentiable along the path: `abs`, `min` and `max` have kinks
//! (at a kink the derivative is one side's: `abs'(0) = 1`, `max` and `min` follow their first
//! argument at a tie), and a path that crosses one converges slowly in the number of points;
//! prefer the surrogates. Domains are the user's: `ln` and `sqrt` of a negative number, or a
//! non-integer power of one, give NaN, which the engine reports as an undefined value at the
//! step and agent where it appears. Constant parts are folded when the formula is read, and a
//! constant that is not finite (`ln(0)`, `1/0`) is refused then.
//!
//! # Routes
//!
//! A [`Formula`] is compiled once (names resolved, constants folded) into one tree that is
//! evaluated two ways: as a [`PooledFn`] over any [`Scalar`] (on a CPU backend: the host route
//! of [`PoolingFn`], dual numbers on SIMD packs of agents, exact derivatives), and as a
//! [`Pooled`] tensor program (on any other backend: [`Pooling`]'s blocks, burn's autodiff).
//!
//! The parser is a small Pratt parser written here ([`parse`]): the tree must be evaluated
//! over the engine's own number types (dual numbers of SIMD packs, which a parser crate's
//! evaluator does not know: meval, evalexpr and fasteval compute in their own `f64` or value
//! type, exmex fixes the number type when parsing) and turned into burn tensor programs, and
//! hostile input must be bounded in length and nesting before any recursion.
//!
//! # Example
//!
//! ```
//! use aumann_engine::prelude::*;
//! use aumann_engine::indicators::formula::{Definition, Formula};
//!
//! let variance: Definition = "psi: c, c^2; rho: m1 - m0^2".parse().unwrap();
//! let formula = Formula::compile(&variance, Some(1)).unwrap();
//! let x = Array3::from_f64([1, 3, 1], vec![1.0, 2.0, 4.0]);
//! let baseline = Baseline::resolve(&BaselineSpec::Mean, &x).unwrap();
//! let options = PathOptions { precision: Precision::F64, ..PathOptions::default() };
//! let device = Backend::Flex.device().unwrap();
//! let phi = path::attribute(&PoolingFn::new(formula), &x, &baseline, &options, &device, &mut |_| {})
//!     .unwrap();
//! // The variance of 1, 2, 4 is 14/9; the baseline (everyone at the mean) has none.
//! assert!((phi.phi.iter().sum::<f64>() - 14.0 / 9.0).abs() < 1e-12);
//! ```

use std::path::Path;

use burn::tensor::{Device, Tensor};

use super::pooled::{Pooled, Pooling};
use super::pooled_fn::{PooledFn, PoolingFn};
use super::scalar::Scalar;
use super::{BuildContext, Entry, Indicator};
use crate::backend::{Precision, on_host};
use crate::error::{Error, Result};

pub mod definition;
pub mod parse;
pub mod program;

pub use definition::{Component, Definition};
use program::{Expr, Function, Scope};

/// Most components of ψ.
pub const MAX_COMPONENTS: usize = 64;

/// Longest name (of the indicator, a feature or a component), in characters.
pub const MAX_NAME_CHARS: usize = 64;

/// The registry entry: a formula given as text or in a folder.
pub const ENTRY: Entry = Entry {
    name: "formula",
    summary: "ρ((1/n) Σ_i ψ(x_i)) with ψ and ρ written as formulas, as text or in a folder's indicator.json",
    needs_model: false,
    exact: None,
    parameters: &[],
    build,
};

fn build(context: &BuildContext) -> Result<Box<dyn Indicator>> {
    let formula = Formula::from_source(context.formula, context.model, Some(context.features))?;
    formula.into_indicator(context.device, context.precision)
}

/// A compiled formula indicator: see the [module](self) docs.
#[derive(Clone, Debug)]
pub struct Formula {
    name: String,
    psi: Vec<Expr>,
    rho: Expr,
    /// Whether ψ reads the composite `c`.
    reads_composite: bool,
    /// Values per point the evaluation of ψ holds aside ([`Expr::scratch_depth`]).
    scratch: usize,
}

/// `c = Σ_k z_k`.
#[inline(always)]
fn composite<S: Scalar>(z: &[S]) -> S {
    z.iter().fold(S::constant(0.0), |c, &v| c + v)
}

impl Formula {
    /// Check and compile `definition` for inputs of `features` features per agent (`None`:
    /// not known yet; feature indices are then checked when it is).
    ///
    /// # Errors
    /// [`Error::Formula`] naming the part, the column and what was expected: a name that is
    /// not an identifier, reserved or repeated; a feature list that does not match
    /// `features`; no component or too many; an expression that does not parse, reads an
    /// unknown name, calls an unknown function, has a variable exponent, divides by the
    /// constant 0 or has a constant part that is not finite.
    pub fn compile(definition: &Definition, features: Option<usize>) -> Result<Formula> {
        check_names(definition, features)?;
        let names = definition.features.as_deref();
        let agent = Scope::Agent {
            names,
            features: features.or(names.map(<[String]>::len)),
        };
        let psi = (definition.psi.iter().enumerate())
            .map(|(j, c)| expression(&c.expression, &agent, || component_part(j, c)))
            .collect::<Result<Vec<_>>>()?;
        let component_names: Vec<Option<String>> =
            definition.psi.iter().map(|c| c.name.clone()).collect();
        let means = Scope::Means {
            names: &component_names,
            features: names,
        };
        let rho = expression(&definition.rho, &means, || "rho".into())?;
        Ok(Formula {
            name: definition.name.clone(),
            reads_composite: psi.iter().any(Expr::reads_composite),
            scratch: psi.iter().map(Expr::scratch_depth).max().unwrap_or(0),
            psi,
            rho,
        })
    }

    /// The formula given as `definition`, or in the folder `folder`, compiled for `features`
    /// features per agent.
    ///
    /// # Errors
    /// [`Error::Missing`] for neither; [`Error::Parameter`] for both; for a folder,
    /// [`Definition::load`]'s errors and [`Error::Model`] naming its file around those of
    /// [`Formula::compile`].
    pub fn from_source(
        definition: Option<&Definition>,
        folder: Option<&Path>,
        features: Option<usize>,
    ) -> Result<Formula> {
        match (definition, folder) {
            (Some(d), None) => Formula::compile(d, features),
            (None, Some(dir)) => {
                let d = Definition::load(dir)?;
                Formula::compile(&d, features).map_err(|e| Error::Model {
                    path: dir.join(definition::FILE),
                    reason: e.to_string(),
                })
            }
            (None, None) => Err(Error::Missing {
                indicator: ENTRY.name.into(),
                what: "a definition: formula text, or a folder holding indicator.json",
            }),
            (Some(_), Some(dir)) => Err(Error::Parameter {
                name: "model",
                value: dir.display().to_string(),
                reason: "a formula indicator comes as text or as a folder, not both".into(),
            }),
        }
    }

    /// The indicator on `device`: the dual-number host route ([`PoolingFn`]) on a CPU backend,
    /// the tensor programs ([`Pooling`]) on any other.
    ///
    /// # Errors
    /// [`Error::InexactTranscendentals`] for `f64` on a device that cannot compute the
    /// formula's functions in `f64` (every GPU: `exp`, `ln`, `sqrt`, `tanh`, `sigmoid`,
    /// `softplus`, non-integer powers; integer powers, `abs`, `min`, `max` are arithmetic).
    pub fn into_indicator(
        self,
        device: &Device,
        precision: Precision,
    ) -> Result<Box<dyn Indicator>> {
        if on_host(device) {
            return Ok(Box::new(PoolingFn::new(self)));
        }
        let transcendental = (self.psi.iter().chain([&self.rho])).find_map(Expr::transcendental);
        if let (Precision::F64, Some(function)) = (precision, transcendental)
            && !crate::ops::f64_transcendentals_work(device)
        {
            return Err(Error::InexactTranscendentals {
                what: format!("indicator '{}' (its {function})", self.name),
                device: crate::backend::describe(device),
            });
        }
        Ok(Box::new(Pooling::new(self)))
    }

    /// The indicator's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `k`, the number of components of ψ.
    pub fn width(&self) -> usize {
        self.psi.len()
    }
}

/// How messages name component `j`.
fn component_part(j: usize, component: &Component) -> String {
    match &component.name {
        Some(name) => format!("psi m{j} ({name})"),
        None => format!("psi m{j}"),
    }
}

/// `text` parsed and compiled in `scope`; a failure names `part()`.
fn expression(text: &str, scope: &Scope, part: impl Fn() -> String) -> Result<Expr> {
    let refused = |column: usize, reason: String| Error::Formula {
        part: part(),
        text: text.to_string(),
        column: Some(column),
        reason,
    };
    let syntax = parse::parse(text).map_err(|f| refused(f.column, f.reason))?;
    program::compile(&syntax, scope).map_err(|r| refused(parse::column(text, r.at), r.reason))
}

/// Why `name` cannot name a feature or a component, if it cannot.
fn name_problem(name: &str) -> Option<String> {
    let reserved = |what: &str| Some(format!("'{name}' is {what}; choose another name"));
    if name.chars().count() > MAX_NAME_CHARS {
        return Some(format!("a name is at most {MAX_NAME_CHARS} characters"));
    }
    if !definition::is_identifier(name) {
        return Some(format!(
            "'{}' is not a name; names are letters, digits and _, not starting with a digit",
            name.escape_debug()
        ));
    }
    let digits_after = |p: char| {
        name.strip_prefix(p)
            .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
    };
    if Function::named(name).is_some() {
        reserved("a function")
    } else if name == "c" {
        reserved("the composite (the sum of the features)")
    } else if digits_after('x') {
        reserved("a feature's index")
    } else if digits_after('m') {
        reserved("a pooled mean's index")
    } else {
        None
    }
}

/// Check the definition's names: the indicator's, the features' and the components'.
fn check_names(definition: &Definition, features: Option<usize>) -> Result<()> {
    let refused = |part: &str, text: &str, reason: String| Error::Formula {
        part: part.into(),
        text: text.into(),
        column: None,
        reason,
    };
    let name = &definition.name;
    let snake = name.len() <= MAX_NAME_CHARS
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if !snake {
        let why = format!(
            "an indicator's name is snake_case (a-z, 0-9, _), at most {MAX_NAME_CHARS} characters"
        );
        return Err(refused("name", name, why));
    }
    if let Some(names) = &definition.features {
        for (k, feature) in names.iter().enumerate() {
            if let Some(why) = name_problem(feature) {
                return Err(refused("features", feature, why));
            }
            if names[..k].contains(feature) {
                return Err(refused(
                    "features",
                    feature,
                    format!("'{feature}' is named twice"),
                ));
            }
        }
        if let Some(d) = features.filter(|&d| d != names.len()) {
            let why = format!(
                "the formula names {} features ({}), the input has d = {d}",
                names.len(),
                definition::excerpt(&names.join(", "))
            );
            return Err(refused("features", "", why));
        }
    }
    let k = definition.psi.len();
    if k == 0 || k > MAX_COMPONENTS {
        let why = format!("psi has {k} components; it needs 1 to {MAX_COMPONENTS}");
        return Err(refused("psi", "", why));
    }
    for (j, component) in definition.psi.iter().enumerate() {
        let Some(name) = &component.name else {
            continue;
        };
        if let Some(why) = name_problem(name) {
            return Err(refused(&format!("psi m{j}"), name, why));
        }
        if definition.psi[..j]
            .iter()
            .any(|c| c.name.as_ref() == Some(name))
        {
            let why = format!("'{name}' names two components");
            return Err(refused(&format!("psi m{j}"), name, why));
        }
    }
    Ok(())
}

impl PooledFn for Formula {
    fn name(&self) -> &str {
        &self.name
    }

    fn pooled_width(&self) -> usize {
        self.psi.len()
    }

    fn psi<S: Scalar>(&self, z: &[S], out: &mut [S]) {
        let c = match self.reads_composite {
            true => composite(z),
            false => S::constant(0.0),
        };
        for (out, psi) in out.iter_mut().zip(&self.psi) {
            *out = psi.eval(z, c);
        }
    }

    /// Walking the trees once per pack of points instead of once per point: twice as fast
    /// for the variance's ψ (`BENCHMARKS.md`, *Formula indicators*).
    const POINTS_AT_ONCE: bool = true;

    #[inline(always)]
    fn psi_points<S: Scalar>(&self, d: usize, z: &[S], out: &mut [S]) {
        let points = z.len() / d;
        let mut scratch = vec![S::constant(0.0); points * self.scratch];
        for (psi, out) in self.psi.iter().zip(out.chunks_exact_mut(points)) {
            psi.eval_points(z, out, &mut scratch);
        }
    }

    fn rho<S: Scalar>(&self, p: &[S]) -> S {
        self.rho.eval(p, S::constant(0.0))
    }
}

impl Pooled for Formula {
    fn name(&self) -> &str {
        &self.name
    }

    fn psi(&self, z: Tensor<3>) -> Tensor<3> {
        let composite = self.reads_composite.then(|| z.clone().sum_dim(1)); // [rows, 1, n]
        let like = z.clone().narrow(1, 0, 1); // [rows, 1, n]
        let input = |k: usize| z.clone().narrow(1, k, 1);
        let parts = (self.psi.iter())
            .map(|psi| psi.tensor(&input, composite.as_ref(), &like))
            .collect();
        Tensor::cat(parts, 1) // [rows, k, n]
    }

    fn rho(&self, p: Tensor<2>) -> Tensor<1> {
        let rows = p.dims()[0];
        let like = p.clone().narrow(1, 0, 1); // [rows, 1]
        let input = |j: usize| p.clone().narrow(1, j, 1);
        self.rho.tensor(&input, None, &like).reshape([rows])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compile_error(text: &str, d: Option<usize>) -> String {
        let definition: Definition = text.parse().unwrap();
        Formula::compile(&definition, d).unwrap_err().to_string()
    }

    #[test]
    fn messages_name_the_part_the_place_and_the_names_available() {
        let cases = [
            (
                "features: wealth; psi: poor = sigmoid((1 - welth) / 0.05); rho: poor",
                "formula psi m0 (poor) \"sigmoid((1 - welth) / 0.05)\", column 14: unknown name \
                 'welth'; psi reads the features wealth (or x0) and c, their sum",
            ),
            (
                "psi: c; rho: m0 + m1",
                "formula rho \"m0 + m1\", column 6: 'm1': psi has 1 components; rho reads the \
                 pooled means m0",
            ),
            (
                "features: a, exp; psi: a; rho: m0",
                "formula features \"exp\": 'exp' is a function; choose another name",
            ),
            (
                "features: a, b; psi: a; rho: m0",
                "formula features: the formula names 2 features (a, b), the input has d = 3",
            ),
            (
                "name: Bad Name; psi: c; rho: m0",
                "formula name \"Bad Name\": an indicator's name is snake_case",
            ),
            (
                "psi: s = c, s = c^2; rho: s",
                "formula psi m1 \"s\": 's' names two components",
            ),
        ];
        for (text, want) in cases {
            let got = compile_error(text, text.contains("a, b").then_some(3));
            assert!(got.starts_with(want), "{text}:\n got {got}\nwant {want}");
        }
        let many = format!("psi: {}; rho: m0", vec!["c"; 65].join(", "));
        assert!(compile_error(&many, None).contains("psi has 65 components; it needs 1 to 64"));
    }

    #[test]
    fn a_long_expression_is_shown_around_the_column() {
        let long = format!("psi: {} + oops; rho: m0", vec!["c"; 40].join(" + "));
        let e = compile_error(&long, None);
        assert!(e.starts_with("formula psi m0 \"…c + c"), "{e}");
        assert!(
            e.contains(" + c + oops\", column 161: unknown name 'oops'"),
            "{e}"
        );
    }
}
