//! Inequality and concentration indices of the composite `c_i = Σ_k x_ik` (`μ` its mean), as
//! pooled indicators `ρ((1/n) Σ_i ψ(c_i))`:
//!
//! | id | index | ψ | ρ | needs |
//! |---|---|---|---|---|
//! | `theil` | `(1/n) Σ_i (c_i/μ) ln(c_i/μ)` | `c, c ln c` | `m₁/m₀ − ln m₀` | every `c_i > 0` |
//! | `atkinson(epsilon=ε)` | `1 − ((1/n) Σ_i c_i^{1−ε})^{1/(1−ε)} / μ` (ε ≠ 1) | `c, c^{1−ε}` | `1 − m₁^{1/(1−ε)}/m₀` | every `c_i > 0` |
//! | `atkinson(epsilon=1)` | `1 − (Π_i c_i)^{1/n} / μ` | `c, ln c` | `1 − exp(m₁)/m₀` | every `c_i > 0` |
//! | `coefficient_of_variation` | `sqrt((1/n) Σ_i (c_i − μ)²) / μ` | `c, c²` | `sqrt(m₁ − m₀²)/m₀` | `μ > 0` |
//! | `share_above(threshold=θ, tau=τ)` | `(1/n) Σ_i σ((c_i − θ)/τ)` | `σ((c − θ)/τ)` | `m₀` | |
//! | `share_below(threshold=θ, tau=τ)` | `(1/n) Σ_i σ((θ − c_i)/τ)` | `σ((θ − c)/τ)` | `m₀` | |
//!
//! `σ` is the logistic sigmoid: the shares are the fractions of agents whose composite lies
//! above (below) `θ`, each step smoothed over a width `τ` in the composite's units (the
//! share itself as `τ → 0`); the share of the total held by the top agents is
//! [`super::top_share`]. Atkinson's `ε` defaults to 0.5, and `τ` to 1/20 of `|θ|`.
//!
//! Theil, Atkinson and the coefficient of variation are scale-invariant: `V(αx)` is the same
//! for every `α > 0` and `V(0)` is undefined, so they need a baseline with a positive mean
//! (their domain is checked at both ends of the path, which is then inside it: composites
//! move linearly along it). The natural baseline is `mean` (everyone at the population mean:
//! every index is 0, so `Σ_i φ_i` is the index itself); step-to-step attribution takes the
//! previous step.
//!
//! Each is a [`Formula`] compiled once, so it runs on the pooled routes of every backend (dual
//! numbers on the host, tensor programs elsewhere) with exact derivatives; none has a closed
//! form of its path integral, and their integrands are smooth along the path, so a
//! Gauss–Legendre rule of a few dozen points is accurate to rounding.

use burn::tensor::{Device, Tensor};

use super::formula::{Definition, Formula};
use super::parameters::{Fallback, Parameter, any_value, positive};
use super::{
    BuildContext, DomainError, Entry, HostRoute, HostRun, HostStep, Indicator, PathFn,
    PooledPasses, StraightPaths,
};
use crate::array::download;
use crate::backend::Precision;
use crate::error::{Error, Result};

/// Atkinson's inequality aversion `ε ≥ 0`.
const EPSILON: Parameter = Parameter {
    name: "epsilon",
    fallback: Fallback::Value(0.5),
    meaning: "inequality aversion, ≥ 0",
    check: |v| (v < 0.0).then_some("it must be at least 0"),
};

/// A share's threshold `θ`.
const THRESHOLD: Parameter = Parameter {
    name: "threshold",
    fallback: Fallback::Required,
    meaning: "the threshold on the composite",
    check: any_value,
};

/// A share's temperature `τ`.
const TAU: Parameter = Parameter {
    name: "tau",
    fallback: Fallback::Derived,
    meaning: "the width of the smoothed step, in the composite's units; default |threshold|/20",
    check: positive,
};

/// `theil`.
pub const THEIL: Entry = Entry {
    name: "theil",
    summary: "Theil index (1/n)Σ(c_i/μ)ln(c_i/μ) of the composite (every c_i > 0; a baseline \
              with a positive mean, e.g. mean)",
    needs_model: false,
    exact: None,
    parameters: &[],
    build: |context| build(context, Index::Theil),
};

/// `atkinson`.
pub const ATKINSON: Entry = Entry {
    name: "atkinson",
    summary: "Atkinson index 1 − (mean c^(1−ε))^(1/(1−ε))/μ of the composite, epsilon = ε \
              (default 0.5; every c_i > 0)",
    needs_model: false,
    exact: None,
    parameters: &[EPSILON],
    build: |context| build(context, Index::Atkinson),
};

/// `coefficient_of_variation`.
pub const COEFFICIENT_OF_VARIATION: Entry = Entry {
    name: "coefficient_of_variation",
    summary: "coefficient of variation sqrt(variance)/μ of the composite (a baseline with a \
              positive mean, e.g. mean)",
    needs_model: false,
    exact: None,
    parameters: &[],
    build: |context| build(context, Index::CoefficientOfVariation),
};

/// `share_above`.
pub const SHARE_ABOVE: Entry = Entry {
    name: "share_above",
    summary: "share of agents whose composite exceeds threshold, smoothed over tau",
    needs_model: false,
    exact: None,
    parameters: &[THRESHOLD, TAU],
    build: |context| build(context, Index::ShareAbove),
};

/// `share_below`.
pub const SHARE_BELOW: Entry = Entry {
    name: "share_below",
    summary: "share of agents whose composite is below threshold, smoothed over tau",
    needs_model: false,
    exact: None,
    parameters: &[THRESHOLD, TAU],
    build: |context| build(context, Index::ShareBelow),
};

/// The indices of this module.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Index {
    Theil,
    Atkinson,
    CoefficientOfVariation,
    ShareAbove,
    ShareBelow,
}

/// What the path must keep positive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Requirement {
    /// Nothing.
    Nothing,
    /// Every agent's composite.
    EveryComposite,
    /// The mean composite.
    MeanComposite,
}

/// `v` as the formulas write a number.
fn number(v: f64) -> String {
    format!("({v:e})")
}

impl Index {
    fn entry(self) -> &'static Entry {
        match self {
            Index::Theil => &THEIL,
            Index::Atkinson => &ATKINSON,
            Index::CoefficientOfVariation => &COEFFICIENT_OF_VARIATION,
            Index::ShareAbove => &SHARE_ABOVE,
            Index::ShareBelow => &SHARE_BELOW,
        }
    }

    fn requirement(self) -> Requirement {
        match self {
            Index::Theil | Index::Atkinson => Requirement::EveryComposite,
            Index::CoefficientOfVariation => Requirement::MeanComposite,
            Index::ShareAbove | Index::ShareBelow => Requirement::Nothing,
        }
    }

    /// `psi: …; rho: …` with the parameters' values written in.
    fn formula(self, context: &BuildContext) -> String {
        let get = |name| context.parameters.get(name);
        match self {
            Index::Theil => "psi: c, c * ln(c); rho: m1 / m0 - ln(m0)".into(),
            Index::Atkinson if get("epsilon") == 1.0 => {
                "psi: c, ln(c); rho: 1 - exp(m1) / m0".into()
            }
            Index::Atkinson => {
                let e = get("epsilon");
                let (power, root) = (number(1.0 - e), number(1.0 / (1.0 - e)));
                format!("psi: c, pow(c, {power}); rho: 1 - pow(m1, {root}) / m0")
            }
            // At a population of equals m1 − m0² may round below 0.
            Index::CoefficientOfVariation => {
                "psi: c, c^2; rho: sqrt(max(m1 - m0^2, 0)) / m0".into()
            }
            Index::ShareAbove | Index::ShareBelow => {
                let threshold = get("threshold");
                let tau = (context.parameters.value("tau")).unwrap_or(threshold.abs() / 20.0);
                let step = match self {
                    Index::ShareAbove => format!("c - {}", number(threshold)),
                    _ => format!("{} - c", number(threshold)),
                };
                format!("psi: sigmoid(({step}) / {}); rho: m0", number(tau))
            }
        }
    }
}

fn build(context: &BuildContext, index: Index) -> Result<Box<dyn Indicator>> {
    let name = index.entry().name;
    if matches!(index, Index::ShareAbove | Index::ShareBelow)
        && context.parameters.value("tau").is_none()
        && context.parameters.get("threshold") == 0.0
    {
        return Err(Error::Parameter {
            name: "indicator",
            value: name.into(),
            reason: "threshold = 0 leaves tau without a default (|threshold|/20); give tau".into(),
        });
    }
    let mut definition: Definition = index.formula(context).parse()?;
    definition.name = name.to_string();
    let formula = Formula::compile(&definition, Some(context.features))?;
    Ok(Box::new(Checked {
        inner: formula.into_indicator(context.device, context.precision)?,
        requirement: index.requirement(),
    }))
}

/// An indicator whose path must keep composites positive: the check, then the indicator.
struct Checked {
    inner: Box<dyn Indicator>,
    requirement: Requirement,
}

impl Requirement {
    /// Why `composite` (agent `agent`'s, or the mean's where `None`) at `at` (the features or
    /// the baseline) is outside the domain, if it is.
    fn refuse(self, indicator: &str, at: &str, agent: Option<usize>, value: f64) -> String {
        let (whose, needs) = match (self, agent) {
            (Requirement::MeanComposite, _) => (
                "the mean composite".to_string(),
                "a positive mean composite",
            ),
            (_, Some(i)) => (format!("agent {i}'s composite"), "every composite positive"),
            (_, None) => (
                "the composite every agent shares".to_string(),
                "every composite positive",
            ),
        };
        format!(
            "{whose} is {value} in the {at}; {indicator} needs {needs} along the path \
             (use a baseline with positive composites, e.g. mean)"
        )
    }

    /// The first agent (or the mean) of `step` outside the domain at either end.
    fn check_step(self, indicator: &str, step: &HostStep) -> Result<()> {
        if self == Requirement::Nothing {
            return Ok(());
        }
        let x: Vec<f64> = (0..step.agents).map(|i| step.x_composite(i)).collect();
        let b: Vec<f64> = (0..step.baseline_agents())
            .map(|i| step.b_composite(i))
            .collect();
        for (at, composites) in [("features", x), ("baseline", b)] {
            let outside = |c: f64| c.is_nan() || c <= 0.0;
            let failure = match self {
                Requirement::MeanComposite => {
                    let mean = composites.iter().sum::<f64>() / composites.len() as f64;
                    outside(mean).then_some((None, mean))
                }
                _ => (composites.iter().enumerate())
                    .find(|&(_, &c)| outside(c))
                    .map(|(i, &c)| (Some(i).filter(|_| composites.len() > 1), c)),
            };
            if let Some((agent, value)) = failure {
                return Err(Error::Domain {
                    indicator: indicator.into(),
                    step: step.index,
                    reason: self.refuse(indicator, at, agent, value),
                });
            }
        }
        Ok(())
    }

    /// [`Requirement::check_step`] of the conditions one chunk of a population can check:
    /// its agents' own.
    fn check_chunk(self, indicator: &str, step: &HostStep) -> Result<()> {
        match self {
            Requirement::EveryComposite => self.check_step(indicator, step),
            Requirement::Nothing | Requirement::MeanComposite => Ok(()),
        }
    }

    /// The first row of `x` or `b` (`[rows, d, n]`) outside the domain.
    fn check_rows(
        self,
        indicator: &str,
        x: &Tensor<3>,
        b: &Tensor<3>,
    ) -> Result<Option<DomainError>> {
        for (at, t) in [("features", x), ("baseline", b)] {
            let [rows, _, n] = t.dims();
            let composites = t.clone().sum_dim(1); // [rows, 1, n]
            let (values, agents) = match self {
                Requirement::Nothing => return Ok(None),
                Requirement::EveryComposite => (
                    download(
                        composites.clone().min_dim(2).reshape([rows]),
                        "smallest composites",
                    )?,
                    Some(download(
                        composites.argmin(2).reshape([rows]).float(),
                        "their agents",
                    )?),
                ),
                Requirement::MeanComposite => (
                    download(
                        crate::ops::mean_dim(composites, 2).reshape([rows]),
                        "mean composites",
                    )?,
                    None,
                ),
            };
            if let Some(row) = values.iter().position(|&v| v.is_nan() || v <= 0.0) {
                let agent = agents.map(|a| a[row] as usize).filter(|_| n > 1);
                let reason = self.refuse(indicator, at, agent, values[row]);
                return Ok(Some(DomainError { row, reason }));
            }
        }
        Ok(None)
    }
}

impl Indicator for Checked {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn min_agents(&self) -> usize {
        self.inner.min_agents()
    }

    fn f64_forward_on_any_device(&self) -> bool {
        self.inner.f64_forward_on_any_device()
    }

    fn forward(&self, z: Tensor<3>) -> Result<Tensor<1>> {
        self.inner.forward(z)
    }

    fn values(
        &self,
        z: &Tensor<3>,
        shape: [usize; 3],
        dtype: burn::tensor::DType,
    ) -> Result<Vec<f64>> {
        self.inner.values(z, shape, dtype)
    }

    fn check_domain(&self, x: &Tensor<3>, b: &Tensor<3>) -> Result<Option<DomainError>> {
        match self.requirement.check_rows(self.name(), x, b)? {
            Some(refused) => Ok(Some(refused)),
            None => self.inner.check_domain(x, b),
        }
    }

    fn gradient(&self, z: &Tensor<3>) -> Option<Tensor<3>> {
        self.inner.gradient(z)
    }

    fn integrated_gradient(&self, paths: &StraightPaths) -> Result<Option<Tensor<3>>> {
        self.inner.integrated_gradient(paths)
    }

    fn integrates_itself(&self) -> bool {
        self.inner.integrates_itself()
    }

    fn along_path<'a>(&'a self, x: &Tensor<3>, b: &Tensor<3>) -> Result<PathFn<'a>> {
        self.inner.along_path(x, b)
    }

    fn pooled_passes(&self) -> Option<&dyn PooledPasses> {
        self.inner
            .pooled_passes()
            .map(|_| self as &dyn PooledPasses)
    }

    fn host_route(&self, device: &Device) -> Option<Box<dyn HostRoute + '_>> {
        let route = self.inner.host_route(device)?;
        Some(Box::new(CheckedRoute {
            route,
            requirement: self.requirement,
            name: self.name(),
        }))
    }
}

/// A host route whose steps are checked first.
struct CheckedRoute<'a> {
    route: Box<dyn HostRoute + 'a>,
    requirement: Requirement,
    name: &'a str,
}

impl HostRoute for CheckedRoute<'_> {
    /// Asked after [`HostRoute::attribute`] of the same step, which checked it.
    fn end_values(&self, step: &HostStep, run: &HostRun) -> Result<[f64; 2]> {
        self.route.end_values(step, run)
    }

    fn attribute(&self, step: &HostStep, run: &HostRun, phi: &mut [f64]) -> Result<()> {
        self.requirement.check_step(self.name, step)?;
        self.route.attribute(step, run, phi)
    }
}

/// The inner indicator's passes, each chunk's step checked first.
impl PooledPasses for Checked {
    fn width(&self) -> usize {
        self.passes().width()
    }

    /// A chunk checks its own agents; the mean is the population's ([`Self::check_population`]).
    fn pool(&self, step: &HostStep, nodes: &[f64], precision: Precision) -> Result<Vec<f64>> {
        self.requirement.check_chunk(self.name(), step)?;
        self.passes().pool(step, nodes, precision)
    }

    fn pool_ends(&self, step: &HostStep) -> Result<[Vec<f64>; 2]> {
        self.requirement.check_chunk(self.name(), step)?;
        self.passes().pool_ends(step)
    }

    fn rho(&self, means: &[f64]) -> (f64, Vec<f64>) {
        self.passes().rho(means)
    }

    /// The mean composite, the first pooled mean of every index that needs it positive.
    fn check_population(&self, step: usize, at_x: &[f64], at_b: &[f64]) -> Result<()> {
        if self.requirement != Requirement::MeanComposite {
            return Ok(());
        }
        for (at, means) in [("features", at_x), ("baseline", at_b)] {
            if means[0].is_nan() || means[0] <= 0.0 {
                return Err(Error::Domain {
                    indicator: self.name().into(),
                    step,
                    reason: self.requirement.refuse(self.name(), at, None, means[0]),
                });
            }
        }
        Ok(())
    }

    fn pull_back(
        &self,
        step: &HostStep,
        nodes: &[f64],
        shared: &[f64],
        precision: Precision,
        phi: &mut [f64],
    ) {
        self.passes().pull_back(step, nodes, shared, precision, phi);
    }
}

impl Checked {
    /// The inner indicator's passes, which [`Indicator::pooled_passes`] offers only where they
    /// exist.
    fn passes(&self) -> &dyn PooledPasses {
        (self.inner.pooled_passes()).unwrap_or_else(|| unreachable!("offered only where present"))
    }
}
