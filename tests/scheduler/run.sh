#!/bin/bash
# End-to-end test of nubo-scheduler: a throwaway PostgreSQL cluster in a temporary
# directory, the real daemon, and fake agents (tests/scheduler/scheduler_test.py)
# that register, take tasks, answer them and report what runs. Exits non-zero on
# any failure. Usage: tests/scheduler/run.sh   (NUBO_SCHEDULER=path to skip make)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
PY=${PYTHON:-/usr/bin/python3}
SCHED=${NUBO_SCHEDULER:-$ROOT/build/bin/nubo-scheduler}

if [ -z "${NUBO_SCHEDULER:-}" ]; then
	make -C "$ROOT" -s build/bin/nubo-scheduler build/bin/nubo-manage >/dev/null
fi
if ! "$PY" -c 'import zmq' 2>/dev/null; then
	echo "run.sh: $PY has no zmq module (apt-get install python3-zmq)" >&2
	exit 1
fi
[ -x "$PGBIN/initdb" ] || { echo "run.sh: no PostgreSQL in $PGBIN" >&2; exit 1; }

TMP=$(mktemp -d /tmp/nubo-sched-test.XXXXXX)
PGDATA=$TMP/pg
SOCK=$TMP/sock
mkdir -p "$PGDATA" "$SOCK"
chmod 755 "$TMP"

# PostgreSQL refuses to run as root: run it as the postgres user then.
as_pg() {
	if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
if [ "$(id -u)" = 0 ]; then chown postgres "$PGDATA" "$SOCK"; fi

cleanup() {
	as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -m immediate stop >/dev/null 2>&1 || true
	if [ -n "${KEEP:-}" ]; then echo "kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT

PORT=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
as_pg "$PGBIN/initdb" -D "$PGDATA" -U postgres -A trust >"$TMP/initdb.log" 2>&1 ||
	{ cat "$TMP/initdb.log" >&2; exit 1; }

PGOPTS="-k $SOCK -p $PORT -c listen_addresses='' -c fsync=off"
as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -l "$SOCK/pg.log" -w -o "$PGOPTS" start >/dev/null
as_pg "$PGBIN/createdb" -h "$SOCK" -p "$PORT" -U postgres nubo

# The checks stop and start PostgreSQL once (a database outage), through this.
PGCTL="$TMP/pgctl"
cat >"$PGCTL" <<CTL
#!/bin/bash
# usage: pgctl stop|start
if [ "\$1" = start ]; then set -- start -w -l "$SOCK/pg.log" -o "$PGOPTS"; else set -- stop -m fast -w; fi
if [ "\$(id -u)" = 0 ]; then exec runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGDATA" "\$@"
else exec "$PGBIN/pg_ctl" -D "$PGDATA" "\$@"; fi
CTL
chmod +x "$PGCTL"

"$PY" "$ROOT/tests/scheduler/scheduler_test.py" --scheduler "$SCHED" --tmp "$TMP" \
	--pg-host "$SOCK" --pg-port "$PORT" --psql "$PGBIN/psql" --pg-ctl "$PGCTL"
