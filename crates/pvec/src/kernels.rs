//! The update arithmetic, written as simple loops the compiler vectorises.

/// `dst = src − η·g`: the fused copy + update of Leashed-SGD's publish (one pass over θ).
#[inline]
pub fn copy_axpy(dst: &mut [f32], src: &[f32], g: &[f32], eta: f32) {
    assert!(
        dst.len() == src.len() && src.len() == g.len(),
        "dimension mismatch"
    );
    for ((d, &s), &gi) in dst.iter_mut().zip(src).zip(g) {
        *d = s - eta * gi;
    }
}

/// `θ ← θ − η·g` in place (Alg. B.1's `UPDATE`).
#[inline]
pub fn axpy(theta: &mut [f32], g: &[f32], eta: f32) {
    assert_eq!(theta.len(), g.len(), "dimension mismatch");
    for (t, &gi) in theta.iter_mut().zip(g) {
        *t -= eta * gi;
    }
}
