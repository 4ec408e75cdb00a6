//! PNG and SVG plots of a report: loss over time with the ε lines, the staleness histogram, and
//! the step-size factor η(τ)/η0. Text is drawn with a bundled font (DejaVu Sans, see
//! `assets/DejaVuSans.LICENSE`) through `ab_glyph`, so plotting needs no system fontconfig.

use crate::report::Report;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::Once;

static FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");
static REGISTER: Once = Once::new();

/// Register the bundled font under `sans-serif` (once per process), so that plotters draws text
/// without fontconfig.
pub fn register_font() {
    REGISTER.call_once(|| {
        // The bundled font is valid; registration only fails on malformed font data.
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT);
    });
}

/// A plot's result: plotters' and the file system's errors, boxed.
pub type PlotResult<T> = Result<T, Box<dyn std::error::Error>>;

/// Write `loss.{png,svg}`, `staleness.{png,svg}` and, for adaptive policies, `stepsize.{png,svg}`
/// into `dir` (created if missing). Returns the files written. Each file is drawn to a temporary
/// name and renamed, so no half-written plot is left behind.
pub fn write_all(report: &Report, dir: &Path) -> PlotResult<Vec<PathBuf>> {
    register_font();
    std::fs::create_dir_all(dir)?;
    let mut out = Vec::new();
    let adaptive = report
        .step_size
        .factors
        .iter()
        .any(|&f| (f - 1.0).abs() > 1e-6);
    type Draw = fn(&Report, &DrawingArea<SVGBackend, Shift>) -> PlotResult<()>;
    type DrawPng = fn(&Report, &DrawingArea<BitMapBackend, Shift>) -> PlotResult<()>;
    let mut plots: Vec<(&str, Draw, DrawPng)> = vec![
        ("loss", loss_svg, loss_png),
        ("staleness", staleness_svg, staleness_png),
    ];
    if adaptive {
        plots.push(("stepsize", stepsize_svg, stepsize_png));
    }
    if report.elastic.is_some() || report.ain.is_some() {
        plots.push(("elastic", elastic_svg, elastic_png));
    }
    for (name, svg, png) in plots {
        let (w, h) = (900, 540);
        let tmp_svg = dir.join(format!(".{name}.tmp.svg"));
        {
            let area = SVGBackend::new(&tmp_svg, (w, h)).into_drawing_area();
            area.fill(&WHITE)?;
            svg(report, &area)?;
            area.present()?;
        }
        let final_svg = dir.join(format!("{name}.svg"));
        std::fs::rename(&tmp_svg, &final_svg)?;
        out.push(final_svg);
        let tmp_png = dir.join(format!(".{name}.tmp.png"));
        {
            let area = BitMapBackend::new(&tmp_png, (w, h)).into_drawing_area();
            area.fill(&WHITE)?;
            png(report, &area)?;
            area.present()?;
        }
        let final_png = dir.join(format!("{name}.png"));
        std::fs::rename(&tmp_png, &final_png)?;
        out.push(final_png);
    }
    Ok(out)
}

/// The time axis: the run's clock, virtual for a simulated run.
fn seconds_label(r: &Report) -> &'static str {
    if r.executor == "simulated" {
        "virtual seconds"
    } else {
        "seconds since the workers started"
    }
}

fn title(r: &Report) -> String {
    format!(
        "{} {} m={} b={} η={} {}",
        r.config.algorithm,
        r.network.arch,
        r.config.threads,
        r.config.batch,
        r.config.eta,
        r.step_size.policy
    )
}

macro_rules! both {
    ($svg:ident, $png:ident, $f:ident) => {
        fn $svg(r: &Report, a: &DrawingArea<SVGBackend, Shift>) -> PlotResult<()> {
            $f(r, a)
        }
        fn $png(r: &Report, a: &DrawingArea<BitMapBackend, Shift>) -> PlotResult<()> {
            $f(r, a)
        }
    };
}
both!(loss_svg, loss_png, draw_loss);
both!(staleness_svg, staleness_png, draw_staleness);
both!(stepsize_svg, stepsize_png, draw_stepsize);
both!(elastic_svg, elastic_png, draw_elastic);

/// Loss, parallelism level m_E and ‖ξ‖ on one shared time axis.
fn draw_elastic<DB: DrawingBackend>(r: &Report, area: &DrawingArea<DB, Shift>) -> PlotResult<()>
where
    DB::ErrorType: 'static,
{
    let t_max = r.seconds.max(1e-3);
    let (top, rest) = area.split_vertically(area.dim_in_pixel().1 as i32 * 2 / 5);
    let (mid, bottom) = rest.split_vertically(rest.dim_in_pixel().1 as i32 / 2);
    let y_max = r
        .series
        .iter()
        .map(|p| p.train_loss)
        .chain(r.minibatch_series.iter().map(|p| p.trailing_loss))
        .filter(|v| v.is_finite())
        .fold(r.initial_loss, f64::max)
        * 1.05;
    let mut c = ChartBuilder::on(&top)
        .caption(format!("ELAsyncSGD — {}", title(r)), ("sans-serif", 18))
        .margin(8)
        .x_label_area_size(20)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..t_max, 0.0..y_max)?;
    c.configure_mesh().y_desc("loss").draw()?;
    c.draw_series(LineSeries::new(
        r.minibatch_series
            .iter()
            .map(|p| (p.seconds, p.trailing_loss)),
        BLUE.mix(0.4),
    ))?;
    c.draw_series(LineSeries::new(
        r.series.iter().map(|p| (p.seconds, p.train_loss)),
        RED.stroke_width(2),
    ))?;
    let m_max = r
        .elastic
        .as_ref()
        .map_or(r.config.threads, |e| e.max_threads) as f64
        + 0.5;
    let mut c = ChartBuilder::on(&mid)
        .margin(8)
        .x_label_area_size(20)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..t_max, 0.0..m_max)?;
    c.configure_mesh().y_desc("m_E").draw()?;
    let mut steps: Vec<(f64, f64)> = Vec::new();
    match &r.elastic {
        Some(e) => {
            for (k, c) in e.trajectory.iter().enumerate() {
                let (t, m) = (c.seconds, c.threads);
                let end = e.trajectory.get(k + 1).map_or(t_max, |n| n.seconds);
                steps.push((t, m as f64));
                steps.push((end, m as f64));
            }
        }
        None => {
            steps = vec![
                (0.0, r.config.threads as f64),
                (t_max, r.config.threads as f64),
            ]
        }
    }
    c.draw_series(LineSeries::new(steps, GREEN.stroke_width(2)))?;
    let xi_max = r.ain.as_ref().map_or(1.0, |a| {
        a.series.iter().map(|p| p.norm).fold(1e-12, f64::max)
    }) * 1.05;
    let mut c = ChartBuilder::on(&bottom)
        .margin(8)
        .x_label_area_size(35)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..t_max, 0.0..xi_max)?;
    c.configure_mesh()
        .x_desc(seconds_label(r))
        .y_desc("‖ξ‖")
        .draw()?;
    if let Some(a) = &r.ain {
        c.draw_series(
            a.series
                .iter()
                .map(|p| Circle::new((p.seconds, p.norm), 1, MAGENTA.mix(0.5).filled())),
        )?;
    }
    Ok(())
}

fn draw_loss<DB: DrawingBackend>(r: &Report, area: &DrawingArea<DB, Shift>) -> PlotResult<()>
where
    DB::ErrorType: 'static,
{
    let t_max = r.seconds.max(1e-3);
    let mut ys: Vec<f64> = r
        .series
        .iter()
        .map(|p| p.train_loss)
        .chain(r.minibatch_series.iter().map(|p| p.trailing_loss))
        .filter(|v| v.is_finite())
        .collect();
    ys.push(r.initial_loss);
    let y_max = ys.iter().cloned().fold(0.0, f64::max) * 1.05;
    let mut chart = ChartBuilder::on(area)
        .caption(format!("loss over time — {}", title(r)), ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..t_max, 0.0..y_max.max(1e-3))?;
    chart
        .configure_mesh()
        .x_desc(seconds_label(r))
        .y_desc("cross-entropy")
        .draw()?;
    if !r.minibatch_series.is_empty() {
        chart
            .draw_series(LineSeries::new(
                r.minibatch_series
                    .iter()
                    .map(|p| (p.seconds, p.trailing_loss)),
                BLUE.mix(0.35),
            ))?
            .label("mini-batch loss (trailing 10)")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], BLUE.mix(0.35)));
    }
    chart
        .draw_series(LineSeries::new(
            r.series.iter().map(|p| (p.seconds, p.train_loss)),
            RED.stroke_width(2),
        ))?
        .label("evaluation-set loss")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], RED));
    // ε lines, labelled; labels of targets closer than a line of text apart go to the next
    // column, so none overlaps.
    let mut eps: Vec<_> = r.eps.iter().collect();
    eps.sort_by(|a, b| b.threshold.total_cmp(&a.threshold));
    let (mut column, mut last_y) = (0usize, f64::INFINITY);
    for e in eps {
        let c = if e.seconds.is_some() {
            BLACK.mix(0.5)
        } else {
            BLACK.mix(0.2)
        };
        chart.draw_series(LineSeries::new(
            vec![(0.0, e.threshold), (t_max, e.threshold)],
            c,
        ))?;
        let label = match e.seconds {
            Some(s) => format!("ε = {} % at {s:.2} s", e.fraction * 100.0),
            None => format!("ε = {} % not reached", e.fraction * 100.0),
        };
        column = if last_y - e.threshold < 0.045 * y_max {
            (column + 1) % 3
        } else {
            0
        };
        last_y = e.threshold;
        chart.draw_series(std::iter::once(Text::new(
            label,
            (t_max * (0.3 + 0.22 * column as f64), e.threshold),
            ("sans-serif", 13),
        )))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    Ok(())
}

fn draw_staleness<DB: DrawingBackend>(r: &Report, area: &DrawingArea<DB, Shift>) -> PlotResult<()>
where
    DB::ErrorType: 'static,
{
    let counts = &r.staleness.counts;
    let total = r.staleness.total.max(1) as f64;
    let n = counts.len().max(2);
    let observed_max = counts.iter().map(|&c| c as f64 / total).fold(0.0, f64::max);
    let p_max = r
        .staleness_fits
        .iter()
        .flat_map(|f| f.pmf.iter().copied())
        .fold(observed_max, f64::max)
        .max(1e-3);
    let mut chart = ChartBuilder::on(area)
        .caption(format!("staleness τ — {}", title(r)), ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d((0..n).into_segmented(), 0.0..p_max * 1.1)?;
    chart
        .configure_mesh()
        .x_desc("τ")
        .y_desc("fraction of updates")
        .draw()?;
    chart
        .draw_series(
            Histogram::vertical(&chart)
                .style(BLUE.mix(0.5).filled())
                .margin(1)
                .data(
                    counts
                        .iter()
                        .enumerate()
                        .map(|(t, &c)| (t, c as f64 / total)),
                ),
        )?
        .label("observed")
        .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], BLUE.mix(0.5).filled()));
    // The fitted models of Table A.1 (minimum Bhattacharyya distance), pmf at each τ.
    let colours = [RED, GREEN, MAGENTA, BLACK];
    for (f, c) in r.staleness_fits.iter().zip(colours) {
        let params: Vec<String> = f
            .params
            .iter()
            .map(|(k, v)| format!("{k}={v:.3}"))
            .collect();
        let label = format!(
            "{} ({}), D_B={:.4}",
            f.family,
            params.join(", "),
            f.bhattacharyya
        );
        chart
            .draw_series(LineSeries::new(
                f.pmf
                    .iter()
                    .enumerate()
                    .map(|(t, &p)| (SegmentValue::CenterOf(t), p.min(p_max * 1.1))),
                c.stroke_width(2),
            ))?
            .label(label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    Ok(())
}

fn draw_stepsize<DB: DrawingBackend>(r: &Report, area: &DrawingArea<DB, Shift>) -> PlotResult<()>
where
    DB::ErrorType: 'static,
{
    let f = &r.step_size.factors;
    let y_max = f.iter().cloned().fold(1.0, f64::max) * 1.1;
    let mut chart = ChartBuilder::on(area)
        .caption(
            format!("step-size factor η(τ)/η0 — {}", title(r)),
            ("sans-serif", 18),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..(f.len().max(2) - 1) as f64, 0.0..y_max)?;
    chart
        .configure_mesh()
        .x_desc("τ")
        .y_desc("η(τ)/η0")
        .draw()?;
    chart.draw_series(LineSeries::new(
        f.iter().enumerate().map(|(t, &v)| (t as f64, v)),
        RED.stroke_width(2),
    ))?;
    chart.draw_series(
        f.iter()
            .enumerate()
            .map(|(t, &v)| Circle::new((t as f64, v), 3, RED.filled())),
    )?;
    chart.draw_series(LineSeries::new(
        vec![(0.0, 1.0), ((f.len().max(2) - 1) as f64, 1.0)],
        BLACK.mix(0.3),
    ))?;
    Ok(())
}
