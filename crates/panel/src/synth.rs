//! A synthetic panel shaped like a public social network: deterministic per seed, the default
//! input of the cross-scale study.
//!
//! Followers follow a log-normal body with a Pareto tail, calibrated to public Bluesky
//! figures (median account about 1 follower, about 5 % above 95, under 0.5 % above 1 000, a
//! tail up to about 10⁶ in a million accounts):
//!
//! ```text
//! L_i = ln 2.2 + 2.3 Z_i,  Z_i ~ N(0, 1)          followers_i = max(0, ⌊e^{L_i} − 1⌋)
//! if followers_i > 1000:   followers_i = ⌊1000 U_i^{−1/1.2}⌋   (Pareto tail, index 1.2, ≤ 5·10⁶)
//! ```
//!
//! Each topic `k` has an activity shape `s_k(t)` over the days, a participation rate `q_k`
//! and an event crowd `e_k`:
//!
//! ```text
//! active_{i,k}   ~ Bernoulli(min(0.95, q_k (0.6 + 0.3 reach_i)))    engaged all window
//! rate_{i,k}     = 0.4 e^{0.9 Z} (1 + 0.1 reach_i)                   posts per day
//! posts_{i,k,t}  ~ Poisson(rate_{i,k} s_k(t))                        if active
//!                + 1 + Poisson(0.5)  w.p. e_k (s_k(t) − 1)⁺ (1 + reach_i)^{b_k}   (the crowd)
//! replies_{i,k,t} ~ Poisson(0.03 posts_{i,k,t} (1 + followers_i)^{0.6})
//! ```
//!
//! so activity correlates with reach but most of it lives in the long tail (where most
//! agents are), while replies concentrate on high-reach accounts. The five default topics
//! have distinct temporal shapes: a multi-modal one, a flat one with a weekly ripple, two
//! single sharp event days (one whose crowd leans to high-reach accounts, `b_k = 1`, one
//! that is all long tail, `b_k = 0`) and a slow rise before a dated event.
//! 7-day counts (for the alternative elite anchors) add general posting,
//! `Poisson(7 · 0.3 e^{Z} (1 + 0.1 reach_i))`, to the topic posts of the last 7 days, and
//! replies to both.
//!
//! Agents are generated in fixed blocks, each block and topic from its own random stream,
//! so the panel is the same for a seed whatever the number of threads.
//!
//! [`Coupling`] turns each dependence on followers up or down, for measuring what the
//! generator builds into a study: a term `g(reach_i)` becomes `λ g(reach_i) + (1 − λ) E[g]`,
//! with `E[g]` over a fixed reference population of 2¹⁷ follower draws, so `λ = 1` is the
//! generator above (bit for bit) and `λ = 0` keeps each term's mean but makes it independent
//! of followers. The null generator ([`Coupling::NULL`]) sets every `λ` to 0. The follower
//! spread (2.3 above) and the event days' strength (how far an event day's shape rises above
//! its base of 0.6; 1 above) are parameters too.

use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, Poisson, StandardNormal};
use rayon::prelude::*;

use super::{Manifest, Panel};
use aumann_engine::array::Array3;
use aumann_engine::error::{Error, Result};
use aumann_engine::limits;

/// The temporal shape of a topic's activity.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Shape {
    /// Three bumps (at 20 %, 50 % and 80 % of the window), no single dominant day.
    MultiModal,
    /// Flat with a weekly ripple.
    Flat,
    /// One sharp event day at this fraction of the window.
    Event(f64),
    /// A slow rise through the window, towards an event just after it.
    Rise,
}

impl Shape {
    /// `s(t)` for day `t` of `days`.
    pub fn at(self, t: usize, days: usize) -> f64 {
        let last = days.saturating_sub(1).max(1) as f64;
        let t = t as f64;
        match self {
            Shape::MultiModal => {
                0.6 + [(0.2, 1.0), (0.5, 1.4), (0.8, 0.9)]
                    .iter()
                    .map(|&(c, h)| h * (-(t - c * last).powi(2) / 2.0).exp())
                    .sum::<f64>()
            }
            Shape::Flat => 1.0 + 0.1 * (std::f64::consts::TAU * t / 7.0).sin(),
            Shape::Event(at) => {
                let e = (at * last).round();
                match (t - e) as i64 {
                    0 => 6.0,
                    -1 => 1.3,
                    1 => 1.6,
                    _ => 0.6,
                }
            }
            Shape::Rise => 0.3 + 1.7 * (t / last).powi(2),
        }
    }
}

/// One topic of a synthetic panel.
#[derive(Clone, Debug, PartialEq)]
pub struct TopicSpec {
    /// Name (a file name: letters, digits, `-`, `_`).
    pub name: String,
    /// Temporal shape `s_k`.
    pub shape: Shape,
    /// Participation rate `q_k`.
    pub participation: f64,
    /// Event-crowd rate `e_k`.
    pub crowd: f64,
    /// Event-crowd lean towards reach, `b_k` (0: uniform over agents).
    pub crowd_reach: f64,
}

/// How strongly engagement depends on followers, and the spreads (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Coupling {
    /// σ of the log-normal follower body (2.3).
    pub follower_sigma: f64,
    /// `λ` of participation's `0.6 + 0.3 reach`.
    pub participation: f64,
    /// `λ` of the posting rate's `1 + 0.1 reach`.
    pub posting: f64,
    /// `λ` of the replies' `(1 + followers)^0.6`.
    pub replies: f64,
    /// `λ` of the event crowd's `(1 + reach)^{b_k}`.
    pub crowd: f64,
    /// Event days' rise above the base, as a multiple of the default (1).
    pub event_strength: f64,
}

impl Coupling {
    /// The generator as documented.
    pub const DEFAULT: Coupling = Coupling {
        follower_sigma: 2.3,
        participation: 1.0,
        posting: 1.0,
        replies: 1.0,
        crowd: 1.0,
        event_strength: 1.0,
    };

    /// Engagement independent of followers (same means).
    pub const NULL: Coupling = Coupling {
        participation: 0.0,
        posting: 0.0,
        replies: 0.0,
        crowd: 0.0,
        ..Coupling::DEFAULT
    };
}

impl Default for Coupling {
    fn default() -> Self {
        Coupling::DEFAULT
    }
}

/// `λ g + (1 − λ) mean`.
fn mix(lambda: f64, g: f64, mean: f64) -> f64 {
    if lambda == 1.0 {
        g
    } else {
        lambda * g + (1.0 - lambda) * mean
    }
}

/// Means of the follower-dependent terms over a fixed reference population.
#[derive(Clone, Copy, Debug)]
struct Means {
    reach: f64,
    reply_factor: f64,
}

impl Means {
    fn of(sigma: f64) -> Means {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(aumann_engine::seed::mix(&[0x5EF, 17]));
        let f: Vec<f64> = (0..1 << 17).map(|_| followers(&mut rng, sigma)).collect();
        let mean = |g: &dyn Fn(f64) -> f64| f.iter().map(|&x| g(x)).sum::<f64>() / f.len() as f64;
        Means {
            reach: mean(&|x| x.ln_1p()),
            reply_factor: mean(&|x| (1.0 + x).powf(0.6)),
        }
    }

    /// `E[(1 + reach)^b]`, over the same reference population.
    fn crowd(sigma: f64, b: f64) -> f64 {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(aumann_engine::seed::mix(&[0x5EF, 17]));
        let n = 1 << 17;
        (0..n)
            .map(|_| (1.0 + followers(&mut rng, sigma).ln_1p()).powf(b))
            .sum::<f64>()
            / n as f64
    }
}

/// Parameters of a synthetic panel.
#[derive(Clone, Debug, PartialEq)]
pub struct PanelConfig {
    /// Number of agents.
    pub agents: usize,
    /// Number of days.
    pub days: usize,
    /// Seed.
    pub seed: u64,
    /// The topics.
    pub topics: Vec<TopicSpec>,
    /// Dependence on followers.
    pub coupling: Coupling,
}

impl Default for PanelConfig {
    fn default() -> Self {
        let topic = |name: &str, shape, participation, crowd, crowd_reach| TopicSpec {
            name: name.into(),
            shape,
            participation,
            crowd,
            crowd_reach,
        };
        Self {
            agents: 1_000_000,
            days: 14,
            seed: 7,
            topics: vec![
                topic("mythos", Shape::MultiModal, 0.03, 0.002, 0.0),
                topic("tariffs", Shape::Flat, 0.06, 0.0, 0.0),
                topic("masters", Shape::Event(5.0 / 13.0), 0.02, 0.002, 1.0),
                topic("earthday", Shape::Rise, 0.025, 0.002, 0.0),
                topic("wrestlemania", Shape::Event(11.0 / 13.0), 0.02, 0.01, 0.0),
            ],
            coupling: Coupling::DEFAULT,
        }
    }
}

const BLOCK: usize = 1 << 14;
/// Day labels start here (a synthetic calendar: a 14-day window in April 2026).
const START: (i32, u32, u32) = (2026, 4, 8);

impl PanelConfig {
    /// Check the panel can be generated on this machine: at least 2 agents, 1 to
    /// [`limits::MAX_DAYS`] days, a topic, and its `[days, agents, 3]` float32 arrays (one per
    /// topic, and as much again while they are drawn) within available memory.
    ///
    /// # Errors
    /// [`Error::Parameter`] for too few agents, days or topics; [`Error::TooLarge`] naming the
    /// size and the bound.
    pub fn check(&self) -> Result<()> {
        if self.agents < 2 || self.days == 0 || self.topics.is_empty() {
            return Err(Error::Parameter {
                name: "panel",
                value: format!(
                    "{} agents, {} days, {} topics",
                    self.agents,
                    self.days,
                    self.topics.len()
                ),
                reason: "a panel needs at least 2 agents, 1 day and 1 topic".into(),
            });
        }
        limits::at_most(
            "panel days",
            self.days,
            limits::MAX_DAYS,
            "a century of days",
        )?;
        let shape = [2 * self.topics.len(), self.days, self.agents, 3];
        limits::allocation("the synthetic panel", &shape, 4)?;
        Ok(())
    }
}

/// Generate the panel described by `config`.
///
/// # Panics
/// If `config` has no agents, no days or no topics ([`PanelConfig::check`] says so first).
pub fn generate(config: &PanelConfig) -> Panel {
    assert!(
        config.agents > 0 && config.days > 0 && !config.topics.is_empty(),
        "a panel needs agents, days and topics"
    );
    let (n, days) = (config.agents, config.days);
    let blocks = n.div_ceil(BLOCK);
    let c = config.coupling;
    let means = Means::of(c.follower_sigma);
    // Agent pass: followers and general posting.
    let agent_blocks: Vec<Vec<(f64, f64, f64)>> = (0..blocks)
        .into_par_iter()
        .map(|blk| {
            let mut rng = stream(config.seed, 0, blk);
            (blk * BLOCK..n.min((blk + 1) * BLOCK))
                .map(|_| {
                    let f = followers(&mut rng, c.follower_sigma);
                    let reach = f.ln_1p();
                    let z: f64 = rng.sample(StandardNormal);
                    let posting = 1.0 + 0.1 * mix(c.posting, reach, means.reach);
                    let general = poisson(&mut rng, 7.0 * 0.3 * z.exp() * posting);
                    let replies = poisson(&mut rng, reply_rate(general, f, c, &means));
                    (f, general, replies)
                })
                .collect()
        })
        .collect();
    let agent: Vec<(f64, f64, f64)> = agent_blocks.into_iter().flatten().collect();
    let followers: Vec<f64> = agent.iter().map(|a| a.0).collect();
    let mut posts_7d: Vec<f64> = agent.iter().map(|a| a.1).collect();
    let mut replies_7d: Vec<f64> = agent.iter().map(|a| a.2).collect();
    let recent = days.saturating_sub(7);
    let mut topics = Vec::with_capacity(config.topics.len());
    for (k, spec) in config.topics.iter().enumerate() {
        let strength = |v: f64| match spec.shape {
            Shape::Event(_) if c.event_strength != 1.0 => 0.6 + (v - 0.6) * c.event_strength,
            _ => v,
        };
        let shape: Vec<f64> = (0..days)
            .map(|t| strength(spec.shape.at(t, days)))
            .collect();
        let crowd_mean = if c.crowd == 1.0 {
            0.0
        } else {
            Means::crowd(c.follower_sigma, spec.crowd_reach)
        };
        // Per block: its [T, m, 3] features and its agents' (posts, replies) of the last 7 days.
        type Block = (Vec<f32>, Vec<(f64, f64)>);
        let parts: Vec<Block> = (0..blocks)
            .into_par_iter()
            .map(|blk| {
                let mut rng = stream(config.seed, k as u64 + 1, blk);
                let lo = blk * BLOCK;
                let m = n.min(lo + BLOCK) - lo;
                let mut x = vec![0f32; days * m * 3];
                let mut recent_counts = vec![(0.0, 0.0); m];
                for (j, recent_count) in recent_counts.iter_mut().enumerate() {
                    let f = followers[lo + j];
                    let reach = f.ln_1p();
                    let active = rng.random::<f64>()
                        < (spec.participation
                            * (0.6 + 0.3 * mix(c.participation, reach, means.reach)))
                        .min(0.95);
                    let z: f64 = rng.sample(StandardNormal);
                    let rate =
                        0.4 * (0.9 * z).exp() * (1.0 + 0.1 * mix(c.posting, reach, means.reach));
                    let crowd_weight =
                        mix(c.crowd, (1.0 + reach).powf(spec.crowd_reach), crowd_mean);
                    for (t, &s) in shape.iter().enumerate() {
                        let mut posts = if active {
                            poisson(&mut rng, rate * s)
                        } else {
                            0.0
                        };
                        if s > 1.0
                            && spec.crowd > 0.0
                            && rng.random::<f64>() < spec.crowd * (s - 1.0) * crowd_weight
                        {
                            posts += 1.0 + poisson(&mut rng, 0.5);
                        }
                        let replies = if posts > 0.0 {
                            poisson(&mut rng, reply_rate(posts, f, c, &means))
                        } else {
                            0.0
                        };
                        let o = (t * m + j) * 3;
                        x[o] = reach as f32;
                        x[o + 1] = posts.ln_1p() as f32;
                        x[o + 2] = replies.ln_1p() as f32;
                        if t >= recent {
                            recent_count.0 += posts;
                            recent_count.1 += replies;
                        }
                    }
                }
                (x, recent_counts)
            })
            .collect();
        let mut values = vec![0f32; days * n * 3];
        for (blk, (x, recent_counts)) in parts.into_iter().enumerate() {
            let lo = blk * BLOCK;
            let m = recent_counts.len();
            for t in 0..days {
                values[(t * n + lo) * 3..(t * n + lo + m) * 3]
                    .copy_from_slice(&x[t * m * 3..(t + 1) * m * 3]);
            }
            for (j, (p, r)) in recent_counts.into_iter().enumerate() {
                posts_7d[lo + j] += p;
                replies_7d[lo + j] += r;
            }
        }
        topics.push(Array3::from_f32([days, n, 3], values));
    }
    Panel {
        manifest: Manifest {
            seed: Some(config.seed),
            generator: Some(config.coupling),
            ..Manifest::new(
                n,
                config.topics.iter().map(|t| t.name.clone()).collect(),
                (0..days).map(|t| date_label(START, t)).collect(),
                "synthetic (aumann panel synth)",
            )
        },
        followers,
        posts_7d: Some(posts_7d),
        replies_7d: Some(replies_7d),
        topics,
    }
}

/// A random stream for `(seed, stream, block)`.
fn stream(seed: u64, stream: u64, block: usize) -> Xoshiro256PlusPlus {
    Xoshiro256PlusPlus::seed_from_u64(aumann_engine::seed::mix(&[seed, stream, block as u64]))
}

fn followers(rng: &mut Xoshiro256PlusPlus, sigma: f64) -> f64 {
    let z: f64 = rng.sample(StandardNormal);
    let f = ((2.2f64.ln() + sigma * z).exp() - 1.0).floor().max(0.0);
    if f > 1000.0 {
        let u = 1.0 - rng.random::<f64>(); // (0, 1]
        (1000.0 * u.powf(-1.0 / 1.2)).floor().min(5e6)
    } else {
        f
    }
}

/// Mean replies received on `posts` posts by an account with `followers` followers.
fn reply_rate(posts: f64, followers: f64, c: Coupling, means: &Means) -> f64 {
    0.03 * posts * mix(c.replies, (1.0 + followers).powf(0.6), means.reply_factor)
}

fn poisson(rng: &mut Xoshiro256PlusPlus, mean: f64) -> f64 {
    if mean <= 0.0 {
        return 0.0;
    }
    Poisson::new(mean)
        .expect("positive finite mean")
        .sample(rng)
}

/// `"YYYY-MM-DD"`, `days` after `start`.
fn date_label(start: (i32, u32, u32), days: usize) -> String {
    let (y, m, d) = start;
    super::calendar::label(super::calendar::days_from_civil(i64::from(y), m, d) + days as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar() {
        assert_eq!(date_label(START, 0), "2026-04-08");
        assert_eq!(date_label(START, 13), "2026-04-21");
        assert_eq!(date_label((2024, 2, 28), 1), "2024-02-29");
        assert_eq!(date_label((2025, 12, 31), 1), "2026-01-01");
    }

    #[test]
    fn shapes_peak_where_they_say() {
        let peak = |s: Shape| {
            (0..14)
                .max_by(|&a, &b| s.at(a, 14).total_cmp(&s.at(b, 14)))
                .unwrap()
        };
        assert_eq!(peak(Shape::Event(5.0 / 13.0)), 5);
        assert_eq!(peak(Shape::Event(11.0 / 13.0)), 11);
        assert_eq!(peak(Shape::Rise), 13);
        assert_eq!(peak(Shape::MultiModal), 6); // the middle bump is the highest
    }

    #[test]
    fn calibrated_and_deterministic() {
        let config = PanelConfig {
            agents: 200_000,
            ..PanelConfig::default()
        };
        let p = generate(&config);
        assert_eq!(p.topics.len(), 5);
        let mut f = p.followers.clone();
        f.sort_by(f64::total_cmp);
        let n = f.len() as f64;
        let above = |c: f64| f.iter().filter(|&&x| x > c).count() as f64 / n;
        assert_eq!(f[f.len() / 2], 1.0, "median account has 1 follower");
        assert!((0.04..0.06).contains(&above(95.0)), "{}", above(95.0));
        assert!(above(1000.0) < 0.005, "{}", above(1000.0));
        assert!(f[f.len() - 1] > 1e5, "max {}", f[f.len() - 1]);
        // Same panel again, bit for bit.
        let q = generate(&config);
        assert_eq!(p.followers, q.followers);
        assert_eq!(p.topics, q.topics);
    }
}
