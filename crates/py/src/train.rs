//! `asgd.train(**config)`: the `trainer` library's run on a data directory, from Python, with
//! the report as a dict of the same schema as the binary's JSON (`asgd-trainer-report/2`).
//!
//! The run goes as the binary's (`trainer` with the same options): the configuration
//! ([`crate::kwargs`]), the data (`trainer::load_data`), the network, the compatibility and
//! memory checks, θ0 from the seed, then `trainer::train`. Training runs on its own thread with
//! the GIL released; the calling thread waits for it in slices of [`POLL`], and between them
//! takes the GIL to run Python's signal handlers (`Python::check_signals`) and the progress
//! callback. A `KeyboardInterrupt` (Ctrl-C) there sets the job's interrupt flag, as the
//! binary's SIGINT handler does: the workers stop within one gradient, the final evaluation runs
//! and the report comes back with outcome `interrupted` — never a traceback from inside the run.
//! A second one is raised once the run has stopped (the report is dropped). A panic anywhere in
//! the Rust part is caught and raised as `RuntimeError`; it never unwinds into Python.

use crate::convert::value_error;
use crate::kwargs;
use pyo3::exceptions::{PyKeyboardInterrupt, PyRuntimeError};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Mutex};
use std::time::Duration;
use trainer::report::EvalPoint;
use trainer::{DataFormat, Job, Observer, Progress, Report};

/// How long the calling thread waits without the GIL before it checks for signals (Ctrl-C) and
/// hands progress to the callback.
const POLL: Duration = Duration::from_millis(50);

/// What the training thread tells the calling thread.
enum Msg {
    Progress(Progress),
    Evaluated(EvalPoint),
    Done,
}

/// Forwards the coordinator's progress to the calling thread (only when there is a callback).
struct Forward {
    tx: mpsc::Sender<Msg>,
    enabled: bool,
}

impl Observer for Forward {
    fn progress(&mut self, p: &Progress) {
        if self.enabled {
            // The receiver outlives the run (it waits for `Done`); a send cannot fail before.
            let _ = self.tx.send(Msg::Progress(p.clone()));
        }
    }
    fn evaluated(&mut self, e: &EvalPoint) {
        if self.enabled {
            let _ = self.tx.send(Msg::Evaluated(e.clone()));
        }
    }
}

/// Train a network with parallel SGD and return the report as a dict (the trainer binary's
/// JSON schema, ``asgd-trainer-report/2``; NaN and infinities are ``None``, as in the JSON).
///
/// ``config`` are ``trainer::Config``'s fields, named as the binary's options without the
/// dashes (``algorithm="hogwild"``, ``threads=4``, ``arch="mlp:1x32"``, ``eta_cap=2.0``, …),
/// laid over ``preset`` ("default" or "thesis"). ``data`` is a directory of MNIST-style IDX
/// files (``format="idx"``) or CIFAR-10 binary batches (``format="cifar10"``); ``None`` is the
/// checkout's bundled MNIST. Bad input raises ``ValueError`` with the binary's message (fields
/// named as keywords, not flags) before anything is trained.
///
/// ``progress``, if given, is called on this thread with a dict: ``kind="progress"`` with
/// seconds, updates, epochs, total_epochs, trailing_loss, updates_per_second (about every 0.2 s;
/// only the latest since the last call), and ``kind="evaluation"`` with each evaluation point.
/// An exception from it stops the run and is raised once the run has stopped.
///
/// The GIL is released while the run goes on. Ctrl-C (``KeyboardInterrupt``) stops the run
/// within one gradient and returns its report with outcome ``"interrupted"``; a second Ctrl-C
/// is raised as ``KeyboardInterrupt`` once the run has stopped.
#[pyfunction]
#[pyo3(signature = (*, data = None, format = "idx", preset = "default", progress = None, **config))]
pub fn train<'py>(
    py: Python<'py>,
    data: Option<PathBuf>,
    format: &str,
    preset: &str,
    progress: Option<Bound<'py, PyAny>>,
    config: Option<&Bound<'py, PyDict>>,
) -> PyResult<Bound<'py, PyAny>> {
    let (cfg, given) = kwargs::config(preset, config)?;
    let format: DataFormat = format.parse().map_err(value_error)?;
    let (train_set, test_set, dir) = py
        .detach(|| guarded(|| trainer::load_data(data.as_deref(), format, cfg.scale)))?
        .map_err(value_error)?;
    let net =
        guarded(|| cfg.arch.build(train_set.shape, train_set.classes))?.map_err(value_error)?;
    guarded(|| {
        trainer::check_compatible(&net, &train_set, cfg.batch)?;
        trainer::check_memory(&cfg, &net, &train_set, &test_set)
    })?
    .map_err(value_error)?;
    let mut call = serde_json::Map::new();
    call.insert("data".into(), dir.display().to_string().into());
    call.insert("format".into(), format!("{format:?}").to_lowercase().into());
    call.insert("preset".into(), preset.into());
    call.extend(given);
    let interrupt = AtomicBool::new(false);
    let job = Job {
        config: &cfg,
        net: &net,
        train: &train_set,
        test: &test_set,
        source: dir.display().to_string(),
        command: vec![
            "asgd.train".into(),
            serde_json::Value::Object(call).to_string(),
        ],
        interrupt: &interrupt,
    };
    let (tx, rx) = mpsc::channel();
    // Shared with the waits without the GIL (which need `Send` captures).
    let rx = Mutex::new(rx);
    let enabled = progress.is_some();
    let mut stop = Stop {
        interrupt: &interrupt,
        requested: false,
        raise: None,
    };
    let result = std::thread::scope(|s| {
        let run = s.spawn(|| {
            let mut observer = Forward {
                tx: tx.clone(),
                enabled,
            };
            let r = guarded(|| {
                let theta0 = net.init_params(cfg.init(), cfg.seed);
                trainer::train(&job, theta0, &mut observer)
            });
            let _ = tx.send(Msg::Done);
            r
        });
        loop {
            let mut done = false;
            let mut latest = None;
            let mut evals = Vec::new();
            let batch: Vec<Msg> = py.detach(|| {
                let rx = rx.lock().unwrap_or_else(|e| e.into_inner());
                let mut batch: Vec<Msg> = rx.recv_timeout(POLL).into_iter().collect();
                batch.extend(rx.try_iter());
                batch
            });
            for m in batch {
                match m {
                    Msg::Done => done = true,
                    Msg::Progress(p) => latest = Some(p),
                    Msg::Evaluated(e) => evals.push(e),
                }
            }
            // A callback that raised is not called again.
            if let Some(cb) = progress.as_ref().filter(|_| stop.raise.is_none()) {
                let calls = evals
                    .iter()
                    .map(|e| evaluation_dict(py, e))
                    .chain(latest.iter().map(|p| progress_dict(py, p)));
                for d in calls {
                    if let Err(e) = d.and_then(|d| cb.call1((d,))) {
                        stop.on(py, e);
                    }
                }
            }
            if done {
                break;
            }
            if let Err(e) = py.check_signals() {
                stop.on(py, e);
            }
        }
        py.detach(move || run.join())
            .unwrap_or_else(|_| Err(PyRuntimeError::new_err("the training thread panicked")))
    });
    // A Ctrl-C just as the run ended: the report is complete, return it.
    if let Err(e) = py.check_signals() {
        if !e.is_instance_of::<PyKeyboardInterrupt>(py) {
            return Err(e);
        }
    }
    if let Some(e) = stop.raise {
        return Err(e);
    }
    let report: Report = result?.map_err(value_error)?;
    let text = serde_json::to_string(&report).map_err(value_error)?;
    py.import("json")?.getattr("loads")?.call1((text,))
}

/// `f()`, with a panic raised as `RuntimeError` instead of unwinding into Python.
fn guarded<T>(f: impl FnOnce() -> T) -> PyResult<T> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|p| {
        let what = p
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "?".into());
        PyRuntimeError::new_err(format!("the trainer panicked: {what}"))
    })
}

/// Stops the run on an exception from a signal handler or the callback: the first
/// `KeyboardInterrupt` only stops it (the report is returned); anything else, or a second one,
/// is raised once it has stopped.
struct Stop<'a> {
    interrupt: &'a AtomicBool,
    requested: bool,
    raise: Option<PyErr>,
}

impl Stop<'_> {
    fn on(&mut self, py: Python<'_>, e: PyErr) {
        self.interrupt.store(true, Ordering::SeqCst);
        let ctrl_c = e.is_instance_of::<PyKeyboardInterrupt>(py);
        if ctrl_c && !self.requested {
            self.requested = true;
        } else if self.raise.is_none() {
            self.requested = true;
            self.raise = Some(e);
        }
    }
}

fn progress_dict<'py>(py: Python<'py>, p: &Progress) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("kind", "progress")?;
    d.set_item("seconds", p.seconds)?;
    d.set_item("updates", p.updates)?;
    d.set_item("epochs", p.epochs)?;
    d.set_item("total_epochs", p.total_epochs)?;
    d.set_item("trailing_loss", p.trailing_loss)?;
    d.set_item("updates_per_second", p.updates_per_second)?;
    Ok(d)
}

fn evaluation_dict<'py>(py: Python<'py>, e: &EvalPoint) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("kind", "evaluation")?;
    d.set_item("seconds", e.seconds)?;
    d.set_item("updates", e.updates)?;
    d.set_item("epochs", e.epochs)?;
    d.set_item("train_loss", e.train_loss)?;
    d.set_item("test_loss", e.test_loss)?;
    d.set_item("test_accuracy", e.test_accuracy)?;
    Ok(d)
}
