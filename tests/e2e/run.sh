#!/bin/bash
# tests/e2e/run.sh (make e2e): bring up a throwaway single-box stack in a temporary
# root with deploy/stack.sh --root, run the end-to-end suite against it with the
# real openstack CLI, and always tear the stack down again.
#
# Exit status: pytest's (no tests collected counts as failure).
# Environment: NUBO_E2E_KEEP=1 keeps the stack running (and its root) for a look;
#              NUBO_E2E_LOGS=DIR copies the daemons' logs there (default build/e2e-logs);
# Arguments go to pytest instead of the default "tests/e2e", e.g.
#   tests/e2e/run.sh tests/e2e/test_identity.py -k token
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$REPO"
[ "$(id -u)" = 0 ] || { echo "run.sh: the end-to-end tests need root" >&2; exit 1; }

# free ports on 127.0.0.1: API, a pair for the bus (N, N+1), PostgreSQL
read -r API_PORT BUS_PORT PG_PORT < <(/usr/bin/python3 - <<'EOF'
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
print(*picked)
EOF
)

T=$(mktemp -d /tmp/nubo-e2e.XXXXXX)
chmod 0755 "$T" # the stack's postgres user must reach its cluster under it
LOGS=${NUBO_E2E_LOGS:-$REPO/build/e2e-logs}

# shellcheck disable=SC2317 # invoked by the EXIT trap
teardown() {
	local rc=$?
	set +e
	mkdir -p "$LOGS"
	rm -f "$LOGS"/*.log
	cp "$T"/var/log/nubo/*.log "$LOGS/" 2>/dev/null
	if [ "${NUBO_E2E_KEEP:-}" = 1 ]; then
		echo "run.sh: keeping the stack under $T (deploy/unstack.sh --root $T --purge removes it)"
	else
		"$REPO/deploy/unstack.sh" --root "$T" --purge
		rm -rf "$T"
	fi
	echo "run.sh: daemon logs copied to $LOGS"
	exit "$rc"
}
trap teardown EXIT
trap 'exit 130' INT TERM HUP

echo "run.sh: stack under $T (api $API_PORT, bus $BUS_PORT/$((BUS_PORT + 1)), postgresql $PG_PORT)"
if ! "$REPO/deploy/stack.sh" --root "$T" --no-deps --port "$API_PORT" --bus-port "$BUS_PORT" \
	--pg-port "$PG_PORT"; then
	echo "run.sh: deploy/stack.sh failed" >&2
	for f in "$T"/var/log/nubo/*.log; do
		[ -f "$f" ] || continue
		echo "---- tail of $f" >&2
		tail -n 30 "$f" >&2
	done
	exit 1
fi

args=(-v -rfE -p no:cacheprovider)
# a hung test fails on its own instead of eating CI's time
if /usr/bin/python3 -c 'import pytest_timeout' 2>/dev/null; then
	args+=(--timeout=900)
fi
rc=0
[ $# -gt 0 ] || set -- tests/e2e
NUBO_E2E_ROOT=$T NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost \
	PYTHONDONTWRITEBYTECODE=1 pytest-3 "${args[@]}" "$@" || rc=$?
if [ "$rc" = 5 ]; then
	echo "run.sh: pytest collected no tests" >&2
	rc=1
fi
exit "$rc"
