//! One vector abstraction over three instruction sets, so that every kernel is written once.
//!
//! A kernel is a generic `#[inline(always)]` function over `S: Simd`; it is instantiated inside a
//! function compiled with `#[target_feature]` for AVX-512F or AVX2 + FMA, and inside a plain one
//! for [`Portable`]. Once inlined there, the intrinsics below compile to single instructions
//! (the intrinsic functions themselves are only inlinable into code that has their feature).
//!
//! The x86 types are zero-sized proofs: an [`Avx512`] or [`Avx2`] value exists only after
//! run-time detection ([`Avx512::new`], [`Avx2::new`]), which is what makes their safe
//! arithmetic methods sound. Loads and stores take raw pointers and stay `unsafe`: their callers
//! assert the extents once per tile.

/// f32 vectors of [`Simd::LANES`] lanes with the operations the kernels need.
pub(crate) trait Simd: Copy {
    /// f32 lanes per vector.
    const LANES: usize;
    /// A vector.
    type V: Copy;
    /// Which lanes a partial load or store touches.
    type M: Copy;

    /// Every lane `x`.
    fn splat(self, x: f32) -> Self::V;
    /// Every lane 0.
    fn zero(self) -> Self::V;
    /// `a + b`.
    fn add(self, a: Self::V, b: Self::V) -> Self::V;
    /// `a·b + c` (fused where the instruction set has FMA).
    fn mul_add(self, a: Self::V, b: Self::V, c: Self::V) -> Self::V;
    /// The sum of the lanes.
    fn sum(self, a: Self::V) -> f32;
    /// Lanes `0..min(n, LANES)`.
    fn mask(self, n: usize) -> Self::M;

    /// Load `LANES` floats from `p`.
    ///
    /// # Safety
    /// `p..p + LANES` is readable.
    unsafe fn load(self, p: *const f32) -> Self::V;
    /// Load the lanes of `m` from `p` (the others are 0 and their memory is not accessed).
    ///
    /// # Safety
    /// The lanes of `m` are readable at `p`.
    unsafe fn load_masked(self, p: *const f32, m: Self::M) -> Self::V;
    /// Store `LANES` floats at `p`.
    ///
    /// # Safety
    /// `p..p + LANES` is writable.
    unsafe fn store(self, p: *mut f32, v: Self::V);
    /// Store the lanes of `m` at `p` (the others' memory is not accessed).
    ///
    /// # Safety
    /// The lanes of `m` are writable at `p`.
    unsafe fn store_masked(self, p: *mut f32, v: Self::V, m: Self::M);
    /// Hint that the cache line holding `p` will be accessed soon. Any address is allowed: a
    /// prefetch never faults and never changes memory.
    fn prefetch(self, p: *const f32);
}

/// The path without target features: 4 lanes of each architecture's baseline vectors — SSE2's
/// `__m128` on x86-64 and NEON's `float32x4_t` on aarch64 (both part of every CPU of their
/// architecture, so no detection is needed), plain `[f32; 4]` arrays elsewhere.
///
/// Why not arrays everywhere: in the convolution tiles LLVM's SLP vectoriser split the arrays
/// into scalars, re-packed them with shuffles and spilled them (measured on the LeNet-5 weight
/// gradient: `mulss` / `movlhps` / stack traffic in the hot loop, 3.9× the AVX2 path's time).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Portable;

#[cfg(target_arch = "x86_64")]
mod base {
    //! SSE2 is part of the x86-64 baseline: these intrinsics run on every x86-64 CPU.
    use std::arch::x86_64::*;
    pub(super) type V = __m128;

    // SAFETY (every function): SSE and SSE2 are enabled for every x86-64 target, so their
    // intrinsics may execute on any CPU this code runs on; pointer extents are the callers'.
    #[inline(always)]
    pub(super) fn splat(x: f32) -> V {
        // SAFETY: SSE is present (x86-64 baseline).
        unsafe { _mm_set1_ps(x) }
    }
    #[inline(always)]
    pub(super) fn add(a: V, b: V) -> V {
        // SAFETY: SSE is present.
        unsafe { _mm_add_ps(a, b) }
    }
    /// No FMA in the baseline: multiply, then add (two roundings).
    #[inline(always)]
    pub(super) fn mul_add(a: V, b: V, c: V) -> V {
        // SAFETY: SSE is present.
        unsafe { _mm_add_ps(_mm_mul_ps(a, b), c) }
    }
    #[inline(always)]
    pub(super) unsafe fn load(p: *const f32) -> V {
        // SAFETY: SSE is present; p..p + 4 is readable (caller).
        unsafe { _mm_loadu_ps(p) }
    }
    #[inline(always)]
    pub(super) unsafe fn store(p: *mut f32, v: V) {
        // SAFETY: SSE is present; p..p + 4 is writable (caller).
        unsafe { _mm_storeu_ps(p, v) }
    }
    /// `prefetcht0`, valid for any address.
    #[inline(always)]
    pub(super) fn prefetch(p: *const f32) {
        // SAFETY: SSE is present; a prefetch of any address neither faults nor accesses memory
        // in the language's sense.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(p.cast()) }
    }
}

#[cfg(target_arch = "aarch64")]
mod base {
    //! NEON (Advanced SIMD) is part of every aarch64 CPU the Rust targets support.
    use std::arch::aarch64::*;
    pub(super) type V = float32x4_t;

    #[inline(always)]
    pub(super) fn splat(x: f32) -> V {
        // SAFETY: NEON is enabled for every aarch64 target.
        unsafe { vdupq_n_f32(x) }
    }
    #[inline(always)]
    pub(super) fn add(a: V, b: V) -> V {
        // SAFETY: NEON is present.
        unsafe { vaddq_f32(a, b) }
    }
    /// `c + a·b` fused (aarch64 always has FMA).
    #[inline(always)]
    pub(super) fn mul_add(a: V, b: V, c: V) -> V {
        // SAFETY: NEON is present.
        unsafe { vfmaq_f32(c, a, b) }
    }
    #[inline(always)]
    pub(super) unsafe fn load(p: *const f32) -> V {
        // SAFETY: NEON is present; p..p + 4 is readable (caller); no alignment needed.
        unsafe { vld1q_f32(p) }
    }
    #[inline(always)]
    pub(super) unsafe fn store(p: *mut f32, v: V) {
        // SAFETY: NEON is present; p..p + 4 is writable (caller).
        unsafe { vst1q_f32(p, v) }
    }
    /// No hint: aarch64's prefetch intrinsic is not stable Rust.
    #[inline(always)]
    pub(super) fn prefetch(_p: *const f32) {}
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
mod base {
    //! Any other target: arrays, which LLVM maps to whatever vectors the target has.
    pub(super) type V = [f32; 4];

    #[inline(always)]
    pub(super) fn splat(x: f32) -> V {
        [x; 4]
    }
    #[inline(always)]
    pub(super) fn add(a: V, b: V) -> V {
        std::array::from_fn(|i| a[i] + b[i])
    }
    #[inline(always)]
    pub(super) fn mul_add(a: V, b: V, c: V) -> V {
        std::array::from_fn(|i| a[i] * b[i] + c[i])
    }
    #[inline(always)]
    pub(super) unsafe fn load(p: *const f32) -> V {
        // SAFETY: p..p + 4 is readable (caller); `read_unaligned` needs no alignment.
        unsafe { p.cast::<V>().read_unaligned() }
    }
    #[inline(always)]
    pub(super) unsafe fn store(p: *mut f32, v: V) {
        // SAFETY: p..p + 4 is writable (caller).
        unsafe { p.cast::<V>().write_unaligned(v) }
    }
    /// No hint on other targets.
    #[inline(always)]
    pub(super) fn prefetch(_p: *const f32) {}
}

impl Simd for Portable {
    const LANES: usize = 4;
    type V = base::V;
    type M = usize;

    #[inline(always)]
    fn prefetch(self, p: *const f32) {
        base::prefetch(p)
    }

    #[inline(always)]
    fn splat(self, x: f32) -> base::V {
        base::splat(x)
    }
    #[inline(always)]
    fn zero(self) -> base::V {
        base::splat(0.0)
    }
    #[inline(always)]
    fn add(self, a: base::V, b: base::V) -> base::V {
        base::add(a, b)
    }
    #[inline(always)]
    fn mul_add(self, a: base::V, b: base::V, c: base::V) -> base::V {
        base::mul_add(a, b, c)
    }
    #[inline(always)]
    fn sum(self, a: base::V) -> f32 {
        let mut x = [0.0f32; 4];
        // SAFETY: `x` has 4 writable floats.
        unsafe { base::store(x.as_mut_ptr(), a) };
        (x[0] + x[2]) + (x[1] + x[3])
    }
    #[inline(always)]
    fn mask(self, n: usize) -> usize {
        n.min(4)
    }
    #[inline(always)]
    unsafe fn load(self, p: *const f32) -> base::V {
        // SAFETY: the caller guarantees p..p + 4 is readable.
        unsafe { base::load(p) }
    }
    #[inline(always)]
    unsafe fn load_masked(self, p: *const f32, m: usize) -> base::V {
        let mut v = [0.0f32; 4];
        // Four conditional lanes, not `take(m)`: LLVM made that loop a call to `memcpy`, and a
        // call on the masked path of a depth loop (SysV preserves no vector register) kept one
        // GEMM accumulator on the stack for the whole loop (portable MLP step, AMD EPYC Zen 4,
        // alternating binaries: 10.7 → 9.8 ms).
        for (i, x) in v.iter_mut().enumerate() {
            if i < m {
                // SAFETY: lanes below `m` are readable (the caller's guarantee).
                *x = unsafe { *p.add(i) };
            }
        }
        // SAFETY: `v` has 4 readable floats.
        unsafe { base::load(v.as_ptr()) }
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32, v: base::V) {
        // SAFETY: the caller guarantees p..p + 4 is writable.
        unsafe { base::store(p, v) }
    }
    #[inline(always)]
    unsafe fn store_masked(self, p: *mut f32, v: base::V, m: usize) {
        let mut x = [0.0f32; 4];
        // SAFETY: `x` has 4 writable floats.
        unsafe { base::store(x.as_mut_ptr(), v) };
        for (i, &e) in x.iter().enumerate() {
            if i < m {
                // SAFETY: lanes below `m` are writable (the caller's guarantee).
                unsafe { *p.add(i) = e };
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
pub(crate) use x86::{Avx2, Avx512};

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::Simd;
    use std::arch::x86_64::*;

    /// AVX-512F, 16 lanes. Exists only on a CPU that has it.
    #[derive(Clone, Copy, Debug)]
    pub(crate) struct Avx512(());

    impl Avx512 {
        pub(crate) fn new() -> Option<Self> {
            std::arch::is_x86_feature_detected!("avx512f").then_some(Avx512(()))
        }
    }

    // SAFETY (every method): an `Avx512` value exists only if `Avx512::new` detected AVX-512F on
    // this CPU, so its intrinsics may execute; pointer extents are the callers' guarantees.
    impl Simd for Avx512 {
        const LANES: usize = 16;
        type V = __m512;
        type M = __mmask16;

        #[inline(always)]
        fn prefetch(self, p: *const f32) {
            super::base::prefetch(p)
        }

        #[inline(always)]
        fn splat(self, x: f32) -> __m512 {
            // SAFETY: AVX-512F is present (see above).
            unsafe { _mm512_set1_ps(x) }
        }
        #[inline(always)]
        fn zero(self) -> __m512 {
            // SAFETY: AVX-512F is present.
            unsafe { _mm512_setzero_ps() }
        }
        #[inline(always)]
        fn add(self, a: __m512, b: __m512) -> __m512 {
            // SAFETY: AVX-512F is present.
            unsafe { _mm512_add_ps(a, b) }
        }
        #[inline(always)]
        fn mul_add(self, a: __m512, b: __m512, c: __m512) -> __m512 {
            // SAFETY: AVX-512F is present.
            unsafe { _mm512_fmadd_ps(a, b, c) }
        }
        #[inline(always)]
        fn sum(self, a: __m512) -> f32 {
            // SAFETY: AVX-512F is present.
            unsafe { _mm512_reduce_add_ps(a) }
        }
        #[inline(always)]
        fn mask(self, n: usize) -> __mmask16 {
            if n >= 16 {
                0xffff
            } else {
                ((1u32 << n) - 1) as u16
            }
        }
        #[inline(always)]
        unsafe fn load(self, p: *const f32) -> __m512 {
            // SAFETY: AVX-512F is present; p..p + 16 is readable (caller).
            unsafe { _mm512_loadu_ps(p) }
        }
        #[inline(always)]
        unsafe fn load_masked(self, p: *const f32, m: __mmask16) -> __m512 {
            // SAFETY: AVX-512F is present; masked-off lanes are not accessed, the others are
            // readable (caller).
            unsafe { _mm512_maskz_loadu_ps(m, p) }
        }
        #[inline(always)]
        unsafe fn store(self, p: *mut f32, v: __m512) {
            // SAFETY: AVX-512F is present; p..p + 16 is writable (caller).
            unsafe { _mm512_storeu_ps(p, v) }
        }
        #[inline(always)]
        unsafe fn store_masked(self, p: *mut f32, v: __m512, m: __mmask16) {
            // SAFETY: AVX-512F is present; masked-off lanes are not accessed (caller).
            unsafe { _mm512_mask_storeu_ps(p, m, v) }
        }
    }

    /// AVX2 + FMA, 8 lanes. Exists only on a CPU that has both.
    #[derive(Clone, Copy, Debug)]
    pub(crate) struct Avx2(());

    impl Avx2 {
        pub(crate) fn new() -> Option<Self> {
            (std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma"))
            .then_some(Avx2(()))
        }
    }

    // SAFETY (every method): an `Avx2` value exists only if `Avx2::new` detected AVX2 and FMA on
    // this CPU; pointer extents are the callers' guarantees.
    impl Simd for Avx2 {
        const LANES: usize = 8;
        type V = __m256;
        type M = __m256i;

        #[inline(always)]
        fn prefetch(self, p: *const f32) {
            super::base::prefetch(p)
        }

        #[inline(always)]
        fn splat(self, x: f32) -> __m256 {
            // SAFETY: AVX is present (implied by AVX2).
            unsafe { _mm256_set1_ps(x) }
        }
        #[inline(always)]
        fn zero(self) -> __m256 {
            // SAFETY: AVX is present.
            unsafe { _mm256_setzero_ps() }
        }
        #[inline(always)]
        fn add(self, a: __m256, b: __m256) -> __m256 {
            // SAFETY: AVX is present.
            unsafe { _mm256_add_ps(a, b) }
        }
        #[inline(always)]
        fn mul_add(self, a: __m256, b: __m256, c: __m256) -> __m256 {
            // SAFETY: FMA is present.
            unsafe { _mm256_fmadd_ps(a, b, c) }
        }
        #[inline(always)]
        fn sum(self, a: __m256) -> f32 {
            // SAFETY: AVX and SSE are present.
            unsafe {
                let s = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps::<1>(a));
                let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
                _mm_cvtss_f32(_mm_add_ss(s, _mm_shuffle_ps::<0b01>(s, s)))
            }
        }
        #[inline(always)]
        fn mask(self, n: usize) -> __m256i {
            let n = n.min(8) as i32;
            // SAFETY: AVX2 is present. Lane i is all ones exactly when i < n.
            unsafe {
                _mm256_cmpgt_epi32(
                    _mm256_set1_epi32(n),
                    _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
                )
            }
        }
        #[inline(always)]
        unsafe fn load(self, p: *const f32) -> __m256 {
            // SAFETY: AVX is present; p..p + 8 is readable (caller).
            unsafe { _mm256_loadu_ps(p) }
        }
        #[inline(always)]
        unsafe fn load_masked(self, p: *const f32, m: __m256i) -> __m256 {
            // SAFETY: AVX is present; masked-off lanes are not accessed and read as 0, the
            // others are readable (caller).
            unsafe { _mm256_maskload_ps(p, m) }
        }
        #[inline(always)]
        unsafe fn store(self, p: *mut f32, v: __m256) {
            // SAFETY: AVX is present; p..p + 8 is writable (caller).
            unsafe { _mm256_storeu_ps(p, v) }
        }
        #[inline(always)]
        unsafe fn store_masked(self, p: *mut f32, v: __m256, m: __m256i) {
            // SAFETY: AVX is present; masked-off lanes are not accessed (caller).
            unsafe { _mm256_maskstore_ps(p, m, v) }
        }
    }
}
