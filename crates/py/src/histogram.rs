//! `asgd.staleness.Histogram` (the live, lock-free histogram) and `asgd.staleness.Counts` (a
//! snapshot with its statistics): thin wrappers of `staleness::Histogram` and
//! `staleness::Counts`.

use crate::convert::{bounded_len, counts_of, Tau, MAX_LEN};
use numpy::{IntoPyArray, PyArray1};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyFloat;
use staleness::{Counts, Histogram};

/// A staleness histogram that many threads record into at once.
///
/// Exact buckets for tau = 0..=tau_max and one overflow bucket above. ``record`` is one relaxed
/// atomic increment (no lock, and it never blocks another thread); the statistics read a
/// snapshot, so for many queries take ``snapshot()`` once and query the ``Counts``.
#[pyclass(frozen, module = "asgd.staleness", name = "Histogram")]
pub struct PyHistogram {
    pub inner: Histogram,
}

#[pymethods]
impl PyHistogram {
    #[new]
    #[pyo3(signature = (tau_max))]
    fn new(tau_max: Tau) -> PyResult<Self> {
        // tau_max + 2 buckets are allocated.
        if tau_max.0 > (MAX_LEN - 2) as u64 {
            return Err(PyValueError::new_err(format!(
                "tau_max = {}: must be at most {}",
                tau_max.0,
                MAX_LEN - 2
            )));
        }
        Ok(PyHistogram {
            inner: Histogram::new(tau_max.0 as usize),
        })
    }

    /// Count one update of staleness ``tau`` (taus above ``tau_max`` go to the overflow bucket).
    #[inline]
    fn record(&self, tau: Tau) {
        self.inner.record(tau.0);
    }

    /// The largest tau with its own bucket.
    #[getter]
    fn tau_max(&self) -> usize {
        self.inner.tau_max()
    }

    /// The counts so far, as an immutable ``Counts``. Concurrent records may or may not be
    /// included (each bucket is read once, atomically).
    fn snapshot(&self) -> PyCounts {
        PyCounts {
            inner: self.inner.snapshot(),
        }
    }

    /// ``counts[tau]`` for tau = 0..=tau_max (a snapshot, uint64).
    #[getter]
    fn counts<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<u64>> {
        self.inner.snapshot().counts().to_vec().into_pyarray(py)
    }

    /// Updates with tau > tau_max.
    #[getter]
    fn overflow(&self) -> u64 {
        self.inner.snapshot().overflow()
    }

    /// Updates recorded so far.
    fn total(&self) -> u64 {
        self.inner.snapshot().total()
    }

    /// Empirical P[tau' = tau]; without ``tau``, the PMF over 0..=tau_max as an array.
    #[pyo3(signature = (tau = None))]
    fn pmf<'py>(&self, py: Python<'py>, tau: Option<Tau>) -> Bound<'py, PyAny> {
        pmf(py, &self.inner.snapshot(), tau)
    }

    /// Empirical F(tau) = P[tau' <= tau]; without ``tau``, the CDF over 0..=tau_max.
    #[pyo3(signature = (tau = None))]
    fn cdf<'py>(&self, py: Python<'py>, tau: Option<Tau>) -> Bound<'py, PyAny> {
        cdf(py, &self.inner.snapshot(), tau)
    }

    /// Mean staleness (overflowed updates counted at tau_max + 1, a lower bound).
    fn mean(&self) -> f64 {
        self.inner.snapshot().mean()
    }

    fn __len__(&self) -> usize {
        self.inner.tau_max() + 1
    }

    fn __repr__(&self) -> String {
        let c = self.inner.snapshot();
        format!(
            "Histogram(tau_max={}, total={}, overflow={})",
            c.tau_max(),
            c.total(),
            c.overflow()
        )
    }
}

/// An immutable histogram snapshot: ``counts[tau]`` for tau <= tau_max plus an overflow count,
/// with O(1) CDF lookups.
///
/// ``Counts(counts)`` builds one from a sequence of non-negative ints (no overflow); a total
/// past 2^64 - 1 is a ``ValueError``.
#[pyclass(frozen, eq, module = "asgd.staleness", name = "Counts")]
#[derive(PartialEq)]
pub struct PyCounts {
    pub inner: Counts,
}

#[pymethods]
impl PyCounts {
    #[new]
    #[pyo3(signature = (counts))]
    fn new(counts: &Bound<'_, PyAny>) -> PyResult<Self> {
        Ok(PyCounts {
            inner: counts_of(counts)?,
        })
    }

    /// Counts of a sequence of staleness samples, with buckets up to the largest sample.
    #[staticmethod]
    fn from_samples(samples: Vec<Tau>) -> PyResult<Self> {
        if let Some(m) = samples.iter().map(|t| t.0).max() {
            bounded_len("the largest sample", m)?;
        }
        Ok(PyCounts {
            inner: Counts::from_samples(samples.into_iter().map(|t| t.0)),
        })
    }

    #[getter]
    fn tau_max(&self) -> usize {
        self.inner.tau_max()
    }

    /// ``counts[tau]`` for tau = 0..=tau_max (uint64).
    #[getter]
    fn counts<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<u64>> {
        self.inner.counts().to_vec().into_pyarray(py)
    }

    /// Updates with tau > tau_max.
    #[getter]
    fn overflow(&self) -> u64 {
        self.inner.overflow()
    }

    /// Updates of staleness ``tau`` (0 above tau_max).
    fn count(&self, tau: Tau) -> u64 {
        self.inner.count(tau.0 as usize)
    }

    fn total(&self) -> u64 {
        self.inner.total()
    }

    /// Empirical P[tau' = tau]; without ``tau``, the PMF over 0..=tau_max as an array.
    #[pyo3(signature = (tau = None))]
    fn pmf<'py>(&self, py: Python<'py>, tau: Option<Tau>) -> Bound<'py, PyAny> {
        pmf(py, &self.inner, tau)
    }

    /// Empirical F(tau) = P[tau' <= tau] (O(1)); without ``tau``, the CDF over 0..=tau_max.
    #[pyo3(signature = (tau = None))]
    fn cdf<'py>(&self, py: Python<'py>, tau: Option<Tau>) -> Bound<'py, PyAny> {
        cdf(py, &self.inner, tau)
    }

    /// Mean staleness (overflowed updates counted at tau_max + 1, a lower bound).
    fn mean(&self) -> f64 {
        self.inner.mean()
    }

    /// Population variance (same convention for the overflow as ``mean``).
    fn variance(&self) -> f64 {
        self.inner.variance()
    }

    /// The smallest tau with F(tau) >= q (tau_max + 1 if that lies in the overflow).
    fn quantile(&self, q: f64) -> PyResult<usize> {
        if !(0.0..=1.0).contains(&q) {
            return Err(PyValueError::new_err(format!("q = {q}: must be in [0, 1]")));
        }
        Ok(self.inner.quantile(q))
    }

    /// The most frequent tau (the smallest on ties).
    fn mode(&self) -> usize {
        self.inner.mode()
    }

    /// Both histograms' counts added (the result covers the larger bucket range).
    fn merge(&self, other: &Bound<'_, PyAny>) -> PyResult<PyCounts> {
        let mut c = self.inner.clone();
        c.merge(&counts_of(other)?);
        Ok(PyCounts { inner: c })
    }

    /// The counts recorded after ``earlier`` was taken (both snapshots of one Histogram): a
    /// sliding window for drifting distributions.
    fn since(&self, earlier: &Bound<'_, PyAny>) -> PyResult<PyCounts> {
        Ok(PyCounts {
            inner: self.inner.since(&counts_of(earlier)?),
        })
    }

    fn __len__(&self) -> usize {
        self.inner.tau_max() + 1
    }

    fn __repr__(&self) -> String {
        let shown: Vec<String> = self
            .inner
            .counts()
            .iter()
            .take(16)
            .map(u64::to_string)
            .collect();
        let more = if self.inner.tau_max() >= 16 {
            ", ..."
        } else {
            ""
        };
        format!(
            "Counts([{}{more}], overflow={}, total={})",
            shown.join(", "),
            self.inner.overflow(),
            self.inner.total()
        )
    }
}

fn pmf<'py>(py: Python<'py>, c: &Counts, tau: Option<Tau>) -> Bound<'py, PyAny> {
    match tau {
        Some(t) => PyFloat::new(py, c.pmf(t.0 as usize)).into_any(),
        None => c.pmf_vec().into_pyarray(py).into_any(),
    }
}

fn cdf<'py>(py: Python<'py>, c: &Counts, tau: Option<Tau>) -> Bound<'py, PyAny> {
    match tau {
        Some(t) => PyFloat::new(py, c.cdf(t.0 as usize)).into_any(),
        None => (0..=c.tau_max())
            .map(|t| c.cdf(t))
            .collect::<Vec<f64>>()
            .into_pyarray(py)
            .into_any(),
    }
}
