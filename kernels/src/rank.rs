//! Midranks and rank correlation.
//!
//! ```text
//! ρ_i = 1 + #{j : c_j < c_i} + (#{j : c_j = c_i} − 1) / 2      (1-based, ties get their mean rank)
//! spearman(a, b) = pearson(ρ(a), ρ(b))
//! ```

use rayon::prelude::*;

use crate::PARALLEL_MIN;

/// The 1-based midranks of `values` in ascending order: tied values share the mean of the
/// ranks they occupy.
///
/// `O(n log n)`: one (parallel, for large `n`) sort of `(value, index)` pairs.
///
/// # Panics
/// If a value is NaN (callers validate their input first).
pub fn midranks(values: &[f64]) -> Vec<f64> {
    let mut ranks = vec![0.0; values.len()];
    midranks_into(values, &mut ranks);
    ranks
}

/// [`midranks`] written into `out` (same length as `values`).
pub fn midranks_into(values: &[f64], out: &mut [f64]) {
    assert_eq!(values.len(), out.len(), "midranks: output length");
    assert!(
        values.len() <= u32::MAX as usize,
        "midranks: more than 2^32 values"
    );
    let mut order: Vec<(f64, u32)> = values
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            assert!(!v.is_nan(), "midranks: NaN at index {i}");
            (v, i as u32)
        })
        .collect();
    let by_value = |a: &(f64, u32), b: &(f64, u32)| a.0.total_cmp(&b.0);
    if order.len() >= PARALLEL_MIN {
        order.par_sort_unstable_by(by_value);
    } else {
        order.sort_unstable_by(by_value);
    }
    let mut start = 0;
    while start < order.len() {
        let value = order[start].0;
        let mut end = start + 1;
        // `==` rather than total_cmp: -0.0 and 0.0 are the same composite.
        while end < order.len() && order[end].0 == value {
            end += 1;
        }
        // Sorted positions start..end hold 1-based ranks start+1 ..= end.
        let rank = (start + 1 + end) as f64 / 2.0;
        for &(_, i) in &order[start..end] {
            out[i as usize] = rank;
        }
        start = end;
    }
}

/// Pearson correlation of two equally long slices (`NaN` if either is constant).
pub fn pearson(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len(), "pearson: lengths differ");
    let n = a.len();
    let ma = crate::sum::pairwise(a) / n as f64;
    let mb = crate::sum::pairwise(b) / n as f64;
    let sab = crate::sum::sum_by(n, |i| (a[i] - ma) * (b[i] - mb));
    let saa = crate::sum::sum_by(n, |i| (a[i] - ma) * (a[i] - ma));
    let sbb = crate::sum::sum_by(n, |i| (b[i] - mb) * (b[i] - mb));
    sab / (saa * sbb).sqrt()
}

/// Spearman rank correlation: Pearson correlation of the midranks.
pub fn spearman(a: &[f64], b: &[f64]) -> f64 {
    let (ra, rb) = rayon::join(|| midranks(a), || midranks(b));
    pearson(&ra, &rb)
}

/// Positions of the `k` largest values, ascending (ties broken by position; all of them if
/// `k ≥ len`).
pub fn top_k(values: &[f64], k: usize) -> Vec<usize> {
    let k = k.min(values.len());
    if k == 0 {
        return Vec::new();
    }
    let mut idx: Vec<usize> = (0..values.len()).collect();
    let cmp = |&a: &usize, &b: &usize| values[b].total_cmp(&values[a]).then(a.cmp(&b));
    idx.select_nth_unstable_by(k - 1, cmp);
    idx.truncate(k);
    idx.sort_unstable();
    idx
}

/// `|A ∩ B| / |A ∪ B|` of two ascending index lists (1 for two empty lists).
pub fn jaccard(a: &[usize], b: &[usize]) -> f64 {
    let common = a.iter().filter(|x| b.binary_search(x).is_ok()).count();
    let union = a.len() + b.len() - common;
    if union == 0 {
        1.0
    } else {
        common as f64 / union as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn midranks_average_ties() {
        assert_eq!(
            midranks(&[3.0, 1.0, 3.0, 2.0, 3.0]),
            vec![4.0, 1.0, 4.0, 2.0, 4.0]
        );
        assert_eq!(midranks(&[5.0, 5.0]), vec![1.5, 1.5]);
        assert_eq!(midranks(&[]), Vec::<f64>::new());
    }

    #[test]
    fn midranks_sum_to_triangular_number() {
        let v: Vec<f64> = (0..100_000).map(|i| ((i * 7919) % 1000) as f64).collect();
        let r = midranks(&v);
        let n = v.len() as f64;
        assert_eq!(r.iter().sum::<f64>(), n * (n + 1.0) / 2.0);
    }

    #[test]
    fn spearman_of_monotone_maps_is_one() {
        let a: Vec<f64> = (0..1000).map(|i| (i as f64 * 0.37).sin()).collect();
        let b: Vec<f64> = a.iter().map(|x| x.powi(3) + 2.0).collect();
        assert!((spearman(&a, &b) - 1.0).abs() < 1e-12);
        let c: Vec<f64> = a.iter().map(|x| -x).collect();
        assert!((spearman(&a, &c) + 1.0).abs() < 1e-12);
    }
}
