#!/usr/bin/env bash
# Python venvs with Meltano and target-jsonl from PyPI, for the Meltano end-to-end test (two venvs:
# their pinned dependencies conflict). Idempotent and cached: prints the folder that holds
# meltano/ and target-jsonl/; builds a venv only when it is missing or its pin changed.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
root=${TAP_AIRBYTE_MELTANO_VENVS:-$repo/target/meltano}
mkdir -p "$root"
# The Meltano tests run at once: one builds the venvs, the others wait.
exec 9>"$root/.lock"
flock -w 1800 9
venv() { # venv NAME PIN
  local dir="$root/$1"
  if [ -x "$dir/bin/$1" ] && [ "$(cat "$dir/.pin" 2>/dev/null)" = "$2" ]; then return; fi
  rm -rf "$dir"
  python3 -m venv "$dir" >&2
  "$dir/bin/pip" install --quiet --disable-pip-version-check "$2" >&2
  echo "$2" >"$dir/.pin"
}
venv meltano "meltano==4.4.1"
venv target-jsonl "target-jsonl==0.1.4"
echo "$root"
