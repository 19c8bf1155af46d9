#!/bin/bash
# bench/objstore.sh: the object store's data path (issue 10), measured with wrk.
#
#   bench/objstore.sh --root DIR [--duration S] [--sizes "4096 1048576"] [--rows N]
#
#   --root DIR   the running stack under DIR (made by deploy/stack.sh --root; "/" for
#                a real install)
#   --duration   seconds of each wrk run (default 5)
#   --sizes      object sizes in bytes (default 4 KiB and 1 MiB)
#   --rows N     first seed N listing rows into the bench container (in PostgreSQL,
#                where the listing lives), so that a write's cost in a big container
#                shows (default 0); removed again at the end
#
# For each size, PUT (every one durable: quorum 2 of 3 object servers fsynced; every
# request a new object, bench/wrk_objput.lua) and GET of one object through
# nubo-objproxy with a Keystone token, at concurrency 1 and 16 (wrk -t1 -c1 / -t2
# -c16; a request may take 60 s: wrk's default of 2 s counted every 64 MiB request of a
# loaded box as an error): ops/s, MB/s, p50, p99, errors; and the proxy's resident
# memory after the runs and its peak (VmRSS, VmHWM of /proc/<pid>/status). Results are
# key=value lines on stdout (load_avg says how busy the shared box was).
set -euo pipefail

NUBO_PROG=objstore.sh
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=deploy/lib.sh
. "$HERE/../deploy/lib.sh"

ROOT='' DURATION=5 SIZES="4096 1048576" ROWS=0
usage() {
	awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}" >&2
	exit 2
}
while [ $# -gt 0 ]; do
	case $1 in
	--root) [ $# -ge 2 ] || usage; ROOT=$2; shift 2 ;;
	--duration) [ $# -ge 2 ] || usage; DURATION=$2; shift 2 ;;
	--sizes) [ $# -ge 2 ] || usage; SIZES=$2; shift 2 ;;
	--rows) [ $# -ge 2 ] || usage; ROWS=$2; shift 2 ;;
	*) usage ;;
	esac
done
[ -n "$ROOT" ] || usage
nubo_set_root "$ROOT"
command -v wrk >/dev/null || nubo_die "wrk is not installed"

conf() { # conf SECTION KEY
	awk -F' *= *' -v s="[$1]" -v k="$2" '/^\[/ { in_s = ($0 == s) } in_s && $1 == k { print $2; exit }' "$NUBO_CONF"
}
PROXY=$(conf objstore public_url)
[ -n "$PROXY" ] || nubo_die "no [objstore] public_url in $NUBO_CONF"
# shellcheck disable=SC1090
eval "$(bash -c '. "$0" admin >/dev/null && env' "$NUBO_OPENRC" | grep -E '^OS_(AUTH_URL|PASSWORD)=' | sed 's/^/export /')"
body=$(printf '{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"admin","domain":{"name":"Default"},"password":"%s"}}},"scope":{"project":{"name":"admin","domain":{"name":"Default"}}}}}' "$OS_PASSWORD")
hdrs=$(curl -fsS -D - -o /tmp/objbench-token.$$ -H 'Content-Type: application/json' -d "$body" "$OS_AUTH_URL/auth/tokens")
TOKEN=$(printf '%s\n' "$hdrs" | awk -F': ' 'tolower($1) == "x-subject-token" { sub(/\r$/, "", $2); print $2 }')
PROJECT=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["token"]["project"]["id"])' /tmp/objbench-token.$$)
rm -f /tmp/objbench-token.$$
[ -n "$TOKEN" ] || nubo_die "no token from $OS_AUTH_URL"
BASE=$PROXY/v1/AUTH_$PROJECT/nubo-bench
WORK=$(mktemp -d /tmp/objbench.XXXXXX)
DBINFO=$(awk '/^\[database\]/ { s = 1; next } /^\[/ { s = 0 } s && /^conninfo/ { sub(/^conninfo *= */, ""); print }' "$NUBO_CONF")
cleanup() {
	if [ "$ROWS" -gt 0 ]; then
		echo "DELETE FROM obj_objects WHERE account = :'a' AND container = 'nubo-bench' AND name LIKE 'seed-%'" |
			psql "$DBINFO" -Xq -v ON_ERROR_STOP=1 -v a="AUTH_$PROJECT" || true
	fi
	# the PUTs' objects, 10,000 a bulk delete (Swift's bound)
	local names i
	for i in $(seq 1 100); do
		names=$(curl -fsS -H "X-Auth-Token: $TOKEN" "$BASE?format=plain&limit=10000" 2>/dev/null) || break
		[ -n "$names" ] || break
		printf '%s\n' "$names" | sed 's|^|/nubo-bench/|' |
			curl -fsS -o /dev/null -X POST -H "X-Auth-Token: $TOKEN" -H 'Content-Type: text/plain' \
				--data-binary @- "$PROXY/v1/AUTH_$PROJECT?bulk-delete" 2>/dev/null || break
	done
	curl -fsS -o /dev/null -X DELETE -H "X-Auth-Token: $TOKEN" "$BASE" 2>/dev/null || true
	rm -rf "$WORK"
}
trap cleanup EXIT
curl -fsS -o /dev/null -X PUT -H "X-Auth-Token: $TOKEN" "$BASE"
if [ "$ROWS" -gt 0 ]; then
	nubo_log "seeding $ROWS listing rows"
	echo "INSERT INTO obj_objects (account, container, name, ts, size, etag, content_type, deleted) SELECT :'a', 'nubo-bench', 'seed-' || i, '0000000001.00000', 4096, 'd41d8cd98f00b204e9800998ecf8427e', 'application/octet-stream', false FROM generate_series(1, :n) i ON CONFLICT DO NOTHING" |
		psql "$DBINFO" -Xq -v ON_ERROR_STOP=1 -v a="AUTH_$PROJECT" -v n="$ROWS"
	echo "listing_rows=$ROWS"
fi
PID=$(cat "$NUBO_RUNDIR/nubo-objproxy.pid" 2>/dev/null || pgrep -o -x nubo-objproxy)

run() { # run KEY METHOD SIZE CONNS THREADS BODYFILE SCRIPT
	local key=$1 method=$2 size=$3 c=$4 t=$5 file=$6 script=$7 out rps
	out=$(NUBO_TOKEN=$TOKEN NUBO_METHOD=$method NUBO_BODY_FILE=$file NUBO_BENCH_KEY=$key \
		wrk -t"$t" -c"$c" -d"${DURATION}s" --timeout 60s --latency -s "$HERE/$script" "$BASE/obj" |
		grep "^${key}_")
	printf '%s\n' "$out" | grep -E "_(rps|p50_ms|p99_ms|errors)="
	rps=$(printf '%s\n' "$out" | sed -n "s/^${key}_rps=//p")
	awk -v r="$rps" -v s="$size" -v k="$key" 'BEGIN { printf "%s_mb_per_s=%.1f\n", k, r * s / 1048576 }'
}

echo "load_avg_before=$(cut -d' ' -f1 /proc/loadavg)"
for size in $SIZES; do
	head -c "$size" /dev/urandom >"$WORK/body"
	label=$size
	[ "$size" -ge 1048576 ] && label=$((size / 1048576))m
	[ "$size" -lt 1048576 ] && [ "$size" -ge 1024 ] && label=$((size / 1024))k
	for c in 1 16; do
		t=1
		[ "$c" -gt 1 ] && t=2
		nubo_log "PUT $label c=$c" && run "put_${label}_c$c" PUT "$size" "$c" "$t" "$WORK/body" wrk_objput.lua
		nubo_log "GET $label c=$c" && {
			curl -fsS -o /dev/null -X PUT -H "X-Auth-Token: $TOKEN" --data-binary "@$WORK/body" "$BASE/obj" &&
				run "get_${label}_c$c" GET "$size" "$c" "$t" "" wrk_auth.lua
		}
	done
done
echo "proxy_rss_kb=$(awk '/^VmRSS/ { print $2 }' "/proc/$PID/status")"
echo "proxy_peak_rss_kb=$(awk '/^VmHWM/ { print $2 }' "/proc/$PID/status")"
echo "load_avg_after=$(cut -d' ' -f1 /proc/loadavg)"
