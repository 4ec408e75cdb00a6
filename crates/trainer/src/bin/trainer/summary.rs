//! The end-of-run summary on stdout.

use std::path::{Path, PathBuf};
use trainer::report::Report;

pub fn print_summary(r: &Report, json: &Path, plots: &[PathBuf]) {
    let f = &r.final_eval;
    out!(
        "outcome          {} (stopped by {:?}){}",
        r.outcome.name(),
        r.stopped_by,
        r.failure
            .as_ref()
            .map(|c| format!(" ({c})"))
            .unwrap_or_default()
    );
    out!("run              {} m={} {} b={} η0={} · {:.2} epochs · {} updates ({} applied) in {:.2}s · {:.0} updates/s", r.config.algorithm, r.config.threads, r.network.arch, r.config.batch, r.config.eta, r.epochs, r.updates.total, r.updates.applied, r.seconds, r.updates.per_second);
    out!("loss             initial {:.4} → final {:.4} ({:.1}% of initial) · test loss {:.4} · test accuracy {:.2}%", r.initial_loss, f.train_loss, 100.0 * f.train_loss / r.initial_loss, f.test_loss, 100.0 * f.test_accuracy);
    let eps: Vec<String> = r
        .eps
        .iter()
        .map(|e| match (e.seconds, e.updates) {
            (Some(s), Some(u)) => format!("{}%: {s:.2}s/{u} upd", e.fraction * 100.0),
            _ => format!("{}%: –", e.fraction * 100.0),
        })
        .collect();
    out!("ε-times          {}", eps.join(" · "));
    out!(
        "staleness τ      mean {:.2} · p50 {} · p90 {} · p99 {} · attempts mean {:.2}",
        r.staleness.mean,
        r.staleness.p50,
        r.staleness.p90,
        r.staleness.p99,
        r.attempts.mean
    );
    out!(
        "T_c / T_u        {:.3} ms / {:.1} µs (medians) · dropped {} · not published {} · hand-off wait {:.3}% of worker time",
        r.tc_ms.p50,
        r.tu_us.p50,
        r.updates.dropped,
        r.updates.not_published,
        100.0 * r.handoff.blocked_fraction
    );
    out!(
        "memory           peak live vectors {} × {} KiB · peak RSS {}",
        r.memory.peak_live_vectors,
        r.memory.vector_bytes / 1024,
        r.memory
            .peak_rss_bytes
            .map(|b| format!("{} MiB", b >> 20))
            .unwrap_or_else(|| "n/a".into())
    );
    if let Some(s) = &r.simulation {
        out!(
            "simulated        {:.3} virtual s in {:.2} host s · T_c {} mean {:.3} ms · T_u {} mean {:.1} µs · κ {}{}{}",
            s.virtual_seconds,
            s.host_seconds,
            s.timing.tc_ms.kind,
            s.timing.tc_ms.mean,
            s.timing.tu_us.kind,
            s.timing.tu_us.mean,
            s.timing.kappa,
            s.retry_loop_mean
                .map(|n| format!(" · retry loop n̄ {n:.3}"))
                .unwrap_or_default(),
            s.lock_queue_mean
                .map(|n| format!(" · lock queue {n:.3}"))
                .unwrap_or_default()
        );
    }
    if let Some(e) = &r.elastic {
        out!(
            "elastic          M = {} · mean m_E {:.2} · {:.1} worker-seconds · {} level changes",
            e.max_threads,
            e.mean_threads,
            e.worker_seconds,
            e.trajectory.len() - 1
        );
    }
    if let Some(a) = &r.ain {
        out!(
            "AIN ‖ξ‖          mean {:.3e} · max {:.3e} over {} states · ≤ {} gradients retained",
            a.mean_norm,
            a.max_norm,
            a.measured,
            a.peak_retained
        );
    }
    out!("report           {}", json.display());
    if !plots.is_empty() {
        out!(
            "plots            {}",
            plots
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
}
