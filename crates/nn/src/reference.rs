//! A deliberately naive f64 implementation of the forward pass and loss, written independently of
//! the fast path (direct convolution loops, no im2col, no GEMM). Tests compare the fast f32
//! gradient against central finite differences of this function, so a bug shared by forward and
//! backward of the fast path cannot hide.

use crate::shape::{Activation, Layer};
use crate::Network;

/// Mean cross-entropy of `labels.len()` samples, computed in f64 with direct loops.
pub fn loss_f64(net: &Network, theta: &[f64], images: &[f64], labels: &[u8]) -> f64 {
    let il = net.input_shape().len();
    let mut total = 0.0;
    for (s, &label) in labels.iter().enumerate() {
        let logits = forward_one(net, theta, &images[s * il..(s + 1) * il]);
        let mx = logits.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let lse = mx + logits.iter().map(|z| (z - mx).exp()).sum::<f64>().ln();
        total += lse - logits[label as usize];
    }
    total / labels.len() as f64
}

/// Logits of one sample (given as HWC, like the fast path's input).
pub fn forward_one(net: &Network, theta: &[f64], x: &[f64]) -> Vec<f64> {
    // Activations are kept per sample as CHW; flattening for dense layers is therefore (c, h, w).
    let s = net.input_shape();
    let mut a = vec![0.0; s.len()];
    for p in 0..s.h * s.w {
        for c in 0..s.c {
            a[c * s.h * s.w + p] = x[p * s.c + c];
        }
    }
    for (l, &off) in net.layers().iter().zip(net.param_offsets()) {
        let p = &theta[off..off + l.num_params()];
        a = match *l {
            Layer::Dense {
                inputs,
                outputs,
                act,
            } => {
                let mut y = vec![0.0; outputs];
                for (j, yj) in y.iter_mut().enumerate() {
                    let mut s = p[inputs * outputs + j];
                    for (i, ai) in a.iter().enumerate() {
                        s += ai * p[i * outputs + j];
                    }
                    *yj = act_f64(s, act);
                }
                y
            }
            Layer::Conv2d {
                input,
                kh,
                kw,
                filters,
                act,
            } => {
                let o = l.output_shape();
                let k = kh * kw * input.c;
                let mut y = vec![0.0; o.len()];
                for oy in 0..o.h {
                    for ox in 0..o.w {
                        for f in 0..filters {
                            let mut s = p[k * filters + f];
                            for ky in 0..kh {
                                for kx in 0..kw {
                                    for c in 0..input.c {
                                        let xin = a[(c * input.h + oy + ky) * input.w + ox + kx];
                                        s += xin * p[f * k + (c * kh + ky) * kw + kx];
                                    }
                                }
                            }
                            y[(f * o.h + oy) * o.w + ox] = act_f64(s, act);
                        }
                    }
                }
                y
            }
            Layer::MaxPool2 { input } => {
                let o = l.output_shape();
                let mut y = vec![f64::NEG_INFINITY; o.len()];
                for py in 0..o.h {
                    for px in 0..o.w {
                        for c in 0..input.c {
                            for (dy, dx) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
                                let v = a[(c * input.h + 2 * py + dy) * input.w + 2 * px + dx];
                                let t = &mut y[(c * o.h + py) * o.w + px];
                                *t = t.max(v);
                            }
                        }
                    }
                }
                y
            }
        };
    }
    a
}

fn act_f64(v: f64, act: Activation) -> f64 {
    match act {
        Activation::Identity => v,
        Activation::Relu => v.max(0.0),
    }
}
