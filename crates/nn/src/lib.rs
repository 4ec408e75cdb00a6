//! # nn — stateless networks over one flat parameter slice
//!
//! The gradient computation of parallel SGD (T_c in §B.5 of the thesis): dense, 2-D convolution
//! (valid, stride 1), 2 × 2 max-pool, ReLU and a numerically stable softmax cross-entropy, over a
//! parameter vector θ that the **caller owns** as one contiguous `&[f32]`. The network keeps no
//! parameters, so a shared-state strategy (`pvec`) can hand a published θ to a worker without
//! copying it, and each worker brings its own [`Scratch`] so that steady-state calls allocate
//! nothing.
//!
//! Architectures of the thesis are in [`arch`] with their exact parameter counts
//! (MLP 3×128: d = 134,794; Table B.2 CNN: 27,354; LeNet-5: 44,426; the thesis code's LeNet:
//! 34,622; Fig. A.1 CIFAR CNN: 477,994). Data readers for IDX (MNIST, Fashion-MNIST) and CIFAR-10
//! are in [`data`]; [`BatchSampler`] draws seeded mini-batches over shuffled epochs.
//!
//! Matrix products run on the calling thread only ([`matmul`]); the default backend is our own
//! [`packed`] SGEMM, which uses AVX-512 where the CPU has it (AVX2+FMA or portable code
//! otherwise) and keeps its packing buffer in the [`Scratch`]. With that backend on an AVX-512
//! CPU, convolutions skip im2col and run the [`direct`] kernels; elsewhere they are im2col + GEMM.
//!
//! ```
//! use nn::{arch, Init, Network, Shape, Batch};
//!
//! // A small MLP on 4-feature inputs, 3 classes.
//! let net = arch::mlp(Shape::flat(4), 1, 8, 3).unwrap();
//! let mut theta = net.init_params(Init::He, 42);
//! let images = [0.1, 0.9, -0.3, 0.5, 0.7, -0.2, 0.0, 0.4];
//! let labels = [2, 0];
//! let batch = Batch { images: &images, labels: &labels };
//! let mut scratch = net.scratch(2);
//! let mut grad = vec![0.0; net.num_params()];
//! let before = net.gradient(&theta, batch, &mut scratch, &mut grad);
//! for _ in 0..50 {
//!     net.gradient(&theta, batch, &mut scratch, &mut grad);
//!     theta.iter_mut().zip(&grad).for_each(|(t, g)| *t -= 0.1 * g);
//! }
//! assert!(net.loss(&theta, batch, &mut scratch) < before as f64);
//! ```

/// Generate a `match` over two small const parameters of a kernel:
/// `dispatch2!(f(args); a, [1, 2]; b, [1, 2])` calls `f::<A, B>(args)` for the run-time values of
/// `a` and `b` (the GEMM and convolution kernels are instantiated per tile shape).
macro_rules! dispatch2 {
    ($f:ident $args:tt; $a:expr, [$($av:literal),*]; $b:expr, $bvs:tt) => {
        match $a {
            $( $av => dispatch2!(@inner $f $args; $av; $b, $bvs), )*
            _ => unreachable!("tile size"),
        }
    };
    (@inner $f:ident $args:tt; $av:literal; $b:expr, [$($bv:literal),*]) => {
        match $b {
            $( $bv => $f::<$av, $bv> $args, )*
            _ => unreachable!("tile size"),
        }
    };
}

pub mod arch;
pub mod data;
pub mod direct;
pub mod matmul;
pub mod network;
pub mod packed;
pub mod reference;
pub mod sampler;

pub use arch::Arch;
pub use data::{BatchBuf, DataError, Dataset, Problem, Scale};
pub use matmul::Backend;
pub use network::{
    Activation, Batch, BuildError, Init, Layer, Network, NetworkBuilder, Scratch, Shape,
};
pub use sampler::{BatchSampler, Shuffle};
