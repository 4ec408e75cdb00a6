//! Lock-based AsyncSGD (Alg. B.2) in virtual time: one FIFO lock around θ. A read holds it for
//! T_r (the copy, line 12), an update for T_u (line 16); a worker that finds it held queues
//! behind the others, so lock convoys appear by themselves. τ is the number of updates applied
//! between the worker's read and its update's acquisition of the lock, as `pvec::Locked`
//! counts it. SEQ is the one-worker case.

use super::queue::Kind;
use super::{Cx, Model, Outcome};
use crate::report::SimulationReport;
use pvec::VectorStats;
use std::collections::VecDeque;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Op {
    Read,
    Update,
}

pub(super) struct Locked {
    theta: Vec<f32>,
    seq: u64,
    held: bool,
    waiting: VecDeque<(usize, Op)>,
    /// ∫ (queue length) dt, and when it last changed.
    queued_area: f64,
    queued_since: f64,
    /// The update whose lock is held: (worker, τ, η).
    pending: Option<(usize, u64, f32)>,
    workers: usize,
}

impl Locked {
    pub fn new(theta: Vec<f32>, workers: usize) -> Self {
        Locked {
            pending: None,
            theta,
            seq: 0,
            held: false,
            waiting: VecDeque::new(),
            queued_area: 0.0,
            queued_since: 0.0,
            workers,
        }
    }

    fn account(&mut self, t: f64) {
        self.queued_area += self.waiting.len() as f64 * (t - self.queued_since);
        self.queued_since = t;
    }

    fn request(&mut self, cx: &mut Cx, w: usize, op: Op, t: f64) {
        if !self.held && self.waiting.is_empty() {
            self.grant(cx, w, op, t);
        } else {
            self.account(t);
            self.waiting.push_back((w, op));
        }
    }

    /// Worker `w` holds the lock from `t`.
    fn grant(&mut self, cx: &mut Cx, w: usize, op: Op, t: f64) {
        self.held = true;
        match op {
            Op::Read => {
                // θ cannot change while the lock is held: the copy is θ now.
                cx.compute(w, t, &self.theta, self.seq, None);
                let tr = cx.draw_tr(w);
                let tc = cx.draw_tc(w);
                cx.schedule(t + tr, w, Kind::LockRelease { then_done: false });
                cx.schedule(t + tr + tc, w, Kind::ComputeDone);
            }
            Op::Update => {
                let staleness = self.seq.saturating_sub(cx.workers[w].read_seq);
                match cx.eta(staleness) {
                    None => {
                        cx.done(
                            w,
                            t,
                            Outcome {
                                applied: false,
                                dropped: true,
                                staleness,
                                attempts: 1,
                                eta: 0.0,
                            },
                        );
                        self.release(cx, t);
                    }
                    Some(eta) => {
                        pvec::kernels::axpy(&mut self.theta, cx.workers[w].w.last_direction(), eta);
                        self.seq += 1;
                        let tu = cx.draw_tu(w);
                        // The outcome is reported when the lock is released.
                        self.pending = Some((w, staleness, eta));
                        cx.schedule(t + tu, w, Kind::LockRelease { then_done: true });
                    }
                }
            }
        }
    }

    fn release(&mut self, cx: &mut Cx, t: f64) {
        self.held = false;
        if let Some((w, op)) = {
            self.account(t);
            self.waiting.pop_front()
        } {
            self.grant(cx, w, op, t);
        }
    }
}

impl Model for Locked {
    fn read(&mut self, cx: &mut Cx, w: usize, t: f64) {
        self.request(cx, w, Op::Read, t);
    }

    fn event(&mut self, cx: &mut Cx, w: usize, t: f64, kind: Kind) {
        match kind {
            Kind::ComputeDone => {
                if cx.loss_ok(w, t) {
                    self.request(cx, w, Op::Update, t);
                }
            }
            Kind::LockRelease { then_done } => {
                if then_done {
                    let (holder, staleness, eta) =
                        self.pending.take().expect("an update holds the lock");
                    debug_assert_eq!(holder, w);
                    cx.done(
                        w,
                        t,
                        Outcome {
                            applied: true,
                            dropped: false,
                            staleness,
                            attempts: 1,
                            eta,
                        },
                    );
                }
                self.release(cx, t);
            }
            other => unreachable!("lock-based AsyncSGD has no {other:?} event"),
        }
    }

    fn snapshot(&self, out: &mut [f32]) -> u64 {
        out.copy_from_slice(&self.theta);
        self.seq
    }

    fn seq(&self) -> u64 {
        self.seq
    }

    /// θ and one private copy per worker, as `pvec::Locked` holds.
    fn vectors(&self) -> VectorStats {
        let n = 1 + self.workers;
        VectorStats { live: n, peak: n }
    }

    fn observed(&self, end: f64, r: &mut SimulationReport) {
        let mut area = self.queued_area;
        area += self.waiting.len() as f64 * (end - self.queued_since);
        r.lock_queue_mean = Some(area / end.max(1e-300));
    }

    fn into_theta(self) -> Vec<f32> {
        self.theta
    }
}
