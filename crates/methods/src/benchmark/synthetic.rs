//! Value functions with known Aumann–Shapley values, for the ground-truth benchmark.
//!
//! Features `x ∈ R^{n×d}` i.i.d. standard normal, zero baseline, `v = vec(x)` agent-major
//! (`v_{i d + k} = x_ik`):
//!
//! ```text
//! additive   V = Σ_i w_i Σ_k x_ik,  w_i ~ U(0.5, 1.5)           φ_i = w_i Σ_k x_ik
//! quadratic  V = vᵀ A v,  A = (G + Gᵀ) / (2 √(n d)), diag 0       φ_i = Σ_k v_ik (A v)_ik
//! softplus   V = (1/β) ln(1 + e^{β wᵀv}),  β = 2, w ~ N(0, 1/(n d))
//!            φ_i = Σ_k w_ik x_ik · ∫₀¹ σ(β α wᵀx) dα,   the integral by the midpoint rule
//!            with 10⁴ points (SPEC §6's ground truth)
//! ```
//!
//! None is permutation-invariant (the weights belong to agents): they test the integrator,
//! not the symmetry axiom. Each is a burn [`Indicator`] for the path engine (for its own `n`
//! only) and a coalition game with incremental updates ([`Incremental`]) for the coalition methods.

use burn::tensor::activation::softplus;
use burn::tensor::{Tensor, TensorData};
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, StandardNormal};

use crate::coalition::Incremental;
use crate::coalition::game::Sum;
use aumann_engine::error::Result;
use aumann_engine::indicators::Indicator;

/// Which value function.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Additive with agent weights.
    Additive,
    /// Quadratic with cross terms (dense `A`: `n d ≤` [`QUADRATIC_MAX`]).
    Quadratic,
    /// Softplus of a weighted sum.
    Softplus,
}

/// Largest `n · d` of the quadratic function (its dense `A` has `(n d)²` entries).
pub const QUADRATIC_MAX: usize = 6_000;

const BETA: f64 = 2.0;

impl Kind {
    /// All three.
    pub const ALL: [Kind; 3] = [Kind::Additive, Kind::Quadratic, Kind::Softplus];

    /// Stable name.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Additive => "additive",
            Kind::Quadratic => "quadratic",
            Kind::Softplus => "softplus",
        }
    }
}

/// One instance: features, the function's parameters, the exact attribution.
#[derive(Clone, Debug)]
pub struct Instance {
    /// The function.
    pub kind: Kind,
    /// Agents.
    pub n: usize,
    /// Features per agent.
    pub d: usize,
    /// `x`, `[n, d]` row-major.
    pub x: Vec<f64>,
    /// Additive: `w_i` (`[n]`); softplus: `w` (`[n d]`); quadratic: `A` (`[n d, n d]`).
    params: Vec<f64>,
    /// The exact `φ`.
    pub truth: Vec<f64>,
}

impl Instance {
    /// A seeded instance.
    ///
    /// # Panics
    /// For a quadratic instance with `n d >` [`QUADRATIC_MAX`].
    pub fn new(kind: Kind, n: usize, d: usize, seed: u64) -> Self {
        let mut rng =
            Xoshiro256PlusPlus::seed_from_u64(aumann_engine::seed::mix(&[seed, n as u64]));
        let m = n * d;
        let x: Vec<f64> = (0..m).map(|_| rng.sample(StandardNormal)).collect();
        let (params, truth) = match kind {
            Kind::Additive => {
                let w: Vec<f64> = (0..n).map(|_| rng.random_range(0.5..1.5)).collect();
                let truth = (0..n)
                    .map(|i| w[i] * x[i * d..(i + 1) * d].iter().sum::<f64>())
                    .collect();
                (w, truth)
            }
            Kind::Quadratic => {
                assert!(
                    m <= QUADRATIC_MAX,
                    "quadratic instances need n·d ≤ {QUADRATIC_MAX}"
                );
                let scale = 1.0 / (m as f64).sqrt();
                let mut a = vec![0.0; m * m];
                for r in 0..m {
                    for c in r + 1..m {
                        let g1: f64 = StandardNormal.sample(&mut rng);
                        let g2: f64 = StandardNormal.sample(&mut rng);
                        let v = 0.5 * (g1 + g2) * scale;
                        a[r * m + c] = v;
                        a[c * m + r] = v;
                    }
                }
                let av: Vec<f64> = (0..m)
                    .map(|r| (0..m).map(|c| a[r * m + c] * x[c]).sum())
                    .collect();
                let truth = (0..n)
                    .map(|i| (i * d..(i + 1) * d).map(|j| x[j] * av[j]).sum())
                    .collect();
                (a, truth)
            }
            Kind::Softplus => {
                let sd = 1.0 / (m as f64).sqrt();
                let w: Vec<f64> = (0..m)
                    .map(|_| sd * rng.sample::<f64, _>(StandardNormal))
                    .collect();
                let s: f64 = w.iter().zip(&x).map(|(a, b)| a * b).sum();
                // ∫₀¹ σ(β α s) dα, midpoint rule with 10⁴ points.
                let points = 10_000;
                let integral = (0..points)
                    .map(|j| sigmoid(BETA * (j as f64 + 0.5) / points as f64 * s))
                    .sum::<f64>()
                    / points as f64;
                let truth = (0..n)
                    .map(|i| (i * d..(i + 1) * d).map(|j| w[j] * x[j] * integral).sum())
                    .collect();
                (w, truth)
            }
        };
        Self {
            kind,
            n,
            d,
            x,
            params,
            truth,
        }
    }

    /// `V` at features `z` (`[n, d]`).
    pub fn value(&self, z: &[f64]) -> f64 {
        let d = self.d;
        match self.kind {
            Kind::Additive => (0..self.n)
                .map(|i| self.params[i] * z[i * d..(i + 1) * d].iter().sum::<f64>())
                .sum(),
            Kind::Quadratic => {
                let m = z.len();
                (0..m)
                    .map(|r| z[r] * (0..m).map(|c| self.params[r * m + c] * z[c]).sum::<f64>())
                    .sum()
            }
            Kind::Softplus => {
                softplus_beta(self.params.iter().zip(z).map(|(a, b)| a * b).sum::<f64>())
            }
        }
    }
}

fn sigmoid(u: f64) -> f64 {
    1.0 / (1.0 + (-u).exp())
}

/// `(1/β) ln(1 + e^{β s})`, computed without overflow.
fn softplus_beta(s: f64) -> f64 {
    let u = BETA * s;
    (u.max(0.0) + (-u.abs()).exp().ln_1p()) / BETA
}

impl Indicator for Instance {
    fn name(&self) -> &str {
        self.kind.name()
    }

    fn forward(&self, z: Tensor<3>) -> Result<Tensor<1>> {
        let [rows, d, n] = z.dims();
        let device = z.device();
        let dtype = z.dtype();
        let tensor = |v: Vec<f64>, shape: [usize; 3]| -> Tensor<3> {
            Tensor::from_data(TensorData::new(v, shape), (&device, dtype))
        };
        Ok(match self.kind {
            Kind::Additive => {
                let w = tensor(self.params.clone(), [1, 1, n]);
                (z.sum_dim(1) * w).sum_dim(2).reshape([rows])
            }
            Kind::Softplus => {
                // w is agent-major [n, d]; z is [rows, d, n].
                let w: Vec<f64> = (0..d)
                    .flat_map(|k| (0..n).map(move |i| (i, k)))
                    .map(|(i, k)| self.params[i * d + k])
                    .collect();
                let s = (z * tensor(w, [1, d, n]))
                    .sum_dim(2)
                    .sum_dim(1)
                    .reshape([rows]);
                softplus(s.mul_scalar(BETA), 1.0).div_scalar(BETA)
            }
            Kind::Quadratic => {
                let m = n * d;
                let v: Tensor<2> = z.swap_dims(1, 2).reshape([rows, m]);
                let a: Tensor<2> = Tensor::from_data(
                    TensorData::new(self.params.clone(), [m, m]),
                    (&device, dtype),
                );
                (v.clone().matmul(a) * v).sum_dim(1).reshape([rows])
            }
        })
    }
}

/// The state of a coalition of an [`Instance`] (zero baseline).
#[derive(Clone, Debug)]
pub struct InstanceState {
    s: Sum,
    /// Quadratic: the current `z` and `A z`.
    z: Vec<f64>,
    az: Vec<f64>,
}

impl Instance {
    fn toggle(&self, st: &mut InstanceState, i: usize, sign: f64) {
        let d = self.d;
        let rows = i * d..(i + 1) * d;
        match self.kind {
            Kind::Additive => {
                st.s.add(sign * self.params[i] * self.x[rows].iter().sum::<f64>())
            }
            Kind::Softplus => {
                st.s.add(sign * rows.map(|j| self.params[j] * self.x[j]).sum::<f64>())
            }
            Kind::Quadratic => {
                let m = self.n * d;
                // V(z + Δ) = V + 2 Δ·(A z)_I + Δᵀ A_II Δ;  A z += A[:, I] Δ.
                let delta: Vec<f64> = rows.clone().map(|j| sign * self.x[j]).collect();
                let mut dv = 0.0;
                for (a, &j) in delta.iter().zip(rows.clone().collect::<Vec<_>>().iter()) {
                    dv += 2.0 * a * st.az[j];
                    for (b, l) in delta.iter().zip(rows.clone()) {
                        dv += a * self.params[j * m + l] * b;
                    }
                }
                st.s.add(dv);
                for (a, j) in delta.iter().zip(rows.clone()) {
                    st.z[j] += a;
                    let col = &self.params[j * m..(j + 1) * m]; // A symmetric: row j = column j
                    for (y, c) in st.az.iter_mut().zip(col) {
                        *y += c * a;
                    }
                }
            }
        }
    }
}

impl Incremental for Instance {
    type State = InstanceState;

    fn players(&self) -> usize {
        self.n
    }

    fn empty(&self) -> InstanceState {
        let m = if self.kind == Kind::Quadratic {
            self.n * self.d
        } else {
            0
        };
        InstanceState {
            s: Sum::default(),
            z: vec![0.0; m],
            az: vec![0.0; m],
        }
    }

    fn join(&self, state: &mut InstanceState, i: usize) {
        self.toggle(state, i, 1.0);
    }

    fn leave(&self, state: &mut InstanceState, i: usize) {
        self.toggle(state, i, -1.0);
    }

    fn value(&self, state: &InstanceState) -> f64 {
        match self.kind {
            Kind::Additive | Kind::Quadratic => state.s.get(),
            Kind::Softplus => softplus_beta(state.s.get()),
        }
    }

    fn value_of(&self, members: &[bool]) -> f64 {
        let d = self.d;
        let z: Vec<f64> = (0..self.n * d)
            .map(|j| if members[j / d] { self.x[j] } else { 0.0 })
            .collect();
        self.value(&z)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incremental_values_match_direct_evaluation() {
        for kind in Kind::ALL {
            let inst = Instance::new(kind, 30, 3, 1);
            let mut s = inst.empty();
            let mut members = vec![false; 30];
            for i in [3, 7, 7, 11, 29, 0, 3] {
                if members[i] {
                    inst.leave(&mut s, i);
                } else {
                    inst.join(&mut s, i);
                }
                members[i] = !members[i];
                let (a, b) = (Incremental::value(&inst, &s), inst.value_of(&members));
                assert!(
                    (a - b).abs() < 1e-12 * b.abs().max(1.0),
                    "{kind:?}: {a} vs {b}"
                );
            }
            // Efficiency of the truth: Σ φ = V(x) − V(0).
            let change = inst.value(&inst.x) - inst.value(&vec![0.0; 90]);
            let sum: f64 = inst.truth.iter().sum();
            assert!(
                (sum - change).abs() < 1e-9 * change.abs().max(1.0),
                "{kind:?}"
            );
        }
    }
}
