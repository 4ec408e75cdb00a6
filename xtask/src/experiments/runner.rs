//! Launching the release `trainer` binary once per (cell, repeat), with a result cache (so the
//! suite is resumable), reading each run back as a typed [`trainer::Report`]. An experiment's
//! missing runs are made repeat-major ([`Runner::interleaved`]), so that a drift in the machine's
//! speed falls on every cell alike instead of on one policy's repeats.

use crate::suite::Opts;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;
use trainer::report::{Outcome, StopReason};
use trainer::Report;

/// The repeats of one cell: `None` where the trainer produced no report.
pub type Runs = Vec<Option<Report>>;

/// Runs the trainer and caches each run's JSON report under `out/bench/runs/<experiment>/`: a
/// run whose report exists (in the current schema) is not repeated.
pub struct Runner {
    pub opts: Opts,
    bin: PathBuf,
    root: PathBuf,
    pub ran: usize,
    pub reused: usize,
    pub failed: usize,
    /// Collecting the runs a pass needs instead of making them ([`Runner::interleaved`]).
    planning: bool,
    pending: Vec<Pending>,
    /// Runs made by this invocation: read back even under `--fresh`, never made twice (a run
    /// that left no report stays missing rather than being retried on every pass).
    made: HashSet<PathBuf>,
}

/// One run a planning pass found missing.
struct Pending {
    bin: PathBuf,
    exp: String,
    label: String,
    args: Vec<String>,
    stem: PathBuf,
    r: usize,
}

/// FNV-1a: a stable name for a cell's arguments (std's hasher is not stable across releases).
fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100000001b3)
    })
}

fn slug(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// How a run ended, in one phrase for the progress line.
pub fn ending(r: &Report) -> String {
    match (r.outcome, r.stopped_by) {
        (Outcome::NotConverged, StopReason::TimeLimit) => "not_converged (safety cap)".into(),
        (Outcome::Diverged, _) => format!(
            "diverged ({})",
            r.failure.as_deref().unwrap_or("loss past its bound")
        ),
        (o, _) => o.name().into(),
    }
}

impl Runner {
    pub fn new(opts: Opts, bin: PathBuf, root: PathBuf) -> Self {
        Runner {
            opts,
            bin,
            root,
            ran: 0,
            reused: 0,
            failed: 0,
            planning: false,
            pending: Vec::new(),
            made: HashSet::new(),
        }
    }

    /// A runner of another binary (e.g. `mpirun`) in the same pass and cache; hand it back
    /// with [`Runner::absorb`].
    pub fn child(&self, bin: PathBuf) -> Runner {
        let mut c = Runner::new(self.opts.clone(), bin, self.root.clone());
        c.planning = self.planning;
        c.made = self.made.clone();
        c
    }

    /// Takes back a [`Runner::child`]'s counts, missing runs and made runs.
    pub fn absorb(&mut self, c: Runner) {
        self.ran += c.ran;
        self.reused += c.reused;
        self.failed += c.failed;
        self.pending.extend(c.pending);
        self.made.extend(c.made);
    }

    /// Runs experiment `f` with its missing runs made repeat-major: passes with `planning =
    /// true` only collect what is not cached, which is then made as repeat 1 of every cell,
    /// repeat 2 of every cell, …; a cell whose arguments depend on another cell's results
    /// (C.2's (c) takes (a)'s mean step) shows up in a later pass. The last pass, with
    /// everything made, produces the result. Verdicts recorded by planning passes are dropped.
    pub fn interleaved<T>(&mut self, mut f: impl FnMut(&mut Runner, bool) -> T) -> T {
        loop {
            self.planning = true;
            let _ = f(self, true);
            let _ = super::stats::take_recorded();
            self.planning = false;
            let mut batch = std::mem::take(&mut self.pending);
            let mut seen = HashSet::new();
            batch.retain(|p| seen.insert(p.stem.clone()));
            if batch.is_empty() {
                break;
            }
            // Stable: within a repeat, cells keep the experiment's order.
            batch.sort_by_key(|p| p.r);
            let n = batch.len();
            eprintln!("xtask bench: {n} runs to make, repeat-major");
            for (k, p) in batch.into_iter().enumerate() {
                self.launch(p, (k + 1, n));
            }
        }
        f(self, false)
    }

    /// `repeats` runs of the trainer with `args` (seeds 1..=repeats).
    pub fn cell(&mut self, exp: &str, label: &str, args: &[String]) -> Runs {
        let dir = self.root.join(exp);
        if let Err(e) = std::fs::create_dir_all(&dir) {
            eprintln!("xtask: cannot create {}: {e}", dir.display());
            if !self.planning {
                self.failed += self.opts.repeats;
            }
            return vec![None; self.opts.repeats];
        }
        let key = format!("{}-{:016x}", slug(label), fnv(&args.join("\u{1f}")));
        (0..self.opts.repeats)
            .map(|r| self.one(exp, label, args, &dir.join(format!("{key}-r{r}")), r))
            .collect()
    }

    fn one(
        &mut self,
        exp: &str,
        label: &str,
        args: &[String],
        stem: &Path,
        r: usize,
    ) -> Option<Report> {
        let json = stem.with_extension("json");
        let made = self.made.contains(stem);
        if !self.opts.fresh || made {
            if let Some(v) = read_report(&json) {
                if !self.planning && !made {
                    self.reused += 1;
                }
                return Some(v);
            }
        }
        if made {
            return None;
        }
        let p = Pending {
            bin: self.bin.clone(),
            exp: exp.to_string(),
            label: label.to_string(),
            args: args.to_vec(),
            stem: stem.to_path_buf(),
            r,
        };
        if self.planning {
            self.pending.push(p);
            return None;
        }
        self.launch(p, (1, 1))
    }

    /// Makes one run; `k` = (its place, the runs in this batch) for the progress line.
    fn launch(&mut self, p: Pending, k: (usize, usize)) -> Option<Report> {
        let Pending {
            bin,
            exp,
            label,
            args,
            stem,
            r,
        } = p;
        self.made.insert(stem.clone());
        let json = stem.with_extension("json");
        let t = Instant::now();
        let log = stem.with_extension("log");
        let status = Command::new(&bin)
            .args(&args)
            .args(["--quiet", "--seed", &(r + 1).to_string(), "--json"])
            .arg(&json)
            .stdout(Stdio::null())
            .stderr(
                std::fs::File::create(&log)
                    .map(Stdio::from)
                    .unwrap_or(Stdio::null()),
            )
            .status();
        self.ran += 1;
        let v = read_report(&json);
        let what = match (&status, &v) {
            (_, Some(v)) => ending(v),
            (Ok(s), None) => format!("no report ({s})"),
            (Err(e), None) => format!("cannot run: {e}"),
        };
        let of = if k.1 > 1 {
            format!(" ({} of {})", k.0, k.1)
        } else {
            String::new()
        };
        eprintln!(
            "xtask bench: [{exp}] {label} run {}/{}{of} — {what}, {:.1} s",
            r + 1,
            self.opts.repeats,
            t.elapsed().as_secs_f64()
        );
        if v.is_none() {
            self.failed += 1;
            if let Ok(text) = std::fs::read_to_string(&log) {
                let tail: Vec<&str> = text.lines().rev().take(5).collect();
                eprintln!("{}", tail.into_iter().rev().collect::<Vec<_>>().join("\n"));
            }
        }
        v
    }
}

/// A cached report, if it exists, is of the current schema and ran to its end (an interrupted
/// run, e.g. a suite stopped with Ctrl-C, is run again).
fn read_report(p: &Path) -> Option<Report> {
    let r: Report = serde_json::from_str(&std::fs::read_to_string(p).ok()?).ok()?;
    (r.schema == trainer::report::SCHEMA && r.outcome != Outcome::Interrupted).then_some(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// A stand-in trainer: logs "<first arg> <seed>" and writes the test report, except for
    /// cell `F`, which fails without one.
    fn fake_trainer(dir: &Path) -> PathBuf {
        let log = dir.join("calls.log");
        let report =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("src/experiments/testdata/report.json");
        let script = format!(
            "#!/bin/sh\nfirst=\"$1\"; out=; seed=\n\
             while [ $# -gt 0 ]; do case \"$1\" in --json) out=\"$2\"; shift;; --seed) seed=\"$2\"; shift;; esac; shift; done\n\
             echo \"$first $seed\" >> '{}'\n\
             [ \"$first\" = F ] && exit 3\n\
             cp '{}' \"$out\"\n",
            log.display(),
            report.display()
        );
        let bin = dir.join("trainer.sh");
        std::fs::write(&bin, script).unwrap();
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
        bin
    }

    fn opts(fresh: bool) -> Opts {
        Opts {
            quick: true,
            repeats: 2,
            filter: Vec::new(),
            fresh,
            command: "test".into(),
        }
    }

    /// Two independent cells, a failing one, and one whose arguments need the first's
    /// results: returns how many of its runs each cell got.
    fn experiment(r: &mut Runner) -> Vec<usize> {
        let got = |v: &Runs| v.iter().flatten().count();
        let x = r.cell("t", "X", &s(&["X"]));
        let y = r.cell("t", "Y", &s(&["Y"]));
        let f = r.cell("t", "F", &s(&["F"]));
        let mut out = vec![got(&x), got(&y), got(&f)];
        if got(&x) == 2 {
            out.push(got(&r.cell("t", "Z", &s(&["Z"]))));
        }
        out
    }

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    fn calls(dir: &Path) -> Vec<String> {
        std::fs::read_to_string(dir.join("calls.log"))
            .unwrap_or_default()
            .lines()
            .map(String::from)
            .collect()
    }

    #[test]
    fn missing_runs_are_made_repeat_major_and_once() {
        let dir = std::env::temp_dir().join(format!("xtask-runner-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let bin = fake_trainer(&dir);
        let mut r = Runner::new(opts(false), bin.clone(), dir.join("runs"));
        let got = r.interleaved(|r, _| experiment(r));
        assert_eq!(got, vec![2, 2, 0, 2]);
        // Repeat 1 of every cell before repeat 2 of any; Z (which needs X) in a later batch;
        // the failing cell tried once per repeat, not once per pass.
        assert_eq!(
            calls(&dir),
            ["X 1", "Y 1", "F 1", "X 2", "Y 2", "F 2", "Z 1", "Z 2"]
        );
        assert_eq!((r.ran, r.reused, r.failed), (8, 0, 2));

        // A second invocation reuses the cache and makes only the failed runs again.
        let mut again = Runner::new(opts(false), bin.clone(), dir.join("runs"));
        assert_eq!(again.interleaved(|r, _| experiment(r)), vec![2, 2, 0, 2]);
        assert_eq!((again.ran, again.reused, again.failed), (2, 6, 2));
        assert_eq!(calls(&dir).len(), 10);

        // `--fresh` makes everything again, once, and reads its own runs back.
        let mut fresh = Runner::new(opts(true), bin, dir.join("runs"));
        assert_eq!(fresh.interleaved(|r, _| experiment(r)), vec![2, 2, 0, 2]);
        assert_eq!((fresh.ran, fresh.reused), (8, 0));
        assert_eq!(calls(&dir).len(), 18);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
