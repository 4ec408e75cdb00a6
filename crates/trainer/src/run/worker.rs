//! What one worker does per update, whoever runs it: claim a mini-batch, compute the gradient
//! on the θ it was given (timed: T_c), and turn it into the direction it submits (momentum,
//! eq. 1.3). Publishing (and its T_u) belongs to the shared-state strategy the executor drives.

use super::context::Shared;
use nn::{BatchBuf, EpochCache, Scratch};
use std::time::Instant;

/// Sampled durations: keeps at most `CAP` values by thinning to every other one when full.
pub(crate) struct Samples {
    v: Vec<f64>,
    stride: u64,
    seen: u64,
}

const CAP: usize = 20_000;

impl Samples {
    pub fn new() -> Self {
        Samples {
            v: Vec::new(),
            stride: 1,
            seen: 0,
        }
    }

    pub fn push(&mut self, x: f64) {
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

    pub fn into_vec(self) -> Vec<f64> {
        self.v
    }
}

/// Per-worker timing samples, merged into the report.
#[derive(Default)]
pub(crate) struct WorkerStats {
    /// T_c, milliseconds.
    pub tc_ms: Vec<f64>,
    /// T_u, microseconds.
    pub tu_us: Vec<f64>,
    /// Seconds from the worker's release to its end.
    pub active_s: f64,
    /// Seconds it waited to hand events to the coordinator.
    pub blocked_s: f64,
}

/// A gradient's working memory: the network's scratch, the gathered mini-batch and the
/// epoch's permutation. One per thread that computes gradients; a simulator's virtual workers
/// take turns with one ([`Worker::attach`]).
#[derive(Default)]
pub(crate) struct Workspace {
    scratch: Scratch,
    buf: BatchBuf,
    cache: EpochCache,
}

impl Workspace {
    pub fn new(shared: &Shared) -> Self {
        Workspace {
            scratch: shared.net.scratch(shared.cfg.batch),
            buf: BatchBuf::default(),
            cache: EpochCache::default(),
        }
    }
}

/// One worker's working memory and per-update computation.
pub(crate) struct Worker<'s, 'a> {
    shared: &'s Shared<'a>,
    ws: Workspace,
    /// Cache-line aligned: it is the C of every weight-gradient product.
    grad: nn::AlignedVec,
    velocity: Vec<f32>,
    mu: f32,
    idx: Vec<u32>,
    tc: Samples,
    tu: Samples,
}

impl<'s, 'a> Worker<'s, 'a> {
    /// A worker for mini-batches of `batch` samples (its own share of a SYNC step, or a whole
    /// mini-batch).
    pub fn new(shared: &'s Shared<'a>) -> Self {
        Self::with_workspace(shared, Workspace::new(shared))
    }

    /// A worker that computes with `ws` (an empty one, [`Workspace::default`], until one is
    /// attached).
    pub fn with_workspace(shared: &'s Shared<'a>, ws: Workspace) -> Self {
        let (b, d) = (shared.cfg.batch, shared.net.num_params());
        let mu = shared.cfg.momentum as f32;
        Worker {
            shared,
            ws,
            grad: nn::AlignedVec::zeroed(d),
            velocity: if mu > 0.0 { vec![0.0; d] } else { Vec::new() },
            mu,
            idx: Vec::with_capacity(b),
            tc: Samples::new(),
            tu: Samples::new(),
        }
    }

    /// Compute with `ws` from now on; returns the workspace held so far.
    pub fn attach(&mut self, ws: Workspace) -> Workspace {
        std::mem::replace(&mut self.ws, ws)
    }

    /// Claim the next mini-batch from the shared cursor and gather it; `false` when the data
    /// budget is used up.
    pub fn next_batch(&mut self) -> bool {
        if !self.claim() {
            return false;
        }
        self.gather();
        true
    }

    /// Claim the next mini-batch's sample indices (gathered later by [`Worker::gather`]);
    /// `false` when the data budget is used up.
    pub fn claim(&mut self) -> bool {
        let b = self.shared.cfg.batch;
        self.shared
            .cursor
            .claim(b, &mut self.ws.cache, &mut self.idx)
            .is_some()
    }

    /// Gather the claimed mini-batch into the workspace.
    pub fn gather(&mut self) {
        self.shared.train.gather(&self.idx, &mut self.ws.buf);
    }

    /// Gather the given sample indices (a SYNC leader's claim) as this worker's mini-batch.
    pub fn take_batch(&mut self, indices: &[u32]) {
        self.shared.train.gather(indices, &mut self.ws.buf);
    }

    /// The mini-batch loss at `theta`, leaving ∇L in the gradient buffer; timed as T_c.
    pub fn gradient(&mut self, theta: &[f32]) -> f32 {
        let t0 = Instant::now();
        let loss = self.compute(theta);
        self.tc.push(t0.elapsed().as_secs_f64() * 1e3);
        loss
    }

    /// [`Worker::gradient`] without timing it (a simulator records virtual T_c instead).
    pub fn compute(&mut self, theta: &[f32]) -> f32 {
        let ws = &mut self.ws;
        self.shared
            .net
            .gradient(theta, ws.buf.as_batch(), &mut ws.scratch, &mut self.grad)
    }

    /// Record a gradient's duration T_c (virtual, for a simulator).
    pub fn record_compute_time(&mut self, tc: std::time::Duration) {
        self.tc.push(tc.as_secs_f64() * 1e3);
    }

    /// The gradient of the last [`Worker::gradient`] call.
    pub fn grad(&self) -> &[f32] {
        &self.grad
    }

    /// The direction to submit: the gradient, or with momentum (eq. 1.3, per worker)
    /// v ← μv + g.
    pub fn direction(&mut self) -> &[f32] {
        Self::momentum(self.mu, &mut self.velocity, &self.grad)
    }

    /// The direction [`Worker::direction`] last returned (unchanged until the next call).
    pub fn last_direction(&self) -> &[f32] {
        if self.mu > 0.0 {
            &self.velocity
        } else {
            &self.grad
        }
    }

    /// Momentum applied to `g` with this worker's velocity (a SYNC leader's averaged gradient).
    pub fn direction_of<'g>(&'g mut self, g: &'g [f32]) -> &'g [f32] {
        Self::momentum(self.mu, &mut self.velocity, g)
    }

    fn momentum<'g>(mu: f32, velocity: &'g mut [f32], g: &'g [f32]) -> &'g [f32] {
        if mu > 0.0 {
            velocity
                .iter_mut()
                .zip(g)
                .for_each(|(v, g)| *v = mu * *v + g);
            velocity
        } else {
            g
        }
    }

    /// Record one update's duration T_u.
    pub fn record_update_time(&mut self, tu: std::time::Duration) {
        self.tu.push(tu.as_secs_f64() * 1e6);
    }

    /// The worker's samples, after `active` seconds of which it spent `blocked` handing events
    /// over.
    pub fn finish(self, active: f64, blocked: std::time::Duration) -> WorkerStats {
        WorkerStats {
            tc_ms: self.tc.into_vec(),
            tu_us: self.tu.into_vec(),
            active_s: active,
            blocked_s: blocked.as_secs_f64(),
        }
    }
}
