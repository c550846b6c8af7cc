//! A formula's expressions compiled: names resolved to inputs, constant parts folded and
//! checked, and two evaluators of the one tree — over any [`Scalar`] (values, SIMD packs, dual
//! numbers) and as a burn tensor program (any backend, autodiff).
//!
//! ```text
//! ψ:  inputs z_0 … z_{d−1} (by name or x0 …), c = Σ_k z_k
//! ρ:  inputs m_0 … m_{k−1} (by name or m0 …)
//! ```

use burn::tensor::Tensor;

use super::parse::{Operator, Syntax, SyntaxKind};
use crate::indicators::scalar::Scalar;

/// A function a formula can call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Function {
    /// A function of one argument (`exp`, `ln` also written `log`, `sqrt`, `tanh`, `sigmoid`,
    /// `softplus`, `abs`).
    Unary(Unary),
    /// `min(a, b)`.
    Min,
    /// `max(a, b)`.
    Max,
    /// `pow(x, p)`, `p` constant: `x^p`.
    Pow,
}

impl Function {
    /// Every function, in the order messages list them.
    pub const ALL: [Function; 10] = [
        Function::Unary(Unary::Exp),
        Function::Unary(Unary::Ln),
        Function::Unary(Unary::Sqrt),
        Function::Unary(Unary::Tanh),
        Function::Unary(Unary::Sigmoid),
        Function::Unary(Unary::Softplus),
        Function::Unary(Unary::Abs),
        Function::Min,
        Function::Max,
        Function::Pow,
    ];

    /// The name a formula calls it by.
    pub fn name(self) -> &'static str {
        match self {
            Function::Unary(f) => f.name(),
            Function::Min => "min",
            Function::Max => "max",
            Function::Pow => "pow",
        }
    }

    /// The function called `name` (`log` is `ln`).
    pub fn named(name: &str) -> Option<Function> {
        match name {
            "log" => Some(Function::Unary(Unary::Ln)),
            _ => Function::ALL.into_iter().find(|f| f.name() == name),
        }
    }

    /// Its number of arguments.
    fn arity(self) -> usize {
        match self {
            Function::Min | Function::Max | Function::Pow => 2,
            _ => 1,
        }
    }

    /// Every function's name, for messages.
    pub fn listed() -> String {
        let names: Vec<&str> = Function::ALL.iter().map(|f| f.name()).collect();
        format!("{} (log is ln)", names.join(", "))
    }
}

/// A function of one argument, as evaluated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unary {
    /// `eˣ`.
    Exp,
    /// `ln x`.
    Ln,
    /// `√x`.
    Sqrt,
    /// `tanh x`.
    Tanh,
    /// `σ(x)`.
    Sigmoid,
    /// `ln(1 + eˣ)`.
    Softplus,
    /// `|x|`.
    Abs,
}

impl Unary {
    /// Whether the tensor program needs `exp`, `log` or `pow` kernels (or, for `sqrt`, their
    /// backward pass): what a GPU cannot compute in f64.
    pub fn is_transcendental(self) -> bool {
        !matches!(self, Unary::Abs)
    }

    fn name(self) -> &'static str {
        match self {
            Unary::Exp => "exp",
            Unary::Ln => "ln",
            Unary::Sqrt => "sqrt",
            Unary::Tanh => "tanh",
            Unary::Sigmoid => "sigmoid",
            Unary::Softplus => "softplus",
            Unary::Abs => "abs",
        }
    }

    #[inline(always)]
    fn apply<S: Scalar>(self, x: S) -> S {
        match self {
            Unary::Exp => x.exp(),
            Unary::Ln => x.ln(),
            Unary::Sqrt => x.sqrt(),
            Unary::Tanh => x.tanh(),
            Unary::Sigmoid => x.sigmoid(),
            Unary::Softplus => x.softplus(),
            Unary::Abs => x.abs(),
        }
    }

    fn tensor<const D: usize>(self, x: Tensor<D>) -> Tensor<D> {
        match self {
            Unary::Exp => x.exp(),
            Unary::Ln => x.log(),
            Unary::Sqrt => x.sqrt(),
            Unary::Tanh => x.tanh(),
            Unary::Sigmoid => crate::ops::sigmoid(x),
            Unary::Softplus => crate::ops::softplus(x),
            // x where x ≥ 0, as the host's `abs` (derivative +1 at 0).
            Unary::Abs => x.clone().mask_where(x.clone().lower_elem(0.0), x.neg()),
        }
    }
}

/// A function of two values, as evaluated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Binary {
    /// `a + b`.
    Add,
    /// `a − b`.
    Subtract,
    /// `a · b`.
    Multiply,
    /// `a / b`.
    Divide,
    /// `max(a, b)`.
    Max,
    /// `min(a, b)`.
    Min,
}

impl Binary {
    #[inline(always)]
    fn apply<S: Scalar>(self, a: S, b: S) -> S {
        match self {
            Binary::Add => a + b,
            Binary::Subtract => a - b,
            Binary::Multiply => a * b,
            Binary::Divide => a / b,
            Binary::Max => a.max(b),
            Binary::Min => a.min(b),
        }
    }

    /// `a op c` for a constant `c`: no derivative arithmetic for the constant side.
    #[inline(always)]
    fn with_constant<S: Scalar>(self, a: S, c: f64) -> S {
        match self {
            Binary::Add => a + c,
            Binary::Subtract => a - c,
            Binary::Multiply => a * c,
            Binary::Divide => a / c,
            Binary::Max => a.max(S::constant(c)),
            Binary::Min => a.min(S::constant(c)),
        }
    }

    /// `c op b` for a constant `c`.
    #[inline(always)]
    fn of_constant<S: Scalar>(self, c: f64, b: S) -> S {
        match self {
            Binary::Add => b + c,
            Binary::Subtract => -b + c,
            Binary::Multiply => b * c,
            Binary::Divide => S::constant(c) / b,
            Binary::Max => S::constant(c).max(b),
            Binary::Min => S::constant(c).min(b),
        }
    }

    /// `a op c` of a tensor and a constant.
    fn tensor_with_constant<const D: usize>(self, a: Tensor<D>, c: f64) -> Tensor<D> {
        match self {
            Binary::Add => a.add_scalar(c),
            Binary::Subtract => a.sub_scalar(c),
            Binary::Multiply => a.mul_scalar(c),
            Binary::Divide => a.div_scalar(c),
            Binary::Max | Binary::Min => {
                let c = a.zeros_like().add_scalar(c);
                self.tensor(a, c)
            }
        }
    }

    /// `c op b` of a constant and a tensor.
    fn tensor_of_constant<const D: usize>(self, c: f64, b: Tensor<D>) -> Tensor<D> {
        match self {
            Binary::Add => b.add_scalar(c),
            Binary::Subtract => b.neg().add_scalar(c),
            Binary::Multiply => b.mul_scalar(c),
            Binary::Divide => b.recip().mul_scalar(c),
            Binary::Max | Binary::Min => {
                let c = b.zeros_like().add_scalar(c);
                self.tensor(c, b)
            }
        }
    }

    fn tensor<const D: usize>(self, a: Tensor<D>, b: Tensor<D>) -> Tensor<D> {
        match self {
            Binary::Add => a + b,
            Binary::Subtract => a - b,
            Binary::Multiply => a * b,
            Binary::Divide => a / b,
            // As the host's: the first where a ≥ b, the second otherwise.
            Binary::Max => b.clone().mask_where(a.clone().greater_equal(b), a),
            Binary::Min => a.clone().mask_where(a.greater_equal(b.clone()), b),
        }
    }
}

/// A compiled expression: what it computes, every name resolved.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    /// A constant.
    Constant(f64),
    /// Input `k`: feature `k` in ψ, mean `k` in ρ.
    Input(usize),
    /// The composite `c = Σ_k z_k` (ψ only).
    Composite,
    /// `−a`.
    Negate(Box<Expr>),
    /// `a op b`.
    Binary(Binary, Box<Expr>, Box<Expr>),
    /// `f(a)`.
    Unary(Unary, Box<Expr>),
    /// `aⁿ`, `n` an integer: products (and a division for `n < 0`).
    PowerInt(Box<Expr>, i32),
    /// `aᵖ`, `p` real.
    PowerReal(Box<Expr>, f64),
}

impl Expr {
    /// The value at `inputs` (ψ: the features; ρ: the means), with the composite `composite`.
    #[inline(always)]
    pub fn eval<S: Scalar>(&self, inputs: &[S], composite: S) -> S {
        match self {
            Expr::Constant(c) => S::constant(*c),
            Expr::Input(k) => inputs[*k],
            Expr::Composite => composite,
            Expr::Negate(a) => -a.eval(inputs, composite),
            Expr::Binary(op, a, b) => match (a.as_ref(), b.as_ref()) {
                (_, Expr::Constant(c)) => op.with_constant(a.eval(inputs, composite), *c),
                (Expr::Constant(c), _) => op.of_constant(*c, b.eval(inputs, composite)),
                _ => op.apply(a.eval(inputs, composite), b.eval(inputs, composite)),
            },
            Expr::Unary(f, a) => f.apply(a.eval(inputs, composite)),
            Expr::PowerInt(a, n) => integer_power(a.eval(inputs, composite), *n),
            Expr::PowerReal(a, p) => a.eval(inputs, composite).powf(*p),
        }
    }

    /// The tensor program: `input(k)` gives input `k`, `composite` the composite where it is
    /// read, and `like` the shape, device and dtype of a constant.
    pub fn tensor<const D: usize>(
        &self,
        input: &dyn Fn(usize) -> Tensor<D>,
        composite: Option<&Tensor<D>>,
        like: &Tensor<D>,
    ) -> Tensor<D> {
        let tensor = |e: &Expr| e.tensor(input, composite, like);
        match self {
            Expr::Constant(c) => like.zeros_like().add_scalar(*c),
            Expr::Input(k) => input(*k),
            Expr::Composite => composite
                .expect("compile notes every read of the composite")
                .clone(),
            Expr::Negate(a) => tensor(a).neg(),
            // Folding leaves constants as leaves: a constant side is a scalar operand.
            Expr::Binary(op, a, b) => match (a.as_ref(), b.as_ref()) {
                (_, Expr::Constant(c)) => op.tensor_with_constant(tensor(a), *c),
                (Expr::Constant(c), _) => op.tensor_of_constant(*c, tensor(b)),
                _ => op.tensor(tensor(a), tensor(b)),
            },
            Expr::Unary(f, a) => f.tensor(tensor(a)),
            Expr::PowerInt(a, n) => integer_tensor_power(tensor(a), *n),
            Expr::PowerReal(a, p) => tensor(a).powf_scalar(*p),
        }
    }

    /// The value at each of several points into `out` (one value a point), as
    /// [`Expr::eval`] computes it: `inputs` holds input 0 of every point, then input 1 of
    /// every point, …. Every node is evaluated for all the points before the next, so walking
    /// the tree costs once per batch, not once per point. `scratch` holds the right operands
    /// of binary nodes: at least [`Expr::scratch_depth`] times the number of points. Compiled
    /// for AVX2 and FMA where the processor has them, as the route's own loops are.
    pub fn eval_points<S: Scalar>(&self, inputs: &[S], out: &mut [S], scratch: &mut [S]) {
        #[cfg(target_arch = "x86_64")]
        if aumann_kernels::dense::fused_lanes() {
            // SAFETY: the processor has AVX2 and FMA (checked just above).
            return unsafe { self.points_avx(inputs, out, scratch) };
        }
        self.points_portable(inputs, out, scratch);
    }

    fn points_portable<S: Scalar>(&self, inputs: &[S], out: &mut [S], scratch: &mut [S]) {
        let recurse = |e: &Expr, inputs: &[S], out: &mut [S], scratch: &mut [S]| {
            e.points_portable(inputs, out, scratch)
        };
        self.points_with(inputs, out, scratch, &recurse);
    }

    /// [`Expr::eval_points`] compiled for AVX2 and FMA, down to the leaves.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    fn points_avx<S: Scalar>(&self, inputs: &[S], out: &mut [S], scratch: &mut [S]) {
        // A closure inherits the function's target features: the call needs no check.
        let recurse = |e: &Expr, inputs: &[S], out: &mut [S], scratch: &mut [S]| {
            e.points_avx(inputs, out, scratch)
        };
        self.points_with(inputs, out, scratch, &recurse);
    }

    /// The body of [`Expr::eval_points`], the children evaluated by `recurse`.
    #[inline(always)]
    fn points_with<S: Scalar>(
        &self,
        inputs: &[S],
        out: &mut [S],
        scratch: &mut [S],
        recurse: &impl Fn(&Expr, &[S], &mut [S], &mut [S]),
    ) {
        let points = out.len();
        match self {
            Expr::Constant(c) => out.fill(S::constant(*c)),
            Expr::Input(k) => out.copy_from_slice(&inputs[k * points..(k + 1) * points]),
            Expr::Composite => {
                // As `eval`'s composite: Σ_k z_k from zero, in order of k.
                out.fill(S::constant(0.0));
                for input in inputs.chunks_exact(points) {
                    for (o, &v) in out.iter_mut().zip(input) {
                        *o = *o + v;
                    }
                }
            }
            Expr::Negate(a) => {
                recurse(a, inputs, out, scratch);
                out.iter_mut().for_each(|o| *o = -*o);
            }
            Expr::Binary(op, a, b) => match (a.as_ref(), b.as_ref()) {
                (_, Expr::Constant(c)) => {
                    recurse(a, inputs, out, scratch);
                    out.iter_mut().for_each(|o| *o = op.with_constant(*o, *c));
                }
                (Expr::Constant(c), _) => {
                    recurse(b, inputs, out, scratch);
                    out.iter_mut().for_each(|o| *o = op.of_constant(*c, *o));
                }
                _ => {
                    recurse(a, inputs, out, scratch);
                    let (right, rest) = scratch.split_at_mut(points);
                    recurse(b, inputs, right, rest);
                    for (o, &r) in out.iter_mut().zip(right.iter()) {
                        *o = op.apply(*o, r);
                    }
                }
            },
            Expr::Unary(f, a) => {
                recurse(a, inputs, out, scratch);
                out.iter_mut().for_each(|o| *o = f.apply(*o));
            }
            Expr::PowerInt(a, n) => {
                recurse(a, inputs, out, scratch);
                out.iter_mut().for_each(|o| *o = integer_power(*o, *n));
            }
            Expr::PowerReal(a, p) => {
                recurse(a, inputs, out, scratch);
                out.iter_mut().for_each(|o| *o = o.powf(*p));
            }
        }
    }

    /// How many values a point's evaluation by [`Expr::eval_points`] holds aside at once: one
    /// for each binary node on a path down the tree whose both sides read inputs.
    pub fn scratch_depth(&self) -> usize {
        match self {
            Expr::Constant(_) | Expr::Input(_) | Expr::Composite => 0,
            Expr::Negate(a) | Expr::Unary(_, a) | Expr::PowerInt(a, _) | Expr::PowerReal(a, _) => {
                a.scratch_depth()
            }
            Expr::Binary(_, a, b) => match (a.as_ref(), b.as_ref()) {
                (_, Expr::Constant(_)) => a.scratch_depth(),
                (Expr::Constant(_), _) => b.scratch_depth(),
                _ => a.scratch_depth().max(1 + b.scratch_depth()),
            },
        }
    }

    /// Whether it reads the composite.
    pub fn reads_composite(&self) -> bool {
        self.any(&|e| matches!(e, Expr::Composite))
    }

    /// The first function whose tensor kernels a GPU cannot run in f64, if any.
    pub fn transcendental(&self) -> Option<&'static str> {
        match self {
            Expr::Unary(f, _) if f.is_transcendental() => Some(f.name()),
            Expr::PowerReal(..) => Some("non-integer power"),
            Expr::Negate(a) | Expr::Unary(_, a) | Expr::PowerInt(a, _) => a.transcendental(),
            Expr::Binary(_, a, b) => a.transcendental().or_else(|| b.transcendental()),
            Expr::Constant(_) | Expr::Input(_) | Expr::Composite => None,
        }
    }

    /// Whether `test` holds for this node or one below it.
    fn any(&self, test: &dyn Fn(&Expr) -> bool) -> bool {
        test(self)
            || match self {
                Expr::Constant(_) | Expr::Input(_) | Expr::Composite => false,
                Expr::Negate(a)
                | Expr::Unary(_, a)
                | Expr::PowerInt(a, _)
                | Expr::PowerReal(a, _) => a.any(test),
                Expr::Binary(_, a, b) => a.any(test) || b.any(test),
            }
    }
}

/// `xⁿ` by repeated squaring (and one division for `n < 0`): products alone, which a pack
/// of agents computes in vector instructions (a lane-wise `powi` is a library call per lane,
/// twice for a dual: the variance's ψ ran 1.3× slower that way).
#[inline(always)]
fn integer_power<S: Scalar>(x: S, n: i32) -> S {
    let (mut base, mut e) = (x, n.unsigned_abs());
    let mut power: Option<S> = None;
    while e > 0 {
        if e & 1 == 1 {
            power = Some(power.map_or(base, |p| p * base));
        }
        e >>= 1;
        if e > 0 {
            base = base * base;
        }
    }
    let power = power.unwrap_or(S::constant(1.0));
    if n < 0 {
        S::constant(1.0) / power
    } else {
        power
    }
}

/// [`integer_power`] of a tensor, in the same order of products: arithmetic alone, exact on
/// every backend and precision (a GPU's f64 `pow` is not).
fn integer_tensor_power<const D: usize>(t: Tensor<D>, n: i32) -> Tensor<D> {
    let (mut base, mut e) = (t, n.unsigned_abs());
    let mut power: Option<Tensor<D>> = None;
    while e > 0 {
        if e & 1 == 1 {
            power = Some(match power {
                None => base.clone(),
                Some(p) => p * base.clone(),
            });
        }
        e >>= 1;
        if e > 0 {
            base = base.clone() * base;
        }
    }
    let power = power.unwrap_or_else(|| base.ones_like());
    if n < 0 { power.recip() } else { power }
}

/// What the names of one expression may refer to.
#[derive(Clone, Copy, Debug)]
pub enum Scope<'a> {
    /// ψ: one agent's features, by name or index, and their sum `c`.
    Agent {
        /// The features' names, where given.
        names: Option<&'a [String]>,
        /// `d`, where known.
        features: Option<usize>,
    },
    /// ρ: the pooled means, by index or by their components' names.
    Means {
        /// Each component's name, where given.
        names: &'a [Option<String>],
        /// The features' names, where given (a message tells a misplaced one apart).
        features: Option<&'a [String]>,
    },
}

/// `prefix` followed by a decimal index (`x12`, `m0`), and the index.
pub fn indexed(name: &str, prefix: char) -> Option<usize> {
    let digits = name.strip_prefix(prefix)?;
    let plain = !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'));
    plain.then(|| digits.parse().ok()).flatten()
}

impl Scope<'_> {
    /// What `name` refers to.
    fn resolve(&self, name: &str) -> Result<Expr, String> {
        match *self {
            Scope::Agent { names, features } => {
                if name == "c" {
                    return Ok(Expr::Composite);
                }
                if let Some(k) = names.and_then(|n| n.iter().position(|f| f == name)) {
                    return Ok(Expr::Input(k));
                }
                if let Some(k) = indexed(name, 'x') {
                    return match features {
                        Some(d) if k >= d => Err(format!(
                            "'{name}': the input has d = {d} features, x0 to x{}",
                            d.saturating_sub(1)
                        )),
                        _ => Ok(Expr::Input(k)),
                    };
                }
                Err(format!("unknown name '{name}'; {}", self.knows()))
            }
            Scope::Means { names, features } => {
                if let Some(j) = names.iter().position(|n| n.as_deref() == Some(name)) {
                    return Ok(Expr::Input(j));
                }
                match indexed(name, 'm') {
                    Some(j) if j < names.len() => return Ok(Expr::Input(j)),
                    Some(_) => {
                        let why = format!("'{name}': psi has {} components", names.len());
                        return Err(format!("{why}; {}", self.knows()));
                    }
                    None => {}
                }
                let is_feature = features.is_some_and(|f| f.iter().any(|f| f == name));
                if is_feature || name == "c" || indexed(name, 'x').is_some() {
                    return Err(format!(
                        "'{name}' belongs to an agent, and rho sees only the population's means; \
                         pool it in psi and read its mean here ({})",
                        self.knows()
                    ));
                }
                Err(format!("unknown name '{name}'; {}", self.knows()))
            }
        }
    }

    /// The names this scope knows, for messages.
    fn knows(&self) -> String {
        match *self {
            Scope::Agent { names, features } => {
                let index = match features {
                    Some(1) => "x0".to_string(),
                    Some(d) => format!("x0 to x{}", d - 1),
                    None => "x0, x1, …".to_string(),
                };
                match names {
                    Some(n) => format!(
                        "psi reads the features {} (or {index}) and c, their sum",
                        n.join(", ")
                    ),
                    None => format!("psi reads the features {index} and c, their sum"),
                }
            }
            Scope::Means { names, .. } => {
                let means: Vec<String> = (names.iter().enumerate())
                    .map(|(j, n)| match n {
                        Some(n) => format!("m{j} ({n})"),
                        None => format!("m{j}"),
                    })
                    .collect();
                format!("rho reads the pooled means {}", means.join(", "))
            }
        }
    }
}

/// A compile failure: the byte offset it points at, and why.
#[derive(Clone, Debug, PartialEq)]
pub struct Refusal {
    /// Byte offset in the expression.
    pub at: usize,
    /// What is wrong.
    pub reason: String,
}

/// Compile a syntax tree in `scope`: names resolved, constant parts folded (and refused where
/// they are not finite), exponents required to be constants.
///
/// # Errors
/// A [`Refusal`] at the first name, call or constant that does not fit.
pub fn compile(syntax: &Syntax, scope: &Scope) -> Result<Expr, Refusal> {
    let refuse = |reason: String| Refusal {
        at: syntax.at,
        reason,
    };
    let expr = match &syntax.kind {
        SyntaxKind::Number(v) => Expr::Constant(*v),
        SyntaxKind::Name(name) if Function::named(name).is_some() => {
            return Err(refuse(format!("'{name}' is a function: write {name}(…)")));
        }
        SyntaxKind::Name(name) => scope.resolve(name).map_err(refuse)?,
        SyntaxKind::Negate(a) => Expr::Negate(Box::new(compile(a, scope)?)),
        SyntaxKind::Binary(Operator::Power, base, exponent) => {
            power(compile(base, scope)?, exponent, scope)?
        }
        SyntaxKind::Binary(op, a, b) => {
            let op = match op {
                Operator::Add => Binary::Add,
                Operator::Subtract => Binary::Subtract,
                Operator::Multiply => Binary::Multiply,
                _ => Binary::Divide,
            };
            let (a, b) = (compile(a, scope)?, compile(b, scope)?);
            if op == Binary::Divide && b == Expr::Constant(0.0) {
                return Err(refuse("division by the constant 0".into()));
            }
            Expr::Binary(op, Box::new(a), Box::new(b))
        }
        SyntaxKind::Call(name, arguments) => call(name, arguments, scope, syntax.at)?,
    };
    fold(expr).map_err(refuse)
}

/// `base ^ exponent`, the exponent a constant.
fn power(base: Expr, exponent: &Syntax, scope: &Scope) -> Result<Expr, Refusal> {
    let p = match compile(exponent, scope)? {
        Expr::Constant(p) => p,
        _ => {
            return Err(Refusal {
                at: exponent.at,
                reason: "the exponent must be a constant; for a variable exponent write \
                         exp(y * ln(x)) (x > 0)"
                    .into(),
            });
        }
    };
    let integer = p.fract() == 0.0 && p.abs() <= f64::from(i32::MAX);
    Ok(match (integer, p) {
        (true, 1.0) => base,
        (true, _) => Expr::PowerInt(Box::new(base), p as i32),
        (false, _) => Expr::PowerReal(Box::new(base), p),
    })
}

/// `name(arguments)`, the call at byte `at`.
fn call(name: &str, arguments: &[Syntax], scope: &Scope, at: usize) -> Result<Expr, Refusal> {
    let refuse = |reason: String| Refusal { at, reason };
    let Some(function) = Function::named(name) else {
        let why = match scope.resolve(name) {
            Ok(_) => format!("'{name}' is not a function"),
            Err(_) => format!("unknown function '{name}'"),
        };
        return Err(refuse(format!("{why}; functions: {}", Function::listed())));
    };
    let arity = function.arity();
    if arguments.len() != arity {
        let plural = if arity == 1 { "" } else { "s" };
        let got = arguments.len();
        return Err(refuse(format!(
            "{name} takes {arity} argument{plural}, got {got}"
        )));
    }
    let argument = |k: usize| compile(&arguments[k], scope).map(Box::new);
    match function {
        Function::Unary(f) => Ok(Expr::Unary(f, argument(0)?)),
        Function::Min => Ok(Expr::Binary(Binary::Min, argument(0)?, argument(1)?)),
        Function::Max => Ok(Expr::Binary(Binary::Max, argument(0)?, argument(1)?)),
        Function::Pow => power(*argument(0)?, &arguments[1], scope),
    }
}

/// `expr` with its value in place of it where it reads no input; refused where that value is
/// not finite.
fn fold(expr: Expr) -> Result<Expr, String> {
    let constant = |e: &Expr| matches!(e, Expr::Constant(_));
    let foldable = match &expr {
        Expr::Negate(a) | Expr::Unary(_, a) | Expr::PowerInt(a, _) | Expr::PowerReal(a, _) => {
            constant(a)
        }
        Expr::Binary(_, a, b) => constant(a) && constant(b),
        Expr::Constant(_) | Expr::Input(_) | Expr::Composite => false,
    };
    let value = match (&expr, foldable) {
        (Expr::PowerInt(_, 0), _) => 1.0,
        (Expr::Constant(v), _) => *v,
        (_, true) => expr.eval::<f64>(&[], 0.0),
        _ => return Ok(expr),
    };
    if value.is_finite() {
        Ok(Expr::Constant(value))
    } else {
        Err(format!(
            "this constant part evaluates to {value}; a formula's constants must be finite"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::indicators::formula::parse::parse;
    use crate::indicators::scalar::Dual;

    fn agent<'a>(names: &'a [String], d: usize) -> Scope<'a> {
        Scope::Agent {
            names: Some(names),
            features: Some(d),
        }
    }

    fn compiled(text: &str, scope: &Scope) -> Result<Expr, Refusal> {
        compile(&parse(text).unwrap(), scope)
    }

    #[test]
    fn names_resolve_and_constants_fold() {
        let names = ["wealth".to_string(), "income".to_string()];
        let scope = agent(&names, 2);
        assert_eq!(compiled("wealth", &scope).unwrap(), Expr::Input(0));
        assert_eq!(compiled("x1", &scope).unwrap(), Expr::Input(1));
        assert_eq!(compiled("c", &scope).unwrap(), Expr::Composite);
        assert_eq!(
            compiled("2 * ln(exp(3)) - 1", &scope).unwrap(),
            Expr::Constant(5.0)
        );
        assert_eq!(
            compiled("c ^ 2", &scope).unwrap(),
            Expr::PowerInt(Box::new(Expr::Composite), 2)
        );
        assert_eq!(compiled("c ^ 0", &scope).unwrap(), Expr::Constant(1.0));
        assert_eq!(compiled("pow(c, 1)", &scope).unwrap(), Expr::Composite);
        let means = [None, Some("poor".to_string())];
        let rho = Scope::Means {
            names: &means,
            features: Some(&names),
        };
        assert_eq!(compiled("poor", &rho).unwrap(), Expr::Input(1));
        assert_eq!(compiled("m0", &rho).unwrap(), Expr::Input(0));
    }

    #[test]
    fn refusals_name_the_problem_and_the_names_available() {
        let names = ["wealth".to_string()];
        let scope = agent(&names, 1);
        let means = [Some("poor".to_string())];
        let rho = Scope::Means {
            names: &means,
            features: Some(&names),
        };
        let cases: [(&str, &Scope, usize, &str); 10] = [
            (
                "1 + welth",
                &scope,
                4,
                "unknown name 'welth'; psi reads the features wealth (or x0) and c",
            ),
            ("x3", &scope, 0, "the input has d = 1 features"),
            ("ln(-1)", &scope, 0, "evaluates to NaN"),
            ("wealth / (1 - 1)", &scope, 7, "division by the constant 0"),
            ("c ^ wealth", &scope, 4, "the exponent must be a constant"),
            ("max(c)", &scope, 0, "max takes 2 arguments, got 1"),
            (
                "foo(c)",
                &scope,
                0,
                "unknown function 'foo'; functions: exp, ln",
            ),
            ("exp + 1", &scope, 0, "'exp' is a function"),
            ("wealth", &rho, 0, "'wealth' belongs to an agent"),
            (
                "m1",
                &rho,
                0,
                "psi has 1 components; rho reads the pooled means m0 (poor)",
            ),
        ];
        for (text, scope, at, needle) in cases {
            let r = compiled(text, scope).unwrap_err();
            assert!(r.reason.contains(needle), "{text}: {r:?}");
            assert_eq!(r.at, at, "{text}: {r:?}");
        }
    }

    #[test]
    fn indexed_names_are_plain_decimals() {
        assert_eq!(indexed("x0", 'x'), Some(0));
        assert_eq!(indexed("x12", 'x'), Some(12));
        assert_eq!(indexed("x01", 'x'), None);
        assert_eq!(indexed("x", 'x'), None);
        assert_eq!(indexed("xa", 'x'), None);
        assert_eq!(indexed("x99999999999999999999999", 'x'), None);
    }

    /// Every function and operator: the dual route's derivative equals central differences,
    /// away from the kinks.
    #[test]
    fn duals_differentiate_every_function() {
        let names = ["a".to_string(), "b".to_string()];
        let scope = agent(&names, 2);
        let text = "exp(a) * ln(b) + sqrt(b) - tanh(a * b) / sigmoid((1 - a) / 0.3) \
                    + softplus(-a / 0.1) + abs(a - b) ^ 3 + max(a, b) * min(a, 2 * b) \
                    + pow(b, 1.5) - c ^ -2 + log(a + b)";
        let expr = compiled(text, &scope).unwrap();
        let z = [0.7, 1.9];
        let duals: [Dual<f64, 2>; 2] = std::array::from_fn(|k| Dual::variable(z[k], k));
        let c = duals[0] + duals[1];
        let got = expr.eval(&duals, c);
        let value = |z: [f64; 2]| expr.eval(&z, z[0] + z[1]);
        assert_eq!(got.v, value(z));
        for k in 0..2 {
            let h = 1e-6;
            let (mut up, mut down) = (z, z);
            up[k] += h;
            down[k] -= h;
            let numeric = (value(up) - value(down)) / (2.0 * h);
            assert!(
                (got.d[k] - numeric).abs() < 1e-7 * numeric.abs().max(1.0),
                "∂{k}"
            );
        }
    }
}
