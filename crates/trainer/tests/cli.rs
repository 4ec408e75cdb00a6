//! The binary's contract: bad input is a clear message and exit code 2, never a panic.

use std::process::Command;

fn trainer(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_trainer"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[test]
fn missing_data_dir_is_exit_2_with_the_path() {
    let (code, _, err) = trainer(&["--data", "/nonexistent/mnist", "--epochs", "0.01"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("/nonexistent/mnist") && err.contains("train-images-idx3-ubyte"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn malformed_data_file_is_exit_2_naming_the_file() {
    let dir = std::env::temp_dir().join(format!("trainer-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for f in [
        "train-images-idx3-ubyte",
        "train-labels-idx1-ubyte",
        "t10k-images-idx3-ubyte",
        "t10k-labels-idx1-ubyte",
    ] {
        std::fs::write(dir.join(f), b"not an idx file").unwrap();
    }
    let (code, _, err) = trainer(&["--data", dir.to_str().unwrap()]);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("train-images-idx3-ubyte") && err.contains("magic"),
        "{err}"
    );
}

#[test]
fn impossible_options_are_exit_2() {
    for args in [
        &["--batch", "0"][..],
        &["--batch", "70000"],
        &["--eta", "-1"],
        &["--arch", "mlp:3x0"],
        &["--eta", "NaN"],
    ] {
        let (code, _, err) = trainer(args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[test]
fn short_run_on_bundled_mnist_learns() {
    let (code, out, err) = trainer(&["--epochs", "0.2", "--batch", "32"]);
    assert_eq!(code, 0, "{err}");
    let acc: f64 = out
        .split("test accuracy ")
        .nth(1)
        .and_then(|s| s.split('%').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{out}"));
    assert!(acc > 85.0, "{out}");
}
