//! Data movement between layers: the activation layouts and their conversions, and the
//! im2col patch matrix (with its adjoint) of the GEMM-based convolution path.

use crate::shape::{Layer, Shape};

/// How a batch of tensors is laid out in memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Layout {
    /// Per sample `h, w, c` (how images arrive).
    Nhwc,
    /// `n × (c·h·w)` row-major, features in `(c, h, w)` order (dense layers).
    Rows,
    /// `[c][n][h][w]` (conv and pool layers).
    Planar,
}

impl Layout {
    /// Whether data in layout `self` can be read as layout `want` without conversion.
    pub(crate) fn reads_as(self, want: Layout, s: Shape) -> bool {
        self == want || s.c == 1 || (self == Layout::Nhwc && want == Layout::Rows && s.h * s.w == 1)
    }

    /// Offset of element (sample b, channel c, pixel p) for `n` samples of shape `s`.
    #[inline]
    fn at(self, s: Shape, n: usize, b: usize, c: usize, p: usize) -> usize {
        let pix = s.h * s.w;
        match self {
            Layout::Nhwc => b * s.len() + p * s.c + c,
            Layout::Rows => b * s.len() + c * pix + p,
            Layout::Planar => (c * n + b) * pix + p,
        }
    }
}

/// Copy `n` samples of shape `s` from layout `from` to layout `to`.
pub(crate) fn convert(src: &[f32], from: Layout, dst: &mut [f32], to: Layout, n: usize, s: Shape) {
    let pix = s.h * s.w;
    for b in 0..n {
        for c in 0..s.c {
            for p in 0..pix {
                dst[to.at(s, n, b, c, p)] = src[from.at(s, n, b, c, p)];
            }
        }
    }
}

pub(crate) fn wants(l: &Layer) -> Layout {
    match l {
        Layer::Dense { .. } => Layout::Rows,
        Layer::Conv2d { .. } | Layer::MaxPool2 { .. } => Layout::Planar,
    }
}

/// Samples per im2col chunk: about 512 KiB of `col`, so it stays in L2 between im2col and GEMM.
pub(crate) fn conv_chunk(col_floats_per_sample: usize) -> usize {
    ((128 * 1024) / col_floats_per_sample.max(1)).max(1)
}

/// im2col of samples `start..start + nb` of a planar batch of `n`, for a valid stride-1
/// convolution: `col[(c·kh + ky)·kw + kx][(b, oy, ox)]` (k × m, m = nb·oh·ow), built from
/// contiguous runs of `ow` pixels.
#[allow(clippy::too_many_arguments)]
pub(crate) fn im2col_planar(
    x: &[f32],
    n: usize,
    s: Shape,
    start: usize,
    nb: usize,
    kh: usize,
    kw: usize,
    col: &mut [f32],
) {
    let (oh, ow, pix) = (s.h + 1 - kh, s.w + 1 - kw, s.h * s.w);
    let m = nb * oh * ow;
    let mut rows = col.chunks_exact_mut(m);
    for c in 0..s.c {
        for ky in 0..kh {
            for kx in 0..kw {
                let row = rows.next().expect("col has k rows");
                for (bl, dst) in row.chunks_exact_mut(oh * ow).enumerate() {
                    let img = &x[(c * n + start + bl) * pix..(c * n + start + bl + 1) * pix];
                    for (oy, d) in dst.chunks_exact_mut(ow).enumerate() {
                        let src = (oy + ky) * s.w + kx;
                        // An inline loop: rows are short, and a `memcpy` call per row costs more
                        // than the copy.
                        for (dv, &sv) in d.iter_mut().zip(&img[src..src + ow]) {
                            *dv = sv;
                        }
                    }
                }
            }
        }
    }
}

/// Adjoint of [`im2col_planar`]: overwrites samples `start..start + nb` of the planar `dx` with
/// the scatter-sum of `dcol`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn col2im_planar(
    dcol: &[f32],
    n: usize,
    s: Shape,
    start: usize,
    nb: usize,
    kh: usize,
    kw: usize,
    dx: &mut [f32],
) {
    let (oh, ow, pix) = (s.h + 1 - kh, s.w + 1 - kw, s.h * s.w);
    let m = nb * oh * ow;
    for c in 0..s.c {
        dx[(c * n + start) * pix..(c * n + start + nb) * pix].fill(0.0);
    }
    let mut rows = dcol.chunks_exact(m);
    for c in 0..s.c {
        for ky in 0..kh {
            for kx in 0..kw {
                let row = rows.next().expect("dcol has k rows");
                for (bl, src) in row.chunks_exact(oh * ow).enumerate() {
                    let img = &mut dx[(c * n + start + bl) * pix..(c * n + start + bl + 1) * pix];
                    for (oy, sr) in src.chunks_exact(ow).enumerate() {
                        let at = (oy + ky) * s.w + kx;
                        for (d, &v) in img[at..at + ow].iter_mut().zip(sr) {
                            *d += v;
                        }
                    }
                }
            }
        }
    }
}
