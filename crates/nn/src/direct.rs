//! Direct convolution with AVX-512: the forward pass, the weight gradient and the input gradient
//! of a valid, stride-1 convolution over a planar batch (`[c][n][h][w]`), without an im2col
//! matrix.
//!
//! Why: the convolutions of MNIST networks have a short inner dimension (k = 9–150 taps), so an
//! im2col GEMM moves `k` floats of patch matrix per output pixel for only `2·filters·k` FLOPs.
//! The patch matrix was built twice per layer (forward and weight gradient) and measured 22 % of
//! a LeNet-5 step; the products that read it ran at 68–100 GFLOP/s.
//!
//! The trick that makes every load contiguous: compute each output plane on the *wide* grid of
//! the input's width. Output pixel `(oy, ox)` sits at `q = oy·w + ox`, and its tap `(c, ky, kx)`
//! reads input pixel `q + ky·w + kx` of channel `c`: one unaligned vector load per 16 outputs and
//! tap, for any kernel size. The `kw − 1` columns per row with `ox ≥ ow` are computed and thrown
//! away (14 % of the lanes for LeNet's first layer, 33 % for its second), and the extent stops at
//! `qend = (oh − 1)·w + ow`, the last real output plus one.
//!
//! - **Forward** (`y = W ⋆ x + b`, then ReLU): register tiles of `F` filters × `V` vectors; per
//!   tap, `V` loads and `F` weight broadcasts feed `F·V` FMAs. Results go to a per-image wide
//!   buffer and are compacted row by row into the planar output, applying the ReLU on the way.
//! - **Gradients**: in blocks of up to 8 samples, each sample's `∂L/∂y` is first expanded into
//!   the wide layout with zeros in the thrown-away columns and zero margins around it. Then
//!   - the weight gradient `∂L/∂W[f][t] = Σ_q dy_f[q]·x[q + off_t]` keeps `F × T` vectors of
//!     partial sums (filters × taps) in registers across a block, reduced once at the end;
//!   - the input gradient `∂L/∂x_c[p] = Σ_f Σ_t W[f][c, t]·dy_f[p − off_t]` is a full correlation
//!     on the same wide buffer (the zero margin stands for the positions outside the output), in
//!     tiles of `C` channels × `V` vectors.
//!
//! All kernels are unsafe AVX-512F code behind safe entry points that check every extent they
//! rely on; [`available`] says whether the CPU has them, and `nn` falls back to im2col + GEMM
//! where it does not. `tests/direct.rs` compares them with a naive convolution and runs under miri.

use crate::network::Shape;

/// f32 lanes per vector.
const LANES: usize = 16;
/// Filters per forward tile (6 × 4 vectors = 24 accumulators).
const FWD_F: usize = 6;
/// Vectors per forward and input-gradient tile.
const VECS: usize = 4;
/// Filters and taps per weight-gradient tile (4 × 6 = 24 accumulators, plus 4 dy vectors).
const WG_F: usize = 4;
const WG_T: usize = 6;
/// Input channels per input-gradient tile.
const DX_C: usize = 6;

/// One valid, stride-1 convolution over `n` planar samples.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv {
    /// Samples in the batch (the planar layout's `n`).
    pub n: usize,
    /// Per-sample input shape.
    pub input: Shape,
    pub kh: usize,
    pub kw: usize,
    pub filters: usize,
}

impl Conv {
    fn oh(&self) -> usize {
        self.input.h + 1 - self.kh
    }
    fn ow(&self) -> usize {
        self.input.w + 1 - self.kw
    }
    fn pix(&self) -> usize {
        self.input.h * self.input.w
    }
    /// Taps per filter: `c·kh·kw`, the length of one filter's weights.
    fn taps(&self) -> usize {
        self.input.c * self.kh * self.kw
    }
    /// One past the last real output on the wide grid.
    fn qend(&self) -> usize {
        (self.oh() - 1) * self.input.w + self.ow()
    }
    /// Vectors covering `0..qend`.
    fn vecs(&self) -> usize {
        self.qend().div_ceil(LANES)
    }
    /// Zero margin in front of a wide `dy` plane: the largest tap offset.
    fn pad(&self) -> usize {
        (self.kh - 1) * self.input.w + self.kw - 1
    }
    /// Vectors covering an input plane.
    fn in_vecs(&self) -> usize {
        self.pix().div_ceil(LANES)
    }
    /// Row stride of a wide `dy` plane: the margin plus whole vectors over the input plane
    /// (`qend ≤ pix`, so the forward extent fits too).
    fn dstride(&self) -> usize {
        self.pad() + self.in_vecs() * LANES
    }

    fn check(&self) {
        let s = self.input;
        assert!(
            self.n >= 1 && s.c >= 1 && self.filters >= 1,
            "direct convolution: empty batch, input or filter bank: {self:?}"
        );
        assert!(
            self.kh >= 1 && self.kw >= 1 && self.kh <= s.h && self.kw <= s.w,
            "direct convolution: kernel {}×{} does not fit the input {s}",
            self.kh,
            self.kw
        );
    }
}

/// Working memory of the direct kernels, kept per worker (in [`crate::Scratch`]) so that calls
/// allocate only while it grows.
#[derive(Debug, Default, Clone)]
pub struct Work {
    /// Wide output planes of one sample (forward) or wide, zero-margined `dy` planes (backward).
    wide: Vec<f32>,
    /// Offset of each tap `(c, ky, kx)` from a sample's first input element.
    taps: Vec<usize>,
    /// Vectors of weight-gradient partial sums, `[f][t][16]`.
    acc: Vec<f32>,
}

impl Work {
    pub fn new() -> Self {
        Self::default()
    }

    fn prepare(&mut self, g: &Conv) {
        self.taps.clear();
        let (s, plane) = (g.input, g.n * g.pix());
        for c in 0..s.c {
            for ky in 0..g.kh {
                for kx in 0..g.kw {
                    self.taps.push(c * plane + ky * s.w + kx);
                }
            }
        }
    }

    fn grow(v: &mut Vec<f32>, len: usize) {
        if v.len() < len {
            v.resize(len, 0.0);
        }
    }
}

/// Whether this CPU runs the direct kernels (AVX-512F).
pub fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Split `0..n` into `⌈n / max⌉` nearly equal groups (so no tiny remainder group).
fn groups(n: usize, max: usize) -> impl Iterator<Item = (usize, usize)> {
    let g = n.div_ceil(max);
    (0..g).map(move |i| (i * n / g, (i + 1) * n / g - i * n / g))
}

/// Lanes `0..min(left, 16)` set.
fn lane_mask(left: usize) -> u16 {
    if left >= LANES {
        0xffff
    } else {
        ((1u32 << left) - 1) as u16
    }
}

/// `y = W ⋆ x + bias`, then ReLU when `relu`: `x` is `[c][n][h·w]`, `w` is `[f][c][kh][kw]`,
/// `y` is `[f][n][oh·ow]` and fully overwritten.
///
/// # Panics
/// If the slices do not have exactly the sizes above, the kernel does not fit the input, or the
/// CPU lacks AVX-512F ([`available`]).
pub fn forward(
    work: &mut Work,
    g: &Conv,
    x: &[f32],
    w: &[f32],
    bias: &[f32],
    relu: bool,
    y: &mut [f32],
) {
    g.check();
    let (k, pix, opix) = (g.taps(), g.pix(), g.oh() * g.ow());
    assert_eq!(x.len(), g.n * g.input.c * pix, "direct forward: x");
    assert_eq!(w.len(), g.filters * k, "direct forward: w");
    assert_eq!(bias.len(), g.filters, "direct forward: bias");
    assert_eq!(y.len(), g.filters * g.n * opix, "direct forward: y");
    assert!(available(), "direct convolution needs AVX-512F");
    work.prepare(g);
    let (nv, stride) = (g.vecs(), g.vecs() * LANES);
    Work::grow(&mut work.wide, g.filters * stride);
    let (iw, ow) = (g.input.w, g.ow());
    for b in 0..g.n {
        for (f0, fs) in groups(g.filters, FWD_F) {
            for (v0, vs) in groups(nv, VECS) {
                let t = Fwd {
                    x: &x[b * pix..],
                    taps: &work.taps,
                    w: &w[f0 * k..],
                    k,
                    bias: &bias[f0..],
                    q0: v0 * LANES,
                    qend: g.qend(),
                    stride,
                };
                t.run(fs, vs, &mut work.wide[f0 * stride..]);
            }
        }
        // Compact (keep the first `ow` columns of each wide row), with the ReLU.
        for f in 0..g.filters {
            let dst = &mut y[(f * g.n + b) * opix..][..opix];
            let src = &work.wide[f * stride..];
            for (oy, d) in dst.chunks_exact_mut(ow).enumerate() {
                let s = &src[oy * iw..oy * iw + ow];
                if relu {
                    d.iter_mut().zip(s).for_each(|(dv, &sv)| *dv = sv.max(0.0));
                } else {
                    d.copy_from_slice(s);
                }
            }
        }
    }
}

/// Gradients of a convolution from `dy = ∂L/∂y` (`[f][n][oh·ow]`, after the activation's
/// backward pass): overwrites `gw` (`[f][c][kh][kw]`, summed over the batch) and, when given,
/// `dx = ∂L/∂x` (`[c][n][h·w]`). The bias gradient (a plain sum of `dy`) is the caller's.
///
/// # Panics
/// As [`forward`].
pub fn backward(
    work: &mut Work,
    g: &Conv,
    x: &[f32],
    w: &[f32],
    dy: &[f32],
    gw: &mut [f32],
    mut dx: Option<&mut [f32]>,
) {
    g.check();
    let (k, pix, opix) = (g.taps(), g.pix(), g.oh() * g.ow());
    assert_eq!(x.len(), g.n * g.input.c * pix, "direct backward: x");
    assert_eq!(w.len(), g.filters * k, "direct backward: w");
    assert_eq!(dy.len(), g.filters * g.n * opix, "direct backward: dy");
    assert_eq!(gw.len(), g.filters * k, "direct backward: gw");
    if let Some(dx) = &dx {
        assert_eq!(dx.len(), x.len(), "direct backward: dx");
    }
    assert!(available(), "direct convolution needs AVX-512F");
    work.prepare(g);
    let (nv, pad, dstride) = (g.vecs(), g.pad(), g.dstride());
    let (iw, ow, khw) = (g.input.w, g.ow(), g.kh * g.kw);
    // Samples per block: the weight-gradient tiles keep their partial sums in registers across a
    // block, and a block's wide `dy` planes (at most 64 KiB) stay in L1/L2 for the input gradient.
    let dimg = g.filters * dstride;
    let block = (16 * 1024 / dimg).clamp(1, 8).min(g.n);
    Work::grow(&mut work.wide, block * dimg);
    Work::grow(&mut work.acc, g.filters * k * LANES);
    work.acc[..g.filters * k * LANES].fill(0.0);
    // The margins and thrown-away columns stay zero from here on: only real outputs are written.
    work.wide[..block * dimg].fill(0.0);
    for b0 in (0..g.n).step_by(block) {
        let images = block.min(g.n - b0);
        for i in 0..images {
            for f in 0..g.filters {
                let src = &dy[(f * g.n + b0 + i) * opix..][..opix];
                let dst = &mut work.wide[i * dimg + f * dstride + pad..];
                for (oy, s) in src.chunks_exact(ow).enumerate() {
                    for (dv, &sv) in dst[oy * iw..oy * iw + ow].iter_mut().zip(s) {
                        *dv = sv;
                    }
                }
            }
        }
        for (f0, fs) in groups(g.filters, WG_F) {
            for (t0, ts) in groups(k, WG_T) {
                let t = WGrad {
                    x: &x[b0 * pix..],
                    xstep: pix,
                    taps: &work.taps[t0..t0 + ts],
                    dy: &work.wide[f0 * dstride + pad..],
                    dstride,
                    dimg,
                    images,
                    nv,
                    qend: g.qend(),
                };
                t.run(fs, ts, &mut work.acc[(f0 * k + t0) * LANES..], k);
            }
        }
        let Some(dx) = dx.as_deref_mut() else {
            continue;
        };
        let plane = g.n * pix;
        for i in 0..images {
            for (c0, cs) in groups(g.input.c, DX_C) {
                for (v0, vs) in groups(g.in_vecs(), VECS) {
                    let t = DGrad {
                        dy: &work.wide[i * dimg..][..dimg],
                        dstride,
                        pad,
                        offs: &work.taps[..khw],
                        w: &w[c0 * khw..],
                        k,
                        filters: g.filters,
                        p0: v0 * LANES,
                        pix,
                        qend: g.qend(),
                    };
                    t.run(cs, vs, &mut dx[c0 * plane + (b0 + i) * pix..], plane);
                }
            }
        }
    }
    for (o, v) in gw.iter_mut().zip(work.acc.chunks_exact(LANES)) {
        *o = v.iter().sum();
    }
}

/// A forward tile: filters `0..F` of `w` (row length `k`), wide outputs `q0..q0 + 16·V` of one
/// sample whose first input element is `x[0]`.
struct Fwd<'a> {
    x: &'a [f32],
    taps: &'a [usize],
    w: &'a [f32],
    k: usize,
    bias: &'a [f32],
    q0: usize,
    qend: usize,
    stride: usize,
}

impl Fwd<'_> {
    fn run(&self, f: usize, v: usize, out: &mut [f32]) {
        // What the kernel's unchecked accesses rely on.
        assert!((1..=FWD_F).contains(&f) && (1..=VECS).contains(&v));
        assert_eq!(self.taps.len(), self.k);
        assert!(self.q0 < self.qend && self.q0 + v * LANES <= self.stride);
        // Every tap offset plus every position below `qend` lies inside `x` (taps ascend).
        assert!(self.x.len() >= self.taps[self.k - 1] + self.qend);
        assert!(self.w.len() >= (f - 1) * self.k + self.k && self.bias.len() >= f);
        assert!(out.len() >= (f - 1) * self.stride + self.q0 + v * LANES);
        assert!(available());
        #[cfg(target_arch = "x86_64")]
        dispatch2!(fwd_tile(self, out); f, [1, 2, 3, 4, 5, 6]; v, [1, 2, 3, 4]);
    }
}

#[cfg(target_arch = "x86_64")]
fn fwd_tile<const F: usize, const V: usize>(t: &Fwd<'_>, out: &mut [f32]) {
    // SAFETY: `Fwd::run` asserted AVX-512F and every extent `fwd_kernel` documents.
    unsafe { fwd_kernel::<F, V>(t, out) }
}

/// # Safety
/// AVX-512F; `t.x` holds `taps[k − 1] + qend` floats, `t.w` holds `F·k`, `t.bias` holds `F`,
/// `out` holds `(F − 1)·stride + q0 + 16·V`, and `q0 + 16·V ≤ stride` (see [`Fwd::run`]).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn fwd_kernel<const F: usize, const V: usize>(t: &Fwd<'_>, out: &mut [f32]) {
    use std::arch::x86_64::*;
    let masks: [__mmask16; V] =
        std::array::from_fn(|v| lane_mask(t.qend.saturating_sub(t.q0 + v * LANES)));
    let mut acc = [[_mm512_setzero_ps(); V]; F];
    for (a, &b) in acc.iter_mut().zip(t.bias) {
        *a = [_mm512_set1_ps(b); V];
    }
    let (xp, wp) = (t.x.as_ptr().wrapping_add(t.q0), t.w.as_ptr());
    for (ti, &off) in t.taps.iter().enumerate() {
        let mut xv = [_mm512_setzero_ps(); V];
        for (v, xvv) in xv.iter_mut().enumerate() {
            // SAFETY: lanes q0 + 16v + l below `qend` read x[off + q], inside `t.x` because
            // off ≤ taps[k − 1]; lanes at or past `qend` are masked off and not accessed.
            *xvv = unsafe { _mm512_maskz_loadu_ps(masks[v], xp.wrapping_add(off + v * LANES)) };
        }
        for (f, accf) in acc.iter_mut().enumerate() {
            // SAFETY: f < F and ti < k, so f·k + ti < F·k ≤ t.w.len().
            let wv = _mm512_set1_ps(unsafe { *wp.add(f * t.k + ti) });
            for (a, &xvv) in accf.iter_mut().zip(&xv) {
                *a = _mm512_fmadd_ps(wv, xvv, *a);
            }
        }
    }
    let op = out.as_mut_ptr();
    for (f, accf) in acc.iter().enumerate() {
        for (v, &a) in accf.iter().enumerate() {
            // SAFETY: f·stride + q0 + 16v + 15 < (F − 1)·stride + q0 + 16·V ≤ out.len().
            unsafe { _mm512_storeu_ps(op.add(f * t.stride + t.q0 + v * LANES), a) };
        }
    }
}

/// A weight-gradient tile: filters `0..F` × taps `0..T`, over all `nv` vectors of `images`
/// samples. Sample `i` reads its input from `x[i·xstep..]` and its wide `dy` plane `f` from
/// `dy[i·dimg + f·dstride..]` (real outputs from index 0).
struct WGrad<'a> {
    x: &'a [f32],
    xstep: usize,
    taps: &'a [usize],
    dy: &'a [f32],
    dstride: usize,
    dimg: usize,
    images: usize,
    nv: usize,
    qend: usize,
}

impl WGrad<'_> {
    /// Add into the partial-sum vectors `acc[(f·k + t)·16..][..16]`.
    fn run(&self, f: usize, t: usize, acc: &mut [f32], k: usize) {
        assert!((1..=WG_F).contains(&f) && (1..=WG_T).contains(&t) && self.taps.len() == t);
        assert!(self.nv >= 1 && (self.nv - 1) * LANES < self.qend && self.qend <= self.nv * LANES);
        assert!(self.images >= 1);
        let last = (self.images - 1) * self.xstep;
        assert!(self.x.len() >= last + self.taps.iter().max().unwrap() + self.qend);
        let last = (self.images - 1) * self.dimg;
        assert!(self.dy.len() >= last + (f - 1) * self.dstride + self.nv * LANES);
        assert!(acc.len() >= ((f - 1) * k + t) * LANES);
        assert!(available());
        #[cfg(target_arch = "x86_64")]
        dispatch2!(wgrad_tile(self, acc, k); f, [1, 2, 3, 4]; t, [1, 2, 3, 4, 5, 6]);
    }
}

#[cfg(target_arch = "x86_64")]
fn wgrad_tile<const F: usize, const T: usize>(g: &WGrad<'_>, acc: &mut [f32], k: usize) {
    // SAFETY: `WGrad::run` asserted AVX-512F and every extent `wgrad_kernel` documents.
    unsafe { wgrad_kernel::<F, T>(g, acc, k) }
}

/// # Safety
/// AVX-512F; with `I = images − 1`, `g.x` holds `I·xstep + max(taps) + qend` floats, `g.dy`
/// holds `I·dimg + (F − 1)·dstride + 16·nv`, `acc` holds `((F − 1)·k + T)·16`, and `qend ≤ 16·nv` (see [`WGrad::run`]).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn wgrad_kernel<const F: usize, const T: usize>(g: &WGrad<'_>, acc: &mut [f32], k: usize) {
    use std::arch::x86_64::*;
    let ap = acc.as_mut_ptr();
    let mut s = [[_mm512_setzero_ps(); T]; F];
    for (f, sf) in s.iter_mut().enumerate() {
        for (t, v) in sf.iter_mut().enumerate() {
            // SAFETY: (f·k + t)·16 + 15 < ((F − 1)·k + T)·16 ≤ acc.len().
            *v = unsafe { _mm512_loadu_ps(ap.add((f * k + t) * LANES)) };
        }
    }
    let offs: [usize; T] = std::array::from_fn(|t| g.taps[t]);
    for i in 0..g.images {
        let xp = g.x.as_ptr().wrapping_add(i * g.xstep);
        let dp = g.dy.as_ptr().wrapping_add(i * g.dimg);
        for v in 0..g.nv {
            let q = v * LANES;
            let mask = lane_mask(g.qend - q);
            let mut d = [_mm512_setzero_ps(); F];
            for (f, dv) in d.iter_mut().enumerate() {
                // SAFETY: i·dimg + f·dstride + q + 15 < I·dimg + (F − 1)·dstride + 16·nv ≤
                // g.dy.len().
                *dv = unsafe { _mm512_loadu_ps(dp.wrapping_add(f * g.dstride + q)) };
            }
            for (t, &off) in offs.iter().enumerate() {
                // SAFETY: lanes below `qend` read x[i·xstep + off + q + l], below
                // I·xstep + max(taps) + qend ≤ g.x.len(); the others are masked off.
                let xv = unsafe { _mm512_maskz_loadu_ps(mask, xp.wrapping_add(off + q)) };
                for (sf, &dv) in s.iter_mut().zip(&d) {
                    sf[t] = _mm512_fmadd_ps(dv, xv, sf[t]);
                }
            }
        }
    }
    for (f, sf) in s.iter().enumerate() {
        for (t, &v) in sf.iter().enumerate() {
            // SAFETY: as for the loads above.
            unsafe { _mm512_storeu_ps(ap.add((f * k + t) * LANES), v) };
        }
    }
}

/// An input-gradient tile: channels `0..C` (weights `w[f·k + c·khw + t]`) × input positions
/// `p0..p0 + 16·V` of one sample, summing over all filters and the `khw` taps per channel.
/// Wide `dy` plane `f` has its real outputs at `dy[f·dstride + pad..]` and zeros in its margins.
struct DGrad<'a> {
    dy: &'a [f32],
    dstride: usize,
    pad: usize,
    /// Tap offsets `ky·w + kx` (at most `pad`).
    offs: &'a [usize],
    w: &'a [f32],
    k: usize,
    filters: usize,
    p0: usize,
    pix: usize,
    /// Extent of the real outputs: tap `off` contributes only to positions `off..off + qend`.
    qend: usize,
}

impl DGrad<'_> {
    /// Overwrite `dx[c·plane + p]` for the tile's channels and positions below `pix`.
    fn run(&self, c: usize, v: usize, dx: &mut [f32], plane: usize) {
        let khw = self.offs.len();
        assert!((1..=DX_C).contains(&c) && (1..=VECS).contains(&v) && khw >= 1);
        assert!(self.offs.iter().all(|&o| o <= self.pad));
        assert!(self.p0 < self.pix && self.pad + self.p0 + v * LANES <= self.dstride);
        assert!(self.dy.len() >= self.filters * self.dstride);
        assert!(self.w.len() >= (self.filters - 1) * self.k + (c - 1) * khw + khw);
        assert!(dx.len() >= (c - 1) * plane + self.pix && plane >= self.pix);
        assert!(available());
        #[cfg(target_arch = "x86_64")]
        dispatch2!(dgrad_tile(self, dx, plane); c, [1, 2, 3, 4, 5, 6]; v, [1, 2, 3, 4]);
    }
}

#[cfg(target_arch = "x86_64")]
fn dgrad_tile<const C: usize, const V: usize>(g: &DGrad<'_>, dx: &mut [f32], plane: usize) {
    // SAFETY: `DGrad::run` asserted AVX-512F and every extent `dgrad_kernel` documents.
    unsafe { dgrad_kernel::<C, V>(g, dx, plane) }
}

/// # Safety
/// AVX-512F; `g.dy` holds `filters·dstride` floats, every offset is at most `pad`,
/// `pad + p0 + 16·V ≤ dstride`, `g.w` holds `(filters − 1)·k + C·khw`, and `dx` holds
/// `(C − 1)·plane + pix` (see [`DGrad::run`]).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn dgrad_kernel<const C: usize, const V: usize>(
    g: &DGrad<'_>,
    dx: &mut [f32],
    plane: usize,
) {
    use std::arch::x86_64::*;
    let khw = g.offs.len();
    let mut acc = [[_mm512_setzero_ps(); V]; C];
    let (dp, wp) = (g.dy.as_ptr(), g.w.as_ptr());
    for f in 0..g.filters {
        // Position p of the tile reads dy at pad + p − off ≥ 0, below pad + p0 + 16·V ≤ dstride.
        let base = dp.wrapping_add(f * g.dstride + g.pad + g.p0);
        for (t, &off) in g.offs.iter().enumerate() {
            // Tap `off` reaches positions off..off + qend only; outside, dy reads are margin.
            if g.p0 + V * LANES <= off || g.p0 >= off + g.qend {
                continue;
            }
            let mut d = [_mm512_setzero_ps(); V];
            for (v, dv) in d.iter_mut().enumerate() {
                // SAFETY: f·dstride + pad + p0 + 16v − off + 15 < (f + 1)·dstride ≤ g.dy.len()
                // and the start is ≥ f·dstride because off ≤ pad.
                *dv = unsafe { _mm512_loadu_ps(base.wrapping_add(v * LANES).wrapping_sub(off)) };
            }
            for (c, accc) in acc.iter_mut().enumerate() {
                // SAFETY: f·k + c·khw + t < (filters − 1)·k + C·khw ≤ g.w.len().
                let wv = _mm512_set1_ps(unsafe { *wp.add(f * g.k + c * khw + t) });
                for (a, &dv) in accc.iter_mut().zip(&d) {
                    *a = _mm512_fmadd_ps(wv, dv, *a);
                }
            }
        }
    }
    let xp = dx.as_mut_ptr();
    for (c, accc) in acc.iter().enumerate() {
        for (v, &a) in accc.iter().enumerate() {
            let p = g.p0 + v * LANES;
            let mask = lane_mask(g.pix.saturating_sub(p));
            // SAFETY: lanes below `pix` write dx[c·plane + p + l] < (C − 1)·plane + pix ≤
            // dx.len(); the others are masked off and not accessed.
            unsafe { _mm512_mask_storeu_ps(xp.wrapping_add(c * plane + p), mask, a) };
        }
    }
}
