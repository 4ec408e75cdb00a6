//! §B.5 S2/S3 (high-precision convergence, Fig. B.5, B.8) and S5 (memory, Fig. B.10).

use super::runner::{Runner, Runs};
use super::stats::{median, ratio_ci, time_verdict};
use super::{
    alg_args, chart, eps_s, median_by, mmm, opt, outcomes, pct, s, thin, values, Budget, ALGS_B,
    THREADS,
};
use crate::chart::{Chart, Series};
use crate::suite::Section;
use std::fmt::Write as _;
use std::path::Path;

type Alg = (&'static str, &'static str, Option<&'static str>);

/// Budgets: SEQ reaches 2.5 % in ≈ 3,800 updates (MLP) and ≈ 1,900 (CNN) here.
fn budget(quick: bool, arch: &str) -> Budget {
    let (updates, cap) = match (quick, arch) {
        (true, "mlp") => (6_000, 60.0),
        (true, _) => (3_000, 90.0),
        (false, "mlp") => (10_000, 120.0),
        _ => (6_000, 300.0),
    };
    Budget {
        updates,
        batch: 512,
        cap_seconds: cap,
    }
}

pub fn run(r: &mut Runner, img: &Path) -> Section {
    let quick = r.opts.quick;
    let ms: Vec<usize> = if quick { vec![2] } else { vec![2, 4] };
    // Quick mode: no LSH_ps1, and for the CNN neither SEQ nor LSH_ps0.
    let algs_for = |arch: &str| -> Vec<Alg> {
        std::iter::once(("SEQ", "seq", None))
            .chain(ALGS_B.iter().copied())
            .filter(|a| !quick || a.0 != "LSH_ps1")
            .filter(|a| !(quick && arch == "cnn" && (a.0 == "SEQ" || a.0 == "LSH_ps0")))
            .collect()
    };
    let mut md = format!(
        "## §B.5 S2/S3: high-precision convergence (Fig. B.5, B.8) and S5: memory\n\n\
         Thesis preset, b = 512, m ∈ {ms:?} (SEQ: m = 1), stop at the smallest ε; each cell: \
         median [min, max] time over the runs that reached it, and reached/runs. The thesis ran \
         m = 16 on 36 cores (§B.5).{}\n",
        THREADS.note(&ms)
    );
    let mut memory = String::from(
        "\n### S5: memory\n\nPeak parameter vectors alive at once (shared state, per-worker copies, \
         Leashed-SGD's published and candidate vectors), the size of one, and the process' peak RSS \
         (which includes the dataset: 60,000 × 784 f32 = 188 MB). The thesis (§B.3, Fig. B.10): \
         ASYNC and HOG keep 2m + 1 vectors constantly; Leashed-SGD allocates candidates on demand.\n\n\
         | network | algorithm | m | peak vectors (median) | vector size | peak RSS MB (median) |\n|---|---|---|---|---|---|\n",
    );
    for (arch, name) in [("mlp", "MLP"), ("cnn", "CNN")] {
        let eps: &[f64] = match (quick, arch) {
            (true, "cnn") => &[0.5, 0.1],
            (true, _) => &[0.5, 0.1, 0.05],
            _ => &[0.5, 0.1, 0.05, 0.025],
        };
        let budget = budget(quick, arch);
        let _ = write!(
            md,
            "\n### {name}\n\n{}.\n\n| algorithm | m |",
            budget.describe()
        );
        for &e in eps {
            let _ = write!(md, " time to {} % |", pct(e));
        }
        md.push_str(" final train loss | test accuracy | not reached |\n|---|---|");
        md.push_str(&"---|".repeat(eps.len() + 3));
        md.push('\n');
        let mut curves = Vec::new();
        let mut cells: Vec<(&str, usize, Runs)> = Vec::new();
        for (label, alg, p) in algs_for(arch) {
            let cell_ms = if alg == "seq" { vec![1] } else { ms.clone() };
            for m in cell_ms {
                let mut args = s(&["--preset", "thesis", "--arch", arch]);
                args.extend(alg_args(alg, p, m));
                args.extend(budget.args());
                let eps_list: Vec<String> = eps.iter().map(|e| e.to_string()).collect();
                args.extend(s(&["--eps", &eps_list.join(","), "--stop-at-eps"]));
                let runs = r.cell("s2", &format!("{name} {label} m={m}"), &args);
                let _ = write!(md, "| {label} | {m} |");
                for i in 0..eps.len() {
                    let _ = write!(md, " {} |", mmm(&runs, eps_s(i), " s", 2));
                }
                let _ = writeln!(
                    md,
                    " {} | {} | {} |",
                    opt(median_by(&runs, |v| Some(v.final_eval.train_loss)), 4),
                    opt(median_by(&runs, |v| Some(v.final_eval.test_accuracy)), 4),
                    outcomes(&runs)
                );
                let _ = writeln!(
                    memory,
                    "| {name} | {label} | {m} | {} | {} | {} |",
                    opt(
                        median_by(&runs, |v| Some(v.memory.peak_live_vectors as f64)),
                        0
                    ),
                    median_by(&runs, |v| Some(v.memory.vector_bytes as f64))
                        .map_or("–".into(), |b| format!("{:.0} KiB", b / 1024.0)),
                    median_by(&runs, |v| v.memory.peak_rss_bytes.map(|b| b as f64))
                        .map_or("–".into(), |b| format!("{:.0}", b / 1e6)),
                );
                if m == ms[0] || alg == "seq" {
                    if let Some(v) = runs.iter().flatten().next() {
                        let pts = v
                            .minibatch_series
                            .iter()
                            .map(|p| (p.seconds, p.trailing_loss))
                            .filter(|p| p.1.is_finite())
                            .collect();
                        curves.push(Series {
                            name: format!("{label} m={m}"),
                            points: thin(pts, 400),
                        });
                    }
                }
                cells.push((label, m, runs));
            }
        }
        verdict(&cells, *ms.last().unwrap_or(&2), eps, &mut md);
        chart(
            img,
            &format!("s2-{arch}-loss.svg"),
            Chart {
                title: format!(
                    "{name}: trailing mini-batch loss over time (seed 1), m = {}",
                    ms[0]
                ),
                x_label: "seconds".into(),
                y_label: "loss (trailing mean of 10)".into(),
                series: curves,
                log_x: false,
                log_y: true,
            },
            &mut md,
        );
    }
    md.push_str(&memory);
    Section {
        name: "s2",
        markdown: md,
    }
}

/// At the largest m and the smallest ε: the best Leashed-SGD variant against the best baseline
/// (thesis, Fig. B.5/B.8: Leashed-SGD converges to high precision faster and more reliably).
fn verdict(cells: &[(&str, usize, Runs)], m: usize, eps: &[f64], md: &mut String) {
    let i = eps.len() - 1;
    let best = |lsh: bool| {
        cells
            .iter()
            .filter(|c| c.1 == m && c.0 != "SEQ" && c.0.starts_with("LSH") == lsh)
            .filter_map(|c| Some((median(&values(&c.2, eps_s(i)))?, c)))
            .min_by(|a, b| a.0.total_cmp(&b.0))
            .map(|x| x.1)
    };
    let _ = match (best(true), best(false)) {
        (Some(l), Some(b)) => writeln!(
            md,
            "\n**At m = {m}, ε = {} %:** {}.",
            pct(eps[i]),
            time_verdict(
                l.0,
                b.0,
                ratio_ci(&values(&l.2, eps_s(i)), &values(&b.2, eps_s(i)))
            )
        ),
        _ => writeln!(
            md,
            "\n**At m = {m}, ε = {} %:** no Leashed-SGD and baseline cell both reached it.",
            pct(eps[i])
        ),
    };
}
