//! Concurrency primitives: `loom`'s under `cfg(loom)`, `std`'s otherwise (tokio's pattern), so
//! the same protocol code is model-checked and shipped.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicI64, AtomicU32, AtomicU64, AtomicUsize, Ordering};
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicI64, AtomicU32, AtomicU64, AtomicUsize, Ordering};

/// Called in every retry loop: a CPU hint normally, a scheduling point under loom (which needs
/// one to explore spin loops without running forever).
#[inline]
pub(crate) fn spin() {
    #[cfg(loom)]
    loom::thread::yield_now();
    #[cfg(not(loom))]
    std::hint::spin_loop();
}

#[cfg(loom)]
pub(crate) use loom::cell::UnsafeCell;

#[cfg(not(loom))]
pub(crate) use self::cell::UnsafeCell;

/// A mutex with one API in both builds (`parking_lot`'s normally).
pub(crate) struct Mutex<T>(
    #[cfg(loom)] loom::sync::Mutex<T>,
    #[cfg(not(loom))] parking_lot::Mutex<T>,
);

impl<T> Mutex<T> {
    pub(crate) fn new(v: T) -> Self {
        #[cfg(loom)]
        return Mutex(loom::sync::Mutex::new(v));
        #[cfg(not(loom))]
        return Mutex(parking_lot::Mutex::new(v));
    }

    #[cfg(loom)]
    pub(crate) fn lock(&self) -> loom::sync::MutexGuard<'_, T> {
        self.0.lock().expect("no panics while holding the lock")
    }

    #[cfg(not(loom))]
    pub(crate) fn lock(&self) -> parking_lot::MutexGuard<'_, T> {
        self.0.lock()
    }
}

/// A std-backed stand-in with loom's `UnsafeCell` API (`get`/`get_mut` returning pointer guards),
/// so the protocol code is identical in both builds.
#[cfg(not(loom))]
mod cell {
    #[derive(Debug)]
    pub(crate) struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

    pub(crate) struct ConstPtr<T>(*const T);
    pub(crate) struct MutPtr<T>(*mut T);

    impl<T> UnsafeCell<T> {
        pub(crate) fn new(v: T) -> Self {
            UnsafeCell(std::cell::UnsafeCell::new(v))
        }
        pub(crate) fn get(&self) -> ConstPtr<T> {
            ConstPtr(self.0.get())
        }
        pub(crate) fn get_mut(&self) -> MutPtr<T> {
            MutPtr(self.0.get())
        }
    }

    impl<T> ConstPtr<T> {
        /// # Safety
        /// No `&mut` to the cell's contents may exist while the returned reference lives.
        pub(crate) unsafe fn deref(&self) -> &T {
            // SAFETY: forwarded to the caller (see the function's contract).
            unsafe { &*self.0 }
        }
    }

    impl<T> MutPtr<T> {
        /// # Safety
        /// No other reference to the cell's contents may exist while the returned one lives.
        #[allow(clippy::mut_from_ref)]
        pub(crate) unsafe fn deref(&self) -> &mut T {
            // SAFETY: forwarded to the caller (see the function's contract).
            unsafe { &mut *self.0 }
        }
    }
}
