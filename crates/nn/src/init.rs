//! Parameter initialisation: seedable schemes that fill a caller-owned θ layer by layer.

use crate::network::Network;
use crate::shape::Layer;
use crate::thesis_rng::ThesisRng;
use rand::{RngExt, SeedableRng};

/// Parameter initialisation schemes (seedable; see [`Network::init_params`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Init {
    /// Every weight and bias drawn from N(0, std²): Alg. B.1's `RAND_INIT`, std = 0.01 in the
    /// thesis' code.
    Normal { std: f32 },
    /// He/Kaiming: weights N(0, 2/fan_in), biases 0. The default for ReLU networks.
    He,
    /// Glorot/Xavier uniform: weights U(±√(6/(fan_in+fan_out))), biases 0.
    Glorot,
    /// N(0, std²) for every weight and bias drawn exactly as the thesis' C++ code draws them
    /// (`NetworkTopology::init` → `FullyConnected::init`): one [`ThesisRng`] seeded with the
    /// seed, layer by layer, each layer's weights in the C++'s column-major `in × out` order,
    /// then its biases. Dense layers match the C++ value for value (up to f64 → f32 rounding);
    /// convolution layers are filled in our own layout's order. `std` is in double precision, as
    /// the C++'s σ is.
    ThesisCode { std: f64 },
}

impl Init {
    /// The thesis' initialisation, N(0, 0.01²) for weights and biases (Alg. B.1).
    pub const THESIS: Init = Init::Normal { std: 0.01 };
}

impl Network {
    /// Fresh parameters drawn with `init` from a generator seeded with `seed`.
    pub fn init_params(&self, init: Init, seed: u64) -> Vec<f32> {
        let mut theta = vec![0.0; self.num_params()];
        self.init_into(init, seed, &mut theta);
        theta
    }

    /// Like [`Network::init_params`], into a caller-owned θ of length d.
    pub fn init_into(&self, init: Init, seed: u64, theta: &mut [f32]) {
        assert_eq!(theta.len(), self.num_params(), "θ has the wrong dimension");
        if let Init::ThesisCode { std } = init {
            return self.thesis_code_init(std, seed, theta);
        }
        let mut rng = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(seed);
        for (l, &off) in self.layers().iter().zip(self.param_offsets()) {
            let p = &mut theta[off..off + l.num_params()];
            if p.is_empty() {
                continue;
            }
            let nb = l.output_shape().c; // biases are the trailing `out channels` entries
            let (w, b) = p.split_at_mut(p.len() - nb);
            let (fan_in, fan_out) = l.fans();
            match init {
                Init::Normal { std } => {
                    w.iter_mut()
                        .chain(b.iter_mut())
                        .for_each(|x| *x = std * normal(&mut rng));
                }
                Init::He => {
                    let std = (2.0 / fan_in as f32).sqrt();
                    w.iter_mut().for_each(|x| *x = std * normal(&mut rng));
                    b.fill(0.0);
                }
                Init::ThesisCode { .. } => unreachable!("drawn by thesis_code_init"),
                Init::Glorot => {
                    let lim = (6.0 / (fan_in + fan_out) as f32).sqrt();
                    w.iter_mut().for_each(|x| *x = rng.random_range(-lim..lim));
                    b.fill(0.0);
                }
            }
        }
    }
}

impl Network {
    /// [`Init::ThesisCode`]: one generator across the layers; a dense layer's C++ weight matrix
    /// is `in × out` column-major (draw k is weight (k mod in, k / in)), ours `in × out`
    /// row-major, so draw k lands at (k mod in)·out + k / in.
    fn thesis_code_init(&self, std: f64, seed: u64, theta: &mut [f32]) {
        let mut rng = ThesisRng::new(seed);
        let mut draws = Vec::new();
        for (l, &off) in self.layers().iter().zip(self.param_offsets()) {
            let p = &mut theta[off..off + l.num_params()];
            if p.is_empty() {
                continue;
            }
            let nb = l.output_shape().c;
            let (w, b) = p.split_at_mut(p.len() - nb);
            match *l {
                Layer::Dense {
                    inputs, outputs, ..
                } => {
                    draws.resize(w.len(), 0.0);
                    rng.fill_normal(&mut draws, std);
                    for (k, &x) in draws.iter().enumerate() {
                        w[(k % inputs) * outputs + k / inputs] = x;
                    }
                }
                _ => rng.fill_normal(w, std),
            }
            rng.fill_normal(b, std);
        }
    }
}

/// Standard normal sample (Box–Muller); avoids a distribution crate for one function.
fn normal(rng: &mut impl rand::Rng) -> f32 {
    let u1: f64 = 1.0 - rng.random::<f64>(); // (0, 1]
    let u2: f64 = rng.random::<f64>();
    ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{arch, Shape};

    #[test]
    fn thesis_code_draws_in_the_cpp_order() {
        // 3 → 2 → 2: the C++ draws W1 column-major (in × out), then b1, then W2, then b2.
        let net = arch::mlp(Shape::flat(3), 1, 2, 2).unwrap();
        let theta = net.init_params(Init::ThesisCode { std: 0.01 }, 1337);
        let mut draws = vec![0.0f32; 6];
        let mut rng = ThesisRng::new(1337);
        rng.fill_normal(&mut draws, 0.01);
        // Ours is in × out row-major: (i, o) at i·2 + o; the C++'s k-th draw is (k mod 3, k / 3).
        for (k, &x) in draws.iter().enumerate() {
            assert_eq!(theta[(k % 3) * 2 + k / 3], x, "draw {k}");
        }
        let mut b1 = [0.0f32; 2];
        rng.fill_normal(&mut b1, 0.01);
        assert_eq!(theta[6..8], b1);
        let mut rest = [0.0f32; 6];
        rng.fill_normal(&mut rest[..4], 0.01);
        rng.fill_normal(&mut rest[4..], 0.01);
        assert_eq!(theta[8], rest[0]);
        assert_eq!(theta[9], rest[2], "(i = 0, o = 1) is the C++'s draw 2");
        assert_eq!(theta[12..14], rest[4..6]);
        // Different seed, different θ; the same seed, the same θ.
        assert_eq!(theta, net.init_params(Init::ThesisCode { std: 0.01 }, 1337));
        assert_ne!(theta, net.init_params(Init::ThesisCode { std: 0.01 }, 1));
    }
}
