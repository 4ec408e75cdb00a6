//! # elastic — ELAsyncSGD (thesis Ch. D)
//!
//! The best number of asynchronous workers is not constant over a run. ELAsyncSGD probes the
//! parallelism levels around the current one, moves to the one with the best convergence rate,
//! and runs there until the next probe, saving worker-seconds; it also measures the
//! asynchrony-induced noise ξ (Def. D.4.2) exactly, in real time (Statement D.4.3).
//!
//! - [`Gate`]: the elastic worker pool's switch. Workers with id ≥ m_E park on a condition
//!   variable (no spinning) at their next iteration boundary and resume when m_E grows.
//! - [`Regulator`]: Alg. D.3–D.4 as a deterministic state machine fed (iteration, loss, time).
//! - [`AinTracker`]: ξ_j = η_j(∇L(v_j) − ∇L(θ_j)) for each state θ_j that some worker viewed,
//!   from the update applied at θ_j and the first viewer's gradient; retained updates are released
//!   as soon as no active worker can still need them.
//! - [`Accounting`]: worker-seconds R^E(t) (D.10), the static baseline R^S(t) (D.11), break-even.
//!
//! ```
//! use elastic::{Regulator, RegulatorConfig};
//! // A synthetic run where 3 workers converge fastest: loss falls at rate r(m) per second.
//! let rate = |m: usize| -> f64 { -(1.0 - 0.1 * (m as f64 - 3.0).powi(2)) };
//! let mut reg = Regulator::new(RegulatorConfig { max_workers: 8, ..RegulatorConfig::default() });
//! let (mut loss, mut t) = (100.0, 0.0);
//! for i in 0..20_000u64 {
//!     let m = reg.parallelism();
//!     t += 1e-3 / m as f64; // m workers: m updates per millisecond
//!     loss += rate(m) * 1e-3 / m as f64;
//!     reg.on_update(i, loss, t);
//! }
//! assert_eq!(reg.parallelism(), 3);
//! ```
#![forbid(unsafe_code)]

mod accounting;
mod ain;
mod gate;
mod regulator;

pub use accounting::Accounting;
pub use ain::{AinTracker, Noise};
pub use gate::Gate;
pub use regulator::{Phase, Regulator, RegulatorConfig};
