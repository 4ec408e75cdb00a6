//! Synchronous SGD in virtual time: the leader claims m·b samples, every worker computes its
//! share's gradient on the same θ (T_c each), the barrier waits for the slowest, and the leader
//! averages the m gradients and applies one step (T_u): effective batch m·b (Thm A.3.1). The
//! arithmetic is the real executor's, in the same order (sum in worker order, then × 1/m), so
//! the steps are bit for bit those of `trainer --executor threads --algorithm sync`.

use super::queue::Kind;
use super::{Cx, Model};
use crate::report::StopReason;
use pvec::VectorStats;

pub(super) struct Sync {
    theta: Vec<f32>,
    seq: u64,
    /// The leader's averaging buffer, and the step's mean loss.
    local: Vec<f32>,
    loss: f32,
    applied: bool,
    cache: nn::EpochCache,
    claim: Vec<u32>,
    workers: usize,
}

impl Sync {
    pub fn new(theta: Vec<f32>, workers: usize) -> Self {
        let d = theta.len();
        Sync {
            theta,
            seq: 0,
            local: vec![0.0; d],
            loss: 0.0,
            applied: false,
            cache: nn::EpochCache::default(),
            claim: Vec::new(),
            workers,
        }
    }
}

impl Model for Sync {
    /// The leader (worker 0) starts a step.
    fn start(&mut self, cx: &mut Cx, w: usize, t: f64) {
        debug_assert_eq!(w, 0, "only the leader starts SYNC steps");
        let (m, b) = (self.workers, cx.shared.cfg.batch);
        let go = !cx.shared.stop_due(t)
            && cx
                .shared
                .cursor
                .claim(m * b, &mut self.cache, &mut self.claim)
                .is_some();
        if !go {
            // Stopped, or the data is used up (the run's default stop reason).
            if !cx.shared.stopping() {
                cx.shared.stop_for(StopReason::Budget);
            }
            for i in 0..m {
                cx.finish(i, t);
            }
            return;
        }
        let mut barrier = 0.0f64;
        for i in 0..m {
            let idx = &self.claim[i * b..(i + 1) * b];
            cx.compute(i, t, &self.theta, self.seq, Some(idx));
            barrier = barrier.max(cx.draw_tc(i));
        }
        self.local.fill(0.0);
        let mut loss = 0.0f32;
        for v in &cx.workers {
            self.local
                .iter_mut()
                .zip(v.w.grad())
                .for_each(|(a, x)| *a += x);
            loss += v.loss;
        }
        self.loss = loss / m as f32;
        let inv = 1.0 / m as f32;
        self.local.iter_mut().for_each(|a| *a *= inv);
        cx.schedule(t + barrier, 0, Kind::StepEnd);
    }

    fn read(&mut self, _cx: &mut Cx, _w: usize, _t: f64) {
        unreachable!("SYNC workers read in the leader's step")
    }

    fn event(&mut self, cx: &mut Cx, w: usize, t: f64, kind: Kind) {
        match kind {
            Kind::StepEnd => {
                cx.workers[w].update_start = t;
                self.applied = self.loss.is_finite();
                if self.applied {
                    let eta = cx.eta(0).unwrap_or(0.0);
                    let dir = cx.workers[w].w.direction_of(&self.local);
                    pvec::kernels::axpy(&mut self.theta, dir, eta);
                    self.seq += 1;
                } else {
                    cx.shared.crash(format!(
                        "non-finite mini-batch loss ({}) in synchronous step",
                        self.loss
                    ));
                }
                cx.workers[w].loss = self.loss;
                let tu = cx.draw_tu(w);
                cx.schedule(t + tu, w, Kind::StepDone);
            }
            Kind::StepDone => cx.step_done(w, t, self.applied),
            other => unreachable!("SYNC has no {other:?} event"),
        }
    }

    fn snapshot(&self, out: &mut [f32]) -> u64 {
        out.copy_from_slice(&self.theta);
        self.seq
    }

    fn seq(&self) -> u64 {
        self.seq
    }

    /// θ, the m gradient buffers and the leader's averaging buffer, as the real executor.
    fn vectors(&self) -> VectorStats {
        let n = 2 + self.workers;
        VectorStats { live: n, peak: n }
    }

    fn into_theta(self) -> Vec<f32> {
        self.theta
    }
}
