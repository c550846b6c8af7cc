//! Sampling protocols: how a small panel of `s` agents is drawn from the full one.
//!
//! With `e_i` agent `i`'s topic engagement (posts, reposts and replies received on the topic
//! over the window) and `z(·)` standardisation over the panel:
//!
//! ```text
//! bias-visibility      pool = top p_vis n agents by v_i = z(ln(1 + followers_i)) + z(ln(1 + e_i))
//! bias-topic-x-follow  pool = top K agents by followers_i · e_i,  K = #{i : e_i > 0}
//! bias-topic-top       pool = top K agents by e_i
//! random               pool = the whole panel
//! bias-followers       pool = top p_vis n agents by followers alone (the visibility pool
//!                      without the topic)
//! ```
//!
//! A pool that cannot be what its protocol means is reported, not patched: a topic pool with
//! no active agent is empty (the protocol is not drawn on that topic), and a visibility pool
//! over an engagement with no spread ranks by followers alone and says so ([`Pool::notes`]).
//! Agents tied on a score are ranked in an order shuffled by a seed, not by their index; where
//! a tie straddles the pool's edge, the notes say how many places it filled.
//!
//! `s` agents are drawn uniformly without replacement from the pool; when `s` exceeds the
//! pool, the whole pool is taken plus a uniform draw of the rest from outside it, so every
//! protocol reaches the full panel at `s = n`. Pools are ranked like tiers (descending,
//! ties by agent index).

use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;
use rand::seq::index;

use super::tiers::rank_descending_shuffling_ties;

/// How a small panel is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// The full panel (one deterministic run).
    Full,
    /// Uniform from the top agents by visibility (followers and topic engagement).
    BiasVisibility,
    /// Uniform from the top agents by followers × topic engagement.
    BiasTopicXFollow,
    /// Uniform from the top agents by topic engagement.
    BiasTopicTop,
    /// Uniform from the whole panel (the control).
    Random,
    /// Uniform from the top agents by followers alone.
    BiasFollowers,
}

impl Protocol {
    /// The five sampling protocols (the follower-only pool last, so that adding it left the
    /// other protocols' draws as they were).
    pub const SAMPLING: [Protocol; 5] = [
        Protocol::BiasVisibility,
        Protocol::BiasTopicXFollow,
        Protocol::BiasTopicTop,
        Protocol::Random,
        Protocol::BiasFollowers,
    ];

    /// Stable name, as the CLI and the CSVs spell it.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Full => "full",
            Protocol::BiasVisibility => "bias-visibility",
            Protocol::BiasTopicXFollow => "bias-topic-x-follow",
            Protocol::BiasTopicTop => "bias-topic-top",
            Protocol::Random => "random",
            Protocol::BiasFollowers => "bias-followers",
        }
    }

    /// Every protocol: the full panel, then the sampling protocols.
    pub const ALL: [Protocol; 6] = [
        Protocol::Full,
        Protocol::BiasVisibility,
        Protocol::BiasTopicXFollow,
        Protocol::BiasTopicTop,
        Protocol::Random,
        Protocol::BiasFollowers,
    ];
}

aumann_engine::named_choice!(Protocol, "protocol");

/// A protocol's pool for one topic: agents in pool order, then everyone else.
#[derive(Clone, Debug)]
pub struct Pool {
    /// The pool's agents.
    pub members: Vec<u32>,
    /// Every agent outside the pool.
    pub rest: Vec<u32>,
    /// What makes this pool other than its protocol means, in words (empty when nothing).
    pub notes: Vec<String>,
}

impl Pool {
    /// The pool of `protocol` over `followers` and topic `engagement`; `visibility_fraction`
    /// is the bias-visibility pool's share of the panel, `seed` orders tied scores.
    pub fn new(
        protocol: Protocol,
        followers: &[f64],
        engagement: &[f64],
        visibility_fraction: f64,
        seed: u64,
    ) -> Pool {
        let n = followers.len();
        let active = engagement.iter().filter(|&&e| e > 0.0).count();
        let visible = ((visibility_fraction * n as f64).ceil() as usize).clamp(1, n);
        let mut notes = Vec::new();
        let (score, size): (Vec<f64>, usize) = match protocol {
            Protocol::Full | Protocol::Random => {
                return Pool {
                    members: (0..n as u32).collect(),
                    rest: Vec::new(),
                    notes,
                };
            }
            Protocol::BiasVisibility => {
                let a = standardise(followers.iter().map(|f| f.ln_1p()).collect());
                let b = standardise(engagement.iter().map(|e| e.ln_1p()).collect());
                for (what, v) in [("followers", &a), ("topic engagement", &b)] {
                    if v.iter().all(|&x| x == 0.0) {
                        notes.push(format!(
                            "{}: {what} has no spread, so the visibility score ranks by the \
                             other term alone",
                            protocol.name()
                        ));
                    }
                }
                (a.iter().zip(&b).map(|(a, b)| a + b).collect(), visible)
            }
            Protocol::BiasFollowers => (followers.to_vec(), visible),
            Protocol::BiasTopicXFollow => (
                followers
                    .iter()
                    .zip(engagement)
                    .map(|(f, e)| f * e)
                    .collect(),
                active,
            ),
            Protocol::BiasTopicTop => (engagement.to_vec(), active),
        };
        if size == 0 {
            notes.push(format!(
                "{}: no agent is active on the topic, so the pool is empty and the protocol is \
                 not drawn",
                protocol.name()
            ));
        }
        let order = rank_descending_shuffling_ties(&score, seed);
        if let Some(note) = tie_at_edge(protocol, &score, &order, size) {
            notes.push(note);
        }
        Pool {
            members: order[..size].to_vec(),
            rest: order[size..].to_vec(),
            notes,
        }
    }

    /// `s` agents for the run with `seed`, sorted by agent index.
    pub fn draw(&self, s: usize, seed: u64) -> Vec<u32> {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let pool = self.members.len();
        let mut subset: Vec<u32> = if s <= pool {
            index::sample(&mut rng, pool, s)
                .into_iter()
                .map(|j| self.members[j])
                .collect()
        } else {
            let extra = (s - pool).min(self.rest.len());
            self.members
                .iter()
                .copied()
                .chain(
                    index::sample(&mut rng, self.rest.len(), extra)
                        .into_iter()
                        .map(|j| self.rest[j]),
                )
                .collect()
        };
        subset.sort_unstable();
        subset
    }
}

/// Where the agents tied with the pool's last member straddle its edge: how many of the
/// pool's places they fill, in words.
fn tie_at_edge(protocol: Protocol, score: &[f64], order: &[u32], size: usize) -> Option<String> {
    let (Some(&last), Some(&next)) = (order.get(size.checked_sub(1)?), order.get(size)) else {
        return None;
    };
    let edge = score[last as usize];
    if score[next as usize] != edge {
        return None;
    }
    let tied = order[..size]
        .iter()
        .filter(|&&i| score[i as usize] == edge)
        .count();
    let edge = format!("{edge:.4}");
    let edge = edge.trim_end_matches('0').trim_end_matches('.');
    Some(format!(
        "{}: {tied} of the pool's {size} places go to agents tied at score {edge}, chosen by a \
         seeded shuffle",
        protocol.name()
    ))
}

/// `(v − mean) / sd`; all zeros when `v` has no spread (the caller reports it).
fn standardise(mut v: Vec<f64>) -> Vec<f64> {
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let sd = (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n).sqrt();
    v.iter_mut()
        .for_each(|x| *x = if sd > 0.0 { (*x - mean) / sd } else { 0.0 });
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pools_and_draws() {
        let followers: Vec<f64> = (0..1000).map(|i| i as f64).collect();
        let engagement: Vec<f64> = (0..1000)
            .map(|i| if i % 2 == 0 { 1.0 } else { 0.0 })
            .collect();
        let vis = Pool::new(Protocol::BiasVisibility, &followers, &engagement, 0.01, 1);
        assert_eq!(vis.members.len(), 10);
        assert!(vis.members.iter().all(|&i| i % 2 == 0 && i >= 980));
        let top = Pool::new(Protocol::BiasTopicTop, &followers, &engagement, 0.01, 1);
        assert_eq!(top.members.len(), 500);
        let s = vis.draw(5, 1);
        assert_eq!(s.len(), 5);
        assert!(s.iter().all(|i| vis.members.contains(i)));
        assert_eq!(s, vis.draw(5, 1), "same seed, same draw");
        // Past the pool: all of it plus a draw from the rest, up to the full panel.
        let big = vis.draw(100, 2);
        assert!(vis.members.iter().all(|i| big.contains(i)));
        assert_eq!(vis.draw(1000, 3), (0..1000).collect::<Vec<u32>>());
        assert_eq!(
            "bias-topic-x-follow".parse::<Protocol>().unwrap(),
            Protocol::BiasTopicXFollow
        );
        let by_followers = Pool::new(Protocol::BiasFollowers, &followers, &engagement, 0.01, 1);
        assert_eq!(
            by_followers.members,
            (990..1000).rev().collect::<Vec<u32>>()
        );
        // Degenerate pools are reported, not patched.
        let idle = vec![0.0; 1000];
        let empty = Pool::new(Protocol::BiasTopicTop, &followers, &idle, 0.01, 1);
        assert!(empty.members.is_empty() && empty.notes[0].contains("no agent is active"));
        let flat = Pool::new(Protocol::BiasVisibility, &followers, &idle, 0.01, 1);
        assert_eq!(flat.members, by_followers.members);
        assert!(
            flat.notes[0].contains("topic engagement has no spread"),
            "{:?}",
            flat.notes
        );
        assert!(vis.notes.is_empty());
    }

    /// Agents tied at the pool's edge are chosen by the seed, not by their index, and the
    /// notes say how many places the tie filled.
    #[test]
    fn ties_at_the_edge_are_shuffled() {
        // 100 active agents, 10 of them with followers: the bias-topic-x-follow pool has 100
        // places, and the other 990 agents tie at score 0 for the last 90.
        let followers: Vec<f64> = (0..1000)
            .map(|i| if i < 10 { 5.0 + i as f64 } else { 0.0 })
            .collect();
        let engagement: Vec<f64> = (0..1000).map(|i| if i < 100 { 1.0 } else { 0.0 }).collect();
        let pool = |seed| {
            Pool::new(
                Protocol::BiasTopicXFollow,
                &followers,
                &engagement,
                0.01,
                seed,
            )
        };
        let (a, b) = (pool(1), pool(2));
        assert_eq!(a.members.len(), 100);
        assert_eq!(a.members[..10], (0..10).rev().collect::<Vec<u32>>()[..]);
        assert_ne!(a.members, b.members, "the seed orders the tie");
        assert_eq!(a.members, pool(1).members, "the same seed, the same pool");
        // By index, the tie would fill the pool with agents 10..100; shuffled, it reaches past.
        assert!(a.members.iter().any(|&i| i >= 100), "{:?}", a.members);
        assert!(
            a.notes[0].contains("90 of the pool's 100 places"),
            "{:?}",
            a.notes
        );
    }
}
