//! What ELAsyncSGD adds per update, on the coordinator's thread: the regulator's decision
//! (Alg. D.3–D.4), the exact AIN measurement (one O(d) distance per state, d = 134,794: the MLP
//! 3×128), and a worker's gate check.
//!
//! `cargo bench -p elastic`

use criterion::{criterion_group, criterion_main, Criterion};
use elastic::{AinTracker, Gate, Regulator, RegulatorConfig};
use std::hint::black_box;
use std::sync::Arc;

fn per_update(c: &mut Criterion) {
    let mut g = c.benchmark_group("elastic");
    g.bench_function("regulator_on_update", |b| {
        let mut r = Regulator::new(RegulatorConfig {
            max_workers: 36,
            initial: None,
            ip: 100,
            dp: 10,
            wp: 1,
        });
        let mut i = 0u64;
        b.iter(|| {
            i += 1;
            black_box(r.on_update(i, 2.0 / (1.0 + i as f64 * 1e-3), i as f64 * 1e-3))
        })
    });
    let d = 134_794;
    let grads: Vec<Arc<Vec<f32>>> = (0..4)
        .map(|k| Arc::new((0..d).map(|j| ((j * 7 + k) % 13) as f32 * 1e-3).collect()))
        .collect();
    g.bench_function("ain_submit_d134794_2_workers", |b| {
        // Two workers alternate, each reading the state the other just produced: every submit
        // completes one measurement.
        let mut t = AinTracker::new(2);
        t.activate(0, 0);
        t.activate(1, 0);
        let mut state = 0u64;
        b.iter(|| {
            let w = (state % 2) as usize;
            t.view(w, state);
            let out = t.submit(w, state, state + 1, grads[w].clone(), 0.05);
            state += 1;
            black_box(out)
        })
    });
    g.bench_function("gate_level", |b| {
        let gate = Gate::new(8);
        b.iter(|| black_box(gate.level()))
    });
    g.finish();
}

criterion_group!(benches, per_update);
criterion_main!(benches);
