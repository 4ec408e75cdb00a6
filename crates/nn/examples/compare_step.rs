//! One gradient step of one architecture on every backend and instruction set, interleaved in
//! one process, as ratios to the `gemm` crate backend:
//! `cargo run --release -p nn --example compare_step -- mlp 512 20`
//!
//! Why interleaved rounds rather than one run per configuration: on a shared (virtualised) core
//! the speed of the whole machine drifts by 10 % and more within minutes, so runs one after the
//! other compare the drift, not the code. Each round runs a few steps of every configuration in
//! turn; the median over rounds is reported.
use nn::{data, Arch, Backend, BatchBuf, BatchSampler, Init, Isa, Scale, Shuffle};
use std::time::Instant;

fn main() {
    let mut a = std::env::args().skip(1);
    let arch: Arch = a
        .next()
        .unwrap_or_else(|| "mlp".into())
        .parse()
        .expect("architecture");
    let batch: usize = a.next().map_or(512, |s| s.parse().expect("batch"));
    let rounds: usize = a.next().map_or(20, |s| s.parse().expect("rounds"));
    let (train, _) =
        data::load_mnist(&data::bundled_mnist_dir(), Scale::Unit).expect("bundled MNIST");
    let base = arch.build(train.shape, 10).expect("network");
    let theta = base.init_params(Init::He, 1);
    let mut sampler = BatchSampler::new(train.len(), batch, Shuffle::EveryEpoch, 1);
    let mut buf = BatchBuf::default();
    sampler.next_into(&train, &mut buf);
    let isas = match Isa::from_env().expect("NN_ISA") {
        Some(i) => vec![i],
        None => Isa::available_here(),
    };
    let has_conv = base
        .layers()
        .iter()
        .any(|l| matches!(l, nn::Layer::Conv2d { .. }));
    let mut runs: Vec<(String, nn::Network)> = Vec::new();
    for i in isas {
        let net = base
            .clone()
            .with_backend(Backend::Packed)
            .with_isa(i)
            .expect("available ISA");
        // Where `Isa::for_convolution` picked another family, measure the one it replaced too.
        if has_conv && net.conv_isa() != i {
            let own = net.clone().with_conv_isa(i).expect("available ISA");
            runs.push((format!("Packed-{i} (convolutions {i})"), own));
        }
        runs.push((format!("Packed-{}", net.isa_path()), net));
    }
    runs.push(("Gemm".into(), base.clone().with_backend(Backend::Gemm)));
    let mut scratch: Vec<_> = runs.iter().map(|(_, n)| n.scratch(batch)).collect();
    let mut grad = nn::AlignedVec::zeroed(base.num_params());
    // About 40 ms of work per configuration and round (at 100 GFLOP/s).
    let steps = (4e9 / (base.gradient_flops() as f64 * batch as f64)).clamp(1.0, 50.0) as usize;
    let mut times = vec![Vec::with_capacity(rounds); runs.len()];
    for r in 0..rounds {
        for (i, (_, net)) in runs.iter().enumerate() {
            let t = Instant::now();
            for _ in 0..steps {
                std::hint::black_box(net.gradient(
                    &theta,
                    buf.as_batch(),
                    &mut scratch[i],
                    &mut grad,
                ));
            }
            times[i].push(t.elapsed().as_secs_f64() / steps as f64 * 1e3);
        }
        eprint!("\rround {}/{rounds}", r + 1);
    }
    eprintln!();
    let median = |v: &[f64]| {
        let mut s = v.to_vec();
        s.sort_by(f64::total_cmp);
        s[s.len() / 2]
    };
    let gemm = median(&times[runs.len() - 1]);
    println!(
        "{arch} b={batch} on {}: median of {rounds} interleaved rounds of {steps} steps",
        nn::cpu_model()
    );
    for ((label, _), t) in runs.iter().zip(&times) {
        let m = median(t);
        println!("  {label:36} {m:7.3} ms/step  {:5.3}× gemm", m / gemm);
    }
}
