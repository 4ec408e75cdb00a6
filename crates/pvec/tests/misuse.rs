//! Caller mistakes — each is a typed error, a saturated value, or a documented panic with a clear
//! message that happens before anything is changed, for every strategy alike — and callers that
//! must not be made to wait.

use pvec::{Hogwild, Leashed, Locked, ParamWorker, Persistence, PvecError, SharedParams};
use std::panic::{catch_unwind, AssertUnwindSafe};

#[test]
fn leashed_worker_counts_outside_the_arena_are_typed_errors() {
    let e = Leashed::try_new(vec![0.0; 2], 0, Persistence::Unbounded).err();
    assert_eq!(e, Some(PvecError::NoWorkers));
    let limit = Leashed::MAX_WORKERS;
    // `2m + 2` would overflow usize for the largest of these.
    for m in [limit + 1, usize::MAX / 2, usize::MAX / 2 + 1, usize::MAX] {
        let e = Leashed::try_new(vec![0.0; 2], m, Persistence::Unbounded).err();
        assert_eq!(
            e,
            Some(PvecError::ArenaTooLarge {
                max_workers: m,
                limit
            })
        );
    }
    // Building the largest arena (65,534 slots) takes miri over ten minutes; natively, milliseconds.
    if !cfg!(miri) {
        let at_limit = Leashed::try_new(vec![0.0; 2], limit, Persistence::Unbounded).unwrap();
        assert_eq!(at_limit.capacity(), 2 * limit + 2);
        assert!(at_limit.capacity() <= 1 << 16);
    }
}

#[test]
#[should_panic(expected = "Leashed-SGD supports at most")]
fn leashed_new_with_an_overflowing_worker_count_panics_clearly() {
    // 2m + 2 wraps to 2 in a release build: without the check this built a 2-slot arena for
    // 2⁶³ workers.
    let _ = Leashed::new(vec![0.0; 2], usize::MAX / 2 + 1, Persistence::Unbounded);
}

/// A `read_seq` ahead of the shared state (a caller's mistake) counts as τ = 0.
#[test]
fn a_read_seq_from_the_future_is_staleness_zero() {
    fn check<S: SharedParams>(shared: &S) {
        let mut w = shared.worker().unwrap();
        let mut seen = None;
        let u = w.update(&[1.0, 1.0], 5, |tau| {
            seen = Some(tau);
            Some(1.0)
        });
        assert_eq!((seen, u.staleness, u.applied), (Some(0), 0, true));
    }
    check(&Locked::new(vec![0.0; 2]));
    check(&Hogwild::new(vec![0.0; 2]));
    check(&Leashed::new(vec![0.0; 2], 1, Persistence::Unbounded));
}

#[test]
#[should_panic(expected = "gradient has the wrong dimension")]
fn hogwild_rejects_a_short_gradient() {
    let shared = Hogwild::new(vec![0.0; 3]);
    let mut w = shared.worker().unwrap();
    // Without the check this silently updated a prefix of θ.
    w.update(&[1.0, 1.0], 0, |_| Some(1.0));
}

#[test]
#[should_panic(expected = "snapshot buffer has the wrong length")]
fn hogwild_rejects_a_short_snapshot_buffer() {
    let shared = Hogwild::new(vec![0.0; 3]);
    shared.snapshot(&mut [0.0; 2]);
}

#[test]
fn every_strategy_rejects_wrong_lengths_with_the_same_message() {
    fn check<S: SharedParams>(shared: &S) {
        let snap = catch_unwind(AssertUnwindSafe(|| shared.snapshot(&mut [0.0; 4])));
        let msg = snap.unwrap_err();
        let msg = msg
            .downcast_ref::<String>()
            .map(String::as_str)
            .unwrap_or("");
        assert!(
            msg.contains("snapshot buffer has the wrong length"),
            "{msg}"
        );
        let upd = catch_unwind(AssertUnwindSafe(|| {
            let mut w = shared.worker().unwrap();
            w.update(&[1.0; 4], 0, |_| Some(1.0))
        }));
        let msg = upd.unwrap_err();
        let msg = msg
            .downcast_ref::<String>()
            .map(String::as_str)
            .unwrap_or("");
        assert!(msg.contains("gradient has the wrong dimension"), "{msg}");
        // Nothing was changed.
        let mut theta = [9.0; 3];
        assert_eq!(shared.snapshot(&mut theta), 0);
        assert_eq!(theta, [0.0; 3]);
    }
    check(&Locked::new(vec![0.0; 3]));
    check(&Hogwild::new(vec![0.0; 3]));
    check(&Leashed::new(vec![0.0; 3], 1, Persistence::Unbounded));
}

/// `seq()` must not wait for the lock: Locked runs the step-size function under it, so an
/// update can hold it for as long as its caller likes (and an evaluator's snapshot holds it for
/// an O(d) copy).
#[test]
fn locked_seq_answers_while_an_update_holds_the_lock() {
    use std::sync::{mpsc, Arc, Barrier};
    use std::time::Duration;
    let shared = Arc::new(Locked::new(vec![0.0; 2]));
    let inside = Arc::new(Barrier::new(2));
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let updater = {
        let (shared, inside) = (shared.clone(), inside.clone());
        std::thread::spawn(move || {
            let mut w = shared.worker().unwrap();
            w.update(&[1.0, 1.0], 0, |_| {
                inside.wait();
                // Held until the main thread has its answer (or gives up).
                let _ = release_rx.recv_timeout(Duration::from_secs(10));
                Some(1.0)
            })
        })
    };
    inside.wait();
    let (seq_tx, seq_rx) = mpsc::channel();
    {
        let shared = shared.clone();
        // Detached: if seq() blocks, this thread stays blocked until the update finishes.
        std::thread::spawn(move || seq_tx.send(shared.seq()));
    }
    let answer = seq_rx.recv_timeout(Duration::from_secs(5));
    release_tx.send(()).unwrap();
    assert_eq!(answer, Ok(0), "seq() waited for the update's lock");
    assert!(updater.join().unwrap().applied);
    assert_eq!(shared.seq(), 1);
}
