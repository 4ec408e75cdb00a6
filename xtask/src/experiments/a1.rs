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

pub fn run(r: &mut Runner, img: &Path, exec: &Exec) -> Section {
    let all = s1::runs(r, exec);
    let mut md = String::from(
        "## Table A.1 / Fig. A.2: staleness models fitted to measured histograms\n\n\
         The histograms of the S1 runs (all repeats of a cell summed), fitted by minimum \
         Bhattacharyya distance D_B as Table A.1 (`staleness::fit`); CMP also under the thesis' \
         assumption (A.13) λ = m^ν with a 1-D search over ν. Each cell: parameter (D_B); a \
         parameter that ends on its search bound is reported as such, not as a fit.\n\n\
         | algorithm | m | updates | τ mean | p (Geom) | τ̂ (Unif) | λ (Pois) | λ, ν (CMP) | ν (CMP, A.13) | best |\n\
         |---|---|---|---|---|---|---|---|---|---|\n",
    );
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
        "\nThe thesis' Table A.1 (Ch. A's AsyncSGD runs, 2–32 workers), for comparison:\n\n\
         | τ model (Table A.1) | m = 2 | 4 | 8 | 16 |\n|---|---|---|---|---|\n\
         | p (Geom) | 0.34 | 0.21 | 0.12 | 0.06 |\n| τ̂ (Unif) | 2 | 5 | 11 | 22 |\n\
         | λ (Pois) | 2.0 | 4.0 | 8.0 | 16.0 |\n| ν (CMP) | 6.28 | 5.26 | 4.18 | 3.48 |\n",
    );
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
            "a1-bhattacharyya-{}.svg",
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
    Section {
        name: "a1",
        markdown: md,
    }
}
