//! Unit tests of each construct, and the oracle test: the cases of `tests/maps/cases.json`
//! evaluated by the real Singer SDK (`tests/maps/eval_oracle.py`) and here give the same JSON.
use std::path::Path;
use std::process::Command;

use serde_json::{json, Map, Value};

use super::{inferred_type, parse, Context, InferredType};

fn record() -> Map<String, Value> {
    let Value::Object(map) = json!({
        "id": 7, "name": "Ada Lovelace", "price": 19.99, "qty": 3, "tags": ["a", "b", "c"],
        "nested": {"city": "Zürich", "geo": {"lat": 47.37}}, "nothing": null, "out": "old",
        "unicode": "héllo ✓ 😀", "big": 9_007_199_254_740_993u64
    }) else {
        unreachable!("an object")
    };
    map
}

/// Evaluates `src` against [`record`]: the JSON value, or `Err(kind)`; `"parse"` for a parse error.
fn eval(src: &str) -> Result<Value, String> {
    let record = record();
    let config = json!({"salt": "s", "deep": {"k": [1, {"x": "y"}]}});
    let expr = parse(src).map_err(|_| "parse".to_string())?;
    let ctx = Context {
        record: &record,
        config: &config,
        self_value: record.get("out"),
        stream_name: "users_v2",
        original_stream_name: "users",
    };
    expr.eval(&ctx).map_err(|e| e.kind.to_string())
}

fn ok(src: &str, expected: Value) {
    assert_eq!(eval(src), Ok(expected), "{src}");
}

fn fails(src: &str, kind: &str) {
    assert_eq!(eval(src), Err(kind.to_string()), "{src}");
}

#[test]
fn literals() {
    ok("'a\\tb\\u00e9\\x41\\101'", json!("a\tbéAA"));
    ok("r'a\\nb'", json!("a\\nb"));
    ok("\"\"\"tri'ple\"\"\"", json!("tri'ple"));
    ok("'con' \"cat\"", json!("concat"));
    ok(
        "[1, 1.5, True, None, 0x1f, 0o7, 0b11, 1_000]",
        json!([1, 1.5, true, null, 31, 7, 3, 1000]),
    );
    ok("(1, 'a')", json!([1, "a"]));
    ok(
        "{'a': 1, 'a': 2, 1: 'x', True: 'y'}",
        json!({"a": 2, "1": "y"}),
    );
    ok("[*tags, *'de']", json!(["a", "b", "c", "d", "e"]));
    ok("{**nested.geo, 'b': 2}", json!({"lat": 47.37, "b": 2}));
    ok("{1, 2} == {2, 1}", json!(true));
}

#[test]
fn arithmetic() {
    ok("7 / 2", json!(3.5));
    ok("6 / 3", json!(2.0));
    ok("-7 // 2", json!(-4));
    ok("7 % -3", json!(-2));
    ok("-7.5 // 2", json!(-4.0));
    ok("-7.5 % 2", json!(0.5));
    ok("2 ** -2", json!(0.25));
    ok("2 ** 62", json!(4_611_686_018_427_387_904i64));
    ok("'ab' * 2 + 'c'", json!("ababc"));
    ok("[0] * 2 + tags[:1]", json!([0, 0, "a"]));
    ok("True + True", json!(2));
    ok("-qty", json!(-3));
    ok("~qty", json!(-4));
    ok("qty << 2 | 1", json!(13));
    fails("1 / 0", "ZeroDivisionError");
    fails("1.5 % 0", "ZeroDivisionError");
    fails("'a' + 1", "TypeError");
    fails("'a' - 'b'", "TypeError");
    fails("'a' * 200000", "IterableTooLong");
    fails("5000000 ** 2", "NumberTooHigh");
    fails("2 ** 200", "NotSupported");
    fails("(-8) ** 0.5", "NotSupported");
    fails("10.0 ** 400", "OverflowError");
}

#[test]
fn comparisons_and_logic() {
    ok("1 < qty < 5", json!(true));
    ok("1 < qty < 2 < 1 / 0", json!(false));
    ok(
        "qty == 3.0 and 'b' in tags and 'z' not in tags",
        json!(true),
    );
    ok("big > 9007199254740992.0", json!(true));
    ok("'Love' in name and 'city' in nested", json!(true));
    ok("nothing is None and qty is not None", json!(true));
    ok("nothing or 0 or 'x'", json!("x"));
    ok("qty and name", json!("Ada Lovelace"));
    ok("'big' if qty > 5 else 'small'", json!("small"));
    ok("not tags", json!(false));
    ok("[1, 2] < [1, 3] and (1, 2) < (1, 2, 0)", json!(true));
    fails("1 < 'a'", "TypeError");
    fails("1 in 'abc'", "TypeError");
    fails("qty is 3", "NotSupported");
}

#[test]
fn names() {
    ok("record['id'] + _['id']", json!(14));
    ok("config.deep.k[1].x", json!("y"));
    ok(
        "__stream_name__ + ' ' + __original_stream_name__",
        json!("users_v2 users"),
    );
    ok("self", json!("old"));
    ok("nested.geo.lat", json!(47.37));
    fails("missing", "NameNotDefined");
    fails("record['missing']", "KeyError");
    fails("nested.nope", "AttributeDoesNotExist");
    fails("fake", "NotSupported");
}

#[test]
fn subscripts() {
    ok("tags[-1] + name[0:3] + name[::-1][:3]", json!("cAdaeca"));
    ok("tags[::-2]", json!(["c", "a"]));
    ok("tags[-10:10]", json!(["a", "b", "c"]));
    ok("unicode[-1]", json!("😀"));
    fails("tags[3]", "IndexError");
    fails("tags[::0]", "ValueError");
    fails("tags['a']", "TypeError");
    fails("qty[0]", "TypeError");
}

#[test]
fn methods() {
    ok(
        "'  a b  '.strip() + '|' + 'xxaxx'.strip('x')",
        json!("a b|a"),
    );
    ok("' a  b  c '.split(None, 1)", json!(["a", "b  c "]));
    ok("' a  b  c '.rsplit(None, 1)", json!([" a  b", "c"]));
    ok("'a,b,,c'.split(',', 1)", json!(["a", "b,,c"]));
    ok("'a,b,,c'.rsplit(',', 1)", json!(["a,b,", "c"]));
    ok("name.replace('a', 'A', 1)", json!("AdA Lovelace"));
    ok(
        "name.startswith(('x', 'Ada')) and name.endswith('ace')",
        json!(true),
    );
    ok("'-'.join(tags)", json!("a-b-c"));
    ok(
        "[name.find('Love'), name.find('z'), name.count('a'), 'aaa'.count('')]",
        json!([4, -1, 2, 4]),
    );
    ok("\"they're bill's\".title()", json!("They'Re Bill'S"));
    ok("'hELLO wORLD'.capitalize()", json!("Hello world"));
    ok("['-42'.zfill(5), '42'.zfill(1)]", json!(["-0042", "42"]));
    ok(
        "[nested.get('city'), nested.get('no'), nested.get('no', 1)]",
        json!(["Zürich", null, 1]),
    );
    ok("nested.keys()", json!("dict_keys(['city', 'geo'])"));
    ok("[tags.index('b'), tags.count('b')]", json!([1, 1]));
    fails("'-'.join([1])", "TypeError");
    fails("tags.index('z')", "ValueError");
    fails("name.upper", "NotSupported");
    assert!(parse("name.center(9)").is_err());
}

#[test]
fn functions() {
    ok(
        "[int(' -7 '), int(3.99), int(-3.99), int('1_0'), int(True)]",
        json!([-7, 3, -3, 10, 1]),
    );
    ok(
        "[float('1.5'), float(' 1e3 '), float(qty)]",
        json!([1.5, 1000.0, 3.0]),
    );
    ok("[float('nan'), float('-inf')]", json!([null, null]));
    ok(
        "[str(0.1), str(1e16), str(1e-5), str(1.0), str(123456789012345678.0)]",
        json!(["0.1", "1e+16", "1e-05", "1.0", "1.2345678901234568e+17"]),
    );
    ok(
        "str(nested)",
        json!("{'city': 'Zürich', 'geo': {'lat': 47.37}}"),
    );
    ok(
        "str([None, True, 'it\\'s', (1,), ()])",
        json!("[None, True, \"it's\", (1,), ()]"),
    );
    ok("str('\\n\\x00\\xa0é')", json!("\n\u{0}\u{a0}é"));
    ok("str(['\\n\\x00\\xa0é'])", json!("['\\n\\x00\\xa0é']"));
    ok(
        "[bool(''), bool(tags), bool()]",
        json!([false, true, false]),
    );
    ok("md5('abc')", json!("900150983cd24fb0d6963f7d28e17f72"));
    ok(
        "sha256('')",
        json!("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    );
    ok(
        "md5(str(nothing))",
        json!("6adf97f83acf6453d4a6a4b1070f3754"),
    );
    ok(
        "[list('ab'), tuple(tags[:1]), dict(a=1), dict([('b', 2)])]",
        json!([["a", "b"], ["a"], {"a": 1}, {"b": 2}]),
    );
    fails("md5(nothing)", "AttributeError");
    fails("int('4.2')", "ValueError");
    fails("float('x')", "ValueError");
    fails("int(float('nan'))", "ValueError");
    assert!(parse("len(tags)").is_err());
}

#[test]
fn json_module() {
    ok(
        "json.dumps(nested)",
        json!("{\"city\": \"Z\\u00fcrich\", \"geo\": {\"lat\": 47.37}}"),
    );
    ok(
        "json.dumps(unicode)",
        json!("\"h\\u00e9llo \\u2713 \\ud83d\\ude00\""),
    );
    ok(
        "json.dumps(unicode, ensure_ascii=False)",
        json!("\"héllo ✓ 😀\""),
    );
    ok(
        "json.dumps([1.0, 1e16, float('nan'), float('inf'), None, (1,)])",
        json!("[1.0, 1e+16, NaN, Infinity, null, [1]]"),
    );
    ok(
        "json.dumps({'b': 1, 'a': {}}, sort_keys=True)",
        json!("{\"a\": {}, \"b\": 1}"),
    );
    ok(
        "json.dumps([1, [2]], indent=1)",
        json!("[\n 1,\n [\n  2\n ]\n]"),
    );
    ok(
        "json.dumps({1: 'x', None: []}, separators=(',', ':'))",
        json!("{\"1\":\"x\",\"null\":[]}"),
    );
    ok(
        "json.loads('{\"b\": [1.5, null, NaN], \"a\": 12345678901234567890}')['a']",
        json!(12_345_678_901_234_567_890u64),
    );
    ok(
        "str(json.loads('{\"b\": 1, \"a\": 2, \"b\": 3}'))",
        json!("{'b': 3, 'a': 2}"),
    );
    fails("json.loads('nope')", "JSONDecodeError");
    fails("json.dumps({1, 2})", "TypeError");
    fails("json.dumps({(1,): 2})", "TypeError");
}

#[test]
fn comprehensions_and_fstrings() {
    ok("[t.upper() for t in tags if t != 'b']", json!(["A", "C"]));
    ok(
        "[x + y for x in [1, 2] for y in [10, 20] if x < 2]",
        json!([11, 21]),
    );
    ok(
        "{k: v for k, v in nested.items() if k != 'geo'}",
        json!({"city": "Zürich"}),
    );
    ok("','.join(str(x) for x in [1, 2])", json!("1,2"));
    ok(
        "[(a, b) for a, b in ['xy', 'zw']]",
        json!([["x", "y"], ["z", "w"]]),
    );
    ok(
        "f'{name} x{qty!r} {{b}}' f\"{tags[0]}\"",
        json!("Ada Lovelace x3 {b}a"),
    );
    fails("[x for x in range(3)]", "parse");
    fails("[x for x in qty]", "TypeError");
}

#[test]
fn parse_errors_name_the_construct_and_column() {
    let message = |src: &str| parse(src).expect_err(src).to_string();
    assert_eq!(
        message("1 + lambda: 1"),
        "lambda expressions are not supported (at column 5)"
    );
    assert!(message("{x for x in tags}").contains("set comprehensions"));
    assert!(message("(y := 1)").contains(":="));
    assert!(message("x = 1").contains("assignments"));
    assert!(message("1; 2").contains("several statements"));
    assert!(message(" 1").contains("indent"));
    assert!(message("").contains("empty"));
    assert!(message("f'{x:>3}'").contains("format specs"));
    assert!(message("name.__class__").contains("'_'"));
    assert!(message("name.format()").contains("not allowed"));
    assert!(message("round(1.5)").contains("round() is not defined"));
    assert!(message("rand()").contains("random"));
    assert!(message("1j").contains("complex"));
    assert!(message("b'x'").contains("bytes"));
    assert!(message("'abc").contains("unterminated"));
    assert!(message("(1, 2").contains("expected"));
    assert!(message("012").contains("leading zeros"));
    assert!(message("x[1:2, 3]").contains("extended slices"));
    assert!(message("f(*a)").contains("not defined"));
    assert!(message("str(*a)").contains("*args"));
    // A line break inside brackets and a comment are fine, as in Python.
    assert!(parse("[1,\n 2]  # two\n").is_ok());
}

#[test]
fn inferred_types_follow_the_sdk() {
    assert_eq!(inferred_type("record"), InferredType::Record);
    assert_eq!(inferred_type("float(x)"), InferredType::Number);
    assert_eq!(inferred_type("int(x)"), InferredType::Integer);
    assert_eq!(inferred_type("str(x)"), InferredType::String);
    assert_eq!(inferred_type("bool(x)"), InferredType::Boolean);
    assert_eq!(inferred_type("json.dumps(x)"), InferredType::String);
    assert_eq!(inferred_type("datetime.date.today()"), InferredType::Date);
    assert_eq!(inferred_type("x.date()"), InferredType::Date);
    assert_eq!(
        inferred_type("datetime.datetime.now()"),
        InferredType::DateTime
    );
    assert_eq!(inferred_type("'literal'"), InferredType::String);
    assert_eq!(inferred_type("\"literal\""), InferredType::Default);
    assert_eq!(inferred_type("x + 1"), InferredType::Default);
    assert_eq!(inferred_type(""), InferredType::Default);
}

/// The Python oracle's output for `cases`, or `None` without python3.
fn oracle(repo: &Path, cases: &Path) -> Option<Vec<Value>> {
    if Command::new("python3").arg("--version").output().is_err() {
        eprintln!("SKIPPED: python3 is not installed; the stream-map oracle test needs it");
        return None;
    }
    let venv = Command::new("timeout")
        .args(["600", "bash"])
        .arg(repo.join("tests/maps/venv.sh"))
        .output()
        .expect("runs tests/maps/venv.sh");
    assert!(
        venv.status.success(),
        "tests/maps/venv.sh: {}",
        String::from_utf8_lossy(&venv.stderr)
    );
    let dir = String::from_utf8(venv.stdout)
        .expect("a path")
        .trim()
        .to_string();
    let out = Command::new("timeout")
        .arg("300")
        .arg(Path::new(&dir).join("bin/python"))
        .arg(repo.join("tests/maps/eval_oracle.py"))
        .arg(cases)
        .output()
        .expect("runs the oracle");
    assert!(
        out.status.success(),
        "oracle: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(serde_json::from_slice(&out.stdout).expect("the oracle prints JSON"))
}

/// Every case: the same value as the SDK (its serialized JSON), or an error of the same Python
/// class; a parse error here where Python fails too; `"unsupported"` cases fail here on purpose.
#[test]
fn oracle_python_gives_the_same_results() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let cases_path = repo.join("tests/maps/cases.json");
    let Some(expected) = oracle(repo, &cases_path) else {
        return;
    };
    let cases: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(&cases_path).expect("cases")).expect("JSON");
    assert_eq!(cases.len(), expected.len());
    assert!(cases.len() >= 80);
    let mut failures = Vec::new();
    for (case, python) in cases.iter().zip(&expected) {
        let src = case["expr"].as_str().expect("expr");
        let record = case["record"].as_object().expect("record");
        let property = case
            .get("property")
            .and_then(Value::as_str)
            .unwrap_or("out");
        let stream = case
            .get("stream")
            .and_then(Value::as_str)
            .unwrap_or("users");
        let ctx = Context {
            record,
            config: case.get("config").unwrap_or(&Value::Null),
            self_value: record.get(property),
            stream_name: stream,
            original_stream_name: case
                .get("original_stream")
                .and_then(Value::as_str)
                .unwrap_or(stream),
        };
        let ours = parse(src)
            .map_err(|e| ("parse".to_string(), e.to_string()))
            .and_then(|e| e.eval(&ctx).map_err(|e| (e.kind.to_string(), e.message)));
        // Read with Python's number rules (serde_json may round a float's last digit).
        let python_ok = python
            .get("ok")
            .and_then(Value::as_str)
            .map(|text| super::json::loads(text).and_then(|v| super::value::to_json(&v)));
        let python_error = python.get("error").and_then(Value::as_str);
        let agrees = match (&ours, case.get("unsupported").is_some()) {
            (Err((kind, _)), true) => kind == "parse" || kind == "NotSupported",
            (Ok(_), true) => false,
            (Err((kind, _)), false) if kind == "parse" => python_error.is_some(),
            (Err((kind, _)), false) => python_error == Some(kind.as_str()),
            (Ok(value), false) => python_ok.as_ref() == Some(&Ok(value.clone())),
        };
        if !agrees {
            failures.push(format!("{src}\n  ours:   {ours:?}\n  python: {python}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
