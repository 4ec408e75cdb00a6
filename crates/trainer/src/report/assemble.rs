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
        let crash = shared.crashed();
        let loosest = cfg.eps.iter().cloned().fold(0.0, f64::max);
        let outcome = if crash.is_some() {
            Outcome::Crashed
        } else if measured.interrupted {
            Outcome::Interrupted
        } else if measured.converged {
            Outcome::Converged
        } else if measured
            .eps
            .iter()
            .any(|e| e.fraction == loosest && e.seconds.is_some())
        {
            Outcome::Completed
        } else {
            Outcome::Diverged
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
        for s in executed.stats {
            tc.extend(s.tc_ms);
            tu.extend(s.tu_us);
        }
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
            schema: SCHEMA,
            command: job.command.clone(),
            config: cfg.clone(),
            machine: Machine::detect(job.net.isa()),
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
            crash,
            eps: measured.eps,
            seconds,
            epochs: shared.cursor.epochs(),
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
            step_size: StepSizeReport {
                policy: format!("{:?}", shared.policy.policy()),
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
                    trajectory: e.accounting.trajectory().to_vec(),
                    worker_seconds: r,
                    mean_threads: r / seconds.max(1e-9),
                }
            }),
            ain: elastic.as_ref().map(|e| AinReport {
                measured: e.noise.n,
                mean_norm: e.noise.mean(),
                max_norm: e.noise.max,
                peak_retained: e.ain.peak_retained(),
                series: e.noise.series.clone(),
            }),
        }
    }
}
