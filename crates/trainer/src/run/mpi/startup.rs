//! Start-up agreement: every rank describes what it is about to run — the network, the data's
//! shape, the configuration and θ0 — and rank 0 refuses to start unless all describe the same
//! run. Without it a rank given other options (another `--arch`, another data set) would send
//! gradients of another shape, or of another model, and corrupt θ silently.

use super::wire::hash_f32;
use crate::config::Config;
use crate::TrainError;
use mpi::collective::Root;
use mpi::topology::{Communicator, SimpleCommunicator};
use nn::{Dataset, Network};

/// What a rank's run is, field by field (the names say which differs).
const FIELDS: [&str; 9] = [
    "start-up checks (it refused its options: see its own message)",
    "network (parameter count d)",
    "network (architecture)",
    "data shape (inputs per sample)",
    "data (classes)",
    "data (training samples)",
    "data (test samples, labels)",
    "configuration (options)",
    "initial θ0 (seed and initialisation)",
];
/// Field 0 of a rank whose own checks passed (0 when they failed).
pub const PROTOCOL: u64 = 1;

fn hash<T: std::hash::Hash + ?Sized>(x: &T) -> u64 {
    use std::hash::Hasher;
    let mut h = std::hash::DefaultHasher::new();
    x.hash(&mut h);
    h.finish()
}

/// This rank's description of its run.
pub fn fingerprint(
    cfg: &Config,
    net: &Network,
    train: &Dataset,
    test: &Dataset,
    theta0: &[f32],
) -> [u64; 9] {
    let config = serde_json::to_string(cfg).unwrap_or_default();
    [
        PROTOCOL,
        net.num_params() as u64,
        hash(&cfg.arch.to_string()),
        train.shape.len() as u64,
        train.classes as u64,
        train.len() as u64 ^ hash(&train.labels[..]),
        test.len() as u64 ^ hash(&test.labels[..]),
        hash(&config),
        hash_f32(theta0),
    ]
}

/// Gather every rank's fingerprint at rank 0 and agree: all ranks return the same verdict, an
/// error naming the first rank and field that differ from rank 0's.
pub fn agree(world: &SimpleCommunicator, mine: [u64; 9]) -> Result<(), TrainError> {
    let root = world.process_at_rank(0);
    let size = world.size() as usize;
    // verdict: [0] or [1, rank, field, rank 0's value, its value]
    let mut verdict = [0u64; 5];
    if world.rank() == 0 {
        let mut all = vec![0u64; 9 * size];
        root.gather_into_root(&mine[..], &mut all[..]);
        'ranks: for r in 1..size {
            for f in 0..9 {
                if all[9 * r + f] != mine[f] {
                    verdict = [1, r as u64, f as u64, mine[f], all[9 * r + f]];
                    break 'ranks;
                }
            }
        }
    } else {
        root.gather_into(&mine[..]);
    }
    root.broadcast_into(&mut verdict[..]);
    if verdict[0] == 0 {
        return Ok(());
    }
    let (r, f) = (verdict[1], verdict[2] as usize);
    let detail = if f == 1 || (3..=4).contains(&f) {
        format!(" ({} on rank 0, {} on rank {r})", verdict[3], verdict[4])
    } else {
        String::new()
    };
    Err(TrainError::Invalid(format!(
        "rank {r} was started with a different run than rank 0: its {} differs{detail}; every \
         rank must be given the same options and data",
        FIELDS[f]
    )))
}
