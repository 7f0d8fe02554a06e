#!/usr/bin/env bash
# A real sync on a fresh machine, offline: builds the tap and the bundled connector's image, then
# runs the tap on it (discover, then sync with the discovered catalog) and prints the Singer stream.
#   docker/demo.sh [faker]   (faker: the PyPI airbyte-source-faker image instead; a few minutes to build)
# The first run compiles the tap in release mode (a few minutes on 2 cores; cargo shows its progress).
set -euo pipefail
cd "$(dirname "$0")/.."
which=${1:-scripted}
step() { printf '\n== [demo] %s\n' "$*" >&2; }
step "1/4 cargo build --release (the tap; minutes the first time, seconds after)"
cargo build --release
step "2/4 the connector's image: docker/build-images.sh $which"
docker/build-images.sh "$which"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
step "3/4 tap-airbyte --config examples/$which.json --discover"
target/release/tap-airbyte --config "examples/$which.json" --discover >"$work/catalog.json"
echo "$(grep -c '"tap_stream_id"' "$work/catalog.json") streams discovered" >&2
step "4/4 tap-airbyte --config examples/$which.json --catalog catalog.json (the Singer stream on stdout)"
target/release/tap-airbyte --config "examples/$which.json" --catalog "$work/catalog.json" | tee "$work/out.jsonl"
echo "--" >&2
echo "$(grep -c '"type":"RECORD"' "$work/out.jsonl") records, $(grep -c '"type":"STATE"' "$work/out.jsonl") states; containers left: $(docker ps -aq --filter label=io.tap-airbyte.owner | wc -l)" >&2
