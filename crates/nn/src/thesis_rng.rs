//! The thesis C++ code's random numbers (dcs-chalmers/shared-memory-sgd, its MiniDNN copy), so
//! that `Init::ThesisCode` and `Shuffle::ThesisCode` draw exactly what that code draws.
//!
//! - [`ThesisRng`]: MiniDNN's `RNG` (`include/minidnn/RNG.h`), Park–Miller's "minimal standard"
//!   generator x ← 16807·x mod (2³¹ − 1) in Carta's formulation, returning x / (2³¹ − 1).
//! - [`ThesisRng::fill_normal`]: `internal::set_normal_random` (`Utils/Random.h`), Box–Muller
//!   with both the cosine and the sine of each pair used.
//! - [`ThesisRng::shuffle`]: `internal::shuffle` (`Utils/Random.h`), a Fisher–Yates shuffle
//!   from the last element down, j = ⌊u·(i + 1)⌋.
//!
//! The C++ seeds one such generator with the seed for the initialisation
//! (`NetworkTopology::init`) and a second, separate one with the same seed for the shuffle
//! (`NetworkExecutor::run_training`): both streams start at the same state.

/// MiniDNN's `RNG`: the Park–Miller minimal standard generator (multiplier 16807, modulus
/// 2³¹ − 1), seeded as the C++ seeds it (seed & (2³¹ − 1), 0 read as 1).
#[derive(Clone, Debug)]
pub struct ThesisRng {
    state: u64,
}

const A: u64 = 16_807;
const M: u64 = 2_147_483_647; // 2^31 - 1

impl ThesisRng {
    /// A generator seeded as `RNG::seed` does (`RNG.h`: `seed ? (seed & m_max) : 1`).
    pub fn new(seed: u64) -> Self {
        let s = seed & M;
        ThesisRng {
            state: if s == 0 { 1 } else { s },
        }
    }

    /// The next uniform in (0, 1]: `RNG::rand`. Carta's split multiplication as `RNG.h` writes
    /// it (exactly 16807·x mod (2³¹ − 1) for a state in [1, 2³¹ − 2], and for the seed 2³¹ − 1
    /// that `seed & m_max` can give, whatever it gives).
    pub fn rand(&mut self) -> f64 {
        let seed = self.state;
        let mut lo = A * (seed & 0xFFFF);
        let hi = A * (seed >> 16);
        lo += (hi & 0x7FFF) << 16;
        if lo > M {
            lo &= M;
            lo += 1;
        }
        lo += hi >> 15;
        if lo > M {
            lo &= M;
            lo += 1;
        }
        self.state = lo;
        lo as f64 / M as f64
    }

    /// Fill `out` with N(0, σ²) draws as `set_normal_random` does: pairs (t1·cos t2, t1·sin t2)
    /// with t1 = σ·√(−2 ln u1), t2 = 2π·u2 computed in double precision; an odd last entry draws
    /// a whole pair and keeps the cosine.
    pub fn fill_normal(&mut self, out: &mut [f32], sigma: f64) {
        let pair = |rng: &mut Self| {
            let t1 = sigma * (-2.0 * rng.rand().ln()).sqrt();
            let t2 = std::f64::consts::TAU * rng.rand();
            (t1 * t2.cos(), t1 * t2.sin())
        };
        let mut chunks = out.chunks_exact_mut(2);
        for c in &mut chunks {
            let (a, b) = pair(self);
            c[0] = a as f32;
            c[1] = b as f32;
        }
        if let [last] = chunks.into_remainder() {
            *last = pair(self).0 as f32;
        }
    }

    /// Shuffle `v` in place as `internal::shuffle` does: for i = n−1 down to 1, swap v[i] with
    /// v[⌊u·(i + 1)⌋].
    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            // u ∈ (0, 1) for every reachable state, so j ≤ i.
            let j = ((self.rand() * (i + 1) as f64) as usize).min(i);
            v.swap(i, j);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_the_minimal_standard_generator() {
        // Park & Miller (1988): from x0 = 1, x_10000 = 1043618065.
        let mut r = ThesisRng::new(1);
        for _ in 0..9_999 {
            r.rand();
        }
        assert_eq!((r.rand() * M as f64).round() as u64, 1_043_618_065);
        // Carta's split equals the plain product mod 2^31 - 1.
        let mut r = ThesisRng::new(1337);
        let mut x = 1337u64;
        for _ in 0..100_000 {
            x = x * A % M;
            r.rand();
            assert_eq!(r.state, x);
        }
    }

    #[test]
    fn seeds_as_the_cpp_does() {
        assert_eq!(ThesisRng::new(0).state, 1);
        assert_eq!(ThesisRng::new(1 << 31 | 5).state, 5);
    }

    #[test]
    fn odd_lengths_draw_a_whole_pair() {
        let (mut a, mut b) = (ThesisRng::new(7), ThesisRng::new(7));
        let mut three = [0.0f32; 3];
        let mut four = [0.0f32; 4];
        a.fill_normal(&mut three, 1.0);
        b.fill_normal(&mut four, 1.0);
        assert_eq!(three[..], four[..3]);
        assert_eq!(a.state, b.state);
    }

    #[test]
    fn shuffle_is_a_permutation() {
        let mut v: Vec<u32> = (0..1000).collect();
        ThesisRng::new(1337).shuffle(&mut v);
        let mut s = v.clone();
        s.sort_unstable();
        assert!(s.iter().copied().eq(0..1000));
        assert_ne!(v, s);
    }
}
