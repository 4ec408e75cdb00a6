//! HOGWILD!: uncoordinated component-wise reads and updates.
//!
//! θ's components are `AtomicU32`s holding f32 bits, accessed with `Relaxed` loads and stores:
//! exactly HOGWILD!'s semantics (a read may mix components of different states, concurrent
//! read-modify-writes of one component may lose an update), without a data race in Rust's sense.
//! The total order used for staleness is the one of §B.2: a global update counter.

use crate::copies::CopyCount;
use crate::{ParamWorker, PvecError, SharedParams, Update, VectorStats};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::*};

pub struct Hogwild {
    theta: Box<[AtomicU32]>,
    /// Updates applied so far.
    counter: AtomicU64,
    copies: CopyCount,
}

impl Hogwild {
    pub fn new(theta0: Vec<f32>) -> Self {
        Hogwild {
            theta: theta0
                .into_iter()
                .map(|v| AtomicU32::new(v.to_bits()))
                .collect(),
            counter: AtomicU64::new(0),
            copies: CopyCount::default(),
        }
    }

    fn copy_out(&self, out: &mut [f32]) {
        for (o, a) in out.iter_mut().zip(self.theta.iter()) {
            *o = f32::from_bits(a.load(Relaxed));
        }
    }
}

/// A worker of [`Hogwild`]: holds its private copy of θ.
pub struct HogwildWorker<'a> {
    shared: &'a Hogwild,
    local: Vec<f32>,
}

impl Drop for HogwildWorker<'_> {
    fn drop(&mut self) {
        self.shared.copies.remove();
    }
}

impl SharedParams for Hogwild {
    type Worker<'a> = HogwildWorker<'a>;

    fn worker(&self) -> Result<HogwildWorker<'_>, PvecError> {
        self.copies.add();
        Ok(HogwildWorker {
            shared: self,
            local: vec![0.0; self.theta.len()],
        })
    }

    fn dim(&self) -> usize {
        self.theta.len()
    }

    fn seq(&self) -> u64 {
        self.counter.load(Acquire)
    }

    fn snapshot(&self, out: &mut [f32]) -> u64 {
        assert_eq!(
            out.len(),
            self.dim(),
            "snapshot buffer has the wrong length"
        );
        let seq = self.counter.load(Acquire);
        self.copy_out(out);
        seq
    }

    fn vectors(&self) -> VectorStats {
        self.copies.stats()
    }
}

impl ParamWorker for HogwildWorker<'_> {
    fn read<R>(&mut self, f: impl FnOnce(&[f32], u64) -> R) -> R {
        let seq = self.shared.counter.load(Acquire);
        self.shared.copy_out(&mut self.local);
        f(&self.local, seq)
    }

    /// The step size is chosen from the counter's value when the update starts; the reported τ
    /// is the update's position in the counter's total order (they differ only if another update
    /// was counted in between).
    fn update(
        &mut self,
        grad: &[f32],
        read_seq: u64,
        mut step: impl FnMut(u64) -> Option<f32>,
    ) -> Update {
        assert_eq!(
            grad.len(),
            self.shared.dim(),
            "gradient has the wrong dimension"
        );
        let now = self.shared.counter.load(Acquire);
        let Some(eta) = step(now.saturating_sub(read_seq)) else {
            return Update {
                staleness: now.saturating_sub(read_seq),
                attempts: 1,
                applied: false,
                dropped: true,
            };
        };
        let at = self.shared.counter.fetch_add(1, AcqRel);
        for (a, &g) in self.shared.theta.iter().zip(grad) {
            a.store(
                (f32::from_bits(a.load(Relaxed)) - eta * g).to_bits(),
                Relaxed,
            );
        }
        Update {
            staleness: at.saturating_sub(read_seq),
            attempts: 1,
            applied: true,
            dropped: false,
        }
    }
}
