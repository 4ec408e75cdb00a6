//! The compute kernels: matrix products ([`matmul`], [`packed`]), direct convolution
//! ([`direct`]) and the element-wise layers ([`elementwise`]), each written once over the
//! vector abstraction in `simd` and instantiated per instruction set ([`isa`]).
//!
//! How one generic source becomes three fast paths: a kernel is an `#[inline(always)]` function
//! generic over `S: Simd` and its tile shape (const generics). [`multiversion!`] wraps it in one
//! function per instruction set — compiled with `#[target_feature(enable = "avx512f")]`, with
//! `"avx2,fma"`, or with no features for the portable path — each holding a `match` over the
//! tile shapes that set uses. The token passed in ([`isa::Token`]) proves the CPU has the set.

/// `dispatch2!(f::<S>(args); a, [1, 2]; b, [1, 2])` calls `f::<S, A, B>(args)` for the run-time
/// values of `a` and `b` (kernels are instantiated per tile shape).
macro_rules! dispatch2 {
    ($f:ident::<$t:ty> $args:tt; $a:expr, [$($av:literal),*]; $b:expr, $bvs:tt) => {
        match $a {
            $( $av => dispatch2!(@inner $f::<$t> $args; $av; $b, $bvs), )*
            _ => unreachable!("tile size"),
        }
    };
    (@inner $f:ident::<$t:ty> $args:tt; $av:literal; $b:expr, [$($bv:literal),*]) => {
        match $b {
            $( $bv => $f::<$t, $av, $bv> $args, )*
            _ => unreachable!("tile size"),
        }
    };
}

/// Define `unsafe fn NAME(tok: Token, ARGS)` that runs the generic kernel
/// `KERNEL::<S, A, B>(s, ARGS)` for the token's instruction set, inside a function compiled for
/// that set, with `(A, B)` the run-time tile shape `(DIM_A, DIM_B)` from each set's ranges.
/// The kernel's safety contract becomes `NAME`'s.
macro_rules! multiversion {
    (
        $(#[$meta:meta])*
        unsafe fn $name:ident($($arg:ident: $ty:ty),* $(,)?) => $kernel:ident;
        shape $a:expr, $b:expr;
        avx512 $a5:tt x $b5:tt;
        avx2 $a2:tt x $b2:tt;
        portable $ap:tt x $bp:tt;
    ) => {
        $(#[$meta])*
        #[allow(clippy::too_many_arguments)]
        unsafe fn $name(tok: $crate::kernels::isa::Token, $($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx512f")]
            #[allow(clippy::too_many_arguments)]
            unsafe fn avx512(s: $crate::kernels::simd::Avx512, $($arg: $ty),*) {
                use $crate::kernels::simd::Avx512;
                // SAFETY: the outer function's contract, which the kernel shares.
                unsafe { dispatch2!($kernel::<Avx512>(s, $($arg),*); $a, $a5; $b, $b5) }
            }
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx2,fma")]
            #[allow(clippy::too_many_arguments)]
            unsafe fn avx2(s: $crate::kernels::simd::Avx2, $($arg: $ty),*) {
                use $crate::kernels::simd::Avx2;
                // SAFETY: the outer function's contract, which the kernel shares.
                unsafe { dispatch2!($kernel::<Avx2>(s, $($arg),*); $a, $a2; $b, $b2) }
            }
            #[allow(clippy::too_many_arguments)]
            unsafe fn portable(s: $crate::kernels::simd::Portable, $($arg: $ty),*) {
                use $crate::kernels::simd::Portable;
                // SAFETY: the outer function's contract, which the kernel shares.
                unsafe { dispatch2!($kernel::<Portable>(s, $($arg),*); $a, $ap; $b, $bp) }
            }
            match tok {
                // SAFETY: the token proves this CPU has AVX-512F; the rest is our contract.
                #[cfg(target_arch = "x86_64")]
                $crate::kernels::isa::Token::Avx512(s) => unsafe { avx512(s, $($arg),*) },
                // SAFETY: the token proves this CPU has AVX2 and FMA; the rest is our contract.
                #[cfg(target_arch = "x86_64")]
                $crate::kernels::isa::Token::Avx2(s) => unsafe { avx2(s, $($arg),*) },
                // SAFETY: no target features needed; the rest is our contract.
                $crate::kernels::isa::Token::Portable(s) => unsafe { portable(s, $($arg),*) },
            }
        }
    };
}

pub mod direct;
pub mod elementwise;
pub mod isa;
pub mod matmul;
pub mod packed;
pub(crate) mod simd;

pub use isa::{Isa, IsaError};
