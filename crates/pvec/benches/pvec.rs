//! `cargo bench -p pvec --bench pvec`
//!
//! - `read/*`: acquiring θ for a gradient computation (Leashed: acquire + release, no copy;
//!   Locked/Hogwild: the copy into the worker's buffer that their reads need).
//! - `publish/*`: T_u, one uncontended update, next to `memcpy+axpy` (a plain copy followed by a
//!   separate axpy pass over the same size) measured in the same run: the bound of §B.5.
//! - `throughput/*`: updates per second with 1, 2 and 4 threads, each "computing" a gradient for a
//!   fixed synthetic time T_c (busy wait) between read and update, so the contention regime of
//!   §B.4 (small T_c/T_u) is visible. This machine has 2 cores: 4 threads oversubscribe it.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use pvec::{Hogwild, Leashed, Locked, ParamWorker, Persistence, SharedParams};
use std::hint::black_box;
use std::time::{Duration, Instant};

const DIMS: [(usize, &str); 2] = [(134_794, "mlp"), (27_354, "cnn")];

fn reads(c: &mut Criterion) {
    for (d, name) in DIMS {
        let mut g = c.benchmark_group(format!("read/{name}_d{d}"));
        let leashed = Leashed::new(vec![1.0; d], 1, Persistence::Unbounded);
        let mut w = leashed.worker().unwrap();
        g.bench_function("leashed", |b| {
            b.iter(|| w.read(|t, s| black_box((t.len(), s))))
        });
        drop(w);
        let locked = Locked::new(vec![1.0; d]);
        let mut w = locked.worker().unwrap();
        g.bench_function("locked", |b| {
            b.iter(|| w.read(|t, s| black_box((t.len(), s))))
        });
        drop(w);
        let hog = Hogwild::new(vec![1.0; d]);
        let mut w = hog.worker().unwrap();
        g.bench_function("hogwild", |b| {
            b.iter(|| w.read(|t, s| black_box((t.len(), s))))
        });
        drop(w);
        g.finish();
    }
}

fn publish(c: &mut Criterion) {
    for (d, name) in DIMS {
        let mut g = c.benchmark_group(format!("publish/{name}_d{d}"));
        g.throughput(Throughput::Bytes((d * 4) as u64));
        let grad = vec![0.001f32; d];
        let src = vec![1.0f32; d];
        let mut dst = vec![0.0f32; d];
        g.bench_function("memcpy+axpy", |b| {
            b.iter(|| {
                dst.copy_from_slice(black_box(&src));
                pvec::kernels::axpy(&mut dst, black_box(&grad), 0.5);
            })
        });
        g.bench_function("fused_copy_axpy", |b| {
            b.iter(|| pvec::kernels::copy_axpy(&mut dst, black_box(&src), black_box(&grad), 0.5))
        });
        let leashed = Leashed::new(vec![1.0; d], 1, Persistence::Unbounded);
        let mut w = leashed.worker().unwrap();
        g.bench_function("leashed_update", |b| {
            b.iter(|| w.update(black_box(&grad), 0, |_| Some(1e-9)))
        });
        drop(w);
        let locked = Locked::new(vec![1.0; d]);
        let mut w = locked.worker().unwrap();
        g.bench_function("locked_update", |b| {
            b.iter(|| w.update(black_box(&grad), 0, |_| Some(1e-9)))
        });
        drop(w);
        let hog = Hogwild::new(vec![1.0; d]);
        let mut w = hog.worker().unwrap();
        g.bench_function("hogwild_update", |b| {
            b.iter(|| w.update(black_box(&grad), 0, |_| Some(1e-9)))
        });
        drop(w);
        g.finish();
    }
}

fn busy(d: Duration) {
    let t = Instant::now();
    while t.elapsed() < d {
        std::hint::spin_loop();
    }
}

/// Wall time for `threads` workers to complete `per_thread` read–compute–update cycles each.
fn run_threads<S: SharedParams>(
    shared: &S,
    threads: usize,
    per_thread: u64,
    tc: Duration,
) -> Duration {
    let grad = vec![1e-9f32; shared.dim()];
    let start = std::sync::Barrier::new(threads + 1);
    std::thread::scope(|s| {
        for _ in 0..threads {
            let (grad, start) = (&grad, &start);
            s.spawn(move || {
                let mut w = shared.worker().unwrap();
                start.wait();
                for _ in 0..per_thread {
                    let seq = w.read(|t, s| {
                        black_box(t[0]);
                        busy(tc);
                        s
                    });
                    w.update(grad, seq, |_| Some(1.0));
                }
            });
        }
        start.wait();
        let t = Instant::now();
        // Scope end joins the workers.
        t
    })
    .elapsed()
}

fn throughput(c: &mut Criterion) {
    let d = 134_794;
    for tc_us in [0u64, 1000] {
        let tc = Duration::from_micros(tc_us);
        let mut g = c.benchmark_group(format!("throughput/mlp_d{d}_tc{tc_us}us"));
        g.sample_size(10);
        for threads in [1usize, 2, 4] {
            g.throughput(Throughput::Elements(threads as u64));
            let leashed = Leashed::new(vec![1.0; d], threads, Persistence::Unbounded);
            g.bench_with_input(BenchmarkId::new("leashed", threads), &threads, |b, &m| {
                b.iter_custom(|n| run_threads(&leashed, m, n, tc))
            });
            let locked = Locked::new(vec![1.0; d]);
            g.bench_with_input(BenchmarkId::new("locked", threads), &threads, |b, &m| {
                b.iter_custom(|n| run_threads(&locked, m, n, tc))
            });
            let hog = Hogwild::new(vec![1.0; d]);
            g.bench_with_input(BenchmarkId::new("hogwild", threads), &threads, |b, &m| {
                b.iter_custom(|n| run_threads(&hog, m, n, tc))
            });
        }
        g.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30);
    targets = reads, publish, throughput
}
criterion_main!(benches);
