//! The training loops and the coordinating thread that measures them.
//!
//! Every algorithm runs its workers on their own threads; the calling thread coordinates:
//! it receives one small record per update (mini-batch loss, outcome) over a channel, evaluates
//! a *snapshot* of θ every `eval_every` seconds (so workers are stalled only for the copy, or not
//! at all for Leashed, whose snapshot is an acquisition), refreshes instance-based step sizes
//! from the live staleness histogram, and decides when to stop.

use crate::config::{Algorithm, Config, EpsBy};
use crate::report::*;
use crate::sampling::{EpochCache, SharedCursor};
use crate::TrainError;
use nn::{BatchBuf, Dataset, Network};
use pvec::{Hogwild, Leashed, Locked, ParamWorker, SharedParams, VectorStats};
use staleness::{Counts, Histogram};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering::*};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::sync::{Barrier, Mutex};
use std::time::{Duration, Instant};
use stepsize::{Adaptive, Options, StepSize};

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

/// What a worker tells the coordinator, in its own order (one channel keeps each sender's order).
struct Rec {
    /// When it happened (stamped by the worker: the coordinator may be busy evaluating).
    at: Instant,
    worker: usize,
    event: Event,
}

enum Event {
    /// An update call finished. With AIN measurement: (state read, state applied at, the
    /// submitted direction, η used).
    Update {
        loss: f32,
        applied: bool,
        dropped: bool,
        ain: Option<(u64, u64, std::sync::Arc<Vec<f32>>, f32)>,
    },
    /// The worker read state `seq` (AIN: it is a viewer of θ_seq).
    View(u64),
    /// The worker parked (elastic) / resumed, reading states ≥ the given one.
    Park,
    Resume(u64),
}

/// Sampled durations: keeps at most `CAP` values by thinning to every other one when full.
struct Samples {
    v: Vec<f64>,
    stride: u64,
    seen: u64,
}

const CAP: usize = 20_000;

impl Samples {
    fn new() -> Self {
        Samples {
            v: Vec::with_capacity(CAP),
            stride: 1,
            seen: 0,
        }
    }
    fn push(&mut self, x: f64) {
        if self.seen.is_multiple_of(self.stride) {
            if self.v.len() == CAP {
                let kept: Vec<f64> = self.v.iter().step_by(2).copied().collect();
                self.v = kept;
                self.stride *= 2;
            }
            self.v.push(x);
        }
        self.seen += 1;
    }
}

#[derive(Default)]
struct WorkerStats {
    tc_ms: Vec<f64>,
    tu_us: Vec<f64>,
}

/// Shared by the workers and the coordinator.
struct Ctx<'a> {
    cfg: &'a Config,
    net: &'a Network,
    train: &'a Dataset,
    cursor: SharedCursor,
    stop: AtomicBool,
    crash: Mutex<Option<String>>,
    staleness: Histogram,
    attempts: Histogram,
    policy: Adaptive,
    start: Barrier,
    /// ELAsyncSGD's m_E switch (elastic runs only).
    gate: Option<elastic::Gate>,
    measure_ain: bool,
}

impl Ctx<'_> {
    fn crash(&self, why: String) {
        self.crash.lock().expect("crash lock").get_or_insert(why);
        self.stop.store(true, Relaxed);
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

/// seq, async, hogwild, leashed: read → gradient → update, until the data or the stop flag end.
fn async_worker<S: SharedParams>(
    ctx: &Ctx,
    shared: &S,
    id: usize,
    tx: SyncSender<Rec>,
) -> WorkerStats {
    pin(ctx.cfg, id);
    let mut w = shared
        .worker()
        .expect("the strategy was built for this many workers");
    let (b, d) = (ctx.cfg.batch, ctx.net.num_params());
    let mut scratch = ctx.net.scratch(b);
    let mut grad = vec![0.0f32; d];
    let mu = ctx.cfg.momentum as f32;
    let mut velocity = if mu > 0.0 {
        vec![0.0f32; d]
    } else {
        Vec::new()
    };
    let (mut buf, mut idx, mut cache) = (
        BatchBuf::default(),
        Vec::with_capacity(b),
        EpochCache::default(),
    );
    let (mut tc, mut tu) = (Samples::new(), Samples::new());
    ctx.start.wait();
    let send = |event: Event| {
        tx.send(Rec {
            at: Instant::now(),
            worker: id,
            event,
        })
        .is_ok()
    };
    while !ctx.stop.load(Relaxed) {
        // ELAsyncSGD: workers with id ≥ m_E park here, at an iteration boundary (Alg. D.2).
        if let Some(gate) = &ctx.gate {
            if id >= gate.level() {
                if ctx.measure_ain && !send(Event::Park) {
                    break;
                }
                if !gate.wait_active(id) {
                    break;
                }
                if ctx.measure_ain && !send(Event::Resume(shared.seq())) {
                    break;
                }
            }
        }
        if ctx.cursor.claim(b, &mut cache, &mut idx).is_none() {
            // The data is used up for everybody: stop the run (and wake parked workers).
            ctx.stop.store(true, Relaxed);
            break;
        }
        ctx.train.gather(&idx, &mut buf);
        let t0 = Instant::now();
        let (loss, seq) = w.read(|theta, seq| {
            if ctx.measure_ain {
                // Reported before computing, so it precedes this worker's submission.
                send(Event::View(seq));
            }
            (
                ctx.net
                    .gradient(theta, buf.as_batch(), &mut scratch, &mut grad),
                seq,
            )
        });
        tc.push(t0.elapsed().as_secs_f64() * 1e3);
        if !loss.is_finite() {
            ctx.crash(format!(
                "non-finite mini-batch loss ({loss}) in worker {id}"
            ));
            break;
        }
        let dir: &[f32] = if mu > 0.0 {
            // Momentum (eq. 1.3), per worker: v ← μv + g, step along v.
            velocity
                .iter_mut()
                .zip(&grad)
                .for_each(|(v, g)| *v = mu * *v + g);
            &velocity
        } else {
            &grad
        };
        let t1 = Instant::now();
        let mut eta_used = 0.0f32;
        let u = w.update(dir, seq, |tau| {
            let e = ctx.policy.eta(tau);
            eta_used = e.unwrap_or(0.0);
            e
        });
        tu.push(t1.elapsed().as_secs_f64() * 1e6);
        let ain = (ctx.measure_ain && u.applied).then(|| {
            (
                seq,
                seq + u.staleness,
                std::sync::Arc::new(dir.to_vec()),
                eta_used,
            )
        });
        if u.applied {
            ctx.staleness.record(u.staleness);
        }
        ctx.attempts.record(u64::from(u.attempts));
        if !send(Event::Update {
            loss,
            applied: u.applied,
            dropped: u.dropped,
            ain,
        }) {
            break;
        }
    }
    WorkerStats {
        tc_ms: tc.v,
        tu_us: tu.v,
    }
}

/// Synchronous SGD state: θ read by all workers during a step, written by the leader between
/// steps.
struct SyncState {
    theta: parking_lot::RwLock<Vec<f32>>,
    grads: Vec<Mutex<(Vec<f32>, f32)>>,
    indices: Mutex<Vec<u32>>,
    running: AtomicBool,
    step_start: Barrier,
    step_done: Barrier,
    seq: std::sync::atomic::AtomicU64,
}

impl SyncState {
    fn snapshot(&self, out: &mut [f32]) -> u64 {
        let t = self.theta.read();
        out.copy_from_slice(&t);
        self.seq.load(Acquire)
    }
}

fn sync_worker(ctx: &Ctx, st: &SyncState, id: usize, tx: Option<SyncSender<Rec>>) -> WorkerStats {
    pin(ctx.cfg, id);
    let (b, d, m) = (ctx.cfg.batch, ctx.net.num_params(), ctx.cfg.threads);
    let mut scratch = ctx.net.scratch(b);
    let mut buf = BatchBuf::default();
    let mut local = vec![0.0f32; d];
    let mu = ctx.cfg.momentum as f32;
    let mut velocity = if mu > 0.0 {
        vec![0.0f32; d]
    } else {
        Vec::new()
    };
    let mut cache = EpochCache::default();
    let mut claim = Vec::with_capacity(m * b);
    let (mut tc, mut tu) = (Samples::new(), Samples::new());
    let leader_claims = |cache: &mut EpochCache, claim: &mut Vec<u32>| {
        let ok = !ctx.stop.load(Relaxed) && ctx.cursor.claim(m * b, cache, claim).is_some();
        if ok {
            st.indices.lock().expect("indices").clone_from(claim);
        }
        st.running.store(ok, Release);
    };
    ctx.start.wait();
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
            ctx.train.gather(&idx[id * b..(id + 1) * b], &mut buf);
        }
        let t0 = Instant::now();
        {
            let theta = st.theta.read();
            let mut g = st.grads[id].lock().expect("grad");
            let (grad, loss) = &mut *g;
            *loss = ctx.net.gradient(&theta, buf.as_batch(), &mut scratch, grad);
        }
        tc.push(t0.elapsed().as_secs_f64() * 1e3);
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
            let dir: &[f32] = if mu > 0.0 {
                velocity
                    .iter_mut()
                    .zip(&local)
                    .for_each(|(v, g)| *v = mu * *v + g);
                &velocity
            } else {
                &local
            };
            if loss.is_finite() {
                let eta = ctx.policy.eta(0).unwrap_or(0.0);
                pvec::kernels::axpy(&mut st.theta.write(), dir, eta);
                st.seq.fetch_add(1, AcqRel);
                ctx.staleness.record(0);
                ctx.attempts.record(1);
            } else {
                ctx.crash(format!(
                    "non-finite mini-batch loss ({loss}) in synchronous step"
                ));
            }
            tu.push(t1.elapsed().as_secs_f64() * 1e6);
            if let Some(tx) = &tx {
                let event = Event::Update {
                    loss,
                    applied: loss.is_finite(),
                    dropped: false,
                    ain: None,
                };
                if tx
                    .send(Rec {
                        at: Instant::now(),
                        worker: 0,
                        event,
                    })
                    .is_err()
                {
                    ctx.stop.store(true, Relaxed);
                }
            }
            leader_claims(&mut cache, &mut claim);
        }
    }
    WorkerStats {
        tc_ms: tc.v,
        tu_us: tu.v,
    }
}

/// The coordinator's ELAsyncSGD / AIN state.
struct ElasticState {
    regulator: Option<elastic::Regulator>,
    accounting: elastic::Accounting,
    ain: elastic::AinTracker,
    noise_sum: f64,
    noise_max: f64,
    noise_n: u64,
    noise_thin: u64,
    noise_series: Vec<(f64, f64)>,
}

/// What the coordinator measured.
struct Measured {
    series: Vec<EvalPoint>,
    minibatch: Vec<MinibatchPoint>,
    eps: Vec<EpsTime>,
    seconds: f64,
    calls: u64,
    applied: u64,
    dropped: u64,
    interrupted: bool,
    converged: bool,
}

struct Evaluator<'a> {
    net: &'a Network,
    eval: &'a Dataset,
    test: &'a Dataset,
    theta: Vec<f32>,
    scratch: nn::Scratch,
}

impl Evaluator<'_> {
    /// (train-subset loss, test loss, test accuracy) of the current θ in `self.theta`.
    fn run(&mut self) -> (f64, f64, f64) {
        let train = self
            .net
            .loss(&self.theta, self.eval.view(), &mut self.scratch);
        let (test, acc) = self
            .net
            .evaluate(&self.theta, self.test.view(), &mut self.scratch);
        (train, test, acc)
    }
}

#[allow(clippy::too_many_arguments)]
fn coordinate(
    ctx: &Ctx,
    rx: Receiver<Rec>,
    snapshot: &dyn Fn(&mut [f32]) -> u64,
    ev: &mut Evaluator,
    initial_loss: f64,
    interrupt: &AtomicBool,
    observer: &mut dyn Observer,
    el: &mut Option<ElasticState>,
) -> Measured {
    let cfg = ctx.cfg;
    let t0 = Instant::now();
    let mut eps: Vec<EpsTime> = cfg
        .eps
        .iter()
        .map(|&f| EpsTime {
            fraction: f,
            threshold: f * initial_loss,
            seconds: None,
            updates: None,
        })
        .collect();
    let mut m = Measured {
        series: Vec::new(),
        minibatch: Vec::new(),
        eps: Vec::new(),
        seconds: 0.0,
        calls: 0,
        applied: 0,
        dropped: 0,
        interrupted: false,
        converged: false,
    };
    let mut window: VecDeque<f32> = VecDeque::with_capacity(10);
    let total_epochs = cfg.epochs;
    let expected_updates = (cfg.epochs * ctx.train.len() as f64
        / (cfg.batch
            * if cfg.algorithm == Algorithm::Sync {
                cfg.threads
            } else {
                1
            }) as f64)
        .max(1.0);
    let thin = ((expected_updates / 2000.0) as u64).max(1);
    let (mut next_eval, mut next_refresh, mut next_progress) = (cfg.eval_every, 0.05, 0.2);
    // Progress-based evaluation schedule: every `eval_step` update calls.
    let eval_step = if cfg.eval_points > 0 {
        ((expected_updates / cfg.eval_points as f64) as u64).max(1)
    } else {
        u64::MAX
    };
    let mut next_eval_update = eval_step;
    let tail_code = matches!(
        ctx.policy.policy(),
        stepsize::Policy::TailTau {
            form: stepsize::CdfForm::ThesisCode,
            ..
        }
    );
    let mut code_window: Option<Counts> = None;
    let smallest = cfg.eps.iter().cloned().fold(f64::INFINITY, f64::min);
    let mut hist_buf = Counts::zeros(cfg.tau_max);
    let reach = |eps: &mut Vec<EpsTime>, loss: f64, secs: f64, updates: u64| -> bool {
        for e in eps.iter_mut() {
            if e.seconds.is_none() && loss <= e.threshold {
                e.seconds = Some(secs);
                e.updates = Some(updates);
            }
        }
        eps.iter()
            .any(|e| e.fraction == smallest && e.seconds.is_some())
    };
    loop {
        let first = rx.recv_timeout(Duration::from_millis(20));
        let disconnected = matches!(first, Err(RecvTimeoutError::Disconnected));
        // Bounded drain: with many producers the channel may never be empty, and evaluations,
        // step-size refreshes and stop checks below must still run.
        for r in first.ok().into_iter().chain(rx.try_iter().take(512)) {
            let secs = r.at.saturating_duration_since(t0).as_secs_f64();
            let (loss, applied, dropped, ain) = match r.event {
                Event::Update {
                    loss,
                    applied,
                    dropped,
                    ain,
                } => (loss, applied, dropped, ain),
                Event::View(seq) => {
                    if let Some(el) = el.as_mut() {
                        el.ain.view(r.worker, seq);
                    }
                    continue;
                }
                Event::Park => {
                    if let Some(el) = el.as_mut() {
                        el.ain.deactivate(r.worker);
                    }
                    continue;
                }
                Event::Resume(from) => {
                    if let Some(el) = el.as_mut() {
                        el.ain.activate(r.worker, from);
                    }
                    continue;
                }
            };
            if let Some(el) = el.as_mut() {
                if let Some((read, at, grad, eta)) = ain {
                    for noise in el.ain.submit(r.worker, read, at, grad, eta) {
                        el.noise_sum += noise.norm;
                        el.noise_max = el.noise_max.max(noise.norm);
                        el.noise_n += 1;
                        if el.noise_n % el.noise_thin == 0 {
                            el.noise_series.push((secs, noise.norm));
                        }
                    }
                }
                if applied {
                    if let Some(reg) = el.regulator.as_mut() {
                        if let Some(level) = reg.on_update(m.applied, f64::from(loss), secs) {
                            if let Some(g) = &ctx.gate {
                                g.set(level);
                            }
                            el.accounting.change(secs, level);
                        }
                    }
                }
            }
            m.calls += 1;
            m.applied += u64::from(applied);
            m.dropped += u64::from(dropped);
            if window.len() == 10 {
                window.pop_front();
            }
            window.push_back(loss);
            let trailing = window.iter().map(|&l| f64::from(l)).sum::<f64>() / window.len() as f64;
            if m.calls.is_multiple_of(thin) {
                m.minibatch.push(MinibatchPoint {
                    seconds: secs,
                    updates: m.calls,
                    trailing_loss: trailing,
                });
            }
            if cfg.eps_by == EpsBy::Minibatch
                && window.len() == 10
                && reach(&mut eps, trailing, secs, m.calls)
                && cfg.stop_at_eps
            {
                m.converged = true;
                ctx.stop.store(true, Relaxed);
            }
            if tail_code {
                // The thesis' code samples the staleness distribution once, over updates 10m–15m.
                let mm = cfg.threads as u64;
                if m.calls == 10 * mm {
                    code_window = Some(ctx.staleness.snapshot());
                } else if m.calls == 15 * mm {
                    if let Some(early) = &code_window {
                        ctx.policy.refresh(&ctx.staleness.snapshot().since(early));
                    }
                }
            }
        }
        let now = t0.elapsed().as_secs_f64();
        let eval_due = if cfg.eval_every > 0.0 {
            now >= next_eval
        } else {
            m.calls >= next_eval_update
        };
        if eval_due && !disconnected {
            while next_eval_update <= m.calls {
                next_eval_update = next_eval_update.saturating_add(eval_step);
            }
            let seq = snapshot(&mut ev.theta);
            let (train, test, acc) = ev.run();
            let p = EvalPoint {
                seconds: now,
                updates: seq,
                epochs: ctx.cursor.epochs(),
                train_loss: train,
                test_loss: test,
                test_accuracy: acc,
            };
            if !train.is_finite() {
                ctx.crash(format!(
                    "non-finite evaluation loss ({train}) after {seq} updates"
                ));
            } else if cfg.eps_by == EpsBy::Eval
                && reach(&mut eps, train, now, seq)
                && cfg.stop_at_eps
            {
                m.converged = true;
                ctx.stop.store(true, Relaxed);
            }
            observer.evaluated(&p);
            m.series.push(p);
            next_eval = t0.elapsed().as_secs_f64() + cfg.eval_every;
        }
        if !tail_code && ctx.policy.needs_histogram() && now >= next_refresh {
            ctx.staleness.snapshot_into(&mut hist_buf);
            ctx.policy.refresh(&hist_buf);
            next_refresh = now + 0.05;
        }
        if let Some(limit) = cfg.max_seconds {
            if now >= limit {
                ctx.stop.store(true, Relaxed);
            }
        }
        if interrupt.load(Relaxed) && !m.interrupted {
            m.interrupted = true;
            ctx.stop.store(true, Relaxed);
        }
        if ctx.stop.load(Relaxed) {
            // Parked workers must wake up to see the stop and hang up their channel.
            if let Some(g) = &ctx.gate {
                g.close();
            }
        }
        if now >= next_progress {
            let trailing = if window.is_empty() {
                f64::NAN
            } else {
                window.iter().map(|&l| f64::from(l)).sum::<f64>() / window.len() as f64
            };
            observer.progress(&Progress {
                seconds: now,
                updates: m.calls,
                epochs: ctx.cursor.epochs(),
                total_epochs,
                trailing_loss: trailing,
                updates_per_second: m.calls as f64 / now.max(1e-9),
            });
            next_progress = now + 0.2;
        }
        if disconnected {
            break;
        }
    }
    m.seconds = t0.elapsed().as_secs_f64();
    // The final evaluation also counts for ε (a run shorter than one evaluation period).
    let seq = snapshot(&mut ev.theta);
    let (train, test, acc) = ev.run();
    if !train.is_finite() && ctx.crash.lock().expect("crash lock").is_none() {
        ctx.crash(format!(
            "non-finite evaluation loss ({train}) after {seq} updates"
        ));
    } else if cfg.eps_by == EpsBy::Eval {
        reach(&mut eps, train, m.seconds, seq);
    }
    m.series.push(EvalPoint {
        seconds: m.seconds,
        updates: seq,
        epochs: ctx.cursor.epochs(),
        train_loss: train,
        test_loss: test,
        test_accuracy: acc,
    });
    m.eps = eps;
    m
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
    let d = net.num_params();
    assert_eq!(init_theta.len(), d, "initial θ has the wrong dimension");
    let eval = job.train.truncated(cfg.eval_subset);
    let mut ev = Evaluator {
        net,
        eval: &eval,
        test: job.test,
        theta: init_theta.clone(),
        scratch: net.scratch(500),
    };
    let initial_loss = match cfg.eps_by {
        EpsBy::Eval => net.loss(&init_theta, eval.view(), &mut ev.scratch),
        EpsBy::Minibatch => net.loss(&init_theta, job.train.view(), &mut ev.scratch),
    };
    if !initial_loss.is_finite() {
        return Err(TrainError::Invalid(format!("the initial loss is not finite ({initial_loss}): check the data scale and initialisation")));
    }
    let opts = Options {
        mean_preserving: cfg.mean_preserving,
        cap: cfg.eta_cap,
        drop_above: cfg.drop_above,
    };
    let m = cfg.threads;
    let reg_cfg = elastic::RegulatorConfig {
        max_workers: m,
        initial: cfg.elastic_initial,
        ip: cfg.elastic_ip,
        dp: cfg.elastic_dp,
        wp: cfg.elastic_wp,
    };
    let regulator = cfg.elastic.then(|| elastic::Regulator::new(reg_cfg));
    let level0 = regulator.as_ref().map_or(m, |r| r.parallelism());
    let ctx = Ctx {
        cfg,
        net,
        train: job.train,
        cursor: SharedCursor::new(
            job.train.len(),
            (cfg.epochs * job.train.len() as f64).round() as u64,
            cfg.seed,
            cfg.shuffle,
        ),
        stop: AtomicBool::new(false),
        crash: Mutex::new(None),
        staleness: Histogram::new(cfg.tau_max),
        attempts: Histogram::new(64),
        policy: Adaptive::new(cfg.step_policy(), cfg.eta, opts, cfg.tau_max),
        start: Barrier::new(m + 1),
        gate: cfg.elastic.then(|| elastic::Gate::new(level0)),
        measure_ain: cfg.ain || cfg.elastic,
    };
    let expected = (cfg.epochs * job.train.len() as f64 / cfg.batch as f64).max(1.0);
    let mut el = ctx.measure_ain.then(|| ElasticState {
        regulator,
        accounting: elastic::Accounting::new(level0),
        ain: elastic::AinTracker::new(m),
        noise_sum: 0.0,
        noise_max: 0.0,
        noise_n: 0,
        noise_thin: ((expected / 2000.0) as u64).max(1),
        noise_series: Vec::new(),
    });

    let (measured, stats, vectors) = match cfg.algorithm {
        Algorithm::Seq | Algorithm::Async => {
            let s = Locked::new(init_theta);
            run_async(
                &ctx,
                &s,
                &mut ev,
                initial_loss,
                job.interrupt,
                observer,
                &mut el,
            )
        }
        Algorithm::Hogwild => {
            let s = Hogwild::new(init_theta);
            run_async(
                &ctx,
                &s,
                &mut ev,
                initial_loss,
                job.interrupt,
                observer,
                &mut el,
            )
        }
        Algorithm::Leashed => {
            let s = Leashed::new(init_theta, m, cfg.persistence);
            run_async(
                &ctx,
                &s,
                &mut ev,
                initial_loss,
                job.interrupt,
                observer,
                &mut el,
            )
        }
        Algorithm::Sync => run_sync(
            &ctx,
            init_theta,
            &mut ev,
            initial_loss,
            job.interrupt,
            observer,
        ),
    };

    let crash = ctx.crash.lock().expect("crash lock").clone();
    let loosest = cfg.eps.iter().cloned().fold(0.0, f64::max);
    let outcome = if crash.is_some() {
        Outcome::Crashed
    } else if measured.interrupted {
        Outcome::Interrupted
    } else if measured.converged {
        Outcome::Converged
    } else if measured
        .eps
        .iter()
        .any(|e| e.fraction == loosest && e.seconds.is_some())
    {
        Outcome::Completed
    } else {
        Outcome::Diverged
    };
    let hist = ctx.staleness.snapshot();
    let last = measured.series.last().cloned().expect("a final evaluation");
    let mut tc = Vec::new();
    let mut tu = Vec::new();
    for s in stats {
        tc.extend(s.tc_ms);
        tu.extend(s.tu_us);
    }
    let factors = ctx.policy.factors_now();
    let shown = (hist.quantile(0.999) + 2).clamp(8, factors.len());
    Ok(Report {
        schema: SCHEMA,
        command: job.command.clone(),
        config: cfg.clone(),
        machine: Machine::detect(),
        network: NetworkInfo {
            arch: cfg.arch.to_string(),
            params: d,
            forward_flops_per_sample: net.forward_flops(),
        },
        data: DataInfo {
            source: job.source.clone(),
            train: job.train.len(),
            test: job.test.len(),
            eval_subset: eval.len(),
        },
        initial_loss,
        outcome,
        crash,
        eps: measured.eps,
        seconds: measured.seconds,
        epochs: ctx.cursor.epochs(),
        updates: UpdateCounts {
            total: measured.calls,
            applied: measured.applied,
            dropped: measured.dropped,
            not_published: measured.calls - measured.applied - measured.dropped,
            per_second: measured.calls as f64 / measured.seconds.max(1e-9),
        },
        series: measured.series,
        minibatch_series: measured.minibatch,
        staleness: HistogramReport::from_counts(&hist),
        staleness_fits: {
            let len = hist
                .counts()
                .iter()
                .rposition(|&x| x > 0)
                .map_or(1, |i| i + 1);
            staleness::fit_families(&hist)
                .iter()
                .map(|f| ModelFit::from_fit(f, len))
                .collect()
        },
        attempts: HistogramReport::from_counts(&ctx.attempts.snapshot()),
        tc_ms: DurationSummary::from_samples(tc),
        tu_us: DurationSummary::from_samples(tu),
        step_size: StepSizeReport {
            policy: format!("{:?}", ctx.policy.policy()),
            eta0: cfg.eta,
            factors: factors[..shown].to_vec(),
            mean_factor: ctx.policy.mean_factor(&hist),
        },
        memory: Memory {
            peak_live_vectors: vectors.peak,
            vector_bytes: d * 4,
            peak_rss_bytes: peak_rss_bytes(),
        },
        final_eval: FinalEval {
            train_loss: last.train_loss,
            test_loss: last.test_loss,
            test_accuracy: last.test_accuracy,
        },
        elastic: el.as_ref().filter(|_| cfg.elastic).map(|e| {
            let r = e.accounting.worker_seconds(measured.seconds);
            ElasticReport {
                max_threads: m,
                trajectory: e.accounting.trajectory().to_vec(),
                worker_seconds: r,
                mean_threads: r / measured.seconds.max(1e-9),
            }
        }),
        ain: el.as_ref().map(|e| AinReport {
            measured: e.noise_n,
            mean_norm: if e.noise_n > 0 {
                e.noise_sum / e.noise_n as f64
            } else {
                0.0
            },
            max_norm: e.noise_max,
            peak_retained: e.ain.peak_retained(),
            series: e.noise_series.clone(),
        }),
    })
}

/// Spawn `ctx.cfg.threads` workers on one bounded event channel, coordinate them on this
/// thread, and join them.
#[allow(clippy::too_many_arguments)]
fn run_workers(
    ctx: &Ctx,
    worker: &(dyn Fn(usize, SyncSender<Rec>) -> WorkerStats + Sync),
    snapshot: &dyn Fn(&mut [f32]) -> u64,
    ev: &mut Evaluator,
    initial_loss: f64,
    interrupt: &AtomicBool,
    observer: &mut dyn Observer,
    el: &mut Option<ElasticState>,
) -> (Measured, Vec<WorkerStats>) {
    // Bounded: if the coordinator (evaluations, AIN distances) falls behind, workers wait
    // rather than queueing gradient copies without limit.
    let (tx, rx) = mpsc::sync_channel(256);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..ctx.cfg.threads)
            .map(|id| {
                let tx = tx.clone();
                s.spawn(move || worker(id, tx))
            })
            .collect();
        drop(tx);
        ctx.start.wait();
        let measured = coordinate(ctx, rx, snapshot, ev, initial_loss, interrupt, observer, el);
        let stats = handles
            .into_iter()
            .map(|h| h.join().expect("worker panicked"))
            .collect();
        (measured, stats)
    })
}

#[allow(clippy::too_many_arguments)]
fn run_async<S: SharedParams>(
    ctx: &Ctx,
    shared: &S,
    ev: &mut Evaluator,
    initial_loss: f64,
    interrupt: &AtomicBool,
    observer: &mut dyn Observer,
    el: &mut Option<ElasticState>,
) -> (Measured, Vec<WorkerStats>, VectorStats) {
    let (measured, stats) = run_workers(
        ctx,
        &|id, tx| async_worker(ctx, shared, id, tx),
        &|out| shared.snapshot(out),
        ev,
        initial_loss,
        interrupt,
        observer,
        el,
    );
    (measured, stats, shared.vectors())
}

fn run_sync(
    ctx: &Ctx,
    theta: Vec<f32>,
    ev: &mut Evaluator,
    initial_loss: f64,
    interrupt: &AtomicBool,
    observer: &mut dyn Observer,
) -> (Measured, Vec<WorkerStats>, VectorStats) {
    let m = ctx.cfg.threads;
    let d = theta.len();
    let st = SyncState {
        theta: parking_lot::RwLock::new(theta),
        grads: (0..m).map(|_| Mutex::new((vec![0.0; d], 0.0))).collect(),
        indices: Mutex::new(Vec::new()),
        running: AtomicBool::new(false),
        step_start: Barrier::new(m),
        step_done: Barrier::new(m),
        seq: std::sync::atomic::AtomicU64::new(0),
    };
    // Only the leader reports updates; the other workers' senders are dropped at once.
    let st = &st;
    let (measured, stats) = run_workers(
        ctx,
        &|id, tx| sync_worker(ctx, st, id, (id == 0).then_some(tx)),
        &|out| st.snapshot(out),
        ev,
        initial_loss,
        interrupt,
        observer,
        &mut None,
    );
    // θ, m gradient buffers and the averaging buffer.
    (
        measured,
        stats,
        VectorStats {
            live: 2 + m,
            peak: 2 + m,
        },
    )
}
