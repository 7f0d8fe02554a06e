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
//! Strings are skipped to their closing quote or next escape with a mask of the quotes and
//! backslashes of each 64-byte block, found 16 bytes at a time (SIMD) when a string is first read
//! in the block. A line holding no byte below 0x20 (checked first, also 16 bytes at a time) cannot
//! hold a control character inside a string, so that check is not repeated per string.
use wide::u8x16;

/// What the reader needs of a RECORD line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    /// The stream's name and namespace, valid UTF-8 (left as bytes: the reader compares them with
    /// the synced streams' names, and most records are of the stream before them).
    pub stream: &'a [u8],
    pub namespace: Option<&'a [u8]>,
    /// The `data` object, exactly as written (valid UTF-8).
    pub data: &'a [u8],
    /// `emitted_at` in milliseconds, as the general path reads it (`f64` then `as i64`).
    pub emitted_at: Option<i64>,
}

/// How a RECORD line starts when a connector writes it plainly (`type` first, no spaces).
const PLAIN: &[u8] = br#"{"type":"RECORD","record":"#;

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
    let mut s = Scan {
        b,
        i: 0,
        depth: 0,
        base: 0,
        marks: marks(b, 0),
    };
    let (stream, namespace, data, emitted_at) = if b.starts_with(PLAIN) {
        // The form connectors write: read as the general loop below would, without its keys.
        s.i = PLAIN.len();
        s.depth = 1;
        s.ws();
        let record = s.record()?;
        s.eat(b'}')?;
        s.ws();
        if s.i != b.len() {
            return None;
        }
        record
    } else {
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
        record?
    };
    // Spans of a valid UTF-8 line that start and end at ASCII quotes or braces: valid UTF-8.
    let span = |(from, to): Span| &b[from..to];
    Some(Record {
        stream: span(stream),
        namespace: namespace.map(span),
        data: span(data),
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
    // 16 bytes at a time (SIMD): `0x20 - byte`, saturating, is non-zero only below 0x20; `any`
    // keeps high bits. Both only gather bits, so the last 16 bytes may overlap bytes already seen.
    let (mut control, mut any) = (u8x16::splat(0), u8x16::splat(0));
    let mut gather = |block: &[u8; 16]| {
        let v = u8x16::new(*block);
        control |= u8x16::splat(0x20).saturating_sub(v);
        any |= v;
    };
    let mut blocks = b.chunks_exact(16);
    for block in &mut blocks {
        gather(block.try_into().expect("16 bytes"));
    }
    if !blocks.remainder().is_empty() {
        match b.last_chunk::<16>() {
            Some(last) => gather(last),
            None => {
                let mut padded = [b' '; 16];
                padded[..b.len()].copy_from_slice(b);
                gather(&padded);
            }
        }
    }
    if control.simd_eq(u8x16::splat(0)).to_bitmask() != 0xffff {
        Bytes::Control
    } else if any.to_bitmask() != 0 {
        Bytes::NonAscii
    } else {
        Bytes::Ascii
    }
}

/// Bit `k` set where `b[at + k]` is `"` or `\`, for the 64 bytes from `at` (bytes past the end
/// of the line count as neither).
#[inline]
fn marks(b: &[u8], at: usize) -> u64 {
    if let Some(block) = b.get(at..).and_then(<[u8]>::first_chunk::<64>) {
        return marks_of(block);
    }
    // The line's last 64 bytes, without those before `at`: no copy (most lines are longer).
    if let Some(last) = b.last_chunk::<64>() {
        // (`at` may be the end of the line: no bits then.)
        return marks_of(last)
            .checked_shr((at - (b.len() - 64)) as u32)
            .unwrap_or(0);
    }
    let mut padded = [0u8; 64];
    padded[..b.len() - at].copy_from_slice(&b[at..]);
    marks_of(&padded)
}

/// Bit `k` set where `block[k]` is `"` or `\`: 16 bytes per SIMD comparison (SSE2 on x86_64,
/// NEON on aarch64).
#[inline(always)]
fn marks_of(block: &[u8; 64]) -> u64 {
    let mut found = 0u64;
    for (k, lane) in block.chunks_exact(16).enumerate() {
        let v = u8x16::new(lane.try_into().expect("16 bytes"));
        let hit = v.simd_eq(u8x16::splat(b'"')) | v.simd_eq(u8x16::splat(b'\\'));
        found |= u64::from(hit.to_bitmask()) << (16 * k);
    }
    found
}

type Span = (usize, usize);

/// The keys of the `record` object the reader takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    Stream,
    Namespace,
    Data,
    EmittedAt,
    Other,
}

impl Key {
    fn of(key: &[u8]) -> Key {
        match key {
            b"stream" => Key::Stream,
            b"namespace" => Key::Namespace,
            b"data" => Key::Data,
            b"emitted_at" => Key::EmittedAt,
            _ => Key::Other,
        }
    }
}

struct Scan<'a> {
    b: &'a [u8],
    i: usize,
    depth: u32,
    /// The quotes and backslashes of the 64 bytes from `base` ([`marks`]), a multiple of 64 at or
    /// before `i`: the scan only moves forward, so each block is looked at once, and only when a
    /// string is read in it.
    base: usize,
    marks: u64,
}

impl<'a> Scan<'a> {
    /// The first `"` or `\` at or after `i`.
    #[inline(always)]
    fn quote_or_backslash(&mut self) -> Option<usize> {
        let at = self.i;
        debug_assert!(self.base <= at, "the scan moves forward only");
        let mut off = at - self.base;
        if off >= 64 {
            self.base = at & !63;
            self.marks = marks(self.b, self.base);
            off = at - self.base;
        }
        let ahead = self.marks >> off;
        if ahead != 0 {
            return Some(at + ahead.trailing_zeros() as usize);
        }
        self.next_marks()
    }

    /// The first `"` or `\` in the blocks after `base`.
    #[inline(never)]
    fn next_marks(&mut self) -> Option<usize> {
        loop {
            self.base += 64;
            if self.base >= self.b.len() {
                return None;
            }
            self.marks = marks(self.b, self.base);
            if self.marks != 0 {
                return Some(self.base + self.marks.trailing_zeros() as usize);
            }
        }
    }

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
            let at = self.quote_or_backslash()?;
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
            let key = s.key()?;
            s.ws();
            field(s, key)
        })
    }

    /// A key without escapes (after any spaces) and its colon; the key's contents.
    #[inline(always)]
    fn key(&mut self) -> Option<&'a [u8]> {
        let ((from, to), escaped) = self.string()?;
        if escaped {
            return None;
        }
        self.eat(b':')?;
        Some(&self.b[from..to])
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
        self.members(b'}', |s| {
            let key = match s.known_key() {
                Some(key) => key,
                None => Key::of(s.key()?),
            };
            s.ws();
            match key {
                Key::Stream if stream.is_none() => stream = Some(s.string_span()?),
                Key::Namespace if namespace.is_none() => {
                    namespace = Some(s.null_or(Self::string_span)?)
                }
                Key::Data if data.is_none() => {
                    if s.b.get(s.i) != Some(&b'{') {
                        return None;
                    }
                    let from = s.i;
                    s.object()?;
                    data = Some((from, s.i));
                }
                Key::EmittedAt if emitted_at.is_none() => {
                    emitted_at = Some(s.null_or(Self::millis)?)
                }
                Key::Other => s.value()?,
                // A key given twice.
                _ => return None,
            }
            Some(())
        })?;
        Some((stream?, namespace.flatten(), data?, emitted_at.flatten()))
    }

    /// At `"stream":`, `"data":` or `"emitted_at":` as connectors write them (no escapes, no space
    /// before the colon): that key, and the scan moves past the colon. A prefix comparison per
    /// known key (at most three) instead of reading the key as a string; any other key is then
    /// read the general way.
    #[inline(always)]
    fn known_key(&mut self) -> Option<Key> {
        const KNOWN: [(&[u8], Key); 3] = [
            (br#""stream":"#, Key::Stream),
            (br#""data":"#, Key::Data),
            (br#""emitted_at":"#, Key::EmittedAt),
        ];
        let rest = self.b.get(self.i..)?;
        for (quoted, key) in KNOWN {
            if rest.starts_with(quoted) {
                self.i += quoted.len();
                return Some(key);
            }
        }
        None
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

    /// An integer `emitted_at` of at most 15 digits, as the general path reads it (through f64,
    /// exact below 2^53). The digits are found 16 bytes at a time and summed 8 at a time; what
    /// `number` reads otherwise (a leading zero before more digits, a fraction, an exponent, no
    /// digit) and longer numbers are left to the general path.
    fn millis(&mut self) -> Option<i64> {
        let negative = self.b.get(self.i) == Some(&b'-');
        let from = self.i + usize::from(negative);
        let bytes = block16(self.b, from);
        let values = u8x16::new(bytes) - u8x16::splat(b'0');
        let digit = values.min(u8x16::splat(9)).simd_eq(values);
        let digits = (!digit.to_bitmask()).trailing_zeros() as usize;
        if digits == 0
            || digits > 15
            || (digits > 1 && bytes[0] == b'0')
            || matches!(self.b.get(from + digits), Some(b'.' | b'e' | b'E'))
        {
            return None;
        }
        let values = values.to_array();
        let word = |k: usize| u64::from_le_bytes(values[k..k + 8].try_into().expect("8 bytes"));
        // The last `n` digits of a word moved up to its end: the bytes after them fall off, zeros
        // (leading zeros) come in before them.
        let last = |w: u64, n: usize| if n == 8 { w } else { w << (8 * (8 - n)) };
        let n = if digits <= 8 {
            eight_digits(last(word(0), digits))
        } else {
            const SCALE: [u64; 8] = [1, 10, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000];
            eight_digits(word(0)) * SCALE[digits - 8] + eight_digits(last(word(8), digits - 8))
        } as i64;
        self.i = from + digits;
        Some(if negative { -n } else { n })
    }
}

/// The 16 bytes of `b` from `at`, zeros past its end.
#[inline(always)]
fn block16(b: &[u8], at: usize) -> [u8; 16] {
    let rest = b.get(at..).unwrap_or_default();
    match rest.first_chunk::<16>() {
        Some(block) => *block,
        None => {
            let mut padded = [0u8; 16];
            padded[..rest.len()].copy_from_slice(rest);
            padded
        }
    }
}

/// The number written by 8 decimal digits (values 0 to 9, the first in the lowest byte): pairs,
/// then fours, then all eight, each step one multiplication.
#[inline(always)]
fn eight_digits(w: u64) -> u64 {
    let w = (w * 10 + (w >> 8)) & 0x00ff_00ff_00ff_00ff;
    let w = (w * 100 + (w >> 16)) & 0x0000_ffff_0000_ffff;
    (w * 10_000 + (w >> 32)) & 0xffff_ffff
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::translate::airbyte::Envelope;

    /// A scan of `b` from `i`, as `record` starts one (the first block's marks taken).
    fn scan_at(b: &[u8], i: usize) -> Scan<'_> {
        Scan {
            b,
            i,
            depth: 0,
            base: 0,
            marks: marks(b, 0),
        }
    }

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
            stream: leak(r.stream).as_bytes(),
            namespace: r.namespace.map(|n| leak(n).as_bytes()),
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
            r#"{"type":"RECORD","record": {"stream":"s","data":{}} } "#,
        ];
        for line in lines {
            let fast = record(line.as_bytes()).unwrap_or_else(|| panic!("not read: {line}"));
            assert_eq!(Some(fast), general(line));
        }
        let r = record(lines[1].as_bytes()).unwrap();
        assert_eq!(
            (r.stream, r.namespace, r.data, r.emitted_at),
            (&b"s"[..], Some(&b"public"[..]), &b"{ }"[..], Some(5))
        );
    }

    #[test]
    fn finds_every_quote_and_backslash_in_order_from_every_position() {
        for len in 0..200 {
            for at in 0..=len {
                for c in [b'"', b'\\'] {
                    // Bytes on both sides of the characters, high bit set included, and the
                    // characters again further on (across block boundaries for the longer lines).
                    let mut b: Vec<u8> = (0..len)
                        .map(|i| [b'a', 0xc3, b'!', b'#', 0x5b, 0x5d, 0x22 ^ 0x80][i % 7])
                        .collect();
                    for k in [at, at + 1, at + 63, at + 64, at + 130] {
                        if k < len {
                            b[k] = if k == at { c } else { b'"' };
                        }
                    }
                    let want: Vec<usize> = (0..len)
                        .filter(|&i| b[i] == b'"' || b[i] == b'\\')
                        .collect();
                    // From the start of the line, each found one after the other as a scan does.
                    let mut s = scan_at(&b, 0);
                    let mut got = vec![];
                    while let Some(i) = s.quote_or_backslash() {
                        got.push(i);
                        s.i = i + 1;
                    }
                    assert_eq!(got, want, "len {len} at {at}");
                    // From a position far into the line, first.
                    let mut s = scan_at(&b, at);
                    let first = want.iter().copied().find(|&i| i >= at);
                    assert_eq!(s.quote_or_backslash(), first, "len {len} from {at}");
                }
            }
        }
    }

    #[test]
    fn reads_emitted_at_of_every_length_and_sign() {
        for (n, want) in [
            ("0", Some(0)),
            ("-0", Some(0)),
            ("-", None),
            ("-00", None),
            ("00", None),
        ] {
            let mut s = scan_at(n.as_bytes(), 0);
            assert_eq!(s.millis(), want, "{n}");
            let line = format!(
                r#"{{"type":"RECORD","record":{{"stream":"s","data":{{}},"emitted_at":{n}}}}}"#
            );
            same(line.as_bytes());
        }
        let digits = "9081726354637281902";
        for len in 1..=digits.len() {
            for lead in ["", "1", "9", "0"] {
                for sign in ["", "-"] {
                    let n = format!("{sign}{lead}{}", &digits[..len]);
                    for after in ["}}", "}} ", ".5}}", "e3}}", "E3}}", ",\"x\":1}}"] {
                        let line = format!(
                            r#"{{"type":"RECORD","record":{{"stream":"s","data":{{}},"emitted_at":{n}{after}"#
                        );
                        same(line.as_bytes());
                        let plain = after.starts_with('}') || after.starts_with(',');
                        let written = lead.len() + len;
                        if plain && written <= 15 && lead != "0" {
                            let want: i64 = n.parse().unwrap();
                            assert_eq!(
                                record(line.as_bytes()).unwrap().emitted_at,
                                Some(want),
                                "{line}"
                            );
                        }
                    }
                    // At the very end of the input, nothing after the digits.
                    let line = format!(
                        r#"{{"type":"RECORD","record":{{"stream":"s","data":{{}},"emitted_at":{n}"#
                    );
                    assert_eq!(record(line.as_bytes()), None);
                    let mut s = scan_at(n.as_bytes(), 0);
                    if lead != "0" && lead.len() + len <= 15 {
                        assert_eq!(s.millis(), Some(n.parse().unwrap()), "{n}");
                    } else {
                        assert_eq!(s.millis(), None, "{n}");
                    }
                    // A fraction or an exponent after the digits: not an integer.
                    for after in [".5", "e3", "E3"] {
                        let b = format!("{n}{after}");
                        let mut s = scan_at(b.as_bytes(), 0);
                        assert_eq!(s.millis(), None, "{b}");
                    }
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
            r#"{"type":"RECORD","record":{"stream":"s","stream" :"t","data":{}}}"#,
            r#"{"type":"RECORD","record":{"stream":"s","data":{},"data":{}}}"#,
            r#"{"type":"RECORD","record":{"stream":"s","data":{},"emitted_at":1,"emitted_at":2}}"#,
            r#"{"type":"RECORD","record":{"stream":"s","data":{},"emitted_at" :1,"emitted_at":2}}"#,
            r#"{"type":"RECORD","record":{"stream":"s","data":"{}"}}"#,
            r#"{"type":"RECORD","record":{"stream":1,"data":{}}}"#,
            r#"{"type":"RECORD","record":{"stream":"s","data":{},"emitted_at":"1"}}"#,
            r#"{"type":"RECORD","record":{"stream":"s","data":{}},"log":1}"#,
            r#"{"type":"RECORD","record":{"stream":"s","data":{}},"type":"RECORD"}"#,
            r#"{"type":"RECORD","record":{"stream":"s","data":{}},"record":{"stream":"s","data":{}}}"#,
            r#"{"type":"RECORD","record":{"stream":"s","data":{}}}}"#,
            r#"{"type":"RECORD","record":{"stream":"s","data":{}}"#,
            r#"{"type":"RECORD","record":{"stream":"s","data":{}}}x"#,
            r#"{"type":"RECORD","record":[]}"#,
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
