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

NUBO_PROG=run.sh
# test_cloudinit.py boots a Debian cloud image that takes minutes to build on a cold
# cache: when it will run, build it now, beside the stack's start and the tests before
# it (deploy/mkdebian.sh caches by its own hash and holds a lock, so the test's own
# call waits for this one and copies its result).
case " ${*:-tests/e2e} " in
*" tests/e2e "* | *" tests/e2e/ "* | *test_cloudinit*)
	mkdir -p build
	pre=$(mktemp /tmp/nubo-debian-prebuild.XXXXXX)
	(deploy/mkdebian.sh "$pre.qcow2" >build/mkdebian.log 2>&1 || true
	 rm -f "$pre" "$pre.qcow2") &
	;;
esac
# shellcheck source=tests/e2e/throwaway.sh
. "$REPO/tests/e2e/throwaway.sh"
throwaway_up e2e "${NUBO_E2E_LOGS:-$REPO/build/e2e-logs}"

args=(-v -rfE -p no:cacheprovider --durations=30)
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
