//! The parameter server S of Alg. A.1 (rank 0), on its own thread of the server process: it
//! receives a gradient from whichever worker is ready (a non-blocking any-source probe, so no
//! slow worker holds it up), applies it at once with η(τ), τ = current version − read version,
//! and sends that worker a copy of the new θ with its version, without waiting for the worker
//! to take it (so that a worker not yet scheduled holds up no other). Events go to the coordinator, which runs
//! on the process's main thread (evaluations, step-size refreshes, stops), exactly as for the
//! threaded executor.

use super::wait::{self, Backoff};
use super::wire::{header, set_header, Kind, RankStats, HEADER, TAG_STATE, TAG_STATS, TAG_WORK};
use crate::report::StopReason;
use crate::run::context::Shared;
use crate::run::events::{Event, Rec};
use crate::run::handoff::Clock;
use crate::run::worker::Samples;
use mpi::datatype::Equivalence;
use mpi::point_to_point::{Destination, Source};
use mpi::request::{Request, Scope};
use mpi::topology::{Communicator, SimpleCommunicator};
use parking_lot::{RwLock, RwLockWriteGuard};
use std::collections::VecDeque;
use std::sync::mpsc::SyncSender;
use std::time::{Duration, Instant};
use stepsize::StepSize;

/// θ with its message header in front (so that it is sent as it lies) and its version i'.
pub(crate) struct State {
    pub buf: Vec<f32>,
    pub version: u64,
}

impl State {
    pub fn new(theta0: &[f32]) -> Self {
        let mut buf = vec![0.0; HEADER + theta0.len()];
        buf[HEADER..].copy_from_slice(theta0);
        State { buf, version: 0 }
    }

    pub fn theta(&self) -> &[f32] {
        &self.buf[HEADER..]
    }
}

/// Events to the coordinator, in the order they happen, in batches.
pub(crate) struct Feed<'c> {
    clock: &'c Clock,
    tx: SyncSender<Vec<Rec>>,
    buf: Vec<Rec>,
    last: Instant,
}

impl<'c> Feed<'c> {
    pub fn new(clock: &'c Clock, tx: SyncSender<Vec<Rec>>) -> Self {
        Feed {
            clock,
            tx,
            buf: Vec::with_capacity(16),
            last: Instant::now(),
        }
    }

    /// One update from worker `worker` (0-based), stamped now.
    pub fn update(&mut self, worker: usize, loss: f32, applied: bool, dropped: bool) {
        self.buf.push(Rec {
            at: self.clock.seconds(),
            worker,
            event: Event::Update {
                loss,
                applied,
                dropped,
                ain: None,
            },
        });
        if self.buf.len() >= 16 {
            self.flush();
        }
    }

    /// Send what is buffered if it is older than 20 ms (called while idle).
    pub fn tick(&mut self) {
        if !self.buf.is_empty() && self.last.elapsed() >= Duration::from_millis(20) {
            self.flush();
        }
    }

    pub fn flush(&mut self) {
        self.last = Instant::now();
        if !self.buf.is_empty() {
            let b = std::mem::replace(&mut self.buf, Vec::with_capacity(16));
            // The coordinator only hangs up after this thread ends.
            let _ = self.tx.send(b);
        }
    }
}

/// What one worker rank did, as the server saw it.
#[derive(Clone, Default)]
pub(crate) struct RankCount {
    pub applied: u64,
    pub dropped: u64,
    pub discarded: u64,
    pub tau_sum: u64,
}

/// What the server thread measured.
pub(crate) struct ServerEnd {
    /// Indexed by rank (entry 0 unused).
    pub ranks: Vec<RankCount>,
    pub stats: Vec<Option<RankStats>>,
    pub receive_us: Samples,
    pub apply_us: Samples,
    pub send_us: Samples,
    pub total_us: Samples,
    /// From the receive of a gradient whose reply was owed to that reply's send.
    pub owed_us: Samples,
    pub idle: Duration,
    /// Waiting, with nothing to do, for replies still in flight at the end of a pass over the
    /// reply buffers.
    pub reply_wait: Duration,
    pub bytes_received: u64,
    pub bytes_sent: u64,
}

impl ServerEnd {
    pub fn new(ranks: usize) -> Self {
        ServerEnd {
            ranks: vec![RankCount::default(); ranks],
            stats: (0..ranks).map(|_| None).collect(),
            receive_us: Samples::new(),
            apply_us: Samples::new(),
            send_us: Samples::new(),
            total_us: Samples::new(),
            owed_us: Samples::new(),
            idle: Duration::ZERO,
            reply_wait: Duration::ZERO,
            bytes_received: 0,
            bytes_sent: 0,
        }
    }

    /// Every worker's final measurements (each sends them once, after its last reply).
    pub fn collect_stats(&mut self, world: &SimpleCommunicator, shared: &Shared) {
        for r in 1..self.ranks.len() {
            let (v, _) = world
                .process_at_rank(r as i32)
                .receive_vec_with_tag::<f64>(TAG_STATS);
            self.stats[r] = RankStats::decode(&v);
            if self.stats[r].is_none() {
                shared.crash(format!("rank {r} sent malformed measurements"));
            }
        }
    }
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// Reply buffers of the server: each carries one θ in flight to a worker. A worker has at most
/// one reply outstanding, so m + 1 make a pass that can always reply; 2 per worker (at least 3)
/// keep the pool small enough to stay in cache (the copy into a buffer that has left it costs
/// about 2× more: docs/mpi.md), while a pass's end costs no waiting (see [`run_async`]).
pub(crate) fn pool_len(workers: usize, d: usize) -> usize {
    const BYTES: usize = 32 << 20;
    let per = 4 * (HEADER + d);
    (2 * workers).max(3).min((BYTES / per).max(workers + 1))
}

/// Test every reply in flight once; keep those not yet taken.
fn complete<'a, S: Scope<'a>>(flight: &mut VecDeque<Request<'a, [f32], S>>) {
    for _ in 0..flight.len() {
        if let Some(r) = flight.pop_front() {
            if let Err(r) = r.test() {
                flight.push_back(r);
            }
        }
    }
}

/// A worker whose gradient was applied while no reply buffer was free (a pass's end): it is
/// sent the θ current when the next pass begins, first thing.
struct Owed {
    rank: usize,
    received: Instant,
    receive_us: f64,
    apply_us: f64,
}

/// Copy θ (with its header, which carries its version) into a free reply buffer and post its
/// send to `to`, not waiting for the worker to take it.
fn reply<'a, S: Scope<'a>>(
    scope: S,
    to: &mpi::topology::Process<'_>,
    state: &State,
    buf: &'a mut [f32],
) -> Request<'a, [f32], S> {
    buf.copy_from_slice(&state.buf);
    let buf: &'a [f32] = buf;
    to.immediate_send_with_tag(scope, buf, TAG_STATE)
}

/// Alg. A.1, lines 9–17, until every worker has been told to stop.
///
/// The reply to a gradient is a copy of the new θ sent without waiting: a θ of 539 KB goes by
/// rendezvous, which completes only when the worker's process runs and takes it, and a server
/// that waited for that (as a send from θ itself must, θ may not change under a send in flight)
/// could not serve the other workers meanwhile. The safe rsmpi API ties a request to its
/// buffer's borrow until the end of a `scope`, so the server makes passes over a pool of reply
/// buffers, one scope each, using every buffer once per pass. When a pass has no buffer left it
/// goes on receiving and applying gradients while its last replies are in flight, and owes
/// those workers their replies ([`Owed`]): the next pass begins by sending them the θ current
/// then (newer than the one their update made, and stamped with its version). Time with
/// nothing to do while a pass's replies are in flight is `reply_wait`.
pub(crate) fn run_async(
    shared: &Shared,
    state: &RwLock<State>,
    clock: &Clock,
    feed: &mut Feed,
) -> ServerEnd {
    let world = SimpleCommunicator::world();
    let size = world.size() as usize;
    let d = shared.net.num_params();
    let mut end = ServerEnd::new(size);
    let mut rbuf = vec![0.0f32; HEADER + d];
    let mut stop = [0.0f32; HEADER];
    set_header(&mut stop, 0, 0.0, Kind::Stop);
    let mut pool: Vec<Vec<f32>> = (0..pool_len(size - 1, d))
        .map(|_| vec![0.0; HEADER + d])
        .collect();
    let mut owed: Vec<Owed> = Vec::with_capacity(size);
    let mut live = size - 1;
    let mut stopping = false;
    let mut backoff = Backoff::new();
    while live > 0 {
        let pool = &mut pool;
        mpi::request::scope(|scope| {
            let mut free: Vec<&mut [f32]> = pool.iter_mut().map(|b| &mut b[..]).collect();
            let mut flight = VecDeque::with_capacity(free.len());
            // A worker owes at most one reply and the pool has more buffers than workers.
            for o in owed.drain(..) {
                let buf = free.pop().expect("the pool has a buffer for every worker");
                let t = Instant::now();
                let to = world.process_at_rank(o.rank as i32);
                flight.push_back(reply(scope, &to, &state.read(), buf));
                let send = us(t.elapsed());
                end.bytes_sent += 4 * (HEADER + d) as u64;
                end.receive_us.push(o.receive_us);
                end.apply_us.push(o.apply_us);
                end.send_us.push(send);
                end.total_us.push(o.receive_us + o.apply_us + send);
                end.owed_us.push(us(o.received.elapsed()));
            }
            while live > 0 {
                complete(&mut flight);
                if free.is_empty() && flight.is_empty() {
                    break;
                }
                if !stopping && shared.stop_due(clock.seconds()) {
                    stopping = true;
                }
                let idle = Instant::now();
                let Some((msg, _)) = world
                    .any_process()
                    .immediate_matched_probe_with_tag(TAG_WORK)
                else {
                    feed.tick();
                    backoff.wait();
                    if free.is_empty() {
                        end.reply_wait += idle.elapsed();
                    } else {
                        end.idle += idle.elapsed();
                    }
                    continue;
                };
                backoff.reset();
                let t0 = Instant::now();
                let status = msg.matched_receive_into(&mut rbuf[..]);
                let t1 = Instant::now();
                let r = status.source_rank() as usize;
                let n = status.count(f32::equivalent_datatype()) as usize;
                end.bytes_received += 4 * n as u64;
                let to = world.process_at_rank(r as i32);
                let msg = if n >= HEADER { header(&rbuf) } else { None };
                match msg {
                    Some((read, loss, Kind::Gradient)) if !stopping && n == HEADER + d => {
                        let mut g = state.write();
                        let tau = g.version.saturating_sub(read);
                        let eta = shared.policy.eta(tau);
                        if let Some(eta) = eta {
                            pvec::kernels::axpy(&mut g.buf[HEADER..], &rbuf[HEADER..], eta);
                            g.version += 1;
                            shared.staleness.record(tau);
                            end.ranks[r].applied += 1;
                            end.ranks[r].tau_sum += tau;
                        } else {
                            end.ranks[r].dropped += 1;
                        }
                        shared.attempts.record(1);
                        let v = g.version;
                        set_header(&mut g.buf, v, 0.0, Kind::State);
                        // Readers (the coordinator's snapshots) may share θ while it is copied.
                        let g = RwLockWriteGuard::downgrade(g);
                        let t2 = Instant::now();
                        let (receive_us, apply_us) = (us(t1 - t0), us(t2 - t1));
                        if let Some(buf) = free.pop() {
                            flight.push_back(reply(scope, &to, &g, buf));
                            drop(g);
                            let send = us(t2.elapsed());
                            end.bytes_sent += 4 * (HEADER + d) as u64;
                            end.receive_us.push(receive_us);
                            end.apply_us.push(apply_us);
                            end.send_us.push(send);
                            end.total_us.push(receive_us + apply_us + send);
                        } else {
                            drop(g);
                            owed.push(Owed {
                                rank: r,
                                received: t0,
                                receive_us,
                                apply_us,
                            });
                        }
                        feed.update(r - 1, loss, eta.is_some(), eta.is_none());
                        continue;
                    }
                    Some((_, _, Kind::Gradient)) if stopping => end.ranks[r].discarded += 1,
                    Some((_, _, Kind::Done)) => {}
                    Some((_, loss, Kind::Failed)) => {
                        shared.crash(format!(
                            "non-finite mini-batch loss ({loss}) on rank {r} (worker {r} of {})",
                            size - 1
                        ));
                        stopping = true;
                    }
                    Some((_, _, Kind::Interrupted)) => {
                        shared.stop_for(StopReason::Interrupt);
                        stopping = true;
                    }
                    _ => {
                        shared.crash(format!(
                            "rank {r} sent a malformed message ({n} values; a gradient has {})",
                            HEADER + d
                        ));
                        stopping = true;
                    }
                }
                // Every message but an applied gradient ends that worker (a stop is a few
                // bytes: sent eagerly, it completes at once).
                wait::send(&to, &stop[..], TAG_STATE);
                end.bytes_sent += 4 * HEADER as u64;
                live -= 1;
            }
            // The scope may end only with every reply taken (replies are still in flight here
            // only after the last worker's stop).
            let t = Instant::now();
            while !flight.is_empty() {
                complete(&mut flight);
                if !flight.is_empty() {
                    backoff.wait();
                }
            }
            backoff.reset();
            end.reply_wait += t.elapsed();
        });
    }
    feed.flush();
    end.collect_stats(&world, shared);
    end
}
