//! What the panel looks like, for judging what a study on it can show: the follower
//! distribution, how many agents are active on each topic, and how concentrated the replies
//! are on the top accounts.
//!
//! ```text
//! follower quantiles   q ∈ {50, 90, 95, 99, 99.9, 100} %, and the shares above 95 and 1 000
//! active on topic k    #{i : posts, reposts or replies received on k over the window > 0}
//! reply concentration  replies received by the top 1 % by followers / all replies received
//! ```
//!
//! Counts are recovered from the `ln(1 + count)` features.

use serde::Serialize;

use aumann_engine::array::Values;
use aumann_panel::Panel;

/// The follower quantiles reported, in percent.
pub const QUANTILES: [f64; 6] = [50.0, 90.0, 95.0, 99.0, 99.9, 100.0];

/// A panel's calibration figures.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Calibration {
    /// `(quantile %, followers)`.
    pub follower_quantiles: Vec<(f64, f64)>,
    /// Share of agents with more than 95 followers.
    pub above_95: f64,
    /// Share of agents with more than 1 000 followers.
    pub above_1000: f64,
    /// Per topic.
    pub topics: Vec<TopicCalibration>,
}

/// One topic's figures.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TopicCalibration {
    /// The topic.
    pub topic: String,
    /// Agents with any post, repost or reply received on the topic.
    pub active: usize,
    /// Their share of the panel.
    pub active_share: f64,
    /// Replies received on the topic, all agents.
    pub replies: f64,
    /// Share of them received by the top 1 % by followers (`None` without replies).
    pub replies_top1: Option<f64>,
}

/// The calibration of `panel`.
pub fn of(panel: &Panel) -> Calibration {
    let n = panel.agents();
    let mut sorted = panel.followers.clone();
    sorted.sort_by(f64::total_cmp);
    let quantile = |q: f64| sorted[(((q / 100.0) * (n - 1) as f64).round() as usize).min(n - 1)];
    let share = |c: f64| panel.followers.iter().filter(|&&f| f > c).count() as f64 / n as f64;
    let order = super::tiers::rank_descending(&panel.followers);
    let top = order[..(n / 100).max(1)].to_vec();
    let topics = (panel.manifest.topics.iter().zip(&panel.topics))
        .map(|(name, x)| {
            let Values::F32(v) = x.values() else {
                unreachable!("panels hold float32 features")
            };
            // Per agent, topic items (posts and reposts) and replies over the window.
            let counts: Vec<[f64; 2]> = (0..n)
                .map(|i| {
                    (0..panel.days()).fold([0.0; 2], |[items, replies], t| {
                        let o = (t * n + i) * 3;
                        let count = |f: usize| f64::from(v[o + f]).exp_m1().round();
                        [items + count(1), replies + count(2)]
                    })
                })
                .collect();
            let active = counts.iter().filter(|c| c[0] + c[1] > 0.0).count();
            let replies: f64 = counts.iter().map(|c| c[1]).sum();
            let top_replies: f64 = top.iter().map(|&i| counts[i as usize][1]).sum();
            TopicCalibration {
                topic: name.clone(),
                active,
                active_share: active as f64 / n as f64,
                replies,
                replies_top1: (replies > 0.0).then(|| top_replies / replies),
            }
        })
        .collect();
    Calibration {
        follower_quantiles: QUANTILES.iter().map(|&q| (q, quantile(q))).collect(),
        above_95: share(95.0),
        above_1000: share(1000.0),
        topics,
    }
}
