//! Leashed-SGD (Alg. B.3): lock-free, consistent reads and updates with bounded memory.
//!
//! # Protocol (full write-up with invariants in `docs/pvec.md`)
//!
//! Parameter vectors live in a fixed arena of `2m + 2` slots for m workers. One global word packs
//! the index of the latest published slot (low 16 bits) and the number of *acquisitions* of it
//! since it was published (high 48 bits).
//!
//! - **Read** (`LATEST_POINTER`): one `fetch_add` of one acquisition returns the latest slot and
//!   counts the reader in the same atomic step, so no publisher can miss it. The acquisition is
//!   wait-free (no stale-flag retry loop, no SeqCst).
//! - **Release** (`STOP_READING`): decrement the slot's own counter. Wait-free, except that the
//!   last releaser of a replaced slot recycles it: a lock-free push onto the free list.
//! - **Publish** (LAU-SPC, lines 25–40): take a private slot from the free list, acquire the
//!   latest slot, write `latest − η(τ)·g` into the private slot (one fused pass), then CAS the
//!   global word from (latest, count) to (private, 0). A CAS that fails only because the count
//!   grew (more readers of the same vector) is retried at once: it is not a conflict. On success
//!   the publisher adds the acquisition count it replaced (minus its own) to the old slot's
//!   counter; on a real conflict it releases and retries, up to the persistence bound.
//! - **Recycle**: a slot's counter starts at 0 when published, goes negative as its readers
//!   release, and receives +count when replaced; whoever brings it back to exactly 0 (the last
//!   reader or the publisher) pushes the slot onto a Treiber free list whose head carries a tag
//!   against ABA. Buffers stay allocated in their slot, so the steady state allocates nothing.
//! - **`seq()`** reads the latest slot's sequence number *without* acquiring it, and retries if
//!   the global word moved to another slot meanwhile: lock-free and linearizable (see
//!   [`Leashed::seq`](SharedParams::seq)), and it never waits for a snapshot's O(d) copy.
//!
//! A worker holds at most one acquisition and one private slot, and at most one snapshot reader
//! runs at a time (an internal mutex among snapshot callers only), so at most `2m + 2` slots are
//! ever in use (Lemma B.3.2 bounds it by 3m): the free list can never be empty when a worker
//! needs a slot. Acquisitions are held by drop guards and a private slot stays with its worker
//! until it is published, so a panic in the caller's closures (the read's `f`, the update's
//! `step`) gives everything back.

use crate::sync::{
    spin, AtomicI64, AtomicU32, AtomicU64, AtomicUsize, Mutex, Ordering::*, UnsafeCell,
};
use crate::{kernels, ParamWorker, Persistence, PvecError, SharedParams, Update, VectorStats};

const IDX_BITS: u32 = 16;
const IDX_MASK: u64 = (1 << IDX_BITS) - 1;
/// One acquisition in the global word.
const ONE: u64 = 1 << IDX_BITS;
/// Free-list "no slot".
const NIL: u32 = u32::MAX;

fn slot_of(word: u64) -> usize {
    (word & IDX_MASK) as usize
}

fn count_of(word: u64) -> u64 {
    word >> IDX_BITS
}

/// One parameter vector: θ, its sequence number i, and the recycling metadata of Alg. B.1.
struct Slot {
    theta: UnsafeCell<Box<[f32]>>,
    /// Sequence number i of the state held (written while private, read after acquisition, and
    /// by `seq()` without one: Release stores, so such a read also orders what came before).
    seq: AtomicU64,
    /// Releases (−1 each) plus the acquisition count handed over when replaced (+count).
    count: AtomicI64,
    /// Free-list link.
    next: AtomicU32,
    /// Whether the slot is on the free list (checks against double recycling).
    free: AtomicU32,
}

// SAFETY: `theta` is the only non-Sync field. The protocol gives each slot one of three states:
// free (on the free list: nobody touches θ), private (popped by exactly one worker, the only one
// that may write θ), or published/stale (θ only read, by holders of an acquisition). Transitions
// are synchronised: publication by the global CAS (Release) and readers' `fetch_add` (Acquire);
// release of readers by AcqRel read-modify-writes of `count`, which form one release sequence
// ending at whoever brings it to 0; recycling by the free list's Release push / Acquire pop. So a
// write to θ never overlaps a read or another write. loom checks this (tests/loom.rs).
unsafe impl Sync for Slot {}

impl Slot {
    fn new(theta: Box<[f32]>) -> Self {
        Slot {
            theta: UnsafeCell::new(theta),
            seq: AtomicU64::new(0),
            count: AtomicI64::new(0),
            next: AtomicU32::new(NIL),
            free: AtomicU32::new(0),
        }
    }
}

/// One acquisition of a published (or since replaced) slot: θ is read-only while it lives, and
/// dropping it releases the slot (`STOP_READING`), also when the holder unwinds.
struct Held<'a> {
    shared: &'a Leashed,
    slot: usize,
}

impl Held<'_> {
    fn slot(&self) -> &Slot {
        &self.shared.slots[self.slot]
    }

    /// After this holder's CAS replaced the slot: hand it the `acquisitions` counted in the
    /// global word while it was published, this holder's own included (so no release follows).
    fn hand_over(self, acquisitions: u64) {
        let (sh, i) = (self.shared, self.slot);
        std::mem::forget(self);
        let others = acquisitions as i64 - 1;
        if sh.slots[i].count.fetch_add(others, AcqRel) == -others {
            sh.recycle(i);
        }
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        self.shared.release(self.slot);
    }
}

/// The Leashed-SGD shared parameter vector. See the module documentation.
pub struct Leashed {
    slots: Box<[Slot]>,
    /// (latest slot, acquisitions since it was published).
    global: AtomicU64,
    /// Free-list head: (tag << 32) | slot, slot = NIL when empty.
    free_head: AtomicU64,
    dim: usize,
    persistence: Persistence,
    max_workers: usize,
    workers: AtomicUsize,
    /// Slots not on the free list, their peak, and buffers allocated.
    live: AtomicUsize,
    peak: AtomicUsize,
    allocated: AtomicUsize,
    snapshot_lock: Mutex<()>,
}

impl Leashed {
    /// The most simultaneous workers an arena can serve: its `2m + 2` slots must be indexable by
    /// the 16 bits of the global word.
    pub const MAX_WORKERS: usize = ((1 << IDX_BITS) - 3) / 2;

    /// Publish `theta0` as state 0, for up to `max_workers` simultaneous worker handles.
    ///
    /// # Errors
    /// [`PvecError::NoWorkers`] if `max_workers` is 0, [`PvecError::ArenaTooLarge`] if it is
    /// above [`Leashed::MAX_WORKERS`].
    pub fn try_new(
        theta0: Vec<f32>,
        max_workers: usize,
        persistence: Persistence,
    ) -> Result<Self, PvecError> {
        if max_workers == 0 {
            return Err(PvecError::NoWorkers);
        }
        if max_workers > Self::MAX_WORKERS {
            return Err(PvecError::ArenaTooLarge {
                max_workers,
                limit: Self::MAX_WORKERS,
            });
        }
        // Cannot overflow: max_workers ≤ MAX_WORKERS < 2¹⁵.
        let n = 2 * max_workers + 2;
        let dim = theta0.len();
        let mut slots = Vec::with_capacity(n);
        slots.push(Slot::new(theta0.into_boxed_slice()));
        // Other buffers are allocated on first use, so memory reflects what the run needed.
        slots.extend((1..n).map(|_| Slot::new(Box::new([]))));
        let l = Leashed {
            slots: slots.into_boxed_slice(),
            global: AtomicU64::new(0),
            free_head: AtomicU64::new(u64::from(NIL)),
            dim,
            persistence,
            max_workers,
            workers: AtomicUsize::new(0),
            live: AtomicUsize::new(1),
            peak: AtomicUsize::new(1),
            allocated: AtomicUsize::new(1),
            snapshot_lock: Mutex::new(()),
        };
        for i in (1..n).rev() {
            l.push_free(i);
        }
        Ok(l)
    }

    /// [`Leashed::try_new`] for a worker count known to be valid.
    ///
    /// # Panics
    /// If `max_workers` is 0 or above [`Leashed::MAX_WORKERS`], with the error's message.
    pub fn new(theta0: Vec<f32>, max_workers: usize, persistence: Persistence) -> Self {
        Self::try_new(theta0, max_workers, persistence).unwrap_or_else(|e| panic!("Leashed: {e}"))
    }

    pub fn persistence(&self) -> Persistence {
        self.persistence
    }

    /// Acquire the latest published slot (one `fetch_add`: wait-free), with the global word as
    /// it was just before.
    fn acquire(&self) -> (Held<'_>, u64) {
        let word = self.global.fetch_add(ONE, Acquire);
        let held = Held {
            shared: self,
            slot: slot_of(word),
        };
        (held, word)
    }

    /// Give up one acquisition of slot `i`.
    fn release(&self, i: usize) {
        if self.slots[i].count.fetch_sub(1, AcqRel) == 1 {
            self.recycle(i);
        }
    }

    fn recycle(&self, i: usize) {
        self.live.fetch_sub(1, Relaxed);
        self.push_free(i);
    }

    /// Lock-free (Treiber push): the CAS fails only when another push or pop succeeded.
    fn push_free(&self, i: usize) {
        let was_free = self.slots[i].free.swap(1, Relaxed);
        assert_eq!(was_free, 0, "pvec: slot {i} recycled twice");
        let mut head = self.free_head.load(Relaxed);
        loop {
            self.slots[i].next.store(head as u32, Relaxed);
            let tag = (head >> 32).wrapping_add(1);
            match self.free_head.compare_exchange_weak(
                head,
                (tag << 32) | i as u64,
                Release,
                Relaxed,
            ) {
                Ok(_) => return,
                Err(h) => {
                    head = h;
                    spin();
                }
            }
        }
    }

    /// Take a free slot for writing, allocating its buffer the first time.
    fn pop_private(&self) -> usize {
        let mut head = self.free_head.load(Acquire);
        let i = loop {
            let i = head as u32;
            assert!(
                i != NIL,
                "pvec: slot arena exhausted (a bug: the 2m+2 bound should prevent it)"
            );
            let next = self.slots[i as usize].next.load(Relaxed);
            let tag = (head >> 32).wrapping_add(1);
            match self.free_head.compare_exchange_weak(
                head,
                (tag << 32) | u64::from(next),
                Acquire,
                Acquire,
            ) {
                Ok(_) => break i as usize,
                Err(h) => {
                    head = h;
                    spin();
                }
            }
        };
        self.slots[i].free.store(0, Relaxed);
        let live = self.live.fetch_add(1, Relaxed) + 1;
        self.peak.fetch_max(live, Relaxed);
        let buf = self.slots[i].theta.get_mut();
        // SAFETY: slot `i` was just popped from the free list, so this thread is its only user
        // (private state) until it publishes or returns it; the Acquire pop synchronises with the
        // push that freed it, which came after every earlier reader's release.
        let buf = unsafe { buf.deref() };
        if buf.len() != self.dim {
            *buf = vec![0.0; self.dim].into_boxed_slice();
            self.allocated.fetch_add(1, Relaxed);
        }
        i
    }

    /// Number of slots on the free list. Only meaningful while no worker is active (tests).
    #[doc(hidden)]
    pub fn free_slots(&self) -> usize {
        let mut n = 0;
        let mut i = self.free_head.load(Acquire) as u32;
        while i != NIL {
            n += 1;
            i = self.slots[i as usize].next.load(Relaxed);
        }
        n
    }

    /// Slots in the arena.
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }
}

/// A worker of [`Leashed`]: keeps its private slot between failed publishes.
pub struct LeashedWorker<'a> {
    shared: &'a Leashed,
    /// Popped, never published: only this worker reaches it. Set as soon as it is popped and
    /// cleared only by the CAS that publishes it, so an unwinding `update` cannot lose it.
    private: Option<usize>,
}

impl Drop for LeashedWorker<'_> {
    fn drop(&mut self) {
        if let Some(i) = self.private.take() {
            self.shared.recycle(i);
        }
        self.shared.workers.fetch_sub(1, AcqRel);
    }
}

impl SharedParams for Leashed {
    type Worker<'a> = LeashedWorker<'a>;

    fn worker(&self) -> Result<LeashedWorker<'_>, PvecError> {
        let mut n = self.workers.load(Relaxed);
        loop {
            if n >= self.max_workers {
                return Err(PvecError::TooManyWorkers {
                    max: self.max_workers,
                });
            }
            match self
                .workers
                .compare_exchange_weak(n, n + 1, AcqRel, Relaxed)
            {
                Ok(_) => {
                    return Ok(LeashedWorker {
                        shared: self,
                        private: None,
                    })
                }
                Err(v) => {
                    n = v;
                    spin();
                }
            }
        }
    }

    fn dim(&self) -> usize {
        self.dim
    }

    /// Lock-free and linearizable, and takes no acquisition (so any number of threads may call
    /// it without touching the memory bound). It loads the global word, reads that slot's
    /// sequence number, and returns it if the global word still names the same slot; otherwise
    /// a publish succeeded in between and it tries again. The slot may have been replaced,
    /// recycled and republished meanwhile (ABA), but every value its `seq` holds between two
    /// publications lies between them (a private slot holds latest + 1 of some attempt, and
    /// attempts start after the previous publication was replaced), and published sequence
    /// numbers step by exactly 1, so the value returned was the latest at some instant during
    /// the call. The Release stores of `seq` and Acquire loads here order the second load of
    /// the global word after whatever recycling produced the value read.
    fn seq(&self) -> u64 {
        let mut i = slot_of(self.global.load(Acquire));
        loop {
            let seq = self.slots[i].seq.load(Acquire);
            let now = slot_of(self.global.load(Acquire));
            if now == i {
                return seq;
            }
            i = now;
            spin();
        }
    }

    fn snapshot(&self, out: &mut [f32]) -> u64 {
        // Checked before anything is held, so the panic costs nothing.
        assert_eq!(out.len(), self.dim, "snapshot buffer has the wrong length");
        let _one_snapshot_reader = self.snapshot_lock.lock();
        let (held, _) = self.acquire();
        let slot = held.slot();
        let theta = slot.theta.get();
        // SAFETY: the slot is acquired (counted in the global word), so it is published or stale
        // and nobody writes it until `held` is dropped, after this copy.
        out.copy_from_slice(unsafe { theta.deref() });
        slot.seq.load(Relaxed)
    }

    fn vectors(&self) -> VectorStats {
        VectorStats {
            live: self.live.load(Relaxed),
            peak: self.peak.load(Relaxed),
        }
    }
}

impl LeashedWorker<'_> {
    /// Parameter-vector buffers allocated so far (≤ the arena size; recycled, never freed).
    pub fn allocated(&self) -> usize {
        self.shared.allocated.load(Relaxed)
    }
}

impl ParamWorker for LeashedWorker<'_> {
    /// `f` runs on the latest published vector itself (no copy); it stays alive, unchanged, until
    /// `f` returns (or unwinds).
    fn read<R>(&mut self, f: impl FnOnce(&[f32], u64) -> R) -> R {
        let (held, _) = self.shared.acquire();
        let slot = held.slot();
        let theta = slot.theta.get();
        // SAFETY: acquired, so published or stale: read-only until `held` is dropped, which is
        // after `f` returns or unwinds.
        f(unsafe { theta.deref() }, slot.seq.load(Relaxed))
    }

    fn update(
        &mut self,
        grad: &[f32],
        read_seq: u64,
        mut step: impl FnMut(u64) -> Option<f32>,
    ) -> Update {
        let sh = self.shared;
        assert_eq!(grad.len(), sh.dim, "gradient has the wrong dimension");
        let new = match self.private {
            Some(i) => i,
            None => *self.private.insert(sh.pop_private()),
        };
        let mut attempts = 0u32;
        loop {
            attempts += 1;
            let (held, word) = sh.acquire();
            let old = held.slot;
            let latest_seq = held.slot().seq.load(Relaxed);
            let staleness = latest_seq.saturating_sub(read_seq);
            let Some(eta) = step(staleness) else {
                return Update {
                    staleness,
                    attempts,
                    applied: false,
                    dropped: true,
                };
            };
            {
                let src = held.slot().theta.get();
                let dst = sh.slots[new].theta.get_mut();
                // SAFETY: `old` is acquired (read-only while `held` lives); `new` is this
                // worker's private slot (popped, unpublished: nobody else can reach it).
                kernels::copy_axpy(unsafe { dst.deref() }, unsafe { src.deref() }, grad, eta);
            }
            sh.slots[new].seq.store(latest_seq + 1, Release);
            // Publish: the global word must still name `old`; only its count may have moved.
            let mut expected = word + ONE;
            let published = loop {
                match sh
                    .global
                    .compare_exchange_weak(expected, new as u64, AcqRel, Acquire)
                {
                    Ok(_) => break true,
                    Err(actual) if slot_of(actual) == old => {
                        expected = actual;
                        spin();
                    }
                    Err(_) => break false,
                }
            };
            if published {
                self.private = None;
                // Hand `old` the acquisitions it received while latest, ours included.
                held.hand_over(count_of(expected));
                return Update {
                    staleness,
                    attempts,
                    applied: true,
                    dropped: false,
                };
            }
            drop(held);
            if let Persistence::Bounded(tp) = sh.persistence {
                if attempts > tp {
                    // The private slot stays with the worker for its next update.
                    return Update {
                        staleness,
                        attempts,
                        applied: false,
                        dropped: false,
                    };
                }
            }
            spin();
        }
    }
}
