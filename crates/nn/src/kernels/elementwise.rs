//! The element-wise layers: bias, ReLU and its mask, column sums, softmax cross-entropy and 2 × 2
//! max-pooling, each compiled once per instruction set.
//!
//! These are plain loops that LLVM vectorises by itself; what the instruction set changes is how
//! wide. [`isa_fn!`] compiles each body three times — with AVX-512F, with AVX2 + FMA, and for the
//! baseline target — and picks by the caller's [`Token`], so an AVX2 machine does not run them at
//! SSE2 width.

use crate::kernels::isa::Token;
use crate::shape::Shape;

/// `vis fn name(tok: Token, args) -> ret { body }`: the body compiled once per instruction set,
/// run on the one `tok` proves this CPU has.
macro_rules! isa_fn {
    (
        $(#[$meta:meta])*
        $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? $body:block
    ) => {
        $(#[$meta])*
        #[allow(clippy::too_many_arguments)]
        $vis fn $name(tok: Token, $($arg: $ty),*) $(-> $ret)? {
            #[inline(always)]
            #[allow(clippy::too_many_arguments)]
            fn imp($($arg: $ty),*) $(-> $ret)? $body
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx512f")]
            #[allow(clippy::too_many_arguments)]
            fn avx512($($arg: $ty),*) $(-> $ret)? {
                imp($($arg),*)
            }
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx2,fma")]
            #[allow(clippy::too_many_arguments)]
            fn avx2($($arg: $ty),*) $(-> $ret)? {
                imp($($arg),*)
            }
            match tok {
                // SAFETY: the token proves this CPU has AVX-512F.
                #[cfg(target_arch = "x86_64")]
                Token::Avx512(_) => unsafe { avx512($($arg),*) },
                // SAFETY: the token proves this CPU has AVX2 and FMA.
                #[cfg(target_arch = "x86_64")]
                Token::Avx2(_) => unsafe { avx2($($arg),*) },
                Token::Portable(_) => imp($($arg),*),
            }
        }
    };
}

isa_fn! {
    /// `y ← max(y, 0)`.
    pub(crate) fn relu(y: &mut [f32]) {
        y.iter_mut().for_each(|v| *v = v.max(0.0));
    }
}

isa_fn! {
    /// `dy ← dy` where the ReLU output `y` is positive, else 0.
    pub(crate) fn relu_backward(y: &[f32], dy: &mut [f32]) {
        for (d, &v) in dy.iter_mut().zip(y) {
            *d = if v > 0.0 { *d } else { 0.0 };
        }
    }
}

isa_fn! {
    /// `out[j] = Σ_i m[i][j]` over the rows of the row-major `m` (rows of `out.len()`).
    pub(crate) fn column_sums(m: &[f32], out: &mut [f32]) {
        out.fill(0.0);
        for row in m.chunks_exact(out.len()) {
            for (o, &v) in out.iter_mut().zip(row) {
                *o += v;
            }
        }
    }
}

isa_fn! {
    /// `Σ x`, in 16 interleaved partial sums (vectorisable, unlike a strict left-to-right sum).
    pub(crate) fn sum(x: &[f32]) -> f32 {
        let mut acc = [0.0f32; 16];
        let mut chunks = x.chunks_exact(16);
        for c in &mut chunks {
            for (a, &v) in acc.iter_mut().zip(c) {
                *a += v;
            }
        }
        for (a, &v) in acc.iter_mut().zip(chunks.remainder()) {
            *a += v;
        }
        acc.iter().sum()
    }
}

isa_fn! {
    /// Copy rows of `width` floats from `src` (row stride `stride`) into the dense `dst`
    /// (`dst.len() / width` rows), applying the ReLU when `relu`: compacting a wide-grid plane.
    pub(crate) fn compact_rows(src: &[f32], stride: usize, dst: &mut [f32], width: usize, relu: bool) {
        for (r, d) in dst.chunks_exact_mut(width).enumerate() {
            let s = &src[r * stride..r * stride + width];
            // Inline loops: rows are short, and a memcpy call per row costs more than the copy.
            if relu {
                for (dv, &sv) in d.iter_mut().zip(s) {
                    *dv = sv.max(0.0);
                }
            } else {
                for (dv, &sv) in d.iter_mut().zip(s) {
                    *dv = sv;
                }
            }
        }
    }
}

isa_fn! {
    /// Copy the dense rows of `width` floats of `src` into `dst` with row stride `stride`
    /// (expanding a plane onto the wide grid; the gaps are left as they are), and return
    /// `Σ src`: a convolution's bias gradient, in the same pass over `∂L/∂y`.
    ///
    /// The sum also keeps LLVM from turning each row into a `memcpy` call, which for rows of
    /// 8–26 floats cost more than the copy (6 % of the CNN's step on AVX2, with a separate
    /// summing pass another 4 %).
    pub(crate) fn expand_rows_sum(src: &[f32], width: usize, dst: &mut [f32], stride: usize) -> f32 {
        // Whole chunks into 8 partial sums, the rows' tails into one scalar: indexing `acc`
        // from a tail loop kept it in memory (store-forwarding stalls, 20 % of a CNN step).
        let (mut acc, mut tails) = ([0.0f32; 8], 0.0f32);
        let whole = width / 8 * 8;
        for (r, s) in src.chunks_exact(width).enumerate() {
            let d = &mut dst[r * stride..r * stride + width];
            for (dv, sv) in d[..whole].chunks_exact_mut(8).zip(s.chunks_exact(8)) {
                for ((o, &v), a) in dv.iter_mut().zip(sv).zip(acc.iter_mut()) {
                    *o = v;
                    *a += v;
                }
            }
            tails += s[whole..].iter().sum::<f32>();
            // The tail as the row's last 8 floats (overlapping the last chunk): a fixed-size
            // copy, where a variable-length one became a `memcpy` call.
            if whole < width {
                match (d.last_chunk_mut::<8>(), s.last_chunk::<8>()) {
                    (Some(dl), Some(sl)) => *dl = *sl,
                    _ => d.copy_from_slice(s),
                }
            }
        }
        acc.iter().sum::<f32>() + tails
    }
}

/// (log Σ exp z, arg max z), stable by subtracting the maximum.
pub(crate) fn log_sum_exp_argmax(z: &[f32]) -> (f32, usize) {
    let (mut arg, mut mx) = (0, z[0]);
    for (i, &v) in z.iter().enumerate().skip(1) {
        if v > mx {
            mx = v;
            arg = i;
        }
    }
    let s: f32 = z.iter().map(|&v| (v - mx).exp()).sum();
    (mx + s.ln(), arg)
}

/// Mean softmax cross-entropy of `n` rows of logits, and ∂L/∂logits into `d`.
pub(crate) fn softmax_xent_backward(logits: &[f32], labels: &[u8], c: usize, d: &mut [f32]) -> f32 {
    let n = labels.len();
    let inv_n = 1.0 / n as f32;
    let mut loss = 0.0f64;
    for ((row, drow), &label) in logits
        .chunks_exact(c)
        .zip(d.chunks_exact_mut(c))
        .zip(labels)
    {
        let (lse, _) = log_sum_exp_argmax(row);
        let label = label as usize;
        loss += f64::from(lse - row[label]);
        for (dv, &z) in drow.iter_mut().zip(row) {
            *dv = (z - lse).exp() * inv_n;
        }
        drow[label] -= inv_n;
    }
    (loss / n as f64) as f32
}

/// 2 × 2 max-pool (stride 2, floor) of one `h × w` image whose rows start `row_stride` apart,
/// into the dense `(h/2) × (w/2)` plane `y`; `arg` records which corner (0..4, first maximum
/// wins) each output came from. With `relu`, the inputs are taken as `max(x, 0)` (pooling a
/// ReLU layer's output straight from the convolution's wide planes).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn pool_plane(
    x: &[f32],
    row_stride: usize,
    h: usize,
    w: usize,
    relu: bool,
    y: &mut [f32],
    arg: &mut [u8],
) {
    let (ph, pw) = (h / 2, w / 2);
    for py in 0..ph {
        let r0 = &x[2 * py * row_stride..2 * py * row_stride + 2 * pw];
        let r1 = &x[(2 * py + 1) * row_stride..(2 * py + 1) * row_stride + 2 * pw];
        let (yo, ao) = (
            &mut y[py * pw..(py + 1) * pw],
            &mut arg[py * pw..(py + 1) * pw],
        );
        // Whole blocks of 8 (or 4) outputs, the last one overlapping the one before: a row
        // of 5–13 outputs (the MNIST CNNs') had run almost entirely in the scalar remainder
        // of LLVM's vector loop. Overlapping outputs are recomputed, with the same values.
        let n = if pw >= 8 {
            8
        } else if pw >= 4 {
            4
        } else {
            1
        };
        let mut j = 0;
        while j < pw {
            let j0 = j.min(pw - n);
            let (t, b) = (&r0[2 * j0..], &r1[2 * j0..]);
            let (yc, ac) = (&mut yo[j0..], &mut ao[j0..]);
            match n {
                8 => pool_block::<8>(t, b, relu, yc, ac),
                4 => pool_block::<4>(t, b, relu, yc, ac),
                _ => pool_block::<1>(t, b, relu, yc, ac),
            }
            j = j0 + n;
        }
    }
}

/// `N` outputs of a pooled row from the `2N` floats of its two input rows `t` and `b` (a
/// constant trip count, which LLVM vectorises without a scalar remainder).
#[inline(always)]
fn pool_block<const N: usize>(t: &[f32], b: &[f32], relu: bool, y: &mut [f32], arg: &mut [u8]) {
    let r = |v: f32| if relu { v.max(0.0) } else { v };
    let (t, b, y, arg) = (&t[..2 * N], &b[..2 * N], &mut y[..N], &mut arg[..N]);
    for (((yv, av), t), b) in y
        .iter_mut()
        .zip(arg.iter_mut())
        .zip(t.chunks_exact(2))
        .zip(b.chunks_exact(2))
    {
        let (t0, t1, b0, b1) = (r(t[0]), r(t[1]), r(b[0]), r(b[1]));
        let (m01, q01) = if t1 > t0 { (t1, 1u8) } else { (t0, 0u8) };
        let (m23, q23) = if b1 > b0 { (b1, 3u8) } else { (b0, 2u8) };
        let (m, q) = if m23 > m01 { (m23, q23) } else { (m01, q01) };
        *yv = m;
        *av = q;
    }
}

isa_fn! {
    /// 2 × 2 max-pool of `planes` planar images of `s.h × s.w` (stride 2, floor). `arg` records
    /// which corner (0..4, first maximum wins) each output came from.
    pub(crate) fn max_pool_forward(x: &[f32], planes: usize, s: Shape, y: &mut [f32], arg: &mut [u8]) {
        let (pix, opix) = (s.h * s.w, (s.h / 2) * (s.w / 2));
        for pl in 0..planes {
            let (yo, ao) = (&mut y[pl * opix..(pl + 1) * opix], &mut arg[pl * opix..(pl + 1) * opix]);
            pool_plane(&x[pl * pix..(pl + 1) * pix], s.w, s.h, s.w, false, yo, ao);
        }
    }
}

isa_fn! {
    /// [`max_pool_forward`] of one `h × w` image whose rows start `row_stride` apart (a
    /// convolution's wide plane), with the ReLU applied to its inputs when `relu`: the same
    /// `y` and `arg` as compacting the plane, applying the ReLU, and pooling it.
    pub(crate) fn max_pool_rows(
        x: &[f32],
        row_stride: usize,
        h: usize,
        w: usize,
        relu: bool,
        y: &mut [f32],
        arg: &mut [u8],
    ) {
        pool_plane(x, row_stride, h, w, relu, y, arg);
    }
}

/// The 2 × 2 max-pool's backward pass for one `h × w` image whose rows start `row_stride`
/// apart: scatter `dy` (`(h/2) × (w/2)`) to the arg-max corner of each window, 0 to the other
/// positions of the `h × w` grid (columns past `w` are not touched). With `mask`, the pool's
/// input is a ReLU output: where the pooled maximum `y` is not positive that ReLU was inactive,
/// so the gradient is 0 — the ReLU's backward pass, without reading its output. Returns the sum
/// of what was scattered.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn unpool_plane(
    dy: &[f32],
    arg: &[u8],
    y: &[f32],
    mask: bool,
    h: usize,
    w: usize,
    row_stride: usize,
    dx: &mut [f32],
) -> f32 {
    let (ph, pw) = (h / 2, w / 2);
    let mut sum = 0.0f32;
    for py in 0..ph {
        let o = py * pw;
        let rows = &mut dx[2 * py * row_stride..(2 * py + 1) * row_stride + w];
        let (top, bottom) = rows.split_at_mut(row_stride);
        let (top, bottom) = (&mut top[..w], &mut bottom[..w]);
        // Every position of every window is written, so no separate zeroing pass.
        let windows = top.chunks_exact_mut(2).zip(bottom.chunks_exact_mut(2));
        let src = dy[o..o + pw].iter().zip(&arg[o..o + pw]).zip(&y[o..o + pw]);
        for ((t, b), ((&d, &q), &yv)) in windows.zip(src) {
            let g = if !mask || yv > 0.0 { d } else { 0.0 };
            sum += g;
            t[0] = if q == 0 { g } else { 0.0 };
            t[1] = if q == 1 { g } else { 0.0 };
            b[0] = if q == 2 { g } else { 0.0 };
            b[1] = if q == 3 { g } else { 0.0 };
        }
        if w % 2 == 1 {
            top[w - 1] = 0.0;
            bottom[w - 1] = 0.0;
        }
    }
    if h % 2 == 1 {
        dx[(h - 1) * row_stride..(h - 1) * row_stride + w].fill(0.0);
    }
    sum
}

isa_fn! {
    /// The max-pool's backward pass over `planes` planar images of `s.h × s.w` (see
    /// [`unpool_plane`]): every position of `dx` is written.
    pub(crate) fn max_pool_backward(
        dy: &[f32],
        planes: usize,
        s: Shape,
        arg: &[u8],
        y: &[f32],
        mask: bool,
        dx: &mut [f32],
    ) {
        let (pix, opix) = (s.h * s.w, (s.h / 2) * (s.w / 2));
        for pl in 0..planes {
            let o = pl * opix..(pl + 1) * opix;
            let (d, a, yv) = (&dy[o.clone()], &arg[o.clone()], &y[o]);
            unpool_plane(d, a, yv, mask, s.h, s.w, s.w, &mut dx[pl * pix..(pl + 1) * pix]);
        }
    }
}

isa_fn! {
    /// [`max_pool_backward`] of one plane onto a convolution's wide grid (rows `row_stride`
    /// apart; the columns past `w` are left as they are), returning the sum of the gradient
    /// scattered: the convolution's bias gradient, in the same pass.
    pub(crate) fn unpool_rows_sum(
        dy: &[f32],
        arg: &[u8],
        y: &[f32],
        mask: bool,
        h: usize,
        w: usize,
        row_stride: usize,
        dx: &mut [f32],
    ) -> f32 {
        unpool_plane(dy, arg, y, mask, h, w, row_stride, dx)
    }
}
