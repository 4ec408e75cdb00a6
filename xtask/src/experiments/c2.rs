//! Table C.2: TAIL-τ (Def. C.4.5) against a constant step, 1/τ and FLeet, with the TAIL-τ
//! speed-up split into magnitude (a larger mean step) and adaptation (its shape over τ), also
//! where staleness is spread (oversubscribed m), and a verdict computed from the intervals.

use super::runner::{Runner, Runs};
use super::stats::{median, ratio_ci, RatioCi, LEVEL};
use super::{alg_args, chart, eps_s, median_by, mmm, outcomes, pct, s, values, Budget, Exec};
use crate::chart::{Chart, Series};
use crate::suite::Section;
use std::fmt::Write as _;
use std::path::Path;

/// One step-size policy of the table: label, `--policy` word.
struct Policy {
    label: &'static str,
    word: &'static str,
}

const POLICIES: [Policy; 7] = [
    Policy {
        label: "(d) constant η0",
        word: "constant",
    },
    Policy {
        label: "(a) TAIL-τ, thesis' code",
        word: "tail-code",
    },
    Policy {
        label: "(b) TAIL-τ, exact",
        word: "tail",
    },
    Policy {
        label: "(e) TAIL-τ, Def. C.4.5 as printed",
        word: "tail-thesis",
    },
    Policy {
        label: "(c) constant = (a)'s mean step",
        word: "constant",
    },
    Policy {
        label: "1/τ",
        word: "inverse",
    },
    Policy {
        label: "FLeet",
        word: "fleet",
    },
];
const D: usize = 0;
const A: usize = 1;
const B: usize = 2;
const E: usize = 3;
const C: usize = 4;

/// One (algorithm, m) cell: the runs of every policy, in `POLICIES` order.
struct Cell {
    alg: &'static str,
    m: usize,
    runs: Vec<Runs>,
    /// Median E[η]/η0 of (a) and (e) over their runs.
    mean_a: f64,
    mean_e: f64,
    /// Updates (a)'s histogram sample held (the thesis code samples over updates 10m–15m).
    window: Option<f64>,
}

/// What one C.2 section runs.
pub struct Setting {
    /// Section, cache folder and figure prefix.
    pub name: &'static str,
    pub algs: &'static [(&'static str, &'static str)],
    pub ms: &'static [usize],
    pub eps: &'static [f64],
    pub eta0: f64,
    pub budget: Budget,
    pub eta_note: &'static str,
    /// Where staleness is spread in this setting (the text before the tables).
    pub spread_note: &'static str,
}

/// C.2 on real threads, scaled to this machine.
pub fn setting(quick: bool) -> Setting {
    const SPREAD: &str = "At m = 2 staleness is almost always 1 and (a) is a constant 2η0 step; \
                          at the oversubscribed m it is spread, so adaptation has something to \
                          act on.";
    if quick {
        Setting {
            name: "c2",
            spread_note: SPREAD,
            algs: &[("ASYNC", "async"), ("LSH", "leashed")],
            ms: &[2, 8],
            eps: &[0.5],
            eta0: 5e-4,
            budget: Budget {
                updates: 10_000,
                batch: 128,
                cap_seconds: 60.0,
            },
            eta_note: "η0 = 5e-4: quick mode scales the thesis' 1e-4 (§C.6) ×5 so that ε is \
                       reached in about a second",
        }
    } else {
        Setting {
            name: "c2",
            spread_note: SPREAD,
            algs: &[("ASYNC", "async"), ("HOG", "hogwild"), ("LSH", "leashed")],
            ms: &[2, 8, 16],
            eps: &[0.5, 0.05],
            eta0: 1e-4,
            budget: Budget {
                updates: 46_875,
                batch: 128,
                cap_seconds: 300.0,
            },
            eta_note: "η0 = 1e-4 and b = 128 as the thesis (§C.6), for at most its 100 epochs",
        }
    }
}

pub fn run(r: &mut Runner, img: &Path, exec: &Exec, st: &Setting) -> Section {
    let clock = exec.clock();
    let eps_words: Vec<String> = st.eps.iter().map(|e| e.to_string()).collect();
    let mut md = format!(
        "## Table C.2: TAIL-τ against constant, 1/τ and FLeet{}\n\n\
         MLP 3×128 on MNIST, b = {}, thesis preset, {}, m ∈ {:?}, ε = {} %, stop at the \
         smallest; {}. The decomposition separates adaptation from magnitude: (a) TAIL-τ as the \
         thesis' C++ code computes it (CDF sampled once over updates 10m–15m, strict inequality, \
         wrong divisor: mean factor 1 + Σp² > 1), (b) exactly mean-preserving TAIL-τ, (e) \
         Def. C.4.5 as printed (F(τ) = P[τ' ≤ τ]: mean factor below 1), (c) a constant step \
         equal to (a)'s measured mean step η0·E[factor], (d) the plain constant η0. {} Each \
         cell: median [min, max] time ({clock} seconds), reached/runs.{}\n",
        exec.heading(),
        st.budget.batch,
        st.eta_note,
        st.ms,
        st.eps
            .iter()
            .map(|&e| pct(e))
            .collect::<Vec<_>>()
            .join(", "),
        st.budget.describe(),
        st.spread_note,
        exec.note(st.ms)
    );
    let mut cells = Vec::new();
    for &(alg_label, alg) in st.algs {
        for &m in st.ms {
            let mut cell = Cell {
                alg: alg_label,
                m,
                runs: Vec::new(),
                mean_a: f64::NAN,
                mean_e: f64::NAN,
                window: None,
            };
            for (i, p) in POLICIES.iter().enumerate() {
                let eta = if i == C {
                    st.eta0 * cell.mean_a
                } else {
                    st.eta0
                };
                if !eta.is_finite() {
                    cell.runs.push(vec![None; r.opts.repeats]);
                    continue;
                }
                let mut args = s(&["--preset", "thesis", "--arch", "mlp"]);
                args.extend(exec.args.iter().map(|a| a.to_string()));
                args.extend(alg_args(alg, None, m));
                args.extend(st.budget.args());
                args.extend(s(&[
                    "--eta",
                    &format!("{eta:.6e}"),
                    "--policy",
                    p.word,
                    "--eps",
                    &eps_words.join(","),
                    "--stop-at-eps",
                ]));
                let label = exec.label(&format!("{alg_label} m={m} {} eta={eta:.3e}", p.word));
                let runs = r.cell(st.name, &label, &args);
                let mean = median_by(&runs, |v| Some(v.step_size.mean_factor)).unwrap_or(f64::NAN);
                if i == A {
                    cell.mean_a = mean;
                    cell.window =
                        median_by(&runs, |v| Some(v.step_size.window.as_ref()?.updates as f64));
                } else if i == E {
                    cell.mean_e = mean;
                }
                cell.runs.push(runs);
            }
            cells.push(cell);
        }
    }
    for (ei, &e) in st.eps.iter().enumerate() {
        times_table(&cells, ei, e, &mut md);
        ratio_table(&cells, ei, e, &mut md);
    }
    summary(&cells, st.eps, &mut md);
    for (ei, &e) in st.eps.iter().enumerate() {
        carries_over(&cells, ei, e, &mut md);
    }
    let names: Vec<String> = cells
        .iter()
        .enumerate()
        .map(|(i, c)| format!("{}={} m={}", i + 1, c.alg, c.m))
        .collect();
    let speed = POLICIES
        .iter()
        .enumerate()
        .skip(1)
        .map(|(pi, p)| Series {
            name: p.label.to_string(),
            points: cells
                .iter()
                .enumerate()
                .filter_map(|(i, c)| Some((i as f64 + 1.0, speedup(c, pi, 0)?.ratio)))
                .collect(),
        })
        .collect();
    chart(
        img,
        &format!("{}-speedup-50.svg", st.name),
        Chart {
            title: "Speed-up to ε = 50 % over the constant step (d)".into(),
            x_label: format!("cell: {}", names.join(", ")),
            y_label: "speed-up (×)".into(),
            series: speed,
            log_x: false,
            log_y: false,
        },
        &mut md,
    );
    Section {
        name: st.name,
        markdown: md,
    }
}

/// Speed-up of policy `pi` over (d) to the ε-th target: median time (d) / median time (pi).
fn speedup(c: &Cell, pi: usize, ei: usize) -> Option<RatioCi> {
    ratio_ci(
        &values(&c.runs[D], eps_s(ei)),
        &values(&c.runs[pi], eps_s(ei)),
    )
}

/// Time of `num` / time of `den` to the ε-th target.
fn time_ratio(c: &Cell, num: usize, den: usize, ei: usize) -> Option<RatioCi> {
    ratio_ci(
        &values(&c.runs[num], eps_s(ei)),
        &values(&c.runs[den], eps_s(ei)),
    )
}

fn times_table(cells: &[Cell], ei: usize, e: f64, md: &mut String) {
    let _ = write!(md, "\n### Time to ε = {} %\n\n| algorithm | m |", pct(e));
    for p in &POLICIES {
        let _ = write!(md, " {} |", p.label);
    }
    md.push_str(" not reached (all policies) |\n|---|---|");
    md.push_str(&"---|".repeat(POLICIES.len() + 1));
    md.push('\n');
    for c in cells {
        let _ = write!(md, "| {} | {} |", c.alg, c.m);
        for runs in &c.runs {
            let _ = write!(md, " {} |", mmm(runs, eps_s(ei), " s", 2));
        }
        let all: Runs = c.runs.iter().flatten().cloned().collect();
        let _ = writeln!(md, " {} |", outcomes(&all));
    }
}

fn ratio_table(cells: &[Cell], ei: usize, e: f64, md: &mut String) {
    let _ = writeln!(
        md,
        "\nTime ratios to ε = {} % with {:.0} % bootstrap intervals (below 1: the first is \
         faster; **bold**: the interval excludes 1). τ mean (sd) from (d)'s runs.\n\n\
         | algorithm | m | τ mean (sd) | (a)'s window, updates | (a)'s mean factor | (e)'s mean factor | (a)/(d) | (b)/(d) | (e)/(d) | (c)/(d) | (a)/(c): adaptation |\n\
         |---|---|---|---|---|---|---|---|---|---|---|",
        pct(e),
        LEVEL * 100.0
    );
    let show = |ci: Option<RatioCi>| match ci {
        Some(c) if c.significant() => format!("**{}**", c.show()),
        Some(c) => c.show(),
        None => "–".into(),
    };
    for c in cells {
        let mean = median_by(&c.runs[D], |v| Some(v.staleness.mean));
        let sd = median_by(&c.runs[D], |v| Some(v.staleness.variance.sqrt()));
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {:.3} | {:.3} | {} | {} | {} | {} | {} |",
            c.alg,
            c.m,
            match (mean, sd) {
                (Some(m), Some(s)) => format!("{m:.2} ({s:.2})"),
                _ => "–".into(),
            },
            c.window.map_or("–".into(), |w| format!("{w:.0}")),
            c.mean_a,
            c.mean_e,
            show(time_ratio(c, A, D, ei)),
            show(time_ratio(c, B, D, ei)),
            show(time_ratio(c, E, D, ei)),
            show(time_ratio(c, C, D, ei)),
            show(time_ratio(c, A, C, ei)),
        );
    }
}

/// Table C.2's own form: speed-up over (d) per cell, min / max / mean, and the success ratio.
fn summary(cells: &[Cell], eps: &[f64], md: &mut String) {
    md.push_str(
        "\n### Summary in the form of Table C.2\n\nSpeed-up = median time of (d) / median time \
         of the policy, per (algorithm, m) cell where both reached ε in at least two runs; min / \
         max / mean over cells, and in how many cells the speed-up's interval lies above 1 or \
         below; success = runs of the policy that reached ε / runs of (d) that did. The thesis' \
         MNIST MLP row (Table C.2): 50 %: 1.30 / 2.0 / 1.66, success 1.0; 5 %: 1.42 / 1.99 / \
         1.82, success 3.53.\n\n\
         | policy | ε | speed-up min | max | mean | cells faster / no sig. difference / slower | success ratio |\n|---|---|---|---|---|---|---|\n",
    );
    for (pi, p) in POLICIES.iter().enumerate().skip(1) {
        for (ei, &e) in eps.iter().enumerate() {
            let cis: Vec<RatioCi> = cells.iter().filter_map(|c| speedup(c, pi, ei)).collect();
            let sp: Vec<f64> = cis.iter().map(|c| c.ratio).collect();
            let (ok_p, ok_d): (usize, usize) = cells.iter().fold((0, 0), |(p_, d_), c| {
                (
                    p_ + values(&c.runs[pi], eps_s(ei)).len(),
                    d_ + values(&c.runs[D], eps_s(ei)).len(),
                )
            });
            let f = |x: Option<f64>| x.map_or("–".into(), |x| format!("{x:.2}"));
            let _ = writeln!(
                md,
                "| {} | {} % | {} | {} | {} | {} / {} / {} | {} |",
                p.label,
                pct(e),
                f(sp.iter().copied().reduce(f64::min)),
                f(sp.iter().copied().reduce(f64::max)),
                f((!sp.is_empty()).then(|| sp.iter().sum::<f64>() / sp.len() as f64)),
                cis.iter().filter(|c| c.lo > 1.0).count(),
                cis.iter().filter(|c| !c.significant()).count(),
                cis.iter().filter(|c| c.hi < 1.0).count(),
                if ok_d == 0 {
                    format!("{ok_p}/0")
                } else {
                    format!("{:.2} ({ok_p}/{ok_d})", ok_p as f64 / ok_d as f64)
                }
            );
        }
    }
}

/// Cells where time(num)/time(den) is significantly below 1, not different, above; and the
/// cells without enough runs to compare.
fn tally(cells: &[Cell], num: usize, den: usize, ei: usize) -> [Vec<String>; 4] {
    let mut out: [Vec<String>; 4] = Default::default();
    for c in cells {
        let name = format!("{} m={}", c.alg, c.m);
        let k = match time_ratio(c, num, den, ei) {
            Some(r) if r.hi < 1.0 => 0,
            Some(r) if r.lo > 1.0 => 2,
            Some(_) => 1,
            None => 3,
        };
        out[k].push(name);
    }
    out
}

fn tally_text(t: &[Vec<String>; 4], n: usize) -> String {
    let list = |v: &Vec<String>| {
        if v.is_empty() {
            String::new()
        } else {
            format!(" ({})", v.join(", "))
        }
    };
    let mut s = format!(
        "significantly faster in {} of {n} cells{}, no significant difference in {}{}, \
         significantly slower in {}{}",
        t[0].len(),
        list(&t[0]),
        t[1].len(),
        list(&t[1]),
        t[2].len(),
        list(&t[2])
    );
    if !t[3].is_empty() {
        let _ = write!(
            s,
            "; too few runs reached ε in {}{}",
            t[3].len(),
            list(&t[3])
        );
    }
    s
}

/// What carries over from Table C.2, in words computed from the intervals.
fn carries_over(cells: &[Cell], ei: usize, e: f64, md: &mut String) {
    let n = cells.len();
    let a_d = tally(cells, A, D, ei);
    let a_c = tally(cells, A, C, ei);
    let b_d = tally(cells, B, D, ei);
    let e_d = tally(cells, E, D, ei);
    // Spread: τ's standard deviation in (d)'s runs at least 1 (at m = 2 on real threads it is
    // almost always 1, with nothing for adaptation to act on).
    let spread: Vec<String> = cells
        .iter()
        .filter(|c| {
            median_by(&c.runs[D], |v| Some(v.staleness.variance.sqrt())).is_some_and(|sd| sd >= 1.0)
        })
        .map(|c| format!("{} m={}", c.alg, c.m))
        .collect();
    let adapt = if a_c[0].is_empty() {
        format!(
            "adaptation adds no significant speed-up in any cell{}: what carries over is the \
             speed-up of a larger mean step, which a constant step of the same size gives too",
            if spread.is_empty() {
                String::new()
            } else {
                ", including those where staleness is spread".into()
            }
        )
    } else {
        format!(
            "adaptation adds a significant speed-up beyond the larger mean step in {}",
            a_c[0].join(", ")
        )
    };
    let mean_e = median(&cells.iter().map(|c| c.mean_e).collect::<Vec<_>>());
    let _ = writeln!(
        md,
        "\n**What carries over at ε = {} %** ({:.0} % bootstrap intervals of time ratios, \
         {n} cells):\n\n\
         - Table C.2's claim, TAIL-τ (as the thesis' code computes it) faster than the constant \
         η0: {}.\n\
         - At equal mean step, (a) against (c): {}. So {adapt}.\n\
         - The exactly mean-preserving TAIL-τ (b) against the constant η0: {}.\n\
         - Def. C.4.5 as printed (e, median mean factor {}) against the constant η0: {}.\n",
        pct(e),
        LEVEL * 100.0,
        tally_text(&a_d, n),
        tally_text(&a_c, n),
        tally_text(&b_d, n),
        mean_e.map_or("–".into(), |m| format!("{m:.3}")),
        tally_text(&e_d, n),
    );
}
