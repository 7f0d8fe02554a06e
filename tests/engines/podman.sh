#!/usr/bin/env bash
# Podman's Docker-compatible API for the Podman test (it ends itself two minutes after its last request):
#   tests/engines/podman.sh start   (idempotent; prints the socket's DOCKER_HOST)
#   tests/engines/podman.sh stop
# Installs Debian's podman when missing. This machine forbids raising rlimits, which Podman does by
# default for every container ("error setting rlimit type 7"): `default_ulimits = []` in
# /etc/containers/containers.conf turns that off. The bundled connector's image is copied into
# Podman's store offline (docker save | podman load).
set -euo pipefail
cmd=${1:?start|stop}
run=/run/tap-airbyte-test-podman
sock=$run/podman.sock
host=unix://$sock

case "$cmd" in
  start)
    if ! command -v podman >/dev/null; then
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman >/dev/null
    fi
    conf=/etc/containers/containers.conf
    if ! grep -q '^default_ulimits' "$conf" 2>/dev/null; then
      mkdir -p /etc/containers
      printf '[containers]\ndefault_ulimits = []\n' >>"$conf"
    fi
    if ! DOCKER_HOST=$host docker version >/dev/null 2>&1; then
      mkdir -p "$run"
      rm -f "$sock"
      (setsid podman system service --time=120 "$host" >"$run/service.log" 2>&1 &)
      for _ in $(seq 1 50); do
        DOCKER_HOST=$host docker version >/dev/null 2>&1 && break
        sleep 0.2
      done
      DOCKER_HOST=$host docker version >/dev/null 2>&1 || { cat "$run/service.log" >&2; exit 1; }
    fi
    want=$(docker image inspect -f '{{.Id}}' airbyte/source-scripted:dev)
    have=$(cat "$run/scripted.id" 2>/dev/null || true)
    if [ "$want" != "$have" ] || ! podman image exists airbyte/source-scripted:dev; then
      docker save airbyte/source-scripted:dev | podman load -q >/dev/null
      echo "$want" >"$run/scripted.id"
    fi
    echo "$host"
    ;;
  stop)
    pkill -f "podman system service --time=120 $host" || true
    ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
