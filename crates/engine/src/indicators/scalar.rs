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
//! `Dual<Pack<T, L>, N>` it does that for `L` agents at once, in f32 or f64 (`T`). The derivatives are those of the
//! expression, exact to rounding (no finite differences, no graph). Where a function has a kink
//! (`abs`, `max`, `min`, all built on [`Scalar::if_at_least`]) the derivative is that of the side
//! chosen there.

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
    /// `ln(1 + x)`, accurate where `x` is tiny.
    fn ln_1p(self) -> Self;
    /// The error function `erf x = (2/√π) ∫₀ˣ e^{−t²} dt`.
    fn erf(self) -> Self;
    /// `then` where `self ≥ bound`, `otherwise` where `self < bound`, NaN where either is NaN
    /// (lane by lane; a dual takes the chosen side's derivatives): the one branch the smooth
    /// functions need, so that the kinks below are written once.
    fn if_at_least(self, bound: Self, then: Self, otherwise: Self) -> Self;

    /// The larger of the two; at a tie, `self` (and its derivatives).
    fn max(self, other: Self) -> Self {
        self.if_at_least(other, self, other)
    }
    /// The smaller of the two; at a tie, `other` (and its derivatives).
    fn min(self, other: Self) -> Self {
        self.if_at_least(other, other, self)
    }
    /// `|x|`; at 0 the derivative is that of `x` (+1).
    fn abs(self) -> Self {
        self.if_at_least(Self::constant(0.0), self, -self)
    }
    /// The logistic `σ(x) = 1/(1 + e^{−x}) = ½ + ½ tanh(x/2)`: never overflows, and its
    /// derivative `(1 − tanh²(x/2))/4` is finite everywhere.
    fn sigmoid(self) -> Self {
        (self * 0.5).tanh() * 0.5 + 0.5
    }
    /// `softplus(x) = ln(1 + eˣ) = max(x, 0) + ln(1 + e^{−|x|})`, which neither overflows nor
    /// loses the relative precision of its tail.
    fn softplus(self) -> Self {
        self.max(Self::constant(0.0)) + (-self.abs()).exp().ln_1p()
    }
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
    fn ln_1p(self) -> Self {
        f64::ln_1p(self)
    }
    fn erf(self) -> Self {
        libm::erf(self)
    }
    fn if_at_least(self, bound: Self, then: Self, otherwise: Self) -> Self {
        at_least(self, bound, then, otherwise, f64::NAN)
    }
}

/// `then` where `v ≥ bound`, `otherwise` where `v < bound`, `nan` where either is NaN.
#[inline(always)]
fn at_least<T: PartialOrd>(v: T, bound: T, then: T, otherwise: T, nan: T) -> T {
    if v >= bound {
        then
    } else if v < bound {
        otherwise
    } else {
        nan
    }
}

/// `a` with `f(i, a_i)` in place of each `a_i`: a plain loop, which the compiler inlines and
/// unrolls into the caller's vector code (`array::from_fn` and `array::map` may stay calls).
#[inline(always)]
fn each<T: Copy, const N: usize>(mut a: [T; N], f: impl Fn(usize, T) -> T) -> [T; N] {
    for (i, v) in a.iter_mut().enumerate() {
        *v = f(i, *v);
    }
    a
}

/// A number a [`Pack`] lane holds: `f32` or `f64`, with the smooth functions of [`Scalar`].
pub trait Lane:
    Copy
    + Send
    + Sync
    + PartialOrd
    + std::fmt::Debug
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
{
    /// `v` rounded to this precision.
    fn of(v: f64) -> Self;
    /// The value in f64 (exact).
    fn to_f64(self) -> f64;
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
    /// `xᵖ`.
    fn powf(self, p: Self) -> Self;
    /// `ln(1 + x)`.
    fn ln_1p(self) -> Self;
    /// `erf x`.
    fn erf(self) -> Self;
}

macro_rules! lane {
    ($t:ty, $erf:path) => {
        impl Lane for $t {
            #[inline(always)]
            fn of(v: f64) -> Self {
                v as $t
            }
            #[inline(always)]
            fn to_f64(self) -> f64 {
                f64::from(self)
            }
            fn exp(self) -> Self {
                <$t>::exp(self)
            }
            fn ln(self) -> Self {
                <$t>::ln(self)
            }
            #[inline(always)]
            fn sqrt(self) -> Self {
                <$t>::sqrt(self)
            }
            fn tanh(self) -> Self {
                <$t>::tanh(self)
            }
            fn powi(self, n: i32) -> Self {
                <$t>::powi(self, n)
            }
            fn powf(self, p: Self) -> Self {
                <$t>::powf(self, p)
            }
            fn ln_1p(self) -> Self {
                <$t>::ln_1p(self)
            }
            fn erf(self) -> Self {
                $erf(self)
            }
        }
    };
}
lane!(f32, libm::erff);
lane!(f64, libm::erf);

/// `L` lanes of `T` (`L` agents), every operation lane by lane; constants are rounded to `T`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Pack<T, const L: usize>(pub [T; L]);

macro_rules! pack_op {
    ($trait:ident, $method:ident, $op:tt) => {
        impl<T: Lane, const L: usize> $trait for Pack<T, L> {
            type Output = Self;
            #[inline(always)]
            fn $method(self, other: Self) -> Self {
                Pack(each(self.0, |i, v| v $op other.0[i]))
            }
        }
        impl<T: Lane, const L: usize> $trait<f64> for Pack<T, L> {
            type Output = Self;
            #[inline(always)]
            fn $method(self, other: f64) -> Self {
                let other = T::of(other);
                Pack(each(self.0, |_, v| v $op other))
            }
        }
    };
}
pack_op!(Add, add, +);
pack_op!(Sub, sub, -);
pack_op!(Mul, mul, *);
pack_op!(Div, div, /);

impl<T: Lane, const L: usize> Neg for Pack<T, L> {
    type Output = Self;
    #[inline(always)]
    fn neg(self) -> Self {
        Pack(each(self.0, |_, v| -v))
    }
}

impl<T: Lane, const L: usize> Pack<T, L> {
    #[inline(always)]
    fn map(self, f: impl Fn(T) -> T) -> Self {
        Pack(each(self.0, |_, v| f(v)))
    }
}

impl<T: Lane, const L: usize> Scalar for Pack<T, L> {
    #[inline(always)]
    fn constant(v: f64) -> Self {
        Pack([T::of(v); L])
    }
    fn exp(self) -> Self {
        self.map(T::exp)
    }
    fn ln(self) -> Self {
        self.map(T::ln)
    }
    #[inline(always)]
    fn sqrt(self) -> Self {
        self.map(T::sqrt)
    }
    fn tanh(self) -> Self {
        self.map(T::tanh)
    }
    fn powi(self, n: i32) -> Self {
        self.map(|v| v.powi(n))
    }
    fn powf(self, p: f64) -> Self {
        let p = T::of(p);
        self.map(|v| v.powf(p))
    }
    fn ln_1p(self) -> Self {
        self.map(T::ln_1p)
    }
    fn erf(self) -> Self {
        self.map(T::erf)
    }
    #[inline(always)]
    fn if_at_least(self, bound: Self, then: Self, otherwise: Self) -> Self {
        let nan = T::of(f64::NAN);
        Pack(each(self.0, |l, v| {
            at_least(v, bound.0[l], then.0[l], otherwise.0[l], nan)
        }))
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
            d: each([S::constant(0.0); N], |k, v| {
                if k == c { S::constant(1.0) } else { v }
            }),
        }
    }

    /// The chain rule: `f(v)` with slope `f'(v)`.
    #[inline(always)]
    fn chain(self, value: S, slope: S) -> Self {
        Dual {
            v: value,
            d: each(self.d, |_, d| d * slope),
        }
    }
}

impl<S: Scalar, const N: usize> Add for Dual<S, N> {
    type Output = Self;
    #[inline(always)]
    fn add(self, o: Self) -> Self {
        Dual {
            v: self.v + o.v,
            d: each(self.d, |k, d| d + o.d[k]),
        }
    }
}

impl<S: Scalar, const N: usize> Sub for Dual<S, N> {
    type Output = Self;
    #[inline(always)]
    fn sub(self, o: Self) -> Self {
        Dual {
            v: self.v - o.v,
            d: each(self.d, |k, d| d - o.d[k]),
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
            d: each(self.d, |k, d| d * o.v + o.d[k] * self.v),
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
            d: each(self.d, |k, d| (d - o.d[k] * q) / o.v),
        }
    }
}

impl<S: Scalar, const N: usize> Neg for Dual<S, N> {
    type Output = Self;
    #[inline(always)]
    fn neg(self) -> Self {
        Dual {
            v: -self.v,
            d: each(self.d, |_, d| -d),
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
            d: each(self.d, |_, d| d * c),
        }
    }
}

impl<S: Scalar, const N: usize> Div<f64> for Dual<S, N> {
    type Output = Self;
    #[inline(always)]
    fn div(self, c: f64) -> Self {
        Dual {
            v: self.v / c,
            d: each(self.d, |_, d| d / c),
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
    fn ln_1p(self) -> Self {
        self.chain(self.v.ln_1p(), S::constant(1.0) / (self.v + 1.0))
    }
    fn erf(self) -> Self {
        let slope = (-(self.v * self.v)).exp() * std::f64::consts::FRAC_2_SQRT_PI;
        self.chain(self.v.erf(), slope)
    }
    #[inline(always)]
    fn if_at_least(self, bound: Self, then: Self, otherwise: Self) -> Self {
        let (v, b) = (self.v, bound.v);
        Dual {
            v: v.if_at_least(b, then.v, otherwise.v),
            d: each(then.d, |k, t| v.if_at_least(b, t, otherwise.d[k])),
        }
    }
    /// One evaluation of the tail and the slope `σ(x)`.
    fn softplus(self) -> Self {
        self.chain(self.v.softplus(), self.v.sigmoid())
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
                + (z[1] * 0.5 - z[0]).erf()
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
        let pack: [Pack<f64, 2>; 3] = std::array::from_fn(|k| Pack([lanes[0][k], lanes[1][k]]));
        let packed = f(pack);
        assert_eq!(packed.0, [f(lanes[0]), f(lanes[1])]);
        let single = |z: [f64; 3]| f(z.map(|v| v as f32 as f64)) as f32;
        let pack: [Pack<f32, 2>; 3] =
            std::array::from_fn(|k| Pack([lanes[0][k] as f32, lanes[1][k] as f32]));
        for (got, want) in f(pack).0.into_iter().zip(lanes.map(single)) {
            assert!(
                (got - want).abs() <= 4.0 * f32::EPSILON * want.abs(),
                "{got} vs {want}"
            );
        }
    }

    /// The kinks pick the side their docs say, NaN is never swallowed, and the smooth steps
    /// neither overflow nor lose their tails.
    #[test]
    fn kinks_pick_their_side_nan_propagates_and_tails_are_kept() {
        let (a, b) = (Dual::<f64, 2>::variable(1.0, 0), Dual::variable(1.0, 1));
        assert_eq!(a.max(b).d, [1.0, 0.0]);
        assert_eq!(a.min(b).d, [0.0, 1.0]);
        assert_eq!(Dual::<f64, 1>::variable(0.0, 0).abs().d, [1.0]);
        assert_eq!(Dual::<f64, 1>::variable(-2.0, 0).abs().d, [-1.0]);
        assert!(Scalar::max(f64::NAN, 1.0).is_nan() && Scalar::max(1.0, f64::NAN).is_nan());
        let pack = Scalar::min(Pack([f64::NAN, 2.0, 0.5]), Pack([1.0, 1.0, 1.0]));
        assert!(pack.0[0].is_nan() && pack.0[1..] == [1.0, 0.5]);
        let tail = Scalar::softplus(-40.0f64);
        assert!((tail - (-40.0f64).exp()).abs() <= 1e-15 * tail);
        assert_eq!(Scalar::softplus(800.0f64), 800.0);
        for x in [-800.0, -40.0, 0.0, 3.0, 800.0] {
            let s = Dual::<f64, 1>::variable(x, 0).softplus();
            let sigma = Scalar::sigmoid(x);
            assert!(s.d[0].is_finite() && (s.d[0] - sigma).abs() <= f64::EPSILON);
            let g = Dual::<f64, 1>::variable(x, 0).sigmoid();
            assert!((g.d[0] - sigma * (1.0 - sigma)).abs() <= 2.0 * f64::EPSILON);
        }
        let f32_tail = Scalar::softplus(Pack([-30.0f32]));
        assert!((f32_tail.0[0] - (-30.0f32).exp()).abs() <= 1e-6 * f32_tail.0[0]);
    }
}
