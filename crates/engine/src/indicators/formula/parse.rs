//! Expressions of a formula indicator: tokens, then a Pratt parser into a syntax tree whose
//! nodes remember where they start (for messages).
//!
//! ```text
//! expression := term (('+' | '-') term)*
//! term       := factor (('*' | '/') factor)*
//! factor     := ('-' | '+') factor | power
//! power      := atom (('^' | '**') factor)?          right-associative: 2^3^2 = 2^9
//! atom       := number | name | name '(' expression (',' expression)* ')' | '(' expression ')'
//! number     := digits ['.' digits] [('e' | 'E') ['+' | '-'] digits]   (or '.' digits …)
//! name       := [A-Za-z_][A-Za-z0-9_]*
//! ```
//!
//! `-x^2` is `-(x^2)`, as in mathematics. Input is limited in length and in nesting
//! ([`MAX_EXPRESSION_CHARS`], [`MAX_NESTING`]), so neither the parser nor the evaluators of the
//! tree can exhaust a stack.

/// Longest expression, in characters.
pub const MAX_EXPRESSION_CHARS: usize = 4096;

/// Deepest nesting of an expression: parentheses, calls and operators, each level one (a sum
/// of 100 terms nests 99 deep).
pub const MAX_NESTING: usize = 100;

/// A parse failure: where (a character column, from 1) and what was expected.
#[derive(Clone, Debug, PartialEq)]
pub struct Failure {
    /// Column of the offending character, from 1.
    pub column: usize,
    /// What is wrong, and what was expected.
    pub reason: String,
}

/// A node of the syntax tree, and where it is.
#[derive(Clone, Debug, PartialEq)]
pub struct Syntax {
    /// What the node is.
    pub kind: SyntaxKind,
    /// Byte offset in the expression of its first character, or of its operator for a binary
    /// operation (what a message about it points at).
    pub at: usize,
    /// Levels of the tree from here down (a leaf is 1).
    pub height: usize,
}

/// What a syntax node is.
#[derive(Clone, Debug, PartialEq)]
pub enum SyntaxKind {
    /// A number as written.
    Number(f64),
    /// A name: a feature, the composite, a pooled mean, or a misspelling of one.
    Name(String),
    /// `name(arguments)`.
    Call(String, Vec<Syntax>),
    /// `-operand`.
    Negate(Box<Syntax>),
    /// `left operator right`.
    Binary(Operator, Box<Syntax>, Box<Syntax>),
}

/// A binary operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operator {
    /// `+`.
    Add,
    /// `-`.
    Subtract,
    /// `*`.
    Multiply,
    /// `/`.
    Divide,
    /// `^` (or `**`).
    Power,
}

impl Operator {
    /// How it is written.
    pub fn symbol(self) -> &'static str {
        match self {
            Operator::Add => "+",
            Operator::Subtract => "-",
            Operator::Multiply => "*",
            Operator::Divide => "/",
            Operator::Power => "^",
        }
    }

    /// Binding power on the left and on the right: higher binds tighter; `^` binds its right
    /// side more loosely than its left, which makes it right-associative.
    fn binding(self) -> (u8, u8) {
        match self {
            Operator::Add | Operator::Subtract => (1, 2),
            Operator::Multiply | Operator::Divide => (3, 4),
            Operator::Power => (8, 7),
        }
    }
}

/// Binding power of a prefix `-` or `+`: looser than `^`, so `-x^2 = -(x^2)`.
const PREFIX_BINDING: u8 = 5;

/// A token and its byte offset.
#[derive(Clone, Debug, PartialEq)]
enum Token {
    Number(f64),
    Name(String),
    Operator(Operator),
    Open,
    Close,
    Comma,
    End,
}

impl Token {
    /// How a message names it.
    fn describe(&self) -> String {
        match self {
            Token::Number(v) => format!("number {v}"),
            Token::Name(n) => format!("'{n}'"),
            Token::Operator(op) => format!("'{}'", op.symbol()),
            Token::Open => "'('".into(),
            Token::Close => "')'".into(),
            Token::Comma => "','".into(),
            Token::End => "end of the expression".into(),
        }
    }
}

/// Parse one expression.
///
/// # Errors
/// A [`Failure`] at the first character that does not fit the grammar, at a number that is
/// not finite, or where the expression is too long or nests too deeply.
pub fn parse(text: &str) -> Result<Syntax, Failure> {
    let chars = text.chars().count();
    if chars > MAX_EXPRESSION_CHARS {
        return Err(Failure {
            column: MAX_EXPRESSION_CHARS + 1,
            reason: format!(
                "the expression is {chars} characters long; at most {MAX_EXPRESSION_CHARS}"
            ),
        });
    }
    if text.trim().is_empty() {
        return Err(Failure {
            column: 1,
            reason: "empty expression; expected a number, a name or '('".into(),
        });
    }
    let tokens = tokenize(text)?;
    let mut parser = Parser {
        text,
        tokens,
        next: 0,
        nesting: 0,
    };
    let tree = parser.expression(0)?;
    match parser.peek() {
        (Token::End, _) => Ok(tree),
        (token, at) => Err(parser.failure(
            at,
            format!(
                "unexpected {} after a complete expression; expected an operator (+ - * / ^)",
                token.describe()
            ),
        )),
    }
}

/// Column (in characters, from 1) of byte offset `at` in `text`.
pub fn column(text: &str, at: usize) -> usize {
    text.get(..at).map_or(at, |head| head.chars().count()) + 1
}

/// The tokens of `text` and their byte offsets, ending with [`Token::End`].
fn tokenize(text: &str) -> Result<Vec<(Token, usize)>, Failure> {
    let bytes = text.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let start = i;
        let token = match b {
            b' ' | b'\t' | b'\n' | b'\r' => {
                i += 1;
                continue;
            }
            b'0'..=b'9' | b'.' => {
                let (value, end) = number(text, start)?;
                i = end;
                Token::Number(value)
            }
            b'A'..=b'Z' | b'a'..=b'z' | b'_' => {
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                    i += 1;
                }
                tokens.push((Token::Name(text[start..i].to_string()), start));
                continue;
            }
            b'+' => Token::Operator(Operator::Add),
            b'-' => Token::Operator(Operator::Subtract),
            b'*' if bytes.get(i + 1) == Some(&b'*') => {
                i += 1;
                Token::Operator(Operator::Power)
            }
            b'*' => Token::Operator(Operator::Multiply),
            b'/' => Token::Operator(Operator::Divide),
            b'^' => Token::Operator(Operator::Power),
            b'(' => Token::Open,
            b')' => Token::Close,
            b',' => Token::Comma,
            _ => {
                let c = text[start..].chars().next().unwrap_or('?');
                return Err(Failure {
                    column: column(text, start),
                    reason: format!(
                        "unexpected character '{}'; expected a number, a name, an operator \
                         (+ - * / ^), a parenthesis or a comma",
                        c.escape_debug()
                    ),
                });
            }
        };
        if !matches!(token, Token::Number(_)) {
            i += 1;
        }
        tokens.push((token, start));
    }
    tokens.push((Token::End, text.len()));
    Ok(tokens)
}

/// The number starting at byte `start` of `text`, and the byte after it.
fn number(text: &str, start: usize) -> Result<(f64, usize), Failure> {
    let bytes = text.as_bytes();
    let digits = |mut i: usize| {
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        i
    };
    let mut end = digits(start);
    if bytes.get(end) == Some(&b'.') {
        end = digits(end + 1);
    }
    if matches!(bytes.get(end), Some(b'e' | b'E')) {
        let mut e = end + 1;
        if matches!(bytes.get(e), Some(b'+' | b'-')) {
            e += 1;
        }
        let exponent_end = digits(e);
        if exponent_end > e {
            end = exponent_end;
        }
    }
    let written = &text[start..end];
    let failure = |reason: String| Failure {
        column: column(text, start),
        reason,
    };
    let value: f64 = written
        .parse()
        .map_err(|_| failure(format!("'{written}' is not a number")))?;
    if !value.is_finite() {
        return Err(failure(format!(
            "the number {written} is beyond the range of f64 (±1.8e308)"
        )));
    }
    Ok((value, end))
}

/// A cursor over the tokens.
struct Parser<'a> {
    text: &'a str,
    tokens: Vec<(Token, usize)>,
    next: usize,
    /// Levels of recursion now.
    nesting: usize,
}

impl Parser<'_> {
    fn peek(&self) -> (Token, usize) {
        self.tokens[self.next.min(self.tokens.len() - 1)].clone()
    }

    fn advance(&mut self) -> (Token, usize) {
        let token = self.peek();
        self.next += 1;
        token
    }

    fn failure(&self, at: usize, reason: String) -> Failure {
        Failure {
            column: column(self.text, at),
            reason,
        }
    }

    /// A node of `kind` at `at` above children of at most `below` levels, refused past
    /// [`MAX_NESTING`] levels.
    fn node(&self, kind: SyntaxKind, at: usize, below: usize) -> Result<Syntax, Failure> {
        let height = below + 1;
        if height > MAX_NESTING {
            return Err(self.too_deep(at));
        }
        Ok(Syntax { kind, at, height })
    }

    fn too_deep(&self, at: usize) -> Failure {
        self.failure(
            at,
            format!("the expression nests more than {MAX_NESTING} levels deep; simplify it"),
        )
    }

    /// An expression whose operators bind tighter than `min_binding`.
    fn expression(&mut self, min_binding: u8) -> Result<Syntax, Failure> {
        self.nesting += 1;
        if self.nesting > MAX_NESTING {
            let at = self.peek().1;
            return Err(self.too_deep(at));
        }
        let mut left = self.prefix()?;
        loop {
            let (token, at) = self.peek();
            let op = match token {
                Token::Operator(op) => op,
                _ => break,
            };
            let (left_binding, right_binding) = op.binding();
            if left_binding < min_binding {
                break;
            }
            self.advance();
            let right = self.expression(right_binding)?;
            let below = left.height.max(right.height);
            let kind = SyntaxKind::Binary(op, Box::new(left), Box::new(right));
            left = self.node(kind, at, below)?;
        }
        self.nesting -= 1;
        Ok(left)
    }

    /// A number, a name, a call, a parenthesised expression or a signed operand.
    fn prefix(&mut self) -> Result<Syntax, Failure> {
        let (token, at) = self.advance();
        match token {
            Token::Number(v) => self.node(SyntaxKind::Number(v), at, 0),
            Token::Name(name) if self.peek().0 == Token::Open => self.call(name, at),
            Token::Name(name) => self.node(SyntaxKind::Name(name), at, 0),
            Token::Operator(Operator::Subtract) => {
                let operand = self.expression(PREFIX_BINDING)?;
                let below = operand.height;
                self.node(SyntaxKind::Negate(Box::new(operand)), at, below)
            }
            Token::Operator(Operator::Add) => self.expression(PREFIX_BINDING),
            Token::Open => {
                let inner = self.expression(0)?;
                self.expect_close(at)?;
                Ok(inner)
            }
            other => Err(self.failure(
                at,
                format!(
                    "unexpected {}; expected a number, a name, '(' or a sign",
                    other.describe()
                ),
            )),
        }
    }

    /// `name(arguments)`, the name read; the next token is `(`.
    fn call(&mut self, name: String, at: usize) -> Result<Syntax, Failure> {
        let (_, open) = self.advance();
        let mut arguments = Vec::new();
        loop {
            arguments.push(self.expression(0)?);
            match self.peek() {
                (Token::Comma, _) => {
                    self.advance();
                }
                _ => break,
            }
        }
        self.expect_close(open)?;
        let below = arguments.iter().map(|a| a.height).max().unwrap_or(0);
        self.node(SyntaxKind::Call(name, arguments), at, below)
    }

    /// The `)` closing the `(` at `open`.
    fn expect_close(&mut self, open: usize) -> Result<(), Failure> {
        match self.advance() {
            (Token::Close, _) => Ok(()),
            (token, at) => Err(self.failure(
                at,
                format!(
                    "expected ')' to close the '(' at column {}, found {}",
                    column(self.text, open),
                    token.describe()
                ),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tree written back with every operation in parentheses.
    fn show(s: &Syntax) -> String {
        match &s.kind {
            SyntaxKind::Number(v) => format!("{v}"),
            SyntaxKind::Name(n) => n.clone(),
            SyntaxKind::Call(f, args) => {
                let args: Vec<String> = args.iter().map(show).collect();
                format!("{f}({})", args.join(", "))
            }
            SyntaxKind::Negate(x) => format!("(-{})", show(x)),
            SyntaxKind::Binary(op, l, r) => format!("({} {} {})", show(l), op.symbol(), show(r)),
        }
    }

    #[test]
    fn precedence_and_associativity_are_mathematics() {
        let cases = [
            ("1 + 2 * 3", "(1 + (2 * 3))"),
            ("1 - 2 - 3", "((1 - 2) - 3)"),
            ("8 / 4 / 2", "((8 / 4) / 2)"),
            ("2 ^ 3 ^ 2", "(2 ^ (3 ^ 2))"),
            ("2 ** 3", "(2 ^ 3)"),
            ("-x ^ 2", "(-(x ^ 2))"),
            ("x ^ -2", "(x ^ (-2))"),
            ("-x * y", "((-x) * y)"),
            ("+x", "x"),
            (
                "sigmoid((1 - wealth) / 0.05)",
                "sigmoid(((1 - wealth) / 0.05))",
            ),
            ("max(a, b) + pow(c, 2)", "(max(a, b) + pow(c, 2))"),
            ("1.5e-3 * .5 + 2.", "((0.0015 * 0.5) + 2)"),
        ];
        for (text, want) in cases {
            assert_eq!(show(&parse(text).unwrap()), want, "{text}");
        }
    }

    #[test]
    fn failures_say_where_and_what_was_expected() {
        let cases = [
            ("x +", 4, "unexpected end of the expression"),
            ("(x + 1", 7, "expected ')' to close the '(' at column 1"),
            ("x $ 2", 3, "unexpected character '$'"),
            ("x y", 3, "unexpected 'y' after a complete expression"),
            ("1e999", 1, "beyond the range of f64"),
            ("", 1, "empty expression"),
            ("f(x,)", 5, "unexpected ')'"),
            ("2 = 3", 3, "unexpected character '='"),
        ];
        for (text, column, needle) in cases {
            let f = parse(text).unwrap_err();
            assert_eq!(f.column, column, "{text}: {f:?}");
            assert!(f.reason.contains(needle), "{text}: {f:?}");
        }
    }

    #[test]
    fn long_and_deep_input_is_refused_without_exhausting_the_stack() {
        let deep = format!("{}x{}", "(".repeat(100_000), ")".repeat(100_000));
        assert!(parse(&deep).unwrap_err().reason.contains("characters long"));
        let deep = format!("{}x{}", "(".repeat(1000), ")".repeat(1000));
        assert!(parse(&deep).unwrap_err().reason.contains("nests more than"));
        let long_sum = vec!["x"; 500].join(" + ");
        assert!(
            parse(&long_sum)
                .unwrap_err()
                .reason
                .contains("nests more than")
        );
        let minus = format!("{}x", "-".repeat(1000));
        assert!(
            parse(&minus)
                .unwrap_err()
                .reason
                .contains("nests more than")
        );
        let ok = vec!["x"; 90].join(" + ");
        assert_eq!(parse(&ok).unwrap().height, 90);
    }
}
