//! ψ's hidden layers over blocks of agent-points on the host: a DeepSet's pooled sums and
//! integrated gradient for any depth and activation, in the run's precision.
//!
//! ```text
//! row r = (agent i, point j) of a block:  U₁[r] = A_i + α_j B_i           (A, B from ray)
//! H_l = σ(U_l),   U_{l+1} = H_l W_{l+1} + c_{l+1}                         (a matrix product)
//! pass 1:  P_j += Σ_i H_{k−1}[(i, j)]                                     (f64 sums)
//! pass 2:  G_{k−1}[(i, j)] = g'_j ⊙ σ'(U_{k−1}),  G_{l−1} = (G_l W_lᵀ) ⊙ σ'(U_{l−1})
//!          ∂_i = W₁ Σ_j G₁[(i, j)]                                         (f64 sums)
//! ```
//!
//! A block holds a few agents at every quadrature point (about [`BLOCK_ROWS`] rows), so its
//! activations stay in the core's cache, and a dense layer is one matrix product over the
//! block ([`aumann_kernels::dense`]) instead of one small vector product per
//! agent-point. Agent blocks run in parallel; every sum across agents is f64, combined in a
//! fixed order, so results do not depend on the thread count. `T` is the run's precision: an
//! f32 run computes activations eight lanes at a time ([`Real::activate`]) and keeps f64 only
//! where values add up across agents and points.
//!
//! With hidden layers between the first and the last, the pooling pass keeps the slopes
//! `σ'(U_l)` of the levels above the first ([`Kept`]; the caller groups the points so that
//! they fit its memory budget), and the gradient pass recomputes only the first level (no
//! matrix product) before running the backward products, each with the slopes applied as
//! it stores ([`aumann_kernels::dense::matmul_scaled`]).

use aumann_kernels::dense::{Element, matmul_acc, matmul_scaled};
use rayon::prelude::*;

use super::Activation;
use super::ray::{Dense, Out, Rays};

/// Agent-points per block: a width-64 layer's block is 64 KiB in f32.
const BLOCK_ROWS: usize = 256;

/// Agents per parallel task.
const AGENTS_PER_TASK: usize = 512;

/// The precision the layers run in: `f32` or `f64`.
pub(super) trait Real: Element + std::ops::Mul<Output = Self> {
    /// `v` rounded to this precision.
    fn of(v: f64) -> Self;
    /// Widened to f64.
    fn wide(self) -> f64;
    /// `σ(u)` into `value` and `σ'(u)` into `slope`, where given.
    fn activate(activation: Activation, u: &[Self], value: &mut [Self], slope: Option<&mut [Self]>);
}

impl Real for f64 {
    fn of(v: f64) -> Self {
        v
    }
    fn wide(self) -> f64 {
        self
    }
    fn activate(activation: Activation, u: &[f64], value: &mut [f64], slope: Option<&mut [f64]>) {
        lanes::activate_f64(activation, u, value, slope);
    }
}

impl Real for f32 {
    fn of(v: f64) -> Self {
        v as f32
    }
    fn wide(self) -> f64 {
        f64::from(self)
    }
    fn activate(activation: Activation, u: &[f32], value: &mut [f32], slope: Option<&mut [f32]>) {
        lanes::activate(activation, u, value, slope);
    }
}

/// f32 activations written without branches or library calls, so that each loop compiles to
/// vector instructions; with AVX they run eight lanes at a time. Accuracy (tested against the
/// f64 functions): a few units in the last place of f32.
pub(super) mod lanes {
    use super::Activation;
    use aumann_kernels::dense::Element;

    /// `σ` and `σ'` of every element, with AVX2 and fused multiply-adds where the processor
    /// has them.
    pub fn activate(
        activation: Activation,
        u: &[f32],
        value: &mut [f32],
        slope: Option<&mut [f32]>,
    ) {
        #[cfg(target_arch = "x86_64")]
        if aumann_kernels::dense::fused_lanes() {
            // SAFETY: the processor has AVX2 and FMA (checked just above).
            unsafe { activate_fma(activation, u, value, slope) };
            return;
        }
        each::<false>(activation, u, value, slope);
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    fn activate_fma(
        activation: Activation,
        u: &[f32],
        value: &mut [f32],
        slope: Option<&mut [f32]>,
    ) {
        each::<true>(activation, u, value, slope);
    }

    /// The f64 activations: tanh in lanes ([`tanh_f64`]), the others through the library's
    /// scalar functions ([`super::super::ray::activate`]).
    pub fn activate_f64(
        activation: Activation,
        u: &[f64],
        value: &mut [f64],
        slope: Option<&mut [f64]>,
    ) {
        if activation == Activation::Tanh {
            #[cfg(target_arch = "x86_64")]
            if aumann_kernels::dense::fused_lanes() {
                // SAFETY: the processor has AVX2 and FMA (checked just above).
                unsafe { tanh_f64_fma(u, value, slope) };
                return;
            }
            return tanh_f64_each::<false>(u, value, slope);
        }
        let f = |u: f64| super::super::ray::activate(activation, u);
        match slope {
            Some(slope) => map2(u, value, slope, f),
            None => map(u, value, |u| f(u).0),
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    fn tanh_f64_fma(u: &[f64], value: &mut [f64], slope: Option<&mut [f64]>) {
        tanh_f64_each::<true>(u, value, slope);
    }

    #[inline(always)]
    fn tanh_f64_each<const FMA: bool>(u: &[f64], value: &mut [f64], slope: Option<&mut [f64]>) {
        match slope {
            Some(slope) => map2(u, value, slope, |u| {
                let t = tanh_f64::<FMA>(u);
                (t, 1.0 - t * t)
            }),
            None => map(u, value, tanh_f64::<FMA>),
        }
    }

    /// `eʸ − 1`: `y = n ln2 + r` (`|r| ≤ ln2/2`, `ln2` in two parts), `eʳ − 1` by its Taylor
    /// series to `r¹³` (truncation below 10⁻¹⁷), then `2ⁿ(eʳ − 1) + (2ⁿ − 1)`, exact in `n = 0`
    /// where `eʸ − 1` is small. `y` is clamped to `[−40, 40]`.
    #[inline(always)]
    pub fn expm1_f64<const FMA: bool>(y: f64) -> f64 {
        const ROUND: f64 = 6_755_399_441_055_744.0; // 1.5 · 2⁵²
        const LN2_HI: f64 = 6.931_471_803_691_238e-1;
        const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
        // 1/k! for k = 13 down to 2.
        const INVERSE_FACTORIALS: [f64; 12] = {
            let mut c = [0.0; 12];
            let (mut k, mut f) = (2, 1.0);
            while k <= 13 {
                f *= k as f64;
                c[13 - k] = 1.0 / f;
                k += 1;
            }
            c
        };
        let madd = f64::madd::<FMA>;
        let y = y.clamp(-40.0, 40.0);
        let shifted = madd(y, std::f64::consts::LOG2_E, ROUND);
        let n = shifted - ROUND;
        let r = madd(n, -LN2_LO, madd(n, -LN2_HI, y));
        let p = INVERSE_FACTORIALS
            .iter()
            .fold(0.0, |acc, &c| madd(acc, r, c));
        let em1 = madd(p * r, r, r); // r + r² p
        let two_n = f64::from_bits(
            (shifted
                .to_bits()
                .wrapping_sub(ROUND.to_bits())
                .wrapping_add(1023))
                << 52,
        );
        madd(two_n, em1, two_n - 1.0)
    }

    /// `tanh(u) = e / (e + 2)` with `e = e^{2u} − 1` ([`expm1_f64`]), on `|u|` up to 20 (beyond
    /// it `tanh` rounds to ±1), sign restored.
    #[inline(always)]
    pub fn tanh_f64<const FMA: bool>(u: f64) -> f64 {
        let x = u.abs().min(20.0);
        let e = expm1_f64::<FMA>(2.0 * x);
        (e / (e + 2.0)).copysign(u)
    }

    /// `FMA`: whether `a b + c` may be one fused instruction (without the target feature,
    /// `mul_add` is a library call).
    #[inline(always)]
    fn each<const FMA: bool>(
        activation: Activation,
        u: &[f32],
        value: &mut [f32],
        slope: Option<&mut [f32]>,
    ) {
        match (activation, slope) {
            (Activation::Tanh, None) => map(u, value, tanh::<FMA>),
            (Activation::Tanh, Some(slope)) => map2(u, value, slope, |u| {
                let t = tanh::<FMA>(u);
                (t, 1.0 - t * t)
            }),
            (Activation::Gelu, None) => map(u, value, |u| gelu::<FMA>(u).0),
            (Activation::Gelu, Some(slope)) => map2(u, value, slope, gelu::<FMA>),
            (Activation::Square, None) => map(u, value, |u| u * u),
            (Activation::Square, Some(slope)) => map2(u, value, slope, |u| (u * u, 2.0 * u)),
            // The library's exp and log: scalar, but exact to the last place.
            (Activation::Softplus, None) => map(u, value, |u| softplus(u).0),
            (Activation::Softplus, Some(slope)) => map2(u, value, slope, softplus),
        }
    }

    #[inline(always)]
    fn map<T: Copy>(u: &[T], value: &mut [T], f: impl Fn(T) -> T) {
        for (v, &u) in value.iter_mut().zip(u) {
            *v = f(u);
        }
    }

    #[inline(always)]
    fn map2<T: Copy>(u: &[T], value: &mut [T], slope: &mut [T], f: impl Fn(T) -> (T, T)) {
        for ((v, s), &u) in value.iter_mut().zip(slope.iter_mut()).zip(u) {
            (*v, *s) = f(u);
        }
    }

    /// `a b + c`, fused where `FMA` (the product kernels' own).
    #[inline(always)]
    fn madd<const FMA: bool>(a: f32, b: f32, c: f32) -> f32 {
        f32::madd::<FMA>(a, b, c)
    }

    /// Horner's rule.
    #[inline(always)]
    fn poly<const FMA: bool>(x: f32, coefficients: &[f32]) -> f32 {
        coefficients
            .iter()
            .fold(0.0, |acc, &c| madd::<FMA>(acc, x, c))
    }

    /// `tanh(u)`: the odd/even rational approximation XLA and Eigen use for f32, on `|u|` up to
    /// 7.9 (beyond it `tanh` rounds to ±1 in f32).
    #[inline(always)]
    pub fn tanh<const FMA: bool>(u: f32) -> f32 {
        const CLAMP: f32 = 7.905_311;
        const ODD: [f32; 7] = [
            -2.760_768_5e-16,
            2.000_188e-13,
            -8.604_672e-11,
            5.122_297e-8,
            1.485_722_4e-5,
            6.372_619_3e-4,
            4.893_524_6e-3,
        ];
        const EVEN: [f32; 4] = [1.198_258_4e-6, 1.185_347_1e-4, 2.268_434_6e-3, 4.893_525e-3];
        let x = u.clamp(-CLAMP, CLAMP);
        let x2 = x * x;
        x * poly::<FMA>(x2, &ODD) / poly::<FMA>(x2, &EVEN)
    }

    /// `erf(x)`: XLA's f32 rational approximation, on `|x|` up to erf⁻¹(1 − 2⁻²³).
    #[inline(always)]
    pub fn erf<const FMA: bool>(x: f32) -> f32 {
        const CLAMP: f32 = 3.743_921_2;
        const NUM: [f32; 5] = [
            2.290_506_6e-4,
            3.408_291e-3,
            5.095_569_6e-2,
            1.852_083_2e-1,
            std::f32::consts::FRAC_2_SQRT_PI,
        ];
        const DEN: [f32; 7] = [
            -1.179_160_3e-7,
            2.354_796_6e-5,
            1.017_962_5e-3,
            1.407_047e-2,
            1.109_850_5e-1,
            4.974_692_6e-1,
            1.0,
        ];
        let x = x.clamp(-CLAMP, CLAMP);
        let x2 = x * x;
        x * poly::<FMA>(x2, &NUM) / poly::<FMA>(x2, &DEN)
    }

    /// `eˣ`: Cephes' `expf` (a degree-5 polynomial on `|r| ≤ ln2/2`, `x = n ln2 + r`), with
    /// `n` rounded by adding 1.5·2²³, whose low bits then hold `n`: `2ⁿ` is built from them
    /// with integer lanes, no float-to-int conversion. `x` is clamped to where `eˣ` is a
    /// normal f32.
    #[inline(always)]
    pub fn exp<const FMA: bool>(x: f32) -> f32 {
        const ROUND: f32 = 12_582_912.0; // 1.5 · 2²³
        const P: [f32; 6] = [
            1.987_569_2e-4,
            1.398_199_9e-3,
            8.333_452e-3,
            4.166_579_6e-2,
            1.666_666_5e-1,
            0.5,
        ];
        let x = x.clamp(-87.0, 88.0);
        let shifted = madd::<FMA>(x, std::f32::consts::LOG2_E, ROUND);
        let n = shifted - ROUND;
        let r = madd::<FMA>(n, 2.121_944_4e-4, madd::<FMA>(n, -0.693_359_4, x));
        let p = madd::<FMA>(poly::<FMA>(r, &P), r * r, r + 1.0);
        let two_n = (shifted
            .to_bits()
            .wrapping_sub(ROUND.to_bits())
            .wrapping_add(127))
            << 23;
        p * f32::from_bits(two_n)
    }

    /// GELU `u Φ(u)` and its slope `Φ(u) + u φ(u)`, Φ and φ the standard normal CDF and density.
    #[inline(always)]
    pub fn gelu<const FMA: bool>(u: f32) -> (f32, f32) {
        let cdf = madd::<FMA>(0.5, erf::<FMA>(u * std::f32::consts::FRAC_1_SQRT_2), 0.5);
        let density = exp::<FMA>(-0.5 * u * u) * 0.398_942_3; // 1/√(2π)
        (u * cdf, madd::<FMA>(u, density, cdf))
    }

    /// `ln(1 + eᵘ)` and its slope, the logistic function.
    fn softplus(u: f32) -> (f32, f32) {
        let (v, s) = super::super::ray::activate(Activation::Softplus, f64::from(u));
        (v as f32, s as f32)
    }
}

/// A hidden layer in the run's precision: `W` `[inputs, outputs]` and its transpose.
struct Layer<T> {
    w: Vec<T>,
    wt: Vec<T>,
    c: Vec<T>,
    inputs: usize,
    outputs: usize,
}

/// ψ up to its last hidden activation `a_{k−1}`: the first layer on the host in f64 (it is
/// affine along the path), then the hidden layers in `T`.
pub(super) struct Stack<'a, T> {
    rays: Rays<'a>,
    hidden: Vec<Layer<T>>,
    activation: Activation,
    nodes: &'a [f64],
    /// Tasks' working memory between tasks: one per thread at most, not one per task (freed
    /// blocks come back from the kernel as fresh, zeroed pages).
    spare: std::sync::Mutex<Vec<Work<T>>>,
}

/// One task's working memory: every level's activations and slopes for one block (or
/// longer, when refilled by a stack with shorter blocks).
pub(super) struct Work<T> {
    values: Vec<Vec<T>>,
    slopes: Vec<Vec<T>>,
    u: Vec<T>,
    g: [Vec<T>; 2],
    a: Vec<f64>,
    b: Vec<f64>,
}

impl<'a, T: Real> Stack<'a, T> {
    /// `psi` is the whole ψ (at least two layers); its first and last layers stay out of the
    /// stack: the first through `rays`, the last commutes with the mean.
    pub(super) fn new(
        psi: &[Dense],
        activation: Activation,
        rays: Rays<'a>,
        nodes: &'a [f64],
        spare: Vec<Work<T>>,
    ) -> Self {
        let hidden = psi[1..psi.len() - 1]
            .iter()
            .map(|l| Layer {
                w: l.w.iter().map(|&v| T::of(v)).collect(),
                wt: (0..l.w.len())
                    .map(|k| T::of(l.w[(k % l.inputs) * l.outputs + k / l.inputs]))
                    .collect(),
                c: l.c.iter().map(|&v| T::of(v)).collect(),
                inputs: l.inputs,
                outputs: l.outputs,
            })
            .collect();
        Self {
            rays,
            hidden,
            activation,
            nodes,
            spare: std::sync::Mutex::new(spare),
        }
    }

    /// The tasks' working memory, for the next stack.
    pub(super) fn into_spare(self) -> Vec<Work<T>> {
        self.spare.into_inner().unwrap_or_default()
    }

    /// The width of every hidden level, `a_1 … a_{k−1}`.
    fn widths(&self) -> Vec<usize> {
        std::iter::once(self.rays.first.outputs)
            .chain(self.hidden.iter().map(|l| l.outputs))
            .collect()
    }

    /// Agents per block.
    fn block_agents(&self) -> usize {
        (BLOCK_ROWS / self.nodes.len()).max(1)
    }

    /// Working memory for one task: a spare one or a new one, grown to this stack's blocks.
    fn work(&self) -> Work<T> {
        let spare = self.spare.lock().ok().and_then(|mut spare| spare.pop());
        let widths = self.widths();
        let mut w = spare.unwrap_or_else(|| Work {
            values: vec![Vec::new(); widths.len()],
            slopes: vec![Vec::new(); widths.len()],
            u: Vec::new(),
            g: [Vec::new(), Vec::new()],
            a: vec![0.0; widths[0]],
            b: vec![0.0; widths[0]],
        });
        let rows = self.block_agents() * self.nodes.len();
        let widest = widths.iter().copied().max().unwrap_or(1);
        let grow = |v: &mut Vec<T>, len: usize| {
            if v.len() < len {
                v.resize(len, T::default());
            }
        };
        for (l, &h) in widths.iter().enumerate() {
            grow(&mut w.values[l], rows * h);
            grow(&mut w.slopes[l], rows * h);
        }
        let [g0, g1] = &mut w.g;
        for v in [&mut w.u, g0, g1] {
            grow(v, rows * widest);
        }
        w
    }

    /// Give a task's working memory back for the next task.
    fn done_with(&self, w: Work<T>) {
        if let Ok(mut spare) = self.spare.lock() {
            spare.push(w);
        }
    }

    /// The first level's pre-activations `U₁ = A + α B` of agents `agents` at every point,
    /// into `w.u`; the block's row count.
    fn first_level(&self, agents: std::ops::Range<usize>, w: &mut Work<T>) -> usize {
        let (m, h1) = (self.nodes.len(), self.rays.first.outputs);
        let rows = agents.len() * m;
        // In f64, rounded once: `A ≈ −α B` cancels, and deep square networks amplify it.
        for (ii, i) in agents.enumerate() {
            self.rays.at(i, &mut w.a, &mut w.b);
            for (j, &alpha) in self.nodes.iter().enumerate() {
                let u = &mut w.u[(ii * m + j) * h1..][..h1];
                for ((u, a), b) in u.iter_mut().zip(&w.a).zip(&w.b) {
                    *u = T::of(a + alpha * b);
                }
            }
        }
        rows
    }

    /// Every level's activations of agents `agents` at every point, and their slopes where
    /// `slopes` asks for them.
    fn forward(&self, agents: std::ops::Range<usize>, w: &mut Work<T>, mut slopes: Slopes<T>) {
        let h1 = self.rays.first.outputs;
        let rows = self.first_level(agents, w);
        let first_slope = match slopes {
            Slopes::All => Some(&mut w.slopes[0][..rows * h1]),
            Slopes::None | Slopes::Kept { .. } => None,
        };
        T::activate(
            self.activation,
            &w.u[..rows * h1],
            &mut w.values[0][..rows * h1],
            first_slope,
        );
        for (l, layer) in self.hidden.iter().enumerate() {
            let (inp, out) = (layer.inputs, layer.outputs);
            for row in w.u[..rows * out].chunks_exact_mut(out) {
                row.copy_from_slice(&layer.c);
            }
            matmul_acc([rows, inp, out], &w.values[l], &layer.w, &mut w.u);
            let slope = match &mut slopes {
                Slopes::None => None,
                Slopes::All => Some(&mut w.slopes[l + 1][..rows * out]),
                Slopes::Kept { levels, row } => Some(&mut levels[l][*row * out..][..rows * out]),
            };
            T::activate(
                self.activation,
                &w.u[..rows * out],
                &mut w.values[l + 1][..rows * out],
                slope,
            );
        }
    }

    /// The agent blocks of parallel task `task`.
    fn blocks(&self, task: usize) -> impl Iterator<Item = std::ops::Range<usize>> + use<'_, T> {
        let (n, per) = (self.rays.n, self.block_agents());
        let end = n.min((task + 1) * AGENTS_PER_TASK);
        (task * AGENTS_PER_TASK..end)
            .step_by(per)
            .map(move |start| start..end.min(start + per))
    }

    /// Agents in parallel task `task`.
    fn task_agents(&self, task: usize) -> usize {
        self.rays.n.min((task + 1) * AGENTS_PER_TASK) - task * AGENTS_PER_TASK
    }

    /// `Σ_i a_{k−1}(z_i(α_j))` of every point `j`, `[m, h_{k−1}]` in f64; and where `keep`,
    /// every task's slopes of the levels above the first ([`Kept`], into `buffers.kept`), so
    /// that the gradient pass needs no matrix product forward.
    ///
    /// `buffers` are refilled here, not allocated: fresh pages cost as much as the slopes'
    /// computation.
    pub(super) fn pool(&self, keep: bool, buffers: &mut Buffers<T>) -> Vec<f64> {
        let (m, n) = (self.nodes.len(), self.rays.n);
        let widths = self.widths();
        let h = *widths.last().expect("a first layer");
        let top = self.hidden.len();
        let tasks = n.div_ceil(AGENTS_PER_TASK);
        let Buffers { kept, sums, .. } = buffers;
        kept.resize_with(tasks, Vec::new);
        sums.clear();
        sums.resize(tasks * m * h, 0.0);
        sums.par_chunks_mut(m * h)
            .zip(kept.par_iter_mut())
            .enumerate()
            .for_each(|(task, (sums, kept))| {
                let mut w = self.work();
                if keep {
                    kept.resize_with(widths.len() - 1, Vec::new);
                    for (level, &h) in kept.iter_mut().zip(&widths[1..]) {
                        // Grown once and then refilled: written straight into, never copied.
                        let rows = self.task_agents(task) * m;
                        if level.len() < rows * h {
                            level.resize(rows * h, T::default());
                        }
                    }
                }
                let mut done = 0; // rows of this task so far
                for agents in self.blocks(task) {
                    let rows = agents.len() * m;
                    // Kept: the slopes above the first level; the first is cheap to redo.
                    let slopes = match keep {
                        true => Slopes::Kept {
                            levels: kept,
                            row: done,
                        },
                        false => Slopes::None,
                    };
                    self.forward(agents, &mut w, slopes);
                    done += rows;
                    for rows in w.values[top][..rows * h].chunks_exact(m * h) {
                        for (s, v) in sums.iter_mut().zip(rows) {
                            *s += v.wide();
                        }
                    }
                }
                self.done_with(w);
            });
        let mut total = vec![0.0; m * h];
        for task in sums.chunks_exact(m * h) {
            for (s, v) in total.iter_mut().zip(task) {
                *s += v;
            }
        }
        total
    }

    /// Adds every agent's `W₁ Σ_j G₁[(i, j)]` to `out` (`[n, d]`, agent-major), given
    /// `shared[j]` = `g'_j` (`[m, h_{k−1}]`, the weight and `1/n` folded in) and, if the
    /// pooling pass kept them, the slopes above the first level.
    pub(super) fn add_gradients(&self, shared: &[f64], kept: &[Kept<T>], out: &mut Out) {
        let m = self.nodes.len();
        let (d, h1) = (self.rays.first.inputs, self.rays.first.outputs);
        let widths = self.widths();
        let shared: Vec<T> = shared.iter().map(|&v| T::of(v)).collect();
        out.each_task(&self.rays, AGENTS_PER_TASK, |task, grads| {
            let (mut w, mut acc, mut grad) = (self.work(), vec![0.0; h1], vec![0.0; d]);
            let mut done = 0; // rows of this task so far
            for (agents, block) in self
                .blocks(task)
                .zip(grads.chunks_mut(d * self.block_agents()))
            {
                let rows = agents.len() * m;
                let g = match kept.get(task) {
                    Some(levels) => {
                        self.first_level(agents, &mut w);
                        let Work {
                            u,
                            values,
                            slopes,
                            g,
                            ..
                        } = &mut w;
                        T::activate(
                            self.activation,
                            &u[..rows * h1],
                            &mut values[0][..rows * h1],
                            Some(&mut slopes[0][..rows * h1]),
                        );
                        let mut all: Vec<&[T]> = vec![&slopes[0][..rows * h1]];
                        all.extend(
                            levels
                                .iter()
                                .zip(&widths[1..])
                                .map(|(level, &h)| &level[done * h..(done + rows) * h]),
                        );
                        self.backward(g, &all, &shared, rows)
                    }
                    None => {
                        self.forward(agents, &mut w, Slopes::All);
                        let Work { slopes, g, .. } = &mut w;
                        let all: Vec<&[T]> = slopes.iter().map(|s| &s[..]).collect();
                        self.backward(g, &all, &shared, rows)
                    }
                };
                done += rows;
                for (rows, out) in g.chunks_exact(m * h1).zip(block.chunks_exact_mut(d)) {
                    acc.iter_mut().for_each(|a| *a = 0.0);
                    for row in rows.chunks_exact(h1) {
                        for (a, v) in acc.iter_mut().zip(row) {
                            *a += v.wide();
                        }
                    }
                    self.rays.first.backward(&acc, &mut grad);
                    for (o, g) in out.iter_mut().zip(&grad) {
                        *o += g;
                    }
                }
            }
            self.done_with(w);
        });
    }

    /// `G₁` of a block from every level's slopes (`slopes[l]`, `[rows, h_l]` or longer), into
    /// one of the two buffers `g`: `[rows, h₁]`.
    fn backward<'g>(
        &self,
        g: &'g mut [Vec<T>; 2],
        slopes: &[&[T]],
        shared: &[T],
        rows: usize,
    ) -> &'g [T] {
        let m = self.nodes.len();
        let top = self.hidden.len();
        let h = shared.len() / m;
        let [g, spare] = g;
        for (r, (g, s)) in g[..rows * h]
            .chunks_exact_mut(h)
            .zip(slopes[top].chunks_exact(h))
            .enumerate()
        {
            let shared = &shared[(r % m) * h..][..h];
            for ((g, s), v) in g.iter_mut().zip(s).zip(shared) {
                *g = *s * *v;
            }
        }
        for (l, layer) in self.hidden.iter().enumerate().rev() {
            let (inp, out) = (layer.inputs, layer.outputs);
            let below = &slopes[l][..rows * inp];
            matmul_scaled([rows, out, inp], &g[..rows * out], &layer.wt, below, spare);
            std::mem::swap(g, spare);
        }
        let g: &'g [T] = g;
        &g[..rows * self.rays.first.outputs]
    }
}

/// Which slopes [`Stack::forward`] writes.
enum Slopes<'k, T> {
    /// None: activations only.
    None,
    /// Every level's, into the task's working memory.
    All,
    /// The levels above the first, into a task's kept slopes from row `row` on.
    Kept { levels: &'k mut Kept<T>, row: usize },
}

/// Slopes of one parallel task's agents at the levels above the first, level by level, each
/// `[agents · m, h_l]` in block order (or longer: the buffers are refilled, not shrunk).
pub(super) type Kept<T> = Vec<Vec<T>>;

/// What a [`Stack`] leaves for the next one: the kept slopes, the tasks' working memory and
/// partial sums, and a step's staged gradients.
pub(super) struct Buffers<T> {
    pub(super) kept: Vec<Kept<T>>,
    pub(super) works: Vec<Work<T>>,
    /// Every task's pooled sums, `[tasks, m, h]`.
    pub(super) sums: Vec<f64>,
    /// Gradients staged across groups of points, `[n, d]`.
    pub(super) staged: Vec<f64>,
}

impl<T> Default for Buffers<T> {
    fn default() -> Self {
        Self {
            kept: Vec::new(),
            works: Vec::new(),
            sums: Vec::new(),
            staged: Vec::new(),
        }
    }
}

/// [`Buffers`] between uses, of whichever precision last used them: refilled from one group
/// of points and one step to the next, since fresh pages cost as much as filling them.
#[derive(Default)]
pub(super) struct BufferCache(std::sync::Mutex<Option<Box<dyn std::any::Any + Send>>>);

impl BufferCache {
    /// The buffers left by the last run in precision `T`, or none.
    pub(super) fn take<T: Send + 'static>(&self) -> Buffers<T> {
        let held = self.0.lock().ok().and_then(|mut held| held.take());
        held.and_then(|b| b.downcast::<Buffers<T>>().ok())
            .map(|b| *b)
            .unwrap_or_default()
    }

    /// Keep `buffers` for the next run.
    pub(super) fn put<T: Send + 'static>(&self, buffers: Buffers<T>) {
        if let Ok(mut held) = self.0.lock() {
            *held = Some(Box::new(buffers));
        }
    }
}

/// A copy starts without buffers.
impl Clone for BufferCache {
    fn clone(&self) -> Self {
        Self::default()
    }
}

impl std::fmt::Debug for BufferCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BufferCache")
    }
}

#[cfg(test)]
mod tests {
    use super::lanes;

    /// Every lane function, with and without fused multiply-adds, against f64 on a fine grid.
    #[test]
    fn lane_functions_follow_f64_to_a_few_ulp() {
        fn check<const FMA: bool>() {
            let mut worst = [0.0f64; 4];
            for k in -200_000..=200_000 {
                let u = k as f32 * 1e-4 * 1.3; // ±26, past every clamp
                let x = f64::from(u);
                let rel = |got: f32, want: f64, scale: f64| (f64::from(got) - want).abs() / scale;
                worst[0] = worst[0].max(rel(
                    lanes::tanh::<FMA>(u),
                    x.tanh(),
                    x.tanh().abs().max(1e-30),
                ));
                worst[1] = worst[1].max(rel(lanes::erf::<FMA>(u), libm::erf(x), 1.0));
                if x.abs() < 80.0 {
                    worst[2] = worst[2].max(rel(lanes::exp::<FMA>(u), x.exp(), x.exp()));
                }
                let cdf = 0.5 * (1.0 + libm::erf(x / 2f64.sqrt()));
                let slope = cdf + x * (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt();
                let (v, s) = lanes::gelu::<FMA>(u);
                worst[3] = worst[3]
                    .max(rel(v, x * cdf, x.abs().max(1.0)))
                    .max(rel(s, slope, 1.0));
            }
            let [tanh, erf, exp, gelu] = worst;
            assert!(tanh < 5e-7, "tanh, FMA {FMA}: {tanh:e}");
            assert!(erf < 5e-7, "erf, FMA {FMA}: {erf:e}");
            assert!(exp < 2e-7, "exp, FMA {FMA}: {exp:e}");
            assert!(gelu < 1e-6, "gelu, FMA {FMA}: {gelu:e}");
        }
        check::<false>();
        check::<true>();
    }

    /// The f64 tanh in lanes follows the library's to a few units in the last place, and
    /// `expm1` stays exact where it is small.
    #[test]
    fn f64_tanh_follows_the_library() {
        fn check<const FMA: bool>() {
            let mut worst = 0.0f64;
            for k in -300_000..=300_000 {
                let x = k as f64 * 1e-4 * 0.83 + 1e-9; // ±25, and tiny values near 0
                let want = x.tanh();
                let got = lanes::tanh_f64::<FMA>(x);
                worst = worst.max((got - want).abs() / want.abs().max(1e-300));
            }
            assert!(worst < 1e-15, "tanh, FMA {FMA}: {worst:e}");
            for y in [1e-12f64, -3e-9, 1e-5, 0.2, -0.3, 2.0, -7.0] {
                let got = lanes::expm1_f64::<FMA>(y);
                assert!(
                    (got - y.exp_m1()).abs() <= 4e-16 * y.exp_m1().abs(),
                    "{y}: {got}"
                );
            }
        }
        check::<false>();
        check::<true>();
    }
}
