//! Coalition methods for any indicator: coalitions scored by the indicator's own tensor
//! program, many at once.
//!
//! ```text
//! z_S = b + 1_S ⊙ (x − b)           [rows, d, n]: one row per coalition S
//! v(S) = V(z_S)
//! ```
//!
//! [`TensorGame`] scores coalitions with any [`Indicator`] on any backend, stacking them as rows
//! of one tensor in blocks of at most a given number of feature values: the coalition methods
//! of [`super::methods`] for learned and simulated indicators. With the same seed they use the
//! same permutations and coalitions as on the incremental closed-form games, so on the
//! analytic indicators the two agree to rounding.

use burn::tensor::{Device, Tensor, TensorData};

use super::game::Game;
use aumann_engine::array::{Array3, download};
use aumann_engine::backend::Precision;
use aumann_engine::baseline::Baseline;
use aumann_engine::error::{Error, Result};
use aumann_engine::indicators::Indicator;

/// One step of a population as a game scored by an indicator's tensor program.
pub struct TensorGame<'a> {
    indicator: &'a dyn Indicator,
    /// `x − b`, `[1, d, n]`.
    delta: Tensor<3>,
    /// `[1, d, n]`.
    b: Tensor<3>,
    n: usize,
    rows: usize,
}

impl<'a> TensorGame<'a> {
    /// The game of `indicator` on the one-step `features` (`[1, n, d]`) from `baseline`
    /// (broadcast to them), on `device` in `precision`; coalitions are scored in blocks of at
    /// most `block_elements` feature values.
    ///
    /// # Errors
    /// Features of more than one step, too few agents for the indicator, or a precision the
    /// device lacks.
    pub fn new(
        indicator: &'a dyn Indicator,
        features: &Array3,
        baseline: &Baseline,
        device: &Device,
        precision: Precision,
        block_elements: usize,
    ) -> Result<Self> {
        let [steps, n, d] = features.shape();
        if steps != 1 {
            return Err(Error::Shape {
                what: "the population of a coalition game".into(),
                expected: "one step, [1, n, d]".into(),
                got: features.shape().to_vec(),
            });
        }
        if n < indicator.min_agents() {
            return Err(Error::TooFewAgents {
                indicator: indicator.name().into(),
                need: indicator.min_agents(),
                got: n,
            });
        }
        let dtype = precision.dtype();
        if !device.supports_dtype(dtype) {
            return Err(Error::UnsupportedPrecision {
                backend: format!("{device:?}"),
                device: aumann_engine::backend::describe(device),
            });
        }
        let x = features.upload(0, 1, device, dtype);
        let b = baseline.upload(0, 1, device, dtype).expand([1, d, n]);
        Ok(Self {
            indicator,
            delta: x - b.clone(),
            b,
            n,
            rows: (block_elements / (n * d).max(1)).max(1),
        })
    }
}

impl Game for TensorGame<'_> {
    fn players(&self) -> usize {
        self.n
    }

    fn batch(&self) -> usize {
        self.rows
    }

    fn values(&self, members: &[bool]) -> Result<Vec<f64>> {
        let n = self.n;
        let (device, dtype) = (self.b.device(), self.b.dtype());
        let mut out = Vec::with_capacity(members.len() / n.max(1));
        for block in members.chunks(self.rows * n) {
            let rows = block.len() / n;
            let mask: Vec<f64> = block.iter().map(|&m| f64::from(u8::from(m))).collect();
            let mask =
                Tensor::<3>::from_data(TensorData::new(mask, [rows, 1, n]), (&device, dtype));
            let z = mask * self.delta.clone() + self.b.clone(); // [rows, d, n]
            let v = self.indicator.forward(z)?;
            out.extend(download(v, "coalition values")?);
        }
        Ok(out)
    }
}
