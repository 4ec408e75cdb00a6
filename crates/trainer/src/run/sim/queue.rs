//! The virtual clock: pending events ordered by virtual time, ties broken by the order they
//! were scheduled in, so that a run is a pure function of its configuration and seed.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// What happens to a worker (or, for the lock, on its behalf) at an instant.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(in crate::run::sim) enum Kind {
    /// The worker starts an iteration: stop checks, the elastic gate, a mini-batch claim, a
    /// read.
    Start,
    /// Its gradient's T_c (and its read's T_r) are over.
    ComputeDone,
    /// Lock-based: the lock held on the worker's behalf is released; `then_done`: it was an
    /// update, which ends with the release.
    LockRelease { then_done: bool },
    /// HOGWILD!: the worker's component-wise write is complete.
    WriteEnd,
    /// Leashed-SGD: the worker's candidate, computed from state `expect` with step `eta`, is
    /// ready: the CAS is tried now.
    Cas { expect: u64, eta: f32 },
    /// SYNC: the barrier is reached (every worker's gradient is done).
    StepEnd,
    /// SYNC: the leader's averaged step is applied and reported.
    StepDone,
}

#[derive(Debug)]
pub(super) struct Entry {
    pub t: f64,
    order: u64,
    pub worker: usize,
    pub kind: Kind,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    /// Reversed: the earliest (then first scheduled) entry is the heap's greatest.
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .t
            .total_cmp(&self.t)
            .then(other.order.cmp(&self.order))
    }
}

/// Pending events.
#[derive(Default)]
pub(super) struct Queue {
    heap: BinaryHeap<Entry>,
    scheduled: u64,
}

impl Queue {
    pub fn push(&mut self, t: f64, worker: usize, kind: Kind) {
        debug_assert!(t.is_finite(), "event at a non-finite time");
        self.heap.push(Entry {
            t,
            order: self.scheduled,
            worker,
            kind,
        });
        self.scheduled += 1;
    }

    /// The earliest event.
    pub fn pop(&mut self) -> Option<Entry> {
        self.heap.pop()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn earliest_first_and_ties_in_scheduling_order() {
        let mut q = Queue::default();
        q.push(2.0, 0, Kind::Start);
        q.push(1.0, 1, Kind::Start);
        q.push(1.0, 2, Kind::WriteEnd);
        q.push(0.5, 3, Kind::StepEnd);
        let got: Vec<(f64, usize)> =
            std::iter::from_fn(|| q.pop().map(|e| (e.t, e.worker))).collect();
        assert_eq!(got, vec![(0.5, 3), (1.0, 1), (1.0, 2), (2.0, 0)]);
    }
}
