#!/usr/bin/env bash
# Stops the servers the test suite starts and leaves running between runs (for speed): the second
# dockerd (tests/engines/remote-dockerd.sh, TCP :23751 and TLS :23761), the local registries
# (tests/engines/registry.sh, :5051 and :5052), Podman's API service (tests/engines/podman.sh)
# and the PostgreSQL cluster (tests/engines/postgres.sh, :55432).
# .ci/run calls it when it ends; run it yourself after `cargo test --workspace`.
cd "$(dirname "$0")"
./remote-dockerd.sh stop 23751 >/dev/null 2>&1 || true
pkill -f 'docker-registry serve /var/lib/tap-airbyte-test-registry-' >/dev/null 2>&1 || true
./podman.sh stop >/dev/null 2>&1 || true
./postgres.sh stop >/dev/null 2>&1 || true
echo "stopped the test servers (second dockerd, registries, Podman service, PostgreSQL)" >&2
