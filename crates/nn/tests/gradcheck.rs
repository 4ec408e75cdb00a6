//! Gradients against central finite differences of the independent f64 reference
//! (`nn::reference`), for every layer type (proptest over shapes) and every architecture.
//!
//! Tolerance: the analytic gradient is computed in f32, so we accept
//! |g − fd| ≤ 2e-3·max|fd| + 1e-3·|fd|: f32 sums of ≤ 10⁴ terms carry relative errors of
//! about 1e-5–1e-4, and f64 differences with h = 1e-6 are accurate to ~1e-9 away from ReLU/max
//! kinks (inputs are random, so a kink inside ±h has probability ~1e-6 per unit).
//!
//! The default backend's kernels are checked on every instruction set this CPU has (the others
//! are reported as NOT RUN).

mod support;

use nn::arch::{self, CIFAR_INPUT, MNIST_INPUT};
use nn::{Activation, Backend, Batch, Init, Isa, Network, Shape};
use proptest::prelude::*;
use rand::{RngExt, SeedableRng};
use support::each_isa;

fn rng(seed: u64) -> rand::rngs::Xoshiro256PlusPlus {
    rand::rngs::Xoshiro256PlusPlus::seed_from_u64(seed)
}

/// Check `coords` (all if None) of the gradient of `net` at a random point. Returns the worst
/// relative error seen, for reporting.
fn check(net: &Network, n: usize, coords: Option<usize>, seed: u64) -> f64 {
    let mut r = rng(seed);
    let theta = net.init_params(Init::Glorot, seed);
    // Non-zero biases so that bias gradients and ReLU masks are exercised.
    let theta: Vec<f32> = theta
        .iter()
        .map(|&t| t + r.random_range(-0.05..0.05))
        .collect();
    let il = net.input_shape().len();
    let images: Vec<f32> = (0..n * il).map(|_| r.random_range(-1.0..1.0)).collect();
    let labels: Vec<u8> = (0..n)
        .map(|_| r.random_range(0..net.classes()) as u8)
        .collect();
    let batch = Batch {
        images: &images,
        labels: &labels,
    };
    let mut scratch = net.scratch(n);
    let mut grad = vec![f32::NAN; net.num_params()];
    let loss = net.gradient(&theta, batch, &mut scratch, &mut grad);

    let t64: Vec<f64> = theta.iter().map(|&v| f64::from(v)).collect();
    let x64: Vec<f64> = images.iter().map(|&v| f64::from(v)).collect();
    let ref_loss = nn::reference::loss_f64(net, &t64, &x64, &labels);
    assert!(
        (f64::from(loss) - ref_loss).abs() <= 1e-4 * ref_loss.abs().max(1.0),
        "forward: fast {loss} vs reference {ref_loss}"
    );

    let d = net.num_params();
    let idx: Vec<usize> = match coords {
        None => (0..d).collect(),
        Some(k) => {
            // Always include every layer's first weight and last bias, plus random coordinates.
            let mut v: Vec<usize> = Vec::new();
            for (l, &off) in net.layers().iter().zip(net.param_offsets()) {
                if l.num_params() > 0 {
                    v.push(off);
                    v.push(off + l.num_params() - 1);
                }
            }
            v.extend((0..k).map(|_| r.random_range(0..d)));
            v
        }
    };
    let h = 1e-6;
    let mut fds = Vec::with_capacity(idx.len());
    let mut tp = t64.clone();
    for &i in &idx {
        tp[i] = t64[i] + h;
        let lp = nn::reference::loss_f64(net, &tp, &x64, &labels);
        tp[i] = t64[i] - h;
        let lm = nn::reference::loss_f64(net, &tp, &x64, &labels);
        tp[i] = t64[i];
        fds.push((lp - lm) / (2.0 * h));
    }
    let scale = fds.iter().fold(0.0f64, |a, &b| a.max(b.abs())).max(1e-6);
    let mut worst = 0.0f64;
    for (&i, &fd) in idx.iter().zip(&fds) {
        let g = f64::from(grad[i]);
        let err = (g - fd).abs();
        assert!(
            err <= 2e-3 * scale + 1e-3 * fd.abs(),
            "θ[{i}]: analytic {g}, finite difference {fd} (scale {scale})"
        );
        worst = worst.max(err / scale);
    }
    worst
}

#[test]
fn every_architecture_matches_finite_differences() {
    each_isa("every_architecture_matches_finite_differences", |isa| {
        let on = |net: Network| net.with_isa(isa).unwrap();
        check(
            &on(arch::mlp(MNIST_INPUT, 3, 128, 10).unwrap()),
            3,
            Some(60),
            1,
        );
        check(&on(arch::cnn_b2(MNIST_INPUT, 10).unwrap()), 3, Some(80), 2);
        check(&on(arch::lenet5(MNIST_INPUT, 10).unwrap()), 2, Some(60), 3);
        let lenet = on(arch::lenet_thesis(MNIST_INPUT, 10).unwrap());
        check(&lenet, 2, Some(60), 4);
        check(
            &on(arch::cifar_cnn(CIFAR_INPUT, 10).unwrap()),
            1,
            Some(16),
            5,
        );
    });
}

/// Also compares the direct convolution kernels (`Backend::Packed`, on every instruction set
/// this CPU has) with im2col + GEMM (the other backends).
#[test]
fn every_backend_gives_the_same_gradient() {
    same_gradient_on_every_backend(&arch::cnn_b2(MNIST_INPUT, 10).unwrap());
    same_gradient_on_every_backend(&arch::lenet5(MNIST_INPUT, 10).unwrap());
    // What the architectures do not reach in the fused convolution + pool path: a linear
    // convolution before a pool (no ReLU mask), and an odd-sized output (25 × 25, whose last row
    // and column no window covers).
    let odd = Network::builder(MNIST_INPUT)
        .conv(3, 4, Activation::Identity)
        .max_pool()
        .conv(4, 3, Activation::Relu)
        .max_pool()
        .dense(10, Activation::Identity)
        .build()
        .unwrap();
    same_gradient_on_every_backend(&odd);
}

fn same_gradient_on_every_backend(net: &Network) {
    let mut r = rng(9);
    let theta = net.init_params(Init::He, 9);
    let n = 17;
    let images: Vec<f32> = (0..n * 784).map(|_| r.random_range(0.0..1.0)).collect();
    let labels: Vec<u8> = (0..n).map(|_| r.random_range(0..10)).collect();
    let batch = Batch {
        images: &images,
        labels: &labels,
    };
    let isa = Isa::detect();
    let mut runs = vec![(Backend::Naive, isa, isa)];
    // Every family for the dense layers with every family for the convolutions and pools
    // (`Isa::for_convolution` mixes AVX-512 and AVX2 on some CPUs).
    for i in Isa::available_here() {
        for c in Isa::available_here() {
            runs.push((Backend::Packed, i, c));
        }
    }
    runs.extend([Backend::Gemm, Backend::MatrixMultiply].map(|b| (b, isa, isa)));
    let grads: Vec<(f32, Vec<f32>)> = runs
        .into_iter()
        .map(|(b, isa, conv)| {
            let net = net.clone().with_backend(b).with_isa(isa).unwrap();
            let net = net.with_conv_isa(conv).unwrap();
            let mut g = vec![0.0; net.num_params()];
            let l = net.gradient(&theta, batch, &mut net.scratch(n), &mut g);
            (l, g)
        })
        .collect();
    for (l, g) in &grads[1..] {
        assert!((l - grads[0].0).abs() < 1e-5);
        let scale = grads[0].1.iter().fold(0.0f32, |a, b| a.max(b.abs()));
        for (a, b) in g.iter().zip(&grads[0].1) {
            assert!((a - b).abs() <= 1e-4 * scale, "{a} vs {b}");
        }
    }
}

#[test]
fn gradient_overwrites_output_and_scratch_is_reusable_across_batch_sizes() {
    let net = arch::lenet_thesis(MNIST_INPUT, 10).unwrap();
    let theta = net.init_params(Init::He, 3);
    let mut r = rng(3);
    let images: Vec<f32> = (0..9 * 784).map(|_| r.random_range(0.0..1.0)).collect();
    let labels: Vec<u8> = (0..9).map(|_| r.random_range(0..10)).collect();
    let mut small = net.scratch(2);
    let mut g1 = vec![123.0; net.num_params()];
    let mut g2 = vec![-7.0; net.num_params()];
    // Grows the scratch, then shrinks the batch: results must match a fresh scratch.
    net.gradient(
        &theta,
        Batch {
            images: &images,
            labels: &labels,
        },
        &mut small,
        &mut g1,
    );
    let l1 = net.gradient(
        &theta,
        Batch {
            images: &images[..3 * 784],
            labels: &labels[..3],
        },
        &mut small,
        &mut g1,
    );
    let l2 = net.gradient(
        &theta,
        Batch {
            images: &images[..3 * 784],
            labels: &labels[..3],
        },
        &mut net.scratch(3),
        &mut g2,
    );
    assert_eq!(l1, l2);
    assert_eq!(g1, g2);
    // A scratch sized for another network is resized, not misused.
    let other = arch::mlp(MNIST_INPUT, 1, 16, 10).unwrap();
    let mut s_other = other.scratch(9);
    let l3 = net.gradient(
        &theta,
        Batch {
            images: &images[..3 * 784],
            labels: &labels[..3],
        },
        &mut s_other,
        &mut g2,
    );
    assert_eq!(l1, l3);
    // So is a scratch of the same network on another backend (the direct convolutions of
    // `Packed` need no patch-matrix buffers; im2col does), in both directions.
    let batch3 = Batch {
        images: &images[..3 * 784],
        labels: &labels[..3],
    };
    for (from, to) in [
        (Backend::Packed, Backend::Naive),
        (Backend::Naive, Backend::Packed),
    ] {
        let mut s = net.clone().with_backend(from).scratch(9);
        let to_net = net.clone().with_backend(to);
        let l4 = to_net.gradient(&theta, batch3, &mut s, &mut g2);
        let l5 = to_net.gradient(&theta, batch3, &mut to_net.scratch(3), &mut g1);
        assert_eq!((l4, &g2), (l5, &g1), "{from:?} scratch used by {to:?}");
    }
    // And a scratch moved between instruction sets (their wide buffers have other strides).
    let isas = Isa::available_here();
    for (&from, &to) in isas.iter().zip(isas.iter().rev()) {
        let mut s = net.clone().with_isa(from).unwrap().scratch(9);
        let to_net = net.clone().with_isa(to).unwrap();
        let l4 = to_net.gradient(&theta, batch3, &mut s, &mut g2);
        let l5 = to_net.gradient(&theta, batch3, &mut to_net.scratch(3), &mut g1);
        assert_eq!((l4, &g2), (l5, &g1), "{from} scratch used by {to}");
    }
}

#[test]
fn loss_and_accuracy_agree_with_the_reference_in_chunks() {
    let net = arch::mlp(Shape::flat(5), 2, 6, 4).unwrap();
    let mut r = rng(11);
    // Random biases too, so that no two logits tie (arg-max tie-breaking is not under test).
    let theta: Vec<f32> = net
        .init_params(Init::He, 11)
        .iter()
        .map(|&t| t + r.random_range(-0.5..0.5))
        .collect();
    let n = 23;
    let images: Vec<f32> = (0..n * 5).map(|_| r.random_range(-1.0..1.0)).collect();
    let labels: Vec<u8> = (0..n).map(|_| r.random_range(0..4)).collect();
    let t64: Vec<f64> = theta.iter().map(|&v| f64::from(v)).collect();
    let x64: Vec<f64> = images.iter().map(|&v| f64::from(v)).collect();
    let want = nn::reference::loss_f64(&net, &t64, &x64, &labels);
    let mut correct = 0;
    for s in 0..n {
        let z = nn::reference::forward_one(&net, &t64, &x64[s * 5..(s + 1) * 5]);
        let arg = (0..4)
            .max_by(|&a, &b| z[a].partial_cmp(&z[b]).unwrap())
            .unwrap();
        correct += usize::from(arg == labels[s] as usize);
    }
    // Chunk size 4 does not divide 23: the tail chunk must be handled.
    let (loss, acc) = net.evaluate(
        &theta,
        Batch {
            images: &images,
            labels: &labels,
        },
        &mut net.scratch(4),
    );
    assert!((loss - want).abs() < 1e-5, "{loss} vs {want}");
    assert_eq!(acc, correct as f64 / n as f64);
}

#[test]
fn softmax_cross_entropy_is_stable_for_huge_logits() {
    // Output layer with huge biases: a naive exp() would overflow to inf/NaN.
    let net = arch::mlp(Shape::flat(2), 0, 1, 3).unwrap();
    let theta = vec![0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1000.0, -1000.0, 500.0];
    let mut g = vec![0.0; 9];
    let loss = net.gradient(
        &theta,
        Batch {
            images: &[1.0, 1.0],
            labels: &[1],
        },
        &mut net.scratch(1),
        &mut g,
    );
    assert!((loss - 2000.0).abs() < 1e-3, "loss {loss}");
    assert!(g.iter().all(|v| v.is_finite()));
    assert!((g[6] - 1.0).abs() < 1e-6 && (g[7] + 1.0).abs() < 1e-6 && g[8].abs() < 1e-6);
}

#[derive(Debug, Clone)]
enum L {
    Conv {
        f: usize,
        kh: usize,
        kw: usize,
        relu: bool,
    },
    Pool,
    Dense {
        u: usize,
        relu: bool,
    },
}

fn layer_strategy() -> impl Strategy<Value = L> {
    prop_oneof![
        (1usize..4, 1usize..4, 1usize..4, any::<bool>()).prop_map(|(f, kh, kw, relu)| L::Conv {
            f,
            kh,
            kw,
            relu
        }),
        Just(L::Pool),
        (1usize..6, any::<bool>()).prop_map(|(u, relu)| L::Dense { u, relu }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, .. ProptestConfig::default() })]

    /// Random stacks of layers on random input shapes: every parameter checked.
    #[test]
    fn random_networks_match_finite_differences(
        h in 1usize..9, w in 1usize..9, c in 1usize..4,
        layers in proptest::collection::vec(layer_strategy(), 0..4),
        classes in 2usize..5, n in 1usize..4, seed in any::<u64>(),
    ) {
        let mut b = Network::builder(Shape::new(h, w, c));
        let act = |r: bool| if r { Activation::Relu } else { Activation::Identity };
        for l in &layers {
            b = match *l {
                L::Conv { f, kh, kw, relu } => b.conv_rect(f, kh, kw, act(relu)),
                L::Pool => b.max_pool(),
                L::Dense { u, relu } => b.dense(u, act(relu)),
            };
        }
        // Shapes that do not fit are rejected by the builder; those are checked elsewhere.
        // Every family this CPU has (the fixed-architecture test reports the others).
        if let Ok(net) = b.dense(classes, Activation::Identity).build() {
            for isa in Isa::available_here() {
                check(&net.clone().with_isa(isa).unwrap(), n, None, seed);
            }
        }
    }
}
