//! The binary's contract: bad input is a clear message, exit code 2 and no output file; a
//! crash or Ctrl-C still writes the report.

use std::path::PathBuf;
use std::process::{Command, Stdio};

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

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("trainer-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn bad_input_is_exit_2_with_a_message_and_no_report() {
    let dir = tmp("bad");
    let json = dir.join("r.json");
    let j = json.to_str().unwrap();
    let malformed = dir.join("malformed");
    std::fs::create_dir_all(&malformed).unwrap();
    for f in [
        "train-images-idx3-ubyte",
        "train-labels-idx1-ubyte",
        "t10k-images-idx3-ubyte",
        "t10k-labels-idx1-ubyte",
    ] {
        std::fs::write(malformed.join(f), b"not an idx file").unwrap();
    }
    let m = malformed.to_str().unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--data", "/nonexistent/mnist"], "/nonexistent/mnist"),
        (vec!["--data", m], "magic"),
        (vec!["--threads", "0"], "--threads"),
        (vec!["--batch", "70000"], "larger than the training set"),
        (vec!["--batch", "0"], "--batch"),
        (vec!["--eta", "-1"], "--eta"),
        (vec!["--eta", "NaN"], "--eta"),
        (
            vec!["--algorithm", "seq", "--threads", "2"],
            "seq runs one thread",
        ),
        (
            vec!["--algorithm", "hogwild", "--persistence", "1"],
            "--persistence",
        ),
        (vec!["--algorithm", "seq", "--policy", "tail"], "staleness"),
        (vec!["--arch", "mlp:3x0"], "unit"),
        (vec!["--eps", "0.5,2"], "--eps"),
        (vec!["--format", "cifar10"], "data_batch_1.bin"),
    ];
    for (args, needle) in cases {
        let mut a = args.clone();
        a.extend(["--json", j, "--epochs", "0.01", "--quiet"]);
        let (code, _, err) = trainer(&a);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(
            err.contains(needle),
            "{args:?}: message should mention {needle:?}: {err}"
        );
        assert!(!err.contains("panicked"), "{err}");
        assert!(!json.exists(), "{args:?} left a report behind");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn stepsize_show_prints_factors_and_needs_a_histogram_for_tail() {
    let dir = tmp("step");
    let h = dir.join("h.json");
    std::fs::write(&h, r#"{"counts": [0, 90, 10]}"#).unwrap();
    let (code, out, err) = trainer(&[
        "stepsize",
        "show",
        "--policy",
        "tail",
        "--histogram",
        h.to_str().unwrap(),
        "--tau-max",
        "4",
    ]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(
        (v["mean_factor"].as_f64().unwrap() - 1.0).abs() < 1e-6,
        "{out}"
    );
    let (code, _, err) = trainer(&["stepsize", "show", "--policy", "tail"]);
    assert_eq!(code, 2);
    assert!(err.contains("--histogram"), "{err}");
    std::fs::write(&h, r#"{"counts": [1, -2]}"#).unwrap();
    let (code, _, err) = trainer(&[
        "stepsize",
        "show",
        "--policy",
        "tail",
        "--histogram",
        h.to_str().unwrap(),
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("non-negative integers"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_crash_exits_1_and_still_writes_the_report() {
    let dir = tmp("crash");
    let json = dir.join("r.json");
    // ∞ as f32: NaN in θ after the first update (see tests/algorithms.rs).
    let (code, out, err) = trainer(&[
        "--eta",
        "1e300",
        "--epochs",
        "0.5",
        "--json",
        json.to_str().unwrap(),
        "--quiet",
    ]);
    assert_eq!(code, 1, "{out}{err}");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(v["outcome"], "crashed");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn ctrl_c_stops_the_run_and_writes_the_report() {
    let dir = tmp("int");
    let json = dir.join("r.json");
    let plots = dir.join("plots");
    let child = Command::new(env!("CARGO_BIN_EXE_trainer"))
        .args([
            "--epochs",
            "200",
            "--json",
            json.to_str().unwrap(),
            "--plot",
            plots.to_str().unwrap(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until it is training (it prints its first evaluation line), then interrupt.
    std::thread::sleep(std::time::Duration::from_millis(3000));
    let ok = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(v["outcome"], "interrupted");
    assert!(v["updates"]["total"].as_u64().unwrap() > 0);
    assert!(plots.join("loss.png").exists() && plots.join("staleness.svg").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_closed_stdout_pipe_is_not_a_panic() {
    // `trainer staleness fit FILE | head -1`: the reader goes away before the output is written.
    let dir = tmp("pipe");
    let hist = dir.join("h.json");
    let counts: Vec<String> = (0..60).map(|t| (1000 / (t + 1)).to_string()).collect();
    std::fs::write(&hist, format!("{{\"counts\": [{}]}}", counts.join(","))).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_trainer"))
        .args(["staleness", "fit", "--json"])
        .arg(&hist)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take()); // close the read end: every write gets EPIPE
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "stderr: {err}");
    assert_eq!(out.status.code(), Some(0), "stderr: {err}");
}
