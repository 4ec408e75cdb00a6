//! Memory accounting for the strategies whose workers each keep a private copy of θ.

use crate::VectorStats;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

/// One shared θ plus one private copy per live worker handle.
#[derive(Debug, Default)]
pub(crate) struct CopyCount {
    workers: AtomicUsize,
    peak: AtomicUsize,
}

impl CopyCount {
    /// A worker handle was created.
    pub(crate) fn add(&self) {
        let n = self.workers.fetch_add(1, Relaxed) + 1;
        self.peak.fetch_max(n, Relaxed);
    }

    /// A worker handle was dropped.
    pub(crate) fn remove(&self) {
        self.workers.fetch_sub(1, Relaxed);
    }

    pub(crate) fn stats(&self) -> VectorStats {
        VectorStats {
            live: 1 + self.workers.load(Relaxed),
            peak: 1 + self.peak.load(Relaxed),
        }
    }
}
