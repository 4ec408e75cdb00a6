//! # pvec — the ParameterVector and the shared-state strategies of parallel SGD (thesis Ch. B)
//!
//! Every asynchronous SGD worker repeats: *read* θ, compute a gradient on it, *update* θ. The
//! strategies differ in what a read sees and how updates are applied:
//!
//! | strategy | thesis | reads | updates | progress |
//! |---|---|---|---|---|
//! | [`Locked`] | Alg. B.2 | consistent copy under a lock | in place under the lock | blocking |
//! | [`Hogwild`] | HOGWILD! (§B.2) | component-wise, may mix states | component-wise, may lose writes | none needed |
//! | [`Leashed`] | Alg. B.3 | the latest published vector, **no copy**; acquired wait-free, released lock-free | copy + update into a fresh vector, one CAS publishes it; retried up to the persistence bound T_p | lock-free |
//!
//! All three implement [`SharedParams`]; per-thread state lives in a worker handle
//! ([`ParamWorker`]). Every [`ParamWorker::update`] reports the update's staleness τ (sequence
//! number of the state it is applied to minus that of the state its gradient was computed on),
//! its publish attempts and whether it was applied ([`Update`]). The step size is passed as a
//! function of τ because Leashed-SGD only learns τ inside its retry loop.
//!
//! [`Leashed`] closes the use-after-free window of Alg. B.3 as published (a reader loading the
//! global pointer and only then counting itself): a reader acquires with a single `fetch_add` on
//! a global word that holds the slot index *and* the reader count, and the publisher's CAS hands
//! that count to the replaced slot. A read's acquisition is one `fetch_add` (wait-free); its
//! release is one `fetch_sub`, except that the last reader of a replaced vector also pushes it on
//! the free list, a lock-free CAS loop — so reads are lock-free, and wait-free but for that push.
//! The protocol, its invariants and the loom model checks are in `docs/pvec.md`; `cargo xtask
//! loom` runs them.
//!
//! [`SharedParams::seq`] is lock-free for every strategy, so workers may call it freely: it never
//! waits behind a snapshot's O(d) copy or (for [`Locked`]) behind an update.
//!
//! ```
//! use pvec::{Leashed, ParamWorker, Persistence, SharedParams};
//!
//! let shared = Leashed::new(vec![1.0; 4], 2, Persistence::Unbounded);
//! std::thread::scope(|s| {
//!     for _ in 0..2 {
//!         s.spawn(|| {
//!             let mut w = shared.worker().unwrap();
//!             for _ in 0..100 {
//!                 // "Gradient" computed on the published vector, without copying it.
//!                 let (g, seq) = w.read(|theta, seq| (theta.to_vec(), seq));
//!                 let u = w.update(&g, seq, |tau| Some(0.01 / (1.0 + tau as f32)));
//!                 assert!(u.applied); // unbounded persistence: every update lands
//!             }
//!         });
//!     }
//! });
//! assert_eq!(shared.seq(), 200);
//! ```

mod copies;
mod hogwild;
pub mod kernels;
mod leashed;
mod locked;
mod sync;

pub use hogwild::{Hogwild, HogwildWorker};
pub use leashed::{Leashed, LeashedWorker};
pub use locked::{Locked, LockedWorker};

/// What happened to one update.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Update {
    /// τ: sequence number of the state the update was (or, if not applied, last attempted to be)
    /// applied to, minus the sequence number of the state the gradient was computed on.
    pub staleness: u64,
    /// Publish attempts (always 1 for Locked and Hogwild).
    pub attempts: u32,
    /// False when the persistence bound ran out or the step-size function dropped the update.
    pub applied: bool,
    /// True when the step-size function returned `None` (e.g. τ above a cap).
    pub dropped: bool,
}

/// Leashed-SGD's persistence bound T_p: failed publish attempts tolerated before giving up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Persistence {
    /// At most `n + 1` attempts (T_p = n; T_p = 0 is a single attempt, LL/SC-like).
    Bounded(u32),
    /// Retry until the update is published.
    Unbounded,
}

impl std::str::FromStr for Persistence {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "inf" | "unbounded" | "∞" => Ok(Persistence::Unbounded),
            _ => s.parse().map(Persistence::Bounded).map_err(|_| {
                format!("persistence bound `{s}`: expected a non-negative integer or `inf`")
            }),
        }
    }
}

impl std::fmt::Display for Persistence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Persistence::Bounded(n) => write!(f, "{n}"),
            Persistence::Unbounded => f.write_str("inf"),
        }
    }
}

/// Why a shared vector or a worker handle could not be created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PvecError {
    /// More simultaneous workers than the strategy was built for (Leashed sizes its arena by it).
    TooManyWorkers { max: usize },
    /// [`Leashed`] built for zero workers.
    NoWorkers,
    /// [`Leashed`]'s arena of `2m + 2` slots for `max_workers` = m would not fit its 16-bit slot
    /// index (`limit` = [`Leashed::MAX_WORKERS`]).
    ArenaTooLarge { max_workers: usize, limit: usize },
}

impl std::fmt::Display for PvecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PvecError::TooManyWorkers { max } => {
                write!(f, "at most {max} simultaneous workers were configured")
            }
            PvecError::NoWorkers => f.write_str("at least one worker is needed"),
            PvecError::ArenaTooLarge { max_workers, limit } => write!(
                f,
                "{max_workers} workers: Leashed-SGD supports at most {limit} (its arena of 2m + 2 \
                 vectors is indexed by 16 bits)"
            ),
        }
    }
}

impl std::error::Error for PvecError {}

/// Memory accounting in parameter vectors of dimension d.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VectorStats {
    /// Vectors allocated now (shared state plus per-worker copies or arena slots in use).
    pub live: usize,
    /// The most that were ever live at once.
    pub peak: usize,
}

/// A shared model θ that many threads read and update.
pub trait SharedParams: Sync {
    /// Per-thread state; created inside each worker thread.
    type Worker<'a>: ParamWorker
    where
        Self: 'a;

    /// A handle for one worker thread.
    fn worker(&self) -> Result<Self::Worker<'_>, PvecError>;

    /// The dimension d.
    fn dim(&self) -> usize;

    /// Updates applied so far (the sequence number of the latest state). Lock-free, and never
    /// behind a read or update that finished before the call nor ahead of the latest state.
    fn seq(&self) -> u64;

    /// Copy the latest θ into `out` and return its sequence number. For Hogwild the copy may mix
    /// states, as any Hogwild read does.
    ///
    /// # Panics
    /// If `out.len()` is not [`dim`](SharedParams::dim) (checked before anything is held).
    fn snapshot(&self, out: &mut [f32]) -> u64;

    /// Parameter vectors in memory.
    fn vectors(&self) -> VectorStats;
}

/// One worker's access to a [`SharedParams`].
pub trait ParamWorker: Send {
    /// Run `f` on a read of θ and its sequence number. If `f` panics, whatever the read holds is
    /// given back as the panic unwinds, and the handle stays usable.
    fn read<R>(&mut self, f: impl FnOnce(&[f32], u64) -> R) -> R;

    /// θ ← θ − η(τ)·`grad`, where τ is the staleness relative to `read_seq` (0 if `read_seq` is
    /// ahead) and `step` gives η(τ), or `None` to drop the update. If `step` panics, nothing is
    /// applied or leaked and the handle stays usable.
    ///
    /// # Panics
    /// If `grad.len()` is not the dimension d.
    fn update(
        &mut self,
        grad: &[f32],
        read_seq: u64,
        step: impl FnMut(u64) -> Option<f32>,
    ) -> Update;
}
