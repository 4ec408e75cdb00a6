//! Seedable mini-batch sampling over shuffled epochs.

use crate::data::{BatchBuf, Dataset};
use rand::seq::SliceRandom;
use rand::SeedableRng;

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
}

/// Draws fixed-size mini-batches so that every `len` consecutive samples drawn are one pass over
/// the data (an epoch): a batch that straddles an epoch boundary takes the rest of one
/// permutation and the start of the next.
#[derive(Clone, Debug)]
pub struct BatchSampler {
    order: Vec<u32>,
    pos: usize,
    batch: usize,
    shuffle: Shuffle,
    rng: rand::rngs::Xoshiro256PlusPlus,
    samples_drawn: u64,
    indices: Vec<u32>,
}

impl BatchSampler {
    /// # Panics
    /// If `len` is 0 or above `u32::MAX`, or `batch` is 0 (callers validate options first).
    pub fn new(len: usize, batch: usize, shuffle: Shuffle, seed: u64) -> Self {
        assert!(
            len > 0 && len <= u32::MAX as usize,
            "sampler over {len} samples"
        );
        assert!(batch > 0, "batch size must be positive");
        let mut s = BatchSampler {
            order: (0..len as u32).collect(),
            pos: 0,
            batch,
            shuffle,
            rng: rand::rngs::Xoshiro256PlusPlus::seed_from_u64(seed),
            samples_drawn: 0,
            indices: Vec::with_capacity(batch),
        };
        if shuffle != Shuffle::Never {
            s.order.shuffle(&mut s.rng);
        }
        s
    }

    /// The indices of the next mini-batch.
    pub fn next_indices(&mut self) -> &[u32] {
        self.indices.clear();
        while self.indices.len() < self.batch {
            if self.pos == self.order.len() {
                self.pos = 0;
                if self.shuffle == Shuffle::EveryEpoch {
                    self.order.shuffle(&mut self.rng);
                }
            }
            let take = (self.batch - self.indices.len()).min(self.order.len() - self.pos);
            self.indices
                .extend_from_slice(&self.order[self.pos..self.pos + take]);
            self.pos += take;
        }
        self.samples_drawn += self.batch as u64;
        &self.indices
    }

    /// Gather the next mini-batch of `data` into `buf`.
    pub fn next_into(&mut self, data: &Dataset, buf: &mut BatchBuf) {
        self.next_indices();
        data.gather(&self.indices, buf);
    }

    /// Passes over the data so far (fractional).
    pub fn epochs(&self) -> f64 {
        self.samples_drawn as f64 / self.order.len() as f64
    }

    pub fn batch_size(&self) -> usize {
        self.batch
    }
}
