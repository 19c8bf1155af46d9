# tests/e2e/throwaway.sh: sourced by tests/e2e/run.sh and tests/tempest/run.sh (bash,
# set -euo pipefail, as root). Brings up a throwaway single-box stack in a temporary
# root with deploy/stack.sh --root on free ports, and tears it down on exit.
#
#   throwaway_up NAME LOGS   make the stack under /tmp/nubo-NAME.XXXXXX; sets T (its
#                            root), API_PORT, BUS_PORT, PG_PORT, API_URL; installs
#                            the EXIT trap that copies the daemons' logs to LOGS and
#                            removes the stack (the script's exit status is kept)
#
# Environment: NUBO_E2E_KEEP=1 keeps the stack running (and its root) for a look.
# A script that needs its own cleanup sets THROWAWAY_CLEANUP to a function name: it
# runs first in the teardown, while the stack is still up.

# free ports on 127.0.0.1: API, a pair for the bus (N, N+1), PostgreSQL, and four for
# the object store (proxy N, servers N+1..N+3). All below the kernel's ephemeral range
# (32768..): stack.sh's default object port, API+10000, lands in it, where a client
# socket of the box may hold it (a Tempest run failed so: objproxy could not listen).
throwaway_ports() {
	/usr/bin/python3 - <<'PY'
import random, socket
def free(p):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
        return True
    except OSError:
        return False
    finally:
        s.close()
rnd = random.SystemRandom()
picked = []
while len(picked) < 3:
    p = rnd.randrange(20000, 30000, 2)
    if p in picked or p + 1 in picked or p - 1 in picked:
        continue
    if free(p) and free(p + 1):
        picked.append(p)
while True:
    o = rnd.randrange(10000, 19996, 4)
    if all(free(o + i) for i in range(4)):
        picked.append(o)
        break
print(*picked)
PY
}

# shellcheck disable=SC2317 # invoked by the EXIT trap
throwaway_teardown() {
	local rc=$?
	set +e
	[ -z "${THROWAWAY_CLEANUP:-}" ] || "$THROWAWAY_CLEANUP"
	mkdir -p "$THROWAWAY_LOGS"
	rm -f "$THROWAWAY_LOGS"/*.log
	cp "$T"/var/log/nubo/*.log "$THROWAWAY_LOGS/" 2>/dev/null
	# the logs of deploy/host-add.sh's hosts, as HOST-DAEMON.log
	for f in "$T"/var/lib/nubo/hosts/*/var/log/nubo/*.log; do
		[ -f "$f" ] || continue
		h=${f%/var/log/nubo/*}
		cp "$f" "$THROWAWAY_LOGS/${h##*/}-${f##*/}"
	done
	if [ "${NUBO_E2E_KEEP:-}" = 1 ]; then
		echo "$NUBO_PROG: keeping the stack under $T (deploy/unstack.sh --root $T --purge removes it)"
	else
		"$REPO/deploy/unstack.sh" --root "$T" --purge
		rm -rf "$T"
	fi
	echo "$NUBO_PROG: daemon logs copied to $THROWAWAY_LOGS"
	exit "$rc"
}

throwaway_up() {
	local name=$1
	THROWAWAY_LOGS=$2
	read -r API_PORT BUS_PORT PG_PORT OBJ_PORT < <(throwaway_ports)
	API_URL=http://127.0.0.1:$API_PORT
	T=$(mktemp -d "/tmp/nubo-$name.XXXXXX")
	chmod 0755 "$T" # the stack's postgres user must reach its cluster under it
	trap throwaway_teardown EXIT
	trap 'exit 130' INT TERM HUP

	echo "$NUBO_PROG: stack under $T (api $API_PORT, bus $BUS_PORT/$((BUS_PORT + 1)), postgresql $PG_PORT, objects $OBJ_PORT..$((OBJ_PORT + 3)))"
	if ! NUBO_OBJ_PORT=$OBJ_PORT "$REPO/deploy/stack.sh" --root "$T" --no-deps --port "$API_PORT" \
		--bus-port "$BUS_PORT" --pg-port "$PG_PORT"; then
		echo "$NUBO_PROG: deploy/stack.sh failed" >&2
		for f in "$T"/var/log/nubo/*.log; do
			[ -f "$f" ] || continue
			echo "---- tail of $f" >&2
			tail -n 30 "$f" >&2
		done
		exit 1
	fi
}
