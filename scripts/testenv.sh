#!/usr/bin/env bash
# Runs a command against throwaway PostgreSQL and Redis servers on loopback, and stops them afterwards,
# also when the command fails. Exports DATABASE_URL, REDIS_URL and REDIS_SERVER_BIN for the command.
set -euo pipefail

PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

if ! command -v redis-server >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then
        echo "testenv: installing redis-server" >&2
        apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
    else
        echo "testenv: redis-server is missing; install it (apt-get install redis-server)" >&2
        exit 1
    fi
fi
if [ ! -x "$PGBIN/initdb" ]; then
    echo "testenv: PostgreSQL binaries not found in $PGBIN (set PGBIN)" >&2
    exit 1
fi

workdir=$(mktemp -d /tmp/panel-testenv.XXXXXX)
chmod 755 "$workdir"
pg_port=$(free_port)
redis_port=$(free_port)

# PostgreSQL refuses to run as root: run it as the postgres user when we are root.
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

cleanup() {
    status=$?
    as_pg "$PGBIN/pg_ctl" -D "$workdir/pg" -m immediate stop >/dev/null 2>&1 || true
    [ -f "$workdir/redis.pid" ] && kill "$(cat "$workdir/redis.pid")" 2>/dev/null || true
    rm -rf "$workdir"
    exit $status
}
trap cleanup EXIT INT TERM

mkdir -p "$workdir/pg"
[ "$(id -u)" = 0 ] && chown postgres "$workdir/pg"
as_pg "$PGBIN/initdb" -D "$workdir/pg" -U panel --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
# Durability settings off: this server is thrown away after the run.
as_pg "$PGBIN/pg_ctl" -D "$workdir/pg" -l "$workdir/pg/server.log" -w start \
    -o "-p $pg_port -k $workdir/pg -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" >/dev/null
as_pg "$PGBIN/createdb" -h 127.0.0.1 -p "$pg_port" -U panel panel

redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no \
    --daemonize yes --pidfile "$workdir/redis.pid" --logfile "$workdir/redis.log" --dir "$workdir"
for _ in $(seq 50); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done

export DATABASE_URL="postgres://panel@127.0.0.1:$pg_port/panel"
export REDIS_URL="redis://127.0.0.1:$redis_port/0"
export REDIS_SERVER_BIN
REDIS_SERVER_BIN=$(command -v redis-server)
echo "testenv: PostgreSQL on 127.0.0.1:$pg_port, Redis on 127.0.0.1:$redis_port" >&2
"$@"
