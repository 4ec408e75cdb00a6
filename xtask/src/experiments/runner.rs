//! Launching the release `trainer` binary once per (cell, repeat), with a result cache (so the
//! suite is resumable), reading each run back as a typed [`trainer::Report`].

use crate::suite::Opts;
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
        }
    }

    /// `repeats` runs of the trainer with `args` (seeds 1..=repeats).
    pub fn cell(&mut self, exp: &str, label: &str, args: &[String]) -> Runs {
        let dir = self.root.join(exp);
        if let Err(e) = std::fs::create_dir_all(&dir) {
            eprintln!("xtask: cannot create {}: {e}", dir.display());
            self.failed += self.opts.repeats;
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
        if !self.opts.fresh {
            if let Some(v) = read_report(&json) {
                self.reused += 1;
                return Some(v);
            }
        }
        let t = Instant::now();
        let log = stem.with_extension("log");
        let status = Command::new(&self.bin)
            .args(args)
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
        eprintln!(
            "xtask bench: [{exp}] {label} run {}/{} — {what}, {:.1} s",
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
