//! Seeded mini-batches for one worker or many, from one shared cursor over shuffled epochs.
//!
//! Workers claim `b` consecutive sample positions with one `fetch_add` on a shared counter
//! ([`SharedCursor`]); position `p` is sample `perm_e[p mod n]` of epoch `e = p / n`, where
//! `perm_e` is a permutation seeded by (seed, e). Every worker computes any epoch's permutation
//! itself (a 60k shuffle is ~0.2 ms, once per epoch per worker), so there is no coordination
//! beyond the counter: an epoch is exactly one pass over the data, no two workers ever take the
//! same position, and one worker with a given seed replays bit for bit. [`BatchSampler`] is the
//! single-worker case.
//!
//! [`Shuffle::ThesisCode`] is the thesis C++ code's batching (`internal::create_shuffled_batches`
//! in its `Utils/Random.h`): one permutation by [`ThesisRng`], cut into ⌈n/b⌉ batches of which
//! the last is short (60,000 at b = 512: 117 of 512 and one of 96), the same batches in the same
//! order every epoch. A claim then takes the rest of the current batch slot (a compare-and-swap
//! instead of the `fetch_add`), so a batch never straddles an epoch and an epoch is still exactly
//! one pass.

use crate::data::{BatchBuf, Dataset};
use crate::thesis_rng::ThesisRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// When the sample order is reshuffled.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Shuffle {
    /// A fresh permutation every epoch (our default).
    #[default]
    EveryEpoch,
    /// One permutation at the start, then batches in that order forever (the thesis' code).
    Once,
    /// The data set's own order.
    Never,
    /// The thesis' C++ code: one [`ThesisRng`] Fisher–Yates permutation seeded with the seed,
    /// epoch-aligned batches (the last of each epoch short), the same batches every epoch.
    ThesisCode,
}

/// Mini-batches for many workers: a shared position counter over seeded per-epoch permutations.
/// A batch that straddles an epoch boundary takes the rest of one permutation and the start of
/// the next.
#[derive(Debug)]
pub struct SharedCursor {
    next: AtomicU64,
    n: u64,
    limit: u64,
    seed: u64,
    shuffle: Shuffle,
}

/// A worker's cached permutation (one per worker, reused across claims).
#[derive(Clone, Debug, Default)]
pub struct EpochCache {
    epoch: Option<u64>,
    perm: Vec<u32>,
}

impl SharedCursor {
    /// Over `n` samples, handing out at most `limit` positions in total.
    ///
    /// # Panics
    /// If `n` is 0 or above `u32::MAX` (callers validate their data first).
    pub fn new(n: usize, limit: u64, seed: u64, shuffle: Shuffle) -> Self {
        assert!(n > 0 && n <= u32::MAX as usize, "sampler over {n} samples");
        SharedCursor {
            next: AtomicU64::new(0),
            n: n as u64,
            limit,
            seed,
            shuffle,
        }
    }

    /// Claim the next `b` positions; fills `out` with sample indices and returns the first
    /// position. `None` when the limit is reached.
    /// With [`Shuffle::ThesisCode`], fewer than `b` at the end of an epoch.
    pub fn claim(&self, b: usize, cache: &mut EpochCache, out: &mut Vec<u32>) -> Option<u64> {
        if self.shuffle == Shuffle::ThesisCode {
            return self.claim_aligned(b as u64, cache, out);
        }
        let p = self.next.fetch_add(b as u64, Relaxed);
        if p.saturating_add(b as u64) > self.limit {
            return None;
        }
        out.clear();
        for q in p..p + b as u64 {
            let e = q / self.n;
            let epoch = match self.shuffle {
                Shuffle::Once | Shuffle::Never | Shuffle::ThesisCode => 0,
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

    /// An epoch-aligned claim: the batch slot at `next` holds min(b, n − next mod n) positions.
    fn claim_aligned(&self, b: u64, cache: &mut EpochCache, out: &mut Vec<u32>) -> Option<u64> {
        let mut p = self.next.load(Relaxed);
        let (off, size) = loop {
            let off = p % self.n;
            let size = b.min(self.n - off);
            if p.saturating_add(size) > self.limit {
                return None;
            }
            match self
                .next
                .compare_exchange_weak(p, p + size, Relaxed, Relaxed)
            {
                Ok(_) => break (off as usize, size as usize),
                Err(now) => p = now,
            }
        };
        if cache.epoch != Some(0) {
            self.permutation(0, &mut cache.perm);
            cache.epoch = Some(0);
        }
        out.clear();
        out.extend_from_slice(&cache.perm[off..off + size]);
        Some(p)
    }

    fn permutation(&self, epoch: u64, perm: &mut Vec<u32>) {
        perm.clear();
        perm.extend(0..self.n as u32);
        if self.shuffle == Shuffle::ThesisCode {
            ThesisRng::new(self.seed).shuffle(perm);
        } else if self.shuffle != Shuffle::Never {
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

    /// Samples per epoch.
    pub fn len(&self) -> usize {
        self.n as usize
    }

    /// Whether the data set is empty (never: [`SharedCursor::new`] refuses that).
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }
}

/// Fixed-size mini-batches for one worker without limit: the single-worker case of
/// [`SharedCursor`], so that a sequential run and a one-worker parallel run draw the same
/// batches for the same seed.
#[derive(Debug)]
pub struct BatchSampler {
    cursor: SharedCursor,
    cache: EpochCache,
    batch: usize,
    indices: Vec<u32>,
}

impl BatchSampler {
    /// # Panics
    /// If `len` is 0 or above `u32::MAX`, or `batch` is 0 (callers validate options first).
    pub fn new(len: usize, batch: usize, shuffle: Shuffle, seed: u64) -> Self {
        assert!(batch > 0, "batch size must be positive");
        BatchSampler {
            cursor: SharedCursor::new(len, u64::MAX, seed, shuffle),
            cache: EpochCache::default(),
            batch,
            indices: Vec::with_capacity(batch),
        }
    }

    /// The indices of the next mini-batch.
    pub fn next_indices(&mut self) -> &[u32] {
        self.cursor
            .claim(self.batch, &mut self.cache, &mut self.indices)
            .expect("an unlimited cursor");
        &self.indices
    }

    /// Gather the next mini-batch of `data` into `buf`.
    pub fn next_into(&mut self, data: &Dataset, buf: &mut BatchBuf) {
        self.next_indices();
        data.gather(&self.indices, buf);
    }

    /// Passes over the data so far (fractional).
    pub fn epochs(&self) -> f64 {
        self.cursor.epochs()
    }

    pub fn batch_size(&self) -> usize {
        self.batch
    }
}
