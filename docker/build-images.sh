#!/usr/bin/env bash
# Builds the images the tests, the demo and the benchmark use, offline (no registry is needed).
#
#   docker/build-images.sh [scripted|faker|tap|tap-python|all]     (default: all)
#
# scripted  airbyte/source-scripted:dev  our own connector (connectors/source-scripted), a static binary
#           in a FROM scratch image; seconds to build.
# faker     airbyte/source-faker:dev     the real airbyte-source-faker from PyPI in a debootstrap Debian
#           root (python3 + venv), imported with `docker import`; a few minutes the first time.
# tap       tap-airbyte:dev              the tap itself (static binary, CA certificates, /tmp, /cache)
#           FROM scratch, for Meltano projects that run in containers; drives connectors through a
#           mounted Docker socket or DOCKER_HOST. The binary is the one .ci/run builds (target/static).
# tap-python tap-airbyte-python:dev      the static tap added to the faker image (a Python base image):
#           connectors run natively in it, no Docker socket.
#
# Idempotent and cached: every image carries a label with the hash of what it was built from, and is
# rebuilt only when that hash changes. Set FORCE=1 to rebuild anyway.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
cache=${TAP_AIRBYTE_IMAGE_CACHE:-$repo/target/images}
mkdir -p "$cache"

FAKER_VERSION=${FAKER_VERSION:-7.2.1}
DEBIAN_SUITE=bookworm
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

log() { printf '[build-images] %s\n' "$*" >&2; }

# current_hash IMAGE: the input hash the image was built from, or nothing.
current_hash() {
  docker image inspect --format '{{ index .Config.Labels "tap-airbyte.input-hash" }}' "$1" 2>/dev/null || true
}

build_scripted() {
  local image=airbyte/source-scripted:dev
  log "building connectors/source-scripted (static)"
  # A separate target dir keeps these RUSTFLAGS from invalidating the tap's own build.
  (cd "$repo" && RUSTFLAGS='-C target-feature=+crt-static' cargo build --quiet --release \
      -p source-scripted --target x86_64-unknown-linux-gnu --target-dir "$repo/target/connector")
  local bin="$repo/target/connector/x86_64-unknown-linux-gnu/release/source-scripted"
  local hash
  hash=$(cat "$bin" "$here/scripted/Dockerfile" | sha256sum | cut -c1-16)
  if [ "${FORCE:-0}" != 1 ] && [ "$(current_hash "$image")" = "$hash" ]; then
    log "$image is up to date ($hash)"
    return
  fi
  local ctx="$cache/scripted-context"
  rm -rf "$ctx" && mkdir -p "$ctx"
  cp "$bin" "$ctx/source-scripted"
  cp "$here/scripted/Dockerfile" "$ctx/Dockerfile"
  DOCKER_BUILDKIT=0 docker build --quiet --label "tap-airbyte.input-hash=$hash" -t "$image" "$ctx" >/dev/null
  log "built $image ($hash)"
}

build_faker() {
  local image=airbyte/source-faker:dev
  local hash
  hash=$( (sed -n '/^build_faker()/,/^}/p' "$0"; echo "$FAKER_VERSION $DEBIAN_SUITE") | sha256sum | cut -c1-16)
  if [ "${FORCE:-0}" != 1 ] && [ "$(current_hash "$image")" = "$hash" ]; then
    log "$image is up to date ($hash)"
    return
  fi
  command -v debootstrap >/dev/null || { log "installing debootstrap"; apt-get update -qq && apt-get install -y -qq debootstrap >/dev/null; }
  local root="$cache/faker-root"
  rm -rf "$root"
  log "debootstrap $DEBIAN_SUITE (minbase, python3, python3-venv) into $root"
  debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
    "$DEBIAN_SUITE" "$root" "$DEBIAN_MIRROR" >"$cache/debootstrap.log" 2>&1 \
    || { tail -n 20 "$cache/debootstrap.log" >&2; exit 1; }
  cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
  cp /etc/resolv.conf "$root/etc/resolv.conf"
  log "pip install airbyte-source-faker==$FAKER_VERSION into /airbyte/venv"
  chroot "$root" /usr/bin/python3 -m venv /airbyte/venv
  chroot "$root" /usr/bin/env PIP_CERT=/etc/ssl/certs/ca-certificates.crt PIP_DISABLE_PIP_VERSION_CHECK=1 \
    /airbyte/venv/bin/pip install --quiet --no-cache-dir "airbyte-source-faker==$FAKER_VERSION" \
    >"$cache/pip.log" 2>&1 || { tail -n 20 "$cache/pip.log" >&2; exit 1; }
  # Airbyte images run as the user `airbyte` (uid 1000); keep that, the tap must cope with it.
  chroot "$root" /usr/sbin/useradd --uid 1000 --home-dir /airbyte --no-create-home airbyte
  chroot "$root" /bin/chown -R airbyte:airbyte /airbyte
  : >"$root/etc/resolv.conf"
  rm -rf "$root/var/cache/apt/archives"/*.deb "$root/var/lib/apt/lists"/* 
  log "importing $image"
  tar -C "$root" -c . | docker import \
    --change 'ENTRYPOINT ["/airbyte/venv/bin/source-faker"]' \
    --change 'ENV AIRBYTE_ENTRYPOINT=/airbyte/venv/bin/source-faker' \
    --change 'WORKDIR /airbyte' \
    --change 'USER airbyte' \
    --change "LABEL tap-airbyte.input-hash=$hash" \
    - "$image" >/dev/null
  rm -rf "$root"
  log "built $image ($hash)"
}

# The tap's static binary, as .ci/run builds it (the same target dir, so the build is shared).
build_static_tap() {
  log "building the tap (static)"
  (cd "$repo" && RUSTFLAGS='-C target-feature=+crt-static' cargo build --quiet --release \
      --target x86_64-unknown-linux-gnu --target-dir "$repo/target/static")
  echo "$repo/target/static/x86_64-unknown-linux-gnu/release/tap-airbyte"
}

# log_size IMAGE: its size, in the build log.
log_size() {
  local bytes
  bytes=$(docker image inspect --format '{{.Size}}' "$1")
  log "$1: $(awk -v b="$bytes" 'BEGIN { printf "%.1f MiB (%d bytes)", b / 1048576, b }')"
}

build_tap() {
  local image=tap-airbyte:dev
  local bin certs=/etc/ssl/certs/ca-certificates.crt
  bin=$(build_static_tap)
  [ -f "$certs" ] || { log "no CA bundle at $certs (Debian: apt-get install ca-certificates)"; exit 1; }
  local hash
  hash=$( (cat "$bin" "$certs" "$here/tap/Dockerfile"; sed -n '/^build_tap()/,/^}/p' "$0") | sha256sum | cut -c1-16)
  if [ "${FORCE:-0}" != 1 ] && [ "$(current_hash "$image")" = "$hash" ]; then
    log "$image is up to date ($hash)"
    log_size "$image"
    return
  fi
  local ctx="$cache/tap-context"
  rm -rf "$ctx" && mkdir -p "$ctx/tmp" "$ctx/cache"
  chmod 1777 "$ctx/tmp" "$ctx/cache"
  cp "$bin" "$ctx/tap-airbyte"
  # Symbols off the image's copy (about 1 MiB); the binary in target/static is left as it is.
  if command -v strip >/dev/null; then strip --strip-all "$ctx/tap-airbyte"; fi
  cp "$certs" "$ctx/ca-certificates.crt"
  cp "$here/tap/Dockerfile" "$ctx/Dockerfile"
  DOCKER_BUILDKIT=0 docker build --quiet --label "tap-airbyte.input-hash=$hash" -t "$image" "$ctx" >/dev/null
  log "built $image ($hash)"
  log_size "$image"
}

build_tap_python() {
  local image=tap-airbyte-python:dev base=airbyte/source-faker:dev
  build_faker
  local bin base_id hash
  bin=$(build_static_tap)
  base_id=$(docker image inspect --format '{{.Id}}' "$base")
  hash=$( (cat "$bin" "$here/tap-python/Dockerfile"; sed -n '/^build_tap_python()/,/^}/p' "$0"; echo "$base_id") \
    | sha256sum | cut -c1-16)
  if [ "${FORCE:-0}" != 1 ] && [ "$(current_hash "$image")" = "$hash" ]; then
    log "$image is up to date ($hash)"
    log_size "$image"
    return
  fi
  local ctx="$cache/tap-python-context"
  rm -rf "$ctx" && mkdir -p "$ctx"
  cp "$bin" "$ctx/tap-airbyte"
  if command -v strip >/dev/null; then strip --strip-all "$ctx/tap-airbyte"; fi
  cp "$here/tap-python/Dockerfile" "$ctx/Dockerfile"
  DOCKER_BUILDKIT=0 docker build --quiet --build-arg "BASE=$base" --label "tap-airbyte.input-hash=$hash" \
    -t "$image" "$ctx" >/dev/null
  log "built $image ($hash)"
  log_size "$image"
}

case "${1:-all}" in
  scripted) build_scripted ;;
  faker) build_faker ;;
  tap) build_tap ;;
  tap-python) build_tap_python ;;
  all) build_scripted; build_faker; build_tap; build_tap_python ;;
  *) echo "usage: $0 [scripted|faker|tap|tap-python|all]" >&2; exit 2 ;;
esac
