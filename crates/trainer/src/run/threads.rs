//! The real-thread executor: every worker on its own OS thread, the coordinator on the calling
//! thread, events over one bounded channel.

use super::context::Shared;
use super::coordinator::{Coordinator, Snapshot};
use super::events::{AinSubmission, Event};
use super::handoff::{Clock, Inbox, Numbered, Outbox, FLUSH_EVENTS};
use super::worker::{Worker, WorkerStats};
use super::{Executed, Executor};
use crate::config::{Algorithm, Config};
use crate::report::StopReason;
use pvec::{Hogwild, Leashed, Locked, ParamWorker, SharedParams, VectorStats};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::*};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};
use stepsize::StepSize;

/// Runs the workers on OS threads.
pub(crate) struct Threads;

impl Executor for Threads {
    fn execute(&self, shared: &Shared, theta0: Vec<f32>, coord: &mut Coordinator) -> Executed {
        let cfg = shared.cfg;
        match cfg.algorithm {
            Algorithm::Seq | Algorithm::Async => run_async(shared, &Locked::new(theta0), coord),
            Algorithm::Hogwild => run_async(shared, &Hogwild::new(theta0), coord),
            Algorithm::Leashed => run_async(
                shared,
                &Leashed::new(theta0, cfg.threads, cfg.persistence),
                coord,
            ),
            Algorithm::Sync => run_sync(shared, theta0, coord),
        }
    }
}

fn pin(cfg: &Config, id: usize) {
    if cfg.pin_threads {
        if let Some(cores) = core_affinity::get_core_ids() {
            if !cores.is_empty() {
                core_affinity::set_for_current(cores[id % cores.len()]);
            }
        }
    }
}

/// Spawn `threads` workers, coordinate them on this thread, and join them. Time zero is taken
/// between the two start barriers: after every worker is ready, before any is released.
fn run_workers(
    shared: &Shared,
    start: &Start,
    worker: &(dyn Fn(usize, Outbox) -> WorkerStats + Sync),
    snapshot: Snapshot<'_>,
    coord: &mut Coordinator,
) -> Vec<WorkerStats> {
    // Bounded, in batches: a worker waits only when the coordinator is this many batches behind
    // (the wait is measured). Events with gradient copies (AIN) go one by one and at most 256
    // queue, so that copies never pile up; the others go 16 at a time, 16 batches per worker,
    // enough for a coordinator that m ≫ cores keeps off the CPU for a while.
    let m = shared.cfg.threads;
    let (capacity, flush) = if shared.measure_ain {
        (256, 1)
    } else {
        (16 * m.max(16), FLUSH_EVENTS)
    };
    let (tx, rx) = mpsc::sync_channel::<Vec<Numbered>>(capacity);
    let clock = || start.clock.seconds();
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..m)
            .map(|id| {
                let out = Outbox::new(&start.clock, id, tx.clone(), flush);
                s.spawn(move || worker(id, out))
            })
            .collect();
        drop(tx);
        start.ready.wait();
        start.clock.start();
        start.go.wait();
        let mut inbox = Inbox::default();
        loop {
            let first = rx.recv_timeout(Duration::from_millis(20));
            let disconnected = matches!(first, Err(RecvTimeoutError::Disconnected));
            // Bounded drain: with many producers the channel may never be empty, and
            // evaluations, step-size refreshes and stop checks must still run.
            for batch in first.ok().into_iter().chain(rx.try_iter().take(1024)) {
                inbox.push(batch);
            }
            while let Some(r) = inbox.pop_ready() {
                coord.record(r);
            }
            if disconnected {
                while let Some(r) = inbox.pop_any() {
                    coord.record(r);
                }
            }
            coord.poll(clock(), snapshot, disconnected);
            if disconnected {
                break;
            }
        }
        coord.stopped(clock());
        handles
            .into_iter()
            .map(|h| h.join().expect("worker panicked"))
            .collect()
    })
}

/// The start line: every worker waits at `ready`, time zero is taken, all go at `go`.
struct Start {
    ready: Barrier,
    go: Barrier,
    clock: Clock,
}

impl Start {
    fn new(workers: usize) -> Self {
        Start {
            ready: Barrier::new(workers + 1),
            go: Barrier::new(workers + 1),
            clock: Clock::default(),
        }
    }

    fn wait(&self) {
        self.ready.wait();
        self.go.wait();
    }
}

/// seq, async, hogwild, leashed: read → gradient → update, until the data or the stop flag end.
fn async_worker<S: SharedParams>(
    shared: &Shared,
    params: &S,
    start: &Start,
    id: usize,
    mut out: Outbox,
) -> WorkerStats {
    pin(shared.cfg, id);
    let mut w = params
        .worker()
        .expect("the strategy was built for this many workers");
    let mut me = Worker::new(shared);
    start.wait();
    let began = start.clock.seconds();
    while !shared.stop_due(start.clock.seconds()) {
        // ELAsyncSGD: workers with id ≥ m_E park here, at an iteration boundary (Alg. D.2).
        if let Some(gate) = &shared.gate {
            if id >= gate.level() {
                if shared.measure_ain && !out.send(Event::Park) {
                    break;
                }
                out.flush();
                if !gate.wait_active(id) {
                    break;
                }
                if shared.measure_ain && !out.send(Event::Resume(params.seq())) {
                    break;
                }
            }
        }
        if !me.next_batch() {
            // The data is used up for everybody: stop the run (and wake parked workers).
            shared.stop_for(StopReason::Budget);
            break;
        }
        let (loss, seq) = w.read(|theta, seq| {
            if shared.measure_ain {
                // Reported before computing, so it precedes this worker's submission.
                out.send(Event::View(seq));
            }
            (me.gradient(theta), seq)
        });
        if !loss.is_finite() {
            shared.crash(format!(
                "non-finite mini-batch loss ({loss}) in worker {id}"
            ));
            break;
        }
        let t1 = Instant::now();
        let mut eta_used = 0.0f32;
        let dir = me.direction();
        let u = w.update(dir, seq, |tau| {
            let e = shared.policy.eta(tau);
            eta_used = e.unwrap_or(0.0);
            e
        });
        let tu = t1.elapsed();
        let ain = (shared.measure_ain && u.applied).then(|| AinSubmission {
            read: seq,
            applied_at: seq + u.staleness,
            direction: Arc::new(dir.to_vec()),
            eta: eta_used,
        });
        me.record_update_time(tu);
        if u.applied {
            shared.staleness.record(u.staleness);
        }
        shared.attempts.record(u64::from(u.attempts));
        if !out.send(Event::Update {
            loss,
            applied: u.applied,
            dropped: u.dropped,
            ain,
        }) {
            break;
        }
    }
    out.flush();
    me.finish(start.clock.seconds() - began, out.blocked)
}

fn run_async<S: SharedParams>(shared: &Shared, params: &S, coord: &mut Coordinator) -> Executed {
    let start = Start::new(shared.cfg.threads);
    let stats = run_workers(
        shared,
        &start,
        &|id, out| async_worker(shared, params, &start, id, out),
        &|out| params.snapshot(out),
        coord,
    );
    let mut theta = vec![0.0; shared.net.num_params()];
    let seq = params.snapshot(&mut theta);
    Executed {
        stats,
        vectors: params.vectors(),
        theta,
        seq,
        executor: "threads",
        simulation: None,
    }
}

/// Synchronous SGD state: θ read by all workers during a step, written by the leader between
/// steps.
struct SyncState {
    theta: parking_lot::RwLock<Vec<f32>>,
    grads: Vec<Mutex<(Vec<f32>, f32)>>,
    /// The step's sample indices and worker i's range `bounds[i]..bounds[i + 1]` of them.
    indices: Mutex<(Vec<u32>, Vec<usize>)>,
    running: AtomicBool,
    step_start: Barrier,
    step_done: Barrier,
    seq: AtomicU64,
}

impl SyncState {
    fn snapshot(&self, out: &mut [f32]) -> u64 {
        let t = self.theta.read();
        out.copy_from_slice(&t);
        self.seq.load(Acquire)
    }

    /// θ, the m gradient buffers and the leader's averaging buffer.
    fn vectors(&self) -> VectorStats {
        let n = 2 + self.grads.len();
        VectorStats { live: n, peak: n }
    }
}

fn sync_worker(
    shared: &Shared,
    st: &SyncState,
    start: &Start,
    id: usize,
    out: Outbox,
) -> WorkerStats {
    pin(shared.cfg, id);
    let (b, m) = (shared.cfg.batch, shared.cfg.threads);
    let mut me = Worker::new(shared);
    // Only the leader reports (one update per step).
    let mut out = (id == 0).then_some(out);
    let mut local = vec![0.0f32; shared.net.num_params()];
    let mut cache = nn::EpochCache::default();
    let mut claim = Vec::with_capacity(b);
    // m claims of b, one per worker: the same positions as one claim of m·b, and with
    // `shuffle = thesis_code` the C++'s m consecutive (possibly short) batches per step.
    let leader_claims = |cache: &mut nn::EpochCache, claim: &mut Vec<u32>| {
        let mut ok = !shared.stop_due(start.clock.seconds());
        let mut all = st.indices.lock().expect("indices");
        let (idx, bounds) = &mut *all;
        idx.clear();
        bounds.clear();
        for _ in 0..m {
            ok = ok && shared.cursor.claim(b, cache, claim).is_some();
            bounds.push(idx.len());
            idx.extend_from_slice(claim);
        }
        bounds.push(idx.len());
        st.running.store(ok, Release);
    };
    start.wait();
    let began = start.clock.seconds();
    if id == 0 {
        leader_claims(&mut cache, &mut claim);
    }
    loop {
        st.step_start.wait();
        if !st.running.load(Acquire) {
            break;
        }
        {
            let idx = st.indices.lock().expect("indices");
            me.take_batch(&idx.0[idx.1[id]..idx.1[id + 1]]);
        }
        {
            let theta = st.theta.read();
            let loss = me.gradient(&theta);
            let mut g = st.grads[id].lock().expect("grad");
            g.0.copy_from_slice(me.grad());
            g.1 = loss;
        }
        st.step_done.wait();
        if id == 0 {
            let t1 = Instant::now();
            // Average the m gradients: one step with effective batch m·b (Thm A.3.1).
            let mut loss = 0.0f32;
            local.fill(0.0);
            for g in &st.grads {
                let g = g.lock().expect("grad");
                local.iter_mut().zip(&g.0).for_each(|(a, x)| *a += x);
                loss += g.1;
            }
            loss /= m as f32;
            let inv = 1.0 / m as f32;
            local.iter_mut().for_each(|a| *a *= inv);
            let applied = loss.is_finite();
            if applied {
                let eta = shared.policy.eta(0).unwrap_or(0.0);
                let dir = me.direction_of(&local);
                pvec::kernels::axpy(&mut st.theta.write(), dir, eta);
                st.seq.fetch_add(1, AcqRel);
            } else {
                shared.crash(format!(
                    "non-finite mini-batch loss ({loss}) in synchronous step"
                ));
            }
            me.record_update_time(t1.elapsed());
            if let Some(out) = &mut out {
                let event = Event::Update {
                    loss,
                    applied,
                    dropped: false,
                    ain: None,
                };
                if !out.send(event) {
                    shared.stop_for(StopReason::Interrupt);
                }
            }
            leader_claims(&mut cache, &mut claim);
        }
    }
    let blocked = out.as_mut().map_or(Duration::ZERO, |o| {
        o.flush();
        o.blocked
    });
    me.finish(start.clock.seconds() - began, blocked)
}

fn run_sync(shared: &Shared, theta: Vec<f32>, coord: &mut Coordinator) -> Executed {
    let m = shared.cfg.threads;
    let d = theta.len();
    let st = SyncState {
        theta: parking_lot::RwLock::new(theta),
        grads: (0..m).map(|_| Mutex::new((vec![0.0; d], 0.0))).collect(),
        indices: Mutex::new((Vec::new(), Vec::new())),
        running: AtomicBool::new(false),
        step_start: Barrier::new(m),
        step_done: Barrier::new(m),
        seq: AtomicU64::new(0),
    };
    let start = Start::new(m);
    let st = &st;
    let stats = run_workers(
        shared,
        &start,
        &|id, out| sync_worker(shared, st, &start, id, out),
        &|out| st.snapshot(out),
        coord,
    );
    let mut theta = vec![0.0; shared.net.num_params()];
    let seq = st.snapshot(&mut theta);
    Executed {
        stats,
        vectors: st.vectors(),
        theta,
        seq,
        executor: "threads",
        simulation: None,
    }
}
