#!/usr/bin/env bash
# A Python venv with MeltanoLabs' target-postgres from PyPI (it brings psycopg and SQLAlchemy
# wheels) and pyarrow (the SDK reads parquet BATCH files with it; a wheel, no build), for the
# PostgreSQL end-to-end tests. Idempotent and cached: prints the venv's folder (its bin/ holds
# target-postgres and python); rebuilds only when it is missing or its pin changed.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
dir=${TAP_AIRBYTE_POSTGRES_VENV:-$repo/target/postgres-venv}
# Callers running at once build it once: the others wait.
mkdir -p "$(dirname "$dir")"
exec 9>"$dir.lock"
flock -w 1800 9
pin="meltanolabs-target-postgres==0.8.1 pyarrow==26.0.1"
if ! [ -x "$dir/bin/target-postgres" ] || [ "$(cat "$dir/.pin" 2>/dev/null)" != "$pin" ]; then
  rm -rf "$dir"
  python3 -m venv "$dir" >&2
  # $pin unquoted: several requirements.
  # shellcheck disable=SC2086
  "$dir/bin/pip" install --quiet --disable-pip-version-check $pin >&2
  echo "$pin" >"$dir/.pin"
fi
echo "$dir"
