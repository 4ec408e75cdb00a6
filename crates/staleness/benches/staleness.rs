//! `cargo bench -p staleness --bench staleness`
//!
//! - `fit_all/*`: all four families by Bhattacharyya distance and by likelihood, plus the A.13 CMP
//!   search, on histograms of 10⁶ samples with support up to τ = 500 (each fit a global grid
//!   search refined locally; target well under 1 s);
//!   `fit_families/*`: the four families by Bhattacharyya distance only (Table A.1).
//! - `record`: one hot-path record (uncontended), `cdf`: one CDF lookup.

use criterion::{criterion_group, criterion_main, Criterion};
use staleness::{fit_all, fit_families, Counts, Histogram, Model};
use std::hint::black_box;

/// 10⁶ samples' worth of counts, exactly proportional to a model's pmf on 0..=500.
fn histogram_of(m: Model) -> Counts {
    let lp = m.ln_pmf_range(500);
    let mut counts: Vec<u64> = lp.iter().map(|l| (l.exp() * 1e6).round() as u64).collect();
    let missing = 1_000_000i64 - counts.iter().sum::<u64>() as i64;
    let mode = m.mode().min(500) as usize;
    counts[mode] = (counts[mode] as i64 + missing).max(0) as u64;
    Counts::from_counts(counts)
}

fn fits(c: &mut Criterion) {
    let cases = [
        (
            "cmp_lambda1e3_nu1.2",
            Model::Cmp {
                lambda: 1e3,
                nu: 1.2,
            },
        ),
        (
            "cmp_table_a1_m16",
            Model::Cmp {
                lambda: 16f64.powf(3.48),
                nu: 3.48,
            },
        ),
        ("poisson250", Model::Poisson { lambda: 250.0 }),
        ("geometric0.01", Model::Geometric { p: 0.01 }),
    ];
    let mut g = c.benchmark_group("fit_all");
    for (name, m) in cases {
        let h = histogram_of(m);
        assert_eq!(h.total(), 1_000_000);
        g.bench_function(name, |b| b.iter(|| fit_all(black_box(&h), None)));
    }
    g.finish();
    // The Table A.1 procedure alone: four families by Bhattacharyya distance.
    let mut g = c.benchmark_group("fit_families");
    for (name, m) in cases {
        let h = histogram_of(m);
        g.bench_function(name, |b| b.iter(|| fit_families(black_box(&h))));
    }
    g.finish();
}

fn hot_path(c: &mut Criterion) {
    let h = Histogram::new(256);
    let mut t = 0u64;
    c.bench_function("record", |b| {
        b.iter(|| {
            t = (t + 7) % 300;
            h.record(black_box(t))
        })
    });
    let counts = h.snapshot();
    c.bench_function("cdf", |b| b.iter(|| counts.cdf(black_box(17))));
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30);
    targets = fits, hot_path
}
criterion_main!(benches);
