//! Model checks of the Leashed-SGD publish loop with loom (`cargo xtask loom`).
//!
//! loom runs each closure under every interleaving (and every permitted weak-memory outcome of
//! the atomics) up to a preemption bound, and fails on any access to an `UnsafeCell` that races
//! with a write: a slot recycled while someone still reads it, or written by two workers. The
//! assertions add: no lost successful update, consistent and monotone reads, no double recycling
//! (asserted inside the crate), and no leaked slot.
#![cfg(loom)]

use loom::sync::Arc;
use loom::thread;
use pvec::{Leashed, ParamWorker, Persistence, SharedParams, Update};

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

/// The protocol as Alg. B.1/B.3 publish it: a reader loads the global pointer, *then* increments
/// the vector's reader count and checks its stale flag; a publisher sets the stale flag, *then*
/// checks the reader count and frees (here: recycles) the vector. With acquire/release orderings
/// this is a store-buffering pattern: both sides can miss the other's write, so a vector is
/// recycled and rewritten while a reader still uses it. loom must find that race; if it ever
/// stops finding it, this test fails and the checks above lose their credibility.
#[test]
#[should_panic(expected = "Causality violation")]
fn naive_flag_then_count_protocol_is_caught() {
    use loom::cell::UnsafeCell;
    use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering::*};
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
    }
    // SAFETY (test only): this is the protocol under test; loom is expected to flag its race.
    unsafe impl Sync for Naive {}
    impl Naive {
        fn safe_delete(&self, i: usize) {
            let v = &self.vectors[i];
            if v.stale.load(Acquire)
                && v.n_rdrs.load(Acquire) == 0
                && v.deleted
                    .compare_exchange(false, true, AcqRel, Acquire)
                    .is_ok()
            {
                self.free.lock().unwrap().push(i);
            }
        }
        fn read(&self) -> f32 {
            loop {
                let i = self.p.load(Acquire);
                let v = &self.vectors[i];
                v.n_rdrs.fetch_add(1, AcqRel);
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
        });
        let r = {
            let n = naive.clone();
            thread::spawn(move || {
                n.read();
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
