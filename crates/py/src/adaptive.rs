//! `asgd.stepsize.Adaptive` (a policy made concrete: η0, options, the lock-free table) and
//! `asgd.stepsize.Refresher` (its refresh schedule), wrapping `stepsize::Adaptive`,
//! `stepsize::Options` and `stepsize::Refresher`.

use crate::convert::{bounded_len, counts_of, positive, value_error, Tau};
use crate::histogram::PyHistogram;
use crate::policy::{policy_repr, PyPolicy};
use numpy::{IntoPyArray, PyArray1};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use stepsize::{Adaptive, Options, RefreshSchedule, Refresher, StepSize};

/// A policy made concrete: eta0, the options, and the table of eta(tau) for tau = 0..=tau_max
/// (tau above reads the last entry) that ``eta`` reads with one atomic load.
///
/// ``Adaptive(policy, eta0, *, tau_max=256, mean_preserving=False, cap=None,
/// drop_above=None)`` checks everything ``stepsize::Adaptive::try_new`` does (``ValueError``
/// with its message): the policy, eta0 finite and > 0, cap finite and > 0, tau_max <= 2^20,
/// and a cap wherever the factors grow without bound. Any thread may call ``eta`` while one
/// thread calls ``refresh``.
#[pyclass(frozen, module = "asgd.stepsize", name = "Adaptive")]
pub struct PyAdaptive {
    pub inner: Adaptive,
    opts: Options,
}

#[pymethods]
impl PyAdaptive {
    #[new]
    #[pyo3(
        signature = (policy, eta0, *, tau_max = Tau(256), mean_preserving = false, cap = None, drop_above = None),
        text_signature = "(policy, eta0, *, tau_max=256, mean_preserving=False, cap=None, drop_above=None)"
    )]
    fn new(
        policy: &PyPolicy,
        eta0: f64,
        tau_max: Tau,
        mean_preserving: bool,
        cap: Option<f64>,
        drop_above: Option<Tau>,
    ) -> PyResult<Self> {
        let opts = Options {
            mean_preserving,
            cap,
            drop_above: drop_above.map(|t| t.0),
        };
        // usize::MAX stands for "too long" on the (unlikely) targets where u64 > usize.
        let tau_max = usize::try_from(tau_max.0).unwrap_or(usize::MAX);
        let inner = Adaptive::try_new(policy.inner, eta0, opts, tau_max).map_err(value_error)?;
        Ok(PyAdaptive { inner, opts })
    }

    /// eta(tau) for an update of staleness ``tau``, or ``None`` when the update is to be
    /// dropped (tau > drop_above). O(1), lock-free.
    #[inline]
    fn eta(&self, tau: Tau) -> Option<f32> {
        self.inner.eta(tau.0)
    }

    /// Re-tabulate from the observed counts (a ``Histogram``, ``Counts`` or sequence of counts);
    /// a no-op for policies that need no histogram, or for an empty one. Runs without the GIL
    /// (the MindTheStep forms without given parameters fit a model here).
    fn refresh(&self, py: Python<'_>, histogram: &Bound<'_, PyAny>) -> PyResult<()> {
        let c = counts_of(histogram)?;
        py.detach(|| self.inner.refresh(&c));
        Ok(())
    }

    /// eta(tau)/eta0 for tau = 0..=tau_max as currently tabulated (float64).
    #[getter]
    fn factors<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.inner.factors_now().into_pyarray(py)
    }

    /// E[eta]/eta0 of the current table over ``histogram``.
    fn mean_factor(&self, histogram: &Bound<'_, PyAny>) -> PyResult<f64> {
        Ok(self.inner.mean_factor(&counts_of(histogram)?))
    }

    /// Whether ``refresh`` changes anything (instance-based policy, or mean preservation).
    #[getter]
    fn needs_histogram(&self) -> bool {
        self.inner.needs_histogram()
    }

    #[getter]
    fn policy(&self) -> PyPolicy {
        PyPolicy {
            inner: self.inner.policy(),
        }
    }

    #[getter]
    fn eta0(&self) -> f64 {
        self.inner.eta0()
    }

    #[getter]
    fn tau_max(&self) -> usize {
        self.inner.tau_max()
    }

    #[getter]
    fn mean_preserving(&self) -> bool {
        self.opts.mean_preserving
    }

    #[getter]
    fn cap(&self) -> Option<f64> {
        self.opts.cap
    }

    #[getter]
    fn drop_above(&self) -> Option<u64> {
        self.opts.drop_above
    }

    fn __repr__(&self) -> String {
        let mut s = format!(
            "Adaptive({}, eta0={:?}, tau_max={}",
            policy_repr(self.inner.policy()),
            self.inner.eta0(),
            self.inner.tau_max()
        );
        if self.opts.mean_preserving {
            s.push_str(", mean_preserving=True");
        }
        if let Some(c) = self.opts.cap {
            s.push_str(&format!(", cap={c:?}"));
        }
        if let Some(d) = self.opts.drop_above {
            s.push_str(&format!(", drop_above={d}"));
        }
        s.push(')');
        s
    }
}

/// When an ``Adaptive`` is re-tabulated from the live histogram, driven by the caller's clock
/// and update count: ``Refresher.for_policy(adaptive, threads)`` (the thesis code's TAIL-tau
/// samples updates 10m-15m once; other histogram-driven policies refresh every 50 ms),
/// ``Refresher.every(period)``, ``Refresher.window(start, end)`` or ``Refresher.never()``.
#[pyclass(module = "asgd.stepsize", name = "Refresher")]
pub struct PyRefresher {
    inner: Refresher,
}

#[pymethods]
impl PyRefresher {
    /// The schedule ``adaptive``'s policy calls for when run by ``threads`` workers.
    #[staticmethod]
    fn for_policy(adaptive: &PyAdaptive, threads: Tau) -> PyResult<Self> {
        // The window's 15m must not wrap.
        let threads = bounded_len("threads", threads.0)?;
        Ok(PyRefresher {
            inner: Refresher::for_policy(&adaptive.inner, threads),
        })
    }

    /// From the cumulative histogram every ``period`` seconds (finite and > 0), the first at
    /// ``period``.
    #[staticmethod]
    fn every(period: f64) -> PyResult<Self> {
        Ok(PyRefresher {
            inner: Refresher::new(RefreshSchedule::Every {
                period: positive("period", period)?,
            }),
        })
    }

    /// Once, from the counts recorded between update ``start`` and update ``end``, then frozen.
    #[staticmethod]
    fn window(start: Tau, end: Tau) -> Self {
        PyRefresher {
            inner: Refresher::new(RefreshSchedule::Window {
                from: start.0,
                to: end.0,
            }),
        }
    }

    /// Never (the table does not depend on the histogram).
    #[staticmethod]
    fn never() -> Self {
        PyRefresher {
            inner: Refresher::new(RefreshSchedule::Never),
        }
    }

    /// Call once per update (or per batch) with the updates so far and the seconds since the
    /// start on your clock. A live ``Histogram`` is snapshotted only when a refresh is due
    /// (any other histogram form is converted on every call). Returns whether ``adaptive`` was
    /// refreshed. Runs without the GIL.
    fn tick(
        &mut self,
        py: Python<'_>,
        adaptive: &PyAdaptive,
        updates: Tau,
        seconds: f64,
        histogram: &Bound<'_, PyAny>,
    ) -> PyResult<bool> {
        let r = &mut self.inner;
        let a = &adaptive.inner;
        if let Ok(h) = histogram.cast::<PyHistogram>() {
            let h = &h.get().inner;
            return Ok(py.detach(|| r.tick(a, updates.0, seconds, |c| h.snapshot_into(c))));
        }
        let counts = counts_of(histogram)?;
        Ok(py.detach(|| r.tick(a, updates.0, seconds, |c| *c = counts)))
    }

    /// The schedule as a dict: ``{"kind": "never"}``, ``{"kind": "every", "period": s}`` or
    /// ``{"kind": "window", "start": u, "end": u}``.
    #[getter]
    fn schedule<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        match self.inner.schedule() {
            RefreshSchedule::Never => d.set_item("kind", "never")?,
            RefreshSchedule::Every { period } => {
                d.set_item("kind", "every")?;
                d.set_item("period", period)?;
            }
            RefreshSchedule::Window { from, to } => {
                d.set_item("kind", "window")?;
                d.set_item("start", from)?;
                d.set_item("end", to)?;
            }
        }
        Ok(d)
    }

    /// What a window schedule sampled, as (start, end, updates), once it closed; else None.
    #[getter]
    fn window_sample(&self) -> Option<(u64, u64, u64)> {
        self.inner.window().map(|w| (w.from, w.to, w.updates))
    }

    /// Refreshes done so far.
    #[getter]
    fn refreshes(&self) -> u64 {
        self.inner.refreshes()
    }

    fn __repr__(&self) -> String {
        let s = match self.inner.schedule() {
            RefreshSchedule::Never => "Refresher.never()".to_string(),
            RefreshSchedule::Every { period } => format!("Refresher.every({period:?})"),
            RefreshSchedule::Window { from, to } => format!("Refresher.window({from}, {to})"),
        };
        format!("{s} (refreshes={})", self.inner.refreshes())
    }
}
