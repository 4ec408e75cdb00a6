//! The backends agree with the naive triple loop on random shapes and strides (including
//! transposed views, as the backward pass uses them).

use nn::matmul::{sgemm, sgemm_bias, Backend, View};
use nn::packed::Workspace;
use nn::Isa;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, .. ProptestConfig::default() })]
    #[test]
    fn backends_agree(m in 0usize..40, n in 0usize..40, k in 0usize..70, ta: bool, tb: bool, acc: bool, seed in any::<u32>()) {
        let val = |i: usize| (((i as u32).wrapping_mul(2_654_435_761).wrapping_add(seed) >> 8) % 1000) as f32 / 500.0 - 1.0;
        let a: Vec<f32> = (0..m * k).map(val).collect();
        let b: Vec<f32> = (0..k * n).map(|i| val(i + 7919)).collect();
        let av = if ta { View::row_major(k, m).t() } else { View::row_major(m, k) };
        let bv = if tb { View::row_major(n, k).t() } else { View::row_major(k, n) };
        let c0: Vec<f32> = (0..m * n).map(|i| val(i + 31)).collect();
        let mut want = c0.clone();
                let mut ws = Workspace::new();
        let isa = Isa::detect();
        sgemm(&mut ws, Backend::Naive, isa, &mut want, View::row_major(m, n), &a, av, &b, bv, acc);
        let packed = Isa::available_here().into_iter().map(|i| (Backend::Packed, i));
        let others = [Backend::Gemm, Backend::MatrixMultiply].map(|b| (b, isa));
        for (be, isa) in packed.chain(others) {
            let mut got = c0.clone();
            sgemm(&mut ws, be, isa, &mut got, View::row_major(m, n), &a, av, &b, bv, acc);
            for (x, y) in got.iter().zip(&want) {
                prop_assert!((x - y).abs() <= 1e-4 * (k as f32 + 1.0), "{:?} {}: {} vs {}", be, isa, x, y);
            }
        }
    }
}

/// `sgemm_bias` on every backend (and every kernel family of `Packed`) against the naive product
/// plus the bias, into a row-major or a transposed C (`Packed` adds the bias in its first depth
/// block's store; the others fill C and accumulate).
fn check_bias(
    m: usize,
    n: usize,
    k: usize,
    ta: bool,
    tb: bool,
    tc: bool,
    seed: u32,
) -> Result<(), String> {
    let val = |i: usize| {
        (((i as u32).wrapping_mul(2_654_435_761).wrapping_add(seed) >> 8) % 1000) as f32 / 500.0
            - 1.0
    };
    let a: Vec<f32> = (0..m * k).map(val).collect();
    let b: Vec<f32> = (0..k * n).map(|i| val(i + 7919)).collect();
    let bias: Vec<f32> = (0..n).map(|i| val(i + 104_729)).collect();
    let av = if ta {
        View::row_major(k, m).t()
    } else {
        View::row_major(m, k)
    };
    let bv = if tb {
        View::row_major(n, k).t()
    } else {
        View::row_major(k, n)
    };
    let cv = if tc {
        View::row_major(n, m).t()
    } else {
        View::row_major(m, n)
    };
    let mut ws = Workspace::new();
    let packed = Isa::available_here()
        .into_iter()
        .map(|i| (Backend::Packed, i));
    let others =
        [Backend::Gemm, Backend::MatrixMultiply, Backend::Naive].map(|b| (b, Isa::detect()));
    for (be, isa) in packed.chain(others) {
        // Garbage in C first: nothing of it may survive.
        let mut got = vec![f32::NAN; m * n];
        sgemm_bias(&mut ws, be, isa, &mut got, cv, &a, av, &b, bv, &bias);
        for r in 0..m {
            for j in 0..n {
                let s: f64 = (0..k)
                    .map(|i| {
                        f64::from(a[r * av.rs + i * av.cs]) * f64::from(b[i * bv.rs + j * bv.cs])
                    })
                    .sum();
                let want = s + f64::from(bias[j]);
                let x = got[r * cv.rs + j * cv.cs];
                if (f64::from(x) - want).abs() > 1e-4 * (k as f64 + 1.0) {
                    return Err(format!("{be:?} {isa} ({m}, {n}, {k}, {ta}, {tb}, {tc}): C[{r}][{j}] = {x}, want {want}"));
                }
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 100, .. ProptestConfig::default() })]
    #[test]
    fn the_bias_is_added_to_every_row(m in 0usize..110, n in 0usize..80, k in 0usize..300, ta: bool, tb: bool, tc: bool, seed in any::<u32>()) {
        check_bias(m, n, k, ta, tb, tc, seed).map_err(TestCaseError::fail)?;
    }
}

#[test]
fn the_bias_reaches_the_dot_product_path_and_an_empty_product() {
    // k ≥ 512 with A's rows and B's columns contiguous: the dot-product kernels; k = 0: C = bias.
    for (m, n, k) in [(7, 5, 520), (6, 9, 1100), (4, 3, 0)] {
        check_bias(m, n, k, false, true, false, 1).unwrap();
    }
}

#[test]
#[should_panic(expected = "the bias has 3 entries, C has 2 columns")]
fn a_bias_of_the_wrong_length_is_rejected() {
    let v = View::row_major(2, 2);
    let mut c = vec![0.0; 4];
    sgemm_bias(
        &mut Workspace::new(),
        Backend::Packed,
        Isa::Portable,
        &mut c,
        v,
        &[1.0; 4],
        v,
        &[1.0; 4],
        v,
        &[0.0; 3],
    );
}

#[test]
#[should_panic(expected = "reaches")]
fn out_of_bounds_views_are_rejected_before_any_unsafe_code() {
    let a = vec![0.0; 5];
    let b = vec![0.0; 6];
    let mut c = vec![0.0; 4];
    sgemm(
        &mut Workspace::new(),
        Backend::Gemm,
        Isa::Portable,
        &mut c,
        View::row_major(2, 2),
        &a,
        View::row_major(2, 3),
        &b,
        View::row_major(3, 2),
        false,
    );
}

#[test]
#[should_panic(expected = "overlaps itself")]
fn self_overlapping_output_is_rejected() {
    let a = vec![1.0; 4];
    let b = vec![1.0; 4];
    let mut c = vec![0.0; 4];
    sgemm(
        &mut Workspace::new(),
        Backend::Gemm,
        Isa::Portable,
        &mut c,
        View {
            rows: 2,
            cols: 2,
            rs: 1,
            cs: 1,
        },
        &a,
        View::row_major(2, 2),
        &b,
        View::row_major(2, 2),
        false,
    );
}
