//! The minimisers behind the fits: an exhaustive grid for the global search (as the thesis'
//! Table A.1 fits), refined locally by golden-section search (1-D) or Nelder–Mead (2-D).

/// Minimise a unimodal function on [a, b] by golden-section search.
pub fn golden(mut f: impl FnMut(f64) -> f64, mut a: f64, mut b: f64, tol: f64) -> f64 {
    let g = (5f64.sqrt() - 1.0) / 2.0;
    let mut c = b - g * (b - a);
    let mut d = a + g * (b - a);
    let (mut fc, mut fd) = (f(c), f(d));
    while (b - a).abs() > tol {
        if fc < fd {
            b = d;
            d = c;
            fd = fc;
            c = b - g * (b - a);
            fc = f(c);
        } else {
            a = c;
            c = d;
            fc = fd;
            d = a + g * (b - a);
            fd = f(d);
        }
    }
    (a + b) / 2.0
}

/// `n ≥ 2` evenly spaced points from `a` to `b`, both included.
pub(crate) fn linspace(a: f64, b: f64, n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| a + (b - a) * i as f64 / (n - 1) as f64)
        .collect()
}

/// The global minimum of `f` on [a, b]: the best of `n` grid points, then golden-section
/// search between its neighbours (the grid must be fine enough that the global minimum's basin
/// holds a grid point, which the callers' spacings ensure for their smooth objectives).
/// The end points are evaluated exactly, so an optimum on a bound is returned as the bound.
pub(crate) fn grid_golden(mut f: impl FnMut(f64) -> f64, a: f64, b: f64, n: usize) -> f64 {
    if a >= b {
        return a;
    }
    let xs = linspace(a, b, n);
    let vals: Vec<f64> = xs.iter().map(|&x| f(x)).collect();
    let i = argmin(&vals);
    let lo = xs[i.saturating_sub(1)];
    let hi = xs[(i + 1).min(n - 1)];
    let tol = 1e-9 * (b - a).max(1.0);
    let x = golden(&mut f, lo, hi, tol);
    // Keep the grid point (or a bound) if the refinement did not improve on it.
    if f(x) <= vals[i] {
        x
    } else {
        xs[i]
    }
}

fn argmin(v: &[f64]) -> usize {
    (0..v.len())
        .min_by(|&i, &j| v[i].total_cmp(&v[j]))
        .expect("non-empty grid")
}

/// A rectangular search box [lo₀, hi₀] × [lo₁, hi₁].
#[derive(Clone, Copy, Debug)]
struct Box2 {
    lo: [f64; 2],
    hi: [f64; 2],
}

impl Box2 {
    fn clamp(&self, x: [f64; 2]) -> [f64; 2] {
        [
            x[0].clamp(self.lo[0], self.hi[0]),
            x[1].clamp(self.lo[1], self.hi[1]),
        ]
    }

    /// How far `x` lies outside the box (0 inside).
    fn outside(&self, x: [f64; 2]) -> f64 {
        (0..2)
            .map(|i| (self.lo[i] - x[i]).max(x[i] - self.hi[i]).max(0.0))
            .sum()
    }
}

/// The global minimum of `f` over the box spanned by the grids `xs × ys` (ascending, each
/// from its lower to its upper bound): every grid point, then Nelder–Mead from each of the (at
/// most `starts`) best grid-local minima, with `f` evaluated at the clamped point plus a
/// penalty outside the box (so a minimum on the boundary is found on it).
pub(crate) fn grid_nelder_mead(
    mut f: impl FnMut([f64; 2]) -> f64,
    xs: &[f64],
    ys: &[f64],
    starts: usize,
) -> [f64; 2] {
    let (nx, ny) = (xs.len(), ys.len());
    let bx = Box2 {
        lo: [xs[0], ys[0]],
        hi: [xs[nx - 1], ys[ny - 1]],
    };
    let vals: Vec<f64> = xs
        .iter()
        .flat_map(|&x| ys.iter().map(move |&y| [x, y]))
        .map(&mut f)
        .collect();
    let at = |i: usize, j: usize| vals[i * ny + j];
    // Grid points no neighbour (8-connected) improves on.
    let mut minima: Vec<(f64, usize, usize)> = Vec::new();
    for i in 0..nx {
        for j in 0..ny {
            let v = at(i, j);
            let lower_neighbour = (i.saturating_sub(1)..=(i + 1).min(nx - 1)).any(|a| {
                (j.saturating_sub(1)..=(j + 1).min(ny - 1))
                    .any(|b| (a, b) != (i, j) && at(a, b) < v)
            });
            if !lower_neighbour && v.is_finite() {
                minima.push((v, i, j));
            }
        }
    }
    if minima.is_empty() {
        let k = argmin(&vals);
        minima.push((vals[k], k / ny, k % ny));
    }
    minima.sort_by(|a, b| a.0.total_cmp(&b.0));
    let spacing = |g: &[f64], i: usize| {
        let (a, b) = (i.saturating_sub(1), (i + 1).min(g.len() - 1));
        (g[b] - g[a]) / (b - a).max(1) as f64
    };
    let mut best = ([xs[minima[0].1], ys[minima[0].2]], minima[0].0);
    for &(_, i, j) in minima.iter().take(starts) {
        let x = nelder_mead_steps(
            |x| f(bx.clamp(x)) + 1e3 * bx.outside(x),
            [xs[i], ys[j]],
            [spacing(xs, i), spacing(ys, j)],
            1e-12,
            1e-7,
            600,
        );
        let x = bx.clamp(x);
        let v = f(x);
        if v < best.1 {
            best = (x, v);
        }
    }
    best.0
}

/// Nelder–Mead in 2-D from `x0` with initial step `step`.
pub fn nelder_mead(
    f: impl FnMut([f64; 2]) -> f64,
    x0: [f64; 2],
    step: f64,
    tol: f64,
    max_iter: usize,
) -> [f64; 2] {
    nelder_mead_steps(f, x0, [step, step], tol, 1e-6, max_iter)
}

/// Nelder–Mead with a step per coordinate; stops when the values agree to `tol` (relative) and
/// the simplex is smaller than `xtol` in each coordinate.
fn nelder_mead_steps(
    mut f: impl FnMut([f64; 2]) -> f64,
    x0: [f64; 2],
    step: [f64; 2],
    tol: f64,
    xtol: f64,
    max_iter: usize,
) -> [f64; 2] {
    let mut s = [x0, [x0[0] + step[0], x0[1]], [x0[0], x0[1] + step[1]]];
    let mut v = s.map(&mut f);
    for _ in 0..max_iter {
        let mut idx = [0, 1, 2];
        idx.sort_by(|&i, &j| v[i].total_cmp(&v[j]));
        s = idx.map(|i| s[i]);
        v = idx.map(|i| v[i]);
        let size = (1..3)
            .map(|i| (s[i][0] - s[0][0]).abs().max((s[i][1] - s[0][1]).abs()))
            .fold(0.0, f64::max);
        if (v[2] - v[0]).abs() <= tol * (v[0].abs() + tol) && size < xtol {
            break;
        }
        let c = [(s[0][0] + s[1][0]) / 2.0, (s[0][1] + s[1][1]) / 2.0];
        let at = |t: f64| [c[0] + t * (s[2][0] - c[0]), c[1] + t * (s[2][1] - c[1])];
        let r = at(-1.0);
        let fr = f(r);
        if fr < v[0] {
            let e = at(-2.0);
            let fe = f(e);
            if fe < fr {
                s[2] = e;
                v[2] = fe;
            } else {
                s[2] = r;
                v[2] = fr;
            }
        } else if fr < v[1] {
            s[2] = r;
            v[2] = fr;
        } else {
            let k = at(if fr < v[2] { -0.5 } else { 0.5 });
            let fk = f(k);
            if fk < v[2].min(fr) {
                s[2] = k;
                v[2] = fk;
            } else {
                for i in 1..3 {
                    s[i] = [(s[0][0] + s[i][0]) / 2.0, (s[0][1] + s[i][1]) / 2.0];
                    v[i] = f(s[i]);
                }
            }
        }
    }
    let best = (0..3)
        .min_by(|&i, &j| v[i].total_cmp(&v[j]))
        .expect("three points");
    s[best]
}
