//! What a worker tells the coordinator: one small record per update (and, for the AIN, per
//! read and per park/resume), in the worker's own order.

use std::sync::Arc;

/// One event of one worker.
pub(crate) struct Rec {
    /// When it happened, in seconds from the run's time zero, stamped by whoever ran the worker
    /// (real seconds for threads, virtual seconds for a simulator): the coordinator may be busy
    /// when it happens.
    pub at: f64,
    pub worker: usize,
    pub event: Event,
}

pub(crate) enum Event {
    /// An update call finished.
    Update {
        loss: f32,
        applied: bool,
        dropped: bool,
        ain: Option<AinSubmission>,
    },
    /// The worker read state `seq` (AIN: it is a viewer of θ_seq).
    View(u64),
    /// The worker parked (elastic) / resumed, reading states ≥ the given one.
    Park,
    Resume(u64),
}

/// An applied update, as the AIN tracker needs it (Def. D.4.2): which state it was computed on,
/// which state it produced, the direction submitted and the step size used.
pub(crate) struct AinSubmission {
    pub read: u64,
    pub applied_at: u64,
    pub direction: Arc<Vec<f32>>,
    pub eta: f32,
}
