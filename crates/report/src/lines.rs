//! Line charts as PNG: one line per series, with an optional interval drawn as a band and a
//! logarithmic x axis (the scale curve). Text uses the embedded font of [`crate::heatmap`].

use plotters::prelude::*;

use crate::heatmap::{encode_png, register_font};
use crate::{Result, error::RenderError as Error};

/// One line: points `(x, y)` and, optionally, an interval `(x, lo, hi)` at each.
pub struct Series {
    /// Legend label.
    pub name: String,
    /// The line.
    pub points: Vec<(f64, f64)>,
    /// The band around it.
    pub band: Vec<(f64, f64, f64)>,
}

/// A chart.
pub struct LineChart<'a> {
    /// Title.
    pub title: &'a str,
    /// Axis descriptions.
    pub x_desc: &'a str,
    /// Axis descriptions.
    pub y_desc: &'a str,
    /// Logarithmic x axis.
    pub log_x: bool,
    /// Labels of integer x positions (days), if the x axis is categorical.
    pub x_labels: Option<&'a [String]>,
    /// The lines.
    pub series: Vec<Series>,
}

/// Render `chart` as PNG bytes.
///
/// # Errors
/// [`RenderError`](crate::RenderError) if there is nothing to draw or drawing fails.
pub fn render_png(chart: &LineChart) -> Result<Vec<u8>> {
    register_font();
    let (w, h) = (1100u32, 620u32);
    let mut rgb = vec![255u8; (w * h * 3) as usize];
    draw(chart, &mut rgb, (w, h)).map_err(|e| Error {
        what: chart.title.into(),
        reason: format!("drawing failed: {e}"),
    })?;
    encode_png(&rgb, w, h)
}

fn draw(
    c: &LineChart,
    rgb: &mut [u8],
    size: (u32, u32),
) -> std::result::Result<(), Box<dyn std::error::Error>> {
    let xs = c.series.iter().flat_map(|s| s.points.iter().map(|p| p.0));
    let ys = (c.series.iter())
        .flat_map(|s| (s.points.iter().map(|p| p.1)).chain(s.band.iter().flat_map(|b| [b.1, b.2])));
    let (x0, x1) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
        (a.min(x), b.max(x))
    });
    let (y0, y1) = ys.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), y| {
        (a.min(y), b.max(y))
    });
    if !(x0.is_finite() && y0.is_finite()) {
        return Err("nothing to draw".into());
    }
    let pad = 0.05 * (y1 - y0).max(1e-9);
    let (y0, y1) = (y0 - pad, y1 + pad);
    let root = BitMapBackend::with_buffer(rgb, size).into_drawing_area();
    root.fill(&WHITE)?;
    let mut builder = ChartBuilder::on(&root);
    builder
        .caption(c.title, ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(50)
        .y_label_area_size(70);
    if c.log_x {
        let mut chart = builder.build_cartesian_2d((x0..x1 * 1.05).log_scale(), y0..y1)?;
        plot(&mut chart, c, 11, &|x| format!("{x:.0}"))?;
    } else {
        let mut chart = builder.build_cartesian_2d(x0 - 0.5..x1 + 0.5, y0..y1)?;
        let labels = c.x_labels;
        let count = labels.map_or(10, |l| l.len().min(14));
        plot(&mut chart, c, count, &|x| match labels {
            Some(l) => l
                .get(x.round() as usize)
                .map_or(String::new(), |s| s.get(5..).unwrap_or(s).to_string()),
            None => format!("{x:.0}"),
        })?;
    }
    root.present()?;
    Ok(())
}

type Chart<'a, X> =
    ChartContext<'a, BitMapBackend<'a>, Cartesian2d<X, plotters::coord::types::RangedCoordf64>>;

/// The axes (`x_labels` labels on x, written by `x_label`) and the lines of `c` on `chart`.
fn plot<X>(
    chart: &mut Chart<'_, X>,
    c: &LineChart,
    x_labels: usize,
    x_label: &dyn Fn(&f64) -> String,
) -> std::result::Result<(), Box<dyn std::error::Error>>
where
    X: Ranged<ValueType = f64> + plotters::coord::ranged1d::ValueFormatter<f64>,
{
    chart
        .configure_mesh()
        .x_labels(x_labels)
        .x_label_formatter(x_label)
        .x_desc(c.x_desc)
        .y_desc(c.y_desc)
        .axis_desc_style(("sans-serif", 15))
        .label_style(("sans-serif", 13))
        .draw()?;
    for (j, s) in c.series.iter().enumerate() {
        let colour = Palette99::pick(j).to_rgba();
        if !s.band.is_empty() {
            let mut outline: Vec<(f64, f64)> = s.band.iter().map(|b| (b.0, b.2)).collect();
            outline.extend(s.band.iter().rev().map(|b| (b.0, b.1)));
            chart.draw_series(std::iter::once(Polygon::new(
                outline,
                colour.mix(0.18).filled(),
            )))?;
        }
        chart
            .draw_series(LineSeries::new(s.points.clone(), colour.stroke_width(2)))?
            .label(s.name.clone())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(2))
            });
        chart.draw_series(s.points.iter().map(|&p| Circle::new(p, 3, colour.filled())))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 13))
        .draw()?;
    Ok(())
}
