use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// One asynchrony-induced-noise measurement: ‖ξ_j‖ = η_j‖∇L(v_j) − ∇L(θ_j)‖ (Def. D.4.2) for
/// state j, where ∇L(v_j) is the (stale) update applied at θ_j with step η_j, and ∇L(θ_j) the
/// gradient of the first worker that viewed θ_j and submitted (Statement D.4.3).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Noise {
    pub state: u64,
    /// η_j‖∇L(v_j) − ∇L(θ_j)‖ (Def. D.4.2).
    pub norm: f64,
    /// ‖∇L(v_j) − ∇L(θ_j)‖ without η: what Alg. D.4 computes (ξ ← ‖δ_i − δ_{i−τ_i}‖) and
    /// Table D.2 reports.
    pub distance: f64,
}

/// Exact, real-time AIN bookkeeping (Alg. D.1/D.4), keyed by state index.
///
/// Workers report *views* (worker w read state j) and *submissions* (w's gradient, computed on
/// state `read`, was applied at state `applied` with step η). A worker is either *viewing* one
/// state (it reported a view and has not submitted: it needs only the update applied at that
/// state) or *between views* with a lower bound on what it reads next (reads are monotone, P3,
/// and after publishing at state i its next read is at least i + 1). The update applied at state
/// i is retained only while some active worker views θ_i or is between views with a bound ≤ i,
/// and is released at once otherwise — also when the first viewer of θ_i submits and ξ_i is
/// computed. So retained updates number about one per active worker, plus those applied while a
/// worker is between its submission and its next view (more when it is descheduled there). If a viewer's submission arrives before the update applied at its state (possible
/// with lock-free strategies), its gradient waits for that update instead. The thesis keys by
/// arrival order, which is exact only when views and updates are serialised by a lock.
#[derive(Debug)]
pub struct AinTracker {
    /// Each worker's state (None: parked).
    mark: Vec<Option<Mark>>,
    /// Update applied at state i, with its step size.
    applied: BTreeMap<u64, (Arc<Vec<f32>>, f32)>,
    /// First viewer's gradient for state j, waiting for the update applied at j.
    pending: BTreeMap<u64, Arc<Vec<f32>>>,
    /// States whose ξ has been computed or whose first viewer has submitted.
    first_seen: BTreeSet<u64>,
    peak: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mark {
    /// Computing on state v.
    Viewing(u64),
    /// Between views: the next one is ≥ this.
    From(u64),
}

impl Mark {
    fn needs(self, i: u64) -> bool {
        match self {
            Mark::Viewing(v) => v == i,
            Mark::From(b) => b <= i,
        }
    }

    fn lowest(self) -> u64 {
        match self {
            Mark::Viewing(v) | Mark::From(v) => v,
        }
    }
}

fn distance(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| f64::from(x - y).powi(2))
        .sum::<f64>()
        .sqrt()
}

impl AinTracker {
    /// For `workers` workers, all active from state 0.
    pub fn new(workers: usize) -> Self {
        AinTracker {
            mark: vec![Some(Mark::From(0)); workers],
            applied: BTreeMap::new(),
            pending: BTreeMap::new(),
            first_seen: BTreeSet::new(),
            peak: 0,
        }
    }

    /// Worker `w` read state `j`.
    pub fn view(&mut self, w: usize, j: u64) {
        self.mark[w] = Some(Mark::Viewing(j));
        self.release();
    }

    /// Worker `w` was parked: it views nothing until [`AinTracker::activate`].
    pub fn deactivate(&mut self, w: usize) {
        self.mark[w] = None;
        self.release();
    }

    /// Worker `w` resumes; it will read a state ≥ `from`.
    pub fn activate(&mut self, w: usize, from: u64) {
        self.mark[w] = Some(Mark::From(from));
    }

    /// Worker `w` submitted `grad`, computed on state `read`, applied at state `applied` with
    /// step `eta` (τ = applied − read). Returns the noise measurements this completes.
    pub fn submit(
        &mut self,
        w: usize,
        read: u64,
        applied: u64,
        grad: Arc<Vec<f32>>,
        eta: f32,
    ) -> Vec<Noise> {
        let mut out = Vec::new();
        // 1. This is the update applied at θ_applied: complete a waiting first viewer, or keep it.
        if let Some(g) = self.pending.remove(&applied) {
            let d = distance(&grad, &g);
            out.push(Noise {
                state: applied,
                norm: f64::from(eta) * d,
                distance: d,
            });
        } else {
            self.applied.insert(applied, (grad.clone(), eta));
        }
        // 2. This is a viewer of θ_read submitting: the first one measures ξ_read.
        if self.first_seen.insert(read) {
            match self.applied.remove(&read) {
                Some((delta, eta_read)) => {
                    let d = distance(&delta, &grad);
                    out.push(Noise {
                        state: read,
                        norm: f64::from(eta_read) * d,
                        distance: d,
                    })
                }
                None => {
                    self.pending.insert(read, grad);
                }
            }
        } // 3. After publishing at `applied`, w reads states > applied (and never goes back).
        if let Some(mark) = self.mark[w] {
            self.mark[w] = Some(Mark::From(mark.lowest().max(applied + 1)));
        }
        self.release();
        out
    }

    /// Release every update no active worker can still need.
    fn release(&mut self) {
        let marks: Vec<Mark> = self.mark.iter().flatten().copied().collect();
        let min_bound = marks.iter().map(|m| m.lowest()).min().unwrap_or(u64::MAX);
        self.applied
            .retain(|&i, _| marks.iter().any(|m| m.needs(i)));
        // First viewers below every bound are settled; keep the set small.
        while self
            .first_seen
            .first()
            .is_some_and(|&j| j < min_bound && !self.pending.contains_key(&j))
        {
            self.first_seen.pop_first();
        }
        self.peak = self.peak.max(self.applied.len() + self.pending.len());
    }

    /// Gradients retained now (updates waiting for a viewer, and viewers waiting for an update).
    pub fn retained(&self) -> usize {
        self.applied.len() + self.pending.len()
    }

    /// The most gradients ever retained at once.
    pub fn peak_retained(&self) -> usize {
        self.peak
    }
}
