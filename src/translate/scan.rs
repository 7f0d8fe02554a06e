//! The fast path of the reader: one pass over a line that validates it as JSON and finds what a
//! RECORD carries (stream, namespace, the raw `data` object, `emitted_at`), without building
//! anything. It covers the line connectors write millions of times, in the form they write it:
//!
//! `{"type":"RECORD","record":{"stream":"s","data":{…},"emitted_at":1700000000000}}`
//!
//! in any key order, with or without spaces, with other keys inside `record`. Anything else (other
//! message types, escapes in the keys or names the tap reads, a fractional `emitted_at`, tabs or
//! other control bytes anywhere, deep nesting, invalid JSON) gives `None`, and the reader reads the
//! line the general way ([`super::airbyte::Envelope`], serde_json), which decides it exactly: this
//! scanner says `Some` only for lines that serde_json reads without error into the same fields
//! (`tests` hold it to that on the corpus and on random mutations of it).
//!
//! Strings are skipped with `memchr2` (SIMD) to their closing quote or next escape; a line holding
//! no byte below 0x20 (checked first, in a loop the compiler vectorizes) cannot hold a control
//! character inside a string, so that check is not repeated per string.
use memchr::memchr2;

/// What the reader needs of a RECORD line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    pub stream: &'a str,
    pub namespace: Option<&'a str>,
    /// The `data` object, exactly as written (valid UTF-8).
    pub data: &'a [u8],
    /// `emitted_at` in milliseconds, as the general path reads it (`f64` then `as i64`).
    pub emitted_at: Option<i64>,
}

/// Nesting beyond this is left to the general path (serde_json's own limit is 128).
const MAX_DEPTH: u32 = 100;

/// The RECORD in `line` (a whole line, without its newline), when it is valid JSON in the plain
/// form; `None` otherwise (see the module's documentation).
pub fn record(b: &[u8]) -> Option<Record<'_>> {
    match classify(b) {
        Bytes::Ascii => {}
        // UTF-8 validated once for the line, not per string.
        Bytes::NonAscii => {
            std::str::from_utf8(b).ok()?;
        }
        Bytes::Control => return None,
    }
    let mut s = Scan { b, i: 0, depth: 0 };
    let (mut kind, mut record) = (None, None);
    s.ws();
    if s.b.get(s.i) != Some(&b'{') {
        return None;
    }
    s.fields(|s, key| {
        match key {
            b"type" if kind.is_none() => kind = Some(s.plain_string()?),
            b"record" if record.is_none() => record = Some(s.record()?),
            _ => return None,
        }
        Some(())
    })?;
    s.ws();
    if s.i != b.len() || kind? != b"RECORD" {
        return None;
    }
    let (stream, namespace, data, emitted_at) = record?;
    // Spans of a valid UTF-8 line that start and end at ASCII quotes or braces: valid UTF-8.
    let text = |(from, to): (usize, usize)| std::str::from_utf8(&b[from..to]).ok();
    Some(Record {
        stream: text(stream)?,
        namespace: match namespace {
            Some(span) => Some(text(span)?),
            None => None,
        },
        data: &b[data.0..data.1],
        emitted_at,
    })
}

enum Bytes {
    Ascii,
    NonAscii,
    /// A byte below 0x20 (control characters, tabs and line breaks included).
    Control,
}

fn classify(b: &[u8]) -> Bytes {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    // 8 bytes at a time in a register: a byte below 0x20 borrows into its high bit when 0x20 is
    // taken from it (a byte with its own high bit set does not count); `any` keeps high bits.
    let (mut control, mut any) = (0u64, 0u64);
    let mut words = b.chunks_exact(8);
    for w in &mut words {
        let w = u64::from_le_bytes(w.try_into().expect("8 bytes"));
        control |= w.wrapping_sub(ONES * 0x20) & !w;
        any |= w;
    }
    let mut last = [b' '; 8];
    last[..words.remainder().len()].copy_from_slice(words.remainder());
    let w = u64::from_le_bytes(last);
    control |= w.wrapping_sub(ONES * 0x20) & !w;
    any |= w;
    if control & HIGHS != 0 {
        Bytes::Control
    } else if any & HIGHS != 0 {
        Bytes::NonAscii
    } else {
        Bytes::Ascii
    }
}

/// The first `"` or `\` in `b`. Most strings in a record are short (keys, ids, timestamps): the
/// first 32 bytes are searched 8 at a time in a register, the rest with `memchr2` (SIMD), whose
/// set-up costs more than a short string does.
#[inline(always)]
fn quote_or_backslash(b: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let mut at = 0;
    while at + 8 <= b.len().min(32) {
        let word = u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"));
        let quote = word ^ (ONES * u64::from(b'"'));
        let backslash = word ^ (ONES * u64::from(b'\\'));
        // A byte of `quote` or `backslash` is zero where `word` holds that character; the lowest
        // flagged byte is the first match (the trick can flag bytes above a match, never below).
        let zero =
            (quote.wrapping_sub(ONES) & !quote | backslash.wrapping_sub(ONES) & !backslash) & HIGHS;
        if zero != 0 {
            return Some(at + zero.trailing_zeros() as usize / 8);
        }
        at += 8;
    }
    memchr2(b'"', b'\\', &b[at..]).map(|i| at + i)
}

type Span = (usize, usize);

struct Scan<'a> {
    b: &'a [u8],
    i: usize,
    depth: u32,
}

impl<'a> Scan<'a> {
    /// Spaces only: a line with tabs or line breaks never gets here. Where the next byte is read
    /// anyway (`eat`, `value`, after a member) spaces are skipped there instead, at no cost when
    /// there are none.
    #[inline(always)]
    fn ws(&mut self) {
        while self.b.get(self.i) == Some(&b' ') {
            self.i += 1;
        }
    }

    #[inline(always)]
    fn next(&mut self) -> Option<u8> {
        let c = *self.b.get(self.i)?;
        self.i += 1;
        Some(c)
    }

    /// `c`, after any spaces.
    #[inline(always)]
    fn eat(&mut self, c: u8) -> Option<()> {
        match self.next()? {
            x if x == c => Some(()),
            b' ' => (self.after_spaces()? == c).then_some(()),
            _ => None,
        }
    }

    /// The byte after the spaces that follow a space just read. Out of line: a loop here, even
    /// one never taken, costs the common path more than a call on the rare one.
    #[cold]
    #[inline(never)]
    fn after_spaces(&mut self) -> Option<u8> {
        self.ws();
        self.next()
    }

    /// A string without escapes; its contents.
    #[inline(always)]
    fn plain_string(&mut self) -> Option<&'a [u8]> {
        let (from, to) = self.string_span()?;
        Some(&self.b[from..to])
    }

    #[inline(always)]
    fn string_span(&mut self) -> Option<Span> {
        let (span, escaped) = self.string()?;
        (!escaped).then_some(span)
    }

    /// A string (after any spaces); its contents' span and whether it holds escapes.
    #[inline(always)]
    fn string(&mut self) -> Option<(Span, bool)> {
        self.eat(b'"')?;
        let from = self.i;
        let mut escaped = false;
        loop {
            let at = self.i + quote_or_backslash(&self.b[self.i..])?;
            if self.b[at] == b'"' {
                self.i = at + 1;
                return Some(((from, at), escaped));
            }
            escaped = true;
            self.i = at + 1;
            match self.next()? {
                b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => {}
                b'u' => {
                    let hex = self.b.get(self.i..self.i + 4)?;
                    if !hex.iter().all(u8::is_ascii_hexdigit) {
                        return None;
                    }
                    self.i += 4;
                }
                _ => return None,
            }
        }
    }

    /// Any JSON value (after any spaces), validated and skipped. Inlined into the loops of
    /// `object` and `array`, so only nested containers cost a call.
    #[inline(always)]
    fn value(&mut self) -> Option<()> {
        match *self.b.get(self.i)? {
            b' ' => self.spaced_value(),
            b'{' => self.object(),
            b'[' => self.array(),
            b'"' => self.string().map(drop),
            b'-' | b'0'..=b'9' => self.number().map(drop),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            _ => None,
        }
    }

    /// A value after spaces, out of line (see `after_spaces`).
    #[cold]
    #[inline(never)]
    fn spaced_value(&mut self) -> Option<()> {
        self.ws();
        self.value()
    }

    #[inline(always)]
    fn literal(&mut self, word: &[u8]) -> Option<()> {
        if self.b.get(self.i..self.i + word.len())? != word {
            return None;
        }
        self.i += word.len();
        Some(())
    }

    #[inline(always)]
    fn enter(&mut self) -> Option<()> {
        self.depth += 1;
        (self.depth <= MAX_DEPTH).then_some(())
    }

    /// `{…}` or `[…]` (at its opening character): `member` reads each member; members are
    /// separated by commas and the container ends with `close`.
    #[inline(always)]
    fn members(
        &mut self,
        close: u8,
        mut member: impl FnMut(&mut Self) -> Option<()>,
    ) -> Option<()> {
        self.enter()?;
        self.i += 1;
        self.ws();
        if self.b.get(self.i) == Some(&close) {
            self.i += 1;
        } else {
            loop {
                member(self)?;
                match self.next()? {
                    b',' => {}
                    c if c == close => break,
                    b' ' => match self.after_spaces()? {
                        b',' => {}
                        c if c == close => break,
                        _ => return None,
                    },
                    _ => return None,
                }
            }
        }
        self.depth -= 1;
        Some(())
    }

    /// The members of an envelope object (at its `{`): `field` gets each key, after the colon
    /// and any spaces, and reads the value. A key with escapes is left to the general path.
    #[inline(always)]
    fn fields(&mut self, mut field: impl FnMut(&mut Self, &'a [u8]) -> Option<()>) -> Option<()> {
        self.members(b'}', |s| {
            let ((from, to), escaped) = s.string()?;
            if escaped {
                return None;
            }
            s.eat(b':')?;
            s.ws();
            let b = s.b;
            field(s, &b[from..to])
        })
    }

    fn object(&mut self) -> Option<()> {
        // The key is only validated: no span of it is taken.
        self.members(b'}', |s| {
            s.string()?;
            s.eat(b':')?;
            s.value()
        })
    }

    fn array(&mut self) -> Option<()> {
        self.members(b']', Self::value)
    }

    /// A number as JSON writes it; whether it is an integer (no fraction, no exponent).
    #[inline(always)]
    fn number(&mut self) -> Option<bool> {
        if self.b.get(self.i) == Some(&b'-') {
            self.i += 1;
        }
        match *self.b.get(self.i)? {
            b'0' => self.i += 1,
            b'1'..=b'9' => self.digits(),
            _ => return None,
        }
        let mut integer = true;
        if self.b.get(self.i) == Some(&b'.') {
            self.i += 1;
            self.some_digits()?;
            integer = false;
        }
        if matches!(self.b.get(self.i), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.b.get(self.i), Some(b'+' | b'-')) {
                self.i += 1;
            }
            self.some_digits()?;
            integer = false;
        }
        Some(integer)
    }

    #[inline(always)]
    fn digits(&mut self) {
        while self.b.get(self.i).is_some_and(u8::is_ascii_digit) {
            self.i += 1;
        }
    }

    fn some_digits(&mut self) -> Option<()> {
        let from = self.i;
        self.digits();
        (self.i > from).then_some(())
    }

    /// The `record` object: stream, namespace, data (an object) and emitted_at; other keys are
    /// validated and skipped, as the general path ignores them.
    #[allow(clippy::type_complexity)]
    fn record(&mut self) -> Option<(Span, Option<Span>, Span, Option<i64>)> {
        if self.b.get(self.i) != Some(&b'{') {
            return None;
        }
        let (mut stream, mut namespace, mut data, mut emitted_at) = (None, None, None, None);
        self.fields(|s, key| {
            match key {
                b"stream" if stream.is_none() => stream = Some(s.string_span()?),
                b"namespace" if namespace.is_none() => {
                    namespace = Some(s.null_or(Self::string_span)?)
                }
                b"data" if data.is_none() => {
                    if s.b.get(s.i) != Some(&b'{') {
                        return None;
                    }
                    let from = s.i;
                    s.object()?;
                    data = Some((from, s.i));
                }
                b"emitted_at" if emitted_at.is_none() => {
                    emitted_at = Some(s.null_or(Self::millis)?)
                }
                b"stream" | b"namespace" | b"data" | b"emitted_at" => return None,
                _ => s.value()?,
            }
            Some(())
        })?;
        Some((stream?, namespace.flatten(), data?, emitted_at.flatten()))
    }

    /// `null` (`Some(None)`) or what `read` reads.
    #[inline(always)]
    fn null_or<T>(&mut self, read: impl FnOnce(&mut Self) -> Option<T>) -> Option<Option<T>> {
        if self.b.get(self.i) == Some(&b'n') {
            self.literal(b"null")?;
            Some(None)
        } else {
            read(self).map(Some)
        }
    }

    /// An integer `emitted_at` of at most 18 digits, as the general path reads it (through f64).
    /// Digits are checked and summed in one pass; what `number` reads otherwise (a leading zero
    /// before more digits, a fraction, an exponent, no digit) is left to the general path.
    fn millis(&mut self) -> Option<i64> {
        let negative = self.b.get(self.i) == Some(&b'-');
        let from = self.i + usize::from(negative);
        let rest = self.b.get(from..)?;
        let (mut n, mut digits) = (0i64, 0);
        for &d in rest {
            if !d.is_ascii_digit() {
                break;
            }
            n = n.wrapping_mul(10).wrapping_add(i64::from(d - b'0'));
            digits += 1;
        }
        if digits == 0
            || digits > 18
            || (digits > 1 && rest[0] == b'0')
            || matches!(rest.get(digits), Some(b'.' | b'e' | b'E'))
        {
            return None;
        }
        self.i = from + digits;
        Some((if negative { -n } else { n }) as f64 as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::translate::airbyte::Envelope;

    /// What the general path reads from a line, in the scanner's terms (None: not a RECORD it
    /// reads without error).
    fn general(line: &str) -> Option<Record<'static>> {
        let e: Envelope = serde_json::from_str(line).ok()?;
        let r = e.record?;
        if e.kind != "RECORD" || !r.data.get().starts_with('{') {
            return None;
        }
        let leak = |s: std::borrow::Cow<'_, str>| -> &'static str {
            Box::leak(s.into_owned().into_boxed_str())
        };
        Some(Record {
            stream: leak(r.stream),
            namespace: r.namespace.map(leak),
            data: leak(r.data.get().into()).as_bytes(),
            emitted_at: r.emitted_at.map(|f| f as i64),
        })
    }

    fn same(line: &[u8]) {
        let Ok(text) = std::str::from_utf8(line) else {
            assert_eq!(record(line), None);
            return;
        };
        if let Some(fast) = record(line) {
            assert_eq!(Some(fast), general(text), "{text}");
        }
    }

    #[test]
    fn reads_the_plain_record_in_any_key_order_and_spacing() {
        let lines = [
            r#"{"type":"RECORD","record":{"stream":"users","data":{"id":1,"n":[1.5e3,-0,true,null,{"a":"\"x\\u00e9"}]},"emitted_at":1700000000000}}"#,
            r#" { "record" : { "emitted_at" : 5 , "data" : { } , "namespace" : "public" , "stream" : "s" , "meta" : {"x":[[]]} } , "type" : "RECORD" } "#,
            r#"{"type":"RECORD","record":{"stream":"s","namespace":null,"data":{"k":"é ☃"},"emitted_at":null}}"#,
        ];
        for line in lines {
            let fast = record(line.as_bytes()).unwrap_or_else(|| panic!("not read: {line}"));
            assert_eq!(Some(fast), general(line));
        }
        let r = record(lines[1].as_bytes()).unwrap();
        assert_eq!(
            (r.stream, r.namespace, r.data, r.emitted_at),
            ("s", Some("public"), &b"{ }"[..], Some(5))
        );
    }

    #[test]
    fn finds_the_first_quote_or_backslash_at_every_position() {
        for len in 0..80 {
            for at in 0..=len {
                for c in [b'"', b'\\'] {
                    // Bytes on both sides of the characters, high bit set included.
                    let mut b: Vec<u8> = (0..len)
                        .map(|i| [b'a', 0xc3, b'!', b'#', 0x5b, 0x5d][i % 6])
                        .collect();
                    if at < len {
                        b[at] = c;
                        if at + 1 < len {
                            b[at + 1] = b'"';
                        }
                    }
                    let want = b.iter().position(|&x| x == b'"' || x == b'\\');
                    assert_eq!(quote_or_backslash(&b), want, "len {len} at {at}");
                }
            }
        }
    }

    #[test]
    fn classifies_every_byte_at_every_position() {
        for len in 1..40 {
            for at in 0..len {
                for x in 0..=255u8 {
                    let mut b = vec![b'a'; len];
                    b[at] = x;
                    let want = match x {
                        0..0x20 => "control",
                        0x80.. => "non-ascii",
                        _ => "ascii",
                    };
                    let got = match classify(&b) {
                        Bytes::Control => "control",
                        Bytes::NonAscii => "non-ascii",
                        Bytes::Ascii => "ascii",
                    };
                    assert_eq!(got, want, "{x:#x} at {at} of {len}");
                }
            }
        }
        // A control byte after a high one is still found.
        assert!(matches!(classify(b"\xc3\xa9\x01abc"), Bytes::Control));
    }

    #[test]
    fn leaves_everything_else_to_the_general_path() {
        for line in [
            r#"{"type":"STATE","state":{}}"#,
            r#"{"type":"RECORD","record":{"stream":"s","data":{"a":1	}}}"#,
            r#"{"type":"RECORD","record":{"stream":"s\u0041","data":{}}}"#,
            r#"{"type":"RECORD","record":{"stream":"s","data":{},"emitted_at":1.5}}"#,
            r#"{"type":"RECORD","record":{"stream":"s","data":[]}}"#,
            r#"{"type":"RECORD","record":{"stream":"s","stream":"t","data":{}}}"#,
            r#"{"type":"RECORD","record":{"stream":"s","data":{}},"log":1}"#,
            r#"{"type":"RECORD","record":{"stream":"s","data":{"a":01}}}"#,
            r#"{"type":"RECORD","record":{"stream":"s","data":{"a":1}}} x"#,
            r#"{"type":"RECORD","record":{"stream":"s","data":{"a":"\x"}}}"#,
            r#"{"type":"RECORD","record":{"stream":"s","data":{"a":tru}}}"#,
            r#"{"type":"RECORD","record":{"data":{}}}"#,
            r#"{"type":"RECORD","record":{"stream":"s","data":{"a":1,}}}"#,
        ] {
            assert_eq!(record(line.as_bytes()), None, "{line}");
        }
        let deep = format!(
            r#"{{"type":"RECORD","record":{{"stream":"s","data":{{"a":{}{}}}}}}}"#,
            "[".repeat(120),
            "]".repeat(120)
        );
        assert_eq!(record(deep.as_bytes()), None);
    }

    #[test]
    fn agrees_with_the_general_path_on_the_corpus_and_every_cut_and_byte_change() {
        let mut corpus = Vec::new();
        for f in [
            "faker-read",
            "edge-cases",
            "reliability",
            "scripted-damaged-torn",
        ] {
            corpus.extend(std::fs::read(format!("tests/corpus/{f}.jsonl")).unwrap());
            corpus.push(b'\n');
        }
        let mut read = 0;
        let records = corpus
            .split(|&b| b == b'\n')
            .filter(|l| memchr::memmem::find(l, b"RECORD").is_some());
        for line in records {
            read += usize::from(record(line).is_some());
            same(line);
            for at in 0..line.len() {
                same(&line[..at]);
                // Structure, escapes, numbers, control and non-ASCII bytes (0xc3 alone is not UTF-8).
                for with in [
                    b' ', b'"', b'\\', b'{', b'}', b'[', b']', b',', b':', b'0', b'-', b'e', b'.',
                    b'x', b'\t', 0x01, 0xc3, 0x80,
                ] {
                    let mut changed = line.to_vec();
                    changed[at] = with;
                    same(&changed);
                    let mut inserted = line.to_vec();
                    inserted.insert(at, with);
                    same(&inserted);
                }
                let mut accented = line.to_vec();
                accented.splice(at..at, "é".bytes());
                same(&accented);
            }
        }
        assert!(read >= 15, "the fast path read {read} corpus records");
    }
}
