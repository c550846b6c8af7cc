//! The study's line figures: per-day top-tier shares of the full panel against the small
//! panels (the paper's "one temporal shape" finding), and the scale curve (Δ_top against the
//! panel size per protocol), each with 95 % bootstrap bands, for the heatmap's indicator (or
//! the first indicator studied, if that one was not).

/// The indicator the figures show.
fn indicator(r: &StudyResults) -> &StudyIndicator {
    let h = &r.config.heatmap_indicator;
    if r.config.indicators.contains(h) {
        h
    } else {
        &r.config.indicators[0]
    }
}

/// A chart, or `None` when none of its series has a point.
fn chart(c: &LineChart) -> Result<Option<Vec<u8>>> {
    if c.series.iter().all(|s| s.points.is_empty()) {
        return Ok(None);
    }
    Ok(Some(render_png(c)?))
}

use super::{Protocol, StudyIndicator, StudyResults};
use crate::error::Result;
use aumann_panel::Panel;
use aumann_report::lines::{LineChart, Series, render_png};

/// `daily_<topic>.png`: top-tier share (%) per day, the full panel and every protocol at the
/// smallest size; `None` when no small panel was run.
pub fn daily_png(r: &StudyResults, panel: &Panel, k: usize) -> Result<Option<Vec<u8>>> {
    let ind = indicator(r);
    let Some(s0) = r.config.small_sizes(panel.agents()).first().copied() else {
        return Ok(None);
    };
    let full: Vec<(f64, f64)> = (r.days.iter())
        .filter(|d| d.topic == k && d.indicator == *ind)
        .filter_map(|d| Some((d.day as f64, 100.0 * d.shares?[0])))
        .collect();
    let mut series = vec![Series {
        name: "full panel".into(),
        points: full,
        band: Vec::new(),
    }];
    for &p in &r.config.protocols {
        let Some(c) = r.cell(k, ind, p, Some(s0)) else {
            continue;
        };
        let mut points = Vec::new();
        let mut band = Vec::new();
        for t in 0..panel.days() {
            if let Some(s) = c.stat_defined(|m| m.daily.get(t).copied().flatten().map(|v| v[0])) {
                points.push((t as f64, 100.0 * s.mean));
                if let Some([lo, hi]) = s.ci {
                    band.push((t as f64, 100.0 * lo, 100.0 * hi));
                }
            }
        }
        series.push(Series {
            name: format!("{} s = {s0}", p.name()),
            points,
            band,
        });
    }
    chart(&LineChart {
        title: &title(panel, k, "top-tier share per day", ind),
        x_desc: "day",
        y_desc: "top-tier share of the day's attribution (%)",
        log_x: false,
        x_labels: Some(&panel.manifest.day_labels),
        series,
    })
}

/// `scale_<topic>.png`: Δ_top (pp) against the panel size, one line per protocol; `None`
/// without small panels.
pub fn scale_png(r: &StudyResults, panel: &Panel, k: usize) -> Result<Option<Vec<u8>>> {
    let ind = indicator(r);
    let sizes = r.config.small_sizes(panel.agents());
    let full = r
        .cell(k, ind, Protocol::Full, None)
        .and_then(|c| c.share(0, 0));
    if full.is_none() || sizes.is_empty() {
        return Ok(None);
    }
    let series: Vec<Series> = (r.config.protocols.iter())
        .map(|&p| {
            let mut points = Vec::new();
            let mut band = Vec::new();
            for &s in &sizes {
                if let Some(d) = r.cell(k, ind, p, Some(s)).and_then(|c| r.delta_top(c, 0)) {
                    points.push((s as f64, 100.0 * d.mean));
                    if let Some([lo, hi]) = d.ci {
                        band.push((s as f64, 100.0 * lo, 100.0 * hi));
                    }
                }
            }
            Series {
                name: p.name().into(),
                points,
                band,
            }
        })
        .collect();
    chart(&LineChart {
        title: &title(panel, k, "Δ_top against panel size", ind),
        x_desc: "small-panel size s (log scale)",
        y_desc: "Δ_top = top-tier share, small − full (pp)",
        log_x: true,
        x_labels: None,
        series,
    })
}

/// A figure's title: topic `k`'s `what`, for indicator `ind`.
fn title(panel: &Panel, k: usize, what: &str, ind: &StudyIndicator) -> String {
    format!("{}: {what} ({})", panel.manifest.topics[k], ind.label())
}
