#!/usr/bin/env bash
# Start a throwaway PostgreSQL server for the `postgres` tests and print its URL as the last line.
#
#   export DIP_HEAL_TEST_POSTGRES_URL=$(bash .ci/postgres.sh)
#
# Installs Debian's `postgresql` when `initdb` is missing (needs root), creates a data directory
# with `mktemp -d`, starts the server on 127.0.0.1 only, on a free port, with trust
# authentication for local TCP connections (a test server: never expose it), and creates a
# database `dipheal`. Run as root, the server runs as the `postgres` user (initdb refuses root).
# Everything but the URL goes to stderr. Stop it with the `pg_ctl ... stop` line printed there.
set -euo pipefail

log() { echo "postgres.sh: $*" >&2; }

find_initdb() {
    if command -v initdb >/dev/null 2>&1; then
        command -v initdb
        return
    fi
    ls -1 /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1
}

INITDB=$(find_initdb || true)
if [ -z "$INITDB" ]; then
    if [ "$(id -u)" -ne 0 ]; then
        log "initdb not found and not root; install PostgreSQL (apt-get install postgresql) or run as root"
        exit 1
    fi
    log "installing postgresql (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq postgresql >&2
    INITDB=$(find_initdb)
fi
PGBIN=$(dirname "$(readlink -f "$INITDB")")

PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
BASE=$(mktemp -d "${TMPDIR:-/tmp}/dipheal-pg.XXXXXX")
DATA="$BASE/data"

if [ "$(id -u)" -eq 0 ]; then
    if ! id postgres >/dev/null 2>&1; then
        useradd --system --home-dir "$BASE" --shell /bin/sh postgres
    fi
    chown postgres "$BASE"
    as_pg() { runuser -u postgres -- "$@"; }
    DBUSER=postgres
else
    as_pg() { "$@"; }
    DBUSER=$(id -un)
fi

log "initdb in $DATA"
as_pg "$PGBIN/initdb" -D "$DATA" -U "$DBUSER" -A trust --no-sync -E UTF8 >"$BASE/initdb.log" 2>&1 || {
    cat "$BASE/initdb.log" >&2
    exit 1
}
log "starting on 127.0.0.1:$PORT"
as_pg "$PGBIN/pg_ctl" -D "$DATA" -l "$BASE/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $PORT -k $BASE -c fsync=off -c max_connections=100" start >&2 || {
    cat "$BASE/server.log" >&2
    exit 1
}
as_pg "$PGBIN/createdb" -h 127.0.0.1 -p "$PORT" -U "$DBUSER" dipheal >&2
log "stop with: runuser -u $DBUSER -- $PGBIN/pg_ctl -D $DATA stop  (then rm -rf $BASE)"
echo "postgresql://$DBUSER@127.0.0.1:$PORT/dipheal"
