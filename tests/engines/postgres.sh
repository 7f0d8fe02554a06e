#!/usr/bin/env bash
# A throw-away PostgreSQL cluster owned by the tests, on 127.0.0.1:55432 only:
#   tests/engines/postgres.sh start   (idempotent: a running cluster is left alone; prints the URL)
#   tests/engines/postgres.sh stop
#   tests/engines/postgres.sh url     (postgresql://tap:tap@127.0.0.1:55432/postgres)
# The cluster's data lives in /var/lib/tap-airbyte-test-postgres and it runs as the `postgres`
# system user (PostgreSQL refuses root; the user is created when missing). Its unix socket stays in
# its own folder, so it never meets a system cluster. Logins over TCP need a password (scram);
# the test user `tap` (password `tap`) may create databases, so each test makes its own.
# Installs Debian's postgresql server when its binaries are missing.
set -euo pipefail
cmd=${1:?start|stop|url}
port=55432
base=/var/lib/tap-airbyte-test-postgres-$port
data=$base/data
sock=$base/run
user=tap
password=tap
url="postgresql://$user:$password@127.0.0.1:$port/postgres"
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
as_pg() { runuser -u postgres -- "$@"; }

case "$cmd" in
  start)
    if [ -z "$bin" ] || ! [ -x "$bin/postgres" ] || ! [ -x "$bin/initdb" ]; then
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
      bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
    fi
    id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql --shell /bin/sh postgres
    mkdir -p "$base"
    chown postgres: "$base"
    # Tests start it concurrently: one start at a time.
    exec 9>"$base/start.lock"
    flock 9
    if as_pg "$bin/pg_isready" -q -h "$sock" -p "$port" 2>/dev/null; then
      echo "$url"
      exit 0
    fi
    if ! [ -f "$data/PG_VERSION" ]; then
      rm -rf "$data"
      pwfile=$(mktemp)
      echo postgres >"$pwfile"
      chown postgres "$pwfile"
      as_pg "$bin/initdb" -D "$data" -U postgres --pwfile="$pwfile" -A scram-sha-256 --auth-local=trust \
        -E UTF8 --locale=C.UTF-8 >"$base/initdb.log" 2>&1 || { cat "$base/initdb.log" >&2; exit 1; }
      rm -f "$pwfile"
      cat >>"$data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$sock'
max_connections = 100
fsync = off
synchronous_commit = off
full_page_writes = off
CONF
    fi
    install -d -o postgres -g postgres "$sock"
    as_pg "$bin/pg_ctl" -D "$data" -l "$base/server.log" -w -t 60 start >/dev/null 9>&- ||
      { tail -n 30 "$base/server.log" >&2; exit 1; }
    as_pg "$bin/psql" -q -h "$sock" -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 <<SQL >/dev/null
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$user') THEN
    CREATE ROLE $user LOGIN CREATEDB PASSWORD '$password';
  END IF;
END \$\$;
SQL
    echo "$url"
    ;;
  stop)
    if [ -n "$bin" ] && [ -f "$data/postmaster.pid" ]; then
      as_pg "$bin/pg_ctl" -D "$data" -m fast -w -t 60 stop >/dev/null
    fi
    ;;
  url)
    echo "$url"
    ;;
  *) echo "usage: $0 start|stop|url" >&2; exit 2 ;;
esac
