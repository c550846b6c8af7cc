//! Tiled forms of the [`pool`](super::pool()) and [`pull`](super::pull()) kernels for networks
//! whose per-agent layers are matrix products worth sharing (`L ≥ 2` layers, width `h ≥ 16`,
//! a multiple of 4).
//!
//! A cube takes a tile of agents at one quadrature point at a time and runs every layer as a
//! small matrix product: the tile's activations (`agents × h`, rows padded by one value) sit in
//! shared memory and each thread computes a 4 × 4 block of the next layer (4 agents, strided by
//! [`Tile::down`], × 4 consecutive units) in registers, so a weight read from memory serves
//! four agents and an activation read from shared memory four units. The thread keeps its
//! block's slopes `σ'(u_l)` of every layer in registers, and the pull-back runs the same
//! products with the transposed weights:
//!
//! ```text
//! forward:  U_l = A_{l−1} W_l + c_l,   A_l = σ(U_l)                A_0 = Z (the tile's points)
//! backward: Δ_L = σ'(U_L) ⊙ g_j,       Δ_{l−1} = σ'(U_{l−1}) ⊙ (Δ_l W_lᵀ)
//! G        = (Σ_j Δ_1) W_1ᵀ                                          (linear in Δ_1: once a tile)
//! ```
//!
//! `params` holds the forward parameters of [`Shape::params`] followed by `W_lᵀ` for
//! `l = 2 … L` (`[h, h]` each, [`Tile::transposed_offset`]); the other layouts are those of the
//! plain kernels.

use cubecl::prelude::*;

use super::{Shape, path_coordinate, sigma, sigma_prime, weight_offset};

/// Consecutive units a thread computes.
const UNITS: usize = 4;
/// Agents a thread computes (strided by [`Tile::down`]).
const AGENTS: usize = 4;
/// A thread's block of a layer: `AGENTS × UNITS` values, agent-major.
const BLOCK: usize = AGENTS * UNITS;
/// Threads a cube has at most.
const THREADS: usize = 256;

/// The tiled kernels' thread layout for one network: `across = h / 4` threads over the units,
/// `down` over the agents, a tile of `4 · down` agents.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Tile {
    /// Threads across the units.
    pub across: usize,
    /// Threads down the agents.
    pub down: usize,
}

impl Tile {
    /// The layout for `shape`, or `None` where the tiled kernels do not serve (one per-agent
    /// layer, a width under 16 or not a multiple of 4, wider than 4 × 256).
    pub fn new(shape: &Shape) -> Option<Self> {
        let h = shape.h;
        if shape.layers < 2 || h < 16 || !h.is_multiple_of(UNITS) || h / UNITS > THREADS {
            return None;
        }
        let across = h / UNITS;
        Some(Self {
            across,
            down: THREADS / across,
        })
    }

    /// The largest tile of this layout, halving `down`, whose cube stays within `threads`
    /// threads and `shared_bytes` of shared memory at `element_bytes` a value; `None` where not
    /// even one row of threads does.
    pub fn within(
        self,
        shape: &Shape,
        element_bytes: usize,
        shared_bytes: usize,
        threads: usize,
    ) -> Option<Self> {
        let mut tile = self;
        while tile.threads() > threads || tile.shared_values(shape) * element_bytes > shared_bytes {
            if tile.down == 1 {
                return None;
            }
            tile.down /= 2;
        }
        Some(tile)
    }

    /// Agents a tile holds.
    pub fn agents(&self) -> usize {
        AGENTS * self.down
    }

    /// Threads a cube has.
    pub fn threads(&self) -> usize {
        self.across * self.down
    }

    /// Values of shared memory a cube holds: the tile's activations and points.
    pub fn shared_values(&self, shape: &Shape) -> usize {
        self.agents() * (shape.h + 1 + shape.d)
    }

    /// Offset of `W_{l+1}ᵀ` in `params` (`l ≥ 1` a per-agent layer's index from zero).
    pub fn transposed_offset(shape: &Shape, l: usize) -> usize {
        shape.params() + (l - 1) * shape.h * shape.h
    }

    /// Values in `params`: the forward parameters, then the transposes.
    pub fn params(shape: &Shape) -> usize {
        Self::transposed_offset(shape, shape.layers)
    }

    /// Loop iterations a thread runs per tile and point, forward only (`pool`) or forward and
    /// back (`pull`).
    pub fn iterations(shape: &Shape, backward: bool) -> usize {
        let products = if backward { 2 } else { 1 };
        shape.d + products * (shape.layers - 1) * shape.h + shape.h + 4
    }
}

/// The tile's points: `zs[a·d + k] = z_k` of agent `first + a` of row `r` at `α`, zero past `n`.
#[cube]
#[allow(clippy::too_many_arguments)]
fn tile_points<F: Float>(
    x: &[F],
    b: &[F],
    strides: &[u32],
    r: usize,
    first: usize,
    n: usize,
    alpha: F,
    zs: &mut [F],
    #[comptime] d: usize,
    #[comptime] agents: usize,
    #[comptime] threads: usize,
) {
    let unit = UNIT_POS as usize;
    #[unroll]
    for s in 0..comptime![(agents * d).div_ceil(threads)] {
        let idx = unit + s * threads;
        if idx < agents * d {
            let i = first + idx / d;
            let k = idx % d;
            let mut v = F::new(0.0);
            if i < n {
                v = path_coordinate::<F>(x, b, strides, r, k, i, alpha);
            }
            zs[idx] = v;
        }
    }
}

/// The thread's block of `src · W (+ c)`: `acc[c·4 + k] = Σ_q src[a_c·stride + q] W[q, u_k]`,
/// agents `a_c = row + c·down`, units `u_k = 4·col + k`, `W` (`[width, h]`) at `offset` in
/// `params` and, with `bias`, `c` right after it.
#[cube]
#[allow(clippy::too_many_arguments)]
fn block_product<F: Float>(
    params: &[F],
    offset: usize,
    // `&mut` only because CubeCL passes a caller's mutable array on as mutable.
    src: &mut [F],
    row: usize,
    col: usize,
    acc: &mut Array<F>,
    #[comptime] width: usize,
    #[comptime] stride: usize,
    #[comptime] h: usize,
    #[comptime] down: usize,
    #[comptime] bias: bool,
) {
    let u0 = col * UNITS;
    #[unroll]
    for k in 0..UNITS {
        let mut c0 = F::new(0.0);
        if comptime![bias] {
            c0 = params[offset + width * h + u0 + k];
        }
        #[unroll]
        for c in 0..AGENTS {
            acc[c * UNITS + k] = c0;
        }
    }
    for q in 0..width {
        let at = offset + q * h + u0;
        let w0 = params[at];
        let w1 = params[at + 1];
        let w2 = params[at + 2];
        let w3 = params[at + 3];
        #[unroll]
        for c in 0..AGENTS {
            let a = src[(row + c * down) * stride + q];
            acc[c * UNITS] += a * w0;
            acc[c * UNITS + 1] += a * w1;
            acc[c * UNITS + 2] += a * w2;
            acc[c * UNITS + 3] += a * w3;
        }
    }
}

/// Writes the thread's block `σ(acc)` (or `acc` itself without `activate`) into the tile's
/// activations.
#[cube]
#[allow(clippy::too_many_arguments)]
fn store_block<F: Float>(
    acc: &mut Array<F>,
    act: &mut [F],
    row: usize,
    col: usize,
    #[comptime] h: usize,
    #[comptime] down: usize,
    #[comptime] activation: u32,
    #[comptime] activate: bool,
) {
    #[unroll]
    for c in 0..AGENTS {
        #[unroll]
        for k in 0..UNITS {
            let mut v = acc[c * UNITS + k];
            if comptime![activate] {
                v = sigma::<F>(v, activation);
            }
            act[(row + c * down) * (h + 1) + col * UNITS + k] = v;
        }
    }
}

/// ψ's per-agent layers over the tile at `zs`: on return `acc` holds the thread's block of
/// `U_L`, and with `keep` the blocks of `σ'(U_l)` are in `slopes` at `l·16`. Leaves the cube
/// synchronised after its last read of `act`.
#[cube]
#[allow(clippy::too_many_arguments)]
fn tile_forward<F: Float>(
    params: &[F],
    zs: &mut [F],
    act: &mut [F],
    acc: &mut Array<F>,
    slopes: &mut Array<F>,
    row: usize,
    col: usize,
    #[comptime] d: usize,
    #[comptime] h: usize,
    #[comptime] layers: usize,
    #[comptime] activation: u32,
    #[comptime] down: usize,
    #[comptime] keep: bool,
) {
    block_product::<F>(params, 0usize, zs, row, col, acc, d, d, h, down, true);
    #[unroll]
    for l in 1..layers {
        if comptime![keep] {
            keep_slopes::<F>(acc, slopes, l - 1, activation);
        }
        store_block::<F>(acc, act, row, col, h, down, activation, true);
        sync_cube();
        let offset = weight_offset(l, d, h);
        block_product::<F>(params, offset, act, row, col, acc, h, h + 1, h, down, true);
        sync_cube();
    }
    if comptime![keep] {
        keep_slopes::<F>(acc, slopes, layers - 1, activation);
    }
}

/// `slopes[l·16 + e] = σ'(acc[e])`.
#[cube]
fn keep_slopes<F: Float>(
    acc: &mut Array<F>,
    slopes: &mut Array<F>,
    l: usize,
    #[comptime] activation: u32,
) {
    #[unroll]
    for e in 0..BLOCK {
        slopes[l * BLOCK + e] = sigma_prime::<F>(acc[e], activation);
    }
}

/// Partial pooled sums `Σ_i a_L(z_i(α_j))` by tiles: cube `(c, j, r)` takes tiles `c`,
/// `c + cubes`, … of row `r` at point `j` and writes `sums[r, j, c, :]`.
#[cube(launch_unchecked)]
#[allow(clippy::too_many_arguments)]
pub fn pool_tiled<F: Float>(
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
    #[comptime] across: usize,
    #[comptime] down: usize,
) {
    let agents = comptime![AGENTS * down];
    let (col, row) = (UNIT_POS_X as usize, UNIT_POS_Y as usize);
    let (cube, cubes) = (CUBE_POS_X as usize, CUBE_COUNT_X as usize);
    let (j, points, r) = (
        CUBE_POS_Y as usize,
        CUBE_COUNT_Y as usize,
        CUBE_POS_Z as usize,
    );
    let mut zs = Shared::<[F]>::new_slice(comptime![agents * d]);
    let mut act = Shared::<[F]>::new_slice(comptime![agents * (h + 1)]);
    let mut acc = Array::<F>::new(BLOCK);
    let mut unused = Array::<F>::new(1usize);
    let mut total = Array::<F>::new(UNITS);
    #[unroll]
    for k in 0..UNITS {
        total[k] = F::new(0.0);
    }
    let tiles = n.div_ceil(agents);
    for round in 0..tiles.div_ceil(cubes) {
        let tile = cube + round * cubes;
        // The same for every thread of the cube: its barriers stay uniform.
        if tile < tiles {
            let first = tile * agents;
            let threads = comptime![across * down];
            tile_points::<F>(
                x, b, strides, r, first, n, nodes[j], &mut zs, d, agents, threads,
            );
            sync_cube();
            tile_forward::<F>(
                params,
                &mut zs,
                &mut act,
                &mut acc,
                &mut unused,
                row,
                col,
                d,
                h,
                layers,
                activation,
                down,
                false,
            );
            #[unroll]
            for c in 0..AGENTS {
                if first + row + c * down < n {
                    #[unroll]
                    for k in 0..UNITS {
                        total[k] += sigma::<F>(acc[c * UNITS + k], activation);
                    }
                }
            }
        }
    }
    // The cube's rows of threads add their sums: each unit's `down` partial sums.
    sync_cube();
    #[unroll]
    for k in 0..UNITS {
        act[row * h + col * UNITS + k] = total[k];
    }
    sync_cube();
    if row == 0 {
        let base = ((r * points + j) * cubes + cube) * h;
        #[unroll]
        for k in 0..UNITS {
            let u = col * UNITS + k;
            let mut s = F::new(0.0);
            for a in 0..down {
                s += act[a * h + u];
            }
            sums[base + u] = s;
        }
    }
}

/// The gradient sums `G_i = Σ_j J_{a_L}(z_i(α_j))ᵀ g_j` of a tile of agents per cube, points
/// `first … first + count − 1`: cube `(x, y, r)` takes tile `y · cubes_x + x` of row `r` and
/// writes (or, past the first point, adds to) `out[r, :, i]`.
#[cube(launch_unchecked)]
#[allow(clippy::too_many_arguments)]
pub fn pull_tiled<F: Float>(
    x: &[F],
    b: &[F],
    strides: &[u32],
    params: &[F],
    nodes: &[F],
    g: &[F],
    out: &mut [F],
    n: usize,
    points: usize,
    first: usize,
    count: usize,
    #[comptime] d: usize,
    #[comptime] h: usize,
    #[comptime] layers: usize,
    #[comptime] activation: u32,
    #[comptime] across: usize,
    #[comptime] down: usize,
) {
    let agents = comptime![AGENTS * down];
    let threads = comptime![across * down];
    let tile = (CUBE_POS_Y * CUBE_COUNT_X + CUBE_POS_X) as usize;
    // The same for every thread of the cube.
    if tile >= n.div_ceil(agents) {
        terminate!();
    }
    let (col, row) = (UNIT_POS_X as usize, UNIT_POS_Y as usize);
    let r = CUBE_POS_Z as usize;
    let start = tile * agents;
    let mut zs = Shared::<[F]>::new_slice(comptime![agents * d]);
    let mut act = Shared::<[F]>::new_slice(comptime![agents * (h + 1)]);
    let mut acc = Array::<F>::new(BLOCK);
    let mut slopes = Array::<F>::new(comptime![layers * BLOCK]);
    let mut total = Array::<F>::new(BLOCK);
    #[unroll]
    for e in 0..BLOCK {
        total[e] = F::new(0.0);
    }
    for t in 0..count {
        let j = first + t;
        tile_points::<F>(
            x, b, strides, r, start, n, nodes[j], &mut zs, d, agents, threads,
        );
        sync_cube();
        tile_forward::<F>(
            params,
            &mut zs,
            &mut act,
            &mut acc,
            &mut slopes,
            row,
            col,
            d,
            h,
            layers,
            activation,
            down,
            true,
        );
        let gj = (r * points + j) * h + col * UNITS;
        tile_backward::<F>(
            params,
            g,
            gj,
            &mut act,
            &mut acc,
            &mut slopes,
            row,
            col,
            d,
            h,
            layers,
            down,
        );
        #[unroll]
        for e in 0..BLOCK {
            total[e] += acc[e];
        }
    }
    // G = (Σ_j Δ_1) W_1ᵀ for the tile's agents.
    store_block::<F>(&mut total, &mut act, row, col, h, down, 0u32, false);
    sync_cube();
    write_gradients::<F>(
        params, &mut act, out, r, start, n, first, d, h, agents, threads,
    );
}

/// The thread's block of `Δ_1` at one point into `acc`, from the slopes `forward` kept:
/// `Δ_L = σ'(U_L) ⊙ g_j` (`g_j` at `gj` in `g`, the thread's units), then
/// `Δ_{l−1} = σ'(U_{l−1}) ⊙ (Δ_l W_lᵀ)` through the transposes.
#[cube]
#[allow(clippy::too_many_arguments)]
fn tile_backward<F: Float>(
    params: &[F],
    g: &[F],
    gj: usize,
    act: &mut [F],
    acc: &mut Array<F>,
    slopes: &mut Array<F>,
    row: usize,
    col: usize,
    #[comptime] d: usize,
    #[comptime] h: usize,
    #[comptime] layers: usize,
    #[comptime] down: usize,
) {
    #[unroll]
    for c in 0..AGENTS {
        #[unroll]
        for k in 0..UNITS {
            let e = c * UNITS + k;
            acc[e] = slopes[(layers - 1) * BLOCK + e] * g[gj + k];
        }
    }
    #[unroll]
    for s in 1..layers {
        let l = layers - s;
        store_block::<F>(acc, act, row, col, h, down, 0u32, false);
        sync_cube();
        // W_{l+1}ᵀ, after the forward parameters (`weight_offset(layers)`).
        let offset = weight_offset(layers, d, h) + (l - 1) * h * h;
        block_product::<F>(params, offset, act, row, col, acc, h, h + 1, h, down, false);
        sync_cube();
        #[unroll]
        for e in 0..BLOCK {
            acc[e] *= slopes[(l - 1) * BLOCK + e];
        }
    }
}

/// `out[r, k, i] (+)= Σ_o Δ[a, o] W_1[k, o]` for the tile's agents `i = start + a < n`, the
/// summed `Δ_1` in `act`: written at the first point, added to after it.
#[cube]
#[allow(clippy::too_many_arguments)]
fn write_gradients<F: Float>(
    params: &[F],
    act: &mut [F],
    out: &mut [F],
    r: usize,
    start: usize,
    n: usize,
    first: usize,
    #[comptime] d: usize,
    #[comptime] h: usize,
    #[comptime] agents: usize,
    #[comptime] threads: usize,
) {
    let unit = UNIT_POS as usize;
    #[unroll]
    for s in 0..comptime![(agents * d).div_ceil(threads)] {
        let idx = unit + s * threads;
        let a = idx / d;
        let i = start + a;
        if idx < agents * d && i < n {
            let k = idx % d;
            let mut v = F::new(0.0);
            for o in 0..h {
                v += act[a * (h + 1) + o] * params[k * h + o];
            }
            let at = (r * d + k) * n + i;
            if first == 0 {
                out[at] = v;
            } else {
                out[at] += v;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(h: usize, layers: usize) -> Shape {
        Shape {
            d: 3,
            h,
            layers,
            activation: super::super::TANH,
        }
    }

    #[test]
    fn tiles_cover_the_units_with_four_each_and_fill_a_cube() {
        let t = Tile::new(&shape(64, 2)).expect("width 64, two per-agent layers");
        assert_eq!(
            (t.across, t.down, t.agents(), t.threads()),
            (16, 16, 64, 256)
        );
        let t = Tile::new(&shape(40, 2)).expect("width 40");
        assert_eq!(
            (t.across, t.down, t.agents(), t.threads()),
            (10, 25, 100, 250)
        );
        let t = Tile::new(&shape(128, 5)).expect("width 128");
        assert_eq!((t.across, t.down, t.agents()), (32, 8, 32));
        // 64 agents × (64 + 1 + 3) values.
        assert_eq!(
            Tile::new(&shape(64, 2))
                .unwrap()
                .shared_values(&shape(64, 2)),
            4352
        );
    }

    #[test]
    fn tiles_refuse_what_a_thread_block_cannot_split() {
        assert_eq!(Tile::new(&shape(64, 1)), None, "one per-agent layer");
        assert_eq!(Tile::new(&shape(8, 3)), None, "narrower than 16");
        assert_eq!(Tile::new(&shape(42, 3)), None, "not a multiple of 4");
        assert_eq!(
            Tile::new(&shape(2048, 2)),
            None,
            "more than 256 threads across"
        );
    }

    #[test]
    fn tiles_shrink_to_the_device() {
        let s = shape(32, 2);
        let full = Tile::new(&s).unwrap();
        // f32: 128 agents × 36 values × 4 bytes fit 32 KiB; f64 takes half the agents.
        assert_eq!(full.within(&s, 4, 32 << 10, 256), Some(full));
        let f64_tile = full.within(&s, 8, 32 << 10, 256).unwrap();
        assert_eq!(
            (f64_tile.across, f64_tile.down, f64_tile.agents()),
            (8, 16, 64)
        );
        // Fewer threads a cube.
        assert_eq!(full.within(&s, 4, 48 << 10, 64).unwrap().threads(), 64);
        // Not one row of threads fits.
        assert_eq!(full.within(&s, 4, 100, 256), None);
        assert_eq!(full.within(&s, 4, 48 << 10, 4), None);
    }

    #[test]
    fn transposes_follow_the_forward_parameters() {
        let s = shape(16, 3);
        assert_eq!(s.params(), 3 * 16 + 16 + 2 * (16 * 16 + 16));
        assert_eq!(Tile::transposed_offset(&s, 1), s.params());
        assert_eq!(Tile::transposed_offset(&s, 2), s.params() + 256);
        assert_eq!(Tile::params(&s), s.params() + 2 * 256);
    }
}
