//! Every crate's criterion benches, run through cargo, and their estimates collected from
//! `target/criterion/**/new/` into a table.

use crate::suite::Section;
use serde_json::Value;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            if p.file_name().is_some_and(|n| n == "new") {
                out.push(p);
            } else {
                walk(&p, out);
            }
        }
    }
}

fn human(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.3} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{ns:.1} ns")
    }
}

/// Run the benches (`quick`: short warm-up and measurement, 10 samples) and tabulate the
/// estimates written by this run. Returns `None` when cargo fails.
pub fn run(quick: bool, target: &Path) -> Option<Section> {
    let started = SystemTime::now();
    let mut cmd = crate::cargo();
    // `--bench *`, not `--benches`: the latter also runs the libtest harness of lib targets,
    // which rejects criterion's options.
    cmd.args(["bench", "--workspace", "--bench", "*", "--"]);
    if quick {
        cmd.args([
            "--warm-up-time",
            "0.2",
            "--measurement-time",
            "0.5",
            "--sample-size",
            "10",
        ]);
    }
    let shown = format!("{cmd:?}");
    if crate::run(cmd, "criterion benches") != std::process::ExitCode::SUCCESS {
        return None;
    }
    let mut dirs = Vec::new();
    walk(&target.join("criterion"), &mut dirs);
    let mut rows: Vec<(String, String)> = Vec::new();
    for d in dirs {
        let est = d.join("estimates.json");
        let fresh = std::fs::metadata(&est)
            .and_then(|m| m.modified())
            .is_ok_and(|t| t >= started);
        if !fresh {
            continue;
        }
        let read = |p: PathBuf| -> Option<Value> {
            serde_json::from_str(&std::fs::read_to_string(p).ok()?).ok()
        };
        let (Some(e), Some(b)) = (read(est), read(d.join("benchmark.json"))) else {
            continue;
        };
        let id = b["full_id"].as_str().unwrap_or("?").to_string();
        let med = e["median"]["point_estimate"].as_f64().unwrap_or(f64::NAN);
        let lo = e["median"]["confidence_interval"]["lower_bound"]
            .as_f64()
            .unwrap_or(f64::NAN);
        let hi = e["median"]["confidence_interval"]["upper_bound"]
            .as_f64()
            .unwrap_or(f64::NAN);
        let rate = match (
            b["throughput"].get("Elements").and_then(Value::as_f64),
            b["throughput"].get("Bytes").and_then(Value::as_f64),
        ) {
            (Some(n), _) => format!("{:.3} G elements/s", n / med),
            (_, Some(n)) => format!("{:.2} GB/s", n / med),
            _ => "–".into(),
        };
        rows.push((
            id.clone(),
            format!(
                "| `{id}` | {} | [{}, {}] | {rate} |",
                human(med),
                human(lo),
                human(hi)
            ),
        ));
    }
    rows.sort();
    let mut md = format!(
        "## Criterion benches (every crate)\n\n`{}` ({}). Median per iteration with criterion's 95 % \
         confidence interval of the median; elements/s where the bench declares a throughput (for \
         `gradient/*` and `matmul/*` the elements are FLOPs, i.e. GFLOP/s). Single-threaded unless the name says m.\n\n\
         | bench | median | 95 % CI | throughput |\n|---|---|---|---|\n",
        shown.replace('"', ""),
        if quick { "quick: 0.2 s warm-up, 0.5 s measurement, 10 samples" } else { "criterion defaults" }
    );
    for (_, row) in &rows {
        let _ = writeln!(md, "{row}");
    }
    if rows.is_empty() {
        md.push_str("| (no estimates were written) | | | |\n");
    }
    Some(Section {
        name: "criterion",
        markdown: md,
    })
}
