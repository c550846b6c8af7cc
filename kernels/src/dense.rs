//! Small dense matrix products on the host: `C ← C + A B` and `C ← (A B) ⊙ S`, all row-major.
//!
//! ```text
//! C[r, c] += Σ_k A[r, k] B[k, c]        A [rows, inner], B [inner, cols], C [rows, cols]
//! ```
//!
//! Sized for a neural layer applied to a cache-sized block of rows (a few hundred rows, widths
//! up to a few hundred): `B` is a layer's weights, read in place without packing, and each
//! 4 × 16 tile of `C` stays in registers while `k` runs, so a step of `k` is two loads of `B`,
//! four broadcasts of `A` and eight vector multiply-adds. With AVX2 and FMA (detected at run
//! time) the tiles run as fused eight-lane instructions; elsewhere as whatever the target's
//! vector unit offers. [`matmul_acc_reference`] is the plain triple loop the tests hold it to.

/// Rows of a register tile.
const TILE_ROWS: usize = 4;

/// An element the product runs in: `f32` or `f64`.
pub trait Element: Copy + Default + Send + Sync + std::ops::Mul<Output = Self> + 'static {
    /// `a b + c`, one fused instruction where `FUSED` (then the caller has FMA).
    fn madd<const FUSED: bool>(a: Self, b: Self, c: Self) -> Self;
    /// `tiles` with this type's tile width: two 256-bit registers per tile row, so that
    /// the tile's accumulators take half the sixteen vector registers.
    fn tiles<const FUSED: bool>(p: Product<'_, Self>, c: &mut [Self]);
}

/// One product's operands: `a` `[rows, inner]`, `b` `[inner, cols]`, and the elementwise
/// `scale` (`[rows, cols]`) of a scaled product.
#[derive(Clone, Copy)]
pub struct Product<'a, T> {
    rows: usize,
    inner: usize,
    cols: usize,
    a: &'a [T],
    b: &'a [T],
    scale: Option<&'a [T]>,
}

impl<'a, T> Product<'a, T> {
    fn new(
        [rows, inner, cols]: [usize; 3],
        a: &'a [T],
        b: &'a [T],
        scale: Option<&'a [T]>,
    ) -> Self {
        Self {
            rows,
            inner,
            cols,
            a,
            b,
            scale,
        }
    }
}

/// `Element` for a float type whose tile row is `$width` lanes.
macro_rules! element {
    ($t:ty, $width:literal) => {
        impl Element for $t {
            #[inline(always)]
            fn madd<const FUSED: bool>(a: $t, b: $t, c: $t) -> $t {
                if FUSED { a.mul_add(b, c) } else { a * b + c }
            }
            #[inline(always)]
            fn tiles<const FUSED: bool>(p: Product<'_, $t>, c: &mut [$t]) {
                tiles::<$t, $width, FUSED>(p, c);
            }
        }
    };
}
element!(f32, 16);
element!(f64, 8);

/// Whether the processor runs AVX2 and fused multiply-adds: the kernels here, and any loop
/// compiled with `#[target_feature(enable = "avx2,fma")]`, may take that path.
#[inline]
pub fn fused_lanes() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// `c ← c + a b`: `a` `[rows, inner]`, `b` `[inner, cols]`, `c` `[rows, cols]`, row-major.
///
/// # Panics
/// If a slice is shorter than its shape says.
pub fn matmul_acc<T: Element>(shape: [usize; 3], a: &[T], b: &[T], c: &mut [T]) {
    matmul(Product::new(shape, a, b, None), c);
}

/// `c ← (a b) ⊙ scale`, elementwise by `scale` (`[rows, cols]`); `c` is only written. The
/// backward pass of a layer: the product and the activation's slopes in one sweep over `c`.
///
/// # Panics
/// If a slice is shorter than its shape says.
pub fn matmul_scaled<T: Element>(
    [rows, inner, cols]: [usize; 3],
    a: &[T],
    b: &[T],
    scale: &[T],
    c: &mut [T],
) {
    assert!(
        scale.len() >= rows * cols,
        "matmul_scaled: {} scales for [{rows}, {cols}]",
        scale.len()
    );
    matmul(Product::new([rows, inner, cols], a, b, Some(scale)), c);
}

fn matmul<T: Element>(p: Product<'_, T>, c: &mut [T]) {
    let Product {
        rows,
        inner,
        cols,
        a,
        b,
        scale,
    } = p;
    assert!(
        a.len() >= rows * inner && b.len() >= inner * cols && c.len() >= rows * cols,
        "matmul: [{rows}, {inner}] × [{inner}, {cols}] needs {} · {} · {} elements, got {} · {} · {}",
        rows * inner,
        inner * cols,
        rows * cols,
        a.len(),
        b.len(),
        c.len()
    );
    if rows == 0 || cols == 0 {
        return;
    }
    if inner == 0 {
        if scale.is_some() {
            c[..rows * cols].iter_mut().for_each(|v| *v = T::default());
        }
        return;
    }
    #[cfg(target_arch = "x86_64")]
    if fused_lanes() {
        // SAFETY: the processor has AVX2 and FMA (checked just above).
        unsafe { matmul_fma(p, c) };
        return;
    }
    T::tiles::<false>(p, c);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn matmul_fma<T: Element>(p: Product<'_, T>, c: &mut [T]) {
    T::tiles::<true>(p, c);
}

/// Full tiles, then the edges a row or a column at a time. A tile reads its rows of `a` in
/// place: copying them into a `[inner, TILE_ROWS]` run first cost a third of the product at
/// width 32.
#[inline(always)]
fn tiles<T: Element, const TILE_COLS: usize, const FUSED: bool>(p: Product<'_, T>, c: &mut [T]) {
    let full_rows = p.rows - p.rows % TILE_ROWS;
    let full_cols = p.cols - p.cols % TILE_COLS;
    for r0 in (0..full_rows).step_by(TILE_ROWS) {
        for c0 in (0..full_cols).step_by(TILE_COLS) {
            tile::<T, TILE_COLS, FUSED>([r0, c0], &p, c);
        }
        for r in r0..r0 + TILE_ROWS {
            edge::<T, FUSED>(r, full_cols..p.cols, &p, c);
        }
    }
    for r in full_rows..p.rows {
        edge::<T, FUSED>(r, 0..p.cols, &p, c);
    }
}

/// One `TILE_ROWS × TILE_COLS` tile of `c` at `(r0, c0)`, held in registers across `k`.
#[inline(always)]
fn tile<T: Element, const TILE_COLS: usize, const FUSED: bool>(
    [r0, c0]: [usize; 2],
    p: &Product<'_, T>,
    c: &mut [T],
) {
    let (inner, cols, b, scale) = (p.inner, p.cols, p.b, p.scale);
    // The tile's rows of `a`, `[TILE_ROWS, inner]`.
    let a_tile = &p.a[r0 * inner..(r0 + TILE_ROWS) * inner];
    assert!(
        a_tile.len() == TILE_ROWS * inner
            && (inner == 0 || b.len() >= (inner - 1) * cols + c0 + TILE_COLS)
    );
    let mut acc = [[T::default(); TILE_COLS]; TILE_ROWS];
    if scale.is_none() {
        for (i, row) in acc.iter_mut().enumerate() {
            row.copy_from_slice(&c[(r0 + i) * cols + c0..][..TILE_COLS]);
        }
    }
    for k in 0..inner {
        // SAFETY: `k < inner`, so `i·inner + k < TILE_ROWS·inner = a_tile.len()` and
        // `k·cols + c0 + TILE_COLS ≤ b.len()` (asserted above).
        let b_row: &[T; TILE_COLS] =
            unsafe { &*b.as_ptr().add(k * cols + c0).cast::<[T; TILE_COLS]>() };
        for (i, row) in acc.iter_mut().enumerate() {
            let ak = unsafe { *a_tile.get_unchecked(i * inner + k) };
            for (acc, &bk) in row.iter_mut().zip(b_row) {
                *acc = T::madd::<FUSED>(ak, bk, *acc);
            }
        }
    }
    for (i, row) in acc.iter().enumerate() {
        let at = (r0 + i) * cols + c0;
        match scale {
            None => c[at..][..TILE_COLS].copy_from_slice(row),
            Some(scale) => {
                for ((c, &v), &s) in c[at..][..TILE_COLS].iter_mut().zip(row).zip(&scale[at..]) {
                    *c = v * s;
                }
            }
        }
    }
}

/// Row `r` of `c`, columns `span`.
#[inline(always)]
fn edge<T: Element, const FUSED: bool>(
    r: usize,
    span: std::ops::Range<usize>,
    p: &Product<'_, T>,
    c: &mut [T],
) {
    if span.is_empty() {
        return;
    }
    let (inner, cols, a, b) = (p.inner, p.cols, p.a, p.b);
    let c_row = &mut c[r * cols..][..cols];
    if p.scale.is_some() {
        c_row[span.clone()]
            .iter_mut()
            .for_each(|v| *v = T::default());
    }
    for (k, &ak) in a[r * inner..][..inner].iter().enumerate() {
        let b_row = &b[k * cols..][..cols];
        for col in span.clone() {
            c_row[col] = T::madd::<FUSED>(ak, b_row[col], c_row[col]);
        }
    }
    if let Some(scale) = p.scale {
        for col in span {
            c_row[col] = c_row[col] * scale[r * cols + col];
        }
    }
}

/// The plain triple loop: what [`matmul_acc`] computes, up to rounding.
pub fn matmul_acc_reference([rows, inner, cols]: [usize; 3], a: &[f64], b: &[f64], c: &mut [f64]) {
    for r in 0..rows {
        for col in 0..cols {
            let dot: f64 = (0..inner)
                .map(|k| a[r * inner + k] * b[k * cols + col])
                .sum();
            c[r * cols + col] += dot;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn values(len: usize, seed: u64) -> Vec<f64> {
        (0..len)
            .map(|i| (((i as u64 + 1) * 2_654_435_761 + seed * 40_503) % 1000) as f64 / 250.0 - 2.0)
            .collect()
    }

    proptest! {
        /// Every shape, tiles and edges alike, in both precisions, equals the triple loop.
        #[test]
        fn equals_the_triple_loop(rows in 0usize..23, inner in 0usize..40, cols in 0usize..45, seed in 0u64..1000) {
            let (a, b, c0) = (values(rows * inner, seed), values(inner * cols, seed + 1), values(rows * cols, seed + 2));
            let mut want = c0.clone();
            matmul_acc_reference([rows, inner, cols], &a, &b, &mut want);
            let mut got = c0.clone();
            matmul_acc([rows, inner, cols], &a, &b, &mut got);
            for (g, w) in got.iter().zip(&want) {
                prop_assert!((g - w).abs() <= 1e-12 * (1.0 + w.abs()), "f64 {g} vs {w}");
            }
            // Scaled: c only written, then multiplied by the scales.
            let scale = values(rows * cols, seed + 3);
            let mut product = vec![0.0; rows * cols];
            matmul_acc_reference([rows, inner, cols], &a, &b, &mut product);
            let mut got = c0.clone();
            matmul_scaled([rows, inner, cols], &a, &b, &scale, &mut got);
            for ((g, p), s) in got.iter().zip(&product).zip(&scale) {
                prop_assert!((g - p * s).abs() <= 1e-12 * (1.0 + (p * s).abs()), "scaled {g} vs {}", p * s);
            }
            // The portable tiles (what a processor without AVX2 and FMA runs), both kinds.
            let mut got = c0.clone();
            let p = Product::new([rows, inner, cols], &a, &b, None);
            f64::tiles::<false>(p, &mut got);
            for (g, w) in got.iter().zip(&want) {
                prop_assert!((g - w).abs() <= 1e-12 * (1.0 + w.abs()), "portable {g} vs {w}");
            }
            if rows * cols > 0 {
                let mut got = c0.clone();
                f64::tiles::<false>(Product { scale: Some(&scale), ..p }, &mut got);
                for ((g, p), s) in got.iter().zip(&product).zip(&scale) {
                    prop_assert!((g - p * s).abs() <= 1e-12 * (1.0 + (p * s).abs()), "portable scaled {g}");
                }
            }
            let f = |v: &[f64]| v.iter().map(|&x| x as f32).collect::<Vec<f32>>();
            let mut got = f(&c0);
            matmul_acc([rows, inner, cols], &f(&a), &f(&b), &mut got);
            for (g, w) in got.iter().zip(&want) {
                prop_assert!((f64::from(*g) - w).abs() <= 1e-4 * (1.0 + w.abs()), "f32 {g} vs {w}");
            }
        }
    }
}
