//! Accurate, deterministic sums.
//!
//! ```text
//! pairwise:  S(a..b) = S(a..mid) + S(mid..b),   blocks of 128 summed left to right
//! ```
//!
//! Pairwise summation has error `O(ε log n)` instead of the naive `O(ε n)`, at the speed of a
//! plain loop. Large inputs are cut into fixed blocks summed in parallel and combined
//! pairwise, so the result does not depend on the number of threads.

use rayon::prelude::*;

const BLOCK: usize = 128;
const PAR_CHUNK: usize = 1 << 16;

/// Pairwise sum of `f(i)` for `i` in `lo..hi`, evaluated on one thread.
fn pairwise_range(lo: usize, hi: usize, f: &(impl Fn(usize) -> f64 + ?Sized)) -> f64 {
    if hi - lo <= BLOCK {
        let mut s = 0.0;
        for i in lo..hi {
            s += f(i);
        }
        s
    } else {
        let mid = lo + (hi - lo) / 2;
        pairwise_range(lo, mid, f) + pairwise_range(mid, hi, f)
    }
}

/// Pairwise sum of `f(i)` for `i` in `0..n`.
///
/// For `n` above 2¹⁶ the terms are summed in fixed chunks on the rayon pool and the chunk sums
/// are combined pairwise: the same bits for any thread count.
pub fn sum_by(n: usize, f: impl Fn(usize) -> f64 + Sync) -> f64 {
    if n <= PAR_CHUNK {
        return pairwise_range(0, n, &f);
    }
    let chunks = n.div_ceil(PAR_CHUNK);
    let partial: Vec<f64> = (0..chunks)
        .into_par_iter()
        .map(|c| pairwise_range(c * PAR_CHUNK, ((c + 1) * PAR_CHUNK).min(n), &f))
        .collect();
    pairwise(&partial)
}

/// Pairwise sum of a slice of `f32` or `f64`, accumulated in `f64`.
pub fn pairwise<X: crate::Real>(xs: &[X]) -> f64 {
    sum_by(xs.len(), |i| xs[i].into())
}

/// Neumaier's compensated sum (an improved Kahan sum): error `O(ε)` independent of `n`.
///
/// Slower than [`pairwise`]; used where a handful of terms of very different magnitude meet.
pub fn neumaier(xs: impl IntoIterator<Item = f64>) -> f64 {
    let mut sum = 0.0f64;
    let mut comp = 0.0f64;
    for x in xs {
        let t = sum + x;
        if sum.abs() >= x.abs() {
            comp += (sum - t) + x;
        } else {
            comp += (x - t) + sum;
        }
        sum = t;
    }
    sum + comp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairwise_is_exact_on_integers() {
        let xs: Vec<f64> = (1..=1_000_000).map(|i| i as f64).collect();
        assert_eq!(pairwise(&xs), 500_000_500_000.0);
    }

    #[test]
    fn pairwise_beats_naive_on_f32_increments() {
        // 10^7 copies of 0.1f32: a naive f32 loop drifts far; pairwise in f64 does not.
        let xs = vec![0.1f32; 10_000_000];
        let exact = 0.1f32 as f64 * 1e7;
        let naive: f32 = xs.iter().sum();
        assert!(((naive as f64) - exact).abs() / exact > 1e-3);
        assert!((pairwise(&xs) - exact).abs() / exact < 1e-13);
    }

    #[test]
    fn neumaier_recovers_cancellation() {
        let xs = [1.0, 1e100, 1.0, -1e100];
        assert_eq!(neumaier(xs), 2.0);
    }

    #[test]
    fn sum_by_matches_below_and_above_the_parallel_threshold() {
        for n in [0, 1, 127, 128, 129, 65_536, 65_537, 300_001] {
            let expect = (n as f64) * (n as f64 - 1.0) / 2.0;
            assert_eq!(sum_by(n, |i| i as f64), expect, "n = {n}");
        }
    }
}
