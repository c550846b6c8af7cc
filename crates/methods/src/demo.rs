//! The built-in demo: attribute a synthetic heavy-tailed population with all four analytic
//! indicators, by the path engine and by the closed forms, and check them against each other
//! with the tolerances of [`aumann_engine::verify`].

use burn::tensor::Device;

use crate::synth::{self, SynthConfig};
use aumann_engine::attribution::Attribution;
use aumann_engine::baseline::{Baseline, BaselineSpec};
use aumann_engine::error::Result;
use aumann_engine::indicators::{self, Analytic};
use aumann_engine::path::{self, PathOptions, Progress};
use aumann_engine::verify::{Agreement, Tolerance, compare};

/// One indicator's outcome in the demo.
#[derive(Clone, Debug)]
pub struct DemoRow {
    /// The indicator.
    pub indicator: Analytic,
    /// Seconds of the exact closed form.
    pub exact_seconds: f64,
    /// Seconds of the path integral.
    pub path_seconds: f64,
    /// Path vs exact.
    pub agreement: Agreement,
    /// The contract it is held to.
    pub tolerance: Tolerance,
    /// `V(x)` of the first step.
    pub value: f64,
}

impl DemoRow {
    /// Whether the path engine met the contract.
    pub fn passed(&self) -> bool {
        self.tolerance.holds(&self.agreement)
    }
}

/// Run the demo on `config`'s population with `options`, reporting per indicator.
///
/// # Errors
/// Any error of the engine (none is expected on the synthetic population).
pub fn run(
    config: &SynthConfig,
    options: &PathOptions,
    device: &Device,
    progress: &mut (dyn FnMut(Analytic, Progress) + Send),
) -> Result<Vec<DemoRow>> {
    let features = synth::population(config);
    let baseline = Baseline::resolve(&BaselineSpec::Zero, &features)?;
    let mut rows = Vec::new();
    for kind in Analytic::ALL {
        let exact: Attribution = aumann_engine::exact::attribute(kind, &features, &baseline)?;
        let indicator = indicators::analytic(kind);
        let approx = path::attribute(
            indicator.as_ref(),
            &features,
            &baseline,
            options,
            device,
            &mut |p| progress(kind, p),
        )?;
        rows.push(DemoRow {
            indicator: kind,
            exact_seconds: exact.seconds,
            path_seconds: approx.seconds,
            agreement: compare(&approx, &exact),
            tolerance: Tolerance::spec(kind, options.precision),
            value: exact.v_x[0],
        });
    }
    Ok(rows)
}

/// The demo's table: one row per indicator, the last column `ok` or `FAIL`.
pub fn table(rows: &[DemoRow]) -> String {
    use aumann_report::markdown::{Align, Table};
    let mut t = Table::new(&[
        ("indicator", Align::Left),
        ("V(x)", Align::Right),
        ("exact", Align::Right),
        ("path", Align::Right),
        ("max err / max φ (tol)", Align::Right),
        ("Spearman", Align::Right),
        ("rel. efficiency gap (tol)", Align::Right),
        ("", Align::Left),
    ]);
    for r in rows {
        t.row([
            r.indicator.name().to_string(),
            format!("{:.6}", r.value),
            format!("{:.1} ms", r.exact_seconds * 1e3),
            format!("{:.0} ms", r.path_seconds * 1e3),
            format!(
                "{:.2e} ({:.0e})",
                r.agreement.max_rel_error, r.tolerance.max_rel_error
            ),
            format!("{:.6}", r.agreement.spearman),
            format!("{:.2e} ({:.0e})", r.agreement.rel_gap, r.tolerance.rel_gap),
            if r.passed() { "ok" } else { "FAIL" }.to_string(),
        ]);
    }
    t.to_string()
}
