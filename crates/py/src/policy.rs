//! `asgd.stepsize.Phi` and `asgd.stepsize.Policy`: the shapes of η(τ)/η0 of `stepsize::Policy`
//! (constant, 1/τ, FLeet, TAIL-τ in its three CDF forms with any φ, MindTheStep A.9, A.14,
//! A.16–A.18) as immutable values, checked by `Policy::validate` when built.

use crate::convert::{bounded_len, counts_of, value_error, Tau};
use numpy::{IntoPyArray, PyArray1};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};
use stepsize::{CdfForm, Phi, Policy, MAX_TAU_MAX};

/// The shape phi of TAIL-tau (Thm C.4.8): non-decreasing on [0, 1], phi(0) = 0, phi(1) = 1,
/// integral 1/2 (C.8).
#[pyclass(frozen, eq, module = "asgd.stepsize", name = "Phi")]
#[derive(PartialEq)]
pub struct PyPhi {
    pub inner: Phi,
}

#[pymethods]
impl PyPhi {
    /// phi(x) = x: Definition C.4.5.
    #[staticmethod]
    fn identity() -> Self {
        PyPhi {
            inner: Phi::Identity,
        }
    }

    /// phi(x) = 3x^2 - 2x^3: flat near both ends.
    #[staticmethod]
    fn smoothstep() -> Self {
        PyPhi {
            inner: Phi::Smoothstep,
        }
    }

    /// phi(x) = 2^(k-1) x^k below 1/2, mirrored above; k finite and >= 1 (checked where a
    /// policy uses it, with the library's message).
    #[staticmethod]
    fn power(k: f64) -> Self {
        PyPhi {
            inner: Phi::Power(k),
        }
    }

    /// phi(x), x clamped to [0, 1].
    fn eval(&self, x: f64) -> f64 {
        self.inner.eval(x)
    }

    /// The integral of phi from 0 to x (1/2 at x = 1).
    fn integral(&self, x: f64) -> f64 {
        self.inner.integral(x)
    }

    fn __repr__(&self) -> String {
        phi_repr(self.inner)
    }
}

fn phi_repr(p: Phi) -> String {
    match p {
        Phi::Identity => "Phi.identity()".into(),
        Phi::Smoothstep => "Phi.smoothstep()".into(),
        Phi::Power(k) => format!("Phi.power({k:?})"),
    }
}

/// A `Phi`, or its name `"identity"` / `"smoothstep"`.
fn phi_of(obj: &Bound<'_, PyAny>) -> PyResult<Phi> {
    if let Ok(p) = obj.cast::<PyPhi>() {
        return Ok(p.get().inner);
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return match s.to_cow()?.as_ref() {
            "identity" => Ok(Phi::Identity),
            "smoothstep" => Ok(Phi::Smoothstep),
            other => Err(value_error(format!(
                "phi = {other:?}: must be a Phi, \"identity\" or \"smoothstep\""
            ))),
        };
    }
    Err(PyTypeError::new_err(
        "phi must be a Phi, \"identity\" or \"smoothstep\"",
    ))
}

fn form_of(name: &str) -> PyResult<CdfForm> {
    match name {
        "thesis" => Ok(CdfForm::Thesis),
        "exact" => Ok(CdfForm::Exact),
        "thesis_code" => Ok(CdfForm::ThesisCode),
        other => Err(value_error(format!(
            "form = {other:?}: must be \"thesis\", \"exact\" or \"thesis_code\""
        ))),
    }
}

fn form_name(f: CdfForm) -> &'static str {
    match f {
        CdfForm::Thesis => "thesis",
        CdfForm::Exact => "exact",
        CdfForm::ThesisCode => "thesis_code",
    }
}

/// A step-size policy: the shape of eta(tau)/eta0. Build one with a static constructor; its
/// parameters are checked then (``ValueError`` with the library's message). Make it concrete
/// with ``Adaptive(policy, eta0, ...)``.
#[pyclass(frozen, eq, module = "asgd.stepsize", name = "Policy")]
#[derive(PartialEq)]
pub struct PyPolicy {
    pub inner: Policy,
}

fn checked(p: Policy) -> PyResult<PyPolicy> {
    p.validate().map_err(value_error)?;
    Ok(PyPolicy { inner: p })
}

#[pymethods]
impl PyPolicy {
    /// eta(tau) = eta0.
    #[staticmethod]
    fn constant() -> Self {
        PyPolicy {
            inner: Policy::Constant,
        }
    }

    /// eta(tau) = eta0 / max(tau, 1) (section C.3's x tau^-1).
    #[staticmethod]
    fn inverse() -> Self {
        PyPolicy {
            inner: Policy::Inverse,
        }
    }

    /// FLeet: eta(tau) = eta0 e^(-beta tau), beta finite and >= 0.
    #[staticmethod]
    fn fleet(beta: f64) -> PyResult<Self> {
        checked(Policy::Fleet { beta })
    }

    /// FLeet with beta from section C.6 footnote 3 for ``m`` workers:
    /// (tau_th/2 + 1)^-1 = e^(-beta tau_th / 2), tau_th = m + 1.
    #[staticmethod]
    fn fleet_for_threads(m: Tau) -> PyResult<Self> {
        // m + 1 must not wrap.
        let m = bounded_len("m", m.0)?;
        checked(Policy::fleet_for_threads(m))
    }

    /// TAIL-tau (Def. C.4.5, Thm C.4.8): eta(tau) = eta0 (1 + A (1 - 2 phi(F(tau)))), A in
    /// [0, 1]. ``form``: ``"exact"`` (phi averaged over each CDF step: mean-preserving on any
    /// discrete distribution), ``"thesis"`` (F(tau) = P[tau' <= tau], as printed) or
    /// ``"thesis_code"`` (P[tau' < tau], sampled once, as the thesis' code).
    #[staticmethod]
    #[pyo3(signature = (amplitude = 1.0, phi = None, form = "exact"))]
    fn tail_tau(amplitude: f64, phi: Option<&Bound<'_, PyAny>>, form: &str) -> PyResult<Self> {
        checked(Policy::TailTau {
            amplitude,
            phi: phi.map(phi_of).transpose()?.unwrap_or(Phi::Identity),
            form: form_of(form)?,
        })
    }

    /// MindTheStep under a geometric model (A.9, A.11 corrected): eta0 C^-tau / p with
    /// C = (1 - p)/momentum, momentum in [0, 1). ``p=None``: fitted (maximum likelihood) to
    /// the histogram at every refresh.
    #[staticmethod]
    #[pyo3(signature = (momentum, p = None))]
    fn mind_the_step_geometric(momentum: f64, p: Option<f64>) -> PyResult<Self> {
        checked(Policy::MindTheStepGeometric { p, momentum })
    }

    /// MindTheStep under a CMP model (A.14): eta0 C lam^-tau (tau!)^nu, C finite and > 0.
    /// ``lambda_nu=None``: (lam, nu) fitted (minimum Bhattacharyya distance) at every refresh.
    /// Unbounded in tau: an ``Adaptive`` needs ``cap``.
    #[staticmethod]
    #[pyo3(signature = (c = 1.0, lambda_nu = None))]
    fn mind_the_step_cmp(c: f64, lambda_nu: Option<(f64, f64)>) -> PyResult<Self> {
        checked(Policy::MindTheStepCmp { lambda_nu, c })
    }

    /// Momentum-tuned MindTheStep (A.16-A.17; A.18 for nu = 1): eta0 c(tau) lam^-tau
    /// (tau!)^nu with c(tau) = 1 - (K/eta0) sum_{j<tau} lam^j/(j!)^nu, times e^-lam when
    /// ``printed``. ``lambda_nu=None``: fitted at every refresh.
    #[staticmethod]
    #[pyo3(signature = (k, lambda_nu = None, printed = false))]
    fn mind_the_step_momentum(
        k: f64,
        lambda_nu: Option<(f64, f64)>,
        printed: bool,
    ) -> PyResult<Self> {
        checked(Policy::MindTheStepMomentum {
            lambda_nu,
            k,
            printed,
        })
    }

    /// The policy's name: ``"constant"``, ``"inverse"``, ``"fleet"``, ``"tail_tau"``,
    /// ``"mind_the_step_geometric"``, ``"mind_the_step_cmp"``, ``"mind_the_step_momentum"``.
    #[getter]
    fn kind(&self) -> &'static str {
        match self.inner {
            Policy::Constant => "constant",
            Policy::Inverse => "inverse",
            Policy::Fleet { .. } => "fleet",
            Policy::TailTau { .. } => "tail_tau",
            Policy::MindTheStepGeometric { .. } => "mind_the_step_geometric",
            Policy::MindTheStepCmp { .. } => "mind_the_step_cmp",
            Policy::MindTheStepMomentum { .. } => "mind_the_step_momentum",
        }
    }

    /// The parameters by the constructor's argument names.
    #[getter]
    fn params<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        match self.inner {
            Policy::Constant | Policy::Inverse => {}
            Policy::Fleet { beta } => d.set_item("beta", beta)?,
            Policy::TailTau {
                amplitude,
                phi,
                form,
            } => {
                d.set_item("amplitude", amplitude)?;
                d.set_item("phi", PyPhi { inner: phi })?;
                d.set_item("form", form_name(form))?;
            }
            Policy::MindTheStepGeometric { p, momentum } => {
                d.set_item("momentum", momentum)?;
                d.set_item("p", p)?;
            }
            Policy::MindTheStepCmp { lambda_nu, c } => {
                d.set_item("c", c)?;
                d.set_item("lambda_nu", lambda_nu)?;
            }
            Policy::MindTheStepMomentum {
                lambda_nu,
                k,
                printed,
            } => {
                d.set_item("k", k)?;
                d.set_item("lambda_nu", lambda_nu)?;
                d.set_item("printed", printed)?;
            }
        }
        Ok(d)
    }

    /// Whether eta(tau)/eta0 stays bounded in tau whatever histogram it is refreshed from, at
    /// this eta0 (the MindTheStep forms need ``cap`` otherwise).
    fn is_bounded(&self, eta0: f64) -> bool {
        self.inner.is_bounded(eta0)
    }

    /// Whether the table depends on the observed staleness distribution.
    #[getter]
    fn is_instance_based(&self) -> bool {
        self.inner.is_instance_based()
    }

    /// The raw factors c(tau) = eta(tau)/eta0 for tau = 0..=tau_max, before the clamp to
    /// [0, cap], the cap and mean preservation that ``Adaptive`` applies. Instance-based
    /// policies read ``histogram`` (without one they give 1). Runs without the GIL.
    #[pyo3(
        signature = (histogram = None, tau_max = Tau(256), eta0 = 1.0),
        text_signature = "(self, /, histogram=None, tau_max=256, eta0=1.0)"
    )]
    fn factors<'py>(
        &self,
        py: Python<'py>,
        histogram: Option<&Bound<'py, PyAny>>,
        tau_max: Tau,
        eta0: f64,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        if tau_max.0 > MAX_TAU_MAX as u64 {
            return Err(value_error(stepsize::PolicyError::TableTooLong {
                tau_max: tau_max.0 as usize,
                max: MAX_TAU_MAX,
            }));
        }
        let tau_max = tau_max.0 as usize;
        let counts = histogram.map(counts_of).transpose()?;
        let p = self.inner;
        let f = py.detach(|| p.factors(counts.as_ref(), tau_max, eta0));
        Ok(f.into_pyarray(py))
    }

    fn __repr__(&self) -> String {
        policy_repr(self.inner)
    }
}

fn opt(x: Option<f64>) -> String {
    x.map_or("None".into(), |v| format!("{v:?}"))
}

fn opt_pair(x: Option<(f64, f64)>) -> String {
    x.map_or("None".into(), |(a, b)| format!("({a:?}, {b:?})"))
}

pub fn policy_repr(p: Policy) -> String {
    match p {
        Policy::Constant => "Policy.constant()".into(),
        Policy::Inverse => "Policy.inverse()".into(),
        Policy::Fleet { beta } => format!("Policy.fleet(beta={beta:?})"),
        Policy::TailTau {
            amplitude,
            phi,
            form,
        } => format!(
            "Policy.tail_tau(amplitude={amplitude:?}, phi={}, form={:?})",
            phi_repr(phi),
            form_name(form)
        ),
        Policy::MindTheStepGeometric { p, momentum } => format!(
            "Policy.mind_the_step_geometric(momentum={momentum:?}, p={})",
            opt(p)
        ),
        Policy::MindTheStepCmp { lambda_nu, c } => format!(
            "Policy.mind_the_step_cmp(c={c:?}, lambda_nu={})",
            opt_pair(lambda_nu)
        ),
        Policy::MindTheStepMomentum {
            lambda_nu,
            k,
            printed,
        } => format!(
            "Policy.mind_the_step_momentum(k={k:?}, lambda_nu={}, printed={})",
            opt_pair(lambda_nu),
            if printed { "True" } else { "False" }
        ),
    }
}
