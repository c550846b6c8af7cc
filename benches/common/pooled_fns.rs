//! Pooled indicators of the composite `c = Σ_k z_k` written as Rust `PooledFn`s (the host
//! route with the code inlined), shared by the benchmarks.

use aumann::prelude::*;

/// `ψ = (c, c²)`.
#[inline(always)]
fn composite_and_square<S: Scalar>(z: &[S], out: &mut [S]) {
    let c = z.iter().fold(S::constant(0.0), |c, &v| c + v);
    out[0] = c;
    out[1] = c * c;
}

/// The population variance of the composite, `ψ = (c, c²)`, `ρ = s₂ − s₁²`.
pub struct VarianceFn;

impl PooledFn for VarianceFn {
    fn name(&self) -> &str {
        "variance_fn"
    }
    fn pooled_width(&self) -> usize {
        2
    }
    #[inline(always)]
    fn psi<S: Scalar>(&self, z: &[S], out: &mut [S]) {
        composite_and_square(z, out);
    }
    fn rho<S: Scalar>(&self, p: &[S]) -> S {
        p[1] - p[0] * p[0]
    }
}

/// GE(2) of the composite, `(mean(c²)/c̄² − 1)/2`.
pub struct Ge2Fn;

impl PooledFn for Ge2Fn {
    fn name(&self) -> &str {
        "ge2_fn"
    }
    fn pooled_width(&self) -> usize {
        2
    }
    #[inline(always)]
    fn psi<S: Scalar>(&self, z: &[S], out: &mut [S]) {
        composite_and_square(z, out);
    }
    fn rho<S: Scalar>(&self, p: &[S]) -> S {
        (p[1] / (p[0] * p[0]) - 1.0) * 0.5
    }
}
