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

use crate::direct;
use crate::matmul::{sgemm, Backend, View};
use crate::packed::Workspace;
use rand::{RngExt, SeedableRng};

/// Per-sample tensor shape, height × width × channels (a dense layer's output is `1 × 1 × units`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Shape {
    pub h: usize,
    pub w: usize,
    pub c: usize,
}

impl Shape {
    pub const fn new(h: usize, w: usize, c: usize) -> Self {
        Shape { h, w, c }
    }
    /// A flat vector of `n` features.
    pub const fn flat(n: usize) -> Self {
        Shape { h: 1, w: 1, c: n }
    }
    /// Number of scalars per sample.
    pub const fn len(&self) -> usize {
        self.h * self.w * self.c
    }
    pub const fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl std::fmt::Display for Shape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}x{}x{}", self.h, self.w, self.c)
    }
}

/// Element-wise activation fused into the layer that produces it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Activation {
    Identity,
    Relu,
}

/// One layer of a [`Network`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Layer {
    /// Fully connected `inputs → outputs` (the input is flattened in `(c, h, w)` order).
    Dense {
        inputs: usize,
        outputs: usize,
        act: Activation,
    },
    /// 2-D convolution, valid padding, stride 1.
    Conv2d {
        input: Shape,
        kh: usize,
        kw: usize,
        filters: usize,
        act: Activation,
    },
    /// 2 × 2 max-pool, stride 2; odd trailing rows/columns are dropped (floor), as in Keras.
    MaxPool2 { input: Shape },
}

impl Layer {
    pub fn input_shape(&self) -> Shape {
        match *self {
            Layer::Dense { inputs, .. } => Shape::flat(inputs),
            Layer::Conv2d { input, .. } | Layer::MaxPool2 { input } => input,
        }
    }

    pub fn output_shape(&self) -> Shape {
        match *self {
            Layer::Dense { outputs, .. } => Shape::flat(outputs),
            Layer::Conv2d {
                input,
                kh,
                kw,
                filters,
                ..
            } => Shape::new(input.h + 1 - kh, input.w + 1 - kw, filters),
            Layer::MaxPool2 { input } => Shape::new(input.h / 2, input.w / 2, input.c),
        }
    }

    /// Number of entries of θ this layer owns.
    pub fn num_params(&self) -> usize {
        match *self {
            Layer::Dense {
                inputs, outputs, ..
            } => inputs * outputs + outputs,
            Layer::Conv2d {
                input,
                kh,
                kw,
                filters,
                ..
            } => kh * kw * input.c * filters + filters,
            Layer::MaxPool2 { .. } => 0,
        }
    }

    /// Multiply-adds counted as 2 FLOPs, per sample, forward pass only.
    pub fn forward_flops(&self) -> u64 {
        match *self {
            Layer::Dense {
                inputs, outputs, ..
            } => 2 * (inputs * outputs) as u64,
            Layer::Conv2d {
                input,
                kh,
                kw,
                filters,
                ..
            } => {
                let o = self.output_shape();
                2 * (o.h * o.w * kh * kw * input.c * filters) as u64
            }
            Layer::MaxPool2 { .. } => 0,
        }
    }

    fn act(&self) -> Activation {
        match *self {
            Layer::Dense { act, .. } | Layer::Conv2d { act, .. } => act,
            Layer::MaxPool2 { .. } => Activation::Identity,
        }
    }

    /// (fan_in, fan_out) for He/Glorot initialisation.
    fn fans(&self) -> (usize, usize) {
        match *self {
            Layer::Dense {
                inputs, outputs, ..
            } => (inputs, outputs),
            Layer::Conv2d {
                input,
                kh,
                kw,
                filters,
                ..
            } => (kh * kw * input.c, kh * kw * filters),
            Layer::MaxPool2 { .. } => (0, 0),
        }
    }
}

/// Why a network description is impossible.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    #[error("layer {layer}: a {kh}x{kw} kernel does not fit a {input} input")]
    KernelTooLarge {
        layer: usize,
        kh: usize,
        kw: usize,
        input: Shape,
    },
    #[error("layer {layer}: max-pool 2x2 needs at least a 2x2 input, got {input}")]
    PoolTooSmall { layer: usize, input: Shape },
    #[error("layer {layer}: a layer needs at least one unit/filter")]
    ZeroWidth { layer: usize },
    #[error("the input shape {0} is empty")]
    EmptyInput(Shape),
    #[error("the network needs at least one layer, and its last layer must be dense")]
    NoOutputLayer,
    #[error("the output layer has {0} units: classification needs at least 2")]
    TooFewClasses(usize),
}

/// Fluent construction of a [`Network`]; shapes are checked by [`NetworkBuilder::build`].
#[derive(Clone, Debug)]
pub struct NetworkBuilder {
    input: Shape,
    cur: Shape,
    layers: Vec<Layer>,
    error: Option<BuildError>,
}

impl NetworkBuilder {
    fn fail(&mut self, e: BuildError) {
        if self.error.is_none() {
            self.error = Some(e);
        }
    }

    /// Convolution with `filters` square `k × k` kernels (valid, stride 1).
    pub fn conv(self, filters: usize, k: usize, act: Activation) -> Self {
        self.conv_rect(filters, k, k, act)
    }

    /// Convolution with `filters` kernels of `kh × kw` (valid, stride 1).
    pub fn conv_rect(mut self, filters: usize, kh: usize, kw: usize, act: Activation) -> Self {
        let layer = self.layers.len();
        if filters == 0 || kh == 0 || kw == 0 {
            self.fail(BuildError::ZeroWidth { layer });
        } else if kh > self.cur.h || kw > self.cur.w {
            self.fail(BuildError::KernelTooLarge {
                layer,
                kh,
                kw,
                input: self.cur,
            });
        } else {
            let l = Layer::Conv2d {
                input: self.cur,
                kh,
                kw,
                filters,
                act,
            };
            self.cur = l.output_shape();
            self.layers.push(l);
        }
        self
    }

    /// 2 × 2 max-pool, stride 2.
    pub fn max_pool(mut self) -> Self {
        let layer = self.layers.len();
        if self.cur.h < 2 || self.cur.w < 2 {
            self.fail(BuildError::PoolTooSmall {
                layer,
                input: self.cur,
            });
        } else {
            let l = Layer::MaxPool2 { input: self.cur };
            self.cur = l.output_shape();
            self.layers.push(l);
        }
        self
    }

    /// Fully connected layer with `units` outputs; flattens its input.
    pub fn dense(mut self, units: usize, act: Activation) -> Self {
        let layer = self.layers.len();
        if units == 0 {
            self.fail(BuildError::ZeroWidth { layer });
        } else {
            let l = Layer::Dense {
                inputs: self.cur.len(),
                outputs: units,
                act,
            };
            self.cur = l.output_shape();
            self.layers.push(l);
        }
        self
    }

    pub fn build(self) -> Result<Network, BuildError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        if self.input.is_empty() {
            return Err(BuildError::EmptyInput(self.input));
        }
        match self.layers.last() {
            Some(Layer::Dense { outputs, .. }) if *outputs < 2 => {
                return Err(BuildError::TooFewClasses(*outputs))
            }
            Some(Layer::Dense { .. }) => {}
            _ => return Err(BuildError::NoOutputLayer),
        }
        let mut offsets = Vec::with_capacity(self.layers.len());
        let mut d = 0;
        for l in &self.layers {
            offsets.push(d);
            d += l.num_params();
        }
        Ok(Network {
            input: self.input,
            classes: self.cur.len(),
            layers: self.layers,
            offsets,
            num_params: d,
            backend: Backend::default(),
        })
    }
}

/// Parameter initialisation schemes (seedable; see [`Network::init_params`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Init {
    /// Every weight and bias drawn from N(0, std²): Alg. B.1's `RAND_INIT`, std = 0.01 in the
    /// thesis' code.
    Normal { std: f32 },
    /// He/Kaiming: weights N(0, 2/fan_in), biases 0. The default for ReLU networks.
    He,
    /// Glorot/Xavier uniform: weights U(±√(6/(fan_in+fan_out))), biases 0.
    Glorot,
}

impl Init {
    /// The thesis' initialisation, N(0, 0.01²) for weights and biases (Alg. B.1).
    pub const THESIS: Init = Init::Normal { std: 0.01 };
}

/// A mini-batch (or a whole data set) as flat NHWC images plus labels; `labels.len()` samples.
#[derive(Clone, Copy, Debug)]
pub struct Batch<'a> {
    pub images: &'a [f32],
    pub labels: &'a [u8],
}

impl Batch<'_> {
    pub fn len(&self) -> usize {
        self.labels.len()
    }
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
}

/// A stateless network description. Cheap to clone and share between threads.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Network {
    input: Shape,
    classes: usize,
    layers: Vec<Layer>,
    offsets: Vec<usize>,
    num_params: usize,
    backend: Backend,
}

/// Per-worker working memory for [`Network::gradient`], sized for a batch capacity. Reusing one
/// `Scratch` makes every call after the first allocation-free with the default
/// [`Backend::Packed`] (the `gemm` and `matrixmultiply` backends allocate their own packing
/// buffers inside every product).
#[derive(Debug, Default)]
pub struct Scratch {
    capacity: usize,
    /// The layers and backend these buffers were sized for (a scratch moved to another network,
    /// or to a backend with other buffers, is resized).
    layers: Vec<Layer>,
    backend: Backend,
    /// Output (post-activation) of each layer, in that layer's layout.
    outs: Vec<Vec<f32>>,
    /// A layer's input converted to the layout it needs (empty when no conversion is needed).
    conv_in: Vec<Vec<f32>>,
    /// Arg-max (0..4) of each pool output element.
    argmax: Vec<Vec<u8>>,
    /// Ping-pong buffers for the gradient w.r.t. activations, and one for layout conversion.
    d0: Vec<f32>,
    d1: Vec<f32>,
    dtmp: Vec<f32>,
    /// Transposed im2col matrix of one chunk of samples (see [`conv_chunk`]); recomputed in the
    /// backward pass rather than stored for the whole batch, so that it stays in L2.
    col: Vec<f32>,
    /// Gradient w.r.t. that matrix.
    dcol: Vec<f32>,
    /// Packing buffer of [`Backend::Packed`].
    ws: Workspace,
    /// Working memory of the direct convolution kernels ([`crate::direct`]).
    direct: direct::Work,
}

/// How a batch of tensors is laid out in memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Layout {
    /// Per sample `h, w, c` (how images arrive).
    Nhwc,
    /// `n × (c·h·w)` row-major, features in `(c, h, w)` order (dense layers).
    Rows,
    /// `[c][n][h][w]` (conv and pool layers).
    Planar,
}

impl Layout {
    /// Whether data in layout `self` can be read as layout `want` without conversion.
    fn reads_as(self, want: Layout, s: Shape) -> bool {
        self == want || s.c == 1 || (self == Layout::Nhwc && want == Layout::Rows && s.h * s.w == 1)
    }

    /// Offset of element (sample b, channel c, pixel p) for `n` samples of shape `s`.
    #[inline]
    fn at(self, s: Shape, n: usize, b: usize, c: usize, p: usize) -> usize {
        let pix = s.h * s.w;
        match self {
            Layout::Nhwc => b * s.len() + p * s.c + c,
            Layout::Rows => b * s.len() + c * pix + p,
            Layout::Planar => (c * n + b) * pix + p,
        }
    }
}

/// Copy `n` samples of shape `s` from layout `from` to layout `to`.
fn convert(src: &[f32], from: Layout, dst: &mut [f32], to: Layout, n: usize, s: Shape) {
    let pix = s.h * s.w;
    for b in 0..n {
        for c in 0..s.c {
            for p in 0..pix {
                dst[to.at(s, n, b, c, p)] = src[from.at(s, n, b, c, p)];
            }
        }
    }
}

fn wants(l: &Layer) -> Layout {
    match l {
        Layer::Dense { .. } => Layout::Rows,
        Layer::Conv2d { .. } | Layer::MaxPool2 { .. } => Layout::Planar,
    }
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

    /// Fresh parameters drawn with `init` from a generator seeded with `seed`.
    pub fn init_params(&self, init: Init, seed: u64) -> Vec<f32> {
        let mut theta = vec![0.0; self.num_params];
        self.init_into(init, seed, &mut theta);
        theta
    }

    /// Like [`Network::init_params`], into a caller-owned θ of length d.
    pub fn init_into(&self, init: Init, seed: u64, theta: &mut [f32]) {
        assert_eq!(theta.len(), self.num_params, "θ has the wrong dimension");
        let mut rng = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(seed);
        for (l, &off) in self.layers.iter().zip(&self.offsets) {
            let p = &mut theta[off..off + l.num_params()];
            if p.is_empty() {
                continue;
            }
            let nb = l.output_shape().c; // biases are the trailing `out channels` entries
            let (w, b) = p.split_at_mut(p.len() - nb);
            let (fan_in, fan_out) = l.fans();
            match init {
                Init::Normal { std } => {
                    w.iter_mut()
                        .chain(b.iter_mut())
                        .for_each(|x| *x = std * normal(&mut rng));
                }
                Init::He => {
                    let std = (2.0 / fan_in as f32).sqrt();
                    w.iter_mut().for_each(|x| *x = std * normal(&mut rng));
                    b.fill(0.0);
                }
                Init::Glorot => {
                    let lim = (6.0 / (fan_in + fan_out) as f32).sqrt();
                    w.iter_mut().for_each(|x| *x = rng.random_range(-lim..lim));
                    b.fill(0.0);
                }
            }
        }
    }

    /// Working memory for batches of up to `capacity` samples.
    pub fn scratch(&self, capacity: usize) -> Scratch {
        let mut s = Scratch::default();
        self.reserve(&mut s, capacity);
        s
    }

    fn reserve(&self, s: &mut Scratch, n: usize) {
        let same = s.layers == self.layers && s.backend == self.backend;
        if s.capacity >= n && same {
            return;
        }
        let n = if same { n.max(s.capacity) } else { n };
        s.layers.clone_from(&self.layers);
        s.backend = self.backend;
        let mut max_act = self.input.len();
        s.outs.clear();
        s.argmax.clear();
        s.conv_in.clear();
        let mut max_col = 0;
        for (li, l) in self.layers.iter().enumerate() {
            let o = l.output_shape();
            max_act = max_act.max(o.len());
            s.outs.push(vec![0.0; n * o.len()]);
            if let (Layer::Conv2d { input, kh, kw, .. }, None) = (*l, self.direct_conv(l, n)) {
                let per_sample = o.h * o.w * kh * kw * input.c;
                max_col = max_col.max(conv_chunk(per_sample).min(n) * per_sample);
            }
            let pool = matches!(l, Layer::MaxPool2 { .. });
            s.argmax.push(if pool {
                vec![0; n * o.len()]
            } else {
                Vec::new()
            });
            let convert = !self
                .source_layout(li)
                .reads_as(wants(l), self.source_shape(li));
            s.conv_in.push(if convert {
                vec![0.0; n * l.input_shape().len()]
            } else {
                Vec::new()
            });
        }
        s.d0 = vec![0.0; n * max_act];
        s.d1 = vec![0.0; n * max_act];
        s.dtmp = vec![0.0; n * max_act];
        s.col = vec![0.0; max_col];
        s.dcol = vec![0.0; max_col];
        s.capacity = n;
    }

    /// Layout of the tensor that feeds layer `li`.
    fn source_layout(&self, li: usize) -> Layout {
        if li == 0 {
            Layout::Nhwc
        } else {
            wants(&self.layers[li - 1])
        }
    }

    /// Real (unflattened) shape of the tensor that feeds layer `li`.
    fn source_shape(&self, li: usize) -> Shape {
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

    /// Forward pass of `n` samples; leaves each layer's output in `s.outs`.
    fn forward(&self, theta: &[f32], images: &[f32], n: usize, s: &mut Scratch) {
        let be = self.backend;
        for (li, l) in self.layers.iter().enumerate() {
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
            let y = &mut rest[0][..n * l.output_shape().len()];
            let p = &theta[self.offsets[li]..self.offsets[li] + l.num_params()];
            match *l {
                Layer::Dense {
                    inputs,
                    outputs,
                    act,
                } => {
                    let (w, b) = p.split_at(inputs * outputs);
                    for row in y.chunks_exact_mut(outputs) {
                        row.copy_from_slice(b);
                    }
                    sgemm(
                        &mut s.ws,
                        be,
                        y,
                        View::row_major(n, outputs),
                        x,
                        View::row_major(n, inputs),
                        w,
                        View::row_major(inputs, outputs),
                        true,
                    );
                    if act == Activation::Relu {
                        relu(y);
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
                        direct::forward(&mut s.direct, &g, x, w, b, act == Activation::Relu, y);
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
                    max_pool_forward(x, n * input.c, input, y, &mut s.argmax[li][..y.len()]);
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
        self.reserve(scratch, n);
        self.forward(theta, batch.images, n, scratch);
        let s = scratch;
        let last = self.layers.len() - 1;
        let c = self.classes;
        let loss =
            softmax_xent_backward(&s.outs[last][..n * c], batch.labels, c, &mut s.d0[..n * c]);
        let be = self.backend;
        // `dy` holds ∂L/∂(output of layer li) on entry; `dx` receives ∂L/∂(its input).
        let (mut dy, mut dx) = (&mut s.d0, &mut s.d1);
        for li in (0..self.layers.len()).rev() {
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
                relu_backward(&s.outs[li][..ylen], &mut dy[..ylen]);
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
                        gw,
                        View::row_major(inputs, outputs),
                        &x[..xlen],
                        View::row_major(n, inputs).t(),
                        dyv,
                        View::row_major(n, outputs),
                        false,
                    );
                    column_sums(dyv, outputs, gb);
                    if need_dx {
                        let (w, _) = p.split_at(inputs * outputs);
                        // dX = dY·Wᵀ
                        sgemm(
                            &mut s.ws,
                            be,
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
                    for (f, gbf) in gb.iter_mut().enumerate() {
                        *gbf = dy[f * n * pix..(f + 1) * n * pix].iter().sum();
                    }
                    if let Some(g) = self.direct_conv(&l, n) {
                        let dxd = need_dx.then_some(dxl);
                        direct::backward(&mut s.direct, &g, &x[..xlen], w, &dy[..ylen], gw, dxd);
                    } else {
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
                        max_pool_backward(
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
    /// kernels ([`crate::direct`]): with our own backend on a CPU that has them. The other backends keep im2col + GEMM, which
    /// is also the fallback without AVX-512 (and what the tests compare the direct path with).
    fn direct_conv(&self, l: &Layer, n: usize) -> Option<direct::Conv> {
        match *l {
            Layer::Conv2d {
                input,
                kh,
                kw,
                filters,
                ..
            } if self.backend == Backend::Packed && direct::available() => Some(direct::Conv {
                n,
                input,
                kh,
                kw,
                filters,
            }),
            _ => None,
        }
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
        self.check_batch(theta, &data);
        let total = data.len();
        if total == 0 {
            return (0.0, 0.0);
        }
        self.reserve(scratch, 1);
        let chunk = scratch.capacity;
        let (mut loss, mut correct) = (0.0f64, 0usize);
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
                let (lse, arg) = log_sum_exp_argmax(row);
                loss += f64::from(lse - row[label as usize]);
                correct += usize::from(arg == label as usize);
            }
        }
        (loss / total as f64, correct as f64 / total as f64)
    }
}

/// Standard normal sample (Box–Muller); avoids a distribution crate for one function.
fn normal(rng: &mut impl rand::Rng) -> f32 {
    let u1: f64 = 1.0 - rng.random::<f64>(); // (0, 1]
    let u2: f64 = rng.random::<f64>();
    ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
}

fn relu(y: &mut [f32]) {
    y.iter_mut().for_each(|v| *v = v.max(0.0));
}

fn relu_backward(y: &[f32], dy: &mut [f32]) {
    for (d, &v) in dy.iter_mut().zip(y) {
        *d = if v > 0.0 { *d } else { 0.0 };
    }
}

fn column_sums(m: &[f32], cols: usize, out: &mut [f32]) {
    out.fill(0.0);
    for row in m.chunks_exact(cols) {
        for (o, &v) in out.iter_mut().zip(row) {
            *o += v;
        }
    }
}

/// (log Σ exp z, arg max z), stable by subtracting the maximum.
fn log_sum_exp_argmax(z: &[f32]) -> (f32, usize) {
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
fn softmax_xent_backward(logits: &[f32], labels: &[u8], c: usize, d: &mut [f32]) -> f32 {
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

/// Samples per im2col chunk: about 512 KiB of `col`, so it stays in L2 between im2col and GEMM.
fn conv_chunk(col_floats_per_sample: usize) -> usize {
    ((128 * 1024) / col_floats_per_sample.max(1)).max(1)
}

/// im2col of samples `start..start + nb` of a planar batch of `n`, for a valid stride-1
/// convolution: `col[(c·kh + ky)·kw + kx][(b, oy, ox)]` (k × m, m = nb·oh·ow), built from
/// contiguous runs of `ow` pixels.
#[allow(clippy::too_many_arguments)]
fn im2col_planar(
    x: &[f32],
    n: usize,
    s: Shape,
    start: usize,
    nb: usize,
    kh: usize,
    kw: usize,
    col: &mut [f32],
) {
    let (oh, ow, pix) = (s.h + 1 - kh, s.w + 1 - kw, s.h * s.w);
    let m = nb * oh * ow;
    let mut rows = col.chunks_exact_mut(m);
    for c in 0..s.c {
        for ky in 0..kh {
            for kx in 0..kw {
                let row = rows.next().expect("col has k rows");
                for (bl, dst) in row.chunks_exact_mut(oh * ow).enumerate() {
                    let img = &x[(c * n + start + bl) * pix..(c * n + start + bl + 1) * pix];
                    for (oy, d) in dst.chunks_exact_mut(ow).enumerate() {
                        let src = (oy + ky) * s.w + kx;
                        // An inline loop: rows are short, and a `memcpy` call per row costs more
                        // than the copy.
                        for (dv, &sv) in d.iter_mut().zip(&img[src..src + ow]) {
                            *dv = sv;
                        }
                    }
                }
            }
        }
    }
}

/// Adjoint of [`im2col_planar`]: overwrites samples `start..start + nb` of the planar `dx` with
/// the scatter-sum of `dcol`.
#[allow(clippy::too_many_arguments)]
fn col2im_planar(
    dcol: &[f32],
    n: usize,
    s: Shape,
    start: usize,
    nb: usize,
    kh: usize,
    kw: usize,
    dx: &mut [f32],
) {
    let (oh, ow, pix) = (s.h + 1 - kh, s.w + 1 - kw, s.h * s.w);
    let m = nb * oh * ow;
    for c in 0..s.c {
        dx[(c * n + start) * pix..(c * n + start + nb) * pix].fill(0.0);
    }
    let mut rows = dcol.chunks_exact(m);
    for c in 0..s.c {
        for ky in 0..kh {
            for kx in 0..kw {
                let row = rows.next().expect("dcol has k rows");
                for (bl, src) in row.chunks_exact(oh * ow).enumerate() {
                    let img = &mut dx[(c * n + start + bl) * pix..(c * n + start + bl + 1) * pix];
                    for (oy, sr) in src.chunks_exact(ow).enumerate() {
                        let at = (oy + ky) * s.w + kx;
                        for (d, &v) in img[at..at + ow].iter_mut().zip(sr) {
                            *d += v;
                        }
                    }
                }
            }
        }
    }
}

/// 2 × 2 max-pool of `planes` planar images of `s.h × s.w` (stride 2, floor). `arg` records which
/// corner (0..4, first maximum wins) each output came from.
fn max_pool_forward(x: &[f32], planes: usize, s: Shape, y: &mut [f32], arg: &mut [u8]) {
    let (ph, pw, pix) = (s.h / 2, s.w / 2, s.h * s.w);
    for pl in 0..planes {
        let img = &x[pl * pix..(pl + 1) * pix];
        for py in 0..ph {
            let r0 = &img[2 * py * s.w..2 * py * s.w + 2 * pw];
            let r1 = &img[(2 * py + 1) * s.w..(2 * py + 1) * s.w + 2 * pw];
            let o = (pl * ph + py) * pw;
            let (yo, ao) = (&mut y[o..o + pw], &mut arg[o..o + pw]);
            for (((yv, av), t), b) in yo
                .iter_mut()
                .zip(ao.iter_mut())
                .zip(r0.chunks_exact(2))
                .zip(r1.chunks_exact(2))
            {
                let (m01, q01) = if t[1] > t[0] {
                    (t[1], 1u8)
                } else {
                    (t[0], 0u8)
                };
                let (m23, q23) = if b[1] > b[0] {
                    (b[1], 3u8)
                } else {
                    (b[0], 2u8)
                };
                let (m, q) = if m23 > m01 { (m23, q23) } else { (m01, q01) };
                *yv = m;
                *av = q;
            }
        }
    }
}

/// Scatter `dy` to the arg-max positions of each window (other positions get 0). With `mask`,
/// the pool's input is a ReLU output: where the pooled maximum `y` is not positive that ReLU was
/// inactive, so the gradient is 0 — the ReLU's backward pass, without reading its output.
fn max_pool_backward(
    dy: &[f32],
    planes: usize,
    s: Shape,
    arg: &[u8],
    y: &[f32],
    mask: bool,
    dx: &mut [f32],
) {
    let (ph, pw, pix) = (s.h / 2, s.w / 2, s.h * s.w);
    for pl in 0..planes {
        let img = &mut dx[pl * pix..(pl + 1) * pix];
        for py in 0..ph {
            let o = (pl * ph + py) * pw;
            let (top, bottom) = img[2 * py * s.w..(2 * py + 2) * s.w].split_at_mut(s.w);
            // Every position of every window is written, so no separate zeroing pass.
            let windows = top.chunks_exact_mut(2).zip(bottom.chunks_exact_mut(2));
            let src = dy[o..o + pw].iter().zip(&arg[o..o + pw]).zip(&y[o..o + pw]);
            for ((t, b), ((&d, &q), &yv)) in windows.zip(src) {
                let g = if !mask || yv > 0.0 { d } else { 0.0 };
                t[0] = if q == 0 { g } else { 0.0 };
                t[1] = if q == 1 { g } else { 0.0 };
                b[0] = if q == 2 { g } else { 0.0 };
                b[1] = if q == 3 { g } else { 0.0 };
            }
            if s.w % 2 == 1 {
                top[s.w - 1] = 0.0;
                bottom[s.w - 1] = 0.0;
            }
        }
        if s.h % 2 == 1 {
            img[(s.h - 1) * s.w..].fill(0.0);
        }
    }
}
