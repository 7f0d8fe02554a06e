#!/usr/bin/env bash
# A Python venv with meltano-map-transform from PyPI (a Singer mapper running the Singer SDK's
# stream maps and flattening) and the Singer SDK it runs (which pins simpleeval): the oracle of
# src/maps (expressions, maps, flattening) and of the tap's stream maps (tests/stream_maps.rs).
# Idempotent and cached: prints the venv folder; builds it only when it is missing or its pins changed.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
dir=${TAP_AIRBYTE_MAP_TRANSFORM_VENV:-$repo/target/map-transform}
# Tests running at once (the expression and the mapper oracles) build it once: the others wait.
mkdir -p "$(dirname "$dir")"
exec 9>"$dir.lock"
flock -w 1800 9
pin="meltano-map-transform==0.12.3 singer-sdk==0.54.9"
if [ ! -x "$dir/bin/meltano-map-transform" ] || [ "$(cat "$dir/.pin" 2>/dev/null)" != "$pin" ]; then
  rm -rf "$dir"
  timeout 120 python3 -m venv "$dir" >&2
  # shellcheck disable=SC2086
  timeout 900 "$dir/bin/pip" install --quiet --disable-pip-version-check $pin >&2
  echo "$pin" >"$dir/.pin"
fi
echo "$dir"
