//! Numbers an indicator can be written over once and evaluated three ways: `f64` for values,
//! [`Pack`] for several agents at once (one vector instruction per operation), and [`Dual`]
//! for exact first derivatives by forward-mode differentiation.
//!
//! ```text
//! Dual:  (v, ∂₁v, …, ∂_N v);   f(u) ↦ (f(v), f'(v) ∂₁v, …, f'(v) ∂_N v)
//! ```
//!
//! A function `f<S: Scalar>(z: &[S]) -> S` evaluated on `Dual<S, N>` inputs whose `∂_c` is the
//! unit vector `e_c` returns `f(z)` and `∂f/∂z_c` for `N` coordinates at once; on
//! `Dual<Pack<L>, N>` it does that for `L` agents at once. The derivatives are those of the
//! expression, exact to rounding (no finite differences, no graph).

use std::ops::{Add, Div, Mul, Neg, Sub};

/// A number [`crate::indicators::pooled_fn::PooledFn`] ψ and ρ are written over: the arithmetic of `f64`
/// and its smooth functions.
pub trait Scalar:
    Copy
    + Send
    + Sync
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + Add<f64, Output = Self>
    + Sub<f64, Output = Self>
    + Mul<f64, Output = Self>
    + Div<f64, Output = Self>
{
    /// A constant (zero derivative).
    fn constant(v: f64) -> Self;
    /// `eˣ`.
    fn exp(self) -> Self;
    /// The natural logarithm.
    fn ln(self) -> Self;
    /// `√x`.
    fn sqrt(self) -> Self;
    /// `tanh x`.
    fn tanh(self) -> Self;
    /// `xⁿ`.
    fn powi(self, n: i32) -> Self;
    /// `xᵖ` for a real `p`.
    fn powf(self, p: f64) -> Self;
}

impl Scalar for f64 {
    fn constant(v: f64) -> Self {
        v
    }
    fn exp(self) -> Self {
        f64::exp(self)
    }
    fn ln(self) -> Self {
        f64::ln(self)
    }
    fn sqrt(self) -> Self {
        f64::sqrt(self)
    }
    fn tanh(self) -> Self {
        f64::tanh(self)
    }
    fn powi(self, n: i32) -> Self {
        f64::powi(self, n)
    }
    fn powf(self, p: f64) -> Self {
        f64::powf(self, p)
    }
}

/// `L` lanes of f64 (`L` agents), every operation lane by lane.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Pack<const L: usize>(pub [f64; L]);

macro_rules! pack_op {
    ($trait:ident, $method:ident, $op:tt) => {
        impl<const L: usize> $trait for Pack<L> {
            type Output = Self;
            #[inline(always)]
            fn $method(self, other: Self) -> Self {
                Pack(std::array::from_fn(|i| self.0[i] $op other.0[i]))
            }
        }
        impl<const L: usize> $trait<f64> for Pack<L> {
            type Output = Self;
            #[inline(always)]
            fn $method(self, other: f64) -> Self {
                Pack(std::array::from_fn(|i| self.0[i] $op other))
            }
        }
    };
}
pack_op!(Add, add, +);
pack_op!(Sub, sub, -);
pack_op!(Mul, mul, *);
pack_op!(Div, div, /);

impl<const L: usize> Neg for Pack<L> {
    type Output = Self;
    #[inline(always)]
    fn neg(self) -> Self {
        Pack(self.0.map(|v| -v))
    }
}

impl<const L: usize> Pack<L> {
    #[inline(always)]
    fn map(self, f: impl Fn(f64) -> f64) -> Self {
        Pack(self.0.map(f))
    }
}

impl<const L: usize> Scalar for Pack<L> {
    #[inline(always)]
    fn constant(v: f64) -> Self {
        Pack([v; L])
    }
    fn exp(self) -> Self {
        self.map(f64::exp)
    }
    fn ln(self) -> Self {
        self.map(f64::ln)
    }
    fn sqrt(self) -> Self {
        self.map(f64::sqrt)
    }
    fn tanh(self) -> Self {
        self.map(f64::tanh)
    }
    fn powi(self, n: i32) -> Self {
        self.map(|v| v.powi(n))
    }
    fn powf(self, p: f64) -> Self {
        self.map(|v| v.powf(p))
    }
}

/// A value and its derivatives along `N` directions.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Dual<S, const N: usize> {
    /// The value.
    pub v: S,
    /// `∂_c v` for each direction `c`.
    pub d: [S; N],
}

impl<S: Scalar, const N: usize> Dual<S, N> {
    /// `v` as the variable of direction `c` (derivative 1 there, 0 elsewhere); no direction if
    /// `c ≥ N`.
    #[inline(always)]
    pub fn variable(v: S, c: usize) -> Self {
        Dual {
            v,
            d: std::array::from_fn(|k| S::constant(if k == c { 1.0 } else { 0.0 })),
        }
    }

    /// The chain rule: `f(v)` with slope `f'(v)`.
    #[inline(always)]
    fn chain(self, value: S, slope: S) -> Self {
        Dual {
            v: value,
            d: self.d.map(|d| d * slope),
        }
    }
}

impl<S: Scalar, const N: usize> Add for Dual<S, N> {
    type Output = Self;
    #[inline(always)]
    fn add(self, o: Self) -> Self {
        Dual {
            v: self.v + o.v,
            d: std::array::from_fn(|k| self.d[k] + o.d[k]),
        }
    }
}

impl<S: Scalar, const N: usize> Sub for Dual<S, N> {
    type Output = Self;
    #[inline(always)]
    fn sub(self, o: Self) -> Self {
        Dual {
            v: self.v - o.v,
            d: std::array::from_fn(|k| self.d[k] - o.d[k]),
        }
    }
}

impl<S: Scalar, const N: usize> Mul for Dual<S, N> {
    type Output = Self;
    #[inline(always)]
    #[allow(clippy::suspicious_arithmetic_impl)] // the product rule
    fn mul(self, o: Self) -> Self {
        Dual {
            v: self.v * o.v,
            d: std::array::from_fn(|k| self.d[k] * o.v + o.d[k] * self.v),
        }
    }
}

impl<S: Scalar, const N: usize> Div for Dual<S, N> {
    type Output = Self;
    #[inline(always)]
    #[allow(clippy::suspicious_arithmetic_impl)] // the quotient rule
    fn div(self, o: Self) -> Self {
        let q = self.v / o.v;
        Dual {
            v: q,
            d: std::array::from_fn(|k| (self.d[k] - o.d[k] * q) / o.v),
        }
    }
}

impl<S: Scalar, const N: usize> Neg for Dual<S, N> {
    type Output = Self;
    #[inline(always)]
    fn neg(self) -> Self {
        Dual {
            v: -self.v,
            d: self.d.map(|d| -d),
        }
    }
}

impl<S: Scalar, const N: usize> Add<f64> for Dual<S, N> {
    type Output = Self;
    #[inline(always)]
    fn add(self, c: f64) -> Self {
        Dual {
            v: self.v + c,
            d: self.d,
        }
    }
}

impl<S: Scalar, const N: usize> Sub<f64> for Dual<S, N> {
    type Output = Self;
    #[inline(always)]
    fn sub(self, c: f64) -> Self {
        Dual {
            v: self.v - c,
            d: self.d,
        }
    }
}

impl<S: Scalar, const N: usize> Mul<f64> for Dual<S, N> {
    type Output = Self;
    #[inline(always)]
    fn mul(self, c: f64) -> Self {
        Dual {
            v: self.v * c,
            d: self.d.map(|d| d * c),
        }
    }
}

impl<S: Scalar, const N: usize> Div<f64> for Dual<S, N> {
    type Output = Self;
    #[inline(always)]
    fn div(self, c: f64) -> Self {
        Dual {
            v: self.v / c,
            d: self.d.map(|d| d / c),
        }
    }
}

impl<S: Scalar, const N: usize> Scalar for Dual<S, N> {
    #[inline(always)]
    fn constant(v: f64) -> Self {
        Dual {
            v: S::constant(v),
            d: [S::constant(0.0); N],
        }
    }
    fn exp(self) -> Self {
        let e = self.v.exp();
        self.chain(e, e)
    }
    fn ln(self) -> Self {
        self.chain(self.v.ln(), S::constant(1.0) / self.v)
    }
    fn sqrt(self) -> Self {
        let r = self.v.sqrt();
        self.chain(r, S::constant(0.5) / r)
    }
    fn tanh(self) -> Self {
        let t = self.v.tanh();
        self.chain(t, S::constant(1.0) - t * t)
    }
    fn powi(self, n: i32) -> Self {
        let slope = match n {
            0 => S::constant(0.0),
            _ => self.v.powi(n - 1) * f64::from(n),
        };
        self.chain(self.v.powi(n), slope)
    }
    fn powf(self, p: f64) -> Self {
        self.chain(self.v.powf(p), self.v.powf(p - 1.0) * p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A function written once: its duals' derivatives equal central differences, and a pack
    /// equals its lanes evaluated one by one.
    #[test]
    fn duals_differentiate_and_packs_follow_their_lanes() {
        fn f<S: Scalar>(z: [S; 3]) -> S {
            let c = z[0] + z[1] * 2.0 - z[2];
            (c * c).exp() / (z[0].powi(3) + 4.0).ln() + z[1].sqrt() * z[2].tanh()
                - z[2].powf(1.5) / (-z[0] + 5.0)
        }
        let z = [0.3, 1.7, 0.9];
        let duals: [Dual<f64, 3>; 3] = std::array::from_fn(|c| Dual::variable(z[c], c));
        let got = f(duals);
        assert_eq!(got.v, f(z));
        for c in 0..3 {
            let h = 1e-6;
            let (mut up, mut down) = (z, z);
            up[c] += h;
            down[c] -= h;
            let numeric = (f(up) - f(down)) / (2.0 * h);
            assert!(
                (got.d[c] - numeric).abs() < 1e-7 * numeric.abs().max(1.0),
                "∂{c}"
            );
        }
        let lanes = [[0.3, 1.7, 0.9], [1.1, 0.2, 2.5]];
        let pack: [Pack<2>; 3] = std::array::from_fn(|k| Pack([lanes[0][k], lanes[1][k]]));
        let packed = f(pack);
        assert_eq!(packed.0, [f(lanes[0]), f(lanes[1])]);
    }
}
