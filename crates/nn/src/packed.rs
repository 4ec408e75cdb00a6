//! Our own single-threaded SGEMM, `C ← A·B (+ C)`, whose packing buffer lives in a caller-owned
//! [`Workspace`].
//!
//! Why not only the `gemm` crate: it (and `matrixmultiply`) allocates its packing buffers inside
//! every product and takes no workspace, so a worker's gradient call allocated ~1.5 times per
//! product. Here the only buffer is in the [`Workspace`] a worker keeps in its
//! [`crate::Scratch`]: no allocation once it has grown.
//!
//! Structure (BLIS, Van Zee & van de Geijn 2015, simplified for the network's shapes):
//! - B is cut into blocks of `KC × NC` and packed as slivers `NR` columns wide, unless the AVX-512
//!   kernel can read it in place (row-major B and few rows of A to reuse a packed sliver: a
//!   convolution has 6–16 filters).
//! - A is never packed: the micro-kernel reads single elements of A (broadcasts), so any strides
//!   work and a copy would only add traffic.
//! - A register-blocked micro-kernel multiplies `MR` rows of A by one B sliver into an
//!   `MR × NR` tile of C; edge tiles run a kernel instantiated (const generics) for exactly their
//!   row count and vector count, so a 6-filter convolution spends no FMA on padding rows.
//! - A long inner dimension with A's rows and B's columns both contiguous along it (a
//!   convolution's weight gradient `dY·colᵀ`) runs as blocked dot products vectorised along k
//!   (`dot_products`), which needs no packing or transposition at all.
//!
//! Kernel families, chosen per call by run-time CPU detection ([`Isa::detect`]):
//! - AVX-512F: `6 × 64` tiles (24 zmm accumulators, 4 loads and 6 broadcasts per 24 FMAs) and the
//!   `6 × 4` dot-product tiles;
//! - AVX2 + FMA: `6 × 16` tiles, the portable source compiled for AVX2;
//! - portable: the same source for the baseline target (SSE2 on x86-64, or any other CPU).

use crate::matmul::View;

/// Depth of a packed block of B.
const KC: usize = 256;
/// Rows of A per block; B is read in place when the whole product has at most this many rows.
const MC: usize = 96;
/// Columns of B packed per block (a multiple of every kernel's `NR`).
const NC: usize = 1024;
/// Rows of a micro-tile (every kernel).
const MR: usize = 6;
/// f32 lanes per vector in the packed layout (one zmm; two ymm; four xmm).
const LANES: usize = 16;
/// The widest B sliver of any kernel.
const MAX_NR: usize = 4 * LANES;

/// The packing buffer for [`gemm`](fn@gemm). It grows to the largest block used (at most `KC·NC` floats,
/// 1 MiB) and is then reused: no allocation in steady state.
#[derive(Debug, Default, Clone)]
pub struct Workspace {
    b: Vec<f32>,
}

impl Workspace {
    pub fn new() -> Self {
        Self::default()
    }

    /// Floats currently held.
    pub fn capacity(&self) -> usize {
        self.b.len()
    }
}

/// Which micro-kernel family runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Isa {
    /// AVX-512F, `6 × 64` tiles and dot-product tiles.
    Avx512,
    /// AVX2 + FMA, `6 × 16` tiles.
    Avx2,
    /// Baseline target, `6 × 16` tiles.
    Portable,
}

impl Isa {
    /// All families, fastest first.
    pub const ALL: [Isa; 3] = [Isa::Avx512, Isa::Avx2, Isa::Portable];

    /// The best family this CPU runs (`is_x86_feature_detected!` caches its answer).
    pub fn detect() -> Isa {
        Isa::ALL
            .into_iter()
            .find(|i| i.available())
            .unwrap_or(Isa::Portable)
    }

    /// Whether this CPU can run the family (a caller may force a slower one for comparison).
    pub fn available(self) -> bool {
        match self {
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => std::arch::is_x86_feature_detected!("avx512f"),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => {
                std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("fma")
            }
            #[cfg(not(target_arch = "x86_64"))]
            Isa::Avx512 | Isa::Avx2 => false,
            Isa::Portable => true,
        }
    }

    /// Columns of a micro-tile.
    fn nr(self) -> usize {
        match self {
            Isa::Avx512 => 4 * LANES,
            Isa::Avx2 | Isa::Portable => LANES,
        }
    }
}

/// Pack rows `p0..p0 + kc` × columns `j0..j0 + cols` of B as a sliver `width ≥ cols` wide:
/// `dst[kk·width + j]`. Lanes `cols..width` are left as they are: every output lane depends only
/// on its own B lane, and those lanes are never stored.
#[allow(clippy::too_many_arguments)]
fn pack_b(
    b: &[f32],
    v: View,
    p0: usize,
    kc: usize,
    j0: usize,
    cols: usize,
    width: usize,
    dst: &mut [f32],
) {
    if v.cs == 1 {
        for (kk, d) in dst.chunks_exact_mut(width).take(kc).enumerate() {
            // An inline loop (vectorised), not `copy_from_slice`: a memcpy call per 16–64 floats
            // measured 9 % of a LeNet step.
            let s = &b[(p0 + kk) * v.rs + j0..][..cols];
            for (dv, &sv) in d[..cols].iter_mut().zip(s) {
                *dv = sv;
            }
        }
    } else if v.rs == 1 {
        // Column-major B (a transposed view): read columns, write with stride `width`.
        for j in 0..cols {
            let s = &b[(j0 + j) * v.cs + p0..][..kc];
            for (kk, &sv) in s.iter().enumerate() {
                dst[kk * width + j] = sv;
            }
        }
    } else {
        for (kk, d) in dst.chunks_exact_mut(width).take(kc).enumerate() {
            let base = (p0 + kk) * v.rs + j0 * v.cs;
            for (j, dv) in d[..cols].iter_mut().enumerate() {
                *dv = b[base + j * v.cs];
            }
        }
    }
}

/// `C ← A·B`, or `C ← C + A·B` when `accumulate`, on this thread, with the best kernel family.
///
/// # Panics
/// If the shapes disagree, a view reaches past its slice, or `C`'s view maps two elements to one
/// place (programming errors, checked once per call).
#[allow(clippy::too_many_arguments)]
pub fn gemm(
    ws: &mut Workspace,
    c: &mut [f32],
    cv: View,
    a: &[f32],
    av: View,
    b: &[f32],
    bv: View,
    accumulate: bool,
) {
    gemm_with(Isa::detect(), ws, c, cv, a, av, b, bv, accumulate)
}

/// [`gemm`](fn@gemm) with a given kernel family.
///
/// # Panics
/// As [`gemm`](fn@gemm), and if `isa` is not [available](Isa::available) on this CPU.
#[allow(clippy::too_many_arguments)]
pub fn gemm_with(
    isa: Isa,
    ws: &mut Workspace,
    c: &mut [f32],
    cv: View,
    a: &[f32],
    av: View,
    b: &[f32],
    bv: View,
    accumulate: bool,
) {
    if crate::matmul::prepare("gemm", c, cv, a, av, b, bv, accumulate) {
        compute(isa, ws, c, cv, a, av, b, bv, accumulate);
    }
}

/// The product itself, for views [`crate::matmul::prepare`] accepted with a product left
/// (non-empty C, k ≥ 1).
///
/// # Panics
/// If `isa` is not [available](Isa::available) on this CPU (the kernels' safety rests on this).
#[allow(clippy::too_many_arguments)]
pub(crate) fn compute(
    isa: Isa,
    ws: &mut Workspace,
    c: &mut [f32],
    cv: View,
    a: &[f32],
    av: View,
    b: &[f32],
    bv: View,
    accumulate: bool,
) {
    assert!(
        isa.available(),
        "gemm: {isa:?} kernels need a CPU that has them"
    );
    let (m, n, k) = (cv.rows, cv.cols, av.cols);
    #[cfg(target_arch = "x86_64")]
    if isa == Isa::Avx512 && av.cs == 1 && bv.rs == 1 && k >= 512 && 4 * m.max(n) <= k {
        dot_products(c, cv, a, av.rs, b, bv.cs, k, accumulate);
        return;
    }
    // A row-major B is read in place by the AVX-512 kernel (its rows are already contiguous along
    // the vector lanes; the last partial vector is loaded masked). Packing pays only when a
    // sliver is reused by many row tiles of A.
    let b_in_place = isa == Isa::Avx512 && bv.cs == 1 && m <= MC;
    let nr = isa.nr();
    for jc in (0..n).step_by(NC) {
        let nc = NC.min(n - jc);
        let slivers = nc.div_ceil(nr);
        for pc in (0..k).step_by(KC) {
            let kc = KC.min(k - pc);
            // Later depth blocks add to what the first one wrote.
            let add = accumulate || pc > 0;
            if !b_in_place {
                if ws.b.len() < slivers * kc * nr {
                    ws.b.resize(slivers * kc * nr, 0.0);
                }
                for (s, dst) in ws.b.chunks_exact_mut(kc * nr).take(slivers).enumerate() {
                    let j0 = jc + s * nr;
                    let cols = nr.min(jc + nc - j0);
                    let width = cols.div_ceil(LANES) * LANES;
                    pack_b(b, bv, pc, kc, j0, cols, width, &mut dst[..kc * width]);
                }
            }
            for ic in (0..m).step_by(MC) {
                let mc = MC.min(m - ic);
                for s in 0..slivers {
                    let j0 = jc + s * nr;
                    let cols = nr.min(jc + nc - j0);
                    let vecs = cols.div_ceil(LANES);
                    let (bs, brs) = if b_in_place {
                        (&b[pc * bv.rs + j0..], bv.rs)
                    } else {
                        (&ws.b[s * kc * nr..][..kc * vecs * LANES], vecs * LANES)
                    };
                    for i0 in (ic..ic + mc).step_by(MR) {
                        let tile = Tile {
                            kc,
                            rows: MR.min(ic + mc - i0),
                            vecs,
                            cols,
                            a: &a[i0 * av.rs + pc * av.cs..],
                            ars: av.rs,
                            acs: av.cs,
                            b: bs,
                            brs,
                            add,
                        };
                        let off = i0 * cv.rs + j0 * cv.cs;
                        if cv.cs == 1 {
                            tile.run(isa, &mut c[off..], cv.rs);
                        } else {
                            // A strided C: compute into a dense tile, then scatter.
                            let mut tmp = [0.0f32; MR * MAX_NR];
                            Tile { add: false, ..tile }.run(isa, &mut tmp, MAX_NR);
                            for r in 0..tile.rows {
                                for j in 0..cols {
                                    let dst = &mut c[off + r * cv.rs + j * cv.cs];
                                    let v = tmp[r * MAX_NR + j];
                                    *dst = if add { *dst + v } else { v };
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// One micro-tile: `rows × cols` of C from `rows × kc` of A (element (r, kk) at
/// `a[r·ars + kk·acs]`) and `kc × cols` of B (element (kk, j) at `b[kk·brs + j]`; packed
/// slivers have `brs = vecs·16`).
#[derive(Clone, Copy)]
struct Tile<'a> {
    kc: usize,
    rows: usize,
    vecs: usize,
    cols: usize,
    a: &'a [f32],
    ars: usize,
    acs: usize,
    b: &'a [f32],
    brs: usize,
    add: bool,
}

impl Tile<'_> {
    /// Multiply into `c` (row stride `rs`, unit column stride).
    fn run(self, isa: Isa, c: &mut [f32], rs: usize) {
        // These bounds are what the kernels' unchecked accesses rely on.
        assert!(self.rows >= 1 && self.rows <= MR);
        assert!(self.cols >= 1 && self.cols <= self.vecs * LANES && self.vecs <= isa.nr() / LANES);
        assert!(self.a.len() > (self.rows - 1) * self.ars + (self.kc - 1) * self.acs);
        assert!(self.b.len() >= (self.kc - 1) * self.brs + self.cols);
        // The portable kernels read whole vectors of B (only packed slivers are padded).
        assert!(isa == Isa::Avx512 || self.b.len() >= (self.kc - 1) * self.brs + self.vecs * LANES);
        assert!(c.len() >= (self.rows - 1) * rs + self.cols);
        match isa {
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => {
                dispatch2!(avx512_tile(self, c, rs); self.rows, [1, 2, 3, 4, 5, 6]; self.vecs, [1, 2, 3, 4])
            }
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => {
                dispatch2!(avx2_tile(self, c, rs); self.rows, [1, 2, 3, 4, 5, 6]; self.vecs, [1])
            }
            _ => {
                dispatch2!(portable_tile(self, c, rs); self.rows, [1, 2, 3, 4, 5, 6]; self.vecs, [1])
            }
        }
    }
}

/// The portable kernel: `R × 16·V` accumulators in arrays, which LLVM keeps in vector registers
/// (with `FMA`, as fused multiply-adds; without, `mul_add` would be a libm call).
#[inline(always)]
fn tile_generic<const R: usize, const V: usize, const FMA: bool>(
    t: Tile<'_>,
    c: &mut [f32],
    rs: usize,
) {
    let mut acc = [[[0.0f32; LANES]; V]; R];
    for kk in 0..t.kc {
        let bk = &t.b[kk * t.brs..kk * t.brs + V * LANES];
        for (r, accr) in acc.iter_mut().enumerate() {
            let x = t.a[r * t.ars + kk * t.acs];
            for (accv, bv) in accr.iter_mut().zip(bk.chunks_exact(LANES)) {
                for (s, &y) in accv.iter_mut().zip(bv) {
                    *s = if FMA { x.mul_add(y, *s) } else { x * y + *s };
                }
            }
        }
    }
    for (r, accr) in acc.iter().enumerate() {
        let row = &mut c[r * rs..r * rs + t.cols];
        for (j, dst) in row.iter_mut().enumerate() {
            let v = accr[j / LANES][j % LANES];
            *dst = if t.add { *dst + v } else { v };
        }
    }
}

fn portable_tile<const R: usize, const V: usize>(t: Tile<'_>, c: &mut [f32], rs: usize) {
    tile_generic::<R, V, false>(t, c, rs)
}

#[cfg(target_arch = "x86_64")]
fn avx2_tile<const R: usize, const V: usize>(t: Tile<'_>, c: &mut [f32], rs: usize) {
    #[target_feature(enable = "avx2,fma")]
    fn inner<const R: usize, const V: usize>(t: Tile<'_>, c: &mut [f32], rs: usize) {
        tile_generic::<R, V, true>(t, c, rs)
    }
    // SAFETY: `Tile::run` dispatches here only for `Isa::Avx2`, and `compute` asserted that this
    // CPU has AVX2 and FMA. `inner` is safe code otherwise (bounds-checked slices).
    unsafe { inner::<R, V>(t, c, rs) }
}

#[cfg(target_arch = "x86_64")]
fn avx512_tile<const R: usize, const V: usize>(t: Tile<'_>, c: &mut [f32], rs: usize) {
    // SAFETY: `Tile::run` dispatches here only for `Isa::Avx512`, which `compute` asserted this
    // CPU has; the slice bounds the kernel relies on were asserted in `Tile::run`.
    unsafe { avx512_kernel::<R, V>(t, c, rs) }
}

/// The AVX-512 micro-kernel.
///
/// # Safety
/// The CPU must have AVX-512F. `t.a` reaches `(R − 1)·ars + (kc − 1)·acs`, `t.b` holds
/// `(kc − 1)·brs + cols`, `c` holds
/// `(R − 1)·rs + t.cols` floats, and `t.cols ≤ 16·V` (asserted by [`Tile::run`]).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn avx512_kernel<const R: usize, const V: usize>(t: Tile<'_>, c: &mut [f32], rs: usize) {
    use std::arch::x86_64::*;
    let mut acc = [[_mm512_setzero_ps(); V]; R];
    let (mut ap, mut bp) = (t.a.as_ptr(), t.b.as_ptr());
    let rows: [usize; R] = std::array::from_fn(|r| r * t.ars);
    let left = t.cols - (V - 1) * LANES;
    let last: __mmask16 = if left >= LANES {
        0xffff
    } else {
        ((1u32 << left) - 1) as u16
    };
    for _ in 0..t.kc {
        let mut bv = [_mm512_setzero_ps(); V];
        for (v, bvv) in bv.iter_mut().enumerate() {
            // SAFETY: at step kk, `bp` is `t.b` + kk·brs; columns below `cols` of that row are
            // within `t.b` (asserted by `Tile::run`); the last vector's lanes from `cols` on are
            // masked off and not accessed.
            *bvv = unsafe {
                if v + 1 < V {
                    _mm512_loadu_ps(bp.add(v * LANES))
                } else {
                    _mm512_maskz_loadu_ps(last, bp.add(v * LANES))
                }
            };
        }
        for (accr, &ro) in acc.iter_mut().zip(&rows) {
            // SAFETY: at step kk, `ap` is `t.a` + kk·acs, and element (r, kk) at r·ars + kk·acs
            // lies within `t.a` (asserted by `Tile::run`).
            let x = _mm512_set1_ps(unsafe { *ap.add(ro) });
            for (a, &b) in accr.iter_mut().zip(&bv) {
                *a = _mm512_fmadd_ps(x, b, *a);
            }
        }
        // Wrapping: after the last step the pointers may point past the slices (never read).
        ap = ap.wrapping_add(t.acs);
        bp = bp.wrapping_add(t.brs);
    }
    let cp = c.as_mut_ptr();
    for (r, accr) in acc.iter().enumerate() {
        for (v, &val) in accr.iter().enumerate() {
            let lo = v * LANES;
            if lo >= t.cols {
                break;
            }
            let left = t.cols - lo;
            let mask: __mmask16 = if left >= LANES {
                0xffff
            } else {
                ((1u32 << left) - 1) as u16
            };
            // SAFETY: lanes enabled by `mask` are columns lo..min(lo + 16, cols) of row r, at
            // offsets below (R − 1)·rs + cols ≤ c.len(); masked-off lanes are not accessed.
            unsafe {
                let dst = cp.add(r * rs + lo);
                let out = if t.add {
                    _mm512_add_ps(val, _mm512_maskz_loadu_ps(mask, dst))
                } else {
                    val
                };
                _mm512_mask_storeu_ps(dst, mask, out);
            }
        }
    }
}

/// Rows of A per dot-product tile.
const DR: usize = 6;
/// Columns of B per dot-product tile.
const DC: usize = 4;
/// Depth of a dot-product block.
const KB: usize = 1024;

/// `C (+)= A·B` for a long inner dimension when A's rows and B's columns are both contiguous
/// along k (a convolution's weight gradient `dY·colᵀ`): each entry is a dot product, vectorised
/// along k and reduced once at the end, so neither operand is packed or transposed.
/// `a[i·ars + kk]`, `b[j·bcs + kk]`; the views were checked by [`gemm_with`].
#[cfg(target_arch = "x86_64")]
#[allow(clippy::too_many_arguments)]
fn dot_products(
    c: &mut [f32],
    cv: View,
    a: &[f32],
    ars: usize,
    b: &[f32],
    bcs: usize,
    k: usize,
    add: bool,
) {
    let (m, n) = (cv.rows, cv.cols);
    // Depth blocks of KB: a block of DR rows of A (24 KiB) stays in L1 while the tiles along
    // B's columns stream past it.
    for k0 in (0..k).step_by(KB) {
        let kb = KB.min(k - k0);
        let add = add || k0 > 0;
        for i0 in (0..m).step_by(DR) {
            for j0 in (0..n).step_by(DC) {
                let t = DotTile {
                    k: kb,
                    rows: DR.min(m - i0),
                    cols: DC.min(n - j0),
                    a: &a[i0 * ars + k0..],
                    ars,
                    b: &b[j0 * bcs + k0..],
                    bcs,
                };
                let mut out = [[0.0f32; DC]; DR];
                t.run(&mut out);
                for (r, row) in out.iter().enumerate().take(t.rows) {
                    for (j, &v) in row.iter().enumerate().take(t.cols) {
                        let dst = &mut c[(i0 + r) * cv.rs + (j0 + j) * cv.cs];
                        *dst = if add { *dst + v } else { v };
                    }
                }
            }
        }
    }
}

/// `rows × cols` dot products of length `k`: A row r at `a[r·ars..][..k]`, B column j at
/// `b[j·bcs..][..k]`.
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy)]
struct DotTile<'a> {
    k: usize,
    rows: usize,
    cols: usize,
    a: &'a [f32],
    ars: usize,
    b: &'a [f32],
    bcs: usize,
}

#[cfg(target_arch = "x86_64")]
impl DotTile<'_> {
    fn run(self, out: &mut [[f32; DC]; DR]) {
        // What `avx512_dot` relies on; the caller checked that the CPU has AVX-512F.
        assert!(self.rows >= 1 && self.rows <= DR && self.cols >= 1 && self.cols <= DC);
        assert!(self.k >= 1);
        assert!(self.a.len() >= (self.rows - 1) * self.ars + self.k);
        assert!(self.b.len() >= (self.cols - 1) * self.bcs + self.k);
        assert!(std::arch::is_x86_feature_detected!("avx512f"));
        dispatch2!(dot_tile(self, out); self.rows, [1, 2, 3, 4, 5, 6]; self.cols, [1, 2, 3, 4]);
    }
}

#[cfg(target_arch = "x86_64")]
fn dot_tile<const R: usize, const C: usize>(t: DotTile<'_>, out: &mut [[f32; DC]; DR]) {
    // SAFETY: `DotTile::run` detected AVX-512F and asserted the slice extents the kernel reads.
    unsafe { avx512_dot::<R, C>(t, out) }
}

/// The dot-product kernel: `R × C` accumulators of 16 partial sums each.
///
/// # Safety
/// The CPU must have AVX-512F; `t.a` holds `(R − 1)·ars + k` floats and `t.b` holds
/// `(C − 1)·bcs + k` (asserted by [`DotTile::run`]).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn avx512_dot<const R: usize, const C: usize>(t: DotTile<'_>, out: &mut [[f32; DC]; DR]) {
    use std::arch::x86_64::*;
    let mut acc = [[_mm512_setzero_ps(); C]; R];
    let (ap, bp) = (t.a.as_ptr(), t.b.as_ptr());
    let full = t.k / LANES * LANES;
    let mut kk = 0;
    while kk < t.k {
        // Whole vectors, then one masked tail.
        let mask: __mmask16 = if kk < full {
            0xffff
        } else {
            ((1u32 << (t.k - kk)) - 1) as u16
        };
        let mut bv = [_mm512_setzero_ps(); C];
        for (j, v) in bv.iter_mut().enumerate() {
            // SAFETY: lanes kk..min(kk + 16, k) of column j, within `t.b`; masked-off lanes are
            // not accessed.
            *v = unsafe {
                if kk < full {
                    _mm512_loadu_ps(bp.add(j * t.bcs + kk))
                } else {
                    _mm512_maskz_loadu_ps(mask, bp.add(j * t.bcs + kk))
                }
            };
        }
        for (r, accr) in acc.iter_mut().enumerate() {
            // SAFETY: lanes kk..min(kk + 16, k) of row r, within `t.a`.
            let x = unsafe {
                if kk < full {
                    _mm512_loadu_ps(ap.add(r * t.ars + kk))
                } else {
                    _mm512_maskz_loadu_ps(mask, ap.add(r * t.ars + kk))
                }
            };
            for (s, &y) in accr.iter_mut().zip(&bv) {
                *s = _mm512_fmadd_ps(x, y, *s);
            }
        }
        kk += LANES;
    }
    for (o, accr) in out.iter_mut().zip(&acc) {
        for (ov, &s) in o.iter_mut().zip(accr) {
            *ov = _mm512_reduce_add_ps(s);
        }
    }
}
