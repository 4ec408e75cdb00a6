//! The machinery of `cargo xtask bench`: running the `trainer` binary once per (cell, repeat)
//! with a result cache (so the suite is resumable), summary statistics, provenance, and the
//! assembly of the generated part of `docs/results.md`.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

/// Options of `cargo xtask bench`.
#[derive(Clone, Debug)]
pub struct Opts {
    pub quick: bool,
    pub repeats: usize,
    /// Experiments to run (empty: all).
    pub filter: Vec<String>,
    /// Ignore cached runs.
    pub fresh: bool,
    /// The command line, recorded in the report.
    pub command: String,
}

impl Opts {
    pub fn wants(&self, exp: &str) -> bool {
        self.filter.is_empty() || self.filter.iter().any(|f| f == exp)
    }
}

/// Where and on what the suite ran.
#[derive(Clone, Debug)]
pub struct Provenance {
    pub command: String,
    pub commit: String,
    pub date: String,
    pub cpu: String,
    pub cores: usize,
}

impl Provenance {
    pub fn collect(command: &str) -> Self {
        let git = |args: &[&str]| {
            Command::new("git")
                .args(args)
                .output()
                .ok()
                .filter(|o| o.status.success())
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        };
        let mut commit =
            git(&["rev-parse", "--short=12", "HEAD"]).unwrap_or_else(|| "unknown".into());
        if git(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty()) {
            commit.push_str(" (with uncommitted changes)");
        }
        let date = Command::new("date")
            .args(["-u", "+%Y-%m-%d %H:%M UTC"])
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "unknown date".into());
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|t| {
                t.lines()
                    .find(|l| l.starts_with("model name"))
                    .and_then(|l| l.split(':').nth(1))
                    .map(|s| s.trim().to_string())
            })
            .unwrap_or_else(|| std::env::consts::ARCH.to_string());
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Provenance {
            command: command.to_string(),
            commit,
            date,
            cpu,
            cores,
        }
    }

    pub fn line(
        &self,
        quick: bool,
        repeats: usize,
        secs: f64,
        ran: usize,
        reused: usize,
    ) -> String {
        format!(
            "*Produced by `{}` ({} mode, {} repeats per cell) at commit `{}` on {}, {} ({} cores); \
             {ran} runs executed, {reused} reused from the cache, {:.1} min.*",
            self.command,
            if quick { "quick" } else { "full" },
            repeats,
            self.commit,
            self.date,
            self.cpu,
            self.cores,
            secs / 60.0
        )
    }
}

/// Runs the release `trainer` binary and caches each run's JSON report under
/// `out/bench/runs/<experiment>/`: a run whose report exists is not repeated.
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

    /// `repeats` runs of the trainer with `args` (seeds 1..=repeats). An entry is `None` when
    /// the trainer produced no report (a bug or bad options: its stderr is shown).
    pub fn cell(&mut self, exp: &str, label: &str, args: &[String]) -> Vec<Option<Value>> {
        let dir = self.root.join(exp);
        if let Err(e) = std::fs::create_dir_all(&dir) {
            eprintln!("xtask: cannot create {}: {e}", dir.display());
            return vec![None; self.opts.repeats];
        }
        let key = format!("{}-{:016x}", slug(label), fnv(&args.join("\u{1f}")));
        (0..self.opts.repeats)
            .map(|r| {
                let json = dir.join(format!("{key}-r{r}.json"));
                if !self.opts.fresh {
                    if let Some(v) = read_report(&json) {
                        self.reused += 1;
                        return Some(v);
                    }
                }
                let t = Instant::now();
                let log = dir.join(format!("{key}-r{r}.log"));
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
                    (_, Some(v)) => v["outcome"].as_str().unwrap_or("?").to_string(),
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
                        eprintln!(
                            "{}",
                            text.lines().rev().take(5).collect::<Vec<_>>().join("\n")
                        );
                    }
                }
                v
            })
            .collect()
    }
}

fn read_report(p: &Path) -> Option<Value> {
    let v: Value = serde_json::from_str(&std::fs::read_to_string(p).ok()?).ok()?;
    (v["schema"] == "asgd-trainer-report/1").then_some(v)
}

/// `v` at a dotted path (`"eps.0.seconds"`), as a number.
pub fn num(v: &Value, path: &str) -> Option<f64> {
    let mut cur = v;
    for part in path.split('.') {
        cur = match part.parse::<usize>() {
            Ok(i) => cur.get(i)?,
            Err(_) => cur.get(part)?,
        };
    }
    cur.as_f64()
}

/// Median, min and max (of a non-empty slice).
pub fn median_min_max(v: &mut [f64]) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let med = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    };
    (med, v[0], v[n - 1])
}

pub fn median(v: &[f64]) -> Option<f64> {
    let mut v: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    (!v.is_empty()).then(|| median_min_max(&mut v).0)
}

/// The median over the runs of a value derived from each report (runs without it are skipped).
pub fn median_by(runs: &[Option<Value>], f: impl Fn(&Value) -> Option<f64>) -> Option<f64> {
    median(&runs.iter().flatten().filter_map(f).collect::<Vec<_>>())
}

/// `x` with `d` decimals, or "–".
pub fn opt(x: Option<f64>, d: usize) -> String {
    x.map_or("–".into(), |x| format!("{x:.d$}"))
}

/// The values at `path` over the runs that have one.
pub fn values(runs: &[Option<Value>], path: &str) -> Vec<f64> {
    runs.iter()
        .flatten()
        .filter_map(|v| num(v, path))
        .filter(|x| x.is_finite())
        .collect()
}

/// "median [min, max] k/n" of the runs' value at `path` (runs without it did not reach it).
pub fn mmm(runs: &[Option<Value>], path: &str, unit: &str, digits: usize) -> String {
    let mut v = values(runs, path);
    let n = runs.len();
    if v.is_empty() {
        return format!("not reached 0/{n}");
    }
    let k = v.len();
    let (m, lo, hi) = median_min_max(&mut v);
    format!("{m:.digits$}{unit} [{lo:.digits$}, {hi:.digits$}] {k}/{n}")
}

/// How many runs ended in each failure outcome, e.g. "1 crashed, 2 diverged" (or "–").
pub fn failures(runs: &[Option<Value>]) -> String {
    let count = |o: &str| runs.iter().flatten().filter(|v| v["outcome"] == o).count();
    let missing = runs.iter().filter(|r| r.is_none()).count();
    let mut parts = Vec::new();
    for (n, what) in [
        (count("crashed"), "crashed"),
        (count("diverged"), "diverged"),
        (missing, "no report"),
    ] {
        if n > 0 {
            parts.push(format!("{n} {what}"));
        }
    }
    if parts.is_empty() {
        "–".into()
    } else {
        parts.join(", ")
    }
}

/// The staleness histograms of the runs, summed (counts by τ; overflow separately).
pub fn merged_staleness(runs: &[Option<Value>]) -> (Vec<u64>, u64) {
    let mut counts: Vec<u64> = Vec::new();
    let mut overflow = 0;
    for v in runs.iter().flatten() {
        if let Some(c) = v["staleness"]["counts"].as_array() {
            if counts.len() < c.len() {
                counts.resize(c.len(), 0);
            }
            for (i, x) in c.iter().enumerate() {
                counts[i] += x.as_u64().unwrap_or(0);
            }
        }
        overflow += v["staleness"]["overflow"].as_u64().unwrap_or(0);
    }
    while counts.len() > 1 && counts.last() == Some(&0) {
        counts.pop();
    }
    (counts, overflow)
}

/// A generated section of the report.
pub struct Section {
    pub name: &'static str,
    pub markdown: String,
}

/// The generated block in `docs/results.md` lies between these lines.
pub const BEGIN: &str =
    "<!-- xtask bench: begin (generated by `cargo xtask bench`; edits inside are overwritten) -->";
pub const END: &str = "<!-- xtask bench: end -->";

/// The order of sections in the report.
pub const ORDER: &[&str] = &["tt50", "s1", "s2", "a1", "c2", "d2", "criterion"];

/// Save one experiment's section (so that a `--filter` run updates only its own).
pub fn save_section(dir: &Path, s: &Section) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    write_atomic(&dir.join(format!("{}.md", s.name)), &s.markdown)
}

/// Write through a temporary file and a rename: never a half-written file.
pub fn write_atomic(path: &Path, text: &str) -> std::io::Result<()> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = path.with_file_name(format!(".{name}.tmp"));
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}

/// Replace the generated block of `doc` (or append one) with every saved section.
pub fn assemble(doc: &Path, sections: &Path, header: &str) -> std::io::Result<()> {
    let mut block = format!("{BEGIN}\n\n{header}\n");
    for name in ORDER {
        if let Ok(md) = std::fs::read_to_string(sections.join(format!("{name}.md"))) {
            block.push('\n');
            block.push_str(md.trim_end());
            block.push('\n');
        }
    }
    block.push('\n');
    block.push_str(END);
    let old = std::fs::read_to_string(doc).unwrap_or_default();
    let new = match (old.find(BEGIN), old.find(END)) {
        (Some(b), Some(e)) if e > b => {
            format!("{}{block}{}", &old[..b], &old[e + END.len()..])
        }
        _ if old.is_empty() => format!("# Results\n\n{block}\n"),
        _ => format!("{}\n\n{block}\n", old.trim_end()),
    };
    write_atomic(doc, &new)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statistics_over_runs() {
        let runs = vec![
            Some(serde_json::json!({"eps": [{"seconds": 2.0}], "outcome": "converged"})),
            Some(serde_json::json!({"eps": [{"seconds": null}], "outcome": "diverged"})),
            Some(serde_json::json!({"eps": [{"seconds": 1.0}], "outcome": "converged"})),
            Some(serde_json::json!({"eps": [{"seconds": 4.0}], "outcome": "converged"})),
            None,
        ];
        assert_eq!(mmm(&runs, "eps.0.seconds", " s", 1), "2.0 s [1.0, 4.0] 3/5");
        assert_eq!(failures(&runs), "1 diverged, 1 no report");
        assert_eq!(median(&[3.0, 1.0]), Some(2.0));
        assert_eq!(
            mmm(&runs[1..2], "eps.0.seconds", " s", 1),
            "not reached 0/1"
        );
    }

    #[test]
    fn staleness_histograms_merge() {
        let runs = vec![
            Some(serde_json::json!({"staleness": {"counts": [1, 2, 0, 0], "overflow": 1}})),
            Some(serde_json::json!({"staleness": {"counts": [0, 1, 3], "overflow": 0}})),
        ];
        assert_eq!(merged_staleness(&runs), (vec![1, 3, 3], 1));
    }

    #[test]
    fn assemble_replaces_only_the_generated_block() {
        let dir = std::env::temp_dir().join(format!("xtask-assemble-{}", std::process::id()));
        let sections = dir.join("sections");
        let doc = dir.join("results.md");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(&doc, "# Results\n\nhand-written\n").unwrap();
        save_section(
            &sections,
            &Section {
                name: "s1",
                markdown: "## S1\nold".into(),
            },
        )
        .unwrap();
        assemble(&doc, &sections, "hdr").unwrap();
        save_section(
            &sections,
            &Section {
                name: "s1",
                markdown: "## S1\nnew".into(),
            },
        )
        .unwrap();
        save_section(
            &sections,
            &Section {
                name: "tt50",
                markdown: "## TT".into(),
            },
        )
        .unwrap();
        assemble(&doc, &sections, "hdr").unwrap();
        let text = std::fs::read_to_string(&doc).unwrap();
        assert!(text.starts_with("# Results\n\nhand-written\n"));
        assert_eq!(text.matches(BEGIN).count(), 1);
        assert!(text.contains("new") && !text.contains("old"));
        assert!(text.find("## TT").unwrap() < text.find("## S1").unwrap());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
