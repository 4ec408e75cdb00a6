//! Fitting the models to an observed histogram: minimum Bhattacharyya distance (as Table A.1),
//! maximum likelihood, and for CMP the thesis' 1-D search under λ^{1/ν} = m (A.13).
//!
//! Every fit is global: an exhaustive grid over the whole search box (the thesis' Table A.1
//! used an exhaustive search), refined locally from the best grid points (golden-section search
//! in 1-D, Nelder–Mead in 2-D). The box scales with the histogram's support s (the last
//! observed τ, or τ_max + 1 when some updates overflowed): means up to 4(s + 1), CMP's
//! ν ∈ [0.05, 20]. A parameter that ends on an artificial bound of that box is reported in
//! [`Fit::at_bound`]: the optimum lies on or beyond the bound, and the value is a limit of the
//! search, not an estimate.
//!
//! The histogram's overflow bucket (τ > τ_max) is treated as one censored cell with model mass
//! 1 − F(τ_max), in both the distance and the likelihood.

mod obs;
mod search;

use crate::models::{Family, Model};
use crate::Counts;
use obs::Obs;
pub use search::{golden, nelder_mead};
use search::{grid_golden, grid_nelder_mead, linspace};

/// One fitted model.
#[derive(Clone, Debug, PartialEq)]
pub struct Fit {
    pub model: Model,
    pub method: Method,
    /// D_B = −ln Σ √(p_obs(τ) q(τ)) (0 for identical distributions).
    pub bhattacharyya: f64,
    /// Σ counts(τ) ln q(τ) (−∞ if an observed τ has zero model probability).
    pub log_likelihood: f64,
    /// The parameters that ended on a bound of the search box (empty for a proper fit).
    pub at_bound: Vec<AtBound>,
}

impl Fit {
    /// Whether every parameter is an interior optimum (no entry in [`Fit::at_bound`]).
    pub fn is_interior(&self) -> bool {
        self.at_bound.is_empty()
    }
}

/// A fitted parameter that sits on a bound of the search box.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AtBound {
    /// The parameter: `p`, `max`, `lambda`, `nu`, or `mu` (CMP's λ^{1/ν}).
    pub param: &'static str,
    pub side: Side,
    /// The bound's value.
    pub bound: f64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Lower,
    Upper,
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

/// CMP's ν range searched (the thesis' Table A.1 has ν from 0.39 to 6.28).
pub const NU_MIN: f64 = 0.05;
pub const NU_MAX: f64 = 20.0;
/// The smallest λ searched for Poisson and CMP (P(1)/P(0) = λ: below this a histogram of 10⁶
/// updates is all τ = 0).
pub const LAMBDA_MIN: f64 = 1e-6;
/// Means are searched up to this multiple of the support (plus one).
pub const SUPPORT_FACTOR: f64 = 4.0;

/// The largest mean-like parameter searched: 4(s + 1).
fn scale_max(o: &Obs) -> f64 {
    SUPPORT_FACTOR * (o.support() + 1) as f64
}

/// Bound flags for a search coordinate `x` ∈ [lo, hi]; `natural` bounds (a limit of the family
/// itself, such as p = 1) are not flagged.
fn flag(
    out: &mut Vec<AtBound>,
    param: &'static str,
    x: f64,
    (lo, hi): (f64, f64),
    (lo_value, hi_value): (Option<f64>, Option<f64>),
) {
    let tol = 1e-5 * (hi - lo).max(1.0);
    if let Some(bound) = lo_value.filter(|_| x - lo <= tol) {
        out.push(AtBound {
            param,
            side: Side::Lower,
            bound,
        });
    }
    if let Some(bound) = hi_value.filter(|_| hi - x <= tol) {
        out.push(AtBound {
            param,
            side: Side::Upper,
            bound,
        });
    }
}

/// CMP in the search coordinates (ln ν, y): y = ln μ (μ = λ^{1/ν}, the mode's scale) where
/// μ ≥ 1, and y = ln λ where μ < 1. Both halves meet at y = 0 (μ = λ = 1). In the upper half
/// the two coordinates are nearly independent (μ sets the location, ν the spread), which is
/// what conditions the search; in the lower half μ = λ^{1/ν} collapses towards 0 as ν → 0 (a
/// near-geometric shape with λ = P(1)/P(0) < 1), so λ is the coordinate that stays moderate.
fn cmp_at(x: [f64; 2]) -> Model {
    let nu = x[0].exp();
    let lambda = if x[1] >= 0.0 {
        (nu * x[1]).exp()
    } else {
        x[1].exp()
    };
    Model::Cmp { lambda, nu }
}

/// A CMP fit minimising `objective` over the whole box, with its bound flags.
fn fit_cmp(o: &Obs, mut objective: impl FnMut(&Model) -> f64) -> (Model, Vec<AtBound>) {
    let nu_box = (NU_MIN.ln(), NU_MAX.ln());
    let y_box = (LAMBDA_MIN.ln(), scale_max(o).ln());
    let nus = linspace(nu_box.0, nu_box.1, 36);
    // Steps of 0.1 in ln μ (10 % in the mode) above μ = 1; steps of ~1 in ln λ below.
    let mut ys = linspace(y_box.0, 0.0, 15);
    let up = ((y_box.1 / 0.1).ceil() as usize).max(2);
    ys.extend(linspace(0.0, y_box.1, up + 1).into_iter().skip(1));
    let x = grid_nelder_mead(|x| objective(&cmp_at(x)), &nus, &ys, 3);
    let model = cmp_at(x);
    let mut at = Vec::new();
    flag(&mut at, "nu", x[0], nu_box, (Some(NU_MIN), Some(NU_MAX)));
    flag(&mut at, "lambda", x[1], y_box, (Some(LAMBDA_MIN), None));
    flag(&mut at, "mu", x[1], y_box, (None, Some(scale_max(o))));
    (model, at)
}

/// A 1-D fit on the grid coordinate `x` ∈ [lo, hi].
fn fit_1d(
    o: &Obs,
    family: Family,
    mut objective: impl FnMut(&Model) -> f64,
) -> (Model, Vec<AtBound>) {
    let mut at = Vec::new();
    let top = scale_max(o);
    let model = match family {
        Family::Geometric => {
            // x = ln p, p ∈ [1/(1 + 4(s + 1)), 1]: means up to 4(s + 1); p = 1 (every τ = 0) is
            // the family's own limit, not a search bound.
            let p_min = 1.0 / (1.0 + top);
            let bx = (p_min.ln(), 0.0);
            let x = grid_golden(
                |x| objective(&Model::Geometric { p: x.exp() }),
                bx.0,
                bx.1,
                400,
            );
            flag(&mut at, "p", x, bx, (Some(p_min), None));
            Model::Geometric {
                p: x.exp().min(1.0),
            }
        }
        Family::Poisson => {
            let bx = (LAMBDA_MIN.ln(), top.ln());
            let x = grid_golden(
                |x| objective(&Model::Poisson { lambda: x.exp() }),
                bx.0,
                bx.1,
                400,
            );
            flag(&mut at, "lambda", x, bx, (Some(LAMBDA_MIN), Some(top)));
            Model::Poisson { lambda: x.exp() }
        }
        Family::Uniform => {
            let hi = top as u64;
            let max = (0..=hi)
                .min_by(|&a, &b| {
                    objective(&Model::Uniform { max: a })
                        .total_cmp(&objective(&Model::Uniform { max: b }))
                })
                .expect("non-empty range");
            flag(
                &mut at,
                "max",
                max as f64,
                (0.0, hi as f64),
                (None, Some(hi as f64)),
            );
            Model::Uniform { max }
        }
        Family::Cmp => unreachable!("CMP is fitted in 2-D"),
    };
    (model, at)
}

fn finish(o: &Obs, model: Model, method: Method, at_bound: Vec<AtBound>) -> Fit {
    Fit {
        model,
        method,
        bhattacharyya: o.bhattacharyya(&model),
        log_likelihood: o.log_likelihood(&model),
        at_bound,
    }
}

/// Fit one family by minimum Bhattacharyya distance. Empty histograms give `None`.
pub fn fit_bhattacharyya(family: Family, counts: &Counts) -> Option<Fit> {
    if counts.total() == 0 {
        return None;
    }
    let o = Obs::new(counts);
    let (model, at) = match family {
        Family::Cmp => fit_cmp(&o, |m| o.bhattacharyya(m)),
        Family::Uniform => uniform_bhattacharyya(&o),
        f => fit_1d(&o, f, |m| o.bhattacharyya(m)),
    };
    Some(finish(&o, model, Method::Bhattacharyya, at))
}

/// Uniform{0..τ̂} by D_B, exhaustively over τ̂ ≤ 4(s + 1) with prefix sums of √p (O(1) per
/// candidate); the overflow's mass is spread evenly over (τ_max, τ̂].
fn uniform_bhattacharyya(o: &Obs) -> (Model, Vec<AtBound>) {
    let c = o.c;
    let t = c.total().max(1) as f64;
    let p_over = c.overflow() as f64 / t;
    let hi = scale_max(o) as u64;
    let n = o.n;
    let mut best = (f64::INFINITY, 0u64);
    let mut sq = 0.0;
    for m in 0..=hi {
        if m <= n {
            sq += (c.count(m as usize) as f64 / t).sqrt();
        }
        let inside = sq / ((m + 1) as f64).sqrt();
        let over = if c.overflow() > 0 {
            (p_over * m.saturating_sub(n) as f64 / (m + 1) as f64).sqrt()
        } else {
            0.0
        };
        let d = -(inside + over).clamp(1e-300, 1.0).ln();
        if d < best.0 {
            best = (d, m);
        }
    }
    let mut at = Vec::new();
    flag(
        &mut at,
        "max",
        best.1 as f64,
        (0.0, hi as f64),
        (None, Some(hi as f64)),
    );
    (Model::Uniform { max: best.1 }, at)
}

/// Fit one family by maximum likelihood (the overflow cell censored). Empty histograms give
/// `None`.
pub fn fit_mle(family: Family, counts: &Counts) -> Option<Fit> {
    if counts.total() == 0 {
        return None;
    }
    let o = Obs::new(counts);
    let nll = |m: &Model| o.nll_per_update(m);
    let (model, at) = match family {
        // Closed forms hold without censoring; with an overflow cell the grid search does it.
        Family::Geometric if counts.overflow() == 0 => (
            Model::Geometric {
                p: 1.0 / (1.0 + counts.mean()),
            },
            Vec::new(),
        ),
        Family::Poisson if counts.overflow() == 0 => {
            let mean = counts.mean();
            let mut at = Vec::new();
            if mean <= LAMBDA_MIN {
                at.push(AtBound {
                    param: "lambda",
                    side: Side::Lower,
                    bound: LAMBDA_MIN,
                });
            }
            (
                Model::Poisson {
                    lambda: mean.max(LAMBDA_MIN),
                },
                at,
            )
        }
        Family::Uniform if counts.overflow() == 0 => (Model::Uniform { max: o.n }, Vec::new()),
        Family::Cmp => fit_cmp(&o, nll),
        f => fit_1d(&o, f, nll),
    };
    Some(finish(&o, model, Method::MaximumLikelihood, at))
}

/// The thesis' CMP fit: λ = m^ν (A.13, the mode at m), ν by a 1-D search (grid, then golden
/// section) minimising the Bhattacharyya distance. `m` is the number of workers.
pub fn fit_cmp_a13(counts: &Counts, m: f64) -> Option<Fit> {
    if counts.total() == 0 || !(m.is_finite() && m > 0.0) {
        return None;
    }
    let o = Obs::new(counts);
    let at = |nu: f64| Model::Cmp {
        lambda: (nu * m.ln()).exp(),
        nu,
    };
    let bx = (NU_MIN.ln(), NU_MAX.ln());
    let x = grid_golden(|x| o.bhattacharyya(&at(x.exp())), bx.0, bx.1, 200);
    let mut flags = Vec::new();
    flag(&mut flags, "nu", x, bx, (Some(NU_MIN), Some(NU_MAX)));
    Some(finish(&o, at(x.exp()), Method::CmpA13 { m }, flags))
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
    let mut by_l: Vec<Fit> = Family::ALL
        .iter()
        .filter_map(|&f| fit_mle(f, counts))
        .collect();
    by_l.sort_by(|a, b| b.log_likelihood.total_cmp(&a.log_likelihood));
    FitReport {
        by_bhattacharyya: fit_families(counts),
        by_likelihood: by_l,
        cmp_a13: fit_cmp_a13(counts, m.unwrap_or((counts.mode() + 1) as f64)),
    }
}

/// The four families by minimum Bhattacharyya distance only (the Table A.1 procedure), sorted
/// best first.
pub fn fit_families(counts: &Counts) -> Vec<Fit> {
    let mut v: Vec<Fit> = Family::ALL
        .iter()
        .filter_map(|&f| fit_bhattacharyya(f, counts))
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
