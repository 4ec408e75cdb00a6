//! # staleness — staleness histograms and models (thesis Ch. A, C)
//!
//! Will hold (issue #4): a lock-free staleness histogram recorded on the hot path, its empirical
//! PMF/CDF, the Geometric, Uniform, Poisson and Conway–Maxwell–Poisson models (eq. A.12–A.13) with
//! Bhattacharyya and maximum-likelihood fitting (Table A.1), and the contention model of §B.4.
//!
//! Not implemented yet: this crate is an empty placeholder so the workspace layout is complete.
