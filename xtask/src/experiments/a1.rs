//! Table A.1 / Fig. A.2: the staleness models fitted to the S1 runs' measured histograms.

use super::runner::Runner;
use super::{chart, merged_staleness, s1, Exec, ALGS_B};
use crate::chart::{Chart, Series};
use crate::suite::Section;
use std::fmt::Write as _;
use std::path::Path;

/// (model, Bhattacharyya distance) per fitted model.
type Distances = Vec<(String, f64)>;

/// "p1, p2 (D_B)", or the parameter named as on a search bound: not a fit (§A.4's exhaustive
/// search has no bound; ours has, and a value on it says only that the optimum lies beyond).
fn show(f: &staleness::Fit) -> String {
    let p: Vec<String> = f
        .model
        .params()
        .iter()
        .map(|(_, v)| format!("{v:.3}"))
        .collect();
    let bound: Vec<&str> = f.at_bound.iter().map(|b| b.param).collect();
    if bound.is_empty() {
        format!("{} ({:.3})", p.join(", "), f.bhattacharyya)
    } else {
        format!("{} on a search bound, no fit", bound.join(", "))
    }
}

/// The thesis' Table A.1 (Ch. A's AsyncSGD, CIFAR-10 CNN, 36-thread Xeon): workers m, p (Geom),
/// τ̂ (Unif), λ (Pois), ν (CMP, found with λ from A.13).
// ν = 6.28 at m = 2 is the thesis' fitted value, not 2π.
#[allow(clippy::approx_constant)]
pub const THESIS: [(usize, f64, f64, f64, f64); 8] = [
    (2, 0.34, 2.0, 2.0, 6.28),
    (4, 0.21, 5.0, 4.0, 5.26),
    (8, 0.12, 11.0, 8.0, 4.18),
    (16, 0.06, 22.0, 16.0, 3.48),
    (20, 0.05, 31.0, 19.7, 0.93),
    (24, 0.04, 37.0, 23.8, 0.95),
    (28, 0.04, 48.0, 26.5, 0.39),
    (32, 0.03, 48.0, 32.0, 0.87),
];

/// One cell's fitted parameters in Table A.1's terms (None: no fit, or on a search bound).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Params {
    pub p: Option<f64>,
    pub tau_hat: Option<f64>,
    pub lambda: Option<f64>,
    pub nu_a13: Option<f64>,
}

fn param(f: Option<&staleness::Fit>, name: &str) -> Option<f64> {
    let f = f.filter(|f| f.at_bound.is_empty())?;
    f.model.params().iter().find(|p| p.0 == name).map(|p| p.1)
}

/// Table A.1's parameters from the family fits and the A.13 fit of one cell.
pub fn params(fits: &[staleness::Fit], a13: Option<&staleness::Fit>) -> Params {
    let of = |fam| fits.iter().find(|f| f.model.family() == fam);
    Params {
        p: param(of(staleness::Family::Geometric), "p"),
        tau_hat: param(of(staleness::Family::Uniform), "max"),
        lambda: param(of(staleness::Family::Poisson), "lambda"),
        nu_a13: param(a13, "nu"),
    }
}

/// Of the steps between consecutive m where both ours and the thesis' value exist, how many
/// change in the same direction (rising, falling; equal counts as neither): (agree, steps).
pub fn same_direction(
    ours: &[(usize, Option<f64>)],
    thesis: impl Fn(usize) -> Option<f64>,
) -> (usize, usize) {
    let pts: Vec<(f64, f64)> = ours
        .iter()
        .filter_map(|&(m, v)| Some((v?, thesis(m)?)))
        .collect();
    let sign = |d: f64| {
        if d > 0.0 {
            1
        } else if d < 0.0 {
            -1
        } else {
            0
        }
    };
    let steps = pts.len().saturating_sub(1);
    let agree = pts
        .windows(2)
        .filter(|w| sign(w[1].0 - w[0].0) == sign(w[1].1 - w[0].1))
        .count();
    (agree, steps)
}

/// Our fits for `label` next to Table A.1, with the thesis' observations tested.
fn beside_thesis(label: &str, rows: &[(usize, Params)], md: &mut String) {
    let thesis = |m: usize| THESIS.iter().find(|t| t.0 == m);
    let rows: Vec<&(usize, Params)> = rows.iter().filter(|r| thesis(r.0).is_some()).collect();
    if rows.is_empty() {
        return;
    }
    let _ = write!(
        md,
        "\n**{label} next to Table A.1** (thesis in parentheses; Table A.1's ν is the A.13 fit):\n\n\
         | m | p (Geom) | τ̂ (Unif) | λ (Pois) | λ / m | ν (CMP, A.13) |\n|---|---|---|---|---|---|\n"
    );
    for (m, p) in &rows {
        let t = thesis(*m).expect("filtered");
        let f = |x: Option<f64>, d: usize| super::opt(x, d);
        let _ = writeln!(
            md,
            "| {m} | {} ({}) | {} ({}) | {} ({}) | {} ({:.2}) | {} ({}) |",
            f(p.p, 3),
            t.1,
            f(p.tau_hat, 0),
            t.2,
            f(p.lambda, 2),
            t.3,
            f(p.lambda.map(|l| l / *m as f64), 2),
            t.3 / *m as f64,
            f(p.nu_a13, 2),
            t.4
        );
    }
    let series = |g: fn(&Params) -> Option<f64>| -> Vec<(usize, Option<f64>)> {
        rows.iter().map(|(m, p)| (*m, g(p))).collect()
    };
    let dir = |g: fn(&Params) -> Option<f64>, h: fn(&(usize, f64, f64, f64, f64)) -> f64| {
        let (a, n) = same_direction(&series(g), |m| thesis(m).map(h));
        format!("{a} of {n}")
    };
    let near_m = rows
        .iter()
        .filter(|(m, p)| {
            p.lambda
                .is_some_and(|l| (l / *m as f64 - 1.0).abs() <= 0.15)
        })
        .count();
    let near_m1 = rows
        .iter()
        .filter(|(m, p)| {
            *m > 1
                && p.lambda
                    .is_some_and(|l| (l / (*m as f64 - 1.0) - 1.0).abs() <= 0.15)
        })
        .count();
    let fitted = rows.iter().filter(|(_, p)| p.lambda.is_some()).count();
    let _ = writeln!(
        md,
        "\nVerdicts on {label}: λ (Pois) within 15 % of m in {near_m} of {fitted} cells, within 15 % \
         of m − 1 in {near_m1} (thesis, Table A.1 and §A.6 (i): λ ≈ m). Steps between consecutive \
         m that move in the thesis' direction: p {}, τ̂ {}, λ {}, ν {} (thesis, Table A.1: p \
         falls, τ̂ and λ rise, ν falls with m).",
        dir(|p| p.p, |t| t.1),
        dir(|p| p.tau_hat, |t| t.2),
        dir(|p| p.lambda, |t| t.3),
        dir(|p| p.nu_a13, |t| t.4),
    );
}

pub fn run(
    r: &mut Runner,
    img: &Path,
    exec: &Exec,
    plan: &s1::Plan,
    name: &'static str,
) -> Section {
    let all = s1::runs(r, exec, plan);
    let mut md = format!(
        "## Table A.1 / Fig. A.2: staleness models fitted to measured histograms{}\n\n\
         The histograms of the S1 runs (all repeats of a cell summed), fitted by minimum \
         Bhattacharyya distance D_B as Table A.1 (`staleness::fit`); CMP also under the thesis' \
         assumption (A.13) λ = m^ν with a 1-D search over ν. Each cell: parameter (D_B); a \
         parameter that ends on its search bound is reported as such, not as a fit. S1's cells: \
         m ∈ {:?}, {}.{}\n\n\
         | algorithm | m | updates | τ mean | p (Geom) | τ̂ (Unif) | λ (Pois) | λ, ν (CMP) | ν (CMP, A.13) | best |\n\
         |---|---|---|---|---|---|---|---|---|---|\n",
        exec.heading(),
        plan.ms,
        plan.budget.describe(),
        exec.note(&plan.ms)
    );
    let mut fitted: Vec<(&str, usize, Params)> = Vec::new();
    let mut dist: Vec<(&str, usize, Distances)> = Vec::new();
    for (label, m, runs) in all.iter().filter(|(l, m, _)| *m > 1 && !l.ends_with("ps1")) {
        let (c, over) = merged_staleness(runs);
        let counts = staleness::Counts::from_counts(c);
        if counts.total() == 0 {
            continue;
        }
        let fits = staleness::fit::fit_families(&counts);
        let a13 = staleness::fit::fit_cmp_a13(&counts, *m as f64);
        let cell = |fam: staleness::Family| -> String {
            fits.iter()
                .find(|f| f.model.family() == fam)
                .map_or("–".into(), show)
        };
        let _ = writeln!(
            md,
            "| {label} | {m} | {}{} | {:.2} | {} | {} | {} | {} | {} | {} |",
            counts.total(),
            if over > 0 {
                format!(" (+{over} > τ_max)")
            } else {
                String::new()
            },
            counts.mean(),
            cell(staleness::Family::Geometric),
            cell(staleness::Family::Uniform),
            cell(staleness::Family::Poisson),
            cell(staleness::Family::Cmp),
            a13.as_ref().map_or("–".into(), |f| {
                if !f.at_bound.is_empty() {
                    return "ν on a search bound, no fit".into();
                }
                let nu = f
                    .model
                    .params()
                    .iter()
                    .find(|p| p.0 == "nu")
                    .map_or(f64::NAN, |p| p.1);
                format!("{nu:.3} ({:.3})", f.bhattacharyya)
            }),
            fits.first().map_or("–", |f| f.model.family().name())
        );
        let mut d: Distances = fits
            .iter()
            .map(|f| (f.model.family().name().to_string(), f.bhattacharyya))
            .collect();
        if let Some(f) = &a13 {
            d.push(("cmp (A.13)".into(), f.bhattacharyya));
        }
        dist.push((label, *m, d));
        fitted.push((label, *m, params(&fits, a13.as_ref())));
    }
    let best_counts = |fam: &str| {
        dist.iter()
            .filter(|(_, _, d)| {
                d.iter()
                    .filter(|x| !x.0.contains("A.13"))
                    .min_by(|a, b| a.1.total_cmp(&b.1))
                    .is_some_and(|x| x.0 == fam)
            })
            .count()
    };
    let a13_worse = dist
        .iter()
        .filter(|(_, _, d)| {
            let get = |n: &str| d.iter().find(|x| x.0 == n).map(|x| x.1);
            matches!((get("cmp (A.13)"), get("cmp")), (Some(a), Some(c)) if a > c)
        })
        .count();
    let _ = writeln!(
        md,
        "\nBest model by D_B: CMP in {} of {} cells, Poisson in {}, geometric in {}, uniform in {} \
         (thesis, Fig. A.2: CMP best, Poisson second). The A.13 restriction λ = m^ν fits worse \
         than the free CMP fit in {a13_worse} of {} cells: our τ counts the updates published \
         during a gradient, whose mode is below m (m − 1 while every worker has its own core), \
         whereas λ = m^ν puts the CMP mode near m.",
        best_counts("cmp"),
        dist.len(),
        best_counts("poisson"),
        best_counts("geometric"),
        best_counts("uniform"),
        dist.len()
    );
    md.push_str(
        "\nThe thesis' Table A.1 (Ch. A's AsyncSGD on a CIFAR-10 CNN, Python/TensorFlow workers, \
         36-thread Xeon; its ν from the 1-D search under A.13), for comparison:\n\n\
         | τ model (Table A.1) | m = 2 | 4 | 8 | 16 | 20 | 24 | 28 | 32 |\n|---|---|---|---|---|---|---|---|---|\n",
    );
    for (name, g) in [
        (
            "p (Geom)",
            (|t| t.1) as fn(&(usize, f64, f64, f64, f64)) -> f64,
        ),
        ("τ̂ (Unif)", |t| t.2),
        ("λ (Pois)", |t| t.3),
        ("ν (CMP)", |t| t.4),
    ] {
        let cells: Vec<String> = THESIS.iter().map(|t| g(t).to_string()).collect();
        let _ = writeln!(md, "| {name} | {} |", cells.join(" | "));
    }
    // ASYNC is the thesis' Ch. A algorithm; the others show how the models carry over.
    for label in ["ASYNC", "HOG"] {
        let rows: Vec<(usize, Params)> = fitted
            .iter()
            .filter(|f| f.0 == label)
            .map(|f| (f.1, f.2))
            .collect();
        beside_thesis(label, &rows, &mut md);
    }
    for &(label, _, _) in ALGS_B.iter().filter(|a| !a.0.ends_with("ps1")) {
        let rows: Vec<_> = dist.iter().filter(|d| d.0 == label).collect();
        let mut names: Vec<String> = rows
            .first()
            .map(|r| r.2.iter().map(|x| x.0.clone()).collect())
            .unwrap_or_default();
        names.sort();
        let series = names
            .iter()
            .map(|n| Series {
                name: n.clone(),
                points: rows
                    .iter()
                    .filter_map(|r| r.2.iter().find(|x| &x.0 == n).map(|x| (r.1 as f64, x.1)))
                    .collect(),
            })
            .collect();
        let file = format!(
            "{name}-bhattacharyya-{}.svg",
            label.replace('∞', "inf").to_lowercase()
        );
        chart(
            img,
            &file,
            Chart {
                title: format!("Fig. A.2: Bhattacharyya distance of the fitted models, {label}"),
                x_label: "threads m".into(),
                y_label: "D_B (lower is better)".into(),
                series,
                log_x: false,
                log_y: true,
            },
            &mut md,
        );
    }
    Section { name, markdown: md }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directions_are_compared_step_by_step() {
        let thesis = |m: usize| THESIS.iter().find(|t| t.0 == m).map(|t| t.1);
        // p falls 0.34 → 0.21 → 0.12 → 0.06 in the thesis; ours falls, rises, falls.
        let ours = [
            (2, Some(0.5)),
            (4, Some(0.3)),
            (8, Some(0.4)),
            (16, Some(0.1)),
        ];
        assert_eq!(same_direction(&ours, thesis), (2, 3));
        // A missing fit and an m outside Table A.1 drop out of the steps.
        let gaps = [(2, Some(0.5)), (3, Some(0.1)), (4, None), (8, Some(0.2))];
        assert_eq!(same_direction(&gaps, thesis), (1, 1));
        assert_eq!(same_direction(&[], thesis), (0, 0));
    }

    #[test]
    fn params_come_from_fits_off_their_bounds() {
        let mut counts = vec![0u64; 40];
        // A Poisson-like histogram around 8.
        for (t, c) in counts.iter_mut().enumerate() {
            let t = t as f64;
            *c = (1e5 * (-8.0f64).exp() * 8f64.powf(t) / libm_gamma(t + 1.0)).round() as u64;
        }
        let counts = staleness::Counts::from_counts(counts);
        let fits = staleness::fit::fit_families(&counts);
        let a13 = staleness::fit::fit_cmp_a13(&counts, 9.0);
        let p = params(&fits, a13.as_ref());
        let lambda = p.lambda.expect("a Poisson fit");
        assert!((lambda - 8.0).abs() < 0.2, "{p:?}");
        assert!(p.p.is_some_and(|x| x > 0.0 && x < 1.0), "{p:?}");
        assert!(p.tau_hat.is_some_and(|x| x >= 8.0), "{p:?}");
    }

    /// Γ(x) for the integers the test needs.
    fn libm_gamma(x: f64) -> f64 {
        (1..x.round() as u64).map(|k| k as f64).product()
    }
}
