//! The coordinator: what is measured and decided while the workers run, whoever runs them.
//!
//! It takes one [`Rec`] per event, in one global order, stamped on the run's clock
//! ([`Coordinator::record`]), and between batches of events it is polled with the clock's time
//! ([`Coordinator::poll`]): it evaluates snapshots of θ on the schedule — a piece at a time, so
//! that events keep flowing and a stop is never held up by an evaluation — refreshes
//! instance-based step sizes from the live staleness histogram, checks the limits and the
//! interrupt flag, and reports progress. [`Coordinator::finish`] runs the final evaluation and
//! hands over what was measured.

use super::context::Shared;
use super::events::{Event, Rec};
use super::trackers::{ElasticTracker, EpsTracker, EvalSchedule, MinibatchSeries, TrailingLoss};
use super::{Observer, Progress};
use crate::config::{Algorithm, EpsBy};
use crate::report::{EpsTime, EvalPoint, MinibatchPoint, StopReason};
use nn::{Dataset, EvalSums, Network};
use std::time::{Duration, Instant};
use stepsize::Refresher;

/// What the coordinator measured.
pub(crate) struct Measured {
    pub series: Vec<EvalPoint>,
    pub minibatch: Vec<MinibatchPoint>,
    pub eps: Vec<EpsTime>,
    pub seconds: f64,
    pub calls: u64,
    pub applied: u64,
    pub dropped: u64,
    /// Passes over the data by the update calls taken.
    pub epochs: f64,
}

/// Evaluates snapshots of θ: the fixed evaluation subset of the training set and the test set.
pub(crate) struct Evaluator<'a> {
    pub net: &'a Network,
    pub eval: &'a Dataset,
    pub test: &'a Dataset,
    pub theta: Vec<f32>,
    pub scratch: nn::Scratch,
}

/// Samples evaluated per piece of an interruptible evaluation (a multiple of the evaluator's
/// scratch capacity, so that pieces add up exactly as one pass).
const PIECE: usize = 500;
/// How long one poll may spend evaluating before events are drained again.
const EVAL_SLICE: Duration = Duration::from_millis(20);

impl Evaluator<'_> {
    /// (train-subset loss, test loss, test accuracy) of the θ in `self.theta`, in one go.
    pub fn run(&mut self) -> (f64, f64, f64) {
        let mut e = Pending::default();
        while !self.step(&mut e) {}
        e.result()
    }

    /// Evaluate the next piece of `e`; `true` when it is complete.
    fn step(&mut self, e: &mut Pending) -> bool {
        let (data, sums) = if e.train.samples < self.eval.len() as u64 {
            (self.eval, &mut e.train)
        } else if e.test.samples < self.test.len() as u64 {
            (self.test, &mut e.test)
        } else {
            return true;
        };
        let at = sums.samples as usize;
        let end = (at + PIECE).min(data.len());
        let piece = data.slice(at, end);
        self.net
            .evaluate_into(&self.theta, piece, &mut self.scratch, sums);
        e.train.samples >= self.eval.len() as u64 && e.test.samples >= self.test.len() as u64
    }
}

/// An evaluation under way: the snapshot's time and state, and the sums so far.
#[derive(Default)]
struct Pending {
    seconds: f64,
    seq: u64,
    calls: u64,
    train: EvalSums,
    test: EvalSums,
}

impl Pending {
    fn result(&self) -> (f64, f64, f64) {
        (
            self.train.mean_loss(),
            self.test.mean_loss(),
            self.test.accuracy(),
        )
    }
}

/// A snapshot of the current θ into the buffer; returns its sequence number.
pub(crate) type Snapshot<'f> = &'f dyn Fn(&mut [f32]) -> u64;

/// What a finished coordinator hands to report assembly.
pub(crate) struct Finished {
    pub measured: Measured,
    pub elastic: Option<ElasticTracker>,
    /// The thesis code's TAIL-τ sample window, if the policy has one.
    pub window: Option<stepsize::WindowSample>,
}

pub(crate) struct Coordinator<'s, 'a, 'o> {
    shared: &'s Shared<'a>,
    ev: Evaluator<'a>,
    observer: &'o mut dyn Observer,
    pub elastic: Option<ElasticTracker>,
    initial_loss: f64,
    eps: EpsTracker,
    trailing: TrailingLoss,
    schedule: EvalSchedule,
    minibatch: MinibatchSeries,
    refresher: Refresher,
    pending: Option<Pending>,
    next_progress: f64,
    /// Samples per update call (b, or m·b for SYNC), for epochs at one instant.
    samples_per_call: f64,
    measured: Measured,
    /// Evaluate a due snapshot in one poll, taking no time on the run's clock (a simulator's
    /// virtual clock stands still while the host evaluates; a time slice would make the
    /// schedule depend on host speed).
    whole_evaluations: bool,
}

impl<'s, 'a, 'o> Coordinator<'s, 'a, 'o> {
    pub fn new(
        shared: &'s Shared<'a>,
        ev: Evaluator<'a>,
        initial_loss: f64,
        start: EvalPoint,
        observer: &'o mut dyn Observer,
        elastic: Option<ElasticTracker>,
    ) -> Self {
        let cfg = shared.cfg;
        let per_call = cfg.batch
            * if cfg.algorithm == Algorithm::Sync {
                cfg.threads
            } else {
                1
            };
        let expected = (cfg.epochs * shared.train.len() as f64 / per_call as f64).max(1.0);
        Coordinator {
            refresher: Refresher::for_policy(&shared.policy, cfg.threads),
            shared,
            ev,
            observer,
            elastic,
            initial_loss,
            eps: EpsTracker::new(&cfg.eps, initial_loss),
            trailing: TrailingLoss::default(),
            schedule: EvalSchedule::new(cfg, expected),
            minibatch: MinibatchSeries::new(expected),
            pending: None,
            next_progress: 0.2,
            samples_per_call: per_call as f64,
            measured: Measured {
                series: vec![start],
                minibatch: Vec::new(),
                eps: Vec::new(),
                seconds: 0.0,
                calls: 0,
                applied: 0,
                dropped: 0,
                epochs: 0.0,
            },
            whole_evaluations: false,
        }
    }

    /// Evaluate every due snapshot within one poll, at no time on the run's clock (the
    /// simulated executor: deterministic whatever the host's speed).
    pub fn evaluate_whole(&mut self) {
        self.whole_evaluations = true;
    }

    fn epochs_at(&self, calls: u64) -> f64 {
        calls as f64 * self.samples_per_call / self.shared.train.len() as f64
    }

    /// Take one event.
    pub fn record(&mut self, r: Rec) {
        let secs = r.at;
        let (loss, applied, dropped, ain) = match r.event {
            Event::Update {
                loss,
                applied,
                dropped,
                ain,
            } => (loss, applied, dropped, ain),
            Event::View(seq) => {
                if let Some(el) = self.elastic.as_mut() {
                    el.ain.view(r.worker, seq);
                }
                return;
            }
            Event::Park => {
                if let Some(el) = self.elastic.as_mut() {
                    el.ain.deactivate(r.worker);
                }
                return;
            }
            Event::Resume(from) => {
                if let Some(el) = self.elastic.as_mut() {
                    el.ain.activate(r.worker, from);
                }
                return;
            }
        };
        if let Some(el) = self.elastic.as_mut() {
            if let Some(s) = ain {
                for noise in el
                    .ain
                    .submit(r.worker, s.read, s.applied_at, s.direction, s.eta)
                {
                    el.noise.push(secs, noise.norm, noise.distance);
                }
            }
            if applied {
                if let Some(reg) = el.regulator.as_mut() {
                    if let Some(level) = reg.on_update(self.measured.applied, f64::from(loss), secs)
                    {
                        if let Some(g) = &self.shared.gate {
                            g.set(level);
                        }
                        el.accounting.change(secs, level);
                    }
                }
            }
        }
        let measured = &mut self.measured;
        measured.calls += 1;
        measured.applied += u64::from(applied);
        measured.dropped += u64::from(dropped);
        self.trailing.push(loss);
        let trailing = self.trailing.mean();
        self.minibatch.push(secs, measured.calls, trailing);
        let cfg = self.shared.cfg;
        if self.trailing.full() && trailing > cfg.divergence_factor * self.initial_loss {
            self.shared.crash(format!(
                "the trailing mini-batch loss {trailing:.4} rose past {} × the initial loss \
                 {:.4} after {} updates",
                cfg.divergence_factor, self.initial_loss, measured.calls
            ));
        }
        if cfg.eps_by == EpsBy::Minibatch
            && self.trailing.full()
            && self.eps.reach(trailing, secs, measured.calls)
            && cfg.stop_at_eps
        {
            self.shared.stop_for(StopReason::Eps);
        }
        let staleness = &self.shared.staleness;
        self.refresher
            .tick(&self.shared.policy, measured.calls, secs, |c| {
                staleness.snapshot_into(c)
            });
    }

    /// Between batches of events, at `now` seconds of the run's clock: evaluate a piece of a
    /// due evaluation, refresh step sizes, check the limits and the interrupt flag, report
    /// progress. `disconnected`: every worker has finished.
    pub fn poll(&mut self, now: f64, snapshot: Snapshot<'_>, disconnected: bool) {
        let cfg = self.shared.cfg;
        if self.shared.stop_due(now) || disconnected {
            // The final evaluation follows at once; a piece under way is not worth finishing.
            self.pending = None;
        } else if self.pending.is_none() && self.schedule.due(now, self.measured.calls) {
            self.schedule.started(now, self.measured.calls);
            let seq = snapshot(&mut self.ev.theta);
            self.pending = Some(Pending {
                seconds: now,
                seq,
                calls: self.measured.calls,
                ..Pending::default()
            });
        }
        if let Some(mut e) = self.pending.take() {
            let t = Instant::now();
            let mut done = false;
            while !done && (self.whole_evaluations || t.elapsed() < EVAL_SLICE) {
                done = self.ev.step(&mut e);
            }
            if done {
                self.evaluated(&e);
                let took = if self.whole_evaluations {
                    0.0
                } else {
                    t.elapsed().as_secs_f64()
                };
                self.schedule.ended(now + took);
            } else {
                self.pending = Some(e);
            }
        }
        // Time-based refreshes happen here too, while no update arrives.
        let staleness = &self.shared.staleness;
        self.refresher
            .tick(&self.shared.policy, self.measured.calls, now, |c| {
                staleness.snapshot_into(c)
            });
        if self.shared.stopping() {
            // Parked workers must wake up to see the stop and hang up.
            if let Some(g) = &self.shared.gate {
                g.close();
            }
        }
        if now >= self.next_progress {
            let calls = self.measured.calls;
            self.observer.progress(&Progress {
                seconds: now,
                updates: calls,
                epochs: self.epochs_at(calls),
                total_epochs: cfg.epochs,
                trailing_loss: self.trailing.mean(),
                updates_per_second: calls as f64 / now.max(1e-9),
            });
            self.next_progress = now + 0.2;
        }
    }

    /// A complete evaluation of the snapshot taken at `e.seconds`: a series point, and ε
    /// credited at that time.
    fn evaluated(&mut self, e: &Pending) {
        let cfg = self.shared.cfg;
        let (train, test, acc) = e.result();
        let p = EvalPoint {
            seconds: e.seconds,
            updates: e.seq,
            epochs: self.epochs_at(e.calls),
            train_loss: train,
            test_loss: test,
            test_accuracy: acc,
        };
        if !train.is_finite() {
            self.shared.crash(format!(
                "non-finite evaluation loss ({train}) after {} updates",
                e.seq
            ));
        } else if cfg.eps_by == EpsBy::Eval
            && self.eps.reach(train, e.seconds, e.seq)
            && cfg.stop_at_eps
        {
            self.shared.stop_for(StopReason::Eps);
        }
        self.observer.evaluated(&p);
        self.measured.series.push(p);
    }

    /// Every worker has stopped: the run lasted `seconds`.
    pub fn stopped(&mut self, seconds: f64) {
        self.measured.seconds = seconds;
    }

    /// The final evaluation of `theta` (state `seq`), which also counts for ε (a run shorter
    /// than one evaluation period), and everything measured.
    pub fn finish(mut self, theta: &[f32], seq: u64) -> Finished {
        self.ev.theta.copy_from_slice(theta);
        let (train, test, acc) = self.ev.run();
        let cfg = self.shared.cfg;
        if !train.is_finite() && self.shared.crashed().is_none() {
            self.shared.crash(format!(
                "non-finite evaluation loss ({train}) after {seq} updates"
            ));
        } else if cfg.eps_by == EpsBy::Eval {
            self.eps.reach(train, self.measured.seconds, seq);
        }
        let calls = self.measured.calls;
        self.measured.series.push(EvalPoint {
            seconds: self.measured.seconds,
            updates: seq,
            epochs: self.epochs_at(calls),
            train_loss: train,
            test_loss: test,
            test_accuracy: acc,
        });
        self.measured.epochs = self.epochs_at(calls);
        self.measured.eps = self.eps.times;
        self.measured.minibatch = self.minibatch.points;
        Finished {
            measured: self.measured,
            elastic: self.elastic,
            window: self.refresher.window(),
        }
    }
}
