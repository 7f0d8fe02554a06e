#!/usr/bin/env bash
# A Python venv with the Singer SDK from PyPI (it pins simpleeval), the oracle of the stream-map
# expression evaluator (src/maps/expr.rs). Idempotent and cached: prints the venv folder; builds it
# only when it is missing or its pin changed.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
dir=${TAP_AIRBYTE_MAPS_VENV:-$repo/target/maps-oracle}
pin="singer-sdk==0.54.9"
if [ ! -x "$dir/bin/python" ] || [ "$(cat "$dir/.pin" 2>/dev/null)" != "$pin" ]; then
  rm -rf "$dir"
  python3 -m venv "$dir" >&2
  "$dir/bin/pip" install --quiet --disable-pip-version-check "$pin" >&2
  echo "$pin" >"$dir/.pin"
fi
echo "$dir"
