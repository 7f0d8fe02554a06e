"""source-tiny: a minimal Airbyte source for tap-airbyte's native-runtime tests.

Installed from a local folder by pip (tests/native.rs); prints its package version in every record so a
test can tell which build ran. spec, check, discover and read; read emits `count` records of stream
`t` (config key, default 3) and a STATE.
"""
import json
import sys
from importlib.metadata import version

VERSION = version("airbyte-source-tiny")


def emit(message):
    sys.stdout.write(json.dumps(message) + "\n")


def main():
    args = sys.argv[1:]
    command = args[0] if args else ""
    config = {}
    if "--config" in args:
        with open(args[args.index("--config") + 1]) as f:
            config = json.load(f)
    if command == "spec":
        emit({"type": "SPEC", "spec": {"connectionSpecification": {"type": "object", "properties": {
            "count": {"type": "integer"}, "token": {"type": "string", "airbyte_secret": True}}}}})
    elif command == "check":
        emit({"type": "CONNECTION_STATUS", "connectionStatus": {"status": "SUCCEEDED"}})
    elif command == "discover":
        emit({"type": "CATALOG", "catalog": {"streams": [{"name": "t", "json_schema": {
            "type": "object", "properties": {"id": {"type": "integer"}, "version": {"type": "string"}}},
            "supported_sync_modes": ["full_refresh"]}]}})
    elif command == "read":
        for i in range(1, int(config.get("count", 3)) + 1):
            emit({"type": "RECORD", "record": {"stream": "t", "data": {"id": i, "version": VERSION},
                                                "emitted_at": 0}})
        emit({"type": "STATE", "state": {"type": "STREAM", "stream": {
            "stream_descriptor": {"name": "t"}, "stream_state": {"done": True}}}})
    else:
        sys.stderr.write("unknown command\n")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
