//! Parking: in its own test binary, so no other test burns CPU in the process being measured.

use elastic::Gate;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// CPU time of this process (user + system), from /proc.
fn cpu_seconds() -> f64 {
    let s = std::fs::read_to_string("/proc/self/stat").unwrap();
    let f: Vec<&str> = s.rsplit(')').next().unwrap().split_whitespace().collect();
    let ticks: f64 = f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap();
    ticks / 100.0
}

#[test]
fn parked_workers_use_no_cpu_and_resume_promptly() {
    let gate = Arc::new(Gate::new(1));
    let resumed: Arc<parking_lot::Mutex<Vec<Instant>>> = Default::default();
    let handles: Vec<_> = (1..5)
        .map(|id| {
            let (gate, resumed) = (gate.clone(), resumed.clone());
            std::thread::spawn(move || {
                while gate.wait_active(id) {
                    resumed.lock().push(Instant::now());
                    // Active: park again once the level drops back.
                    while gate.level() > id && !gate.is_closed() {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                }
            })
        })
        .collect();
    while gate.parked() < 4 {
        std::thread::sleep(Duration::from_millis(1));
    }
    let cpu0 = cpu_seconds();
    std::thread::sleep(Duration::from_millis(500));
    let used = cpu_seconds() - cpu0;
    assert!(
        used < 0.05,
        "4 parked workers used {used} s of CPU in 0.5 s"
    );
    // Raise the level: all four resume within 50 ms.
    let t = Instant::now();
    gate.set(5);
    while resumed.lock().len() < 4 {
        assert!(
            t.elapsed() < Duration::from_millis(50),
            "resume took over 50 ms"
        );
        std::thread::yield_now();
    }
    let worst = resumed
        .lock()
        .iter()
        .map(|r| r.duration_since(t))
        .max()
        .unwrap();
    eprintln!("worst resume latency {worst:?}");
    gate.close();
    for h in handles {
        h.join().unwrap();
    }
}
