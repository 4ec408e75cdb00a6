//! The MPI executor: asynchronous parameter-server SGD (Alg. A.1, *MindTheStep-AsyncSGD*)
//! and SYNC (Thm A.3.1) across processes, through MPI (rsmpi over the system's library).
//!
//! ```text
//!  mpirun -np N trainer --executor mpi …        (every rank loads the data and builds θ0)
//!   rank 0  train() ── startup::agree ── barrier (time zero)
//!           ├─ server thread: server::run_async / sync::run_server ── Feed ──┐
//!           └─ main thread: Coordinator (ε, series, evaluations, η refresh) ◄┘ → Report + mpi
//!   rank r  work() ── startup::agree ── barrier ── worker::run_async / sync::run_worker
//!           ── RankStats to rank 0
//! ```
//!
//! Rank 0 runs the same [`Coordinator`] as the threaded executor on its own clock, so the report
//! has the same fields; what only a distributed run has (per-rank counts, message sizes,
//! round trips, the server's cost per update) is its `mpi` section. MPI is called by one
//! thread at a time (`MPI_THREAD_SERIALIZED`): the server thread, and the main thread before
//! and after it.

mod server;
mod startup;
mod sync;
mod transport;
mod wait;
mod wire;
mod worker;

use super::coordinator::Coordinator;
use super::events::Rec;
use super::handoff::Clock;
use super::{Executed, Job, Shared, WorkerStats};
use crate::config::{Algorithm, Config};
use crate::report::{DurationSummary, MpiReport, RankReport, ServerCost};
use crate::TrainError;
use mpi::collective::CommunicatorCollectives;
use mpi::environment::{Threading, Universe};
use mpi::topology::{Communicator, SimpleCommunicator};
use nn::{Dataset, SharedCursor};
use parking_lot::RwLock;
use pvec::VectorStats;
use server::State;
use std::borrow::Cow;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

/// This process's part in an MPI job: MPI initialised (finalised on drop), its rank and the
/// job's size. Create it once, before anything else that may fail, so that a failure on any
/// rank can end the whole job ([`Session::abort`]) instead of leaving the others waiting.
pub struct Session {
    world: SimpleCommunicator,
    // Dropped last: MPI_Finalize.
    _universe: Universe,
}

impl Session {
    /// Initialise MPI (`MPI_THREAD_SERIALIZED`: the server's MPI calls run on a thread of
    /// their own).
    ///
    /// For `cfg`'s parameter server (every algorithm but SYNC), under Open MPI, worker ranks
    /// first raise the shared-memory transport's eager limit, so that the server receives a
    /// gradient by a copy out of shared memory rather than out of the worker's memory
    /// (`transport`; turned off by `ASGD_MPI_EAGER=0` or by any `btl_vader` parameter of the
    /// user's own). SYNC has no server to relieve, and its allreduce keeps the library's
    /// defaults (eager workers made no difference to its updates/s: docs/mpi.md).
    pub fn init(cfg: &Config) -> Result<Session, TrainError> {
        if cfg.algorithm != Algorithm::Sync {
            transport::tune();
        }
        let (universe, provided) = mpi::initialize_with_threading(Threading::Serialized)
            .ok_or_else(|| TrainError::Invalid("MPI was initialised already".into()))?;
        if !matches!(provided, Threading::Serialized | Threading::Multiple) {
            return Err(TrainError::Invalid(format!(
                "the MPI library provides thread level {provided:?}; the executor needs \
                 serialized"
            )));
        }
        Ok(Session {
            world: universe.world(),
            _universe: universe,
        })
    }

    pub fn rank(&self) -> usize {
        self.world.rank() as usize
    }

    /// Processes in the job (the server and the workers).
    pub fn size(&self) -> usize {
        self.world.size() as usize
    }

    /// Rank 0, the parameter server: it runs [`crate::train`] and writes the report.
    pub fn is_server(&self) -> bool {
        self.rank() == 0
    }

    /// End every process of the job with `code` (`MPI_Abort`): for an error on one rank, which
    /// the others would otherwise wait for.
    pub fn abort(&self, code: i32) -> ! {
        self.world.abort(code)
    }

    /// The MPI library's name and version (first line).
    pub fn library() -> String {
        mpi::environment::library_version()
            .ok()
            .and_then(|v| {
                v.lines().next().map(|l| {
                    l.trim_matches(|c: char| c.is_whitespace() || c == '\0')
                        .to_string()
                })
            })
            .unwrap_or_default()
    }
}

/// What a worker rank did (the binary's one-line summary).
#[derive(Clone, Debug)]
pub struct WorkerEnd {
    pub rank: usize,
    /// Gradients it sent (SYNC: steps it computed).
    pub sent: u64,
    pub seconds: f64,
}

/// Refuse what the MPI executor does not run, before any rank starts.
fn check(cfg: &Config, size: usize) -> Result<(), TrainError> {
    let bad = |m: String| Err(TrainError::Invalid(m));
    if size < 2 {
        return bad(format!(
            "`executor` mpi needs a server and at least one worker: launch under `mpirun -np N` \
             with N ≥ 2 (this job has {size} process)"
        ));
    }
    if cfg.threads != size - 1 {
        return bad(format!(
            "`threads` {} does not match the job: under `mpirun -np {size}` there are {} workers",
            cfg.threads,
            size - 1
        ));
    }
    match cfg.algorithm {
        Algorithm::Async | Algorithm::Sync => {}
        Algorithm::Seq if size == 2 => {}
        other => {
            return bad(format!(
                "`algorithm` {other} is shared-memory only; `executor` mpi runs async \
                 (parameter server, Alg. A.1) and sync (seq with one worker)"
            ))
        }
    }
    if cfg.elastic || cfg.ain {
        return bad("`elastic` and `ain` need the threaded executor".into());
    }
    Ok(())
}

fn world() -> Result<SimpleCommunicator, TrainError> {
    if !mpi::environment::is_initialized() {
        return Err(TrainError::Invalid(
            "`executor` mpi: MPI is not initialised (run the trainer binary built with \
             `--features mpi` under mpirun)"
                .into(),
        ));
    }
    Ok(SimpleCommunicator::world())
}

/// The server process's run (rank 0), called by [`crate::train`]: agree with the workers,
/// serve them on a thread of its own while the coordinator runs here, and hand back θ and the
/// `mpi` section.
pub(crate) fn serve(
    job: &Job,
    shared: &Shared,
    theta0: Vec<f32>,
    coord: &mut Coordinator,
) -> Result<(Executed, MpiReport), TrainError> {
    let cfg = shared.cfg;
    let world = world()?;
    let size = world.size() as usize;
    let agreed = check(cfg, size);
    // Every rank takes part in the agreement, so that all refuse together.
    let fp = startup::fingerprint(cfg, job.net, job.train, job.test, &theta0);
    let verdict = startup::agree(&world, if agreed.is_ok() { fp } else { [0; 9] });
    agreed?;
    verdict?;
    let d = theta0.len();
    let state = RwLock::new(State::new(&theta0));
    let clock = Clock::default();
    world.barrier();
    clock.start();
    let (tx, rx) = mpsc::sync_channel::<Vec<Rec>>(1024);
    let end = std::thread::scope(|s| {
        let (state, clock) = (&state, &clock);
        let server = s.spawn(move || {
            let mut feed = server::Feed::new(clock, tx);
            match cfg.algorithm {
                Algorithm::Sync => sync::run_server(shared, state, clock, &mut feed),
                _ => server::run_async(shared, state, clock, &mut feed),
            }
        });
        let snapshot = |out: &mut [f32]| {
            let g = state.read();
            out.copy_from_slice(g.theta());
            g.version
        };
        loop {
            let got = rx.recv_timeout(Duration::from_millis(20));
            let done = matches!(got, Err(RecvTimeoutError::Disconnected));
            for batch in got.ok().into_iter().chain(rx.try_iter().take(64)) {
                for r in batch {
                    coord.record(r);
                }
            }
            coord.poll(clock.seconds(), &snapshot, done);
            if done {
                break;
            }
        }
        coord.stopped(clock.seconds());
        server.join().expect("the server thread panicked")
    });
    let (theta, seq) = {
        let g = state.read();
        (g.theta().to_vec(), g.version)
    };
    let own_hash = wire::hash_f32(&theta);
    let mut stats = Vec::new();
    let mut per_rank = Vec::new();
    let mut rtt_all = Vec::new();
    let mut agree = true;
    for r in 1..size {
        let c = &end.ranks[r];
        let s = end.stats[r].as_ref();
        if cfg.algorithm == Algorithm::Sync {
            agree &= s.is_some_and(|s| s.theta_hash == own_hash);
        }
        let tc = s.map(|s| s.tc_ms.clone()).unwrap_or_default();
        let rtt = s.map(|s| s.rtt_us.clone()).unwrap_or_default();
        rtt_all.extend(&rtt);
        let active = s.map_or(0.0, |s| s.active_seconds);
        per_rank.push(RankReport {
            rank: r,
            sent: s.map_or(0, |s| s.sent),
            applied: c.applied,
            dropped: c.dropped,
            discarded: c.discarded,
            mean_staleness: c.tau_sum as f64 / c.applied.max(1) as f64,
            tc_ms: DurationSummary::from_samples(tc.clone()),
            round_trip_us: DurationSummary::from_samples(rtt),
            active_seconds: active,
        });
        stats.push(WorkerStats {
            tc_ms: tc,
            tu_us: Vec::new(),
            active_s: active,
            blocked_s: 0.0,
        });
    }
    // T_u of the report: the server's apply (the update itself).
    let apply = end.apply_us.into_vec();
    stats.push(WorkerStats {
        tc_ms: Vec::new(),
        tu_us: apply.clone(),
        active_s: 0.0,
        blocked_s: 0.0,
    });
    let c = if cfg.algorithm == Algorithm::Sync {
        sync::control_len(size)
    } else {
        wire::HEADER
    };
    let report = MpiReport {
        library: Session::library(),
        ranks: size,
        workers: size - 1,
        gradient_message_bytes: 4 * (c + d) as u64,
        state_message_bytes: if cfg.algorithm == Algorithm::Sync {
            0
        } else {
            4 * (c + d) as u64
        },
        bytes_received: end.bytes_received,
        bytes_sent: end.bytes_sent,
        server: ServerCost {
            receive_us: DurationSummary::from_samples(end.receive_us.into_vec()),
            apply_us: DurationSummary::from_samples(apply),
            send_us: DurationSummary::from_samples(end.send_us.into_vec()),
            total_us: DurationSummary::from_samples(end.total_us.into_vec()),
            idle_seconds: end.idle.as_secs_f64(),
            reply_wait_seconds: end.reply_wait.as_secs_f64(),
            owed_us: DurationSummary::from_samples(end.owed_us.into_vec()),
        },
        round_trip_us: DurationSummary::from_samples(rtt_all),
        replicas_agree: agree,
        per_rank,
    };
    let executed = Executed {
        stats,
        // θ with its header, and the receive buffer (SYNC: θ, two allreduce buffers); async
        // also the reply buffers.
        vectors: {
            let n = if cfg.algorithm == Algorithm::Sync {
                2
            } else {
                2 + server::pool_len(size - 1, d)
            };
            VectorStats { live: n, peak: n }
        },
        theta,
        seq,
        executor: "mpi",
        simulation: None,
    };
    Ok((executed, report))
}

/// The sampling stream of worker rank `rank` of `workers`: every `workers`-th sample from
/// `rank − 1` on (disjoint shards), shuffled with its own seed. A lone worker samples the whole
/// set with the run's seed — the sequential run's stream, so that it replays that run.
fn shard<'d>(
    cfg: &Config,
    train: &'d Dataset,
    rank: usize,
    workers: usize,
) -> (Cow<'d, Dataset>, u64) {
    if workers == 1 {
        return (Cow::Borrowed(train), cfg.seed);
    }
    let idx: Vec<u32> = (rank - 1..train.len())
        .step_by(workers)
        .map(|i| i as u32)
        .collect();
    let mut buf = nn::BatchBuf::default();
    train.gather(&idx, &mut buf);
    let data = Dataset {
        images: buf.images,
        labels: buf.labels,
        shape: train.shape,
        classes: train.classes,
    };
    let seed = cfg
        .seed
        .wrapping_add((rank as u64 - 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    (Cow::Owned(data), seed)
}

/// A worker rank's run (ranks 1…N−1): agree with the server, then compute gradients until it
/// says stop. The configuration must be the server's (the start-up agreement checks it).
pub fn work(session: &Session, job: &Job, theta0: &[f32]) -> Result<WorkerEnd, TrainError> {
    let cfg = job.config;
    let world = &session.world;
    let (size, rank) = (session.size(), session.rank());
    let mut agreed = cfg.validate().and_then(|()| check(cfg, size));
    if agreed.is_ok() {
        agreed = crate::check_compatible(job.net, job.train, cfg.batch);
    }
    let fp = startup::fingerprint(cfg, job.net, job.train, job.test, theta0);
    let verdict = startup::agree(world, if agreed.is_ok() { fp } else { [0; 9] });
    agreed?;
    verdict?;
    let workers = size - 1;
    let (data, seed) = shard(cfg, job.train, rank, workers);
    let limit = (cfg.epochs * data.len() as f64).round() as u64;
    let cursor = SharedCursor::new(data.len(), limit, seed, cfg.shuffle);
    let shared = Shared::new(
        cfg,
        job.net,
        &data,
        cursor,
        cfg.adaptive()?,
        None,
        job.interrupt,
    );
    world.barrier();
    let stats = match cfg.algorithm {
        Algorithm::Sync => sync::run_worker(world, &shared, theta0),
        _ => worker::run_async(world, &shared, theta0)?,
    };
    use mpi::point_to_point::Destination;
    world
        .process_at_rank(0)
        .send_with_tag(&stats.encode()[..], wire::TAG_STATS);
    Ok(WorkerEnd {
        rank,
        sent: stats.sent,
        seconds: stats.active_seconds,
    })
}
