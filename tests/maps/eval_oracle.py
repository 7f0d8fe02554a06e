"""Oracle of src/maps/expr.rs: evaluates stream-map expressions with the real Singer SDK mapper.

Usage: python eval_oracle.py CASES.json. Each case is {"expr", "record", "config"?, "property"?,
"stream"?, "original_stream"?}. The SDK's CustomStreamMap maps the record with {property: expr};
the mapped value is written with the SDK's record serializer (singerlib.json.serialize_json).
Prints one JSON list: {"ok": "<serialized value>"} or {"error": "<exception class>", "message"}.
Objects keep their key order, as the tap's serde_json (preserve_order) and the SDK do.
"""

import json
import sys

from singer_sdk.mapper import CustomStreamMap
from singer_sdk.singerlib.json import serialize_json




def error_name(ex):
    cause = ex.__cause__ or ex
    return type(cause).__name__, str(cause)


def run(case):
    prop = case.get("property", "out")
    stream = case.get("stream", "users")
    try:
        mapper = CustomStreamMap(
            stream_alias=stream,
            map_config=case.get("config", {}),
            faker_config={},
            raw_schema={"properties": {}},
            key_properties=[],
            map_transform={prop: case["expr"]},
            flattening_options=None,
            stream_name=case.get("original_stream", stream),
        )
        mapped = mapper.transform(dict(case["record"]))
        return {"ok": serialize_json(mapped[prop])}
    except Exception as ex:  # noqa: BLE001 - every failure is a result here
        name, message = error_name(ex)
        return {"error": name, "message": message}


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        cases = json.load(f)
    json.dump([run(case) for case in cases], sys.stdout)


main()
