//! Fluent, checked construction of a [`Network`].

use crate::kernels::isa::{Isa, IsaError};
use crate::network::Network;
use crate::shape::{Activation, Layer, Shape};
use crate::Backend;

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
    #[error(transparent)]
    Isa(#[from] IsaError),
}

/// Fluent construction of a [`Network`]; shapes are checked by [`NetworkBuilder::build`].
#[derive(Clone, Debug)]
pub struct NetworkBuilder {
    pub(crate) input: Shape,
    pub(crate) cur: Shape,
    pub(crate) layers: Vec<Layer>,
    pub(crate) error: Option<BuildError>,
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

    /// The network, on the instruction set [`Isa::preferred`] picks (`NN_ISA` when set, else the
    /// best this CPU has) and the default [`Backend`].
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
        let isa = Isa::preferred()?;
        Ok(Network {
            input: self.input,
            classes: self.cur.len(),
            layers: self.layers,
            offsets,
            num_params: d,
            backend: Backend::default(),
            isa,
            conv_isa: isa.for_convolution(),
        })
    }
}
