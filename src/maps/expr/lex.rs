//! Python tokens of one expression: names, numbers, strings (all quote styles, `r`/`u`/`f`
//! prefixes, escapes), operators; comments and line breaks inside brackets are skipped.
use super::ExprError;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    Name(String),
    Int(i128),
    Float(f64),
    /// A string literal; `fstring` when it had the `f` prefix (its text still holds the braces).
    Str {
        text: String,
        fstring: bool,
    },
    Op(&'static str),
    End,
}

/// A token and the 1-based character column where it starts.
#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub(crate) tok: Tok,
    pub(crate) col: usize,
}

pub(crate) fn error(col: usize, message: impl Into<String>) -> ExprError {
    ExprError {
        message: message.into(),
        column: col,
    }
}

const OPERATORS: [&str; 46] = [
    "**=", "//=", ">>=", "<<=", "...", "**", "//", "<<", ">>", "<=", ">=", "==", "!=", "->", ":=",
    "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "@=", "+", "-", "*", "/", "%", "@", "&", "|",
    "^", "~", "<", ">", "(", ")", "[", "]", "{", "}", ",", ":", ".", "=",
];

/// Splits `src` into tokens, ending with [`Tok::End`].
pub(crate) fn tokenize(src: &str) -> Result<Vec<Token>, ExprError> {
    let chars: Vec<char> = src.chars().collect();
    let mut lexer = Lexer {
        chars: &chars,
        pos: 0,
        depth: 0,
        tokens: Vec::new(),
    };
    lexer.run()?;
    Ok(lexer.tokens)
}

struct Lexer<'a> {
    chars: &'a [char],
    pos: usize,
    depth: usize,
    tokens: Vec<Token>,
}

impl Lexer<'_> {
    fn peek(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.pos + ahead).copied()
    }

    fn push(&mut self, tok: Tok, start: usize) {
        self.tokens.push(Token {
            tok,
            col: start + 1,
        });
    }

    fn run(&mut self) -> Result<(), ExprError> {
        if matches!(self.peek(0), Some(' ' | '\t' | '\x0c')) {
            return Err(error(
                1,
                "unexpected indent (Python refuses leading spaces)",
            ));
        }
        while let Some(c) = self.peek(0) {
            let start = self.pos;
            match c {
                ' ' | '\t' | '\x0c' => self.pos += 1,
                '#' => self.skip_comment(),
                '\\' if matches!(self.peek(1), Some('\n')) => self.pos += 2,
                '\\' if self.peek(1) == Some('\r') && self.peek(2) == Some('\n') => self.pos += 3,
                '\n' | '\r' if self.depth > 0 => self.pos += 1,
                '\n' | '\r' | ';' => return self.statement_end(),
                c if c.is_ascii_digit() => self.number()?,
                '.' if self.peek(1).is_some_and(|d| d.is_ascii_digit()) => self.number()?,
                '\'' | '"' => self.string(start, "")?,
                c if c == '_' || c.is_alphabetic() => self.name_or_prefixed_string()?,
                _ => self.operator(start)?,
            }
        }
        self.push(Tok::End, self.pos);
        Ok(())
    }

    fn skip_comment(&mut self) {
        while self.peek(0).is_some_and(|c| c != '\n' && c != '\r') {
            self.pos += 1;
        }
    }

    /// A line break or `;` outside brackets ends the statement: only blank lines and comments may
    /// follow (the SDK would silently use the first statement of several).
    fn statement_end(&mut self) -> Result<(), ExprError> {
        let start = self.pos;
        let semicolon = self.peek(0) == Some(';');
        self.pos += 1;
        while let Some(c) = self.peek(0) {
            match c {
                ' ' | '\t' | '\x0c' | '\n' | '\r' if !semicolon => self.pos += 1,
                '#' if !semicolon => self.skip_comment(),
                _ => {
                    return Err(error(
                        start + 1,
                        "several statements are not supported (one expression only)",
                    ))
                }
            }
        }
        self.push(Tok::End, start);
        Ok(())
    }

    fn operator(&mut self, start: usize) -> Result<(), ExprError> {
        let rest: String = self.chars[self.pos..].iter().take(3).collect();
        let Some(op) = OPERATORS.iter().find(|op| rest.starts_with(**op)) else {
            return Err(error(
                start + 1,
                format!("unexpected character {:?}", self.chars[self.pos]),
            ));
        };
        match *op {
            "(" | "[" | "{" => self.depth += 1,
            ")" | "]" | "}" => self.depth = self.depth.saturating_sub(1),
            _ => {}
        }
        self.pos += op.chars().count();
        self.push(Tok::Op(op), start);
        Ok(())
    }

    fn name_or_prefixed_string(&mut self) -> Result<(), ExprError> {
        let start = self.pos;
        while self
            .peek(0)
            .is_some_and(|c| c == '_' || c.is_alphanumeric())
        {
            self.pos += 1;
        }
        let name: String = self.chars[start..self.pos].iter().collect();
        if matches!(self.peek(0), Some('\'' | '"')) {
            let prefix = name.to_ascii_lowercase();
            if ["r", "u", "f", "b", "br", "rb", "fr", "rf"].contains(&prefix.as_str()) {
                return self.string(start, &prefix);
            }
        }
        self.push(Tok::Name(name), start);
        Ok(())
    }

    fn number(&mut self) -> Result<(), ExprError> {
        let start = self.pos;
        let word = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '.';
        while let Some(c) = self.peek(0) {
            let exponent_sign = (c == '+' || c == '-')
                && matches!(self.chars[self.pos - 1], 'e' | 'E')
                && !self.chars[start..self.pos]
                    .iter()
                    .any(|c| matches!(c, 'x' | 'X' | 'b' | 'B' | 'o' | 'O'));
            if !(word(c) || exponent_sign) {
                break;
            }
            self.pos += 1;
        }
        let text: String = self.chars[start..self.pos].iter().collect();
        let tok = parse_number(&text).map_err(|m| error(start + 1, m))?;
        self.push(tok, start);
        Ok(())
    }

    /// A string literal at `self.pos` (its quote), `prefix` already read from `start`.
    fn string(&mut self, start: usize, prefix: &str) -> Result<(), ExprError> {
        if prefix.contains('b') {
            return Err(error(start + 1, "bytes literals are not supported"));
        }
        let raw = prefix.contains('r');
        let quote = self.chars[self.pos];
        let triple = self.peek(1) == Some(quote) && self.peek(2) == Some(quote);
        self.pos += if triple { 3 } else { 1 };
        let mut text = String::new();
        loop {
            let Some(c) = self.peek(0) else {
                return Err(error(start + 1, "unterminated string literal"));
            };
            if c == quote
                && (!triple || (self.peek(1) == Some(quote) && self.peek(2) == Some(quote)))
            {
                self.pos += if triple { 3 } else { 1 };
                break;
            }
            if (c == '\n' || c == '\r') && !triple {
                return Err(error(start + 1, "unterminated string literal"));
            }
            if c == '\\' {
                let Some(next) = self.peek(1) else {
                    return Err(error(start + 1, "unterminated string literal"));
                };
                if raw {
                    text.push('\\');
                    text.push(next);
                    self.pos += 2;
                } else {
                    let col = self.pos + 1;
                    self.pos += 1;
                    self.escape(&mut text).map_err(|m| error(col, m))?;
                }
                continue;
            }
            text.push(c);
            self.pos += 1;
        }
        let fstring = prefix.contains('f');
        self.push(Tok::Str { text, fstring }, start);
        Ok(())
    }

    /// One escape after its backslash, as Python reads it (an unknown escape keeps the backslash).
    fn escape(&mut self, text: &mut String) -> Result<(), String> {
        let c = self.chars[self.pos];
        self.pos += 1;
        let simple = match c {
            '\n' => Some(None),
            '\r' => {
                if self.peek(0) == Some('\n') {
                    self.pos += 1;
                }
                Some(None)
            }
            '\\' => Some(Some('\\')),
            '\'' => Some(Some('\'')),
            '"' => Some(Some('"')),
            'a' => Some(Some('\x07')),
            'b' => Some(Some('\x08')),
            'f' => Some(Some('\x0c')),
            'n' => Some(Some('\n')),
            'r' => Some(Some('\r')),
            't' => Some(Some('\t')),
            'v' => Some(Some('\x0b')),
            _ => None,
        };
        if let Some(ch) = simple {
            text.extend(ch);
            return Ok(());
        }
        let code = match c {
            '0'..='7' => {
                let mut n = c.to_digit(8).unwrap_or(0);
                for _ in 0..2 {
                    match self.peek(0).and_then(|d| d.to_digit(8)) {
                        Some(d) => {
                            n = n * 8 + d;
                            self.pos += 1;
                        }
                        None => break,
                    }
                }
                n
            }
            'x' => self.hex_digits(2)?,
            'u' => self.hex_digits(4)?,
            'U' => self.hex_digits(8)?,
            'N' => return Err("\\N{...} escapes are not supported".into()),
            other => {
                text.push('\\');
                text.push(other);
                return Ok(());
            }
        };
        let ch = char::from_u32(code)
            .ok_or_else(|| format!("escape \\{c} gives no Unicode scalar value ({code:#x})"))?;
        text.push(ch);
        Ok(())
    }

    fn hex_digits(&mut self, count: usize) -> Result<u32, String> {
        let mut n = 0;
        for _ in 0..count {
            let d = self
                .peek(0)
                .and_then(|d| d.to_digit(16))
                .ok_or("truncated \\x, \\u or \\U escape")?;
            n = n * 16 + d;
            self.pos += 1;
        }
        Ok(n)
    }
}

/// A number literal: decimal, `0x`/`0o`/`0b` ints, floats; `_` between digits.
fn parse_number(text: &str) -> Result<Tok, String> {
    let bad = || format!("invalid number literal {text:?}");
    if text.ends_with(['j', 'J']) {
        return Err("complex numbers are not supported".into());
    }
    if text.starts_with('_') || text.ends_with('_') || text.contains("__") {
        return Err(bad());
    }
    let clean = text.replace('_', "");
    let radix = match clean.get(..2).map(str::to_ascii_lowercase).as_deref() {
        Some("0x") => 16,
        Some("0o") => 8,
        Some("0b") => 2,
        _ => 10,
    };
    if radix != 10 {
        let digits = &clean[2..];
        if digits.is_empty() {
            return Err(bad());
        }
        return i128::from_str_radix(digits, radix)
            .map(Tok::Int)
            .map_err(|_| int_error(digits, radix));
    }
    if clean.bytes().all(|b| b.is_ascii_digit()) {
        if clean.len() > 1 && clean.starts_with('0') && clean.bytes().any(|b| b != b'0') {
            return Err("leading zeros in decimal integer literals are not permitted".into());
        }
        return clean
            .parse()
            .map(Tok::Int)
            .map_err(|_| int_error(&clean, 10));
    }
    let valid = clean
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'));
    match clean.parse::<f64>() {
        Ok(f) if valid && !text.contains("_.") && !text.contains("._") => Ok(Tok::Float(f)),
        _ => Err(bad()),
    }
}

fn int_error(digits: &str, radix: u32) -> String {
    if digits.chars().all(|c| c.is_digit(radix)) {
        "integer literals beyond 128 bits are not supported".into()
    } else {
        format!("invalid digit in a base-{radix} literal {digits:?}")
    }
}
