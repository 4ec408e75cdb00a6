//! Will a run fit in this machine's memory? An estimate made before θ is allocated, so that an
//! impossible size is refused at once instead of growing the process until the OS kills it.

use crate::config::{Algorithm, Config};
use crate::TrainError;
use nn::{Dataset, Network};

/// Bytes a run of `cfg` on `net` will allocate besides the data sets: the shared state's
/// parameter vectors (Leashed ≤ 2m + 2), every worker's gradient (and momentum) vector and
/// working memory, the evaluator's θ copy and working memory, and the AIN's retained
/// gradients.
pub fn estimate_bytes(cfg: &Config, net: &Network) -> u128 {
    let d = net.num_params() as u128;
    let m = cfg.threads as u128;
    let shared = match cfg.algorithm {
        Algorithm::Leashed => 2 * m + 2,
        Algorithm::Sync => 2 + m,
        Algorithm::Seq | Algorithm::Async | Algorithm::Hogwild => 1,
    };
    let per_worker = 1 + u128::from(cfg.momentum > 0.0) + u128::from(cfg.ain || cfg.elastic);
    // θ0, the evaluator's copy and the final snapshot.
    let vectors = shared + m * per_worker + 3;
    // A scratch holds each layer's output, the layout conversions and three gradient buffers
    // of the widest activation, per sample.
    let per_sample: u128 = net
        .layers()
        .iter()
        .map(|l| 2 * l.output_shape().len() as u128)
        .sum::<u128>()
        + 3 * net
            .layers()
            .iter()
            .map(|l| l.output_shape().len().max(l.input_shape().len()) as u128)
            .max()
            .unwrap_or(0);
    let scratch = per_sample * 4 * (m * cfg.batch as u128 + 500);
    vectors * d * 4 + scratch
}

/// Bytes this machine can still give (Linux `MemAvailable`), if it says.
pub fn available_bytes() -> Option<u128> {
    let s = std::fs::read_to_string("/proc/meminfo").ok()?;
    let l = s.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: u128 = l.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Refuse a run whose estimate exceeds 90 % of the available memory.
pub fn check_memory(
    cfg: &Config,
    net: &Network,
    train: &Dataset,
    test: &Dataset,
) -> Result<(), TrainError> {
    let need = estimate_bytes(cfg, net);
    let Some(have) = available_bytes() else {
        return Ok(());
    };
    if need * 10 > have * 9 {
        let gib = |b: u128| b as f64 / (1u128 << 30) as f64;
        let data = (train.images.len() + test.images.len()) as u128 * 4;
        return Err(TrainError::TooLarge(format!(
            "`arch` {} with d = {} parameters ({:.2} GiB per vector) and {} `threads` needs \
             about {:.1} GiB beside the {:.2} GiB of data, but this machine has {:.1} GiB \
             available",
            cfg.arch,
            net.num_params(),
            gib(net.num_params() as u128 * 4),
            cfg.threads,
            gib(need),
            gib(data),
            gib(have)
        )));
    }
    Ok(())
}
