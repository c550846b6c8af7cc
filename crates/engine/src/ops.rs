//! Elementwise functions that are accurate on every backend and precision.
//!
//! On Vulkan, cubecl lowers `exp`, `log`, `pow` to SPIR-V's `GLSL.std.450` instructions,
//! which are defined for 16- and 32-bit floats only: in `f64` they return garbage (on
//! lavapipe `ln(1.05)` comes back as 18.02), and so does the backward pass of `sqrt`, which
//! goes through `pow`. Arithmetic, `sqrt`'s forward pass, comparisons and `log1p`'s backward
//! pass are correct. On such a device (every Vulkan device: [`f64_transcendentals_work`]) the
//! functions here compute the value from arithmetic and `sqrt` alone and attach the exact derivative,
//! so autodiff never touches a broken kernel.
//!
//! ```text
//! log1p(u) = 2^k · 2 atanh(t),   t = s / (2 + s),   s = u reduced by k steps of s ← s / (√(1+s) + 1)
//! ```
//!
//! (each step halves `ln(1 + s)`; 14 steps bring any finite `f64` below `|s| ≤ 0.1`, where 13
//! terms of the `atanh` series are exact to `f64` rounding).

use burn::tensor::{DType, Device, Tensor};

/// `softplus(u) = ln(1 + eᵘ)`, elementwise, accurate to the last bits where it is tiny
/// (`max(u, 0) + ln(1 + e^{−|u|})`; the plain form loses all relative precision below
/// `u ≈ −37` in f64, which an efficiency check over a small risk sees).
pub fn softplus<const D: usize>(u: Tensor<D>) -> Tensor<D> {
    let tail = log1p(u.clone().abs().neg().exp());
    burn::tensor::activation::relu(u) + tail
}

/// The logistic `σ(u) = 1/(1 + e^{−u}) = ½ + ½ tanh(u/2)`, elementwise, in the tensor's own
/// precision (burn 0.22's `sigmoid` computes in f32 whatever the dtype, which an f64
/// efficiency check sees as a 10⁻⁷ gap). Through `tanh` it is one pass, never overflows, and
/// its derivative `(1 − tanh²)/4` is finite everywhere; values are accurate to the last bit
/// in absolute terms (relative accuracy of values below ~10⁻¹⁶ is not kept).
pub fn sigmoid<const D: usize>(u: Tensor<D>) -> Tensor<D> {
    (u * 0.5).tanh() * 0.5 + 0.5
}

/// `ln(1 + u)`, elementwise, for `u > −1`.
pub fn log1p<const D: usize>(u: Tensor<D>) -> Tensor<D> {
    if u.dtype() != DType::F64 || f64_transcendentals_work(&u.device()) {
        return u.log1p();
    }
    let value = log1p_arithmetic(u.clone().detach());
    let derivative = (u.clone().detach() + 1.0).recip();
    with_derivative(u, value, derivative)
}

/// A tensor whose value is `value` and whose gradient with respect to `u` is `derivative`
/// (first order): `value + (u − u) · derivative`, with `value` and `derivative` detached.
fn with_derivative<const D: usize>(
    u: Tensor<D>,
    value: Tensor<D>,
    derivative: Tensor<D>,
) -> Tensor<D> {
    let zero = u.clone() - u.detach();
    value + zero * derivative
}

/// `ln(1 + u)` from arithmetic and `sqrt` only.
fn log1p_arithmetic<const D: usize>(u: Tensor<D>) -> Tensor<D> {
    let mut s = u;
    let mut scale = s.ones_like();
    for _ in 0..14 {
        let big = s.clone().abs().greater_elem(0.1);
        let reduced = s.clone() / ((s.clone() + 1.0).sqrt() + 1.0);
        s = s.mask_where(big.clone(), reduced);
        scale = scale.clone().mask_where(big, scale.mul_scalar(2.0));
    }
    let t = s.clone() / (s + 2.0);
    let t2 = t.clone() * t.clone();
    // atanh(t) = t (1 + t²/3 + t⁴/5 + …), Horner from the highest term.
    let mut series = t2.zeros_like();
    for j in (0..13).rev() {
        series = series * t2.clone() + 1.0 / (2 * j + 1) as f64;
    }
    (t * series).mul_scalar(2.0) * scale
}

/// Whether `exp`, `log`, `pow` and the functions built on them may run in `f64` on `device`:
/// on the CPU backends only. Vulkan's `GLSL.std.450` defines them for 16- and 32-bit floats,
/// and drivers differ in how they break: lavapipe returns garbage, NVIDIA's compiler rejects
/// the shader and the device is lost for the rest of the process, so no probe can ask.
pub fn f64_transcendentals_work(device: &Device) -> bool {
    crate::backend::on_host(device)
}

/// Longest reduction handed to a GPU backend in one operation. burn 0.22's CubeCL reduce
/// drops elements past about 2¹⁶ of a reduced dimension on devices whose dispatch is limited
/// to 65 535 workgroups a dimension (lavapipe): a sum over 10⁵ agents came back as the sum of
/// the first 65 535.
pub const GPU_REDUCE_CHUNK: usize = 1 << 15;

/// `Σ` over dimension `dim`, kept as size 1. On a GPU backend a dimension longer than
/// [`GPU_REDUCE_CHUNK`] is padded with zeros to whole chunks of that length, each chunk is
/// summed and then the chunks' sums: two reductions however long the dimension (up to
/// `GPU_REDUCE_CHUNK²` elements), so the dispatches do not grow with it.
pub fn sum_dim<const D: usize>(t: Tensor<D>, dim: usize) -> Tensor<D> {
    let dims = t.dims();
    let n = dims[dim];
    if n <= GPU_REDUCE_CHUNK || crate::backend::on_host(&t.device()) {
        return t.sum_dim(dim);
    }
    let outer: usize = dims[..dim].iter().product();
    let inner: usize = dims[dim + 1..].iter().product();
    let chunks = n.div_ceil(GPU_REDUCE_CHUNK);
    let (device, dtype) = (t.device(), t.dtype());
    let flat = t.reshape([outer, n, inner]);
    let padded = match chunks * GPU_REDUCE_CHUNK - n {
        0 => flat,
        pad => Tensor::cat(
            vec![flat, Tensor::zeros([outer, pad, inner], (&device, dtype))],
            1,
        ),
    };
    let sums = padded
        .reshape([outer, chunks, GPU_REDUCE_CHUNK, inner])
        .sum_dim(2)
        .sum_dim(1);
    let mut kept = dims;
    kept[dim] = 1;
    sums.reshape(kept)
}

/// The mean over dimension `dim`, kept as size 1, as [`sum_dim`] divided by its length.
pub fn mean_dim<const D: usize>(t: Tensor<D>, dim: usize) -> Tensor<D> {
    let n = t.dims()[dim];
    if n <= GPU_REDUCE_CHUNK || crate::backend::on_host(&t.device()) {
        return t.mean_dim(dim);
    }
    sum_dim(t, dim).div_scalar(n as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::TensorData;

    #[test]
    fn arithmetic_log1p_is_accurate_over_the_whole_range() {
        let device = Device::flex();
        let u: Vec<f64> = vec![
            0.0, 1e-300, 1e-20, 1e-8, 0.05, 0.1, 0.5, 1.0, 3.0, 1e3, 1e10, 1e100, 1e300, -0.5,
            -0.999,
        ];
        let t =
            Tensor::<1>::from_data(TensorData::new(u.clone(), [u.len()]), (&device, DType::F64));
        let got = log1p_arithmetic(t)
            .into_data()
            .try_into_vec_as::<f64>()
            .unwrap();
        for (x, g) in u.iter().zip(got) {
            let want = x.ln_1p();
            assert!(
                (g - want).abs() <= 4.0 * f64::EPSILON * want.abs(),
                "log1p({x}) = {g}, want {want}"
            );
        }
    }

    #[test]
    fn sigmoid_is_exact_in_f64_and_its_derivative_finite_everywhere() {
        let device = Device::flex().autodiff();
        let u: Vec<f64> = vec![-800.0, -30.0, -1.0, -1e-9, 0.0, 1e-9, 0.5, 30.0, 800.0];
        let t =
            Tensor::<1>::from_data(TensorData::new(u.clone(), [u.len()]), (&device, DType::F64))
                .require_grad();
        let y = sigmoid(t.clone());
        let g = t.grad(&y.clone().sum().backward()).unwrap();
        let y = y.into_data().try_into_vec_as::<f64>().unwrap();
        let g = g.into_data().try_into_vec_as::<f64>().unwrap();
        for ((x, y), g) in u.iter().zip(y).zip(g) {
            let want = if *x >= 0.0 {
                1.0 / (1.0 + (-x).exp())
            } else {
                x.exp() / (1.0 + x.exp())
            };
            // Absolute accuracy: what an f64 sum of such terms needs.
            assert!(
                (y - want).abs() <= 2.0 * f64::EPSILON,
                "σ({x}) = {y}, want {want}"
            );
            let dwant = want * (1.0 - want);
            assert!(
                g.is_finite() && (g - dwant).abs() <= 2.0 * f64::EPSILON,
                "σ'({x}) = {g}, want {dwant}"
            );
        }
    }

    #[test]
    fn the_derivative_is_attached() {
        let device = Device::flex().autodiff();
        let u = Tensor::<1>::from_data(
            TensorData::new(vec![0.5f64, 4.0], [2]),
            (&device, DType::F64),
        )
        .require_grad();
        let value = log1p_arithmetic(u.clone().detach());
        let derivative = (u.clone().detach() + 1.0).recip();
        let y = with_derivative(u.clone(), value, derivative);
        let g = u
            .grad(&y.sum().backward())
            .unwrap()
            .into_data()
            .try_into_vec_as::<f64>()
            .unwrap();
        assert_eq!(g, vec![1.0 / 1.5, 1.0 / 5.0]);
    }
}
