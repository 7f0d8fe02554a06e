//! Python values: the objects an expression computes, their `repr`, equality, ordering and their
//! conversion from and to JSON.
use std::cmp::Ordering;

use serde_json::{Map, Number, Value};

use super::EvalError;

/// A Python object as simpleeval sees it. Ints are 128-bit (Python's are unbounded: a result beyond
/// 128 bits is a `NotSupported` error, never a wrong number).
#[derive(Debug, Clone)]
pub(crate) enum Py {
    None,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
    List(Vec<Py>),
    Tuple(Vec<Py>),
    Dict(Dict),
    /// Python iterates a set in hash order, which for strings changes with every process: a set can
    /// be built and tested (`in`, `==`, `len`), never turned into text, JSON or a sequence.
    Set(Vec<Py>),
    /// `dict.keys()`, `.values()`, `.items()`: iterable views, written as `dict_keys([...])`.
    View(ViewKind, Vec<Py>),
    Func(Builtin),
    /// A bound method: the receiver and the method name.
    Method(Box<Py>, &'static str),
    /// The `json` module (`datetime` is refused where it is named).
    JsonModule,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ViewKind {
    Keys,
    Values,
    Items,
}

/// The functions the SDK gives simpleeval (`int`, `float`, `str`, `bool`, `md5`, `sha256`, the
/// compound types' constructors) and the `json` module's two functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Builtin {
    Int,
    Float,
    Str,
    Bool,
    List,
    Tuple,
    Dict,
    Set,
    Md5,
    Sha256,
    JsonDumps,
    JsonLoads,
}

impl Builtin {
    /// The function a name calls (simpleeval's `functions`), if the tap evaluates it.
    pub(crate) fn by_name(name: &str) -> Option<Builtin> {
        Some(match name {
            "int" => Builtin::Int,
            "float" => Builtin::Float,
            "str" => Builtin::Str,
            "bool" => Builtin::Bool,
            "list" => Builtin::List,
            "tuple" => Builtin::Tuple,
            "dict" => Builtin::Dict,
            "set" => Builtin::Set,
            "md5" => Builtin::Md5,
            "sha256" => Builtin::Sha256,
            _ => return None,
        })
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Builtin::Int => "int",
            Builtin::Float => "float",
            Builtin::Str => "str",
            Builtin::Bool => "bool",
            Builtin::List => "list",
            Builtin::Tuple => "tuple",
            Builtin::Dict => "dict",
            Builtin::Set => "set",
            Builtin::Md5 => "md5",
            Builtin::Sha256 => "sha256",
            Builtin::JsonDumps => "dumps",
            Builtin::JsonLoads => "loads",
        }
    }
}

/// A Python dict: insertion ordered; keys compare as Python does (`1`, `1.0` and `True` are one
/// key, the first spelling kept).
#[derive(Debug, Clone, Default)]
pub(crate) struct Dict(pub(crate) Vec<(Py, Py)>);

impl Dict {
    pub(crate) fn get(&self, key: &Py) -> Option<&Py> {
        self.0.iter().find(|(k, _)| py_eq(k, key)).map(|(_, v)| v)
    }

    /// `d[key] = value`: a present key keeps its place and spelling.
    pub(crate) fn insert(&mut self, key: Py, value: Py) {
        match self.0.iter_mut().find(|(k, _)| py_eq(k, &key)) {
            Some(slot) => slot.1 = value,
            None => self.0.push((key, value)),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    pub(crate) fn keys(&self) -> impl Iterator<Item = &Py> {
        self.0.iter().map(|(k, _)| k)
    }
}

/// An error of the given Python exception class.
pub(crate) fn err(kind: &'static str, message: impl Into<String>) -> EvalError {
    EvalError {
        kind,
        message: message.into(),
    }
}

/// What tap-airbyte cannot evaluate although Python can.
pub(crate) fn unsupported(message: impl Into<String>) -> EvalError {
    err("NotSupported", message)
}

pub(crate) fn type_error(message: impl Into<String>) -> EvalError {
    err("TypeError", message)
}

impl Py {
    /// `type(x).__name__`.
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            Py::None => "NoneType",
            Py::Bool(_) => "bool",
            Py::Int(_) => "int",
            Py::Float(_) => "float",
            Py::Str(_) => "str",
            Py::List(_) => "list",
            Py::Tuple(_) => "tuple",
            Py::Dict(_) => "dict",
            Py::Set(_) => "set",
            Py::View(ViewKind::Keys, _) => "dict_keys",
            Py::View(ViewKind::Values, _) => "dict_values",
            Py::View(ViewKind::Items, _) => "dict_items",
            Py::Func(Builtin::Md5 | Builtin::Sha256) => "function",
            Py::Func(Builtin::Bool | Builtin::Int | Builtin::Float | Builtin::Str) => "type",
            Py::Func(Builtin::List | Builtin::Tuple | Builtin::Dict | Builtin::Set) => "type",
            Py::Func(_) => "function",
            Py::Method(..) => "builtin_function_or_method",
            Py::JsonModule => "ModuleWrapper",
        }
    }

    /// Python truthiness (`bool(x)`).
    pub(crate) fn truthy(&self) -> bool {
        match self {
            Py::None => false,
            Py::Bool(b) => *b,
            Py::Int(i) => *i != 0,
            Py::Float(f) => *f != 0.0,
            Py::Str(s) => !s.is_empty(),
            Py::List(v) | Py::Tuple(v) | Py::Set(v) | Py::View(_, v) => !v.is_empty(),
            Py::Dict(d) => d.len() != 0,
            Py::Func(_) | Py::Method(..) | Py::JsonModule => true,
        }
    }

    /// The value as an int when Python treats it as one (`bool` is an `int`).
    pub(crate) fn as_int(&self) -> Option<i128> {
        match self {
            Py::Bool(b) => Some(i128::from(*b)),
            Py::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// The value as a float when it is a number.
    pub(crate) fn as_f64(&self) -> Option<f64> {
        match self {
            Py::Float(f) => Some(*f),
            other => other.as_int().map(|i| i as f64),
        }
    }

    pub(crate) fn is_number(&self) -> bool {
        matches!(self, Py::Bool(_) | Py::Int(_) | Py::Float(_))
    }
}

/// Python's `hash()` precondition: lists, dicts and sets (and tuples holding them) are not keys.
pub(crate) fn check_hashable(value: &Py) -> Result<(), EvalError> {
    match value {
        Py::List(_) | Py::Dict(_) | Py::Set(_) => Err(type_error(format!(
            "unhashable type: '{}'",
            value.type_name()
        ))),
        Py::Tuple(items) => items.iter().try_for_each(check_hashable),
        _ => Ok(()),
    }
}

/// Python `==`.
pub(crate) fn py_eq(a: &Py, b: &Py) -> bool {
    match (a, b) {
        (Py::None, Py::None) => true,
        (Py::Str(x), Py::Str(y)) => x == y,
        (Py::List(x), Py::List(y)) | (Py::Tuple(x), Py::Tuple(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| py_eq(p, q))
        }
        (Py::Dict(x), Py::Dict(y)) => {
            x.len() == y.len()
                && x.0
                    .iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| py_eq(v, w)))
        }
        (Py::Set(x), Py::Set(y)) => {
            x.len() == y.len() && x.iter().all(|p| y.iter().any(|q| py_eq(p, q)))
        }
        (Py::View(k, x), Py::View(l, y)) if k == l && *k != ViewKind::Values => {
            x.len() == y.len() && x.iter().all(|p| y.iter().any(|q| py_eq(p, q)))
        }
        (Py::Func(x), Py::Func(y)) => x == y,
        (Py::JsonModule, Py::JsonModule) => true,
        _ if a.is_number() && b.is_number() => num_cmp(a, b) == Some(Ordering::Equal),
        _ => false,
    }
}

/// Exact comparison of two numbers (Python compares an int and a float without rounding).
pub(crate) fn num_cmp(a: &Py, b: &Py) -> Option<Ordering> {
    match (a.as_int(), b.as_int()) {
        (Some(x), Some(y)) => Some(x.cmp(&y)),
        (Some(x), None) => int_float_cmp(x, b.as_f64()?),
        (None, Some(y)) => int_float_cmp(y, a.as_f64()?).map(Ordering::reverse),
        (None, None) => a.as_f64()?.partial_cmp(&b.as_f64()?),
    }
}

fn int_float_cmp(i: i128, f: f64) -> Option<Ordering> {
    if f.is_nan() {
        return None;
    }
    // 2**127 is exactly representable; beyond it every i128 is smaller.
    const LIMIT: f64 = 170_141_183_460_469_231_731_687_303_715_884_105_728.0;
    if f >= LIMIT {
        return Some(Ordering::Less);
    }
    if f < -LIMIT {
        return Some(Ordering::Greater);
    }
    let floor = f.floor();
    match i.cmp(&(floor as i128)) {
        Ordering::Equal if f > floor => Some(Ordering::Less),
        order => Some(order),
    }
}

/// Python's `<`, `<=`, `>`, `>=`; `op` is the operator's text, for the TypeError.
pub(crate) fn py_order(op: &str, a: &Py, b: &Py) -> Result<bool, EvalError> {
    let holds = |order: Option<Ordering>| match (op, order) {
        (_, None) => false,
        ("<", Some(o)) => o == Ordering::Less,
        ("<=", Some(o)) => o != Ordering::Greater,
        (">", Some(o)) => o == Ordering::Greater,
        (_, Some(o)) => o != Ordering::Less,
    };
    match (a, b) {
        _ if a.is_number() && b.is_number() => Ok(holds(num_cmp(a, b))),
        (Py::Str(x), Py::Str(y)) => Ok(holds(Some(x.cmp(y)))),
        (Py::List(x), Py::List(y)) | (Py::Tuple(x), Py::Tuple(y)) => {
            match x.iter().zip(y).position(|(p, q)| !py_eq(p, q)) {
                Some(i) => py_order(op, &x[i], &y[i]),
                None => Ok(holds(Some(x.len().cmp(&y.len())))),
            }
        }
        (Py::Set(_), Py::Set(_)) => Err(unsupported("comparing sets by inclusion")),
        _ => Err(type_error(format!(
            "'{op}' not supported between instances of '{}' and '{}'",
            a.type_name(),
            b.type_name()
        ))),
    }
}

/// Python's `repr(float)`: the shortest digits that read back to the same float, positional when
/// the exponent is in [-4, 16), else `d.ddde+XX`.
pub(crate) fn float_repr(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf" } else { "-inf" }.into();
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0.0" } else { "0.0" }.into();
    }
    // Rust's `{:e}` prints the shortest round-trip digits: "-1.2345e-5".
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').expect("`{:e}` has an exponent");
    let exp: i32 = exp.parse().expect("`{:e}` exponent is an integer");
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => ("-", m),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    if (-4..16).contains(&exp) {
        let point = exp + 1; // digits before the decimal point
        let body = if point <= 0 {
            format!("0.{}{digits}", "0".repeat(point.unsigned_abs() as usize))
        } else if point as usize >= digits.len() {
            format!("{digits}{}.0", "0".repeat(point as usize - digits.len()))
        } else {
            let (int, frac) = digits.split_at(point as usize);
            format!("{int}.{frac}")
        };
        format!("{sign}{body}")
    } else {
        let (first, rest) = digits.split_at(1);
        let frac = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        let esign = if exp < 0 { '-' } else { '+' };
        format!("{sign}{first}{frac}e{esign}{:02}", exp.unsigned_abs())
    }
}

/// Python's `str(x)`: a str is itself, everything else its `repr`.
pub(crate) fn py_str(value: &Py) -> Result<String, EvalError> {
    match value {
        Py::Str(s) => Ok(s.clone()),
        other => py_repr(other),
    }
}

/// Python's `repr(x)`.
pub(crate) fn py_repr(value: &Py) -> Result<String, EvalError> {
    let mut out = String::new();
    write_repr(&mut out, value)?;
    Ok(out)
}

fn write_repr(out: &mut String, value: &Py) -> Result<(), EvalError> {
    match value {
        Py::None => out.push_str("None"),
        Py::Bool(true) => out.push_str("True"),
        Py::Bool(false) => out.push_str("False"),
        Py::Int(i) => out.push_str(&i.to_string()),
        Py::Float(f) => out.push_str(&float_repr(*f)),
        Py::Str(s) => out.push_str(&str_repr(s)),
        Py::List(items) => write_seq(out, "[", items, "]")?,
        Py::Tuple(items) if items.len() == 1 => write_seq(out, "(", items, ",)")?,
        Py::Tuple(items) => write_seq(out, "(", items, ")")?,
        Py::Dict(d) => {
            out.push('{');
            for (i, (k, v)) in d.0.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_repr(out, k)?;
                out.push_str(": ");
                write_repr(out, v)?;
            }
            out.push('}');
        }
        Py::View(_, items) => {
            out.push_str(value.type_name());
            write_seq(out, "([", items, "])")?;
        }
        Py::Set(_) => return Err(unsupported("the text of a set (Python's set order)")),
        Py::Func(_) | Py::Method(..) | Py::JsonModule => {
            return Err(unsupported(format!(
                "the text of a {} (it holds a memory address)",
                value.type_name()
            )))
        }
    }
    Ok(())
}

fn write_seq(out: &mut String, open: &str, items: &[Py], close: &str) -> Result<(), EvalError> {
    out.push_str(open);
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        write_repr(out, item)?;
    }
    out.push_str(close);
    Ok(())
}

/// Python's `repr(str)`: single quotes unless the text has `'` and no `"`; non-printable
/// characters escaped as `\xhh`, `\uhhhh` or `\Uhhhhhhhh`.
pub(crate) fn str_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if !is_printable(c) => {
                let n = c as u32;
                if n < 0x100 {
                    out.push_str(&format!("\\x{n:02x}"));
                } else if n < 0x10000 {
                    out.push_str(&format!("\\u{n:04x}"));
                } else {
                    out.push_str(&format!("\\U{n:08x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// Python's `str.isprintable()` for one character: not a control, format, separator (but space),
/// private-use or noncharacter. Unassigned code points are not known here (Python escapes them).
fn is_printable(c: char) -> bool {
    let n = c as u32;
    !(n < 0x20
        || (0x7f..=0xa0).contains(&n)
        || n == 0xad
        || (0x600..=0x605).contains(&n)
        || n == 0x61c
        || n == 0x6dd
        || n == 0x70f
        || n == 0x1680
        || n == 0x180e
        || (0x2000..=0x200f).contains(&n)
        || (0x2028..=0x202f).contains(&n)
        || (0x205f..=0x2064).contains(&n)
        || (0x2066..=0x206f).contains(&n)
        || n == 0x3000
        || (0xe000..=0xf8ff).contains(&n)
        || n == 0xfeff
        || (0xfff9..=0xfffb).contains(&n)
        || (n & 0xfffe) == 0xfffe
        || (0xfdd0..=0xfdef).contains(&n)
        || n == 0x110bd
        || (0x1d173..=0x1d17a).contains(&n)
        || n == 0xe0001
        || (0xe0020..=0xe007f).contains(&n)
        || n >= 0xf0000)
}

/// A JSON value as Python's `json.loads` makes it: integers are ints, other numbers floats,
/// objects dicts in the Map's order.
pub(crate) fn from_json(value: &Value) -> Py {
    match value {
        Value::Null => Py::None,
        Value::Bool(b) => Py::Bool(*b),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Py::Int(i.into())
            } else if let Some(u) = n.as_u64() {
                Py::Int(u.into())
            } else {
                Py::Float(n.as_f64().unwrap_or(f64::NAN))
            }
        }
        Value::String(s) => Py::Str(s.clone()),
        Value::Array(items) => Py::List(items.iter().map(from_json).collect()),
        Value::Object(map) => Py::Dict(from_json_map(map)),
    }
}

pub(crate) fn from_json_map(map: &Map<String, Value>) -> Dict {
    Dict(
        map.iter()
            .map(|(k, v)| (Py::Str(k.clone()), from_json(v)))
            .collect(),
    )
}

/// The JSON the SDK writes for a value (simplejson with `ignore_nan`): tuples are arrays, NaN and
/// infinities are null, non-string keys are written as JSON writes them (`1`, `true`, `null`).
pub(crate) fn to_json(value: &Py) -> Result<Value, EvalError> {
    Ok(match value {
        Py::None => Value::Null,
        Py::Bool(b) => Value::Bool(*b),
        Py::Int(i) => Value::Number(int_number(*i)?),
        Py::Float(f) => Number::from_f64(*f).map_or(Value::Null, Value::Number),
        Py::Str(s) => Value::String(s.clone()),
        Py::List(items) | Py::Tuple(items) => {
            Value::Array(items.iter().map(to_json).collect::<Result<_, _>>()?)
        }
        Py::Dict(d) => {
            let mut map = Map::new();
            for (k, v) in &d.0 {
                map.insert(json_key(k)?, to_json(v)?);
            }
            Value::Object(map)
        }
        // The SDK writes what JSON cannot hold with `str()`.
        Py::View(..) => Value::String(py_repr(value)?),
        Py::Set(_) | Py::Func(_) | Py::Method(..) | Py::JsonModule => {
            return Err(unsupported(format!(
                "a {} as a property value (the SDK writes its Python text)",
                value.type_name()
            )))
        }
    })
}

fn int_number(i: i128) -> Result<Number, EvalError> {
    if let Ok(v) = i64::try_from(i) {
        Ok(v.into())
    } else if let Ok(v) = u64::try_from(i) {
        Ok(v.into())
    } else {
        Err(unsupported(format!(
            "the integer {i} as a JSON value (beyond 64 bits)"
        )))
    }
}

/// How `json.dumps` writes a dict key: str as is, numbers and constants as JSON text.
pub(crate) fn json_key(key: &Py) -> Result<String, EvalError> {
    Ok(match key {
        Py::Str(s) => s.clone(),
        Py::Int(i) => i.to_string(),
        Py::Bool(b) => b.to_string(),
        Py::None => "null".into(),
        Py::Float(f) if f.is_nan() => "NaN".into(),
        Py::Float(f) if f.is_infinite() => if *f > 0.0 { "Infinity" } else { "-Infinity" }.into(),
        Py::Float(f) => float_repr(*f),
        other => {
            return Err(type_error(format!(
                "keys must be str, int, float, bool or None, not {}",
                other.type_name()
            )))
        }
    })
}
