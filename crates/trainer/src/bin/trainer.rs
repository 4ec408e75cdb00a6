//! `trainer`: train a network with SGD on bundled MNIST or a data set you point it at.
//! The binary only parses options and calls the `trainer` library.

use clap::Parser;
use nn::{data, Arch, Init, Scale};
use std::path::PathBuf;
use std::process::ExitCode;
use trainer::{train_seq, SeqConfig};

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum Format {
    Idx,
    Cifar10,
}

/// Train a network with mini-batch SGD on real data.
///
/// Examples:
///   trainer                                   # MLP 3x128 on the bundled MNIST, 2 epochs
///   trainer --arch cnn --batch 512 --eta 0.05
///   trainer --data ~/fashion-mnist --arch lenet5
///   trainer --data ~/cifar-10-batches-bin --format cifar10 --arch cifar-cnn
#[derive(Parser, Debug)]
#[command(version, verbatim_doc_comment)]
struct Cli {
    /// Architecture: mlp (3x128), mlp:LxU, cnn (Table B.2), lenet (no 84 layer), lenet5, cifar-cnn.
    #[arg(long, default_value = "mlp")]
    arch: Arch,
    /// Data directory (default: the repository's bundled MNIST).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Data format of --data.
    #[arg(long, value_enum, default_value = "idx")]
    format: Format,
    /// Mini-batch size.
    #[arg(long, default_value_t = 64)]
    batch: usize,
    /// Step size η.
    #[arg(long, default_value_t = 0.1)]
    eta: f32,
    /// Passes over the training data.
    #[arg(long, default_value_t = 2.0)]
    epochs: f64,
    /// Seed for initialisation and sampling.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Train on raw 0-255 pixels instead of [0, 1].
    #[arg(long)]
    raw_pixels: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("trainer: error: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: &Cli) -> Result<(), Box<dyn std::error::Error>> {
    let scale = if cli.raw_pixels {
        Scale::Raw
    } else {
        Scale::Unit
    };
    let dir = cli.data.clone().unwrap_or_else(data::bundled_mnist_dir);
    let (train, test) = match cli.format {
        Format::Idx => data::load_mnist(&dir, scale)?,
        Format::Cifar10 => data::load_cifar10(&dir, scale)?,
    };
    let net = cli.arch.build(train.shape, train.classes)?;
    eprintln!(
        "trainer: {} (d = {}) on {} ({} train / {} test), sequential SGD, batch {}, η = {}",
        cli.arch,
        net.num_params(),
        dir.display(),
        train.len(),
        test.len(),
        cli.batch,
        cli.eta
    );
    let mut theta = net.init_params(Init::He, cli.seed);
    let cfg = SeqConfig {
        batch: cli.batch,
        eta: cli.eta,
        epochs: cli.epochs,
        seed: cli.seed,
        ..SeqConfig::default()
    };
    let r = train_seq(&net, &mut theta, &train, &test, &cfg, |p| {
        eprintln!(
            "epoch {:5.2}  updates {:6}  {:7.2}s  test loss {:.4}  test accuracy {:.2}%",
            p.epochs,
            p.updates,
            p.seconds,
            p.test_loss,
            100.0 * p.test_accuracy
        );
    })?;
    println!(
        "initial test loss {:.4} -> final {:.4} ({:.1}% of initial), test accuracy {:.2}%, {} updates in {:.2}s ({:.0} updates/s)",
        r.initial_loss,
        r.final_loss,
        100.0 * r.final_loss / r.initial_loss,
        100.0 * r.final_accuracy,
        r.updates,
        r.seconds,
        r.updates as f64 / r.seconds
    );
    Ok(())
}
