//! Lock-based AsyncSGD (Alg. B.2): consistent reads and updates under one mutex.

use crate::copies::CopyCount;
use crate::{kernels, ParamWorker, PvecError, SharedParams, Update, VectorStats};
use parking_lot::Mutex;
use std::sync::atomic::{AtomicU64, Ordering::*};

struct State {
    theta: Vec<f32>,
    seq: u64,
}

/// θ behind a `parking_lot` mutex. A read copies θ under the lock (Alg. B.2 line 12); an update
/// applies `θ ← θ − η·g` under it (line 16).
pub struct Locked {
    state: Mutex<State>,
    /// `state.seq`, stored under the lock, so `seq()` need not take it.
    seq: AtomicU64,
    dim: usize,
    copies: CopyCount,
}

impl Locked {
    pub fn new(theta0: Vec<f32>) -> Self {
        let dim = theta0.len();
        Locked {
            state: Mutex::new(State {
                theta: theta0,
                seq: 0,
            }),
            seq: AtomicU64::new(0),
            dim,
            copies: CopyCount::default(),
        }
    }
}

/// A worker of [`Locked`]: holds its private copy of θ (`local_param` in Alg. B.2).
pub struct LockedWorker<'a> {
    shared: &'a Locked,
    local: Vec<f32>,
}

impl Drop for LockedWorker<'_> {
    fn drop(&mut self) {
        self.shared.copies.remove();
    }
}

impl SharedParams for Locked {
    type Worker<'a> = LockedWorker<'a>;

    fn worker(&self) -> Result<LockedWorker<'_>, PvecError> {
        self.copies.add();
        Ok(LockedWorker {
            shared: self,
            local: vec![0.0; self.dim],
        })
    }

    fn dim(&self) -> usize {
        self.dim
    }

    fn seq(&self) -> u64 {
        self.seq.load(Acquire)
    }

    fn snapshot(&self, out: &mut [f32]) -> u64 {
        assert_eq!(out.len(), self.dim, "snapshot buffer has the wrong length");
        let s = self.state.lock();
        out.copy_from_slice(&s.theta);
        s.seq
    }

    fn vectors(&self) -> VectorStats {
        self.copies.stats()
    }
}

impl ParamWorker for LockedWorker<'_> {
    fn read<R>(&mut self, f: impl FnOnce(&[f32], u64) -> R) -> R {
        let seq = {
            let s = self.shared.state.lock();
            self.local.copy_from_slice(&s.theta);
            s.seq
        };
        f(&self.local, seq)
    }

    fn update(
        &mut self,
        grad: &[f32],
        read_seq: u64,
        mut step: impl FnMut(u64) -> Option<f32>,
    ) -> Update {
        assert_eq!(
            grad.len(),
            self.shared.dim,
            "gradient has the wrong dimension"
        );
        let mut s = self.shared.state.lock();
        // Saturating: a `read_seq` from the future (a caller's mistake) means τ = 0, not a panic
        // under the lock.
        let staleness = s.seq.saturating_sub(read_seq);
        let Some(eta) = step(staleness) else {
            return Update {
                staleness,
                attempts: 1,
                applied: false,
                dropped: true,
            };
        };
        kernels::axpy(&mut s.theta, grad, eta);
        s.seq += 1;
        self.shared.seq.store(s.seq, Release);
        Update {
            staleness,
            attempts: 1,
            applied: true,
            dropped: false,
        }
    }
}
