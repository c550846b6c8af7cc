//! A DeepSet as a [`PooledFn`]: ψ and ρ written once over any [`Scalar`] from the network's
//! weights, so that the dual-number pooled passes ([`PoolingFn`]) attribute it chunk by chunk
//! ([`crate::chunked`]).
//!
//! ```text
//! ψ(z) = L_ψ,D(σ(… σ(L_ψ,1(z)))),   ρ(p) = L_ρ,D(σ(… σ(L_ρ,1(p)))),   L(a) = Wᵀ a + c
//! σ: tanh, softplus, u Φ(u) = u (1 + erf(u/√2))/2, or u²
//! ```

use super::ray::Dense;
use super::{Activation, DeepSet};
use crate::indicators::pooled_fn::{PooledFn, PoolingFn};
use crate::indicators::scalar::Scalar;

/// A DeepSet's weights in f64 and its activation.
#[derive(Clone, Debug)]
pub struct DeepSetFn {
    psi: Vec<Dense>,
    rho: Vec<Dense>,
    activation: Activation,
}

impl DeepSetFn {
    /// The network's weights read back; `None` if one cannot be.
    pub fn new(net: &DeepSet) -> Option<Self> {
        Some(Self {
            psi: net.psi.iter().map(Dense::of).collect::<Option<_>>()?,
            rho: net.rho.iter().map(Dense::of).collect::<Option<_>>()?,
            activation: net.activation,
        })
    }

    /// `σ(u)`.
    #[inline(always)]
    fn activate<S: Scalar>(&self, u: S) -> S {
        match self.activation {
            Activation::Tanh => u.tanh(),
            Activation::Softplus => u.softplus(),
            Activation::Square => u * u,
            Activation::Gelu => u * ((u * std::f64::consts::FRAC_1_SQRT_2).erf() + 1.0) * 0.5,
        }
    }

    /// The layers applied in turn, `σ` between them.
    fn stack<S: Scalar>(&self, layers: &[Dense], input: &[S]) -> Vec<S> {
        let mut a = input.to_vec();
        for (l, layer) in layers.iter().enumerate() {
            a = layer.apply(&a);
            if l + 1 < layers.len() {
                a.iter_mut().for_each(|v| *v = self.activate(*v));
            }
        }
        a
    }
}

impl PooledFn for DeepSetFn {
    fn name(&self) -> &str {
        "deepset"
    }

    fn pooled_width(&self) -> usize {
        self.psi.last().map_or(0, |l| l.outputs)
    }

    fn psi<S: Scalar>(&self, z: &[S], out: &mut [S]) {
        out.copy_from_slice(&self.stack(&self.psi, z));
    }

    fn rho<S: Scalar>(&self, p: &[S]) -> S {
        self.stack(&self.rho, p)[0]
    }
}

/// The pooled passes of `net`, read from its weights.
pub(super) fn passes(net: &DeepSet) -> Option<PoolingFn<DeepSetFn>> {
    DeepSetFn::new(net).map(PoolingFn::new)
}
