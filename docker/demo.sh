#!/usr/bin/env bash
# A real sync on a fresh machine, offline: builds the tap and the bundled connector's image, then
# runs the tap on it (discover, then sync with the discovered catalog) and prints the Singer stream.
#   docker/demo.sh [faker]   (faker: the PyPI airbyte-source-faker image instead; a few minutes to build)
set -euo pipefail
cd "$(dirname "$0")/.."
which=${1:-scripted}
cargo build --release --quiet
docker/build-images.sh "$which"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
target/release/tap-airbyte --config "examples/$which.json" --discover >"$work/catalog.json"
target/release/tap-airbyte --config "examples/$which.json" --catalog "$work/catalog.json" | tee "$work/out.jsonl"
echo "--" >&2
echo "$(grep -c '"type":"RECORD"' "$work/out.jsonl") records, $(grep -c '"type":"STATE"' "$work/out.jsonl") states; containers left: $(docker ps -aq --filter label=io.tap-airbyte.owner | wc -l)" >&2
