#!/bin/bash
# bench/api.sh: the API hot path (issue 6), measured with wrk on this box.
#
#   bench/api.sh [--root DIR] [--duration S] [--sizes "1 10 100 1000"]
#                [--issue-duration S] [--peer]
#
#   --root DIR   measure the running stack under DIR (made by deploy/stack.sh --root);
#                without it a throwaway stack is made under /tmp and torn down at exit
#   --duration   seconds of each wrk run (default 5)
#   --sizes      numbers of servers listed by GET /servers/detail (default 1 10 100 1000)
#   --peer       also measure Keystone from Debian (not implemented yet: refused)
#
# For each request, at c=1 and c=8 (wrk -t1/-t2 on the same box): req/s, p50, p99,
# errors, and the server CPU per request in ms: nubo-api's utime+stime delta from
# /proc/<pid>/stat over the run divided by the requests served (key ..._api_cpu_ms),
# and the same for the stack's PostgreSQL processes together (..._pg_cpu_ms).
# Requests: token validate (GET /identity/v3/auth/tokens), password token issue
# (POST, c=1 and c=8, a short run: argon2id), authenticated small GET
# (/compute/v2.1/flavors) and GET /compute/v2.1/servers/detail with each size of
# --sizes. The servers are rows written with SQL straight into the stack's database
# (no VM boots), named nubo-bench-N with metadata {"nubo_bench": "1"} on a host no
# agent has, and removed at exit. Results: key=value lines on stdout (load_avg_* says
# how busy the shared box was); progress on stderr.
set -euo pipefail

NUBO_PROG=api.sh
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=deploy/lib.sh
. "$HERE/../deploy/lib.sh"

ROOT='' DURATION=5 ISSUE_DURATION=5 SIZES="1 10 100 1000" PEER=
usage() {
	awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}" >&2
	exit 2
}
while [ $# -gt 0 ]; do
	case $1 in
	--root) [ $# -ge 2 ] || usage; ROOT=$2; shift 2 ;;
	--duration) [ $# -ge 2 ] || usage; DURATION=$2; shift 2 ;;
	--issue-duration) [ $# -ge 2 ] || usage; ISSUE_DURATION=$2; shift 2 ;;
	--sizes) [ $# -ge 2 ] || usage; SIZES=$2; shift 2 ;;
	--peer) PEER=1; shift ;;
	*) usage ;;
	esac
done
for n in "$DURATION" "$ISSUE_DURATION" $SIZES; do
	case $n in '' | *[!0-9]*) usage ;; esac
done
[ -z "$PEER" ] || nubo_die "--peer (Keystone side by side) is not implemented yet"
[ "$(id -u)" = 0 ] || nubo_die "must run as root (reads nubo.conf and /proc)"
command -v wrk >/dev/null || nubo_die "wrk missing (apt-get install wrk)"

OWN_STACK=
TMPD=$(mktemp -d /tmp/nubo-bench-api.XXXXXX)
chmod 700 "$TMPD"
say() { echo "api.sh: $*" >&2; }
free_port() { /usr/bin/python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

cleanup() {
	set +e
	if [ -n "${CONNINFO:-}" ]; then
		sql -c "DELETE FROM instances WHERE metadata->>'nubo_bench' = '1'" >/dev/null 2>&1
	fi
	if [ -n "$OWN_STACK" ]; then
		say "tearing down the throwaway stack under $OWN_STACK"
		"$HERE/../deploy/unstack.sh" --root "$OWN_STACK" --purge >&2
		rm -rf "$OWN_STACK"
	fi
	rm -rf "$TMPD"
}
trap cleanup EXIT

if [ -z "$ROOT" ]; then
	OWN_STACK=$(mktemp -d /tmp/nubo-bench-stack.XXXXXX)
	ROOT=$OWN_STACK
	say "bringing up a throwaway stack under $ROOT"
	"$HERE/../deploy/stack.sh" --root "$ROOT" --port "$(free_port)" --bus-port "$(free_port)" \
		--pg-port "$(free_port)" --no-deps >&2
fi
nubo_set_root "$ROOT"
[ -f "$NUBO_OPENRC" ] || nubo_die "$NUBO_OPENRC missing: no stack under $NUBO_ROOT"

# shellcheck disable=SC1090
. "$NUBO_OPENRC" admin
API=${OS_AUTH_URL%/identity/v3}
PSQL="$(nubo_pgbin)/psql"
CONNINFO=$(nubo_conf_get database conninfo)
HZ=$(getconf CLK_TCK)
sql() { "$PSQL" -X -q -t -A -v ON_ERROR_STOP=1 "$CONNINFO" "$@"; }

API_PID=$(cat "$NUBO_RUNDIR/nubo-api.pid")
PG_PID=$(head -n 1 "$NUBO_PGDATA/postmaster.pid")
# cpu_ticks PID...: utime + stime of the processes (fields 14 and 15 of stat, counted
# after the command name, which may hold spaces)
cpu_ticks() {
	local p total=0 rest
	for p in "$@"; do
		rest=$(sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null) || continue
		set -- $rest
		total=$((total + ${12} + ${13}))
	done
	echo "$total"
}
pg_pids() { echo "$PG_PID" $(pgrep -P "$PG_PID" || true); }
rss_kb() { sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$1/status"; }

BODY=$TMPD/issue.json
cat >"$BODY" <<EOF
{"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": "$OS_USERNAME",
 "domain": {"name": "Default"}, "password": "$OS_PASSWORD"}}},
 "scope": {"project": {"name": "$OS_PROJECT_NAME", "domain": {"name": "Default"}}}}}
EOF
TOKEN=$(curl -sS --noproxy '*' -D - -o /dev/null -H 'Content-Type: application/json' \
	--data-binary @"$BODY" "$API/identity/v3/auth/tokens" | tr -d '\r' |
	sed -n 's/^[Xx]-[Ss]ubject-[Tt]oken: //p')
[ -n "$TOKEN" ] || nubo_die "could not get a token from $API"

# run KEY C DURATION URL [wrk env...]: one wrk run with CPU accounting
run() {
	local key=$1 c=$2 d=$3 url=$4 t=2 a0 p0 a1 p1 out n
	shift 4
	[ "$c" -gt 1 ] || t=1
	say "wrk ${key} c=$c ${d}s"
	a0=$(cpu_ticks "$API_PID")
	p0=$(cpu_ticks $(pg_pids))
	out=$(env NUBO_TOKEN="$TOKEN" NUBO_BENCH_KEY="${key}_c$c" "$@" \
		wrk -t"$t" -c"$c" -d"${d}s" -s "$HERE/wrk_auth.lua" "$url" | grep "^${key}_c${c}_")
	a1=$(cpu_ticks "$API_PID")
	p1=$(cpu_ticks $(pg_pids))
	echo "$out"
	n=$(echo "$out" | sed -n "s/^${key}_c${c}_requests=//p")
	awk -v k="${key}_c$c" -v a=$((a1 - a0)) -v p=$((p1 - p0)) -v n="${n:-0}" -v hz="$HZ" \
		'BEGIN { if (n > 0) { printf "%s_api_cpu_ms=%.3f\n%s_pg_cpu_ms=%.3f\n", k, a * 1000 / hz / n, k, p * 1000 / hz / n } }'
}

echo "host_cpus=$(nproc)"
echo "load_avg_start=$(cut -d' ' -f1-3 /proc/loadavg | tr ' ' ,)"
echo "rss_kb_nubo_api_start=$(rss_kb "$API_PID")"

for c in 1 8; do
	run token_validate "$c" "$DURATION" "$API/identity/v3/auth/tokens" NUBO_SUBJECT="$TOKEN"
done
for c in 1 8; do
	run token_issue "$c" "$ISSUE_DURATION" "$API/identity/v3/auth/tokens" \
		NUBO_TOKEN= NUBO_METHOD=POST NUBO_BODY_FILE="$BODY"
done
echo "flavors_bytes=$(curl -sS --noproxy '*' -H "X-Auth-Token: $TOKEN" "$API/compute/v2.1/flavors" | wc -c)"
for c in 1 8; do
	run flavors "$c" "$DURATION" "$API/compute/v2.1/flavors"
done

FLAVOR=$(sql -c "SELECT id FROM flavors WHERE name = 'm1.tiny'")
# any image id will do: nothing boots these rows
IMAGE=$(sql -c "SELECT coalesce((SELECT id FROM images LIMIT 1), gen_random_uuid()::text)")
[ -n "$FLAVOR" ] || nubo_die "no m1.tiny flavor"
have=0
for size in $SIZES; do
	if [ "$size" -gt "$have" ]; then
		say "seeding servers $((have + 1))..$size"
		sql -c "INSERT INTO instances (id, name, project_id, user_id, flavor_id, image_id, vcpus,
		          ram_mb, disk_gb, status, power_state, vm_state, host, metadata, launched_at)
		        SELECT gen_random_uuid()::text, 'nubo-bench-' || g, p.id, u.id, f.id,
		          '$IMAGE', f.vcpus, f.ram_mb, f.disk_gb, 'ACTIVE', 1, 'active',
		          'nubo-bench-nohost', '{\"nubo_bench\": \"1\"}', now()
		        FROM generate_series($((have + 1)), $size) g, projects p, users u, flavors f
		        WHERE p.name = '$OS_PROJECT_NAME' AND u.name = '$OS_USERNAME' AND f.id = '$FLAVOR'" >/dev/null
		have=$size
	fi
	total=$(sql -c "SELECT count(*) FROM instances i JOIN projects p ON p.id = i.project_id
	                WHERE p.name = '$OS_PROJECT_NAME' AND NOT i.deleted")
	echo "servers_detail_${size}_listed=$total"
	echo "servers_detail_${size}_bytes=$(curl -sS --noproxy '*' -H "X-Auth-Token: $TOKEN" \
		"$API/compute/v2.1/servers/detail" | wc -c)"
	for c in 1 8; do
		run "servers_detail_$size" "$c" "$DURATION" "$API/compute/v2.1/servers/detail"
	done
done

echo "rss_kb_nubo_api_after=$(rss_kb "$API_PID")"
echo "load_avg_end=$(cut -d' ' -f1-3 /proc/loadavg | tr ' ' ,)"
