//! Recursive-descent parser of Python's expression grammar (precedence as in the Python
//! reference), restricted to what simpleeval evaluates and tap-airbyte supports: anything else is
//! an [`ExprError`] naming the construct and its column.
use super::ast::{BinOp, CmpOp, Elt, FPart, Generator, Index, Node, Target, UnOp};
use super::lex::{error, tokenize, Tok, Token};
use super::value::{Builtin, Py};
use super::ExprError;

/// Python's keywords: never names.
const KEYWORDS: [&str; 35] = [
    "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue",
    "def", "del", "elif", "else", "except", "finally", "for", "from", "global", "if", "import",
    "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return", "try", "while",
    "with", "yield",
];

/// simpleeval's forbidden attributes (`DISALLOW_METHODS`); names starting `_` or `func_` too.
const DISALLOWED_ATTRIBUTES: [&str; 8] = [
    "format",
    "format_map",
    "mro",
    "tb_frame",
    "gi_frame",
    "ag_frame",
    "cr_frame",
    "exec",
];

pub(crate) fn parse_expression(src: &str) -> Result<Node, ExprError> {
    let tokens = tokenize(src)?;
    let mut parser = Parser { tokens, pos: 0 };
    if parser.peek() == &Tok::End {
        return Err(error(1, "empty expression"));
    }
    let node = parser.expr_list()?;
    parser.expect_end()?;
    Ok(node)
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
}

type PResult = Result<Node, ExprError>;
/// A call's positional and keyword arguments.
type CallArgs = (Vec<Node>, Vec<(String, Node)>);

impl Parser {
    fn peek(&self) -> &Tok {
        &self.tokens[self.pos].tok
    }

    fn peek_at(&self, ahead: usize) -> &Tok {
        let i = (self.pos + ahead).min(self.tokens.len() - 1);
        &self.tokens[i].tok
    }

    fn col(&self) -> usize {
        self.tokens[self.pos].col
    }

    fn advance(&mut self) -> Tok {
        let tok = self.tokens[self.pos].tok.clone();
        if self.pos < self.tokens.len() - 1 {
            self.pos += 1;
        }
        tok
    }

    fn is_op(&self, op: &str) -> bool {
        matches!(self.peek(), Tok::Op(o) if *o == op)
    }

    fn is_kw(&self, kw: &str) -> bool {
        matches!(self.peek(), Tok::Name(n) if n == kw)
    }

    fn eat_op(&mut self, op: &str) -> bool {
        let found = self.is_op(op);
        if found {
            self.advance();
        }
        found
    }

    fn eat_kw(&mut self, kw: &str) -> bool {
        let found = self.is_kw(kw);
        if found {
            self.advance();
        }
        found
    }

    fn expect_op(&mut self, op: &str) -> Result<(), ExprError> {
        if self.eat_op(op) {
            Ok(())
        } else {
            Err(self.unexpected(&format!("'{op}'")))
        }
    }

    fn unexpected(&self, wanted: &str) -> ExprError {
        let found = match self.peek() {
            Tok::End => "the end of the expression".to_string(),
            Tok::Op(op) => format!("'{op}'"),
            Tok::Name(n) => format!("'{n}'"),
            Tok::Int(_) | Tok::Float(_) => "a number".to_string(),
            Tok::Str { .. } => "a string".to_string(),
        };
        error(self.col(), format!("expected {wanted}, found {found}"))
    }

    fn expect_end(&mut self) -> Result<(), ExprError> {
        let col = self.col();
        match self.peek() {
            Tok::End => Ok(()),
            Tok::Op("=") => Err(error(col, "assignments are not supported")),
            Tok::Op(op) if op.ends_with('=') && !["==", "!=", "<=", ">="].contains(op) => {
                Err(error(col, format!("assignments ({op}) are not supported")))
            }
            _ => Err(self.unexpected("the end of the expression")),
        }
    }

    /// `a, b, c` (a tuple) or one expression.
    fn expr_list(&mut self) -> PResult {
        let first = self.expression()?;
        if !self.is_op(",") {
            return Ok(first);
        }
        let mut items = vec![first];
        while self.eat_op(",") {
            if self.at_expression_end() {
                break;
            }
            items.push(self.expression()?);
        }
        Ok(Node::Tuple(items))
    }

    fn at_expression_end(&self) -> bool {
        matches!(self.peek(), Tok::End | Tok::Op(")" | "]" | "}" | "=" | ":"))
    }

    /// `body if test else orelse`, or a `disjunction`; refuses lambda and `:=`.
    fn expression(&mut self) -> PResult {
        if self.is_kw("lambda") {
            return Err(error(self.col(), "lambda expressions are not supported"));
        }
        if self.is_kw("yield") || self.is_kw("await") {
            return Err(error(self.col(), "yield and await are not supported"));
        }
        if self.is_op("*") {
            return Err(error(
                self.col(),
                "starred expressions are not supported here",
            ));
        }
        let body = self.disjunction()?;
        if self.is_op(":=") {
            return Err(error(
                self.col(),
                "assignment expressions (:=) are not supported",
            ));
        }
        if !self.eat_kw("if") {
            return Ok(body);
        }
        let test = self.disjunction()?;
        if !self.eat_kw("else") {
            return Err(self.unexpected("'else'"));
        }
        let orelse = self.expression()?;
        Ok(Node::IfExp(
            Box::new(test),
            Box::new(body),
            Box::new(orelse),
        ))
    }

    fn disjunction(&mut self) -> PResult {
        let first = self.conjunction()?;
        if !self.is_kw("or") {
            return Ok(first);
        }
        let mut values = vec![first];
        while self.eat_kw("or") {
            values.push(self.conjunction()?);
        }
        Ok(Node::Or(values))
    }

    fn conjunction(&mut self) -> PResult {
        let first = self.inversion()?;
        if !self.is_kw("and") {
            return Ok(first);
        }
        let mut values = vec![first];
        while self.eat_kw("and") {
            values.push(self.inversion()?);
        }
        Ok(Node::And(values))
    }

    fn inversion(&mut self) -> PResult {
        if self.eat_kw("not") {
            let operand = self.inversion()?;
            return Ok(Node::Unary(UnOp::Not, Box::new(operand)));
        }
        self.comparison()
    }

    fn comparison(&mut self) -> PResult {
        let left = self.bitor()?;
        let mut ops = Vec::new();
        while let Some(op) = self.compare_op() {
            ops.push((op, self.bitor()?));
        }
        if ops.is_empty() {
            Ok(left)
        } else {
            Ok(Node::Compare(Box::new(left), ops))
        }
    }

    fn compare_op(&mut self) -> Option<CmpOp> {
        let op = match self.peek() {
            Tok::Op("==") => CmpOp::Eq,
            Tok::Op("!=") => CmpOp::NotEq,
            Tok::Op("<") => CmpOp::Lt,
            Tok::Op("<=") => CmpOp::LtE,
            Tok::Op(">") => CmpOp::Gt,
            Tok::Op(">=") => CmpOp::GtE,
            Tok::Name(n) if n == "in" => CmpOp::In,
            Tok::Name(n) if n == "not" && matches!(self.peek_at(1), Tok::Name(m) if m == "in") => {
                self.advance();
                CmpOp::NotIn
            }
            Tok::Name(n) if n == "is" => {
                self.advance();
                return Some(if self.eat_kw("not") {
                    CmpOp::IsNot
                } else {
                    CmpOp::Is
                });
            }
            _ => return None,
        };
        self.advance();
        Some(op)
    }

    /// One left-associative binary level: `next (op next)*`.
    fn binary(&mut self, ops: &[(&str, BinOp)], next: fn(&mut Self) -> PResult) -> PResult {
        let mut left = next(self)?;
        'outer: loop {
            for (text, op) in ops {
                if self.is_op(text) {
                    self.advance();
                    let right = next(self)?;
                    left = Node::Bin(*op, Box::new(left), Box::new(right));
                    continue 'outer;
                }
            }
            if self.is_op("@") {
                return Err(error(self.col(), "the @ operator is not supported"));
            }
            return Ok(left);
        }
    }

    fn bitor(&mut self) -> PResult {
        self.binary(&[("|", BinOp::BitOr)], Self::bitxor)
    }

    fn bitxor(&mut self) -> PResult {
        self.binary(&[("^", BinOp::BitXor)], Self::bitand)
    }

    fn bitand(&mut self) -> PResult {
        self.binary(&[("&", BinOp::BitAnd)], Self::shift)
    }

    fn shift(&mut self) -> PResult {
        self.binary(&[("<<", BinOp::LShift), (">>", BinOp::RShift)], Self::sum)
    }

    fn sum(&mut self) -> PResult {
        self.binary(&[("+", BinOp::Add), ("-", BinOp::Sub)], Self::term)
    }

    fn term(&mut self) -> PResult {
        self.binary(
            &[
                ("*", BinOp::Mul),
                ("//", BinOp::FloorDiv),
                ("/", BinOp::Div),
                ("%", BinOp::Mod),
            ],
            Self::factor,
        )
    }

    fn factor(&mut self) -> PResult {
        let op = match self.peek() {
            Tok::Op("-") => UnOp::Neg,
            Tok::Op("+") => UnOp::Pos,
            Tok::Op("~") => UnOp::Invert,
            _ => return self.power(),
        };
        self.advance();
        let operand = self.factor()?;
        Ok(Node::Unary(op, Box::new(operand)))
    }

    fn power(&mut self) -> PResult {
        let base = self.primary()?;
        if self.eat_op("**") {
            let exponent = self.factor()?;
            return Ok(Node::Bin(BinOp::Pow, Box::new(base), Box::new(exponent)));
        }
        Ok(base)
    }

    /// An atom and its trailers: `.name`, `(args)`, `[index]`.
    fn primary(&mut self) -> PResult {
        let mut node = self.atom()?;
        loop {
            let col = self.col();
            if self.eat_op(".") {
                let Tok::Name(name) = self.advance() else {
                    return Err(error(col + 1, "expected an attribute name after '.'"));
                };
                check_attribute(&name, col + 1)?;
                node = Node::Attr(Box::new(node), name);
            } else if self.eat_op("(") {
                check_callable(&node, col)?;
                let (args, kwargs) = self.call_args()?;
                node = Node::Call {
                    func: Box::new(node),
                    args,
                    kwargs,
                };
            } else if self.eat_op("[") {
                let index = self.subscript()?;
                self.expect_op("]")?;
                node = Node::Subscript(Box::new(node), Box::new(index));
            } else {
                return Ok(node);
            }
        }
    }

    fn call_args(&mut self) -> Result<CallArgs, ExprError> {
        let mut args = Vec::new();
        let mut kwargs = Vec::new();
        while !self.eat_op(")") {
            let col = self.col();
            if self.is_op("*") || self.is_op("**") {
                return Err(error(col, "*args and **kwargs in calls are not supported"));
            }
            let keyword = matches!(self.peek(), Tok::Name(_)) && self.peek_at(1) == &Tok::Op("=");
            if keyword {
                let Tok::Name(name) = self.advance() else {
                    unreachable!("checked a name")
                };
                self.advance();
                kwargs.push((name, self.expression()?));
            } else if !kwargs.is_empty() {
                return Err(error(col, "positional argument follows keyword argument"));
            } else {
                let arg = self.expression()?;
                if self.is_kw("for") {
                    let generators = self.generators()?;
                    args.push(Node::Comp {
                        elt: Box::new(arg),
                        value: None,
                        generators,
                    });
                } else {
                    args.push(arg);
                }
            }
            if !self.eat_op(",") {
                self.expect_op(")")?;
                break;
            }
        }
        Ok((args, kwargs))
    }

    fn subscript(&mut self) -> Result<Index, ExprError> {
        let first = self.slice_or_item()?;
        if !self.is_op(",") {
            return Ok(first);
        }
        let mut items = vec![first];
        while self.eat_op(",") {
            if self.is_op("]") {
                break;
            }
            items.push(self.slice_or_item()?);
        }
        let mut nodes = Vec::new();
        for item in items {
            match item {
                Index::Item(node) => nodes.push(node),
                Index::Slice(..) => {
                    return Err(error(self.col(), "extended slices are not supported"))
                }
            }
        }
        Ok(Index::Item(Node::Tuple(nodes)))
    }

    fn slice_or_item(&mut self) -> Result<Index, ExprError> {
        let bound = |p: &mut Self| -> Result<Option<Node>, ExprError> {
            if p.is_op(":") || p.is_op("]") || p.is_op(",") {
                Ok(None)
            } else {
                p.expression().map(Some)
            }
        };
        let lower = bound(self)?;
        if !self.eat_op(":") {
            return lower
                .map(Index::Item)
                .ok_or_else(|| self.unexpected("an index"));
        }
        let upper = bound(self)?;
        let step = if self.eat_op(":") { bound(self)? } else { None };
        Ok(Index::Slice(lower, upper, step))
    }

    fn atom(&mut self) -> PResult {
        let col = self.col();
        match self.advance() {
            Tok::Int(i) => Ok(Node::Const(Py::Int(i))),
            Tok::Float(f) => Ok(Node::Const(Py::Float(f))),
            Tok::Str { text, fstring } => self.strings(text, fstring, col),
            Tok::Name(name) => match name.as_str() {
                "True" => Ok(Node::Const(Py::Bool(true))),
                "False" => Ok(Node::Const(Py::Bool(false))),
                "None" => Ok(Node::Const(Py::None)),
                "lambda" => Err(error(col, "lambda expressions are not supported")),
                "yield" | "await" => Err(error(col, "yield and await are not supported")),
                _ if KEYWORDS.contains(&name.as_str()) => {
                    Err(error(col, format!("unexpected keyword '{name}'")))
                }
                _ => Ok(Node::Name(name)),
            },
            Tok::Op("(") => self.paren(),
            Tok::Op("[") => self.list(),
            Tok::Op("{") => self.brace(col),
            Tok::Op("...") => Err(error(col, "Ellipsis (...) is not supported")),
            Tok::End => Err(error(col, "unexpected end of the expression")),
            Tok::Op(op) => Err(error(col, format!("unexpected '{op}'"))),
        }
    }

    /// Adjacent string literals concatenate; with an f-string among them the result is one.
    fn strings(&mut self, text: String, fstring: bool, col: usize) -> PResult {
        let mut parts = Vec::new();
        let mut any_f = fstring;
        push_string(&mut parts, text, fstring, col)?;
        while let Tok::Str { .. } = self.peek() {
            let col = self.col();
            let Tok::Str { text, fstring } = self.advance() else {
                unreachable!("checked a string")
            };
            any_f |= fstring;
            push_string(&mut parts, text, fstring, col)?;
        }
        if !any_f {
            let text = parts
                .into_iter()
                .map(|p| match p {
                    FPart::Text(t) => t,
                    FPart::Value(_) => unreachable!("plain strings have no values"),
                })
                .collect();
            return Ok(Node::Const(Py::Str(text)));
        }
        Ok(Node::FString(parts))
    }

    fn paren(&mut self) -> PResult {
        if self.eat_op(")") {
            return Ok(Node::Tuple(Vec::new()));
        }
        let first = self.expression()?;
        if self.is_kw("for") {
            let generators = self.generators()?;
            self.expect_op(")")?;
            return Ok(Node::Comp {
                elt: Box::new(first),
                value: None,
                generators,
            });
        }
        if self.eat_op(")") {
            return Ok(first);
        }
        let mut items = vec![first];
        while self.eat_op(",") {
            if self.is_op(")") {
                break;
            }
            items.push(self.expression()?);
        }
        self.expect_op(")")?;
        Ok(Node::Tuple(items))
    }

    fn list_elt(&mut self) -> Result<Elt, ExprError> {
        if self.eat_op("*") {
            return Ok(Elt::Spread(self.bitor()?));
        }
        Ok(Elt::One(self.expression()?))
    }

    fn list(&mut self) -> PResult {
        if self.eat_op("]") {
            return Ok(Node::List(Vec::new()));
        }
        let first = self.list_elt()?;
        if self.is_kw("for") {
            let Elt::One(elt) = first else {
                return Err(error(self.col(), "iterable unpacking in a comprehension"));
            };
            let generators = self.generators()?;
            self.expect_op("]")?;
            return Ok(Node::Comp {
                elt: Box::new(elt),
                value: None,
                generators,
            });
        }
        let mut items = vec![first];
        while self.eat_op(",") {
            if self.is_op("]") {
                break;
            }
            items.push(self.list_elt()?);
        }
        self.expect_op("]")?;
        Ok(Node::List(items))
    }

    /// `{}` / `{k: v, **d}` / `{k: v for ...}` / `{a, b}`; set comprehensions are refused
    /// (simpleeval has none).
    fn brace(&mut self, col: usize) -> PResult {
        if self.eat_op("}") {
            return Ok(Node::Dict(Vec::new()));
        }
        let first_key = if self.eat_op("**") {
            None
        } else {
            Some(self.expression()?)
        };
        let is_dict = first_key.is_none() || self.is_op(":");
        if !is_dict {
            let first = first_key.expect("a set element");
            if self.is_kw("for") {
                return Err(error(
                    col,
                    "set comprehensions are not available in simpleeval",
                ));
            }
            let mut items = vec![first];
            while self.eat_op(",") {
                if self.is_op("}") {
                    break;
                }
                items.push(self.expression()?);
            }
            self.expect_op("}")?;
            return Ok(Node::Set(items));
        }
        let first_value = self.dict_value(first_key.is_some())?;
        if let (Some(key), true) = (&first_key, self.is_kw("for")) {
            let generators = self.generators()?;
            self.expect_op("}")?;
            return Ok(Node::Comp {
                elt: Box::new(key.clone()),
                value: Some(Box::new(first_value)),
                generators,
            });
        }
        let mut items = vec![(first_key, first_value)];
        while self.eat_op(",") {
            if self.is_op("}") {
                break;
            }
            if self.eat_op("**") {
                items.push((None, self.bitor()?));
            } else {
                let key = self.expression()?;
                items.push((Some(key), self.dict_value(true)?));
            }
        }
        self.expect_op("}")?;
        Ok(Node::Dict(items))
    }

    fn dict_value(&mut self, keyed: bool) -> PResult {
        if keyed {
            self.expect_op(":")?;
            self.expression()
        } else {
            self.bitor()
        }
    }

    /// `for target in iter [if cond]...`, one or more.
    fn generators(&mut self) -> Result<Vec<Generator>, ExprError> {
        let mut generators = Vec::new();
        while self.eat_kw("for") {
            let target = self.target_list()?;
            if !self.eat_kw("in") {
                return Err(self.unexpected("'in'"));
            }
            let iter = self.disjunction()?;
            let mut ifs = Vec::new();
            while self.eat_kw("if") {
                ifs.push(self.disjunction()?);
            }
            generators.push(Generator { target, iter, ifs });
        }
        if self.is_kw("async") {
            return Err(error(self.col(), "async comprehensions are not supported"));
        }
        Ok(generators)
    }

    fn target_list(&mut self) -> Result<Target, ExprError> {
        let first = self.target()?;
        if !self.is_op(",") {
            return Ok(first);
        }
        let mut items = vec![first];
        while self.eat_op(",") {
            if self.is_kw("in") {
                break;
            }
            items.push(self.target()?);
        }
        Ok(Target::Tuple(items))
    }

    fn target(&mut self) -> Result<Target, ExprError> {
        let col = self.col();
        match self.advance() {
            Tok::Name(n) if !KEYWORDS.contains(&n.as_str()) => Ok(Target::Name(n)),
            Tok::Op(open @ ("(" | "[")) => {
                let close = if open == "(" { ")" } else { "]" };
                let inner = self.target_list()?;
                self.expect_op(close)?;
                Ok(inner)
            }
            _ => Err(error(col, "a comprehension target must be names")),
        }
    }
}

fn push_string(
    parts: &mut Vec<FPart>,
    text: String,
    fstring: bool,
    col: usize,
) -> Result<(), ExprError> {
    if fstring {
        parts.extend(fstring_parts(&text, col)?);
    } else {
        parts.push(FPart::Text(text));
    }
    Ok(())
}

/// The parts of an f-string's text: `{{`/`}}` are braces, `{expr}` (with `!r`/`!s`/`!a`, which
/// simpleeval ignores) is a value; format specs are refused.
fn fstring_parts(text: &str, col: usize) -> Result<Vec<FPart>, ExprError> {
    let chars: Vec<char> = text.chars().collect();
    let mut parts = Vec::new();
    let mut literal = String::new();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '{' if chars.get(i + 1) == Some(&'{') => {
                literal.push('{');
                i += 2;
            }
            '}' if chars.get(i + 1) == Some(&'}') => {
                literal.push('}');
                i += 2;
            }
            '}' => return Err(error(col, "f-string: single '}' is not allowed")),
            '{' => {
                let end = fstring_field_end(&chars, i + 1)
                    .ok_or_else(|| error(col, "f-string: expecting '}'"))?;
                let inner: String = chars[i + 1..end].iter().collect();
                let tail = chars[end];
                let mut close = end;
                if tail == '!' {
                    match (chars.get(end + 1), chars.get(end + 2)) {
                        (Some('r' | 's' | 'a'), Some('}')) => close = end + 2,
                        _ => return Err(error(col, "f-string: invalid conversion")),
                    }
                } else if tail == ':' {
                    return Err(error(col, "f-string format specs are not supported"));
                }
                if inner.trim_end().ends_with('=') && !inner.trim_end().ends_with("==") {
                    return Err(error(col, "f-string '=' specifiers are not supported"));
                }
                let node = parse_expression(inner.trim())
                    .map_err(|e| error(col + e.column, format!("in an f-string: {}", e.message)))?;
                if !literal.is_empty() {
                    parts.push(FPart::Text(std::mem::take(&mut literal)));
                }
                parts.push(FPart::Value(node));
                i = close + 1;
            }
            c => {
                literal.push(c);
                i += 1;
            }
        }
    }
    if !literal.is_empty() {
        parts.push(FPart::Text(literal));
    }
    Ok(parts)
}

/// Where a `{...}` field's expression ends: the `}`, `!` (not `!=`) or `:` outside brackets and
/// strings.
fn fstring_field_end(chars: &[char], start: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    for (i, &c) in chars.iter().enumerate().skip(start) {
        if let Some(q) = quote {
            if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '\'' | '"' => quote = Some(c),
            '(' | '[' | '{' => depth += 1,
            ')' | ']' if depth > 0 => depth -= 1,
            '}' if depth > 0 => depth -= 1,
            '}' => return Some(i),
            '!' if depth == 0 && chars.get(i + 1) != Some(&'=') => return Some(i),
            ':' if depth == 0 => return Some(i),
            _ => {}
        }
    }
    None
}

fn check_attribute(name: &str, col: usize) -> Result<(), ExprError> {
    if name.starts_with('_') || name.starts_with("func_") {
        return Err(error(
            col,
            format!("attributes starting with '_' or 'func_' are not allowed (.{name})"),
        ));
    }
    if DISALLOWED_ATTRIBUTES.contains(&name) {
        return Err(error(col, format!("the method .{name}() is not allowed")));
    }
    Ok(())
}

/// simpleeval calls only names of its `functions` and attributes; tap-airbyte evaluates the
/// functions and methods it knows.
fn check_callable(func: &Node, col: usize) -> Result<(), ExprError> {
    match func {
        Node::Name(name) if Builtin::by_name(name).is_some() => Ok(()),
        Node::Name(name) if name == "rand" || name == "randint" => Err(error(
            col,
            format!("{name}() is not supported (random numbers)"),
        )),
        Node::Name(name) => Err(error(
            col,
            format!(
                "function {name}() is not defined in stream maps (functions: int, float, str, \
                 bool, list, tuple, dict, set, md5, sha256, json.dumps, json.loads)"
            ),
        )),
        Node::Attr(_, method) if super::builtins::is_method(method) => Ok(()),
        Node::Attr(_, method) => Err(error(
            col,
            format!("the method .{method}() is not supported"),
        )),
        _ => Err(error(
            col,
            "only functions and methods can be called (lambda functions are not implemented)",
        )),
    }
}
