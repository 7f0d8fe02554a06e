//! The functions and methods expressions call, as Python defines them.
use md5::Digest;

use super::json::{self, DumpOptions};
use super::value::{
    check_hashable, err, py_eq, py_repr, py_str, type_error, unsupported, Builtin, Dict, Py,
    ViewKind,
};
use super::EvalError;

/// Public attributes of Python 3's types (`dir()`): an attribute Python has but tap-airbyte does
/// not evaluate is `NotSupported`, one it lacks is simpleeval's `AttributeDoesNotExist`.
const STR_ATTRIBUTES: &[&str] = &[
    "capitalize",
    "casefold",
    "center",
    "count",
    "encode",
    "endswith",
    "expandtabs",
    "find",
    "format",
    "format_map",
    "index",
    "isalnum",
    "isalpha",
    "isascii",
    "isdecimal",
    "isdigit",
    "isidentifier",
    "islower",
    "isnumeric",
    "isprintable",
    "isspace",
    "istitle",
    "isupper",
    "join",
    "ljust",
    "lower",
    "lstrip",
    "maketrans",
    "partition",
    "removeprefix",
    "removesuffix",
    "replace",
    "rfind",
    "rindex",
    "rjust",
    "rpartition",
    "rsplit",
    "rstrip",
    "split",
    "splitlines",
    "startswith",
    "strip",
    "swapcase",
    "title",
    "translate",
    "upper",
    "zfill",
];
const DICT_ATTRIBUTES: &[&str] = &[
    "clear",
    "copy",
    "fromkeys",
    "get",
    "items",
    "keys",
    "pop",
    "popitem",
    "setdefault",
    "update",
    "values",
];
const LIST_ATTRIBUTES: &[&str] = &[
    "append", "clear", "copy", "count", "extend", "index", "insert", "pop", "remove", "reverse",
    "sort",
];
const NUMBER_ATTRIBUTES: &[&str] = &[
    "as_integer_ratio",
    "bit_count",
    "bit_length",
    "conjugate",
    "denominator",
    "from_bytes",
    "imag",
    "numerator",
    "real",
    "to_bytes",
    "fromhex",
    "hex",
    "is_integer",
];
const STR_METHODS: &[&str] = &[
    "lower",
    "upper",
    "strip",
    "lstrip",
    "rstrip",
    "split",
    "rsplit",
    "replace",
    "startswith",
    "endswith",
    "join",
    "find",
    "count",
    "title",
    "capitalize",
    "zfill",
    "removeprefix",
    "removesuffix",
    "index",
];
const DICT_METHODS: &[&str] = &["get", "keys", "values", "items"];
const SEQUENCE_METHODS: &[&str] = &["index", "count"];
/// The `json` module's functions, called as methods of `json`.
const JSON_FUNCTIONS: &[&str] = &["dumps", "loads"];

/// The methods tap-airbyte evaluates (on str, dict, list or tuple), and the `json` module's
/// functions. A call of any other attribute is refused when parsing: Python either has the
/// method and tap-airbyte not, or fails (a JSON value is never callable).
fn methods() -> impl Iterator<Item = &'static str> {
    [STR_METHODS, DICT_METHODS, SEQUENCE_METHODS, JSON_FUNCTIONS]
        .into_iter()
        .flatten()
        .copied()
}

pub(crate) fn is_method(name: &str) -> bool {
    methods().any(|m| m == name)
}

fn method_name(name: &str) -> &'static str {
    methods().find(|m| *m == name).unwrap_or("?")
}

/// `value.name` as simpleeval reads it: the object's attribute, else (dicts) its item `name`.
pub(crate) fn get_attribute(value: &Py, name: &str) -> Result<Py, EvalError> {
    let (attributes, methods): (&[&str], &[&str]) = match value {
        Py::Str(_) => (STR_ATTRIBUTES, STR_METHODS),
        Py::Dict(_) => (DICT_ATTRIBUTES, DICT_METHODS),
        Py::List(_) => (LIST_ATTRIBUTES, SEQUENCE_METHODS),
        Py::Tuple(_) => (SEQUENCE_METHODS, SEQUENCE_METHODS),
        Py::Bool(_) | Py::Int(_) | Py::Float(_) => (NUMBER_ATTRIBUTES, &[]),
        Py::JsonModule => {
            return match name {
                "dumps" => Ok(Py::Func(Builtin::JsonDumps)),
                "loads" => Ok(Py::Func(Builtin::JsonLoads)),
                _ => Err(unsupported(format!("json.{name}"))),
            }
        }
        Py::None => (&[], &[]),
        _ => {
            return Err(unsupported(format!(
                "attributes of a {}",
                value.type_name()
            )))
        }
    };
    if methods.contains(&name) {
        return Ok(Py::Method(Box::new(value.clone()), method_name(name)));
    }
    if attributes.contains(&name) {
        return Err(unsupported(format!(
            "the attribute .{name} of a {}",
            value.type_name()
        )));
    }
    if let Py::Dict(d) = value {
        if let Some(item) = d.get(&Py::Str(name.to_string())) {
            return Ok(item.clone());
        }
    }
    Err(err(
        "AttributeDoesNotExist",
        format!("Attribute '{name}' does not exist"),
    ))
}

/// The items of an iterable, in Python's iteration order (a str gives its characters, a dict its
/// keys).
pub(crate) fn iterate(value: &Py) -> Result<Vec<Py>, EvalError> {
    match value {
        Py::Str(s) => Ok(s.chars().map(|c| Py::Str(c.to_string())).collect()),
        Py::List(v) | Py::Tuple(v) | Py::View(_, v) => Ok(v.clone()),
        Py::Dict(d) => Ok(d.keys().cloned().collect()),
        Py::Set(_) => Err(unsupported("iterating a set (Python's set order)")),
        other => Err(type_error(format!(
            "'{}' object is not iterable",
            other.type_name()
        ))),
    }
}

fn arity(name: &str, args: &[Py], min: usize, max: usize) -> Result<(), EvalError> {
    if args.len() < min || args.len() > max {
        return Err(type_error(format!(
            "{name}() takes from {min} to {max} positional arguments but {} were given",
            args.len()
        )));
    }
    Ok(())
}

fn no_kwargs(name: &str, kwargs: &[(String, Py)]) -> Result<(), EvalError> {
    match kwargs.first() {
        None => Ok(()),
        Some((k, _)) => Err(unsupported(format!(
            "{name}() with the keyword argument {k}"
        ))),
    }
}

/// Calls a function or bound method value.
pub(crate) fn call(func: &Py, args: Vec<Py>, kwargs: Vec<(String, Py)>) -> Result<Py, EvalError> {
    match func {
        Py::Func(builtin) => call_builtin(*builtin, args, &kwargs),
        Py::Method(receiver, name) => call_method(receiver, name, args, kwargs),
        other => Err(type_error(format!(
            "'{}' object is not callable",
            other.type_name()
        ))),
    }
}

fn call_builtin(f: Builtin, args: Vec<Py>, kwargs: &[(String, Py)]) -> Result<Py, EvalError> {
    if f == Builtin::JsonDumps {
        arity("dumps", &args, 1, 1)?;
        let options = DumpOptions::from_kwargs(kwargs)?;
        return json::dumps(&args[0], &options).map(Py::Str);
    }
    if f == Builtin::Dict {
        arity("dict", &args, 0, 1)?;
        let mut d = match args.first() {
            Some(source) => dict_from(source)?,
            None => Dict::default(),
        };
        for (k, v) in kwargs {
            d.insert(Py::Str(k.clone()), v.clone());
        }
        return Ok(Py::Dict(d));
    }
    no_kwargs(f.name(), kwargs)?;
    let one = |args: &[Py]| -> Result<(), EvalError> { arity(f.name(), args, 1, 1) };
    match f {
        Builtin::Int => {
            arity("int", &args, 0, 1)?;
            args.first().map_or(Ok(Py::Int(0)), to_int)
        }
        Builtin::Float => {
            arity("float", &args, 0, 1)?;
            args.first().map_or(Ok(Py::Float(0.0)), to_float)
        }
        Builtin::Str => {
            arity("str", &args, 0, 1)?;
            args.first()
                .map_or(Ok(Py::Str(String::new())), |v| py_str(v).map(Py::Str))
        }
        Builtin::Bool => {
            arity("bool", &args, 0, 1)?;
            Ok(Py::Bool(args.first().is_some_and(Py::truthy)))
        }
        Builtin::List | Builtin::Tuple | Builtin::Set => {
            arity(f.name(), &args, 0, 1)?;
            let items = match args.first() {
                Some(v) => iterate(v)?,
                None => Vec::new(),
            };
            Ok(match f {
                Builtin::List => Py::List(items),
                Builtin::Tuple => Py::Tuple(items),
                _ => make_set(items)?,
            })
        }
        Builtin::Md5 | Builtin::Sha256 => {
            one(&args)?;
            let Py::Str(s) = &args[0] else {
                return Err(err(
                    "AttributeError",
                    format!("'{}' object has no attribute 'encode'", args[0].type_name()),
                ));
            };
            Ok(Py::Str(if f == Builtin::Md5 {
                hex(&md5::Md5::digest(s.as_bytes()))
            } else {
                hex(&sha2::Sha256::digest(s.as_bytes()))
            }))
        }
        Builtin::JsonLoads => {
            one(&args)?;
            match &args[0] {
                Py::Str(s) => json::loads(s),
                other => Err(type_error(format!(
                    "the JSON object must be str, bytes or bytearray, not {}",
                    other.type_name()
                ))),
            }
        }
        Builtin::JsonDumps | Builtin::Dict => unreachable!("handled above"),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A set of the items, without repeats (the first of equal items kept).
pub(crate) fn make_set(items: Vec<Py>) -> Result<Py, EvalError> {
    let mut set: Vec<Py> = Vec::new();
    for item in items {
        check_hashable(&item)?;
        if !set.iter().any(|x| py_eq(x, &item)) {
            set.push(item);
        }
    }
    Ok(Py::Set(set))
}

/// `dict(x)` / `d.update(x)`: a dict's items, or an iterable of key-value pairs.
pub(crate) fn dict_from(source: &Py) -> Result<Dict, EvalError> {
    if let Py::Dict(d) = source {
        return Ok(d.clone());
    }
    let mut d = Dict::default();
    for (i, pair) in iterate(source)?.into_iter().enumerate() {
        let items = iterate(&pair).map_err(|_| {
            type_error(format!(
                "cannot convert dictionary update sequence element #{i} to a sequence"
            ))
        })?;
        let [k, v]: [Py; 2] = items.try_into().map_err(|items: Vec<Py>| {
            err(
                "ValueError",
                format!(
                    "dictionary update sequence element #{i} has length {}; 2 is required",
                    items.len()
                ),
            )
        })?;
        check_hashable(&k)?;
        d.insert(k, v);
    }
    Ok(d)
}

/// Python's `str.isspace()` per character (Rust's whitespace plus the separators U+001C..U+001F).
pub(crate) fn is_space(c: char) -> bool {
    c.is_whitespace() || ('\x1c'..='\x1f').contains(&c)
}

/// `int(x)`: a str of decimal digits (spaces, sign and single `_` between digits allowed), a
/// float truncated toward zero, a bool.
fn to_int(value: &Py) -> Result<Py, EvalError> {
    match value {
        Py::Int(_) | Py::Bool(_) => Ok(Py::Int(value.as_int().unwrap_or(0))),
        Py::Float(f) if f.is_nan() => Err(err("ValueError", "cannot convert float NaN to integer")),
        Py::Float(f) if f.is_infinite() => Err(err(
            "OverflowError",
            "cannot convert float infinity to integer",
        )),
        Py::Float(f) => {
            let t = f.trunc();
            if t.abs() >= 1.7e38 {
                return Err(unsupported(
                    "integers beyond 128 bits (int of a large float)",
                ));
            }
            Ok(Py::Int(t as i128))
        }
        Py::Str(s) => parse_int(s).map(Py::Int).ok_or_else(|| {
            err(
                "ValueError",
                format!(
                    "invalid literal for int() with base 10: {}",
                    super::value::str_repr(s)
                ),
            )
        }),
        other => Err(type_error(format!(
            "int() argument must be a string, a bytes-like object or a real number, not '{}'",
            other.type_name()
        ))),
    }
}

fn parse_int(s: &str) -> Option<i128> {
    let t = s.trim_matches(is_space);
    let (negative, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    if !valid_digit_groups(digits) {
        return None;
    }
    let clean = digits.replace('_', "");
    let magnitude: i128 = clean.parse().ok()?;
    Some(if negative { -magnitude } else { magnitude })
}

/// ASCII digits with single underscores between them.
fn valid_digit_groups(digits: &str) -> bool {
    !digits.is_empty()
        && digits
            .split('_')
            .all(|g| !g.is_empty() && g.bytes().all(|b| b.is_ascii_digit()))
}

/// `float(x)`: Python's float syntax in a str (`inf`, `nan`, `1_000.5`), a number.
fn to_float(value: &Py) -> Result<Py, EvalError> {
    match value {
        Py::Float(f) => Ok(Py::Float(*f)),
        Py::Int(_) | Py::Bool(_) => Ok(Py::Float(value.as_f64().unwrap_or(0.0))),
        Py::Str(s) => parse_float(s).map(Py::Float).ok_or_else(|| {
            err(
                "ValueError",
                format!(
                    "could not convert string to float: {}",
                    super::value::str_repr(s)
                ),
            )
        }),
        other => Err(type_error(format!(
            "float() argument must be a string or a real number, not '{}'",
            other.type_name()
        ))),
    }
}

fn parse_float(s: &str) -> Option<f64> {
    let t = s.trim_matches(is_space);
    let (sign, body) = match t.as_bytes().first() {
        Some(b'-') => (-1.0, &t[1..]),
        Some(b'+') => (1.0, &t[1..]),
        _ => (1.0, t),
    };
    match body.to_ascii_lowercase().as_str() {
        "inf" | "infinity" => return Some(sign * f64::INFINITY),
        "nan" => return Some(f64::NAN.copysign(sign)),
        _ => {}
    }
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    let (int_part, frac_part) = match mantissa.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (mantissa, None),
    };
    let groups_ok = |g: &str| g.is_empty() || valid_digit_groups(g);
    if !groups_ok(int_part) || !frac_part.is_none_or(groups_ok) {
        return None;
    }
    if int_part.is_empty() && frac_part.is_none_or(str::is_empty) {
        return None;
    }
    if let Some(e) = exponent {
        let digits = e.strip_prefix(['+', '-']).unwrap_or(e);
        if !valid_digit_groups(digits) {
            return None;
        }
    }
    let clean = body.replace('_', "");
    clean.parse::<f64>().ok().map(|f| sign * f)
}

fn str_arg<'a>(method: &str, value: &'a Py) -> Result<&'a str, EvalError> {
    match value {
        Py::Str(s) => Ok(s),
        other => Err(type_error(format!(
            "{method}() argument must be str, not {}",
            other.type_name()
        ))),
    }
}

fn int_arg(value: &Py) -> Result<i128, EvalError> {
    value.as_int().ok_or_else(|| {
        type_error(format!(
            "'{}' object cannot be interpreted as an integer",
            value.type_name()
        ))
    })
}

/// Positional arguments, then the named keywords in order (`split(sep=..., maxsplit=...)`).
fn bind(
    method: &str,
    mut args: Vec<Py>,
    kwargs: Vec<(String, Py)>,
    names: &[&str],
) -> Result<Vec<Option<Py>>, EvalError> {
    if args.len() > names.len() {
        return Err(type_error(format!(
            "{method}() takes at most {} arguments ({} given)",
            names.len(),
            args.len()
        )));
    }
    let mut bound: Vec<Option<Py>> = args.drain(..).map(Some).collect();
    bound.resize(names.len(), None);
    for (k, v) in kwargs {
        let Some(i) = names.iter().position(|n| *n == k) else {
            return Err(type_error(format!(
                "{method}() got an unexpected keyword argument '{k}'"
            )));
        };
        bound[i] = Some(v);
    }
    Ok(bound)
}

fn call_method(
    receiver: &Py,
    name: &str,
    args: Vec<Py>,
    kwargs: Vec<(String, Py)>,
) -> Result<Py, EvalError> {
    match receiver {
        Py::Str(s) => str_method(s, name, args, kwargs),
        Py::Dict(d) => {
            no_kwargs(name, &kwargs)?;
            dict_method(d, name, args)
        }
        Py::List(items) | Py::Tuple(items) => {
            no_kwargs(name, &kwargs)?;
            arity(name, &args, 1, 1)?;
            let found = items.iter().position(|x| py_eq(x, &args[0]));
            if name == "count" {
                return Ok(Py::Int(
                    items.iter().filter(|x| py_eq(x, &args[0])).count() as i128
                ));
            }
            match found {
                Some(i) => Ok(Py::Int(i as i128)),
                None if matches!(receiver, Py::List(_)) => Err(err(
                    "ValueError",
                    format!("{} is not in list", py_repr(&args[0]).unwrap_or_default()),
                )),
                None => Err(err("ValueError", "tuple.index(x): x not in tuple")),
            }
        }
        _ => Err(unsupported(format!(
            ".{name}() of a {}",
            receiver.type_name()
        ))),
    }
}

fn dict_method(d: &Dict, name: &str, args: Vec<Py>) -> Result<Py, EvalError> {
    let view = |kind, items: Vec<Py>| Ok(Py::View(kind, items));
    match name {
        "get" => {
            arity("get", &args, 1, 2)?;
            check_hashable(&args[0])?;
            Ok(d.get(&args[0])
                .cloned()
                .or_else(|| args.get(1).cloned())
                .unwrap_or(Py::None))
        }
        "keys" | "values" | "items" => {
            arity(name, &args, 0, 0)?;
            match name {
                "keys" => view(ViewKind::Keys, d.keys().cloned().collect()),
                "values" => view(
                    ViewKind::Values,
                    d.0.iter().map(|(_, v)| v.clone()).collect(),
                ),
                _ => view(
                    ViewKind::Items,
                    d.0.iter()
                        .map(|(k, v)| Py::Tuple(vec![k.clone(), v.clone()]))
                        .collect(),
                ),
            }
        }
        _ => Err(unsupported(format!("dict.{name}()"))),
    }
}

fn str_method(
    s: &str,
    name: &str,
    args: Vec<Py>,
    kwargs: Vec<(String, Py)>,
) -> Result<Py, EvalError> {
    let text = |t: String| Ok(Py::Str(t));
    match name {
        "split" | "rsplit" => {
            let a = bind(name, args, kwargs, &["sep", "maxsplit"])?;
            let maxsplit = match &a[1] {
                Some(v) => int_arg(v)?,
                None => -1,
            };
            let parts = match &a[0] {
                None | Some(Py::None) => split_whitespace(s, maxsplit, name == "rsplit"),
                Some(sep) => {
                    let sep = str_arg(name, sep)?;
                    if sep.is_empty() {
                        return Err(err("ValueError", "empty separator"));
                    }
                    split_sep(s, sep, maxsplit, name == "rsplit")
                }
            };
            Ok(Py::List(parts.into_iter().map(Py::Str).collect()))
        }
        "replace" => {
            no_kwargs(name, &kwargs)?;
            arity(name, &args, 2, 3)?;
            let (old, new) = (str_arg(name, &args[0])?, str_arg(name, &args[1])?);
            match args.get(2).map(int_arg).transpose()? {
                Some(n) if n >= 0 => {
                    text(s.replacen(old, new, usize::try_from(n).unwrap_or(usize::MAX)))
                }
                _ => text(s.replace(old, new)),
            }
        }
        _ => {
            no_kwargs(name, &kwargs)?;
            str_simple_method(s, name, args)
        }
    }
}

fn str_simple_method(s: &str, name: &str, args: Vec<Py>) -> Result<Py, EvalError> {
    let text = |t: String| Ok(Py::Str(t));
    match name {
        "lower" | "upper" | "title" | "capitalize" => {
            arity(name, &args, 0, 0)?;
            text(match name {
                "lower" => s.to_lowercase(),
                "upper" => s.to_uppercase(),
                "title" => title(s),
                _ => capitalize(s),
            })
        }
        "strip" | "lstrip" | "rstrip" => {
            arity(name, &args, 0, 1)?;
            let chars: Option<Vec<char>> = match args.first() {
                None | Some(Py::None) => None,
                Some(v) => Some(str_arg(name, v)?.chars().collect()),
            };
            let strip = |c: char| chars.as_ref().map_or(is_space(c), |set| set.contains(&c));
            text(
                match name {
                    "strip" => s.trim_matches(strip),
                    "lstrip" => s.trim_start_matches(strip),
                    _ => s.trim_end_matches(strip),
                }
                .to_string(),
            )
        }
        "startswith" | "endswith" => {
            arity(name, &args, 1, 1)?;
            let candidates = match &args[0] {
                Py::Tuple(items) => items.clone(),
                other => vec![other.clone()],
            };
            let mut hit = false;
            for c in &candidates {
                let Py::Str(c) = c else {
                    return Err(type_error(format!(
                        "{name} first arg must be str or a tuple of str, not {}",
                        c.type_name()
                    )));
                };
                hit |= if name == "startswith" {
                    s.starts_with(c.as_str())
                } else {
                    s.ends_with(c.as_str())
                };
            }
            Ok(Py::Bool(hit))
        }
        "join" => {
            arity(name, &args, 1, 1)?;
            let mut parts = Vec::new();
            for (i, item) in iterate(&args[0])?.into_iter().enumerate() {
                match item {
                    Py::Str(p) => parts.push(p),
                    other => {
                        return Err(type_error(format!(
                            "sequence item {i}: expected str instance, {} found",
                            other.type_name()
                        )))
                    }
                }
            }
            text(parts.join(s))
        }
        "find" | "index" | "count" => {
            arity(name, &args, 1, 3)?;
            let sub = str_arg(name, &args[0])?;
            let chars: Vec<char> = s.chars().collect();
            let bound = |i: usize| -> Result<Option<i128>, EvalError> {
                match args.get(i) {
                    None | Some(Py::None) => Ok(None),
                    Some(v) => int_arg(v).map(Some),
                }
            };
            let (start, end) = clamp_range(chars.len(), bound(1)?, bound(2)?);
            let window: String = if start <= end {
                chars[start..end].iter().collect()
            } else {
                String::new()
            };
            if name == "count" {
                if start > end {
                    return Ok(Py::Int(0));
                }
                let n = if sub.is_empty() {
                    window.chars().count() + 1
                } else {
                    window.matches(sub).count()
                };
                return Ok(Py::Int(n as i128));
            }
            let found = if start > end {
                None
            } else {
                window
                    .find(sub)
                    .map(|b| start + window[..b].chars().count())
            };
            match (found, name) {
                (Some(i), _) => Ok(Py::Int(i as i128)),
                (None, "find") => Ok(Py::Int(-1)),
                (None, _) => Err(err("ValueError", "substring not found")),
            }
        }
        "zfill" => {
            arity(name, &args, 1, 1)?;
            let width = int_arg(&args[0])?;
            let len = s.chars().count() as i128;
            if width <= len {
                return text(s.to_string());
            }
            let pad = "0".repeat(usize::try_from(width - len).unwrap_or(0));
            text(match s.strip_prefix(['+', '-']) {
                Some(rest) => format!("{}{pad}{rest}", &s[..1]),
                None => format!("{pad}{s}"),
            })
        }
        "removeprefix" | "removesuffix" => {
            arity(name, &args, 1, 1)?;
            let affix = str_arg(name, &args[0])?;
            let out = if name == "removeprefix" {
                s.strip_prefix(affix)
            } else {
                s.strip_suffix(affix)
            };
            text(out.unwrap_or(s).to_string())
        }
        _ => Err(unsupported(format!("str.{name}()"))),
    }
}

/// Python's slice bounds for `find`/`count`: negatives count from the end, clamped to the text.
fn clamp_range(len: usize, start: Option<i128>, end: Option<i128>) -> (usize, usize) {
    let len = len as i128;
    let fix = |v: i128| if v < 0 { (v + len).max(0) } else { v.min(len) };
    let s = start.map_or(0, fix);
    let e = end.map_or(len, fix);
    (s as usize, e as usize)
}

/// `str.split()` / `str.rsplit()` without a separator: runs of whitespace split, ends trimmed;
/// after `maxsplit` splits the rest is kept (its far end untrimmed).
fn split_whitespace(s: &str, maxsplit: i128, from_right: bool) -> Vec<String> {
    if from_right {
        let reversed: String = s.chars().rev().collect();
        let mut parts = split_whitespace(&reversed, maxsplit, false);
        parts.reverse();
        return parts
            .into_iter()
            .map(|p| p.chars().rev().collect())
            .collect();
    }
    let mut parts = Vec::new();
    let mut rest = s.trim_start_matches(is_space);
    while !rest.is_empty() {
        if maxsplit >= 0 && parts.len() as i128 >= maxsplit {
            parts.push(rest.to_string());
            break;
        }
        let end = rest.find(is_space).unwrap_or(rest.len());
        parts.push(rest[..end].to_string());
        rest = rest[end..].trim_start_matches(is_space);
    }
    parts
}

fn split_sep(s: &str, sep: &str, maxsplit: i128, from_right: bool) -> Vec<String> {
    let owned = |it: &mut dyn Iterator<Item = &str>| it.map(str::to_string).collect::<Vec<_>>();
    match (usize::try_from(maxsplit), from_right) {
        (Ok(n), false) => owned(&mut s.splitn(n.saturating_add(1), sep)),
        (Ok(n), true) => {
            let mut parts = owned(&mut s.rsplitn(n.saturating_add(1), sep));
            parts.reverse();
            parts
        }
        (Err(_), _) => owned(&mut s.split(sep)),
    }
}

/// A character is cased when it has a case (`str.title()` starts a word after an uncased one).
fn is_cased(c: char) -> bool {
    c.is_lowercase() || c.is_uppercase()
}

/// `str.title()`: the first cased character after an uncased one upper (title) case, the others
/// lower case.
fn title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut previous_cased = false;
    for c in s.chars() {
        if previous_cased {
            out.extend(c.to_lowercase());
        } else {
            out.extend(c.to_uppercase());
        }
        previous_cased = is_cased(c);
    }
    out
}

/// `str.capitalize()`: the first character upper (title) case, the rest lower case.
fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first
            .to_uppercase()
            .chain(chars.flat_map(char::to_lowercase))
            .collect(),
        None => String::new(),
    }
}
