//! Leashed-SGD (Alg. B.3) in virtual time. A read returns the latest published vector (no copy,
//! consistent). After its gradient a worker enters the LAU-SPC retry loop: an attempt acquires
//! the latest vector (state L), computes `latest − η(τ)·g` into its private vector (T_u), and
//! tries the CAS at the end; the CAS fails if another publish landed meanwhile, and the worker
//! retries (η(τ) re-evaluated with the new τ) up to the persistence bound T_p, past which the
//! update is given up (`not_published`). τ = L − (the read's state), exactly `pvec::Leashed`'s.
//!
//! The host keeps one θ: a candidate is only ever published if no publish landed since its
//! attempt began, so the latest vector is still its source and the CAS can apply
//! `θ ← θ − η·g` in place (bit for bit `pvec::kernels::copy_axpy`'s result). The vectors the
//! real arena would hold are counted all the same (`peak_live_vectors`): the latest, every
//! replaced one a reader or an attempt still holds, and each worker's private slot.

use super::queue::Kind;
use super::{Cx, Model, Outcome};
use crate::report::SimulationReport;
use pvec::{Persistence, VectorStats};
use std::collections::BTreeMap;

#[derive(Default, Clone, Copy)]
struct Slot {
    attempts: u32,
    staleness: u64,
    /// Holds a private (popped, unpublished) vector: from its first update until a publish.
    private: bool,
}

pub(super) struct Leashed {
    theta: Vec<f32>,
    seq: u64,
    persistence: Persistence,
    per: Vec<Slot>,
    /// Acquisitions held, by the state they hold.
    held: BTreeMap<u64, u32>,
    privates: usize,
    peak: usize,
    /// Workers in the retry loop, ∫ n dt, and when n last changed.
    in_loop: usize,
    loop_area: f64,
    loop_since: f64,
}

impl Leashed {
    pub fn new(theta: Vec<f32>, workers: usize, persistence: Persistence) -> Self {
        Leashed {
            theta,
            seq: 0,
            persistence,
            per: vec![Slot::default(); workers],
            held: BTreeMap::new(),
            privates: 0,
            peak: 1,
            in_loop: 0,
            loop_area: 0.0,
            loop_since: 0.0,
        }
    }

    /// The latest vector, the replaced ones still held, the private ones.
    fn live(&self) -> usize {
        let stale_held = self.held.len() - usize::from(self.held.contains_key(&self.seq));
        1 + stale_held + self.privates
    }

    fn note_peak(&mut self) {
        self.peak = self.peak.max(self.live());
    }

    fn hold(&mut self, seq: u64) {
        *self.held.entry(seq).or_insert(0) += 1;
        self.note_peak();
    }

    fn unhold(&mut self, seq: u64) {
        let n = self.held.get_mut(&seq).expect("a held state");
        *n -= 1;
        if *n == 0 {
            self.held.remove(&seq);
        }
    }

    fn enter_loop(&mut self, t: f64) {
        self.loop_area += self.in_loop as f64 * (t - self.loop_since);
        self.loop_since = t;
        self.in_loop += 1;
    }

    fn leave_loop(&mut self, t: f64) {
        self.loop_area += self.in_loop as f64 * (t - self.loop_since);
        self.loop_since = t;
        self.in_loop -= 1;
    }

    /// One LAU-SPC attempt of worker `w` at `t`.
    fn attempt(&mut self, cx: &mut Cx, w: usize, t: f64) {
        let s = &mut self.per[w];
        s.attempts += 1;
        let latest = self.seq;
        s.staleness = latest.saturating_sub(cx.workers[w].read_seq);
        let (staleness, attempts) = (s.staleness, s.attempts);
        let Some(eta) = cx.eta(staleness) else {
            self.leave_loop(t);
            let o = Outcome {
                applied: false,
                dropped: true,
                staleness,
                attempts,
                eta: 0.0,
            };
            cx.done(w, t, o);
            return;
        };
        self.hold(latest);
        let tu = cx.draw_tu(w);
        cx.schedule(
            t + tu,
            w,
            Kind::Cas {
                expect: latest,
                eta,
            },
        );
    }
}

impl Model for Leashed {
    fn read(&mut self, cx: &mut Cx, w: usize, t: f64) {
        self.hold(self.seq);
        cx.compute(w, t, &self.theta, self.seq, None);
        let tr = cx.draw_tr(w);
        let tc = cx.draw_tc(w);
        cx.schedule(t + tr + tc, w, Kind::ComputeDone);
    }

    fn event(&mut self, cx: &mut Cx, w: usize, t: f64, kind: Kind) {
        match kind {
            Kind::ComputeDone => {
                self.unhold(cx.workers[w].read_seq);
                if !cx.loss_ok(w, t) {
                    return;
                }
                if !self.per[w].private {
                    self.per[w].private = true;
                    self.privates += 1;
                    self.note_peak();
                }
                self.per[w].attempts = 0;
                self.enter_loop(t);
                self.attempt(cx, w, t);
            }
            Kind::Cas { expect, eta } => {
                self.unhold(expect);
                let s = self.per[w];
                if self.seq == expect {
                    pvec::kernels::axpy(&mut self.theta, cx.workers[w].w.last_direction(), eta);
                    self.seq += 1;
                    self.per[w].private = false;
                    self.privates -= 1;
                    self.leave_loop(t);
                    let o = Outcome {
                        applied: true,
                        dropped: false,
                        staleness: s.staleness,
                        attempts: s.attempts,
                        eta,
                    };
                    cx.done(w, t, o);
                    return;
                }
                let give_up = match self.persistence {
                    Persistence::Bounded(tp) => s.attempts > tp,
                    Persistence::Unbounded => false,
                };
                if give_up {
                    // The private vector stays with the worker for its next update.
                    self.leave_loop(t);
                    let o = Outcome {
                        applied: false,
                        dropped: false,
                        staleness: s.staleness,
                        attempts: s.attempts,
                        eta,
                    };
                    cx.done(w, t, o);
                } else {
                    self.attempt(cx, w, t);
                }
            }
            other => unreachable!("Leashed-SGD has no {other:?} event"),
        }
    }

    fn snapshot(&self, out: &mut [f32]) -> u64 {
        out.copy_from_slice(&self.theta);
        self.seq
    }

    fn seq(&self) -> u64 {
        self.seq
    }

    fn vectors(&self) -> VectorStats {
        VectorStats {
            live: self.live(),
            peak: self.peak,
        }
    }

    fn observed(&self, end: f64, r: &mut SimulationReport) {
        let area = self.loop_area + self.in_loop as f64 * (end - self.loop_since);
        r.retry_loop_mean = Some(area / end.max(1e-300));
    }

    fn into_theta(self) -> Vec<f32> {
        self.theta
    }
}
