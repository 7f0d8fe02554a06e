//! Stream-map expressions: the Python subset the Singer SDK evaluates with simpleeval
//! (`EvalWithCompoundTypes`, as `singer_sdk/mapper.py` sets it up), parsed and evaluated with
//! Python's results.
//!
//! - [`parse`] reads an expression; anything outside the supported subset is an [`ExprError`]
//!   naming the construct and its column, never a silent difference.
//! - [`Expr::eval`] evaluates it against a record ([`Context`]) to a JSON value as the SDK writes
//!   it (tuples are arrays, NaN and infinities null); Python's exceptions are [`EvalError`]s with
//!   the exception class as `kind` (`NotSupported` for what Python evaluates and tap-airbyte not).
//! - [`inferred_type`]: the SDK's guess of a mapped property's schema from the expression text.
//!
//! Supported: literals (strings in every quote style, `r`/`u`/`f` prefixes, escapes; ints, floats,
//! `True`/`False`/`None`), list/tuple/dict/set literals with `*`/`**`, `+ - * / // % **`, bitwise
//! operators, unary `- + ~ not`, chained comparisons, `in`, `is` (against None/True/False), `and`
//! and `or` returning an operand, `a if c else b`, subscripts and slices, attributes (a dict's
//! falls back to its item), list and dict comprehensions and generator expressions (lists, as in
//! simpleeval), f-strings without format specs; the functions `int float str bool list tuple dict
//! set md5 sha256 json.dumps json.loads`; the methods in [`parse`]'s list.
//!
//! Not supported (errors): `len`, `min`, `max`, `round`, `abs` and other builtins (the SDK's
//! evaluator does not define them either), `rand`/`randint`, `datetime`, `fake` (Faker), lambda,
//! set comprehensions, format specs, `is` between other objects (identity), integers beyond 128
//! bits (Python's are unbounded) and beyond 64 bits in results (JSON numbers here), the text of a
//! set (Python's set order changes between processes).
//!
//! Limits kept from simpleeval: strings and sequences built by `+`/`*` up to 100,000 items,
//! `**` operands up to 4,000,000, shifts up to 10,000, 10,000 comprehension items.
mod ast;
mod builtins;
mod eval;
mod json;
mod lex;
mod ops;
mod parse;
mod value;

use serde_json::{Map, Value};

/// An expression the SDK's evaluator would refuse or tap-airbyte does not support, found while
/// parsing; `column` is 1-based, in characters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} (at column {column})")]
pub struct ExprError {
    pub message: String,
    pub column: usize,
}

/// A failed evaluation: `kind` is the Python exception class (`TypeError`, `KeyError`,
/// `NameNotDefined`, `ZeroDivisionError`, ...) or `NotSupported`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct EvalError {
    pub kind: &'static str,
    pub message: String,
}

/// What an expression's names refer to.
pub struct Context<'a> {
    /// The record: its fields are names; `record` and `_` are the whole record.
    pub record: &'a Map<String, Value>,
    /// `stream_map_config`, the name `config`.
    pub config: &'a Value,
    /// `self`: the property's value in the record, when the record has the property.
    pub self_value: Option<&'a Value>,
    /// `__stream_name__`: the stream's name after aliasing.
    pub stream_name: &'a str,
    /// `__original_stream_name__`: the stream's name before aliasing.
    pub original_stream_name: &'a str,
}

/// A parsed expression.
#[derive(Debug, Clone)]
pub struct Expr {
    src: String,
    root: ast::Node,
}

/// Parses one expression as Python's `ast.parse(src).body[0]` reads it (leading spaces are an
/// indentation error there; one statement only).
pub fn parse(src: &str) -> Result<Expr, ExprError> {
    Ok(Expr {
        src: src.to_string(),
        root: parse::parse_expression(src)?,
    })
}

impl Expr {
    /// The expression's text.
    pub fn source(&self) -> &str {
        &self.src
    }

    /// Evaluates the expression: the value as the SDK writes it into the record.
    pub fn eval(&self, ctx: &Context) -> Result<Value, EvalError> {
        let value = eval::Evaluator::new(ctx, &self.src).eval(&self.root)?;
        value::to_json(&value)
    }

    /// Evaluates `__alias__` as the SDK does (`PluginMapper._eval_stream`): `__stream_name__` is
    /// the only name besides the functions; an undefined name is a `NameNotDefined` error (the
    /// SDK then keeps the text as the alias).
    pub fn eval_alias(&self, stream_name: &str) -> Result<Value, EvalError> {
        let record = Map::new();
        let ctx = Context {
            record: &record,
            config: &Value::Null,
            self_value: None,
            stream_name,
            original_stream_name: stream_name,
        };
        let value = eval::Evaluator::for_alias(&ctx, &self.src).eval(&self.root)?;
        value::to_json(&value)
    }
}

/// The SDK's `serialize_json` (simplejson with `separators=(",", ":")`, `ensure_ascii`): the JSON
/// text flattening writes for arrays and nested objects. Object keys come in this crate's map
/// order (sorted), where Python keeps the record's order.
pub fn dumps_compact(value: &Value) -> String {
    let options = json::DumpOptions {
        ensure_ascii: true,
        sort_keys: false,
        allow_nan: true,
        indent: None,
        item_separator: ",".into(),
        key_separator: ":".into(),
    };
    json::dumps(&value::from_json(value), &options).unwrap_or_else(|_| value.to_string())
}

/// The schema the SDK gives a property set by an expression (`CustomStreamMap._eval_type`),
/// decided from its text alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InferredType {
    /// `record`: the stream's schema.
    Record,
    /// `float(...)`: number.
    Number,
    /// `int(...)`: integer.
    Integer,
    /// `str(...)`, `json.dumps(...)`, a `'quoted'` literal: string.
    String,
    /// `bool(...)`: boolean.
    Boolean,
    /// `datetime.date...` or `... .date()`: string, format date.
    Date,
    /// `datetime.datetime...`: string, format date-time.
    DateTime,
    /// Otherwise: the schema the property already has, else the schema of the property the whole
    /// expression names, else string.
    Default,
}

/// The SDK's checks in its order: `record`, the function prefixes, the datetime forms, then a
/// text starting and ending with a single quote.
pub fn inferred_type(src: &str) -> InferredType {
    if src == "record" {
        return InferredType::Record;
    }
    let prefixes = [
        ("float(", InferredType::Number),
        ("int(", InferredType::Integer),
        ("str(", InferredType::String),
        ("bool(", InferredType::Boolean),
        ("json.dumps(", InferredType::String),
    ];
    if let Some((_, t)) = prefixes.iter().find(|(p, _)| src.starts_with(p)) {
        return *t;
    }
    if src.starts_with("datetime.date.")
        || src.starts_with("datetime.date(")
        || src.ends_with(".date()")
    {
        return InferredType::Date;
    }
    if src.starts_with("datetime.datetime.") || src.starts_with("datetime.datetime(") {
        return InferredType::DateTime;
    }
    if src.starts_with('\'') && src.ends_with('\'') {
        return InferredType::String;
    }
    InferredType::Default
}

#[cfg(test)]
mod tests;
