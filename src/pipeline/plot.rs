//! SVG figures for the run report, drawn with `plotters`' SVG backend.

use plotters::prelude::*;

use super::PipelineError;

const SIZE: (u32, u32) = (560, 380);
const COLORS: [RGBColor; 5] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(255, 127, 14),
];

fn err(e: impl std::fmt::Display) -> PipelineError {
    PipelineError::Plot(e.to_string())
}

fn range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    if (hi - lo).abs() < 1e-12 {
        (lo - 0.5, hi + 0.5)
    } else {
        (lo - 0.05 * (hi - lo), hi + 0.05 * (hi - lo))
    }
}

/// Lines through `(x, y)` points, one per named series; `unit_square` fixes both axes to [0, 1]
/// and draws the diagonal (ROC curves, reliability diagrams).
pub fn lines(
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[(&str, Vec<(f64, f64)>)],
    unit_square: bool,
) -> Result<String, PipelineError> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let (x0, x1, y0, y1) = if unit_square {
            (0.0, 1.0, 0.0, 1.0)
        } else {
            let (a, b) = range(series.iter().flat_map(|s| s.1.iter().map(|p| p.0)));
            let (c, d) = range(series.iter().flat_map(|s| s.1.iter().map(|p| p.1)));
            (a, b, c, d)
        };
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(52)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc(x_label)
            .y_desc(y_label)
            .draw()
            .map_err(err)?;
        if unit_square {
            chart
                .draw_series(LineSeries::new([(0.0, 0.0), (1.0, 1.0)], BLACK.mix(0.3)))
                .map_err(err)?;
        }
        for (i, (name, points)) in series.iter().enumerate() {
            let color = COLORS[i % COLORS.len()];
            chart
                .draw_series(LineSeries::new(
                    points.iter().copied(),
                    color.stroke_width(2),
                ))
                .map_err(err)?
                .label(*name)
                .legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 16, y)], color.stroke_width(2))
                });
            chart
                .draw_series(points.iter().map(|&p| Circle::new(p, 2, color.filled())))
                .map_err(err)?;
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// A point `(x, y)` with its vertical interval `[lo, hi]`: `(x, y, lo, hi)`.
pub type IntervalPoint = (f64, f64, f64, f64);

/// Lines through `(x, y)` points with a vertical 95% interval `[lo, hi]` at each, one per
/// named series.
pub fn lines_with_intervals(
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[(&str, Vec<IntervalPoint>)],
) -> Result<String, PipelineError> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let (x0, x1) = range(series.iter().flat_map(|s| s.1.iter().map(|p| p.0)));
        let (y0, y1) = range(
            series
                .iter()
                .flat_map(|s| s.1.iter().flat_map(|p| [p.2, p.3])),
        );
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(52)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc(x_label)
            .y_desc(y_label)
            .draw()
            .map_err(err)?;
        for (i, (name, points)) in series.iter().enumerate() {
            let color = COLORS[i % COLORS.len()];
            chart
                .draw_series(LineSeries::new(
                    points.iter().map(|p| (p.0, p.1)),
                    color.stroke_width(2),
                ))
                .map_err(err)?
                .label(*name)
                .legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 16, y)], color.stroke_width(2))
                });
            chart
                .draw_series(
                    points
                        .iter()
                        .map(|p| ErrorBar::new_vertical(p.0, p.2, p.1, p.3, color.filled(), 6)),
                )
                .map_err(err)?;
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// Point estimates with confidence intervals, one per named group.
pub fn estimates(
    title: &str,
    y_label: &str,
    items: &[(&str, f64, f64, f64)],
) -> Result<String, PipelineError> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let (_, hi) = range(items.iter().flat_map(|i| [i.1, i.3]));
        let n = items.len().max(1) as f64;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(60)
            .build_cartesian_2d(-0.5..(n - 0.5), 0.0..hi.max(1e-6))
            .map_err(err)?;
        let labels: Vec<String> = items.iter().map(|i| i.0.to_string()).collect();
        chart
            .configure_mesh()
            .y_desc(y_label)
            .x_labels(items.len())
            .x_label_formatter(&|x| labels.get(x.round() as usize).cloned().unwrap_or_default())
            .disable_x_mesh()
            .draw()
            .map_err(err)?;
        for (i, (_, v, lo, hi)) in items.iter().enumerate() {
            let x = i as f64;
            let color = COLORS[i % COLORS.len()];
            chart
                .draw_series([ErrorBar::new_vertical(
                    x,
                    *lo,
                    *v,
                    *hi,
                    color.stroke_width(2),
                    12,
                )])
                .map_err(err)?;
            chart
                .draw_series([Circle::new((x, *v), 4, color.filled())])
                .map_err(err)?;
        }
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// A bar chart of counts per integer bin (e.g. attempts per prompt).
pub fn histogram(
    title: &str,
    x_label: &str,
    counts: &[(u32, u32)],
) -> Result<String, PipelineError> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let max_x = counts.iter().map(|c| c.0).max().unwrap_or(1) + 1;
        let max_y = counts.iter().map(|c| c.1).max().unwrap_or(1);
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(52)
            .build_cartesian_2d((0u32..max_x).into_segmented(), 0u32..max_y + max_y / 10 + 1)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc(x_label)
            .y_desc("prompts")
            .disable_x_mesh()
            .draw()
            .map_err(err)?;
        chart
            .draw_series(
                Histogram::vertical(&chart)
                    .style(COLORS[0].filled())
                    .margin(4)
                    .data(counts.iter().copied()),
            )
            .map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_are_svg_with_their_labels() {
        let roc = lines(
            "ROC",
            "false positive rate",
            "true positive rate",
            &[("classifier", vec![(0.0, 0.0), (0.1, 0.8), (1.0, 1.0)])],
            true,
        )
        .unwrap();
        assert!(roc.starts_with("<svg") && roc.contains("ROC") && roc.contains("classifier"));
        let est = estimates(
            "Injury rate",
            "rate",
            &[
                ("unfiltered", 0.05, 0.03, 0.08),
                ("filtered", 0.001, 0.0, 0.004),
            ],
        )
        .unwrap();
        assert!(est.contains("unfiltered") && est.contains("filtered"));
        let h = histogram("Attempts", "attempts", &[(1, 40), (2, 7), (5, 1)]).unwrap();
        assert!(h.contains("<rect"));
    }
}
