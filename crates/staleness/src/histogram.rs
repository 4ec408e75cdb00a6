use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// A staleness histogram that many threads record into concurrently.
#[derive(Debug)]
pub struct Histogram {
    /// `buckets[τ]` for τ ≤ τ_max, then one overflow bucket.
    buckets: Box<[AtomicU64]>,
}

impl Histogram {
    /// Exact buckets for τ = 0..=`tau_max`, and one for everything above.
    pub fn new(tau_max: usize) -> Self {
        Histogram {
            buckets: (0..tau_max + 2).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    /// The largest τ with its own bucket.
    pub fn tau_max(&self) -> usize {
        self.buckets.len() - 2
    }

    /// Count one update of staleness `tau` (lock-free; one relaxed `fetch_add`).
    #[inline]
    pub fn record(&self, tau: u64) {
        let i = (tau as usize).min(self.buckets.len() - 1);
        self.buckets[i].fetch_add(1, Relaxed);
    }

    /// The counts so far. Concurrent records may or may not be included (each bucket is read
    /// once, atomically).
    pub fn snapshot(&self) -> Counts {
        let mut c = Counts::zeros(self.tau_max());
        self.snapshot_into(&mut c);
        c
    }

    /// Like [`Histogram::snapshot`], reusing `out`'s storage.
    pub fn snapshot_into(&self, out: &mut Counts) {
        out.counts.clear();
        out.counts.extend(
            self.buckets[..self.buckets.len() - 1]
                .iter()
                .map(|b| b.load(Relaxed)),
        );
        out.overflow = self.buckets[self.buckets.len() - 1].load(Relaxed);
        out.refresh();
    }
}

/// Why counts could not be taken as a histogram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CountsError {
    /// The running total passed `u64::MAX` at bucket `at_tau`.
    TotalOverflow { at_tau: usize },
}

impl std::fmt::Display for CountsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CountsError::TotalOverflow { at_tau } => write!(
                f,
                "the histogram's total passes 2^64 - 1 updates (at tau = {at_tau})"
            ),
        }
    }
}

impl std::error::Error for CountsError {}

/// A histogram snapshot: `counts[τ]` updates of staleness τ for τ ≤ τ_max, plus `overflow`
/// updates above τ_max. Cumulative sums are precomputed, so the CDF is an O(1) lookup.
#[derive(Clone, Debug, PartialEq)]
pub struct Counts {
    counts: Vec<u64>,
    overflow: u64,
    /// `cum[τ]` = Σ_{τ' ≤ τ} counts[τ'].
    cum: Vec<u64>,
}

impl Counts {
    /// All-zero counts with buckets 0..=`tau_max`.
    pub fn zeros(tau_max: usize) -> Self {
        Counts {
            counts: vec![0; tau_max + 1],
            overflow: 0,
            cum: vec![0; tau_max + 1],
        }
    }

    /// Counts from a plain vector (`counts[τ]`), no overflow. A total past `u64::MAX` saturates
    /// (it cannot arise from recording); use [`Counts::try_from_counts`] for counts read from
    /// input, where it can.
    pub fn from_counts(counts: Vec<u64>) -> Self {
        let mut c = Counts {
            cum: Vec::new(),
            counts,
            overflow: 0,
        };
        if c.counts.is_empty() {
            c.counts.push(0);
        }
        c.refresh();
        c
    }

    /// Counts from a plain vector, refusing one whose total does not fit in a `u64` (a total
    /// that wrapped would make `[u64::MAX, u64::MAX, 5]` read as 3 updates).
    pub fn try_from_counts(counts: Vec<u64>) -> Result<Self, CountsError> {
        let mut total = 0u64;
        for (tau, &c) in counts.iter().enumerate() {
            total = total
                .checked_add(c)
                .ok_or(CountsError::TotalOverflow { at_tau: tau })?;
        }
        Ok(Counts::from_counts(counts))
    }

    /// Counts of an iterator of staleness samples, with buckets up to the largest sample.
    pub fn from_samples(samples: impl IntoIterator<Item = u64>) -> Self {
        let mut counts: Vec<u64> = Vec::new();
        for s in samples {
            let s = s as usize;
            if s >= counts.len() {
                counts.resize(s + 1, 0);
            }
            counts[s] = counts[s].saturating_add(1);
        }
        Counts::from_counts(counts)
    }

    fn refresh(&mut self) {
        self.cum.clear();
        // Saturating: a histogram recorded live cannot reach 2⁶⁴ updates, and one built from
        // input is checked by `try_from_counts`; saturation keeps every statistic finite and
        // the CDF monotone rather than wrapping to a small total.
        let mut acc = 0u64;
        for &c in &self.counts {
            acc = acc.saturating_add(c);
            self.cum.push(acc);
        }
    }

    pub fn tau_max(&self) -> usize {
        self.counts.len() - 1
    }

    /// `counts[τ]` for τ ≤ τ_max.
    pub fn counts(&self) -> &[u64] {
        &self.counts
    }

    /// Updates with τ > τ_max.
    pub fn overflow(&self) -> u64 {
        self.overflow
    }

    pub fn count(&self, tau: usize) -> u64 {
        self.counts.get(tau).copied().unwrap_or(0)
    }

    pub fn total(&self) -> u64 {
        self.cum
            .last()
            .copied()
            .unwrap_or(0)
            .saturating_add(self.overflow)
    }

    /// Empirical P[τ' = τ] (0 for an empty histogram; τ > τ_max lumps into the overflow).
    pub fn pmf(&self, tau: usize) -> f64 {
        let t = self.total();
        if t == 0 {
            return 0.0;
        }
        self.count(tau) as f64 / t as f64
    }

    /// Empirical F(τ) = P[τ' ≤ τ], O(1). Above τ_max it is 1 only if nothing overflowed.
    pub fn cdf(&self, tau: usize) -> f64 {
        let t = self.total();
        if t == 0 {
            return 0.0;
        }
        let below = self.cum[tau.min(self.tau_max())];
        let c = if tau > self.tau_max() && self.overflow == 0 {
            t
        } else {
            below
        };
        c as f64 / t as f64
    }

    /// Mean staleness (overflowed updates counted at τ_max + 1, a lower bound).
    pub fn mean(&self) -> f64 {
        let t = self.total();
        if t == 0 {
            return 0.0;
        }
        let s: f64 = self
            .counts
            .iter()
            .enumerate()
            .map(|(k, &c)| k as f64 * c as f64)
            .sum::<f64>()
            + (self.tau_max() + 1) as f64 * self.overflow as f64;
        s / t as f64
    }

    /// Population variance (same convention for the overflow as [`Counts::mean`]).
    pub fn variance(&self) -> f64 {
        let t = self.total();
        if t == 0 {
            return 0.0;
        }
        let m = self.mean();
        let s: f64 = self
            .counts
            .iter()
            .enumerate()
            .map(|(k, &c)| (k as f64 - m).powi(2) * c as f64)
            .sum::<f64>()
            + ((self.tau_max() + 1) as f64 - m).powi(2) * self.overflow as f64;
        s / t as f64
    }

    /// The smallest τ with F(τ) ≥ q (τ_max + 1 if that lies in the overflow). `q` in [0, 1].
    pub fn quantile(&self, q: f64) -> usize {
        let t = self.total();
        if t == 0 {
            return 0;
        }
        let need = (q.clamp(0.0, 1.0) * t as f64).ceil().max(1.0) as u64;
        self.cum.partition_point(|&c| c < need)
    }

    /// The most frequent τ (the smallest on ties).
    pub fn mode(&self) -> usize {
        let mut best = 0;
        for (k, &c) in self.counts.iter().enumerate() {
            if c > self.counts[best] {
                best = k;
            }
        }
        best
    }

    /// Add another histogram's counts (bucket ranges may differ: the result covers the larger).
    pub fn merge(&mut self, other: &Counts) {
        if other.counts.len() > self.counts.len() {
            self.counts.resize(other.counts.len(), 0);
        }
        for (a, &b) in self.counts.iter_mut().zip(&other.counts) {
            *a = a.saturating_add(b);
        }
        self.overflow = self.overflow.saturating_add(other.overflow);
        self.refresh();
    }

    /// The counts recorded after `earlier` was taken (both snapshots of one [`Histogram`]): a
    /// sliding window for drifting distributions.
    pub fn since(&self, earlier: &Counts) -> Counts {
        let counts = self
            .counts
            .iter()
            .enumerate()
            .map(|(k, &c)| c.saturating_sub(earlier.count(k)))
            .collect();
        let mut c = Counts {
            counts,
            overflow: self.overflow.saturating_sub(earlier.overflow),
            cum: Vec::new(),
        };
        c.refresh();
        c
    }

    /// The PMF as a vector over 0..=τ_max (overflow excluded).
    pub fn pmf_vec(&self) -> Vec<f64> {
        (0..=self.tau_max()).map(|k| self.pmf(k)).collect()
    }
}
