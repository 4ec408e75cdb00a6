//! What every worker and the coordinator of one run share.

use crate::config::Config;
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
    ) -> Self {
        Shared {
            cfg,
            net,
            train,
            cursor,
            stop: AtomicBool::new(false),
            crash: Mutex::new(None),
            staleness: Histogram::new(cfg.tau_max),
            attempts: Histogram::new(64),
            policy,
            gate,
            measure_ain: cfg.ain || cfg.elastic,
        }
    }

    /// Record the first crash and stop the run.
    pub fn crash(&self, why: String) {
        self.crash.lock().expect("crash lock").get_or_insert(why);
        self.stop.store(true, Relaxed);
    }

    /// The first crash, if any.
    pub fn crashed(&self) -> Option<String> {
        self.crash.lock().expect("crash lock").clone()
    }

    pub fn stopping(&self) -> bool {
        self.stop.load(Relaxed)
    }
}
