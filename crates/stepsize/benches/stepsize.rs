//! `cargo bench -p stepsize --bench stepsize`: the per-update call η(τ) (target < 20 ns) and a
//! table refresh from a histogram.

use criterion::{criterion_group, criterion_main, Criterion};
use staleness::Counts;
use std::hint::black_box;
use stepsize::{Adaptive, CdfForm, Options, Phi, Policy, StepSize};

fn lookup(c: &mut Criterion) {
    let counts = Counts::from_counts(
        (0..64u64)
            .map(|t| 1000 / (1 + (t as i64 - 8).unsigned_abs()))
            .collect(),
    );
    let tail = Adaptive::new(
        Policy::TailTau {
            amplitude: 1.0,
            phi: Phi::Identity,
            form: CdfForm::Exact,
        },
        0.01,
        Options {
            cap: Some(5.0),
            drop_above: Some(150),
            mean_preserving: true,
        },
        256,
    );
    tail.refresh(&counts);
    let mut t = 0u64;
    c.bench_function("eta/tail_tau", |b| {
        b.iter(|| {
            t = (t + 7) & 255;
            tail.eta(black_box(t))
        })
    });
    let constant = Adaptive::new(Policy::Constant, 0.01, Options::default(), 256);
    c.bench_function("eta/constant", |b| b.iter(|| constant.eta(black_box(17))));
    c.bench_function("refresh/tail_tau_tau_max_256", |b| {
        b.iter(|| tail.refresh(black_box(&counts)))
    });
    let mts = Adaptive::new(
        Policy::MindTheStepCmp {
            lambda_nu: None,
            c: 1.0,
        },
        0.01,
        Options {
            mean_preserving: true,
            ..Options::default()
        },
        256,
    );
    c.bench_function("refresh/mindthestep_cmp_fit_tau_max_256", |b| {
        b.iter(|| mts.refresh(black_box(&counts)))
    });
}

criterion_group!(benches, lookup);
criterion_main!(benches);
