//! Parquet BATCH files (`batch_config.encoding.format: parquet`): a stream's records as the
//! columns its Singer SCHEMA declares, written with the `parquet` crate's `ArrowWriter`.
//!
//! The columns come from the output stream's JSON Schema (after stream maps and flattening), not
//! from the data: every file of a stream has the same Arrow schema, whatever its first record
//! holds, and a column is there (all null) even when no record has the property.
//!
//! | JSON Schema | Arrow / Parquet |
//! | --- | --- |
//! | `string` (any `format`, `date-time` included) | Utf8 |
//! | `integer` | Int64 |
//! | `number` | Float64 |
//! | `boolean` | Boolean |
//! | `object` with `properties` | Struct of those properties, mapped the same way |
//! | `array` with an `items` schema | List of the items' type |
//! | anything else: an object without `properties`, an array without `items`, a union of types beyond `[T, "null"]`, no `type` | Utf8 holding the value's JSON text (a string value as it is) |
//!
//! Every column is nullable. `date-time` stays text: Airbyte's timestamps come with and without
//! zones and with any precision, and a string keeps each exactly as the connector wrote it (the
//! targets parse it as they parse the same string in a RECORD).
//!
//! A value that does not fit its column is never changed or dropped: a Utf8 column takes any
//! value (its JSON text); in any other column such a value (a string in an Int64 column, an
//! integer beyond i64, a fraction in an integer column) makes the record [`Misfit`]: it is not
//! written and the run fails as for any record the tap cannot deliver. Properties the schema does
//! not declare (top-level or nested) have no column: they are left out, and each is logged once.
//! Memory stays bounded: rows are buffered in Arrow builders and written as a row group every
//! [`ROW_GROUP_ROWS`] rows or [`ROW_GROUP_BYTES`] bytes of records.
use arrow_array::builder::{BooleanBuilder, Float64Builder, Int64Builder, StringBuilder};
use arrow_array::{ArrayRef, ListArray, RecordBatch, StructArray};
use arrow_buffer::{NullBufferBuilder, OffsetBuffer, ScalarBuffer};
use arrow_schema::{DataType, Field, Fields, Schema, SchemaRef};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, GzipLevel};
use parquet::file::properties::WriterProperties;
use serde_json::{Map, Value};
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::sync::Arc;

/// Rows per row group (at most).
pub const ROW_GROUP_ROWS: usize = 10_000;
/// Bytes of record JSON per row group (at most, roughly): wide records flush sooner.
pub const ROW_GROUP_BYTES: usize = 64 * 1024 * 1024;

/// The column one JSON Schema maps to.
#[derive(Debug, Clone, PartialEq)]
pub enum Column {
    /// Utf8: a string as it is, any other value as its JSON text.
    Text,
    Integer,
    Number,
    Boolean,
    Object(Vec<(String, Column)>),
    Array(Box<Column>),
}

impl Column {
    /// The column of a property with this JSON Schema.
    pub fn of(schema: &Value) -> Column {
        let Some(schema) = schema.as_object() else {
            return Column::Text;
        };
        // `anyOf`/`oneOf` of one schema and null is that schema.
        for key in ["anyOf", "oneOf"] {
            if let Some(Value::Array(options)) = schema.get(key) {
                let not_null: Vec<&Value> = options
                    .iter()
                    .filter(|o| o.get("type") != Some(&Value::from("null")))
                    .collect();
                return match not_null.as_slice() {
                    [only] if schema.get("type").is_none() => Column::of(only),
                    _ => Column::Text,
                };
            }
        }
        let types: Vec<&str> = match schema.get("type") {
            Some(Value::String(t)) => vec![t.as_str()],
            Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        let types: Vec<&str> = types.into_iter().filter(|t| *t != "null").collect();
        match types.as_slice() {
            ["integer"] => Column::Integer,
            ["number"] => Column::Number,
            ["boolean"] => Column::Boolean,
            ["object"] => match schema.get("properties").and_then(Value::as_object) {
                Some(p) if !p.is_empty() => Column::Object(columns(p)),
                _ => Column::Text,
            },
            ["array"] => match schema.get("items") {
                Some(items @ Value::Object(_)) => Column::Array(Box::new(Column::of(items))),
                _ => Column::Text,
            },
            _ => Column::Text,
        }
    }

    pub fn data_type(&self) -> DataType {
        match self {
            Column::Text => DataType::Utf8,
            Column::Integer => DataType::Int64,
            Column::Number => DataType::Float64,
            Column::Boolean => DataType::Boolean,
            Column::Object(children) => DataType::Struct(fields(children)),
            Column::Array(item) => {
                DataType::List(Arc::new(Field::new_list_field(item.data_type(), true)))
            }
        }
    }

    /// Whether `value` fits this column; the undeclared properties found on the way (left out)
    /// are added to `dropped` as dotted paths.
    fn check(&self, value: &Value, path: &str, dropped: &mut Vec<String>) -> Result<(), Misfit> {
        let misfit = |expected: &str| {
            let mut shown = value.to_string();
            if shown.len() > 200 {
                let mut cut = 200;
                while !shown.is_char_boundary(cut) {
                    cut -= 1;
                }
                shown.truncate(cut);
                shown.push('…');
            }
            Err(Misfit(format!(
                "property `{path}` is {shown}, not {expected} as the stream's schema says (its \
                 parquet column is {:?}); the record is not written (use encoding.format jsonl, \
                 or fix the schema with stream maps)",
                self.data_type()
            )))
        };
        match (self, value) {
            (_, Value::Null) | (Column::Text, _) => Ok(()),
            (Column::Integer, v) if integer(v).is_some() => Ok(()),
            (Column::Integer, _) => misfit("an integer within 64 bits"),
            (Column::Number, Value::Number(_)) => Ok(()),
            (Column::Number, _) => misfit("a number"),
            (Column::Boolean, Value::Bool(_)) => Ok(()),
            (Column::Boolean, _) => misfit("a boolean"),
            (Column::Object(children), Value::Object(o)) => {
                check_object(children, o, path, dropped)
            }
            (Column::Object(_), _) => misfit("an object"),
            (Column::Array(item), Value::Array(items)) => {
                for (i, v) in items.iter().enumerate() {
                    item.check(v, &format!("{path}[{i}]"), dropped)?;
                }
                Ok(())
            }
            (Column::Array(_), _) => misfit("an array"),
        }
    }
}

fn check_object(
    children: &[(String, Column)],
    object: &Map<String, Value>,
    path: &str,
    dropped: &mut Vec<String>,
) -> Result<(), Misfit> {
    let join = |k: &str| {
        if path.is_empty() {
            k.to_string()
        } else {
            format!("{path}.{k}")
        }
    };
    for (name, column) in children {
        if let Some(v) = object.get(name) {
            column.check(v, &join(name), dropped)?;
        }
    }
    for k in object.keys() {
        if !children.iter().any(|(name, _)| name == k) {
            dropped.push(join(k));
        }
    }
    Ok(())
}

/// An integer column's value: a JSON integer within i64, or a float with no fraction within i64.
fn integer(v: &Value) -> Option<i64> {
    let n = v.as_number()?;
    if let Some(i) = n.as_i64() {
        return Some(i);
    }
    if n.is_f64() {
        let f = n.as_f64()?;
        // -2^63 ≤ f < 2^63: the range an f64 converts into i64 exactly.
        const TWO_63: f64 = 9_223_372_036_854_775_808.0;
        if f.fract() == 0.0 && (-TWO_63..TWO_63).contains(&f) {
            return Some(f as i64);
        }
    }
    None
}

fn columns(properties: &Map<String, Value>) -> Vec<(String, Column)> {
    properties
        .iter()
        .map(|(k, s)| (k.clone(), Column::of(s)))
        .collect()
}

fn fields(columns: &[(String, Column)]) -> Fields {
    columns
        .iter()
        .map(|(name, c)| Field::new(name, c.data_type(), true))
        .collect()
}

/// A record that does not fit its stream's columns (why, for the log).
#[derive(Debug, Clone, PartialEq)]
pub struct Misfit(pub String);

/// A stream's columns, from its Singer SCHEMA's `properties`.
#[derive(Debug)]
pub struct Layout {
    columns: Vec<(String, Column)>,
    schema: SchemaRef,
}

impl Layout {
    pub fn new(stream_schema: &Value) -> Layout {
        let columns = stream_schema
            .get("properties")
            .and_then(Value::as_object)
            .map(columns)
            .unwrap_or_default();
        let schema = Arc::new(Schema::new(fields(&columns)));
        Layout { columns, schema }
    }

    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }
}

/// Parquet's compression, as `batch_config.encoding.compression` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    None,
    Gzip,
    Snappy,
}

/// Appends values of one column; nested columns have their own.
enum Builder {
    Text(StringBuilder),
    Integer(Int64Builder),
    Number(Float64Builder),
    Boolean(BooleanBuilder),
    Object {
        fields: Fields,
        children: Vec<(String, Builder)>,
        nulls: NullBufferBuilder,
    },
    Array {
        item: Arc<Field>,
        offsets: Vec<i32>,
        items: Box<Builder>,
        nulls: NullBufferBuilder,
    },
}

impl Builder {
    fn new(column: &Column) -> Builder {
        match column {
            Column::Text => Builder::Text(StringBuilder::new()),
            Column::Integer => Builder::Integer(Int64Builder::new()),
            Column::Number => Builder::Number(Float64Builder::new()),
            Column::Boolean => Builder::Boolean(BooleanBuilder::new()),
            Column::Object(children) => Builder::Object {
                fields: fields(children),
                children: children
                    .iter()
                    .map(|(k, c)| (k.clone(), Builder::new(c)))
                    .collect(),
                nulls: NullBufferBuilder::new(0),
            },
            Column::Array(item) => Builder::Array {
                item: Arc::new(Field::new_list_field(item.data_type(), true)),
                offsets: vec![0],
                items: Box::new(Builder::new(item)),
                nulls: NullBufferBuilder::new(0),
            },
        }
    }

    /// Appends a value that [`Column::check`] accepted (absent and null are null).
    fn push(&mut self, value: Option<&Value>) -> io::Result<()> {
        let value = value.filter(|v| !v.is_null());
        match self {
            Builder::Text(b) => match value {
                None => b.append_null(),
                Some(Value::String(s)) => b.append_value(s),
                Some(v) => b.append_value(v.to_string()),
            },
            Builder::Integer(b) => b.append_option(value.and_then(integer)),
            Builder::Number(b) => b.append_option(value.and_then(Value::as_f64)),
            Builder::Boolean(b) => b.append_option(value.and_then(Value::as_bool)),
            Builder::Object {
                children, nulls, ..
            } => {
                let object = value.and_then(Value::as_object);
                nulls.append(object.is_some());
                for (name, child) in children {
                    child.push(object.and_then(|o| o.get(name)))?;
                }
            }
            Builder::Array {
                offsets,
                items,
                nulls,
                ..
            } => {
                let array = value.and_then(Value::as_array);
                nulls.append(array.is_some());
                for v in array.into_iter().flatten() {
                    items.push(Some(v))?;
                }
                let last = *offsets.last().expect("offsets start with 0");
                let len = array.map_or(0, Vec::len);
                let next = i32::try_from(len)
                    .ok()
                    .and_then(|l| last.checked_add(l))
                    .ok_or_else(|| {
                        io::Error::other("more than 2^31 list items in one parquet row group")
                    })?;
                offsets.push(next);
            }
        }
        Ok(())
    }

    /// The values appended since the last call, as an array.
    fn finish(&mut self) -> io::Result<ArrayRef> {
        Ok(match self {
            Builder::Text(b) => Arc::new(b.finish()),
            Builder::Integer(b) => Arc::new(b.finish()),
            Builder::Number(b) => Arc::new(b.finish()),
            Builder::Boolean(b) => Arc::new(b.finish()),
            Builder::Object {
                fields,
                children,
                nulls,
            } => {
                let arrays = children
                    .iter_mut()
                    .map(|(_, c)| c.finish())
                    .collect::<io::Result<Vec<_>>>()?;
                Arc::new(
                    StructArray::try_new(fields.clone(), arrays, nulls.finish())
                        .map_err(io::Error::other)?,
                )
            }
            Builder::Array {
                item,
                offsets,
                items,
                nulls,
            } => {
                let offsets = std::mem::replace(offsets, vec![0]);
                Arc::new(
                    ListArray::try_new(
                        item.clone(),
                        OffsetBuffer::new(ScalarBuffer::from(offsets)),
                        items.finish()?,
                        nulls.finish(),
                    )
                    .map_err(io::Error::other)?,
                )
            }
        })
    }
}

/// One parquet file being written: rows buffered, a row group written when enough are.
pub struct ParquetFile {
    layout: Arc<Layout>,
    writer: ArrowWriter<BufWriter<File>>,
    builders: Vec<Builder>,
    rows: usize,
    bytes: usize,
    dropped: Vec<String>,
}

impl ParquetFile {
    pub fn create(file: File, layout: Arc<Layout>, codec: Codec) -> io::Result<ParquetFile> {
        let compression = match codec {
            Codec::None => Compression::UNCOMPRESSED,
            Codec::Gzip => Compression::GZIP(GzipLevel::default()),
            Codec::Snappy => Compression::SNAPPY,
        };
        let properties = WriterProperties::builder()
            .set_compression(compression)
            .build();
        let writer = ArrowWriter::try_new(
            BufWriter::with_capacity(256 * 1024, file),
            layout.schema.clone(),
            Some(properties),
        )
        .map_err(io::Error::other)?;
        let builders = layout
            .columns
            .iter()
            .map(|(_, c)| Builder::new(c))
            .collect();
        Ok(ParquetFile {
            layout,
            writer,
            builders,
            rows: 0,
            bytes: 0,
            dropped: vec![],
        })
    }

    /// Appends one record (a JSON object's text). A record that does not fit is not written.
    /// The undeclared properties it had (left out) are in [`ParquetFile::take_dropped`].
    pub fn append(&mut self, record: &[u8]) -> io::Result<Result<(), Misfit>> {
        let object: Map<String, Value> = match serde_json::from_slice(record) {
            Ok(o) => o,
            Err(e) => {
                return Ok(Err(Misfit(format!(
                    "a record that is not a JSON object: {e}"
                ))))
            }
        };
        if self.layout.columns.is_empty() && !object.is_empty() {
            return Ok(Err(Misfit(
                "the stream's schema declares no properties: a parquet file has no column for \
                 its records (use encoding.format jsonl)"
                    .into(),
            )));
        }
        if let Err(m) = check_object(&self.layout.columns, &object, "", &mut self.dropped) {
            return Ok(Err(m));
        }
        for ((name, _), builder) in self.layout.columns.iter().zip(&mut self.builders) {
            builder.push(object.get(name))?;
        }
        self.rows += 1;
        self.bytes += record.len();
        if self.rows >= ROW_GROUP_ROWS || self.bytes >= ROW_GROUP_BYTES {
            self.write_row_group()?;
        }
        Ok(Ok(()))
    }

    /// Undeclared properties seen since the last call (dotted paths, repeated).
    pub fn take_dropped(&mut self) -> Vec<String> {
        std::mem::take(&mut self.dropped)
    }

    fn write_row_group(&mut self) -> io::Result<()> {
        if self.rows == 0 {
            return Ok(());
        }
        let arrays = self
            .builders
            .iter_mut()
            .map(Builder::finish)
            .collect::<io::Result<Vec<_>>>()?;
        let batch = if arrays.is_empty() {
            RecordBatch::try_new_with_options(
                self.layout.schema.clone(),
                arrays,
                &arrow_array::RecordBatchOptions::new().with_row_count(Some(self.rows)),
            )
        } else {
            RecordBatch::try_new(self.layout.schema.clone(), arrays)
        }
        .map_err(io::Error::other)?;
        self.writer.write(&batch).map_err(io::Error::other)?;
        self.writer.flush().map_err(io::Error::other)?;
        self.rows = 0;
        self.bytes = 0;
        Ok(())
    }

    /// Writes the last row group and the footer, and syncs the file.
    pub fn finish(mut self) -> io::Result<()> {
        self.write_row_group()?;
        let mut inner = self.writer.into_inner().map_err(io::Error::other)?;
        inner.flush()?;
        inner.get_ref().sync_all()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Float64Type, Int64Type};
    use arrow_array::Array;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    use serde_json::json;

    #[test]
    fn json_schema_types_map_to_arrow_types() {
        let cases = [
            (json!({"type": "string"}), DataType::Utf8),
            (
                json!({"type": ["null", "string"], "format": "date-time"}),
                DataType::Utf8,
            ),
            (json!({"type": ["integer", "null"]}), DataType::Int64),
            (json!({"type": "number"}), DataType::Float64),
            (json!({"type": "boolean"}), DataType::Boolean),
            (
                json!({"anyOf": [{"type": "integer"}, {"type": "null"}]}),
                DataType::Int64,
            ),
            (json!({"type": ["string", "integer"]}), DataType::Utf8),
            (
                json!({"anyOf": [{"type": "string"}, {"type": "integer"}]}),
                DataType::Utf8,
            ),
            (json!({"type": "object"}), DataType::Utf8),
            (json!({"type": "object", "properties": {}}), DataType::Utf8),
            (json!({"type": "array"}), DataType::Utf8),
            (json!({}), DataType::Utf8),
            (json!({"type": "null"}), DataType::Utf8),
            (json!(true), DataType::Utf8),
            (
                json!({"type": "array", "items": {"type": "integer"}}),
                DataType::List(Arc::new(Field::new_list_field(DataType::Int64, true))),
            ),
            (
                json!({"type": ["object", "null"], "properties": {
                    "a": {"type": "number"}, "b": {"type": "array", "items": {}}}}),
                DataType::Struct(Fields::from(vec![
                    Field::new("a", DataType::Float64, true),
                    Field::new(
                        "b",
                        DataType::List(Arc::new(Field::new_list_field(DataType::Utf8, true))),
                        true,
                    ),
                ])),
            ),
        ];
        for (schema, expected) in cases {
            assert_eq!(Column::of(&schema).data_type(), expected, "{schema}");
        }
    }

    fn stream_schema() -> Value {
        json!({"type": "object", "properties": {
            "id": {"type": "integer"},
            "name": {"type": ["null", "string"]},
            "at": {"type": "string", "format": "date-time"},
            "score": {"type": "number"},
            "ok": {"type": "boolean"},
            "meta": {"type": "object", "properties": {"seq": {"type": "integer"}, "tag": {"type": "string"}}},
            "tags": {"type": "array", "items": {"type": "string"}},
            "free": {"type": "object"},
            "either": {"type": ["string", "integer"]}
        }})
    }

    fn write(
        dir: &std::path::Path,
        codec: Codec,
        records: &[Value],
    ) -> (std::path::PathBuf, Vec<String>) {
        let path = dir.join(format!("{codec:?}.parquet"));
        let layout = Arc::new(Layout::new(&stream_schema()));
        let mut f = ParquetFile::create(File::create(&path).unwrap(), layout, codec).unwrap();
        for r in records {
            f.append(r.to_string().as_bytes()).unwrap().unwrap();
        }
        let dropped = f.take_dropped();
        f.finish().unwrap();
        (path, dropped)
    }

    #[test]
    fn records_round_trip_through_a_parquet_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut records = vec![
            json!({"id": 1, "name": "a\"é", "at": "2024-01-01T00:00:00.123456789+02:00",
                   "score": 1.5, "ok": true, "meta": {"seq": 7, "tag": "t"},
                   "tags": ["x", null, "y"], "free": {"k": [1, {"z": null}]}, "either": 5}),
            json!({"id": 2, "name": null, "score": 3, "meta": null, "tags": [],
                   "free": "text", "either": "five", "extra": 1, "ok": false}),
            json!({"id": -9_223_372_036_854_775_808i64, "meta": {"seq": 1, "more": true}, "score": 1e300}),
        ];
        // Enough for several row groups.
        for i in 0..(ROW_GROUP_ROWS as i64 + 10) {
            records.push(json!({"id": 100 + i, "tags": ["n"]}));
        }
        for codec in [Codec::None, Codec::Gzip, Codec::Snappy] {
            let (path, dropped) = write(dir.path(), codec, &records);
            assert_eq!(dropped, ["extra", "meta.more"]);
            let reader =
                ParquetRecordBatchReaderBuilder::try_new(File::open(&path).unwrap()).unwrap();
            assert_eq!(reader.metadata().num_row_groups(), 2, "{codec:?}");
            let batches: Vec<RecordBatch> = reader.build().unwrap().map(Result::unwrap).collect();
            let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
            assert_eq!(rows, records.len());
            let b = &batches[0];
            let ids = b.column_by_name("id").unwrap().as_primitive::<Int64Type>();
            assert_eq!(ids.values()[..3], [1, 2, i64::MIN]);
            let text = |name: &str, i: usize| {
                let c = b.column_by_name(name).unwrap().as_string::<i32>();
                c.is_valid(i).then(|| c.value(i).to_string())
            };
            assert_eq!(text("name", 0).as_deref(), Some("a\"é"));
            assert_eq!(text("name", 1), None);
            assert_eq!(
                text("at", 0).as_deref(),
                Some("2024-01-01T00:00:00.123456789+02:00")
            );
            assert_eq!(text("free", 0).as_deref(), Some(r#"{"k":[1,{"z":null}]}"#));
            assert_eq!(text("free", 1).as_deref(), Some("text"));
            assert_eq!(text("either", 0).as_deref(), Some("5"));
            assert_eq!(text("either", 1).as_deref(), Some("five"));
            let score = b
                .column_by_name("score")
                .unwrap()
                .as_primitive::<Float64Type>();
            assert_eq!(
                (score.value(0), score.value(1), score.value(2)),
                (1.5, 3.0, 1e300)
            );
            let ok = b.column_by_name("ok").unwrap().as_boolean();
            assert_eq!(
                (ok.value(0), ok.value(1), ok.is_null(2)),
                (true, false, true)
            );
            let meta = b.column_by_name("meta").unwrap().as_struct();
            assert!(meta.is_valid(0) && meta.is_null(1) && meta.is_valid(2));
            let seq = meta
                .column_by_name("seq")
                .unwrap()
                .as_primitive::<Int64Type>();
            assert_eq!((seq.value(0), seq.value(2)), (7, 1));
            let tag = meta.column_by_name("tag").unwrap().as_string::<i32>();
            assert_eq!((tag.value(0), tag.is_null(2)), ("t", true));
            let tags = b.column_by_name("tags").unwrap().as_list::<i32>();
            let first = tags.value(0);
            let first = first.as_string::<i32>();
            assert_eq!(
                (
                    first.len(),
                    first.value(0),
                    first.is_null(1),
                    first.value(2)
                ),
                (3, "x", true, "y")
            );
            assert_eq!(tags.value(1).len(), 0);
            assert!(tags.is_valid(1) && tags.is_null(2));
        }
    }

    #[test]
    fn a_value_that_does_not_fit_its_column_is_refused_not_changed() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Arc::new(Layout::new(&stream_schema()));
        let path = dir.path().join("x.parquet");
        let mut f = ParquetFile::create(File::create(&path).unwrap(), layout, Codec::None).unwrap();
        for (bad, says) in [
            (json!({"id": "7"}), "`id`"),
            (json!({"id": 9_223_372_036_854_775_808u64}), "`id`"),
            (json!({"id": 1.5}), "`id`"),
            (json!({"score": "1"}), "`score`"),
            (json!({"ok": 1}), "`ok`"),
            (json!({"meta": [1]}), "`meta`"),
            (json!({"meta": {"seq": "x"}}), "`meta.seq`"),
            (json!({"tags": "x"}), "`tags`"),
            (json!({"tags": [1]}), "x"),
        ] {
            match f.append(bad.to_string().as_bytes()).unwrap() {
                Err(Misfit(why)) => assert!(why.contains(says), "{bad}: {why}"),
                Ok(()) => {
                    // A number in a string list is its JSON text: it fits.
                    assert_eq!(bad, json!({"tags": [1]}));
                }
            }
        }
        // Integral floats fit an integer column.
        f.append(br#"{"id": 2.0}"#).unwrap().unwrap();
        f.finish().unwrap();
        let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(&path).unwrap())
            .unwrap()
            .build()
            .unwrap();
        let rows: usize = reader.map(|b| b.unwrap().num_rows()).sum();
        assert_eq!(rows, 2, "the refused records are not in the file");
    }

    #[test]
    fn a_stream_without_declared_properties_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Arc::new(Layout::new(&json!({"type": "object"})));
        let file = File::create(dir.path().join("x.parquet")).unwrap();
        let mut f = ParquetFile::create(file, layout, Codec::None).unwrap();
        let why = f.append(br#"{"a": 1}"#).unwrap().unwrap_err();
        assert!(why.0.contains("no properties"), "{why:?}");
    }
}
