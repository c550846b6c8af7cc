//! The DeepSet's pooled route on a CubeCL device (wgpu): the integrated gradient of every
//! agent from two kernels (one pooling launch, pull-back launches of as many points as a
//! thread's loop budget allows); between them the `[rows, points, h]` sums are read back and
//! ψ's last layer and ρ run on the host in f64 (`ray::RayNet`), so the launches neither
//! depend on `n` nor include any of burn's matrix products (each compiled, and tuned, per
//! process).
//!
//! ```text
//! S_j  = Σ_i a_L(z_i(α_j))                        pool kernel, every point and row at once
//! p̄_j  = W_ψᵀ S_j / n + c_ψ                        ψ's last (linear) layer, on the host
//! g_j  = (w_j / n) W_ψ ∇ρ(p̄_j)                     ρ's gradient, on the host in f64
//! G_i  = Σ_j J_{a_L}(z_i(α_j))ᵀ g_j                pull kernel, every agent of every row
//! ```
//!
//! `a_L` is ψ without its last layer (see [`aumann_kernels::cube`]). Networks with two or more
//! per-agent layers of a width the tiles split ([`Tile`]: at least 16, a multiple of 4) take
//! the tiled kernels, a cube per tile of agents and each layer a matrix product through shared
//! memory; the others one thread per agent. Memory is the sums (`rows × points × cubes × h`,
//! at most [`MAX_SUMS`] values) and the output; the kernels loop over agents inside a cube.

use aumann_kernels::cube::{self as kernels, POOL_CUBE, Tile};
use burn::backend::Wgpu;
use burn::backend::wgpu::CubeTensor;
use burn::cubecl::client::Client;
use burn::cubecl::prelude::*;
use burn::cubecl::server::Handle;
use burn::tensor::{DType, Device, Tensor, TensorData};

use super::ray::RayNet;
use super::{Activation, DeepSet};
use crate::array::download;
use crate::error::Result;

/// Widest network the kernels take: a thread of the plain kernels keeps `(depth + 2) × h`
/// values of its own.
pub const MAX_WIDTH: usize = 128;
/// Most features per agent the kernels take.
pub const MAX_FEATURES: usize = 64;
/// Most cubes of agents per point and row in the pooling launch (a launch's grid is at most
/// 65 535 cubes along an axis; each thread sums `n / (cubes × 256)` agents).
const MAX_POOL_CUBES: usize = 65_535;
/// Most points or rows in one launch (a grid's Y and Z axes).
const MAX_GRID: usize = 65_535;
/// Most values in the pooling launch's partial sums.
pub const MAX_SUMS: usize = 1 << 26;
/// Fewest agents a pooling thread sums before more cubes are launched.
const AGENTS_PER_THREAD: usize = 16;
/// Fewest tiles a cube of the tiled pooling kernel takes before more cubes are launched.
const TILES_PER_CUBE: usize = 8;
/// Loop iterations one thread of a kernel may run. Mesa's software Vulkan (lavapipe, what the
/// tests run on without a GPU) stops a shader's loops after 65 535 iterations in all without
/// an error; the pull-back kernel takes as many points per launch as stay within half that.
const LOOP_BUDGET: usize = 1 << 15;

/// The kernels' shape for `net` on `d` features, or `None` where they do not serve (a
/// one-layer ψ, a network wider than [`MAX_WIDTH`], a per-agent layer without a bias or of
/// another shape than `[d, h]` then `[h, h]`).
fn kernel_shape(net: &DeepSet, d: usize) -> Option<kernels::Shape> {
    if net.psi.len() < 2 || d > MAX_FEATURES {
        return None;
    }
    let h = net.psi[0].weight.val().dims()[1];
    let per_agent = &net.psi[..net.psi.len() - 1];
    let shapes_fit = per_agent.iter().enumerate().all(|(l, layer)| {
        let inputs = if l == 0 { d } else { h };
        layer.weight.val().dims() == [inputs, h] && layer.bias.is_some()
    });
    if h > MAX_WIDTH || !shapes_fit {
        return None;
    }
    Some(kernels::Shape {
        d,
        h,
        layers: per_agent.len(),
        activation: match net.activation {
            Activation::Tanh => kernels::TANH,
            Activation::Softplus => kernels::SOFTPLUS,
            Activation::Gelu => kernels::GELU,
            Activation::Square => kernels::SQUARE,
        },
    })
}

/// ψ's per-agent layers as one vector: `W_1, c_1, …, W_L, c_L`, then for the tiled kernels
/// `W_2ᵀ, …, W_Lᵀ`.
fn flat_params(net: &DeepSet, transposes: bool) -> Tensor<1> {
    let layers = &net.psi[..net.psi.len() - 1];
    let forward = layers.iter().flat_map(|l| {
        let w = l.weight.val();
        let bias = l.bias.as_ref().expect("checked by kernel_shape").val();
        [w.flatten(0, 1), bias]
    });
    let transposed = layers
        .iter()
        .skip(1)
        .filter(|_| transposes)
        .map(|l| l.weight.val().transpose().flatten(0, 1));
    Tensor::cat(forward.chain(transposed).collect(), 0)
}

/// The tensor's buffer on a CubeCL device, or `None` on any other backend.
fn cube_tensor<const D: usize>(t: Tensor<D>) -> Option<CubeTensor> {
    t.try_into_primitive::<Wgpu>().ok()
}

/// Whether `t` is laid out densely in row-major order.
fn is_dense(t: &CubeTensor) -> bool {
    let (shape, strides) = (t.meta.shape(), t.meta.strides());
    let mut expected = 1;
    for (dim, stride) in shape.iter().zip(strides.iter()).rev() {
        if *dim > 1 && *stride != expected {
            return false;
        }
        expected *= dim;
    }
    true
}

/// The dense buffer of `t`, or `None` where it is strided or not on a CubeCL device.
fn dense<const D: usize>(t: Tensor<D>) -> Option<CubeTensor> {
    cube_tensor(t).filter(is_dense)
}

/// The strides of a `[rows, d, n]` operand, zero on its broadcast axes.
fn strides3(t: &CubeTensor, full: [usize; 3]) -> [usize; 3] {
    let (shape, strides) = (t.meta.shape(), t.meta.strides());
    std::array::from_fn(|axis| {
        if shape[axis] == 1 && full[axis] != 1 {
            0
        } else {
            strides[axis]
        }
    })
}

/// `Σ_j w_j ∇_z V(b + α_j (x − b))` for every agent, `[rows, d, n]`, by the kernels; `None`
/// where they do not serve (not a CubeCL device, a one-layer ψ, a network wider than
/// [`MAX_WIDTH`]).
///
/// # Errors
/// None today; the signature matches the other routes.
pub(super) fn integrated_gradient(
    net: &DeepSet,
    x: &Tensor<3>,
    b: &Tensor<3>,
    nodes: &[f64],
    weights: &[f64],
) -> Result<Option<Tensor<3>>> {
    let Some(launch) = Launch::new(net, x, b, nodes) else {
        return Ok(None);
    };
    let Some(host) = RayNet::new(net) else {
        return Ok(None);
    };
    let (rows, n, h) = (launch.rows, launch.n, launch.shape.h);
    let (device, dtype) = (launch.device.clone(), launch.dtype);
    // g_j through ρ on the host, in f64, from the pooled sums of every row and point.
    let sums = launch.pooled_sums()?;
    let g: Vec<f64> = sums
        .chunks_exact(nodes.len() * h)
        .flat_map(|row| host.shared_vectors(row, n, weights).into_iter().flatten())
        .collect();
    let g = match dtype {
        DType::F32 => TensorData::new(g.iter().map(|&v| v as f32).collect(), [g.len()]),
        _ => TensorData::new(g, [rows * nodes.len() * h]),
    };
    let Some(g) = dense(Tensor::<1>::from_data(g, (&device, dtype))) else {
        return Ok(None);
    };
    // Every agent's gradient sum.
    let out = Tensor::<3>::zeros([rows, launch.shape.d, n], (&device, dtype));
    let Some(out_buffer) = cube_tensor(out.clone()) else {
        return Ok(None);
    };
    launch.pull(g, out_buffer);
    Ok(Some(if out.dtype() == x.dtype() {
        out
    } else {
        out.cast(x.dtype())
    }))
}

/// `V` of every row of a plain `z` (`[rows, d, n]`, f64), ψ's per-agent layers pooled by the
/// kernel in the network's dtype and the rest on the host in f64; `None` where the kernels do
/// not serve.
///
/// # Errors
/// If the sums cannot be read back.
pub(super) fn value(net: &DeepSet, z: &Tensor<3>) -> Result<Option<Tensor<1>>> {
    let device = z.device();
    let origin = Tensor::<3>::zeros([1, 1, 1], (&device, net.dtype()));
    let (Some(launch), Some(host)) = (Launch::new(net, z, &origin, &[1.0]), RayNet::new(net))
    else {
        return Ok(None);
    };
    let h = launch.shape.h;
    let v: Vec<f64> = (launch.pooled_sums()?.chunks_exact(h))
        .map(|sums| host.readout_of_sums(sums, launch.n))
        .collect();
    let rows = v.len();
    Ok(Some(Tensor::<1>::from_data(
        TensorData::new(v, [rows]),
        (&device, DType::F64),
    )))
}

/// One block's operands on the device.
struct Launch {
    shape: kernels::Shape,
    x: CubeTensor,
    b: CubeTensor,
    /// `x`'s then `b`'s row, coordinate and agent strides, `u32`.
    strides: Handle,
    params: CubeTensor,
    alphas: CubeTensor,
    rows: usize,
    n: usize,
    points: usize,
    /// Cubes of agents per point and row in the pooling launch.
    pool_cubes: usize,
    /// The tiled kernels' layout, where they serve this network on this device.
    tile: Option<Tile>,
    device: Device,
    dtype: DType,
}

/// Cubes per point and row for pooling `n` agents, `agents` per cube and round of its loop, a
/// round `iterations` loop iterations: about `rounds` rounds a cube, fewer where they would
/// pass [`LOOP_BUDGET`], more cubes where the grid would pass [`MAX_POOL_CUBES`]; `None` where
/// no split fits both.
fn pool_cubes(n: usize, agents: usize, iterations: usize, rounds: usize) -> Option<usize> {
    let most = (LOOP_BUDGET / iterations).max(1);
    let fewest_cubes = n.div_ceil(agents * rounds.min(most));
    let cubes = fewest_cubes.clamp(1, MAX_POOL_CUBES);
    (n.div_ceil(agents * cubes) <= most).then_some(cubes)
}

/// The pooling split of the plain kernel: a round is one agent a thread through every layer.
fn plain_pool_cubes(shape: &kernels::Shape, n: usize) -> Option<usize> {
    let per_agent = shape.h * 2 * shape.layers + 1;
    pool_cubes(n, POOL_CUBE, per_agent, AGENTS_PER_THREAD)
}

/// The tiled kernels' layout for `shape`, its tile as large as the device's shared memory and
/// threads allow.
fn tile_for(shape: &kernels::Shape, client: &Client, dtype: DType) -> Option<Tile> {
    let hardware = &client.properties().hardware;
    Tile::new(shape)?.within(
        shape,
        dtype.size(),
        hardware.max_shared_memory_size,
        hardware.max_units_per_cube as usize,
    )
}

impl Launch {
    /// The operands for `net` on the paths from `b` to `x` at `nodes`; `None` where the
    /// kernels do not serve.
    fn new(net: &DeepSet, x: &Tensor<3>, b: &Tensor<3>, nodes: &[f64]) -> Option<Self> {
        let [rows, d, n] = x.dims();
        let shape = kernel_shape(net, d)?;
        let dtype = net.dtype();
        if !matches!(dtype, DType::F32 | DType::F64) || nodes.is_empty() || n == 0 {
            return None;
        }
        let device = x.device();
        if dtype == DType::F64
            && net.activation.is_transcendental()
            && !crate::ops::f64_transcendentals_work(&device)
        {
            return None;
        }
        let xc = cube_tensor(net.match_dtype(x.clone()))?;
        let bc = cube_tensor(net.match_dtype(b.clone()))?;
        if (xc.client.properties().hardware.max_units_per_cube as usize) < POOL_CUBE {
            return None;
        }
        let tile = tile_for(&shape, &xc.client, dtype);
        let pool_cubes = match tile {
            Some(tile) => pool_cubes(
                n,
                tile.agents(),
                Tile::iterations(&shape, false),
                TILES_PER_CUBE,
            ),
            None => plain_pool_cubes(&shape, n),
        }?;
        let sums = rows * nodes.len() * pool_cubes * shape.h;
        if rows > MAX_GRID || nodes.len() > MAX_GRID || sums > MAX_SUMS {
            return None;
        }
        let alphas = TensorData::new(nodes.to_vec(), [nodes.len()]);
        let alphas = dense(Tensor::<1>::from_data(alphas, (&device, dtype)))?;
        let strides = strides3(&xc, [rows, d, n])
            .into_iter()
            .chain(strides3(&bc, [rows, d, n]))
            .map(u32::try_from)
            .collect::<std::result::Result<Vec<u32>, _>>()
            .ok()?;
        let strides: Vec<u8> = strides.iter().flat_map(|s| s.to_le_bytes()).collect();
        let strides = xc.client.create_from_slice(&strides);
        let params = dense(flat_params(net, tile.is_some()))?;
        // The tiled kernels read `params` unchecked: its length is the layout's.
        if params.meta.shape()[0] != tile.map_or(shape.params(), |_| Tile::params(&shape)) {
            return None;
        }
        Some(Self {
            shape,
            x: xc,
            b: bc,
            strides,
            params,
            alphas,
            rows,
            n,
            points: nodes.len(),
            pool_cubes,
            tile,
            device,
            dtype,
        })
    }

    /// `S_j = Σ_i a_L(z_i(α_j))` of every row and point, `[rows, points, h]` flattened: the
    /// cubes' partial sums added on the device, read back.
    fn pooled_sums(&self) -> Result<Vec<f64>> {
        let (rows, points, h) = (self.rows, self.points, self.shape.h);
        let cubes = self.pool_cubes;
        let sums = Tensor::<4>::zeros([rows, points, cubes, h], (&self.device, self.dtype));
        let buffer = cube_tensor(sums.clone()).expect("made on the launch's CubeCL device");
        self.pool(buffer, cubes);
        download(crate::ops::sum_dim(sums, 2), "pooled sums")
    }

    /// The operands both kernels read first: `x`, `b`, the strides, ψ's parameters, the nodes.
    fn operands(&self) -> [BufferArg; 5] {
        [
            self.x.clone().into_buffer_arg(),
            self.b.clone().into_buffer_arg(),
            // SAFETY: six `u32` strides.
            unsafe { BufferArg::from_raw_parts(self.strides.clone(), 6) },
            self.params.clone().into_buffer_arg(),
            self.alphas.clone().into_buffer_arg(),
        ]
    }

    /// The pool kernel (tiled where it serves) into `sums` (`[rows, points, cubes, h]`).
    fn pool(&self, sums: CubeTensor, cubes: usize) {
        match self.dtype {
            DType::F64 => self.pool_in::<f64>(sums, cubes),
            _ => self.pool_in::<f32>(sums, cubes),
        }
    }

    /// [`Launch::pool`] in element type `F`.
    fn pool_in<F: Float + CubeElement>(&self, sums: CubeTensor, cubes: usize) {
        let client = self.x.client.clone();
        let count = CubeCount::Static(cubes as u32, self.points as u32, self.rows as u32);
        let s = self.shape;
        let [x, b, strides, params, alphas] = self.operands();
        let sums = sums.into_buffer_arg();
        let Some(t) = self.tile else {
            let dim = CubeDim::new_1d(POOL_CUBE as u32);
            return kernels::pool::launch::<F>(
                &client,
                count,
                dim,
                x,
                b,
                strides,
                params,
                alphas,
                sums,
                self.n,
                s.d,
                s.h,
                s.layers,
                s.activation,
            );
        };
        let dim = CubeDim::new_2d(t.across as u32, t.down as u32);
        // SAFETY: see `pull_points`; every cube sums only tiles below `⌈n / agents⌉` and
        // writes its own `[r, j, c, :]` of the `[rows, points, cubes, h]` sums the caller
        // allocated.
        unsafe {
            kernels::pool_tiled::launch_unchecked::<F>(
                &client,
                count,
                dim,
                x,
                b,
                strides,
                params,
                alphas,
                sums,
                self.n,
                s.d,
                s.h,
                s.layers,
                s.activation,
                t.across,
                t.down,
            );
        }
    }

    /// The pull kernel (tiled where it serves) from `g` (`[rows, points, h]`) into `out`
    /// (`[rows, d, n]`), as many points a launch as [`LOOP_BUDGET`] allows.
    fn pull(&self, g: CubeTensor, out: CubeTensor) {
        let s = self.shape;
        // A point's loop iterations in one thread: the layers forward and back.
        let per_point = match self.tile {
            Some(_) => Tile::iterations(&s, true),
            None => s.h * (4 * s.layers - 2) + s.d + 1,
        };
        let per_launch = (LOOP_BUDGET / per_point).clamp(1, self.points);
        for first in (0..self.points).step_by(per_launch) {
            let count = per_launch.min(self.points - first);
            match self.dtype {
                DType::F64 => self.pull_points::<f64>(&g, &out, first, count),
                _ => self.pull_points::<f32>(&g, &out, first, count),
            }
        }
    }

    /// One pull launch: points `first … first + count − 1` into `out`.
    fn pull_points<F: Float + CubeElement>(
        &self,
        g: &CubeTensor,
        out: &CubeTensor,
        first: usize,
        count: usize,
    ) {
        let client = self.x.client.clone();
        let s = self.shape;
        let [x, b, strides, params, alphas] = self.operands();
        let (g, out) = (g.clone().into_buffer_arg(), out.clone().into_buffer_arg());
        let Some(t) = self.tile else {
            let units = self.rows * self.n;
            let dim = CubeDim::new(&client, units);
            let cubes = burn::cubecl::calculate_cube_count_elemwise(&client, units, dim);
            return kernels::pull::launch::<F>(
                &client,
                cubes,
                dim,
                x,
                b,
                strides,
                params,
                alphas,
                g,
                out,
                self.n,
                self.rows,
                self.points,
                first,
                count,
                s.d,
                s.h,
                s.layers,
                s.activation,
            );
        };
        // A cube a tile of a row: the tiles along X, then Y past the grid's width.
        let tiles = self.n.div_ceil(t.agents());
        let wide = tiles.min(MAX_GRID);
        let count_xyz =
            CubeCount::Static(wide as u32, tiles.div_ceil(wide) as u32, self.rows as u32);
        let dim = CubeDim::new_2d(t.across as u32, t.down as u32);
        // SAFETY: the tiled kernels index without bounds checks (7 % faster on an H200). They
        // read `x`, `b` only for agents below `n` through the strides of their own shapes,
        // `params` below `Tile::params` (the buffer's length, checked in `Launch::new`), `g`
        // below `rows × points × h` and `nodes` below `first + count ≤ points`; they write
        // `out` only for agents below `n`, and shared memory within the slices they declare.
        unsafe {
            kernels::pull_tiled::launch_unchecked::<F>(
                &client,
                count_xyz,
                dim,
                x,
                b,
                strides,
                params,
                alphas,
                g,
                out,
                self.n,
                self.points,
                first,
                count,
                s.d,
                s.h,
                s.layers,
                s.activation,
                t.across,
                t.down,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(h: usize, layers: usize) -> kernels::Shape {
        kernels::Shape {
            d: 3,
            h,
            layers,
            activation: kernels::TANH,
        }
    }

    #[test]
    fn pooling_threads_stay_within_the_loop_budget_and_the_grid() {
        // About 16 agents a thread.
        assert_eq!(plain_pool_cubes(&shape(8, 1), 1_000_000), Some(245));
        assert_eq!(plain_pool_cubes(&shape(8, 1), 10), Some(1));
        // A deep, wide network: two agents a thread at most, more cubes instead.
        let deep = shape(128, 63);
        assert_eq!(LOOP_BUDGET / (128 * 2 * 63 + 1), 2);
        assert_eq!(
            plain_pool_cubes(&deep, 1_000_000),
            Some(1_000_000usize.div_ceil(512))
        );
        // Past the grid: more agents a thread than the budget allows.
        assert_eq!(plain_pool_cubes(&deep, 100_000_000), None);
        // A shallow network takes 10⁸ agents in a grid of at most 65 535 cubes.
        let cubes = plain_pool_cubes(&shape(64, 2), 100_000_000).expect("fits");
        assert!(cubes <= MAX_POOL_CUBES && cubes * POOL_CUBE * 16 >= 100_000_000);
    }
}
