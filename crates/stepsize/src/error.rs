//! Why a policy cannot be made into a sane step-size table.

use crate::Policy;

/// Returned by [`Policy::validate`] and [`crate::Adaptive::try_new`]. Messages name the
/// library's fields; a front end maps them to its own option names.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PolicyError {
    /// A parameter outside its domain.
    Invalid {
        field: &'static str,
        value: f64,
        expected: &'static str,
    },
    /// The policy's factors grow without bound in τ (see [`Policy::is_bounded`]), so without
    /// `Options::cap` one stale update would take a step near `f32::MAX`.
    NeedsCap { policy: Policy },
    /// More table entries than [`crate::MAX_TAU_MAX`].
    TableTooLong { tau_max: usize, max: usize },
}

impl std::fmt::Display for PolicyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            PolicyError::Invalid {
                field,
                value,
                expected,
            } => write!(f, "{field} = {value}: must be {expected}"),
            PolicyError::NeedsCap { policy } => {
                let why = match policy {
                    Policy::MindTheStepCmp { .. } => {
                        "eta(tau)/eta0 = C lambda^-tau (tau!)^nu (A.14) grows without bound, and \
                         its mean under its own CMP model is infinite"
                    }
                    Policy::MindTheStepMomentum { .. } => {
                        "eta(tau)/eta0 = c(tau) lambda^-tau (tau!)^nu (A.16) grows without bound \
                         unless (K/eta0)*Z > 1 for the given (lambda, nu)"
                    }
                    Policy::MindTheStepGeometric { .. } => {
                        "eta(tau)/eta0 = (momentum/(1 - p))^tau / p (A.9) grows without bound \
                         when momentum > 1 - p, which a fitted p can reach"
                    }
                    _ => "its factors grow without bound",
                };
                write!(
                    f,
                    "{}: {why}; set Options.cap (the thesis' section A.6 uses 5, with mean \
                     preservation)",
                    policy_name(policy)
                )
            }
            PolicyError::TableTooLong { tau_max, max } => {
                write!(f, "tau_max = {tau_max}: at most {max} table entries")
            }
        }
    }
}

impl std::error::Error for PolicyError {}

fn policy_name(p: Policy) -> &'static str {
    match p {
        Policy::Constant => "Constant",
        Policy::Inverse => "Inverse",
        Policy::Fleet { .. } => "Fleet",
        Policy::TailTau { .. } => "TailTau",
        Policy::MindTheStepGeometric { .. } => "MindTheStepGeometric",
        Policy::MindTheStepCmp { .. } => "MindTheStepCmp",
        Policy::MindTheStepMomentum { .. } => "MindTheStepMomentum",
    }
}
