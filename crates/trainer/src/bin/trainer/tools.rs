//! `trainer stepsize …` and `trainer staleness …`: the step-size and staleness crates from the
//! command line.

use std::io::IsTerminal;
use std::process::ExitCode;
use trainer::Config;

pub fn stepsize_cmd(
    s: &crate::args::trainer_cli::StepsizeArgs,
) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let crate::args::trainer_cli::StepsizeCmd::Show {
        policy,
        amplitude,
        threads,
        histogram,
        mean_preserving,
        tau_max,
    } = &s.cmd;
    let config = Config {
        policy: *policy,
        amplitude: *amplitude,
        threads: *threads,
        ..Config::default()
    };
    if !(0.0..=1.0).contains(amplitude) {
        return Err(format!("--amplitude must be in [0, 1], got {amplitude}").into());
    }
    let counts = match histogram {
        Some(p) => Some(read_histogram(p)?),
        None => None,
    };
    let p = config.step_policy();
    if p.is_instance_based() && counts.is_none() {
        return Err(
            format!("--policy {policy:?} is instance-based: it needs --histogram FILE").into(),
        );
    }
    let opts = stepsize::Options {
        mean_preserving: *mean_preserving,
        ..Default::default()
    };
    let a = stepsize::Adaptive::new(p, 1.0, opts, *tau_max);
    if let Some(c) = &counts {
        a.refresh(c);
    }
    let out = serde_json::json!({
        "policy": format!("{p:?}"),
        "factors": a.factors_now(),
        "mean_factor": counts.as_ref().map(|c| a.mean_factor(c)),
    });
    out!("{}", serde_json::to_string_pretty(&out)?);
    Ok(ExitCode::SUCCESS)
}

pub fn staleness_cmd(
    s: &crate::args::trainer_cli::StalenessArgs,
) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let crate::args::trainer_cli::StalenessCmd::Fit {
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
    if counts.iter().sum::<u64>() == 0 {
        return Err(format!("{}: the histogram is empty", p.display()));
    }
    Ok(staleness::Counts::from_counts(counts))
}
