#!/usr/bin/env bash
# A local image registry (Debian's docker-registry) on loopback for the pull tests:
#   tests/engines/registry.sh start PORT [USER PASSWORD]   (with USER: htpasswd auth)
# Idempotent. Installs docker-registry and apache2-utils (htpasswd) when missing. Pushes the bundled
# connector's image as 127.0.0.1:PORT/tap-test/source-scripted-{a..e}:dev, logging in with a
# throw-away DOCKER_CONFIG so the host's ~/.docker/config.json is left alone.
set -euo pipefail
cmd=${1:?start}
port=${2:?port}
user=${3:-}
password=${4:-}
base=/var/lib/tap-airbyte-test-registry-$port
[ "$cmd" = start ] || { echo "usage: $0 start PORT [USER PASSWORD]" >&2; exit 2; }
if ! command -v docker-registry >/dev/null || ! command -v htpasswd >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-registry apache2-utils >/dev/null
fi
if ! curl -s -o /dev/null "http://127.0.0.1:$port/v2/"; then
  mkdir -p "$base/data"
  auth=""
  if [ -n "$user" ]; then
    htpasswd -Bbc "$base/htpasswd" "$user" "$password" >/dev/null 2>&1
    auth="auth:
  htpasswd:
    realm: tap-airbyte-test
    path: $base/htpasswd"
  fi
  cat >"$base/config.yml" <<YAML
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $base/data
http:
  addr: 127.0.0.1:$port
$auth
YAML
  setsid docker-registry serve "$base/config.yml" >"$base.log" 2>&1 </dev/null &
  for _ in $(seq 1 40); do
    curl -s -o /dev/null "http://127.0.0.1:$port/v2/" && break
    sleep 0.25
  done
fi
export DOCKER_CONFIG="$base/client"
mkdir -p "$DOCKER_CONFIG"
if [ -n "$user" ]; then
  echo "$password" | docker login -u "$user" --password-stdin "127.0.0.1:$port" >/dev/null
fi
for name in a b c d e; do
  ref=127.0.0.1:$port/tap-test/source-scripted-$name:dev
  docker tag airbyte/source-scripted:dev "$ref"
  docker push -q "$ref" >/dev/null
done
