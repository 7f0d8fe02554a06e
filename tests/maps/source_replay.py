#!/usr/bin/env python3
"""An Airbyte source connector that replays a Singer file (SCHEMA, RECORD and STATE lines):
`spec`, `check`, `discover` (one stream per SCHEMA, its key properties as the primary key) and
`read` (the RECORDs of the configured catalog's streams in order, each Singer STATE as a legacy
Airbyte STATE). Its config:
{"input": "<path of the Singer file>"}. The stream-map tests run it as a local executable
(airbyte_spec.executable), so the tap's output with and without maps comes from the same data."""
import json
import sys


def emit(message):
    sys.stdout.write(json.dumps(message) + "\n")


def main():
    command, args = sys.argv[1], sys.argv[2:]
    if command == "spec":
        emit({"type": "SPEC", "spec": {"connectionSpecification": {
            "type": "object", "properties": {"input": {"type": "string"}}}}})
        return
    with open(args[args.index("--config") + 1], encoding="utf-8") as f:
        config = json.load(f)
    with open(config["input"], encoding="utf-8") as f:
        lines = [json.loads(line) for line in f if line.strip()]
    if command == "check":
        emit({"type": "CONNECTION_STATUS", "connectionStatus": {"status": "SUCCEEDED"}})
    elif command == "discover":
        streams = [{
            "name": m["stream"],
            "json_schema": m["schema"],
            "supported_sync_modes": ["full_refresh"],
            "source_defined_primary_key": [[k] for k in m.get("key_properties") or []],
        } for m in lines if m["type"] == "SCHEMA"]
        emit({"type": "CATALOG", "catalog": {"streams": streams}})
    elif command == "read":
        # Only the streams of the configured catalog, as a real connector.
        with open(args[args.index("--catalog") + 1], encoding="utf-8") as f:
            selected = {s["stream"]["name"] for s in json.load(f)["streams"]}
        for m in lines:
            if m["type"] == "RECORD" and m["stream"] in selected:
                emit({"type": "RECORD", "record": {
                    "stream": m["stream"], "data": m["record"], "emitted_at": 0}})
            elif m["type"] == "STATE":
                emit({"type": "STATE", "state": {"data": m["value"]}})
    else:
        sys.exit(f"unknown command {command}")


if __name__ == "__main__":
    main()
