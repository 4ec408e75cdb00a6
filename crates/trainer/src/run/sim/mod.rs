//! The simulated executor: m virtual workers in virtual time on the calling thread, with real
//! gradients on real data (semantics in `docs/simulator.md`).
//!
//! Every virtual worker loops as a real one does — claim a mini-batch, read θ, compute the
//! gradient (T_c), publish (T_u) — but its durations are drawn from a [`timing::Timing`] model
//! and the events are taken in virtual-time order from one [`queue::Queue`]. A worker's
//! gradient is computed (on the host, at once) on exactly the θ its read returns at that virtual
//! instant, under the strategy's read semantics: the lock-based FIFO lock ([`locked`]),
//! HOGWILD!'s component-wise writes in progress ([`hogwild`]), Leashed-SGD's published vector
//! and CAS retry loop ([`leashed`]), SYNC's barrier ([`sync`]). The per-update pieces are the
//! real ones: [`Worker`] (batch, gradient, momentum), the shared cursor, histograms and η(τ) of
//! [`Shared`], and the [`Coordinator`], fed every event and polled after each on the virtual
//! clock, so ε-times, series, step-size refreshes and elastic regulation run unchanged. Same
//! configuration and seed → the same report, host-time fields aside.

mod hogwild;
mod leashed;
mod locked;
mod queue;
mod sync;
mod timing;

use super::context::Shared;
use super::coordinator::Coordinator;
use super::events::{AinSubmission, Event, Rec};
use super::worker::{Worker, Workspace};
use super::{Executed, Executor};
use crate::config::Algorithm;
use crate::report::{SimulationReport, StopReason};
use pvec::VectorStats;
use queue::{Kind, Queue};
use rand::rngs::Xoshiro256PlusPlus;
use rand::SeedableRng;
use std::sync::Arc;
use std::time::{Duration, Instant};
use stepsize::StepSize;
use timing::Timing;

/// Runs the workers as virtual workers in virtual time.
pub(crate) struct Simulated;

impl Executor for Simulated {
    fn execute(&self, shared: &Shared, theta0: Vec<f32>, coord: &mut Coordinator) -> Executed {
        let host = Instant::now();
        coord.evaluate_whole();
        let cfg = shared.cfg;
        let mut cx = Cx::new(shared, coord);
        let timing = {
            let ws = std::mem::take(&mut cx.ws);
            let w = &mut cx.workers[0].w;
            let held = w.attach(ws);
            let t = Timing::new(shared, w, &theta0);
            cx.ws = w.attach(held);
            t
        };
        cx.timing = Some(timing);
        let (theta, seq, vectors, mut sim) = match cfg.algorithm {
            Algorithm::Seq | Algorithm::Async => cx.run(locked::Locked::new(theta0, cfg.threads)),
            Algorithm::Hogwild => cx.run(hogwild::Hogwild::new(theta0, cfg.threads)),
            Algorithm::Leashed => {
                cx.run(leashed::Leashed::new(theta0, cfg.threads, cfg.persistence))
            }
            Algorithm::Sync => cx.run(sync::Sync::new(theta0, cfg.threads)),
        };
        let end = cx.end;
        let momentum = usize::from(cfg.momentum > 0.0);
        sim.host_vectors =
            1 + cfg.threads * (1 + momentum) + usize::from(cfg.algorithm == Algorithm::Sync);
        sim.timing = cx.timing.as_ref().expect("set above").report();
        sim.events = cx.events;
        let stats = cx
            .workers
            .into_iter()
            .map(|v| v.w.finish(v.ended.unwrap_or(end), Duration::ZERO))
            .collect();
        sim.virtual_seconds = end;
        sim.host_seconds = host.elapsed().as_secs_f64();
        Executed {
            stats,
            vectors,
            theta,
            seq,
            executor: "simulated",
            simulation: Some(sim),
        }
    }
}

/// A strategy's semantics in virtual time: what a read returns and what an update does, as
/// events.
trait Model {
    /// Worker `w` starts an iteration at `t`. The asynchronous strategies take the common path
    /// ([`Cx::begin`]) and read.
    fn start(&mut self, cx: &mut Cx, w: usize, t: f64) {
        if cx.begin(w, t) {
            self.read(cx, w, t);
        }
    }
    /// Worker `w` (with a claimed mini-batch) reads θ at `t`.
    fn read(&mut self, cx: &mut Cx, w: usize, t: f64);
    /// Any other event of worker `w`.
    fn event(&mut self, cx: &mut Cx, w: usize, t: f64, kind: Kind);
    /// Bring θ up to `t` before the coordinator looks at it (HOGWILD!'s writes in progress).
    fn settle(&mut self, _cx: &Cx, _t: f64) {}
    /// θ now and its sequence number.
    fn snapshot(&self, out: &mut [f32]) -> u64;
    fn seq(&self) -> u64;
    /// The vectors the modelled strategy would hold.
    fn vectors(&self) -> VectorStats;
    /// What the strategy observed (retry loop, lock queue, overlapping reads) over `[0, end]`.
    fn observed(&self, _end: f64, _r: &mut SimulationReport) {}
    fn into_theta(self) -> Vec<f32>;
}

/// One virtual worker: the real per-worker state and its timeline.
struct VWorker<'s, 'a> {
    pub w: Worker<'s, 'a>,
    rng: Xoshiro256PlusPlus,
    /// The sequence number of the state its current gradient was computed on.
    pub read_seq: u64,
    /// The current gradient's mini-batch loss.
    pub loss: f32,
    /// When the current update call began.
    pub update_start: f64,
    parked: bool,
    /// When it stopped.
    ended: Option<f64>,
}

/// How an update call ended.
struct Outcome {
    pub applied: bool,
    pub dropped: bool,
    pub staleness: u64,
    pub attempts: u32,
    pub eta: f32,
}

/// The simulation's context: the shared run state, the coordinator, the clock, the workers.
struct Cx<'c, 's, 'a, 'k, 'b, 'o> {
    pub shared: &'s Shared<'a>,
    coord: &'c mut Coordinator<'k, 'b, 'o>,
    queue: Queue,
    pub workers: Vec<VWorker<'s, 'a>>,
    /// The one gradient workspace the virtual workers take turns with.
    ws: Workspace,
    timing: Option<Timing>,
    events: u64,
    /// The latest event's time.
    end: f64,
}

impl<'c, 's, 'a, 'k, 'b, 'o> Cx<'c, 's, 'a, 'k, 'b, 'o> {
    fn new(shared: &'s Shared<'a>, coord: &'c mut Coordinator<'k, 'b, 'o>) -> Self {
        let seed = shared.cfg.seed;
        let workers = (0..shared.cfg.threads)
            .map(|i| VWorker {
                w: Worker::with_workspace(shared, Workspace::default()),
                // Own stream per worker (SplitMix-style spacing of the seeds).
                rng: Xoshiro256PlusPlus::seed_from_u64(
                    seed ^ 0x51D5_EED0_u64 ^ (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15),
                ),
                read_seq: 0,
                loss: 0.0,
                update_start: 0.0,
                parked: false,
                ended: None,
            })
            .collect();
        Cx {
            shared,
            coord,
            queue: Queue::default(),
            workers,
            ws: Workspace::new(shared),
            timing: None,
            events: 0,
            end: 0.0,
        }
    }

    /// Run `model` until every worker has stopped; the final θ, its sequence number, the
    /// modelled vectors and what was observed.
    fn run<M: Model>(&mut self, mut model: M) -> (Vec<f32>, u64, VectorStats, SimulationReport) {
        let m = self.workers.len();
        let starters = if self.shared.cfg.algorithm == Algorithm::Sync {
            1
        } else {
            m
        };
        for w in 0..starters {
            self.queue.push(0.0, w, Kind::Start);
        }
        while let Some(e) = self.queue.pop() {
            self.end = e.t;
            self.events += 1;
            match e.kind {
                Kind::Start => model.start(self, e.worker, e.t),
                kind => model.event(self, e.worker, e.t, kind),
            }
            self.gate(&mut model, e.t);
            model.settle(self, e.t);
            self.coord.poll(e.t, &|out| model.snapshot(out), false);
        }
        let end = self.end;
        for w in 0..m {
            if self.workers[w].ended.is_none() {
                self.finish(w, end);
            }
        }
        self.coord.poll(end, &|out| model.snapshot(out), true);
        self.coord.stopped(end);
        let mut sim = SimulationReport {
            virtual_seconds: end,
            host_seconds: 0.0,
            timing: self.timing.as_ref().expect("a model").report(),
            events: 0,
            host_vectors: 0,
            retry_loop_mean: None,
            lock_queue_mean: None,
            overlapped_reads: None,
        };
        model.observed(end, &mut sim);
        let (seq, vectors) = (model.seq(), model.vectors());
        (model.into_theta(), seq, vectors, sim)
    }

    /// ELAsyncSGD's gate after an event at `t`: parked workers resume once the level is above
    /// their id, and stop when the gate is closed (the run is stopping).
    fn gate<M: Model>(&mut self, model: &mut M, t: f64) {
        let Some(gate) = &self.shared.gate else {
            return;
        };
        for w in 0..self.workers.len() {
            if !self.workers[w].parked {
                continue;
            }
            if gate.is_closed() || self.shared.stopping() {
                self.workers[w].parked = false;
                self.finish(w, t);
            } else if w < gate.level() {
                self.workers[w].parked = false;
                if self.shared.measure_ain {
                    let seq = model.seq();
                    self.record(w, t, Event::Resume(seq));
                }
                if self.claim(w, t) {
                    model.read(self, w, t);
                }
            }
        }
    }

    pub fn schedule(&mut self, t: f64, w: usize, kind: Kind) {
        self.queue.push(t, w, kind);
    }

    fn record(&mut self, worker: usize, at: f64, event: Event) {
        self.coord.record(Rec { at, worker, event });
    }

    /// The common start of an asynchronous iteration at `t` (as the real worker loop): stop
    /// checks, the elastic gate, the mini-batch claim. `true`: go on and read.
    pub fn begin(&mut self, w: usize, t: f64) -> bool {
        if self.shared.stop_due(t) {
            self.finish(w, t);
            return false;
        }
        if let Some(gate) = &self.shared.gate {
            if w >= gate.level() {
                if gate.is_closed() {
                    self.finish(w, t);
                    return false;
                }
                if self.shared.measure_ain {
                    self.record(w, t, Event::Park);
                }
                self.workers[w].parked = true;
                return false;
            }
        }
        self.claim(w, t)
    }

    /// Claim worker `w`'s next mini-batch; when the data is used up, stop the run and `w`.
    fn claim(&mut self, w: usize, t: f64) -> bool {
        let ok = self.with_workspace(w, |v| v.claim());
        if !ok {
            self.shared.stop_for(StopReason::Budget);
            self.finish(w, t);
        }
        ok
    }

    /// Run `f` on worker `w` with the shared workspace attached.
    fn with_workspace<R>(&mut self, w: usize, f: impl FnOnce(&mut Worker<'s, 'a>) -> R) -> R {
        let ws = std::mem::take(&mut self.ws);
        let worker = &mut self.workers[w].w;
        let held = worker.attach(ws);
        let r = f(worker);
        self.ws = worker.attach(held);
        r
    }

    /// Worker `w` reads state `seq`, θ = `theta`, at `t`: its gradient on its claimed
    /// mini-batch and its direction (momentum) are computed now. For SYNC (`batch`: the
    /// worker's share of the step) only the gradient: the leader applies momentum to the mean.
    pub fn compute(&mut self, w: usize, t: f64, theta: &[f32], seq: u64, batch: Option<&[u32]>) {
        if self.shared.measure_ain {
            self.record(w, t, Event::View(seq));
        }
        let loss = self.with_workspace(w, |v| {
            match batch {
                Some(idx) => v.take_batch(idx),
                None => v.gather(),
            }
            let loss = v.compute(theta);
            if batch.is_none() {
                v.direction();
            }
            loss
        });
        let v = &mut self.workers[w];
        v.loss = loss;
        v.read_seq = seq;
    }

    /// A gradient time for worker `w` (recorded as its T_c), in seconds.
    pub fn draw_tc(&mut self, w: usize) -> f64 {
        let active = self
            .shared
            .gate
            .as_ref()
            .map_or(self.workers.len(), |g| g.level());
        let timing = self.timing.as_ref().expect("a model");
        let v = &mut self.workers[w];
        let tc = timing.tc(&mut v.rng, active);
        v.w.record_compute_time(Duration::from_secs_f64(tc));
        tc
    }

    /// An update (service) time for worker `w`, in seconds.
    pub fn draw_tu(&mut self, w: usize) -> f64 {
        let timing = self.timing.as_ref().expect("a model");
        timing.tu(&mut self.workers[w].rng)
    }

    /// A read time for worker `w`, in seconds.
    pub fn draw_tr(&mut self, w: usize) -> f64 {
        let timing = self.timing.as_ref().expect("a model");
        timing.tr(&mut self.workers[w].rng)
    }

    /// η(τ) from the run's policy.
    pub fn eta(&self, tau: u64) -> Option<f32> {
        self.shared.policy.eta(tau)
    }

    /// After its gradient at `t`: `false` (and the run crashed, the worker stopped) when the
    /// mini-batch loss is not finite, as a real worker does.
    pub fn loss_ok(&mut self, w: usize, t: f64) -> bool {
        let loss = self.workers[w].loss;
        if loss.is_finite() {
            self.workers[w].update_start = t;
            return true;
        }
        self.shared
            .crash(format!("non-finite mini-batch loss ({loss}) in worker {w}"));
        self.finish(w, t);
        false
    }

    /// Worker `w`'s update call ended at `t`: histograms, T_u, the coordinator's event, and the
    /// next iteration.
    pub fn done(&mut self, w: usize, t: f64, o: Outcome) {
        let shared = self.shared;
        if o.applied {
            shared.staleness.record(o.staleness);
        }
        shared.attempts.record(u64::from(o.attempts));
        let v = &mut self.workers[w];
        v.w.record_update_time(Duration::from_secs_f64(t - v.update_start));
        let ain = (shared.measure_ain && o.applied).then(|| AinSubmission {
            read: v.read_seq,
            applied_at: v.read_seq + o.staleness,
            direction: Arc::new(v.w.last_direction().to_vec()),
            eta: o.eta,
        });
        let event = Event::Update {
            loss: v.loss,
            applied: o.applied,
            dropped: o.dropped,
            ain,
        };
        self.record(w, t, event);
        self.schedule(t, w, Kind::Start);
    }

    /// SYNC: the leader's step ended at `t` (no staleness: the report counts every applied
    /// step as τ = 0).
    pub fn step_done(&mut self, w: usize, t: f64, applied: bool) {
        let v = &mut self.workers[w];
        v.w.record_update_time(Duration::from_secs_f64(t - v.update_start));
        let event = Event::Update {
            loss: v.loss,
            applied,
            dropped: false,
            ain: None,
        };
        self.record(w, t, event);
        self.schedule(t, w, Kind::Start);
    }

    /// Worker `w` stopped at `t`.
    pub fn finish(&mut self, w: usize, t: f64) {
        self.workers[w].ended.get_or_insert(t);
    }
}
