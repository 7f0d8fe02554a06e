#!/usr/bin/env bash
# Builds the tap's pip-installable wheel (distribution `tap-airbyte-rs`, the binary `tap-airbyte`):
# one static-pie binary (glibc linked in, no shared libraries) packed by maturin (pyproject.toml) into
# target/wheels/tap_airbyte_rs-<version>-py3-none-manylinux2014_x86_64.manylinux_2_17_x86_64.whl.
#
#   docker/build-wheel.sh        progress on stderr; the wheel's absolute path is the only stdout line
#
# Needs PyPI once (maturin, pinned, into target/maturin-venv) and crates.io for a first cargo build;
# no container registry. The static build shares target/static with .ci/run's static build step
# (same RUSTFLAGS, target and profile), so the binary is compiled once for both.
# Idempotent and cached: the wheel is rebuilt only when what it is built from changes (the hash is kept
# in target/wheels/.tap-airbyte-rs.input-hash); FORCE=1 rebuilds anyway. Runs one at a time (flock).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
MATURIN_VERSION=${MATURIN_VERSION:-1.16.0}
PYTHON=${PYTHON:-python3}
TARGET=x86_64-unknown-linux-gnu
# manylinux2014 = glibc 2.17 and Linux 3.10 (CentOS 7). The binary needs no glibc from the system,
# so maturin's auditwheel alone would pick the lowest tag, manylinux1 (CentOS 5); but the glibc linked
# in refuses kernels older than 3.2 (its ELF ABI note), and manylinux2010 (CentOS 6) has 2.6.32.
COMPATIBILITY=manylinux2014
venv=$repo/target/maturin-venv
out=$repo/target/wheels
stamp=$out/.tap-airbyte-rs.input-hash

log() { printf '[build-wheel] %s\n' "$*" >&2; }

mkdir -p "$out"
exec 9>"$out/.build-wheel.lock"
if ! flock -n 9; then
  log "another build-wheel.sh is running; waiting for it"
  flock -w 3600 9 || { log "gave up waiting for the other build"; exit 1; }
fi

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$repo/Cargo.toml" | head -n 1)
[ -n "$version" ] || { log "no version in Cargo.toml"; exit 1; }

log "1/4 maturin $MATURIN_VERSION (PyPI, cached in target/maturin-venv)"
if [ "$("$venv/bin/maturin" --version 2>/dev/null || true)" != "maturin $MATURIN_VERSION" ]; then
  rm -rf "$venv"
  "$PYTHON" -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "maturin==$MATURIN_VERSION" >&2
fi

log "2/4 hash of the inputs"
hash=$(
  cd "$repo"
  {
    find src -type f | LC_ALL=C sort
    echo Cargo.toml Cargo.lock build.rs pyproject.toml README.md docker/build-wheel.sh
  } | xargs sha256sum
  rustc -vV
  echo "maturin $MATURIN_VERSION $COMPATIBILITY $TARGET"
)
hash=$(printf '%s' "$hash" | sha256sum | cut -c1-16)
if [ "${FORCE:-0}" != 1 ] && [ -f "$stamp" ]; then
  read -r old_hash old_wheel <"$stamp" || true
  if [ "${old_hash:-}" = "$hash" ] && [ -f "${old_wheel:-}" ]; then
    log "3/4 up to date ($hash): nothing to build"
    echo "$old_wheel"
    exit 0
  fi
fi

log "3/4 maturin build --release, static ($TARGET, +crt-static, target/static)"
fresh=$(mktemp -d "$out/.build.XXXXXX")
trap 'rm -rf "$fresh"' EXIT
# The variables cargo sets for the programs it runs reach this script when a test calls it, and
# build scripts watch some of them (ring: CARGO_MANIFEST_DIR, CARGO_PKG_*): left in, they would make
# every switch between a test's build and .ci/run's (same target/static) rebuild half the tree.
unset_cargo_env=()
while IFS= read -r -d '' entry; do
  case ${entry%%=*} in
    CARGO | CARGO_MANIFEST_* | CARGO_PKG_* | CARGO_CRATE_NAME | CARGO_BIN_NAME | CARGO_BIN_EXE_* | \
      CARGO_PRIMARY_PACKAGE | CARGO_TARGET_TMPDIR | CARGO_RUSTC_CURRENT_DIR | CARGO_CFG_* | \
      CARGO_FEATURE_* | OUT_DIR) unset_cargo_env+=(-u "${entry%%=*}") ;;
  esac
done < <(env -0)
(
  cd "$repo"
  env "${unset_cargo_env[@]}" RUSTFLAGS='-C target-feature=+crt-static' "$venv/bin/maturin" build --release \
    --target "$TARGET" --target-dir "$repo/target/static" \
    --compatibility "$COMPATIBILITY" --auditwheel check --out "$fresh" >&2
)
shopt -s nullglob
built=("$fresh"/tap_airbyte_rs-"$version"-*.whl)
[ ${#built[@]} = 1 ] || { log "expected one wheel of version $version, got: ${built[*]:-none}"; exit 1; }

log "4/4 checks: a static binary, the manylinux2014 tag"
bin=$repo/target/static/$TARGET/release/tap-airbyte
if ldd "$bin" 2>&1 | grep -q '=>'; then
  log "$bin links shared libraries:"
  ldd "$bin" >&2
  exit 1
fi
name=$(basename "${built[0]}")
case "$name" in
  # maturin writes the two names of the tag in either order.
  *-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl | *-py3-none-manylinux2014_x86_64.manylinux_2_17_x86_64.whl) ;;
  *) log "unexpected wheel tag: $name"; exit 1 ;;
esac
rm -f "$out/$name"
mv "${built[0]}" "$out/$name"
printf '%s %s\n' "$hash" "$out/$name" >"$stamp"
log "built $name ($(du -k "$out/$name" | cut -f1) KiB, $hash)"
echo "$out/$name"
