//! Steady-state `gradient` calls: a counting global allocator (per thread, so the test harness's
//! own threads do not interfere) counts allocations after a warm-up call.
//!
//! Our own code (layers, im2col, pooling, loss, scratch management, and the default `Packed`
//! GEMM, whose packing buffer lives in the scratch) allocates nothing: with the `Packed` and the
//! naive backends the count is exactly zero. The `gemm` and `matrixmultiply` crates allocate their
//! packing buffers inside every product and offer no way to pass a workspace; for them we check
//! the count is bounded per product (the reason `Packed` exists, see docs/nn.md).

mod support;

use nn::{arch, Batch, Init, Isa};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

struct Counting;
thread_local! {
    static ALLOCS: Cell<usize> = const { Cell::new(0) };
}
// SAFETY: forwards every call to the system allocator unchanged; only counts on the side
// (a const-initialised thread-local Cell, which never allocates).
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        ALLOCS.with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: `p` came from `System.alloc` above with layout `l`.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        ALLOCS.with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as our caller's.
        unsafe { System.realloc(p, l, n) }
    }
}
#[global_allocator]
static A: Counting = Counting;

fn allocs() -> usize {
    ALLOCS.with(Cell::get)
}

/// Allocations in 10 steady-state calls (5 at batch 32, 5 at batch 7).
fn steady_state_allocs(backend: nn::Backend, isa: Isa) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    for net in [
        arch::mlp(arch::MNIST_INPUT, 3, 128, 10).unwrap(),
        arch::cnn_b2(arch::MNIST_INPUT, 10).unwrap(),
        arch::lenet5(arch::MNIST_INPUT, 10).unwrap(),
    ] {
        let net = net.with_backend(backend).with_isa(isa).unwrap();
        let n = 32;
        let theta = net.init_params(Init::He, 1);
        let images: Vec<f32> = (0..n * 784).map(|i| (i % 251) as f32 / 251.0).collect();
        let labels: Vec<u8> = (0..n).map(|i| (i % 10) as u8).collect();
        let mut scratch = net.scratch(n);
        let mut grad = vec![0.0; net.num_params()];
        let batch = Batch {
            images: &images,
            labels: &labels,
        };
        net.gradient(&theta, batch, &mut scratch, &mut grad); // warm-up (GEMM packing buffers)
        let before = allocs();
        let products_before = nn::matmul::products_on_this_thread();
        for _ in 0..5 {
            net.gradient(&theta, batch, &mut scratch, &mut grad);
            net.gradient(
                &theta,
                Batch {
                    images: &images[..7 * 784],
                    labels: &labels[..7],
                },
                &mut scratch,
                &mut grad,
            );
        }
        let during = allocs() - before;
        let products = nn::matmul::products_on_this_thread() - products_before;
        out.push((during, products as usize));
    }
    out
}

#[test]
fn our_code_is_allocation_free_in_steady_state() {
    assert_eq!(nn::Backend::default(), nn::Backend::Packed);
    support::each_isa("our_code_is_allocation_free_in_steady_state", |isa| {
        for be in [nn::Backend::Packed, nn::Backend::Naive] {
            for (during, products) in steady_state_allocs(be, isa) {
                assert!(products > 0);
                assert_eq!(
                    during, 0,
                    "{be:?} on {isa}: {during} allocations in 10 steady-state gradient calls"
                );
            }
        }
    });
}

#[test]
fn gemm_backend_allocations_are_bounded_per_product() {
    for be in [nn::Backend::Gemm, nn::Backend::MatrixMultiply] {
        for (during, products) in steady_state_allocs(be, Isa::detect()) {
            assert!(
                during <= 10 * 2 * products,
                "{be:?}: {during} allocations in 10 calls of {products} products"
            );
        }
    }
}
