//! `trainer stepsize …` and `trainer staleness …`: the step-size and staleness crates from the
//! command line.

use crate::args::{StalenessArgs, StalenessCmd, StepsizeArgs, StepsizeCmd};
use std::io::IsTerminal;
use std::process::ExitCode;
use trainer::Config;

/// The longest table `stepsize show` prints.
const SHOW_TAU_MAX: usize = 100_000;

pub fn stepsize_cmd(s: &StepsizeArgs) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let StepsizeCmd::Show { histogram, config } = &s.cmd;
    let counts = match histogram {
        Some(p) => Some(read_histogram(p)?),
        None => None,
    };
    let mut c = config.apply(Config::default())?;
    if config.tau_max.is_none() {
        // The histogram's support: every observed τ gets its own entry.
        c.tau_max = counts.as_ref().map_or(16, |h| {
            h.counts()
                .iter()
                .rposition(|&x| x > 0)
                .map_or(16, |i| i.max(1))
                + usize::from(h.overflow() > 0)
        });
    }
    if c.tau_max > SHOW_TAU_MAX {
        return Err(format!(
            "--tau-max {} is more than the {SHOW_TAU_MAX} entries `stepsize show` prints",
            c.tau_max
        )
        .into());
    }
    // The one code path training uses: the same checks, the same table.
    c.validate()?;
    let a = c.adaptive()?;
    let p = a.policy();
    if p.is_instance_based() && counts.is_none() {
        return Err(format!(
            "--policy {} is instance-based: it needs --histogram FILE",
            c.policy.name()
        )
        .into());
    }
    if let Some(h) = &counts {
        a.refresh(h);
    }
    let out = serde_json::json!({
        "policy": c.policy.name(),
        "eta0": c.eta,
        "tau_max": c.tau_max,
        "factors": a.factors_now(),
        "mean_factor": counts.as_ref().map(|h| a.mean_factor(h)),
    });
    out!("{}", serde_json::to_string_pretty(&out)?);
    Ok(ExitCode::SUCCESS)
}

pub fn staleness_cmd(s: &StalenessArgs) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let StalenessCmd::Fit {
        file,
        threads,
        json,
    } = &s.cmd;
    if let Some(m) = threads {
        if !(m.is_finite() && *m > 0.0) {
            return Err(format!("--threads must be positive, got {m}").into());
        }
    }
    let counts = read_histogram(file)?;
    let r = staleness::fit_all(&counts, *threads);
    let len = counts.counts().len();
    let fits = |v: &[staleness::Fit]| {
        v.iter()
            .map(|f| trainer::report::ModelFit::from_fit(f, len))
            .map(|mut f| {
                f.pmf.clear();
                f
            })
            .collect::<Vec<_>>()
    };
    if std::io::stdout().is_terminal() && !json {
        out!(
            "{} updates, mean τ {:.3}, variance {:.3}, mode {}",
            counts.total(),
            counts.mean(),
            counts.variance(),
            counts.mode()
        );
        let params = |f: &trainer::report::ModelFit| {
            f.params
                .iter()
                .map(|(k, v)| format!("{k}={v:.4}"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        let table = |title: &str, rows: &[trainer::report::ModelFit]| {
            out!(
                "{:<10} {:<34} {:>14} {:>16}",
                "family",
                title,
                "Bhattacharyya",
                "log-likelihood"
            );
            for f in rows {
                out!(
                    "{:<10} {:<34} {:>14.6} {:>16.2}",
                    f.family,
                    params(f),
                    f.bhattacharyya,
                    f.log_likelihood
                );
            }
        };
        table(
            "parameters (min. Bhattacharyya)",
            &fits(&r.by_bhattacharyya),
        );
        table("parameters (max. likelihood)", &fits(&r.by_likelihood));
        if let Some(f) = fits(r.cmp_a13.as_slice()).first() {
            out!(
                "{:<10} {:<34} {:>14.6} {:>16.2}   ({})",
                "cmp A.13",
                params(f),
                f.bhattacharyya,
                f.log_likelihood,
                f.method
            );
        }
    } else {
        let out = serde_json::json!({
            "observed": {"total": counts.total(), "mean": counts.mean(), "variance": counts.variance(), "mode": counts.mode()},
            "by_bhattacharyya": fits(&r.by_bhattacharyya),
            "by_likelihood": fits(&r.by_likelihood),
            "cmp_a13": fits(r.cmp_a13.as_slice()).first(),
        });
        out!("{}", serde_json::to_string_pretty(&out)?);
    }
    Ok(ExitCode::SUCCESS)
}

/// `{"counts": [...]}` or a trainer report (its `staleness.counts`).
fn read_histogram(p: &std::path::Path) -> Result<staleness::Counts, String> {
    let text =
        std::fs::read_to_string(p).map_err(|e| format!("{}: cannot read: {e}", p.display()))?;
    let v: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: not JSON: {e}", p.display()))?;
    let arr = v
        .get("counts")
        .or_else(|| v.get("staleness").and_then(|s| s.get("counts")))
        .and_then(|c| c.as_array())
        .ok_or_else(|| {
            format!(
                "{}: expected {{\"counts\": [...]}} or a trainer report",
                p.display()
            )
        })?;
    let counts: Option<Vec<u64>> = arr.iter().map(|x| x.as_u64()).collect();
    let counts =
        counts.ok_or_else(|| format!("{}: counts must be non-negative integers", p.display()))?;
    let counts =
        staleness::Counts::try_from_counts(counts).map_err(|e| format!("{}: {e}", p.display()))?;
    if counts.total() == 0 {
        return Err(format!("{}: the histogram is empty", p.display()));
    }
    Ok(counts)
}
