//! A faithfulness run's tables and picture: one summary row per method, every deletion
//! point, the paper's Table 19 analogue in markdown, and the deletion curves as a PNG.
//!
//! `faithfulness.csv`: `scenario,indicator,step,method,seeds,auc,auc_sd,auc_relative,
//! auc_dynamic,auc_dynamic_relative,kendall_top10,kendall_all,top10_overlap,seconds,
//! infeasible_seconds,auc_by_magnitude,auc_by_magnitude_relative,auc_resimulated,
//! auc_resimulated_relative` — means over seeds (`by_magnitude` deleting by |φ| instead of
//! signed φ; `resimulated` the society simulated again with the agents held, empty where not
//! run); `auc_sd` their standard deviation; agreement
//! against sampled Shapley's first seed, empty on its own row and where it did not run;
//! `infeasible_seconds` the extrapolated time of a method not run. A field is empty where its
//! value is undefined: a relative value where the macro change is zero, Kendall's τ_b where a
//! ranking is all ties.
//!
//! `deletion.csv`: `scenario,indicator,step,method,seed,k,drop,drop_relative,drop_dynamic,
//! drop_dynamic_relative,drop_by_magnitude,drop_by_magnitude_relative,drop_resimulated,
//! drop_resimulated_relative` (relative drops empty where the change is zero, re-simulated
//! drops where not run).

use aumann_kernels::rank::{kendall_tau_b, top_k};
use plotters::prelude::*;

use super::{Curves, FaithMethod, Faithfulness, Ranked};
use crate::error::{RenderError, Result};
use aumann_report::markdown::{Align, Table};

/// One method's line: means over its seeds.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    /// The method.
    pub method: FaithMethod,
    /// Seeds that ran.
    pub seeds: usize,
    /// Mean deletion AUC (mean drop over k), and its standard deviation over seeds.
    pub auc: Option<(f64, f64)>,
    /// Mean dynamic deletion AUC.
    pub auc_dynamic: Option<f64>,
    /// Mean deletion AUC deleting by `|φ|`.
    pub auc_by_magnitude: Option<f64>,
    /// Mean deletion AUC of the re-simulated society.
    pub auc_resimulated: Option<f64>,
    /// Against sampled Shapley: τ_b over its top 10, τ_b over all agents, top-10 overlap.
    pub agreement: Option<[f64; 3]>,
    /// Mean seconds.
    pub seconds: f64,
    /// Extrapolated seconds, if not run.
    pub infeasible: Option<f64>,
}

/// `τ_b` over the reference's top 10, `τ_b` over all agents, and the top-10 overlap.
pub fn agreement(phi: &[f64], reference: &[f64]) -> [f64; 3] {
    // `top_k` returns positions ascending, ties broken by position, as `ranking` orders them.
    let (a, b) = (top_k(phi, 10), top_k(reference, 10));
    let pick = |v: &[f64]| b.iter().map(|&i| v[i]).collect::<Vec<_>>();
    let common = a.iter().filter(|i| b.binary_search(i).is_ok()).count();
    [
        kendall_tau_b(&pick(phi), &pick(reference)),
        kendall_tau_b(phi, reference),
        common as f64 / b.len().max(1) as f64,
    ]
}

impl Faithfulness {
    /// Sampled Shapley's first attribution: the reference of the agreement columns.
    pub fn reference(&self) -> Option<&Curves> {
        self.first(FaithMethod::ShapleySampled)
    }

    /// The first attribution `method` made (its first seed), if it ran.
    pub fn attribution(&self, method: FaithMethod) -> Option<&[f64]> {
        self.first(method).map(|c| c.phi.as_slice())
    }

    fn first(&self, method: FaithMethod) -> Option<&Curves> {
        self.outcomes.iter().find_map(|o| match &o.result {
            Ranked::Done(c) if o.method == method => Some(c),
            _ => None,
        })
    }

    /// One summary per method, in the order run.
    pub fn summaries(&self) -> Vec<Summary> {
        let reference = self.reference();
        let mut methods: Vec<FaithMethod> = Vec::new();
        for o in &self.outcomes {
            if !methods.contains(&o.method) {
                methods.push(o.method);
            }
        }
        methods
            .into_iter()
            .map(|method| {
                let runs: Vec<&super::Outcome> = self
                    .outcomes
                    .iter()
                    .filter(|o| o.method == method)
                    .collect();
                let done: Vec<&Curves> = runs
                    .iter()
                    .filter_map(|o| match &o.result {
                        Ranked::Done(c) => Some(c),
                        Ranked::Infeasible(_) => None,
                    })
                    .collect();
                let infeasible = runs.iter().find_map(|o| match o.result {
                    Ranked::Infeasible(s) => Some(s),
                    Ranked::Done(_) => None,
                });
                let aucs: Vec<f64> = done.iter().map(|c| mean(&c.deletion)).collect();
                let agreements: Vec<[f64; 3]> = match reference {
                    Some(r) if method != FaithMethod::ShapleySampled => {
                        done.iter().map(|c| agreement(&c.phi, &r.phi)).collect()
                    }
                    _ => Vec::new(),
                };
                Summary {
                    method,
                    seeds: done.len(),
                    auc: (!aucs.is_empty()).then(|| (mean(&aucs), sd(&aucs))),
                    auc_dynamic: mean_auc(&done, |c| &c.dynamic),
                    auc_by_magnitude: mean_auc(&done, |c| &c.deletion_by_magnitude),
                    auc_resimulated: mean_auc(&done, |c| &c.resimulated),
                    agreement: (!agreements.is_empty()).then(|| {
                        [0, 1, 2]
                            .map(|j| mean(&agreements.iter().map(|a| a[j]).collect::<Vec<_>>()))
                    }),
                    seconds: mean(&runs.iter().map(|o| o.seconds).collect::<Vec<_>>()),
                    infeasible,
                }
            })
            .collect()
    }

    /// `faithfulness.csv` rows (no header).
    pub fn summary_csv(&self) -> String {
        let mut out = String::new();
        for s in self.summaries() {
            let auc = s.auc.map(|a| a.0);
            let rel = |a: Option<f64>, c: f64| a.filter(|_| c != 0.0).map(|a| a / c);
            let agree = |j: usize| s.agreement.map(|a| a[j]);
            out.push_str(&format!(
                "{},{},{},{},{},{},{},{},{},{},{},{},{},{:.6e},{},{},{},{},{}\n",
                self.scenario,
                self.which.name(),
                self.step,
                s.method.name(),
                s.seeds,
                cell(auc),
                cell(s.auc.map(|a| a.1)),
                cell(rel(auc, self.change[0])),
                cell(s.auc_dynamic),
                cell(rel(s.auc_dynamic, self.change[1])),
                cell(agree(0)),
                cell(agree(1)),
                cell(agree(2)),
                s.seconds,
                cell(s.infeasible),
                cell(s.auc_by_magnitude),
                cell(rel(s.auc_by_magnitude, self.change[0])),
                cell(s.auc_resimulated),
                cell(
                    s.auc_resimulated
                        .zip(self.resimulated_risk)
                        .map(|(a, c)| a / c)
                ),
            ));
        }
        out
    }

    /// `deletion.csv` rows (no header); a relative drop is empty where the macro change is
    /// zero.
    pub fn deletion_csv(&self) -> String {
        let rel = |d: f64, c: f64| cell(Some(d / c).filter(|_| c != 0.0));
        let mut out = String::new();
        for o in &self.outcomes {
            let Ranked::Done(c) = &o.result else { continue };
            let curves = c
                .deletion
                .iter()
                .zip(&c.dynamic)
                .zip(&c.deletion_by_magnitude);
            for (k, ((d, y), m)) in curves.enumerate() {
                let r = c.resimulated.get(k).copied();
                let r_rel = r.zip(self.resimulated_risk).map(|(r, c)| r / c);
                out.push_str(&format!(
                    "{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n",
                    self.scenario,
                    self.which.name(),
                    self.step,
                    o.method.name(),
                    o.seed.map(|s| s.to_string()).unwrap_or_default(),
                    k + 1,
                    cell(Some(*d)),
                    rel(*d, self.change[0]),
                    cell(Some(*y)),
                    rel(*y, self.change[1]),
                    cell(Some(*m)),
                    rel(*m, self.change[0]),
                    cell(r),
                    cell(r_rel),
                ));
            }
        }
        out
    }
}

/// The mean over runs of each run's mean drop on `curve`; `None` without runs or where the
/// curve was not drawn.
fn mean_auc(done: &[&Curves], curve: impl Fn(&Curves) -> &Vec<f64>) -> Option<f64> {
    let aucs: Vec<f64> = (done.iter())
        .filter(|c| !curve(c).is_empty())
        .map(|c| mean(curve(c)))
        .collect();
    (!aucs.is_empty()).then(|| mean(&aucs))
}

/// A number in a CSV field, or an empty field where it is undefined (a relative value of a
/// zero change, Kendall's τ_b of a ranking that is all ties) or not finite.
fn cell(v: Option<f64>) -> String {
    v.filter(|v| v.is_finite())
        .map(|v| format!("{v:.6e}"))
        .unwrap_or_default()
}

/// The header of `faithfulness.csv`.
pub const SUMMARY_HEADER: &str = "scenario,indicator,step,method,seeds,auc,auc_sd,auc_relative,\
auc_dynamic,auc_dynamic_relative,kendall_top10,kendall_all,top10_overlap,seconds,\
infeasible_seconds,auc_by_magnitude,auc_by_magnitude_relative,auc_resimulated,\
auc_resimulated_relative\n";

/// The header of `deletion.csv`.
pub const DELETION_HEADER: &str = "scenario,indicator,step,method,seed,k,drop,drop_relative,drop_dynamic,drop_dynamic_relative,\
drop_by_magnitude,drop_by_magnitude_relative,drop_resimulated,drop_resimulated_relative\n";

/// The Table 19 analogue: one row per scenario × method.
pub fn markdown(runs: &[Faithfulness], samples: usize, k_max: usize) -> String {
    let mut t = Table::new(&[
        ("scenario", Align::Left),
        ("indicator", Align::Left),
        ("t*", Align::Right),
        ("method", Align::Left),
        ("deletion AUC (relative)", Align::Right),
        ("by |φ|", Align::Right),
        ("dynamic AUC (relative)", Align::Right),
        ("re-simulated AUC (relative)", Align::Right),
        ("τ_b top 10", Align::Right),
        ("τ_b all", Align::Right),
        ("top-10 overlap", Align::Right),
        ("seconds", Align::Right),
    ]);
    for f in runs {
        for s in f.summaries() {
            let rel = |a: f64, c: f64| match c != 0.0 && (a / c).is_finite() {
                true => format!("{:.3}", a / c),
                false => "– (no change)".into(),
            };
            let auc = match (s.auc, s.infeasible) {
                (Some((a, sd)), _) if s.seeds > 1 => {
                    format!("{} ± {:.3}", rel(a, f.change[0]), sd / f.change[0].abs())
                }
                (Some((a, _)), _) => rel(a, f.change[0]),
                (None, Some(secs)) => format!("infeasible (≈ {secs:.0} s)"),
                (None, None) => "–".into(),
            };
            let agree = |j: usize| match s.agreement.map(|a| a[j]) {
                Some(v) if v.is_finite() => format!("{v:.2}"),
                _ => "–".into(),
            };
            t.row([
                f.scenario.clone(),
                f.which.name().to_string(),
                f.step.to_string(),
                s.method.name().to_string(),
                auc,
                s.auc_by_magnitude
                    .map_or("–".into(), |a| rel(a, f.change[0])),
                s.auc_dynamic.map_or("–".into(), |a| rel(a, f.change[1])),
                match (s.auc_resimulated, f.resimulated_risk) {
                    (Some(a), Some(c)) => rel(a, c),
                    _ => "–".into(),
                },
                agree(0),
                agree(1),
                agree(2),
                format!("{:.3}", s.seconds),
            ]);
        }
    }
    format!(
        "# Faithfulness\n\nDeletion: the top-k agents by signed φ at t* set to their baseline \
         action, k = 1..{k_max}; AUC = mean drop of V over k, relative to V(x) − V(b) at t* \
         (a perfect first pick of a risk-carrying agent scores high; a random ranking about \
         k̄/n); by |φ|: the same deleting the agents of largest |φ| first, whatever the sign \
         (the paper's ranking). Dynamic: the same drop of the rollout risk, H smoothed steps after t*. \
         Re-simulated: the society simulated again from t* with the top-k agents held at their \
         baseline action, the static risk read H steps later, mean over replicates sharing \
         their draws, relative to that risk with nobody held. \
         Agreement: against sampled Shapley's first seed ({samples} permutations); seeded \
         rows are means over seeds (± their standard deviation).\n\n{t}\n{}",
        agreement_md(runs)
    )
}

/// Where the path integral agrees with sampled Shapley and where it does not: τ_b over all
/// agents and the top-10 overlap both at least 0.8 (the paper's bar), per scenario and
/// indicator.
fn agreement_md(runs: &[Faithfulness]) -> String {
    let mut out = String::new();
    for f in runs {
        let summaries = f.summaries();
        let path = summaries.iter().find(|s| s.method == FaithMethod::AsPath);
        let shapley = summaries
            .iter()
            .find(|s| s.method == FaithMethod::ShapleySampled);
        let what = format!("- {} ({} risk):", f.scenario, f.which.name());
        let line = match (path.and_then(|s| s.agreement), shapley) {
            (Some([_, all, overlap]), _) => {
                let verdict = match all >= 0.8 && overlap >= 0.8 {
                    true => "agrees with",
                    false => "does not agree with",
                };
                format!(
                    "{what} the path integral {verdict} sampled Shapley (τ_b {all:.2} over all \
                     agents, {:.0} of its top 10)",
                    10.0 * overlap
                )
            }
            (None, Some(s)) if s.infeasible.is_some() => {
                format!("{what} sampled Shapley did not run within the budget: no comparison")
            }
            _ => format!("{what} not compared with sampled Shapley"),
        };
        out += &line;
        out += &resimulated_md(f, &summaries);
        out.push('\n');
    }
    out
}

/// `; re-simulated, …`: the share of the risk `H` steps later that each method's ranking
/// removes when the society is simulated again (empty where it was not).
fn resimulated_md(f: &Faithfulness, summaries: &[Summary]) -> String {
    let Some(risk) = f.resimulated_risk.filter(|r| *r != 0.0) else {
        return String::new();
    };
    let parts: Vec<String> = (summaries.iter())
        .filter_map(|s| {
            Some(format!(
                "{} {:.2}",
                s.method.name(),
                s.auc_resimulated? / risk
            ))
        })
        .collect();
    format!(
        "; re-simulated with the top-k held, the share of the risk H steps later removed \
         (mean over k): {}",
        parts.join(", ")
    )
}

fn mean(v: &[f64]) -> f64 {
    if v.is_empty() {
        0.0
    } else {
        v.iter().sum::<f64>() / v.len() as f64
    }
}

fn sd(v: &[f64]) -> f64 {
    if v.len() < 2 {
        return 0.0;
    }
    let m = mean(v);
    (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (v.len() - 1) as f64).sqrt()
}

/// The deletion curves of `f` (relative drop against k, one line per method, means over
/// seeds; the attributed indicator, the rollout risk and, where run, the re-simulated society)
/// as PNG bytes.
///
/// # Errors
/// [`RenderError`] if drawing fails.
pub fn render_png(f: &Faithfulness) -> Result<Vec<u8>> {
    aumann_report::heatmap::register_font();
    let panels = 2 + u32::from(f.resimulated_risk.is_some());
    let (w, h) = (600 * panels, 520u32);
    let mut rgb = vec![255u8; (w * h * 3) as usize];
    draw(f, &mut rgb, (w, h)).map_err(|e| RenderError {
        what: "deletion curves".into(),
        reason: format!("drawing failed: {e}"),
    })?;
    Ok(aumann_report::heatmap::encode_png(&rgb, w, h)?)
}

/// A panel of the deletion picture.
#[derive(Clone, Copy, PartialEq)]
enum Panel {
    Deletion,
    Dynamic,
    Resimulated,
}

/// Mean relative curves per method on `panel`: `(method, [k → drop / change])`.
fn mean_curves(f: &Faithfulness, panel: Panel) -> Vec<(FaithMethod, Vec<f64>)> {
    let change = match panel {
        Panel::Deletion => f.change[0],
        Panel::Dynamic => f.change[1],
        Panel::Resimulated => f.resimulated_risk.unwrap_or(f64::NAN),
    };
    let mut out: Vec<(FaithMethod, Vec<Vec<f64>>)> = Vec::new();
    for o in &f.outcomes {
        let Ranked::Done(c) = &o.result else { continue };
        let curve = match panel {
            Panel::Deletion => &c.deletion,
            Panel::Dynamic => &c.dynamic,
            Panel::Resimulated => &c.resimulated,
        };
        let rel: Vec<f64> = curve.iter().map(|d| d / change).collect();
        match out.iter_mut().find(|(m, _)| *m == o.method) {
            Some((_, curves)) => curves.push(rel),
            None => out.push((o.method, vec![rel])),
        }
    }
    out.into_iter()
        .map(|(m, curves)| {
            let k = curves[0].len();
            let mean = (0..k)
                .map(|j| curves.iter().map(|c| c[j]).sum::<f64>() / curves.len() as f64)
                .collect();
            (m, mean)
        })
        .collect()
}

fn draw(
    f: &Faithfulness,
    rgb: &mut [u8],
    size: (u32, u32),
) -> std::result::Result<(), Box<dyn std::error::Error>> {
    let root = BitMapBackend::with_buffer(rgb, size).into_drawing_area();
    root.fill(&WHITE)?;
    let mut titles = vec![
        (
            Panel::Deletion,
            format!("{}: {} risk at t* = {}", f.scenario, f.which.name(), f.step),
        ),
        (
            Panel::Dynamic,
            format!("{}: rollout risk H steps after t*", f.scenario),
        ),
    ];
    if f.resimulated_risk.is_some() {
        let title = format!("{}: re-simulated, risk H steps after t*", f.scenario);
        titles.push((Panel::Resimulated, title));
    }
    let panels = root.split_evenly((1, titles.len()));
    for (area, (panel, title)) in panels.iter().zip(&titles) {
        let curves = mean_curves(f, *panel);
        let k = curves.first().map_or(1, |c| c.1.len());
        let (lo, hi) = curves
            .iter()
            .flat_map(|c| c.1.iter())
            .fold((0.0f64, 0.0f64), |(lo, hi), &v| (lo.min(v), hi.max(v)));
        let pad = 0.05 * (hi - lo).max(1e-12);
        let mut chart = ChartBuilder::on(area)
            .caption(title, ("sans-serif", 20))
            .margin(14)
            .x_label_area_size(45)
            .y_label_area_size(70)
            .build_cartesian_2d(0.5f64..k as f64 + 0.5, lo - pad..hi + pad)?;
        chart
            .configure_mesh()
            .x_labels(k.min(20))
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_label_formatter(&|y| format!("{:.2}", y + 0.0))
            .x_desc("k: agents set to their baseline action, top-ranked first")
            .y_desc(match panel {
                Panel::Resimulated => "drop of V / V with nobody held",
                _ => "drop of V / (V(x) − V(b))",
            })
            .axis_desc_style(("sans-serif", 15))
            .label_style(("sans-serif", 13))
            .draw()?;
        for (j, (method, curve)) in curves.iter().enumerate() {
            let colour = Palette99::pick(j).to_rgba();
            let points: Vec<(f64, f64)> = curve
                .iter()
                .enumerate()
                .map(|(i, &v)| ((i + 1) as f64, v))
                .collect();
            chart
                .draw_series(LineSeries::new(points.clone(), colour.stroke_width(2)))?
                .label(method.name())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(2))
                });
            chart.draw_series(
                points
                    .into_iter()
                    .map(|p| Circle::new(p, 3, colour.filled())),
            )?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font(("sans-serif", 14))
            .draw()?;
    }
    root.present()?;
    Ok(())
}
