//! Tiers and percentile bins: groups of agents fixed once from a ranking of the whole panel.
//!
//! Agents are ranked by a score in descending order (ties by agent index, so the grouping is
//! deterministic). With fractions `(p_top, p_mid)` the first `⌈p_top n⌉` agents form the top
//! tier, the next `⌈(p_top + p_mid) n⌉ − ⌈p_top n⌉` the middle tier and the rest the tail;
//! the default `(0.01, 0.09)` is the paper's top 1 % / next 9 % / remaining 90 %. Percentile
//! bin `b` of `B` holds the agents ranked `⌊b n / B⌋ … ⌊(b + 1) n / B⌋ − 1`, top first.

/// Tier of an agent.
pub const TOP: u8 = 0;
/// Tier of an agent.
pub const MID: u8 = 1;
/// Tier of an agent.
pub const TAIL: u8 = 2;
/// Tier names, in tier order.
pub const TIER_NAMES: [&str; 3] = ["top", "mid", "tail"];

/// Agent indices sorted by `score`, highest first, ties by index.
pub fn rank_descending(score: &[f64]) -> Vec<u32> {
    let mut order: Vec<u32> = (0..score.len() as u32).collect();
    order.sort_unstable_by(|&a, &b| {
        score[b as usize]
            .total_cmp(&score[a as usize])
            .then(a.cmp(&b))
    });
    order
}

/// Agent indices sorted by `score`, highest first, ties in an order shuffled by `seed`: not
/// by index, which in an ingested panel is the order in which accounts were first seen.
pub fn rank_descending_shuffling_ties(score: &[f64], seed: u64) -> Vec<u32> {
    let key: Vec<u64> = (0..score.len() as u64)
        .map(|i| aumann_engine::seed::mix(&[seed, i]))
        .collect();
    let mut order: Vec<u32> = (0..score.len() as u32).collect();
    order.sort_unstable_by(|&a, &b| {
        let (a, b) = (a as usize, b as usize);
        score[b].total_cmp(&score[a]).then(key[a].cmp(&key[b]))
    });
    order
}

/// One tier label per agent from a descending ranking.
pub fn tiers(order: &[u32], top: f64, mid: f64) -> Vec<u8> {
    let n = order.len();
    let n_top = ((top * n as f64).ceil() as usize).min(n);
    let n_upper = (((top + mid) * n as f64).ceil() as usize).clamp(n_top, n);
    let mut label = vec![TAIL; n];
    for (r, &i) in order.iter().enumerate() {
        label[i as usize] = if r < n_top {
            TOP
        } else if r < n_upper {
            MID
        } else {
            TAIL
        };
    }
    label
}

/// One bin index (0 = top) per agent from a descending ranking, `bins` equal bins.
pub fn percentile_bins(order: &[u32], bins: usize) -> Vec<u16> {
    let n = order.len();
    let mut bin = vec![0u16; n];
    for (r, &i) in order.iter().enumerate() {
        bin[i as usize] = (r * bins / n) as u16;
    }
    bin
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiers_and_bins() {
        let score: Vec<f64> = (0..1000).map(|i| (i % 100) as f64).collect();
        let order = rank_descending(&score);
        assert_eq!(order[0], 99); // first of the ten agents with score 99
        let t = tiers(&order, 0.01, 0.09);
        assert_eq!(t.iter().filter(|&&g| g == TOP).count(), 10);
        assert_eq!(t.iter().filter(|&&g| g == MID).count(), 90);
        assert!((0..1000).filter(|i| i % 100 == 99).all(|i| t[i] == TOP));
        let b = percentile_bins(&order, 100);
        assert!((0..100).all(|k| b.iter().filter(|&&x| x as usize == k).count() == 10));
        assert_eq!(b[99], 0);
    }
}
