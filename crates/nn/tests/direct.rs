//! The direct convolution kernels (`nn::direct`) against a naive f64 convolution: forward (with
//! and without ReLU), weight gradient and input gradient, on fixed shapes chosen to reach every
//! tiling path (filter groups beyond 6 and 4, tap groups beyond 6, channel groups beyond 6,
//! several vector blocks, masked tails, several sample blocks and a one-sample block, output
//! rows of whole vectors — 32, 24, 16, 8 and 4 outputs, where the kernels step row by row),
//! plus a proptest over random shapes.
//!
//! Every check runs once per instruction set this CPU has (the others are reported as NOT RUN).
//! The fixed cases are small enough for miri: `cargo xtask miri` runs this file with AVX-512,
//! AVX2 and FMA enabled, so every pointer access of every family's intrinsics is checked.

mod support;

use nn::direct::{self, Conv, Dy, Output, Work};
use nn::{Isa, Shape};
use support::each_isa;

fn val(i: usize, seed: u32) -> f32 {
    (((i as u32).wrapping_mul(2_654_435_761).wrapping_add(seed) >> 8) % 1000) as f32 / 500.0 - 1.0
}

struct Case {
    g: Conv,
    x: Vec<f32>,
    w: Vec<f32>,
    bias: Vec<f32>,
    dy: Vec<f32>,
}

impl Case {
    fn new(g: Conv, seed: u32) -> Case {
        let s = g.input;
        let (oh, ow) = (s.h + 1 - g.kh, s.w + 1 - g.kw);
        let k = s.c * g.kh * g.kw;
        let gen = |len: usize, sd: u32| (0..len).map(|i| val(i, sd)).collect::<Vec<f32>>();
        Case {
            x: gen(g.n * s.len(), seed),
            w: gen(g.filters * k, seed + 1),
            bias: gen(g.filters, seed + 2),
            dy: gen(g.filters * g.n * oh * ow, seed + 3),
            g,
        }
    }

    /// Naive forward (before the ReLU), weight and input gradients in f64 (planar layouts as in
    /// `nn::direct`).
    fn reference(&self) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
        let (g, s) = (self.g, self.g.input);
        let (oh, ow) = (s.h + 1 - g.kh, s.w + 1 - g.kw);
        let (k, pix, opix) = (s.c * g.kh * g.kw, s.h * s.w, oh * ow);
        let xi = |c: usize, b: usize, y: usize, x: usize| (c * g.n + b) * pix + y * s.w + x;
        let mut y = vec![0.0f64; g.filters * g.n * opix];
        let mut gw = vec![0.0f64; g.filters * k];
        let mut dx = vec![0.0f64; self.x.len()];
        for f in 0..g.filters {
            for b in 0..g.n {
                for oy in 0..oh {
                    for ox in 0..ow {
                        let yi = (f * g.n + b) * opix + oy * ow + ox;
                        let mut acc = f64::from(self.bias[f]);
                        let d = f64::from(self.dy[yi]);
                        for c in 0..s.c {
                            for ky in 0..g.kh {
                                for kx in 0..g.kw {
                                    let wi = f * k + (c * g.kh + ky) * g.kw + kx;
                                    let xv = f64::from(self.x[xi(c, b, oy + ky, ox + kx)]);
                                    acc += f64::from(self.w[wi]) * xv;
                                    gw[wi] += d * xv;
                                    dx[xi(c, b, oy + ky, ox + kx)] += d * f64::from(self.w[wi]);
                                }
                            }
                        }
                        y[yi] = acc;
                    }
                }
            }
        }
        (y, gw, dx)
    }

    fn check(&self, isa: Isa, work: &mut Work) {
        let (ry, rgw, rdx) = self.reference();
        for relu in [false, true] {
            let want: Vec<f64> = ry
                .iter()
                .map(|&v| if relu { v.max(0.0) } else { v })
                .collect();
            let mut y = vec![f32::NAN; ry.len()];
            let out = Output::Planes(&mut y);
            direct::forward(work, isa, &self.g, &self.x, &self.w, &self.bias, relu, out);
            close(&y, &want, "forward", isa, &self.g);
            // Pooled straight from the kernels: exactly the pool of the planes just checked.
            let (oh, ow) = (
                self.g.input.h + 1 - self.g.kh,
                self.g.input.w + 1 - self.g.kw,
            );
            if oh >= 2 && ow >= 2 {
                let (want_y, want_arg) = pool(&y, self.g.filters * self.g.n, oh, ow);
                let mut py = vec![f32::NAN; want_y.len()];
                let mut arg = vec![9u8; want_y.len()];
                let out = Output::Pooled {
                    y: &mut py,
                    arg: &mut arg,
                };
                direct::forward(work, isa, &self.g, &self.x, &self.w, &self.bias, relu, out);
                assert_eq!(
                    py, want_y,
                    "{isa}: pooled forward (relu {relu}) for {:?}",
                    self.g
                );
                assert_eq!(
                    arg, want_arg,
                    "{isa}: pool arg-max (relu {relu}) for {:?}",
                    self.g
                );
            }
        }
        let mut gw = vec![f32::NAN; rgw.len()];
        let mut gb = vec![f32::NAN; self.g.filters];
        let mut dx = vec![f32::NAN; rdx.len()];
        direct::backward(
            work,
            isa,
            &self.g,
            &self.x,
            &self.w,
            Dy::Planes(&self.dy),
            &mut gw,
            &mut gb,
            Some(&mut dx),
        );
        close(&gw, &rgw, "weight gradient", isa, &self.g);
        // The bias gradient: Σ dy per filter.
        let per = self.dy.len() / self.g.filters;
        let rgb: Vec<f64> = (0..self.g.filters)
            .map(|f| {
                self.dy[f * per..][..per]
                    .iter()
                    .map(|&v| f64::from(v))
                    .sum()
            })
            .collect();
        close(&gb, &rgb, "bias gradient", isa, &self.g);
        close(&dx, &rdx, "input gradient", isa, &self.g);
        // Without an input gradient, the weight gradient is the same.
        let mut gw2 = vec![f32::NAN; rgw.len()];
        let mut gb2 = vec![f32::NAN; self.g.filters];
        direct::backward(
            work,
            isa,
            &self.g,
            &self.x,
            &self.w,
            Dy::Planes(&self.dy),
            &mut gw2,
            &mut gb2,
            None,
        );
        assert_eq!(
            gb, gb2,
            "{isa}: bias gradient depends on whether dx is asked for"
        );
        assert_eq!(
            gw, gw2,
            "{isa}: weight gradient depends on whether dx is asked for"
        );
        self.check_pooled(isa, work);
    }
}

impl Case {
    /// `Dy::Pooled` against `Dy::Planes` of the same gradient scattered by hand: the weight and
    /// input gradients bit for bit (the kernels see the same wide planes), the bias gradient
    /// to rounding (summed in another order).
    fn check_pooled(&self, isa: Isa, work: &mut Work) {
        // Not under miri: the same kernels on the same wide planes as the unpooled run (which
        // miri checks); what differs is safe code, and it would double miri's time.
        if cfg!(miri) {
            return;
        }
        let g = self.g;
        let (oh, ow) = (g.input.h + 1 - g.kh, g.input.w + 1 - g.kw);
        if oh < 2 || ow < 2 {
            return;
        }
        let (ph, pw, planes) = (oh / 2, ow / 2, g.filters * g.n);
        let len = planes * ph * pw;
        let pdy: Vec<f32> = (0..len).map(|i| val(i, 7)).collect();
        let py: Vec<f32> = (0..len).map(|i| val(i, 8)).collect();
        let arg: Vec<u8> = (0..len)
            .map(|i| (i as u32).wrapping_mul(2_654_435_761).rotate_left(7) as u8 % 4)
            .collect();
        for relu in [false, true] {
            let mut dense = vec![0.0f32; planes * oh * ow];
            for (j, ((&d, &q), &y)) in pdy.iter().zip(&arg).zip(&py).enumerate() {
                if relu && y <= 0.0 {
                    continue;
                }
                let (p, yy, xx) = (j / (ph * pw), (j % (ph * pw)) / pw, j % pw);
                let (dy, dx) = (q as usize / 2, q as usize % 2);
                dense[p * oh * ow + (2 * yy + dy) * ow + 2 * xx + dx] = d;
            }
            let run = |work: &mut Work, dy: Dy<'_>| {
                let mut gw = vec![f32::NAN; g.filters * g.input.c * g.kh * g.kw];
                let mut gb = vec![f32::NAN; g.filters];
                let mut dx = vec![f32::NAN; self.x.len()];
                let (x, w) = (&self.x, &self.w);
                direct::backward(work, isa, &g, x, w, dy, &mut gw, &mut gb, Some(&mut dx));
                (gw, gb, dx)
            };
            let (gw, gb, dx) = run(work, Dy::Planes(&dense));
            let pooled = Dy::Pooled {
                dy: &pdy,
                arg: &arg,
                y: &py,
                relu,
            };
            let (pgw, pgb, pdx) = run(work, pooled);
            assert_eq!(
                pgw, gw,
                "{isa}: pooled weight gradient (relu {relu}) for {g:?}"
            );
            assert_eq!(
                pdx, dx,
                "{isa}: pooled input gradient (relu {relu}) for {g:?}"
            );
            let want: Vec<f64> = gb.iter().map(|&v| f64::from(v)).collect();
            close(&pgb, &want, "pooled bias gradient", isa, &g);
        }
    }
}

/// 2 × 2 max-pool (stride 2, floor) of `planes` planes of `h × w`, and the corner (0..4,
/// row-major) of each maximum, the first one on ties: a plain scan, not the kernels' tree.
fn pool(y: &[f32], planes: usize, h: usize, w: usize) -> (Vec<f32>, Vec<u8>) {
    let (ph, pw) = (h / 2, w / 2);
    let (mut out, mut arg) = (Vec::new(), Vec::new());
    for p in 0..planes {
        for py in 0..ph {
            for px in 0..pw {
                let at = |dy: usize, dx: usize| y[p * h * w + (2 * py + dy) * w + 2 * px + dx];
                let corners = [at(0, 0), at(0, 1), at(1, 0), at(1, 1)];
                let (mut best, mut q) = (corners[0], 0u8);
                for (i, &v) in corners.iter().enumerate().skip(1) {
                    if v > best {
                        (best, q) = (v, i as u8);
                    }
                }
                out.push(best);
                arg.push(q);
            }
        }
    }
    (out, arg)
}

/// f32 sums of up to a few thousand terms of magnitude ≤ 1: relative error ≲ 1e-5 of the scale.
fn close(got: &[f32], want: &[f64], what: &str, isa: Isa, g: &Conv) {
    assert_eq!(got.len(), want.len());
    let scale = want.iter().fold(1.0f64, |a, &b| a.max(b.abs()));
    for (i, (&a, &b)) in got.iter().zip(want).enumerate() {
        assert!(
            (f64::from(a) - b).abs() <= 1e-5 * scale,
            "{isa} {what}[{i}]: direct {a}, naive {b} (scale {scale}) for {g:?}"
        );
    }
}

fn conv(n: usize, (h, w, c): (usize, usize, usize), kh: usize, kw: usize, f: usize) -> Conv {
    Conv {
        n,
        input: Shape::new(h, w, c),
        kh,
        kw,
        filters: f,
    }
}

/// (samples, (h, w, c), kh, kw, filters)
type Dims = (usize, (usize, usize, usize), usize, usize, usize);
const CASES: &[Dims] = &[
    (1, (1, 1, 1), 1, 1, 1),    // one output
    (2, (28, 28, 1), 5, 5, 6),  // LeNet conv 1: 42 vectors, 5 tap groups
    (3, (12, 12, 6), 5, 5, 16), // LeNet conv 2: 3 filter groups, 9 input vectors
    (11, (5, 7, 2), 2, 3, 3),   // two sample blocks, the second partial
    (2, (9, 4, 8), 3, 1, 7),    // 2 channel groups for dx, kernel of one column
    (3, (28, 28, 1), 3, 3, 24), // a sample block of one (24 filters × 842 floats > 64 KiB)
    (1, (6, 30, 1), 6, 1, 1),   // output of one row, kernel of full height
    (1, (10, 10, 1), 3, 3, 7),  // 2 forward vector blocks, 2 filter groups
    (2, (3, 17, 2), 2, 2, 5),   // rows of 16 outputs: one vector per row on AVX-512
    (1, (4, 34, 1), 2, 3, 2),   // rows of 32 outputs: two vectors per row on AVX-512
    (9, (8, 8, 1), 2, 2, 24),   // 7 × 7 outputs (pooled: a last row and column no window covers),
                                // in two sample blocks
];

#[test]
fn direct_kernels_match_the_naive_convolution() {
    each_isa("direct_kernels_match_the_naive_convolution", |isa| {
        // One work area across cases and families: a reused one must not leak state.
        let mut work = Work::new();
        for (ci, &(n, s, kh, kw, f)) in CASES.iter().enumerate() {
            // Under miri (an interpreter), only the small cases; together they still reach every
            // tiling path (the 1-sample cases run in blocks of one sample). Case 10 is there
            // for the pooled cross-check, which miri skips.
            if cfg!(miri) && matches!(ci, 1 | 2 | 5 | 10) {
                continue;
            }
            Case::new(conv(n, s, kh, kw, f), ci as u32).check(isa, &mut work);
        }
    });
}

#[test]
#[should_panic(expected = "direct forward: y")]
fn a_wrong_output_size_is_rejected() {
    let g = conv(2, (6, 6, 1), 3, 3, 2);
    let c = Case::new(g, 1);
    let mut y = vec![0.0; 2 * 2 * 16 - 1];
    let isa = Isa::Portable;
    direct::forward(
        &mut Work::new(),
        isa,
        &g,
        &c.x,
        &c.w,
        &c.bias,
        false,
        Output::Planes(&mut y),
    );
}

#[test]
#[should_panic(expected = "does not fit")]
fn a_kernel_larger_than_the_input_is_rejected() {
    let g = conv(1, (3, 3, 1), 4, 1, 1);
    direct::forward(
        &mut Work::new(),
        Isa::Portable,
        &g,
        &[0.0; 9],
        &[0.0; 4],
        &[0.0],
        false,
        Output::Planes(&mut []),
    );
}

#[cfg(not(miri))]
mod random {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, .. ProptestConfig::default() })]
        #[test]
        fn random_shapes_match_the_naive_convolution(
            n in 1usize..10, h in 1usize..20, w in 1usize..20, c in 1usize..9,
            kh in 1usize..7, kw in 1usize..7, f in 1usize..15, seed in any::<u32>(),
        ) {
            prop_assume!(kh <= h && kw <= w);
            // The families this CPU lacks are reported by the fixed-case test above.
            for isa in Isa::available_here() {
                Case::new(conv(n, (h, w, c), kh, kw, f), seed).check(isa, &mut Work::new());
            }
        }
    }
}
