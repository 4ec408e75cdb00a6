//! HOGWILD! in virtual time: component-wise, uncoordinated. A write of worker w starts at t0,
//! takes T_u and progresses linearly over θ's components: component k is written at
//! t0 + T_u·(k + 1)/d. A read at t (an instantaneous snapshot, after which the worker spends
//! T_r copying and T_c computing) sees, of every write in progress, exactly the components
//! written by t: inconsistency is modelled, not only staleness. τ is the update's position in
//! the global update counter minus the counter at its read, as `pvec::Hogwild` defines it
//! (the counter is incremented when a write starts).
//!
//! θ is kept as the memory would be: writes in progress are applied lazily, component range by
//! component range, whenever anyone looks (a read, a write's end, a snapshot), in the order the
//! writes started. Lost updates (two read-modify-writes of one component interleaving) are not
//! modelled: a component's write is instantaneous.

use super::queue::Kind;
use super::{Cx, Model, Outcome};
use crate::report::SimulationReport;
use pvec::VectorStats;

/// A write in progress.
struct Write {
    worker: usize,
    t0: f64,
    duration: f64,
    eta: f32,
    staleness: u64,
    /// Components applied so far.
    done: usize,
}

pub(super) struct Hogwild {
    theta: Vec<f32>,
    counter: u64,
    writes: Vec<Write>,
    overlapped: u64,
    workers: usize,
}

impl Hogwild {
    pub fn new(theta: Vec<f32>, workers: usize) -> Self {
        Hogwild {
            theta,
            counter: 0,
            writes: Vec::new(),
            overlapped: 0,
            workers,
        }
    }

    /// Apply every write in progress up to the components it has written by `t`.
    fn advance(&mut self, cx: &Cx, t: f64) {
        let d = self.theta.len();
        for wr in &mut self.writes {
            let target = if t >= wr.t0 + wr.duration {
                d
            } else {
                ((t - wr.t0) / wr.duration * d as f64)
                    .floor()
                    .clamp(0.0, d as f64) as usize
            };
            if target > wr.done {
                let g = &cx.workers[wr.worker].w.last_direction()[wr.done..target];
                let eta = wr.eta;
                for (x, &gi) in self.theta[wr.done..target].iter_mut().zip(g) {
                    *x -= eta * gi;
                }
                wr.done = target;
            }
        }
    }
}

impl Model for Hogwild {
    fn read(&mut self, cx: &mut Cx, w: usize, t: f64) {
        self.advance(cx, t);
        self.overlapped += u64::from(!self.writes.is_empty());
        cx.compute(w, t, &self.theta, self.counter, None);
        let tr = cx.draw_tr(w);
        let tc = cx.draw_tc(w);
        cx.schedule(t + tr + tc, w, Kind::ComputeDone);
    }

    fn event(&mut self, cx: &mut Cx, w: usize, t: f64, kind: Kind) {
        match kind {
            Kind::ComputeDone => {
                if !cx.loss_ok(w, t) {
                    return;
                }
                let staleness = self.counter.saturating_sub(cx.workers[w].read_seq);
                let Some(eta) = cx.eta(staleness) else {
                    let o = Outcome {
                        applied: false,
                        dropped: true,
                        staleness,
                        attempts: 1,
                        eta: 0.0,
                    };
                    cx.done(w, t, o);
                    return;
                };
                self.counter += 1;
                let duration = cx.draw_tu(w);
                self.writes.push(Write {
                    worker: w,
                    t0: t,
                    duration,
                    eta,
                    staleness,
                    done: 0,
                });
                cx.schedule(t + duration, w, Kind::WriteEnd);
            }
            Kind::WriteEnd => {
                self.advance(cx, t);
                let i = self
                    .writes
                    .iter()
                    .position(|wr| wr.worker == w)
                    .expect("a write in progress");
                let wr = self.writes.remove(i);
                debug_assert_eq!(wr.done, self.theta.len());
                let o = Outcome {
                    applied: true,
                    dropped: false,
                    staleness: wr.staleness,
                    attempts: 1,
                    eta: wr.eta,
                };
                cx.done(w, t, o);
            }
            other => unreachable!("HOGWILD! has no {other:?} event"),
        }
    }

    fn settle(&mut self, cx: &Cx, t: f64) {
        self.advance(cx, t);
    }

    fn snapshot(&self, out: &mut [f32]) -> u64 {
        out.copy_from_slice(&self.theta);
        self.counter
    }

    fn seq(&self) -> u64 {
        self.counter
    }

    /// θ and one private copy per worker, as `pvec::Hogwild` holds.
    fn vectors(&self) -> VectorStats {
        let n = 1 + self.workers;
        VectorStats { live: n, peak: n }
    }

    fn observed(&self, _end: f64, r: &mut SimulationReport) {
        r.overlapped_reads = Some(self.overlapped);
    }

    fn into_theta(self) -> Vec<f32> {
        self.theta
    }
}
