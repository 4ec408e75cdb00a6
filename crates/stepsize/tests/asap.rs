//! ASAP.SGD properties (Def. C.4.2–C.4.4) and Lemma C.4.7 over random staleness distributions.

use proptest::prelude::*;
use staleness::Counts;
use stepsize::{Adaptive, CdfForm, Options, Phi, Policy, StepSize};

fn mean(f: &[f64], c: &Counts) -> f64 {
    (0..=c.tau_max()).map(|t| c.pmf(t) * f[t]).sum()
}

fn phis() -> [Phi; 4] {
    [
        Phi::Identity,
        Phi::Smoothstep,
        Phi::Power(2.0),
        Phi::Power(3.5),
    ]
}

fn hist() -> impl Strategy<Value = Counts> {
    proptest::collection::vec(0u64..1000, 1..60)
        .prop_filter("non-empty", |v| v.iter().sum::<u64>() > 0)
        .prop_map(Counts::from_counts)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, .. ProptestConfig::default() })]

    /// The exact form is mean-preserving to 1e-9 and priority-preserving, for every φ of C.8.
    #[test]
    fn exact_tail_tau_is_an_asap_sgd_function(c in hist(), a in 0.0f64..=1.0) {
        for phi in phis() {
            let f = Policy::TailTau { amplitude: a, phi, form: CdfForm::Exact }.factors(Some(&c), c.tau_max(), 1.0);
            prop_assert!((mean(&f, &c) - 1.0).abs() <= 1e-9, "{phi:?}: E[η]/η0 = {}", mean(&f, &c));
            prop_assert!(f.windows(2).all(|w| w[1] <= w[0] + 1e-12), "{phi:?}: not non-increasing: {f:?}");
            // Lemma C.4.7 (i)–(ii).
            prop_assert!(f.iter().all(|&x| x <= 1.0 + a + 1e-12 && x >= 1.0 - a - 1e-12));
        }
    }

    /// The printed forms are priority-preserving and within Lemma C.4.7's bounds, and their mean
    /// factors are exactly 1 − A·Σp² (P[τ' ≤ τ]) and 1 + A·Σp² (P[τ' < τ]) for φ = identity.
    #[test]
    fn printed_tail_tau_forms_and_their_mean_factors(c in hist(), a in 0.0f64..=1.0) {
        let sp2: f64 = (0..=c.tau_max()).map(|t| c.pmf(t).powi(2)).sum();
        for (form, want) in [(CdfForm::Thesis, 1.0 - a * sp2), (CdfForm::ThesisCode, 1.0 + a * sp2)] {
            let f = Policy::TailTau { amplitude: a, phi: Phi::Identity, form }.factors(Some(&c), c.tau_max(), 1.0);
            prop_assert!(f.windows(2).all(|w| w[1] <= w[0] + 1e-12));
            prop_assert!(f.iter().all(|&x| x <= 1.0 + a + 1e-12 && x >= 1.0 - a - 1e-12));
            prop_assert!((mean(&f, &c) - want).abs() <= 1e-12, "{form:?}: {} vs {want}", mean(&f, &c));
        }
    }

    /// The mean-preserving option holds for every policy (E[η] = η0 over the histogram).
    #[test]
    fn mean_preservation_option_for_every_policy(c in hist()) {
        let policies = [
            Policy::Constant,
            Policy::Inverse,
            Policy::fleet_for_threads(8),
            Policy::TailTau { amplitude: 0.7, phi: Phi::Smoothstep, form: CdfForm::Thesis },
            Policy::MindTheStepGeometric { p: Some(0.3), momentum: 0.5 },
            Policy::MindTheStepCmp { lambda_nu: Some((4.0, 1.5)), c: 1.0 },
        ];
        for p in policies {
            let a = Adaptive::new(p, 0.01, Options { mean_preserving: true, ..Options::default() }, c.tau_max());
            a.refresh(&c);            // The table workers read is f32: mean preservation holds to f32 rounding.
            prop_assert!((a.mean_factor(&c) - 1.0).abs() <= 1e-6, "{p:?}: {}", a.mean_factor(&c));
            // And with a cap: the rescaling is done after the cap, so it still holds.
            let capped = Adaptive::new(p, 0.01, Options { mean_preserving: true, cap: Some(5.0), drop_above: None }, c.tau_max());
            capped.refresh(&c);
            prop_assert!((capped.mean_factor(&c) - 1.0).abs() <= 1e-6, "{p:?} capped: {}", capped.mean_factor(&c));
            prop_assert!(capped.factors_now().iter().all(|&f| f <= 5.0 + 1e-6));
        }
    }
}

/// Lemma C.4.7 (iii): Var[η] = (Aη)²/3 in the continuous limit; for the exact form on a uniform
/// distribution over 0..n the error shrinks like 1/n².
#[test]
fn variance_approaches_a_squared_over_three() {
    let a = 0.8;
    let mut last = f64::INFINITY;
    for n in [4, 16, 64, 256, 1024] {
        let c = Counts::from_counts(vec![1; n]);
        let f = Policy::TailTau {
            amplitude: a,
            phi: Phi::Identity,
            form: CdfForm::Exact,
        }
        .factors(Some(&c), n - 1, 1.0);
        let m = mean(&f, &c);
        let var: f64 = (0..n).map(|t| c.pmf(t) * (f[t] - m).powi(2)).sum();
        let err = (var - a * a / 3.0).abs();
        assert!(err < last, "n = {n}: error {err} did not shrink");
        last = err;
        if n == 1024 {
            assert!(
                err < 1e-6,
                "n = 1024: Var = {var}, (A)²/3 = {}",
                a * a / 3.0
            );
        }
    }
}

#[test]
fn caps_and_drops() {
    let c = Counts::from_counts(vec![10, 80, 10]);
    let a = Adaptive::new(
        Policy::Inverse,
        0.1,
        Options {
            cap: Some(5.0),
            drop_above: Some(2),
            mean_preserving: false,
        },
        8,
    );
    a.refresh(&c);
    assert_eq!(a.eta(0), Some(0.1));
    assert_eq!(a.eta(2), Some(0.05));
    assert_eq!(a.eta(3), None);
    // MindTheStep factors grow like τ!: capped at 5·η0.
    let m = Adaptive::new(
        Policy::MindTheStepCmp {
            lambda_nu: Some((2.0, 1.0)),
            c: 1.0,
        },
        0.1,
        Options {
            cap: Some(5.0),
            ..Options::default()
        },
        30,
    );
    assert!((m.eta(30).unwrap() - 0.5).abs() < 1e-7);
    assert!(m.eta(0).unwrap() <= 0.5);
    // A negative momentum-tuned factor becomes 0, never a negative step.
    let k = Adaptive::new(
        Policy::MindTheStepMomentum {
            lambda_nu: Some((4.0, 1.0)),
            k: 1.0,
            printed: false,
        },
        0.01,
        Options::default(),
        10,
    );
    assert!((0..=10).all(|t| k.eta(t).unwrap() >= 0.0));
}

#[test]
fn instance_based_policies_follow_the_live_histogram() {
    let a = Adaptive::new(
        Policy::TailTau {
            amplitude: 1.0,
            phi: Phi::Identity,
            form: CdfForm::Exact,
        },
        1.0,
        Options::default(),
        10,
    );
    assert_eq!(a.eta(5), Some(1.0), "no histogram yet: η0");
    a.refresh(&Counts::from_counts(vec![0, 50, 50]));
    let before = a.eta(1).unwrap();
    a.refresh(&Counts::from_counts(vec![0, 5, 95]));
    assert_ne!(a.eta(1).unwrap(), before);
    // The thesis code's form re-tabulates like any other; sampling it once is its schedule's
    // job (`Refresher`, tested in src/refresh.rs).
    let code = Adaptive::new(
        Policy::TailTau {
            amplitude: 1.0,
            phi: Phi::Identity,
            form: CdfForm::ThesisCode,
        },
        1.0,
        Options::default(),
        10,
    );
    code.refresh(&Counts::from_counts(vec![0, 50, 50]));
    let v = code.factors_now();
    code.refresh(&Counts::from_counts(vec![0, 5, 95]));
    assert_ne!(code.factors_now(), v);
}

/// The last table entry stands for every τ ≥ τ_max with that tail's own CDF mass: the exact
/// form stays mean-preserving when the histogram is longer than the table, or has an overflow.
#[test]
fn exact_tail_tau_is_mean_preserving_for_any_table_length() {
    let long: Vec<u64> = (0..40u64).map(|t| 1000 / (1 + t.abs_diff(12))).collect();
    let with_overflow = staleness::Histogram::new(20);
    for (t, &c) in long.iter().enumerate() {
        (0..c).for_each(|_| with_overflow.record(t as u64));
    }
    for c in [Counts::from_counts(long), with_overflow.snapshot()] {
        for tau_max in [0, 1, 5, 16, 39, 64] {
            for phi in phis() {
                let a = Adaptive::new(
                    Policy::TailTau {
                        amplitude: 1.0,
                        phi,
                        form: CdfForm::Exact,
                    },
                    1.0,
                    Options::default(),
                    tau_max,
                );
                a.refresh(&c);
                assert!(
                    (a.mean_factor(&c) - 1.0).abs() <= 1e-6,
                    "τ_max = {tau_max}, {phi:?}, overflow {}: E[η]/η0 = {}",
                    c.overflow(),
                    a.mean_factor(&c)
                );
                let f = a.factors_now();
                assert!(f.windows(2).all(|w| w[1] <= w[0] + 1e-6), "{f:?}");
            }
        }
    }
}

/// A policy whose table cannot be sane is refused, with the field to set.
#[test]
fn try_new_refuses_what_cannot_be_tabulated_sanely() {
    use stepsize::PolicyError;
    let none = Options::default();
    let capped = Options {
        cap: Some(5.0),
        ..Options::default()
    };
    let cmp = Policy::MindTheStepCmp {
        lambda_nu: None,
        c: 1.0,
    };
    let err = Adaptive::try_new(cmp, 0.05, none, 256).unwrap_err();
    assert_eq!(err, PolicyError::NeedsCap { policy: cmp });
    assert!(err.to_string().contains("Options.cap"), "{err}");
    assert!(Adaptive::try_new(cmp, 0.05, capped, 256).is_ok());
    // A.18 with K/η0·Z > 1 has a negative (clamped) tail: bounded without a cap.
    let poisson = |k| Policy::MindTheStepMomentum {
        lambda_nu: Some((2.0, 1.0)),
        k,
        printed: true,
    };
    assert!(Adaptive::try_new(poisson(1.0), 0.05, none, 256).is_ok());
    assert!(matches!(
        Adaptive::try_new(poisson(0.01), 0.05, none, 256),
        Err(PolicyError::NeedsCap { .. })
    ));
    // Geometric: μ* ∈ [0, 1); a fitted p with μ* > 0 can make the factors grow.
    let geo = |p, momentum| Policy::MindTheStepGeometric { p, momentum };
    assert!(Adaptive::try_new(geo(None, 0.0), 0.05, none, 256).is_ok());
    assert!(Adaptive::try_new(geo(Some(0.3), 0.5), 0.05, none, 256).is_ok());
    assert!(matches!(
        Adaptive::try_new(geo(None, 0.5), 0.05, none, 256),
        Err(PolicyError::NeedsCap { .. })
    ));
    for bad in [1.0, 1.5, -0.1, f64::NAN] {
        assert!(matches!(
            Adaptive::try_new(geo(None, bad), 0.05, capped, 256),
            Err(PolicyError::Invalid {
                field: "MindTheStepGeometric.momentum",
                ..
            })
        ));
    }
    let tail = |a| Policy::TailTau {
        amplitude: a,
        phi: Phi::Identity,
        form: CdfForm::Exact,
    };
    assert!(matches!(
        Adaptive::try_new(tail(1.5), 0.05, none, 16),
        Err(PolicyError::Invalid {
            field: "TailTau.amplitude",
            ..
        })
    ));
    assert!(matches!(
        Adaptive::try_new(Policy::Constant, 0.0, none, 16),
        Err(PolicyError::Invalid { field: "eta0", .. })
    ));
    assert!(matches!(
        Adaptive::try_new(Policy::Constant, 0.05, none, 100_000_000),
        Err(PolicyError::TableTooLong { .. })
    ));
}
