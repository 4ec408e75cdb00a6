//! # elastic — ELAsyncSGD parallelism control (thesis Ch. D)
//!
//! Will hold (issue #7): an elastic worker pool, the probing/execution regulator of Alg. D.3–D.4,
//! exact real-time asynchrony-induced-noise measurement (Statement D.4.3) and worker-second
//! accounting (D.10–D.11).
//!
//! Not implemented yet: this crate is an empty placeholder so the workspace layout is complete.
