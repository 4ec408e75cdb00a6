//! The experiments of `cargo xtask bench`, each a small table of cells scaled to this machine,
//! writing one section of the report and its figures under `docs/img/`.

use crate::chart::{Chart, Series};
use crate::suite::{
    failures, median, median_by, merged_staleness, mmm, num, opt, values, Runner, Section,
};
use serde_json::Value;
use std::fmt::Write as _;
use std::path::Path;

/// The repeats of one cell.
type Runs = Vec<Option<Value>>;
/// (model, Bhattacharyya distance) per fitted model.
type Distances = Vec<(String, f64)>;

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

fn chart(img: &Path, file: &str, c: Chart, md: &mut String) {
    if std::env::var_os("XTASK_PNG").is_some() {
        let _ = c.write(&img.join(file.replace(".svg", ".png")));
    }
    match c.write(&img.join(file)) {
        Ok(()) => {
            let _ = writeln!(md, "\n![{}](img/{file})", c.title);
        }
        Err(e) => eprintln!("xtask bench: cannot draw {file}: {e}"),
    }
}

/// The asynchronous algorithms of Ch. B: (label, --algorithm, --persistence).
const ALGS_B: &[(&str, &str, Option<&str>)] = &[
    ("ASYNC", "async", None),
    ("HOG", "hogwild", None),
    ("LSH_ps∞", "leashed", Some("inf")),
    ("LSH_ps1", "leashed", Some("1")),
    ("LSH_ps0", "leashed", Some("0")),
];

fn alg_args(alg: &str, persistence: Option<&str>, m: usize) -> Vec<String> {
    let mut a = s(&["--algorithm", alg, "--threads", &m.to_string()]);
    if let Some(p) = persistence {
        a.extend(s(&["--persistence", p]));
    }
    a
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn oversubscription_note(ms: &[usize]) -> String {
    let c = cores();
    let over: Vec<String> = ms
        .iter()
        .filter(|&&m| m > c)
        .map(|m| m.to_string())
        .collect();
    if over.is_empty() {
        String::new()
    } else {
        format!(
            " This machine has {c} cores: m = {} oversubscribe them (threads time-share cores, \
             which is how staleness grows here; the thesis had 36 cores).",
            over.join(", ")
        )
    }
}

// ---------------------------------------------------------------------------------------------
// Time to 50 % against the thesis' C++ figures (issue #6).

/// (name, arch, batch, algorithm, threads, thesis updates, thesis seconds)
type Tt50Cell = (
    &'static str,
    &'static str,
    usize,
    &'static str,
    usize,
    Option<u32>,
    Option<f64>,
);

const TT50: &[Tt50Cell] = &[
    ("MLP b=512", "mlp", 512, "seq", 1, Some(185), Some(5.3)),
    ("MLP b=512", "mlp", 512, "async", 2, Some(205), Some(2.6)),
    ("MLP b=512", "mlp", 512, "hogwild", 2, Some(205), Some(2.6)),
    ("MLP b=512", "mlp", 512, "leashed", 2, Some(205), Some(2.6)),
    ("CNN b=512", "cnn", 512, "seq", 1, Some(320), Some(33.5)),
    ("CNN b=512", "cnn", 512, "async", 2, None, None),
    ("CNN b=512", "cnn", 512, "hogwild", 2, None, None),
    ("CNN b=512", "cnn", 512, "leashed", 2, None, None),
    ("LeNet b=128", "lenet", 128, "seq", 1, Some(139), Some(6.2)),
    (
        "LeNet b=128",
        "lenet",
        128,
        "leashed",
        2,
        Some(155),
        Some(4.0),
    ),
];

pub fn tt50(r: &mut Runner, _img: &Path) -> Section {
    let mut md = String::from(
        "## Time to 50 % against the thesis' C++ code (issue #6)\n\n\
         Thesis preset (raw pixels, N(0, 0.01²) init, one shuffle, η = 0.005, ε by the trailing \
         mean of 10 mini-batch losses), stop at ε = 50 %. The thesis' C++ figures are the issue's \
         reference measurements on this machine class.\n\n\
         | run | updates to 50 % (median) | time to 50 %: median [min, max] reached/runs | thesis' C++ updates | thesis' C++ time | speed-up (thesis time / our median) | failures |\n\
         |---|---|---|---|---|---|---|\n",
    );
    for &(name, arch, batch, alg, m, t_upd, t_sec) in TT50 {
        if r.opts.quick && arch == "cnn" {
            continue;
        }
        let label = format!("{name} {alg} m={m}");
        let mut args = s(&[
            "--preset",
            "thesis",
            "--arch",
            arch,
            "--batch",
            &batch.to_string(),
        ]);
        args.extend(alg_args(alg, None, m));
        args.extend(s(&[
            "--eps",
            "0.5",
            "--stop-at-eps",
            "--epochs",
            "30",
            "--max-seconds",
            "120",
        ]));
        let runs = r.cell("tt50", &label, &args);
        let upd = median(&values(&runs, "eps.0.updates"));
        let t = median(&values(&runs, "eps.0.seconds"));
        let _ = writeln!(
            md,
            "| {label} | {} | {} | {} | {} | {} | {} |",
            upd.map_or("–".into(), |u| format!("{u:.0}")),
            mmm(&runs, "eps.0.seconds", " s", 2),
            t_upd.map_or("–".into(), |u| u.to_string()),
            t_sec.map_or("–".into(), |t| format!("{t} s")),
            match (t_sec, t) {
                (Some(a), Some(b)) => format!("{:.1}×", a / b),
                _ => "–".into(),
            },
            failures(&runs)
        );
    }
    if r.opts.quick {
        md.push_str("\n(Quick mode leaves out the CNN rows.)\n");
    }
    Section {
        name: "tt50",
        markdown: md,
    }
}

// ---------------------------------------------------------------------------------------------
// §B.5 S1 and the §B.4 fixed point.

fn s1_ms(quick: bool) -> Vec<usize> {
    if quick {
        vec![1, 2, 4]
    } else {
        vec![1, 2, 4, 8, 16]
    }
}

fn s1_args(alg: &str, p: Option<&str>, m: usize, quick: bool) -> Vec<String> {
    let mut a = s(&["--preset", "thesis", "--arch", "mlp", "--batch", "512"]);
    a.extend(alg_args(alg, p, m));
    a.extend(s(&[
        "--eps",
        "0.5",
        "--stop-at-eps",
        "--epochs",
        "30",
        "--max-seconds",
        if quick { "20" } else { "60" },
    ]));
    a
}

/// All S1 runs: (alg label, m, runs).
fn s1_runs(r: &mut Runner) -> Vec<(&'static str, usize, Vec<Option<Value>>)> {
    let mut out = Vec::new();
    for &(label, alg, p) in ALGS_B {
        for m in s1_ms(r.opts.quick) {
            let args = s1_args(alg, p, m, r.opts.quick);
            let runs = r.cell("s1", &format!("{label} m={m}"), &args);
            out.push((label, m, runs));
        }
    }
    out
}

/// Wall-clock milliseconds per update, all threads together.
fn ms_per_update(v: &Value) -> Option<f64> {
    Some(1e3 * num(v, "seconds")? / num(v, "updates.total")?)
}

/// Mean threads inside the update (Little's law): calls × mean update time / wall time.
fn occupancy(v: &Value) -> Option<f64> {
    Some(num(v, "updates.total")? * num(v, "tu_us.mean")? * 1e-6 / num(v, "seconds")?)
}

pub fn s1(r: &mut Runner, img: &Path) -> Section {
    let all = s1_runs(r);
    let ms = s1_ms(r.opts.quick);
    let mut md = format!(
        "## §B.5 S1: scalability to ε = 50 % (Fig. B.3, B.4, B.7) and the §B.4 fixed point\n\n\
         MLP 3×128, b = 512, thesis preset (η = 0.005), stop at ε = 50 %, m ∈ {ms:?}; failures \
         (crash = non-finite loss, diverged) are counted, not timed. Time per update = wall time / \
         updates (all threads together).{}\n\n\
         | algorithm | m | time to 50 % | updates to 50 % (median) | wall ms / update | T_c ms (mean) | T_u µs (mean) | τ mean | τ p99 | failures |\n\
         |---|---|---|---|---|---|---|---|---|---|\n",
        oversubscription_note(&ms)
    );
    for (label, m, runs) in &all {
        let f = |p: &str, d: usize| opt(median(&values(runs, p)), d);
        let _ = writeln!(
            md,
            "| {label} | {m} | {} | {} | {} | {} | {} | {} | {} | {} |",
            mmm(runs, "eps.0.seconds", " s", 2),
            f("eps.0.updates", 0),
            opt(median_by(runs, ms_per_update), 2),
            f("tc_ms.mean", 2),
            f("tu_us.mean", 0),
            f("staleness.mean", 2),
            f("staleness.p99", 0),
            failures(runs)
        );
    }
    // What the thesis claims at high m: LSH converges faster than the baselines, and the
    // persistence bound lowers staleness.
    let m_max = *ms.last().unwrap_or(&1);
    let at = |label: &str, path: &str| {
        all.iter()
            .find(|(l, m, _)| *l == label && *m == m_max)
            .and_then(|(_, _, runs)| median(&values(runs, path)))
    };
    let best_of = |labels: &[&'static str]| {
        labels
            .iter()
            .filter_map(|l| Some((at(l, "eps.0.seconds")?, *l)))
            .min_by(|a, b| a.0.total_cmp(&b.0))
    };
    if let (Some((tb, lb)), Some((tl, ll))) = (
        best_of(&["ASYNC", "HOG"]),
        best_of(&["LSH_ps∞", "LSH_ps1", "LSH_ps0"]),
    ) {
        let _ = writeln!(
            md,
            "\n**At m = {m_max}:** the best Leashed-SGD variant ({ll}, {tl:.2} s) takes {:.2}× the time \
             of the best baseline ({lb}, {tb:.2} s) to 50 % (thesis, Fig. B.3: Leashed-SGD faster at \
             high m, where the baselines fail). {}",
            tl / tb,
            if tl < 0.95 * tb {
                "Leashed-SGD is faster here."
            } else if tl > 1.05 * tb {
                "Leashed-SGD is slower here: not reproduced at this m."
            } else {
                "Within 5 %: no difference at this m on this machine."
            }
        );
    }
    if let (Some(inf), Some(zero)) = (
        at("LSH_ps∞", "staleness.mean"),
        at("LSH_ps0", "staleness.mean"),
    ) {
        let _ = writeln!(
            md,
            "Mean staleness at m = {m_max}: LSH_ps∞ {inf:.2}, LSH_ps0 {zero:.2} (thesis, Fig. B.7: the \
             persistence bound lowers staleness){}.",
            if zero < 0.95 * inf {
                ""
            } else {
                "; not visible here"
            }
        );
    }
    // Figures B.3 / B.4.
    let series = |metric: &dyn Fn(&[Option<Value>]) -> Option<f64>| -> Vec<Series> {
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
    chart(
        img,
        "s1-time-to-50.svg",
        Chart {
            title: "S1: time to ε = 50 % (median), MLP b=512".into(),
            x_label: "threads m".into(),
            y_label: "seconds".into(),
            series: series(&|runs| median(&values(runs, "eps.0.seconds"))),
            log_x: false,
            log_y: true,
        },
        &mut md,
    );
    chart(
        img,
        "s1-time-per-update.svg",
        Chart {
            title: "S1: wall time per update (median), MLP b=512".into(),
            x_label: "threads m".into(),
            y_label: "ms per update".into(),
            series: series(&|runs| median_by(runs, ms_per_update)),
            log_x: false,
            log_y: true,
        },
        &mut md,
    );
    // Figure B.7: the staleness distributions at the largest m.
    let pmf_series: Vec<Series> = all
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
        "s1-staleness.svg",
        Chart {
            title: format!("S1: staleness distribution at m = {m_max} (Fig. B.7), all repeats"),
            x_label: "staleness τ".into(),
            y_label: "fraction of updates".into(),
            series: pmf_series,
            log_x: false,
            log_y: true,
        },
        &mut md,
    );
    // §B.4: the fixed point n*_γ against the measured occupancy of the update.
    md.push_str(
        "\n### §B.4: predicted threads in the retry loop n*_γ (B.7) against the measured occupancy\n\n\
         Prediction from the uncontended m = 1 run of the same algorithm: n*_γ = m / ((T_c/T_u)(1+γ) + 1) \
         with T_c the mean gradient time and T_u the mean time of one update attempt at m = 1, and \
         γ = abandoned / published updates measured at m (the thesis gives no model for γ; it is 0 \
         for persistence ∞). Measured occupancy = updates × mean update time (retries included) / \
         wall time, i.e. the time-averaged number of threads inside the update (Little's law). For \
         ASYNC the update includes waiting for the lock, for HOG it is the lock-free axpy.\n\n\
         | algorithm | m | T_c ms (m=1) | T_u µs per attempt (m=1) | γ | predicted n*_γ | measured occupancy | measured / predicted | CAS attempts per update |\n\
         |---|---|---|---|---|---|---|---|---|\n",
    );
    for &(label, _, _) in ALGS_B {
        let Some((_, _, base)) = all.iter().find(|(l, m, _)| *l == label && *m == 1) else {
            continue;
        };
        let tc1 = median(&values(base, "tc_ms.mean"));
        let tu1 = median_by(base, |v| {
            Some(num(v, "tu_us.mean")? / num(v, "attempts.mean")?.max(1.0))
        });
        for (_, m, runs) in all.iter().filter(|(l, m, _)| *l == label && *m > 1) {
            let gamma = median_by(runs, |v| {
                Some(num(v, "updates.not_published")? / num(v, "updates.applied")?.max(1.0))
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
            let f = opt;
            let _ = writeln!(
                md,
                "| {label} | {m} | {} | {} | {} | {} | {} | {} | {} |",
                f(tc1, 2),
                f(tu1, 1),
                f(gamma, 3),
                f(pred, 3),
                f(occ, 3),
                match (occ, pred) {
                    (Some(o), Some(p)) if p > 0.0 => format!("{:.2}", o / p),
                    _ => "–".into(),
                },
                f(median(&values(runs, "attempts.mean")), 3)
            );
        }
    }
    Section {
        name: "s1",
        markdown: md,
    }
}

// ---------------------------------------------------------------------------------------------
// §B.5 S2/S3 (high precision) and S5 (memory).

pub fn s2(r: &mut Runner, img: &Path) -> Section {
    let quick = r.opts.quick;
    let ms: Vec<usize> = if quick { vec![2] } else { vec![2, 4] };
    // Quick mode: no LSH_ps1, and for the CNN neither SEQ nor LSH_ps0.
    let algs_for = |arch: &str| -> Vec<(&'static str, &'static str, Option<&'static str>)> {
        std::iter::once(("SEQ", "seq", None))
            .chain(ALGS_B.iter().copied())
            .filter(|a| !quick || a.0 != "LSH_ps1")
            .filter(|a| !(quick && arch == "cnn" && (a.0 == "SEQ" || a.0 == "LSH_ps0")))
            .collect()
    };
    let mut md = format!(
        "## §B.5 S2/S3: high-precision convergence (Fig. B.5, B.8) and S5: memory\n\n\
         Thesis preset, b = 512, m ∈ {ms:?} (SEQ: m = 1), stop at the smallest ε; each cell: median \
         [min, max] time over the runs that reached it, and reached/runs. The thesis ran m = 16 on \
         36 cores.{}\n",
        oversubscription_note(&ms)
    );
    let mut memory = String::from(
        "\n### S5: memory\n\nPeak parameter vectors alive at once (shared state, per-worker copies, \
         Leashed-SGD's published and candidate vectors), the size of one, and the process' peak RSS \
         (which includes the dataset: 60,000 × 784 f32 = 188 MB). The thesis: ASYNC and HOG keep \
         2m + 1 vectors constantly; Leashed-SGD allocates candidates on demand (§B.3).\n\n\
         | network | algorithm | m | peak vectors (median) | vector size | peak RSS MB (median) |\n|---|---|---|---|---|---|\n",
    );
    for (arch, name) in [("mlp", "MLP"), ("cnn", "CNN")] {
        let eps: &[&str] = match (quick, arch) {
            (true, "cnn") => &["0.5", "0.1"],
            (true, _) => &["0.5", "0.1", "0.05"],
            _ => &["0.5", "0.1", "0.05", "0.025"],
        };
        let secs = match (quick, arch) {
            (true, _) => "20",
            (false, "mlp") => "60",
            _ => "120",
        };
        let _ = write!(md, "\n### {name}\n\n| algorithm | m |");
        for e in eps {
            let _ = write!(
                md,
                " time to {} % |",
                e.parse::<f64>().unwrap_or(0.0) * 100.0
            );
        }
        md.push_str(" final train loss | test accuracy | failures |\n|---|---|");
        md.push_str(&"---|".repeat(eps.len() + 3));
        md.push('\n');
        let mut curves = Vec::new();
        for (label, alg, p) in algs_for(arch) {
            let cell_ms = if alg == "seq" { vec![1] } else { ms.clone() };
            for m in cell_ms {
                let mut args = s(&["--preset", "thesis", "--arch", arch, "--batch", "512"]);
                args.extend(alg_args(alg, p, m));
                args.extend(s(&[
                    "--eps",
                    &eps.join(","),
                    "--stop-at-eps",
                    "--epochs",
                    "300",
                    "--max-seconds",
                    secs,
                ]));
                let runs = r.cell("s2", &format!("{name} {label} m={m}"), &args);
                let _ = write!(md, "| {label} | {m} |");
                for i in 0..eps.len() {
                    let _ = write!(
                        md,
                        " {} |",
                        mmm(&runs, &format!("eps.{i}.seconds"), " s", 2)
                    );
                }
                let f = |p: &str, d: usize| opt(median(&values(&runs, p)), d);
                let _ = writeln!(
                    md,
                    " {} | {} | {} |",
                    f("final.train_loss", 4),
                    f("final.test_accuracy", 4),
                    failures(&runs)
                );
                let _ = writeln!(
                    memory,
                    "| {name} | {label} | {m} | {} | {} | {} |",
                    f("memory.peak_live_vectors", 0),
                    median(&values(&runs, "memory.vector_bytes"))
                        .map_or("–".into(), |b| format!("{:.0} KiB", b / 1024.0)),
                    median(&values(&runs, "memory.peak_rss_bytes"))
                        .map_or("–".into(), |b| format!("{:.0}", b / 1e6)),
                );
                if m == ms[0] || alg == "seq" {
                    if let Some(v) = runs.iter().flatten().next() {
                        let pts = v["minibatch_series"]
                            .as_array()
                            .map(|a| {
                                a.iter()
                                    .filter_map(|p| {
                                        Some((num(p, "seconds")?, num(p, "trailing_loss")?))
                                    })
                                    .collect()
                            })
                            .unwrap_or_default();
                        curves.push(Series {
                            name: format!("{label} m={m}"),
                            points: thin(pts, 400),
                        });
                    }
                }
            }
        }
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

/// At most `n` points, evenly picked (the plots need no more).
fn thin(v: Vec<(f64, f64)>, n: usize) -> Vec<(f64, f64)> {
    if v.len() <= n {
        return v;
    }
    let step = v.len() as f64 / n as f64;
    (0..n).map(|i| v[(i as f64 * step) as usize]).collect()
}

// ---------------------------------------------------------------------------------------------
// Table A.1 / Fig. A.2: the staleness models fitted to real histograms.

pub fn a1(r: &mut Runner, img: &Path) -> Section {
    let all = s1_runs(r);
    let mut md = String::from(
        "## Table A.1 / Fig. A.2: staleness models fitted to measured histograms\n\n\
         The histograms of the S1 runs (all repeats of a cell summed), fitted by minimum \
         Bhattacharyya distance D_B as Table A.1 (`staleness::fit`); CMP also under the thesis' \
         assumption (A.13) λ = m^ν with a 1-D search over ν. Each cell: parameter (D_B).\n\n\
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
                .map_or("–".into(), |f| {
                    let p: Vec<String> = f
                        .model
                        .params()
                        .iter()
                        .map(|(_, v)| format!("{v:.3}"))
                        .collect();
                    format!("{} ({:.3})", p.join(", "), f.bhattacharyya)
                })
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
        let mut d: Vec<(String, f64)> = fits
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
         (thesis, Fig. A.2: CMP best, Poisson second). The A.13 restriction λ = m^ν fits worse than the \
         free CMP fit in {a13_worse} of {} cells: our τ counts the updates published during a \
         gradient, whose mode is below m (m − 1 while every worker has its own core), whereas \
         λ = m^ν puts the CMP mode near m.",
        best_counts("cmp"),
        dist.len(),
        best_counts("poisson"),
        best_counts("geometric"),
        best_counts("uniform"),
        dist.len()
    );
    md.push_str(
        "\nThe thesis' Table A.1 (Ch. A's AsyncSGD runs, 2–32 workers), for comparison:\n\n\
         | τ model | m = 2 | 4 | 8 | 16 |\n|---|---|---|---|---|\n\
         | p (Geom) | 0.34 | 0.21 | 0.12 | 0.06 |\n| τ̂ (Unif) | 2 | 5 | 11 | 22 |\n\
         | λ (Pois) | 2.0 | 4.0 | 8.0 | 16.0 |\n| ν (CMP) | 6.28 | 5.26 | 4.18 | 3.48 |\n",
    );
    for &(label, _, _) in ALGS_B.iter().filter(|a| !a.0.ends_with("ps1")) {
        let rows: Vec<_> = dist.iter().filter(|d| d.0 == label).collect();
        let names: Vec<String> = rows
            .first()
            .map(|r| r.2.iter().map(|x| x.0.clone()).collect())
            .unwrap_or_default();
        let mut names = names;
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

// ---------------------------------------------------------------------------------------------
// Table C.2: TAIL-τ against constant, 1/τ and FLeet, with the magnitude/adaptation split.

pub fn c2(r: &mut Runner, img: &Path) -> Section {
    let quick = r.opts.quick;
    let ms: Vec<usize> = if quick { vec![2] } else { vec![2, 4] };
    let eps: &[&str] = if quick { &["0.5"] } else { &["0.5", "0.05"] };
    let eta0 = 5e-4;
    let algs = [("ASYNC", "async"), ("HOG", "hogwild"), ("LSH", "leashed")];
    // (label, --policy); "(c)" is filled in from (a)'s measured mean step.
    let policies = [
        ("(d) constant", "constant"),
        ("(a) TAIL-τ as the thesis' code", "tail-code"),
        ("(b) TAIL-τ exact", "tail"),
        ("(c) constant = (a)'s mean step", "constant"),
        ("1/τ", "inverse"),
        ("FLeet", "fleet"),
    ];
    let mut md = format!(
        "## Table C.2: TAIL-τ against constant, 1/τ and FLeet\n\n\
         MLP 3×128 on MNIST, b = 128, thesis preset, η0 = {eta0} (the thesis used 1e-4 for 100 \
         epochs; scaled ×5 so that 5 % is reached in seconds here), m ∈ {ms:?}, ε = {} %, stop \
         at the smallest. The decomposition separates adaptation from magnitude: (a) TAIL-τ as the \
         thesis' code computes it (CDF sampled once, strict inequality, wrong divisor: mean factor \
         1 + Σp² > 1), (b) exactly mean-preserving TAIL-τ, (c) a constant step equal to (a)'s \
         measured mean step η0·E[factor], (d) the plain constant η0. Each cell: median [min, max] \
         time, reached/runs.{}\n",
        eps.iter()
            .map(|e| format!("{}", e.parse::<f64>().unwrap_or(0.0) * 100.0))
            .collect::<Vec<_>>()
            .join(", "),
        oversubscription_note(&ms)
    );
    // results[(alg, m)][policy] = runs
    let mut results: Vec<(&str, usize, Vec<Runs>, f64)> = Vec::new();
    for &(alabel, alg) in &algs {
        for &m in &ms {
            let mut per_policy = Vec::new();
            let mut mean_a = f64::NAN;
            for (i, &(_, policy)) in policies.iter().enumerate() {
                let eta = if i == 3 {
                    if !mean_a.is_finite() {
                        per_policy.push(vec![None; r.opts.repeats]);
                        continue;
                    }
                    eta0 * mean_a
                } else {
                    eta0
                };
                let mut args = s(&["--preset", "thesis", "--arch", "mlp", "--batch", "128"]);
                args.extend(alg_args(alg, None, m));
                args.extend(s(&[
                    "--eta",
                    &format!("{eta:.6e}"),
                    "--policy",
                    policy,
                    "--eps",
                    &eps.join(","),
                    "--stop-at-eps",
                    "--epochs",
                    "100",
                    "--max-seconds",
                    if quick { "15" } else { "40" },
                ]));
                let runs = r.cell(
                    "c2",
                    &format!("{alabel} m={m} {policy} eta={eta:.3e}"),
                    &args,
                );
                if i == 1 {
                    mean_a = median(&values(&runs, "step_size.mean_factor")).unwrap_or(f64::NAN);
                }
                per_policy.push(runs);
            }
            results.push((alabel, m, per_policy, mean_a));
        }
    }
    for (ei, e) in eps.iter().enumerate() {
        let pct = e.parse::<f64>().unwrap_or(0.0) * 100.0;
        let _ = write!(md, "\n### Time to ε = {pct} %\n\n| algorithm | m |");
        for (p, _) in &policies {
            let _ = write!(md, " {p} |");
        }
        md.push_str(" (a)'s mean factor |\n|---|---|");
        md.push_str(&"---|".repeat(policies.len() + 1));
        md.push('\n');
        for (alabel, m, per, mean_a) in &results {
            let _ = write!(md, "| {alabel} | {m} |");
            for runs in per {
                let _ = write!(
                    md,
                    " {} |",
                    mmm(runs, &format!("eps.{ei}.seconds"), " s", 2)
                );
            }
            let _ = writeln!(md, " {mean_a:.3} |");
        }
    }
    // The Table C.2 summary: speed-up of each policy over (d) per (algorithm, m).
    md.push_str(
        "\n### Summary in the form of Table C.2\n\nSpeed-up = median time of (d) / median time of the \
         policy, per (algorithm, m) cell where both reached ε in some run; min / max / mean over \
         cells; success = runs of the policy that reached ε / runs of (d) that did. The thesis' \
         MNIST MLP row: 50 %: 1.30 / 2.0 / 1.66, success 1.0; 5 %: 1.42 / 1.99 / 1.82, success 3.53.\n\n\
         | policy | ε | speed-up min | max | mean | success ratio |\n|---|---|---|---|---|---|\n",
    );
    let mut speed_series = Vec::new();
    for (pi, (plabel, _)) in policies.iter().enumerate().skip(1) {
        for (ei, e) in eps.iter().enumerate() {
            let path = format!("eps.{ei}.seconds");
            let mut sp = Vec::new();
            let (mut ok_p, mut ok_d) = (0usize, 0usize);
            for (_, _, per, _) in &results {
                ok_d += values(&per[0], &path).len();
                ok_p += values(&per[pi], &path).len();
                if let (Some(d), Some(p)) = (
                    median(&values(&per[0], &path)),
                    median(&values(&per[pi], &path)),
                ) {
                    sp.push(d / p);
                }
            }
            let pct = e.parse::<f64>().unwrap_or(0.0) * 100.0;
            let (lo, hi) = sp
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| {
                    (a.min(x), b.max(x))
                });
            let mean = sp.iter().sum::<f64>() / sp.len().max(1) as f64;
            let _ = writeln!(
                md,
                "| {plabel} | {pct} % | {} | {} | {} | {} |",
                if sp.is_empty() {
                    "–".into()
                } else {
                    format!("{lo:.2}")
                },
                if sp.is_empty() {
                    "–".into()
                } else {
                    format!("{hi:.2}")
                },
                if sp.is_empty() {
                    "–".into()
                } else {
                    format!("{mean:.2}")
                },
                if ok_d == 0 {
                    format!("{ok_p}/0")
                } else {
                    format!("{:.2} ({ok_p}/{ok_d})", ok_p as f64 / ok_d as f64)
                }
            );
            if ei == 0 {
                speed_series.push(Series {
                    name: plabel.to_string(),
                    points: results
                        .iter()
                        .enumerate()
                        .filter_map(|(i, (_, _, per, _))| {
                            Some((
                                i as f64 + 1.0,
                                median(&values(&per[0], &path))?
                                    / median(&values(&per[pi], &path))?,
                            ))
                        })
                        .collect(),
                });
            }
        }
    }
    for (ei, e) in eps.iter().enumerate() {
        let path = format!("eps.{ei}.seconds");
        // Per cell: median times of (d), (a), (b), (c) when all four reached ε.
        let ratios: Vec<[f64; 4]> = results
            .iter()
            .filter_map(|(_, _, per, _)| {
                let t = |i: usize| median(&values(&per[i], &path));
                let (d, a, b, c) = (t(0)?, t(1)?, t(2)?, t(3)?);
                Some([d / a, d / c, c / a, d / b])
            })
            .collect();
        let pct = e.parse::<f64>().unwrap_or(0.0) * 100.0;
        if ratios.is_empty() {
            let _ = writeln!(
                md,
                "\n**Decomposition at ε = {pct} %:** no cell where (a)–(d) all reached ε."
            );
            continue;
        }
        let gm =
            |k: usize| (ratios.iter().map(|r| r[k].ln()).sum::<f64>() / ratios.len() as f64).exp();
        let (total, magnitude, adaptation, exact) = (gm(0), gm(1), gm(2), gm(3));
        let verdict = if adaptation > 1.05 {
            "adaptation adds a speed-up beyond the larger mean step"
        } else if adaptation < 0.95 {
            "at equal magnitude the TAIL-τ shape is slower than a constant step: the speed-up is the larger mean step"
        } else {
            "at equal magnitude TAIL-τ and a constant step are within 5 %: the speed-up is the larger mean step, not adaptation"
        };
        let _ = writeln!(
            md,
            "\n**Decomposition at ε = {pct} %** (geometric means over the {} cells where (a)–(d) all \
             reached ε): (a) over (d) ×{total:.2}; (c), a constant step of (a)'s mean size, over (d) \
             ×{magnitude:.2}; adaptation at equal magnitude, (c)/(a), ×{adaptation:.2}; the exactly \
             mean-preserving (b) over (d) ×{exact:.2}. So {verdict}.",
            ratios.len()
        );
    }
    let cells: Vec<String> = results
        .iter()
        .enumerate()
        .map(|(i, (a, m, _, _))| format!("{}={a} m={m}", i + 1))
        .collect();
    chart(
        img,
        "c2-speedup-50.svg",
        Chart {
            title: "Speed-up to ε = 50 % over the constant step (d)".into(),
            x_label: format!("cell: {}", cells.join(", ")),
            y_label: "speed-up (×)".into(),
            series: speed_series,
            log_x: false,
            log_y: false,
        },
        &mut md,
    );
    Section {
        name: "c2",
        markdown: md,
    }
}

// ---------------------------------------------------------------------------------------------
// Table D.2: ELAsyncSGD against the best static m.

pub fn d2(r: &mut Runner, img: &Path) -> Section {
    let quick = r.opts.quick;
    let (statics, big_m, seconds): (Vec<usize>, usize, &str) = if quick {
        (vec![1, 2, 4], 4, "2")
    } else {
        (vec![1, 2, 4, 8], 8, "8")
    };
    let mut md = format!(
        "## Table D.2: ELAsyncSGD against the best static parallelism\n\n\
         MLP 3×128, thesis preset (b = 512, η = 0.005, ε by the trailing mean of 10 mini-batch \
         losses, so ε-times are per update; with our default preset both targets fall within the \
         first 0.1 s and cannot separate the runs), every run {seconds} s of \
         wall clock; static m ∈ {statics:?} (with exact AIN measurement) and ELAsyncSGD with \
         M = {big_m}. Best static m = smallest median time to 15 %. Worker-seconds = Σ over time \
         of active workers (static: m × run time). Medians over the runs.{}\n",
        oversubscription_note(&[big_m])
    );
    for alg in ["async", "hogwild"] {
        md.push_str(
            "\n| algorithm | run | time to 50 % | time to 15 % | final loss | mean ‖ξ‖ | worker-seconds | vs best static |\n\
             |---|---|---|---|---|---|---|---|\n",
        );
        let mut cells: Vec<(String, Vec<String>)> = statics
            .iter()
            .map(|m| {
                (
                    format!("static m={m}"),
                    s(&["--threads", &m.to_string(), "--ain"]),
                )
            })
            .collect();
        cells.push((
            format!("ELAsyncSGD M={big_m}"),
            s(&["--threads", &big_m.to_string(), "--elastic"]),
        ));
        let mut rows = Vec::new();
        for (label, extra) in &cells {
            let mut args = s(&[
                "--preset",
                "thesis",
                "--batch",
                "512",
                "--algorithm",
                alg,
                "--epochs",
                "1000",
                "--max-seconds",
                seconds,
                "--eps",
                "0.5,0.15",
            ]);
            args.extend(extra.iter().cloned());
            let runs = r.cell("d2", &format!("{alg} {label}"), &args);
            let t = |i: usize| {
                let v: Vec<f64> = runs
                    .iter()
                    .flatten()
                    .map(|v| num(v, &format!("eps.{i}.seconds")).unwrap_or(f64::INFINITY))
                    .collect();
                let mut v = v;
                v.sort_by(f64::total_cmp);
                v.get(v.len() / 2).copied()
            };
            let ws = median_by(&runs, |v| {
                num(v, "elastic.worker_seconds")
                    .or_else(|| Some(num(v, "config.threads")? * num(v, "seconds")?))
            });
            rows.push((
                label.clone(),
                t(0),
                t(1),
                median(&values(&runs, "final.train_loss")),
                median(&values(&runs, "ain.mean_norm")),
                ws,
                failures(&runs),
            ));
        }
        let best = rows
            .iter()
            .filter(|r| r.0.starts_with("static"))
            .filter(|r| r.2.is_some_and(f64::is_finite))
            .min_by(|a, b| {
                a.2.unwrap_or(f64::INFINITY)
                    .total_cmp(&b.2.unwrap_or(f64::INFINITY))
            })
            .cloned();
        let f = |t: Option<f64>| match t {
            Some(t) if t.is_finite() => format!("{t:.2} s"),
            Some(_) => "not reached".into(),
            None => "–".into(),
        };
        for (label, t50, t15, fl, xi, ws, fails) in &rows {
            let vs = match &best {
                Some(b) if *label == b.0 => "best static".into(),
                Some(b) => match (ws, b.5, t15, b.2) {
                    (Some(w), Some(bw), Some(t), Some(bt)) => format!(
                        "{:+.0} % worker-seconds, {:.2}× time to 15 % (vs {})",
                        100.0 * (w / bw - 1.0),
                        t / bt,
                        b.0
                    ),
                    _ => "–".into(),
                },
                None => "no static run reached 15 %".into(),
            };
            let _ = writeln!(
                md,
                "| {alg} | {label} | {} | {} | {} | {} | {} | {vs}{} |",
                f(*t50),
                f(*t15),
                fl.map_or("–".into(), |x| format!("{x:.4}")),
                xi.map_or("–".into(), |x| format!("{x:.3e}")),
                ws.map_or("–".into(), |x| format!("{x:.1}")),
                if fails == "–" {
                    String::new()
                } else {
                    format!("; {fails}")
                }
            );
        }
        // Static runs within 10 % of the best time to 15 % are ties on this noisy machine: the
        // fair yardstick for resources is the cheapest of them.
        let elastic = rows.iter().find(|r| r.0.starts_with("ELAsyncSGD"));
        let cheapest = best.as_ref().and_then(|b| {
            rows.iter()
                .filter(|r| r.0.starts_with("static"))
                .filter(|r| r.2.is_some_and(|t| t <= 1.1 * b.2.unwrap_or(f64::INFINITY)))
                .min_by(|x, y| {
                    x.5.unwrap_or(f64::INFINITY)
                        .total_cmp(&y.5.unwrap_or(f64::INFINITY))
                })
        });
        let _ = match (elastic, &best, cheapest) {
            (Some(e), Some(b), Some(c)) => match (e.5, b.5, c.5, e.2, b.2) {
                (Some(w), Some(bw), Some(cw), Some(t), Some(bt)) => writeln!(
                    md,
                    "\n**{alg}:** ELAsyncSGD used {:+.0} % worker-seconds of the best static run ({}) and \
                     {:+.0} % of the cheapest static run within 10 % of its time ({}), and reached 15 % \
                     in {:.2}× the best static time (thesis: {} worker-seconds at a similar time). {}",
                    100.0 * (w / bw - 1.0),
                    b.0,
                    100.0 * (w / cw - 1.0),
                    c.0,
                    t / bt,
                    if alg == "async" { "−27.7 %" } else { "−31 %" },
                    if w < 0.95 * cw && t <= 1.1 * bt {
                        "The direction reproduces: fewer resources at about the same time."
                    } else if w <= 1.05 * cw && t <= 1.1 * bt {
                        "A tie with the cheapest equally fast static m: no saving here."
                    } else {
                        "Does not reproduce here."
                    }
                ),
                _ => writeln!(md, "\n**{alg}:** ELAsyncSGD did not reach 15 % in the median run."),
            },
            _ => writeln!(md, "\n**{alg}:** no static run reached 15 %; nothing to compare."),
        };
    }
    md.push_str(
        "\nThe thesis' Table D.2 (MLP, MNIST, 36 cores): lock-based 50 % in 9 s (best static 9 s), \
         15 % in 13 s (14 s), worker-seconds −27.7 %; HOGWILD! 9 s (8 s), 14 s (12 s), −31 %.\n",
    );
    let _ = img;
    Section {
        name: "d2",
        markdown: md,
    }
}
