//! Midranks and rank correlation.
//!
//! ```text
//! ρ_i = 1 + #{j : c_j < c_i} + (#{j : c_j = c_i} − 1) / 2      (1-based, ties get their mean rank)
//! spearman(a, b) = pearson(ρ(a), ρ(b))
//! kendall_tau_b(a, b) = (n_c − n_d) / √((n₀ − n_a)(n₀ − n_b))    n₀ = n(n−1)/2, n_a, n_b tied pairs
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
///
/// # Panics
/// If the lengths differ or a value is NaN.
pub fn midranks_into(values: &[f64], out: &mut [f64]) {
    assert_eq!(values.len(), out.len(), "midranks: output length");
    let sorted = Ascending::new(values.len(), |i| values[i])
        .unwrap_or_else(|i| panic!("midranks: NaN at index {i}"));
    sorted.update_by_midrank(out, |_, rank, _| rank);
}

/// A value and the position it came from: 12 bytes, so that a sort of `10⁸` of them holds
/// 1.2 GB rather than the 1.6 GB of an aligned `(f64, u32)`. The value is held as its key in
/// `f64::total_cmp`'s order, so that the sort compares integers.
#[derive(Clone, Copy)]
#[repr(C, packed(4))]
struct Entry {
    key: i64,
    index: u32,
}

impl Entry {
    fn new(value: f64, index: usize) -> Self {
        Self {
            key: total_order_key(value),
            index: index as u32,
        }
    }

    fn value(self) -> f64 {
        // The map is its own inverse.
        f64::from_bits(total_order_key(f64::from_bits(self.key as u64)) as u64)
    }
}

/// `v`'s bits as an integer ordered as `f64::total_cmp` orders values: negative values'
/// magnitude bits flipped.
fn total_order_key(v: f64) -> i64 {
    let bits = v.to_bits() as i64;
    bits ^ ((((bits >> 63) as u64) >> 1) as i64)
}

/// Positions `0..n` in ascending order of their values: the one sort that midranks, rank
/// weights and order statistics read.
pub struct Ascending(Vec<Entry>);

impl Ascending {
    /// Sort positions `0..n` by `value(i)` (in parallel for large `n`).
    ///
    /// # Errors
    /// The first position whose value is NaN (nothing to order it by).
    ///
    /// # Panics
    /// If `n` exceeds `u32::MAX`.
    pub fn new(n: usize, value: impl Fn(usize) -> f64 + Sync) -> Result<Self, usize> {
        assert!(n <= u32::MAX as usize, "Ascending: more than 2^32 values");
        let entry = |i: usize| Entry::new(value(i), i);
        let mut entries: Vec<Entry> = if n >= PARALLEL_MIN {
            (0..n).into_par_iter().map(entry).collect()
        } else {
            (0..n).map(entry).collect()
        };
        let nan = |e: &&Entry| e.value().is_nan();
        let first_nan = match n >= PARALLEL_MIN {
            true => entries.par_iter().find_first(nan),
            false => entries.iter().find(nan),
        };
        if let Some(e) = first_nan {
            return Err(e.index as usize);
        }
        let key = |e: &Entry| e.key;
        if n >= PARALLEL_MIN {
            entries.par_sort_unstable_by_key(key);
        } else {
            entries.sort_unstable_by_key(key);
        }
        Ok(Self(entries))
    }

    /// How many values.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The `k`-th smallest value (0-based).
    pub fn value(&self, k: usize) -> f64 {
        self.0[k].value()
    }

    /// `each(i, ρ_i, value_i)` for every position `i`, in ascending order of value: `ρ_i` is
    /// its 1-based midrank (equal values, `-0.0` and `0.0` included, share the mean of the
    /// ranks they occupy).
    pub fn for_each_midrank(&self, each: impl FnMut(usize, f64, f64)) {
        self.for_each_midrank_in(0..self.len(), each);
    }

    /// `out[i] = f(out[i], ρ_i, value_i)` for every position `i` (midranks as in
    /// [`Ascending::for_each_midrank`]), in parallel over stretches of the sorted order.
    ///
    /// # Panics
    /// If `out` is not as long as the values.
    pub fn update_by_midrank(&self, out: &mut [f64], f: impl Fn(f64, f64, f64) -> f64 + Sync) {
        assert_eq!(out.len(), self.len(), "update_by_midrank: output length");
        let n = self.len();
        if n < PARALLEL_MIN {
            return self.for_each_midrank(|i, rank, value| out[i] = f(out[i], rank, value));
        }
        let out = Disjoint(out.as_mut_ptr());
        let pieces = rayon::current_num_threads() * 4;
        let starts: Vec<usize> = (0..=pieces)
            .map(|p| self.run_start(p * n / pieces))
            .collect();
        starts.par_windows(2).for_each(|w| {
            self.for_each_midrank_in(w[0]..w[1], |i, rank, value| {
                // SAFETY: `i < n = out.len()`, and every position appears once in the sorted
                // order (`new` enumerates `0..n`), so no two stretches write the same element.
                unsafe {
                    let o = out.at(i);
                    *o = f(*o, rank, value);
                }
            });
        });
    }

    /// The start of the run of equal values that sorted position `k` belongs to (`len` at the
    /// end).
    fn run_start(&self, mut k: usize) -> usize {
        let entries = &self.0;
        while k > 0 && k < entries.len() && entries[k - 1].value() == entries[k].value() {
            k -= 1;
        }
        k.min(entries.len())
    }

    /// [`Ascending::for_each_midrank`] over sorted positions `range`, which starts and ends
    /// at runs of equal values.
    fn for_each_midrank_in(
        &self,
        range: std::ops::Range<usize>,
        mut each: impl FnMut(usize, f64, f64),
    ) {
        let entries = &self.0[..range.end];
        let mut start = range.start;
        while start < entries.len() {
            let value = entries[start].value();
            let mut end = start + 1;
            // `==` rather than total_cmp: -0.0 and 0.0 are the same value.
            while end < entries.len() && entries[end].value() == value {
                end += 1;
            }
            // Sorted positions start..end hold 1-based ranks start+1 ..= end.
            let rank = (start + 1 + end) as f64 / 2.0;
            for e in &entries[start..end] {
                each(e.index as usize, rank, value);
            }
            start = end;
        }
    }
}

/// An output written at disjoint positions from several threads.
struct Disjoint(*mut f64);

impl Disjoint {
    /// Element `i` (a method, so that closures capture the whole `Sync` wrapper).
    fn at(&self, i: usize) -> *mut f64 {
        self.0.wrapping_add(i)
    }
}

// SAFETY: shared only by `update_by_midrank`, whose writers touch disjoint elements.
unsafe impl Sync for Disjoint {}

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

/// Kendall's τ_b of two equally long slices: concordant minus discordant pairs over the
/// geometric mean of the pairs untied in each (`NaN` if either is constant or there are fewer
/// than two items).
///
/// `O(n log n)` (Knight's algorithm): sort by `(a, b)`, count the discordant pairs as the
/// inversions of `b` in that order by a merge sort, and the tied pairs from runs of equal
/// values.
///
/// # Panics
/// If the lengths differ or a value is NaN.
pub fn kendall_tau_b(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len(), "kendall: lengths differ");
    let n = a.len();
    let pairs = |run: u64| run * run.saturating_sub(1) / 2;
    let tied = |sorted: &[usize], key: &dyn Fn(usize) -> (f64, f64)| -> u64 {
        sorted
            .chunk_by(|&i, &j| key(i) == key(j))
            .map(|run| pairs(run.len() as u64))
            .sum()
    };
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_unstable_by(|&i, &j| a[i].total_cmp(&a[j]).then(b[i].total_cmp(&b[j])));
    let tied_a = tied(&order, &|i| (a[i], 0.0));
    let tied_both = tied(&order, &|i| (a[i], b[i]));
    let mut seq: Vec<f64> = order.iter().map(|&i| b[i]).collect();
    let mut scratch = vec![0.0; n];
    let swaps = inversions(&mut seq, &mut scratch);
    // `seq` is now b sorted.
    let tied_b: u64 = seq
        .chunk_by(|x, y| x == y)
        .map(|r| pairs(r.len() as u64))
        .sum();
    let n0 = pairs(n as u64);
    let difference =
        n0 as f64 - tied_a as f64 - tied_b as f64 + tied_both as f64 - 2.0 * swaps as f64;
    difference / (((n0 - tied_a) as f64) * ((n0 - tied_b) as f64)).sqrt()
}

/// Sort `v` ascending by merging, returning the number of pairs `i < j` with `v_i > v_j`.
fn inversions(v: &mut [f64], scratch: &mut [f64]) -> u64 {
    let n = v.len();
    if n < 2 {
        return 0;
    }
    let mid = n / 2;
    let (left, right) = v.split_at_mut(mid);
    let (s_left, s_right) = scratch.split_at_mut(mid);
    let mut count = inversions(left, s_left) + inversions(right, s_right);
    let (mut i, mut j, mut k) = (0, 0, 0);
    while i < left.len() && j < right.len() {
        if right[j] < left[i] {
            scratch[k] = right[j];
            count += (left.len() - i) as u64;
            j += 1;
        } else {
            scratch[k] = left[i];
            i += 1;
        }
        k += 1;
    }
    scratch[k..k + left.len() - i].copy_from_slice(&left[i..]);
    k += left.len() - i;
    scratch[k..k + right.len() - j].copy_from_slice(&right[j..]);
    v.copy_from_slice(scratch);
    count
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
    fn ascending_reports_a_nan_and_orders_the_rest() {
        assert_eq!(
            Ascending::new(3, |i| [1.0, f64::NAN, 0.0][i]).err(),
            Some(1)
        );
        let sorted = Ascending::new(4, |i| [2.0, -0.0, 0.0, -1.0][i]).unwrap();
        let values: Vec<f64> = (0..sorted.len()).map(|k| sorted.value(k)).collect();
        assert_eq!(values, [-1.0, 0.0, 0.0, 2.0]);
        let mut seen = Vec::new();
        sorted.for_each_midrank(|i, rank, _| seen.push((i, rank)));
        seen.sort_by_key(|&(i, _)| i);
        assert_eq!(seen, [(0, 4.0), (1, 2.5), (2, 2.5), (3, 1.0)]);
    }

    /// Midranks by counting, on enough values for the parallel sort, with long runs of ties.
    #[test]
    fn midranks_count_smaller_and_equal_values() {
        let v: Vec<f64> = (0..200_000).map(|i| ((i * 7919) % 97) as f64).collect();
        let mut count = [0usize; 97];
        v.iter().for_each(|&x| count[x as usize] += 1);
        let r = midranks(&v);
        for (x, r) in v.iter().zip(&r) {
            let below: usize = count[..*x as usize].iter().sum();
            let tied = count[*x as usize];
            assert_eq!(*r, below as f64 + (tied as f64 + 1.0) / 2.0, "value {x}");
        }
    }

    /// The parallel update reads each element's old value and writes it once.
    #[test]
    fn update_by_midrank_reads_and_writes_each_position_once() {
        let v: Vec<f64> = (0..100_000).map(|i| ((i * 31) % 1000) as f64).collect();
        let sorted = Ascending::new(v.len(), |i| v[i]).unwrap();
        let mut out: Vec<f64> = (0..v.len()).map(|i| i as f64).collect();
        sorted.update_by_midrank(&mut out, |old, rank, value| old + rank + 1e6 * value);
        let r = midranks(&v);
        for (i, o) in out.iter().enumerate() {
            assert_eq!(*o, i as f64 + r[i] + 1e6 * v[i]);
        }
    }

    #[test]
    fn midranks_sum_to_triangular_number() {
        let v: Vec<f64> = (0..100_000).map(|i| ((i * 7919) % 1000) as f64).collect();
        let r = midranks(&v);
        let n = v.len() as f64;
        assert_eq!(r.iter().sum::<f64>(), n * (n + 1.0) / 2.0);
    }

    /// τ_b from its definition, pair by pair.
    fn kendall_naive(a: &[f64], b: &[f64]) -> f64 {
        let (mut s, mut ta, mut tb, mut n0) = (0.0, 0.0, 0.0, 0.0);
        for i in 0..a.len() {
            for j in i + 1..a.len() {
                n0 += 1.0;
                s += (a[i] - a[j]).signum()
                    * (b[i] - b[j]).signum()
                    * f64::from(u8::from(a[i] != a[j] && b[i] != b[j]));
                ta += f64::from(u8::from(a[i] == a[j]));
                tb += f64::from(u8::from(b[i] == b[j]));
            }
        }
        s / ((n0 - ta) * (n0 - tb)).sqrt()
    }

    #[test]
    fn kendall_tau_b_equals_its_definition_with_and_without_ties() {
        let a: Vec<f64> = (0..700).map(|i| ((i * 7919) % 113) as f64).collect();
        let b: Vec<f64> = (0..700)
            .map(|i| ((i * 104_729) % 97) as f64 + 0.01 * a[i])
            .collect();
        let c: Vec<f64> = (0..700).map(|i| ((i * 31) % 11) as f64).collect();
        for (x, y) in [(&a, &b), (&a, &c), (&c, &b), (&c, &c)] {
            let (fast, naive) = (kendall_tau_b(x, y), kendall_naive(x, y));
            assert!((fast - naive).abs() < 1e-12, "{fast} vs {naive}");
        }
        let up: Vec<f64> = (0..50).map(f64::from).collect();
        let down: Vec<f64> = up.iter().map(|x| -x).collect();
        assert_eq!(kendall_tau_b(&up, &up), 1.0);
        assert_eq!(kendall_tau_b(&up, &down), -1.0);
        assert!(kendall_tau_b(&up, &[1.0; 50]).is_nan());
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
