//! # staleness — measuring and modelling the staleness τ of asynchronous SGD (thesis Ch. A, C)
//!
//! - [`Histogram`]: recorded into by many worker threads on the hot path without locks (one
//!   relaxed `fetch_add` per update), exact buckets `0..=τ_max` plus an overflow bucket.
//! - [`Counts`]: a snapshot (totals saturate; [`Counts::try_from_counts`] refuses input whose
//!   total passes u64::MAX), with merge and windowed difference, mean / variance / quantiles, and
//!   the empirical PMF and CDF F(τ) = P[τ' ≤ τ] with O(1) lookup.
//! - [`Model`]: Geometric(p), Uniform{0..τ̂}, Poisson(λ) and Conway–Maxwell–Poisson(λ, ν)
//!   (eq. A.12) with pmf, log-pmf, cdf, mean and mode; the CMP normaliser [`cmp_ln_z`] in log
//!   space with a stated error bound.
//! - [`fit`]: per family, the parameters minimising the Bhattacharyya distance to a histogram
//!   (as Table A.1), maximum likelihood, and the thesis' CMP 1-D search under λ^{1/ν} = m (A.13),
//!   each a global grid search refined locally, with the parameters that end on a search bound
//!   listed in [`Fit::at_bound`].
//! - [`Contention`]: the §B.4 model of threads in Leashed-SGD's publish loop: the fixed point n*
//!   (B.4), its trajectory (B.5) and n*_γ under a persistence bound (B.7).
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
#![forbid(unsafe_code)]

pub mod contention;
pub mod fit;
mod histogram;
pub mod models;
pub mod special;

pub use contention::Contention;
pub use fit::{
    fit_all, fit_bhattacharyya, fit_cmp_a13, fit_families, fit_mle, AtBound, Fit, FitReport,
    Method, Side,
};
pub use histogram::{Counts, CountsError, Histogram};
pub use models::{cmp_ln_z, Family, Model};
