//! Running a job: who runs the workers is an [`Executor`]; what a worker does per update is a
//! [`worker::Worker`]; what is measured and decided is the [`coordinator::Coordinator`];
//! the report is assembled from what they hand back ([`crate::Report::from_run`]).
//!
//! ```text
//!  train ── builds Shared (cursor, histograms, η(τ), gate) and a Coordinator
//!    └─ Executor::execute ── threads: one OS thread per worker, the coordinator on this one
//!                            simulated: m virtual workers in virtual time on this thread (sim/)
//!         worker: claim batch → read θ → gradient (T_c) → momentum → publish with η(τ) (T_u)
//!                 → record τ → event to the coordinator
//!         coordinator: events → ε, trailing loss, series, regulator, AIN; polls → evaluations,
//!                 step-size refreshes, limits, interrupt, progress
//!  Report::from_run ── measured + worker stats + histograms → Report
//! ```

mod context;
mod coordinator;
mod events;
mod handoff;
#[cfg(feature = "mpi")]
pub mod mpi;
mod sim;
mod threads;
mod trackers;
mod worker;

pub(crate) use context::Shared;
pub(crate) use coordinator::Finished;
pub(crate) use worker::WorkerStats;

use crate::config::{Config, EpsBy, ExecutorKind};
use crate::report::{EvalPoint, Report};
use crate::TrainError;
use coordinator::{Coordinator, Evaluator};
use nn::{Dataset, Network, SharedCursor};
use pvec::VectorStats;
use std::sync::atomic::AtomicBool;
use trackers::{ElasticTracker, NoiseStats};

/// What the coordinator tells an observer (the binary's progress bar).
#[derive(Clone, Debug)]
pub struct Progress {
    pub seconds: f64,
    pub updates: u64,
    pub epochs: f64,
    pub total_epochs: f64,
    pub trailing_loss: f64,
    pub updates_per_second: f64,
}

/// Receives progress while a run goes on.
pub trait Observer {
    fn progress(&mut self, _p: &Progress) {}
    fn evaluated(&mut self, _e: &EvalPoint) {}
}

/// An observer that ignores everything.
pub struct Quiet;
impl Observer for Quiet {}

/// The inputs of a run.
pub struct Job<'a> {
    pub config: &'a Config,
    pub net: &'a Network,
    pub train: &'a Dataset,
    pub test: &'a Dataset,
    /// Where the data came from (for the report).
    pub source: String,
    /// The command line (for the report).
    pub command: Vec<String>,
    /// Set from outside (Ctrl-C) to stop the run; the report is still produced.
    pub interrupt: &'a AtomicBool,
}

/// What an executor hands back besides the events it fed the coordinator.
pub(crate) struct Executed {
    pub stats: Vec<WorkerStats>,
    pub vectors: VectorStats,
    /// The final θ and its sequence number (updates applied).
    pub theta: Vec<f32>,
    pub seq: u64,
    /// The executor's name in the report (`threads`, `simulated`, `mpi`).
    pub executor: &'static str,
    /// The simulated executor's clocks and model.
    pub simulation: Option<crate::report::SimulationReport>,
}

/// Who runs the workers: it starts them (releasing them at once, after
/// [`Coordinator::start`]), feeds every event to the coordinator and polls it between events,
/// calls [`Coordinator::stopped`] when the last worker has stopped, and returns the final θ.
pub(crate) trait Executor {
    fn execute(&self, shared: &Shared, theta0: Vec<f32>, coord: &mut Coordinator) -> Executed;
}

/// Train as `job.config` says and report. Errors only for problems found before training
/// starts; everything that happens during the run (crash, divergence, interruption) is in the
/// report's outcome.
pub fn train(
    job: &Job,
    init_theta: Vec<f32>,
    observer: &mut dyn Observer,
) -> Result<Report, TrainError> {
    let cfg = job.config;
    cfg.validate()?;
    crate::check_compatible(job.net, job.train, cfg.batch)?;
    crate::check_compatible(job.net, job.test, 1)?;
    let net = job.net;
    assert_eq!(
        init_theta.len(),
        net.num_params(),
        "initial θ has the wrong dimension"
    );
    if cfg.eval_subset > job.train.len() {
        return Err(TrainError::Invalid(format!(
            "`eval_subset` {} is larger than the training set ({} samples)",
            cfg.eval_subset,
            job.train.len()
        )));
    }
    crate::check_memory(cfg, net, job.train, job.test)?;
    let eval = job.train.truncated(cfg.eval_subset);
    let mut ev = Evaluator {
        net,
        eval: &eval,
        test: job.test,
        theta: init_theta.clone(),
        scratch: net.scratch(500),
    };
    // θ0 evaluated: the series starts at time 0, and ε is judged against this loss (or the
    // whole training set's, as the thesis' code does).
    let (train0, test0, acc0) = ev.run();
    let initial_loss = match cfg.eps_by {
        EpsBy::Eval => train0,
        EpsBy::Minibatch => net.loss(&init_theta, job.train.view(), &mut ev.scratch),
    };
    let start = EvalPoint {
        seconds: 0.0,
        updates: 0,
        epochs: 0.0,
        train_loss: train0,
        test_loss: test0,
        test_accuracy: acc0,
    };
    if !initial_loss.is_finite() {
        return Err(TrainError::Invalid(format!("the initial loss is not finite ({initial_loss}): check the data scale and initialisation")));
    }
    let m = cfg.threads;
    let regulator = cfg.elastic.then(|| {
        elastic::Regulator::new(elastic::RegulatorConfig {
            max_workers: m,
            initial: cfg.elastic_initial,
            ip: cfg.elastic_ip,
            dp: cfg.elastic_dp,
            wp: cfg.elastic_wp,
        })
    });
    let level0 = regulator.as_ref().map_or(m, |r| r.parallelism());
    let cursor = SharedCursor::new(
        job.train.len(),
        (cfg.epochs * job.train.len() as f64).round() as u64,
        cfg.seed,
        cfg.shuffle,
    );
    let policy = cfg.adaptive()?;
    let gate = cfg.elastic.then(|| elastic::Gate::new(level0));
    let shared = Shared::new(cfg, net, job.train, cursor, policy, gate, job.interrupt);
    let expected = (cfg.epochs * job.train.len() as f64 / cfg.batch as f64).max(1.0);
    let elastic = shared.measure_ain.then(|| ElasticTracker {
        regulator,
        accounting: elastic::Accounting::new(level0),
        ain: elastic::AinTracker::new(m),
        noise: NoiseStats::new(expected),
    });
    let mut coord = Coordinator::new(&shared, ev, initial_loss, start, observer, elastic);
    #[cfg_attr(not(feature = "mpi"), allow(unused_mut))]
    let mut mpi_section = None;
    let executed = match cfg.executor {
        ExecutorKind::Threads => threads::Threads.execute(&shared, init_theta, &mut coord),
        ExecutorKind::Simulated => sim::Simulated.execute(&shared, init_theta, &mut coord),
        #[cfg(feature = "mpi")]
        ExecutorKind::Mpi => {
            let (executed, section) = mpi::serve(job, &shared, init_theta, &mut coord)?;
            mpi_section = Some(section);
            executed
        }
        #[cfg(not(feature = "mpi"))]
        ExecutorKind::Mpi => {
            return Err(TrainError::Invalid(
                "`executor` mpi needs the trainer built with `--features mpi` and launched \
                 under mpirun"
                    .into(),
            ))
        }
    };
    let finished = coord.finish(&executed.theta, executed.seq);
    let mut report = Report::from_run(job, &shared, initial_loss, eval.len(), finished, executed);
    report.mpi = mpi_section;
    Ok(report)
}
