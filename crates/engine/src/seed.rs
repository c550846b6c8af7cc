//! Seeds for independent random streams: one user seed becomes many, one per block of agents,
//! topic, protocol, size and repetition, so results do not depend on the number of threads or
//! on the order work is done in.
//!
//! ```text
//! mix(k₁, …, k_m) = h(… h(h(0x5EED ⊕ k₁) ⊕ k₂) … ⊕ k_m),   h = SplitMix64's finaliser
//! ```

/// SplitMix64's finaliser: a bijection of `u64` that scrambles every bit.
pub fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// One seed from a sequence of keys; different sequences give unrelated seeds.
pub fn mix(keys: &[u64]) -> u64 {
    keys.iter().fold(0x5EED, |h, &k| splitmix64(h ^ k))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distinct_keys_distinct_seeds() {
        let mut seen = std::collections::HashSet::new();
        for a in 0..20 {
            for b in 0..20 {
                assert!(seen.insert(mix(&[7, a, b])));
            }
        }
        assert_ne!(mix(&[1, 2]), mix(&[2, 1]));
    }
}
