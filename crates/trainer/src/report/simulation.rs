//! What the simulated executor adds to a report: its clocks, the duration model it drew from,
//! and what it observed of the algorithm's internals (retry-loop occupancy, lock queue).

use serde::{Deserialize, Serialize};

/// A simulated run (`executor: "simulated"`): the report's `seconds` are virtual seconds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SimulationReport {
    /// Virtual seconds from time zero to the last worker's end (the report's `seconds`).
    pub virtual_seconds: f64,
    /// Host seconds the simulation took, calibration included (the one field that differs
    /// between two runs of the same configuration, with `memory.peak_rss_bytes`).
    pub host_seconds: f64,
    /// The duration model the run drew from.
    pub timing: TimingReport,
    /// Events processed.
    pub events: u64,
    /// θ-sized buffers the simulator itself held at most (θ, gradients, velocities); the
    /// report's `memory.peak_live_vectors` is what the modelled strategy would hold.
    pub host_vectors: usize,
    /// Leashed-SGD: time-averaged number of workers in the LAU-SPC retry loop (n in B.4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_loop_mean: Option<f64>,
    /// Lock-based: time-averaged number of workers waiting for the lock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lock_queue_mean: Option<f64>,
    /// HOGWILD!: reads that overlapped at least one write (and so may mix states).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overlapped_reads: Option<u64>,
}

/// The T_c / T_u / T_r model of a simulated run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TimingReport {
    /// `measured`, `constant`, `lognormal` or `empirical` (`config.sim_timing`).
    pub source: String,
    /// Gradient time T_c(1), milliseconds.
    pub tc_ms: DistributionReport,
    /// Update (publish) service time T_u, microseconds.
    pub tu_us: DistributionReport,
    /// Read time T_r, microseconds (0 for Leashed-SGD and SYNC, which read without copying).
    pub tr_us: DistributionReport,
    /// T_c(m) = T_c(1)·(1 + κ(m − 1)).
    pub kappa: f64,
}

/// One duration distribution.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DistributionReport {
    /// `constant`, `lognormal` or `empirical`.
    pub kind: String,
    pub mean: f64,
    /// Log-normal: the standard deviation of ln T.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spread: Option<f64>,
    /// Empirical: the samples drawn from (for `measured`, the host's timings).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub samples: Vec<f64>,
}
