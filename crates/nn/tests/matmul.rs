//! The backends agree with the naive triple loop on random shapes and strides (including
//! transposed views, as the backward pass uses them).

use nn::matmul::{sgemm, Backend, View};
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
