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
//! are in [`data`]; [`SharedCursor`] hands seeded mini-batches over shuffled epochs to any number of workers ([`BatchSampler`]: to one).
//!
//! Every kernel runs on the calling thread only ([`kernels`]); the default backend is our own
//! [`packed`] SGEMM plus [`direct`] convolutions (no im2col), with their working memory in the
//! [`Scratch`]. Each kernel is one generic source compiled for AVX-512F, AVX2 + FMA and a
//! portable path; a network runs the best [`Isa`] this CPU has, or the one `NN_ISA` or
//! [`Network::with_isa`] asks for.
//!
//! ```
//! use nn::{arch, AlignedVec, Init, Network, Shape, Batch};
//!
//! // A small MLP on 4-feature inputs, 3 classes.
//! let net = arch::mlp(Shape::flat(4), 1, 8, 3).unwrap();
//! let mut theta = net.init_params(Init::He, 42);
//! let images = [0.1, 0.9, -0.3, 0.5, 0.7, -0.2, 0.0, 0.4];
//! let labels = [2, 0];
//! let batch = Batch { images: &images, labels: &labels };
//! let mut scratch = net.scratch(2);
//! // Any `&mut [f32]` works; a cache-line-aligned one keeps the weight gradients' stores whole.
//! let mut grad = AlignedVec::zeroed(net.num_params());
//! let before = net.gradient(&theta, batch, &mut scratch, &mut grad);
//! for _ in 0..50 {
//!     net.gradient(&theta, batch, &mut scratch, &mut grad);
//!     theta.iter_mut().zip(grad.iter()).for_each(|(t, g)| *t -= 0.1 * g);
//! }
//! assert!(net.loss(&theta, batch, &mut scratch) < before as f64);
//! ```

#[macro_use]
pub mod kernels;
mod aligned;

pub mod arch;
mod builder;
pub mod data;
mod init;
mod network;
mod ops;
pub mod reference;
pub mod sampler;
mod scratch;
mod shape;
pub mod thesis_rng;

pub use aligned::AlignedVec;
pub use arch::Arch;
pub use builder::{BuildError, NetworkBuilder};
pub use data::{BatchBuf, DataError, Dataset, Problem, Scale};
pub use init::Init;
pub use kernels::isa::{cpu_model, splits_512, Isa, IsaError};
pub use kernels::matmul::Backend;
pub use kernels::{direct, matmul, packed};
pub use network::{EvalSums, Network};
pub use sampler::{BatchSampler, EpochCache, SharedCursor, Shuffle};
pub use scratch::Scratch;
pub use shape::{Activation, Batch, Layer, Shape};
pub use thesis_rng::ThesisRng;
