//! GPU kernels (CubeCL) for the pooled route of a DeepSet, `V(z) = ρ((1/n) Σ_i ψ(z_i))`.
//!
//! ψ's layers before the last are per-agent: `a_0 = z`, `a_l = σ(W_lᵀ a_{l−1} + c_l)` for
//! `l = 1 … L` (`L = layers`, ψ's depth minus one; its last, linear layer commutes with the
//! mean and is applied after pooling). Along the path `z_i(α) = b_i + α (x_i − b_i)`:
//!
//! ```text
//! pool:  S_j   = Σ_i a_L(z_i(α_j))                       (one launch, every point and row)
//! pull:  G_i   = Σ_j J_{a_L}(z_i(α_j))ᵀ g_j                (a launch per range of points)
//! ```
//!
//! with `g_j = (w_j / n) W_ψ ∇ρ(p̄_j)` (`W_ψ` ψ's last layer, `p̄_j` the pooled mean through it)
//! computed between the kernels from the `[points, h]` sums (on the host, by the caller).
//! The pooling kernel loops over agents inside each thread, the pull-back kernel over points
//! (one thread per agent), so the launches per attribution do not depend on `n`; memory is
//! the sums and the output. [`pool_tiled()`] and [`pull_tiled()`] do the same work by tiles of
//! agents, each layer a matrix product through shared memory ([`tiled`]), for networks of two
//! or more per-agent layers. A thread's loops are unrolled over the hidden units and its work
//! bounded by the caller (lavapipe, Mesa's software Vulkan, silently stops a shader's loops
//! after 65 535 iterations). The CPU reference is the structured host route of the engine's
//! DeepSet (`ray`), and both are held to burn's autodiff route.
//!
//! # Layouts
//! - `x`, `b`: `[rows, d, n]` read through explicit strides (a broadcast baseline has
//!   stride 0 on its broadcast axes), `strides` = x's row, coordinate and agent strides, then
//!   b's (`u32`);
//! - `params`: `W_1 [d, h]`, `c_1 [h]`, then `W_l [h, h]`, `c_l [h]` for `l = 2 … L`,
//!   row-major (burn's `Linear` weight is `[in, out]`);
//! - `nodes`: the quadrature nodes `α_j`;
//! - `sums`: `[rows, points, cubes, h]`, one partial sum per cube of agents;
//! - `g`: `[rows, points, h]` contiguous; `out`: `[rows, d, n]` contiguous.

// The launch modules the `cube` macro generates carry no documentation of their own.
#![allow(missing_docs)]

use cubecl::prelude::*;

pub mod tiled;
pub use tiled::{Tile, pool_tiled, pull_tiled};

/// The activation `σ`: [`TANH`], [`SOFTPLUS`], [`GELU`] (exact, through erf) or [`SQUARE`].
pub type ActivationCode = u32;
/// `tanh(u)`.
pub const TANH: ActivationCode = 0;
/// `ln(1 + eᵘ)`.
pub const SOFTPLUS: ActivationCode = 1;
/// `u Φ(u)`, Φ the standard normal CDF.
pub const GELU: ActivationCode = 2;
/// `u²`.
pub const SQUARE: ActivationCode = 3;

/// Threads per cube of the pooling kernel (its shared-memory reduction is sized by it).
pub const POOL_CUBE: usize = 1 << POOL_LEVELS;
/// Halvings of the pooling kernel's reduction.
const POOL_LEVELS: usize = 8;

/// The network's fixed shape, compiled into the kernels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Shape {
    /// Features per agent `d`.
    pub d: usize,
    /// Width `h`.
    pub h: usize,
    /// Per-agent layers `L ≥ 1` (ψ's depth minus one).
    pub layers: usize,
    /// The activation.
    pub activation: ActivationCode,
}

impl Shape {
    /// Values in `params`.
    pub fn params(&self) -> usize {
        self.d * self.h + self.h + (self.layers - 1) * (self.h * self.h + self.h)
    }
}

/// `σ(u)`.
#[cube]
fn sigma<F: Float>(u: F, #[comptime] activation: u32) -> F {
    if comptime![activation == TANH] {
        u.tanh()
    } else if comptime![activation == SOFTPLUS] {
        // ln(1 + eᵘ) = max(u, 0) + ln(1 + e^{−|u|}), finite for every u.
        u.max(F::new(0.0)) + (-u.abs()).exp().log1p()
    } else if comptime![activation == GELU] {
        u * (F::new(1.0) + (u * F::new(core::f32::consts::FRAC_1_SQRT_2)).erf()) * F::new(0.5)
    } else {
        u * u
    }
}

/// `σ'(u)`.
#[cube]
fn sigma_prime<F: Float>(u: F, #[comptime] activation: u32) -> F {
    if comptime![activation == TANH] {
        let t = u.tanh();
        F::new(1.0) - t * t
    } else if comptime![activation == SOFTPLUS] {
        F::new(1.0) / (F::new(1.0) + (-u).exp())
    } else if comptime![activation == GELU] {
        let cdf =
            (F::new(1.0) + (u * F::new(core::f32::consts::FRAC_1_SQRT_2)).erf()) * F::new(0.5);
        // φ(u) = e^{−u²/2} / √(2π)
        let pdf = (u * u * F::new(-0.5)).exp() * F::new(0.398_942_3);
        cdf + u * pdf
    } else {
        u * F::new(2.0)
    }
}

/// Offset of layer `l`'s weights in `params` (`l = 0` is `W_1`).
#[cube]
fn weight_offset(l: usize, #[comptime] d: usize, #[comptime] h: usize) -> usize {
    if l == 0 {
        0usize
    } else {
        d * h + h + (l - 1) * (h * h + h)
    }
}

/// The point `z = b + α (x − b)` of agent `i` in row `r`, into `z`.
#[cube]
#[allow(clippy::too_many_arguments)]
fn path_point<F: Float>(
    x: &[F],
    b: &[F],
    strides: &[u32],
    r: usize,
    i: usize,
    alpha: F,
    z: &mut Array<F>,
    #[comptime] d: usize,
) {
    #[unroll]
    for k in 0..d {
        z[k] = path_coordinate::<F>(x, b, strides, r, k, i, alpha);
    }
}

/// Coordinate `k` of agent `i` of row `r` at `α`: `b + α (x − b)`, `x` and `b` read through
/// `strides` (x's three, then b's).
#[cube]
#[allow(clippy::too_many_arguments)]
fn path_coordinate<F: Float>(
    x: &[F],
    b: &[F],
    strides: &[u32],
    r: usize,
    k: usize,
    i: usize,
    alpha: F,
) -> F {
    let xv = x[r * strides[0] as usize + k * strides[1] as usize + i * strides[2] as usize];
    let bv = b[r * strides[3] as usize + k * strides[4] as usize + i * strides[5] as usize];
    bv + alpha * (xv - bv)
}

/// One layer forward: `out = σ(Wᵀ input + c)` with the weights at `offset`, inputs `width`;
/// the slopes `σ'` into `slopes` at `at` when `keep` is set.
#[cube]
#[allow(clippy::too_many_arguments)]
fn layer_forward<F: Float>(
    params: &[F],
    offset: usize,
    // `&mut` only because CubeCL passes a caller's mutable array on as mutable.
    input: &mut Array<F>,
    out: &mut Array<F>,
    slopes: &mut Array<F>,
    at: usize,
    #[comptime] width: usize,
    #[comptime] h: usize,
    #[comptime] activation: u32,
    #[comptime] keep: bool,
) {
    for o in 0..h {
        let mut u = params[offset + width * h + o];
        #[unroll]
        for q in 0..width {
            u += input[q] * params[offset + q * h + o];
        }
        out[o] = sigma::<F>(u, activation);
        if comptime![keep] {
            slopes[at + o] = sigma_prime::<F>(u, activation);
        }
    }
}

/// ψ's per-agent layers at `z` into `a` (`next` is scratch); with `keep`, each layer's
/// slopes `σ'` into `slopes` at `l·h`.
#[cube]
#[allow(clippy::too_many_arguments)]
fn per_agent_layers<F: Float>(
    params: &[F],
    z: &mut Array<F>,
    a: &mut Array<F>,
    next: &mut Array<F>,
    slopes: &mut Array<F>,
    #[comptime] d: usize,
    #[comptime] h: usize,
    #[comptime] layers: usize,
    #[comptime] activation: u32,
    #[comptime] keep: bool,
) {
    layer_forward::<F>(params, 0usize, z, a, slopes, 0usize, d, h, activation, keep);
    for l in 1..layers {
        let offset = weight_offset(l, d, h);
        layer_forward::<F>(
            params,
            offset,
            a,
            next,
            slopes,
            l * h,
            h,
            h,
            activation,
            keep,
        );
        for o in 0..h {
            a[o] = next[o];
        }
    }
}

/// Partial pooled sums `Σ_i a_L(z_i(α_j))`: cube `(c, j, r)` sums agents `c·C + u`,
/// `(c + cubes)·C + u`, … of row `r` at point `j` (`C` = [`POOL_CUBE`] threads) and writes
/// `sums[r, j, c, :]`.
///
/// `strides` holds `x`'s then `b`'s three strides.
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
pub fn pool<F: Float>(
    x: &[F],
    b: &[F],
    strides: &[u32],
    params: &[F],
    nodes: &[F],
    sums: &mut [F],
    n: usize,
    #[comptime] d: usize,
    #[comptime] h: usize,
    #[comptime] layers: usize,
    #[comptime] activation: u32,
) {
    let unit = UNIT_POS_X as usize;
    let cube = CUBE_POS_X as usize;
    let cubes = CUBE_COUNT_X as usize;
    let j = CUBE_POS_Y as usize;
    let points = CUBE_COUNT_Y as usize;
    let r = CUBE_POS_Z as usize;
    let alpha = nodes[j];

    let mut z = Array::<F>::new(d);
    let mut a = Array::<F>::new(h);
    let mut next = Array::<F>::new(h);
    let mut unused = Array::<F>::new(1usize);
    let mut total = Array::<F>::new(h);
    for o in 0..h {
        total[o] = F::new(0.0);
    }
    let stride = cubes * POOL_CUBE;
    let first = cube * POOL_CUBE + unit;
    let rounds = n.div_ceil(stride);
    for round in 0..rounds {
        let i = first + round * stride;
        if i < n {
            path_point::<F>(x, b, strides, r, i, alpha, &mut z, d);
            per_agent_layers::<F>(
                params,
                &mut z,
                &mut a,
                &mut next,
                &mut unused,
                d,
                h,
                layers,
                activation,
                false,
            );
            for o in 0..h {
                total[o] += a[o];
            }
        }
    }

    // The cube's threads add their sums, one output at a time.
    let mut shared = Shared::<[F]>::new_slice(POOL_CUBE);
    let base = ((r * points + j) * cubes + cube) * h;
    for o in 0..h {
        shared[unit] = total[o];
        sync_cube();
        #[unroll]
        for level in 1..POOL_LEVELS + 1 {
            let half = POOL_CUBE >> level;
            if unit < half {
                let sum = shared[unit] + shared[unit + half];
                shared[unit] = sum;
            }
            sync_cube();
        }
        if unit == 0 {
            sums[base + o] = shared[0];
        }
        sync_cube();
    }
}

/// The gradient sum `G_i = Σ_j J_{a_L}(z_i(α_j))ᵀ g_j` of every agent, one thread per agent of
/// every row: `out[r, :, i]`.
///
/// `strides` holds `x`'s then `b`'s three strides; `g` is `[rows, points, h]`.
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
pub fn pull<F: Float>(
    x: &[F],
    b: &[F],
    strides: &[u32],
    params: &[F],
    nodes: &[F],
    g: &[F],
    out: &mut [F],
    n: usize,
    rows: usize,
    points: usize,
    first: usize,
    count: usize,
    #[comptime] d: usize,
    #[comptime] h: usize,
    #[comptime] layers: usize,
    #[comptime] activation: u32,
) {
    let pos = ABSOLUTE_POS;
    if pos >= rows * n {
        terminate!();
    }
    let r = pos / n;
    let i = pos % n;

    let mut z = Array::<F>::new(d);
    let mut a = Array::<F>::new(h);
    let mut next = Array::<F>::new(h);
    let mut slopes = Array::<F>::new(layers * h);
    let mut delta = Array::<F>::new(h);
    let mut acc = Array::<F>::new(d);
    for k in 0..d {
        acc[k] = F::new(0.0);
    }
    for t in 0..count {
        let j = first + t;
        path_point::<F>(x, b, strides, r, i, nodes[j], &mut z, d);
        per_agent_layers::<F>(
            params,
            &mut z,
            &mut a,
            &mut next,
            &mut slopes,
            d,
            h,
            layers,
            activation,
            true,
        );
        // δ_L = σ'(u_L) ⊙ g_j, then δ_{l−1} = σ'(u_{l−1}) ⊙ W_l δ_l.
        let top = (layers - 1) * h;
        let gj = (r * points + j) * h;
        for o in 0..h {
            delta[o] = slopes[top + o] * g[gj + o];
        }
        for s in 1..layers {
            let l = layers - s;
            let offset = weight_offset(l, d, h);
            for q in 0..h {
                let mut v = F::new(0.0);
                #[unroll]
                for o in 0..h {
                    v += params[offset + q * h + o] * delta[o];
                }
                next[q] = v * slopes[(l - 1) * h + q];
            }
            for q in 0..h {
                delta[q] = next[q];
            }
        }
        for k in 0..d {
            let mut v = F::new(0.0);
            #[unroll]
            for o in 0..h {
                v += params[k * h + o] * delta[o];
            }
            acc[k] += v;
        }
    }
    for k in 0..d {
        let at = (r * d + k) * n + i;
        if first == 0 {
            out[at] = acc[k];
        } else {
            out[at] += acc[k];
        }
    }
}
