//! `asgd.staleness.Model`: the staleness models of Chapter A (Table A.1, eq. A.12) as values,
//! wrapping `staleness::Model` with its parameters checked at construction.

use crate::convert::{bounded_len, positive, Tau};
use numpy::{IntoPyArray, PyArray1};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use staleness::Model;

const MAX_UNIFORM: u64 = 1 << 53;

/// A staleness distribution on tau = 0, 1, 2, ...: Geometric(p), Uniform{0..max},
/// Poisson(lambda) or Conway-Maxwell-Poisson(lambda, nu) (A.12).
///
/// Build one with ``Model.geometric(p)``, ``Model.uniform(max)``, ``Model.poisson(lam)`` or
/// ``Model.cmp(lam, nu)``, or take it from a ``Fit``.
#[pyclass(frozen, eq, module = "asgd.staleness", name = "Model")]
#[derive(PartialEq)]
pub struct PyModel {
    pub inner: Model,
}

#[pymethods]
impl PyModel {
    /// P[tau = k] = p (1 - p)^k, p in (0, 1].
    #[staticmethod]
    fn geometric(p: f64) -> PyResult<Self> {
        if !(p > 0.0 && p <= 1.0) {
            return Err(PyValueError::new_err(format!("p = {p}: must be in (0, 1]")));
        }
        Ok(Model::Geometric { p }.into())
    }

    /// P[tau = k] = 1/(max + 1) for k <= max, max an int in [0, 2^53].
    #[staticmethod]
    fn uniform(max: Tau) -> PyResult<Self> {
        // max + 1 must neither wrap nor round as an f64.
        if max.0 > MAX_UNIFORM {
            return Err(PyValueError::new_err(format!(
                "max = {}: must be at most 2^53",
                max.0
            )));
        }
        Ok(Model::Uniform { max: max.0 }.into())
    }

    /// P[tau = k] = e^-lam lam^k / k!, lam finite and > 0.
    #[staticmethod]
    fn poisson(lam: f64) -> PyResult<Self> {
        Ok(Model::Poisson {
            lambda: positive("lambda", lam)?,
        }
        .into())
    }

    /// P[tau = k] = lam^k / ((k!)^nu Z(lam, nu)) (A.12), lam and nu finite and > 0.
    #[staticmethod]
    fn cmp(lam: f64, nu: f64) -> PyResult<Self> {
        Ok(Model::Cmp {
            lambda: positive("lambda", lam)?,
            nu: positive("nu", nu)?,
        }
        .into())
    }

    /// ``"geometric"``, ``"uniform"``, ``"poisson"`` or ``"cmp"``.
    #[getter]
    fn family(&self) -> &'static str {
        self.inner.family().name()
    }

    /// The parameters by name (``p``; ``max``, an int; ``lambda``; ``lambda`` and ``nu``).
    #[getter]
    fn params<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        params(py, &self.inner)
    }

    /// P[tau = k].
    fn pmf(&self, k: Tau) -> f64 {
        self.inner.pmf(k.0)
    }

    /// ln P[tau = k] (-inf outside the support).
    fn ln_pmf(&self, k: Tau) -> f64 {
        self.inner.ln_pmf(k.0)
    }

    /// P[tau = k] for k = 0..=n as an array (the normaliser computed once).
    fn pmf_range<'py>(&self, py: Python<'py>, n: Tau) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let n = bounded_len("n", n.0)?;
        let m = self.inner;
        let v = py.detach(|| {
            let mut v = m.ln_pmf_range(n as u64);
            v.iter_mut().for_each(|l| *l = l.exp());
            v
        });
        Ok(v.into_pyarray(py))
    }

    /// F(k) = P[tau <= k]. (For CMP a sum over 0..=k, so k is bounded like a range.)
    fn cdf(&self, k: Tau) -> PyResult<f64> {
        if matches!(self.inner, Model::Cmp { .. }) {
            bounded_len("k", k.0)?;
        }
        Ok(self.inner.cdf(k.0))
    }

    /// E[tau].
    fn mean(&self) -> f64 {
        self.inner.mean()
    }

    /// The most likely tau (the smallest on ties).
    fn mode(&self) -> u64 {
        self.inner.mode()
    }

    fn __repr__(&self) -> String {
        match self.inner {
            Model::Geometric { p } => format!("Model.geometric(p={p:?})"),
            Model::Uniform { max } => format!("Model.uniform(max={max})"),
            Model::Poisson { lambda } => format!("Model.poisson(lam={lambda:?})"),
            Model::Cmp { lambda, nu } => format!("Model.cmp(lam={lambda:?}, nu={nu:?})"),
        }
    }
}

impl From<Model> for PyModel {
    fn from(inner: Model) -> Self {
        PyModel { inner }
    }
}

/// A model's parameters as a dict, with Uniform's `max` as an int.
pub fn params<'py>(py: Python<'py>, m: &Model) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    match *m {
        Model::Uniform { max } => d.set_item("max", max)?,
        _ => {
            for (name, value) in m.params() {
                d.set_item(name, value)?;
            }
        }
    }
    Ok(d)
}
