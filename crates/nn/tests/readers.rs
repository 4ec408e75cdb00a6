//! IDX and CIFAR-10 readers on small files the tests write themselves: round trips, every
//! malformation as a typed error naming the file, and proptest that no input panics.

use flate2::write::GzEncoder;
use nn::data::{self, parse_cifar10, parse_idx};
use nn::{DataError, Problem, Scale};
use proptest::prelude::*;
use std::io::Write;
use std::path::{Path, PathBuf};

struct TempDir(PathBuf);
impl TempDir {
    fn new(tag: &str) -> Self {
        let p = std::env::temp_dir().join(format!("nn-readers-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }
}
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn idx(dims: &[u32], payload: &[u8]) -> Vec<u8> {
    let mut v = vec![0, 0, 8, dims.len() as u8];
    for d in dims {
        v.extend_from_slice(&d.to_be_bytes());
    }
    v.extend_from_slice(payload);
    v
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// Three 28×28 images with pixel value (sample·7 + position) mod 256, labels 3, 1, 4.
fn mnist_like(dir: &TempDir, gzip: bool) {
    let pixels: Vec<u8> = (0..3 * 784)
        .map(|i| ((i / 784) * 7 + i % 784) as u8)
        .collect();
    let imgs = idx(&[3, 28, 28], &pixels);
    let labs = idx(&[3], &[3, 1, 4]);
    let (a, b) = if gzip {
        (gz(&imgs), gz(&labs))
    } else {
        (imgs, labs)
    };
    let sfx = if gzip { ".gz" } else { "" };
    for split in ["train", "t10k"] {
        dir.write(&format!("{split}-images-idx3-ubyte{sfx}"), &a);
        dir.write(&format!("{split}-labels-idx1-ubyte{sfx}"), &b);
    }
}

#[test]
fn idx_round_trip_plain_and_gzip() {
    for gzip in [false, true] {
        let dir = TempDir::new(if gzip { "gz" } else { "plain" });
        mnist_like(&dir, gzip);
        let (train, test) = data::load_mnist(&dir.0, Scale::Raw).unwrap();
        assert_eq!(train, test);
        assert_eq!(train.len(), 3);
        assert_eq!(train.labels, vec![3, 1, 4]);
        assert_eq!(train.shape, nn::Shape::new(28, 28, 1));
        assert_eq!(train.images[784 + 5], 12.0); // sample 1, position 5: 7 + 5
        let (unit, _) = data::load_mnist(&dir.0, Scale::Unit).unwrap();
        assert!((unit.images[784 + 5] - 12.0 / 255.0).abs() < 1e-7);
    }
}

fn malformed(path: &Path, r: Result<impl std::fmt::Debug, DataError>) -> Problem {
    match r {
        Err(DataError::Malformed { path: p, problem }) => {
            assert_eq!(p, path);
            problem
        }
        other => panic!("expected Malformed for {}, got {other:?}", path.display()),
    }
}

#[test]
fn idx_malformations_are_typed_errors_naming_the_file() {
    let dir = TempDir::new("bad");
    let labels_ok = dir.write("labels", &idx(&[2], &[0, 1]));
    let cases: Vec<(&str, Vec<u8>, Problem)> = vec![
        (
            "magic",
            b"\x12\x34\x08\x03rest".to_vec(),
            Problem::BadMagic([0x12, 0x34, 0x08, 0x03]),
        ),
        (
            "type",
            vec![
                0, 0, 0x0d, 3, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0,
            ],
            Problem::UnsupportedType(0x0d),
        ),
        (
            "dims",
            idx(&[2, 784], &[0; 2 * 784]),
            Problem::WrongDims {
                expected: 3,
                found: 2,
            },
        ),
        (
            "trunc",
            idx(&[2, 28, 28], &[0; 784 + 10]),
            Problem::Truncated {
                expected: 16 + 2 * 784,
                found: 16 + 784 + 10,
            },
        ),
        (
            "trailing",
            idx(&[2, 28, 28], &[0; 2 * 784 + 3]),
            Problem::TrailingBytes { extra: 3 },
        ),
        ("zero", idx(&[0, 28, 28], &[]), Problem::EmptyDimension),
        (
            "short",
            vec![0, 0],
            Problem::Truncated {
                expected: 4,
                found: 2,
            },
        ),
        (
            "header",
            vec![0, 0, 8, 3, 0, 0],
            Problem::Truncated {
                expected: 16,
                found: 6,
            },
        ),
        (
            "size",
            idx(&[2, 27, 28], &[0; 2 * 27 * 28]),
            Problem::WrongImageSize {
                h: 27,
                w: 28,
                eh: 28,
                ew: 28,
            },
        ),
    ];
    for (name, bytes, want) in cases {
        let p = dir.write(name, &bytes);
        let got = malformed(
            &p,
            data::load_idx_pair(&p, &labels_ok, Scale::Unit, Some((28, 28))),
        );
        assert_eq!(got, want, "case {name}");
        // The message names the file and the problem.
        let msg = data::load_idx_pair(&p, &labels_ok, Scale::Unit, Some((28, 28)))
            .unwrap_err()
            .to_string();
        assert!(msg.contains(&*p.to_string_lossy()), "{msg}");
    }
    // Broken gzip stream.
    let mut g = gz(&idx(&[2, 28, 28], &[0; 2 * 784]));
    g.truncate(g.len() / 2);
    let p = dir.write("broken.gz", &g);
    assert!(matches!(
        malformed(&p, data::read_idx_images(&p)),
        Problem::BadGzip(_)
    ));
    // Label out of range.
    let p = dir.write("badlabel", &idx(&[3], &[1, 10, 2]));
    assert_eq!(
        malformed(&p, data::read_idx_labels(&p, 10)),
        Problem::BadLabel {
            index: 1,
            label: 10,
            classes: 10
        }
    );
}

#[test]
fn count_mismatch_and_missing_files() {
    let dir = TempDir::new("count");
    let imgs = dir.write("i", &idx(&[2, 28, 28], &[0; 2 * 784]));
    let labs = dir.write("l", &idx(&[3], &[0, 1, 2]));
    match data::load_idx_pair(&imgs, &labs, Scale::Unit, None) {
        Err(DataError::CountMismatch {
            images: 2,
            labels: 3,
            ..
        }) => {}
        other => panic!("{other:?}"),
    }
    let err = data::load_mnist(&dir.0.join("nope"), Scale::Unit).unwrap_err();
    assert!(matches!(err, DataError::Missing { .. }), "{err}");
    assert!(err.to_string().contains("train-images-idx3-ubyte"));
    let err = data::read_idx_images(&dir.0.join("absent")).unwrap_err();
    assert!(matches!(err, DataError::Io { .. }));
}

fn cifar_record(label: u8, seed: u8) -> Vec<u8> {
    let mut r = vec![label];
    r.extend((0..3072).map(|i| (i as u8).wrapping_mul(3).wrapping_add(seed)));
    r
}

#[test]
fn cifar10_round_trip_converts_planes_to_hwc() {
    let dir = TempDir::new("cifar");
    for i in 1..=5 {
        let mut b = cifar_record(i as u8, i as u8);
        b.extend(cifar_record(9, 100));
        dir.write(&format!("data_batch_{i}.bin"), &b);
    }
    dir.write("test_batch.bin", &cifar_record(0, 7));
    let (train, test) = data::load_cifar10(&dir.0, Scale::Raw).unwrap();
    assert_eq!(train.len(), 10);
    assert_eq!(test.len(), 1);
    assert_eq!(train.labels, vec![1, 9, 2, 9, 3, 9, 4, 9, 5, 9]);
    assert_eq!(train.shape, nn::Shape::new(32, 32, 3));
    // Pixel 5 of the test image: R, G, B from planes 0, 1024, 2048 of the record.
    let rec = cifar_record(0, 7);
    assert_eq!(
        &test.images[15..18],
        &[
            f32::from(rec[1 + 5]),
            f32::from(rec[1 + 1024 + 5]),
            f32::from(rec[1 + 2048 + 5])
        ]
    );
}

#[test]
fn cifar10_malformations() {
    let dir = TempDir::new("cifarbad");
    let p = dir.write("short.bin", &cifar_record(1, 1)[..3000]);
    assert_eq!(
        malformed(
            &p,
            data::load_cifar10_batches(std::slice::from_ref(&p), Scale::Unit)
        ),
        Problem::BadRecordSize { len: 3000 }
    );
    let mut two = cifar_record(1, 1);
    two.extend(cifar_record(12, 1));
    let p = dir.write("label.bin", &two);
    assert_eq!(
        malformed(
            &p,
            data::load_cifar10_batches(std::slice::from_ref(&p), Scale::Unit)
        ),
        Problem::BadLabel {
            index: 1,
            label: 12,
            classes: 10
        }
    );
    let p = dir.write("empty.bin", &[]);
    assert_eq!(
        malformed(
            &p,
            data::load_cifar10_batches(std::slice::from_ref(&p), Scale::Unit)
        ),
        Problem::BadRecordSize { len: 0 }
    );
    assert!(matches!(
        data::load_cifar10(&dir.0, Scale::Unit),
        Err(DataError::Missing { .. })
    ));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, .. ProptestConfig::default() })]

    /// Arbitrary bytes never panic the parsers.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048), nd in 0u8..5) {
        let _ = parse_idx(&bytes, nd);
        let (mut i, mut l) = (Vec::new(), Vec::new());
        let _ = parse_cifar10(&bytes, Scale::Unit, &mut i, &mut l);
    }

    /// Valid files with random byte flips, truncations or huge dimensions never panic, and an Ok
    /// result is self-consistent.
    #[test]
    fn mutated_idx_never_panics(
        flips in proptest::collection::vec((0usize..64, any::<u8>()), 0..4),
        cut in 0usize..100,
        n in 1u32..4, h in 1u32..5, w in 1u32..5,
    ) {
        let mut f = idx(&[n, h, w], &vec![7; (n * h * w) as usize]);
        for (pos, v) in flips {
            let len = f.len();
            f[pos % len] = v;
        }
        f.truncate(f.len().saturating_sub(cut % 3));
        if let Ok((dims, payload)) = parse_idx(&f, 3) {
            prop_assert_eq!(payload.len(), dims.iter().product::<usize>());
        }
    }

    #[test]
    fn arbitrary_gzip_files_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let dir = TempDir::new(&format!("gzfuzz{}", bytes.len()));
        let mut g = vec![0x1f, 0x8b];
        g.extend(&bytes);
        let p = dir.write("f.gz", &g);
        let _ = data::read_idx_images(&p);
    }
}
