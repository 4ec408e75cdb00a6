//! Model checks of the Leashed-SGD publish loop with loom (`cargo xtask loom`).
//!
//! loom runs each closure under every interleaving (and every permitted weak-memory outcome of
//! the atomics) up to a preemption bound, and fails on any access to an `UnsafeCell` that races
//! with a write: a slot recycled while someone still reads it, or written by two workers. The
//! assertions add: no lost successful update, consistent and monotone reads, no double recycling
//! (asserted inside the crate), and no leaked slot. Paths that only some interleavings take (a
//! failed T_p = 0 attempt, a dropped update) are counted across the exploration, and each model
//! asserts that loom reached them.
//!
//! loom's limits shape the models: at most 4 threads besides main, a `yield_now` in every spin
//! loop (`sync::spin`), and SeqCst accesses modelled as AcqRel (only `fence(SeqCst)` is modelled
//! exactly), which the protocol does not use.
#![cfg(loom)]

use loom::sync::Arc;
use loom::thread;
use pvec::{Leashed, ParamWorker, Persistence, SharedParams, Update};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

/// Preemption bound 3 unless `LOOM_MAX_PREEMPTIONS` says otherwise.
fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut b = loom::model::Builder::new();
    if std::env::var("LOOM_MAX_PREEMPTIONS").is_err() {
        b.preemption_bound = Some(3);
    }
    b.check(f);
}

const THETA0: [f32; 2] = [10.0, 20.0];

/// Worker t's gradient: worker 0 moves component 0 by 1, worker 1 moves component 1 by 2.
fn grad(t: usize) -> [f32; 2] {
    if t == 0 {
        [1.0, 0.0]
    } else {
        [0.0, 2.0]
    }
}

/// Read θ with a scheduling point between the two components, and check it is one consistent
/// state: the number of unit updates it contains must equal its sequence number.
fn checked_read(w: &mut impl ParamWorker) -> u64 {
    w.read(|theta, seq| {
        let a = theta[0];
        thread::yield_now();
        let b = theta[1];
        let applied = (THETA0[0] - a) + (THETA0[1] - b) / 2.0;
        assert_eq!(
            applied, seq as f32,
            "inconsistent read: θ = [{a}, {b}] at seq {seq}"
        );
        seq
    })
}

fn final_check(shared: &Leashed, outcomes: &[Update], grads: &[[f32; 2]]) {
    let mut want = THETA0;
    let mut applied = 0;
    for (u, g) in outcomes.iter().zip(grads) {
        if u.applied {
            want[0] -= g[0];
            want[1] -= g[1];
            applied += 1;
        }
    }
    let mut theta = [0.0; 2];
    assert_eq!(
        shared.snapshot(&mut theta),
        applied,
        "seq = applied updates"
    );
    assert_eq!(theta, want, "no lost or phantom update");
    assert_eq!(shared.free_slots(), shared.capacity() - 1, "leaked a slot");
    assert_eq!(shared.vectors().live, 1);
}

fn publishers(persistence: Persistence, updates_each: usize) {
    model(move || {
        let shared = Arc::new(Leashed::new(THETA0.to_vec(), 2, persistence));
        let hs: Vec<_> = (0..2)
            .map(|t| {
                let shared = shared.clone();
                thread::spawn(move || {
                    let mut w = shared.worker().unwrap();
                    let mut out = Vec::new();
                    let mut last = 0;
                    for _ in 0..updates_each {
                        let seq = checked_read(&mut w);
                        assert!(seq >= last, "reads are monotone (P3)");
                        last = seq;
                        out.push(w.update(&grad(t), seq, |_| Some(1.0)));
                    }
                    out
                })
            })
            .collect();
        let mut outcomes = Vec::new();
        let mut grads = Vec::new();
        for (t, h) in hs.into_iter().enumerate() {
            for u in h.join().unwrap() {
                outcomes.push(u);
                grads.push(grad(t));
            }
        }
        if persistence == Persistence::Unbounded {
            assert!(outcomes.iter().all(|u| u.applied));
        } else {
            // A failed CAS means another publish succeeded: someone always makes progress.
            assert!(outcomes.iter().any(|u| u.applied));
        }
        final_check(&shared, &outcomes, &grads);
    });
}

#[test]
fn two_publishers_unbounded_persistence() {
    publishers(Persistence::Unbounded, 1);
}

#[test]
fn two_publishers_persistence_zero() {
    publishers(Persistence::Bounded(0), 1);
}

/// Slot reuse: each publisher publishes twice, so replaced slots are recycled and rewritten
/// while the other worker may still be reading them.
#[test]
fn two_publishers_twice_each_recycling() {
    publishers(Persistence::Unbounded, 2);
}

/// A reader that holds the vector across scheduling points while two publishes replace it and
/// recycle it, plus a snapshot from the main thread.
#[test]
fn reader_publisher_and_snapshot() {
    model(|| {
        let shared = Arc::new(Leashed::new(THETA0.to_vec(), 2, Persistence::Unbounded));
        let r = {
            let shared = shared.clone();
            thread::spawn(move || {
                let mut w = shared.worker().unwrap();
                let a = checked_read(&mut w);
                let b = checked_read(&mut w);
                assert!(a <= b, "reads are monotone (P3)");
            })
        };
        let p = {
            let shared = shared.clone();
            thread::spawn(move || {
                let mut w = shared.worker().unwrap();
                let mut out = Vec::new();
                for _ in 0..2 {
                    let seq = w.read(|_, s| s);
                    out.push(w.update(&grad(0), seq, |_| Some(1.0)));
                }
                out
            })
        };
        let mut theta = [0.0; 2];
        let seq = shared.snapshot(&mut theta);
        assert_eq!(
            (THETA0[0] - theta[0]) as u64,
            seq,
            "snapshot is a consistent state"
        );
        r.join().unwrap();
        let outcomes = p.join().unwrap();
        final_check(&shared, &outcomes, &[grad(0), grad(0)]);
    });
}

/// T_p = 0, two updates per worker: a first attempt that loses its CAS gives up (the T_p-exceeded
/// path) and keeps its private slot, which the worker's second update reuses; the kept slot,
/// holding the abandoned attempt's values, must not be reachable by anyone else, and every slot
/// must come back when the workers drop.
#[test]
fn persistence_zero_gives_up_and_reuses_the_kept_private_slot() {
    static GAVE_UP_THEN_REUSED: AtomicUsize = AtomicUsize::new(0);
    model(|| {
        let shared = Arc::new(Leashed::new(THETA0.to_vec(), 2, Persistence::Bounded(0)));
        let hs: Vec<_> = (0..2)
            .map(|t| {
                let shared = shared.clone();
                thread::spawn(move || {
                    let mut w = shared.worker().unwrap();
                    let mut out = Vec::new();
                    for _ in 0..2 {
                        let seq = checked_read(&mut w);
                        out.push(w.update(&grad(t), seq, |_| Some(1.0)));
                    }
                    let [first, second] = [out[0], out[1]];
                    assert!(first.attempts == 1 && second.attempts == 1);
                    if !first.applied {
                        assert!(!first.dropped, "T_p exceeded is not a step-size drop");
                        if second.applied {
                            GAVE_UP_THEN_REUSED.fetch_add(1, Relaxed);
                        }
                    }
                    out
                })
            })
            .collect();
        let mut outcomes = Vec::new();
        let mut grads = Vec::new();
        for (t, h) in hs.into_iter().enumerate() {
            for u in h.join().unwrap() {
                outcomes.push(u);
                grads.push(grad(t));
            }
        }
        assert!(outcomes.iter().any(|u| u.applied));
        final_check(&shared, &outcomes, &grads);
    });
    assert!(
        GAVE_UP_THEN_REUSED.load(Relaxed) > 0,
        "no explored execution gave up an attempt and then published from the kept slot"
    );
}

/// The step-size function drops a stale update (returns `None`): the worker releases the vector
/// it acquired and keeps its private slot, then publishes from it; a second worker publishes
/// concurrently with T_p = 0, so its attempt may also give up.
#[test]
fn dropped_update_releases_and_keeps_the_private_slot() {
    static DROPPED_THEN_APPLIED: AtomicUsize = AtomicUsize::new(0);
    static OTHER_GAVE_UP: AtomicUsize = AtomicUsize::new(0);
    model(|| {
        let shared = Arc::new(Leashed::new(THETA0.to_vec(), 2, Persistence::Bounded(0)));
        let dropper = {
            let shared = shared.clone();
            thread::spawn(move || {
                let mut w = shared.worker().unwrap();
                let seq = checked_read(&mut w);
                let first = w.update(&grad(0), seq, |tau| (tau == 0).then_some(1.0));
                assert!(!first.dropped || (first.staleness > 0 && !first.applied));
                // Fresh read, so τ = 0 unless the other worker publishes again (it does not).
                let seq = checked_read(&mut w);
                let second = w.update(&grad(0), seq, |_| Some(1.0));
                if first.dropped && second.applied {
                    DROPPED_THEN_APPLIED.fetch_add(1, Relaxed);
                }
                vec![first, second]
            })
        };
        let other = {
            let shared = shared.clone();
            thread::spawn(move || {
                let mut w = shared.worker().unwrap();
                let seq = w.read(|_, s| s);
                let u = w.update(&grad(1), seq, |_| Some(1.0));
                if !u.applied {
                    OTHER_GAVE_UP.fetch_add(1, Relaxed);
                }
                u
            })
        };
        let mut outcomes = dropper.join().unwrap();
        outcomes.push(other.join().unwrap());
        final_check(&shared, &outcomes, &[grad(0), grad(0), grad(1)]);
    });
    assert!(
        DROPPED_THEN_APPLIED.load(Relaxed) > 0,
        "the drop path was never explored"
    );
    assert!(OTHER_GAVE_UP.load(Relaxed) > 0, "no attempt ever gave up");
}

/// `seq()` takes no acquisition: it reads the latest slot's `seq` and rechecks the global word.
/// A slot is recycled and rewritten as a private slot (seq = latest + 1, not yet published)
/// during the two publishes, so a `seq()` without the recheck could return a state from the
/// future; the reads around it detect that (linearizability: seq() ≤ a later read's seq ≤ a
/// later seq()).
#[test]
fn seq_without_acquisition_is_linearizable() {
    model(|| {
        let shared = Arc::new(Leashed::new(THETA0.to_vec(), 2, Persistence::Unbounded));
        let p = {
            let shared = shared.clone();
            thread::spawn(move || {
                let mut w = shared.worker().unwrap();
                for _ in 0..2 {
                    let seq = w.read(|_, s| s);
                    assert!(w.update(&grad(0), seq, |_| Some(1.0)).applied);
                    assert!(shared.seq() > seq, "seq() behind this worker's own publish");
                }
            })
        };
        let s = {
            let shared = shared.clone();
            thread::spawn(move || {
                let mut w = shared.worker().unwrap();
                let before = shared.seq();
                let read = w.read(|_, s| s);
                let after = shared.seq();
                assert!(
                    before <= read && read <= after && after <= 2,
                    "seq() {before}, read {read}, seq() {after}"
                );
            })
        };
        p.join().unwrap();
        s.join().unwrap();
        assert_eq!(shared.seq(), 2);
    });
}

/// Alg. B.1/B.3 as published: a reader loads the global pointer, *then* increments the vector's
/// reader count and checks its stale flag; a publisher sets the stale flag, *then* checks the
/// reader count and frees the vector.
///
/// With vectors reused (`reuse`: a freed vector goes back on a free list and is rewritten by the
/// next publish, as any bounded-memory version must do) the protocol is broken even under
/// sequential consistency: a reader that loaded the pointer just before it was swapped is still
/// in the window before its increment when the vector is freed, reused and its stale flag reset;
/// its increment and flag check then act on the *new* incarnation, still private and being
/// written, and it reads that. `fences` puts a `fence(SeqCst)` (which loom models exactly) between
/// each side's write and read of the flag/count pair, which rules out store buffering: loom still
/// finds the race, so the cause is the window plus reuse, not weak memory.
///
/// Without reuse (each publish takes a fresh vector and freeing poisons θ; the thesis' C++ code
/// never reuses vector headers either) the window is harmless: the reader finds the flag set and
/// retries. What remains is the store-buffering pattern of "reader: increment count, then load
/// flag" against "publisher: store flag, then load count": with only acquire/release both loads
/// may miss the other write (loom finds it), and the SeqCst fences make it correct.
///
/// So the `should_panic` models show loom can fail on such code; the last one shows that the
/// failure is specific.
fn naive_flag_then_count(reuse: bool, fences: bool) {
    use loom::cell::UnsafeCell;
    use loom::sync::atomic::{fence, AtomicBool, AtomicUsize, Ordering::*};
    use loom::sync::Mutex;

    struct Vector {
        theta: UnsafeCell<[f32; 2]>,
        n_rdrs: AtomicUsize,
        stale: AtomicBool,
        deleted: AtomicBool,
    }
    struct Naive {
        vectors: [Vector; 3],
        p: AtomicUsize,
        free: Mutex<Vec<usize>>,
        reuse: bool,
        fences: bool,
    }
    // SAFETY (test only): this is the protocol under test; loom is expected to flag its race.
    unsafe impl Sync for Naive {}
    impl Naive {
        fn fence(&self) {
            if self.fences {
                fence(SeqCst);
            }
        }
        fn safe_delete(&self, i: usize) {
            let v = &self.vectors[i];
            if !v.stale.load(Acquire) {
                return;
            }
            self.fence();
            if v.n_rdrs.load(Acquire) == 0
                && v.deleted
                    .compare_exchange(false, true, AcqRel, Acquire)
                    .is_ok()
            {
                if self.reuse {
                    self.free.lock().unwrap().push(i);
                } else {
                    // SAFETY (test only): "delete θ": no reader may still use it.
                    v.theta.with_mut(|t| unsafe { *t = [f32::NAN; 2] });
                }
            }
        }
        fn read(&self) -> f32 {
            loop {
                let i = self.p.load(Acquire);
                let v = &self.vectors[i];
                v.n_rdrs.fetch_add(1, AcqRel);
                self.fence();
                if !v.stale.load(Acquire) {
                    // SAFETY (test only): what the naive protocol claims.
                    let x = v.theta.with(|t| unsafe { (*t)[0] });
                    v.n_rdrs.fetch_sub(1, AcqRel);
                    self.safe_delete(i);
                    return x;
                }
                v.n_rdrs.fetch_sub(1, AcqRel);
                self.safe_delete(i);
                thread::yield_now();
            }
        }
        fn publish(&self, value: f32) {
            let new = self.free.lock().unwrap().pop().expect("a free vector");
            let v = &self.vectors[new];
            v.stale.store(false, Relaxed);
            v.deleted.store(false, Relaxed);
            // SAFETY (test only): `new` came off the free list.
            v.theta.with_mut(|t| unsafe { *t = [value; 2] });
            let old = self.p.swap(new, AcqRel);
            self.vectors[old].stale.store(true, Release);
            self.safe_delete(old);
        }
    }
    let vector = || Vector {
        theta: UnsafeCell::new([0.0; 2]),
        n_rdrs: AtomicUsize::new(0),
        stale: AtomicBool::new(false),
        deleted: AtomicBool::new(false),
    };

    model(move || {
        let naive = Arc::new(Naive {
            vectors: [vector(), vector(), vector()],
            p: AtomicUsize::new(0),
            free: Mutex::new(vec![2, 1]),
            reuse,
            fences,
        });
        let r = {
            let n = naive.clone();
            thread::spawn(move || {
                let x = n.read();
                assert!(!x.is_nan(), "read a freed vector");
            })
        };
        let p = {
            let n = naive.clone();
            thread::spawn(move || {
                n.publish(1.0);
                n.publish(2.0);
            })
        };
        r.join().unwrap();
        p.join().unwrap();
    });
}

#[test]
#[should_panic(expected = "Causality violation")]
fn naive_protocol_with_reuse_is_caught() {
    naive_flag_then_count(true, false);
}

#[test]
#[should_panic(expected = "Causality violation")]
fn naive_protocol_with_reuse_is_caught_even_with_seqcst_fences() {
    naive_flag_then_count(true, true);
}

#[test]
#[should_panic(expected = "Causality violation")]
fn naive_protocol_without_reuse_is_caught_under_acquire_release() {
    naive_flag_then_count(false, false);
}

#[test]
fn naive_protocol_without_reuse_is_correct_with_seqcst_fences() {
    naive_flag_then_count(false, true);
}
