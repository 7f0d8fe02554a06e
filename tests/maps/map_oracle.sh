#!/usr/bin/env bash
# Runs the stream-map oracle on one corpus case: prints the Singer messages meltano-map-transform
# (pinned in venv.sh) writes for the case's config and input file.
# Usage: tests/maps/map_oracle.sh tests/maps/corpus/CASE.json
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
venv=$("$here/venv.sh")
case=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$venv/bin/python" -c 'import json,sys; c=json.load(open(sys.argv[1])); json.dump(c["config"], open(sys.argv[2],"w")); print(c["input"])' "$case" "$tmp/config.json" >"$tmp/input"
timeout 120 "$venv/bin/python" "$here/map_oracle.py" --config "$tmp/config.json" <"$here/corpus/inputs/$(cat "$tmp/input")"
