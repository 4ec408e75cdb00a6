//! The bundled real MNIST: integrity, and sequential SGD with the thesis' 3×128 MLP reaching
//! ≥ 95% test accuracy within 2 epochs.

use md5::{Digest, Md5};
use nn::{arch, data, BatchBuf, BatchSampler, Init, Scale, Shuffle};

#[test]
fn bundled_mnist_matches_published_md5() {
    let dir = data::bundled_mnist_dir();
    for (f, want) in [
        (
            "train-images-idx3-ubyte.gz",
            "6bbc9ace898e44ae57da46a324031adb",
        ),
        (
            "train-labels-idx1-ubyte.gz",
            "a25bea736e30d166cdddb491f175f624",
        ),
        (
            "t10k-images-idx3-ubyte.gz",
            "2646ac647ad5339dbf082846283269ea",
        ),
        (
            "t10k-labels-idx1-ubyte.gz",
            "27ae3e4e09519cfbb04c329615203637",
        ),
    ] {
        let bytes = data::read_maybe_gz(&dir.join(f)).unwrap();
        let got: String = Md5::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(got, want, "{f}");
    }
}

#[test]
fn sequential_sgd_mlp_reaches_95_percent_in_two_epochs() {
    let (train, test) = data::load_mnist(&data::bundled_mnist_dir(), Scale::Unit).unwrap();
    assert_eq!((train.len(), test.len()), (60_000, 10_000));
    let net = arch::mlp(arch::MNIST_INPUT, 3, 128, 10).unwrap();
    let mut theta = net.init_params(Init::He, 1);
    let (batch, eta) = (64, 0.1f32);
    let mut sampler = BatchSampler::new(train.len(), batch, Shuffle::EveryEpoch, 1);
    let mut buf = BatchBuf::default();
    let mut scratch = net.scratch(batch);
    let mut grad = vec![0.0; net.num_params()];
    let mut eval = net.scratch(1000);
    let initial = net.loss(&theta, test.view(), &mut eval);
    let steps = 2 * train.len() / batch;
    for _ in 0..steps {
        sampler.next_into(&train, &mut buf);
        let loss = net.gradient(&theta, buf.as_batch(), &mut scratch, &mut grad);
        assert!(loss.is_finite());
        theta.iter_mut().zip(&grad).for_each(|(t, g)| *t -= eta * g);
    }
    assert!((sampler.epochs() - 2.0).abs() < 0.01);
    let (loss, acc) = net.evaluate(&theta, test.view(), &mut eval);
    eprintln!("MLP 3x128, b={batch}, η={eta}, 2 epochs ({steps} steps): test loss {initial:.4} -> {loss:.4}, accuracy {:.2}%", 100.0 * acc);
    assert!(acc >= 0.95, "test accuracy {acc}");
    assert!(loss < 0.1 * initial);
}
