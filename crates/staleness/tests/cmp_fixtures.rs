//! ln Z(λ, ν) against 30-digit values computed independently with mpmath
//! (`tests/fixtures/gen_cmp_lnz.py`), over λ ∈ [1e-3, 1e3] and ν ∈ [0.05, 10]; and ln Z with
//! ln P[τ = k] where λ is large (`tests/fixtures/gen_cmp_large.py`: the thesis' Table A.1 cells
//! under A.13, λ up to 10¹⁰⁶ with ν up to 20, μ = λ^{1/ν} up to 2·10⁵).

use staleness::{cmp_ln_z, Model};

#[test]
fn cmp_normaliser_matches_mpmath() {
    let text = include_str!("fixtures/cmp_lnz.csv");
    let mut worst = (0.0f64, 0.0, 0.0);
    let mut n = 0;
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let (lambda, nu, want): (f64, f64, f64) = (
            f[0].parse().unwrap(),
            f[1].parse().unwrap(),
            f[2].parse().unwrap(),
        );
        let got = cmp_ln_z(lambda, nu);
        let err = (got - want).abs() / want.abs().max(1.0);
        assert!(
            err <= 1e-12,
            "ln Z({lambda}, {nu}) = {got}, mpmath {want} ({}), relative error {err:e}",
            f[3]
        );
        if err > worst.0 {
            worst = (err, lambda, nu);
        }
        n += 1;
    }
    assert_eq!(n, 120, "fixture rows");
    eprintln!(
        "worst relative error {:e} at λ = {}, ν = {}",
        worst.0, worst.1, worst.2
    );
}

#[test]
fn cmp_normaliser_and_pmf_match_mpmath_at_large_lambda() {
    let text = include_str!("fixtures/cmp_large.csv");
    let mut n = 0;
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let num = |i: usize| -> f64 { f[i].parse().unwrap() };
        let (lambda, nu, want) = (num(2), num(1), num(3));
        let scale = want.abs().max(1.0);
        let got = cmp_ln_z(lambda, nu);
        assert!(
            (got - want).abs() <= 1e-12 * scale,
            "ln Z at μ = {}, ν = {nu} (λ = {lambda:e}): {got}, mpmath {want}, error {:e}",
            f[0],
            (got - want).abs() / scale
        );
        let model = Model::Cmp { lambda, nu };
        let top = num(8) as u64;
        let range = model.ln_pmf_range(top);
        for (ki, li) in [(4, 5), (6, 7), (8, 9)] {
            let (k, want) = (num(ki) as u64, num(li));
            for (how, got) in [
                ("ln_pmf", model.ln_pmf(k)),
                ("ln_pmf_range", range[k as usize]),
            ] {
                assert!(
                    (got - want).abs() <= 1e-12 * scale,
                    "{how}({k}) at μ = {}, ν = {nu}: {got}, mpmath {want}, error {:e}",
                    f[0],
                    (got - want).abs()
                );
            }
        }
        n += 1;
    }
    assert_eq!(n, 21, "fixture rows");
}
