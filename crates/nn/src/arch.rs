//! The architectures of the thesis, with their exact parameter counts d.
//!
//! | constructor | thesis | d (28×28×1 in, 10 out) |
//! |---|---|---|
//! | [`mlp`]`(3, 128)` | Table B.1 | 134,794 |
//! | [`cnn_b2`] | Table B.2 | 27,354 |
//! | [`lenet5`] | §C.6 (LeNet-5) | 44,426 |
//! | [`lenet_thesis`] | the thesis code's LeNet, no 84-unit layer | 34,622 |
//! | [`cifar_cnn`] | Fig. A.1 (32×32×3 in) | 477,994 |
//!
//! All hidden layers use ReLU and the output layer is linear (softmax lives in the loss).
//! Table B.2's d = 27,354 is reproduced exactly with valid 3×3 convolutions and floor 2×2 pooling:
//! 28→26 (conv 4) →13 (pool) →11 (conv 8) →5 (pool), 5·5·8 = 200 → 128 → 10, i.e.
//! 40 + 296 + 25,728 + 1,290. The "ReLU" listed for its pooling layers is a no-op after a ReLU conv.

use crate::shape::{Activation::*, Shape};
use crate::{BuildError, Network};

/// MNIST-class input: 28 × 28 grey-scale.
pub const MNIST_INPUT: Shape = Shape::new(28, 28, 1);
/// CIFAR-10 input: 32 × 32 RGB.
pub const CIFAR_INPUT: Shape = Shape::new(32, 32, 3);

/// Multi-layer perceptron: `hidden_layers` dense ReLU layers of `units`, then a linear output.
/// `mlp(MNIST_INPUT, 3, 128, 10)` is Table B.1 (d = 134,794).
pub fn mlp(
    input: Shape,
    hidden_layers: usize,
    units: usize,
    classes: usize,
) -> Result<Network, BuildError> {
    let mut b = Network::builder(input);
    for _ in 0..hidden_layers {
        b = b.dense(units, Relu);
    }
    b.dense(classes, Identity).build()
}

/// The small CNN of Table B.2: conv 4@3×3, pool, conv 8@3×3, pool, dense 128, dense out.
pub fn cnn_b2(input: Shape, classes: usize) -> Result<Network, BuildError> {
    Network::builder(input)
        .conv(4, 3, Relu)
        .max_pool()
        .conv(8, 3, Relu)
        .max_pool()
        .dense(128, Relu)
        .dense(classes, Identity)
        .build()
}

/// LeNet-5 without padding: conv 6@5×5, pool, conv 16@5×5, pool, dense 120, dense 84, dense out
/// (d = 44,426 on MNIST).
pub fn lenet5(input: Shape, classes: usize) -> Result<Network, BuildError> {
    Network::builder(input)
        .conv(6, 5, Relu)
        .max_pool()
        .conv(16, 5, Relu)
        .max_pool()
        .dense(120, Relu)
        .dense(84, Relu)
        .dense(classes, Identity)
        .build()
}

/// The thesis code's LeNet variant: LeNet-5 without the 84-unit layer (d = 34,622 on MNIST).
pub fn lenet_thesis(input: Shape, classes: usize) -> Result<Network, BuildError> {
    Network::builder(input)
        .conv(6, 5, Relu)
        .max_pool()
        .conv(16, 5, Relu)
        .max_pool()
        .dense(120, Relu)
        .dense(classes, Identity)
        .build()
}

/// The CIFAR-10 CNN of Fig. A.1: conv 32@3×3, conv 32@3×3, pool, conv 64@3×3, conv 64@3×3, pool,
/// dense 256, dense out. The figure does not fix padding or where the pools sit; we use valid
/// convolutions with a pool after each pair (the classic Keras CIFAR-10 layout):
/// 32→30→28→14→12→10→5, so d = 896 + 9,248 + 18,496 + 36,928 + 409,856 + 2,570 = 477,994.
pub fn cifar_cnn(input: Shape, classes: usize) -> Result<Network, BuildError> {
    Network::builder(input)
        .conv(32, 3, Relu)
        .conv(32, 3, Relu)
        .max_pool()
        .conv(64, 3, Relu)
        .conv(64, 3, Relu)
        .max_pool()
        .dense(256, Relu)
        .dense(classes, Identity)
        .build()
}

/// A named architecture, as chosen on a command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Arch {
    /// `mlp` (3×128) or `mlp:LAYERSxUNITS`, e.g. `mlp:4x128`.
    Mlp { hidden_layers: usize, units: usize },
    /// `cnn`: Table B.2.
    CnnB2,
    /// `lenet5`.
    Lenet5,
    /// `lenet`: the thesis code's variant without the 84-unit layer.
    LenetThesis,
    /// `cifar-cnn`: Fig. A.1.
    CifarCnn,
}

impl Arch {
    pub fn build(self, input: Shape, classes: usize) -> Result<Network, BuildError> {
        match self {
            Arch::Mlp {
                hidden_layers,
                units,
            } => mlp(input, hidden_layers, units, classes),
            Arch::CnnB2 => cnn_b2(input, classes),
            Arch::Lenet5 => lenet5(input, classes),
            Arch::LenetThesis => lenet_thesis(input, classes),
            Arch::CifarCnn => cifar_cnn(input, classes),
        }
    }
}

impl std::fmt::Display for Arch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Arch::Mlp {
                hidden_layers,
                units,
            } => write!(f, "mlp:{hidden_layers}x{units}"),
            Arch::CnnB2 => f.write_str("cnn"),
            Arch::Lenet5 => f.write_str("lenet5"),
            Arch::LenetThesis => f.write_str("lenet"),
            Arch::CifarCnn => f.write_str("cifar-cnn"),
        }
    }
}

impl std::str::FromStr for Arch {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || {
            format!("unknown architecture `{s}` (expected mlp, mlp:LxU, cnn, lenet, lenet5 or cifar-cnn)")
        };
        match s {
            "mlp" => Ok(Arch::Mlp {
                hidden_layers: 3,
                units: 128,
            }),
            "cnn" => Ok(Arch::CnnB2),
            "lenet5" => Ok(Arch::Lenet5),
            "lenet" => Ok(Arch::LenetThesis),
            "cifar-cnn" => Ok(Arch::CifarCnn),
            _ => {
                let spec = s.strip_prefix("mlp:").ok_or_else(bad)?;
                let (l, u) = spec.split_once('x').ok_or_else(bad)?;
                let hidden_layers = l.parse().map_err(|_| bad())?;
                let units: usize = u.parse().map_err(|_| bad())?;
                if units == 0 {
                    return Err(format!("`{s}`: an MLP layer needs at least one unit"));
                }
                Ok(Arch::Mlp {
                    hidden_layers,
                    units,
                })
            }
        }
    }
}
