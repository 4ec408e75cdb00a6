//! A worker's working memory for [`Network::gradient`]: every buffer a forward and backward
//! pass needs, sized once for a batch capacity and then reused.

use crate::kernels::direct;
use crate::kernels::isa::Isa;
use crate::kernels::packed::Workspace;
use crate::network::Network;
use crate::ops::{conv_chunk, wants};
use crate::shape::Layer;
use crate::AlignedVec;
use crate::Backend;

/// Per-worker working memory for [`Network::gradient`], sized for a batch capacity. Reusing one
/// `Scratch` makes every call after the first allocation-free with the default
/// [`Backend::Packed`] (the `gemm` and `matrixmultiply` backends allocate their own packing
/// buffers inside every product).
#[derive(Debug, Default)]
pub struct Scratch {
    pub(crate) capacity: usize,
    /// The layers, backend and instruction set these buffers were sized for (a scratch moved to
    /// another network, or to a configuration with other buffers, is resized).
    layers: Vec<Layer>,
    backend: Backend,
    isa: Option<(Isa, Isa)>,
    /// Output (post-activation) of each layer, in that layer's layout.
    pub(crate) outs: Vec<AlignedVec>,
    /// A layer's input converted to the layout it needs (empty when no conversion is needed).
    pub(crate) conv_in: Vec<AlignedVec>,
    /// Arg-max (0..4) of each pool output element.
    pub(crate) argmax: Vec<Vec<u8>>,
    /// Ping-pong buffers for the gradient w.r.t. activations, and one for layout conversion.
    pub(crate) d0: AlignedVec,
    pub(crate) d1: AlignedVec,
    pub(crate) dtmp: AlignedVec,
    /// Transposed im2col matrix of one chunk of samples (see [`conv_chunk`]); recomputed in the
    /// backward pass rather than stored for the whole batch, so that it stays in L2.
    pub(crate) col: AlignedVec,
    /// Gradient w.r.t. that matrix.
    pub(crate) dcol: AlignedVec,
    /// Packing buffers of [`Backend::Packed`].
    pub(crate) ws: Workspace,
    /// Working memory of the direct convolution kernels ([`crate::kernels::direct`]).
    pub(crate) direct: direct::Work,
}

impl Scratch {
    /// Samples a forward or backward pass can take without growing.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Make room for `n` samples of `net` (a no-op once this scratch fits).
    pub(crate) fn fit(&mut self, net: &Network, n: usize) {
        let same = self.layers == net.layers()
            && self.backend == net.backend()
            && self.isa == Some((net.isa(), net.conv_isa()));
        if self.capacity >= n && same {
            return;
        }
        let n = if same { n.max(self.capacity) } else { n };
        self.layers.clear();
        self.layers.extend_from_slice(net.layers());
        self.backend = net.backend();
        self.isa = Some((net.isa(), net.conv_isa()));
        let mut max_act = net.input_shape().len();
        self.outs.clear();
        self.argmax.clear();
        self.conv_in.clear();
        let mut max_col = 0;
        for (li, l) in net.layers().iter().enumerate() {
            let o = l.output_shape();
            // A convolution fused with the max-pool after it writes the pool's output, and its
            // backward pass reads the pool's gradient: neither its output nor a gradient of that
            // size exists (5.5 MB of each for the Table B.2 CNN's first layer at b = 512).
            if net.pool_fused(li) {
                self.outs.push(AlignedVec::default());
            } else {
                max_act = max_act.max(o.len());
                self.outs.push(AlignedVec::zeroed(n * o.len()));
            }
            if let (Layer::Conv2d { input, kh, kw, .. }, None) = (*l, net.direct_conv(l, n)) {
                let per_sample = o.h * o.w * kh * kw * input.c;
                max_col = max_col.max(conv_chunk(per_sample).min(n) * per_sample);
            }
            let pool = matches!(l, Layer::MaxPool2 { .. });
            self.argmax.push(if pool {
                vec![0; n * o.len()]
            } else {
                Vec::new()
            });
            let convert = !net
                .source_layout(li)
                .reads_as(wants(l), net.source_shape(li));
            self.conv_in.push(if convert {
                AlignedVec::zeroed(n * l.input_shape().len())
            } else {
                AlignedVec::default()
            });
        }
        // Cache-line aligned: these are the C of most products (see `AlignedVec`).
        self.d0 = AlignedVec::zeroed(n * max_act);
        self.d1 = AlignedVec::zeroed(n * max_act);
        self.dtmp = AlignedVec::zeroed(n * max_act);
        self.col = AlignedVec::zeroed(max_col);
        self.dcol = AlignedVec::zeroed(max_col);
        self.capacity = n;
    }
}
