//! ln Z(λ, ν) against 30-digit values computed independently with mpmath
//! (`tests/fixtures/gen_cmp_lnz.py`), over λ ∈ [1e-3, 1e3] and ν ∈ [0.05, 10].

use staleness::cmp_ln_z;

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
