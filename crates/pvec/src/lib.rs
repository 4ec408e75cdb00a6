//! # pvec — the ParameterVector and the shared-state strategies (thesis Ch. B)
//!
//! Will hold (issue #3): `ParameterVector` (θ, sequence number i and the metadata of Alg. B.1),
//! and one abstraction over the shared model with three strategies that report, per update, its
//! staleness τ, its publish attempts and whether it was applied:
//! - `Locked` (Alg. B.2, `parking_lot`),
//! - `Hogwild` (relaxed atomics per component, a global update counter for the order of §B.2),
//! - `Leashed` (Alg. B.3): lock-free consistent publish loop with a persistence bound T_p,
//!   reclamation without the use-after-free window of the published pseudocode, at most 3m live
//!   vectors (Lemma B.3.2), model-checked with loom through a `sync` module.
//!
//! Not implemented yet: this crate is an empty placeholder so the workspace layout is complete.
