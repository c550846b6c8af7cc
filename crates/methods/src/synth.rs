//! Synthetic heavy-tailed populations for demos, tests and benchmarks.
//!
//! Each agent has three `ln(1 + count)` features, as on social data:
//!
//! ```text
//! followers_i = ⌊s (U_i^{−1/a} − 1)⌋           Lomax (Pareto II): median ≈ 1, a long tail
//! reach_i     = ln(1 + followers_i)             constant over time
//! posts_{t,i} = ⌊E · λ_t (0.5 + 0.5 reach_i)⌋   E ~ Exp(1); λ_t a per-step activity level
//! replies_{t,i} = ⌊E' · (1 + posts_{t,i}) · 0.5 (1 + reach_i)⌋
//! x_{t,i} = (reach_i, ln(1 + posts_{t,i}), ln(1 + replies_{t,i}))
//! ```
//!
//! Deterministic for a seed whatever the number of threads: agents are generated in fixed
//! blocks, each from its own stream.

use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, Exp1};
use rayon::prelude::*;

use aumann_engine::array::Array3;
use aumann_engine::error::{Error, Result};
use aumann_engine::limits;

/// Parameters of a synthetic population.
#[derive(Clone, Debug, PartialEq)]
pub struct SynthConfig {
    /// Number of agents `n`.
    pub agents: usize,
    /// Number of time steps `T`.
    pub steps: usize,
    /// Tail index `a` of the follower distribution (smaller is heavier).
    pub tail: f64,
    /// Seed.
    pub seed: u64,
}

impl SynthConfig {
    /// Check the population can be drawn on this machine: at least one agent and step, and its
    /// `[T, n, 3]` float32 array (and as much again while it is drawn) within available memory.
    ///
    /// # Errors
    /// [`Error::Parameter`] for no agents or steps; [`Error::TooLarge`] naming the size and
    /// the bound.
    pub fn check(&self) -> Result<()> {
        if self.agents == 0 || self.steps == 0 {
            return Err(Error::Parameter {
                name: "population",
                value: format!("{} agents, {} steps", self.agents, self.steps),
                reason: "a population needs at least one agent and one step".into(),
            });
        }
        limits::allocation("the population", &[2, self.steps, self.agents, 3], 4)?;
        Ok(())
    }
}

impl Default for SynthConfig {
    fn default() -> Self {
        Self {
            agents: 1_000_000,
            steps: 1,
            tail: 1.1,
            seed: 7,
        }
    }
}

const BLOCK: usize = 1 << 14;

/// A `[T, n, 3]` `f32` population.
pub fn population(config: &SynthConfig) -> Array3 {
    let (n, steps) = (config.agents, config.steps);
    // Activity level per step: a gentle rise with one burst in the middle.
    let level: Vec<f64> = (0..steps)
        .map(|t| 1.0 + 0.1 * t as f64 + if t == steps / 2 { 2.0 } else { 0.0 })
        .collect();
    let scale = 1.0 / (2f64.powf(1.0 / config.tail) - 1.0); // median follower count 1
    let mut values = vec![0.0f32; steps * n * 3];
    // Agent blocks in parallel; within a block, every step of every agent.
    let blocks: Vec<Vec<f32>> = (0..n.div_ceil(BLOCK))
        .into_par_iter()
        .map(|blk| {
            let mut rng = Xoshiro256PlusPlus::seed_from_u64(
                config.seed ^ (blk as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
            );
            let agents = BLOCK.min(n - blk * BLOCK);
            let mut out = vec![0.0f32; steps * agents * 3];
            for i in 0..agents {
                let u: f64 = 1.0 - rng.random::<f64>(); // (0, 1]
                let followers = (scale * (u.powf(-1.0 / config.tail) - 1.0)).floor();
                let reach = followers.ln_1p();
                for (t, lv) in level.iter().enumerate() {
                    let e: f64 = Exp1.sample(&mut rng);
                    let posts = (e * lv * (0.5 + 0.5 * reach)).floor();
                    let e2: f64 = Exp1.sample(&mut rng);
                    let replies = (e2 * (1.0 + posts) * 0.5 * (1.0 + reach)).floor();
                    let o = (t * agents + i) * 3;
                    out[o] = reach as f32;
                    out[o + 1] = posts.ln_1p() as f32;
                    out[o + 2] = replies.ln_1p() as f32;
                }
            }
            out
        })
        .collect();
    for (blk, block) in blocks.iter().enumerate() {
        let agents = block.len() / (3 * steps);
        for t in 0..steps {
            let dst = (t * n + blk * BLOCK) * 3;
            values[dst..dst + agents * 3]
                .copy_from_slice(&block[t * agents * 3..(t + 1) * agents * 3]);
        }
    }
    Array3::from_f32([steps, n, 3], values)
}

/// `populations` independent populations of `agents` agents as one `[R, n, 3]` array: each
/// has its own seed and its own tail index, drawn uniformly from `[1, 2]`, so that their
/// macro values spread (training data for a value network).
pub fn independent_populations(populations: usize, agents: usize, seed: u64) -> Array3 {
    let parts: Vec<Array3> = (0..populations)
        .into_par_iter()
        .map(|r| {
            let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed.wrapping_add(r as u64));
            let tail = 1.0 + rng.random::<f64>();
            population(&SynthConfig {
                agents,
                steps: 1,
                tail,
                seed: rng.random::<u64>(),
            })
        })
        .collect();
    let mut values = Vec::with_capacity(populations * agents * 3);
    for p in &parts {
        match p.values() {
            aumann_engine::array::Values::F32(v) => values.extend_from_slice(v),
            aumann_engine::array::Values::F64(v) => values.extend(v.iter().map(|&x| x as f32)),
        }
    }
    Array3::from_f32([populations, agents, 3], values)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_heavy_tailed() {
        let cfg = SynthConfig {
            agents: 50_000,
            steps: 2,
            ..SynthConfig::default()
        };
        let a = population(&cfg);
        assert_eq!(a, population(&cfg));
        let reach: Vec<f64> = (0..cfg.agents).map(|i| a.get(0, i, 0)).collect();
        let mut sorted = reach.clone();
        sorted.sort_by(f64::total_cmp);
        let median = sorted[cfg.agents / 2].exp_m1();
        let max = sorted[cfg.agents - 1].exp_m1();
        assert!(median <= 2.0, "median followers {median}");
        assert!(max > 10_000.0, "max followers {max}");
        // Reach is constant over steps.
        assert!((0..cfg.agents).all(|i| a.get(0, i, 0) == a.get(1, i, 0)));
    }
}
