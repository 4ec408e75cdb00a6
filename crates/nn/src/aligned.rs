//! A zero-initialised `f32` buffer whose first element starts a 64-byte cache line.
//!
//! Why: glibc's `malloc` returns large blocks 16 bytes past a page boundary, so a plain
//! `Vec<f32>` of activations puts every 16-float vector of a row across two cache lines and
//! every load and store of a product's C into two line accesses (measured, AVX-512, MLP products:
//! 2–4 % slower with C 16 bytes off a line; the packing buffer 8 % of the step).

use std::ops::{Deref, DerefMut};

/// Floats to spare so that some offset below it starts a line (a line holds 16).
const PAD: usize = 15;

/// `len` floats starting on a cache line; dereferences to `[f32]`.
#[derive(Debug, Default)]
pub struct AlignedVec {
    buf: Vec<f32>,
    off: usize,
    len: usize,
}

impl AlignedVec {
    /// `len` zeros.
    pub fn zeroed(len: usize) -> Self {
        if len == 0 {
            return Self::default();
        }
        let buf = vec![0.0; len + PAD];
        // `align_offset` may decline (return usize::MAX); then the buffer is used unaligned.
        let off = buf.as_ptr().align_offset(64);
        let off = if off <= PAD { off } else { 0 };
        Self { buf, off, len }
    }
}

impl Clone for AlignedVec {
    /// A copy in a new allocation, aligned for that allocation (a cloned `Vec` would keep the
    /// old offset).
    fn clone(&self) -> Self {
        let mut v = Self::zeroed(self.len);
        v.copy_from_slice(self);
        v
    }
}

impl Deref for AlignedVec {
    type Target = [f32];
    fn deref(&self) -> &[f32] {
        &self.buf[self.off..self.off + self.len]
    }
}

impl DerefMut for AlignedVec {
    fn deref_mut(&mut self) -> &mut [f32] {
        &mut self.buf[self.off..self.off + self.len]
    }
}

#[cfg(test)]
mod tests {
    use super::AlignedVec;

    #[test]
    fn starts_a_cache_line_and_holds_zeros() {
        for len in [1, 15, 16, 17, 1000, 70_000] {
            let v = AlignedVec::zeroed(len);
            assert_eq!(v.len(), len);
            assert_eq!(v.as_ptr() as usize % 64, 0, "len {len}");
            assert!(v.iter().all(|&x| x == 0.0));
            let mut w = v.clone();
            w[len - 1] = 1.0;
            assert_eq!(w.as_ptr() as usize % 64, 0);
            assert_eq!((v[len - 1], w[len - 1]), (0.0, 1.0));
        }
        assert!(AlignedVec::zeroed(0).is_empty());
    }
}
