//! What a parameter server's work per update costs with plain shared memory, without MPI: two
//! threads on (usually) two cores take turns as a worker and a server over θ of d = 134,794
//! floats (the MLP's). Each round the worker writes its gradient; the server copies it in
//! (what a receive must at least do), applies it to its own θ in cache, and copies θ into the
//! reply buffer the worker read the round before (what a reply must at least do); the worker
//! then reads the reply. Prints the p50 of each of the server's three steps, in µs.
//!
//! ```sh
//! cargo run --release -p pvec --example transfer_cost -- [ROUNDS]
//! ```
//! docs/mpi.md compares the MPI server's receive / apply / send with these.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

const D: usize = 134_794 + 5;

fn p50(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Wait until `turn` reaches `want` (spinning: both threads have a core each).
fn wait_for(turn: &AtomicUsize, want: usize) {
    while turn.load(Ordering::Acquire) != want {
        std::hint::spin_loop();
    }
}

fn main() {
    let rounds: usize = match std::env::args().nth(1).map(|a| a.parse()) {
        None => 3000,
        Some(Ok(n)) if n > 0 => n,
        Some(_) => {
            eprintln!("transfer_cost: ROUNDS must be a positive integer");
            std::process::exit(2);
        }
    };
    let grad = Arc::new(Mutex::new(vec![1.0f32; D]));
    let reply = Arc::new(Mutex::new(vec![1.0f32; D]));
    let turn = Arc::new(AtomicUsize::new(0));
    let worker = {
        let (grad, reply, turn) = (grad.clone(), reply.clone(), turn.clone());
        std::thread::spawn(move || {
            let mut theta = vec![0.0f32; D];
            for i in 0..rounds {
                wait_for(&turn, 2 * i);
                for (k, x) in grad.lock().unwrap().iter_mut().enumerate() {
                    *x = (i + k) as f32 * 1e-6;
                }
                turn.store(2 * i + 1, Ordering::Release);
                wait_for(&turn, 2 * i + 2);
                theta.copy_from_slice(&reply.lock().unwrap());
            }
            theta[D / 2]
        })
    };
    let mut received = vec![0.0f32; D];
    let mut theta = vec![0.5f32; D];
    let (mut copy_in, mut apply, mut copy_out) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..rounds {
        wait_for(&turn, 2 * i + 1);
        let t0 = Instant::now();
        received.copy_from_slice(&grad.lock().unwrap());
        let t1 = Instant::now();
        pvec::kernels::axpy(&mut theta, &received, 1e-3);
        let t2 = Instant::now();
        reply.lock().unwrap().copy_from_slice(&theta);
        let t3 = Instant::now();
        turn.store(2 * i + 2, Ordering::Release);
        copy_in.push((t1 - t0).as_secs_f64() * 1e6);
        apply.push((t2 - t1).as_secs_f64() * 1e6);
        copy_out.push((t3 - t2).as_secs_f64() * 1e6);
    }
    let last = worker.join().expect("the worker thread panicked");
    println!(
        "{{\"d\": {}, \"rounds\": {rounds}, \"copy_in_us_p50\": {:.1}, \"apply_us_p50\": {:.1}, \
         \"copy_out_us_p50\": {:.1}, \"check\": {last}}}",
        D - 5,
        p50(copy_in),
        p50(apply),
        p50(copy_out)
    );
}
