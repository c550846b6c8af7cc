//! `econ`: an EconAgent-like economy of households (the paper's EconAgent scenario): labour,
//! income, progressive tax with lump-sum redistribution, rationed consumption, price and wage
//! adjustment, yearly interest by a Taylor rule.
//!
//! # Simulation (rule-based policy, seeded draws; monthly steps)
//!
//! Skills are `min(950, 949 · Lomax(8) + 1)`, wealth starts at one month's full-time pay,
//! the price at the mean skill, interest at 3 %. Every month each household works 168 hours
//! with probability `min(1, (168 s / (w (1 + r)))^γ)` (γ = 0.1) and earns `y = 168 s`; pays the
//! 2018 US brackets / 12 (at most its wealth), the revenue returned as an equal lump sum;
//! consumes `c = κ w` at the rate `κ = min(1, (P / (w + y))^β)` (β = 0.1), rationed by the
//! goods inventory `G` (supply: one unit per hour worked). The imbalance
//! `φ = (D − G)/max(D, G)` moves skills by `U(0, 0.05 φ)` and the price by `U(0, 0.1 φ)`
//! (relative, floored at 1); every twelfth month wealth earns `r`, then
//! `r = max(0, 0.03 + 0.5 (π − 0.02) + 0.5 (0.04 − u))` from the year's inflation and
//! unemployment. Features of month t: consumption, income, consumption rate, investment rate
//! (the buffer-stock ratio `w / (w + 6 y + 1)`), labour (0 or 1), saving rate `1 − κ`, wealth.
//! Context per month: price, inventory, interest.
//!
//! # Indicators (smooth, deterministic; temperature τ)
//!
//! ```text
//! D   = Σ_i c_i / P                                  goods demanded
//! ED  = (D − G) / (D + G + D₀),  D₀ = 168 n           excess demand
//! BS  = mean_i σ((c_i − y_i) / (w_i + P))            budget stress
//! WC  = n Σ w_i² / (Σ w_i)² − 1                      wealth concentration
//! IN  = mean_i (1 − ℓ_i)                             instability (idle labour)
//! static   V = τ softplus((ED + BS + 0.1 WC + 0.5 IN − θ)/τ) · (1 + softplus(mean_i w_i / P − 1))
//! rollout  V^H = static(F^H(x); C_{t+H}): the dynamics with prices, inventory and interest
//!          held at month t's (C_t), the risk read with month t + H's prices and inventory
//!          (the run's last month where t + H is past it):
//! F:  tax_i = y_i (0.37 − 0.27 e^{−y_i/y₀})                         the brackets' average rate
//!     f     = G / smax(D, G),  smax = (D + G + √((D − G)² + D₀²))/2  rationing
//!     w'    = w + y − tax + mean(tax) − c f,   c' = κ w',   ι' = w'/(w' + 6 y + 1)
//!     y, κ, ℓ and the saving rate persist (the policy's choices at t)
//! ```
//!
//! No graph: households interact through the lump sum, the rationing and the aggregates.
//! The baseline action: no work (labour and income 0), no consumption (consumption and its rate
//! 0, saving rate 1), no investment (rate 0), wealth kept.

use aumann_engine::ops::{mean_dim, sum_dim};
use burn::tensor::Tensor;
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};

use super::{
    Held, Knobs, RiskOf, ScenarioConfig, ScenarioEntry, Simulated, Simulation, is_held, only_run,
    positive, refuse,
};
use aumann_engine::array::Array3;
use aumann_engine::error::Result;
use aumann_engine::indicators::Indicator;
use aumann_engine::ops::softplus;

/// The features, in order.
pub const FEATURES: [&str; 7] = [
    "consumption",
    "income",
    "consumption_rate",
    "investment_rate",
    "labour",
    "saving_rate",
    "wealth",
];

/// Monthly tax brackets: lower cut-offs (the 2018 US brackets / 12) and rates.
const CUTS: [f64; 7] = [
    0.0,
    9_700.0 / 12.0,
    39_475.0 / 12.0,
    84_200.0 / 12.0,
    160_725.0 / 12.0,
    204_100.0 / 12.0,
    510_300.0 / 12.0,
];
const RATES: [f64; 7] = [0.10, 0.12, 0.22, 0.24, 0.32, 0.35, 0.37];

/// The registry entry.
pub const ENTRY: ScenarioEntry = scenario_entry!(
    "econ",
    "an EconAgent-like economy: labour, progressive tax, rationed consumption, prices",
    &FEATURES,
    Econ,
    EconConfig
);

/// Parameters of the `econ` scenario (every default documented).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EconConfig {
    /// Households `n` (default 100).
    pub agents: usize,
    /// Months `T` (default 120).
    pub steps: usize,
    /// Risk threshold `θ` of the macro pressure (default 0.5).
    pub threshold: f64,
    /// Temperature `τ` of the risk's softplus (default 0.05).
    pub temperature: f64,
    /// Income scale `y₀` of the rollout's smooth tax curve, monthly (default 8 000: the
    /// average rate is 10 % near 0, 27 % at 8 000 and 37 % far above).
    pub tax_scale: f64,
    /// Rollout horizon `H` in months (default 3).
    pub horizon: usize,
    /// Seed.
    pub seed: u64,
}

impl Default for EconConfig {
    fn default() -> Self {
        Self {
            agents: 100,
            steps: 120,
            threshold: 0.5,
            temperature: 0.05,
            tax_scale: 8_000.0,
            horizon: 3,
            seed: 7,
        }
    }
}

impl ScenarioConfig for EconConfig {
    fn knobs(&mut self) -> Knobs<'_> {
        knobs_of!(self)
    }

    fn checked(self) -> Result<Self> {
        if self.agents < 2 {
            return refuse("agents", self.agents, "at least 2 households");
        }
        if self.steps == 0 {
            return refuse("steps", 0, "at least one month");
        }
        positive("temperature", self.temperature)?;
        positive("tax_scale", self.tax_scale)?;
        Ok(self)
    }
}

/// An agent's decisions in the `econ` scenario.
pub trait EconPolicy {
    /// Probability of working this month, given skill, wealth and interest.
    fn work(&self, skill: f64, wealth: f64, interest: f64) -> f64;
    /// The consumption rate, given the price, wealth and this month's income.
    fn consumption_rate(&self, price: f64, wealth: f64, income: f64) -> f64;
}

/// The rule-based ("complex") policy: `min(1, (168 s/(w (1 + r)))^0.1)` and
/// `min(1, (P/(w + y))^0.1)`.
#[derive(Clone, Copy, Debug, Default)]
pub struct RulePolicy;

impl EconPolicy for RulePolicy {
    fn work(&self, skill: f64, wealth: f64, interest: f64) -> f64 {
        (168.0 * skill / (wealth.max(1.0) * (1.0 + interest)))
            .powf(0.1)
            .min(1.0)
    }

    fn consumption_rate(&self, price: f64, wealth: f64, income: f64) -> f64 {
        (price / (wealth + income).max(1.0)).powf(0.1).min(1.0)
    }
}

/// The `econ` scenario: its parameters and its households' policy.
#[derive(Clone)]
pub struct Econ {
    /// Parameters.
    pub config: EconConfig,
    /// The households' decisions (default [`RulePolicy`]).
    pub policy: std::sync::Arc<dyn EconPolicy + Send + Sync>,
}

impl Econ {
    /// The scenario with the rule-based policy.
    pub fn new(config: EconConfig) -> Self {
        Self {
            config,
            policy: std::sync::Arc::new(RulePolicy),
        }
    }
}

/// Tax on a monthly income, the brackets applied exactly.
fn tax(y: f64) -> f64 {
    (0..CUTS.len())
        .map(|k| {
            let top = CUTS.get(k + 1).copied().unwrap_or(f64::INFINITY);
            RATES[k] * (y.min(top) - CUTS[k]).max(0.0)
        })
        .sum()
}

impl Simulated for Econ {
    type Config = EconConfig;
    const ENTRY: &'static ScenarioEntry = &ENTRY;

    fn config(&self) -> &EconConfig {
        &self.config
    }

    fn run(&self, config: &EconConfig) -> Result<Simulation> {
        Ok(simulate(config, self.policy.as_ref(), None))
    }

    fn run_held(&self, config: &EconConfig, run: usize, held: &Held) -> Result<Option<Simulation>> {
        only_run(run)?;
        Ok(Some(simulate(config, self.policy.as_ref(), Some(held))))
    }

    fn risk(&self, of: RiskOf<'_>) -> Result<Box<dyn Indicator>> {
        let RiskOf {
            simulation,
            which,
            step,
        } = of;
        let horizon = which.steps(self.config.horizon);
        // Month t + H of the same run, or the run's last month.
        let per_run = simulation.features.steps() / simulation.runs.max(1);
        let end = (step + horizon).min((step / per_run + 1) * per_run - 1);
        let context = |row: usize| -> Result<Context> {
            Ok(Context {
                price: simulation.series("price")?[row],
                inventory: simulation.series("inventory")?[row],
            })
        };
        Ok(Box::new(EconRisk {
            config: self.config.clone(),
            horizon,
            during: context(step)?,
            after: context(end)?,
        }))
    }
}

/// Simulate `config` (checked) with `policy` and `held` households idle: deterministic for the
/// seed.
fn simulate(config: &EconConfig, policy: &dyn EconPolicy, held: Option<&Held>) -> Simulation {
    let n = config.agents;
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(aumann_engine::seed::mix(&[config.seed, 3]));
    let mut economy = Economy::new(n, &mut rng);
    let (mut x, mut base) = (Vec::new(), Vec::new());
    let mut context = [(); 3].map(|_| Vec::with_capacity(config.steps));
    for t in 0..config.steps {
        let mask = Held::enter(held, t, config.seed, &mut rng);
        economy.month(policy, mask, &mut rng, &mut x, &mut base);
        let e = &economy;
        for (series, v) in context.iter_mut().zip([e.price, e.inventory, e.interest]) {
            series.push(v);
        }
        if (t + 1) % 12 == 0 {
            economy.year_end();
        }
    }
    let shape = [config.steps, n, FEATURES.len()];
    let f32s = |v: Vec<f64>| v.into_iter().map(|a| a as f32).collect();
    let [p, g, r] = context;
    Simulation {
        features: Array3::from_f32(shape, f32s(x)),
        baseline: Array3::from_f32(shape, f32s(base)),
        graph: None,
        context: vec![
            ("price".into(), p),
            ("inventory".into(), g),
            ("interest".into(), r),
        ],
        runs: 1,
    }
}

/// The simulated economy's state between months.
struct Economy {
    skill: Vec<f64>,
    wealth: Vec<f64>,
    price: f64,
    interest: f64,
    inventory: f64,
    /// The price at the start of the year, for its inflation.
    year_price: f64,
    /// Σ of the monthly idle shares this year, for its unemployment.
    idle_months: f64,
}

impl Economy {
    /// Skills `min(950, 949 Lomax(8) + 1)`, one month's pay as wealth, the mean skill as price.
    fn new(n: usize, rng: &mut Xoshiro256PlusPlus) -> Self {
        let skill: Vec<f64> = (0..n)
            .map(|_| {
                let lomax = (1.0 - rng.random::<f64>()).powf(-1.0 / 8.0) - 1.0;
                (949.0 * lomax + 1.0).min(950.0)
            })
            .collect();
        let wealth = skill.iter().map(|s| 168.0 * s).collect();
        let price = skill.iter().sum::<f64>() / n as f64;
        Self {
            skill,
            wealth,
            price,
            interest: 0.03,
            inventory: 0.0,
            year_price: price,
            idle_months: 0.0,
        }
    }

    /// One month, the households in `held` idle (neither working nor consuming; their draws
    /// are still made); the households' features and baseline actions are appended to `x`,
    /// `base`.
    fn month(
        &mut self,
        policy: &dyn EconPolicy,
        held: Option<&[bool]>,
        rng: &mut Xoshiro256PlusPlus,
        x: &mut Vec<f64>,
        base: &mut Vec<f64>,
    ) {
        let n = self.skill.len();
        let works: Vec<bool> = (0..n)
            .map(|i| {
                let p = policy.work(self.skill[i], self.wealth[i], self.interest);
                rng.random::<f64>() < p && !is_held(held, i)
            })
            .collect();
        let income: Vec<f64> = (0..n)
            .map(|i| if works[i] { 168.0 * self.skill[i] } else { 0.0 })
            .collect();
        let paid: Vec<f64> = (0..n)
            .map(|i| tax(income[i]).min(self.wealth[i] + income[i]))
            .collect();
        let lump = paid.iter().sum::<f64>() / n as f64;
        for i in 0..n {
            self.wealth[i] += income[i] - paid[i] + lump;
        }
        let previous = self.inventory;
        self.inventory += works.iter().filter(|&&w| w).count() as f64 * 168.0;
        let kappa: Vec<f64> = (0..n)
            .map(|i| match is_held(held, i) {
                true => 0.0,
                false => policy.consumption_rate(self.price, self.wealth[i], income[i]),
            })
            .collect();
        let served = self.consume(&kappa, previous, rng);
        self.idle_months += works.iter().filter(|&&w| !w).count() as f64 / n as f64;
        for i in 0..n {
            let spent = kappa[i] * self.wealth[i] * served;
            self.wealth[i] -= spent;
            let w = self.wealth[i];
            let invest = w / (w + 6.0 * income[i] + 1.0);
            let labour = f64::from(u8::from(works[i]));
            let idle = [0.0, 0.0, 0.0, 0.0, 0.0, 1.0, w];
            match is_held(held, i) {
                true => x.extend(idle),
                false => x.extend([
                    spent,
                    income[i],
                    kappa[i],
                    invest,
                    labour,
                    1.0 - kappa[i],
                    w,
                ]),
            }
            base.extend(idle);
        }
    }

    /// Demand at the rates `kappa`, rationed by the inventory; skills and the price move with
    /// the imbalance against last month's inventory. Returns the share of demand served.
    fn consume(&mut self, kappa: &[f64], previous: f64, rng: &mut Xoshiro256PlusPlus) -> f64 {
        let wanted: f64 = kappa.iter().zip(&self.wealth).map(|(k, w)| k * w).sum();
        let demand = wanted / self.price;
        let served = if demand > 0.0 {
            (self.inventory / demand).min(1.0)
        } else {
            1.0
        };
        self.inventory -= demand * served;
        let imbalance = (demand - previous) / demand.max(previous).max(1e-12);
        for s in &mut self.skill {
            *s = (*s * (1.0 + rng.random::<f64>() * 0.05 * imbalance)).max(1.0);
        }
        self.price = (self.price * (1.0 + rng.random::<f64>() * 0.1 * imbalance)).max(1.0);
        served
    }

    /// Interest on wealth, then the Taylor rule from the year's inflation and unemployment.
    fn year_end(&mut self) {
        for w in &mut self.wealth {
            *w += self.interest * *w;
        }
        let inflation = self.price / self.year_price - 1.0;
        let unemployment = self.idle_months / 12.0;
        self.interest = (0.03 + 0.5 * (inflation - 0.02) + 0.5 * (0.04 - unemployment)).max(0.0);
        (self.year_price, self.idle_months) = (self.price, 0.0);
    }
}

/// The static (`horizon = 0`) or rollout indicator of one month.
#[derive(Clone, Debug)]
pub struct EconRisk {
    config: EconConfig,
    horizon: usize,
    /// `C_t`, held through the dynamics.
    during: Context,
    /// `C_{t+H}`, that the risk is read with.
    after: Context,
}

/// The context a risk or a step reads.
#[derive(Clone, Copy, Debug)]
struct Context {
    price: f64,
    inventory: f64,
}

impl EconRisk {
    /// The smoothed monthly tax of incomes `y` (`[rows, 1, n]`): the brackets' average rate
    /// as one analytic curve, `y (r_max − (r_max − r_min) e^{−y/y₀})`, which rises from 10 % to
    /// 37 % as the brackets do and keeps the rollout analytic along the path (a softened
    /// bracket kink would be as steep as `τ_m / y` there).
    fn tax(&self, y: &Tensor<3>) -> Tensor<3> {
        let (low, high) = (RATES[0], RATES[RATES.len() - 1]);
        let decay = (y.clone() * (-1.0 / self.config.tax_scale)).exp();
        y.clone() * ((decay * -(high - low)) + high)
    }

    /// The static risk of a state (`[rows, 7, n]`) in the context `C_{t+H}`.
    fn risk(&self, z: &Tensor<3>) -> Tensor<1> {
        let [rows, _, n] = z.dims();
        let f = |k| z.clone().narrow(1, k, 1);
        let (c, y, l, w) = (f(0), f(1), f(4), f(6));
        let (p, g) = (self.after.price, self.after.inventory);
        let demand = sum_dim(c.clone(), 2) * (1.0 / p); // [rows, 1, 1]
        // D₀ = one month of full-time supply keeps the ratio smooth where the inventory is 0.
        let d0 = 168.0 * n as f64;
        let excess = (demand.clone() - g) / (demand + g + d0);
        // Spending beyond income, relative to the household's wealth and the price (which the
        // baseline action keeps): linear in α along the path inside the sigmoid.
        let scale = w.clone() + p;
        let stress = mean_dim(aumann_engine::ops::sigmoid((c.clone() - y) / scale), 2);
        let total = sum_dim(w.clone(), 2);
        let concentration =
            sum_dim(w.clone().powi_scalar(2), 2) * n as f64 / (total.clone() * total.clone()) - 1.0;
        let idle = mean_dim(l.neg() + 1.0, 2);
        let pressure = excess + stress + concentration * 0.1 + idle * 0.5;
        let tau = self.config.temperature;
        let risk = softplus((pressure - self.config.threshold) * (1.0 / tau)) * tau;
        let amplify = softplus(mean_dim(w, 2) * (1.0 / p) - 1.0) + 1.0;
        (risk * amplify).reshape([rows])
    }

    /// One month of the smoothed dynamics, prices, inventory and interest held fixed.
    fn step(&self, z: Tensor<3>) -> Tensor<3> {
        let f = |k| z.clone().narrow(1, k, 1);
        let (c, y, kappa, l, s, w) = (f(0), f(1), f(2), f(4), f(5), f(6));
        let tax = self.tax(&y);
        let lump = mean_dim(tax.clone(), 2);
        let (p, g) = (self.during.price, self.during.inventory);
        let demand = sum_dim(c.clone(), 2) * (1.0 / p); // [rows, 1, 1]
        // smax(D, G) = (D + G + √((D − G)² + D₀²)) / 2, D₀ = one month of full-time supply.
        let d0 = 168.0 * z.dims()[2] as f64;
        let gap = demand.clone() - g;
        let smax = (demand + g + (gap.clone() * gap + d0 * d0).sqrt()) * 0.5;
        let served = smax.recip() * g;
        let w2 = w + y.clone() - tax + lump - c * served;
        let c2 = kappa.clone() * w2.clone();
        let invest = w2.clone() / (w2.clone() + y.clone() * 6.0 + 1.0);
        Tensor::cat(vec![c2, y, kappa, invest, l, s, w2], 1)
    }
}

impl Indicator for EconRisk {
    fn name(&self) -> &str {
        if self.horizon == 0 {
            "static"
        } else {
            "rollout"
        }
    }

    fn forward(&self, z: Tensor<3>) -> Result<Tensor<1>> {
        let mut z = z;
        for _ in 0..self.horizon {
            z = self.step(z);
        }
        Ok(self.risk(&z))
    }
}
