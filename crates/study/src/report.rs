//! The study's output folder: aggregated CSVs (a stable column contract), heatmaps, a
//! markdown report and `run.json`.
//!
//! ```text
//! findings.csv   finding,protocol,indicator,size,statistic,ci_lo,ci_hi,unit,test,verdict,
//!                reason: every finding with its test and verdict ([`super::findings`])
//! shares.csv     topic,indicator,protocol,size,draws,kept,top_mean,top_std,top_ci_lo,
//!                top_ci_hi,mid_…,tail_…(the same four),top_agents_mean,delta_top,
//!                delta_top_ci_lo,delta_top_ci_hi,composition,composition_ci_lo,
//!                composition_ci_hi,reattribution,reattribution_ci_lo,reattribution_ci_hi,
//!                reason
//! anchors.csv    topic,indicator,protocol,size,anchor,draws,kept,top_…,mid_…,tail_… (four each),
//!                delta_top,delta_top_ci_lo,delta_top_ci_hi,reason
//! residuals.csv  topic,indicator,protocol,size,draws,kept,c_star_mean,residual_mean,
//!                residual_std,spearman_mean,c_star_std,residual_max,spearman_std,reason
//! jaccard.csv    topic,indicator,protocol,size,k,draws,kept,jaccard_mean,jaccard_std,
//!                jaccard_ci_lo,jaccard_ci_hi,reason
//! daily.csv      topic,indicator,day,label,total,top,mid,tail,peak,reason
//! positive_mass.csv  topic,indicator,protocol,size,draws,kept,top_…,mid_…,tail_… (four each),
//!                reason: tier shares of the positive attribution mass alone
//! daily_small.csv    topic,indicator,protocol,size,day,label,draws,kept,top_…,mid_…,tail_…
//!                (four each),reason: per-day tier shares of the small panels
//! daily_<topic>.png  top-tier share per day: the full panel and each protocol's smallest
//!                panels (95 % bands); scale_<topic>.png: Δ_top against s per protocol
//! heatmap_<topic>.png / .csv   bin,top_percent_from,top_percent_to,<one column per day>
//! report.md, run.json, per_agent/ (only when asked for)
//! ```
//!
//! The full panel is protocol `full` with `size` = n. `draws` counts the draws made, `kept`
//! those whose shares are defined (a drawn panel with no macro change has none), and every
//! statistic is over the kept draws: `_mean`, `_std`, and a 95 % bootstrap interval `_ci_lo`,
//! `_ci_hi` of the mean. A value that does not exist is an empty field, never `NaN`, and
//! `reason` says why. `composition + reattribution = delta_top`: Δ_top split into who is in
//! the small panel (the full panel's own attributions within it) and what the indicator does
//! on the small population (SPEC §12); the three means are written at full precision, so
//! they add up to rounding (their intervals too, so each mean lies inside its own). Every file is written under a
//! temporary name and renamed into place. Nothing per agent is written unless asked for.

use std::fmt::Write as _;
use std::fs;
use std::path::Path;

use serde_json::json;

use super::findings::{Claim, Finding};
use super::tiers::TIER_NAMES;
use super::{Cell, Protocol, Stat, StudyIndicator, StudyResults};
use crate::error::Result;
use aumann_engine::Error as EngineError;
use aumann_engine::array::Values;
use aumann_engine::npy;
use aumann_engine::output::write_atomic;
use aumann_panel::Panel;
use aumann_report::csv_table::CsvTable;
use aumann_report::heatmap::{HeatmapSpec, render_png};
use aumann_report::markdown::{Align, Table};

/// How the study was invoked, for `run.json` and the report.
#[derive(Clone, Debug, Default)]
pub struct RunInfo {
    /// The command line.
    pub command: String,
    /// Seconds spent making or loading the panel.
    pub panel_seconds: f64,
    /// Where the panel came from (a folder, or the generator's parameters).
    pub panel_origin: String,
    /// A generator sweep whose verdicts the report gives beside its own findings.
    pub sweep: Option<SweepVerdicts>,
}

/// A generator sweep's verdicts ([`super::sweep::Survival`]) and where they were read.
#[derive(Clone, Debug, PartialEq)]
pub struct SweepVerdicts {
    /// The file read.
    pub origin: String,
    /// Which finding holds in which setting.
    pub survival: super::sweep::Survival,
}

/// Write every output of `results` on `panel` into `dir` (created if needed).
///
/// # Errors
/// [`EngineError::Io`] naming the file that could not be written.
pub fn write(dir: &Path, panel: &Panel, results: &StudyResults, info: &RunInfo) -> Result<()> {
    fs::create_dir_all(dir).map_err(|source| EngineError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let topics = &panel.manifest.topics;
    let text = |name: &str, body: String| {
        write_atomic(&dir.join(name), |p| {
            fs::write(p, body).map_err(|source| EngineError::Io {
                path: p.to_path_buf(),
                source,
            })
        })
    };
    let findings = super::findings::findings(results);
    text("findings.csv", super::findings::csv(&findings))?;
    text("shares.csv", shares_csv(results, topics))?;
    text("anchors.csv", anchors_csv(results, topics))?;
    text("residuals.csv", residuals_csv(results, topics))?;
    text("jaccard.csv", jaccard_csv(results, topics))?;
    text("daily.csv", daily_csv(results, panel))?;
    text("positive_mass.csv", positive_mass_csv(results, topics))?;
    text("daily_small.csv", daily_small_csv(results, panel))?;
    let ind = results.config.heatmap_indicator.label();
    let png_file = |name: String, png: Vec<u8>| {
        write_atomic(&dir.join(name), |p| {
            fs::write(p, &png).map_err(|source| EngineError::Io {
                path: p.to_path_buf(),
                source,
            })
        })
    };
    for (k, topic) in topics.iter().enumerate() {
        if let Some(png) = super::figures::daily_png(results, panel, k)? {
            png_file(format!("daily_{topic}.png"), png)?;
        }
        if let Some(png) = super::figures::scale_png(results, panel, k)? {
            png_file(format!("scale_{topic}.png"), png)?;
        }
    }
    for (k, topic) in topics.iter().enumerate() {
        let mass = &results.heatmaps[k];
        text(&format!("heatmap_{topic}.csv"), heatmap_csv(mass, panel))?;
        let png = render_png(&HeatmapSpec {
            title: &format!("{topic}: attribution mass by follower percentile and day ({ind})"),
            mass,
            day_labels: &panel.manifest.day_labels,
        })?;
        write_atomic(&dir.join(format!("heatmap_{topic}.png")), |p| {
            fs::write(p, &png).map_err(|source| EngineError::Io {
                path: p.to_path_buf(),
                source,
            })
        })?;
    }
    if !results.per_agent.is_empty() {
        let sub = dir.join("per_agent");
        fs::create_dir_all(&sub).map_err(|source| EngineError::Io {
            path: sub.clone(),
            source,
        })?;
        let n = panel.agents();
        let mut it = results.per_agent.iter();
        for topic in topics {
            for indicator in &results.config.indicators {
                let phi = it.next().expect("one per topic and indicator");
                let path = sub.join(format!("{topic}_{}.npy", indicator.label()));
                write_atomic(&path, |p| npy::write(p, &[n], &Values::F64(phi.clone())))?;
            }
        }
    }
    let calibration = super::calibration::of(panel);
    text(
        "report.md",
        report_md(results, panel, info, &calibration, &findings),
    )?;
    text(
        "run.json",
        serde_json::to_string_pretty(&run_json(results, panel, info, &calibration)).expect("json")
            + "\n",
    )?;
    Ok(())
}

/// A number for a CSV: plain decimals in the usual range, exponent form otherwise; empty for
/// a value that is not finite (a row's `reason` says why).
fn num(v: f64) -> String {
    if !v.is_finite() {
        String::new()
    } else if v == 0.0 {
        "0".into()
    } else if (1e-4..1e7).contains(&v.abs()) {
        let s = format!("{v:.8}");
        let s = s.trim_end_matches('0');
        s.trim_end_matches('.').to_string()
    } else {
        format!("{v:.8e}")
    }
}

/// `ci_lo,ci_hi`, empty without an interval.
fn ci_cells(ci: Option<[f64; 2]>) -> [String; 2] {
    ci.map_or(Default::default(), |ci| ci.map(num))
}

/// `mean,std,ci_lo,ci_hi`, empty where undefined.
fn stat_cells(s: Option<Stat>) -> [String; 4] {
    match s {
        Some(s) => {
            let [lo, hi] = ci_cells(s.ci);
            [num(s.mean), num(s.std), lo, hi]
        }
        None => Default::default(),
    }
}

/// The statistics of the three tiers, `tier(g)` for tier `g`: twelve cells.
fn tier_cells(tier: impl Fn(usize) -> Option<Stat>) -> impl Iterator<Item = String> {
    (0..3).flat_map(move |g| stat_cells(tier(g)))
}

/// The header of [`stat_cells`] for each of `names`.
fn stat_header(names: &[&str]) -> Vec<String> {
    (names.iter())
        .flat_map(|n| ["mean", "std", "ci_lo", "ci_hi"].map(|s| format!("{n}_{s}")))
        .collect()
}

/// A header: `before`, the statistics of `stats`, then `after`.
fn csv_header(before: &[&str], stats: &[&str], after: &[&str]) -> CsvTable {
    let names = (before.iter().map(|s| s.to_string()))
        .chain(stat_header(stats))
        .chain(after.iter().map(|s| s.to_string()));
    CsvTable::new(names)
}

/// The columns every cell row starts with.
const KEY: [&str; 4] = ["topic", "indicator", "protocol", "size"];

/// The tiers, in the order of their columns.
const TIERS: [&str; 3] = ["top", "mid", "tail"];

/// Why a cell's statistics are empty or have no interval (empty when they are complete).
fn cell_reason(c: &Cell) -> &'static str {
    if c.draws == 0 {
        return "not drawn: the protocol's pool is empty (no agent active on the topic)";
    }
    match c.runs.len() {
        0 if c.protocol == Protocol::Full => {
            "V(x) = V(0) on every day of the full panel: no share exists"
        }
        0 => "no kept draw: V(x) = V(0) on every day of every drawn panel so no share exists",
        1 if c.draws > 1 => "one kept draw: no interval",
        _ => "",
    }
}

/// `topic,indicator,protocol,size` of a cell.
fn key(c: &Cell, topics: &[String]) -> [String; 4] {
    [
        topics[c.topic].clone(),
        c.indicator.label().into(),
        c.protocol.name().into(),
        c.size.to_string(),
    ]
}

fn full_cell<'a>(
    results: &'a StudyResults,
    topic: usize,
    indicator: &StudyIndicator,
) -> Option<&'a Cell> {
    results.cell(topic, indicator, Protocol::Full, None)
}

/// `mean,ci_lo,ci_hi` of Δ_top or one of its parts at full precision, so that the parts add
/// up to Δ_top and each mean stays inside its interval; empty where undefined.
fn delta_cells(d: Option<Stat>) -> [String; 3] {
    match d {
        Some(d) => {
            let [lo, hi] = d.ci.map_or(Default::default(), |ci| ci.map(exact));
            [exact(d.mean), lo, hi]
        }
        None => Default::default(),
    }
}

const DELTA: [&str; 3] = ["delta_top", "delta_top_ci_lo", "delta_top_ci_hi"];

/// The columns of Δ_top's two parts.
const PARTS: [&str; 6] = [
    "composition",
    "composition_ci_lo",
    "composition_ci_hi",
    "reattribution",
    "reattribution_ci_lo",
    "reattribution_ci_hi",
];

/// A mean that other columns add up to: every digit (the shortest text that reads back as
/// the same `f64`).
fn exact(v: f64) -> String {
    if v.is_finite() {
        v.to_string()
    } else {
        String::new()
    }
}

fn shares_csv(results: &StudyResults, topics: &[String]) -> String {
    let before = [&KEY[..], &["draws", "kept"]].concat();
    let after = [&["top_agents_mean"][..], &DELTA, &PARTS, &["reason"]].concat();
    let mut t = csv_header(&before, &TIERS, &after);
    for c in &results.cells {
        let agents = c
            .stat(|r| r.top_agents as f64)
            .map(|s| num(s.mean))
            .unwrap_or_default();
        let parts = results
            .decomposition(c)
            .map_or([None, None], |p| p.map(Some));
        t.row(
            (key(c, topics).into_iter())
                .chain([c.draws.to_string(), c.runs.len().to_string()])
                .chain(tier_cells(|g| c.share(0, g)))
                .chain([agents])
                .chain(delta_cells(results.delta_top(c, 0)))
                .chain(parts.into_iter().flat_map(delta_cells))
                .chain([cell_reason(c).to_string()]),
        );
    }
    t.finish()
}

fn anchors_csv(results: &StudyResults, topics: &[String]) -> String {
    let before = [&KEY[..], &["anchor", "draws", "kept"]].concat();
    let mut t = csv_header(&before, &TIERS, &[&DELTA[..], &["reason"]].concat());
    for c in &results.cells {
        for (a, anchor) in results.anchors.iter().enumerate() {
            t.row(
                (key(c, topics).into_iter())
                    .chain([anchor.to_string(), c.draws.to_string()])
                    .chain([c.runs.len().to_string()])
                    .chain(tier_cells(|g| c.share(a, g)))
                    .chain(delta_cells(results.delta_top(c, a)))
                    .chain([cell_reason(c).to_string()]),
            );
        }
    }
    t.finish()
}

/// Per-day tier shares of the small panels (followers anchor), over the draws where the day
/// has a macro change.
fn daily_small_csv(results: &StudyResults, panel: &Panel) -> String {
    let topics = &panel.manifest.topics;
    let before = [&KEY[..], &["day", "label", "draws", "kept"]].concat();
    let mut t = csv_header(&before, &TIERS, &["reason"]);
    let small = results
        .cells
        .iter()
        .filter(|c| c.protocol != Protocol::Full);
    for c in small {
        for (day, label) in panel.manifest.day_labels.iter().enumerate() {
            let on_day = |r: &super::RunMetrics| r.daily.get(day).copied().flatten();
            let kept = c.runs.iter().filter(|r| on_day(r).is_some()).count();
            let reason = match kept {
                0 if c.draws > 0 => "no kept draw has a macro change that day",
                _ => cell_reason(c),
            };
            t.row(
                (key(c, topics).into_iter())
                    .chain([day.to_string(), label.clone(), c.draws.to_string()])
                    .chain([kept.to_string()])
                    .chain(tier_cells(|g| c.stat_defined(|r| on_day(r).map(|s| s[g]))))
                    .chain([reason.to_string()]),
            );
        }
    }
    t.finish()
}

/// Tier shares of the positive attribution mass (followers anchor).
fn positive_mass_csv(results: &StudyResults, topics: &[String]) -> String {
    let before = [&KEY[..], &["draws", "kept"]].concat();
    let mut t = csv_header(&before, &TIERS, &["reason"]);
    for c in &results.cells {
        let kept = (c.runs.iter())
            .filter(|r| r.positive_shares.is_some())
            .count();
        let reason = match kept {
            0 if !c.runs.is_empty() => "no agent has a positive attribution",
            _ => cell_reason(c),
        };
        t.row(
            (key(c, topics).into_iter())
                .chain([c.draws.to_string(), kept.to_string()])
                .chain(tier_cells(|g| {
                    c.stat_defined(|r| r.positive_shares.map(|s| s[g]))
                }))
                .chain([reason.to_string()]),
        );
    }
    t.finish()
}

fn residuals_csv(results: &StudyResults, topics: &[String]) -> String {
    let after = [
        "draws",
        "kept",
        "c_star_mean",
        "residual_mean",
        "residual_std",
        "spearman_mean",
        "c_star_std",
        "residual_max",
        "spearman_std",
        "reason",
    ];
    let mut t = csv_header(&KEY, &[], &after);
    for c in &results.cells {
        let c_star = c.stat(|r| r.c_star);
        let res = c.stat(|r| r.residual);
        let sp = c.stat_defined(|r| r.spearman);
        let max = c.runs.iter().map(|r| r.residual).reduce(f64::max);
        let opt = |s: Option<f64>| s.map(num).unwrap_or_default();
        let reason = match cell_reason(c) {
            "" if sp.is_none() => "Spearman undefined: a ranking is constant on every kept draw",
            r => r,
        };
        t.row(key(c, topics).into_iter().chain([
            c.draws.to_string(),
            c.runs.len().to_string(),
            opt(c_star.map(|s| s.mean)),
            opt(res.map(|s| s.mean)),
            opt(res.map(|s| s.std)),
            opt(sp.map(|s| s.mean)),
            opt(c_star.map(|s| s.std)),
            opt(max),
            opt(sp.map(|s| s.std)),
            reason.to_string(),
        ]));
    }
    t.finish()
}

fn jaccard_csv(results: &StudyResults, topics: &[String]) -> String {
    let before = [&KEY[..], &["k", "draws", "kept"]].concat();
    let mut t = csv_header(&before, &["jaccard"], &["reason"]);
    for c in &results.cells {
        for (j, k) in results.config.top_k.iter().enumerate() {
            if *k >= c.size {
                continue;
            }
            let defined = c.runs.iter().filter(|r| r.jaccard[j].is_some()).count();
            let reason = match defined {
                0 if c.draws > 0 => "no kept draw",
                1 => "one kept draw: no interval",
                _ => cell_reason(c),
            };
            t.row(
                (key(c, topics).into_iter())
                    .chain([k.to_string(), c.draws.to_string(), defined.to_string()])
                    .chain(stat_cells(c.jaccard(j)))
                    .chain([reason.to_string()]),
            );
        }
    }
    t.finish()
}

fn daily_csv(results: &StudyResults, panel: &Panel) -> String {
    let mut t = CsvTable::new([
        "topic",
        "indicator",
        "day",
        "label",
        "total",
        "top",
        "mid",
        "tail",
        "peak",
        "reason",
    ]);
    for d in &results.days {
        let (shares, reason) = match d.shares {
            Some(s) => (s.map(num), ""),
            None => (
                Default::default(),
                "V(x_t) = V(0): no change that day to share",
            ),
        };
        t.row(
            [
                panel.manifest.topics[d.topic].clone(),
                d.indicator.label().into(),
                d.day.to_string(),
                panel.manifest.day_labels[d.day].clone(),
                num(d.total),
            ]
            .into_iter()
            .chain(shares)
            .chain([u8::from(d.peak).to_string(), reason.to_string()]),
        );
    }
    t.finish()
}

fn heatmap_csv(mass: &[Vec<f64>], panel: &Panel) -> String {
    let bins = mass.len();
    let labels = panel.manifest.day_labels.iter().cloned();
    let mut t = CsvTable::new(
        ["bin", "top_percent_from", "top_percent_to"]
            .map(String::from)
            .into_iter()
            .chain(labels),
    );
    for (b, row) in mass.iter().enumerate() {
        t.row(
            [
                b.to_string(),
                num(100.0 * b as f64 / bins as f64),
                num(100.0 * (b + 1) as f64 / bins as f64),
            ]
            .into_iter()
            .chain(row.iter().map(|v| num(*v))),
        );
    }
    t.finish()
}

/// `12.3 ± 0.4` in percent.
fn pct(s: Option<Stat>, with_std: bool) -> String {
    match s {
        Some(s) if with_std => format!("{:.1} ± {:.1}", 100.0 * s.mean, 100.0 * s.std),
        Some(s) => format!("{:.1}", 100.0 * s.mean),
        None => "–".into(),
    }
}

/// `report.md`: the header, then one section per finding.
fn report_md(
    results: &StudyResults,
    panel: &Panel,
    info: &RunInfo,
    calibration: &super::calibration::Calibration,
    findings: &[Finding],
) -> String {
    let sizes = results.config.small_sizes(panel.agents());
    let mut out = header(results, panel, &sizes);
    out += &calibration_md(calibration);
    out += &degenerate_md(results, panel);
    let Some(&s0) = sizes.first() else {
        out += "No size is smaller than the panel: only the full panel was run.\n";
        return out;
    };
    let r = Report {
        results,
        panel,
        sizes: &sizes,
        s0,
        findings,
    };
    out += &r.findings_md();
    out += &r.survival_md(info.sweep.as_ref());
    out += &r.flip();
    out += &r.residuals();
    out += &r.dose_response();
    out += &r.scale_curve();
    out += &r.peak_days();
    out += &r.top_k_recovery();
    out += &r.anchors();
    let _ = writeln!(
        out,
        "\n## Files\n\n`findings.csv` (every finding: statistic, interval, test, verdict), \
         `shares.csv` (tier shares per topic × indicator × protocol × size), \
         `anchors.csv` (the same under the {} anchors), `residuals.csv` (the scaling-bias \
         test), `jaccard.csv` (top-k recovery), `daily.csv` (per-day tier shares at full \
         scale), `heatmap_<topic>.png` and `.csv`, `run.json` (every parameter, seed and \
         timing). Made by `{}`.",
        results.anchors.join(", "),
        info.command
    );
    out
}

/// A finding's statistic with its interval, in its unit.
fn statistic(f: &Finding) -> String {
    let Some(v) = f.statistic else {
        return "–".into();
    };
    let text = |v: f64| match f.unit {
        "residual" => format!("{v:.2e}"),
        _ => format!("{v:+.2}"),
    };
    let unit = if f.unit == "pp" { " pp" } else { "" };
    match f.interval {
        Some([lo, hi]) => format!("{} [{}, {}]{unit}", text(v), text(lo), text(hi)),
        None => format!("{}{unit}", text(v)),
    }
}

/// What the panel is: ingested from events, or synthetic with its generator's couplings.
fn panel_kind(m: &aumann_panel::Manifest) -> String {
    if m.ingest.is_some() {
        return "The panel is ingested from real events (its manifest, in the panel folder, \
                says from which)."
            .into();
    }
    let couplings = m.generator.map_or(String::new(), |c| {
        format!(
            " (couplings: follower σ {}, participation {}, posting {}, replies {}, crowd {}, \
             event strength {})",
            c.follower_sigma, c.participation, c.posting, c.replies, c.crowd, c.event_strength
        )
    });
    format!(
        "The panel is synthetic{couplings}: its generator ties engagement to followers by \
         design, so what the findings say about the top tier partly restates the generator \
         (`aumann study sweep` reruns them on other generator settings)."
    )
}

/// The title and the paragraphs that say what was run.
fn header(results: &StudyResults, panel: &Panel, sizes: &[usize]) -> String {
    let cfg = &results.config;
    let m = &panel.manifest;
    let list = |v: Vec<String>| v.join(", ");
    let mut out = String::from("# Cross-scale attribution study\n\n");
    let _ = writeln!(
        out,
        "Panel: {} agents, {} days ({} to {}), topics {}; source: {}{}.",
        panel.agents(),
        m.days,
        m.day_labels[0],
        m.day_labels[m.days - 1],
        m.topics.join(", "),
        m.source,
        m.seed.map(|s| format!(", seed {s}")).unwrap_or_default()
    );
    let _ = writeln!(out, "{}", panel_kind(m));
    let _ = writeln!(
        out,
        "Indicators: {}; zero baseline; {}, summed over days. Tiers by followers: top {:.0} %, \
         next {:.0} %, tail. Small panels: {} with s = {}, {} draws each (seed {}).\n",
        list(
            cfg.indicators
                .iter()
                .map(|i| i.label().to_string())
                .collect()
        ),
        attribution_md(cfg),
        100.0 * cfg.tiers.0,
        100.0 * cfg.tiers.1,
        list(cfg.protocols.iter().map(|p| p.name().to_string()).collect()),
        list(sizes.iter().map(usize::to_string).collect()),
        cfg.seeds,
        cfg.seed
    );
    out
}

/// The labels of the indicators attributed (the studied ones and the heatmaps'), those with
/// a closed form first, the others second.
fn by_method(cfg: &super::StudyConfig) -> [Vec<&str>; 2] {
    let mut out = [Vec::new(), Vec::new()];
    let heatmap = std::iter::once(&cfg.heatmap_indicator).filter(|h| !cfg.indicators.contains(h));
    for i in cfg.indicators.iter().chain(heatmap) {
        out[usize::from(i.exact().is_none())].push(i.label());
    }
    out
}

/// How the report's header says the attributions were made.
fn attribution_md(cfg: &super::StudyConfig) -> String {
    let path = |labels: &[&str]| {
        format!(
            "by the path integral ({}: Gauss–Legendre, {} nodes, f64)",
            labels.join(", "),
            super::indicator::PATH_POINTS
        )
    };
    match by_method(cfg) {
        [_, path_labels] if path_labels.is_empty() => {
            "exact Aumann–Shapley attributions (closed forms)".into()
        }
        [exact, path_labels] if exact.is_empty() => {
            format!("Aumann–Shapley attributions {}", path(&path_labels))
        }
        [exact, path_labels] => format!(
            "Aumann–Shapley attributions by exact closed forms ({}) and {}",
            exact.join(", "),
            path(&path_labels)
        ),
    }
}

/// How `run.json` says the attributions were made.
fn attribution_json(cfg: &super::StudyConfig) -> String {
    match by_method(cfg) {
        [_, path] if path.is_empty() => "exact closed forms, f64".into(),
        [exact, path] => format!(
            "exact closed forms ({}); Gauss–Legendre path integral, {} nodes ({}); f64",
            exact.join(", "),
            super::indicator::PATH_POINTS,
            path.join(", ")
        ),
    }
}

/// The panel's calibration figures.
fn calibration_md(c: &super::calibration::Calibration) -> String {
    let mut out = String::from(
        "## The panel\n\nWhat a study on this panel can show depends on it: the follower \
         distribution sets the tiers, the active agents carry the topic signal, and the \
         concentration of replies on the top accounts decides how much resonance the top tier \
         can own.\n\n",
    );
    let q: Vec<String> = (c.follower_quantiles.iter())
        .map(|(q, f)| format!("{q} %: {f}"))
        .collect();
    let _ = writeln!(
        out,
        "Followers by quantile: {}; {:.2} % of agents above 95, {:.3} % above 1 000.\n",
        q.join(", "),
        100.0 * c.above_95,
        100.0 * c.above_1000
    );
    let mut t = table(&[
        "topic".into(),
        "active agents".into(),
        "active %".into(),
        "replies received".into(),
        "to the top 1 % by followers".into(),
    ]);
    for k in &c.topics {
        t.row(vec![
            k.topic.clone(),
            k.active.to_string(),
            format!("{:.2}", 100.0 * k.active_share),
            format!("{:.0}", k.replies),
            k.replies_top1
                .map_or("–".into(), |s| format!("{:.1} %", 100.0 * s)),
        ]);
    }
    let _ = writeln!(out, "{t}");
    out
}

/// What in the input is degenerate, if anything.
fn degenerate_md(results: &StudyResults, panel: &Panel) -> String {
    if results.degenerate.is_empty() {
        return String::new();
    }
    let mut out = String::from(
        "## Degenerate input\n\nThese parts of the input make some results other than they \
         would be on a well-formed panel; the affected cells say so in their `reason`.\n\n",
    );
    for (topic, what) in &results.degenerate {
        let scope = topic.map_or("panel".to_string(), |k| panel.manifest.topics[k].clone());
        let _ = writeln!(out, "- {scope}: {what}");
    }
    out + "\n"
}

/// A table whose columns are all left-aligned.
fn table(columns: &[String]) -> Table {
    let columns: Vec<(&str, Align)> = columns.iter().map(|c| (c.as_str(), Align::Left)).collect();
    Table::new(&columns)
}

/// `1.23e-4`, or `–` for none.
fn sci(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.2e}")).unwrap_or("–".into())
}

/// `+1.2` percentage points, or `–` for none.
fn pp(v: Option<f64>) -> String {
    v.map(|d| format!("{:+.1}", 100.0 * d))
        .unwrap_or("–".into())
}

/// What every section of the report reads.
struct Report<'a> {
    results: &'a StudyResults,
    panel: &'a Panel,
    sizes: &'a [usize],
    /// The smallest small-panel size.
    s0: usize,
    /// What the tests decided.
    findings: &'a [Finding],
}

impl Report<'_> {
    /// The findings at `s₀` (and those of no size): each with its statistic, interval and
    /// verdict, as `findings.csv` has them.
    fn findings_md(&self) -> String {
        let margin = 100.0 * self.results.config.margin;
        let mut out = format!(
            "## Findings\n\nEach finding is decided by a test on the numbers: **holds** (they \
             show it), **does not hold** (they show the opposite), **undecided** (they cannot \
             tell, and the row says why). A flip is a finding only if Δ_top's 95 % interval \
             (over the draws of every topic) lies beyond the margin of ±{margin:.2} pp; the \
             random control holds only by equivalence, its interval inside the margin. Rows at \
             s = {}; `findings.csv` has every size.\n\n",
            self.s0
        );
        let columns = [
            "finding",
            "indicator",
            "s",
            "statistic [95 % CI]",
            "verdict",
            "why",
        ];
        let mut t = table(&columns.map(String::from));
        for f in self.at_s0() {
            t.row(vec![
                f.claim.name(),
                (f.indicator.as_ref()).map_or("–".into(), |i| i.label().into()),
                f.size.map_or("–".into(), |s| s.to_string()),
                statistic(f),
                f.verdict.label().into(),
                f.reason.clone(),
            ]);
        }
        out += &format!("{t}\n");
        out
    }

    /// Which of the report's findings survive which generator settings, from a sweep if one
    /// was given.
    fn survival_md(&self, sweep: Option<&SweepVerdicts>) -> String {
        let Some(sweep) = sweep else {
            return "No generator sweep was given: whether these findings survive other \
                    generator settings (a null generator, reach uninformative of the tier, \
                    standardised features) is not tested here.\n\n"
                .into();
        };
        let names: Vec<String> = self.at_s0().map(super::sweep::row_name).collect();
        let lines = sweep.survival.lines(Some(&names));
        let lines = match lines.is_empty() {
            true => "- none of this report's findings is in the sweep\n".into(),
            false => lines,
        };
        format!(
            "## Which findings survive the generator sweep\n\nThe verdicts of the sweep in \
             `{}` (each setting's studies pooled over its panel seeds, read at the sweep's \
             smallest size), for the findings above:\n\n{lines}\n",
            sweep.origin
        )
    }

    /// The findings of no size or of size `s₀`.
    fn at_s0(&self) -> impl Iterator<Item = &Finding> {
        (self.findings.iter()).filter(|f| f.size.is_none_or(|s| s == self.s0))
    }

    /// `holds for a, b; does not hold for c`: the verdicts of `claim` (one about each
    /// indicator) at `s₀`, by indicator.
    fn verdicts(&self, claim: Claim) -> String {
        let mut groups: Vec<(&str, Vec<&str>)> = Vec::new();
        for f in self.at_s0().filter(|f| f.claim == claim) {
            let name = f.indicator.as_ref().map_or("", |i| i.label());
            match groups.iter_mut().find(|g| g.0 == f.verdict.label()) {
                Some(g) => g.1.push(name),
                None => groups.push((f.verdict.label(), vec![name])),
            }
        }
        let parts: Vec<String> = (groups.iter())
            .map(|(label, names)| format!("{label} for {}", names.join(", ")))
            .collect();
        match parts.is_empty() {
            true => "not tested".into(),
            false => parts.join("; "),
        }
    }

    fn topics(&self) -> &[String] {
        &self.panel.manifest.topics
    }

    fn find(&self, k: usize, ind: &StudyIndicator, p: Protocol, s: usize) -> Option<&Cell> {
        self.results.cell(k, ind, p, Some(s))
    }

    /// The mean over topics of what `f` gives (`None` if it gives nothing).
    fn mean_over_topics(&self, f: &dyn Fn(usize) -> Option<f64>) -> Option<f64> {
        let v: Vec<f64> = (0..self.topics().len()).filter_map(f).collect();
        (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
    }

    /// 1. Tier shares: full panel, biased and random small panels.
    fn flip(&self) -> String {
        let cfg = &self.results.config;
        let heading = match cfg.protocols.contains(&Protocol::BiasVisibility) {
            true => format!(
                "The flip under bias-visibility (s = {}): {}",
                self.s0,
                self.verdicts(Claim::Flip(Protocol::BiasVisibility))
            ),
            false => "Tier shares of the full and the small panels".into(),
        };
        let mut out = format!(
            "## 1. {heading}\n\nTier shares of the attribution \
             in %, mean ± std over draws: the full panel, a visibility-biased small panel and a \
             random small panel of s = {}. Δ_top is the biased panel's top-tier share minus the \
             full panel's, in percentage points, with its 95 % bootstrap interval over draws. \
             Means are over the kept draws (`kept`, of {} made): a drawn panel with no macro \
             change at all has no shares and is left out, so a mean with fewer kept draws is \
             conditional on the panel showing a change. Δ_top splits into composition (the full \
             panel's own attributions within the small panel: who is in it) and re-attribution \
             (what the indicator does on the small population); `shares.csv` has both with \
             their intervals.\n\n",
            self.s0, cfg.seeds
        );
        let mut columns = vec!["topic".to_string()];
        for panel in ["full", "biased", "random"] {
            columns.extend(TIER_NAMES.map(|t| format!("{panel} {t}")));
        }
        columns.push("Δ_top (pp) [95 % CI]".into());
        columns.push("composition + re-attribution (pp)".into());
        columns.push("kept (biased, random)".into());
        let mut negative = false;
        for ind in &cfg.indicators {
            let mut t = table(&columns);
            for (k, topic) in self.topics().iter().enumerate() {
                let full = full_cell(self.results, k, ind);
                let biased = self.find(k, ind, Protocol::BiasVisibility, self.s0);
                let random = self.find(k, ind, Protocol::Random, self.s0);
                let col = |c: Option<&Cell>, t: usize, sd| pct(c.and_then(|c| c.share(0, t)), sd);
                let delta = biased.and_then(|c| self.results.delta_top(c, 0));
                let mut row = vec![topic.clone()];
                row.extend((0..3).map(|t| col(full, t, false)));
                row.extend((0..3).map(|t| col(biased, t, true)));
                row.extend((0..3).map(|t| col(random, t, true)));
                row.push(match delta {
                    Some(d) => match d.ci {
                        Some([lo, hi]) => {
                            format!(
                                "{:+.1} [{:+.1}, {:+.1}]",
                                100.0 * d.mean,
                                100.0 * lo,
                                100.0 * hi
                            )
                        }
                        None => pp(Some(d.mean)),
                    },
                    None => "–".into(),
                });
                let parts = biased.and_then(|c| self.results.decomposition(c));
                row.push(parts.map_or("–".into(), |[c, r]| {
                    format!("{:+.1} + {:+.1}", 100.0 * c.mean, 100.0 * r.mean)
                }));
                let kept = |c: Option<&Cell>| c.map_or("–".into(), |c| c.runs.len().to_string());
                row.push(format!("{}, {}", kept(biased), kept(random)));
                negative |= [full, biased, random]
                    .iter()
                    .flatten()
                    .any(|c| (0..3).any(|t| c.share(0, t).is_some_and(|s| s.mean < 0.0)));
                t.row(row);
            }
            let _ = writeln!(out, "**{}**\n\n{t}", ind.label());
        }
        if negative {
            out += "Negative shares: for `variance` and `gini` an agent below the population's \
                    typical composite lowers the dispersion it is part of, so its attribution is \
                    negative, and a tier made mostly of such agents has a negative share (the \
                    tier shares still sum to 100 %). `positive_mass.csv` gives the second view: \
                    each tier's share of the positive attribution mass alone.\n\n";
        }
        let has = |p: Protocol| cfg.protocols.contains(&p);
        if !(has(Protocol::BiasVisibility) && has(Protocol::Random)) {
            out += "(Columns of protocols that were not run are shown as –.)\n\n";
        }
        out
    }

    /// 2. The scaling-bias residuals.
    fn residuals(&self) -> String {
        let cfg = &self.results.config;
        let mut out = format!(
            "## 2. Scaling-bias residuals: the dichotomy {}\n\nScaling-bias test: relative \
             residual r = ‖a − c*f‖/‖a‖ of the small panel's shares a against the full panel's \
             shares f on the same agents, after the best single rescaling c*. Mean over the \
             visibility-biased draws at s = {}, and the largest r over every small panel of \
             every protocol and size. A linear indicator with a zero baseline gives r = 0 up to \
             rounding; a nonlinear one need not.\n\n",
            (self.at_s0())
                .find(|f| f.claim == Claim::ResidualDichotomy)
                .map_or("not tested", |f| f.verdict.label()),
            self.s0
        );
        let mut columns = vec!["topic".to_string()];
        for ind in &cfg.indicators {
            let name = ind.label();
            columns.extend([
                format!("{name} r"),
                format!("{name} max r"),
                format!("{name} Spearman"),
            ]);
        }
        let mut t = table(&columns);
        for (k, topic) in self.topics().iter().enumerate() {
            let mut row = vec![topic.clone()];
            for ind in &cfg.indicators {
                let c = self.find(k, ind, Protocol::BiasVisibility, self.s0);
                let r = c.and_then(|c| c.stat(|r| r.residual));
                let sp = c.and_then(|c| c.stat_defined(|r| r.spearman));
                let max = (self.results.cells.iter())
                    .filter(|c| c.topic == k && c.indicator == *ind && c.protocol != Protocol::Full)
                    .flat_map(|c| c.runs.iter().map(|r| r.residual))
                    .reduce(f64::max);
                row.push(sci(r.map(|s| s.mean)));
                row.push(sci(max));
                row.push(sp.map(|s| format!("{:.3}", s.mean)).unwrap_or("–".into()));
            }
            t.row(row);
        }
        out += &format!("{t}\n");
        out
    }

    /// 3. Δ_top by protocol, mean over topics.
    fn dose_response(&self) -> String {
        let (cfg, s0) = (&self.results.config, self.s0);
        let mut out = format!(
            "## 3. Dose-response across protocols (s = {s0}): {}\n\nDoes a protocol that puts \
             more top-tier agents in the small panel flip more, by more than the margin? The \
             test: the rise of Δ_top across the protocols' top-tier agents drawn (the \
             least-squares slope of their means times the range of doses), with its interval \
             from resampled draws (`findings.csv`; `bias-followers` is calibration and left \
             out). Top-tier agents: how many of the s sampled agents \
             are in the top tier; Δ_top in percentage points per indicator, mean over \
             topics.\n\n",
            self.verdicts(Claim::DoseResponse)
        );
        let mut columns: Vec<String> = ["protocol", "pool size", "top-tier agents in S"]
            .map(String::from)
            .to_vec();
        columns.extend(
            cfg.indicators
                .iter()
                .map(|i| format!("Δ_top {}", i.label())),
        );
        let mut t = table(&columns);
        for &p in &cfg.protocols {
            let pool: f64 = (self.results.pools.iter())
                .filter_map(|t| t.iter().find(|x| x.0 == p).map(|x| x.1 as f64))
                .sum::<f64>()
                / self.topics().len() as f64;
            let agents = self.mean_over_topics(&|k| {
                let c = self.find(k, &cfg.indicators[0], p, s0)?;
                c.stat(|r| r.top_agents as f64).map(|s| s.mean)
            });
            let mut row = vec![
                p.name().to_string(),
                format!("{pool:.0}"),
                agents
                    .map(|a| format!("{a:.1} of {s0}"))
                    .unwrap_or("–".into()),
            ];
            for ind in &cfg.indicators {
                row.push(pp(self.mean_over_topics(&|k| {
                    self.results
                        .delta_top(self.find(k, ind, p, s0)?, 0)
                        .map(|d| d.mean)
                })));
            }
            t.row(row);
        }
        out += &format!("{t}\n");
        out += &self.dose_response_per_topic();
        out
    }

    /// The dose-response of every topic and indicator: protocols ordered by the top-tier
    /// agents they put in S, and whether Δ_top follows that order.
    fn dose_response_per_topic(&self) -> String {
        let (cfg, s0) = (&self.results.config, self.s0);
        let mut out = format!(
            "Per topic and indicator (s = {s0}): Δ_top in percentage points per protocol, the \
             protocols ordered by the top-tier agents they put in the small panel on that topic \
             (most first), and whether Δ_top never rises along that order.\n\n"
        );
        let mut columns = vec!["topic".to_string(), "indicator".to_string()];
        columns.extend(cfg.protocols.iter().map(|p| p.name().to_string()));
        columns.push("order by top-tier agents".into());
        columns.push("holds".into());
        let mut t = table(&columns);
        let mut broken = Vec::new();
        for (k, topic) in self.topics().iter().enumerate() {
            let dose = |p: Protocol| {
                let c = self.find(k, &cfg.indicators[0], p, s0)?;
                c.stat(|r| r.top_agents as f64).map(|s| s.mean)
            };
            let mut order: Vec<(usize, f64)> = (cfg.protocols.iter().enumerate())
                .filter_map(|(j, &p)| Some((j, dose(p)?)))
                .collect();
            order.sort_by(|a, b| b.1.total_cmp(&a.1));
            for ind in &cfg.indicators {
                let deltas: Vec<Option<f64>> = (cfg.protocols.iter())
                    .map(|&p| Some(self.results.delta_top(self.find(k, ind, p, s0)?, 0)?.mean))
                    .collect();
                let along: Vec<f64> = order.iter().filter_map(|&(j, _)| deltas[j]).collect();
                let holds = along.windows(2).all(|w| w[1] <= w[0] + 1e-12);
                if !holds {
                    broken.push(format!("{topic} ({})", ind.label()));
                }
                let mut row = vec![topic.clone(), ind.label().to_string()];
                row.extend(deltas.iter().map(|d| pp(*d)));
                let names: Vec<&str> = order
                    .iter()
                    .map(|&(j, _)| cfg.protocols[j].name())
                    .collect();
                row.push(names.join(" > "));
                row.push(if holds { "yes" } else { "no" }.into());
                t.row(row);
            }
        }
        out += &format!("{t}\n");
        if broken.is_empty() {
            out += "The order holds on every topic and indicator.\n\n";
        } else {
            let _ = writeln!(out, "The order does not hold for: {}.\n", broken.join(", "));
        }
        out
    }

    /// 4. The top-tier share against the panel size, first topic.
    fn scale_curve(&self) -> String {
        let cfg = &self.results.config;
        let mut out = format!(
            "## 4. Top-tier share against panel size ({})\n\nMean top-tier share in % per \
             protocol and size; the last row is the full panel.\n\n",
            self.topics()[0]
        );
        let mut columns = vec!["indicator".to_string(), "size".to_string()];
        columns.extend(cfg.protocols.iter().map(|p| p.name().to_string()));
        let mut t = table(&columns);
        for ind in &cfg.indicators {
            for &s in self.sizes {
                let mut row = vec![ind.label().to_string(), s.to_string()];
                for &p in &cfg.protocols {
                    row.push(pct(
                        self.find(0, ind, p, s).and_then(|c| c.share(0, 0)),
                        true,
                    ));
                }
                t.row(row);
            }
            let full = pct(
                full_cell(self.results, 0, ind).and_then(|c| c.share(0, 0)),
                false,
            );
            let mut row = vec![
                ind.label().to_string(),
                format!("{} (full)", self.panel.agents()),
            ];
            row.extend(cfg.protocols.iter().map(|_| full.clone()));
            t.row(row);
        }
        out += &format!("{t}\n");
        out
    }

    /// 5. The peak day of every topic at full scale.
    /// 7. The flip under each elite anchor, and how far the anchors' top tiers overlap.
    fn anchors(&self) -> String {
        let (cfg, res) = (&self.results.config, self.results);
        if res.anchors.len() < 2 {
            return String::new();
        }
        let mut out = format!(
            "## 7. Who the elite is: the flip under each anchor\n\nΔ_top (pp, 95 % CI) of the \
             visibility-biased panels at s = {} when the top tier is the top {:.0} % by each \
             anchor.\n\n",
            self.s0,
            100.0 * cfg.tiers.0
        );
        let mut columns = vec!["topic".to_string(), "indicator".to_string()];
        columns.extend(res.anchors.iter().map(|a| format!("Δ_top by {a}")));
        let mut t = table(&columns);
        for (k, topic) in self.topics().iter().enumerate() {
            for ind in &cfg.indicators {
                let mut row = vec![topic.clone(), ind.label().to_string()];
                for a in 0..res.anchors.len() {
                    let small = self.find(k, ind, Protocol::BiasVisibility, self.s0);
                    let d = small.and_then(|c| res.delta_top(c, a));
                    row.push(match d {
                        Some(Stat {
                            mean,
                            ci: Some([lo, hi]),
                            ..
                        }) => format!(
                            "{:+.1} [{:+.1}, {:+.1}]",
                            100.0 * mean,
                            100.0 * lo,
                            100.0 * hi
                        ),
                        Some(d) => pp(Some(d.mean)),
                        None => "–".into(),
                    });
                }
                t.row(row);
            }
        }
        let _ = writeln!(out, "{t}");
        let overlap: Vec<String> = (res.anchor_overlap.iter())
            .map(|(a, b, j)| format!("{a} and {b} {:.1} %", 100.0 * j))
            .collect();
        let _ = writeln!(
            out,
            "Overlap of the anchors' top tiers (Jaccard): {}.\n",
            overlap.join("; ")
        );
        out
    }

    fn peak_days(&self) -> String {
        let ind = &self.results.config.heatmap_indicator;
        let mut out = format!(
            "## 5. When: peak days at full scale ({})\n\nThe day with the largest macro change \
             V(x_t) − V(0), the tier shares of that day's attribution in %, and that day's part \
             of the window's total. `heatmap_<topic>.png` shows the whole follower-percentile × \
             day structure.\n\n",
            ind.label()
        );
        let columns = ["topic", "peak day", "top", "mid", "tail", "part of window"];
        let mut t = table(&columns.map(String::from));
        for (k, topic) in self.topics().iter().enumerate() {
            let days: Vec<_> = (self.results.days.iter())
                .filter(|d| d.topic == k && d.indicator == *ind)
                .collect();
            let window: f64 = days.iter().map(|d| d.total).sum();
            match days.iter().find(|d| d.peak) {
                Some(p) => {
                    let share = |t: usize| {
                        (p.shares.map(|s| format!("{:.1}", 100.0 * s[t]))).unwrap_or("–".into())
                    };
                    let part = if window != 0.0 {
                        format!("{:.1} %", 100.0 * p.total / window)
                    } else {
                        "–".into()
                    };
                    t.row([
                        topic.clone(),
                        self.panel.manifest.day_labels[p.day].clone(),
                        share(0),
                        share(1),
                        share(2),
                        part,
                    ]);
                }
                None => {
                    t.row([
                        topic.clone(),
                        "none: no day has a macro change".into(),
                        "–".into(),
                        "–".into(),
                        "–".into(),
                        "–".into(),
                    ]);
                }
            }
        }
        out += &format!("{t}\n");
        out
    }

    /// 6. Top-k Jaccard recovery by protocol, size and indicator.
    fn top_k_recovery(&self) -> String {
        let cfg = &self.results.config;
        let mut out = String::from(
            "## 6. Do small panels find the same top agents?\n\nJaccard overlap between a small \
             panel's top-k agents and the full panel's top-k among the same agents, mean over \
             draws and topics, by protocol, size and indicator.\n\n",
        );
        let mut columns = vec!["protocol".to_string(), "size".into(), "k".into()];
        columns.extend(cfg.indicators.iter().map(|i| i.label().to_string()));
        let mut t = table(&columns);
        for &p in &cfg.protocols {
            for &s in self.sizes {
                for (j, &kk) in cfg.top_k.iter().enumerate().filter(|(_, k)| **k < s) {
                    let mut row = vec![p.name().to_string(), s.to_string(), kk.to_string()];
                    for ind in &cfg.indicators {
                        let mean = self.mean_over_topics(&|k| {
                            self.find(k, ind, p, s)?.jaccard(j).map(|st| st.mean)
                        });
                        row.push(mean.map(|v| format!("{v:.2}")).unwrap_or("–".into()));
                    }
                    t.row(row);
                }
            }
        }
        out += &t.to_string();
        out
    }
}

fn run_json(
    results: &StudyResults,
    panel: &Panel,
    info: &RunInfo,
    calibration: &super::calibration::Calibration,
) -> serde_json::Value {
    let cfg = &results.config;
    let mut out = json!({
        "software": {"name": "aumann", "version": env!("CARGO_PKG_VERSION")},
        "command": info.command,
        "panel": {
            "origin": info.panel_origin,
            "manifest": panel.manifest,
        },
        "sweep": info.sweep.as_ref().map(|s| s.origin.clone()),
        "parameters": {
            "tiers": {"top": cfg.tiers.0, "mid": cfg.tiers.1, "names": TIER_NAMES},
            "anchors": results.anchors,
            "visibility_pool": cfg.visibility_pool,
            "sizes": cfg.small_sizes(panel.agents()),
            "seeds": cfg.seeds,
            "seed": cfg.seed,
            "seed_rule": "draw r of topic k, protocol p (index in protocols), size s uses \
                          seed::mix([seed, k, p, s, r]) (SplitMix64 chain)",
            "indicators": cfg.indicators.iter().map(StudyIndicator::label).collect::<Vec<_>>(),
            "protocols": cfg.protocols.iter().map(|p| p.name()).collect::<Vec<_>>(),
            "baseline": "zero",
            "attribution": attribution_json(cfg),
            "heatmap_indicator": cfg.heatmap_indicator.label(),
            "heatmap_bins": cfg.heatmap_bins,
            "top_k": cfg.top_k,
            "per_agent": cfg.per_agent,
        },
        "pools": results.pools.iter().enumerate().map(|(k, t)| json!({
            "topic": panel.manifest.topics[k],
            "protocols": t.iter().map(|(p, size, top)| json!({
                "protocol": p.name(), "pool_size": size, "top_tier_agents": top
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "calibration": calibration,
        "anchor_overlap": results.anchor_overlap.iter().map(|(a, b, j)| json!({
            "anchors": [a, b], "top_tier_jaccard": j
        })).collect::<Vec<_>>(),
        "degenerate": results.degenerate.iter().map(|(k, what)| json!({
            "topic": k.map(|k| panel.manifest.topics[k].clone()),
            "what": what,
        })).collect::<Vec<_>>(),
        "threads": rayon::current_num_threads(),
        "seconds": {
            "panel": info.panel_seconds,
            "phases": results.timings.iter().map(|(k, v)| json!({"phase": k, "seconds": v})).collect::<Vec<_>>(),
        },
    });
    let formulas = formulas_json(cfg);
    if !formulas.is_empty() {
        out["parameters"]["formulas"] = formulas.into();
    }
    out
}

/// The definitions of the formula indicators attributed (as `indicator.json` holds them), by
/// label.
fn formulas_json(cfg: &super::StudyConfig) -> serde_json::Map<String, serde_json::Value> {
    let heatmap = std::iter::once(&cfg.heatmap_indicator);
    (cfg.indicators.iter().chain(heatmap))
        .filter_map(|i| {
            let definition = i.spec().formula.as_ref()?;
            let value = serde_json::to_value(definition).expect("a definition is strings");
            Some((i.label().to_string(), value))
        })
        .collect()
}
