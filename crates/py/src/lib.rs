//! # asgd-py — the native module `asgd._asgd` of the Python package `asgd`
//!
//! PyO3 bindings of the `staleness`, `stepsize` and `trainer` crates; the Python package
//! (`python/asgd`) re-exports them as `asgd.staleness` and `asgd.stepsize` and adds the plain
//! dataclasses the fits return. One file per concept:
//!
//! - [`histogram`]: `Histogram` (live, lock-free `record`) and `Counts` (a snapshot);
//! - [`model`]: `Model`, the four staleness models;
//! - [`fit`]: the fits (Table A.1's Bhattacharyya, likelihood, A.13), without the GIL;
//! - [`policy`]: `Phi` and `Policy`, every step-size shape;
//! - [`adaptive`]: `Adaptive` (η(τ), refresh, factors, mean factor) and `Refresher`;
//! - [`train`]: `train(**config)`, the `trainer` library's run, its report as a dict, Ctrl-C
//!   as an `interrupted` report; [`kwargs`]: its keywords as a `trainer::Config`;
//! - [`convert`]: arguments from Python, and the crates' errors as `ValueError` with their
//!   own messages. Every input is checked before it reaches a crate, so no panic crosses the
//!   boundary.

mod adaptive;
mod convert;
mod fit;
mod histogram;
mod kwargs;
mod model;
mod policy;
mod train;

use pyo3::prelude::*;

/// The `asgd._asgd` module.
#[pymodule]
fn _asgd(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<histogram::PyHistogram>()?;
    m.add_class::<histogram::PyCounts>()?;
    m.add_class::<model::PyModel>()?;
    m.add_function(wrap_pyfunction!(fit::fit_bhattacharyya, m)?)?;
    m.add_function(wrap_pyfunction!(fit::fit_mle, m)?)?;
    m.add_function(wrap_pyfunction!(fit::fit_cmp_a13, m)?)?;
    m.add_function(wrap_pyfunction!(fit::fit_families, m)?)?;
    m.add_function(wrap_pyfunction!(fit::fit_all, m)?)?;
    m.add_function(wrap_pyfunction!(fit::bhattacharyya, m)?)?;
    m.add_class::<policy::PyPhi>()?;
    m.add_class::<policy::PyPolicy>()?;
    m.add_class::<adaptive::PyAdaptive>()?;
    m.add_class::<adaptive::PyRefresher>()?;
    m.add_function(wrap_pyfunction!(train::train, m)?)?;
    m.add("MAX_TAU_MAX", stepsize::MAX_TAU_MAX)?;
    m.add("MAX_LEN", convert::MAX_LEN)?;
    Ok(())
}
