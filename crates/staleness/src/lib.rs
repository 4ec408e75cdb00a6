//! # staleness — measuring and modelling the staleness τ of asynchronous SGD (thesis Ch. A, C)
//!
//! - [`Histogram`]: recorded into by many worker threads on the hot path without locks (one
//!   relaxed `fetch_add` per update), exact buckets `0..=τ_max` plus an overflow bucket.
//! - [`Counts`]: a snapshot, with merge and windowed difference, mean / variance / quantiles, and
//!   the empirical PMF and CDF F(τ) = P[τ' ≤ τ] with O(1) lookup.
//!
//! ```
//! use staleness::Histogram;
//! let h = Histogram::new(16);
//! std::thread::scope(|s| {
//!     for t in 0..4u64 {
//!         let h = &h;
//!         s.spawn(move || (0..1000).for_each(|i| h.record((i + t) % 5)));
//!     }
//! });
//! let c = h.snapshot();
//! assert_eq!(c.total(), 4000);
//! assert_eq!(c.cdf(4), 1.0);
//! assert!((c.mean() - 2.0).abs() < 1e-12);
//! ```
//!
//! Drifting distributions (Ch. D changes the parallelism at run time): a consumer that wants a
//! recent view keeps the snapshot it took last and uses [`Counts::since`] — the counts recorded
//! in between — rather than the cumulative histogram. This keeps the recording path a single
//! `fetch_add` (no decay arithmetic for workers) and leaves the window length to the consumer.

mod histogram;

pub use histogram::{Counts, Histogram};
