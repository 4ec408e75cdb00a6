//! Arguments from Python: staleness values, histograms given in any of the accepted forms, and
//! the mapping of the crates' typed errors to `ValueError` with their own messages.

use crate::histogram::{PyCounts, PyHistogram};
use numpy::{PyReadonlyArray1, PyUntypedArrayMethods};
use pyo3::exceptions::{PyOverflowError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};
use staleness::Counts;

/// The most buckets a histogram or a pmf range built from Python may have (2²⁴: 128 MiB of
/// counts): past that an allocation would fail, and Rust aborts rather than raising.
pub const MAX_LEN: usize = 1 << 24;

/// A staleness τ (or any count-like index) from Python: an `int` in [0, 2⁶⁴ − 1]. An `int`
/// outside that range is a `ValueError` (PyO3's own conversion raises `OverflowError`, which
/// `except ValueError` would not catch); a non-integer stays a `TypeError`.
pub struct Tau(pub u64);

impl<'a, 'py> FromPyObject<'a, 'py> for Tau {
    type Error = PyErr;

    #[inline]
    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        match obj.extract::<u64>() {
            Ok(t) => Ok(Tau(t)),
            Err(e) if e.is_instance_of::<PyOverflowError>(obj.py()) => Err(out_of_range(&obj)),
            Err(e) => Err(e),
        }
    }
}

fn out_of_range(obj: &Borrowed<'_, '_, PyAny>) -> PyErr {
    let shown = obj
        .repr()
        .map(|r| r.to_string())
        .unwrap_or_else(|_| "?".into());
    PyValueError::new_err(format!("expected an integer in [0, 2^64 - 1], got {shown}"))
}

/// A length or index that sizes an allocation: at most [`MAX_LEN`].
pub fn bounded_len(name: &str, value: u64) -> PyResult<usize> {
    if value as u128 > MAX_LEN as u128 {
        return Err(PyValueError::new_err(format!(
            "{name} = {value}: must be at most {MAX_LEN}"
        )));
    }
    Ok(value as usize)
}

/// `f` as a Python `ValueError` carrying its `Display` text.
pub fn value_error(e: impl std::fmt::Display) -> PyErr {
    PyValueError::new_err(e.to_string())
}

/// A finite, positive float parameter, or a `ValueError` in the crates' message style.
pub fn positive(field: &str, value: f64) -> PyResult<f64> {
    if value.is_finite() && value > 0.0 {
        Ok(value)
    } else {
        Err(PyValueError::new_err(format!(
            "{field} = {value}: must be finite and > 0"
        )))
    }
}

/// The counts of whatever Python passed as a histogram: a live `Histogram` (snapshotted now),
/// a `Counts` snapshot, a 1-D NumPy array of unsigned or signed integers, or any iterable of
/// non-negative ints (`counts[τ]`). Input whose total passes 2⁶⁴ − 1 is refused with
/// [`staleness::CountsError`]'s message.
pub fn counts_of(obj: &Bound<'_, PyAny>) -> PyResult<Counts> {
    if let Ok(h) = obj.cast::<PyHistogram>() {
        return Ok(h.get().inner.snapshot());
    }
    if let Ok(c) = obj.cast::<PyCounts>() {
        return Ok(c.get().inner.clone());
    }
    let raw = raw_counts(obj)?;
    Counts::try_from_counts(raw).map_err(value_error)
}

fn raw_counts(obj: &Bound<'_, PyAny>) -> PyResult<Vec<u64>> {
    if obj.is_instance_of::<PyString>() || obj.is_instance_of::<PyBytes>() {
        return Err(not_counts(obj));
    }
    if let Ok(a) = obj.extract::<PyReadonlyArray1<'_, u64>>() {
        return Ok(a.as_array().to_vec());
    }
    if let Ok(a) = obj.extract::<PyReadonlyArray1<'_, i64>>() {
        return a
            .as_array()
            .iter()
            .enumerate()
            .map(|(tau, &c)| {
                u64::try_from(c).map_err(|_| {
                    PyValueError::new_err(format!("counts[{tau}] = {c}: must be >= 0"))
                })
            })
            .collect();
    }
    if let Ok(a) = obj.cast::<numpy::PyUntypedArray>() {
        if a.ndim() != 1 {
            return Err(PyValueError::new_err(format!(
                "a histogram's counts must be one-dimensional, not {}-dimensional",
                a.ndim()
            )));
        }
    }
    let iter = obj.try_iter().map_err(|_| not_counts(obj))?;
    let mut out = Vec::new();
    for (tau, item) in iter.enumerate() {
        let item = item?;
        match item.extract::<u64>() {
            Ok(c) => out.push(c),
            Err(e) if e.is_instance_of::<PyOverflowError>(obj.py()) => {
                return Err(PyValueError::new_err(format!(
                    "counts[{tau}] = {item}: must be an integer in [0, 2^64 - 1]"
                )))
            }
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

fn not_counts(obj: &Bound<'_, PyAny>) -> PyErr {
    let ty = obj
        .get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".into());
    PyTypeError::new_err(format!(
        "expected a Histogram, Counts, or a sequence of counts (counts[tau]), not {ty}"
    ))
}
