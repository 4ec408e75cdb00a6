//! One evaluation of the full MNIST test set (10,000 images) by the default network and the
//! CNNs, in the evaluator's chunks of 500: what every periodic and final evaluation costs.
//!
//! `cargo bench -p asgd-benches --bench evaluation`

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use nn::{arch, data, Init, Scale};
use std::hint::black_box;

fn evaluation(c: &mut Criterion) {
    let (_, te) = data::load_mnist(&data::bundled_mnist_dir(), Scale::Unit).expect("bundled MNIST");
    eprintln!(
        "evaluation bench on {} (kernels {})",
        nn::cpu_model(),
        nn::Isa::preferred().map_or("?".into(), |i| i.to_string())
    );
    let mut g = c.benchmark_group("evaluate_test_set");
    g.sample_size(10);
    g.throughput(Throughput::Elements(te.len() as u64));
    for (name, net) in [
        ("mlp3x128", arch::mlp(arch::MNIST_INPUT, 3, 128, 10)),
        ("cnn_b2", arch::cnn_b2(arch::MNIST_INPUT, 10)),
        ("lenet5", arch::lenet5(arch::MNIST_INPUT, 10)),
    ] {
        let net = net.expect("a thesis architecture");
        let theta = net.init_params(Init::He, 1);
        let mut scratch = net.scratch(500);
        g.bench_function(name, |b| {
            b.iter(|| black_box(net.evaluate(&theta, te.view(), &mut scratch)))
        });
    }
    g.finish();
}

criterion_group!(benches, evaluation);
criterion_main!(benches);
