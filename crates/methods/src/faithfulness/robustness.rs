//! How the path integral's ranking at `t*` moves with the choices behind it (the paper's
//! Tables 20–21 analogues):
//!
//! ```text
//! order        the straight path against the agent-by-agent path in a random order: agent
//!              i gets V(P ∪ {i}) − V(P), P the agents switched on before it (R orders)
//! temperature  τ ∈ {4τ₀, 2τ₀, τ₀/2, τ₀/4} against the scenario's τ₀, the simulation kept:
//!              the ranking, and the smoothing bias of the macro change V(x) − V(b)
//! aggregate    (cascade) the weighted, log and pairwise forms of the risk, every pair
//! ```
//!
//! each scored by Kendall τ_b over all agents and the top-10 overlap.

use burn::tensor::Device;

use super::report::agreement;
use super::{FaithMethod, FaithOptions, Faithfulness};
use crate::coalition::{self, TensorGame};
use crate::error::Result;
use crate::scenario::{Loaded, Scenario};
use aumann_engine::baseline::Baseline;
use aumann_engine::path;
use aumann_report::markdown::{Align, Table};

/// One comparison of two attributions at `t*`.
#[derive(Clone, Debug, PartialEq)]
pub struct Comparison {
    /// `order`, `temperature` or `aggregate`.
    pub sweep: &'static str,
    /// What was varied, e.g. `τ = 0.1`.
    pub variant: String,
    /// What it is compared with.
    pub against: String,
    /// Kendall τ_b over all agents.
    pub kendall_all: f64,
    /// Top-10 overlap, a fraction.
    pub top10_overlap: f64,
    /// `V(x) − V(b)` of the variant.
    pub change: f64,
}

/// The sweeps for the scenario and target step of `f`, with `orders` random orders.
///
/// # Errors
/// Whatever attributing or scoring reports.
pub fn sweeps(
    loaded: &Loaded,
    f: &Faithfulness,
    options: &FaithOptions,
    orders: usize,
    device: &Device,
) -> Result<Vec<Comparison>> {
    let sim = &loaded.simulation;
    let steps = sim.features.steps() / sim.runs.max(1);
    let t = options.run * steps + f.step;
    let x = sim.features.select_steps(&[t]);
    let b = Baseline::from_array(sim.baseline.select_steps(&[t]));
    // φ and V(x) − V(b) of one variant of the scenario.
    let attribute = |s: &dyn Scenario| -> Result<(Vec<f64>, f64)> {
        let indicator = s.indicator(sim, options.which, t)?;
        let a = path::attribute(
            indicator.as_ref(),
            &x,
            &b,
            &options.path,
            device,
            &mut |_| {},
        )?;
        let change = a.v_x[0] - a.v_b[0];
        Ok((a.phi, change))
    };
    let base = loaded.scenario.as_ref();
    // The run's own as-path attribution, where it made one.
    let (phi, change) = match f.attribution(FaithMethod::AsPath) {
        Some(phi) => (phi.to_vec(), f.change[0]),
        None => attribute(base)?,
    };
    let compare = |sweep, variant: String, against: &str, other: &[f64], reference, change| {
        let [_, all, overlap] = agreement(other, reference);
        Comparison {
            sweep,
            variant,
            against: against.into(),
            kendall_all: all,
            top10_overlap: overlap,
            change,
        }
    };
    let mut out = Vec::new();
    let indicator = base.indicator(sim, options.which, t)?;
    let precision = options.path.precision;
    let game = TensorGame::new(
        indicator.as_ref(),
        &x,
        &b,
        device,
        precision,
        options.path.block_elements,
    )?;
    for r in 0..orders as u64 {
        let one = coalition::shapley_sampled(&game, 1, false, options.seed + r, &mut |_| {})?;
        let variant = format!("random order {r}");
        out.push(compare(
            "order",
            variant,
            "straight path",
            &one.phi,
            &phi,
            change,
        ));
    }
    let tau = parameter(base, "temperature")?;
    if let Some(tau) = tau {
        for factor in [4.0, 2.0, 0.5, 0.25] {
            let s = variant(base, "temperature", serde_json::json!(tau * factor))?;
            let (other, c) = attribute(s.as_ref())?;
            let variant = format!("τ = {}", tau * factor);
            out.push(compare(
                "temperature",
                variant,
                &format!("τ = {tau}"),
                &other,
                &phi,
                c,
            ));
        }
    }
    if let Some(own) = base.parameters()?.get("aggregate").cloned() {
        let forms = crate::scenario::cascade::Aggregate::ALL;
        let mut attributions = Vec::new();
        for form in forms {
            let attribution = if own == form.name() {
                (phi.clone(), change)
            } else {
                attribute(variant(base, "aggregate", serde_json::json!(form.name()))?.as_ref())?
            };
            attributions.push((form.name(), attribution));
        }
        for i in 0..attributions.len() {
            for j in i + 1..attributions.len() {
                let ((a, (pa, ca)), (bn, (pb, _))) = (&attributions[i], &attributions[j]);
                out.push(compare("aggregate", (*a).into(), bn, pa, pb, *ca));
            }
        }
    }
    Ok(out)
}

/// A numeric parameter of the scenario, if it has one.
fn parameter(s: &dyn Scenario, key: &str) -> Result<Option<f64>> {
    Ok(s.parameters()?.get(key).and_then(serde_json::Value::as_f64))
}

/// The scenario with one parameter changed.
fn variant(s: &dyn Scenario, key: &str, value: serde_json::Value) -> Result<Box<dyn Scenario>> {
    let mut parameters = s.parameters()?;
    parameters[key] = value;
    Ok((s.entry().from_parameters)(&parameters)?)
}

/// `robustness.csv` rows (no header) of one scenario.
pub fn csv(scenario: &str, rows: &[Comparison]) -> String {
    rows.iter()
        .map(|c| {
            format!(
                "{scenario},{},{},{},{:.6},{:.4},{:.6e}\n",
                c.sweep, c.variant, c.against, c.kendall_all, c.top10_overlap, c.change
            )
        })
        .collect()
}

/// The header of `robustness.csv`.
pub const HEADER: &str = "scenario,sweep,variant,against,kendall_all,top10_overlap,change\n";

/// The report's robustness section: per scenario, the random orders summarised (mean ±
/// standard deviation), the other comparisons one per row.
pub fn markdown(sweeps: &[(String, Vec<Comparison>)]) -> String {
    let mut t = Table::new(&[
        ("scenario", Align::Left),
        ("sweep", Align::Left),
        ("variant", Align::Left),
        ("against", Align::Left),
        ("τ_b all", Align::Right),
        ("top-10 overlap", Align::Right),
        ("V(x) − V(b)", Align::Right),
    ]);
    for (scenario, rows) in sweeps {
        let orders: Vec<&Comparison> = rows.iter().filter(|c| c.sweep == "order").collect();
        if !orders.is_empty() {
            let stat = |f: &dyn Fn(&Comparison) -> f64| {
                let v: Vec<f64> = orders.iter().map(|c| f(c)).collect();
                let m = v.iter().sum::<f64>() / v.len() as f64;
                let sd = if v.len() > 1 {
                    (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (v.len() - 1) as f64).sqrt()
                } else {
                    0.0
                };
                format!("{m:.2} ± {sd:.2}")
            };
            t.row([
                scenario.clone(),
                "order".into(),
                format!("{} random orders", orders.len()),
                "straight path".into(),
                stat(&|c| c.kendall_all),
                stat(&|c| c.top10_overlap),
                format!("{:.4e}", orders[0].change),
            ]);
        }
        for c in rows.iter().filter(|c| c.sweep != "order") {
            t.row([
                scenario.clone(),
                c.sweep.into(),
                c.variant.clone(),
                c.against.clone(),
                format!("{:.2}", c.kendall_all),
                format!("{:.2}", c.top10_overlap),
                format!("{:.4e}", c.change),
            ]);
        }
    }
    format!(
        "\n## Robustness of the as-path ranking\n\nThe straight path against agent-by-agent paths \
         in random orders (each agent's marginal contribution when it joins); the surrogates' \
         temperature τ against the scenario's (the simulation kept; the change V(x) − V(b) \
         shows the smoothing bias); the cascade risk's three aggregates pairwise. τ_b over \
         all agents; top-10 overlap as a fraction.\n\n{t}"
    )
}
