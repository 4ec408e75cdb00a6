//! Data sets: IDX (MNIST, Fashion-MNIST; plain or gzipped) and CIFAR-10 binary batches.
//!
//! Every reader validates the whole file before returning and reports problems as a typed
//! [`DataError`] naming the file; no input makes them panic (proptested in `tests/readers.rs`).

use crate::shape::{Batch, Shape};
use std::io::Read;
use std::path::{Path, PathBuf};

/// Largest decompressed file we accept (guards against gzip bombs; MNIST train is 47 MB).
pub const MAX_FILE_BYTES: u64 = 1 << 30;

/// What is wrong with a file's contents.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    #[error("not an IDX file: magic bytes {0:02x?} (expected 00 00 08 0N)")]
    BadMagic([u8; 4]),
    #[error("IDX element type 0x{0:02x} is not supported (only unsigned bytes, 0x08)")]
    UnsupportedType(u8),
    #[error("expected an IDX file with {expected} dimensions, found {found}")]
    WrongDims { expected: u8, found: u8 },
    #[error("image size {h}x{w} does not match the expected {eh}x{ew}")]
    WrongImageSize {
        h: usize,
        w: usize,
        eh: usize,
        ew: usize,
    },
    #[error("a dimension is zero")]
    EmptyDimension,
    #[error("truncated: the header promises {expected} bytes, the file has {found}")]
    Truncated { expected: u64, found: u64 },
    #[error("{extra} unexpected bytes after the data")]
    TrailingBytes { extra: u64 },
    #[error("larger than the {MAX_FILE_BYTES}-byte limit")]
    TooLarge,
    #[error("bad gzip stream: {0}")]
    BadGzip(String),
    #[error("CIFAR-10 batch length {len} is not a positive multiple of the 3073-byte record")]
    BadRecordSize { len: u64 },
    #[error("label {label} of sample {index} is not below the {classes} classes")]
    BadLabel {
        index: usize,
        label: u8,
        classes: usize,
    },
}

/// A data-loading failure, naming the file.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("{}: cannot read: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {problem}", path.display())]
    Malformed { path: PathBuf, problem: Problem },
    #[error("{} has {images} images but {} has {labels} labels", images_path.display(), labels_path.display())]
    CountMismatch {
        images_path: PathBuf,
        images: usize,
        labels_path: PathBuf,
        labels: usize,
    },
    #[error("{}: none of {candidates:?} found", dir.display())]
    Missing {
        dir: PathBuf,
        candidates: Vec<String>,
    },
}

impl DataError {
    fn malformed(path: &Path, problem: Problem) -> Self {
        DataError::Malformed {
            path: path.to_path_buf(),
            problem,
        }
    }
}

/// How raw 0–255 pixels become f32.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Scale {
    /// x / 255, in [0, 1]. Our default.
    #[default]
    Unit,
    /// The raw 0–255 values, as the thesis' code trains on.
    Raw,
}

impl Scale {
    fn apply(self, v: u8) -> f32 {
        match self {
            Scale::Unit => f32::from(v) / 255.0,
            Scale::Raw => f32::from(v),
        }
    }
}

/// A labelled image data set, NHWC f32.
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    pub images: Vec<f32>,
    pub labels: Vec<u8>,
    pub shape: Shape,
    pub classes: usize,
}

impl Dataset {
    pub fn len(&self) -> usize {
        self.labels.len()
    }
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The whole set as one [`Batch`].
    pub fn view(&self) -> Batch<'_> {
        Batch {
            images: &self.images,
            labels: &self.labels,
        }
    }

    /// Samples `start..end` as a [`Batch`] (no copy). Panics if out of range.
    pub fn slice(&self, start: usize, end: usize) -> Batch<'_> {
        let l = self.shape.len();
        Batch {
            images: &self.images[start * l..end * l],
            labels: &self.labels[start..end],
        }
    }

    /// Copy the samples at `indices` into `buf` (reusing its capacity).
    pub fn gather(&self, indices: &[u32], buf: &mut BatchBuf) {
        let l = self.shape.len();
        buf.images.clear();
        buf.labels.clear();
        for &i in indices {
            let i = i as usize;
            buf.images
                .extend_from_slice(&self.images[i * l..(i + 1) * l]);
            buf.labels.push(self.labels[i]);
        }
    }

    /// Per-channel (mean, std) of the pixel values.
    pub fn channel_stats(&self) -> Vec<(f64, f64)> {
        let c = self.shape.c;
        let mut sum = vec![0.0f64; c];
        let mut sq = vec![0.0f64; c];
        for px in self.images.chunks_exact(c) {
            for ch in 0..c {
                sum[ch] += f64::from(px[ch]);
                sq[ch] += f64::from(px[ch]) * f64::from(px[ch]);
            }
        }
        let n = (self.images.len() / c.max(1)).max(1) as f64;
        (0..c)
            .map(|ch| {
                let m = sum[ch] / n;
                (m, (sq[ch] / n - m * m).max(0.0).sqrt())
            })
            .collect()
    }

    /// Subtract `mean` and divide by `std`, per channel (use the training set's statistics for
    /// the test set too).
    pub fn standardize(&mut self, stats: &[(f64, f64)]) {
        let c = self.shape.c;
        assert_eq!(stats.len(), c, "one (mean, std) per channel");
        for px in self.images.chunks_exact_mut(c) {
            for (v, &(m, s)) in px.iter_mut().zip(stats) {
                *v = ((f64::from(*v) - m) / if s > 0.0 { s } else { 1.0 }) as f32;
            }
        }
    }

    /// A new data set of the first `n` samples.
    pub fn truncated(&self, n: usize) -> Dataset {
        let n = n.min(self.len());
        Dataset {
            images: self.images[..n * self.shape.len()].to_vec(),
            labels: self.labels[..n].to_vec(),
            shape: self.shape,
            classes: self.classes,
        }
    }
}

/// An owned mini-batch buffer, refilled by [`Dataset::gather`] / [`crate::BatchSampler`].
#[derive(Clone, Debug, Default)]
pub struct BatchBuf {
    pub images: Vec<f32>,
    pub labels: Vec<u8>,
}

impl BatchBuf {
    pub fn as_batch(&self) -> Batch<'_> {
        Batch {
            images: &self.images,
            labels: &self.labels,
        }
    }
}

/// Read a whole file, transparently gunzipping it when it starts with the gzip magic.
pub fn read_maybe_gz(path: &Path) -> Result<Vec<u8>, DataError> {
    let io = |source| DataError::Io {
        path: path.to_path_buf(),
        source,
    };
    let raw = std::fs::read(path).map_err(io)?;
    if raw.len() as u64 > MAX_FILE_BYTES {
        return Err(DataError::malformed(path, Problem::TooLarge));
    }
    decode_maybe_gz(raw).map_err(|p| DataError::malformed(path, p))
}

fn decode_maybe_gz(raw: Vec<u8>) -> Result<Vec<u8>, Problem> {
    if raw.len() < 2 || raw[0] != 0x1f || raw[1] != 0x8b {
        return Ok(raw);
    }
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(&raw[..])
        .take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut out)
        .map_err(|e| Problem::BadGzip(e.to_string()))?;
    if out.len() as u64 > MAX_FILE_BYTES {
        return Err(Problem::TooLarge);
    }
    Ok(out)
}

/// Parse an unsigned-byte IDX file with `ndims` dimensions: (dims, payload).
pub fn parse_idx(bytes: &[u8], ndims: u8) -> Result<(Vec<usize>, &[u8]), Problem> {
    if bytes.len() < 4 {
        return Err(Problem::Truncated {
            expected: 4,
            found: bytes.len() as u64,
        });
    }
    let magic = [bytes[0], bytes[1], bytes[2], bytes[3]];
    if magic[0] != 0 || magic[1] != 0 || magic[3] == 0 {
        return Err(Problem::BadMagic(magic));
    }
    if magic[2] != 0x08 {
        return Err(Problem::UnsupportedType(magic[2]));
    }
    if magic[3] != ndims {
        return Err(Problem::WrongDims {
            expected: ndims,
            found: magic[3],
        });
    }
    let header = 4 + 4 * usize::from(ndims);
    if bytes.len() < header {
        return Err(Problem::Truncated {
            expected: header as u64,
            found: bytes.len() as u64,
        });
    }
    let dims: Vec<usize> = bytes[4..header]
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize)
        .collect();
    if dims.contains(&0) {
        return Err(Problem::EmptyDimension);
    }
    let payload = dims
        .iter()
        .try_fold(1u64, |a, &d| a.checked_mul(d as u64))
        .ok_or(Problem::TooLarge)?;
    let found = (bytes.len() - header) as u64;
    if found < payload {
        return Err(Problem::Truncated {
            expected: header as u64 + payload,
            found: bytes.len() as u64,
        });
    }
    if found > payload {
        return Err(Problem::TrailingBytes {
            extra: found - payload,
        });
    }
    Ok((dims, &bytes[header..]))
}

/// Read an IDX image file (3 dimensions: n × rows × cols) as raw bytes.
pub fn read_idx_images(path: &Path) -> Result<(Vec<u8>, usize, Shape), DataError> {
    let bytes = read_maybe_gz(path)?;
    let (dims, data) = parse_idx(&bytes, 3).map_err(|p| DataError::malformed(path, p))?;
    Ok((data.to_vec(), dims[0], Shape::new(dims[1], dims[2], 1)))
}

/// Read an IDX label file (1 dimension), checking every label is below `classes`.
pub fn read_idx_labels(path: &Path, classes: usize) -> Result<Vec<u8>, DataError> {
    let bytes = read_maybe_gz(path)?;
    let (_, data) = parse_idx(&bytes, 1).map_err(|p| DataError::malformed(path, p))?;
    check_labels(data, classes).map_err(|p| DataError::malformed(path, p))?;
    Ok(data.to_vec())
}

fn check_labels(labels: &[u8], classes: usize) -> Result<(), Problem> {
    match labels.iter().position(|&l| usize::from(l) >= classes) {
        Some(index) => Err(Problem::BadLabel {
            index,
            label: labels[index],
            classes,
        }),
        None => Ok(()),
    }
}

/// Load an IDX image/label pair with 10 classes. `expect` (if given) is the required image size.
pub fn load_idx_pair(
    images: &Path,
    labels: &Path,
    scale: Scale,
    expect: Option<(usize, usize)>,
) -> Result<Dataset, DataError> {
    let (raw, n, shape) = read_idx_images(images)?;
    if let Some((eh, ew)) = expect {
        if (shape.h, shape.w) != (eh, ew) {
            return Err(DataError::malformed(
                images,
                Problem::WrongImageSize {
                    h: shape.h,
                    w: shape.w,
                    eh,
                    ew,
                },
            ));
        }
    }
    let lab = read_idx_labels(labels, 10)?;
    if lab.len() != n {
        return Err(DataError::CountMismatch {
            images_path: images.to_path_buf(),
            images: n,
            labels_path: labels.to_path_buf(),
            labels: lab.len(),
        });
    }
    Ok(Dataset {
        images: raw.iter().map(|&v| scale.apply(v)).collect(),
        labels: lab,
        shape,
        classes: 10,
    })
}

fn find(dir: &Path, stem: &str) -> Result<PathBuf, DataError> {
    let candidates = [format!("{stem}.gz"), stem.to_string()];
    candidates
        .iter()
        .map(|c| dir.join(c))
        .find(|p| p.is_file())
        .ok_or_else(|| DataError::Missing {
            dir: dir.to_path_buf(),
            candidates: candidates.to_vec(),
        })
}

/// Load MNIST or Fashion-MNIST (same file names) from `dir`: (train, test), 28 × 28 × 1.
pub fn load_mnist(dir: &Path, scale: Scale) -> Result<(Dataset, Dataset), DataError> {
    let load = |img: &str, lab: &str| {
        load_idx_pair(&find(dir, img)?, &find(dir, lab)?, scale, Some((28, 28)))
    };
    Ok((
        load("train-images-idx3-ubyte", "train-labels-idx1-ubyte")?,
        load("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")?,
    ))
}

/// The bytes of one CIFAR-10 record: a label and 32 × 32 × 3 planar (CHW) pixels.
pub const CIFAR_RECORD: usize = 1 + 3072;

/// Parse one CIFAR-10 binary batch into HWC images and labels.
pub fn parse_cifar10(
    bytes: &[u8],
    scale: Scale,
    images: &mut Vec<f32>,
    labels: &mut Vec<u8>,
) -> Result<(), Problem> {
    if bytes.is_empty() || !bytes.len().is_multiple_of(CIFAR_RECORD) {
        return Err(Problem::BadRecordSize {
            len: bytes.len() as u64,
        });
    }
    let first = labels.len();
    for rec in bytes.chunks_exact(CIFAR_RECORD) {
        if rec[0] >= 10 {
            return Err(Problem::BadLabel {
                index: labels.len() - first,
                label: rec[0],
                classes: 10,
            });
        }
        labels.push(rec[0]);
        let px = &rec[1..];
        for i in 0..1024 {
            for ch in 0..3 {
                images.push(scale.apply(px[ch * 1024 + i]));
            }
        }
    }
    Ok(())
}

/// Read CIFAR-10 binary batch files into one data set (32 × 32 × 3).
pub fn load_cifar10_batches(paths: &[PathBuf], scale: Scale) -> Result<Dataset, DataError> {
    let (mut images, mut labels) = (Vec::new(), Vec::new());
    for p in paths {
        let bytes = read_maybe_gz(p)?;
        parse_cifar10(&bytes, scale, &mut images, &mut labels)
            .map_err(|e| DataError::malformed(p, e))?;
    }
    Ok(Dataset {
        images,
        labels,
        shape: Shape::new(32, 32, 3),
        classes: 10,
    })
}

/// Load CIFAR-10 from the standard `cifar-10-batches-bin` directory: (train = data_batch_1..5,
/// test = test_batch).
pub fn load_cifar10(dir: &Path, scale: Scale) -> Result<(Dataset, Dataset), DataError> {
    let train: Result<Vec<_>, _> = (1..=5)
        .map(|i| find(dir, &format!("data_batch_{i}.bin")))
        .collect();
    let train = load_cifar10_batches(&train?, scale)?;
    let test = load_cifar10_batches(&[find(dir, "test_batch.bin")?], scale)?;
    Ok((train, test))
}

/// The bundled MNIST copy of this repository (`data/mnist`, found from the crate directory or the
/// current directory).
pub fn bundled_mnist_dir() -> PathBuf {
    let from_crate = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/mnist");
    if from_crate.is_dir() {
        from_crate.canonicalize().unwrap_or(from_crate)
    } else {
        PathBuf::from("data/mnist")
    }
}
