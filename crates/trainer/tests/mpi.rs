//! The MPI executor end to end: `mpirun --oversubscribe -np N trainer --executor mpi` on this
//! machine (Alg. A.1's parameter server and workers as processes). Where mpirun is missing
//! every test says "NOT RUN: mpi tests: mpirun not installed" and checks nothing.
#![cfg(feature = "mpi")]

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// One MPI job at a time: they share two cores.
static JOBS: Mutex<()> = Mutex::new(());

/// What every test starts with: mpirun (or "NOT RUN"), the one-job lock and a fresh directory.
fn start(name: &str) -> Option<(PathBuf, MutexGuard<'static, ()>, PathBuf)> {
    let mpirun = mpirun()?;
    let one = JOBS.lock().unwrap_or_else(|e| e.into_inner());
    Some((mpirun, one, tmp(name)))
}

fn mpirun() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    let found = std::env::split_paths(&path)
        .map(|d| d.join("mpirun"))
        .find(|p| p.is_file());
    if found.is_none() {
        eprintln!("NOT RUN: mpi tests: mpirun not installed");
    }
    found
}

const TRAINER: &str = env!("CARGO_BIN_EXE_trainer");

/// `mpirun` with what every job here needs: root allowed (CI containers), more ranks than
/// cores.
fn job(mpirun: &Path) -> Command {
    let mut c = Command::new(mpirun);
    c.env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .args(["--oversubscribe"]);
    c
}

/// Append `-np n` ranks of the trainer running the async parameter server (an MPMD job joins
/// two such groups with `:`).
fn ranks(c: &mut Command, n: usize) -> &mut Command {
    c.args([
        "-np",
        &n.to_string(),
        TRAINER,
        "--executor",
        "mpi",
        "--algorithm",
        "async",
    ])
}

/// The job ended with status 0; else fail with its stderr.
fn succeeded(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what}: {:?}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Run to the end, killing it after `limit` (a hang is a failure, never a wait forever).
fn run(mut c: Command, limit: Duration) -> Output {
    let mut child = c
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("mpirun starts");
    let t = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if t.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "the job hung (killed after {limit:?}); stderr:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("trainer-mpi-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn read(p: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(p).expect("a report")).expect("JSON")
}

/// The options of a quick MLP run on the bundled MNIST.
fn quick(epochs: &str) -> Vec<String> {
    [
        "--epochs",
        epochs,
        "--eval-points",
        "2",
        "--eval-subset",
        "2000",
        "--quiet",
    ]
    .map(String::from)
    .to_vec()
}

/// Train with `n` ranks (n − 1 workers): the report.
fn train_async(mpirun: &Path, n: usize, epochs: &str, json: &Path) -> Value {
    let mut c = job(mpirun);
    ranks(&mut c, n).args(quick(epochs)).arg("--json").arg(json);
    succeeded(&run(c, Duration::from_secs(300)), &format!("np {n}"));
    read(json)
}

#[test]
fn async_trains_mnist_and_staleness_grows_with_the_workers() {
    let Some((mpirun, _one, dir)) = start("async") else {
        return;
    };
    let mut mean_tau = Vec::new();
    for n in [3, 5] {
        let r = train_async(&mpirun, n, "2", &dir.join(format!("np{n}.json")));
        assert_eq!(r["executor"], "mpi");
        assert_eq!(r["outcome"], "completed");
        let acc = r["final"]["test_accuracy"].as_f64().unwrap();
        assert!(acc >= 0.95, "np {n}: test accuracy {acc}");
        let applied = r["updates"]["applied"].as_u64().unwrap();
        assert!(applied > 0);
        assert_eq!(r["staleness"]["total"].as_u64().unwrap(), applied, "np {n}");
        let m = &r["mpi"];
        assert_eq!(m["workers"].as_u64().unwrap() as usize, n - 1);
        let ranks = m["per_rank"].as_array().unwrap();
        assert_eq!(ranks.len(), n - 1);
        // Every applied update came from some rank, and each rank did its share.
        let by_rank: u64 = ranks.iter().map(|x| x["applied"].as_u64().unwrap()).sum();
        assert_eq!(by_rank, applied);
        assert!(ranks.iter().all(|x| x["applied"].as_u64().unwrap() > 0));
        assert_eq!(
            m["gradient_message_bytes"].as_u64().unwrap(),
            4 * (r["network"]["params"].as_u64().unwrap() + 5)
        );
        assert!(m["bytes_received"].as_u64().unwrap() >= applied * 4 * 134_794);
        assert!(m["round_trip_us"]["samples"].as_u64().unwrap() > 0);
        // Every applied gradient got its θ back (sent from the pool of reply buffers, across
        // many passes over it here, some owed at a pass's end and sent at the next one's
        // start), and every worker one stop.
        let d = r["network"]["params"].as_u64().unwrap();
        let dropped = r["updates"]["dropped"].as_u64().unwrap();
        assert_eq!(
            m["bytes_sent"].as_u64().unwrap(),
            (applied + dropped) * 4 * (d + 5) + (n as u64 - 1) * 4 * 5,
            "np {n}"
        );
        // With 4 workers and 8 reply buffers a pass ends every 8 updates, and another gradient
        // often arrives while its last replies are in flight (about 5 % of the updates were
        // owed at np 5 on machine A, docs/mpi.md): the owed path runs, and the byte count
        // above covers it.
        let owed = m["server"]["owed_us"]["samples"].as_u64().unwrap();
        assert!(owed <= applied + dropped, "np {n}: {owed} owed replies");
        if n == 5 {
            assert!(owed > 0, "np 5: no reply was owed in {applied} updates");
        }
        let wait = m["server"]["reply_wait_seconds"].as_f64().unwrap();
        assert!(
            (0.0..r["seconds"].as_f64().unwrap()).contains(&wait),
            "np {n}: reply wait {wait} s"
        );
        mean_tau.push(r["staleness"]["mean"].as_f64().unwrap());
    }
    assert!(
        mean_tau[1] > mean_tau[0],
        "mean τ with 4 workers {} ≤ with 2 workers {}",
        mean_tau[1],
        mean_tau[0]
    );
}

#[test]
fn one_worker_replays_the_threaded_sequential_run_bit_for_bit() {
    let Some((mpirun, _one, dir)) = start("seq") else {
        return;
    };
    let seq = dir.join("seq.json");
    let out = Command::new(TRAINER)
        .args(["--algorithm", "seq", "--threads", "1", "--seed", "7"])
        .args(quick("0.3"))
        .arg("--json")
        .arg(&seq)
        .output()
        .unwrap();
    succeeded(&out, "threaded seq");
    let mut c = job(&mpirun);
    ranks(&mut c, 2)
        .args(["--seed", "7"])
        .args(quick("0.3"))
        .arg("--json")
        .arg(dir.join("mpi.json"));
    succeeded(&run(c, Duration::from_secs(300)), "np 2");
    let (a, b) = (read(&seq), read(&dir.join("mpi.json")));
    assert_eq!(
        (&a["executor"], &b["executor"]),
        (&"threads".into(), &"mpi".into())
    );
    for k in ["final", "updates", "initial_loss", "staleness"] {
        let (x, y) = (&a[k], &b[k]);
        if k == "updates" {
            assert_eq!(x["applied"], y["applied"]);
            assert_eq!(x["total"], y["total"]);
        } else {
            assert_eq!(x, y, "{k} differs");
        }
    }
    // Every mini-batch loss the coordinator saw, at the same update counts.
    let series = |r: &Value| -> Vec<(u64, f64)> {
        r["minibatch_series"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["updates"].as_u64().unwrap(),
                    p["trailing_loss"].as_f64().unwrap(),
                )
            })
            .collect()
    };
    let (sa, sb) = (series(&a), series(&b));
    let common: Vec<_> = sa
        .iter()
        .filter(|p| sb.iter().any(|q| q.0 == p.0))
        .collect();
    assert!(common.len() > 10, "too few common points: {}", common.len());
    for p in common {
        let q = sb.iter().find(|q| q.0 == p.0).unwrap();
        assert_eq!(p.1.to_bits(), q.1.to_bits(), "loss at update {}", p.0);
    }
}

#[test]
fn ranks_started_with_different_networks_are_refused_with_exit_2() {
    let Some((mpirun, _one, dir)) = start("mismatch") else {
        return;
    };
    let json = dir.join("r.json");
    let j = json.to_str().unwrap();
    // MPMD: rank 0 the default MLP, rank 1 another one.
    let mut c = job(&mpirun);
    ranks(&mut c, 1).args(["--json", j]).arg(":");
    ranks(&mut c, 1).args(["--arch", "mlp:2x64", "--json", j]);
    let out = run(c, Duration::from_secs(120));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("rank 1") && err.contains("network"), "{err}");
    assert!(!json.exists(), "no report for a refused start");
}

#[test]
fn a_worker_that_cannot_load_its_data_ends_the_job_naming_its_rank() {
    let Some((mpirun, _one, dir)) = start("baddata") else {
        return;
    };
    let json = dir.join("r.json");
    let j = json.to_str().unwrap();
    let mut c = job(&mpirun);
    ranks(&mut c, 2).args(["--json", j]).arg(":");
    ranks(&mut c, 1).args(["--data", "/nonexistent/mnist", "--json", j]);
    let out = run(c, Duration::from_secs(120));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("rank 2 of 3") && err.contains("/nonexistent/mnist"),
        "{err}"
    );
    assert!(!json.exists());
}

#[test]
fn a_diverging_run_names_the_rank_and_still_reports() {
    let Some((mpirun, _one, dir)) = start("nan") else {
        return;
    };
    let json = dir.join("r.json");
    let mut c = job(&mpirun);
    ranks(&mut c, 3)
        .args(["--eta", "1e38"])
        .args(quick("1"))
        .arg("--json")
        .arg(&json);
    let out = run(c, Duration::from_secs(120));
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = read(&json);
    assert_eq!(r["outcome"], "diverged");
    let why = r["failure"].as_str().unwrap();
    assert!(why.contains("on rank "), "{why}");
}

#[test]
fn sigterm_to_mpirun_writes_an_interrupted_report() {
    let Some((mpirun, _one, dir)) = start("sigterm") else {
        return;
    };
    let json = dir.join("r.json");
    let mut c = job(&mpirun);
    ranks(&mut c, 3)
        .args([
            "--epochs",
            "100",
            "--eval-every",
            "0.3",
            "--eval-subset",
            "2000",
        ])
        .arg("--json")
        .arg(&json)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    // Wait for the first periodic evaluation: the run is under way.
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = String::new();
    for l in lines.by_ref() {
        let l = l.unwrap();
        seen += &l;
        seen += "\n";
        if l.contains("eval:") {
            break;
        }
    }
    assert!(seen.contains("eval:"), "the run did not start:\n{seen}");
    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let rest = std::thread::spawn(move || lines.map_while(Result::ok).collect::<Vec<_>>());
    let t = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(t.elapsed() < Duration::from_secs(120), "mpirun did not end");
        std::thread::sleep(Duration::from_millis(50));
    };
    let rest = rest.join().unwrap().join("\n");
    assert!(!status.success(), "{rest}");
    let r = read(&json);
    assert_eq!(r["outcome"], "interrupted", "{rest}");
    assert_eq!(r["stopped_by"], "interrupt");
    assert_eq!(
        r["staleness"]["total"].as_u64(),
        r["updates"]["applied"].as_u64()
    );
}
