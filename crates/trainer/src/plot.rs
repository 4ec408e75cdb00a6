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

fn register_font() {
    REGISTER.call_once(|| {
        // The bundled font is valid; registration only fails on malformed font data.
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT);
    });
}

type PlotResult<T> = Result<T, Box<dyn std::error::Error>>;

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

fn title(r: &Report) -> String {
    format!(
        "{} {} m={} b={} η={} {}",
        r.config.algorithm,
        r.network.arch,
        r.config.threads,
        r.config.batch,
        r.config.eta,
        r.step_size.policy.split_whitespace().next().unwrap_or("")
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
            for (k, &(t, m)) in e.trajectory.iter().enumerate() {
                let end = e.trajectory.get(k + 1).map_or(t_max, |n| n.0);
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
    let xi_max = r
        .ain
        .as_ref()
        .map_or(1.0, |a| a.series.iter().map(|p| p.1).fold(1e-12, f64::max))
        * 1.05;
    let mut c = ChartBuilder::on(&bottom)
        .margin(8)
        .x_label_area_size(35)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..t_max, 0.0..xi_max)?;
    c.configure_mesh()
        .x_desc("wall-clock seconds")
        .y_desc("‖ξ‖")
        .draw()?;
    if let Some(a) = &r.ain {
        c.draw_series(
            a.series
                .iter()
                .map(|&(t, v)| Circle::new((t, v), 1, MAGENTA.mix(0.5).filled())),
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
        .x_desc("wall-clock seconds")
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
    for e in &r.eps {
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
            Some(s) => format!("ε={}% at {s:.2}s", e.fraction * 100.0),
            None => format!("ε={}% not reached", e.fraction * 100.0),
        };
        chart.draw_series(std::iter::once(Text::new(
            label,
            (t_max * 0.45, e.threshold),
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

/// One named line of a [`Chart`].
#[derive(Clone, Debug, Default)]
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

/// A line chart of several series: what `cargo xtask bench` draws its figures with. Points with
/// non-finite coordinates (or ≤ 0 on a log axis) are left out.
#[derive(Clone, Debug, Default)]
pub struct Chart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub series: Vec<Series>,
    pub log_x: bool,
    pub log_y: bool,
}

/// A short axis label: 3 significant digits, no float noise ("0.3", not "0.30000000001").
fn compact(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    let a = v.abs();
    if !(1e-3..1e5).contains(&a) {
        return format!("{v:.1e}");
    }
    let decimals = (2 - a.log10().floor() as i32).max(0) as usize;
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

const PALETTE: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];

impl Chart {
    /// The bounds of the drawable points, padded; `None` when there is nothing to draw.
    fn bounds(&self, log: bool, pick: fn(&(f64, f64)) -> f64) -> Option<(f64, f64)> {
        let ok = |v: f64| v.is_finite() && (!log || v > 0.0);
        let (lo, hi) = self
            .series
            .iter()
            .flat_map(|s| s.points.iter())
            .filter(|p| ok(p.0) && ok(p.1))
            .map(pick)
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
                (a.min(v), b.max(v))
            });
        if lo > hi {
            return None;
        }
        Some(if log {
            (lo / 1.25, hi * 1.25)
        } else if hi > lo {
            let pad = (hi - lo) * 0.05;
            (lo - pad, hi + pad)
        } else {
            (lo - 0.5, hi + 0.5)
        })
    }

    /// Write the chart to `path`: PNG if it ends in `.png`, SVG otherwise (through a temporary
    /// file and a rename).
    pub fn write(&self, path: &Path) -> PlotResult<()> {
        register_font();
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or("chart path has no file name")?;
        let png = name.ends_with(".png");
        let tmp = path.with_file_name(format!(".{name}.tmp{}", if png { ".png" } else { "" }));
        if png {
            let area = BitMapBackend::new(&tmp, (900, 540)).into_drawing_area();
            self.draw_scaled(&area)?;
            area.present()?;
        } else {
            let area = SVGBackend::new(&tmp, (900, 540)).into_drawing_area();
            self.draw_scaled(&area)?;
            area.present()?;
        }
        std::fs::rename(&tmp, path)?;
        Ok(())
    }

    fn draw_scaled<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> PlotResult<()>
    where
        DB::ErrorType: 'static,
    {
        area.fill(&WHITE)?;
        let xs = self.bounds(self.log_x, |p| p.0).unwrap_or((1.0, 2.0));
        let ys = self.bounds(self.log_y, |p| p.1).unwrap_or((1.0, 2.0));
        match (self.log_x, self.log_y) {
            (false, false) => self.draw(area, xs.0..xs.1, ys.0..ys.1),
            (true, false) => self.draw(area, (xs.0..xs.1).log_scale(), ys.0..ys.1),
            (false, true) => self.draw(area, xs.0..xs.1, (ys.0..ys.1).log_scale()),
            (true, true) => self.draw(area, (xs.0..xs.1).log_scale(), (ys.0..ys.1).log_scale()),
        }
    }

    fn draw<DB, X, Y>(&self, area: &DrawingArea<DB, Shift>, x: X, y: Y) -> PlotResult<()>
    where
        DB: DrawingBackend,
        DB::ErrorType: 'static,
        X: plotters::coord::ranged1d::AsRangedCoord<Value = f64>,
        Y: plotters::coord::ranged1d::AsRangedCoord<Value = f64>,
        X::CoordDescType: plotters::coord::ranged1d::ValueFormatter<f64>,
        Y::CoordDescType: plotters::coord::ranged1d::ValueFormatter<f64>,
    {
        let mut c = ChartBuilder::on(area)
            .caption(&self.title, ("sans-serif", 20))
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(x, y)?;
        c.configure_mesh()
            .x_desc(self.x_label.as_str())
            .y_desc(self.y_label.as_str())
            .x_labels(10)
            .y_labels(10)
            .x_label_formatter(&|v: &f64| compact(*v))
            .y_label_formatter(&|v: &f64| compact(*v))
            .draw()?;
        let ok = |v: f64, log: bool| v.is_finite() && (!log || v > 0.0);
        for (i, s) in self.series.iter().enumerate() {
            let color = PALETTE[i % PALETTE.len()];
            let pts: Vec<(f64, f64)> = s
                .points
                .iter()
                .copied()
                .filter(|p| ok(p.0, self.log_x) && ok(p.1, self.log_y))
                .collect();
            c.draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))?
                .label(s.name.as_str())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
                });
            if pts.len() <= 40 {
                c.draw_series(pts.iter().map(|&p| Circle::new(p, 3, color.filled())))?;
            }
        }
        c.configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .position(SeriesLabelPosition::UpperRight)
            .draw()?;
        Ok(())
    }
}

#[cfg(test)]
mod chart_tests {
    use super::*;

    #[test]
    fn chart_writes_svg_with_every_series_and_skips_bad_points() {
        let dir = std::env::temp_dir().join(format!("chart-test-{}", std::process::id()));
        let path = dir.join("c.svg");
        let chart = Chart {
            title: "t".into(),
            x_label: "m".into(),
            y_label: "seconds".into(),
            series: vec![
                Series {
                    name: "alpha-line".into(),
                    points: vec![(1.0, 2.0), (2.0, f64::NAN), (4.0, 0.5)],
                },
                Series {
                    name: "beta-line".into(),
                    points: vec![(1.0, 0.0), (2.0, 3.0)],
                },
            ],
            log_x: true,
            log_y: true,
        };
        chart.write(&path).unwrap();
        chart.write(&dir.join("c.png")).unwrap();
        assert!(std::fs::metadata(dir.join("c.png")).unwrap().len() > 1000);
        let svg = std::fs::read_to_string(&path).unwrap();
        assert!(svg.contains("alpha-line") && svg.contains("beta-line"));
        assert!(!dir.join(".c.svg.tmp").exists());
        // Nothing drawable is not an error: an empty frame.
        assert_eq!(compact(0.30000000001), "0.3");
        assert_eq!(compact(2.0), "2");
        assert_eq!(compact(12.5), "12.5");
        assert_eq!(compact(0.0125), "0.0125");
        assert_eq!(compact(2.5e-5), "2.5e-5");
        let empty = Chart::default();
        empty.write(&dir.join("e.svg")).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
