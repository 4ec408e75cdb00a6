//! `packed::gemm_with` against a naive triple loop, for every kernel family this CPU has, on
//! shapes chosen to reach every code path: edge tiles of every row and vector count, several
//! depth blocks (k > 256, and k > 1024 for AVX-512), several column blocks (n > 1024), B read in place (m ≤ 96, row-major B)
//! and packed (m > 96 or a transposed B), a strided C, and the dot-product path (k ≥ 512,
//! contiguous rows of A and columns of B), with and without accumulation.
//!
//! A family this CPU lacks is reported as NOT RUN. Small enough for miri: `cargo xtask miri`
//! runs this file with AVX-512, AVX2 and FMA enabled, so every family's pointer accesses are
//! checked too.

mod support;

use nn::matmul::{sgemm_bias, Backend, View};
use nn::packed::{gemm_with, Workspace};
use nn::Isa;
use support::each_isa;

fn val(i: usize, seed: u32) -> f32 {
    (((i as u32).wrapping_mul(2_654_435_761).wrapping_add(seed) >> 8) % 1000) as f32 / 500.0 - 1.0
}

/// (m, n, k, A transposed, B transposed, C transposed)
const CASES: &[(usize, usize, usize, bool, bool, bool)] = &[
    (1, 1, 1, false, false, false),
    (6, 64, 8, false, false, false),
    (7, 65, 9, false, false, false),
    (5, 17, 3, true, false, false),
    (13, 40, 20, false, true, false),
    (12, 33, 7, true, true, true),
    (3, 150, 5, false, false, true),
    (4, 30, 300, false, false, false),  // two depth blocks
    (100, 20, 4, false, false, false),  // B packed: more rows than one block
    (2, 1030, 2, false, false, false),  // two column blocks
    (7, 5, 520, false, true, false),    // dot products, masked tail, edge tiles
    (6, 9, 530, false, true, true),     // dot products into a strided C
    (4, 30, 1100, false, false, false), // two depth blocks of the AVX-512 kernels too (KC = 1024)
    // Column-major A (the portable path packs it): two depth blocks, a one-row edge tile and a
    // masked last vector of an in-place B; then a packed B with edge tiles.
    (9, 21, 300, true, false, false),
    (101, 18, 5, true, false, false),
];

#[test]
fn every_kernel_family_matches_the_naive_product() {
    each_isa("every_kernel_family_matches_the_naive_product", |isa| {
        let mut ws = Workspace::new();
        for (ci, &(m, n, k, ta, tb, tc)) in CASES.iter().enumerate() {
            // Under miri (an interpreter) only the cases that reach a path no smaller case reaches.
            if cfg!(miri) && !matches!(ci, 2 | 3 | 5 | 7 | 10) {
                continue;
            }
            let a: Vec<f32> = (0..m * k).map(|i| val(i, 1)).collect();
            let b: Vec<f32> = (0..k * n).map(|i| val(i, 2)).collect();
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
            let c0: Vec<f32> = (0..m * n).map(|i| val(i, 3)).collect();
            for acc in [false, true] {
                if cfg!(miri) && acc == (ci % 2 == 0) {
                    continue;
                }
                let mut want = c0.clone();
                for r in 0..m {
                    for j in 0..n {
                        let s: f64 = (0..k)
                            .map(|i| {
                                f64::from(a[r * av.rs + i * av.cs])
                                    * f64::from(b[i * bv.rs + j * bv.cs])
                            })
                            .sum();
                        let dst = &mut want[r * cv.rs + j * cv.cs];
                        *dst = if acc { *dst + s as f32 } else { s as f32 };
                    }
                }
                let mut got = c0.clone();
                gemm_with(isa, &mut ws, &mut got, cv, &a, av, &b, bv, acc);
                for (i, (x, y)) in got.iter().zip(&want).enumerate() {
                    assert!(
                        (x - y).abs() <= 1e-5 * (k as f32 + 1.0),
                        "{isa:?} case {ci} {:?} acc={acc}: C[{i}] = {x}, want {y}",
                        CASES[ci]
                    );
                }
            }
        }
    });
}

/// A with neither stride 1 (a sub-matrix of a larger one, every other column): the micro-kernel
/// has one depth loop per layout of A (row-major, column-major, neither), and the cases above
/// reach only the first two. Depths 1, 4 and 9 reach the 4-step unrolled loop and its remainder.
#[test]
fn a_strided_a_matches_the_naive_product() {
    each_isa("a_strided_a_matches_the_naive_product", |isa| {
        let mut ws = Workspace::new();
        for &(m, n, k) in &[(7, 17, 9), (3, 5, 1), (100, 20, 4)] {
            if cfg!(miri) && m > 50 {
                continue;
            }
            let av = View {
                rows: m,
                cols: k,
                rs: 2 * k + 3,
                cs: 2,
            };
            let a: Vec<f32> = (0..m * av.rs).map(|i| val(i, 4)).collect();
            let b: Vec<f32> = (0..k * n).map(|i| val(i, 5)).collect();
            let bv = View::row_major(k, n);
            let mut got = vec![0.0; m * n];
            gemm_with(
                isa,
                &mut ws,
                &mut got,
                View::row_major(m, n),
                &a,
                av,
                &b,
                bv,
                false,
            );
            for r in 0..m {
                for j in 0..n {
                    let want: f64 = (0..k)
                        .map(|i| f64::from(a[r * av.rs + i * av.cs]) * f64::from(b[i * n + j]))
                        .sum();
                    let x = got[r * n + j];
                    assert!(
                        (f64::from(x) - want).abs() <= 1e-5 * (k as f64 + 1.0),
                        "{isa:?} ({m}, {n}, {k}): C[{r}][{j}] = {x}, want {want}"
                    );
                }
            }
        }
    });
}

/// A dense layer's `C ← A·B + bias` through the packed kernels (the bias is added in the first
/// depth block's store, masked on a partial vector): B in place, B packed, two depth blocks.
#[test]
fn the_bias_epilogue_matches_the_naive_product() {
    each_isa("the_bias_epilogue_matches_the_naive_product", |isa| {
        let mut ws = Workspace::new();
        for &(m, n, k) in &[(7, 17, 9), (100, 20, 4), (5, 70, 300)] {
            if cfg!(miri) && m * n * k > 2000 {
                continue;
            }
            let a: Vec<f32> = (0..m * k).map(|i| val(i, 6)).collect();
            let b: Vec<f32> = (0..k * n).map(|i| val(i, 7)).collect();
            let bias: Vec<f32> = (0..n).map(|i| val(i, 8)).collect();
            let (av, bv, cv) = (
                View::row_major(m, k),
                View::row_major(k, n),
                View::row_major(m, n),
            );
            let mut got = vec![f32::NAN; m * n];
            sgemm_bias(
                &mut ws,
                Backend::Packed,
                isa,
                &mut got,
                cv,
                &a,
                av,
                &b,
                bv,
                &bias,
            );
            for r in 0..m {
                for j in 0..n {
                    let s: f64 = (0..k)
                        .map(|i| f64::from(a[r * k + i]) * f64::from(b[i * n + j]))
                        .sum();
                    let want = s + f64::from(bias[j]);
                    let x = got[r * n + j];
                    assert!(
                        (f64::from(x) - want).abs() <= 1e-5 * (k as f64 + 1.0),
                        "{isa:?} ({m}, {n}, {k}): C[{r}][{j}] = {x}, want {want}"
                    );
                }
            }
        }
    });
}

#[test]
fn the_workspace_stops_growing() {
    each_isa("the_workspace_stops_growing", workspace_stops_growing);
}

fn workspace_stops_growing(isa: Isa) {
    let mut ws = Workspace::new();
    // More rows than one block, so B is packed (smaller under miri, which interprets).
    let (m, n, k) = if cfg!(miri) {
        (100, 20, 10)
    } else {
        (200, 300, 400)
    };
    let a = vec![0.5; m * k];
    let b = vec![0.25; k * n];
    let mut c = vec![0.0; m * n];
    let views = (
        View::row_major(m, n),
        View::row_major(m, k),
        View::row_major(k, n),
    );
    gemm_with(
        isa, &mut ws, &mut c, views.0, &a, views.1, &b, views.2, false,
    );
    let cap = ws.capacity();
    assert!(cap > 0 && cap <= 256 * 1024, "{cap} floats");
    gemm_with(
        isa, &mut ws, &mut c, views.0, &a, views.1, &b, views.2, false,
    );
    assert_eq!(ws.capacity(), cap);
    assert!(c.iter().all(|&v| (v - 0.125 * k as f32).abs() < 1e-3));
}

#[test]
#[should_panic(expected = "overlaps itself")]
fn a_self_overlapping_output_is_rejected() {
    let mut c = vec![0.0; 4];
    let cv = View {
        rows: 2,
        cols: 2,
        rs: 1,
        cs: 1,
    };
    let v = View::row_major(2, 2);
    gemm_with(
        Isa::Portable,
        &mut Workspace::new(),
        &mut c,
        cv,
        &[1.0; 4],
        v,
        &[1.0; 4],
        v,
        false,
    );
}
