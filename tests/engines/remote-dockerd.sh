#!/usr/bin/env bash
# A second Docker engine, reached only over TCP on loopback, for the remote-engine test:
#   tests/engines/remote-dockerd.sh start PORT   (prints nothing; idempotent)
#   tests/engines/remote-dockerd.sh stop PORT
# It runs in its own mount namespace with a private /tmp, so host temp dirs (where a bind-mount
# based wrapper would put the connector's config) are not visible to it: only an archive upload
# gets files into its containers. Its own data root, exec root and pidfile; no bridge, no iptables.
# The bundled connector's image is copied into it with docker save | docker load.
set -euo pipefail
cmd=${1:?start|stop}
port=${2:-23750}
base=/var/lib/tap-airbyte-test-engine-$port
run=/run/tap-airbyte-test-engine-$port
host=tcp://127.0.0.1:$port

case "$cmd" in
  start)
    if ! DOCKER_HOST=$host docker version >/dev/null 2>&1; then
            mkdir -p "$base" "$run"
      # Its own config file (the host's /etc/docker/daemon.json sets the first engine's data root);
      # the same storage driver as the first engine, which is known to work on this machine.
      driver=$(docker info -f '{{.Driver}}' 2>/dev/null || echo overlay2)
      printf '{"storage-driver": "%s"}\n' "$driver" >"$base.json"

      setsid unshare --mount --propagation private sh -c "
        mount -t tmpfs tmpfs /tmp &&
        exec dockerd --data-root '$base/data' --exec-root '$run/exec' --pidfile '$run/dockerd.pid' \
          -H '$host' --bridge=none --iptables=false --ip-masq=false --ip-forward=false \
          --userland-proxy=false --config-file '$base.json'" >"$base.log" 2>&1 < /dev/null &
      for _ in $(seq 1 60); do
        DOCKER_HOST=$host docker version >/dev/null 2>&1 && break
        sleep 0.5
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
    if [ -f "$run/dockerd.pid" ]; then kill "$(cat "$run/dockerd.pid")" 2>/dev/null || true; fi
    ;;
  *) echo "usage: $0 start|stop [PORT]" >&2; exit 2 ;;
esac
