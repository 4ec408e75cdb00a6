//! Run many gradient steps of one architecture (for `perf record`):
//! `cargo run --release -p nn --example profile_step -- cnn 512 200 [packed|gemm|matrixmultiply]`
//! (`NN_ISA=avx512|avx2|portable` forces our kernels' instruction set).
use nn::{data, Arch, BatchBuf, BatchSampler, Init, Scale, Shuffle};
use std::time::Instant;

fn main() {
    let mut a = std::env::args().skip(1);
    let arch: Arch = a
        .next()
        .unwrap_or_else(|| "cnn".into())
        .parse()
        .expect("architecture");
    let batch: usize = a.next().map_or(512, |s| s.parse().expect("batch"));
    let steps: usize = a.next().map_or(100, |s| s.parse().expect("steps"));
    let backend: nn::Backend = a
        .next()
        .map_or(nn::Backend::default(), |s| s.parse().expect("backend"));
    let (train, _) =
        data::load_mnist(&data::bundled_mnist_dir(), Scale::Unit).expect("bundled MNIST");
    let net = arch
        .build(train.shape, 10)
        .expect("network")
        .with_backend(backend);
    let theta = net.init_params(Init::He, 1);
    let mut sampler = BatchSampler::new(train.len(), batch, Shuffle::EveryEpoch, 1);
    let mut buf = BatchBuf::default();
    sampler.next_into(&train, &mut buf);
    let mut scratch = net.scratch(batch);
    let mut grad = nn::AlignedVec::zeroed(net.num_params());
    let t = Instant::now();
    for _ in 0..steps {
        std::hint::black_box(net.gradient(&theta, buf.as_batch(), &mut scratch, &mut grad));
    }
    let per = t.elapsed().as_secs_f64() / steps as f64;
    println!(
        "{arch} b={batch} {backend:?} on {} ({}): {:.3} ms/step, {:.1} GFLOP/s",
        net.isa(),
        nn::cpu_model(),
        per * 1e3,
        net.gradient_flops() as f64 * batch as f64 / per / 1e9
    );
}
