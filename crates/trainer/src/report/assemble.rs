//! Report assembly: everything the coordinator measured, the workers' timings, the shared
//! histograms and the step-size policy's final table, in the report's shape.

use super::*;
use crate::config::Algorithm;
use crate::run::{Executed, Finished, Job, Shared};
use staleness::Counts;

impl Report {
    /// The report of a finished run.
    pub(crate) fn from_run(
        job: &Job,
        shared: &Shared,
        initial_loss: f64,
        eval_subset: usize,
        finished: Finished,
        executed: Executed,
    ) -> Report {
        let cfg = job.config;
        let Finished {
            measured,
            elastic,
            window,
        } = finished;
        let failure = shared.crashed();
        let stopped_by = shared.stop_reason();
        let loosest = cfg.eps.iter().cloned().fold(0.0, f64::max);
        let reached = measured
            .eps
            .iter()
            .any(|e| e.fraction == loosest && e.seconds.is_some());
        let outcome = match stopped_by {
            _ if failure.is_some() => Outcome::Diverged,
            StopReason::Interrupt => Outcome::Interrupted,
            StopReason::Eps => Outcome::Converged,
            _ if reached => Outcome::Completed,
            _ => Outcome::NotConverged,
        };
        let stopped_by = if failure.is_some() {
            StopReason::Divergence
        } else {
            stopped_by
        };
        // SYNC has no staleness: every applied step has τ = 0 and one attempt.
        let (hist, attempts) = if cfg.algorithm == Algorithm::Sync {
            let mut h = Counts::zeros(cfg.tau_max);
            let mut a = Counts::zeros(64);
            h.merge(&Counts::from_counts(vec![measured.applied]));
            a.merge(&Counts::from_counts(vec![0, measured.applied]));
            (h, a)
        } else {
            (shared.staleness.snapshot(), shared.attempts.snapshot())
        };
        let last = measured.series.last().cloned().expect("a final evaluation");
        let (mut tc, mut tu) = (Vec::new(), Vec::new());
        let mut handoff = HandoffReport::default();
        for s in executed.stats {
            tc.extend(s.tc_ms);
            tu.extend(s.tu_us);
            handoff.blocked_seconds += s.blocked_s;
            handoff.worker_seconds += s.active_s;
        }
        handoff.blocked_fraction = handoff.blocked_seconds / handoff.worker_seconds.max(1e-12);
        let d = job.net.num_params();
        let factors = shared.policy.factors_now();
        let shown = (hist.quantile(0.999) + 2).clamp(8, factors.len());
        let used = hist
            .counts()
            .iter()
            .rposition(|&x| x > 0)
            .map_or(1, |i| i + 1);
        let seconds = measured.seconds;
        Report {
            schema: SCHEMA.to_string(),
            command: job.command.clone(),
            config: cfg.clone(),
            machine: Machine::detect(job.net),
            network: NetworkInfo {
                arch: cfg.arch.to_string(),
                params: d,
                forward_flops_per_sample: job.net.forward_flops(),
            },
            data: DataInfo {
                source: job.source.clone(),
                train: job.train.len(),
                test: job.test.len(),
                eval_subset,
            },
            initial_loss,
            outcome,
            stopped_by,
            failure,
            executor: executed.executor.to_string(),
            eps: measured.eps,
            seconds,
            epochs: measured.epochs,
            updates: UpdateCounts {
                total: measured.calls,
                applied: measured.applied,
                dropped: measured.dropped,
                not_published: measured.calls - measured.applied - measured.dropped,
                per_second: measured.calls as f64 / seconds.max(1e-9),
            },
            series: measured.series,
            minibatch_series: measured.minibatch,
            staleness: HistogramReport::from_counts(&hist),
            staleness_fits: staleness::fit_families(&hist)
                .iter()
                .map(|f| ModelFit::from_fit(f, used))
                .collect(),
            attempts: HistogramReport::from_counts(&attempts),
            tc_ms: DurationSummary::from_samples(tc),
            tu_us: DurationSummary::from_samples(tu),
            handoff,
            step_size: StepSizeReport {
                policy: cfg.policy.name().to_string(),
                params: policy_params(shared.policy.policy().resolved(&hist)),
                eta0: cfg.eta,
                factors: factors[..shown].to_vec(),
                mean_factor: shared.policy.mean_factor(&hist),
                window: window.map(|w| SampleWindow {
                    from: w.from,
                    to: w.to,
                    updates: w.updates,
                }),
            },
            memory: Memory {
                peak_live_vectors: executed.vectors.peak,
                vector_bytes: d * 4,
                peak_rss_bytes: peak_rss_bytes(),
            },
            final_eval: FinalEval {
                train_loss: last.train_loss,
                test_loss: last.test_loss,
                test_accuracy: last.test_accuracy,
            },
            elastic: elastic.as_ref().filter(|_| cfg.elastic).map(|e| {
                let r = e.accounting.worker_seconds(seconds);
                ElasticReport {
                    max_threads: cfg.threads,
                    trajectory: e
                        .accounting
                        .trajectory()
                        .iter()
                        .map(|&(seconds, threads)| LevelChange { seconds, threads })
                        .collect(),
                    worker_seconds: r,
                    mean_threads: r / seconds.max(1e-9),
                }
            }),
            ain: elastic.as_ref().map(|e| AinReport {
                measured: e.noise.n,
                mean_norm: e.noise.mean(),
                mean_distance: e.noise.mean_distance(),
                max_norm: e.noise.max,
                peak_retained: e.ain.peak_retained(),
                series: e
                    .noise
                    .series
                    .iter()
                    .map(|&(seconds, norm)| NoisePoint { seconds, norm })
                    .collect(),
            }),
            simulation: executed.simulation,
            mpi: None,
        }
    }
}

/// A policy's parameters as JSON: numbers, and words for the TAIL-τ form and φ.
fn policy_params(p: stepsize::Policy) -> serde_json::Map<String, serde_json::Value> {
    use serde_json::json;
    use stepsize::{CdfForm, Phi, Policy};
    let v = match p {
        Policy::Constant | Policy::Inverse => json!({}),
        Policy::Fleet { beta } => json!({ "beta": beta }),
        Policy::TailTau {
            amplitude,
            phi,
            form,
        } => json!({
            "amplitude": amplitude,
            "phi": match phi {
                Phi::Identity => json!("identity"),
                Phi::Power(k) => json!({ "power": k }),
                Phi::Smoothstep => json!("smoothstep"),
            },
            "form": match form {
                CdfForm::Exact => "exact",
                CdfForm::Thesis => "thesis",
                CdfForm::ThesisCode => "thesis_code",
            },
        }),
        Policy::MindTheStepGeometric { p, momentum } => json!({ "p": p, "momentum": momentum }),
        Policy::MindTheStepCmp { lambda_nu, c } => json!({
            "lambda": lambda_nu.map(|x| x.0),
            "nu": lambda_nu.map(|x| x.1),
            "c": c,
        }),
        Policy::MindTheStepMomentum {
            lambda_nu,
            k,
            printed,
        } => json!({
            "lambda": lambda_nu.map(|x| x.0),
            "nu": lambda_nu.map(|x| x.1),
            "k": k,
            "printed": printed,
        }),
    };
    match v {
        serde_json::Value::Object(m) => m,
        _ => unreachable!("every arm is an object"),
    }
}
