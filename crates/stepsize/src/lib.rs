//! # stepsize — staleness-adaptive step sizes (thesis Ch. A, C)
//!
//! Will hold (issue #5): a trait for η(τ) called once per update, and the policies `Constant`,
//! `Inverse` (1/τ), `Fleet`, `MindTheStep` (A.9, A.14, A.16–A.18) and `TailTau` (Def. C.4.5,
//! Thm C.4.8), with mean preservation (C.5, A.26) and an exactly mean-preserving discrete TAIL-τ.
//!
//! Not implemented yet: this crate is an empty placeholder so the workspace layout is complete.
