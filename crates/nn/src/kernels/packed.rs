//! Our own single-threaded SGEMM, `C ← A·B (+ C)`, whose packing buffer lives in a caller-owned
//! [`Workspace`].
//!
//! Why not only the `gemm` crate: it (and `matrixmultiply`) allocates its packing buffers inside
//! every product and takes no workspace, so a worker's gradient call allocated ~1.5 times per
//! product. Here the only buffer is in the [`Workspace`] a worker keeps in its
//! [`crate::Scratch`]: no allocation once it has grown.
//!
//! Structure (BLIS, Van Zee & van de Geijn 2015, simplified for the network's shapes):
//! - B is cut into blocks of `KC × NC` and packed as slivers `NR` columns wide, unless it can be
//!   read in place (row-major B and few rows of A to reuse a packed sliver: a convolution has
//!   6–16 filters); an in-place tail vector is a masked load.
//! - A is not packed: the micro-kernel broadcasts single elements of A in place, so any strides
//!   work (measured: packing the MLP's column-major Xᵀ into panels was 9 % slower on AVX-512).
//!   The exception is the portable path on x86-64 with an A that is not row-major
//!   ([`packs_a`]).
//! - A register-blocked micro-kernel multiplies `MR` rows of A by one B sliver into an
//!   `MR × NR` tile of C; edge tiles run a kernel instantiated (const generics) for exactly their
//!   row count and vector count, so a 6-filter convolution spends no FMA on padding rows.
//! - A long inner dimension with A's rows and B's columns both contiguous along it (a
//!   convolution's weight gradient `dY·colᵀ`) runs as blocked dot products vectorised along k
//!   (`dot_products`), which needs no packing or transposition at all.
//!
//! One generic source per kernel ([`crate::kernels::simd::Simd`]), instantiated per instruction
//! set ([`Isa`]): `6 × 64` tiles on AVX-512F (24 zmm accumulators), `6 × 16` on AVX2 + FMA (12
//! ymm), `2 × 16` portable (8 four-lane vectors: SSE2 or NEON registers).

use crate::kernels::isa::{Isa, Token};
use crate::kernels::matmul::View;
use crate::kernels::simd::Simd;
use crate::AlignedVec;

/// Rows of A per block; B is read in place when the whole product has at most this many rows.
const MC: usize = 96;
/// Columns of B packed per block (a multiple of every kernel's `NR`).
const NC: usize = 1024;
/// The most rows of any family's micro-tile.
const MAX_MR: usize = 6;
/// The widest B sliver of any kernel (AVX-512: 4 vectors of 16).
const MAX_NR: usize = 64;

/// The packing buffer for [`gemm`](fn@gemm). It grows to the largest block used (at most
/// `KC·NC` floats: 4 MiB on AVX-512, 1 MiB otherwise) and is then reused: no allocation in
/// steady state.
#[derive(Debug, Default, Clone)]
pub struct Workspace {
    /// On a cache line (`AlignedVec`): a sliver that straddled lines made every vector load of B
    /// a split load (two lines) — measured on the MLP step at b = 512 (AVX-512), 16 bytes off a
    /// line was 8 % slower than aligned, and which one a `Scratch` got was up to the allocator.
    b: AlignedVec,
    /// Panels of A with every element repeated across a vector ([`packs_a`]).
    a: AlignedVec,
}

impl Workspace {
    pub fn new() -> Self {
        Self::default()
    }

    /// Floats currently held.
    pub fn capacity(&self) -> usize {
        self.b.len() + self.a.len()
    }
}

/// f32 lanes per vector of a family.
fn lanes(isa: Isa) -> usize {
    match isa {
        Isa::Avx512 => 16,
        Isa::Avx2 => 8,
        Isa::Portable => 4,
    }
}

/// Rows of a family's micro-tile (`MR`). The portable tile is 2 × 4 vectors: SSE2's two-operand
/// multiply and add need a spare register per FMA, and 16 registers hold only 8 accumulators
/// with room for that (6 × 2 spilled to the stack; 3 × 3 spilled and measured 1.3× slower);
/// of the 8-accumulator shapes, 2 × 4 needs 2 broadcasts per step where 4 × 2 needs 4, each a
/// load plus a shuffle on SSE2 (in-process A/B on the MLP step, AMD EPYC Zen 4: 4 % faster).
fn tile_rows(isa: Isa) -> usize {
    match isa {
        Isa::Avx512 | Isa::Avx2 => 6,
        Isa::Portable => 2,
    }
}

/// Vectors per micro-tile row (the tile is `MR × vecs·lanes`).
fn tile_vecs(isa: Isa) -> usize {
    match isa {
        Isa::Avx512 | Isa::Portable => 4,
        Isa::Avx2 => 2,
    }
}

/// Most depth of a packed block of B. AVX-512: 1024, i.e. the whole depth of the MLP's products
/// in one block, so C is stored once per tile rather than once per block: in-process A/B on the
/// MLP step (machine A) 1.025× `gemm` against 1.04× with 128. 128 (a sliver that stays in L1)
/// had measured 9–16 % faster before the packing buffer and C were cache-line aligned and C's
/// lines prefetched; the B sliver now streams from L2 behind the prefetchers. AVX2 and portable:
/// 256 (1024 measured 1 % faster on machine A, but not on the AVX2-only machine class that path
/// is for).
fn kc_block(isa: Isa) -> usize {
    match isa {
        Isa::Avx512 => 1024,
        Isa::Avx2 | Isa::Portable => 256,
    }
}

/// Whether the kernels read A from panels packed by [`pack_a_splat`] rather than in place: only
/// the portable path on x86-64, and only for an A that is not row-major (the MLP's `Xᵀ` in the
/// weight gradient). In place, each broadcast of such an A is a scalar load from a new cache
/// line (its rows along k are a whole row of X apart) plus a shuffle (SSE2 has no
/// load-and-broadcast), repeated for every sliver of B; packed, both happen once per row tile.
/// Measured (matmul bench, AMD EPYC Zen 4): `dW_784x128_k512` 30.7 → 38.4 GFLOP/s, MLP step
/// 9.1 → 8.6 ms. A row-major A gained nothing (forward 36.9 vs 35.8 GFLOP/s: the panel is 4× the
/// bytes, and with the row tile outermost B streams from L2). AVX2 and AVX-512 broadcast from
/// memory in one load, and NEON has a load-and-replicate (`ld1r`).
fn packs_a(isa: Isa, av: View) -> bool {
    // (`pack_a_splat` writes 4 lanes: the portable family's.)
    cfg!(target_arch = "x86_64") && isa == Isa::Portable && av.cs != 1
}

/// Pack rows `i0..i0 + rows` × depth `p0..p0 + kc` of A as whole vectors of 4 copies of each
/// element (the portable family's lanes), in the order the depth loop reads them:
/// `dst[(kk·rows + r)·4 + lane]`.
fn pack_a_splat(a: &[f32], v: View, i0: usize, rows: usize, p0: usize, kc: usize, dst: &mut [f32]) {
    for (kk, d) in dst.chunks_exact_mut(rows * 4).take(kc).enumerate() {
        for (r, dv) in d.chunks_exact_mut(4).enumerate() {
            // A fixed-size store (one vector), not `fill` over a run-time length: that was a
            // scalar loop and took a quarter of the MLP step.
            let x = a[(i0 + r) * v.rs + (p0 + kk) * v.cs];
            dv.copy_from_slice(&[x; 4]);
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
    if crate::kernels::matmul::prepare("gemm", c, cv, a, av, b, bv, accumulate) {
        compute(isa, ws, c, cv, a, av, b, bv, accumulate, None);
    }
}

/// The product itself, for views [`crate::kernels::matmul::prepare`] accepted with a product
/// left (non-empty C, k ≥ 1). With a `bias` (one entry per column of C; only without
/// `accumulate`), `C ← A·B + bias` per row: the first depth block adds it as it stores, so a
/// dense layer needs no separate pass that fills C with the bias and no load of C in that block.
///
/// # Panics
/// If `isa` is not [available](Isa::available) on this CPU (the kernels' safety rests on this),
/// or a bias is given with `accumulate` or with fewer entries than C has columns.
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
    bias: Option<&[f32]>,
) {
    assert!(
        bias.is_none_or(|bs| !accumulate && bs.len() >= cv.cols),
        "gemm: a bias needs one entry per column of C and no accumulation"
    );
    let tok = isa.expect_token("gemm");
    let (m, n, k) = (cv.rows, cv.cols, av.cols);
    if av.cs == 1 && bv.rs == 1 && k >= 512 && 4 * m.max(n) <= k {
        dot_products(tok, isa, c, cv, a, av.rs, b, bv.cs, k, accumulate, bias);
        return;
    }
    let (l, nr, kcb) = (lanes(isa), lanes(isa) * tile_vecs(isa), kc_block(isa));
    let mr = tile_rows(isa);
    // A row-major B is read in place (its rows are already contiguous along the vector lanes; the
    // last partial vector is loaded masked). Packing pays only when a sliver is reused by many
    // row tiles of A.
    let b_in_place = bv.cs == 1 && m <= MC;
    for jc in (0..n).step_by(NC) {
        let nc = NC.min(n - jc);
        let slivers = nc.div_ceil(nr);
        // Equal depth blocks (a short last block would pay a C load/store pass for few FMAs).
        let kcb = k.div_ceil(k.div_ceil(kcb));
        for pc in (0..k).step_by(kcb) {
            let kc = kcb.min(k - pc);
            // Later depth blocks add to what the first one wrote.
            let add = accumulate || pc > 0;
            if !b_in_place {
                if ws.b.len() < slivers * kc * nr {
                    // Grown, not resized: every sliver is packed before it is read.
                    ws.b = AlignedVec::zeroed(slivers * kc * nr);
                }
                for (s, dst) in ws.b.chunks_exact_mut(kc * nr).take(slivers).enumerate() {
                    let j0 = jc + s * nr;
                    let cols = nr.min(jc + nc - j0);
                    let width = cols.div_ceil(l) * l;
                    pack_b(b, bv, pc, kc, j0, cols, width, &mut dst[..kc * width]);
                }
            }
            // One tile: rows `i0..` of A (in place, or the packed panel `ap`) times sliver `s`.
            // (A macro, not a closure: the closure was not inlined, and its call per tile cost
            // 2–3 % of the MLP step.)
            macro_rules! run_at {
                ($s:expr, $i0:expr, $rows:expr, $ap:expr) => {{
                    let (s, i0, rows, ap): (usize, usize, usize, Option<&[f32]>) =
                        ($s, $i0, $rows, $ap);
                    let j0 = jc + s * nr;
                    let cols = nr.min(jc + nc - j0);
                    let vecs = cols.div_ceil(l);
                    let (bs, brs) = if b_in_place {
                        (&b[pc * bv.rs + j0..], bv.rs)
                    } else {
                        (&ws.b[s * kc * nr..][..kc * vecs * l], vecs * l)
                    };
                    let tile = Tile {
                        kc,
                        rows,
                        vecs,
                        cols,
                        a: ap.unwrap_or(&a[i0 * av.rs + pc * av.cs..]),
                        ars: av.rs,
                        acs: av.cs,
                        a_packed: ap.is_some(),
                        b: bs,
                        brs,
                        b_whole: !b_in_place,
                        add,
                        bias: if add { None } else { bias.map(|bs| &bs[j0..]) },
                    };
                    let off = i0 * cv.rs + j0 * cv.cs;
                    if cv.cs == 1 {
                        tile.run(tok, isa, &mut c[off..], cv.rs);
                    } else {
                        // A strided C: compute into a dense tile, then scatter.
                        let mut tmp = [0.0f32; MAX_MR * MAX_NR];
                        Tile { add: false, ..tile }.run(tok, isa, &mut tmp, MAX_NR);
                        for r in 0..tile.rows {
                            for j in 0..cols {
                                let dst = &mut c[off + r * cv.rs + j * cv.cs];
                                let v = tmp[r * MAX_NR + j];
                                // (The bias, if any, is in `tmp` already.)
                                *dst = if add { *dst + v } else { v };
                            }
                        }
                    }
                }};
            }
            for ic in (0..m).step_by(MC) {
                let mc = MC.min(m - ic);
                if packs_a(isa, av) {
                    // Row tile outer, slivers inner: each panel is packed just before the slivers
                    // that reuse it, and stays in L1 (2 rows × 256 steps × 4 lanes: 8 KiB).
                    // (Packing the whole block of rows at once measured 15 % slower on the MLP
                    // step: its 48 panels, 384 KiB, are written from and read back from L2.)
                    for i0 in (ic..ic + mc).step_by(mr) {
                        let rows = mr.min(ic + mc - i0);
                        let len = rows * kc * l;
                        if ws.a.len() < len {
                            // Grown, not resized: every panel is packed before it is read.
                            ws.a = AlignedVec::zeroed(len);
                        }
                        pack_a_splat(a, av, i0, rows, pc, kc, &mut ws.a[..len]);
                        for s in 0..slivers {
                            run_at!(s, i0, rows, Some(&ws.a[..len]));
                        }
                    }
                } else {
                    for s in 0..slivers {
                        for i0 in (ic..ic + mc).step_by(mr) {
                            run_at!(s, i0, mr.min(ic + mc - i0), None);
                        }
                    }
                }
            }
        }
    }
}

/// One micro-tile: `rows × cols` of C from `rows × kc` of A (element (r, kk) at
/// `a[r·ars + kk·acs]`) and `kc × cols` of B (element (kk, j) at `b[kk·brs + j]`; packed
/// slivers have `brs = vecs·lanes`).
#[derive(Clone, Copy)]
struct Tile<'a> {
    kc: usize,
    rows: usize,
    vecs: usize,
    cols: usize,
    a: &'a [f32],
    ars: usize,
    acs: usize,
    /// `a` is a panel from [`pack_a_splat`] (`ars` and `acs` then unused).
    a_packed: bool,
    b: &'a [f32],
    brs: usize,
    /// B rows hold whole vectors (a padded sliver): no masked tail load needed.
    b_whole: bool,
    /// Add to C instead of overwriting it.
    add: bool,
    /// Without `add`: the bias of the tile's columns, added as C is stored.
    bias: Option<&'a [f32]>,
}

impl Tile<'_> {
    /// Multiply into `c` (row stride `rs`, unit column stride).
    fn run(self, tok: Token, isa: Isa, c: &mut [f32], rs: usize) {
        let l = lanes(isa);
        // These bounds are what the kernels' unchecked accesses rely on.
        assert!(self.rows >= 1 && self.rows <= tile_rows(isa));
        assert!(self.vecs >= 1 && self.vecs <= tile_vecs(isa));
        assert!(self.cols > (self.vecs - 1) * l && self.cols <= self.vecs * l);
        if self.a_packed {
            assert!(self.a.len() >= self.kc * self.rows * l);
        } else {
            assert!(self.a.len() > (self.rows - 1) * self.ars + (self.kc - 1) * self.acs);
        }
        let b_row = if self.b_whole {
            self.vecs * l
        } else {
            self.cols
        };
        assert!(self.b.len() >= (self.kc - 1) * self.brs + b_row);
        assert!(c.len() >= (self.rows - 1) * rs + self.cols);
        assert!(self.bias.is_none_or(|bs| bs.len() >= self.cols));
        let cp = c.as_mut_ptr();
        // SAFETY: `tok` proves the CPU runs the family; the extents `tile_kernel` documents were
        // asserted above.
        unsafe { run_tile(tok, self, cp, rs) }
    }
}

multiversion! {
    /// # Safety
    /// As [`tile_kernel`].
    unsafe fn run_tile(t: Tile<'_>, c: *mut f32, rs: usize) => tile_kernel;
    shape t.rows, t.vecs;
    avx512 [1, 2, 3, 4, 5, 6] x [1, 2, 3, 4];
    avx2 [1, 2, 3, 4, 5, 6] x [1, 2];
    portable [1, 2] x [1, 2, 3, 4];
}

/// The micro-kernel: `R × V` vector accumulators; per depth step, `V` loads of B and `R`
/// broadcasts of A feed `R·V` fused multiply-adds.
///
/// # Safety
/// `t.a` reaches `(R − 1)·ars + (kc − 1)·acs`, or holds `kc·R·LANES` floats when `a_packed`;
/// `t.b` holds `(kc − 1)·brs + cols` floats, or
/// `(kc − 1)·brs + V·LANES` when `b_whole`; `c` holds `(R − 1)·rs + cols` floats; a bias holds
/// at least `cols`; `(V − 1)·LANES < cols ≤ V·LANES` (asserted by [`Tile::run`]).
#[inline(always)]
unsafe fn tile_kernel<S: Simd, const R: usize, const V: usize>(
    s: S,
    t: Tile<'_>,
    c: *mut f32,
    rs: usize,
) {
    let l = S::LANES;
    // Whether the last vector of a B row is a masked load. On the portable path it is a constant
    // of the depth loop: as a run-time flag its test stayed in every step, and the two load forms
    // together spilled a B vector to the stack (perf annotate; MLP step 9.6 → 9.2 ms). The other
    // families keep the flag (no change measured there): both modes for every family, with the
    // panel layout, made the release build of `nn` 38 s instead of 11; as here, 16 s.
    let tail = !t.b_whole && t.cols < V * l;
    let layout = if t.a_packed {
        PACKED_A
    } else if t.acs == 1 {
        ROW_MAJOR_A
    } else if t.ars == 1 {
        COL_MAJOR_A
    } else {
        STRIDED_A
    };
    // SAFETY (each arm): the caller's contract; the arm's layout matches `t`'s strides, and its
    // tail mode is `tail`'s or tests it.
    let acc = unsafe {
        if S::LANES == 4 {
            match (layout, tail) {
                (ROW_MAJOR_A, false) => depth_loop::<S, R, V, ROW_MAJOR_A, WHOLE>(s, t, c, rs),
                (ROW_MAJOR_A, true) => depth_loop::<S, R, V, ROW_MAJOR_A, MASKED>(s, t, c, rs),
                (COL_MAJOR_A, false) => depth_loop::<S, R, V, COL_MAJOR_A, WHOLE>(s, t, c, rs),
                (COL_MAJOR_A, true) => depth_loop::<S, R, V, COL_MAJOR_A, MASKED>(s, t, c, rs),
                (STRIDED_A, false) => depth_loop::<S, R, V, STRIDED_A, WHOLE>(s, t, c, rs),
                (STRIDED_A, true) => depth_loop::<S, R, V, STRIDED_A, MASKED>(s, t, c, rs),
                (_, false) => depth_loop::<S, R, V, PACKED_A, WHOLE>(s, t, c, rs),
                (_, true) => depth_loop::<S, R, V, PACKED_A, MASKED>(s, t, c, rs),
            }
        } else {
            match layout {
                ROW_MAJOR_A => depth_loop::<S, R, V, ROW_MAJOR_A, EITHER>(s, t, c, rs),
                COL_MAJOR_A => depth_loop::<S, R, V, COL_MAJOR_A, EITHER>(s, t, c, rs),
                STRIDED_A => depth_loop::<S, R, V, STRIDED_A, EITHER>(s, t, c, rs),
                _ => unreachable!("packed panels of A are the portable family's"),
            }
        }
    };
    for (r, accr) in acc.iter().enumerate() {
        for (v, &val) in accr.iter().enumerate() {
            let lo = v * l;
            let n = t.cols - lo;
            // SAFETY: columns lo..min(lo + LANES, cols) of row r are at offsets below
            // (R − 1)·rs + cols ≤ c's extent, and those of the bias below cols ≤ its length;
            // a partial vector is masked.
            unsafe {
                let dst = c.add(r * rs + lo);
                if n >= l {
                    let out = match (t.add, t.bias) {
                        (true, _) => s.add(val, s.load(dst)),
                        (false, Some(bs)) => s.add(val, s.load(bs.as_ptr().add(lo))),
                        (false, None) => val,
                    };
                    s.store(dst, out);
                } else {
                    let m = s.mask(n);
                    let out = match (t.add, t.bias) {
                        (true, _) => s.add(val, s.load_masked(dst, m)),
                        (false, Some(bs)) => s.add(val, s.load_masked(bs.as_ptr().add(lo), m)),
                        (false, None) => val,
                    };
                    s.store_masked(dst, out, m);
                }
            }
        }
    }
}

/// A's layout, as a constant of [`depth_loop`]: unit column stride (row-major), unit row
/// stride (column-major, e.g. the MLP's `Xᵀ`), or neither.
const ROW_MAJOR_A: u8 = 0;
const COL_MAJOR_A: u8 = 1;
const STRIDED_A: u8 = 2;
/// A panel of whole vectors from [`pack_a_splat`].
const PACKED_A: u8 = 3;

/// How [`depth_loop`] loads the last vector of a B row, as a constant: always whole, always
/// masked, or as the tile's flag says.
const WHOLE: u8 = 0;
const MASKED: u8 = 1;
const EITHER: u8 = 2;

/// The depth loop of [`tile_kernel`]: returns the `R × V` accumulators of `A·B` over `t.kc`
/// steps.
///
/// Why this shape: with A's layout a constant, every broadcast of A is one register plus a fixed
/// displacement (row-major: a pointer per row indexed by the step; column-major: one pointer,
/// the row as displacement) instead of a chain of strided adds; and four steps per iteration
/// share one counter and branch, which otherwise take ports from the FMAs. Measured against the
/// plain loop (in-process A/B, MLP products, AVX-512): 2–5 % faster per product, ~4 % on the
/// MLP and AVX2 steps.
///
/// # Safety
/// As [`tile_kernel`], `AL` matches `t`'s strides (`acs == 1` for [`ROW_MAJOR_A`],
/// `ars == 1` for [`COL_MAJOR_A`], `a_packed` for [`PACKED_A`]), and with [`WHOLE`] every B
/// row holds `V` whole vectors (`b_whole`, or `cols == V·LANES`).
#[inline(always)]
unsafe fn depth_loop<S: Simd, const R: usize, const V: usize, const AL: u8, const BT: u8>(
    s: S,
    t: Tile<'_>,
    c: *mut f32,
    rs: usize,
) -> [[S::V; V]; R] {
    let l = S::LANES;
    let ars = if AL == COL_MAJOR_A { 1 } else { t.ars };
    let acs = if AL == ROW_MAJOR_A { 1 } else { t.acs };
    let mut acc = [[s.zero(); V]; R];
    let (a, b) = (t.a.as_ptr(), t.b.as_ptr());
    let last = s.mask(t.cols - (V - 1) * l);
    let tail = match BT {
        WHOLE => false,
        MASKED => true,
        _ => !t.b_whole && t.cols < V * l,
    };
    // A macro, not a closure: a closure is not compiled with the enclosing function's target
    // features, so its intrinsics would be calls (measured: 60× slower).
    macro_rules! step {
        ($kk:expr) => {{
            let kk = $kk;
            let mut bv = [s.zero(); V];
            for (v, bvv) in bv.iter_mut().enumerate() {
                // SAFETY: B's row kk < kc starts at kk·brs. Whole vectors are inside `t.b`
                // unless this is a partial last vector of an in-place B, whose lanes below
                // `cols` are read masked (the others are not accessed).
                *bvv = unsafe {
                    let p = b.add(kk * t.brs + v * l);
                    if v + 1 < V || !tail {
                        s.load(p)
                    } else {
                        s.load_masked(p, last)
                    }
                };
            }
            for (r, accr) in acc.iter_mut().enumerate() {
                // SAFETY: element (r, kk), r < R and kk < kc, lies at r·ars + kk·acs within
                // `t.a` (`ars`, `acs` equal `t`'s strides for this layout); in a packed panel
                // its vector is at (kk·R + r)·LANES, below kc·R·LANES ≤ its length.
                let x = unsafe {
                    if AL == PACKED_A {
                        s.load(a.add((kk * R + r) * l))
                    } else {
                        s.splat(*a.add(r * ars + kk * acs))
                    }
                };
                for (av, &bvv) in accr.iter_mut().zip(&bv) {
                    *av = s.mul_add(x, bvv, *av);
                }
            }
        }};
    }
    // Prefetch C's lines for the store at the end, one per iteration: the first depth block
    // overwrites C, whose lines are usually not in L1 (activations and gradients of the previous
    // layer), and the store misses otherwise stall the next tile (in-process A/B, MLP step
    // b = 512: 4 % faster on AVX-512, 3 % portable). In a long block (AVX-512's are up to 1024
    // steps, 784 on the MLP) the B sliver streaming through L1 would evict lines fetched at the
    // start, so there they are fetched in the last R·V + 4 iterations (1 % faster on AVX-512; on
    // AVX2 and portable, whose blocks are ≤ 256 steps, fetching late measured 2–3 % slower).
    let mut kk = 0;
    let n4 = t.kc / 4;
    // (`LANES == 16`: only AVX-512's blocks exceed 256 steps, and the others' loops compile as
    // one: the split measured 5 % slower on the portable path's 16 registers.)
    let pre = if S::LANES == 16 && t.kc > 256 {
        n4.saturating_sub(R * V + 4)
    } else {
        0
    };
    // (Two loops rather than a condition in one: an extra counter in the loop spilled and cost
    // 25 %.)
    for _ in 0..pre {
        step!(kk);
        step!(kk + 1);
        step!(kk + 2);
        step!(kk + 3);
        kk += 4;
    }
    let mut pf = 0;
    while kk + 4 <= t.kc {
        if pf < R * V {
            s.prefetch(c.wrapping_add(pf / V * rs + pf % V * l));
            pf += 1;
        }
        step!(kk);
        step!(kk + 1);
        step!(kk + 2);
        step!(kk + 3);
        kk += 4;
    }
    while kk < t.kc {
        step!(kk);
        kk += 1;
    }
    acc
}

/// Rows of A and columns of B per dot-product tile of a family.
fn dot_tile(isa: Isa) -> (usize, usize) {
    match isa {
        Isa::Avx512 => (6, 4),
        Isa::Avx2 => (4, 3),
        Isa::Portable => (4, 2),
    }
}

/// Depth of a dot-product block.
const KB: usize = 1024;
/// The largest dot-product tile of any family.
const DR: usize = 6;
const DC: usize = 4;

/// `C (+)= A·B` for a long inner dimension when A's rows and B's columns are both contiguous
/// along k (a convolution's weight gradient `dY·colᵀ`): each entry is a dot product, vectorised
/// along k and reduced once at the end, so neither operand is packed or transposed.
/// `a[i·ars + kk]`, `b[j·bcs + kk]`; the views were checked by [`gemm_with`].
#[allow(clippy::too_many_arguments)]
fn dot_products(
    tok: Token,
    isa: Isa,
    c: &mut [f32],
    cv: View,
    a: &[f32],
    ars: usize,
    b: &[f32],
    bcs: usize,
    k: usize,
    add: bool,
    bias: Option<&[f32]>,
) {
    let (m, n) = (cv.rows, cv.cols);
    let (dr, dc) = dot_tile(isa);
    // Depth blocks of KB: a block of rows of A (24 KiB) stays in L1 while the tiles along B's
    // columns stream past it.
    for k0 in (0..k).step_by(KB) {
        let kb = KB.min(k - k0);
        let add = add || k0 > 0;
        for i0 in (0..m).step_by(dr) {
            for j0 in (0..n).step_by(dc) {
                let t = DotTile {
                    k: kb,
                    rows: dr.min(m - i0),
                    cols: dc.min(n - j0),
                    a: &a[i0 * ars + k0..],
                    ars,
                    b: &b[j0 * bcs + k0..],
                    bcs,
                };
                let mut out = [[0.0f32; DC]; DR];
                t.run(tok, (dr, dc), &mut out);
                for (r, row) in out.iter().enumerate().take(t.rows) {
                    for (j, &v) in row.iter().enumerate().take(t.cols) {
                        let dst = &mut c[(i0 + r) * cv.rs + (j0 + j) * cv.cs];
                        *dst = match (add, bias) {
                            (true, _) => *dst + v,
                            (false, Some(bs)) => v + bs[j0 + j],
                            (false, None) => v,
                        };
                    }
                }
            }
        }
    }
}

/// `rows × cols` dot products of length `k`: A row r at `a[r·ars..][..k]`, B column j at
/// `b[j·bcs..][..k]`.
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

impl DotTile<'_> {
    fn run(self, tok: Token, (dr, dc): (usize, usize), out: &mut [[f32; DC]; DR]) {
        // What `dot_kernel` relies on.
        assert!(self.rows >= 1 && self.rows <= dr && self.cols >= 1 && self.cols <= dc);
        assert!(self.k >= 1);
        assert!(self.a.len() >= (self.rows - 1) * self.ars + self.k);
        assert!(self.b.len() >= (self.cols - 1) * self.bcs + self.k);
        // SAFETY: `tok` proves the CPU runs the family; extents asserted above.
        unsafe { run_dot(tok, self, out) }
    }
}

multiversion! {
    /// # Safety
    /// As [`dot_kernel`].
    unsafe fn run_dot(t: DotTile<'_>, out: &mut [[f32; DC]; DR]) => dot_kernel;
    shape t.rows, t.cols;
    avx512 [1, 2, 3, 4, 5, 6] x [1, 2, 3, 4];
    avx2 [1, 2, 3, 4] x [1, 2, 3];
    portable [1, 2, 3, 4] x [1, 2];
}

/// The dot-product kernel: `R × C` accumulators of `LANES` partial sums each.
///
/// # Safety
/// `t.a` holds `(R − 1)·ars + k` floats and `t.b` holds `(C − 1)·bcs + k` (asserted by
/// [`DotTile::run`]).
#[inline(always)]
unsafe fn dot_kernel<S: Simd, const R: usize, const C: usize>(
    s: S,
    t: DotTile<'_>,
    out: &mut [[f32; DC]; DR],
) {
    let l = S::LANES;
    let mut acc = [[s.zero(); C]; R];
    let (ap, bp) = (t.a.as_ptr(), t.b.as_ptr());
    let full = t.k / l * l;
    let mut kk = 0;
    while kk < t.k {
        // Whole vectors, then one masked tail.
        let whole = kk < full;
        let mask = s.mask(t.k - kk);
        let mut bv = [s.zero(); C];
        for (j, v) in bv.iter_mut().enumerate() {
            // SAFETY: lanes kk..min(kk + LANES, k) of column j, within `t.b`; masked-off lanes
            // are not accessed.
            *v = unsafe {
                if whole {
                    s.load(bp.add(j * t.bcs + kk))
                } else {
                    s.load_masked(bp.add(j * t.bcs + kk), mask)
                }
            };
        }
        for (r, accr) in acc.iter_mut().enumerate() {
            // SAFETY: lanes kk..min(kk + LANES, k) of row r, within `t.a`.
            let x = unsafe {
                if whole {
                    s.load(ap.add(r * t.ars + kk))
                } else {
                    s.load_masked(ap.add(r * t.ars + kk), mask)
                }
            };
            for (a, &y) in accr.iter_mut().zip(&bv) {
                *a = s.mul_add(x, y, *a);
            }
        }
        kk += l;
    }
    for (o, accr) in out.iter_mut().zip(&acc) {
        for (ov, &a) in o.iter_mut().zip(accr) {
            *ov = s.sum(a);
        }
    }
}
