//! Exact parameter counts of the thesis' architectures, and shape errors.

use nn::arch::{self, CIFAR_INPUT, MNIST_INPUT};
use nn::{Activation, Arch, BuildError, Layer, Network, Shape};

#[test]
fn thesis_parameter_counts() {
    assert_eq!(
        arch::mlp(MNIST_INPUT, 3, 128, 10).unwrap().num_params(),
        134_794
    );
    assert_eq!(arch::cnn_b2(MNIST_INPUT, 10).unwrap().num_params(), 27_354);
    assert_eq!(arch::lenet5(MNIST_INPUT, 10).unwrap().num_params(), 44_426);
    assert_eq!(
        arch::lenet_thesis(MNIST_INPUT, 10).unwrap().num_params(),
        34_622
    );
    assert_eq!(
        arch::cifar_cnn(CIFAR_INPUT, 10).unwrap().num_params(),
        477_994
    );
}

#[test]
fn table_b2_shapes() {
    let net = arch::cnn_b2(MNIST_INPUT, 10).unwrap();
    let outs: Vec<Shape> = net.layers().iter().map(Layer::output_shape).collect();
    assert_eq!(
        outs,
        vec![
            Shape::new(26, 26, 4),
            Shape::new(13, 13, 4),
            Shape::new(11, 11, 8),
            Shape::new(5, 5, 8),
            Shape::flat(128),
            Shape::flat(10)
        ]
    );
    let per_layer: Vec<usize> = net.layers().iter().map(Layer::num_params).collect();
    assert_eq!(per_layer, vec![40, 0, 296, 0, 25_728, 1_290]);
}

#[test]
fn arch_names_round_trip() {
    for s in [
        "mlp:3x128",
        "cnn",
        "lenet5",
        "lenet",
        "cifar-cnn",
        "mlp:1x7",
    ] {
        let a: Arch = s.parse().unwrap();
        assert_eq!(a.to_string(), s);
    }
    assert_eq!(
        "mlp".parse::<Arch>().unwrap(),
        Arch::Mlp {
            hidden_layers: 3,
            units: 128
        }
    );
    for bad in ["", "mlp:", "mlp:3", "mlp:ax2", "mlp:3x0", "resnet"] {
        assert!(bad.parse::<Arch>().is_err(), "{bad} should not parse");
    }
}

#[test]
fn impossible_networks_are_typed_errors() {
    let e = Network::builder(Shape::new(4, 4, 1))
        .conv(2, 5, Activation::Relu)
        .dense(2, Activation::Identity)
        .build();
    assert!(matches!(
        e,
        Err(BuildError::KernelTooLarge {
            layer: 0,
            kh: 5,
            ..
        })
    ));
    let e = Network::builder(Shape::new(1, 4, 1))
        .max_pool()
        .dense(2, Activation::Identity)
        .build();
    assert!(matches!(e, Err(BuildError::PoolTooSmall { .. })));
    let e = Network::builder(Shape::flat(4))
        .dense(0, Activation::Relu)
        .dense(2, Activation::Identity)
        .build();
    assert!(matches!(e, Err(BuildError::ZeroWidth { layer: 0 })));
    assert_eq!(
        Network::builder(Shape::flat(4)).build(),
        Err(BuildError::NoOutputLayer)
    );
    assert_eq!(
        Network::builder(Shape::flat(4))
            .dense(1, Activation::Identity)
            .build(),
        Err(BuildError::TooFewClasses(1))
    );
    assert!(matches!(
        Network::builder(Shape::new(0, 3, 1))
            .dense(2, Activation::Identity)
            .build(),
        Err(BuildError::EmptyInput(_))
    ));
    // LeNet-5 does not fit a 8x8 input.
    assert!(arch::lenet5(Shape::new(8, 8, 1), 10).is_err());
}

#[test]
fn init_is_seeded_and_has_the_requested_scale() {
    let net = arch::mlp(MNIST_INPUT, 3, 128, 10).unwrap();
    let a = net.init_params(nn::Init::THESIS, 7);
    assert_eq!(a, net.init_params(nn::Init::THESIS, 7));
    assert_ne!(a, net.init_params(nn::Init::THESIS, 8));
    let n = a.len() as f64;
    let mean = a.iter().map(|&x| f64::from(x)).sum::<f64>() / n;
    let std = (a
        .iter()
        .map(|&x| (f64::from(x) - mean).powi(2))
        .sum::<f64>()
        / n)
        .sqrt();
    assert!(mean.abs() < 1e-4, "mean {mean}");
    assert!((std - 0.01).abs() < 2e-4, "std {std}");
    // He: first layer weights have std sqrt(2/784), biases are zero.
    let h = net.init_params(nn::Init::He, 1);
    let w = &h[..784 * 128];
    let s = (w.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>() / w.len() as f64).sqrt();
    assert!((s - (2.0f64 / 784.0).sqrt()).abs() < 1e-3, "He std {s}");
    assert!(h[784 * 128..784 * 128 + 128].iter().all(|&b| b == 0.0));
    // Glorot: uniform within the limit.
    let g = net.init_params(nn::Init::Glorot, 1);
    let lim = (6.0f32 / (784.0 + 128.0)).sqrt();
    assert!(g[..784 * 128].iter().all(|x| x.abs() <= lim));
    assert!(g[..784 * 128].iter().any(|x| x.abs() > 0.9 * lim));
}

/// A network's convolutions and pools run [`Isa::for_convolution`] of its family: the family
/// itself, but AVX2 for AVX-512 on a CPU that splits 512-bit instructions; a forced convolution
/// family the CPU lacks is a typed error.
#[test]
fn convolutions_run_the_family_for_convolution_picks() {
    use nn::Isa;
    let net = arch::lenet5(MNIST_INPUT, 10).unwrap();
    println!(
        "this CPU ({}) splits 512-bit instructions: {}",
        nn::cpu_model(),
        nn::splits_512()
    );
    for i in Isa::available_here() {
        let n = net.clone().with_isa(i).unwrap();
        assert_eq!(n.isa(), i);
        assert!(n.conv_isa().available());
        if i == Isa::Avx512 && nn::splits_512() {
            assert_eq!(n.conv_isa(), Isa::Avx2);
            assert_eq!(n.isa_path(), "avx512 (convolutions avx2)");
        } else {
            assert_eq!(n.conv_isa(), i);
            assert_eq!(n.isa_path(), i.name());
        }
        for c in Isa::available_here() {
            assert_eq!(n.clone().with_conv_isa(c).unwrap().conv_isa(), c);
        }
    }
    for i in Isa::unavailable_here() {
        let e = net.clone().with_conv_isa(i).unwrap_err();
        // (Under `NN_ISA_MAX` a family this CPU has may be hidden: the error says which.)
        let why = if i.hidden() && i.detected() {
            nn::kernels::isa::MAX_ENV
        } else {
            "does not have"
        };
        assert!(e.to_string().contains(why), "{e}");
    }
}
