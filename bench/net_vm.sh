#!/bin/bash
# bench/net_vm.sh: tenant networking with real guests (issue 8), timed on this box.
#
#   bench/net_vm.sh [--root DIR]
#
# Runs tests/e2e/test_net_vm.py (a throwaway stack through tests/e2e/run.sh, or the
# running stack under --root DIR) and prints what the test measured as key=value:
#   server_create_to_dhcp_lease_s  `server create --network` returns -> dnsmasq's lease
#                                  file holds the port's MAC (TCG boot included)
#   fip_set_to_first_answer_s      `floating ip set --port` starts -> the guest's probe
#                                  answers through the FIP from the outside namespace
# plus load_avg_1m (how busy the shared box was). Progress on stderr.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"
root=
if [ "${1:-}" = --root ]; then
	root=$2
fi
log=$(mktemp /tmp/nubo-bench-netvm.XXXXXX)
trap 'rm -f "$log"' EXIT
rc=0
if [ -n "$root" ]; then
	NUBO_E2E_ROOT=$root PYTHONDONTWRITEBYTECODE=1 pytest-3 -s -v -p no:cacheprovider \
		tests/e2e/test_net_vm.py >"$log" 2>&1 || rc=$?
else
	tests/e2e/run.sh tests/e2e/test_net_vm.py -s >"$log" 2>&1 || rc=$?
fi
grep -E '(PASSED|FAILED|ERROR)' "$log" >&2 || true
sed -n 's/^.*bench: //p' "$log"
echo "load_avg_1m=$(cut -d' ' -f1 /proc/loadavg)"
exit "$rc"
