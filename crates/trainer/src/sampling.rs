//! Mini-batches for many workers from one shared cursor over shuffled epochs.
//!
//! Workers claim `b` consecutive sample positions with one `fetch_add` on a shared counter;
//! position `p` is sample `perm_e[p mod n]` of epoch `e = p / n`, where `perm_e` is a permutation
//! seeded by (seed, e). Every worker can compute any epoch's permutation itself (a 60k shuffle is
//! ~0.2 ms, once per epoch per worker), so there is no coordination beyond the counter: an epoch
//! is exactly one pass over the data, no two workers ever take the same position, and one thread
//! with a given seed replays bit for bit.

use nn::Shuffle;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

pub struct SharedCursor {
    next: AtomicU64,
    n: u64,
    limit: u64,
    seed: u64,
    shuffle: Shuffle,
}

/// A worker's cached permutation.
#[derive(Default)]
pub struct EpochCache {
    epoch: Option<u64>,
    perm: Vec<u32>,
}

impl SharedCursor {
    /// Over `n` samples, handing out at most `limit` positions in total.
    pub fn new(n: usize, limit: u64, seed: u64, shuffle: Shuffle) -> Self {
        SharedCursor {
            next: AtomicU64::new(0),
            n: n as u64,
            limit,
            seed,
            shuffle,
        }
    }

    /// Claim the next `b` positions; fills `out` with sample indices. `None` when the limit is
    /// reached.
    pub fn claim(&self, b: usize, cache: &mut EpochCache, out: &mut Vec<u32>) -> Option<u64> {
        let p = self.next.fetch_add(b as u64, Relaxed);
        if p + b as u64 > self.limit {
            return None;
        }
        out.clear();
        for q in p..p + b as u64 {
            let e = q / self.n;
            let epoch = match self.shuffle {
                Shuffle::Once | Shuffle::Never => 0,
                Shuffle::EveryEpoch => e,
            };
            if cache.epoch != Some(epoch) {
                self.permutation(epoch, &mut cache.perm);
                cache.epoch = Some(epoch);
            }
            out.push(cache.perm[(q % self.n) as usize]);
        }
        Some(p)
    }

    fn permutation(&self, epoch: u64, perm: &mut Vec<u32>) {
        perm.clear();
        perm.extend(0..self.n as u32);
        if self.shuffle != Shuffle::Never {
            let s = self.seed ^ epoch.wrapping_mul(0x9E37_79B9_7F4A_7C15);
            perm.shuffle(&mut rand::rngs::Xoshiro256PlusPlus::seed_from_u64(s));
        }
    }

    /// Positions handed out so far (capped at the limit).
    pub fn claimed(&self) -> u64 {
        self.next.load(Relaxed).min(self.limit)
    }

    /// Passes over the data handed out so far.
    pub fn epochs(&self) -> f64 {
        self.claimed() as f64 / self.n as f64
    }
}
