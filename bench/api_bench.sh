#!/bin/bash
# bench/api_bench.sh: measure a running stack (made by deploy/stack.sh).
#
#   bench/api_bench.sh [--root DIR] [--servers N] [--duration S] [--connections C]
#                      [--boots N]
#
# 1. time from POST /compute/v2.1/servers to ACTIVE, and to the guest's ready line on
#    its console, for --boots (3) real m1.tiny VMs, one after the other;
# 2. with --servers (100) servers in the database, latency (p50/p90/p99) and throughput
#    of an authenticated GET /compute/v2.1/servers/detail as admin, with wrk
#    (--connections 8, --duration 10 s); GET /identity/v3 (no token, no database) is
#    measured the same way as a baseline for the HTTP layer alone;
# 3. resident memory (VmRSS) of each daemon and of one tiny VM's QEMU; the
#    proportional set size (Pss) of all of the stack's PostgreSQL processes together.
#
# The servers for step 2 are rows written with SQL straight into the stack's database
# (psql on its unix socket): named nubo-bench-N, metadata {"nubo_bench": "1"}, on a
# host no agent has (so nothing reconciles them), removed again at exit. Results go
# to stdout as key=value lines; progress goes to stderr.
set -euo pipefail

NUBO_PROG=api_bench
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=deploy/lib.sh
. "$HERE/../deploy/lib.sh"

ROOT=/ SERVERS=100 DURATION=10 CONNECTIONS=8 BOOTS=3
usage() {
	awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}" >&2
	exit 2
}
while [ $# -gt 0 ]; do
	case $1 in
	--root) ROOT=$2; shift 2 ;;
	--servers) SERVERS=$2; shift 2 ;;
	--duration) DURATION=$2; shift 2 ;;
	--connections) CONNECTIONS=$2; shift 2 ;;
	--boots) BOOTS=$2; shift 2 ;;
	*) usage ;;
	esac
done
for n in "$SERVERS" "$DURATION" "$CONNECTIONS" "$BOOTS"; do
	case $n in '' | *[!0-9]*) usage ;; esac
done
[ "$(id -u)" = 0 ] || nubo_die "must run as root (reads nubo.conf and /proc)"
nubo_set_root "$ROOT"
[ -f "$NUBO_OPENRC" ] || nubo_die "$NUBO_OPENRC missing: no stack under $NUBO_ROOT"
command -v wrk >/dev/null || nubo_die "wrk missing (apt-get install wrk)"

# shellcheck disable=SC1090
. "$NUBO_OPENRC" admin
API=${OS_AUTH_URL%/identity/v3}
PY=/usr/bin/python3
PSQL="$(nubo_pgbin)/psql"
CONNINFO=$(nubo_conf_get database conninfo)
BOOTED=()

say() { echo "api_bench: $*" >&2; }
now() { date +%s.%N; }
elapsed() { $PY -c 'import sys; print("%.2f" % (float(sys.argv[2]) - float(sys.argv[1])))' "$1" "$2"; }
sql() { "$PSQL" -X -q -t -A -v ON_ERROR_STOP=1 "$CONNINFO" "$@"; }
# jget EXPR: evaluates EXPR with d = the JSON document on stdin ("" when it is not JSON)
jget() { $PY -c 'import json, sys
try:
    d = json.load(sys.stdin)
    print(eval(sys.argv[1]))
except Exception:
    print("")' "$1"; }

api() { # api METHOD PATH [BODY]: prints the answer's body; its status goes to $STATUS_FILE
	local out
	local -a data=()
	[ $# -lt 3 ] || data=(--data-binary "$3")
	out=$(curl -sS --noproxy '*' -X "$1" -H "X-Auth-Token: $TOKEN" \
		-H 'Content-Type: application/json' -H 'X-OpenStack-Nova-API-Version: 2.1' \
		"${data[@]}" -w '\n%{http_code}' "$API$2")
	echo "${out##*$'\n'}" >"$STATUS_FILE"
	printf '%s' "${out%$'\n'*}"
}
STATUS_FILE=$(mktemp)

cleanup() {
	set +e
	local id
	for id in "${BOOTED[@]}"; do
		api DELETE "/compute/v2.1/servers/$id" >/dev/null
	done
	sql -c "DELETE FROM instance_console WHERE instance_id IN
	          (SELECT id FROM instances WHERE metadata->>'nubo_bench' = '1');
	        DELETE FROM tasks WHERE resource_kind = 'instance' AND resource_id IN
	          (SELECT id FROM instances WHERE metadata->>'nubo_bench' = '1');
	        DELETE FROM instances WHERE metadata->>'nubo_bench' = '1';" >/dev/null 2>&1
	rm -f "$STATUS_FILE"
}
trap cleanup EXIT

TOKEN=$(curl -sS --noproxy '*' -D - -o /dev/null -H 'Content-Type: application/json' \
	--data-binary @- "$API/identity/v3/auth/tokens" <<EOF | tr -d '\r' | sed -n 's/^[Xx]-[Ss]ubject-[Tt]oken: //p'
{"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": "$OS_USERNAME",
 "domain": {"name": "Default"}, "password": "$OS_PASSWORD"}}},
 "scope": {"project": {"name": "$OS_PROJECT_NAME", "domain": {"name": "Default"}}}}}
EOF
)
[ -n "$TOKEN" ] || nubo_die "could not get a token from $API"

echo "host_cpus=$(nproc)"
echo "accel=$(grep -o 'accelerator [a-z]*' "$NUBO_LOGDIR/nubo-compute.log" 2>/dev/null | tail -n 1 | cut -d' ' -f2)"

rss_kb() { sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$1/status" 2>/dev/null; }
report_rss() { # report_rss SUFFIX
	local d pid pm total=0 p
	for d in "${NUBO_DAEMONS[@]}"; do
		pid=$(cat "$NUBO_RUNDIR/$d.pid" 2>/dev/null || true)
		echo "rss_kb_${d//-/_}$1=$(rss_kb "${pid:-0}")"
	done
	# PostgreSQL's processes share its buffers: add up their proportional share (Pss)
	pm=$(head -n 1 "$NUBO_PGDATA/postmaster.pid" 2>/dev/null || true)
	if [ -n "$pm" ]; then
		for p in $pm $(pgrep -P "$pm" || true); do
			total=$((total + $(sed -n 's/^Pss:[[:space:]]*\([0-9]*\) kB/\1/p' \
				"/proc/$p/smaps_rollup" 2>/dev/null || echo 0)))
		done
		echo "pss_kb_postgresql_total$1=$total"
	fi
}
report_rss _idle

# ------------------------------------------------------------------ 1. boots
FLAVOR=$(sql -c "SELECT id FROM flavors WHERE name = 'm1.tiny'")
IMAGE=$(sql -c "SELECT id FROM images WHERE name = 'nubo-tiny' AND status = 'active' LIMIT 1")
if [ -z "$FLAVOR" ] || [ -z "$IMAGE" ]; then nubo_die "no m1.tiny flavor or nubo-tiny image"; fi
active_s=() ready_s=()
for ((b = 1; b <= BOOTS; b++)); do
	t0=$(now)
	id=$(api POST /compute/v2.1/servers \
		"{\"server\": {\"name\": \"nubo-bench-boot-$b\", \"imageRef\": \"$IMAGE\", \"flavorRef\": \"$FLAVOR\"}}" |
		jget 'd["server"]["id"]')
	[ -n "$id" ] || nubo_die "server create failed (HTTP $(cat "$STATUS_FILE"))"
	BOOTED+=("$id")
	st=
	while :; do
		st=$(api GET "/compute/v2.1/servers/$id" | jget 'd["server"]["status"]')
		case $st in ACTIVE | ERROR) break ;; esac
		[ "$(elapsed "$t0" "$(now)" | cut -d. -f1)" -lt 600 ] || nubo_die "server $id not ACTIVE in 600 s"
		sleep 0.2
	done
	[ "$st" = ACTIVE ] || nubo_die "server $id went to ERROR"
	t1=$(now)
	while ! api POST "/compute/v2.1/servers/$id/action" '{"os-getConsoleOutput": {}}' |
		jget 'd["output"]' | grep 'nubo-guest ready' >/dev/null; do
		[ "$(elapsed "$t0" "$(now)" | cut -d. -f1)" -lt 600 ] || nubo_die "no ready line from $id in 600 s"
		sleep 0.5
	done
	t2=$(now)
	active_s+=("$(elapsed "$t0" "$t1")")
	ready_s+=("$(elapsed "$t0" "$t2")")
	say "boot $b: ACTIVE after ${active_s[-1]} s, guest ready after ${ready_s[-1]} s"
	if [ "$b" = 1 ]; then
		for q in $(nubo_qemu_pids "$id"); do
			echo "rss_kb_qemu_m1_tiny=$(rss_kb "$q")"
		done
	fi
	api DELETE "/compute/v2.1/servers/$id" >/dev/null
	while api GET "/compute/v2.1/servers/$id" >/dev/null && [ "$(cat "$STATUS_FILE")" != 404 ]; do
		sleep 0.5
	done
	BOOTED=()
done
stats() { $PY -c 'import statistics, sys
v = [float(x) for x in sys.argv[2:]]
if v:
    print("%s_samples=%s" % (sys.argv[1], ",".join(sys.argv[2:])))
    print("%s_median=%.2f" % (sys.argv[1], statistics.median(v)))
    print("%s_max=%.2f" % (sys.argv[1], max(v)))' "$@"; }
stats boot_to_active_s "${active_s[@]}"
stats boot_to_guest_ready_s "${ready_s[@]}"

# ------------------------------------------------------------------ 2. servers/detail
say "inserting $SERVERS bench servers"
sql -c "INSERT INTO instances (id, name, project_id, user_id, flavor_id, image_id, vcpus, ram_mb,
          disk_gb, status, power_state, vm_state, host, metadata, launched_at)
        SELECT gen_random_uuid()::text, 'nubo-bench-' || g, p.id, u.id, f.id, '$IMAGE', f.vcpus,
          f.ram_mb, f.disk_gb, 'ACTIVE', 1, 'active', 'nubo-bench-nohost', '{\"nubo_bench\": \"1\"}',
          now()
        FROM generate_series(1, $SERVERS) g, projects p, users u, flavors f
        WHERE p.name = '$OS_PROJECT_NAME' AND u.name = '$OS_USERNAME' AND f.id = '$FLAVOR'" >/dev/null
n=$(api GET "/compute/v2.1/servers/detail?limit=1000" | jget 'len(d["servers"])')
echo "servers_listed=$n"
[ "${n:-0}" -ge "$SERVERS" ] || nubo_die "servers/detail lists $n servers, expected >= $SERVERS"
echo "servers_detail_bytes=$(api GET /compute/v2.1/servers/detail | wc -c)"

say "wrk: GET /compute/v2.1/servers/detail, $CONNECTIONS connections, ${DURATION}s"
NUBO_TOKEN=$TOKEN NUBO_BENCH_KEY=servers_detail wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" \
	-s "$HERE/wrk_auth.lua" "$API/compute/v2.1/servers/detail" | grep '^servers_detail_'
say "wrk: GET /identity/v3 (baseline: no token, no database)"
NUBO_TOKEN='' NUBO_BENCH_KEY=version_doc wrk -t2 -c"$CONNECTIONS" -d"$(((DURATION + 1) / 2))s" \
	-s "$HERE/wrk_auth.lua" "$API/identity/v3" | grep '^version_doc_'
report_rss _after_load
