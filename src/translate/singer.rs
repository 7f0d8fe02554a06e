//! The Singer side of the wire: how SCHEMA, RECORD and STATE lines are encoded.
//!
//! RECORD lines are assembled from a per-stream prefix computed once, the connector's `data` bytes
//! untouched, and a `time_extracted` suffix: no JSON tree is built per record.
//!
//! Message shapes (one JSON object per line on stdout):
//! - `{"type":"SCHEMA","stream":S,"schema":{…},"key_properties":[…],"bookmark_properties":[…]}`
//! - `{"type":"RECORD","stream":S,"record":{…},"time_extracted":"2024-01-01T00:00:00.000Z"}`
//! - `{"type":"STATE","value":{…}}`
use serde::Serialize;
use serde_json::value::RawValue;
use std::io::{self, Write};

#[derive(Serialize)]
struct SchemaMessage<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    stream: &'a str,
    schema: &'a serde_json::Value,
    key_properties: &'a [String],
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    bookmark_properties: &'a [String],
}

/// The line `{"type":"SCHEMA",…}` for a stream, newline included.
pub fn schema_line(
    stream: &str,
    schema: &serde_json::Value,
    key_properties: &[String],
    bookmark_properties: &[String],
) -> Vec<u8> {
    let mut line = serde_json::to_vec(&SchemaMessage {
        kind: "SCHEMA",
        stream,
        schema,
        key_properties,
        bookmark_properties,
    })
    .expect("a JSON value always serializes");
    line.push(b'\n');
    line
}

/// `{"type":"RECORD","stream":S,"record":` for a stream: written before every record's data.
pub fn record_prefix(stream: &str) -> Vec<u8> {
    let mut p = b"{\"type\":\"RECORD\",\"stream\":".to_vec();
    serde_json::to_writer(&mut p, stream).expect("a string always serializes");
    p.extend_from_slice(b",\"record\":");
    p
}

/// Writes one RECORD line: prefix, the connector's data as is, then `time_extracted`.
pub fn write_record(
    out: &mut impl Write,
    prefix: &[u8],
    data: &[u8],
    emitted_at_ms: Option<i64>,
    end: &mut RecordEnd,
) -> io::Result<()> {
    out.write_all(prefix)?;
    out.write_all(data)?;
    out.write_all(end.of(emitted_at_ms))
}

/// What follows a record's data: `,"time_extracted":"…"}` and the newline, or `}` and the
/// newline. The last one is kept: records in a row mostly share their millisecond, and its text
/// is written in one piece.
pub struct RecordEnd {
    ms: Option<i64>,
    text: [u8; 46],
}

impl Default for RecordEnd {
    fn default() -> Self {
        let mut text = [0u8; 46];
        text[..19].copy_from_slice(b",\"time_extracted\":\"");
        text[43..].copy_from_slice(b"\"}\n");
        RecordEnd { ms: None, text }
    }
}

impl RecordEnd {
    /// The end of a record emitted at `ms` (milliseconds since the epoch), if known.
    pub fn of(&mut self, ms: Option<i64>) -> &[u8] {
        let Some(ms) = ms else { return b"}\n" };
        if self.ms != Some(ms) {
            let stamp: &mut [u8; 24] = (&mut self.text[19..43]).try_into().expect("24 bytes");
            format_rfc3339_millis(ms, stamp);
            self.ms = Some(ms);
        }
        &self.text
    }
}

/// Writes one STATE line `{"type":"STATE","value":…}`.
pub fn write_state(out: &mut impl Write, value: &RawValue) -> io::Result<()> {
    out.write_all(b"{\"type\":\"STATE\",\"value\":")?;
    out.write_all(value.get().as_bytes())?;
    out.write_all(b"}\n")
}

/// Formats milliseconds since the epoch as `YYYY-MM-DDTHH:MM:SS.mmmZ` (24 bytes), without allocating.
/// Years outside 0..=9999 are clamped to that range.
pub fn format_rfc3339_millis(ms: i64, out: &mut [u8; 24]) {
    const MAX_MS: i64 = 253_402_300_799_999; // 9999-12-31T23:59:59.999Z
    let ms = ms.clamp(-62_167_219_200_000, MAX_MS); // 0000-01-01T00:00:00.000Z
    let secs = ms.div_euclid(1000);
    let milli = ms.rem_euclid(1000) as u32;
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400) as u32;
    let (y, m, d) = civil_from_days(days);
    let (hh, mm, ss) = (sod / 3600, sod / 60 % 60, sod % 60);
    let digits = |buf: &mut [u8], v: u32| {
        let mut v = v;
        for b in buf.iter_mut().rev() {
            *b = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    digits(&mut out[0..4], y as u32);
    out[4] = b'-';
    digits(&mut out[5..7], m);
    out[7] = b'-';
    digits(&mut out[8..10], d);
    out[10] = b'T';
    digits(&mut out[11..13], hh);
    out[13] = b':';
    digits(&mut out[14..16], mm);
    out[16] = b':';
    digits(&mut out[17..19], ss);
    out[19] = b'.';
    digits(&mut out[20..23], milli);
    out[23] = b'Z';
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar
/// (H. Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp(ms: i64) -> String {
        let mut b = [0u8; 24];
        format_rfc3339_millis(ms, &mut b);
        String::from_utf8(b.to_vec()).unwrap()
    }

    #[test]
    fn timestamps() {
        assert_eq!(stamp(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(stamp(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
        assert_eq!(stamp(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(stamp(-1), "1969-12-31T23:59:59.999Z");
        assert_eq!(stamp(i64::MAX), "9999-12-31T23:59:59.999Z");
        assert_eq!(stamp(i64::MIN), "0000-01-01T00:00:00.000Z");
    }

    #[test]
    fn record_line_splices_data_untouched() {
        // A number no f64 holds: passed through as the connector wrote it.
        let data: Box<RawValue> =
            serde_json::from_str(r#"{"n": 1.000000000000000000000001, "s":"é"}"#).unwrap();
        let mut out = Vec::new();
        write_record(
            &mut out,
            &record_prefix("a\"b"),
            data.get().as_bytes(),
            Some(0),
            &mut RecordEnd::default(),
        )
        .unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.ends_with("}\n"));
        assert!(text.contains(data.get()), "{text}");
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["stream"], "a\"b");
        assert_eq!(v["time_extracted"], "1970-01-01T00:00:00.000Z");
    }

    #[test]
    fn record_ends_follow_each_record_s_own_time() {
        let mut end = RecordEnd::default();
        let text = |b: &[u8]| String::from_utf8(b.to_vec()).unwrap();
        for ms in [
            Some(0),
            Some(0),
            None,
            Some(1_700_000_000_123),
            Some(0),
            None,
        ] {
            let want = match ms {
                Some(ms) => format!(",\"time_extracted\":\"{}\"}}\n", stamp(ms)),
                None => "}\n".into(),
            };
            assert_eq!(text(end.of(ms)), want);
        }
    }
}
