//! What every worker and the coordinator of one run share.

use crate::config::Config;
use crate::report::StopReason;
use nn::{Dataset, Network, SharedCursor};
use staleness::Histogram;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Mutex;
use stepsize::Adaptive;

/// The state of one run that is shared by all of its workers and its coordinator, whoever runs
/// the workers.
pub(crate) struct Shared<'a> {
    pub cfg: &'a Config,
    pub net: &'a Network,
    pub train: &'a Dataset,
    /// Mini-batches for every worker (one pass over the data per epoch).
    pub cursor: SharedCursor,
    /// Set when the run must end (data used up, limit, ε, crash, interruption).
    pub stop: AtomicBool,
    crash: Mutex<Option<String>>,
    /// What stopped the run first.
    reason: Mutex<Option<StopReason>>,
    /// τ of every applied update.
    pub staleness: Histogram,
    /// Publish attempts of every update call (Leashed-SGD's retry loop).
    pub attempts: Histogram,
    /// η(τ), refreshed from the live staleness histogram by the coordinator.
    pub policy: Adaptive,
    /// ELAsyncSGD's m_E switch (elastic runs only).
    pub gate: Option<elastic::Gate>,
    /// Workers report what they read and submit, for the exact AIN (Def. D.4.2).
    pub measure_ain: bool,
    /// Set from outside (a signal) to stop the run.
    pub interrupt: &'a AtomicBool,
}

impl<'a> Shared<'a> {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        cfg: &'a Config,
        net: &'a Network,
        train: &'a Dataset,
        cursor: SharedCursor,
        policy: Adaptive,
        gate: Option<elastic::Gate>,
        interrupt: &'a AtomicBool,
    ) -> Self {
        Shared {
            cfg,
            net,
            train,
            cursor,
            stop: AtomicBool::new(false),
            crash: Mutex::new(None),
            reason: Mutex::new(None),
            staleness: Histogram::new(cfg.tau_max),
            attempts: Histogram::new(64),
            policy,
            gate,
            measure_ain: cfg.ain || cfg.elastic,
            interrupt,
        }
    }

    /// Record the first divergence (a non-finite loss, or the loss past its bound) and stop
    /// the run.
    pub fn crash(&self, why: String) {
        self.crash.lock().expect("crash lock").get_or_insert(why);
        self.stop_for(StopReason::Divergence);
    }

    /// Stop the run, recording why if it is the first reason.
    pub fn stop_for(&self, reason: StopReason) {
        self.reason
            .lock()
            .expect("reason lock")
            .get_or_insert(reason);
        self.stop.store(true, Relaxed);
    }

    /// What stopped the run (the data budget if nothing else did).
    pub fn stop_reason(&self) -> StopReason {
        self.reason
            .lock()
            .expect("reason lock")
            .unwrap_or(StopReason::Budget)
    }

    /// The first crash, if any.
    pub fn crashed(&self) -> Option<String> {
        self.crash.lock().expect("crash lock").clone()
    }

    pub fn stopping(&self) -> bool {
        self.stop.load(Relaxed)
    }

    /// Whether a worker must stop before its next update, at `seconds` on the run's clock: the
    /// run is stopping, or a signal or the time limit says so now. Workers check this
    /// themselves, so a stop takes effect within one gradient whatever the coordinator is
    /// doing.
    pub fn stop_due(&self, seconds: f64) -> bool {
        if self.stopping() {
            return true;
        }
        if self.interrupt.load(Relaxed) {
            self.stop_for(StopReason::Interrupt);
            return true;
        }
        if self.cfg.max_seconds.is_some_and(|l| seconds >= l) {
            self.stop_for(StopReason::TimeLimit);
            return true;
        }
        false
    }
}
