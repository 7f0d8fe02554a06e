#!/usr/bin/env bash
# End-to-end benchmark into a real database: the bundled connector at N records (one stream,
# default 1,000,000) → tap-airbyte → MeltanoLabs' target-postgres (PyPI, tests/postgres/venv.sh)
# → PostgreSQL (the test cluster, tests/engines/postgres.sh, on 127.0.0.1:55432):
#   docker/bench-e2e.sh [N]        (TAP=path/to/tap-airbyte to use another build, RUNS=3)
# Runs three paths in turn, RUNS times each (default 3): RECORD lines, BATCH with gzipped JSONL
# files, and BATCH with parquet files (snappy pages); prints rows/s end to end for each (medians)
# and each BATCH path's ratio to RECORD. A fresh database per run, dropped at the end.
# LOGS=dir keeps each run's stderr of the tap and of the target there ({database}.tap.err, …).
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
# drop_db DB: drops it, waiting out a session the user `tap` may not end (most likely the autovacuum
# worker analyzing the freshly loaded table: WITH (FORCE) fails while it runs); quiet when the
# database is gone already.
drop_db() {
  local i
  for i in $(seq 30); do
    PGOPTIONS="-c client_min_messages=warning" psql "$url" -X -q -c "DROP DATABASE IF EXISTS $1 WITH (FORCE)" \
      2>"$work/drop.err" && return
    sleep 2
  done
  cat "$work/drop.err" >&2
  return 1
}
trap 'for d in "${dbs[@]}"; do drop_db "$d" || true; done; rm -rf "$work"' EXIT
# run_once MODE DB: one sync (MODE record, jsonl or parquet) into a fresh database DB; prints the
# wall seconds. It runs in a subshell ($(…)), so the caller notes DB in dbs for the cleanup.
run_once() {
  local mode=$1 db=$2
  psql "$url" -X -q -c "CREATE DATABASE $db"
  local batch="" encoding=""
  case "$mode" in
    jsonl) encoding='{"format": "jsonl", "compression": "gzip"}' ;;
    parquet) encoding='{"format": "parquet", "compression": "snappy"}' ;;
  esac
  if [ -n "$encoding" ]; then
    rm -rf "$work/batches"
    batch=", \"batch_config\": {\"encoding\": $encoding, \"storage\": {\"root\": \"file://$work/batches\"}, \"batch_size\": 100000}"
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
  if [ -n "${LOGS:-}" ]; then
    mkdir -p "$LOGS"
    cp "$work/tap.err" "$LOGS/$db.tap.err"
    cp "$work/target.err" "$LOGS/$db.target.err"
  fi
  rows=$(psql "${url%/postgres}/$db" -X -tA -c "SELECT count(*) FROM bench.bench")
  [ "$rows" = "$n" ] || { echo "$mode: expected $n rows, found $rows" >&2; exit 1; }
  drop_db "$db"
  python3 -c "print($end - $start)"
}
runs=${RUNS:-3}
record=() jsonl=() parquet=()
for i in $(seq "$runs"); do
  for mode in record jsonl parquet; do
    db=tap_bench_$$_${mode}_$i
    dbs+=("$db")
    t=$(run_once "$mode" "$db")
    printf 'run %s, %s: %.1f s\n' "$i" "$mode" "$t" >&2
    case "$mode" in
      record) record+=("$t") ;;
      jsonl) jsonl+=("$t") ;;
      parquet) parquet+=("$t") ;;
    esac
  done
done
python3 - "$n" "${record[*]}" "${jsonl[*]}" "${parquet[*]}" <<'PY'
import statistics, sys
n = int(sys.argv[1])
record, jsonl, parquet = (statistics.median(map(float, a.split())) for a in sys.argv[2:5])
print(f"connector -> tap -> target-postgres -> PostgreSQL, {n} rows, {len(sys.argv[2].split())} runs each, in turn, medians:")
print(f"  RECORD path: {record:.1f} s = {n / record:,.0f} rows/s")
print(f"  BATCH path (jsonl.gz): {jsonl:.1f} s = {n / jsonl:,.0f} rows/s   ratio {record / jsonl:.2f}x")
print(f"  BATCH path (parquet, snappy): {parquet:.1f} s = {n / parquet:,.0f} rows/s   ratio {record / parquet:.2f}x")
PY
