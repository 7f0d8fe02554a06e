#!/usr/bin/env bash
# A second Docker engine, reached only over TCP on loopback, for the remote-engine test:
#   tests/engines/remote-dockerd.sh start PORT   (idempotent)
#   tests/engines/remote-dockerd.sh tls PORT TLSPORT CERTDIR   (after start: the same engine's own
#       TLS listener, client certificates required, on 127.0.0.1:TLSPORT; CERTDIR gets ca.pem,
#       cert.pem, key.pem for DOCKER_CERT_PATH)
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
    if [ ! -f "$base/certs/cert.pem" ] && [ -f "$run/dockerd.pid" ]; then
      # An engine from an older version of this script, without its TLS listener: start anew.
      "$0" stop "$port"
      sleep 2
    fi
    if ! DOCKER_HOST=$host docker version >/dev/null 2>&1; then
      mkdir -p "$base" "$run"
      driver=$(docker info -f '{{.Driver}}' 2>/dev/null || echo overlay2)
      printf '{"storage-driver": "%s"}\n' "$driver" >"$base.json"
      certs="$base/certs"
      if [ ! -f "$certs/cert.pem" ]; then
        mkdir -p "$certs"
        (
          cd "$certs"
          openssl req -x509 -newkey rsa:2048 -nodes -days 7 -subj /CN=tap-airbyte-test-ca -keyout ca-key.pem -out ca.pem 2>/dev/null
          openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout server-key.pem -out server.csr 2>/dev/null
          printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >server.ext
          openssl x509 -req -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 7 -extfile server.ext -out server-cert.pem 2>/dev/null
          openssl req -newkey rsa:2048 -nodes -subj /CN=client -keyout key.pem -out client.csr 2>/dev/null
          printf 'extendedKeyUsage=clientAuth\n' >client.ext
          openssl x509 -req -in client.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 7 -extfile client.ext -out cert.pem 2>/dev/null
        )
      fi
      if ! [ -S "$run/docker.sock" ] || ! curl -s --unix-socket "$run/docker.sock" http://x/_ping >/dev/null; then
        rm -f "$run/docker.sock"
        setsid unshare --mount --net --propagation private sh -c "
          ip link set lo up &&
          mount -t tmpfs tmpfs /tmp &&
          exec dockerd --data-root '$base/data' --exec-root '$run/exec' --pidfile '$run/dockerd.pid' \
            -H 'unix://$run/docker.sock' -H tcp://127.0.0.1:2376 --tlsverify \
            --tlscacert '$certs/ca.pem' --tlscert '$certs/server-cert.pem' --tlskey '$certs/server-key.pem' --bridge=none --iptables=false --ip-masq=false --ip-forward=false \
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
    tls)
    # The engine's own TLS listener (inside its network namespace) made reachable on the host's
    # loopback: socat inside the namespace forwards a unix socket to it, socat outside forwards
    # TLSPORT to that socket. TLS is the engine's, end to end; socat only moves bytes.
    tls_port=${3:?TLSPORT}
    certs=${4:?CERTDIR}
    mkdir -p "$certs"
    cp "$base/certs/ca.pem" "$base/certs/cert.pem" "$base/certs/key.pem" "$certs/"
    if ! curl -s --cacert "$certs/ca.pem" --cert "$certs/cert.pem" --key "$certs/key.pem" "https://127.0.0.1:$tls_port/_ping" >/dev/null; then
      rm -f "$run/tls.sock"
      setsid nsenter --net --target "$(cat "$run/dockerd.pid")" \
        socat "UNIX-LISTEN:$run/tls.sock,fork" "TCP:127.0.0.1:2376" >/dev/null 2>&1 </dev/null &
      echo $! >"$run/socat-tls-inner.pid"
      for _ in $(seq 1 20); do [ -S "$run/tls.sock" ] && break; sleep 0.1; done
      setsid socat "TCP-LISTEN:$tls_port,bind=127.0.0.1,reuseaddr,fork" "UNIX-CONNECT:$run/tls.sock" >/dev/null 2>&1 </dev/null &
      echo $! >"$run/socat-tls.pid"
      for _ in $(seq 1 40); do
        curl -s --cacert "$certs/ca.pem" --cert "$certs/cert.pem" --key "$certs/key.pem" "https://127.0.0.1:$tls_port/_ping" >/dev/null && break
        sleep 0.25
      done
    fi
    ;;
  stop)
    for f in socat.pid socat-tls.pid socat-tls-inner.pid dockerd.pid; do
      if [ -f "$run/$f" ]; then kill "$(cat "$run/$f")" 2>/dev/null || true; rm -f "$run/$f"; fi
    done
    ;;
  *) echo "usage: $0 start|stop [PORT]" >&2; exit 2 ;;
esac
