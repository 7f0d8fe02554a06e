#!/usr/bin/env bash
# A second Docker engine, reached only over TCP on loopback, for the remote-engine test:
#   tests/engines/remote-dockerd.sh start PORT   (idempotent)
#   tests/engines/remote-dockerd.sh stop PORT
# It runs in its own mount and network namespaces: a private /tmp, so host temp dirs (where a
# bind-mount based wrapper would put the connector's config) are not visible to it, and its own
# network, so it cannot touch the host's docker0 bridge. It listens on a unix socket that socat
# forwards to 127.0.0.1:PORT. Its own data root, exec root, pidfile and config file (the host's
# /etc/docker/daemon.json belongs to the first engine). The bundled connector's image is copied
# into it with docker save | docker load. Installs socat when missing.
set -euo pipefail
cmd=${1:?start|stop}
port=${2:-23750}
base=/var/lib/tap-airbyte-test-engine-$port
run=/run/tap-airbyte-test-engine-$port
host=tcp://127.0.0.1:$port

case "$cmd" in
  start)
    command -v socat >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq socat >/dev/null; }
    if ! DOCKER_HOST=$host docker version >/dev/null 2>&1; then
      mkdir -p "$base" "$run"
      driver=$(docker info -f '{{.Driver}}' 2>/dev/null || echo overlay2)
      printf '{"storage-driver": "%s"}\n' "$driver" >"$base.json"
      if ! [ -S "$run/docker.sock" ] || ! curl -s --unix-socket "$run/docker.sock" http://x/_ping >/dev/null; then
        rm -f "$run/docker.sock"
        setsid unshare --mount --net --propagation private sh -c "
          ip link set lo up &&
          mount -t tmpfs tmpfs /tmp &&
          exec dockerd --data-root '$base/data' --exec-root '$run/exec' --pidfile '$run/dockerd.pid' \
            -H 'unix://$run/docker.sock' --bridge=none --iptables=false --ip-masq=false --ip-forward=false \
            --userland-proxy=false --config-file '$base.json'" >"$base.log" 2>&1 </dev/null &
        for _ in $(seq 1 60); do
          [ -S "$run/docker.sock" ] && curl -s --unix-socket "$run/docker.sock" http://x/_ping >/dev/null && break
          sleep 0.5
        done
      fi
      setsid socat "TCP-LISTEN:$port,bind=127.0.0.1,reuseaddr,fork" "UNIX-CONNECT:$run/docker.sock" >/dev/null 2>&1 </dev/null &
      echo $! >"$run/socat.pid"
      for _ in $(seq 1 40); do
        DOCKER_HOST=$host docker version >/dev/null 2>&1 && break
        sleep 0.25
      done
      DOCKER_HOST=$host docker version >/dev/null 2>&1 || { tail -n 30 "$base.log" >&2; echo "the test engine did not start" >&2; exit 1; }
    fi
    want=$(docker image inspect -f '{{.Id}}' airbyte/source-scripted:dev)
    have=$(DOCKER_HOST=$host docker image inspect -f '{{.Id}}' airbyte/source-scripted:dev 2>/dev/null || true)
    if [ "$want" != "$have" ]; then
      docker save airbyte/source-scripted:dev | DOCKER_HOST=$host docker load >/dev/null
    fi
    ;;
  stop)
    for f in socat.pid dockerd.pid; do
      if [ -f "$run/$f" ]; then kill "$(cat "$run/$f")" 2>/dev/null || true; rm -f "$run/$f"; fi
    done
    ;;
  *) echo "usage: $0 start|stop [PORT]" >&2; exit 2 ;;
esac
