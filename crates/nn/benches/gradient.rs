//! Forward + backward per mini-batch, single thread: the gradient time T_c of §B.5.
//! Throughput is reported in FLOP/s of the matrix products (`Network::gradient_flops`).
//!
//! `cargo bench -p nn --bench gradient`

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use nn::{arch, data, Backend, BatchBuf, BatchSampler, Init, Network, Scale, Shuffle};
use std::hint::black_box;

fn bench_net(c: &mut Criterion, name: &str, net: Network, batch: usize, backends: &[Backend]) {
    let (train, _) =
        data::load_mnist(&data::bundled_mnist_dir(), Scale::Unit).expect("bundled MNIST");
    let mut sampler = BatchSampler::new(train.len(), batch, Shuffle::EveryEpoch, 1);
    let mut buf = BatchBuf::default();
    sampler.next_into(&train, &mut buf);
    let theta = net.init_params(Init::He, 1);
    let mut g = c.benchmark_group(format!("gradient/{name}"));
    g.throughput(Throughput::Elements(net.gradient_flops() * batch as u64));
    for &be in backends {
        let net = net.clone().with_backend(be);
        let mut scratch = net.scratch(batch);
        let mut grad = vec![0.0; net.num_params()];
        g.bench_function(format!("{be:?}"), |b| {
            b.iter(|| {
                black_box(net.gradient(black_box(&theta), buf.as_batch(), &mut scratch, &mut grad))
            })
        });
    }
    g.finish();
}

fn gradients(c: &mut Criterion) {
    let all = [Backend::Packed, Backend::Gemm, Backend::MatrixMultiply];
    let m = arch::MNIST_INPUT;
    bench_net(
        c,
        "mlp3x128_b512",
        arch::mlp(m, 3, 128, 10).unwrap(),
        512,
        &all,
    );
    bench_net(c, "cnn_b2_b512", arch::cnn_b2(m, 10).unwrap(), 512, &all);
    bench_net(
        c,
        "lenet_thesis_b128",
        arch::lenet_thesis(m, 10).unwrap(),
        128,
        &all,
    );
    bench_net(c, "lenet5_b128", arch::lenet5(m, 10).unwrap(), 128, &all);
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30);
    targets = gradients
}
criterion_main!(benches);
