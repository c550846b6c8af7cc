//! What the study attributes: the panel's features as stored, or a view of them that takes
//! one thing out, to see which findings depend on it.
//!
//! ```text
//! as-stored      x_{t,i} = (reach_i, activity_{t,i}, resonance_{t,i})
//! reach-free     reach_i replaced by reach_{π(i)}, π a seeded permutation of the agents:
//!                the same distribution, no information about agent i's tier
//! standardised   each feature divided by its standard deviation over every agent and day
//!                (not centred: the zero baseline stays the absence of the feature)
//! ```
//!
//! The panel itself is unchanged: tiers, pools and engagement are read from it as stored.

use std::borrow::Cow;

use aumann_engine::array::{Array3, Values};
use rand::SeedableRng;
use rand::seq::SliceRandom;

/// Which view of the features the study attributes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FeatureView {
    /// The features as stored.
    #[default]
    AsStored,
    /// Reach permuted across the agents.
    ReachFree,
    /// Every feature scaled to unit variance.
    Standardised,
}

impl FeatureView {
    /// Every view.
    pub const ALL: [FeatureView; 3] = [
        FeatureView::AsStored,
        FeatureView::ReachFree,
        FeatureView::Standardised,
    ];

    /// Stable name.
    pub fn name(self) -> &'static str {
        match self {
            FeatureView::AsStored => "as-stored",
            FeatureView::ReachFree => "reach-free",
            FeatureView::Standardised => "standardised",
        }
    }

    /// The view of one topic's `[T, n, d]` features (float32, reach first); `seed` draws the
    /// reach-free permutation, the same for every topic.
    pub fn apply(self, x: &Array3, seed: u64) -> Cow<'_, Array3> {
        let Values::F32(values) = x.values() else {
            unreachable!("panels hold float32 features")
        };
        if self == FeatureView::AsStored {
            return Cow::Borrowed(x);
        }
        let [_, n, d] = x.shape();
        let mut out = values.clone();
        match self {
            FeatureView::AsStored => {}
            FeatureView::ReachFree => {
                let mut from: Vec<usize> = (0..n).collect();
                let seed = aumann_engine::seed::mix(&[seed, 0x4EAC]);
                from.shuffle(&mut rand::rngs::Xoshiro256PlusPlus::seed_from_u64(seed));
                for (row, source) in out.chunks_exact_mut(n * d).zip(values.chunks_exact(n * d)) {
                    for (i, &j) in from.iter().enumerate() {
                        row[i * d] = source[j * d];
                    }
                }
            }
            FeatureView::Standardised => {
                for k in 0..d {
                    let column = || values.iter().skip(k).step_by(d).map(|&v| f64::from(v));
                    let count = (values.len() / d) as f64;
                    let mean = column().sum::<f64>() / count;
                    let sd = (column().map(|v| (v - mean).powi(2)).sum::<f64>() / count).sqrt();
                    if sd > 0.0 {
                        out.iter_mut()
                            .skip(k)
                            .step_by(d)
                            .for_each(|v| *v = (f64::from(*v) / sd) as f32);
                    }
                }
            }
        }
        Cow::Owned(Array3::from_f32(x.shape(), out))
    }
}

aumann_engine::named_choice!(FeatureView, "feature view");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn views_keep_what_they_say() {
        // Two days, four agents, reach then two activities.
        let x: Vec<f32> = (0..24).map(|v| v as f32).collect();
        let x = Array3::from_f32([2, 4, 3], x);
        assert!(matches!(
            FeatureView::AsStored.apply(&x, 1),
            Cow::Borrowed(_)
        ));
        let free = FeatureView::ReachFree.apply(&x, 1);
        let mut reach: Vec<f64> = (0..4).map(|i| free.get(0, i, 0)).collect();
        // The same reach values, moved together across days, the other features untouched.
        assert!((0..4).all(|i| free.get(1, i, 0) - free.get(0, i, 0) == 12.0));
        reach.sort_by(f64::total_cmp);
        assert_eq!(reach, [0.0, 3.0, 6.0, 9.0]);
        assert!((0..4).all(|i| free.get(0, i, 1) == x.get(0, i, 1)));
        let moved = FeatureView::ReachFree.apply(&x, 2);
        assert!(
            (0..4).any(|i| moved.get(0, i, 0) != free.get(0, i, 0)),
            "the seed moves it"
        );
        let unit = FeatureView::Standardised.apply(&x, 1);
        for k in 0..3 {
            let v: Vec<f64> = (0..2)
                .flat_map(|t| (0..4).map(move |i| (t, i)))
                .map(|(t, i)| unit.get(t, i, k))
                .collect();
            let mean = v.iter().sum::<f64>() / 8.0;
            let var = v.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / 8.0;
            assert!((var - 1.0).abs() < 1e-6, "feature {k}: variance {var}");
            assert!(
                v.iter()
                    .zip((0..8).map(|j| x.get(j / 4, j % 4, k)))
                    .all(|(a, b)| (a > &0.0) == (b > 0.0))
            );
        }
    }
}
