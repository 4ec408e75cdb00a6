//! Single-threaded matrix multiplication behind one safe entry point, [`sgemm`].
//!
//! Three real backends, compared by measurement (see `docs/nn.md`):
//! - [`Backend::Packed`] (the default): our own kernels in [`crate::kernels::packed`], AVX-512 /
//!   AVX2+FMA / portable as the caller's [`Isa`] says, with the packing buffer in a caller-owned
//!   [`Workspace`] so that a worker's steady-state gradient call allocates nothing.
//! - [`Backend::Gemm`]: the `gemm` crate built with its `x86-v4` feature, which dispatches at run
//!   time to AVX-512 kernels where the CPU has them and to AVX2/scalar kernels otherwise. It
//!   allocates its packing buffers inside every product.
//! - [`Backend::MatrixMultiply`]: ndarray's default `general_mat_mul` (the `matrixmultiply` crate,
//!   AVX2 at most). Safe code only; kept for comparison and for platforms `gemm` does not cover.
//!
//! All run on the calling thread only: an SGD worker must never spawn nested GEMM threads.

use crate::kernels::isa::Isa;
use crate::kernels::packed::{self, Workspace};
use ndarray::{ArrayView2, ArrayViewMut2, ShapeBuilder};
use std::cell::Cell;

thread_local! {
    static PRODUCTS: Cell<u64> = const { Cell::new(0) };
}

/// Number of non-empty [`sgemm`] calls made on this thread so far (instrumentation for tests and
/// profiling; one thread-local increment per product).
pub fn products_on_this_thread() -> u64 {
    PRODUCTS.with(Cell::get)
}

/// Which matrix-multiply implementation a [`crate::Network`] uses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Backend {
    /// Our own packed kernels ([`crate::kernels::packed`]) on the network's [`Isa`], packing
    /// buffers in a caller-owned workspace; convolutions run the [`crate::kernels::direct`]
    /// kernels without a patch matrix. The default.
    #[default]
    Packed,
    /// The `gemm` crate (AVX-512 when available).
    Gemm,
    /// ndarray's `general_mat_mul` (matrixmultiply).
    MatrixMultiply,
    /// Plain triple loop; the reference the others are tested against.
    Naive,
}

impl std::str::FromStr for Backend {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "packed" => Ok(Backend::Packed),
            "gemm" => Ok(Backend::Gemm),
            "matrixmultiply" | "ndarray" => Ok(Backend::MatrixMultiply),
            "naive" => Ok(Backend::Naive),
            _ => Err(format!(
                "unknown matmul backend `{s}` (expected packed, gemm, matrixmultiply or naive)"
            )),
        }
    }
}

/// The layout of a strided matrix inside a slice: element (r, c) is at `r * rs + c * cs`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct View {
    pub rows: usize,
    pub cols: usize,
    pub rs: usize,
    pub cs: usize,
}

impl View {
    /// A dense row-major `rows × cols` matrix.
    pub fn row_major(rows: usize, cols: usize) -> Self {
        View {
            rows,
            cols,
            rs: cols,
            cs: 1,
        }
    }

    /// The transpose of this view (same memory).
    pub fn t(self) -> Self {
        View {
            rows: self.cols,
            cols: self.rows,
            rs: self.cs,
            cs: self.rs,
        }
    }

    /// Number of slice elements the view reaches (one past the largest index).
    pub(crate) fn span(&self) -> usize {
        if self.rows == 0 || self.cols == 0 {
            0
        } else {
            (self.rows - 1) * self.rs + (self.cols - 1) * self.cs + 1
        }
    }

    /// Whether distinct (r, c) map to distinct offsets. Checked for the output, which is written.
    pub(crate) fn is_injective(&self) -> bool {
        if self.rows == 0 || self.cols == 0 {
            return true;
        }
        if self.rows <= 1 || self.cols <= 1 {
            return (self.rows <= 1 || self.rs > 0) && (self.cols <= 1 || self.cs > 0);
        }
        (self.cs > 0 && self.rs >= self.cols * self.cs)
            || (self.rs > 0 && self.cs >= self.rows * self.rs)
    }
}

/// The checks every product entry point makes (panicking on a programming error: shapes that
/// disagree, a view past its slice, a self-overlapping C), plus the degenerate cases: an empty C
/// is left alone and `k = 0` zeroes C unless accumulating. Returns whether a product remains.
#[allow(clippy::too_many_arguments)]
pub(crate) fn prepare(
    who: &str,
    c: &mut [f32],
    cv: View,
    a: &[f32],
    av: View,
    b: &[f32],
    bv: View,
    accumulate: bool,
) -> bool {
    assert_eq!(
        av.rows, cv.rows,
        "{who}: A has {} rows, C has {}",
        av.rows, cv.rows
    );
    assert_eq!(
        bv.cols, cv.cols,
        "{who}: B has {} cols, C has {}",
        bv.cols, cv.cols
    );
    assert_eq!(
        av.cols, bv.rows,
        "{who}: inner dimensions {} and {}",
        av.cols, bv.rows
    );
    assert!(
        av.span() <= a.len(),
        "{who}: A view reaches {} > {}",
        av.span(),
        a.len()
    );
    assert!(
        bv.span() <= b.len(),
        "{who}: B view reaches {} > {}",
        bv.span(),
        b.len()
    );
    assert!(
        cv.span() <= c.len(),
        "{who}: C view reaches {} > {}",
        cv.span(),
        c.len()
    );
    assert!(cv.is_injective(), "{who}: C view {cv:?} overlaps itself");
    if cv.rows == 0 || cv.cols == 0 {
        return false;
    }
    if av.cols == 0 {
        if !accumulate {
            for r in 0..cv.rows {
                for col in 0..cv.cols {
                    c[r * cv.rs + col * cv.cs] = 0.0;
                }
            }
        }
        return false;
    }
    true
}

/// `C ← A·B` (or `C ← C + A·B` when `accumulate`), single-threaded. `ws` holds the packing
/// buffers of [`Backend::Packed`], which runs the kernels of `isa` (the other backends ignore
/// both and allocate their own buffers).
///
/// Three (slice, view) pairs plus the mode read better flat than bundled into structs.
///
/// # Panics
/// If the shapes disagree, a view reaches past its slice, or `C`'s view maps two elements to one
/// place, or `isa` is not available on this CPU. These are programming errors, checked once per
/// call (cheap next to the product).
#[allow(clippy::too_many_arguments)]
pub fn sgemm(
    ws: &mut Workspace,
    backend: Backend,
    isa: Isa,
    c: &mut [f32],
    cv: View,
    a: &[f32],
    av: View,
    b: &[f32],
    bv: View,
    accumulate: bool,
) {
    if cv.rows > 0 && cv.cols > 0 {
        PRODUCTS.with(|p| p.set(p.get() + 1));
    }
    if !prepare("sgemm", c, cv, a, av, b, bv, accumulate) {
        return;
    }
    let (m, n, k) = (cv.rows, cv.cols, av.cols);
    match backend {
        Backend::Packed => packed::compute(isa, ws, c, cv, a, av, b, bv, accumulate, None),
        Backend::Gemm => {
            // SAFETY: the asserts above establish that every element the three views address lies
            // inside its slice (span ≤ len, strides non-negative), that C's elements are pairwise
            // distinct, and that C (a unique &mut borrow) cannot alias A or B. `gemm` reads A and B
            // and writes C only at those offsets, on this thread (Parallelism::None).
            unsafe { gemm_f32_call(m, n, k, c, cv, accumulate, a, av, b, bv) }
        }
        Backend::MatrixMultiply => {
            let av_ = ArrayView2::from_shape((m, k).strides((av.rs, av.cs)), &a[..av.span()])
                .expect("A view checked above");
            let bv_ = ArrayView2::from_shape((k, n).strides((bv.rs, bv.cs)), &b[..bv.span()])
                .expect("B view checked above");
            let span = cv.span();
            let mut cv_ = ArrayViewMut2::from_shape((m, n).strides((cv.rs, cv.cs)), &mut c[..span])
                .expect("C view checked above");
            let beta = if accumulate { 1.0 } else { 0.0 };
            ndarray::linalg::general_mat_mul(1.0, &av_, &bv_, beta, &mut cv_);
        }
        Backend::Naive => {
            for r in 0..m {
                for col in 0..n {
                    let mut s = 0.0f32;
                    for i in 0..k {
                        s += a[r * av.rs + i * av.cs] * b[i * bv.rs + col * bv.cs];
                    }
                    let dst = &mut c[r * cv.rs + col * cv.cs];
                    *dst = if accumulate { *dst + s } else { s };
                }
            }
        }
    }
}

/// `C ← A·B + bias` with `bias` added to every row of C (a dense layer's forward pass),
/// single-threaded; otherwise as [`sgemm`]. [`Backend::Packed`] adds the bias as its first depth
/// block stores C; the other backends fill C's rows with it and accumulate.
///
/// # Panics
/// As [`sgemm`], and if `bias` does not have one entry per column of C.
#[allow(clippy::too_many_arguments)]
pub fn sgemm_bias(
    ws: &mut Workspace,
    backend: Backend,
    isa: Isa,
    c: &mut [f32],
    cv: View,
    a: &[f32],
    av: View,
    b: &[f32],
    bv: View,
    bias: &[f32],
) {
    assert_eq!(
        bias.len(),
        cv.cols,
        "sgemm_bias: the bias has {} entries, C has {} columns",
        bias.len(),
        cv.cols
    );
    if backend != Backend::Packed {
        // `prepare` (inside `sgemm`) checks the views; check C's before writing through it.
        assert!(
            cv.span() <= c.len(),
            "sgemm_bias: C view reaches {} > {}",
            cv.span(),
            c.len()
        );
        fill_rows(c, cv, bias);
        sgemm(ws, backend, isa, c, cv, a, av, b, bv, true);
        return;
    }
    if cv.rows > 0 && cv.cols > 0 {
        PRODUCTS.with(|p| p.set(p.get() + 1));
    }
    if prepare("sgemm_bias", c, cv, a, av, b, bv, false) {
        packed::compute(isa, ws, c, cv, a, av, b, bv, false, Some(bias));
    } else {
        // k = 0 (C was zeroed) or an empty C.
        fill_rows(c, cv, bias);
    }
}

/// Every row of C ← `bias`.
fn fill_rows(c: &mut [f32], cv: View, bias: &[f32]) {
    for r in 0..cv.rows {
        if cv.cs == 1 {
            c[r * cv.rs..][..cv.cols].copy_from_slice(bias);
        } else {
            for (j, &x) in bias.iter().enumerate() {
                c[r * cv.rs + j * cv.cs] = x;
            }
        }
    }
}

/// The `gemm` crate's f32 product (its `gemm::gemm` front end, for f32 only: the crate's other
/// element types cost a third of nn's build and are never used). Its microkernels prefer a
/// column-major destination, so a row-major C is computed as Cᵀ = Bᵀ·Aᵀ, as the front end does;
/// strides here are never negative (checked by `prepare`).
///
/// # Safety
/// Every element the three views address lies inside its slice, C's elements are pairwise
/// distinct, and C does not alias A or B (what `prepare` asserts).
#[allow(clippy::too_many_arguments)]
unsafe fn gemm_f32_call(
    m: usize,
    n: usize,
    k: usize,
    c: &mut [f32],
    cv: View,
    accumulate: bool,
    a: &[f32],
    av: View,
    b: &[f32],
    bv: View,
) {
    let (dst_cs, dst_rs) = (cv.cs as isize, cv.rs as isize);
    let (lhs, lhs_cs, lhs_rs) = (a.as_ptr(), av.cs as isize, av.rs as isize);
    let (rhs, rhs_cs, rhs_rs) = (b.as_ptr(), bv.cs as isize, bv.rs as isize);
    let gemm = gemm_f32::gemm::f32::get_gemm_fn();
    let none = gemm_common::Parallelism::None;
    // SAFETY: the caller's contract; the transposed call addresses exactly the same elements.
    unsafe {
        if dst_cs.abs() < dst_rs.abs() {
            gemm(
                n,
                m,
                k,
                c.as_mut_ptr(),
                dst_rs,
                dst_cs,
                accumulate,
                rhs,
                rhs_rs,
                rhs_cs,
                lhs,
                lhs_rs,
                lhs_cs,
                1.0,
                1.0,
                false,
                false,
                false,
                none,
            )
        } else {
            gemm(
                m,
                n,
                k,
                c.as_mut_ptr(),
                dst_cs,
                dst_rs,
                accumulate,
                lhs,
                lhs_cs,
                lhs_rs,
                rhs,
                rhs_cs,
                rhs_rs,
                1.0,
                1.0,
                false,
                false,
                false,
                none,
            )
        }
    }
}
