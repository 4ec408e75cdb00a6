//! Statistics for the verdicts: medians over repeats, and a seeded percentile bootstrap of the
//! ratio of two medians, so that a comparison says "no significant difference" when its
//! confidence interval contains 1 (the thesis' box plots: 11 executions in Ch. B, 5 in Ch. C/D).

/// Resamples per bootstrap.
pub const RESAMPLES: usize = 10_000;
/// Two-sided confidence level of the intervals.
pub const LEVEL: f64 = 0.95;
/// Fixed seed: the same runs give the same interval.
const SEED: u64 = 0x6173_6764_626f_6f74;

/// Median, min and max (of a non-empty slice; sorts it).
pub fn median_min_max(v: &mut [f64]) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let med = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    };
    (med, v[0], v[n - 1])
}

/// The median of the finite values (None if there are none).
pub fn median(v: &[f64]) -> Option<f64> {
    let mut v: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    (!v.is_empty()).then(|| median_min_max(&mut v).0)
}

/// SplitMix64: a small, seeded, reproducible generator (no dependency for one loop).
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in 0..n.
    fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next()) * n as u128) >> 64) as usize
    }
}

/// The ratio median(a) / median(b) with its bootstrap confidence interval.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RatioCi {
    pub ratio: f64,
    pub lo: f64,
    pub hi: f64,
    pub n_a: usize,
    pub n_b: usize,
}

impl RatioCi {
    /// Whether the interval excludes 1.
    pub fn significant(&self) -> bool {
        self.lo > 1.0 || self.hi < 1.0
    }

    /// "0.83× [0.71, 0.95]".
    pub fn show(&self) -> String {
        format!("{:.2}× [{:.2}, {:.2}]", self.ratio, self.lo, self.hi)
    }
}

/// Percentile bootstrap (`RESAMPLES` resamples of each sample, independently, with
/// replacement) of median(a) / median(b), at `LEVEL`. None unless both samples have at least
/// two finite, positive values (one value has no spread to resample).
pub fn ratio_ci(a: &[f64], b: &[f64]) -> Option<RatioCi> {
    let clean = |v: &[f64]| -> Vec<f64> {
        v.iter()
            .copied()
            .filter(|x| x.is_finite() && *x > 0.0)
            .collect()
    };
    let (a, b) = (clean(a), clean(b));
    if a.len() < 2 || b.len() < 2 {
        return None;
    }
    let mut rng = SplitMix(SEED);
    let mut sa = vec![0.0; a.len()];
    let mut sb = vec![0.0; b.len()];
    let mut ratios: Vec<f64> = (0..RESAMPLES)
        .map(|_| {
            for x in sa.iter_mut() {
                *x = a[rng.below(a.len())];
            }
            for x in sb.iter_mut() {
                *x = b[rng.below(b.len())];
            }
            median_min_max(&mut sa).0 / median_min_max(&mut sb).0
        })
        .collect();
    ratios.sort_by(f64::total_cmp);
    let q = |p: f64| ratios[((RESAMPLES - 1) as f64 * p).round() as usize];
    let tail = (1.0 - LEVEL) / 2.0;
    Some(RatioCi {
        ratio: median(&a)? / median(&b)?,
        lo: q(tail),
        hi: q(1.0 - tail),
        n_a: a.len(),
        n_b: b.len(),
    })
}

thread_local! {
    /// The verdicts of the experiment running now, for `out/bench/…/verdicts.json`: the suite
    /// takes them after each experiment ([`take_recorded`]), so no experiment passes them on.
    static RECORDED: std::cell::RefCell<Vec<serde_json::Value>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The verdicts recorded since the last call, in order.
pub fn take_recorded() -> Vec<serde_json::Value> {
    RECORDED.with(|r| std::mem::take(&mut *r.borrow_mut()))
}

/// One comparison for machines: what was compared, the interval, and the word for it.
fn record(a: &str, b: &str, ci: Option<RatioCi>, text: &str) {
    let (verdict, c) = match ci {
        None => ("too_few_runs", None),
        Some(c) if !c.significant() => ("no_significant_difference", Some(c)),
        Some(c) if c.hi < 1.0 => ("a_faster", Some(c)),
        Some(c) => ("a_slower", Some(c)),
    };
    let v = serde_json::json!({
        "a": a,
        "b": b,
        "quantity": "time ratio a / b (median over repeats)",
        "ratio": c.map(|c| c.ratio),
        "ci_low": c.map(|c| c.lo),
        "ci_high": c.map(|c| c.hi),
        "level": LEVEL,
        "runs_a": c.map(|c| c.n_a),
        "runs_b": c.map(|c| c.n_b),
        "verdict": verdict,
        "text": text,
    });
    RECORDED.with(|r| r.borrow_mut().push(v));
}

/// The verdict on "time of `a` / time of `b`": which is faster, or no significant difference.
/// Also recorded for the suite's JSON summary.
pub fn time_verdict(a: &str, b: &str, ci: Option<RatioCi>) -> String {
    let text = time_verdict_text(a, b, ci);
    record(a, b, ci, &text);
    text
}

fn time_verdict_text(a: &str, b: &str, ci: Option<RatioCi>) -> String {
    match ci {
        None => format!("{a} vs {b}: too few runs reached the target to compare (need ≥ 2 each)"),
        Some(c) if !c.significant() => format!(
            "{a} / {b} time {} ({:.0} % CI, {} vs {} runs): no significant difference",
            c.show(),
            LEVEL * 100.0,
            c.n_a,
            c.n_b
        ),
        Some(c) => format!(
            "{a} / {b} time {} ({:.0} % CI, {} vs {} runs): {} is significantly {}",
            c.show(),
            LEVEL * 100.0,
            c.n_a,
            c.n_b,
            a,
            if c.hi < 1.0 { "faster" } else { "slower" }
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic pseudo-random draws around `centre` (±20 %).
    fn sample(seed: u64, n: usize, centre: f64) -> Vec<f64> {
        let mut r = SplitMix(seed);
        (0..n)
            .map(|_| centre * (0.8 + 0.4 * (r.next() >> 11) as f64 / (1u64 << 53) as f64))
            .collect()
    }

    #[test]
    fn medians() {
        assert_eq!(median(&[3.0, 1.0]), Some(2.0));
        assert_eq!(median(&[3.0, f64::NAN, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[]), None);
        assert_eq!(median_min_max(&mut [4.0, 1.0, 2.0]), (2.0, 1.0, 4.0));
    }

    #[test]
    fn known_different_samples_give_an_interval_excluding_one() {
        // b takes twice as long as a: the ratio's interval must lie well below 1.
        let a = sample(1, 5, 1.0);
        let b = sample(2, 5, 2.0);
        let c = ratio_ci(&a, &b).unwrap();
        assert!(c.significant(), "{c:?}");
        assert!(
            c.hi < 1.0 && c.lo > 0.25 && c.ratio > 0.35 && c.ratio < 0.75,
            "{c:?}"
        );
        assert!(time_verdict("A", "B", Some(c)).contains("significantly faster"));
        let rev = ratio_ci(&b, &a).unwrap();
        assert!(rev.lo > 1.0, "{rev:?}");
    }

    #[test]
    fn samples_of_one_distribution_give_an_interval_including_one() {
        for seed in 0..20 {
            let a = sample(2 * seed + 10, 5, 1.0);
            let b = sample(2 * seed + 11, 5, 1.0);
            let c = ratio_ci(&a, &b).unwrap();
            assert!(c.lo <= c.ratio && c.ratio <= c.hi, "{c:?}");
            assert!(!c.significant(), "seed {seed}: {c:?}");
        }
        let same = [1.0, 1.2, 0.9, 1.1, 1.05];
        let c = ratio_ci(&same, &same).unwrap();
        assert_eq!(c.ratio, 1.0);
        assert!(!c.significant());
        assert!(time_verdict("A", "B", Some(c)).contains("no significant difference"));
    }

    #[test]
    fn the_bootstrap_is_seeded_and_needs_two_values_each() {
        let a = sample(3, 7, 1.0);
        let b = sample(4, 5, 1.3);
        assert_eq!(ratio_ci(&a, &b), ratio_ci(&a, &b));
        assert_eq!(ratio_ci(&[1.0], &b), None);
        assert_eq!(ratio_ci(&[1.0, f64::NAN], &b), None);
        assert!(time_verdict("A", "B", None).contains("too few"));
    }

    #[test]
    fn every_verdict_is_recorded_for_the_json_summary() {
        let _ = take_recorded();
        let fast = ratio_ci(&sample(1, 7, 1.0), &sample(2, 7, 2.0)).unwrap();
        let same = ratio_ci(&[1.0, 1.1, 0.9], &[1.0, 1.1, 0.9]).unwrap();
        let texts = [
            time_verdict("A", "B", Some(fast)),
            time_verdict("A", "B", Some(same)),
            time_verdict("A", "B", None),
        ];
        let rec = take_recorded();
        let words: Vec<&str> = rec.iter().map(|v| v["verdict"].as_str().unwrap()).collect();
        assert_eq!(
            words,
            ["a_faster", "no_significant_difference", "too_few_runs"]
        );
        assert!(rec[0]["ci_high"].as_f64().unwrap() < 1.0);
        assert_eq!(rec[0]["ratio"].as_f64().unwrap(), fast.ratio);
        assert!(rec[2]["ratio"].is_null());
        for (v, t) in rec.iter().zip(&texts) {
            assert_eq!(v["text"], t.as_str());
        }
        assert!(take_recorded().is_empty());
    }
}
