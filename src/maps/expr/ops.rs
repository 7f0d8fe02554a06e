//! Python's operators on [`Py`] values, with simpleeval's limits (`safe_add`, `safe_mult`,
//! `safe_power`, shifts): true division gives a float, `//` and `%` floor, sequences concatenate
//! and repeat.
use super::ast::{BinOp, UnOp};
use super::value::{err, py_eq, type_error, unsupported, Dict, Py};
use super::EvalError;

/// simpleeval's `MAX_STRING_LENGTH`: longest string or sequence `+` and `*` may build.
pub(crate) const MAX_STRING_LENGTH: usize = 100_000;
/// simpleeval's `MAX_POWER`: largest base or exponent of `**`.
const MAX_POWER: f64 = 4_000_000.0;
/// simpleeval's `MAX_SHIFT`: largest shift count.
const MAX_SHIFT: i128 = 10_000;

fn overflow(what: &str) -> EvalError {
    unsupported(format!(
        "integers beyond 128 bits ({what}); Python's integers are unbounded"
    ))
}

fn operand_error(op: BinOp, a: &Py, b: &Py) -> EvalError {
    type_error(format!(
        "unsupported operand type(s) for {}: '{}' and '{}'",
        op.symbol(),
        a.type_name(),
        b.type_name()
    ))
}

/// `len()` of what has one (str in characters), for simpleeval's length limits.
pub(crate) fn py_len(value: &Py) -> Option<usize> {
    match value {
        Py::Str(s) => Some(s.chars().count()),
        Py::List(v) | Py::Tuple(v) | Py::Set(v) => Some(v.len()),
        Py::Dict(d) => Some(d.len()),
        Py::View(_, v) => Some(v.len()),
        _ => None,
    }
}

pub(crate) fn unary(op: UnOp, value: Py) -> Result<Py, EvalError> {
    let bad = |symbol: &str, v: &Py| {
        type_error(format!(
            "bad operand type for unary {symbol}: '{}'",
            v.type_name()
        ))
    };
    match op {
        UnOp::Not => Ok(Py::Bool(!value.truthy())),
        UnOp::Neg => match (&value, value.as_int()) {
            (Py::Float(f), _) => Ok(Py::Float(-f)),
            (_, Some(i)) => i.checked_neg().map(Py::Int).ok_or_else(|| overflow("-x")),
            _ => Err(bad("-", &value)),
        },
        UnOp::Pos => match (&value, value.as_int()) {
            (Py::Float(f), _) => Ok(Py::Float(*f)),
            (_, Some(i)) => Ok(Py::Int(i)),
            _ => Err(bad("+", &value)),
        },
        UnOp::Invert => match (&value, value.as_int()) {
            (Py::Float(_), _) => Err(bad("~", &value)),
            (_, Some(i)) => Ok(Py::Int(!i)),
            _ => Err(bad("~", &value)),
        },
    }
}

pub(crate) fn binary(op: BinOp, a: Py, b: Py) -> Result<Py, EvalError> {
    match op {
        BinOp::Add => add(a, b),
        BinOp::Mul => mul(a, b),
        BinOp::Pow => power(a, b),
        BinOp::LShift | BinOp::RShift => shift(op, &a, &b),
        BinOp::BitAnd | BinOp::BitOr | BinOp::BitXor => bitwise(op, a, b),
        BinOp::Sub | BinOp::Div | BinOp::FloorDiv | BinOp::Mod => arithmetic(op, &a, &b),
    }
}

/// simpleeval's `safe_add`: sequences too long together fail first; str, list and tuple
/// concatenate; numbers add.
fn add(a: Py, b: Py) -> Result<Py, EvalError> {
    if let (Some(x), Some(y)) = (py_len(&a), py_len(&b)) {
        if x + y > MAX_STRING_LENGTH {
            return Err(err(
                "IterableTooLong",
                "Sorry, adding those two together would make something too long.",
            ));
        }
    }
    match (a, b) {
        (Py::Str(x), Py::Str(y)) => Ok(Py::Str(x + &y)),
        (Py::List(mut x), Py::List(y)) => {
            x.extend(y);
            Ok(Py::List(x))
        }
        (Py::Tuple(mut x), Py::Tuple(y)) => {
            x.extend(y);
            Ok(Py::Tuple(x))
        }
        (a @ (Py::Str(_) | Py::List(_)), b) => Err(type_error(format!(
            "can only concatenate {} (not \"{}\") to {}",
            a.type_name(),
            b.type_name(),
            a.type_name()
        ))),
        (a, b) if a.is_number() && b.is_number() => arithmetic(BinOp::Add, &a, &b),
        (a, b) => Err(operand_error(BinOp::Add, &a, &b)),
    }
}

/// simpleeval's `safe_mult`: a sequence repeated beyond the length limit fails; `str * int`
/// repeats (a count below 1 gives an empty sequence).
fn mul(a: Py, b: Py) -> Result<Py, EvalError> {
    let too_long = || {
        err(
            "IterableTooLong",
            "Sorry, I will not evaluate something that long.",
        )
    };
    for (seq, count) in [(&a, &b), (&b, &a)] {
        if let Some(len) = py_len(seq) {
            match count {
                Py::Float(f) if f * len as f64 > MAX_STRING_LENGTH as f64 => return Err(too_long()),
                Py::Int(_) | Py::Bool(_) => {
                    let n = count.as_int().unwrap_or(0);
                    if n.saturating_mul(len as i128) > MAX_STRING_LENGTH as i128 {
                        return Err(too_long());
                    }
                }
                _ if !count.is_number() && py_len(count).is_none() => {}
                Py::Float(_) => {}
                _ => {
                    return Err(type_error(format!(
                        "'>' not supported between instances of '{}' and 'int'",
                        seq.type_name()
                    )))
                }
            }
        }
    }
    let repeat = |items: &[Py], n: i128| -> Vec<Py> {
        let n = usize::try_from(n).unwrap_or(0);
        items
            .iter()
            .cloned()
            .cycle()
            .take(items.len() * n)
            .collect()
    };
    match (&a, &b) {
        _ if a.is_number() && b.is_number() => arithmetic(BinOp::Mul, &a, &b),
        (Py::Str(s), n) | (n, Py::Str(s)) if n.as_int().is_some() => Ok(Py::Str(
            s.repeat(usize::try_from(n.as_int().unwrap_or(0)).unwrap_or(0)),
        )),
        (Py::List(v), n) | (n, Py::List(v)) if n.as_int().is_some() => {
            Ok(Py::List(repeat(v, n.as_int().unwrap_or(0))))
        }
        (Py::Tuple(v), n) | (n, Py::Tuple(v)) if n.as_int().is_some() => {
            Ok(Py::Tuple(repeat(v, n.as_int().unwrap_or(0))))
        }
        (Py::Str(_) | Py::List(_) | Py::Tuple(_), n)
        | (n, Py::Str(_) | Py::List(_) | Py::Tuple(_)) => Err(type_error(format!(
            "can't multiply sequence by non-int of type '{}'",
            n.type_name()
        ))),
        _ => Err(operand_error(BinOp::Mul, &a, &b)),
    }
}

/// `+ - * / // %` on numbers: ints stay ints (but `/`), a float makes a float.
fn arithmetic(op: BinOp, a: &Py, b: &Py) -> Result<Py, EvalError> {
    if !(a.is_number() && b.is_number()) {
        return Err(operand_error(op, a, b));
    }
    match (a.as_int(), b.as_int()) {
        (Some(x), Some(y)) => int_arithmetic(op, x, y),
        _ => float_arithmetic(op, a.as_f64().unwrap_or(0.0), b.as_f64().unwrap_or(0.0)),
    }
}

fn int_arithmetic(op: BinOp, x: i128, y: i128) -> Result<Py, EvalError> {
    let checked = |r: Option<i128>| r.map(Py::Int).ok_or_else(|| overflow(op.symbol()));
    match op {
        BinOp::Add => checked(x.checked_add(y)),
        BinOp::Sub => checked(x.checked_sub(y)),
        BinOp::Mul => checked(x.checked_mul(y)),
        BinOp::Div => {
            if y == 0 {
                return Err(err("ZeroDivisionError", "division by zero"));
            }
            Ok(Py::Float(int_true_div(x, y)))
        }
        BinOp::FloorDiv | BinOp::Mod => {
            if y == 0 {
                return Err(err(
                    "ZeroDivisionError",
                    "integer division or modulo by zero",
                ));
            }
            let (q, r) = (x.checked_div(y), x.checked_rem(y));
            let (Some(mut q), Some(mut r)) = (q, r) else {
                return Err(overflow(op.symbol()));
            };
            if r != 0 && ((r < 0) != (y < 0)) {
                q -= 1;
                r += y;
            }
            Ok(Py::Int(if op == BinOp::Mod { r } else { q }))
        }
        _ => unreachable!("not an arithmetic operator"),
    }
}

/// `int / int`: exact operands give Python's correctly rounded quotient; beyond 2**53 the
/// operands are rounded first (Python rounds only once).
fn int_true_div(x: i128, y: i128) -> f64 {
    x as f64 / y as f64
}

fn float_arithmetic(op: BinOp, x: f64, y: f64) -> Result<Py, EvalError> {
    let result = match op {
        BinOp::Add => x + y,
        BinOp::Sub => x - y,
        BinOp::Mul => x * y,
        BinOp::Div => {
            if y == 0.0 {
                return Err(err("ZeroDivisionError", "float division by zero"));
            }
            x / y
        }
        BinOp::FloorDiv | BinOp::Mod => {
            if y == 0.0 {
                let what = if op == BinOp::Mod {
                    "float modulo"
                } else {
                    "float floor division by zero"
                };
                return Err(err("ZeroDivisionError", what));
            }
            let (div, rem) = float_divmod(x, y);
            if op == BinOp::Mod {
                rem
            } else {
                div
            }
        }
        _ => unreachable!("not an arithmetic operator"),
    };
    Ok(Py::Float(result))
}

/// CPython's `float_divmod`: the floored quotient and the remainder with the divisor's sign.
fn float_divmod(vx: f64, wx: f64) -> (f64, f64) {
    let mut m = vx % wx; // C fmod
    let mut div = (vx - m) / wx;
    if m != 0.0 {
        if (wx < 0.0) != (m < 0.0) {
            m += wx;
            div -= 1.0;
        }
    } else {
        m = 0.0f64.copysign(wx);
    }
    let floordiv = if div != 0.0 {
        let f = div.floor();
        if div - f > 0.5 {
            f + 1.0
        } else {
            f
        }
    } else {
        0.0f64.copysign(vx / wx)
    };
    (floordiv, m)
}

/// simpleeval's `safe_power`: base or exponent above 4,000,000 in size fails; a negative int
/// exponent gives a float.
fn power(a: Py, b: Py) -> Result<Py, EvalError> {
    if !(a.is_number() && b.is_number()) {
        return Err(operand_error(BinOp::Pow, &a, &b));
    }
    let (x, y) = (a.as_f64().unwrap_or(0.0), b.as_f64().unwrap_or(0.0));
    if x.abs() > MAX_POWER || y.abs() > MAX_POWER {
        return Err(err(
            "NumberTooHigh",
            "Sorry! I don't want to evaluate that power",
        ));
    }
    if let (Some(base), Some(exp)) = (a.as_int(), b.as_int()) {
        if exp >= 0 {
            let exp = u32::try_from(exp).map_err(|_| overflow("**"))?;
            return base
                .checked_pow(exp)
                .map(Py::Int)
                .ok_or_else(|| overflow("**"));
        }
    }
    float_power(x, y)
}

/// CPython's `float_pow` errors: `0.0 ** negative` and overflow raise; a negative base to a
/// fractional power is complex in Python (not supported here).
fn float_power(x: f64, y: f64) -> Result<Py, EvalError> {
    if x == 0.0 && y < 0.0 {
        return Err(err(
            "ZeroDivisionError",
            "0.0 cannot be raised to a negative power",
        ));
    }
    if x < 0.0 && x.is_finite() && y.is_finite() && y.fract() != 0.0 {
        return Err(unsupported(
            "a negative number to a fractional power (a complex number in Python)",
        ));
    }
    let r = x.powf(y);
    if r.is_infinite() && x.is_finite() && y.is_finite() {
        return Err(err(
            "OverflowError",
            "(34, 'Numerical result out of range')",
        ));
    }
    Ok(Py::Float(r))
}

/// simpleeval's `safe_lshift`/`safe_rshift`: counts above 10,000 fail; negative counts are a
/// ValueError.
fn shift(op: BinOp, a: &Py, b: &Py) -> Result<Py, EvalError> {
    let (Some(x), Some(n)) = (a.as_int(), b.as_int()) else {
        return Err(operand_error(op, a, b));
    };
    if n.abs() > MAX_SHIFT {
        return Err(err(
            "NumberTooHigh",
            "Sorry! I don't want to evaluate that shift",
        ));
    }
    if n < 0 {
        return Err(err("ValueError", "negative shift count"));
    }
    if op == BinOp::RShift {
        return Ok(Py::Int(if n >= 127 {
            if x < 0 {
                -1
            } else {
                0
            }
        } else {
            x >> n
        }));
    }
    if x == 0 {
        return Ok(Py::Int(0));
    }
    let fits = n < 127 && (x << n) >> n == x;
    if fits {
        Ok(Py::Int(x << n))
    } else {
        Err(overflow("<<"))
    }
}

/// `& | ^` on ints (bools stay bools); `dict | dict` merges.
fn bitwise(op: BinOp, a: Py, b: Py) -> Result<Py, EvalError> {
    match (&a, &b) {
        (Py::Bool(x), Py::Bool(y)) => Ok(Py::Bool(match op {
            BinOp::BitAnd => x & y,
            BinOp::BitOr => x | y,
            _ => x ^ y,
        })),
        (Py::Dict(x), Py::Dict(y)) if op == BinOp::BitOr => {
            let mut merged: Dict = x.clone();
            for (k, v) in &y.0 {
                merged.insert(k.clone(), v.clone());
            }
            Ok(Py::Dict(merged))
        }
        (Py::Set(_), Py::Set(_)) => Err(unsupported("set operators")),
        _ => match (a.as_int(), b.as_int()) {
            (Some(x), Some(y)) => Ok(Py::Int(match op {
                BinOp::BitAnd => x & y,
                BinOp::BitOr => x | y,
                _ => x ^ y,
            })),
            _ => Err(operand_error(op, &a, &b)),
        },
    }
}

/// Python's `x in container`.
pub(crate) fn contains(container: &Py, item: &Py) -> Result<bool, EvalError> {
    match container {
        Py::Str(s) => match item {
            Py::Str(sub) => Ok(s.contains(sub.as_str())),
            other => Err(type_error(format!(
                "'in <string>' requires string as left operand, not {}",
                other.type_name()
            ))),
        },
        Py::List(v) | Py::Tuple(v) | Py::View(_, v) => Ok(v.iter().any(|x| py_eq(x, item))),
        Py::Set(v) => {
            super::value::check_hashable(item)?;
            Ok(v.iter().any(|x| py_eq(x, item)))
        }
        Py::Dict(d) => {
            super::value::check_hashable(item)?;
            Ok(d.get(item).is_some())
        }
        other => Err(type_error(format!(
            "argument of type '{}' is not iterable",
            other.type_name()
        ))),
    }
}
