//! The fits of `staleness::fit` (minimum Bhattacharyya distance as Table A.1, maximum
//! likelihood, CMP under λ^{1/ν} = m as A.13), run with the GIL released. Each fit comes back
//! as a dict that `asgd.staleness` turns into its `Fit` dataclass.

use crate::convert::{counts_of, positive, value_error};
use crate::model::{params, PyModel};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use staleness::{Family, Fit, FitReport, Method, Side};

fn family(name: &str) -> PyResult<Family> {
    Family::ALL
        .into_iter()
        .find(|f| f.name() == name)
        .ok_or_else(|| {
            value_error(format!(
                "family = {name:?}: must be one of \"geometric\", \"uniform\", \"poisson\", \"cmp\""
            ))
        })
}

/// One fit as a dict: family, method, m (A.13's, else None), params, distance (Bhattacharyya),
/// log_likelihood, at_bound as (param, side, bound) tuples, and the model.
fn to_py<'py>(py: Python<'py>, f: &Fit) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("family", f.model.family().name())?;
    let (method, m) = match f.method {
        Method::Bhattacharyya => ("bhattacharyya", None),
        Method::MaximumLikelihood => ("likelihood", None),
        Method::CmpA13 { m } => ("a13", Some(m)),
    };
    d.set_item("method", method)?;
    d.set_item("m", m)?;
    d.set_item("params", params(py, &f.model)?)?;
    d.set_item("distance", f.bhattacharyya)?;
    d.set_item("log_likelihood", f.log_likelihood)?;
    let at: Vec<(&str, &str, f64)> = f
        .at_bound
        .iter()
        .map(|a| {
            let side = match a.side {
                Side::Lower => "lower",
                Side::Upper => "upper",
            };
            (a.param, side, a.bound)
        })
        .collect();
    d.set_item("at_bound", at)?;
    d.set_item("model", PyModel::from(f.model))?;
    Ok(d)
}

fn list<'py>(py: Python<'py>, fits: &[Fit]) -> PyResult<Bound<'py, PyList>> {
    let items = fits
        .iter()
        .map(|f| to_py(py, f))
        .collect::<PyResult<Vec<_>>>()?;
    PyList::new(py, items)
}

fn workers(m: Option<f64>) -> PyResult<Option<f64>> {
    m.map(|m| positive("m", m)).transpose()
}

/// `staleness::fit_bhattacharyya(family, counts)`.
#[pyfunction]
#[pyo3(name = "_fit_bhattacharyya")]
pub fn fit_bhattacharyya<'py>(
    py: Python<'py>,
    histogram: &Bound<'py, PyAny>,
    family_name: &str,
) -> PyResult<Option<Bound<'py, PyDict>>> {
    let f = family(family_name)?;
    let c = counts_of(histogram)?;
    let fit = py.detach(|| staleness::fit_bhattacharyya(f, &c));
    fit.map(|f| to_py(py, &f)).transpose()
}

/// `staleness::fit_mle(family, counts)`.
#[pyfunction]
#[pyo3(name = "_fit_mle")]
pub fn fit_mle<'py>(
    py: Python<'py>,
    histogram: &Bound<'py, PyAny>,
    family_name: &str,
) -> PyResult<Option<Bound<'py, PyDict>>> {
    let f = family(family_name)?;
    let c = counts_of(histogram)?;
    let fit = py.detach(|| staleness::fit_mle(f, &c));
    fit.map(|f| to_py(py, &f)).transpose()
}

/// `staleness::fit_cmp_a13(counts, m)`.
#[pyfunction]
#[pyo3(name = "_fit_cmp_a13")]
pub fn fit_cmp_a13<'py>(
    py: Python<'py>,
    histogram: &Bound<'py, PyAny>,
    m: f64,
) -> PyResult<Option<Bound<'py, PyDict>>> {
    let m = positive("m", m)?;
    let c = counts_of(histogram)?;
    let fit = py.detach(|| staleness::fit_cmp_a13(&c, m));
    fit.map(|f| to_py(py, &f)).transpose()
}

/// `staleness::fit_families(counts)`.
#[pyfunction]
#[pyo3(name = "_fit_families")]
pub fn fit_families<'py>(
    py: Python<'py>,
    histogram: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyList>> {
    let c = counts_of(histogram)?;
    let fits = py.detach(|| staleness::fit_families(&c));
    list(py, &fits)
}

/// `staleness::fit_all(counts, m)` as (by_bhattacharyya, by_likelihood, cmp_a13).
#[pyfunction]
#[pyo3(name = "_fit_all", signature = (histogram, m = None))]
#[allow(clippy::type_complexity)]
pub fn fit_all<'py>(
    py: Python<'py>,
    histogram: &Bound<'py, PyAny>,
    m: Option<f64>,
) -> PyResult<(
    Bound<'py, PyList>,
    Bound<'py, PyList>,
    Option<Bound<'py, PyDict>>,
)> {
    let m = workers(m)?;
    let c = counts_of(histogram)?;
    let r: FitReport = py.detach(|| staleness::fit_all(&c, m));
    Ok((
        list(py, &r.by_bhattacharyya)?,
        list(py, &r.by_likelihood)?,
        r.cmp_a13.map(|f| to_py(py, &f)).transpose()?,
    ))
}

/// The Bhattacharyya distance between two histograms (`staleness::fit::bhattacharyya`): 0 for
/// identical distributions, symmetric; overflows count as one more cell.
#[pyfunction]
pub fn bhattacharyya(a: &Bound<'_, PyAny>, b: &Bound<'_, PyAny>) -> PyResult<f64> {
    Ok(staleness::fit::bhattacharyya(
        &counts_of(a)?,
        &counts_of(b)?,
    ))
}
