//! The line charts `cargo xtask bench` draws its figures with (PNG or SVG), on the trainer's
//! bundled font (`trainer::plot::register_font`), so plotting needs no system fontconfig.

use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::Path;
use trainer::plot::{register_font, PlotResult};

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
