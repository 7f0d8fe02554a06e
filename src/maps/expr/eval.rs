//! The evaluator: simpleeval's `EvalWithCompoundTypes` as the Singer SDK configures it (names,
//! functions, comprehension scopes and limits).
use super::ast::{CmpOp, Elt, FPart, Generator, Index, Node, Target};
use super::builtins::{call, dict_from, get_attribute, iterate, make_set};
use super::ops::{binary, contains, unary, MAX_STRING_LENGTH};
use super::value::{
    check_hashable, err, from_json, from_json_map, py_eq, py_order, py_str, type_error,
    unsupported, Builtin, Dict, Py,
};
use super::{Context, EvalError};

/// simpleeval's `MAX_COMPREHENSION_LENGTH`: items all comprehensions of one evaluation may visit.
const MAX_COMPREHENSION_LENGTH: usize = 10_000;

pub(crate) struct Evaluator<'c, 'a> {
    ctx: &'c Context<'a>,
    src: &'c str,
    /// Comprehension variables, innermost last.
    locals: Vec<(String, Py)>,
    visited: usize,
    /// `__alias__` as the SDK evaluates it (`PluginMapper._eval_stream`): the only name is
    /// `__stream_name__`, besides the functions.
    alias_only: bool,
}

impl<'c, 'a> Evaluator<'c, 'a> {
    pub(crate) fn new(ctx: &'c Context<'a>, src: &'c str) -> Self {
        Evaluator {
            ctx,
            src,
            locals: Vec::new(),
            visited: 0,
            alias_only: false,
        }
    }

    /// An evaluator for `__alias__`: names other than `__stream_name__` and the functions are
    /// not defined.
    pub(crate) fn for_alias(ctx: &'c Context<'a>, src: &'c str) -> Self {
        Evaluator {
            alias_only: true,
            ..Evaluator::new(ctx, src)
        }
    }

    pub(crate) fn eval(&mut self, node: &Node) -> Result<Py, EvalError> {
        match node {
            Node::Const(Py::Str(s)) if s.chars().count() > MAX_STRING_LENGTH => Err(err(
                "IterableTooLong",
                "String Literal in statement is too long!",
            )),
            Node::Const(value) => Ok(value.clone()),
            Node::Name(name) => self.name(name),
            Node::FString(parts) => self.fstring(parts),
            Node::List(elts) => self.list(elts),
            Node::Tuple(items) => Ok(Py::Tuple(self.all(items)?)),
            Node::Set(items) => make_set(self.all(items)?),
            Node::Dict(items) => self.dict(items),
            Node::Unary(op, operand) => unary(*op, self.eval(operand)?),
            Node::Bin(op, left, right) => {
                let a = self.eval(left)?;
                let b = self.eval(right)?;
                binary(*op, a, b)
            }
            Node::And(values) => self.boolean(values, false),
            Node::Or(values) => self.boolean(values, true),
            Node::Compare(left, ops) => self.compare(left, ops),
            Node::IfExp(test, body, orelse) => {
                if self.eval(test)?.truthy() {
                    self.eval(body)
                } else {
                    self.eval(orelse)
                }
            }
            Node::Call { func, args, kwargs } => self.call(func, args, kwargs),
            Node::Attr(value, name) => {
                let value = self.eval(value)?;
                get_attribute(&value, name)
            }
            Node::Subscript(value, index) => self.subscript(value, index),
            Node::Comp {
                elt,
                value,
                generators,
            } => self.comprehension(elt, value.as_deref(), generators),
        }
    }

    fn all(&mut self, nodes: &[Node]) -> Result<Vec<Py>, EvalError> {
        nodes.iter().map(|n| self.eval(n)).collect()
    }

    /// simpleeval's `_eval_name` with the SDK's names: comprehension variables, then `_`/`record`,
    /// `config`, `__stream_name__`, `__original_stream_name__`, `self` (when the property is in the
    /// record), then the record's fields, then the functions (`json` as a module).
    fn name(&self, name: &str) -> Result<Py, EvalError> {
        if let Some((_, value)) = self.locals.iter().rev().find(|(n, _)| n == name) {
            return Ok(value.clone());
        }
        let ctx = self.ctx;
        if self.alias_only && name != "__stream_name__" {
            return match Builtin::by_name(name) {
                Some(builtin) => Ok(Py::Func(builtin)),
                None if name == "json" => Ok(Py::JsonModule),
                None => Err(err(
                    "NameNotDefined",
                    format!("'{name}' is not defined for expression '{}'", self.src),
                )),
            };
        }
        match name {
            "_" | "record" => return Ok(Py::Dict(from_json_map(ctx.record))),
            "config" => return Ok(from_json(ctx.config)),
            "__stream_name__" => return Ok(Py::Str(ctx.stream_name.to_string())),
            "__original_stream_name__" => return Ok(Py::Str(ctx.original_stream_name.to_string())),
            "self" if ctx.self_value.is_some() => {
                return Ok(ctx.self_value.map(from_json).unwrap_or(Py::None))
            }
            "fake" => return Err(unsupported("Faker (fake) in stream maps")),
            _ => {}
        }
        if let Some(value) = ctx.record.get(name) {
            return Ok(from_json(value));
        }
        if let Some(builtin) = Builtin::by_name(name) {
            return Ok(Py::Func(builtin));
        }
        match name {
            "json" => Ok(Py::JsonModule),
            "datetime" => Err(unsupported("the datetime module in stream maps")),
            "rand" | "randint" => Err(unsupported("random numbers (rand, randint)")),
            _ => Err(err(
                "NameNotDefined",
                format!("'{name}' is not defined for expression '{}'", self.src),
            )),
        }
    }

    /// Each `{value}` is `str(value)` (simpleeval ignores `!r` and `!a`).
    fn fstring(&mut self, parts: &[FPart]) -> Result<Py, EvalError> {
        let mut out = String::new();
        for part in parts {
            let text = match part {
                FPart::Text(t) => t.clone(),
                FPart::Value(node) => py_str(&self.eval(node)?)?,
            };
            if out.chars().count() + text.chars().count() > MAX_STRING_LENGTH {
                return Err(err(
                    "IterableTooLong",
                    "Sorry, I will not evaluate something this long.",
                ));
            }
            out.push_str(&text);
        }
        Ok(Py::Str(out))
    }

    fn list(&mut self, elts: &[Elt]) -> Result<Py, EvalError> {
        let mut items = Vec::new();
        for elt in elts {
            match elt {
                Elt::One(node) => items.push(self.eval(node)?),
                Elt::Spread(node) => items.extend(iterate(&self.eval(node)?)?),
            }
        }
        Ok(Py::List(items))
    }

    /// `{k: v}` evaluates the value before the key (Python's `result[key] = value`); `**x`
    /// updates with a dict or key-value pairs.
    fn dict(&mut self, items: &[(Option<Node>, Node)]) -> Result<Py, EvalError> {
        let mut d = Dict::default();
        for (key, value) in items {
            let value = self.eval(value)?;
            match key {
                Some(key) => {
                    let key = self.eval(key)?;
                    check_hashable(&key)?;
                    d.insert(key, value);
                }
                None => {
                    for (k, v) in dict_from(&value)?.0 {
                        d.insert(k, v);
                    }
                }
            }
        }
        Ok(Py::Dict(d))
    }

    /// `and` / `or` return the operand that decided.
    fn boolean(&mut self, values: &[Node], stop_when: bool) -> Result<Py, EvalError> {
        let mut last = Py::Bool(false);
        for value in values {
            last = self.eval(value)?;
            if last.truthy() == stop_when {
                break;
            }
        }
        Ok(last)
    }

    /// Chained comparisons stop at the first false one.
    fn compare(&mut self, left: &Node, ops: &[(CmpOp, Node)]) -> Result<Py, EvalError> {
        let mut right = self.eval(left)?;
        let mut result = true;
        for (op, node) in ops {
            let left = right;
            right = self.eval(node)?;
            result = compare_one(*op, &left, &right)?;
            if !result {
                break;
            }
        }
        Ok(Py::Bool(result))
    }

    /// A name calls simpleeval's functions (never a record field); an attribute calls the method
    /// or module function it reads.
    fn call(
        &mut self,
        func: &Node,
        args: &[Node],
        kwargs: &[(String, Node)],
    ) -> Result<Py, EvalError> {
        let func = match func {
            Node::Name(name) => match Builtin::by_name(name) {
                Some(builtin) => Py::Func(builtin),
                None => {
                    return Err(err(
                        "FunctionNotDefined",
                        format!(
                            "Function '{name}' not defined, for expression '{}'.",
                            self.src
                        ),
                    ))
                }
            },
            other => self.eval(other)?,
        };
        let args = self.all(args)?;
        let mut named = Vec::new();
        for (name, node) in kwargs {
            named.push((name.clone(), self.eval(node)?));
        }
        call(&func, args, named)
    }

    fn subscript(&mut self, value: &Node, index: &Index) -> Result<Py, EvalError> {
        let container = self.eval(value)?;
        match index {
            Index::Item(node) => {
                let key = self.eval(node)?;
                item(&container, &key)
            }
            Index::Slice(lower, upper, step) => {
                let mut bound = |n: &Option<Node>| -> Result<Option<i128>, EvalError> {
                    match n {
                        None => Ok(None),
                        Some(n) => match self.eval(n)? {
                            Py::None => Ok(None),
                            v => v.as_int().map(Some).ok_or_else(|| {
                                type_error("slice indices must be integers or None or have an __index__ method")
                            }),
                        },
                    }
                };
                let (lower, upper, step) = (bound(lower)?, bound(upper)?, bound(step)?);
                slice(&container, lower, upper, step)
            }
        }
    }

    /// simpleeval's comprehensions: every generator's variables live in one scope over the
    /// enclosing names; a tuple target takes the item's first values (`zip`).
    fn comprehension(
        &mut self,
        elt: &Node,
        value: Option<&Node>,
        generators: &[Generator],
    ) -> Result<Py, EvalError> {
        let mark = self.locals.len();
        let mut out = Vec::new();
        let mut dict = Dict::default();
        let result = self.generate(0, generators, &mut |me: &mut Self| {
            match value {
                Some(value_node) => {
                    let v = me.eval(value_node)?;
                    let k = me.eval(elt)?;
                    check_hashable(&k)?;
                    dict.insert(k, v);
                }
                None => out.push(me.eval(elt)?),
            }
            Ok(())
        });
        self.locals.truncate(mark);
        result?;
        Ok(if value.is_some() {
            Py::Dict(dict)
        } else {
            Py::List(out)
        })
    }

    fn generate(
        &mut self,
        index: usize,
        generators: &[Generator],
        emit: &mut dyn FnMut(&mut Self) -> Result<(), EvalError>,
    ) -> Result<(), EvalError> {
        let g = &generators[index];
        for item in iterate(&self.eval(&g.iter)?)? {
            self.visited += 1;
            if self.visited > MAX_COMPREHENSION_LENGTH {
                return Err(err(
                    "IterableTooLong",
                    "Comprehension generates too many elements",
                ));
            }
            self.bind(&g.target, item)?;
            let mut keep = true;
            for cond in &g.ifs {
                if !self.eval(cond)?.truthy() {
                    keep = false;
                    break;
                }
            }
            if !keep {
                continue;
            }
            if index + 1 < generators.len() {
                self.generate(index + 1, generators, emit)?;
            } else {
                emit(self)?;
            }
        }
        Ok(())
    }

    fn bind(&mut self, target: &Target, value: Py) -> Result<(), EvalError> {
        match target {
            Target::Name(name) => {
                match self.locals.iter_mut().rev().find(|(n, _)| n == name) {
                    Some(slot) => slot.1 = value,
                    None => self.locals.push((name.clone(), value)),
                }
                Ok(())
            }
            Target::Tuple(targets) => {
                let values = iterate(&value)?;
                for (t, v) in targets.iter().zip(values) {
                    self.bind(t, v)?;
                }
                Ok(())
            }
        }
    }
}

fn compare_one(op: CmpOp, a: &Py, b: &Py) -> Result<bool, EvalError> {
    match op {
        CmpOp::Eq => Ok(py_eq(a, b)),
        CmpOp::NotEq => Ok(!py_eq(a, b)),
        CmpOp::Lt => py_order("<", a, b),
        CmpOp::LtE => py_order("<=", a, b),
        CmpOp::Gt => py_order(">", a, b),
        CmpOp::GtE => py_order(">=", a, b),
        CmpOp::In => contains(b, a),
        CmpOp::NotIn => contains(b, a).map(|found| !found),
        CmpOp::Is => identical(a, b),
        CmpOp::IsNot => identical(a, b).map(|same| !same),
    }
}

/// `is`: decided for the singletons None, True and False; other objects' identity is CPython's
/// memory business.
fn identical(a: &Py, b: &Py) -> Result<bool, EvalError> {
    match (a, b) {
        (Py::None, Py::None) => Ok(true),
        (Py::Bool(x), Py::Bool(y)) => Ok(x == y),
        (Py::None | Py::Bool(_), _) | (_, Py::None | Py::Bool(_)) => Ok(false),
        _ => Err(unsupported(
            "'is' between values other than None, True and False (object identity)",
        )),
    }
}

/// `container[key]`.
fn item(container: &Py, key: &Py) -> Result<Py, EvalError> {
    match container {
        Py::List(v) | Py::Tuple(v) => {
            let kind = container.type_name();
            let i = key.as_int().ok_or_else(|| {
                type_error(format!(
                    "{kind} indices must be integers or slices, not {}",
                    key.type_name()
                ))
            })?;
            position(v.len(), i)
                .map(|i| v[i].clone())
                .ok_or_else(|| err("IndexError", format!("{kind} index out of range")))
        }
        Py::Str(s) => {
            let i = key.as_int().ok_or_else(|| {
                type_error(format!(
                    "string indices must be integers, not '{}'",
                    key.type_name()
                ))
            })?;
            let chars: Vec<char> = s.chars().collect();
            position(chars.len(), i)
                .map(|i| Py::Str(chars[i].to_string()))
                .ok_or_else(|| err("IndexError", "string index out of range"))
        }
        Py::Dict(d) => {
            check_hashable(key)?;
            d.get(key)
                .cloned()
                .ok_or_else(|| err("KeyError", super::value::py_repr(key).unwrap_or_default()))
        }
        other => Err(type_error(format!(
            "'{}' object is not subscriptable",
            other.type_name()
        ))),
    }
}

/// A Python index (negative from the end) into a sequence of `len` items.
fn position(len: usize, i: i128) -> Option<usize> {
    let len = len as i128;
    let i = if i < 0 { i + len } else { i };
    (0..len).contains(&i).then_some(i as usize)
}

/// `container[lower:upper:step]` with Python's bound adjustment.
fn slice(
    container: &Py,
    lower: Option<i128>,
    upper: Option<i128>,
    step: Option<i128>,
) -> Result<Py, EvalError> {
    let step = step.unwrap_or(1);
    if step == 0 {
        return Err(err("ValueError", "slice step cannot be zero"));
    }
    let pick = |len: usize| -> Vec<usize> {
        let len = len as i128;
        let mut picked = Vec::new();
        if step > 0 {
            let fix = |v: i128| if v < 0 { (v + len).max(0) } else { v.min(len) };
            let (mut i, stop) = (lower.map_or(0, fix), upper.map_or(len, fix));
            while i < stop {
                picked.push(i as usize);
                i = i.saturating_add(step);
            }
        } else {
            let fix = |v: i128| {
                if v < 0 {
                    (v + len).max(-1)
                } else {
                    v.min(len - 1)
                }
            };
            let (mut i, stop) = (lower.map_or(len - 1, fix), upper.map_or(-1, fix));
            while i > stop {
                picked.push(i as usize);
                i = i.saturating_add(step);
            }
        }
        picked
    };
    match container {
        Py::List(v) => Ok(Py::List(
            pick(v.len()).into_iter().map(|i| v[i].clone()).collect(),
        )),
        Py::Tuple(v) => Ok(Py::Tuple(
            pick(v.len()).into_iter().map(|i| v[i].clone()).collect(),
        )),
        Py::Str(s) => {
            let chars: Vec<char> = s.chars().collect();
            Ok(Py::Str(
                pick(chars.len()).into_iter().map(|i| chars[i]).collect(),
            ))
        }
        Py::Dict(_) => Err(type_error("unhashable type: 'slice'")),
        other => Err(type_error(format!(
            "'{}' object is not subscriptable",
            other.type_name()
        ))),
    }
}
