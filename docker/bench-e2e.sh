#!/usr/bin/env bash
# End-to-end benchmark into a real database: the bundled connector at N records (one stream,
# default 1,000,000) → tap-airbyte → MeltanoLabs' target-postgres (PyPI, tests/postgres/venv.sh)
# → PostgreSQL (the test cluster, tests/engines/postgres.sh, on 127.0.0.1:55432):
#   docker/bench-e2e.sh [N]        (TAP=path/to/tap-airbyte to use another build)
# Prints the wall time, the rows in the table and rows/s end to end. Only the RECORD path exists
# today (the target parses every RECORD line). A fresh database per run, dropped at the end.
# A benchmark, not a test: it asserts only that every row arrived. Stop the cluster with
# tests/engines/stop-all.sh (or tests/engines/postgres.sh stop).
set -euo pipefail
n=${1:-1000000}
repo=$(cd "$(dirname "$0")/.." && pwd)
tap=${TAP:-$repo/target/release/tap-airbyte}
[ -x "$tap" ] || (cd "$repo" && cargo build --release --quiet)
"$repo/docker/build-images.sh" scripted >&2
url=$("$repo/tests/engines/postgres.sh" start)
venv=$("$repo/tests/postgres/venv.sh")
db=tap_bench_$$
dburl=${url%/postgres}/$db
psql "$url" -X -q -c "CREATE DATABASE $db"
work=$(mktemp -d)
trap 'psql "$url" -X -q -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" || true; rm -rf "$work"' EXIT
cat >"$work/tap.json" <<JSON
{"airbyte_spec": {"image": "airbyte/source-scripted", "tag": "dev"},
 "airbyte_config": {"streams": [{"name": "bench", "records": $n}], "state_every": 10000}}
JSON
cat >"$work/target.json" <<JSON
{"host": "127.0.0.1", "port": 55432, "user": "tap", "password": "tap", "database": "$db",
 "default_target_schema": "bench"}
JSON
start=$(date +%s.%N)
timeout 7200 bash -o pipefail -c "timeout 7200 '$tap' --config '$work/tap.json' 2>'$work/tap.err' |
  timeout 7200 '$venv/bin/target-postgres' --config '$work/target.json' >/dev/null 2>'$work/target.err'" ||
  { tail -n 20 "$work/tap.err" "$work/target.err" >&2; exit 1; }
end=$(date +%s.%N)
rows=$(psql "$dburl" -X -tA -c "SELECT count(*) FROM bench.bench")
[ "$rows" = "$n" ] || { echo "expected $n rows, found $rows" >&2; exit 1; }
python3 - "$n" "$start" "$end" <<'PY'
import sys
n, start, end = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
wall = end - start
print(f"connector -> tap -> target-postgres -> PostgreSQL: {n} rows in {wall:.1f} s = {n / wall:,.0f} rows/s (RECORD path)")
PY
