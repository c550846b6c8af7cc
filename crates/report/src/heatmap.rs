//! Follower-percentile × day heatmaps of attribution mass, as PNG images.
//!
//! Cell `(b, t)` is `M_{b,t} = Σ_{i ∈ bin b} φ_{t,i}`, bin 0 (drawn at the top) holding the
//! 1/B of agents with the most followers. Mass spans orders of magnitude between the top
//! bins and the tail, so colour follows `(M / max M)^{1/2}` (a square-root scale, labelled
//! with the true values on the colour bar); a map with negative mass uses a diverging
//! blue–white–red scale on `sign(M) |M / max |M||^{1/2}`. Text is drawn with an embedded
//! DejaVu Sans, so no system font is needed.

use std::sync::Once;

use plotters::prelude::*;
use plotters::style::colors::colormaps::ViridisRGB;

use crate::{Result, error::RenderError as Error};

static FONT: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/assets/fonts/DejaVuSans.ttf"
));
static REGISTER: Once = Once::new();

const GAMMA: f64 = 0.5;

/// What a heatmap shows.
pub struct HeatmapSpec<'a> {
    /// Title, e.g. the topic and indicator.
    pub title: &'a str,
    /// `mass[b][t]`, top bin first.
    pub mass: &'a [Vec<f64>],
    /// One label per day.
    pub day_labels: &'a [String],
}

/// Render a heatmap as PNG bytes.
///
/// # Errors
/// [`RenderError`](crate::RenderError) if drawing fails (an empty map).
pub fn render_png(spec: &HeatmapSpec) -> Result<Vec<u8>> {
    register_font();
    let (w, h) = (1100u32, 760u32);
    let mut rgb = vec![255u8; (w * h * 3) as usize];
    draw(spec, &mut rgb, (w, h)).map_err(|e| Error {
        what: "heatmap".into(),
        reason: format!("drawing failed: {e}"),
    })?;
    encode_png(&rgb, w, h)
}

fn draw(
    spec: &HeatmapSpec,
    rgb: &mut [u8],
    size: (u32, u32),
) -> std::result::Result<(), Box<dyn std::error::Error>> {
    let bins = spec.mass.len();
    let days = spec.day_labels.len();
    if bins == 0 || days == 0 {
        return Err("nothing to draw".into());
    }
    let max_abs = spec
        .mass
        .iter()
        .flatten()
        .fold(0.0f64, |m, v| m.max(v.abs()));
    let diverging = spec.mass.iter().flatten().any(|&v| v < 0.0);
    let scale = |v: f64| -> f64 {
        if max_abs == 0.0 {
            0.0
        } else {
            (v.abs() / max_abs).powf(GAMMA).copysign(v)
        }
    };
    let colour = |s: f64| -> RGBColor {
        if diverging {
            // −1 blue, 0 white, +1 red.
            let (r, g, b) = if s < 0.0 {
                let a = -s;
                (1.0 - 0.8 * a, 1.0 - 0.6 * a, 1.0 - 0.2 * a)
            } else {
                (1.0 - 0.2 * s, 1.0 - 0.8 * s, 1.0 - 0.8 * s)
            };
            RGBColor((r * 255.0) as u8, (g * 255.0) as u8, (b * 255.0) as u8)
        } else {
            ViridisRGB::get_color(s.clamp(0.0, 1.0))
        }
    };

    let root = BitMapBackend::with_buffer(rgb, size).into_drawing_area();
    root.fill(&WHITE)?;
    let (main, bar) = root.split_horizontally(size.0 - 170);
    let mut chart = ChartBuilder::on(&main)
        .caption(spec.title, ("sans-serif", 24))
        .margin(12)
        .x_label_area_size(55)
        .y_label_area_size(95)
        .build_cartesian_2d(0f64..days as f64, 0f64..bins as f64)?;
    let label_every = days.div_ceil(14);
    chart
        .configure_mesh()
        .disable_mesh()
        .x_labels(days.min(14) * 2 + 1)
        .x_label_formatter(&|x| {
            let t = x.floor() as usize;
            let centre = (x - x.floor() - 0.5).abs() < 1e-9;
            if centre && t < days && t.is_multiple_of(label_every) {
                short_label(&spec.day_labels[t])
            } else {
                String::new()
            }
        })
        .x_label_style(("sans-serif", 13))
        .y_labels(11)
        .y_label_style(("sans-serif", 13))
        .y_label_formatter(&|y| format!("top {:.0} %", 100.0 * (1.0 - y / bins as f64)))
        .x_desc(format!(
            "day ({} to {})",
            spec.day_labels[0],
            spec.day_labels[days - 1]
        ))
        .y_desc("agents ranked by followers (most followed at the top)")
        .axis_desc_style(("sans-serif", 16))
        .draw()?;
    chart.draw_series(spec.mass.iter().enumerate().flat_map(|(b, row)| {
        row.iter().enumerate().map(move |(t, &v)| {
            let y0 = (bins - b - 1) as f64;
            Rectangle::new(
                [(t as f64, y0), (t as f64 + 1.0, y0 + 1.0)],
                colour(scale(v)).filled(),
            )
        })
    }))?;

    // Colour bar with true values at evenly spaced colours.
    let lo = if diverging { -1.0 } else { 0.0 };
    let mut bar_chart = ChartBuilder::on(&bar)
        .margin_top(50)
        .margin_bottom(80)
        .margin_right(10)
        .y_label_area_size(100)
        .set_label_area_size(LabelAreaPosition::Top, 18)
        .caption("Σφ per cell", ("sans-serif", 15))
        .build_cartesian_2d(0f64..1.0, lo..1f64)?;
    bar_chart
        .configure_mesh()
        .disable_mesh()
        .disable_x_axis()
        .y_labels(if diverging { 9 } else { 6 })
        .y_label_style(("sans-serif", 13))
        .y_label_formatter(&|s| {
            let v = s.abs().powf(1.0 / GAMMA).copysign(*s) * max_abs;
            format!("{v:.2e}")
        })
        .draw()?;
    let steps = 200;
    bar_chart.draw_series((0..steps).map(|j| {
        let s0 = lo + (1.0 - lo) * j as f64 / steps as f64;
        let s1 = lo + (1.0 - lo) * (j + 1) as f64 / steps as f64;
        Rectangle::new([(0.0, s0), (1.0, s1)], colour((s0 + s1) / 2.0).filled())
    }))?;
    root.present()?;
    Ok(())
}

/// A day label short enough for the axis: `2026-04-13` becomes `04-13`.
fn short_label(label: &str) -> String {
    let b = label.as_bytes();
    let is_date = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && label.chars().filter(char::is_ascii_digit).count() == 8;
    if is_date {
        label[5..].to_string()
    } else {
        label.chars().take(8).collect()
    }
}

/// Make the embedded font plotters' `sans-serif` (once per process).
pub fn register_font() {
    REGISTER.call_once(|| {
        plotters::style::register_font("sans-serif", FontStyle::Normal, FONT)
            .unwrap_or_else(|_| panic!("the embedded font parses"));
    });
}

/// An RGB buffer of `w × h` pixels as PNG bytes.
pub fn encode_png(rgb: &[u8], w: u32, h: u32) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let fail = |e: png::EncodingError| Error {
        what: "heatmap".into(),
        reason: format!("encoding the PNG failed: {e}"),
    };
    let mut encoder = png::Encoder::new(&mut out, w, h);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(fail)?;
    writer.write_image_data(rgb).map_err(fail)?;
    writer.finish().map_err(fail)?;
    Ok(out)
}
