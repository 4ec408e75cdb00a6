//! # trainer — parallel SGD end to end, measured the way the thesis measures it
//!
//! The five algorithms of Table 1.3 — [`Algorithm::Seq`], [`Algorithm::Sync`] (averaged
//! gradients, effective batch m·b), [`Algorithm::Async`] (lock-based, Alg. B.2),
//! [`Algorithm::Hogwild`] and [`Algorithm::Leashed`] (Alg. B.3, with a persistence bound) — over
//! any `nn` network and data set, with any `stepsize` policy driven by each update's actual
//! staleness, optional momentum, and the measurements of §B.5, §C.6 and §D.6: L(θ0), loss over
//! time, ε-times, updates per second, staleness and publish-attempt histograms, T_c and T_u,
//! dropped updates, peak live vectors and RSS, and the thesis' failure classes (`diverged`,
//! `crashed`). [`train`] returns a [`Report`] that the binary writes as JSON and plots.
//!
//! ```
//! use nn::{arch, Dataset, Init, Shape};
//! use std::sync::atomic::AtomicBool;
//! use trainer::{train, Algorithm, Config, Job, Outcome, Quiet};
//!
//! // A toy 2-class problem: the label says whether the first feature is positive.
//! let images: Vec<f32> = (0..4000).map(|i| ((i * 37 % 17) as f32 - 8.0) / 8.0).collect();
//! let labels: Vec<u8> = images.chunks(2).map(|x| u8::from(x[0] > 0.0)).collect();
//! let data = Dataset { images, labels, shape: Shape::flat(2), classes: 2 };
//! let net = arch::mlp(Shape::flat(2), 1, 8, 2).unwrap();
//! let config = Config {
//!     algorithm: Algorithm::Leashed,
//!     threads: 2,
//!     arch: nn::Arch::Mlp { hidden_layers: 1, units: 8 },
//!     batch: 16,
//!     eta: 0.5,
//!     epochs: 20.0,
//!     eval_subset: 500,
//!     ..Config::default()
//! };
//! let stop = AtomicBool::new(false);
//! let job = Job { config: &config, net: &net, train: &data, test: &data, source: "toy".into(), command: vec![], interrupt: &stop };
//! let report = train(&job, net.init_params(Init::He, 1), &mut Quiet).unwrap();
//! assert_eq!(report.outcome, Outcome::Completed);
//! assert_eq!(report.staleness.total, report.updates.applied);
//! assert!(report.final_eval.test_accuracy > 0.9);
//! ```
#![forbid(unsafe_code)]

pub mod config;
mod data;
mod memory;
#[cfg(feature = "plot")]
pub mod plot;
pub mod report;
mod run;

pub use config::{Algorithm, Config, EpsBy, ExecutorKind, InitKind, PolicyKind, SimTiming};
pub use data::{load_data, DataFormat};
pub use memory::{available_bytes, check_memory, estimate_bytes};
pub use report::{Outcome, Report};
/// The MPI executor's process roles (feature `mpi`): [`mpi::Session`], [`mpi::work`].
#[cfg(feature = "mpi")]
pub use run::mpi;
pub use run::{train, Job, Observer, Progress, Quiet};

use nn::{Dataset, Network};

/// Why a run could not start.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    TooLarge(String),
    #[error("batch size {batch} is larger than the training set ({len} samples)")]
    BatchTooLarge { batch: usize, len: usize },
    #[error("the data set has {data} classes and {data_shape} inputs, the network expects {net} classes and {net_shape} inputs")]
    Incompatible {
        data: usize,
        data_shape: nn::Shape,
        net: usize,
        net_shape: nn::Shape,
    },
}

/// Check a data set fits a network and a batch size.
pub fn check_compatible(net: &Network, data: &Dataset, batch: usize) -> Result<(), TrainError> {
    if batch == 0 {
        return Err(TrainError::Invalid("batch size must be positive".into()));
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
