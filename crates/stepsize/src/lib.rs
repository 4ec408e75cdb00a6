//! # stepsize — staleness-adaptive step sizes η(τ) (thesis Ch. A, C)
//!
//! A training loop calls [`StepSize::eta`] once per update with the update's staleness τ. Every
//! policy here compiles to a table of factors `c(τ)` for τ = 0..=τ_max (η(τ) = η0·c(τ)), read by
//! workers with one relaxed atomic load: no lock, O(1). Instance-based policies (TAIL-τ, and any
//! policy with mean preservation) are re-tabulated from a snapshot of the live staleness histogram
//! by one refresher thread ([`Adaptive::refresh`]) on the policy's schedule ([`Refresher`]:
//! every 50 ms, or once from updates 10m–15m for the thesis code's TAIL-τ); workers never wait
//! for it. [`Adaptive::try_new`] refuses a policy whose table would not be sane
//! ([`PolicyError`]): a parameter outside its domain, or unbounded MindTheStep factors without
//! a cap.
//!
//! | [`Policy`] | η(τ)/η0 | source |
//! |---|---|---|
//! | `Constant` | 1 | baseline |
//! | `Inverse` | 1/max(τ, 1) | the ×τ⁻¹ scheme of §C.3 (τ = 0 is treated as τ = 1) |
//! | `Fleet` | e^{−βτ}, (τ_th/2 + 1)⁻¹ = e^{−βτ_th/2}, τ_th = m + 1 | FLeet, §C.6 footnote 3 |
//! | `TailTau` | 1 + A(1 − 2φ(F(τ))) | Def. C.4.5, Thm C.4.8 |
//! | `MindTheStepGeometric` | C^{−τ}/p, C = (1 − p)/μ* | A.9, A.11 (sign corrected) |
//! | `MindTheStepCmp` | C λ^{−τ}(τ!)^ν | A.14 |
//! | `MindTheStepMomentum` | c(τ) λ^{−τ}(τ!)^ν | A.16–A.18 |
//!
//! TAIL-τ comes in three CDF forms ([`CdfForm`]): the thesis' `F(τ) = P[τ' ≤ τ]` (mean factor
//! slightly below 1 on a discrete distribution), the thesis *code*'s `P[τ' < τ]` sampled once
//! (mean factor 1 + A·Σp², ≈ 1.9 at m = 2), and an *exact* form that averages φ over each CDF step
//! and is mean-preserving to rounding on any discrete distribution (for φ(x) = x it is the
//! mid-point CDF F(τ−1) + p(τ)/2). See `docs/stepsize.md`.
//!
//! ```
//! use stepsize::{Adaptive, CdfForm, Options, Phi, Policy, StepSize};
//! use staleness::Counts;
//! // Observed staleness: τ = 1 for 90% of updates, τ = 2 for 10%.
//! let hist = Counts::from_counts(vec![0, 90, 10]);
//! let eta = Adaptive::try_new(Policy::TailTau { amplitude: 1.0, phi: Phi::Identity, form: CdfForm::Exact }, 0.01, Options::default(), 16).unwrap();
//! eta.refresh(&hist);
//! let fresh = eta.eta(1).unwrap();
//! let stale = eta.eta(2).unwrap();
//! assert!(fresh > stale); // priority-preserving
//! let mean = 0.9 * fresh + 0.1 * stale;
//! assert!((mean - 0.01).abs() < 1e-9); // mean-preserving, exactly
//! ```
#![forbid(unsafe_code)]

mod adaptive;
mod error;
mod policy;
mod refresh;

pub use adaptive::{Adaptive, Options, StepSize, MAX_TAU_MAX};
pub use error::PolicyError;
pub use policy::{CdfForm, Phi, Policy};
pub use refresh::{RefreshSchedule, Refresher, WindowSample, REFRESH_PERIOD};
