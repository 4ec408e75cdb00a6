//! # asgd-benches — the whole stack, end to end
//!
//! Criterion benches a user runs to compare the algorithms as a training run sees them, across
//! crates: `cargo bench -p asgd-benches --bench algorithms` (updates per second of every
//! algorithm at m ∈ {1, 2, 4} on the MLP 3×128, the bundled MNIST) and `--bench evaluation`
//! (one evaluation of the full test set). The library itself is empty.
#![forbid(unsafe_code)]
