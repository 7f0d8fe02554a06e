#!/usr/bin/env bash
# End-to-end benchmark into a real database: the bundled connector at N records (one stream,
# default 1,000,000) → tap-airbyte → MeltanoLabs' target-postgres (PyPI, tests/postgres/venv.sh)
# → PostgreSQL (the test cluster, tests/engines/postgres.sh, on 127.0.0.1:55432):
#   docker/bench-e2e.sh [N]        (TAP=path/to/tap-airbyte to use another build, RUNS=3)
# Runs the RECORD path and the BATCH path (batch_config: gzipped JSONL files) alternately, RUNS
# times each (default 3), and prints rows/s end to end for each, medians, and their ratio. A fresh
# database per run, dropped at the end.
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
work=$(mktemp -d)
dbs=()
trap 'for d in "${dbs[@]}"; do psql "$url" -X -q -c "DROP DATABASE IF EXISTS $d WITH (FORCE)" || true; done; rm -rf "$work"' EXIT
# run_once MODE (record|batch): one sync into a fresh database; prints the wall seconds.
run_once() {
  local mode=$1 db=tap_bench_$$_${#dbs[@]}
  dbs+=("$db")
  psql "$url" -X -q -c "CREATE DATABASE $db"
  local batch=""
  if [ "$mode" = batch ]; then
    rm -rf "$work/batches"
    batch=", \"batch_config\": {\"encoding\": {\"format\": \"jsonl\", \"compression\": \"gzip\"}, \"storage\": {\"root\": \"file://$work/batches\"}, \"batch_size\": 100000}"
  fi
  cat >"$work/tap.json" <<JSON
{"airbyte_spec": {"image": "airbyte/source-scripted", "tag": "dev"},
 "airbyte_config": {"streams": [{"name": "bench", "records": $n}], "state_every": 10000}$batch}
JSON
  cat >"$work/target.json" <<JSON
{"host": "127.0.0.1", "port": 55432, "user": "tap", "password": "tap", "database": "$db",
 "default_target_schema": "bench"}
JSON
  local start end rows
  start=$(date +%s.%N)
  timeout 7200 bash -o pipefail -c "timeout 7200 '$tap' --config '$work/tap.json' 2>'$work/tap.err' |
    timeout 7200 '$venv/bin/target-postgres' --config '$work/target.json' >/dev/null 2>'$work/target.err'" ||
    { tail -n 20 "$work/tap.err" "$work/target.err" >&2; exit 1; }
  end=$(date +%s.%N)
  rows=$(psql "${url%/postgres}/$db" -X -tA -c "SELECT count(*) FROM bench.bench")
  [ "$rows" = "$n" ] || { echo "$mode: expected $n rows, found $rows" >&2; exit 1; }
  psql "$url" -X -q -c "DROP DATABASE IF EXISTS $db WITH (FORCE)"
  python3 -c "print($end - $start)"
}
runs=${RUNS:-3}
record=() batch=()
for _ in $(seq "$runs"); do
  record+=("$(run_once record)")
  batch+=("$(run_once batch)")
done
python3 - "$n" "${record[*]}" "${batch[*]}" <<'PY'
import statistics, sys
n = int(sys.argv[1])
record = statistics.median(map(float, sys.argv[2].split()))
batch = statistics.median(map(float, sys.argv[3].split()))
print(f"connector -> tap -> target-postgres -> PostgreSQL, {n} rows, {len(sys.argv[2].split())} runs each, alternating, medians:")
print(f"  RECORD path: {record:.1f} s = {n / record:,.0f} rows/s")
print(f"  BATCH path (jsonl.gz): {batch:.1f} s = {n / batch:,.0f} rows/s   ratio {record / batch:.2f}x")
PY
