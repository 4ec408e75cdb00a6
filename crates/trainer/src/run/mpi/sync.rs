//! SYNC over MPI (the baseline of Thm A.3.1): every step, each worker's gradient on the same θ
//! is summed by one allreduce over all ranks, and every rank applies the average itself, so θ
//! is replicated and no state is sent. The server (rank 0) contributes no gradient — only its
//! decisions: η, and whether to stop. A small control block travels in front of the gradient
//! in the same allreduce, so a step and its stop decision cost one collective.

use super::server::{Feed, ServerEnd, State};
use super::wire::{self, RankStats};
use crate::report::StopReason;
use crate::run::context::Shared;
use crate::run::handoff::Clock;
use crate::run::worker::{Samples, Worker};
use mpi::collective::{CommunicatorCollectives, SystemOperation};
use mpi::topology::{Communicator, SimpleCommunicator};
use parking_lot::RwLock;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;
use stepsize::StepSize;

/// Control slots: the sum of the workers' losses, how many workers computed a gradient, the
/// server's stop flag and η, interrupted workers, failed workers, then one failure flag per
/// rank (to name it).
const LOSS: usize = 0;
const COMPUTED: usize = 1;
const STOP: usize = 2;
const ETA: usize = 3;
const INTERRUPTED: usize = 4;
const FAILED: usize = 5;
const PER_RANK: usize = 6;

pub(crate) fn control_len(size: usize) -> usize {
    PER_RANK + size
}

/// One step's verdict, the same on every rank (all see the same sums).
fn proceed(r: &[f32], workers: usize) -> bool {
    r[STOP] == 0.0
        && r[INTERRUPTED] == 0.0
        && r[FAILED] == 0.0
        && r[COMPUTED] == workers as f32
        && r[ETA] > 0.0
}

/// θ ← θ − η·v, v the (momentum) direction of the mean gradient; identical on every rank.
fn apply(me: &mut Worker, theta: &mut [f32], r: &mut [f32], workers: usize, c: usize) {
    let inv = 1.0 / workers as f32;
    r[c..].iter_mut().for_each(|g| *g *= inv);
    let eta = r[ETA];
    let dir = me.direction_of(&r[c..]);
    pvec::kernels::axpy(theta, dir, eta);
}

/// The server's side of every step, until a stop.
pub(crate) fn run_server(
    shared: &Shared,
    state: &RwLock<State>,
    clock: &Clock,
    feed: &mut Feed,
) -> ServerEnd {
    let world = SimpleCommunicator::world();
    let size = world.size() as usize;
    let workers = size - 1;
    let (d, c) = (shared.net.num_params(), control_len(size));
    let mut end = ServerEnd::new(size);
    let mut me = Worker::new(shared);
    let mut s = vec![0.0f32; c + d];
    let mut r = vec![0.0f32; c + d];
    loop {
        s[..c].fill(0.0);
        s[STOP] = f32::from(u8::from(shared.stop_due(clock.seconds())));
        s[ETA] = shared.policy.eta(0).unwrap_or(0.0);
        let t0 = Instant::now();
        world.all_reduce_into(&s[..], &mut r[..], SystemOperation::sum());
        let t1 = Instant::now();
        end.bytes_sent += 4 * (c + d) as u64;
        end.bytes_received += 4 * (c + d) as u64;
        if !proceed(&r, workers) {
            if r[FAILED] > 0.0 {
                let rank = (1..size).find(|&k| r[PER_RANK + k] > 0.0).unwrap_or(0);
                shared.crash(format!(
                    "non-finite mini-batch loss on rank {rank} (worker {rank} of {workers}) in \
                     a synchronous step"
                ));
            } else if r[INTERRUPTED] > 0.0 {
                shared.stop_for(StopReason::Interrupt);
            } else if r[COMPUTED] < workers as f32 {
                shared.stop_for(StopReason::Budget);
            }
            break;
        }
        let loss = r[LOSS] / workers as f32;
        {
            let mut g = state.write();
            apply(&mut me, &mut g.buf[wire::HEADER..], &mut r, workers, c);
            g.version += 1;
        }
        let t2 = Instant::now();
        end.receive_us.push((t1 - t0).as_secs_f64() * 1e6);
        end.apply_us.push((t2 - t1).as_secs_f64() * 1e6);
        end.total_us.push((t2 - t0).as_secs_f64() * 1e6);
        for k in 1..size {
            end.ranks[k].applied += 1;
        }
        me.record_update_time(t2 - t1);
        feed.update(0, loss, true, false);
    }
    feed.flush();
    end.collect_stats(&world, shared);
    end
}

/// A worker rank's side of every step, until a stop.
pub(crate) fn run_worker(world: &SimpleCommunicator, shared: &Shared, theta0: &[f32]) -> RankStats {
    let (size, rank) = (world.size() as usize, world.rank() as usize);
    let workers = size - 1;
    let (d, c) = (theta0.len(), control_len(size));
    let mut me = Worker::new(shared);
    let mut theta = theta0.to_vec();
    let mut s = vec![0.0f32; c + d];
    let mut r = vec![0.0f32; c + d];
    let mut rtt = Samples::new();
    let mut sent = 0u64;
    let began = Instant::now();
    loop {
        s[..c].fill(0.0);
        if shared.interrupt.load(Relaxed) {
            s[INTERRUPTED] = 1.0;
        } else if me.next_batch() {
            let loss = me.gradient(&theta);
            if loss.is_finite() {
                s[LOSS] = loss;
                s[COMPUTED] = 1.0;
                s[c..].copy_from_slice(me.grad());
                sent += 1;
            } else {
                s[FAILED] = 1.0;
                s[PER_RANK + rank] = 1.0;
                s[c..].fill(0.0);
            }
        }
        let t = Instant::now();
        world.all_reduce_into(&s[..], &mut r[..], SystemOperation::sum());
        rtt.push(t.elapsed().as_secs_f64() * 1e6);
        if !proceed(&r, workers) {
            break;
        }
        apply(&mut me, &mut theta, &mut r, workers, c);
    }
    let active = began.elapsed().as_secs_f64();
    let stats = me.finish(active, std::time::Duration::ZERO);
    RankStats {
        sent,
        active_seconds: active,
        theta_hash: wire::hash_f32(&theta),
        tc_ms: stats.tc_ms,
        rtt_us: rtt.into_vec(),
    }
}
