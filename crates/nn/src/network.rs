//! A feed-forward network that is stateless about its parameters: θ is one flat `&[f32]` owned
//! by the caller, and all working memory lives in a per-worker [`Scratch`].
//!
//! Layouts. Images come in per sample as NHWC. Inside the network, tensors with a spatial extent
//! (the outputs of conv and pool layers) are *planar over the batch*, `[c][n][h][w]`: then every
//! im2col copy and its adjoint are contiguous runs of pixels for any channel count, pooling works
//! on contiguous rows, and a convolution's GEMM writes its output in place with the pixels along
//! GEMM's micro-tile (small filter counts would otherwise waste most of it). Dense layers work on
//! row-major `n × features` matrices; flattening uses the `(c, h, w)` order (PyTorch's). The
//! (rare) boundaries between the two layouts are converted explicitly.
//!
//! Parameter layout, layer by layer in order:
//! - dense `in → out`: W as an `in × out` row-major matrix, then the `out` biases;
//! - conv `kh × kw`, `cin → cout`: W as a `cout × (cin·kh·kw)` row-major matrix, i.e. indexed
//!   `[f][c][ky][kx]` (PyTorch's order), then the `cout` biases;
//! - max-pool: no parameters.

use crate::builder::NetworkBuilder;
use crate::kernels::direct;
use crate::kernels::elementwise;
use crate::kernels::isa::{Isa, IsaError, Token};
use crate::kernels::matmul::{sgemm, sgemm_bias, Backend, View};
use crate::ops::{col2im_planar, conv_chunk, convert, im2col_planar, wants, Layout};
use crate::scratch::Scratch;
use crate::shape::{Activation, Batch, Layer, Shape};

/// Running sums of an evaluation ([`Network::evaluate_into`]).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct EvalSums {
    /// Σ cross-entropy.
    pub loss: f64,
    /// Samples whose arg-max output equals the label.
    pub correct: u64,
    pub samples: u64,
}

impl EvalSums {
    /// Mean cross-entropy (0 for no samples).
    pub fn mean_loss(&self) -> f64 {
        if self.samples == 0 {
            0.0
        } else {
            self.loss / self.samples as f64
        }
    }

    /// Fraction correct (0 for no samples).
    pub fn accuracy(&self) -> f64 {
        if self.samples == 0 {
            0.0
        } else {
            self.correct as f64 / self.samples as f64
        }
    }
}

/// A stateless network description. Cheap to clone and share between threads.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Network {
    pub(crate) input: Shape,
    pub(crate) classes: usize,
    pub(crate) layers: Vec<Layer>,
    pub(crate) offsets: Vec<usize>,
    pub(crate) num_params: usize,
    pub(crate) backend: Backend,
    pub(crate) isa: Isa,
    /// The family of the direct convolutions and max-pools ([`Isa::for_convolution`]).
    pub(crate) conv_isa: Isa,
}

impl Network {
    /// Start describing a network on inputs of the given per-sample shape.
    pub fn builder(input: Shape) -> NetworkBuilder {
        NetworkBuilder {
            input,
            cur: input,
            layers: Vec::new(),
            error: None,
        }
    }

    /// Use another matrix-multiply backend (results agree to rounding).
    pub fn with_backend(mut self, backend: Backend) -> Self {
        self.backend = backend;
        self
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Run the kernels of another instruction set (results agree to rounding), or a typed error
    /// if this CPU lacks it. The convolutions and max-pools run [`Isa::for_convolution`] of it.
    pub fn with_isa(mut self, isa: Isa) -> Result<Self, IsaError> {
        self.isa = isa.check()?;
        self.conv_isa = isa.for_convolution();
        Ok(self)
    }

    /// Run the direct convolutions and max-pools on `isa` whatever [`Network::isa`] is (to
    /// measure [`Isa::for_convolution`]'s choice), or a typed error if this CPU lacks it.
    pub fn with_conv_isa(mut self, isa: Isa) -> Result<Self, IsaError> {
        self.conv_isa = isa.check()?;
        Ok(self)
    }

    /// The instruction set the kernels run on (but see [`Network::conv_isa`]).
    pub fn isa(&self) -> Isa {
        self.isa
    }

    /// The instruction set the direct convolutions and max-pools run on.
    pub fn conv_isa(&self) -> Isa {
        self.conv_isa
    }

    /// The instruction sets in words, for run headers and reports: `avx512`, or `avx512
    /// (convolutions avx2)` when they differ.
    pub fn isa_path(&self) -> String {
        if self.conv_isa == self.isa {
            self.isa.name().to_string()
        } else {
            format!("{} (convolutions {})", self.isa, self.conv_isa)
        }
    }

    fn token(&self) -> Token {
        self.isa.expect_token("network")
    }

    fn conv_token(&self) -> Token {
        self.conv_isa.expect_token("network")
    }

    /// The dimension d of θ.
    pub fn num_params(&self) -> usize {
        self.num_params
    }

    pub fn input_shape(&self) -> Shape {
        self.input
    }

    /// Number of output classes (units of the last layer).
    pub fn classes(&self) -> usize {
        self.classes
    }

    pub fn layers(&self) -> &[Layer] {
        &self.layers
    }

    /// Offset of each layer's parameters inside θ.
    pub fn param_offsets(&self) -> &[usize] {
        &self.offsets
    }

    /// Forward FLOPs per sample (multiply-add = 2). Forward + backward is about 3× this.
    pub fn forward_flops(&self) -> u64 {
        self.layers.iter().map(Layer::forward_flops).sum()
    }

    /// FLOPs of the matrix products in one [`Network::gradient`] call, per sample: forward, the
    /// weight gradient (same count) and the input gradient (same count, skipped for layer 0).
    /// Element-wise work (bias, ReLU, pooling, softmax, im2col) is not counted.
    pub fn gradient_flops(&self) -> u64 {
        self.layers
            .iter()
            .enumerate()
            .map(|(i, l)| l.forward_flops() * if i == 0 { 2 } else { 3 })
            .sum()
    }

    /// Working memory for batches of up to `capacity` samples.
    pub fn scratch(&self, capacity: usize) -> Scratch {
        let mut s = Scratch::default();
        s.fit(self, capacity);
        s
    }

    /// Layout of the tensor that feeds layer `li`.
    pub(crate) fn source_layout(&self, li: usize) -> Layout {
        if li == 0 {
            Layout::Nhwc
        } else {
            wants(&self.layers[li - 1])
        }
    }

    /// Real (unflattened) shape of the tensor that feeds layer `li`.
    pub(crate) fn source_shape(&self, li: usize) -> Shape {
        if li == 0 {
            self.input
        } else {
            self.layers[li - 1].output_shape()
        }
    }

    fn check_batch(&self, theta: &[f32], batch: &Batch<'_>) {
        assert_eq!(
            theta.len(),
            self.num_params,
            "θ has length {}, the network has d = {}",
            theta.len(),
            self.num_params
        );
        assert_eq!(
            batch.images.len(),
            batch.len() * self.input.len(),
            "batch of {} labels needs {} image values, got {}",
            batch.len(),
            batch.len() * self.input.len(),
            batch.images.len()
        );
    }

    /// Forward pass of `n` samples; leaves each layer's output in `s.outs` (but for a convolution
    /// fused with the max-pool after it, see [`Network::pool_fused`]).
    fn forward(&self, theta: &[f32], images: &[f32], n: usize, s: &mut Scratch) {
        let (be, isa, tok) = (self.backend, self.isa, self.token());
        let mut pooled = false;
        for (li, l) in self.layers.iter().enumerate() {
            if std::mem::take(&mut pooled) {
                // This max-pool's output was written by the convolution before it.
                continue;
            }
            let ins = l.input_shape();
            let (before, rest) = s.outs.split_at_mut(li);
            let src: &[f32] = if li == 0 { images } else { &before[li - 1] };
            let x: &[f32] = if s.conv_in[li].is_empty() {
                &src[..n * ins.len()]
            } else {
                let buf = &mut s.conv_in[li][..n * ins.len()];
                convert(
                    src,
                    self.source_layout(li),
                    buf,
                    wants(l),
                    n,
                    self.source_shape(li),
                );
                buf
            };
            let (cur, next) = rest.split_at_mut(1);
            // A convolution fused with the pool after it has no output buffer (see `Scratch`).
            let fused = self.pool_fused(li);
            let y: &mut [f32] = if fused {
                &mut []
            } else {
                &mut cur[0][..n * l.output_shape().len()]
            };
            let p = &theta[self.offsets[li]..self.offsets[li] + l.num_params()];
            match *l {
                Layer::Dense {
                    inputs,
                    outputs,
                    act,
                } => {
                    let (w, b) = p.split_at(inputs * outputs);
                    sgemm_bias(
                        &mut s.ws,
                        be,
                        isa,
                        y,
                        View::row_major(n, outputs),
                        x,
                        View::row_major(n, inputs),
                        w,
                        View::row_major(inputs, outputs),
                        b,
                    );
                    if act == Activation::Relu {
                        elementwise::relu(tok, y);
                    }
                }
                Layer::Conv2d {
                    input,
                    kh,
                    kw,
                    filters,
                    act,
                } => {
                    let o = l.output_shape();
                    let (pix, k) = (o.h * o.w, kh * kw * input.c);
                    let (w, b) = p.split_at(k * filters);
                    if let Some(g) = self.direct_conv(l, n) {
                        let relu = act == Activation::Relu;
                        let out = if fused {
                            // Pool straight from the convolution's wide planes: its own output
                            // is never written (no later pass reads it, see `pool_fused`).
                            pooled = true;
                            let y = &mut next[0][..n * self.layers[li + 1].output_shape().len()];
                            let arg = &mut s.argmax[li + 1][..y.len()];
                            direct::Output::Pooled { y, arg }
                        } else {
                            direct::Output::Planes(y)
                        };
                        direct::forward(&mut s.direct, self.conv_isa, &g, x, w, b, relu, out);
                        continue;
                    }
                    let chunk = conv_chunk(pix * k);
                    for start in (0..n).step_by(chunk) {
                        let nb = chunk.min(n - start);
                        let m = nb * pix;
                        let col = &mut s.col[..k * m];
                        im2col_planar(x, n, input, start, nb, kh, kw, col);
                        // Y[:, chunk] = W·col, written in place into the planar output.
                        let out = View {
                            rows: filters,
                            cols: m,
                            rs: n * pix,
                            cs: 1,
                        };
                        let yc = &mut y[start * pix..];
                        sgemm(
                            &mut s.ws,
                            be,
                            isa,
                            yc,
                            out,
                            w,
                            View::row_major(filters, k),
                            col,
                            View::row_major(k, m),
                            false,
                        );
                        for (f, &bias) in b.iter().enumerate() {
                            let row = &mut yc[f * n * pix..f * n * pix + m];
                            if act == Activation::Relu {
                                row.iter_mut().for_each(|v| *v = (*v + bias).max(0.0));
                            } else {
                                row.iter_mut().for_each(|v| *v += bias);
                            }
                        }
                    }
                }
                Layer::MaxPool2 { input } => {
                    let arg = &mut s.argmax[li][..y.len()];
                    elementwise::max_pool_forward(self.conv_token(), x, n * input.c, input, y, arg);
                }
            }
        }
    }

    /// Mini-batch loss and its gradient: writes ∇L(θ) (mean over the batch) into `grad_out`, which
    /// is fully overwritten, and returns the mean multi-class cross-entropy. Allocation-free once
    /// `scratch` has seen a batch this large.
    ///
    /// # Panics
    /// If `theta` or `grad_out` do not have length d, or the batch's images and labels disagree in
    /// count. Labels must be below [`Network::classes`] (checked by the data loaders).
    pub fn gradient(
        &self,
        theta: &[f32],
        batch: Batch<'_>,
        scratch: &mut Scratch,
        grad_out: &mut [f32],
    ) -> f32 {
        self.check_batch(theta, &batch);
        assert_eq!(
            grad_out.len(),
            self.num_params,
            "grad_out has length {}, expected d = {}",
            grad_out.len(),
            self.num_params
        );
        let n = batch.len();
        if n == 0 {
            grad_out.fill(0.0);
            return 0.0;
        }
        scratch.fit(self, n);
        self.forward(theta, batch.images, n, scratch);
        let s = scratch;
        let last = self.layers.len() - 1;
        let c = self.classes;
        let loss = elementwise::softmax_xent_backward(
            &s.outs[last][..n * c],
            batch.labels,
            c,
            &mut s.d0[..n * c],
        );
        let (be, isa, tok) = (self.backend, self.isa, self.token());
        // `dy` holds ∂L/∂(output of layer li) on entry; `dx` receives ∂L/∂(its input).
        let (mut dy, mut dx) = (&mut s.d0, &mut s.d1);
        for li in (0..self.layers.len()).rev() {
            if li > 0 && self.pool_fused(li - 1) {
                // The convolution before this max-pool takes `dy` through it (`direct::Dy::Pooled`).
                continue;
            }
            let l = self.layers[li];
            let (ins, o) = (l.input_shape(), l.output_shape());
            let ylen = n * o.len();
            let xlen = n * ins.len();
            let x: &[f32] = if !s.conv_in[li].is_empty() {
                &s.conv_in[li]
            } else if li == 0 {
                batch.images
            } else {
                &s.outs[li - 1]
            };
            let p = &theta[self.offsets[li]..self.offsets[li] + l.num_params()];
            let g = &mut grad_out[self.offsets[li]..self.offsets[li] + l.num_params()];
            // A ReLU layer followed by a max-pool had its mask applied by the pool's backward pass.
            if l.act() == Activation::Relu && !self.pool_masks_relu(li + 1) {
                elementwise::relu_backward(tok, &s.outs[li][..ylen], &mut dy[..ylen]);
            }
            let need_dx = li > 0;
            // The input gradient goes to `dtmp` when it must be converted to the producer's layout.
            let convert_dx = need_dx && !s.conv_in[li].is_empty();
            let dxl: &mut [f32] = if convert_dx {
                &mut s.dtmp[..xlen]
            } else {
                &mut dx[..xlen]
            };
            match l {
                Layer::Dense {
                    inputs, outputs, ..
                } => {
                    let (gw, gb) = g.split_at_mut(inputs * outputs);
                    let dyv = &dy[..ylen];
                    // dW = Xᵀ·dY
                    sgemm(
                        &mut s.ws,
                        be,
                        isa,
                        gw,
                        View::row_major(inputs, outputs),
                        &x[..xlen],
                        View::row_major(n, inputs).t(),
                        dyv,
                        View::row_major(n, outputs),
                        false,
                    );
                    elementwise::column_sums(tok, dyv, gb);
                    if need_dx {
                        let (w, _) = p.split_at(inputs * outputs);
                        // dX = dY·Wᵀ
                        sgemm(
                            &mut s.ws,
                            be,
                            isa,
                            dxl,
                            View::row_major(n, inputs),
                            dyv,
                            View::row_major(n, outputs),
                            w,
                            View::row_major(inputs, outputs).t(),
                            false,
                        );
                    }
                }
                Layer::Conv2d {
                    input,
                    kh,
                    kw,
                    filters,
                    ..
                } => {
                    let (pix, k) = (o.h * o.w, kh * kw * input.c);
                    let (gw, gb) = g.split_at_mut(k * filters);
                    let (w, _) = p.split_at(k * filters);
                    if let Some(g) = self.direct_conv(&l, n) {
                        let dxd = need_dx.then_some(dxl);
                        let dys = if self.pool_fused(li) {
                            // `dy` is still the gradient of the pool's output.
                            let plen = n * self.layers[li + 1].output_shape().len();
                            direct::Dy::Pooled {
                                dy: &dy[..plen],
                                arg: &s.argmax[li + 1][..plen],
                                y: &s.outs[li + 1][..plen],
                                relu: self.pool_masks_relu(li + 1),
                            }
                        } else {
                            direct::Dy::Planes(&dy[..ylen])
                        };
                        direct::backward(
                            &mut s.direct,
                            self.conv_isa,
                            &g,
                            &x[..xlen],
                            w,
                            dys,
                            gw,
                            gb,
                            dxd,
                        );
                    } else {
                        for (f, gbf) in gb.iter_mut().enumerate() {
                            *gbf = elementwise::sum(tok, &dy[f * n * pix..(f + 1) * n * pix]);
                        }
                        let chunk = conv_chunk(pix * k);
                        for start in (0..n).step_by(chunk) {
                            let nb = chunk.min(n - start);
                            let m = nb * pix;
                            let col = &mut s.col[..k * m];
                            im2col_planar(x, n, input, start, nb, kh, kw, col);
                            let dyc = View {
                                rows: filters,
                                cols: m,
                                rs: n * pix,
                                cs: 1,
                            };
                            let dys = &dy[start * pix..];
                            // dW (+)= dY[:, chunk]·colᵀ
                            sgemm(
                                &mut s.ws,
                                be,
                                isa,
                                gw,
                                View::row_major(filters, k),
                                dys,
                                dyc,
                                col,
                                View::row_major(k, m).t(),
                                start > 0,
                            );
                            if need_dx {
                                // dcol = Wᵀ·dY[:, chunk], then scatter-add back to the input pixels.
                                let dcol = &mut s.dcol[..k * m];
                                sgemm(
                                    &mut s.ws,
                                    be,
                                    isa,
                                    dcol,
                                    View::row_major(k, m),
                                    w,
                                    View::row_major(filters, k).t(),
                                    dys,
                                    dyc,
                                    false,
                                );
                                col2im_planar(dcol, n, input, start, nb, kh, kw, dxl);
                            }
                        }
                    }
                }
                Layer::MaxPool2 { input } => {
                    if need_dx {
                        let mask = self.pool_masks_relu(li);
                        elementwise::max_pool_backward(
                            self.conv_token(),
                            &dy[..ylen],
                            n * input.c,
                            input,
                            &s.argmax[li][..ylen],
                            &s.outs[li][..ylen],
                            mask,
                            dxl,
                        );
                    }
                }
            }
            if convert_dx {
                convert(
                    &s.dtmp[..xlen],
                    wants(&l),
                    &mut dx[..xlen],
                    self.source_layout(li),
                    n,
                    self.source_shape(li),
                );
            }
            std::mem::swap(&mut dy, &mut dx);
        }
        loss
    }

    /// The geometry of layer `l` on `n` samples if it is a convolution that runs on the direct
    /// kernels ([`crate::kernels::direct`]): with our own backend, on every instruction set. The
    /// other backends keep im2col + GEMM (what the tests compare the direct path with).
    pub(crate) fn direct_conv(&self, l: &Layer, n: usize) -> Option<direct::Conv> {
        match *l {
            Layer::Conv2d {
                input,
                kh,
                kw,
                filters,
                ..
            } if self.backend == Backend::Packed => Some(direct::Conv {
                n,
                input,
                kh,
                kw,
                filters,
            }),
            _ => None,
        }
    }

    /// Whether the direct convolution `li` writes the output of the max-pool after it instead of
    /// its own (`direct::Output::Pooled`). Nothing reads the convolution's output then: the pool's
    /// backward pass reads its own output and arg-max, and applies the convolution's ReLU mask
    /// itself ([`Network::pool_masks_relu`]).
    pub(crate) fn pool_fused(&self, li: usize) -> bool {
        self.direct_conv(&self.layers[li], 1).is_some()
            && matches!(self.layers.get(li + 1), Some(Layer::MaxPool2 { .. }))
    }

    /// Whether layer `li` is a max-pool whose input comes from a ReLU layer: its backward pass then
    /// applies that ReLU's mask while scattering (saving a pass over the larger tensor).
    fn pool_masks_relu(&self, li: usize) -> bool {
        li > 0
            && matches!(self.layers.get(li), Some(Layer::MaxPool2 { .. }))
            && self.layers[li - 1].act() == Activation::Relu
    }

    /// Mean cross-entropy over `data`, evaluated in chunks of the scratch's capacity (at least 1).
    pub fn loss(&self, theta: &[f32], data: Batch<'_>, scratch: &mut Scratch) -> f64 {
        self.evaluate(theta, data, scratch).0
    }

    /// Fraction of `data` whose arg-max output equals the label.
    pub fn accuracy(&self, theta: &[f32], data: Batch<'_>, scratch: &mut Scratch) -> f64 {
        self.evaluate(theta, data, scratch).1
    }

    /// (mean cross-entropy, accuracy) over `data` in one forward pass.
    pub fn evaluate(&self, theta: &[f32], data: Batch<'_>, scratch: &mut Scratch) -> (f64, f64) {
        let mut sums = EvalSums::default();
        self.evaluate_into(theta, data, scratch, &mut sums);
        (sums.mean_loss(), sums.accuracy())
    }

    /// Add `data`'s cross-entropy and correct predictions into `sums`, in chunks of the
    /// scratch's capacity (at least 1): an evaluation can be split into pieces (to stay
    /// interruptible) and still add up exactly as one call over the concatenation would.
    pub fn evaluate_into(
        &self,
        theta: &[f32],
        data: Batch<'_>,
        scratch: &mut Scratch,
        sums: &mut EvalSums,
    ) {
        self.check_batch(theta, &data);
        let total = data.len();
        if total == 0 {
            return;
        }
        scratch.fit(self, 1);
        let chunk = scratch.capacity;
        let c = self.classes;
        let il = self.input.len();
        let last = self.layers.len() - 1;
        for start in (0..total).step_by(chunk) {
            let n = chunk.min(total - start);
            self.forward(
                theta,
                &data.images[start * il..(start + n) * il],
                n,
                scratch,
            );
            let logits = &scratch.outs[last][..n * c];
            for (row, &label) in logits.chunks_exact(c).zip(&data.labels[start..start + n]) {
                let (lse, arg) = elementwise::log_sum_exp_argmax(row);
                sums.loss += f64::from(lse - row[label as usize]);
                sums.correct += u64::from(arg == label as usize);
            }
        }
        sums.samples += total as u64;
    }
}
