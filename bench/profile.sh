#!/bin/bash
# bench/profile.sh: a perf profile of nubo-api (or of the stack's PostgreSQL) while wrk
# runs one request at c=8 against a running stack (issue 6).
#
#   bench/profile.sh --root DIR [--servers N] [--pg] [--seconds S] PATH OUT
#
#   --root DIR   the stack (made by deploy/stack.sh --root DIR)
#   --servers N  seed N servers as bench/api.sh does (rows only, removed at exit)
#   --pg         profile the stack's PostgreSQL processes instead of nubo-api
#   --seconds S  length of the perf record (default 10; wrk runs S + 4 s)
#   PATH         the request, e.g. /compute/v2.1/servers/detail
#   OUT          prefix of the outputs: OUT.data (perf record -F 999 -g), OUT.wrk (wrk's
#                key=value lines), OUT.txt (self time by DSO, then by DSO and symbol;
#                nubo-api's own symbols resolved with addr2line against the build)
set -euo pipefail
# shellcheck disable=SC2034 # read by deploy/lib.sh (nubo_die)
NUBO_PROG=profile.sh
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=deploy/lib.sh
. "$HERE/../deploy/lib.sh"
ROOT='' SERVERS=0 PG='' SECS=10
usage() {
	awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}" >&2
	exit 2
}
while [ $# -gt 2 ]; do
	case $1 in
	--root) ROOT=$2; shift 2 ;;
	--servers) SERVERS=$2; shift 2 ;;
	--pg) PG=1; shift ;;
	--seconds) SECS=$2; shift 2 ;;
	*) usage ;;
	esac
done
if [ $# != 2 ] || [ -z "$ROOT" ]; then usage; fi
URLPATH=$1 OUT=$2
case "$SERVERS$SECS" in *[!0-9]*) usage ;; esac
command -v perf >/dev/null || nubo_die "perf missing (apt-get install linux-perf)"
command -v wrk >/dev/null || nubo_die "wrk missing (apt-get install wrk)"
nubo_set_root "$ROOT"
# shellcheck disable=SC1090
. "$NUBO_OPENRC" admin
API=${OS_AUTH_URL%/identity/v3}
CONNINFO=$(nubo_conf_get database conninfo)
sql() { "$(nubo_pgbin)/psql" -X -q -t -A -v ON_ERROR_STOP=1 "$CONNINFO" "$@"; }
cleanup() { sql -c "DELETE FROM instances WHERE metadata->>'nubo_bench' = '1'" >/dev/null 2>&1 || true; }
trap cleanup EXIT
TOKEN=$(/usr/bin/openstack token issue -f value -c id)
if [ "$SERVERS" -gt 0 ]; then
	cleanup
	sql -c "INSERT INTO instances (id, name, project_id, user_id, flavor_id, image_id, vcpus,
	          ram_mb, disk_gb, status, power_state, vm_state, host, metadata, launched_at)
	        SELECT gen_random_uuid()::text, 'nubo-bench-' || g, p.id, u.id, f.id,
	          gen_random_uuid()::text, f.vcpus, f.ram_mb, f.disk_gb, 'ACTIVE', 1, 'active',
	          'nubo-bench-nohost', '{\"nubo_bench\": \"1\"}', now()
	        FROM generate_series(1, $SERVERS) g, projects p, users u, flavors f
	        WHERE p.name = '$OS_PROJECT_NAME' AND u.name = '$OS_USERNAME'
	          AND f.name = 'm1.tiny'" >/dev/null
fi
if [ -n "$PG" ]; then
	pg=$(head -n 1 "$NUBO_PGDATA/postmaster.pid")
	PIDS=$(echo "$pg" $(pgrep -P "$pg") | tr ' ' ,)
else
	PIDS=$(cat "$NUBO_RUNDIR/nubo-api.pid")
fi
NUBO_TOKEN=$TOKEN NUBO_BENCH_KEY=profile wrk -t2 -c8 -d$((SECS + 4))s -s "$HERE/wrk_auth.lua" \
	"$API$URLPATH" | grep '^profile_' >"$OUT.wrk" &
wrk_pid=$!
sleep 2
perf record -F 999 -g -o "$OUT.data" -p "$PIDS" -- sleep "$SECS" >/dev/null 2>&1
wait "$wrk_pid"
exe=$HERE/../build/bin/nubo-api
{
	echo "# $(date -u +%FT%TZ) load $(cut -d' ' -f1-3 /proc/loadavg) $URLPATH servers=$SERVERS"
	cat "$OUT.wrk"
	perf report -i "$OUT.data" --no-children --sort dso --stdio -g none 2>/dev/null | grep '%'
	perf report -i "$OUT.data" --no-children --sort dso,sym --stdio -g none 2>/dev/null |
		grep '%' | head -40 | while read -r pct dso kind sym; do
		# unresolved addresses of our own binary: the function from the build
		if [[ $dso == nubo-api && $sym == 0x* && -x $exe ]]; then
			sym="$(addr2line -f -e "$exe" "$sym" | head -n 1) ($sym)"
		fi
		echo "$pct $dso $kind $sym"
	done
} >"$OUT.txt"
cat "$OUT.txt"
