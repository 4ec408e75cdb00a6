use elastic::{Accounting, AinTracker, Noise};
use std::sync::Arc;

fn g(v: &[f32]) -> Arc<Vec<f32>> {
    Arc::new(v.to_vec())
}

/// A scripted run with 2 workers, η = 0.5 for every update.
///   w0 views θ0, w1 views θ0.
///   w0 submits g_a (computed on θ0), applied at θ0 (τ = 0)  → ξ0 = η‖g_a − g_a‖ = 0.
///   w0 views θ1.
///   w1 submits g_b (on θ0), applied at θ1 (τ = 1): θ0's first viewer was w0, so nothing for θ0;
///     g_b is the update applied at θ1, retained for w0 (viewing θ1).
///   w0 submits g_c (on θ1), applied at θ2 (τ = 1) → ξ1 = η‖g_b − g_c‖.
#[test]
fn scripted_noise_equals_hand_computed_values() {
    let mut t = AinTracker::new(2);
    let eta = 0.5;
    t.view(0, 0);
    t.view(1, 0);
    let ga = g(&[1.0, 2.0]);
    assert_eq!(
        t.submit(0, 0, 0, ga, eta),
        vec![Noise {
            state: 0,
            norm: 0.0,
            distance: 0.0
        }]
    );
    t.view(0, 1);
    let gb = g(&[3.0, -1.0]);
    assert_eq!(t.submit(1, 0, 1, gb, eta), vec![]);
    assert_eq!(t.retained(), 1, "g_b kept for w0, the viewer of θ1");
    let gc = g(&[0.0, 3.0]);
    let out = t.submit(0, 1, 2, gc, eta);
    // ‖(3, −1) − (0, 3)‖ = ‖(3, −4)‖ = 5, times η.
    assert_eq!(
        out,
        vec![Noise {
            state: 1,
            norm: 2.5,
            distance: 5.0
        }]
    );
}

#[test]
fn updates_nobody_views_are_released_at_once() {
    let mut t = AinTracker::new(2);
    t.view(0, 8);
    t.view(1, 8);
    // w0's gradient on θ8 applied at θ8 (τ = 0): measured at once (ξ = 0), nothing kept.
    assert_eq!(t.submit(0, 8, 8, g(&[1.0]), 1.0).len(), 1);
    assert_eq!(t.retained(), 0);
    // w1 (viewing θ8) now reads θ9 without submitting — it skipped its update, say.
    t.view(1, 9);
    // An update applied at θ8 again is impossible, but one applied at θ5, below every worker's
    // bound (w0 ≥ 9, w1 ≥ 9), is released at once: nobody can view θ5 any more.
    t.view(0, 9);
    t.submit(0, 9, 9, g(&[2.0]), 1.0);
    assert_eq!(t.retained(), 0, "ξ9 measured, update at θ9 consumed");
    // An update applied at θ12 while w1 views θ9 (it needs only the update applied at θ9) and
    // w0 will read ≥ 13: nobody can view θ12, so it is released at once. What stays is w0's
    // gradient on θ10, waiting for the update applied at θ10.
    t.submit(0, 10, 12, g(&[3.0]), 1.0);
    assert_eq!(t.retained(), 1);
    // The update applied at θ10 (w1's, computed on θ9) completes ξ10 = ‖5 − 3‖ and w1's view
    // of θ9 gets nothing: θ9's first viewer (w0) already submitted.
    let out = t.submit(1, 9, 10, g(&[5.0]), 1.0);
    assert_eq!(
        out,
        vec![Noise {
            state: 10,
            norm: 2.0,
            distance: 2.0
        }]
    );
    assert_eq!(t.retained(), 0);
}

#[test]
fn a_viewer_submitting_before_the_update_of_its_state_waits_for_it() {
    let mut t = AinTracker::new(2);
    t.view(0, 4);
    t.view(1, 4);
    // w1's gradient on θ4 arrives before the update applied at θ4 (lock-free reordering).
    assert_eq!(t.submit(1, 4, 6, g(&[2.0, 0.0]), 1.0), vec![]);
    // Now the update applied at θ4 arrives (from w0, computed on θ4 too).
    let out = t.submit(0, 4, 4, g(&[0.0, 0.0]), 0.1);
    assert_eq!(
        out,
        vec![Noise {
            state: 4,
            norm: f64::from(0.1f32) * 2.0,
            distance: 2.0
        }]
    );
}

#[test]
fn memory_stays_bounded_on_long_random_runs() {
    // 6 workers, each reads the current state, then submits 0–5 updates later (random staleness).
    let m = 6;
    let mut t = AinTracker::new(m);
    let mut state = 0u64;
    let mut reading: Vec<Option<u64>> = vec![None; m];
    let mut s = 12345u64;
    let mut measured = 0;
    for _ in 0..20_000 {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        let w = (s % m as u64) as usize;
        match reading[w] {
            None => {
                t.view(w, state);
                reading[w] = Some(state);
            }
            Some(r) => {
                measured += t.submit(w, r, state, g(&[state as f32]), 1.0).len();
                state += 1;
                reading[w] = None;
            }
        }
        assert!(t.retained() <= 2 * m, "retained {}", t.retained());
    }
    assert!(measured > 1000, "measured {measured}");
    assert!(t.peak_retained() <= 2 * m);
}

#[test]
fn worker_seconds_and_break_even() {
    let mut a = Accounting::new(4);
    a.change(10.0, 2);
    a.change(20.0, 1);
    assert!((a.worker_seconds(10.0) - 40.0).abs() < 1e-12);
    assert!((a.worker_seconds(25.0) - (40.0 + 20.0 + 5.0)).abs() < 1e-12);
    // Against a static m = 3: R^E − R^S = 10 at t = 10, 0 at t = 20, −10 at t = 30.
    let be = a.break_even(3, 30.0).unwrap();
    assert!((be - 20.0).abs() < 1e-9, "break-even {be}");
    // Never ahead: no break-even.
    assert_eq!(Accounting::new(4).break_even(3, 30.0), None);
}
