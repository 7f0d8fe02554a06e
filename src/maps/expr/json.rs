//! Python's `json.dumps` and `json.loads` (the standard library's, which the SDK gives stream maps
//! as the `json` module).
use super::value::{err, float_repr, py_order, type_error, unsupported, Dict, Py};
use super::EvalError;

/// `json.dumps` keyword arguments tap-airbyte evaluates.
pub(crate) struct DumpOptions {
    pub(crate) ensure_ascii: bool,
    pub(crate) sort_keys: bool,
    pub(crate) allow_nan: bool,
    pub(crate) indent: Option<String>,
    pub(crate) item_separator: String,
    pub(crate) key_separator: String,
}

impl DumpOptions {
    /// From `json.dumps(obj, **kwargs)`: `ensure_ascii`, `sort_keys`, `allow_nan`, `indent`,
    /// `separators`; other keywords are not supported.
    pub(crate) fn from_kwargs(kwargs: &[(String, Py)]) -> Result<DumpOptions, EvalError> {
        let mut options = DumpOptions {
            ensure_ascii: true,
            sort_keys: false,
            allow_nan: true,
            indent: None,
            item_separator: ", ".into(),
            key_separator: ": ".into(),
        };
        let mut separators = None;
        for (name, value) in kwargs {
            match name.as_str() {
                "ensure_ascii" => options.ensure_ascii = value.truthy(),
                "sort_keys" => options.sort_keys = value.truthy(),
                "allow_nan" => options.allow_nan = value.truthy(),
                "indent" => {
                    options.indent = match value {
                        Py::None => None,
                        Py::Str(s) => Some(s.clone()),
                        v => match v.as_int() {
                            Some(n) => Some(" ".repeat(usize::try_from(n).unwrap_or(0))),
                            None => return Err(unsupported("this json.dumps indent")),
                        },
                    }
                }
                "separators" => separators = Some(value.clone()),
                other => {
                    return Err(unsupported(format!("json.dumps({other}=...)")));
                }
            }
        }
        if options.indent.is_some() {
            options.item_separator = ",".into();
        }
        match separators {
            None | Some(Py::None) => {}
            Some(Py::Tuple(pair) | Py::List(pair)) if pair.len() == 2 => match (&pair[0], &pair[1])
            {
                (Py::Str(item), Py::Str(key)) => {
                    options.item_separator = item.clone();
                    options.key_separator = key.clone();
                }
                _ => return Err(type_error("json.dumps separators must be two strings")),
            },
            Some(_) => return Err(unsupported("these json.dumps separators")),
        }
        Ok(options)
    }
}

/// `json.dumps(value, ...)`.
pub(crate) fn dumps(value: &Py, options: &DumpOptions) -> Result<String, EvalError> {
    let mut out = String::new();
    write_value(&mut out, value, options, 0)?;
    Ok(out)
}

fn write_value(
    out: &mut String,
    value: &Py,
    o: &DumpOptions,
    level: usize,
) -> Result<(), EvalError> {
    match value {
        Py::None => out.push_str("null"),
        Py::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Py::Int(i) => out.push_str(&i.to_string()),
        Py::Float(f) => out.push_str(&float_text(*f, o)?),
        Py::Str(s) => write_string(out, s, o.ensure_ascii),
        Py::List(items) | Py::Tuple(items) => {
            if items.is_empty() {
                out.push_str("[]");
                return Ok(());
            }
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                separate(out, i, o, level + 1);
                write_value(out, item, o, level + 1)?;
            }
            close(out, o, level);
            out.push(']');
        }
        Py::Dict(d) => write_dict(out, d, o, level)?,
        other => {
            return Err(type_error(format!(
                "Object of type {} is not JSON serializable",
                other.type_name()
            )))
        }
    }
    Ok(())
}

fn separate(out: &mut String, index: usize, o: &DumpOptions, level: usize) {
    if index > 0 {
        out.push_str(&o.item_separator);
    }
    if let Some(indent) = &o.indent {
        out.push('\n');
        out.push_str(&indent.repeat(level));
    }
}

fn close(out: &mut String, o: &DumpOptions, level: usize) {
    if let Some(indent) = &o.indent {
        out.push('\n');
        out.push_str(&indent.repeat(level));
    }
}

fn write_dict(out: &mut String, d: &Dict, o: &DumpOptions, level: usize) -> Result<(), EvalError> {
    if d.len() == 0 {
        out.push_str("{}");
        return Ok(());
    }
    let mut items: Vec<&(Py, Py)> = d.0.iter().collect();
    if o.sort_keys {
        sort_items(&mut items)?;
    }
    out.push('{');
    for (i, (k, v)) in items.into_iter().enumerate() {
        separate(out, i, o, level + 1);
        let key = match k {
            Py::Str(s) => s.clone(),
            Py::Float(f) => float_text(*f, o)?,
            Py::Bool(b) => b.to_string(),
            Py::Int(i) => i.to_string(),
            Py::None => "null".into(),
            other => {
                return Err(type_error(format!(
                    "keys must be str, int, float, bool or None, not {}",
                    other.type_name()
                )))
            }
        };
        write_string(out, &key, o.ensure_ascii);
        out.push_str(&o.key_separator);
        write_value(out, v, o, level + 1)?;
    }
    close(out, o, level);
    out.push('}');
    Ok(())
}

/// `sorted(d.items())`: keys of different types do not compare (TypeError).
fn sort_items(items: &mut [&(Py, Py)]) -> Result<(), EvalError> {
    let mut failure = None;
    items.sort_by(|a, b| match py_order("<", &a.0, &b.0) {
        Ok(true) => std::cmp::Ordering::Less,
        Ok(false) => match py_order("<", &b.0, &a.0) {
            Ok(true) => std::cmp::Ordering::Greater,
            _ => std::cmp::Ordering::Equal,
        },
        Err(e) => {
            failure.get_or_insert(e);
            std::cmp::Ordering::Equal
        }
    });
    failure.map_or(Ok(()), Err)
}

fn float_text(f: f64, o: &DumpOptions) -> Result<String, EvalError> {
    if f.is_finite() {
        return Ok(float_repr(f));
    }
    if !o.allow_nan {
        return Err(err(
            "ValueError",
            "Out of range float values are not JSON compliant",
        ));
    }
    Ok(if f.is_nan() {
        "NaN"
    } else if f > 0.0 {
        "Infinity"
    } else {
        "-Infinity"
    }
    .into())
}

/// A JSON string as Python writes it: `\"`, `\\`, `\n`, `\r`, `\t`, `\b`, `\f`, other controls as
/// `\u00XX`; with `ensure_ascii` everything outside space..`~` as `\uXXXX` (surrogate pairs).
fn write_string(out: &mut String, s: &str, ensure_ascii: bool) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (ensure_ascii && c as u32 > 0x7e) => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// `json.loads(text)`: ints stay ints, `NaN`/`Infinity` are accepted, a repeated key keeps its
/// first place and its last value.
pub(crate) fn loads(text: &str) -> Result<Py, EvalError> {
    let chars: Vec<char> = text.chars().collect();
    let mut p = JsonParser {
        chars: &chars,
        pos: 0,
    };
    p.skip_ws();
    let value = p.value()?;
    p.skip_ws();
    if p.pos < chars.len() {
        return Err(p.error("Extra data"));
    }
    Ok(value)
}

struct JsonParser<'a> {
    chars: &'a [char],
    pos: usize,
}

impl JsonParser<'_> {
    fn error(&self, what: &str) -> EvalError {
        err("JSONDecodeError", format!("{what}: char {}", self.pos))
    }

    fn skip_ws(&mut self) {
        while matches!(self.chars.get(self.pos), Some(' ' | '\t' | '\n' | '\r')) {
            self.pos += 1;
        }
    }

    fn eat(&mut self, word: &str) -> bool {
        let n = word.chars().count();
        let found = self.chars.len() >= self.pos + n
            && self.chars[self.pos..self.pos + n]
                .iter()
                .copied()
                .eq(word.chars());
        if found {
            self.pos += n;
        }
        found
    }

    fn value(&mut self) -> Result<Py, EvalError> {
        match self.chars.get(self.pos) {
            Some('"') => self.string().map(Py::Str),
            Some('{') => self.object(),
            Some('[') => self.array(),
            _ if self.eat("null") => Ok(Py::None),
            _ if self.eat("true") => Ok(Py::Bool(true)),
            _ if self.eat("false") => Ok(Py::Bool(false)),
            _ if self.eat("NaN") => Ok(Py::Float(f64::NAN)),
            _ if self.eat("Infinity") => Ok(Py::Float(f64::INFINITY)),
            _ if self.eat("-Infinity") => Ok(Py::Float(f64::NEG_INFINITY)),
            Some('-' | '0'..='9') => self.number(),
            _ => Err(self.error("Expecting value")),
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while self.chars.get(self.pos).is_some_and(char::is_ascii_digit) {
            self.pos += 1;
        }
        self.pos - start
    }

    /// `-?(0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)?`: an int without fraction and exponent.
    fn number(&mut self) -> Result<Py, EvalError> {
        let start = self.pos;
        if self.chars[self.pos] == '-' {
            self.pos += 1;
        }
        if self.chars.get(self.pos) == Some(&'0') {
            self.pos += 1;
        } else if self.digits() == 0 {
            self.pos = start;
            return Err(self.error("Expecting value"));
        }
        let mut float = false;
        let mark = self.pos;
        if self.chars.get(self.pos) == Some(&'.') {
            self.pos += 1;
            if self.digits() == 0 {
                self.pos = mark;
            } else {
                float = true;
            }
        }
        let mark = self.pos;
        if matches!(self.chars.get(self.pos), Some('e' | 'E')) {
            self.pos += 1;
            if matches!(self.chars.get(self.pos), Some('+' | '-')) {
                self.pos += 1;
            }
            if self.digits() == 0 {
                self.pos = mark;
            } else {
                float = true;
            }
        }
        let text: String = self.chars[start..self.pos].iter().collect();
        if float {
            return Ok(Py::Float(text.parse().unwrap_or(f64::NAN)));
        }
        text.parse()
            .map(Py::Int)
            .map_err(|_| unsupported("integers beyond 128 bits in json.loads"))
    }

    fn string(&mut self) -> Result<String, EvalError> {
        self.pos += 1;
        let mut out = String::new();
        loop {
            let Some(&c) = self.chars.get(self.pos) else {
                return Err(self.error("Unterminated string starting at"));
            };
            self.pos += 1;
            match c {
                '"' => return Ok(out),
                '\\' => self.escape(&mut out)?,
                c if (c as u32) < 0x20 => return Err(self.error("Invalid control character at")),
                c => out.push(c),
            }
        }
    }

    fn escape(&mut self, out: &mut String) -> Result<(), EvalError> {
        let Some(&c) = self.chars.get(self.pos) else {
            return Err(self.error("Unterminated string starting at"));
        };
        self.pos += 1;
        let simple = match c {
            '"' => '"',
            '\\' => '\\',
            '/' => '/',
            'b' => '\x08',
            'f' => '\x0c',
            'n' => '\n',
            'r' => '\r',
            't' => '\t',
            'u' => {
                let high = self.hex4()?;
                let code = if (0xd800..0xdc00).contains(&high) && self.eat("\\u") {
                    let low = self.hex4()?;
                    if !(0xdc00..0xe000).contains(&low) {
                        return Err(unsupported("lone surrogates in json.loads"));
                    }
                    0x10000 + ((high - 0xd800) << 10) + (low - 0xdc00)
                } else {
                    high
                };
                let ch = char::from_u32(code)
                    .ok_or_else(|| unsupported("lone surrogates in json.loads"))?;
                out.push(ch);
                return Ok(());
            }
            _ => return Err(self.error("Invalid \\escape")),
        };
        out.push(simple);
        Ok(())
    }

    fn hex4(&mut self) -> Result<u32, EvalError> {
        let digits: Option<Vec<u32>> = (0..4)
            .map(|i| self.chars.get(self.pos + i).and_then(|c| c.to_digit(16)))
            .collect();
        let digits = digits.ok_or_else(|| self.error("Invalid \\uXXXX escape"))?;
        self.pos += 4;
        Ok(digits.into_iter().fold(0, |n, d| n * 16 + d))
    }

    fn array(&mut self) -> Result<Py, EvalError> {
        self.pos += 1;
        let mut items = Vec::new();
        self.skip_ws();
        if self.eat("]") {
            return Ok(Py::List(items));
        }
        loop {
            self.skip_ws();
            items.push(self.value()?);
            self.skip_ws();
            if self.eat("]") {
                return Ok(Py::List(items));
            }
            if !self.eat(",") {
                return Err(self.error("Expecting ',' delimiter"));
            }
        }
    }

    fn object(&mut self) -> Result<Py, EvalError> {
        self.pos += 1;
        let mut dict = Dict::default();
        self.skip_ws();
        if self.eat("}") {
            return Ok(Py::Dict(dict));
        }
        loop {
            self.skip_ws();
            if self.chars.get(self.pos) != Some(&'"') {
                return Err(self.error("Expecting property name enclosed in double quotes"));
            }
            let key = self.string()?;
            self.skip_ws();
            if !self.eat(":") {
                return Err(self.error("Expecting ':' delimiter"));
            }
            self.skip_ws();
            let value = self.value()?;
            dict.insert(Py::Str(key), value);
            self.skip_ws();
            if self.eat("}") {
                return Ok(Py::Dict(dict));
            }
            if !self.eat(",") {
                return Err(self.error("Expecting ',' delimiter"));
            }
        }
    }
}
