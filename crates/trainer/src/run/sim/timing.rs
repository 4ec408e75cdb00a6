//! The duration model: how long a virtual worker's gradient (T_c), update (T_u) and read (T_r)
//! take. Given (constant, log-normal, an empirical list) or measured on this host by timing the
//! run's own gradient, read and publish on θ0 a fixed number of times before the run, so that
//! the run itself draws from a fixed model and stays deterministic. Optionally T_c grows with
//! the number of active workers: T_c(m) = T_c(1)·(1 + κ(m − 1)) (memory-bandwidth contention).

use super::super::context::Shared;
use super::super::worker::Worker;
use crate::config::{Algorithm, SimTiming};
use crate::report::{DistributionReport, TimingReport};
use pvec::{Hogwild, Leashed, Locked, ParamWorker, Persistence, SharedParams};
use rand::rngs::Xoshiro256PlusPlus;
use rand::RngExt;
use std::hint::black_box;
use std::time::Instant;

/// One duration distribution, in its own unit (ms for T_c, µs for T_u and T_r).
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Dist {
    Constant(f64),
    /// Log-normal with mean `mean` and standard deviation `sigma` of ln T.
    LogNormal {
        mean: f64,
        sigma: f64,
    },
    /// Uniform over the samples.
    Empirical(Vec<f64>),
}

impl Dist {
    fn scaled(mean: f64, sigma: Option<f64>) -> Dist {
        match sigma {
            Some(sigma) => Dist::LogNormal { mean, sigma },
            None => Dist::Constant(mean),
        }
    }

    pub fn sample(&self, rng: &mut Xoshiro256PlusPlus) -> f64 {
        match self {
            Dist::Constant(x) => *x,
            Dist::LogNormal { mean, sigma } => {
                // Box–Muller; E[T] = exp(μ + σ²/2) = mean.
                let u1: f64 = 1.0 - rng.random::<f64>();
                let u2: f64 = rng.random::<f64>();
                let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
                (mean.ln() - 0.5 * sigma * sigma + sigma * z).exp()
            }
            Dist::Empirical(v) => v[rng.random_range(0..v.len())],
        }
    }

    pub fn mean(&self) -> f64 {
        match self {
            Dist::Constant(x) => *x,
            Dist::LogNormal { mean, .. } => *mean,
            Dist::Empirical(v) => v.iter().sum::<f64>() / v.len() as f64,
        }
    }

    fn report(&self) -> DistributionReport {
        let (kind, spread, samples) = match self {
            Dist::Constant(_) => ("constant", None, Vec::new()),
            Dist::LogNormal { sigma, .. } => ("lognormal", Some(*sigma), Vec::new()),
            Dist::Empirical(v) => ("empirical", None, v.clone()),
        };
        DistributionReport {
            kind: kind.to_string(),
            mean: self.mean(),
            spread,
            samples,
        }
    }
}

/// T_c (ms), T_u (µs), T_r (µs) and the contention factor κ.
#[derive(Clone, Debug)]
pub(super) struct Timing {
    pub source: SimTiming,
    pub tc_ms: Dist,
    pub tu_us: Dist,
    pub tr_us: Dist,
    pub kappa: f64,
}

/// Whether the algorithm's read copies θ (and so takes T_r): the lock-based and HOGWILD!
/// reads do; Leashed-SGD reads the published vector in place, SYNC the shared θ.
fn reads_copy(a: Algorithm) -> bool {
    matches!(a, Algorithm::Seq | Algorithm::Async | Algorithm::Hogwild)
}

impl Timing {
    /// The model the configuration gives, or (`measured`) the host's timings of `worker`'s
    /// gradient on θ0 and of the strategy's read and publish.
    pub fn new(shared: &Shared, worker: &mut Worker, theta0: &[f32]) -> Timing {
        let cfg = shared.cfg;
        let copies = reads_copy(cfg.algorithm);
        let sigma = (cfg.sim_timing == SimTiming::Lognormal).then_some(cfg.sim_spread);
        let (tc_ms, tu_us, tr_us) = match cfg.sim_timing {
            SimTiming::Measured => measure(shared, worker, theta0),
            SimTiming::Constant | SimTiming::Lognormal => {
                let tc = cfg.sim_tc_ms.expect("validated: sim_tc_ms is set");
                let tu = cfg.sim_tu_us.expect("validated: sim_tu_us is set");
                let tr = cfg.sim_tr_us.unwrap_or(tu);
                (
                    Dist::scaled(tc, sigma),
                    Dist::scaled(tu, sigma),
                    Dist::scaled(tr, sigma),
                )
            }
            SimTiming::Empirical => {
                let tu = Dist::Empirical(cfg.sim_tu_list_us.clone());
                let tr = cfg.sim_tr_us.map_or_else(|| tu.clone(), Dist::Constant);
                (Dist::Empirical(cfg.sim_tc_list_ms.clone()), tu, tr)
            }
        };
        Timing {
            source: cfg.sim_timing,
            tc_ms,
            tu_us,
            tr_us: if copies || cfg.sim_timing == SimTiming::Measured {
                tr_us
            } else {
                Dist::Constant(0.0)
            },
            kappa: cfg.sim_kappa,
        }
    }

    /// T_c in seconds with `active` workers running.
    pub fn tc(&self, rng: &mut Xoshiro256PlusPlus, active: usize) -> f64 {
        let contention = 1.0 + self.kappa * active.saturating_sub(1) as f64;
        self.tc_ms.sample(rng) * 1e-3 * contention
    }

    /// T_u in seconds.
    pub fn tu(&self, rng: &mut Xoshiro256PlusPlus) -> f64 {
        self.tu_us.sample(rng) * 1e-6
    }

    /// T_r in seconds.
    pub fn tr(&self, rng: &mut Xoshiro256PlusPlus) -> f64 {
        self.tr_us.sample(rng) * 1e-6
    }

    pub fn report(&self) -> TimingReport {
        TimingReport {
            source: self.source.name().to_string(),
            tc_ms: self.tc_ms.report(),
            tu_us: self.tu_us.report(),
            tr_us: self.tr_us.report(),
            kappa: self.kappa,
        }
    }
}

/// Time `n` calls of `f`, each in its unit (`scale` per second).
fn timed(n: usize, scale: f64, mut f: impl FnMut()) -> Vec<f64> {
    f(); // warm-up: caches, lazily allocated buffers
    (0..n)
        .map(|_| {
            let t0 = Instant::now();
            f();
            t0.elapsed().as_secs_f64() * scale
        })
        .collect()
}

/// The host's T_c (the gradient on θ0 over the first mini-batch of the data), and T_u, T_r of
/// the run's strategy, built for one worker on a copy of θ0 and updated with η = 0 (θ is left
/// as it was; the arithmetic is the same).
fn measure(shared: &Shared, worker: &mut Worker, theta0: &[f32]) -> (Dist, Dist, Dist) {
    let cfg = shared.cfg;
    let n = cfg.sim_calibration;
    let first: Vec<u32> = (0..cfg.batch as u32).collect();
    worker.take_batch(&first);
    let tc = timed(n, 1e3, || {
        black_box(worker.compute(theta0));
    });
    let g = worker.grad().to_vec();
    let (tu, tr) = match cfg.algorithm {
        Algorithm::Seq | Algorithm::Async => strategy_times(&Locked::new(theta0.to_vec()), &g, n),
        Algorithm::Hogwild => strategy_times(&Hogwild::new(theta0.to_vec()), &g, n),
        Algorithm::Leashed => strategy_times(
            &Leashed::new(theta0.to_vec(), 1, Persistence::Unbounded),
            &g,
            n,
        ),
        Algorithm::Sync => {
            // The leader's step: average m gradients, then θ ← θ − η·g.
            let m = cfg.threads;
            let mut local = vec![0.0f32; g.len()];
            let mut theta = theta0.to_vec();
            let tu = timed(n, 1e6, || {
                local.fill(0.0);
                for _ in 0..m {
                    local.iter_mut().zip(&g).for_each(|(a, x)| *a += x);
                }
                let inv = 1.0 / m as f32;
                local.iter_mut().for_each(|a| *a *= inv);
                pvec::kernels::axpy(&mut theta, &local, 0.0);
                black_box(&theta);
            });
            (tu, vec![0.0])
        }
    };
    (
        Dist::Empirical(tc),
        Dist::Empirical(tu),
        Dist::Empirical(tr),
    )
}

/// T_u and T_r (µs) of `n` uncontended publishes and reads of one worker of `params`.
fn strategy_times<S: SharedParams>(params: &S, g: &[f32], n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut w = params
        .worker()
        .expect("one worker handle of a fresh strategy");
    let tr = timed(n, 1e6, || {
        black_box(w.read(|theta, seq| theta[0] + seq as f32));
    });
    let tu = timed(n, 1e6, || {
        let seq = params.seq();
        black_box(w.update(g, seq, |_| Some(0.0)));
    });
    (tu, tr)
}
