//! A worker w of Alg. A.1 (ranks 1…N−1): compute the gradient on the θ last received, send it
//! with the version it was computed on, receive the new θ, until the server says stop. The
//! per-update computation (mini-batch, gradient timed as T_c, momentum) is the threaded
//! worker's ([`crate::run::worker::Worker`]); only where θ comes from differs.

use super::wait;
use super::wire::{header, set_header, Kind, RankStats, HEADER, TAG_STATE, TAG_WORK};
use crate::run::context::Shared;
use crate::run::worker::{Samples, Worker};
use crate::TrainError;
use mpi::topology::{Communicator, SimpleCommunicator};
use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;

/// Run this rank's worker until the server stops it; its measurements.
pub(crate) fn run_async(
    world: &SimpleCommunicator,
    shared: &Shared,
    theta0: &[f32],
) -> Result<RankStats, TrainError> {
    let d = theta0.len();
    let server = world.process_at_rank(0);
    let mut me = Worker::new(shared);
    // (i, θ) ← (0, θ0): every rank computed θ0 itself (checked at start-up).
    let mut state = vec![0.0f32; HEADER + d];
    state[HEADER..].copy_from_slice(theta0);
    let mut version = 0u64;
    let mut out = vec![0.0f32; HEADER + d];
    let mut rtt = Samples::new();
    let mut sent = 0u64;
    let began = Instant::now();
    loop {
        let last = if shared.interrupt.load(Relaxed) {
            Some((Kind::Interrupted, 0.0))
        } else if !me.next_batch() {
            Some((Kind::Done, 0.0))
        } else {
            let loss = me.gradient(&state[HEADER..]);
            if loss.is_finite() {
                out[HEADER..].copy_from_slice(me.direction());
                set_header(&mut out, version, loss, Kind::Gradient);
                None
            } else {
                Some((Kind::Failed, loss))
            }
        };
        let t = Instant::now();
        match last {
            None => {
                wait::send(&server, &out[..], TAG_WORK);
                sent += 1;
            }
            Some((kind, loss)) => {
                set_header(&mut out[..HEADER], version, loss, kind);
                wait::send(&server, &out[..HEADER], TAG_WORK);
            }
        }
        let msg = wait::probe(&server, TAG_STATE);
        let status = msg.matched_receive_into(&mut state[..]);
        let n = status.count(<f32 as mpi::datatype::Equivalence>::equivalent_datatype());
        match header(&state) {
            Some((v, _, Kind::State)) if n as usize == HEADER + d && last.is_none() => {
                rtt.push(t.elapsed().as_secs_f64() * 1e6);
                version = v;
            }
            Some((_, _, Kind::Stop)) => break,
            _ => {
                return Err(TrainError::Invalid(format!(
                    "rank {}: malformed reply from the server ({n} values)",
                    world.rank()
                )))
            }
        }
    }
    let active = began.elapsed().as_secs_f64();
    let stats = me.finish(active, std::time::Duration::ZERO);
    Ok(RankStats {
        sent,
        active_seconds: active,
        theta_hash: 0,
        tc_ms: stats.tc_ms,
        rtt_us: rtt.into_vec(),
    })
}
