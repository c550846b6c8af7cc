//! Edge lists grouped by node, for node-parallel sums over a graph's edges.
//!
//! ```text
//! Csr::group(n, keys, values):   neighbours(i) = [values_e : keys_e = i]   (edge order kept)
//! par_nodes(out, d, f):          out[i·d .. (i+1)·d] = f(i)                for every node i
//! Csr::par_nodes_and_edges:      the same, each node also filling its own edges' slots
//! Neighbourhood::new(n, src, dst): neighbours(i) = {j : j → i or i → j}, with both counts
//! ```
//!
//! A scatter-add over an edge list, `out_i = Σ_{e: dst_e = i} m_e`, becomes a per-node sum
//! over `Csr::group(n, dst, src)`: each node owns its output, so the nodes run in parallel
//! without atomics, and each node's terms are added in edge order whatever the thread count
//! (the same bits on 1 or 64 threads).

use rayon::prelude::*;

/// Nodes per parallel task: small enough to balance, large enough to amortise the task.
const NODES_PER_TASK: usize = 2048;

/// Compressed sparse rows: the neighbours of each of `n` nodes in one array.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Csr {
    /// `neighbours(i) = index[offsets[i]..offsets[i + 1]]`; `n + 1` entries.
    offsets: Vec<usize>,
    index: Vec<u32>,
}

impl Csr {
    /// Group `values` by `keys` (equal lengths, every key `< n`): node `i`'s neighbours are
    /// the `values_e` with `keys_e = i`, in the order of `e` (a stable counting sort).
    ///
    /// # Panics
    /// If the lengths differ or a key is not below `n`.
    pub fn group(n: usize, keys: &[u32], values: &[u32]) -> Self {
        assert_eq!(keys.len(), values.len(), "one value per key");
        let offsets = offsets(n, keys);
        let mut next = offsets.clone();
        let mut index = vec![0u32; keys.len()];
        for (&k, &v) in keys.iter().zip(values) {
            let slot = &mut next[k as usize];
            index[*slot] = v;
            *slot += 1;
        }
        Self { offsets, index }
    }

    /// Number of nodes.
    pub fn nodes(&self) -> usize {
        self.offsets.len() - 1
    }

    /// Number of edges.
    pub fn edges(&self) -> usize {
        self.index.len()
    }

    /// The neighbours of node `i`.
    pub fn neighbours(&self, i: usize) -> &[u32] {
        &self.index[self.slots(i)]
    }

    /// Ask the CPU to start loading the records (`width` values each) of node `i`'s
    /// neighbours, so that a pass that reaches node `i` a little later finds them in cache.
    /// Passes over neighbours are bound by these random reads; a hint has no effect on any
    /// result, and none on other architectures than x86-64. Nothing for `i ≥ nodes()`.
    pub fn prefetch_neighbours(&self, i: usize, records: &[f64], width: usize) {
        if i >= self.nodes() {
            return;
        }
        for &j in self.neighbours(i) {
            let start = j as usize * width;
            if let Some(record) = records.get(start..start + width) {
                prefetch(&record[0]);
                prefetch(&record[width - 1]);
            }
        }
    }

    /// The slots of node `i`'s neighbours in the grouped array.
    pub fn slots(&self, i: usize) -> std::ops::Range<usize> {
        self.offsets[i]..self.offsets[i + 1]
    }

    /// [`par_nodes`] that also fills a per-edge array `edges` (one value per grouped slot):
    /// `f(i, row_i, edges[slots(i)])` for every node, each node writing only its own row and
    /// its own slots.
    ///
    /// # Panics
    /// If `edges` does not have one value per edge, or `out` one row of `d` per node.
    pub fn par_nodes_and_edges(
        &self,
        out: &mut [f64],
        d: usize,
        edges: &mut [f64],
        f: impl Fn(usize, &mut [f64], &mut [f64]) + Sync + Send,
    ) {
        let n = self.nodes();
        assert!(d > 0 && out.len() == n * d, "a row of {d} values per node");
        assert_eq!(edges.len(), self.edges(), "one value per edge");
        // Blocks of nodes with their rows and their (contiguous) slots.
        let mut blocks = Vec::with_capacity(n.div_ceil(NODES_PER_TASK));
        let (mut rows, mut slots) = (out, edges);
        for start in (0..n).step_by(NODES_PER_TASK) {
            let end = (start + NODES_PER_TASK).min(n);
            let (block_rows, rest_rows) = rows.split_at_mut((end - start) * d);
            let width = self.offsets[end] - self.offsets[start];
            let (block_slots, rest_slots) = slots.split_at_mut(width);
            blocks.push((start, block_rows, block_slots));
            (rows, slots) = (rest_rows, rest_slots);
        }
        let run = |(start, rows, slots): (usize, &mut [f64], &mut [f64])| {
            let base = self.offsets[start];
            for (j, row) in rows.chunks_exact_mut(d).enumerate() {
                let range = self.slots(start + j);
                f(
                    start + j,
                    row,
                    &mut slots[range.start - base..range.end - base],
                );
            }
        };
        if n <= crate::PARALLEL_MIN {
            blocks.into_iter().for_each(run);
        } else {
            blocks.into_par_iter().for_each(run);
        }
    }
}

/// Hint the CPU to load the cache line holding `value`.
#[inline(always)]
fn prefetch(value: &f64) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: SSE (which has the prefetch instruction) is part of the x86-64 baseline, and a
    // prefetch of a valid reference reads no memory architecturally: it cannot fault.
    unsafe {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        _mm_prefetch::<_MM_HINT_T0>(std::ptr::from_ref(value).cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = value;
}

/// Where each of `n` groups starts when `keys` are grouped: `n + 1` offsets.
fn offsets(n: usize, keys: &[u32]) -> Vec<usize> {
    let mut offsets = vec![0usize; n + 1];
    for &k in keys {
        offsets[k as usize + 1] += 1;
    }
    for i in 0..n {
        offsets[i + 1] += offsets[i];
    }
    offsets
}

/// Both directions of a directed multigraph in one list per node: node `i`'s neighbours are
/// the `j` with an edge `j → i` or `i → j`, each once, in increasing order, with how many
/// edges run each way. A node's terms that depend only on the pair (a symmetric kernel) are
/// then computed once for both directions, in one pass that reads each neighbour once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Neighbourhood {
    /// The neighbours of every node.
    pub csr: Csr,
    /// Per slot of `csr`: `[edges j → i, edges i → j]`.
    pub counts: Vec<[u32; 2]>,
}

impl Neighbourhood {
    /// The neighbourhoods of the graph with edges `src_e → dst_e` over `n` nodes.
    ///
    /// # Panics
    /// If the lengths differ or an endpoint is not below `n`.
    pub fn new(n: usize, src: &[u32], dst: &[u32]) -> Self {
        assert_eq!(src.len(), dst.len(), "one destination per source");
        // Every edge twice, under each endpoint: the neighbour and the direction in one word.
        let keys: Vec<u32> = dst.iter().chain(src).copied().collect();
        let offsets = offsets(n, &keys);
        let mut next = offsets.clone();
        let mut raw = vec![0u64; keys.len()];
        let tagged = src.iter().map(|&j| u64::from(j) << 1); // j → i: an in-edge of i
        let tagged = tagged.chain(dst.iter().map(|&j| (u64::from(j) << 1) | 1)); // i → j
        for (&k, word) in keys.iter().zip(tagged) {
            raw[next[k as usize]] = word;
            next[k as usize] += 1;
        }
        let mut segments = Vec::with_capacity(n);
        let mut rest = &mut raw[..];
        for i in 0..n {
            let (own, others) = rest.split_at_mut(offsets[i + 1] - offsets[i]);
            segments.push(own);
            rest = others;
        }
        let lists: Vec<(Vec<u32>, Vec<[u32; 2]>)> = segments
            .into_par_iter()
            .with_min_len(NODES_PER_TASK)
            .map(merge)
            .collect();
        let mut offsets = Vec::with_capacity(n + 1);
        offsets.push(0);
        let (mut index, mut counts) = (Vec::new(), Vec::new());
        for (neighbours, c) in lists {
            index.extend(neighbours);
            counts.extend(c);
            offsets.push(index.len());
        }
        Self {
            csr: Csr { offsets, index },
            counts,
        }
    }
}

/// Sort a node's tagged neighbours and count each neighbour's edges per direction.
fn merge(words: &mut [u64]) -> (Vec<u32>, Vec<[u32; 2]>) {
    words.sort_unstable();
    let (mut neighbours, mut counts): (Vec<u32>, Vec<[u32; 2]>) = (Vec::new(), Vec::new());
    for &w in words.iter() {
        let (j, way) = ((w >> 1) as u32, (w & 1) as usize);
        if neighbours.last() != Some(&j) {
            neighbours.push(j);
            counts.push([0, 0]);
        }
        if let Some(c) = counts.last_mut() {
            c[way] += 1;
        }
    }
    (neighbours, counts)
}

/// Fill `out` (`[n, d]` row-major) node by node: `f(i, row_i)` for every node, in parallel
/// over blocks of nodes when `out` is large. Each node writes only its own row, so the result
/// does not depend on the thread count.
///
/// # Panics
/// If `d` is zero or does not divide `out.len()`.
pub fn par_nodes(out: &mut [f64], d: usize, f: impl Fn(usize, &mut [f64]) + Sync + Send) {
    assert!(d > 0 && out.len().is_multiple_of(d), "rows of {d} values");
    let n = out.len() / d;
    if n <= crate::PARALLEL_MIN {
        for (i, row) in out.chunks_exact_mut(d).enumerate() {
            f(i, row);
        }
        return;
    }
    out.par_chunks_mut(NODES_PER_TASK * d)
        .enumerate()
        .for_each(|(block, rows)| {
            for (j, row) in rows.chunks_exact_mut(d).enumerate() {
                f(block * NODES_PER_TASK + j, row);
            }
        });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grouping_keeps_edge_order_and_counts() {
        // edges (src, dst): 0→1, 2→1, 0→2, 1→0
        let (src, dst) = ([0u32, 2, 0, 1], [1u32, 1, 2, 0]);
        let into = Csr::group(3, &dst, &src);
        assert_eq!(into.nodes(), 3);
        assert_eq!(into.edges(), 4);
        assert_eq!(into.neighbours(0), &[1]);
        assert_eq!(into.neighbours(1), &[0, 2]);
        assert_eq!(into.neighbours(2), &[0]);
        let out = Csr::group(3, &src, &dst);
        assert_eq!(out.neighbours(0), &[1, 2]);
        assert_eq!(out.neighbours(1), &[0]);
        assert!(Csr::group(4, &src, &dst).neighbours(3).is_empty());
    }

    #[test]
    fn neighbourhoods_merge_both_directions_and_count_repeats() {
        // 0→1, 1→0, 2→1, 1→2, 1→2 (twice), 3→0
        let (src, dst) = ([0u32, 1, 2, 1, 1, 3], [1u32, 0, 1, 2, 2, 0]);
        let h = Neighbourhood::new(5, &src, &dst);
        assert_eq!(h.csr.neighbours(0), &[1, 3]);
        assert_eq!(h.csr.neighbours(1), &[0, 2]);
        assert_eq!(h.csr.neighbours(2), &[1]);
        assert_eq!(h.csr.neighbours(3), &[0]);
        assert!(h.csr.neighbours(4).is_empty());
        let at = |i: usize| &h.counts[h.csr.slots(i)];
        assert_eq!(at(0), &[[1, 1], [1, 0]], "0 ← 1, 0 → 1, 0 ← 3");
        assert_eq!(at(1), &[[1, 1], [1, 2]], "1 ← 2 once, 1 → 2 twice");
        assert_eq!(at(2), &[[2, 1]]);
        assert_eq!(at(3), &[[0, 1]]);
    }

    #[test]
    fn edge_arrays_follow_the_slots_of_their_nodes() {
        let n = 50_000;
        let keys: Vec<u32> = (0..4 * n as u32).map(|e| (e * 7919) % n as u32).collect();
        let values: Vec<u32> = (0..4 * n as u32).collect();
        let csr = Csr::group(n, &keys, &values);
        let mut rows = vec![0.0; n];
        let mut edges = vec![0.0; csr.edges()];
        csr.par_nodes_and_edges(&mut rows, 1, &mut edges, |i, row, own| {
            row[0] = i as f64;
            for (slot, &v) in own.iter_mut().zip(csr.neighbours(i)) {
                *slot = f64::from(v);
            }
        });
        assert!(rows.iter().enumerate().all(|(i, &r)| r == i as f64));
        for i in 0..n {
            let own: Vec<u32> = edges[csr.slots(i)].iter().map(|&v| v as u32).collect();
            assert_eq!(own, csr.neighbours(i));
        }
    }

    #[test]
    fn node_sums_equal_a_sequential_scatter_add_on_any_pool() {
        let n = 100_000;
        let src: Vec<u32> = (0..5 * n as u32).map(|e| (e * 7919) % n as u32).collect();
        let dst: Vec<u32> = (0..5 * n as u32)
            .map(|e| (e * 104_729 + 3) % n as u32)
            .collect();
        let h: Vec<f64> = (0..n).map(|i| (i as f64 * 0.37).sin()).collect();
        let mut expected = vec![0.0; n];
        for (&s, &d) in src.iter().zip(&dst) {
            expected[d as usize] += h[s as usize];
        }
        let into = Csr::group(n, &dst, &src);
        let sum = |out: &mut Vec<f64>| {
            par_nodes(out, 1, |i, row| {
                row[0] = into.neighbours(i).iter().map(|&u| h[u as usize]).sum();
            });
        };
        let mut got = vec![0.0; n];
        sum(&mut got);
        assert_eq!(
            got, expected,
            "edge order within a node is the sequential order"
        );
        let one = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let mut again = vec![0.0; n];
        one.install(|| sum(&mut again));
        assert_eq!(again, got);
    }
}
