//! Where a run's data comes from: a directory of IDX files (MNIST, Fashion-MNIST) or CIFAR-10
//! binary batches, or the repository's bundled MNIST — one function for every front end.

use nn::{data, DataError, Dataset, Scale};
use std::path::{Path, PathBuf};

/// The file format of a data directory.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DataFormat {
    /// MNIST / Fashion-MNIST IDX files (plain or .gz).
    #[default]
    Idx,
    /// CIFAR-10 binary batches (data_batch_1..5.bin, test_batch.bin).
    Cifar10,
}

impl std::str::FromStr for DataFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "idx" | "mnist" | "fashion-mnist" => Ok(DataFormat::Idx),
            "cifar10" | "cifar-10" => Ok(DataFormat::Cifar10),
            _ => Err(format!(
                "unknown data format `{s}` (expected idx or cifar10)"
            )),
        }
    }
}

/// The training and test sets in `dir` (the bundled MNIST when `None`), pixels scaled as
/// `scale`; every malformation is a typed error naming the file.
pub fn load_data(
    dir: Option<&Path>,
    format: DataFormat,
    scale: Scale,
) -> Result<(Dataset, Dataset, PathBuf), DataError> {
    let dir = dir.map_or_else(data::bundled_mnist_dir, Path::to_path_buf);
    let (train, test) = match format {
        DataFormat::Idx => data::load_mnist(&dir, scale)?,
        DataFormat::Cifar10 => data::load_cifar10(&dir, scale)?,
    };
    Ok((train, test, dir))
}
