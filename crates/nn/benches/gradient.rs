//! Forward + backward per mini-batch, single thread: the gradient time T_c of §B.5.
//! Throughput is reported in FLOP/s of the matrix products (`Network::gradient_flops`).
//!
//! `cargo bench -p nn --bench gradient`: the default backend on every instruction set this CPU
//! has (or only the one `NN_ISA` names), next to the `gemm` crate and matrixmultiply backends,
//! in one run. Add `--no-default-features` to build `gemm` without its AVX-512 kernels (as on an
//! AVX2 machine).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use nn::{arch, data, Backend, BatchBuf, BatchSampler, Init, Isa, Network, Scale, Shuffle};
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

fn bench_net(c: &mut Criterion, name: &str, net: Network, batch: usize) {
    let (train, _) =
        data::load_mnist(&data::bundled_mnist_dir(), Scale::Unit).expect("bundled MNIST");
    let mut sampler = BatchSampler::new(train.len(), batch, Shuffle::EveryEpoch, 1);
    let mut buf = BatchBuf::default();
    sampler.next_into(&train, &mut buf);
    let theta = net.init_params(Init::He, 1);
    let mut g = c.benchmark_group(format!("gradient/{name}"));
    g.throughput(Throughput::Elements(net.gradient_flops() * batch as u64));
    for (label, be, isa) in runs() {
        let net = net.clone().with_backend(be).with_isa(isa).expect("ISA");
        let mut scratch = net.scratch(batch);
        let mut grad = nn::AlignedVec::zeroed(net.num_params());
        // Name the convolutions' family where `Isa::for_convolution` replaced it.
        let has_conv = net
            .layers()
            .iter()
            .any(|l| matches!(l, nn::Layer::Conv2d { .. }));
        let label = if be == Backend::Packed && has_conv && net.conv_isa() != isa {
            format!("{label}-conv-{}", net.conv_isa())
        } else {
            label
        };
        g.bench_function(label, |b| {
            b.iter(|| {
                black_box(net.gradient(black_box(&theta), buf.as_batch(), &mut scratch, &mut grad))
            })
        });
    }
    g.finish();
}

fn gradients(c: &mut Criterion) {
    eprintln!(
        "gradient bench on {} (kernel families here: {:?}; gemm crate AVX-512: {})",
        nn::cpu_model(),
        Isa::available_here(),
        cfg!(feature = "gemm-avx512")
    );
    let m = arch::MNIST_INPUT;
    bench_net(c, "mlp3x128_b512", arch::mlp(m, 3, 128, 10).unwrap(), 512);
    bench_net(c, "cnn_b2_b512", arch::cnn_b2(m, 10).unwrap(), 512);
    bench_net(
        c,
        "lenet_thesis_b128",
        arch::lenet_thesis(m, 10).unwrap(),
        128,
    );
    bench_net(c, "lenet5_b128", arch::lenet5(m, 10).unwrap(), 128);
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30);
    targets = gradients
}
criterion_main!(benches);
