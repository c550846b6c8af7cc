//! Interaction graphs as edge lists, and the two tensor operations a smoothed dynamics needs
//! on them.
//!
//! ```text
//! gather     m_e   = h[src_e]                         [rows, 1, n] → [rows, 1, E]
//! scatter    out_i = Σ_{e : dst_e = i} m_e            [rows, 1, E] → [rows, 1, n]
//! ```
//!
//! Both are `O(|E|)` per row, never `O(n²)`, and both are differentiable (burn's `select` and
//! `select_assign` with [`IndexingUpdateOp::Add`]).
//!
//! The Barabási–Albert generator attaches every new node to `m` distinct earlier nodes chosen
//! with probability proportional to their degree (the repeated-endpoint list), starting from
//! a clique of `m + 1` nodes; it is deterministic for a seed.

use burn::tensor::{DType, Device, IndexingUpdateOp, Int, Tensor, TensorData};
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};

/// A directed edge list over `n` nodes; an undirected graph holds both directions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Graph {
    /// Nodes.
    pub n: usize,
    /// Edges `(src, dst)`: `dst` sees what `src` does.
    pub edges: Vec<[u32; 2]>,
}

impl Graph {
    /// Out-degree of every node (the number of edges leaving it).
    pub fn out_degrees(&self) -> Vec<f64> {
        let mut deg = vec![0.0; self.n];
        for &[s, _] in &self.edges {
            deg[s as usize] += 1.0;
        }
        deg
    }

    /// In-degree of every node.
    pub fn in_degrees(&self) -> Vec<f64> {
        let mut deg = vec![0.0; self.n];
        for &[_, d] in &self.edges {
            deg[d as usize] += 1.0;
        }
        deg
    }

    /// The edges as an `[E, 2]` row-major `i64` array (for `.npy`).
    pub fn to_i64(&self) -> Vec<i64> {
        self.edges
            .iter()
            .flat_map(|&[s, d]| [i64::from(s), i64::from(d)])
            .collect()
    }

    /// The graph of `n` nodes from an `[E, 2]` row-major array, checking every index.
    ///
    /// # Errors
    /// The position of the first edge whose endpoint is not a node.
    pub fn from_i64(n: usize, flat: &[i64]) -> Result<Self, (usize, i64)> {
        let mut edges = Vec::with_capacity(flat.len() / 2);
        for (e, pair) in flat.chunks_exact(2).enumerate() {
            let node = |v: i64| u32::try_from(v).ok().filter(|&u| (u as usize) < n);
            match (node(pair[0]), node(pair[1])) {
                (Some(s), Some(d)) => edges.push([s, d]),
                (None, _) => return Err((e, pair[0])),
                (_, None) => return Err((e, pair[1])),
            }
        }
        Ok(Self { n, edges })
    }

    /// The edge endpoints and in-degrees on `device` (degrees in `dtype`), for [`Edges`]'s
    /// gathers and scatter-adds: uploaded once per path, used at every point.
    pub fn upload(&self, device: &Device, dtype: DType) -> Edges {
        let column = |k: usize| -> Tensor<1, Int> {
            let v: Vec<i64> = self.edges.iter().map(|e| i64::from(e[k])).collect();
            let len = v.len();
            Tensor::from_data(TensorData::new(v, [len]), device)
        };
        let nodes = |v: Vec<f64>| {
            let n = v.len();
            Tensor::<3>::from_data(TensorData::new(v, [1, 1, n]), (device, dtype))
        };
        let deg = self.in_degrees();
        let inv: Vec<f64> = deg.iter().map(|&d| 1.0 / d.max(1.0)).collect();
        Edges {
            n: self.n,
            src: column(0),
            dst: column(1),
            in_degree: nodes(deg),
            inv_in_degree: nodes(inv),
        }
    }
}

/// Edge endpoints on a device, with every node's in-degree.
#[derive(Clone, Debug)]
pub struct Edges {
    n: usize,
    src: Tensor<1, Int>,
    dst: Tensor<1, Int>,
    in_degree: Tensor<3>,
    inv_in_degree: Tensor<3>,
}

impl Edges {
    /// Every node's in-degree, `[1, 1, n]`.
    pub fn in_degree(&self) -> Tensor<3> {
        self.in_degree.clone()
    }

    /// `1 / max(in-degree, 1)` of every node, `[1, 1, n]`.
    pub fn inv_in_degree(&self) -> Tensor<3> {
        self.inv_in_degree.clone()
    }

    /// `h[src_e]` along the last axis: `[rows, k, n] → [rows, k, E]`.
    pub fn gather_src(&self, h: Tensor<3>) -> Tensor<3> {
        h.select(2, self.src.clone())
    }

    /// `h[dst_e]` along the last axis: `[rows, k, n] → [rows, k, E]`.
    pub fn gather_dst(&self, h: Tensor<3>) -> Tensor<3> {
        h.select(2, self.dst.clone())
    }

    /// `out_i = Σ_{e: dst_e = i} m_e`: `[rows, k, E] → [rows, k, n]`.
    pub fn scatter_dst(&self, m: Tensor<3>) -> Tensor<3> {
        self.scatter(m, &self.dst)
    }

    /// `out_i = Σ_{e: src_e = i} m_e`: `[rows, k, E] → [rows, k, n]`.
    pub fn scatter_src(&self, m: Tensor<3>) -> Tensor<3> {
        self.scatter(m, &self.src)
    }

    fn scatter(&self, m: Tensor<3>, index: &Tensor<1, Int>) -> Tensor<3> {
        let [rows, k, _] = m.dims();
        let zeros = Tensor::<3>::zeros([rows, k, self.n], (&m.device(), m.dtype()));
        zeros.select_assign(2, index.clone(), m, IndexingUpdateOp::Add)
    }
}

/// An undirected Barabási–Albert graph (both directions of every edge) of `n` nodes, `m`
/// edges per new node.
///
/// # Panics
/// If `m == 0` or `n ≤ m`.
pub fn barabasi_albert(n: usize, m: usize, seed: u64) -> Graph {
    assert!(
        m >= 1 && n > m,
        "a Barabási–Albert graph needs m ≥ 1 and n > m"
    );
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut endpoints: Vec<u32> = Vec::with_capacity(2 * m * n);
    let mut edges = Vec::with_capacity(2 * m * n);
    let mut link = |a: u32, b: u32, endpoints: &mut Vec<u32>| {
        edges.push([a, b]);
        edges.push([b, a]);
        endpoints.extend([a, b]);
    };
    for a in 0..=m as u32 {
        for b in 0..a {
            link(a, b, &mut endpoints);
        }
    }
    let mut targets = Vec::with_capacity(m);
    for v in (m + 1) as u32..n as u32 {
        targets.clear();
        while targets.len() < m {
            let t = endpoints[rng.random_range(0..endpoints.len())];
            if !targets.contains(&t) {
                targets.push(t);
            }
        }
        for &t in &targets {
            link(v, t, &mut endpoints);
        }
    }
    Graph { n, edges }
}

/// A directed preferential-attachment graph of `n` nodes: every new node follows `m` distinct
/// earlier nodes chosen with probability proportional to their followers + 1, starting from
/// `m + 1` nodes that follow each other. An edge `(u, w)` means w follows u (w sees u's posts):
/// out-degrees (followers) are heavy-tailed, in-degrees (followees) are `m` for all but the
/// first nodes.
///
/// # Panics
/// If `m == 0` or `n ≤ m`.
pub fn preferential_attachment(n: usize, m: usize, seed: u64) -> Graph {
    assert!(
        m >= 1 && n > m,
        "a preferential-attachment graph needs m ≥ 1 and n > m"
    );
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    // Each node once (the +1), plus once per follower: drawing uniformly from this list picks
    // a node with probability ∝ followers + 1.
    let mut pool: Vec<u32> = Vec::with_capacity(n * (m + 1));
    let mut edges = Vec::with_capacity(m * n + m * (m + 1));
    for a in 0..=m as u32 {
        pool.push(a);
        for b in 0..=m as u32 {
            if a != b {
                edges.push([b, a]);
                pool.push(b);
            }
        }
    }
    let mut targets = Vec::with_capacity(m);
    for v in (m + 1) as u32..n as u32 {
        targets.clear();
        while targets.len() < m {
            let t = pool[rng.random_range(0..pool.len())];
            if !targets.contains(&t) {
                targets.push(t);
            }
        }
        for &t in &targets {
            edges.push([t, v]);
            pool.push(t);
        }
        pool.push(v);
    }
    Graph { n, edges }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn barabasi_albert_is_simple_symmetric_deterministic_and_heavy_tailed() {
        let g = barabasi_albert(20_000, 2, 3);
        assert_eq!(g, barabasi_albert(20_000, 2, 3));
        assert_eq!(g.edges.len(), 2 * (3 + 2 * (20_000 - 3)));
        let mut set: Vec<[u32; 2]> = g.edges.clone();
        set.sort_unstable();
        set.dedup();
        assert_eq!(set.len(), g.edges.len(), "no repeated edge");
        assert!(g.edges.iter().all(|&[a, b]| a != b));
        assert_eq!(g.out_degrees(), g.in_degrees());
        let max = g.out_degrees().into_iter().fold(0.0, f64::max);
        assert!(max > 100.0, "hubs: the largest degree is {max}");
    }

    #[test]
    fn preferential_attachment_has_hubs_and_fixed_followees() {
        let g = preferential_attachment(20_000, 3, 5);
        assert_eq!(g, preferential_attachment(20_000, 3, 5));
        let mut set = g.edges.clone();
        set.sort_unstable();
        set.dedup();
        assert_eq!(set.len(), g.edges.len(), "no repeated edge");
        assert!(g.in_degrees()[10..].iter().all(|&d| d == 3.0));
        let max = g.out_degrees().into_iter().fold(0.0, f64::max);
        assert!(
            max > 200.0,
            "hubs: the most followed node has {max} followers"
        );
    }

    #[test]
    fn gather_and_scatter_sum_over_neighbours() {
        let device = Device::flex();
        // 0 → 1, 0 → 2, 2 → 1
        let g = Graph {
            n: 3,
            edges: vec![[0, 1], [0, 2], [2, 1]],
        };
        let e = g.upload(&device, burn::tensor::DType::F64);
        let h = Tensor::<3>::from_data(
            TensorData::new(vec![1.0f64, 10.0, 100.0], [1, 1, 3]),
            (&device, burn::tensor::DType::F64),
        );
        let into_dst = e.scatter_dst(e.gather_src(h.clone()));
        let v = into_dst.into_data().try_into_vec_as::<f64>().unwrap();
        assert_eq!(v, vec![0.0, 101.0, 1.0]);
        let into_src = e.scatter_src(e.gather_dst(h));
        let v = into_src.into_data().try_into_vec_as::<f64>().unwrap();
        assert_eq!(v, vec![110.0, 0.0, 10.0]);
    }

    #[test]
    fn edge_arrays_round_trip_and_bad_indices_are_found() {
        let g = barabasi_albert(50, 2, 1);
        assert_eq!(Graph::from_i64(50, &g.to_i64()).unwrap(), g);
        assert_eq!(Graph::from_i64(3, &[0, 1, 2, 3]), Err((1, 3)));
        assert_eq!(Graph::from_i64(3, &[0, -1]), Err((0, -1)));
    }
}
