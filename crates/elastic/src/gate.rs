use parking_lot::{Condvar, Mutex};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::*};

/// The elastic parallelism level m_E that workers check at every iteration boundary
/// (`whenever w < m^E` in Alg. D.2).
///
/// The check is one atomic load while a worker is active. A worker with id ≥ m_E parks on a
/// condition variable — no spinning, no CPU — until [`Gate::set`] raises m_E above its id or
/// [`Gate::close`] ends the run.
#[derive(Debug)]
pub struct Gate {
    level: AtomicUsize,
    closed: AtomicBool,
    lock: Mutex<()>,
    cv: Condvar,
    parked: AtomicUsize,
}

impl Gate {
    pub fn new(level: usize) -> Self {
        Gate {
            level: AtomicUsize::new(level),
            closed: AtomicBool::new(false),
            lock: Mutex::new(()),
            cv: Condvar::new(),
            parked: AtomicUsize::new(0),
        }
    }

    /// The current m_E.
    pub fn level(&self) -> usize {
        self.level.load(Acquire)
    }

    /// Set m_E; workers above it park at their next boundary, workers below it wake.
    pub fn set(&self, level: usize) {
        let _g = self.lock.lock();
        self.level.store(level, Release);
        self.cv.notify_all();
    }

    /// Wake everybody for good: [`Gate::wait_active`] returns `false` from now on.
    pub fn close(&self) {
        let _g = self.lock.lock();
        self.closed.store(true, Release);
        self.cv.notify_all();
    }

    /// Called by worker `id` at an iteration boundary: returns at once while `id < m_E`,
    /// otherwise parks until it is. Returns `false` if the gate was closed (stop working).
    pub fn wait_active(&self, id: usize) -> bool {
        if self.closed.load(Acquire) {
            return false;
        }
        if id < self.level.load(Acquire) {
            return true;
        }
        let mut g = self.lock.lock();
        self.parked.fetch_add(1, Relaxed);
        while id >= self.level.load(Acquire) && !self.closed.load(Acquire) {
            self.cv.wait(&mut g);
        }
        self.parked.fetch_sub(1, Relaxed);
        !self.closed.load(Acquire)
    }

    /// Whether [`Gate::close`] was called.
    pub fn is_closed(&self) -> bool {
        self.closed.load(Acquire)
    }

    /// Workers parked right now.
    pub fn parked(&self) -> usize {
        self.parked.load(Relaxed)
    }
}
