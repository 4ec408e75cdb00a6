//! # trainer — training loops for parallel SGD
//!
//! Today: sequential mini-batch SGD ([`train_seq`]) over the `nn` crate, used by the `trainer`
//! binary. Issue #6 adds the synchronous, lock-based asynchronous, HOGWILD! and Leashed-SGD loops,
//! step-size policies, the thesis' metrics, JSON reports and plots.
//!
//! ```
//! use nn::{arch, Dataset, Init, Shape};
//! use trainer::{train_seq, SeqConfig};
//! // A toy 2-class problem: the label is whether the first feature is positive.
//! let images: Vec<f32> = (0..200).map(|i| ((i * 37 % 17) as f32 - 8.0) / 8.0).collect();
//! let labels: Vec<u8> = images.chunks(2).map(|x| u8::from(x[0] > 0.0)).collect();
//! let data = Dataset { images, labels, shape: Shape::flat(2), classes: 2 };
//! let net = arch::mlp(Shape::flat(2), 1, 8, 2).unwrap();
//! let mut theta = net.init_params(Init::He, 1);
//! let cfg = SeqConfig { batch: 10, eta: 0.5, epochs: 20.0, seed: 1, ..SeqConfig::default() };
//! let report = train_seq(&net, &mut theta, &data, &data, &cfg, |_| {}).unwrap();
//! assert!(report.final_accuracy > 0.9);
//! ```

use nn::{BatchBuf, BatchSampler, Dataset, Network, Shuffle};
use std::time::Instant;

/// Why a run could not start or had to stop.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error("batch size {batch} is larger than the training set ({len} samples)")]
    BatchTooLarge { batch: usize, len: usize },
    #[error("batch size must be positive")]
    ZeroBatch,
    #[error("the step size must be positive and finite, got {0}")]
    BadStepSize(f32),
    #[error("the data set has {data} classes / input {data_shape}, the network expects {net} / {net_shape}")]
    Incompatible {
        data: usize,
        data_shape: nn::Shape,
        net: usize,
        net_shape: nn::Shape,
    },
    #[error("crashed: non-finite loss {loss} at update {update}")]
    Crashed { update: u64, loss: f32 },
}

/// Sequential SGD settings.
#[derive(Clone, Debug)]
pub struct SeqConfig {
    pub batch: usize,
    pub eta: f32,
    pub epochs: f64,
    pub seed: u64,
    pub shuffle: Shuffle,
    /// Evaluate on the test set this many times per epoch.
    pub evals_per_epoch: usize,
}

impl Default for SeqConfig {
    fn default() -> Self {
        SeqConfig {
            batch: 128,
            eta: 0.05,
            epochs: 2.0,
            seed: 1,
            shuffle: Shuffle::EveryEpoch,
            evals_per_epoch: 1,
        }
    }
}

/// One evaluation point.
#[derive(Clone, Debug, PartialEq)]
pub struct EvalPoint {
    pub seconds: f64,
    pub updates: u64,
    pub epochs: f64,
    pub test_loss: f64,
    pub test_accuracy: f64,
}

/// The outcome of a run.
#[derive(Clone, Debug)]
pub struct SeqReport {
    pub initial_loss: f64,
    pub final_loss: f64,
    pub final_accuracy: f64,
    pub updates: u64,
    pub seconds: f64,
    pub evals: Vec<EvalPoint>,
}

/// Check a data set fits a network and a batch size.
pub fn check_compatible(net: &Network, data: &Dataset, batch: usize) -> Result<(), TrainError> {
    if batch == 0 {
        return Err(TrainError::ZeroBatch);
    }
    if batch > data.len() {
        return Err(TrainError::BatchTooLarge {
            batch,
            len: data.len(),
        });
    }
    if data.classes > net.classes() || data.shape != net.input_shape() {
        return Err(TrainError::Incompatible {
            data: data.classes,
            data_shape: data.shape,
            net: net.classes(),
            net_shape: net.input_shape(),
        });
    }
    Ok(())
}

/// Plain sequential mini-batch SGD, θ ← θ − η∇L_B(θ). Calls `progress` after each evaluation.
pub fn train_seq(
    net: &Network,
    theta: &mut [f32],
    train: &Dataset,
    test: &Dataset,
    cfg: &SeqConfig,
    mut progress: impl FnMut(&EvalPoint),
) -> Result<SeqReport, TrainError> {
    check_compatible(net, train, cfg.batch)?;
    check_compatible(net, test, 1)?;
    if !(cfg.eta > 0.0 && cfg.eta.is_finite()) {
        return Err(TrainError::BadStepSize(cfg.eta));
    }
    let mut eval_scratch = net.scratch(1000);
    let initial_loss = net.loss(theta, test.view(), &mut eval_scratch);
    let mut sampler = BatchSampler::new(train.len(), cfg.batch, cfg.shuffle, cfg.seed);
    let mut buf = BatchBuf::default();
    let mut scratch = net.scratch(cfg.batch);
    let mut grad = vec![0.0; net.num_params()];
    let per_epoch = (train.len() as f64 / cfg.batch as f64).max(1.0);
    let total = (cfg.epochs * per_epoch).round() as u64;
    let eval_every = ((per_epoch / cfg.evals_per_epoch.max(1) as f64).round() as u64).max(1);
    let start = Instant::now();
    let mut evals = Vec::new();
    for u in 1..=total {
        sampler.next_into(train, &mut buf);
        let loss = net.gradient(theta, buf.as_batch(), &mut scratch, &mut grad);
        if !loss.is_finite() {
            return Err(TrainError::Crashed { update: u, loss });
        }
        theta
            .iter_mut()
            .zip(&grad)
            .for_each(|(t, g)| *t -= cfg.eta * g);
        if u % eval_every == 0 || u == total {
            let (test_loss, test_accuracy) = net.evaluate(theta, test.view(), &mut eval_scratch);
            let p = EvalPoint {
                seconds: start.elapsed().as_secs_f64(),
                updates: u,
                epochs: sampler.epochs(),
                test_loss,
                test_accuracy,
            };
            progress(&p);
            evals.push(p);
        }
    }
    let (final_loss, final_accuracy) = net.evaluate(theta, test.view(), &mut eval_scratch);
    Ok(SeqReport {
        initial_loss,
        final_loss,
        final_accuracy,
        updates: total,
        seconds: start.elapsed().as_secs_f64(),
        evals,
    })
}
