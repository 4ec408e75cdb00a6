//! Tensor shapes and layer geometry: what each layer maps from and to, and how many parameters
//! and FLOPs it has. Pure descriptions; no computation.

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

/// One layer of a [`crate::Network`].
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

    pub(crate) fn act(&self) -> Activation {
        match *self {
            Layer::Dense { act, .. } | Layer::Conv2d { act, .. } => act,
            Layer::MaxPool2 { .. } => Activation::Identity,
        }
    }

    /// (fan_in, fan_out) for He/Glorot initialisation.
    pub(crate) fn fans(&self) -> (usize, usize) {
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
