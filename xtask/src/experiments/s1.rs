//! §B.5 S1 (scalability to ε = 50 %, Fig. B.3, B.4, B.7) and the §B.4 fixed point n*_γ (B.7).

use super::runner::Runner;
use super::stats::{median, ratio_ci, time_verdict};
use super::{
    alg_args, chart, eps_s, eps_u, median_by, merged_staleness, mmm, opt, outcomes, s, values,
    Budget, Cells, Exec, ALGS_B,
};
use crate::chart::{Chart, Series};
use crate::suite::Section;
use std::fmt::Write as _;
use std::path::Path;
use trainer::Report;

pub fn ms(quick: bool) -> Vec<usize> {
    if quick {
        vec![1, 2, 4]
    } else {
        vec![1, 2, 4, 8, 16]
    }
}

/// Thesis preset, b = 512: ε = 50 % takes 200–350 updates here; 2,000 leaves room for slow
/// cells, and the cap only stops a run that is far slower than any healthy one.
fn budget(quick: bool) -> Budget {
    Budget {
        updates: 2_000,
        batch: 512,
        cap_seconds: if quick { 60.0 } else { 120.0 },
    }
}

/// What one S1 section runs: its name (section, cache folder and figure prefix), its thread
/// counts and its budget.
pub struct Plan {
    pub name: &'static str,
    pub ms: Vec<usize>,
    pub budget: Budget,
}

/// S1 on real threads, scaled to this machine.
pub fn plan(quick: bool) -> Plan {
    Plan {
        name: "s1",
        ms: ms(quick),
        budget: budget(quick),
    }
}

/// Every S1 cell: (algorithm label, m, runs). A.1 reuses them (from the cache).
pub fn runs(r: &mut Runner, exec: &Exec, plan: &Plan) -> Cells {
    let mut out = Vec::new();
    for &(label, alg, p) in ALGS_B {
        for &m in &plan.ms {
            let mut args = s(&["--preset", "thesis", "--arch", "mlp"]);
            args.extend(exec.args.iter().map(|a| a.to_string()));
            args.extend(alg_args(alg, p, m));
            args.extend(plan.budget.args());
            args.extend(s(&["--eps", "0.5", "--stop-at-eps"]));
            let runs = r.cell(plan.name, &exec.label(&format!("{label} m={m}")), &args);
            out.push((label, m, runs));
        }
    }
    out
}

/// Milliseconds per update (wall clock, or virtual in a simulation), all threads together.
pub fn ms_per_update(v: &Report) -> Option<f64> {
    Some(1e3 * v.seconds / v.updates.total as f64)
}

/// Mean threads inside the update (Little's law): calls × mean update time / wall time.
fn occupancy(v: &Report) -> Option<f64> {
    Some(v.updates.total as f64 * v.tu_us.mean * 1e-6 / v.seconds)
}

pub fn run(r: &mut Runner, img: &Path, exec: &Exec, plan: &Plan) -> Section {
    section(&runs(r, exec, plan), img, exec, plan)
}

/// The section of S1's cells `all`.
pub fn section(all: &Cells, img: &Path, exec: &Exec, plan: &Plan) -> Section {
    let ms = plan.ms.clone();
    let clock = exec.clock();
    let mut md = format!(
        "## §B.5 S1: scalability to ε = 50 % (Fig. B.3, B.4, B.7) and the §B.4 fixed point{}\n\n\
         MLP 3×128, b = 512, thesis preset (η = 0.005), stop at ε = 50 %, m ∈ {ms:?}, {}. Runs \
         that did not reach ε are counted by outcome (`diverged`: non-finite loss or loss past \
         its bound; `not_converged`: budget spent), never timed (as the thesis' box plots, \
         §B.5). Time per update = {clock} time / updates (all threads together).{}\n\n\
         | algorithm | m | time to 50 % | updates to 50 % (median) | {clock} ms / update | T_c ms (mean) | T_u µs (mean) | τ mean | τ p99 | not reached |\n\
         |---|---|---|---|---|---|---|---|---|---|\n",
        exec.heading(),
        plan.budget.describe(),
        exec.note(&ms)
    );
    for (label, m, runs) in all {
        let _ = writeln!(
            md,
            "| {label} | {m} | {} | {} | {} | {} | {} | {} | {} | {} |",
            mmm(runs, eps_s(0), " s", 2),
            opt(median_by(runs, eps_u(0)), 0),
            opt(median_by(runs, ms_per_update), 2),
            opt(median_by(runs, |v| Some(v.tc_ms.mean)), 2),
            opt(median_by(runs, |v| Some(v.tu_us.mean)), 0),
            opt(median_by(runs, |v| Some(v.staleness.mean)), 2),
            opt(median_by(runs, |v| Some(v.staleness.p99 as f64)), 0),
            outcomes(runs)
        );
    }
    verdicts(all, &ms, &mut md);
    figures(all, &ms, img, plan.name, clock, &mut md);
    fixed_point(all, clock, &mut md);
    Section {
        name: plan.name,
        markdown: md,
    }
}

/// What the thesis claims at high m, tested: Leashed-SGD reaches ε sooner than the baselines
/// (Fig. B.3), and the persistence bound lowers staleness (Fig. B.7).
fn verdicts(all: &Cells, ms: &[usize], md: &mut String) {
    let m_max = *ms.last().unwrap_or(&1);
    let at = |label: &str| {
        all.iter()
            .find(|(l, m, _)| *l == label && *m == m_max)
            .map(|(_, _, runs)| runs)
    };
    let best_of = |labels: &[&'static str]| {
        labels
            .iter()
            .filter_map(|l| Some((median(&values(at(l)?, eps_s(0)))?, *l)))
            .min_by(|a, b| a.0.total_cmp(&b.0))
    };
    if let (Some((_, lb)), Some((_, ll))) = (
        best_of(&["ASYNC", "HOG"]),
        best_of(&["LSH_ps∞", "LSH_ps1", "LSH_ps0"]),
    ) {
        let (Some(b), Some(l)) = (at(lb), at(ll)) else {
            return;
        };
        let ci = ratio_ci(&values(l, eps_s(0)), &values(b, eps_s(0)));
        let _ = writeln!(
            md,
            "\n**At m = {m_max}, time to 50 %** (thesis, Fig. B.3: Leashed-SGD faster at high m, \
             where the baselines fail), best Leashed-SGD variant against the best baseline by \
             median: {}.",
            time_verdict(ll, lb, ci)
        );
    }
    if let (Some(inf), Some(zero)) = (at("LSH_ps∞"), at("LSH_ps0")) {
        let tau = |v: &Report| Some(v.staleness.mean);
        let ci = ratio_ci(&values(zero, tau), &values(inf, tau));
        let said = match ci {
            Some(c) if c.hi < 1.0 => "the bound lowers it significantly here",
            Some(c) if c.lo > 1.0 => "the bound raises it significantly here: not reproduced",
            Some(_) => "no significant difference here",
            None => "too few runs to compare",
        };
        let _ = writeln!(
            md,
            "Mean staleness at m = {m_max} (thesis, Fig. B.7: the persistence bound lowers \
             staleness): LSH_ps0 / LSH_ps∞ {} ({:.0} % CI): {said}.",
            ci.map_or("–".into(), |c| c.show()),
            super::stats::LEVEL * 100.0
        );
    }
}

fn figures(all: &Cells, ms: &[usize], img: &Path, name: &str, clock: &str, md: &mut String) {
    let m_max = *ms.last().unwrap_or(&1);
    let series = |metric: &dyn Fn(&[Option<Report>]) -> Option<f64>| -> Vec<Series> {
        ALGS_B
            .iter()
            .map(|&(label, _, _)| Series {
                name: label.to_string(),
                points: all
                    .iter()
                    .filter(|(l, _, _)| *l == label)
                    .filter_map(|(_, m, runs)| Some((*m as f64, metric(runs)?)))
                    .collect(),
            })
            .collect()
    };
    let plot = |file: &str, title: &str, y: &str, series: Vec<Series>, md: &mut String| {
        chart(
            img,
            file,
            Chart {
                title: title.into(),
                x_label: "threads m".into(),
                y_label: y.into(),
                series,
                log_x: false,
                log_y: true,
            },
            md,
        )
    };
    plot(
        &format!("{name}-time-to-50.svg"),
        &format!("S1: time to ε = 50 % (median, {clock} seconds), MLP b=512"),
        &format!("{clock} seconds"),
        series(&|runs| median_by(runs, eps_s(0))),
        md,
    );
    plot(
        &format!("{name}-time-per-update.svg"),
        &format!("S1: {clock} time per update (median), MLP b=512"),
        "ms per update",
        series(&|runs| median_by(runs, ms_per_update)),
        md,
    );
    let pmf: Vec<Series> = all
        .iter()
        .filter(|(_, m, _)| *m == m_max)
        .map(|(label, _, runs)| {
            let (c, over) = merged_staleness(runs);
            let total = (c.iter().sum::<u64>() + over).max(1) as f64;
            Series {
                name: label.to_string(),
                points: c
                    .iter()
                    .enumerate()
                    .map(|(t, &n)| (t as f64, n as f64 / total))
                    .collect(),
            }
        })
        .collect();
    chart(
        img,
        &format!("{name}-staleness.svg"),
        Chart {
            title: format!("S1: staleness distribution at m = {m_max} (Fig. B.7), all repeats"),
            x_label: "staleness τ".into(),
            y_label: "fraction of updates".into(),
            series: pmf,
            log_x: false,
            log_y: true,
        },
        md,
    );
}

/// §B.4: the fixed point n*_γ (B.7) against the measured occupancy of the update.
fn fixed_point(all: &Cells, clock: &str, md: &mut String) {
    let _ = write!(
        md,
        "\n### §B.4: predicted threads in the retry loop n*_γ (B.7) against the measured occupancy\n\n\
         Prediction from the uncontended m = 1 run of the same algorithm: n*_γ = m / ((T_c/T_u)(1+γ) + 1) \
         with T_c the mean gradient time and T_u the mean time of one update attempt at m = 1, and \
         γ = abandoned / published updates measured at m (the thesis gives no model for γ; it is 0 \
         for persistence ∞). Measured occupancy = updates × mean update time (retries included) / \
         wall time, i.e. the time-averaged number of threads inside the update (Little's law). For \
         ASYNC the update includes waiting for the lock, for HOG it is the lock-free axpy. \
         Times: {clock}.\n\n\
         | algorithm | m | T_c ms (m=1) | T_u µs per attempt (m=1) | γ | predicted n*_γ | measured occupancy | measured / predicted | CAS attempts per update |\n\
         |---|---|---|---|---|---|---|---|---|\n",
    );
    for &(label, _, _) in ALGS_B {
        let Some((_, _, base)) = all.iter().find(|(l, m, _)| *l == label && *m == 1) else {
            continue;
        };
        let tc1 = median_by(base, |v| Some(v.tc_ms.mean));
        let tu1 = median_by(base, |v| Some(v.tu_us.mean / v.attempts.mean.max(1.0)));
        for (_, m, runs) in all.iter().filter(|(l, m, _)| *l == label && *m > 1) {
            let gamma = median_by(runs, |v| {
                Some(v.updates.not_published as f64 / (v.updates.applied as f64).max(1.0))
            });
            let occ = median_by(runs, occupancy);
            let pred = match (tc1, tu1, gamma) {
                (Some(tc), Some(tu), Some(g)) => Some(
                    staleness::Contention {
                        m: *m as f64,
                        tc: tc * 1e3,
                        tu,
                    }
                    .fixed_point_persistence(g),
                ),
                _ => None,
            };
            let _ = writeln!(
                md,
                "| {label} | {m} | {} | {} | {} | {} | {} | {} | {} |",
                opt(tc1, 2),
                opt(tu1, 1),
                opt(gamma, 3),
                opt(pred, 3),
                opt(occ, 3),
                match (occ, pred) {
                    (Some(o), Some(p)) if p > 0.0 => format!("{:.2}", o / p),
                    _ => "–".into(),
                },
                opt(median_by(runs, |v| Some(v.attempts.mean)), 3)
            );
        }
    }
}
