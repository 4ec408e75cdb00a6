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
        // An optional field must not take a NaN as "unset" (it ran uncapped before).
        (vec!["--eta-cap", "NaN"], "--eta-cap"),
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

/// A bad `NN_ISA` or `NN_ISA_MAX` value is exit 2 with a message that names the variable and the
/// value as written (not as a `--flag`: the value was once shown as `--avx3`), and no report.
#[test]
fn a_bad_instruction_set_variable_is_exit_2_and_names_it() {
    let dir = tmp("bad_isa");
    let json = dir.join("r.json");
    for var in ["NN_ISA", "NN_ISA_MAX"] {
        let out = Command::new(env!("CARGO_BIN_EXE_trainer"))
            .args([
                "--json",
                json.to_str().unwrap(),
                "--epochs",
                "0.01",
                "--quiet",
            ])
            .env(var, "avx3")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{var}: {err}");
        assert!(
            err.contains(&format!("{var}=avx3")) && err.contains("\"avx3\""),
            "{var}: {err}"
        );
        assert!(
            !err.contains("--avx3") && !err.contains("panicked"),
            "{err}"
        );
        assert!(!json.exists(), "{var} left a report behind");
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
    assert_eq!(v["outcome"], "diverged");
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

/// Start the trainer with `args`, send it `signals` (names for `kill -s`) after `delays`, and
/// wait; returns (exit code, seconds from the last signal to the exit, stderr).
fn signalled(args: &[&str], signals: &[(&str, u64)]) -> (Option<i32>, f64, String) {
    let child = Command::new(env!("CARGO_BIN_EXE_trainer"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut last = std::time::Instant::now();
    for &(sig, ms) in signals {
        std::thread::sleep(std::time::Duration::from_millis(ms));
        let ok = Command::new("kill")
            .args(["-s", sig, &child.id().to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
        last = std::time::Instant::now();
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        last.elapsed().as_secs_f64(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[test]
fn sigterm_writes_an_interrupted_report_and_exits_143() {
    let dir = tmp("term");
    let json = dir.join("r.json");
    let j = json.to_str().unwrap();
    let (code, _, err) = signalled(
        &["--epochs", "200", "--json", j, "--quiet"],
        &[("TERM", 2500)],
    );
    assert_eq!(code, Some(143), "{err}");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(v["outcome"], "interrupted");
    assert_eq!(v["stopped_by"], "interrupt");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_signal_during_start_up_still_gives_an_interrupted_report() {
    // 100 ms in, the data is still being read: the run must not end "completed".
    let dir = tmp("early");
    let json = dir.join("r.json");
    let j = json.to_str().unwrap();
    let (code, _, err) = signalled(
        &["--epochs", "200", "--json", j, "--quiet"],
        &[("INT", 100)],
    );
    assert_eq!(code, Some(130), "{err}");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(v["outcome"], "interrupted");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_second_signal_exits_at_once() {
    // Evaluating the whole training set takes the coordinator a while; the second signal must
    // not wait for it (nor for the final evaluation).
    let dir = tmp("twice");
    let json = dir.join("r.json");
    let j = json.to_str().unwrap();
    let args = [
        "--epochs",
        "200",
        "--eval-subset",
        "60000",
        "--eval-every",
        "0.05",
        "--json",
        j,
        "--quiet",
    ];
    let (code, after, err) = signalled(&args, &[("INT", 2500), ("INT", 20)]);
    assert_eq!(code, Some(130), "{err}");
    assert!(after < 0.5, "exited {after:.3} s after the second signal");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn unwritable_outputs_fail_before_training() {
    for args in [
        vec!["--json", "/proc/trainer-x.json"],
        vec!["--plot", "/proc/trainer-plots"],
    ] {
        let t = std::time::Instant::now();
        let (code, _, err) = trainer(&[&args[..], &["--epochs", "50"]].concat());
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains(args[0]), "{args:?}: {err}");
        assert!(
            t.elapsed().as_secs_f64() < 2.0,
            "{args:?} failed only after training"
        );
    }
}

#[test]
fn sizes_past_the_machine_are_refused_before_allocating() {
    let t = std::time::Instant::now();
    let (code, _, err) = trainer(&["--arch", "mlp:1000x1000", "--epochs", "1"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("GiB") && err.contains("--arch"), "{err}");
    assert!(t.elapsed().as_secs_f64() < 10.0);
}

#[test]
fn an_eval_subset_larger_than_the_data_is_refused() {
    let (code, _, err) = trainer(&["--eval-subset", "100000", "--epochs", "0.1"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("--eval-subset") && err.contains("60000"),
        "{err}"
    );
}

#[test]
fn help_shows_the_defaults_it_uses() {
    let (code, out, _) = trainer(&["--help"]);
    assert_eq!(code, 0);
    let d = trainer::Config::default();
    for (flag, value) in [
        ("--epochs", d.epochs.to_string()),
        ("--batch", d.batch.to_string()),
        ("--eta", d.eta.to_string()),
        ("--threads", d.threads.to_string()),
    ] {
        let at = out
            .find(&format!("{flag} <"))
            .unwrap_or_else(|| panic!("{flag} in help"));
        let text = &out[at..at + 400.min(out.len() - at)];
        assert!(
            text.contains(&format!("[default: {value}")),
            "{flag}: {text}"
        );
    }
}

#[test]
fn stepsize_show_builds_the_policy_as_training_does() {
    let show = |args: &[&str]| {
        let (code, out, err) = trainer(&[&["stepsize", "show"], args].concat());
        (
            code,
            serde_json::from_str::<serde_json::Value>(&out).ok(),
            err,
        )
    };
    // The default policy needs no histogram.
    let (code, v, err) = show(&[]);
    assert_eq!(code, 0, "{err}");
    // (η0 = 0.05 is stored as an f32, so the factor is 1 to f32 precision.)
    let f3 = v.unwrap()["factors"][3].as_f64().unwrap();
    assert!((f3 - 1.0).abs() < 1e-6, "{f3}");
    // mts_poisson as training tabulates it: K/η0 with the given η0.
    let (code, v, err) = show(&["--policy", "mts-poisson", "--eta", "0.05", "--mts-k", "1"]);
    assert_eq!(code, 0, "{err}");
    let f = v.unwrap()["factors"].clone();
    let cfg = trainer::Config {
        policy: trainer::PolicyKind::MtsPoisson,
        mts_k: Some(1.0),
        tau_max: 16,
        ..trainer::Config::default()
    };
    let want = cfg.adaptive().unwrap().factors_now();
    let got: Vec<f64> = f
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    assert_eq!(got, want);
    // Negative numbers parse (and are then refused by the policy's own check).
    let (code, _, err) = show(&["--amplitude", "-1"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("--amplitude") && !err.contains("unexpected argument"),
        "{err}"
    );
    // The table is bounded.
    let (code, _, err) = show(&["--tau-max", "100000000"]);
    assert_eq!(code, 2);
    assert!(err.contains("--tau-max"), "{err}");
    // A policy that needs a cap says which option to set.
    let (code, _, err) = show(&["--policy", "mts-cmp"]);
    assert_eq!(code, 2);
    assert!(err.contains("--eta-cap"), "{err}");
}

#[test]
fn an_overflowing_histogram_is_refused() {
    let dir = tmp("overflow");
    let h = dir.join("h.json");
    std::fs::write(&h, format!("{{\"counts\": [{m}, {m}, 5]}}", m = u64::MAX)).unwrap();
    let (code, _, err) = trainer(&["staleness", "fit", "--json", h.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("overflow"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}
