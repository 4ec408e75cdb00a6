//! `asgd-reference`: the `staleness` and `stepsize` crates' own results on fixed inputs, as
//! JSON on stdout, for the `asgd` pytest suite to compare the Python bindings against.
//!
//! It calls the crates directly (no PyO3), so the suite checks the whole binding path —
//! argument conversion, histogram construction from Python lists and records, policy and
//! option mapping, result conversion and error messages — against the library itself. The
//! inputs are part of the output, so the two sides cannot drift apart. Non-finite floats are
//! written as the strings "inf", "-inf" and "nan" (JSON has no literal for them).

use serde_json::{json, Map, Value};
use staleness::{fit_all, fit_cmp_a13, Counts, CountsError, Fit, Histogram, Method, Model, Side};
use stepsize::{Adaptive, CdfForm, Options, Phi, Policy, StepSize, MAX_TAU_MAX};

fn num(x: f64) -> Value {
    if x.is_nan() {
        json!("nan")
    } else if x == f64::INFINITY {
        json!("inf")
    } else if x == f64::NEG_INFINITY {
        json!("-inf")
    } else {
        json!(x)
    }
}

fn nums(v: &[f64]) -> Value {
    Value::Array(v.iter().map(|&x| num(x)).collect())
}

/// A histogram input: plain counts (Python: `Counts(counts)`), or samples recorded into a live
/// `Histogram::new(tau_max)` (Python: `Histogram(tau_max)` and `record`).
enum Input {
    Counts(Vec<u64>),
    Samples { tau_max: usize, samples: Vec<u64> },
}

impl Input {
    fn counts(&self) -> Counts {
        match self {
            Input::Counts(c) => Counts::try_from_counts(c.clone()).expect("fixture counts fit"),
            Input::Samples { tau_max, samples } => {
                let h = Histogram::new(*tau_max);
                samples.iter().for_each(|&t| h.record(t));
                h.snapshot()
            }
        }
    }

    fn json(&self) -> Value {
        match self {
            Input::Counts(c) => json!({ "counts": c }),
            Input::Samples { tau_max, samples } => {
                json!({ "tau_max": tau_max, "samples": samples })
            }
        }
    }
}

/// A deterministic sample of staleness values (a 64-bit LCG, each τ the sum of a few
/// draws so the shape is CMP-like, not uniform).
fn lcg_samples(n: usize, draws: u64, range: u64, seed: u64) -> Vec<u64> {
    let mut x = seed;
    (0..n)
        .map(|_| {
            (0..draws)
                .map(|_| {
                    x = x
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    (x >> 33) % range
                })
                .sum()
        })
        .collect()
}

fn histograms() -> Vec<(&'static str, Input)> {
    vec![
        ("flat5", Input::Counts(vec![200, 200, 200, 200, 200])),
        (
            "hump",
            Input::Counts(vec![3, 40, 120, 260, 300, 180, 70, 20, 6, 1]),
        ),
        (
            "halving",
            Input::Counts(vec![500, 250, 125, 62, 31, 16, 8, 4, 2, 1, 1]),
        ),
        ("point", Input::Counts(vec![0, 0, 7])),
        ("zeros", Input::Counts(vec![0, 0, 0])),
        (
            "recorded",
            Input::Samples {
                tau_max: 40,
                samples: lcg_samples(3000, 4, 5, 7),
            },
        ),
        (
            "overflowing",
            Input::Samples {
                tau_max: 6,
                samples: lcg_samples(2000, 3, 5, 11),
            },
        ),
    ]
}

fn fit_json(f: &Fit) -> Value {
    let (method, m) = match f.method {
        Method::Bhattacharyya => ("bhattacharyya", Value::Null),
        Method::MaximumLikelihood => ("likelihood", Value::Null),
        Method::CmpA13 { m } => ("a13", num(m)),
    };
    let params: Map<String, Value> = f
        .model
        .params()
        .into_iter()
        .map(|(k, v)| (k.to_string(), num(v)))
        .collect();
    let at: Vec<Value> = f
        .at_bound
        .iter()
        .map(|a| {
            let side = match a.side {
                Side::Lower => "lower",
                Side::Upper => "upper",
            };
            json!([a.param, side, num(a.bound)])
        })
        .collect();
    json!({
        "family": f.model.family().name(),
        "method": method,
        "m": m,
        "params": params,
        "distance": num(f.bhattacharyya),
        "log_likelihood": num(f.log_likelihood),
        "at_bound": at,
    })
}

fn stats(c: &Counts) -> Value {
    let qs = [0.0, 0.25, 0.5, 0.9, 1.0];
    json!({
        "tau_max": c.tau_max(),
        "counts": c.counts(),
        "overflow": c.overflow(),
        "total": c.total(),
        "mean": num(c.mean()),
        "variance": num(c.variance()),
        "mode": c.mode(),
        "quantiles": qs.iter().map(|&q| json!([q, c.quantile(q)])).collect::<Vec<_>>(),
        "pmf": nums(&c.pmf_vec()),
        "cdf": nums(&(0..=c.tau_max() + 2).map(|t| c.cdf(t)).collect::<Vec<_>>()),
    })
}

fn fits(c: &Counts) -> Value {
    let all = fit_all(c, None);
    let at3 = fit_all(c, Some(3.0));
    let list = |v: &[Fit]| Value::Array(v.iter().map(fit_json).collect());
    json!({
        "by_bhattacharyya": list(&all.by_bhattacharyya),
        "by_likelihood": list(&all.by_likelihood),
        "cmp_a13": all.cmp_a13.as_ref().map(fit_json),
        "cmp_a13_m3": at3.cmp_a13.as_ref().map(fit_json),
        "cmp_a13_m2_5": fit_cmp_a13(c, 2.5).as_ref().map(fit_json),
    })
}

fn models() -> Vec<Value> {
    let ms = [
        Model::Geometric { p: 0.3 },
        Model::Geometric { p: 1.0 },
        Model::Uniform { max: 6 },
        Model::Poisson { lambda: 3.7 },
        Model::Cmp {
            lambda: 4.0,
            nu: 0.6,
        },
        Model::Cmp {
            lambda: 30.0,
            nu: 2.5,
        },
    ];
    ms.iter()
        .map(|m| {
            let params: Map<String, Value> = m
                .params()
                .into_iter()
                .map(|(k, v)| (k.to_string(), num(v)))
                .collect();
            let ln: Vec<f64> = m.ln_pmf_range(20);
            json!({
                "family": m.family().name(),
                "params": params,
                "pmf": nums(&(0..=20).map(|k| m.pmf(k)).collect::<Vec<_>>()),
                "pmf_range": nums(&ln.iter().map(|l| l.exp()).collect::<Vec<_>>()),
                "ln_pmf": nums(&(0..=20).map(|k| m.ln_pmf(k)).collect::<Vec<_>>()),
                "cdf": nums(&(0..=20).map(|k| m.cdf(k)).collect::<Vec<_>>()),
                "mean": num(m.mean()),
                "mode": m.mode(),
            })
        })
        .collect()
}

/// A policy as the Python constructor's name and keyword arguments.
fn spec(p: &Policy) -> Value {
    let phi = |phi: Phi| match phi {
        Phi::Identity => json!("identity"),
        Phi::Smoothstep => json!("smoothstep"),
        Phi::Power(k) => json!({ "power": num(k) }),
    };
    let form = |f: CdfForm| match f {
        CdfForm::Thesis => "thesis",
        CdfForm::Exact => "exact",
        CdfForm::ThesisCode => "thesis_code",
    };
    let pair = |x: Option<(f64, f64)>| x.map(|(a, b)| json!([num(a), num(b)]));
    match *p {
        Policy::Constant => json!(["constant", {}]),
        Policy::Inverse => json!(["inverse", {}]),
        Policy::Fleet { beta } => json!(["fleet", { "beta": num(beta) }]),
        Policy::TailTau {
            amplitude,
            phi: f,
            form: c,
        } => json!(["tail_tau", { "amplitude": num(amplitude), "phi": phi(f), "form": form(c) }]),
        Policy::MindTheStepGeometric { p, momentum } => json!([
            "mind_the_step_geometric",
            { "momentum": num(momentum), "p": p.map(num) }
        ]),
        Policy::MindTheStepCmp { lambda_nu, c } => json!([
            "mind_the_step_cmp",
            { "c": num(c), "lambda_nu": pair(lambda_nu) }
        ]),
        Policy::MindTheStepMomentum {
            lambda_nu,
            k,
            printed,
        } => json!([
            "mind_the_step_momentum",
            { "k": num(k), "lambda_nu": pair(lambda_nu), "printed": printed }
        ]),
    }
}

fn opts_json(o: &Options, tau_max: usize) -> Value {
    json!({
        "tau_max": tau_max,
        "mean_preserving": o.mean_preserving,
        "cap": o.cap.map(num),
        "drop_above": o.drop_above,
    })
}

/// (policy, η0, options, τ_max) cases over every policy, CDF form, φ and option.
fn policy_cases() -> Vec<(Policy, f64, Options, usize)> {
    let none = Options::default();
    let mean = Options {
        mean_preserving: true,
        ..none
    };
    let capped = Options {
        mean_preserving: true,
        cap: Some(5.0),
        drop_above: None,
    };
    let tail = |amplitude, phi, form| Policy::TailTau {
        amplitude,
        phi,
        form,
    };
    let mut v = vec![
        (Policy::Constant, 0.01, none, 16),
        (Policy::Constant, 0.01, mean, 16),
        (Policy::Inverse, 0.05, none, 16),
        (Policy::Inverse, 0.05, mean, 16),
        (Policy::Fleet { beta: 0.3 }, 0.02, none, 16),
        (Policy::fleet_for_threads(8), 0.02, mean, 16),
        (
            Policy::Inverse,
            0.05,
            Options {
                drop_above: Some(4),
                ..none
            },
            16,
        ),
        (
            Policy::MindTheStepGeometric {
                p: Some(0.4),
                momentum: 0.5,
            },
            0.01,
            none,
            16,
        ),
        (
            Policy::MindTheStepGeometric {
                p: None,
                momentum: 0.0,
            },
            0.01,
            none,
            16,
        ),
        (
            Policy::MindTheStepGeometric {
                p: None,
                momentum: 0.6,
            },
            0.01,
            capped,
            16,
        ),
        (
            Policy::MindTheStepCmp {
                lambda_nu: Some((3.0, 1.2)),
                c: 0.5,
            },
            0.01,
            capped,
            16,
        ),
        (
            Policy::MindTheStepCmp {
                lambda_nu: None,
                c: 1.0,
            },
            0.01,
            capped,
            16,
        ),
        (
            Policy::MindTheStepMomentum {
                lambda_nu: Some((3.0, 1.0)),
                k: 0.002,
                printed: false,
            },
            0.01,
            capped,
            16,
        ),
        (
            Policy::MindTheStepMomentum {
                lambda_nu: Some((2.5, 1.4)),
                k: 0.004,
                printed: true,
            },
            0.01,
            Options {
                cap: Some(3.0),
                drop_above: Some(12),
                ..none
            },
            16,
        ),
        (
            Policy::MindTheStepMomentum {
                lambda_nu: None,
                k: 0.001,
                printed: false,
            },
            0.01,
            capped,
            16,
        ),
    ];
    for form in [CdfForm::Exact, CdfForm::Thesis, CdfForm::ThesisCode] {
        for phi in [Phi::Identity, Phi::Smoothstep, Phi::Power(3.0)] {
            v.push((tail(1.0, phi, form), 0.01, none, 12));
        }
    }
    v.push((tail(0.5, Phi::Power(1.5), CdfForm::Exact), 0.01, mean, 6));
    v.push((
        tail(0.8, Phi::Identity, CdfForm::Thesis),
        0.01,
        Options {
            mean_preserving: true,
            cap: Some(1.5),
            drop_above: Some(9),
        },
        8,
    ));
    v
}

fn policies(hists: &[(&'static str, Input)]) -> Vec<Value> {
    let mut out = Vec::new();
    for (policy, eta0, opts, tau_max) in policy_cases() {
        for (name, input) in hists {
            if *name == "zeros" || *name == "point" {
                continue;
            }
            let c = input.counts();
            let a = Adaptive::try_new(policy, eta0, opts, tau_max).expect("valid case");
            let before = a.factors_now();
            a.refresh(&c);
            let taus: Vec<u64> = (0..=tau_max as u64 + 3).chain([1000, u64::MAX]).collect();
            let etas: Vec<Value> = taus
                .iter()
                .map(|&t| a.eta(t).map_or(Value::Null, |e| num(f64::from(e))))
                .collect();
            out.push(json!({
                "policy": spec(&policy),
                "eta0": num(eta0),
                "options": opts_json(&opts, tau_max),
                "histogram": name,
                "factors_before": nums(&before),
                "factors": nums(&a.factors_now()),
                "taus": taus,
                "etas": etas,
                "mean_factor": num(a.mean_factor(&c)),
                "raw_factors": nums(&policy.factors(Some(&c), tau_max, eta0)),
                "is_bounded": policy.is_bounded(eta0),
                "is_instance_based": policy.is_instance_based(),
                "needs_histogram": a.needs_histogram(),
            }));
        }
    }
    out
}

/// Bad input and the library's message for it.
fn errors() -> Vec<Value> {
    let none = Options::default();
    let tail = |amplitude, phi| Policy::TailTau {
        amplitude,
        phi,
        form: CdfForm::Exact,
    };
    let policy_cases: Vec<(Policy, f64, Options, usize)> = vec![
        (tail(1.5, Phi::Identity), 0.01, none, 8),
        (tail(-0.1, Phi::Identity), 0.01, none, 8),
        (tail(1.0, Phi::Power(0.5)), 0.01, none, 8),
        (Policy::Fleet { beta: -1.0 }, 0.01, none, 8),
        (
            Policy::MindTheStepGeometric {
                p: Some(0.0),
                momentum: 0.5,
            },
            0.01,
            none,
            8,
        ),
        (
            Policy::MindTheStepGeometric {
                p: None,
                momentum: 1.0,
            },
            0.01,
            none,
            8,
        ),
        (
            Policy::MindTheStepCmp {
                lambda_nu: Some((0.0, 1.0)),
                c: 1.0,
            },
            0.01,
            none,
            8,
        ),
        (
            Policy::MindTheStepCmp {
                lambda_nu: Some((2.0, -1.0)),
                c: 1.0,
            },
            0.01,
            none,
            8,
        ),
        (
            Policy::MindTheStepCmp {
                lambda_nu: None,
                c: 0.0,
            },
            0.01,
            none,
            8,
        ),
        (
            Policy::MindTheStepMomentum {
                lambda_nu: None,
                k: -1.0,
                printed: false,
            },
            0.01,
            none,
            8,
        ),
        // Sane policies made concrete badly.
        (Policy::Constant, 0.0, none, 8),
        (Policy::Constant, f64::NAN, none, 8),
        (
            Policy::Constant,
            0.01,
            Options {
                cap: Some(-1.0),
                ..none
            },
            8,
        ),
        (Policy::Constant, 0.01, none, MAX_TAU_MAX + 1),
        (
            Policy::MindTheStepCmp {
                lambda_nu: None,
                c: 1.0,
            },
            0.01,
            none,
            8,
        ),
        (
            Policy::MindTheStepMomentum {
                lambda_nu: Some((3.0, 1.0)),
                k: 0.0001,
                printed: false,
            },
            0.01,
            none,
            8,
        ),
        (
            Policy::MindTheStepGeometric {
                p: None,
                momentum: 0.5,
            },
            0.01,
            none,
            8,
        ),
    ];
    let mut out: Vec<Value> = policy_cases
        .into_iter()
        .map(|(p, eta0, o, tau_max)| {
            let at = if p.validate().is_err() {
                "policy"
            } else {
                "adaptive"
            };
            let msg = Adaptive::try_new(p, eta0, o, tau_max)
                .expect_err("an error case")
                .to_string();
            json!({
                "kind": at,
                "policy": spec(&p),
                "eta0": num(eta0),
                "options": opts_json(&o, tau_max),
                "message": msg,
            })
        })
        .collect();
    let big = vec![u64::MAX, u64::MAX, 5];
    let msg = Counts::try_from_counts(big.clone())
        .err()
        .map(|e: CountsError| e.to_string())
        .expect("overflow");
    out.push(json!({ "kind": "counts", "counts": big, "message": msg }));
    out
}

fn main() {
    let hists = histograms();
    let h: Vec<Value> = hists
        .iter()
        .map(|(name, input)| {
            let c = input.counts();
            json!({
                "name": name,
                "input": input.json(),
                "stats": stats(&c),
                "fits": fits(&c),
            })
        })
        .collect();
    let dist = {
        let a = hists[1].1.counts();
        let b = hists[2].1.counts();
        let o = hists[6].1.counts();
        json!({
            "hump_halving": num(staleness::fit::bhattacharyya(&a, &b)),
            "hump_overflowing": num(staleness::fit::bhattacharyya(&a, &o)),
        })
    };
    let out = json!({
        "histograms": h,
        "bhattacharyya": dist,
        "models": models(),
        "policies": policies(&hists),
        "errors": errors(),
    });
    println!("{out}");
}
