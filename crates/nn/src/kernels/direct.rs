//! Direct convolution: the forward pass, the weight gradient and the input gradient
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
//! reads input pixel `q + ky·w + kx` of channel `c`: one unaligned vector load per `LANES`
//! outputs and tap, for any kernel size. The `kw − 1` columns per row with `ox ≥ ow` are computed and thrown
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
//!     tiles of `C` channels × `V` vectors; when an output row is a whole number of vectors
//!     (LeNet's second layer on AVX2 and portable), a scatter from the real outputs instead
//!     ([`DGradRows`]: per tap, `Σ_f W·dy_f` in registers, added to `dx` at the tap's offset),
//!     which skips the margin work.
//!
//! Each kernel is one generic source over [`Simd`], instantiated for AVX-512F (16 lanes),
//! AVX2 + FMA (8 lanes) and the portable path (4 lanes), with register tiles sized per
//! instruction set (the table in [`shapes`]). The kernels' unchecked accesses sit behind safe
//! entry points that check every extent they rely on; `tests/direct.rs` compares every
//! instruction set this CPU has with a naive convolution, and runs under miri.

use crate::kernels::elementwise;
use crate::kernels::isa::{Isa, Token};
use crate::kernels::simd::Simd;
use crate::shape::Shape;

/// Register-tile shapes per instruction set: (filters, vectors) of a forward tile,
/// (filters, taps) of a weight-gradient tile, (channels, vectors) of an input-gradient tile.
/// Each fills most of the vector registers with accumulators (AVX-512: 24 of 32; AVX2: 12 of
/// 16; portable: 8 of 16) and leaves room for the loads and the broadcast.
#[derive(Clone, Copy, Debug)]
struct Shapes {
    lanes: usize,
    fwd: (usize, usize),
    wgrad: (usize, usize),
    dgrad: (usize, usize),
}

fn shapes(isa: Isa) -> Shapes {
    match isa {
        Isa::Avx512 => Shapes {
            lanes: 16,
            fwd: (6, 4),
            wgrad: (4, 6),
            dgrad: (6, 4),
        },
        Isa::Avx2 => Shapes {
            lanes: 8,
            fwd: (6, 2),
            wgrad: (3, 4),
            dgrad: (6, 2),
        },
        // SSE2's two-operand arithmetic needs a spare register per multiply-add: 8 accumulators
        // (measured: 12 spilled to the stack).
        Isa::Portable => Shapes {
            lanes: 4,
            fwd: (4, 2),
            wgrad: (2, 4),
            dgrad: (4, 2),
        },
    }
}

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
    /// Vectors of `l` lanes covering `0..qend`.
    fn vecs(&self, l: usize) -> usize {
        self.qend().div_ceil(l)
    }
    /// Which positions of the wide grid the forward and weight-gradient kernels compute: see
    /// [`Grid`].
    fn grid(&self, l: usize) -> Grid {
        let ow = self.ow();
        if ow.is_multiple_of(l) {
            Grid {
                rows: self.oh(),
                chunks: ow / l,
                step: self.input.w,
                whole: self.oh(),
            }
        } else {
            let nv = self.vecs(l);
            Grid {
                rows: nv,
                chunks: 1,
                step: l,
                whole: self.qend() / l,
            }
        }
    }
    /// Zero margin in front of a wide `dy` plane: the largest tap offset.
    fn pad(&self) -> usize {
        (self.kh - 1) * self.input.w + self.kw - 1
    }
    /// Vectors of `l` lanes covering an input plane.
    fn in_vecs(&self, l: usize) -> usize {
        self.pix().div_ceil(l)
    }
    /// Row stride of a wide `dy` plane: the margin plus whole vectors over the input plane
    /// (`qend ≤ pix`, so the forward extent fits too).
    fn dstride(&self, l: usize) -> usize {
        self.pad() + self.in_vecs(l) * l
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

/// The vectors of `l` lanes the forward and weight-gradient kernels compute: vector `(r, c)`
/// (`r < rows`, `c < chunks`) covers the wide positions `r·step + c·l..` `+ l`, and the rows
/// from `whole` on (at most one) reach past `qend`, so they are masked there.
///
/// When an output row is a whole number of vectors (`ow = chunks·l`: LeNet's layers on AVX2
/// and the portable path) they are the output rows themselves (`step = w`), skipping the
/// `kw − 1` columns per row that the wide grid computes and throws away (a third of the lanes
/// of LeNet's second layer); otherwise the wide extent `0..qend` in one column of vectors
/// (`step = l`, `chunks = 1`).
#[derive(Clone, Copy, Debug)]
struct Grid {
    rows: usize,
    chunks: usize,
    step: usize,
    whole: usize,
}

/// Working memory of the direct kernels, kept per worker (in [`crate::Scratch`]) so that calls
/// allocate only while it grows.
#[derive(Debug, Default, Clone)]
pub struct Work {
    /// Wide output planes of one sample (forward) or wide, zero-margined `dy` planes (backward).
    wide: Vec<f32>,
    /// Offset of each tap `(c, ky, kx)` from a sample's first input element.
    taps: Vec<usize>,
    /// Vectors of weight-gradient partial sums, `[f][t][LANES]`.
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

/// Cover `n` vectors with runs of register tiles, as `(first vector, vectors per tile, tiles)`:
/// `⌊n / v⌋` tiles of `v`, then one of the remainder. One kernel call per run rather than per
/// tile: the per-call checks and argument copies were 2–3 % of a LeNet-5 step.
fn row_tiles(n: usize, v: usize) -> impl Iterator<Item = (usize, usize, usize)> {
    let full = n / v;
    [(0, v, full), (full * v, n % v, 1)]
        .into_iter()
        .filter(|&(_, w, t)| w > 0 && t > 0)
}

/// Split `0..n` into `⌈n / max⌉` nearly equal groups (so no tiny remainder group).
fn groups(n: usize, max: usize) -> impl Iterator<Item = (usize, usize)> {
    let g = n.div_ceil(max);
    (0..g).map(move |i| (i * n / g, (i + 1) * n / g - i * n / g))
}

/// Where [`forward`] puts its result.
#[derive(Debug)]
pub enum Output<'a> {
    /// The convolution's output, `[f][n][oh·ow]`.
    Planes(&'a mut [f32]),
    /// Its 2 × 2 max-pool (stride 2, floor), `[f][n][(oh/2)·(ow/2)]`, and which corner of each
    /// window (0..4 in row-major order, first maximum wins) the maximum came from: what pooling
    /// the `Planes` output gives, without writing or reading those planes (a convolution
    /// followed by a pool, as in every MNIST CNN here).
    Pooled { y: &'a mut [f32], arg: &'a mut [u8] },
}

/// `y = W ⋆ x + bias`, then ReLU when `relu`: `x` is `[c][n][h·w]`, `w` is `[f][c][kh][kw]`;
/// `out` (see [`Output`]) is fully overwritten. Runs the kernels of `isa`.
///
/// # Panics
/// If the slices do not have exactly the sizes above, the kernel does not fit the input, or this
/// CPU lacks `isa`.
#[allow(clippy::too_many_arguments)]
pub fn forward(
    work: &mut Work,
    isa: Isa,
    g: &Conv,
    x: &[f32],
    w: &[f32],
    bias: &[f32],
    relu: bool,
    mut out: Output<'_>,
) {
    g.check();
    let (k, pix) = (g.taps(), g.pix());
    let (oh, ow) = (g.oh(), g.ow());
    assert_eq!(x.len(), g.n * g.input.c * pix, "direct forward: x");
    assert_eq!(w.len(), g.filters * k, "direct forward: w");
    assert_eq!(bias.len(), g.filters, "direct forward: bias");
    let opix = match &out {
        Output::Planes(y) => {
            assert_eq!(y.len(), g.filters * g.n * oh * ow, "direct forward: y");
            oh * ow
        }
        Output::Pooled { y, arg } => {
            let opix = (oh / 2) * (ow / 2);
            assert!(
                opix >= 1,
                "direct forward: a {oh}×{ow} output cannot be pooled"
            );
            assert_eq!(y.len(), g.filters * g.n * opix, "direct forward: pooled y");
            assert_eq!(arg.len(), y.len(), "direct forward: pool arg");
            opix
        }
    };
    let tok = isa.expect_token("direct convolution");
    let sh = shapes(isa);
    let l = sh.lanes;
    work.prepare(g);
    let (grid, stride) = (g.grid(l), g.vecs(l) * l);
    Work::grow(&mut work.wide, g.filters * stride);
    let iw = g.input.w;
    for b in 0..g.n {
        for (f0, fs) in groups(g.filters, sh.fwd.0) {
            // A tile's vectors are `step` apart: consecutive rows of one column of vectors.
            for c in 0..grid.chunks {
                for (r0, vs, tiles) in row_tiles(grid.rows, sh.fwd.1) {
                    let t = Fwd {
                        x: &x[b * pix..],
                        taps: &work.taps,
                        w: &w[f0 * k..],
                        k,
                        bias: &bias[f0..],
                        q0: r0 * grid.step + c * l,
                        vstep: grid.step,
                        qend: g.qend(),
                        stride,
                        f: fs,
                        v: vs,
                        tiles,
                    };
                    t.run(tok, sh, &mut work.wide[f0 * stride..]);
                }
            }
        }
        for f in 0..g.filters {
            let (src, o) = (&work.wide[f * stride..], (f * g.n + b) * opix);
            match &mut out {
                // Compact (keep the first `ow` columns of each wide row), with the ReLU.
                Output::Planes(y) => {
                    elementwise::compact_rows(tok, src, iw, &mut y[o..][..opix], ow, relu);
                }
                Output::Pooled { y, arg } => {
                    let (y, arg) = (&mut y[o..][..opix], &mut arg[o..][..opix]);
                    elementwise::max_pool_rows(tok, src, iw, oh, ow, relu, y, arg);
                }
            }
        }
    }
}

/// What [`backward`] gets as `∂L/∂y`.
#[derive(Clone, Copy, Debug)]
pub enum Dy<'a> {
    /// `∂L/∂y` itself, `[f][n][oh·ow]`, after the activation's backward pass.
    Planes(&'a [f32]),
    /// The gradient with respect to the 2 × 2 max-pool of `y` (see [`Output::Pooled`]):
    /// `dy` and the pool's output `y`, `[f][n][(oh/2)·(ow/2)]`, and its arg-max corners `arg`.
    /// `∂L/∂y` is `dy` at each window's arg-max and 0 elsewhere — and 0 where `y ≤ 0` when
    /// `relu` (the convolution's ReLU) — scattered straight onto the kernels' wide grid.
    Pooled {
        dy: &'a [f32],
        arg: &'a [u8],
        y: &'a [f32],
        relu: bool,
    },
}

/// Gradients of a convolution from `dy` (see [`Dy`]): overwrites `gw` (`[f][c][kh][kw]`, summed
/// over the batch), `gb` (`[f]`, the bias gradient `Σ ∂L/∂y_f`) and, when given,
/// `dx = ∂L/∂x` (`[c][n][h·w]`).
///
/// # Panics
/// As [`forward`].
#[allow(clippy::too_many_arguments)]
pub fn backward(
    work: &mut Work,
    isa: Isa,
    g: &Conv,
    x: &[f32],
    w: &[f32],
    dy: Dy<'_>,
    gw: &mut [f32],
    gb: &mut [f32],
    mut dx: Option<&mut [f32]>,
) {
    g.check();
    let (k, pix) = (g.taps(), g.pix());
    let (oh, ow) = (g.oh(), g.ow());
    assert_eq!(x.len(), g.n * g.input.c * pix, "direct backward: x");
    assert_eq!(w.len(), g.filters * k, "direct backward: w");
    let opix = match dy {
        Dy::Planes(d) => {
            assert_eq!(d.len(), g.filters * g.n * oh * ow, "direct backward: dy");
            oh * ow
        }
        Dy::Pooled { dy: d, arg, y, .. } => {
            let opix = (oh / 2) * (ow / 2);
            assert!(
                opix >= 1,
                "direct backward: a {oh}×{ow} output cannot be pooled"
            );
            assert_eq!(
                d.len(),
                g.filters * g.n * opix,
                "direct backward: pooled dy"
            );
            assert!(
                arg.len() == d.len() && y.len() == d.len(),
                "direct backward: pool arg, y"
            );
            opix
        }
    };
    assert_eq!(gw.len(), g.filters * k, "direct backward: gw");
    assert_eq!(gb.len(), g.filters, "direct backward: gb");
    if let Some(dx) = &dx {
        assert_eq!(dx.len(), x.len(), "direct backward: dx");
    }
    let tok = isa.expect_token("direct convolution");
    let sh = shapes(isa);
    let l = sh.lanes;
    work.prepare(g);
    let (grid, pad, dstride) = (g.grid(l), g.pad(), g.dstride(l));
    let (iw, khw) = (g.input.w, g.kh * g.kw);
    // Samples per block: the weight-gradient tiles keep their partial sums in registers across a
    // block, and a block's wide `dy` planes (at most 64 KiB) stay in L1/L2 for the input gradient.
    let dimg = g.filters * dstride;
    let block = (16 * 1024 / dimg).clamp(1, 8).min(g.n);
    Work::grow(&mut work.wide, block * dimg);
    Work::grow(&mut work.acc, g.filters * k * l);
    work.acc[..g.filters * k * l].fill(0.0);
    // The margins and thrown-away columns stay zero from here on: only real outputs are written.
    work.wide[..block * dimg].fill(0.0);
    gb.fill(0.0);
    for b0 in (0..g.n).step_by(block) {
        let images = block.min(g.n - b0);
        for i in 0..images {
            for (f, gbf) in gb.iter_mut().enumerate() {
                let o = (f * g.n + b0 + i) * opix..(f * g.n + b0 + i + 1) * opix;
                let dst = &mut work.wide[i * dimg + f * dstride + pad..];
                *gbf += match dy {
                    Dy::Planes(d) => elementwise::expand_rows_sum(tok, &d[o], ow, dst, iw),
                    Dy::Pooled { dy, arg, y, relu } => {
                        let (d, a, y) = (&dy[o.clone()], &arg[o.clone()], &y[o]);
                        elementwise::unpool_rows_sum(tok, d, a, y, relu, oh, ow, iw, dst)
                    }
                };
            }
        }
        for (f0, fs) in groups(g.filters, sh.wgrad.0) {
            for (t0, ts) in groups(k, sh.wgrad.1) {
                let t = WGrad {
                    x: &x[b0 * pix..],
                    xstep: pix,
                    taps: &work.taps[t0..t0 + ts],
                    dy: &work.wide[f0 * dstride + pad..],
                    dstride,
                    dimg,
                    images,
                    grid,
                    qend: g.qend(),
                    k,
                    f: fs,
                };
                t.run(tok, sh, &mut work.acc[(f0 * k + t0) * l..]);
            }
        }
        let Some(dx) = dx.as_deref_mut() else {
            continue;
        };
        let plane = g.n * pix;
        // Output rows of whole vectors (the row `Grid`): scatter from the real outputs only
        // (`DGradRows`); otherwise the full correlation over the input plane (`DGrad`).
        let rows = ow.is_multiple_of(l);
        for i in 0..images {
            if rows {
                for c in 0..g.input.c {
                    dx[c * plane + (b0 + i) * pix..][..pix].fill(0.0);
                }
            }
            for (c0, cs) in groups(g.input.c, sh.dgrad.0) {
                let vecs = if rows {
                    grid.rows * grid.chunks
                } else {
                    g.in_vecs(l)
                };
                for (v0, vs, tiles) in row_tiles(vecs, sh.dgrad.1) {
                    let ops = DGradOps {
                        dy: &work.wide[i * dimg..][..dimg],
                        dstride,
                        pad,
                        offs: &work.taps[..khw],
                        w: &w[c0 * khw..],
                        k,
                        filters: g.filters,
                        pix,
                        c: cs,
                        v: vs,
                        tiles,
                    };
                    let dxs = &mut dx[c0 * plane + (b0 + i) * pix..];
                    if rows {
                        let t = DGradRows {
                            ops,
                            j0: v0,
                            step: iw,
                            chunks: grid.chunks,
                        };
                        t.run(tok, sh, dxs, plane);
                    } else {
                        let t = DGrad {
                            ops,
                            p0: v0 * l,
                            qend: g.qend(),
                        };
                        t.run(tok, sh, dxs, plane);
                    }
                }
            }
        }
    }
    for (o, v) in gw.iter_mut().zip(work.acc.chunks_exact(l)) {
        *o = v.iter().sum();
    }
}

/// A run of forward tiles: filters `0..f` of `w` (row length `k`), `tiles·v` vectors of wide
/// outputs of one sample whose first input element is `x[0]`, `v` vectors per tile, vector `j`
/// at `q0 + j·vstep` (see [`Conv::grid`]).
#[derive(Clone, Copy)]
struct Fwd<'a> {
    x: &'a [f32],
    taps: &'a [usize],
    w: &'a [f32],
    k: usize,
    bias: &'a [f32],
    q0: usize,
    /// `LANES` (the wide grid) or the input's row length (a vector per output row).
    vstep: usize,
    qend: usize,
    stride: usize,
    f: usize,
    v: usize,
    tiles: usize,
}

impl Fwd<'_> {
    fn run(self, tok: Token, sh: Shapes, out: &mut [f32]) {
        let (f, v, l) = (self.f, self.v, sh.lanes);
        // What the kernel's unchecked accesses rely on.
        assert!((1..=sh.fwd.0).contains(&f) && (1..=sh.fwd.1).contains(&v));
        assert_eq!(self.taps.len(), self.k);
        // Every vector starts below `qend`; the last one ends inside the row.
        assert!(self.tiles >= 1 && self.vstep >= l);
        let last = self.q0 + (self.tiles * v - 1) * self.vstep;
        let end = last + l;
        assert!(last < self.qend && end <= self.stride);
        // Every tap offset plus every position below `qend` lies inside `x` (taps ascend).
        assert!(self.x.len() >= self.taps[self.k - 1] + self.qend);
        assert!(self.w.len() >= f * self.k && self.bias.len() >= f);
        assert!(out.len() >= (f - 1) * self.stride + end);
        let op = out.as_mut_ptr();
        // SAFETY: `tok` proves the CPU runs the family; extents asserted above.
        unsafe { run_fwd(tok, self, op) }
    }
}

multiversion! {
    /// # Safety
    /// As [`fwd_kernel`].
    unsafe fn run_fwd(t: Fwd<'_>, out: *mut f32) => fwd_kernel;
    shape t.f, t.v;
    avx512 [1, 2, 3, 4, 5, 6] x [1, 2, 3, 4];
    avx2 [1, 2, 3, 4, 5, 6] x [1, 2];
    portable [1, 2, 3, 4] x [1, 2];
}

/// The tiles of a run, one after the other.
///
/// # Safety
/// `t.x` holds `taps[k − 1] + qend` floats, `t.w` holds `F·k`, `t.bias` holds `F`, and with
/// `last = q0 + (tiles·V − 1)·vstep` the run's last vector, `last < qend`, `vstep ≥ LANES` and
/// `out` reaches `(F − 1)·stride + last + LANES ≤ (F − 1)·stride + stride` (see [`Fwd::run`]).
#[inline(always)]
unsafe fn fwd_kernel<S: Simd, const F: usize, const V: usize>(s: S, t: Fwd<'_>, out: *mut f32) {
    // The wide grid's step as a constant, so that its loads keep constant displacements.
    let row = t.vstep != S::LANES;
    for j in 0..t.tiles {
        let tile = Fwd {
            q0: t.q0 + j * V * t.vstep,
            ..t
        };
        // SAFETY: the tile lies inside the run (this function's contract).
        unsafe {
            if row {
                fwd_tile::<S, F, V, true>(s, tile, out)
            } else {
                fwd_tile::<S, F, V, false>(s, tile, out)
            }
        }
    }
}

/// Per tap, `V` loads of the input and `F` weight broadcasts feed `F·V` FMAs. `ROW`: vectors
/// `vstep` apart (else `LANES`).
///
/// # Safety
/// As [`fwd_kernel`], for the one tile at `q0`: `out` reaches
/// `(F − 1)·stride + q0 + (V − 1)·vstep + LANES ≤ (F − 1)·stride + stride` and `q0 < qend`.
#[inline(always)]
unsafe fn fwd_tile<S: Simd, const F: usize, const V: usize, const ROW: bool>(
    s: S,
    t: Fwd<'_>,
    out: *mut f32,
) {
    let l = S::LANES;
    let step = if ROW { t.vstep } else { l };
    // Only a vector reaching `qend` can read past the end of `x`: mask just that one.
    let masks: [S::M; V] = std::array::from_fn(|v| s.mask(t.qend.saturating_sub(t.q0 + v * step)));
    let whole: [bool; V] = std::array::from_fn(|v| t.q0 + v * step + l <= t.qend);
    let mut acc = [[s.zero(); V]; F];
    for (a, &b) in acc.iter_mut().zip(t.bias) {
        *a = [s.splat(b); V];
    }
    let (xp, wp) = (t.x.as_ptr().wrapping_add(t.q0), t.w.as_ptr());
    for (ti, &off) in t.taps.iter().enumerate() {
        let mut xv = [s.zero(); V];
        for (v, xvv) in xv.iter_mut().enumerate() {
            let p = xp.wrapping_add(off + v * step);
            // SAFETY: lanes q0 + step·v + i below `qend` read x[off + q], inside `t.x` because
            // off ≤ taps[k − 1]; a vector reaching past `qend` is masked there.
            *xvv = unsafe {
                if whole[v] {
                    s.load(p)
                } else {
                    s.load_masked(p, masks[v])
                }
            };
        }
        for (f, accf) in acc.iter_mut().enumerate() {
            // SAFETY: f < F and ti < k, so f·k + ti < F·k ≤ t.w.len().
            let wv = s.splat(unsafe { *wp.add(f * t.k + ti) });
            for (a, &xvv) in accf.iter_mut().zip(&xv) {
                *a = s.mul_add(wv, xvv, *a);
            }
        }
    }
    for (f, accf) in acc.iter().enumerate() {
        for (v, &a) in accf.iter().enumerate() {
            // SAFETY: f·stride + q0 + step·v + LANES ≤ (F − 1)·stride + q0 + (V − 1)·step +
            // LANES, inside `out`.
            unsafe { s.store(out.add(f * t.stride + t.q0 + v * step), a) };
        }
    }
}

/// A weight-gradient tile: filters `0..f` × the taps given, over all vectors of the grid (see
/// [`Grid`]) of `images` samples. Sample `i` reads its input from `x[i·xstep..]` and its wide `dy` plane `f` from
/// `dy[i·dimg + f·dstride..]` (real outputs from index 0).
#[derive(Clone, Copy)]
struct WGrad<'a> {
    x: &'a [f32],
    xstep: usize,
    taps: &'a [usize],
    dy: &'a [f32],
    dstride: usize,
    dimg: usize,
    images: usize,
    grid: Grid,
    qend: usize,
    /// Row length of the partial sums (`acc[(f·k + t)·LANES..]`).
    k: usize,
    f: usize,
}

impl WGrad<'_> {
    /// Add into the partial-sum vectors `acc[(f·k + t)·LANES..][..LANES]`.
    fn run(self, tok: Token, sh: Shapes, acc: &mut [f32]) {
        let (f, t, l) = (self.f, self.taps.len(), sh.lanes);
        assert!((1..=sh.wgrad.0).contains(&f) && (1..=sh.wgrad.1).contains(&t));
        let Grid {
            rows,
            chunks,
            step,
            whole,
        } = self.grid;
        // Rows below `whole` end by `qend`, without overlapping; at most one more row, of one
        // vector, starting below `qend`.
        assert!(rows >= 1 && chunks >= 1 && chunks * l <= step.max(l));
        assert!(whole <= rows && rows <= whole + 1);
        assert!(whole == 0 || (whole - 1) * step + chunks * l <= self.qend);
        assert!(whole == rows || (chunks == 1 && (rows - 1) * step < self.qend));
        let reach = (rows - 1) * step + chunks * l;
        assert!(self.images >= 1);
        let last = (self.images - 1) * self.xstep;
        assert!(self.x.len() >= last + self.taps.iter().max().unwrap() + self.qend);
        let last = (self.images - 1) * self.dimg;
        assert!(self.dy.len() >= last + (f - 1) * self.dstride + reach);
        assert!(acc.len() >= ((f - 1) * self.k + t) * l);
        let ap = acc.as_mut_ptr();
        // SAFETY: `tok` proves the CPU runs the family; extents asserted above.
        unsafe { run_wgrad(tok, self, ap) }
    }
}

multiversion! {
    /// # Safety
    /// As [`wgrad_kernel`].
    unsafe fn run_wgrad(g: WGrad<'_>, acc: *mut f32) => wgrad_kernel;
    shape g.f, g.taps.len();
    avx512 [1, 2, 3, 4] x [1, 2, 3, 4, 5, 6];
    avx2 [1, 2, 3] x [1, 2, 3, 4];
    portable [1, 2] x [1, 2, 3, 4];
}

/// `F × T` vectors of partial sums stay in registers across the block; per vector step, `F`
/// loads of `dy` and `T` loads of the input feed `F·T` FMAs.
///
/// # Safety
/// With `I = images − 1` and `(rows, chunks, step, whole)` the grid, `g.x` holds
/// `I·xstep + max(taps) + qend` floats, `g.dy` holds
/// `I·dimg + (F − 1)·dstride + (rows − 1)·step + chunks·LANES`, `acc` reaches
/// `((F − 1)·k + T)·LANES`, rows below `whole` end by `qend`, and the one row after them (if
/// `whole < rows`) is one vector starting below it (see [`WGrad::run`]).
#[inline(always)]
unsafe fn wgrad_kernel<S: Simd, const F: usize, const T: usize>(s: S, g: WGrad<'_>, acc: *mut f32) {
    let l = S::LANES;
    let mut sums = [[s.zero(); T]; F];
    for (f, sf) in sums.iter_mut().enumerate() {
        for (t, v) in sf.iter_mut().enumerate() {
            // SAFETY: (f·k + t)·LANES + LANES ≤ ((F − 1)·k + T)·LANES, inside `acc`.
            *v = unsafe { s.load(acc.add((f * g.k + t) * l)) };
        }
    }
    let offs: [usize; T] = std::array::from_fn(|t| g.taps[t]);
    // The whole vectors, then the one that reaches past `qend` (where `x` may end) with a mask:
    // two loops, so that the whole-vector loop holds no mask register (AVX2's is a ymm, and
    // with 12 accumulators it spilled one of them to the stack).
    let Grid {
        rows,
        chunks,
        step,
        whole,
    } = g.grid;
    let mask = s.mask(g.qend.saturating_sub(whole * step));
    for i in 0..g.images {
        let xp = g.x.as_ptr().wrapping_add(i * g.xstep);
        let dp = g.dy.as_ptr().wrapping_add(i * g.dimg);
        for r in 0..whole {
            for c in 0..chunks {
                // SAFETY: a vector of a whole row: its lanes are all below `qend` (see
                // `wgrad_vec`).
                unsafe {
                    let q = r * step + c * l;
                    wgrad_vec::<S, F, T, false>(s, &mut sums, xp, dp, &offs, q, g.dstride, mask)
                };
            }
        }
        if whole < rows {
            // SAFETY: the last row, one vector, masked at `qend` (see `wgrad_vec`).
            unsafe {
                let q = whole * step;
                wgrad_vec::<S, F, T, true>(s, &mut sums, xp, dp, &offs, q, g.dstride, mask)
            };
        }
    }
    for (f, sf) in sums.iter().enumerate() {
        for (t, &v) in sf.iter().enumerate() {
            // SAFETY: as for the loads above.
            unsafe { s.store(acc.add((f * g.k + t) * l), v) };
        }
    }
}

/// One vector step of [`wgrad_kernel`] at wide position `q`: `F` loads of `dy` and `T` loads of
/// the input feed `F·T` FMAs. `MASKED` loads the input under `mask` (the last vector).
///
/// # Safety
/// As [`wgrad_kernel`], for `xp`/`dp` the sample's first input and `dy` element and
/// `q` a vector of the grid; unless `MASKED`, `q + LANES ≤ qend`, and if `MASKED`, `mask`
/// covers the lanes below `qend − q`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn wgrad_vec<S: Simd, const F: usize, const T: usize, const MASKED: bool>(
    s: S,
    sums: &mut [[S::V; T]; F],
    xp: *const f32,
    dp: *const f32,
    offs: &[usize; T],
    q: usize,
    dstride: usize,
    mask: S::M,
) {
    let mut d = [s.zero(); F];
    for (f, dv) in d.iter_mut().enumerate() {
        // SAFETY: i·dimg + f·dstride + q + LANES ≤ I·dimg + (F − 1)·dstride + (rows − 1)·step
        // + chunks·LANES, inside `g.dy`.
        *dv = unsafe { s.load(dp.wrapping_add(f * dstride + q)) };
    }
    for (t, &off) in offs.iter().enumerate() {
        let p = xp.wrapping_add(off + q);
        // SAFETY: lanes below `qend` read x[i·xstep + off + q + lane], below
        // I·xstep + max(taps) + qend ≤ g.x.len(); the last vector is masked there.
        let xv = unsafe {
            if MASKED {
                s.load_masked(p, mask)
            } else {
                s.load(p)
            }
        };
        for (sf, &dv) in sums.iter_mut().zip(&d) {
            sf[t] = s.mul_add(dv, xv, sf[t]);
        }
    }
}

/// What both forms of the input gradient read and write: channels `0..c` (weights
/// `w[f·k + c·khw + t]`) of one sample, summing over all filters and the `khw` taps per channel,
/// in runs of `tiles` tiles of `v` vectors. Wide `dy` plane `f` has its real outputs at
/// `dy[f·dstride + pad..]` and zeros in its margins.
#[derive(Clone, Copy)]
struct DGradOps<'a> {
    dy: &'a [f32],
    dstride: usize,
    pad: usize,
    /// Tap offsets `ky·w + kx` (at most `pad`).
    offs: &'a [usize],
    w: &'a [f32],
    k: usize,
    filters: usize,
    pix: usize,
    c: usize,
    v: usize,
    tiles: usize,
}

impl DGradOps<'_> {
    /// The extents both kernels rely on but for the positions, which each form checks itself.
    fn check(&self, sh: Shapes, dx: &[f32], plane: usize) {
        let (c, v, khw) = (self.c, self.v, self.offs.len());
        assert!((1..=sh.dgrad.0).contains(&c) && (1..=sh.dgrad.1).contains(&v) && khw >= 1);
        assert!(self.tiles >= 1 && self.offs.iter().all(|&o| o <= self.pad));
        assert!(self.dy.len() >= self.filters * self.dstride);
        assert!(self.w.len() >= (self.filters - 1) * self.k + c * khw);
        assert!(dx.len() >= (c - 1) * plane + self.pix && plane >= self.pix);
    }
}

/// The full-correlation form: input positions `p0..p0 + tiles·v·LANES`.
#[derive(Clone, Copy)]
struct DGrad<'a> {
    ops: DGradOps<'a>,
    p0: usize,
    /// Extent of the real outputs: tap `off` contributes only to positions `off..off + qend`.
    qend: usize,
}

impl DGrad<'_> {
    /// Overwrite `dx[c·plane + p]` for the tile's channels and positions below `pix`.
    fn run(self, tok: Token, sh: Shapes, dx: &mut [f32], plane: usize) {
        let o = &self.ops;
        o.check(sh, dx, plane);
        let vl = o.v * sh.lanes;
        let end = self.p0 + o.tiles * vl;
        assert!(end - vl < o.pix && o.pad + end <= o.dstride);
        let xp = dx.as_mut_ptr();
        // SAFETY: `tok` proves the CPU runs the family; extents asserted above.
        unsafe { run_dgrad(tok, self, xp, plane) }
    }
}

multiversion! {
    /// # Safety
    /// As [`dgrad_kernel`].
    unsafe fn run_dgrad(g: DGrad<'_>, dx: *mut f32, plane: usize) => dgrad_kernel;
    shape g.ops.c, g.ops.v;
    avx512 [1, 2, 3, 4, 5, 6] x [1, 2, 3, 4];
    avx2 [1, 2, 3, 4, 5, 6] x [1, 2];
    portable [1, 2, 3, 4] x [1, 2];
}

/// The tiles of a run, one after the other.
///
/// # Safety
/// `g.dy` holds `filters·dstride` floats, every offset is at most `pad`,
/// `pad + p0 + tiles·V·LANES ≤ dstride`, every tile starts below `pix`, `g.w` holds
/// `(filters − 1)·k + C·khw`, and `dx` reaches `(C − 1)·plane + pix` (see [`DGrad::run`]).
#[inline(always)]
unsafe fn dgrad_kernel<S: Simd, const C: usize, const V: usize>(
    s: S,
    g: DGrad<'_>,
    dx: *mut f32,
    plane: usize,
) {
    for j in 0..g.ops.tiles {
        let tile = DGrad {
            p0: g.p0 + j * V * S::LANES,
            ..g
        };
        // SAFETY: the tile lies inside the run (this function's contract).
        unsafe { dgrad_tile::<S, C, V>(s, tile, dx, plane) }
    }
}

/// Per filter and tap, `V` loads of `dy` and `C` weight broadcasts feed `C·V` FMAs; taps that
/// cannot reach the tile are skipped.
///
/// # Safety
/// As [`dgrad_kernel`], for the one tile at `p0`: `p0 < pix` and `pad + p0 + V·LANES ≤ dstride`.
#[inline(always)]
unsafe fn dgrad_tile<S: Simd, const C: usize, const V: usize>(
    s: S,
    g: DGrad<'_>,
    dx: *mut f32,
    plane: usize,
) {
    let l = S::LANES;
    let (o, p0) = (g.ops, g.p0);
    let khw = o.offs.len();
    let mut acc = [[s.zero(); V]; C];
    let (dp, wp) = (o.dy.as_ptr(), o.w.as_ptr());
    for f in 0..o.filters {
        // Position p of the tile reads dy at pad + p − off ≥ 0, below pad + p0 + V·LANES ≤ dstride.
        let base = dp.wrapping_add(f * o.dstride + o.pad + p0);
        for (t, &off) in o.offs.iter().enumerate() {
            // Tap `off` reaches positions off..off + qend only; outside, dy reads are margin.
            if p0 + V * l <= off || p0 >= off + g.qend {
                continue;
            }
            let mut d = [s.zero(); V];
            for (v, dv) in d.iter_mut().enumerate() {
                // SAFETY: f·dstride + pad + p0 + LANES·v − off + LANES ≤ (f + 1)·dstride ≤
                // o.dy.len(), and the start is ≥ f·dstride because off ≤ pad.
                *dv = unsafe { s.load(base.wrapping_add(v * l).wrapping_sub(off)) };
            }
            for (c, accc) in acc.iter_mut().enumerate() {
                // SAFETY: f·k + c·khw + t < (filters − 1)·k + C·khw ≤ o.w.len().
                let wv = s.splat(unsafe { *wp.add(f * o.k + c * khw + t) });
                for (a, &dv) in accc.iter_mut().zip(&d) {
                    *a = s.mul_add(wv, dv, *a);
                }
            }
        }
    }
    for (c, accc) in acc.iter().enumerate() {
        for (v, &a) in accc.iter().enumerate() {
            let p = p0 + v * l;
            let dst = dx.wrapping_add(c * plane + p);
            // SAFETY: lanes below `pix` write dx[c·plane + p + lane] < (C − 1)·plane + pix,
            // inside `dx`; a vector reaching past `pix` is masked there.
            unsafe {
                if p + l <= o.pix {
                    s.store(dst, a);
                } else {
                    s.store_masked(dst, a, s.mask(o.pix.saturating_sub(p)));
                }
            }
        }
    }
}

/// A run of input-gradient tiles in the scatter form, for output rows of whole vectors
/// ([`Grid`] with `step = w`): channels `0..c` × grid vectors `j0..j0 + tiles·v`, vector `j` at
/// wide position `q_j = (j / chunks)·step + (j % chunks)·LANES`. Per tap `off`, the tile sums
/// `Σ_f W[f][c, t]·dy_f[q]` over the filters in registers and adds it to `dx_c[q + off]`.
///
/// Why: the full correlation ([`DGrad`]) computes every input position from every reaching tap,
/// margins included — 1.6× the useful multiply-adds on LeNet's 8 × 8 second layer on AVX2 —
/// where this form computes only real outputs, for one read-modify-write of `dx` per tap and
/// `filters` FMAs. `dx` must be zero on entry.
#[derive(Clone, Copy)]
struct DGradRows<'a> {
    ops: DGradOps<'a>,
    j0: usize,
    step: usize,
    chunks: usize,
}

impl DGradRows<'_> {
    /// Add into `dx[c·plane + p]` for the tile's channels.
    fn run(self, tok: Token, sh: Shapes, dx: &mut [f32], plane: usize) {
        let (o, l) = (&self.ops, sh.lanes);
        o.check(sh, dx, plane);
        assert!(self.chunks >= 1);
        let last = self.j0 + o.tiles * o.v - 1;
        let qmax = last / self.chunks * self.step + last % self.chunks * l;
        let omax = o.offs.iter().copied().max().unwrap_or(0);
        assert!(qmax + omax + l <= o.pix && o.pad + qmax + l <= o.dstride);
        let xp = dx.as_mut_ptr();
        // SAFETY: `tok` proves the CPU runs the family; extents asserted above.
        unsafe { run_dgrad_rows(tok, self, xp, plane) }
    }
}

multiversion! {
    /// # Safety
    /// As [`dgrad_rows_kernel`].
    unsafe fn run_dgrad_rows(g: DGradRows<'_>, dx: *mut f32, plane: usize) => dgrad_rows_kernel;
    shape g.ops.c, g.ops.v;
    avx512 [1, 2, 3, 4, 5, 6] x [1, 2, 3, 4];
    avx2 [1, 2, 3, 4, 5, 6] x [1, 2];
    portable [1, 2, 3, 4] x [1, 2];
}

/// The tiles of a scatter-form run, one after the other.
///
/// # Safety
/// With `q` the largest grid position of the run: `q + max(offs) + LANES ≤ pix`,
/// `pad + q + LANES ≤ dstride`, `g.dy` holds `filters·dstride` floats, `g.w` holds
/// `(filters − 1)·k + C·khw`, and `dx` reaches `(C − 1)·plane + pix` (see [`DGradRows::run`]).
#[inline(always)]
unsafe fn dgrad_rows_kernel<S: Simd, const C: usize, const V: usize>(
    s: S,
    g: DGradRows<'_>,
    dx: *mut f32,
    plane: usize,
) {
    let l = S::LANES;
    let o = g.ops;
    let khw = o.offs.len();
    let (dp, wp) = (o.dy.as_ptr(), o.w.as_ptr());
    for j in 0..o.tiles {
        let qs: [usize; V] = std::array::from_fn(|v| {
            let jj = g.j0 + j * V + v;
            jj / g.chunks * g.step + jj % g.chunks * l
        });
        for (t, &off) in o.offs.iter().enumerate() {
            let mut acc = [[s.zero(); V]; C];
            for f in 0..o.filters {
                let base = dp.wrapping_add(f * o.dstride + o.pad);
                let mut d = [s.zero(); V];
                for (dv, &q) in d.iter_mut().zip(&qs) {
                    // SAFETY: f·dstride + pad + q + LANES ≤ (f + 1)·dstride ≤ o.dy.len().
                    *dv = unsafe { s.load(base.wrapping_add(q)) };
                }
                for (c, accc) in acc.iter_mut().enumerate() {
                    // SAFETY: f·k + c·khw + t < (filters − 1)·k + C·khw ≤ o.w.len().
                    let wv = s.splat(unsafe { *wp.add(f * o.k + c * khw + t) });
                    for (a, &dv) in accc.iter_mut().zip(&d) {
                        *a = s.mul_add(wv, dv, *a);
                    }
                }
            }
            for (c, accc) in acc.iter().enumerate() {
                for (&a, &q) in accc.iter().zip(&qs) {
                    let p = dx.wrapping_add(c * plane + q + off);
                    // SAFETY: c·plane + q + off + LANES ≤ (C − 1)·plane + pix, inside `dx`:
                    // every lane is a real input position (the row of whole vectors ends at
                    // ow − 1, and ow − 1 + kw − 1 < w).
                    unsafe { s.store(p, s.add(s.load(p), a)) };
                }
            }
        }
    }
}
