//! The report's `mpi` section: what a parameter-server run over MPI (Alg. A.1) measures beyond
//! the threaded trainer's fields — per rank, on the wire, and the server's cost per update.

use super::DurationSummary;
use serde::{Deserialize, Serialize};

/// A run of the MPI executor (`executor = "mpi"`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MpiReport {
    /// The MPI library as it names itself (`MPI_Get_library_version`, first line).
    pub library: String,
    /// Processes in the job: the parameter server (rank 0) and the workers.
    pub ranks: usize,
    pub workers: usize,
    /// Bytes of one worker → server message (header + gradient) and of one server → worker
    /// message (header + θ); SYNC: of one allreduce contribution.
    pub gradient_message_bytes: u64,
    pub state_message_bytes: u64,
    /// Bytes the server received and sent (SYNC: allreduce contributions, counted once per
    /// rank and step).
    pub bytes_received: u64,
    pub bytes_sent: u64,
    /// Per update at the server: receiving the gradient, applying it with η(τ), copying θ into
    /// a reply buffer and posting its send (microseconds, sampled; the server does not wait for
    /// the worker to take the reply). Async only.
    pub server: ServerCost,
    /// A worker's round trip: from sending its gradient to holding the new θ (microseconds,
    /// sampled, all workers together). SYNC: one allreduce.
    pub round_trip_us: DurationSummary,
    /// SYNC keeps θ replicated on every rank: whether every replica ended bit-identical to the
    /// server's (always true for async, where only the server holds θ).
    pub replicas_agree: bool,
    /// Each worker rank, in rank order.
    pub per_rank: Vec<RankReport>,
}

/// The server's time per update, by phase.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ServerCost {
    pub receive_us: DurationSummary,
    pub apply_us: DurationSummary,
    pub send_us: DurationSummary,
    /// receive + apply + send of one update.
    pub total_us: DurationSummary,
    /// Seconds the server thread found no message waiting (idle).
    pub idle_seconds: f64,
    /// Seconds it waited for replies still in flight, at the end of each pass over its reply
    /// buffers (not part of any update's cost; 0 for SYNC).
    #[serde(default)]
    pub reply_wait_seconds: f64,
    /// Replies owed at a pass's end (a gradient applied while no reply buffer was free): from
    /// the gradient's receive to its reply's send; `samples` is how many there were.
    #[serde(default)]
    pub owed_us: DurationSummary,
}

/// One worker rank.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RankReport {
    pub rank: usize,
    /// Gradients it sent (SYNC: steps it contributed to).
    pub sent: u64,
    /// Of those, applied by the server.
    pub applied: u64,
    /// Dropped by the step-size policy (τ above `drop_above`).
    pub dropped: u64,
    /// Arrived after the run had stopped (not applied, not counted as updates).
    pub discarded: u64,
    /// Mean τ of its applied updates.
    #[serde(deserialize_with = "super::nan_if_null")]
    pub mean_staleness: f64,
    /// Its gradient computation time T_c (milliseconds, sampled).
    pub tc_ms: DurationSummary,
    pub round_trip_us: DurationSummary,
    /// Seconds from its release to its end.
    pub active_seconds: f64,
}
