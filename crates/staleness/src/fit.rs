//! Fitting the models to an observed histogram: minimum Bhattacharyya distance (as Table A.1),
//! maximum likelihood, and for CMP the thesis' 1-D search under λ^{1/ν} = m (A.13).
//!
//! The histogram's overflow bucket (τ > τ_max) is treated as one censored cell with model mass
//! 1 − F(τ_max), in both the distance and the likelihood.

use crate::models::{Family, Model};
use crate::Counts;

/// One fitted model.
#[derive(Clone, Debug, PartialEq)]
pub struct Fit {
    pub model: Model,
    pub method: Method,
    /// D_B = −ln Σ √(p_obs(τ) q(τ)) (0 for identical distributions).
    pub bhattacharyya: f64,
    /// Σ counts(τ) ln q(τ) (−∞ if an observed τ has zero model probability).
    pub log_likelihood: f64,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Method {
    Bhattacharyya,
    MaximumLikelihood,
    /// CMP with λ = m^ν, ν chosen by minimum Bhattacharyya distance (A.13).
    CmpA13 {
        m: f64,
    },
}

/// The observed distribution, prepared once for many model evaluations.
struct Obs<'a> {
    c: &'a Counts,
    p: Vec<f64>,
    p_over: f64,
    n: u64,
}

impl<'a> Obs<'a> {
    fn new(c: &'a Counts) -> Self {
        let t = c.total().max(1) as f64;
        Obs {
            c,
            p: c.counts().iter().map(|&x| x as f64 / t).collect(),
            p_over: c.overflow() as f64 / t,
            n: c.tau_max() as u64,
        }
    }

    /// (ln q(0..=τ_max), model mass above τ_max).
    fn model(&self, m: &Model) -> (Vec<f64>, f64) {
        let lq = m.ln_pmf_range(self.n);
        let inside: f64 = lq.iter().map(|l| l.exp()).sum();
        (lq, (1.0 - inside).max(0.0))
    }

    fn bhattacharyya(&self, m: &Model) -> f64 {
        let (lq, q_over) = self.model(m);
        let bc: f64 = self
            .p
            .iter()
            .zip(&lq)
            .map(|(&p, &l)| {
                if p > 0.0 {
                    (p.ln() + l).mul_add(0.5, 0.0).exp()
                } else {
                    0.0
                }
            })
            .sum::<f64>()
            + (self.p_over * q_over).sqrt();
        -bc.clamp(1e-300, 1.0).ln()
    }

    fn log_likelihood(&self, m: &Model) -> f64 {
        let (lq, q_over) = self.model(m);
        let mut ll = 0.0;
        for (&c, &l) in self.c.counts().iter().zip(&lq) {
            if c > 0 {
                ll += c as f64 * l;
            }
        }
        if self.c.overflow() > 0 {
            ll += self.c.overflow() as f64 * q_over.ln();
        }
        if ll.is_nan() {
            f64::NEG_INFINITY
        } else {
            ll
        }
    }

    fn finish(&self, model: Model, method: Method) -> Fit {
        Fit {
            model,
            method,
            bhattacharyya: self.bhattacharyya(&model),
            log_likelihood: self.log_likelihood(&model),
        }
    }
}

/// Minimise a unimodal function on [a, b] by golden-section search.
pub fn golden(mut f: impl FnMut(f64) -> f64, mut a: f64, mut b: f64, tol: f64) -> f64 {
    let g = (5f64.sqrt() - 1.0) / 2.0;
    let mut c = b - g * (b - a);
    let mut d = a + g * (b - a);
    let (mut fc, mut fd) = (f(c), f(d));
    while (b - a).abs() > tol {
        if fc < fd {
            b = d;
            d = c;
            fd = fc;
            c = b - g * (b - a);
            fc = f(c);
        } else {
            a = c;
            c = d;
            fc = fd;
            d = a + g * (b - a);
            fd = f(d);
        }
    }
    (a + b) / 2.0
}

/// Nelder–Mead in 2-D from `x0` with initial step `step`.
pub fn nelder_mead(
    mut f: impl FnMut([f64; 2]) -> f64,
    x0: [f64; 2],
    step: f64,
    tol: f64,
    max_iter: usize,
) -> [f64; 2] {
    let mut s = [x0, [x0[0] + step, x0[1]], [x0[0], x0[1] + step]];
    let mut v = s.map(&mut f);
    for _ in 0..max_iter {
        let mut idx = [0, 1, 2];
        idx.sort_by(|&i, &j| v[i].total_cmp(&v[j]));
        s = idx.map(|i| s[i]);
        v = idx.map(|i| v[i]);
        if (v[2] - v[0]).abs() <= tol * (v[0].abs() + tol)
            && (s[2][0] - s[0][0]).abs().max((s[2][1] - s[0][1]).abs()) < 1e-6
        {
            break;
        }
        let c = [(s[0][0] + s[1][0]) / 2.0, (s[0][1] + s[1][1]) / 2.0];
        let at = |t: f64| [c[0] + t * (s[2][0] - c[0]), c[1] + t * (s[2][1] - c[1])];
        let r = at(-1.0);
        let fr = f(r);
        if fr < v[0] {
            let e = at(-2.0);
            let fe = f(e);
            if fe < fr {
                s[2] = e;
                v[2] = fe;
            } else {
                s[2] = r;
                v[2] = fr;
            }
        } else if fr < v[1] {
            s[2] = r;
            v[2] = fr;
        } else {
            let k = at(if fr < v[2] { -0.5 } else { 0.5 });
            let fk = f(k);
            if fk < v[2].min(fr) {
                s[2] = k;
                v[2] = fk;
            } else {
                for i in 1..3 {
                    s[i] = [(s[0][0] + s[i][0]) / 2.0, (s[0][1] + s[i][1]) / 2.0];
                    v[i] = f(s[i]);
                }
            }
        }
    }
    let best = (0..3)
        .min_by(|&i, &j| v[i].total_cmp(&v[j]))
        .expect("three points");
    s[best]
}

const NU_MIN: f64 = 0.05;
const NU_MAX: f64 = 10.0;
const LAMBDA_MIN: f64 = 1e-3;
const LAMBDA_MAX: f64 = 1e3;

fn cmp_from(x: [f64; 2]) -> Model {
    Model::Cmp {
        lambda: x[0].exp().clamp(LAMBDA_MIN, LAMBDA_MAX),
        nu: x[1].exp().clamp(NU_MIN, NU_MAX),
    }
}

/// Keep the 2-D search inside the supported box.
fn boxed(x: [f64; 2]) -> f64 {
    let dl = (x[0] - LAMBDA_MAX.ln())
        .max(LAMBDA_MIN.ln() - x[0])
        .max(0.0);
    let dn = (x[1] - NU_MAX.ln()).max(NU_MIN.ln() - x[1]).max(0.0);
    1e3 * (dl + dn)
}

/// Fit one family by minimum Bhattacharyya distance. Empty histograms give `None`.
pub fn fit_bhattacharyya(family: Family, counts: &Counts) -> Option<Fit> {
    fit_bhattacharyya_from(family, counts, None)
}

/// CMP searches start from the A.13 fit with m = mode + 1 (computed if not given).
fn cmp_start(counts: &Counts, start: Option<&Fit>) -> Option<(f64, f64)> {
    let owned;
    let f = match start {
        Some(f) => f,
        None => {
            owned = fit_cmp_a13(counts, (counts.mode() + 1) as f64)?;
            &owned
        }
    };
    match f.model {
        Model::Cmp { lambda, nu } => Some((lambda, nu)),
        _ => None,
    }
}

fn fit_bhattacharyya_from(family: Family, counts: &Counts, start: Option<&Fit>) -> Option<Fit> {
    if counts.total() == 0 {
        return None;
    }
    let o = Obs::new(counts);
    let hi = (2 * o.n + 10) as f64;
    let model = match family {
        Family::Geometric => {
            let x = golden(
                |x| o.bhattacharyya(&Model::Geometric { p: logistic(x) }),
                -25.0,
                25.0,
                1e-8,
            );
            Model::Geometric { p: logistic(x) }
        }
        Family::Poisson => {
            let x = golden(
                |x| o.bhattacharyya(&Model::Poisson { lambda: x.exp() }),
                LAMBDA_MIN.ln(),
                hi.ln(),
                1e-8,
            );
            Model::Poisson { lambda: x.exp() }
        }
        Family::Uniform => {
            // BC(τ̂) from prefix sums of √p: O(1) per candidate.
            let mut best = (f64::INFINITY, 0u64);
            let mut sq = 0.0;
            for t in 0..=2 * o.n + 1 {
                if t <= o.n {
                    sq += o.p[t as usize].sqrt();
                }
                let inside = sq / ((t + 1) as f64).sqrt();
                let over = (o.p_over * t.saturating_sub(o.n) as f64 / (t + 1) as f64).sqrt();
                let d = -(inside + over).clamp(1e-300, 1.0).ln();
                if d < best.0 {
                    best = (d, t);
                }
            }
            Model::Uniform { max: best.1 }
        }
        Family::Cmp => {
            let (lambda, nu) = cmp_start(counts, start)?;
            let x = nelder_mead(
                |x| o.bhattacharyya(&cmp_from(x)) + boxed(x),
                [lambda.ln(), nu.ln()],
                0.2,
                1e-10,
                300,
            );
            cmp_from(x)
        }
    };
    Some(o.finish(model, Method::Bhattacharyya))
}

/// Fit one family by maximum likelihood (the overflow cell censored). Empty histograms give
/// `None`.
pub fn fit_mle(family: Family, counts: &Counts) -> Option<Fit> {
    fit_mle_from(family, counts, None)
}

fn fit_mle_from(family: Family, counts: &Counts, start: Option<&Fit>) -> Option<Fit> {
    if counts.total() == 0 {
        return None;
    }
    let o = Obs::new(counts);
    let hi = (2 * o.n + 10) as f64;
    let nll = |m: &Model| -o.log_likelihood(m);
    let model = match family {
        // Closed forms hold without censoring; with an overflow cell a 1-D search does it.
        Family::Geometric if counts.overflow() == 0 => Model::Geometric {
            p: 1.0 / (1.0 + counts.mean()),
        },
        Family::Poisson if counts.overflow() == 0 => Model::Poisson {
            lambda: counts.mean().max(LAMBDA_MIN),
        },
        Family::Geometric => Model::Geometric {
            p: logistic(golden(
                |x| nll(&Model::Geometric { p: logistic(x) }),
                -25.0,
                25.0,
                1e-10,
            )),
        },
        Family::Poisson => Model::Poisson {
            lambda: golden(
                |x| nll(&Model::Poisson { lambda: x.exp() }),
                LAMBDA_MIN.ln(),
                hi.ln(),
                1e-10,
            )
            .exp(),
        },
        Family::Uniform => {
            let max_seen = counts.counts().iter().rposition(|&c| c > 0).unwrap_or(0) as u64;
            if counts.overflow() == 0 {
                Model::Uniform { max: max_seen }
            } else {
                let best = (o.n + 1..=4 * o.n + 4)
                    .min_by(|&a, &b| {
                        nll(&Model::Uniform { max: a }).total_cmp(&nll(&Model::Uniform { max: b }))
                    })
                    .expect("non-empty range");
                Model::Uniform { max: best }
            }
        }
        Family::Cmp => {
            let (lambda, nu) = cmp_start(counts, start)?;
            let x = nelder_mead(
                |x| nll(&cmp_from(x)) / counts.total() as f64 + boxed(x),
                [lambda.ln(), nu.ln()],
                0.2,
                1e-12,
                300,
            );
            cmp_from(x)
        }
    };
    Some(o.finish(model, Method::MaximumLikelihood))
}

/// The thesis' CMP fit: λ = m^ν (A.13, the mode at m), ν by a 1-D search minimising the
/// Bhattacharyya distance. `m` is the number of workers.
pub fn fit_cmp_a13(counts: &Counts, m: f64) -> Option<Fit> {
    if counts.total() == 0 || m.is_nan() || m <= 0.0 {
        return None;
    }
    let o = Obs::new(counts);
    let at = |nu: f64| Model::Cmp {
        lambda: m.powf(nu).clamp(LAMBDA_MIN, LAMBDA_MAX),
        nu,
    };
    let x = golden(
        |x| o.bhattacharyya(&at(x.exp())),
        NU_MIN.ln(),
        NU_MAX.ln(),
        1e-7,
    );
    Some(o.finish(at(x.exp()), Method::CmpA13 { m }))
}

/// All four families by Bhattacharyya distance and by likelihood, plus the A.13 CMP fit; each
/// list sorted best first.
#[derive(Clone, Debug)]
pub struct FitReport {
    pub by_bhattacharyya: Vec<Fit>,
    pub by_likelihood: Vec<Fit>,
    pub cmp_a13: Option<Fit>,
}

/// Fit everything to `counts`; `m` (workers) for the A.13 search defaults to mode + 1.
pub fn fit_all(counts: &Counts, m: Option<f64>) -> FitReport {
    let default_m = (counts.mode() + 1) as f64;
    let start = fit_cmp_a13(counts, default_m);
    let mut by_b: Vec<Fit> = Family::ALL
        .iter()
        .filter_map(|&f| fit_bhattacharyya_from(f, counts, start.as_ref()))
        .collect();
    by_b.sort_by(|a, b| a.bhattacharyya.total_cmp(&b.bhattacharyya));
    let mut by_l: Vec<Fit> = Family::ALL
        .iter()
        .filter_map(|&f| fit_mle_from(f, counts, start.as_ref()))
        .collect();
    by_l.sort_by(|a, b| b.log_likelihood.total_cmp(&a.log_likelihood));
    let cmp_a13 = match m {
        Some(m) if m != default_m => fit_cmp_a13(counts, m),
        _ => start,
    };
    FitReport {
        by_bhattacharyya: by_b,
        by_likelihood: by_l,
        cmp_a13,
    }
}

/// The four families by minimum Bhattacharyya distance only (the Table A.1 procedure), sorted
/// best first.
pub fn fit_families(counts: &Counts) -> Vec<Fit> {
    let start = fit_cmp_a13(counts, (counts.mode() + 1) as f64);
    let mut v: Vec<Fit> = Family::ALL
        .iter()
        .filter_map(|&f| fit_bhattacharyya_from(f, counts, start.as_ref()))
        .collect();
    v.sort_by(|a, b| a.bhattacharyya.total_cmp(&b.bhattacharyya));
    v
}

/// Bhattacharyya distance between two histograms (over the union of their buckets, overflows
/// as one more cell): 0 for identical distributions, symmetric.
pub fn bhattacharyya(a: &Counts, b: &Counts) -> f64 {
    let (ta, tb) = (a.total().max(1) as f64, b.total().max(1) as f64);
    let n = a.tau_max().max(b.tau_max());
    let bc: f64 = (0..=n)
        .map(|k| ((a.count(k) as f64 / ta) * (b.count(k) as f64 / tb)).sqrt())
        .sum::<f64>()
        + ((a.overflow() as f64 / ta) * (b.overflow() as f64 / tb)).sqrt();
    (-bc.clamp(1e-300, 1.0).ln()).max(0.0)
}

fn logistic(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}
