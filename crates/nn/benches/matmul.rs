//! The matrix products of the MLP 3×128 at batch 512 (forward, weight gradient, input gradient)
//! on each backend, single thread. Throughput in FLOP/s.
//!
//! `cargo bench -p nn --bench matmul`: our packed kernels on every instruction set this CPU has
//! (or only the one `NN_ISA` names), next to the `gemm` crate and matrixmultiply. Add
//! `--no-default-features` to build `gemm` without its AVX-512 kernels (as on an AVX2 machine).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use nn::matmul::{sgemm, Backend, View};
use nn::packed::Workspace;
use nn::Isa;
use std::hint::black_box;

/// (label, backend, instruction set) of each run: our kernels per family, then the libraries.
fn runs() -> Vec<(String, Backend, Isa)> {
    let isas = match Isa::from_env().expect("NN_ISA") {
        Some(i) => vec![i],
        None => Isa::available_here(),
    };
    let mut v: Vec<_> = isas
        .into_iter()
        .map(|i| (format!("Packed-{i}"), Backend::Packed, i))
        .collect();
    for be in [Backend::Gemm, Backend::MatrixMultiply] {
        v.push((format!("{be:?}"), be, Isa::detect()));
    }
    v
}

fn shapes(c: &mut Criterion) {
    eprintln!(
        "matmul bench on {} (kernel families here: {:?}; gemm crate AVX-512: {})",
        nn::cpu_model(),
        Isa::available_here(),
        cfg!(feature = "gemm-avx512")
    );
    // (name, m, n, k, A transposed, B transposed)
    let cases = [
        ("fwd_512x784x128", 512, 128, 784, false, false),
        ("fwd_512x128x128", 512, 128, 128, false, false),
        ("dW_784x128_k512", 784, 128, 512, true, false),
        ("dX_512x128x128", 512, 128, 128, false, true),
        // LeNet-5's convolutions at batch 128 (one im2col chunk): conv1 forward and weight
        // gradient, conv2 forward, weight gradient and patch gradient (Wᵀ·dY).
        ("lenet_c1_fwd_6x5184x25", 6, 5184, 25, false, false),
        ("lenet_c1_dW_6x25_k5184", 6, 25, 5184, false, true),
        ("lenet_c2_fwd_16x832x150", 16, 832, 150, false, false),
        ("lenet_c2_dW_16x150_k832", 16, 150, 832, false, true),
        ("lenet_c2_dcol_150x832x16", 150, 832, 16, true, false),
        // A large square product: the attainable single-core SGEMM peak of this CPU.
        ("square_1024", 1024, 1024, 1024, false, false),
    ];
    for (name, m, n, k, ta, tb) in cases {
        let a: Vec<f32> = (0..m * k).map(|i| (i % 97) as f32 / 97.0).collect();
        let b: Vec<f32> = (0..k * n).map(|i| (i % 89) as f32 / 89.0).collect();
        let av = if ta {
            View::row_major(k, m).t()
        } else {
            View::row_major(m, k)
        };
        let bv = if tb {
            View::row_major(n, k).t()
        } else {
            View::row_major(k, n)
        };
        let mut out = vec![0.0f32; m * n];
        let mut g = c.benchmark_group(format!("matmul/{name}"));
        g.throughput(Throughput::Elements(2 * (m * n * k) as u64));
        let mut ws = Workspace::new();
        for (label, be, isa) in runs() {
            g.bench_function(label, |bch| {
                bch.iter(|| {
                    sgemm(
                        &mut ws,
                        be,
                        isa,
                        &mut out,
                        View::row_major(m, n),
                        black_box(&a),
                        av,
                        black_box(&b),
                        bv,
                        false,
                    )
                })
            });
        }
        g.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30);
    targets = shapes
}
criterion_main!(benches);
