//! The coordinator: what is measured and decided while the workers run, whoever runs them.
//!
//! It takes one [`Rec`] per event in each worker's order ([`Coordinator::record`]), and between
//! batches of events it is polled ([`Coordinator::poll`]): it evaluates a snapshot of θ when the
//! schedule says so, refreshes instance-based step sizes from the live staleness histogram,
//! checks the limits and the interrupt flag, and reports progress. [`Coordinator::finish`] runs
//! the final evaluation and hands over what was measured.

use super::context::Shared;
use super::events::{Event, Rec};
use super::trackers::{ElasticTracker, EpsTracker, EvalSchedule, MinibatchSeries, TrailingLoss};
use super::{Observer, Progress};
use crate::config::{Algorithm, EpsBy};
use crate::report::{EpsTime, EvalPoint, MinibatchPoint};
use nn::{Dataset, Network};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::Instant;
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
    pub interrupted: bool,
    pub converged: bool,
}

/// Evaluates snapshots of θ: the fixed evaluation subset of the training set and the test set.
pub(crate) struct Evaluator<'a> {
    pub net: &'a Network,
    pub eval: &'a Dataset,
    pub test: &'a Dataset,
    pub theta: Vec<f32>,
    pub scratch: nn::Scratch,
}

impl Evaluator<'_> {
    /// (train-subset loss, test loss, test accuracy) of the θ in `self.theta`.
    pub fn run(&mut self) -> (f64, f64, f64) {
        let train = self
            .net
            .loss(&self.theta, self.eval.view(), &mut self.scratch);
        let (test, acc) = self
            .net
            .evaluate(&self.theta, self.test.view(), &mut self.scratch);
        (train, test, acc)
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
    interrupt: &'a AtomicBool,
    observer: &'o mut dyn Observer,
    pub elastic: Option<ElasticTracker>,
    t0: Instant,
    eps: EpsTracker,
    trailing: TrailingLoss,
    schedule: EvalSchedule,
    minibatch: MinibatchSeries,
    refresher: Refresher,
    next_progress: f64,
    m: Measured,
}

impl<'s, 'a, 'o> Coordinator<'s, 'a, 'o> {
    pub fn new(
        shared: &'s Shared<'a>,
        ev: Evaluator<'a>,
        initial_loss: f64,
        interrupt: &'a AtomicBool,
        observer: &'o mut dyn Observer,
        elastic: Option<ElasticTracker>,
    ) -> Self {
        let cfg = shared.cfg;
        let per_step = if cfg.algorithm == Algorithm::Sync {
            cfg.threads
        } else {
            1
        };
        let expected =
            (cfg.epochs * shared.train.len() as f64 / (cfg.batch * per_step) as f64).max(1.0);
        Coordinator {
            refresher: Refresher::for_policy(&shared.policy, cfg.threads),
            shared,
            ev,
            interrupt,
            observer,
            elastic,
            t0: Instant::now(),
            eps: EpsTracker::new(&cfg.eps, initial_loss),
            trailing: TrailingLoss::default(),
            schedule: EvalSchedule::new(cfg, expected),
            minibatch: MinibatchSeries::new(expected),
            next_progress: 0.2,
            m: Measured {
                series: Vec::new(),
                minibatch: Vec::new(),
                eps: Vec::new(),
                seconds: 0.0,
                calls: 0,
                applied: 0,
                dropped: 0,
                interrupted: false,
                converged: false,
            },
        }
    }

    /// Restart the clock (the workers are released now).
    pub fn start(&mut self) {
        self.t0 = Instant::now();
    }

    fn now(&self) -> f64 {
        self.t0.elapsed().as_secs_f64()
    }

    /// Take one event.
    pub fn record(&mut self, r: Rec) {
        let secs = r.at.saturating_duration_since(self.t0).as_secs_f64();
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
                    el.noise.push(secs, noise.norm);
                }
            }
            if applied {
                if let Some(reg) = el.regulator.as_mut() {
                    if let Some(level) = reg.on_update(self.m.applied, f64::from(loss), secs) {
                        if let Some(g) = &self.shared.gate {
                            g.set(level);
                        }
                        el.accounting.change(secs, level);
                    }
                }
            }
        }
        let m = &mut self.m;
        m.calls += 1;
        m.applied += u64::from(applied);
        m.dropped += u64::from(dropped);
        self.trailing.push(loss);
        let trailing = self.trailing.mean();
        self.minibatch.push(secs, m.calls, trailing);
        let cfg = self.shared.cfg;
        if cfg.eps_by == EpsBy::Minibatch
            && self.trailing.full()
            && self.eps.reach(trailing, secs, m.calls)
            && cfg.stop_at_eps
        {
            m.converged = true;
            self.shared.stop.store(true, Relaxed);
        }
        let staleness = &self.shared.staleness;
        self.refresher
            .tick(&self.shared.policy, m.calls, secs, |c| {
                staleness.snapshot_into(c)
            });
    }

    /// Between batches of events: evaluate when due, refresh step sizes, check the limits and
    /// the interrupt flag, report progress. `disconnected`: every worker has finished.
    pub fn poll(&mut self, snapshot: Snapshot<'_>, disconnected: bool) {
        let cfg = self.shared.cfg;
        let now = self.now();
        if self.schedule.due(now, self.m.calls) && !disconnected {
            self.schedule.started(self.m.calls);
            let seq = snapshot(&mut self.ev.theta);
            let (train, test, acc) = self.ev.run();
            let p = EvalPoint {
                seconds: now,
                updates: seq,
                epochs: self.shared.cursor.epochs(),
                train_loss: train,
                test_loss: test,
                test_accuracy: acc,
            };
            if !train.is_finite() {
                self.shared.crash(format!(
                    "non-finite evaluation loss ({train}) after {seq} updates"
                ));
            } else if cfg.eps_by == EpsBy::Eval
                && self.eps.reach(train, now, seq)
                && cfg.stop_at_eps
            {
                self.m.converged = true;
                self.shared.stop.store(true, Relaxed);
            }
            self.observer.evaluated(&p);
            self.m.series.push(p);
            self.schedule.ended(self.now());
        }
        // The refresher also ticks here, so a time-based refresh happens while no update
        // arrives (the coordinator's own clock; the updates' counter stands).
        let staleness = &self.shared.staleness;
        self.refresher
            .tick(&self.shared.policy, self.m.calls, now, |c| {
                staleness.snapshot_into(c)
            });
        if let Some(limit) = cfg.max_seconds {
            if now >= limit {
                self.shared.stop.store(true, Relaxed);
            }
        }
        if self.interrupt.load(Relaxed) && !self.m.interrupted {
            self.m.interrupted = true;
            self.shared.stop.store(true, Relaxed);
        }
        if self.shared.stopping() {
            // Parked workers must wake up to see the stop and hang up.
            if let Some(g) = &self.shared.gate {
                g.close();
            }
        }
        if now >= self.next_progress {
            self.observer.progress(&Progress {
                seconds: now,
                updates: self.m.calls,
                epochs: self.shared.cursor.epochs(),
                total_epochs: cfg.epochs,
                trailing_loss: self.trailing.mean(),
                updates_per_second: self.m.calls as f64 / now.max(1e-9),
            });
            self.next_progress = now + 0.2;
        }
    }

    /// Every worker has stopped: the run's duration ends now.
    pub fn stopped(&mut self) {
        self.m.seconds = self.now();
    }

    /// The final evaluation of `theta` (state `seq`), which also counts for ε (a run shorter
    /// than one evaluation period), and everything measured.
    pub fn finish(mut self, theta: &[f32], seq: u64) -> Finished {
        let cfg = self.shared.cfg;
        self.ev.theta.copy_from_slice(theta);
        let (train, test, acc) = self.ev.run();
        if !train.is_finite() && self.shared.crashed().is_none() {
            self.shared.crash(format!(
                "non-finite evaluation loss ({train}) after {seq} updates"
            ));
        } else if cfg.eps_by == EpsBy::Eval {
            self.eps.reach(train, self.m.seconds, seq);
        }
        self.m.series.push(EvalPoint {
            seconds: self.m.seconds,
            updates: seq,
            epochs: self.shared.cursor.epochs(),
            train_loss: train,
            test_loss: test,
            test_accuracy: acc,
        });
        self.m.eps = self.eps.times;
        self.m.minibatch = self.minibatch.points;
        Finished {
            measured: self.m,
            elastic: self.elastic,
            window: self.refresher.window(),
        }
    }
}
