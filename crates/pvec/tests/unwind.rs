//! Panics in the caller's code while a strategy holds something (the read closure, the step-size
//! function, a wrong-length snapshot buffer) must give it back: after many caught panics the
//! shared vector trains normally and has leaked nothing.

use pvec::{Hogwild, Leashed, Locked, ParamWorker, Persistence, SharedParams};
use std::panic::{catch_unwind, AssertUnwindSafe};

const D: usize = 8;
const PANICS: usize = if cfg!(miri) { 10 } else { 100 };
const THREADS: usize = 2;
const UPDATES: usize = if cfg!(miri) { 20 } else { 500 };
/// Payload of the panics this file provokes (their messages are kept off stderr).
const DELIBERATE: &str = "deliberate panic";

/// Installed once per process: tests run in parallel, and between `take_hook` and `set_hook`
/// the default hook is in place.
fn quiet_deliberate_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let msg = info
                .payload()
                .downcast_ref::<&str>()
                .copied()
                .or_else(|| info.payload().downcast_ref::<String>().map(String::as_str));
            if !msg.is_some_and(|m| m.contains(DELIBERATE) || m.contains("wrong length")) {
                default(info);
            }
        }));
    });
}

/// `PANICS` rounds of: a read whose closure panics, an update whose step-size function panics
/// (after τ is known: Leashed holds an acquisition and a private slot then), and a snapshot into
/// a buffer of the wrong length. Each panic must be the provoked one, caught here.
fn panic_repeatedly<S: SharedParams>(shared: &S) {
    let mut w = shared.worker().unwrap();
    for k in 0..PANICS {
        let r = catch_unwind(AssertUnwindSafe(|| {
            w.read::<()>(|_, _| panic!("{DELIBERATE} in read {k}"))
        }));
        assert!(r.is_err());
        let seq = w.read(|_, s| s);
        let mut g = vec![0.0; D];
        g[k % D] = 1.0;
        let r = catch_unwind(AssertUnwindSafe(|| {
            w.update(&g, seq, |_| panic!("{DELIBERATE} in step {k}"))
        }));
        assert!(r.is_err());
        let r = catch_unwind(AssertUnwindSafe(|| {
            shared.snapshot(&mut vec![0.0; D + 1 + k % 3])
        }));
        assert!(r.is_err());
    }
    // No panicking update was applied.
    assert_eq!(shared.seq(), 0);
}

/// Unit updates from `THREADS` workers with η = 1: θ must end at exactly θ0 − Σ (applied g), and
/// with unbounded persistence every update applies.
fn train<S: SharedParams>(shared: &S, all_apply: bool) {
    let applied: Vec<Vec<bool>> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..THREADS)
            .map(|t| {
                s.spawn(move || {
                    let mut w = shared.worker().unwrap();
                    let mut g = vec![0.0; D];
                    let mut applied = Vec::with_capacity(UPDATES);
                    for k in 0..UPDATES {
                        let j = (t + 3 * k) % D;
                        let seq = w.read(|_, s| s);
                        g[j] = 1.0;
                        let u = w.update(&g, seq, |_| Some(1.0));
                        g[j] = 0.0;
                        assert!(u.applied || !all_apply);
                        applied.push(u.applied);
                    }
                    applied
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut want = vec![100.0f32; D];
    let mut n = 0;
    for (t, a) in applied.iter().enumerate() {
        for (k, _) in a.iter().enumerate().filter(|(_, &a)| a) {
            want[(t + 3 * k) % D] -= 1.0;
            n += 1;
        }
    }
    assert!(n > 0);
    let mut got = vec![0.0; D];
    assert_eq!(shared.snapshot(&mut got), n);
    assert_eq!(got, want);
}

#[test]
fn leashed_gives_back_everything_a_panic_interrupts() {
    quiet_deliberate_panics();
    for persistence in [Persistence::Unbounded, Persistence::Bounded(0)] {
        let shared = Leashed::new(vec![100.0; D], THREADS, persistence);
        panic_repeatedly(&shared);
        // The one handle that panicked is gone: only the published slot is in use.
        assert_eq!(shared.vectors().live, 1, "{persistence}: a slot leaked");
        assert_eq!(shared.free_slots(), shared.capacity() - 1);
        train(&shared, persistence == Persistence::Unbounded);
        assert_eq!(shared.vectors().live, 1);
        assert_eq!(shared.free_slots(), shared.capacity() - 1);
        assert!(shared.vectors().peak <= shared.capacity());
    }
}

#[test]
fn locked_and_hogwild_survive_panics_too() {
    quiet_deliberate_panics();
    let locked = Locked::new(vec![100.0; D]);
    panic_repeatedly(&locked);
    train(&locked, true);
    let hogwild = Hogwild::new(vec![100.0; D]);
    panic_repeatedly(&hogwild);
    // HOGWILD! may lose concurrent writes, so only one worker trains it here.
    let mut w = hogwild.worker().unwrap();
    for k in 0..UPDATES {
        let seq = w.read(|_, s| s);
        let mut g = vec![0.0; D];
        g[k % D] = 1.0;
        assert!(w.update(&g, seq, |_| Some(1.0)).applied);
    }
    let mut got = vec![0.0; D];
    assert_eq!(hogwild.snapshot(&mut got), UPDATES as u64);
    let mut want = vec![100.0f32; D];
    for k in 0..UPDATES {
        want[k % D] -= 1.0;
    }
    assert_eq!(got, want);
}

/// A panic inside `update` after an earlier update kept its private slot (T_p = 0 failed or the
/// step function dropped): the slot is kept again, not lost or duplicated.
#[test]
fn leashed_kept_private_slot_survives_a_panic() {
    quiet_deliberate_panics();
    let shared = Leashed::new(vec![100.0; D], 1, Persistence::Bounded(0));
    let mut w = shared.worker().unwrap();
    let g = [1.0; D];
    let dropped = w.update(&g, 0, |_| None);
    assert!(dropped.dropped && !dropped.applied);
    assert_eq!(shared.vectors().live, 2, "the private slot is kept");
    for _ in 0..PANICS {
        let r = catch_unwind(AssertUnwindSafe(|| {
            w.update(&g, 0, |_| panic!("{DELIBERATE}"))
        }));
        assert!(r.is_err());
        assert_eq!(shared.vectors().live, 2, "still exactly one private slot");
    }
    assert!(w.update(&g, 0, |_| Some(1.0)).applied);
    assert_eq!(shared.vectors().live, 1);
    drop(w);
    assert_eq!(shared.free_slots(), shared.capacity() - 1);
}
