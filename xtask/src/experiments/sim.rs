//! The thesis-scale sections on the simulated executor (`docs/simulator.md`): S1 at m up to 68
//! (Fig. B.3, B.4), Table A.1's fits, Table C.2 at the thesis' m and Table D.2 with M = 36, each
//! labelled "simulated", in virtual seconds, next to the thesis' numbers.
//!
//! Durations: log-normal (σ of ln T 0.25) around the thesis' own MLP figures, T_c = 40 ms and
//! T_u = 0.6 ms at b = 512 (§B.5 S3, Fig. B.9), so that the runs model the thesis' machine and do
//! not depend on this host's speed or load; T_c is scaled with b for C.2 and D.2 (a gradient's
//! cost is linear in b), T_u is not (one pass over θ, the same d). Every simulated gradient is
//! still a real one on the host: a run costs about its updates × the host's T_c.

use super::runner::Runner;
use super::stats::{ratio_ci, time_verdict, RatioCi, LEVEL};
use super::{a1, c2, d2, eps_s, s1, values, Budget, Cells, Exec, SIMULATED};
use crate::suite::Section;
use std::fmt::Write as _;
use std::path::Path;
use trainer::Report;

/// How the sections describe their durations.
pub const TIMING: &str = "Simulated executor (`--executor simulated`): virtual workers in virtual \
     time, real gradients on real data. Durations log-normal (σ of ln T = 0.25) around the \
     thesis' MLP measurements, T_c = 40 ms and T_u = 0.6 ms at b = 512 (§B.5 S3, Fig. B.9), T_r \
     (the copy of θ by the lock-based and HOGWILD! reads) as T_u; T_c scaled with b (10 ms at \
     b = 128, 20 ms at b = 256), κ = 0 (no memory-bandwidth contention modelled, so no \
     hyper-threading penalty above 36 threads). Every time below (ε times, time per update, \
     T_c, T_u, worker-seconds) is in **virtual seconds**; it does not depend on this host.";

/// The thesis' timing at b = 128 (Table C.2's batch).
const SIMULATED_B128: Exec = Exec {
    name: "simulated",
    args: &[
        "--executor",
        "simulated",
        "--sim-timing",
        "lognormal",
        "--sim-tc-ms",
        "10",
        "--sim-tu-us",
        "600",
    ],
    oversubscribes: false,
};

/// The thesis' timing at b = 256 (Table D.2's batch).
const SIMULATED_B256: Exec = Exec {
    name: "simulated",
    args: &[
        "--executor",
        "simulated",
        "--sim-timing",
        "lognormal",
        "--sim-tc-ms",
        "20",
        "--sim-tu-us",
        "600",
    ],
    oversubscribes: false,
};

impl Exec {
    /// Whether the executor's clock is virtual.
    pub fn simulated(&self) -> bool {
        self.args.contains(&"simulated")
    }

    /// What the report's seconds are: "wall" or "virtual".
    pub fn clock(&self) -> &'static str {
        if self.simulated() {
            "virtual"
        } else {
            "wall"
        }
    }

    /// Appended to a section's heading ("" on real threads).
    pub fn heading(&self) -> &'static str {
        if self.simulated() {
            " — simulated, thesis scale"
        } else {
            ""
        }
    }
}

/// No time cap: a simulated run ends by its update budget (its clock is virtual).
const NO_CAP: f64 = f64::INFINITY;

/// S1 at the thesis' m: Table B.3 runs S1 at m = 1–68; Fig. B.3 names m = 16 (the baselines'
/// optimum), 56 (Leashed-SGD stable up to it) and 68 (the most hyper-threads); Table A.1 has
/// m = 2–32. Quick mode keeps Table A.1's first four and both ends.
pub fn s1_plan(quick: bool) -> s1::Plan {
    s1::Plan {
        name: "s1sim",
        ms: if quick {
            vec![1, 2, 4, 8, 16, 68]
        } else {
            vec![1, 2, 4, 8, 16, 24, 32, 56, 68]
        },
        budget: Budget {
            updates: if quick { 2_000 } else { 3_000 },
            batch: 512,
            cap_seconds: NO_CAP,
        },
    }
}

/// Table C.2 at the thesis' m: §C.6 gives no list for Fig. C.2's spectrum; its text names
/// m = 20 (Fig. C.3), speed-up "until around 32 threads" and hyper-threading above 36 (Fig. C.8).
fn c2_setting(quick: bool) -> c2::Setting {
    const SPREAD: &str = "Here staleness is spread at every m (τ ≈ m − 1 with a tail), so \
                          adaptation has something to act on everywhere.";
    if quick {
        c2::Setting {
            name: "c2sim",
            algs: &[("ASYNC", "async"), ("LSH", "leashed")],
            ms: &[20],
            eps: &[0.5],
            eta0: 5e-4,
            // 1/τ and FLeet do not reach ε at m = 20 and spend the whole budget: 1.6× what
            // the others need.
            budget: Budget {
                updates: 4_000,
                batch: 128,
                cap_seconds: NO_CAP,
            },
            eta_note: "η0 = 5e-4: quick mode scales the thesis' 1e-4 (§C.6) ×5 so that ε = 50 % \
                       is reached within about 2,500 updates",
            spread_note: SPREAD,
        }
    } else {
        c2::Setting {
            name: "c2sim",
            algs: &[("ASYNC", "async"), ("HOG", "hogwild"), ("LSH", "leashed")],
            ms: &[4, 8, 16, 20, 32],
            eps: &[0.5, 0.05],
            eta0: 1e-4,
            budget: Budget {
                updates: 46_875,
                batch: 128,
                cap_seconds: NO_CAP,
            },
            eta_note: "η0 = 1e-4 and b = 128 as the thesis (§C.6), for at most its 100 epochs",
            spread_note: SPREAD,
        }
    }
}

/// Table D.2 with M = 36 (the thesis' cores; ELAsyncSGD starts at M/2, §D.6), static m around
/// the thesis' best (m = 12 lock-based, 8 HOGWILD!, Fig. D.3), the best picked by time to 50 %
/// as §D.6 does. §D.6's MLP has 3 hidden layers of 128 (`--arch mlp`): the thesis code's
/// default 1×128 on raw pixels diverges within 25 updates at τ ≥ 3 (m ≥ 4 here).
fn d2_plan(quick: bool) -> d2::Plan {
    d2::Plan {
        name: "d2sim",
        // Quick: the thesis' best lock-based m only, and enough updates for ELAsyncSGD's first
        // execution phase and its probes (`d2_phase_note`).
        statics: if quick {
            vec![12]
        } else {
            vec![4, 8, 12, 16, 24, 36]
        },
        big_m: 36,
        budget: Budget {
            updates: if quick { 4_000 } else { 10_000 },
            batch: 256,
            cap_seconds: NO_CAP,
        },
        select_by: 0,
        args: d2::MLP,
    }
}

/// Run simulated experiment `name` (`s1sim`, `a1sim`, `c2sim`, `d2sim`).
pub fn run(name: &str, r: &mut Runner, img: &Path) -> Option<Section> {
    let quick = r.opts.quick;
    let mut section = match name {
        "s1sim" => {
            let plan = s1_plan(quick);
            let all = s1::runs(r, &SIMULATED, &plan);
            let mut s = s1::section(&all, img, &SIMULATED, &plan);
            s.markdown.push_str(&s1_verdicts(&all, &plan.ms));
            s
        }
        "a1sim" => a1::run(r, img, &SIMULATED, &s1_plan(quick), "a1sim"),
        "c2sim" => c2::run(r, img, &SIMULATED_B128, &c2_setting(quick)),
        "d2sim" => {
            let plan = d2_plan(quick);
            let mut s = d2::run(r, img, &SIMULATED_B256, &plan);
            s.markdown.push_str(&d2_phase_note(&plan));
            s
        }
        _ => return None,
    };
    section.markdown = with_timing(&section.markdown);
    Some(section)
}

/// How much of the budget ELAsyncSGD's first execution phase takes: I_P·m_0 updates with
/// I_P = 100 and m_0 = M/2 (§D.6, the trainer's defaults).
fn d2_phase_note(plan: &d2::Plan) -> String {
    let first = 100 * (plan.big_m / 2) as u64;
    format!(
        "\nELAsyncSGD's first execution phase alone is I_P·m_0 = {first} updates (§D.6: I_P = \
         100·m, m_0 = M/2) of the {} each run has{}. Every run has the same update budget, and \
         an update costs a worker about T_c + T_u at any m, so worker-seconds over a whole run \
         barely depend on m; the thesis ran each setting for one time period (Table D.2: e.g. \
         2160 worker-seconds = 12 workers × 180 s). The comparison that can show a saving here \
         is worker-seconds until 15 %.\n",
        plan.budget.updates,
        if 2 * first > plan.budget.updates {
            ": too few for the regulator to settle, so this is not a test of Table D.2's saving"
        } else {
            ""
        }
    )
}

/// `TIMING` as the first paragraph after the heading.
fn with_timing(md: &str) -> String {
    match md.find("\n\n") {
        Some(i) => format!("{}\n\n{TIMING}{}", &md[..i], &md[i..]),
        None => format!("{md}\n\n{TIMING}\n"),
    }
}

/// The runs of `label` at `m`.
fn at<'a>(all: &'a Cells, label: &str, m: usize) -> Option<&'a [Option<Report>]> {
    all.iter()
        .find(|(l, mm, _)| *l == label && *mm == m)
        .map(|(_, _, runs)| runs.as_slice())
}

/// One worker's iteration time in ms (Fig. B.4's "computation time per SGD iteration", each
/// thread's loop of read, gradient and update): m × Δt / Δupdates between the 25 % and 75 %
/// update marks of the run. The steady state: a run that diverges after a few iterations per
/// worker would otherwise count its start-up round and its unfinished last iterations.
fn iteration_ms(v: &Report) -> Option<f64> {
    let n = v.updates.total as f64;
    let mark = |q: f64| {
        v.minibatch_series
            .iter()
            .find(|p| p.updates as f64 >= q * n)
    };
    let (a, b) = (mark(0.25)?, mark(0.75)?);
    (b.updates > a.updates && b.seconds > a.seconds).then(|| {
        1e3 * v.config.threads as f64 * (b.seconds - a.seconds) / (b.updates - a.updates) as f64
    })
}

/// How one comparison of Leashed-SGD with the baselines came out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Standing {
    /// Significantly faster, or reached ε in ≥ 2 runs where the baselines did not.
    Ahead,
    Even,
    Behind,
    /// Neither side reached ε in two runs.
    NeitherReached,
}

/// Leashed-SGD (runs reaching ε: `lsh`) against the best baseline (`base`), with the ratio of
/// their times' medians.
pub fn standing(lsh: usize, base: usize, ci: Option<RatioCi>) -> Standing {
    match ci {
        Some(c) if c.hi < 1.0 => Standing::Ahead,
        Some(c) if c.lo > 1.0 => Standing::Behind,
        Some(_) => Standing::Even,
        None if lsh >= 2 && base < 2 => Standing::Ahead,
        None if base >= 2 && lsh < 2 => Standing::Behind,
        None => Standing::NeitherReached,
    }
}

/// The verdicts of S1 at thesis scale, computed from the runs.
pub fn s1_verdicts(all: &Cells, ms: &[usize]) -> String {
    let mut md = format!(
        "\n### Simulated S1 against the thesis: verdicts\n\n\
         **Staleness ≈ m − 1** (thesis, §C.3: \"for m threads E[τ] ≈ m − 1 holds in practice\"; \
         Fig. B.7): mean τ over the runs / (m − 1) with {:.0} % bootstrap intervals over the \
         repeats, at m ≥ 16.\n\n\
         | algorithm | m | mean τ / (m − 1) | verdict |\n|---|---|---|---|\n",
        LEVEL * 100.0
    );
    for label in ["ASYNC", "HOG"] {
        for &m in ms.iter().filter(|&&m| m >= 16) {
            let Some(runs) = at(all, label, m) else {
                continue;
            };
            let taus = values(runs, |v| Some(v.staleness.mean));
            let m1 = (m - 1) as f64;
            let ci = ratio_ci(&taus, &[m1, m1]);
            let said = match ci {
                Some(c) if c.lo >= 0.9 && c.hi <= 1.1 => "≈ m − 1 (within 10 %)",
                Some(c) if c.hi < 0.9 => "below m − 1",
                Some(c) if c.lo > 1.1 => "above m − 1",
                Some(_) => "not within 10 % of m − 1",
                None => "too few runs",
            };
            let _ = writeln!(
                md,
                "| {label} | {m} | {} | {said} |",
                ci.map_or("–".into(), |c| c.show())
            );
        }
    }
    md.push_str(
        "\n**Leashed-SGD against the baselines at m ≥ 16** (thesis, Fig. B.3: at m > 16 the \
         baselines deteriorate, many runs never reach ε; Leashed-SGD converges stably up to \
         m = 56; Fig. B.5: at m = 68 no baseline run reached 50 %). Best Leashed-SGD variant \
         against the best baseline, by median time to 50 % (virtual seconds); runs reaching ε in \
         parentheses.\n\n\
         | m | best baseline | best Leashed-SGD | comparison | standing |\n|---|---|---|---|---|\n",
    );
    let best = |labels: &[&'static str], m: usize| {
        labels
            .iter()
            .filter_map(|l| {
                let runs = at(all, l, m)?;
                let v = values(runs, eps_s(0));
                Some((super::stats::median(&v), v, runs.len(), *l))
            })
            .min_by(|a, b| {
                a.0.unwrap_or(f64::INFINITY)
                    .total_cmp(&b.0.unwrap_or(f64::INFINITY))
            })
    };
    let mut tally: Vec<(usize, Standing)> = Vec::new();
    for &m in ms.iter().filter(|&&m| m >= 16) {
        let (Some(b), Some(l)) = (
            best(&["ASYNC", "HOG"], m),
            best(&["LSH_ps∞", "LSH_ps1", "LSH_ps0"], m),
        ) else {
            continue;
        };
        let ci = ratio_ci(&l.1, &b.1);
        let st = standing(l.1.len(), b.1.len(), ci);
        tally.push((m, st));
        let show = |x: &(Option<f64>, Vec<f64>, usize, &str)| {
            format!("{} {} ({}/{})", x.3, super::opt(x.0, 2), x.1.len(), x.2)
        };
        let _ = writeln!(
            md,
            "| {m} | {} | {} | {} | {} |",
            show(&b),
            show(&l),
            time_verdict(l.3, b.3, ci),
            match st {
                Standing::Ahead => "Leashed-SGD ahead",
                Standing::Even => "no significant difference",
                Standing::Behind => "Leashed-SGD behind",
                Standing::NeitherReached => "neither reached ε",
            }
        );
    }
    let high: Vec<&(usize, Standing)> = tally.iter().filter(|t| t.0 > 16).collect();
    let ahead = high.iter().filter(|t| t.1 == Standing::Ahead).count();
    let _ = writeln!(
        md,
        "\nFig. B.3's claim (Leashed-SGD ahead of the baselines at m > 16) holds here at {ahead} \
         of {} thread counts m > 16{}.",
        high.len(),
        match (ahead, high.len()) {
            (_, 0) => ": no such m in this run".to_string(),
            (a, n) if a == n => ": reproduced".to_string(),
            (0, _) => ": not reproduced".to_string(),
            _ => ": partly reproduced".to_string(),
        }
    );
    // Fig. B.4: each thread's iteration time, at the largest m against m = 16.
    let (lo, hi) = (16, *ms.last().unwrap_or(&1));
    if hi > lo && ms.contains(&lo) {
        md.push_str(&format!(
            "\n**Time per iteration** (thesis, Fig. B.4: it stays constant for the baselines and \
             rises moderately for Leashed-SGD under high parallelism): one worker's iteration \
             time, m × Δt / Δupdates between the 25 % and 75 % update marks of each run (virtual \
             time, steady state), m = {hi} against m = {lo}.\n\n\
             | algorithm | ms per iteration at m = {lo} | at m = {hi} | ratio | verdict |\n|---|---|---|---|---|\n"
        ));
        let mut trends: Vec<(&str, Trend)> = Vec::new();
        for &(label, _, _) in super::ALGS_B {
            let (Some(a), Some(b)) = (at(all, label, hi), at(all, label, lo)) else {
                continue;
            };
            let (va, vb) = (values(a, iteration_ms), values(b, iteration_ms));
            let ci = ratio_ci(&va, &vb);
            let trend = trend(ci);
            trends.push((label, trend));
            let _ = writeln!(
                md,
                "| {label} | {} | {} | {} | {} |",
                super::opt(super::stats::median(&vb), 1),
                super::opt(super::stats::median(&va), 1),
                ci.map_or("–".into(), |c| c.show()),
                trend.name()
            );
        }
        let of = |pick: fn(&str) -> bool, t: Trend| {
            let v: Vec<_> = trends.iter().filter(|x| pick(x.0)).collect();
            (v.iter().filter(|x| x.1 == t).count(), v.len())
        };
        let (flat, nb) = of(|l| !l.starts_with("LSH"), Trend::Constant);
        let (rise, nl) = of(|l| l.starts_with("LSH"), Trend::Rises);
        let _ = writeln!(
            md,
            "\nFig. B.4's shape (baselines constant, Leashed-SGD rising): constant in {flat} of {nb} \
             baselines, rising in {rise} of {nl} Leashed-SGD variants{}.",
            if nb + nl == 0 {
                ""
            } else if flat == nb && rise == nl {
                ": reproduced"
            } else if flat + rise == 0 {
                ": not reproduced"
            } else {
                ": partly reproduced"
            }
        );
    }
    md
}

/// How a ratio (later / earlier) moved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trend {
    /// The interval lies within ±10 %.
    Constant,
    Rises,
    Falls,
    NoSignificantChange,
    TooFewRuns,
}

impl Trend {
    fn name(self) -> &'static str {
        match self {
            Trend::Constant => "constant (within 10 %)",
            Trend::Rises => "rises",
            Trend::Falls => "falls",
            Trend::NoSignificantChange => "no significant change",
            Trend::TooFewRuns => "too few runs",
        }
    }
}

/// The trend of a ratio's interval: within ±10 % is constant, else it rises or falls where the
/// interval excludes 1.
pub fn trend(ci: Option<RatioCi>) -> Trend {
    match ci {
        None => Trend::TooFewRuns,
        Some(c) if c.lo >= 0.9 && c.hi <= 1.1 => Trend::Constant,
        Some(c) if c.lo > 1.0 => Trend::Rises,
        Some(c) if c.hi < 1.0 => Trend::Falls,
        Some(_) => Trend::NoSignificantChange,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A report read back as the trainer writes it, with the fields the verdicts read.
    fn report(m: usize, tau: f64, eps_seconds: Option<f64>, seconds: f64, updates: u64) -> Report {
        let mut v: serde_json::Value =
            serde_json::from_str(include_str!("testdata/report.json")).unwrap();
        v["config"]["threads"] = m.into();
        v["staleness"]["mean"] = tau.into();
        v["eps"][0]["seconds"] = eps_seconds.map_or(serde_json::Value::Null, Into::into);
        v["seconds"] = seconds.into();
        v["updates"]["total"] = updates.into();
        let point = |q: f64| {
            serde_json::json!({"seconds": q * seconds, "updates": (q * updates as f64) as u64,
                               "trailing_loss": 1.0})
        };
        v["minibatch_series"] = serde_json::json!([point(0.0), point(0.25), point(0.75)]);
        serde_json::from_value(v).unwrap()
    }

    fn cell(m: usize, tau: f64, t: Option<f64>, per: f64) -> Vec<Option<Report>> {
        [0.98, 1.0, 1.02]
            .iter()
            .map(|k| {
                Some(report(
                    m,
                    tau * k,
                    t.map(|t| t * k),
                    per * k * 100.0 / m as f64 / 1e3,
                    100,
                ))
            })
            .collect()
    }

    #[test]
    fn standing_follows_the_interval_and_the_reached_counts() {
        let ci = |lo, hi| {
            Some(RatioCi {
                ratio: (lo + hi) / 2.0,
                lo,
                hi,
                n_a: 3,
                n_b: 3,
            })
        };
        assert_eq!(standing(3, 3, ci(0.5, 0.8)), Standing::Ahead);
        assert_eq!(standing(3, 3, ci(1.2, 1.5)), Standing::Behind);
        assert_eq!(standing(3, 3, ci(0.9, 1.1)), Standing::Even);
        assert_eq!(standing(3, 0, None), Standing::Ahead);
        assert_eq!(standing(1, 3, None), Standing::Behind);
        assert_eq!(standing(1, 1, None), Standing::NeitherReached);
    }

    #[test]
    fn trends_need_the_interval() {
        let ci = |lo, hi| {
            Some(RatioCi {
                ratio: (lo + hi) / 2.0,
                lo,
                hi,
                n_a: 3,
                n_b: 3,
            })
        };
        assert_eq!(trend(ci(0.95, 1.08)), Trend::Constant);
        // Significantly up, if by less than 10 %: it rises.
        assert_eq!(trend(ci(1.04, 1.12)), Trend::Rises);
        assert_eq!(trend(ci(0.5, 0.8)), Trend::Falls);
        assert_eq!(trend(ci(0.8, 1.3)), Trend::NoSignificantChange);
        assert_eq!(trend(None), Trend::TooFewRuns);
    }

    #[test]
    fn s1_verdicts_are_computed_from_the_runs() {
        // At m = 68 the baselines never reach ε and Leashed-SGD does; at 16 all do, Leashed-SGD
        // twice as fast. τ: ASYNC at m − 1, HOG at half of it. Iteration time: ASYNC constant,
        // Leashed-SGD's doubles.
        let mut all: Cells = Vec::new();
        for &m in &[16, 68] {
            let m1 = (m - 1) as f64;
            let base_t = (m == 16).then_some(10.0);
            all.push(("ASYNC", m, cell(m, m1, base_t, 40.0)));
            all.push(("HOG", m, cell(m, m1 / 2.0, base_t, 40.0)));
            let lsh_per = if m == 68 { 80.0 } else { 40.0 };
            all.push(("LSH_ps∞", m, cell(m, m1, Some(5.0), lsh_per)));
        }
        let md = s1_verdicts(&all, &[16, 68]);
        assert!(
            md.contains("| ASYNC | 68 | 1.00× [0.98, 1.02] | ≈ m − 1 (within 10 %) |"),
            "{md}"
        );
        assert!(
            md.contains("| HOG | 68 | 0.50× [0.49, 0.51] | below m − 1 |"),
            "{md}"
        );
        assert!(
            md.contains("| 16 | ASYNC 10.00 (3/3) | LSH_ps∞ 5.00 (3/3) |"),
            "{md}"
        );
        assert!(md.contains("Leashed-SGD ahead |"), "{md}");
        assert!(
            md.contains("| 68 | ASYNC – (0/3) | LSH_ps∞ 5.00 (3/3) |"),
            "{md}"
        );
        assert!(
            md.contains("holds here at 1 of 1 thread counts m > 16: reproduced"),
            "{md}"
        );
        assert!(
            md.contains("| ASYNC | 40.0 | 40.0 | 1.00× [0.96, 1.04] | constant (within 10 %) |"),
            "{md}"
        );
        assert!(
            md.contains("| LSH_ps∞ | 40.0 | 80.0 | 2.00× [1.92, 2.08] | rises |"),
            "{md}"
        );
        assert!(
            md.contains(
                "constant in 2 of 2 baselines, rising in 1 of 1 Leashed-SGD variants: reproduced"
            ),
            "{md}"
        );
    }

    #[test]
    fn sections_are_labelled_simulated_in_virtual_seconds() {
        assert!(SIMULATED.simulated() && SIMULATED_B128.simulated() && SIMULATED_B256.simulated());
        assert!(!super::super::THREADS.simulated());
        assert_eq!(SIMULATED.clock(), "virtual");
        assert_eq!(super::super::THREADS.clock(), "wall");
        let md = with_timing("## Heading — simulated\n\nbody\n");
        assert!(
            md.starts_with("## Heading — simulated\n\nSimulated executor"),
            "{md}"
        );
        assert!(md.ends_with("virtual seconds**; it does not depend on this host.\n\nbody\n"));
        // The plans: Table A.1's first four m, both ends of Fig. B.3, M = 36; no time cap.
        for quick in [true, false] {
            let p = s1_plan(quick);
            for m in [1, 2, 4, 8, 16, 68] {
                assert!(p.ms.contains(&m), "{quick} {m}");
            }
            assert!(!p.budget.args().contains(&"--max-seconds".to_string()));
            assert_eq!(d2_plan(quick).big_m, 36);
            assert!(c2_setting(quick).ms.contains(&20));
            let note = d2_phase_note(&d2_plan(quick));
            assert!(note.contains("I_P·m_0 = 1800 updates"), "{note}");
            assert!(!note.contains("not a test of"), "{note}");
        }
        let mut short = d2_plan(true);
        short.budget.updates = 2_500;
        assert!(d2_phase_note(&short).contains("not a test of"));
    }
}
