#!/bin/bash
# bench/objstore.sh: the object store's data path (issue 10), measured with wrk; with
# --swift, OpenStack Swift's too, in the same run and the same way.
#
#   bench/objstore.sh [--root DIR] [--swift] [--duration S] [--big-duration S]
#                     [--sizes "4096 1048576"] [--rows N]
#
#   --root DIR   the running stack under DIR (made by deploy/stack.sh --root; "/" for
#                a real install)
#   --swift      also (or, without --root, only) a throwaway Swift that bench/swift.sh
#                starts under this run's work directory and stops at its end (install
#                it once with bench/swift.sh --deps; its setup: that script's header)
#   --duration   seconds of each wrk run (default 5)
#   --big-duration  seconds of each wrk run of objects of 16 MiB and more, and how
#                long such a request may take (default 90: 16 durable 64 MiB PUTs at
#                once took over 30 s on this box, and a run counts only the requests
#                it finished)
#   --sizes      object sizes in bytes (default 4 KiB and 1 MiB)
#   --settle S   wait S seconds after each PUT case's clean-up before the next case
#                (default 0). This box's ext4 has no journal, and without one ext4 does
#                not reuse an inode freed in the last ~30 s: every create scans past
#                those one by one (find_inode_bit -> recently_deleted), so a case
#                right after another's clean-up pays for its deletes (33 % of the
#                object servers' CPU in a PUT 4 KiB c16 run); 35 leaves them behind
#   --only RE    run only the cases whose key (put_4k_c1, get_1m_c16, ...) matches the
#                extended regular expression RE (default: all)
#   --rows N     first seed N listing rows into Nubo's bench container (in PostgreSQL,
#                where the listing lives), so that a write's cost in a big container
#                shows (default 0); removed again at the end
#
# For each size, PUT (every one durable: quorum 2 of 3 replicas fsynced; every
# request a new object, bench/wrk_objput.lua, under a name no earlier case or run
# used, so no PUT lands on an earlier one's tombstone; deleted again after each case, so each
# case starts from an empty container and the disk does not fill up) and GET of one
# object through the proxy with a token (Nubo: Keystone's; Swift: tempauth's), at
# concurrency 1 and 16 (wrk -t1 -c1 / -t2 -c16; a request may take 60 s, or the big
# duration: wrk's default of 2 s counted every 64 MiB request of a loaded box as an
# error): ops/s, MB/s, p50, p99, requests, errors, and the CPU time the whole store
# spent per request (user + system, of every process of it: Nubo's proxy, object
# servers and PostgreSQL cluster; Swift's proxy, account, container and object
# servers and memcached; what the load of the shared box does
# not change much; for Nubo also split into its proxy, object servers and PostgreSQL:
# <case>_cpu_ms_per_req_{proxy,objsrv,pg}); and the proxy's
# resident memory after the runs and its peak (VmRSS, VmHWM of /proc/<pid>/status;
# Swift's proxy is a parent and its workers: their sum). Each case runs against Nubo
# and then Swift before the next case, so a change of the shared box's load hits both
# alike. Results are key=value lines on stdout: Nubo's unprefixed, Swift's with
# swift_, and with both, ratio_<case>_{rps,p50,p99,cpu} and ratio_proxy_*_rss (Nubo /
# Swift: above 1 Nubo is faster or bigger, below 1 its latency or memory is lower);
# load_avg says how busy the box was.
set -euo pipefail

NUBO_PROG=objstore.sh
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=deploy/lib.sh
. "$HERE/../deploy/lib.sh"

ROOT='' SWIFT='' DURATION=5 BIG_DURATION=90 SIZES="4096 1048576" ROWS=0 ONLY='' SETTLE=0
usage() {
	awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}" >&2
	exit 2
}
while [ $# -gt 0 ]; do
	case $1 in
	--root) [ $# -ge 2 ] || usage; ROOT=$2; shift 2 ;;
	--swift) SWIFT=1; shift ;;
	--duration) [ $# -ge 2 ] || usage; DURATION=$2; shift 2 ;;
	--big-duration) [ $# -ge 2 ] || usage; BIG_DURATION=$2; shift 2 ;;
	--sizes) [ $# -ge 2 ] || usage; SIZES=$2; shift 2 ;;
	--rows) [ $# -ge 2 ] || usage; ROWS=$2; shift 2 ;;
	--only) [ $# -ge 2 ] || usage; ONLY=$2; shift 2 ;;
	--settle) [ $# -ge 2 ] || usage; SETTLE=$2; shift 2 ;;
	*) usage ;;
	esac
done
[ -n "$ROOT" ] || [ -n "$SWIFT" ] || usage
[ -n "$ROOT" ] || [ "$ROWS" = 0 ] || nubo_die "--rows seeds Nubo's listing: it needs --root"
command -v wrk >/dev/null || nubo_die "wrk is not installed"

# The stores measured, in the order each case runs them, and per store: the bench
# container's URL, the token, the prefix of its keys and its proxy's pids.
TARGETS=()
declare -A BASE TOKEN PREFIX PROXY_PIDS RESULT
WORK=$(mktemp -d /tmp/objbench.XXXXXX)
NUBO_READY=''

# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() {
	set +e
	[ -z "$NUBO_READY" ] || nubo_cleanup
	[ ! -d "$WORK/swift" ] || "$HERE/swift.sh" down "$WORK/swift"
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

conf() { # conf SECTION KEY
	awk -F' *= *' -v s="[$1]" -v k="$2" '/^\[/ { in_s = ($0 == s) } in_s && $1 == k { print $2; exit }' "$NUBO_CONF"
}

# nubo_setup: a Keystone token of the stack under ROOT and its bench container.
nubo_setup() {
	local body hdrs project
	nubo_set_root "$ROOT"
	PROXY=$(conf objstore public_url)
	[ -n "$PROXY" ] || nubo_die "no [objstore] public_url in $NUBO_CONF"
	# shellcheck disable=SC1090
	eval "$(bash -c '. "$0" admin >/dev/null && env' "$NUBO_OPENRC" | grep -E '^OS_(AUTH_URL|PASSWORD)=' | sed 's/^/export /')"
	body=$(printf '{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"admin","domain":{"name":"Default"},"password":"%s"}}},"scope":{"project":{"name":"admin","domain":{"name":"Default"}}}}}' "$OS_PASSWORD")
	hdrs=$(curl -fsS -D - -o "$WORK/token" -H 'Content-Type: application/json' -d "$body" "$OS_AUTH_URL/auth/tokens")
	TOKEN[nubo]=$(printf '%s\n' "$hdrs" | awk -F': ' 'tolower($1) == "x-subject-token" { sub(/\r$/, "", $2); print $2 }')
	[ -n "${TOKEN[nubo]}" ] || nubo_die "no token from $OS_AUTH_URL"
	project=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["token"]["project"]["id"])' "$WORK/token")
	ACCOUNT=AUTH_$project
	BASE[nubo]=$PROXY/v1/$ACCOUNT/nubo-bench
	PREFIX[nubo]=''
	DBINFO=$(awk '/^\[database\]/ { s = 1; next } /^\[/ { s = 0 } s && /^conninfo/ { sub(/^conninfo *= */, ""); print }' "$NUBO_CONF")
	NUBO_READY=1
	curl -fsS -o /dev/null -X PUT -H "X-Auth-Token: ${TOKEN[nubo]}" "${BASE[nubo]}"
	if [ "$ROWS" -gt 0 ]; then
		nubo_log "seeding $ROWS listing rows"
		echo "INSERT INTO obj_objects (account, container, name, ts, size, etag, content_type, deleted) SELECT :'a', 'nubo-bench', 'seed-' || i, '0000000001.00000', 4096, 'd41d8cd98f00b204e9800998ecf8427e', 'application/octet-stream', false FROM generate_series(1, :n) i ON CONFLICT DO NOTHING" |
			psql "$DBINFO" -Xq -v ON_ERROR_STOP=1 -v a="$ACCOUNT" -v n="$ROWS"
		echo "listing_rows=$ROWS"
	fi
	PROXY_PIDS[nubo]=$(cat "$NUBO_RUNDIR/nubo-objproxy.pid" 2>/dev/null || pgrep -o -x nubo-objproxy)
	TARGETS+=(nubo)
}

# empty_container TARGET [PREFIX]: delete the bench container's objects (those whose
# names start with PREFIX), 10,000 a bulk delete (Swift's bound).
empty_container() {
	local token=${TOKEN[$1]} base=${BASE[$1]} names i
	for i in $(seq 1 100); do
		names=$(curl -fsS -H "X-Auth-Token: $token" "$base?format=plain&limit=10000&prefix=${2:-}" 2>/dev/null) || break
		[ -n "$names" ] || break
		printf '%s\n' "$names" | sed 's|^|/nubo-bench/|' |
			curl -fsS -o /dev/null -X POST -H "X-Auth-Token: $token" -H 'Content-Type: text/plain' \
				--data-binary @- "${base%/nubo-bench}?bulk-delete" 2>/dev/null || break
	done
}

# shellcheck disable=SC2317 # run by cleanup
nubo_cleanup() {
	if [ "$ROWS" -gt 0 ]; then
		echo "DELETE FROM obj_objects WHERE account = :'a' AND container = 'nubo-bench' AND name LIKE 'seed-%'" |
			psql "$DBINFO" -Xq -v ON_ERROR_STOP=1 -v a="$ACCOUNT" || true
	fi
	empty_container nubo
	curl -fsS -o /dev/null -X DELETE -H "X-Auth-Token: ${TOKEN[nubo]}" "${BASE[nubo]}" 2>/dev/null || true
}

# swift_setup: a throwaway Swift under WORK/swift (bench/swift.sh up), its bench
# container; its objects go with WORK.
swift_setup() {
	local url pgid
	"$HERE/swift.sh" up "$WORK/swift" >"$WORK/swift.env"
	url=$(sed -n 's/^swift_url=//p' "$WORK/swift.env")
	TOKEN[swift]=$(sed -n 's/^swift_token=//p' "$WORK/swift.env")
	pgid=$(sed -n 's/^swift_proxy_pid=//p' "$WORK/swift.env")
	BASE[swift]=$url/nubo-bench
	PREFIX[swift]=swift_
	curl -fsS -o /dev/null -X PUT -H "X-Auth-Token: ${TOKEN[swift]}" "${BASE[swift]}"
	# the proxy's parent and its workers: the group swift.sh started it in
	PROXY_PIDS[swift]=$(pgrep -g "$pgid" | tr '\n' ' ')
	TARGETS+=(swift)
}

[ -z "$ROOT" ] || nubo_setup
[ -z "$SWIFT" ] || swift_setup

# store_pids TARGET [PART]: every process of the store (Nubo's: or of one PART of it,
# proxy, objsrv or pg), one a line.
store_pids() {
	local p
	case $1 in
	nubo)
		for p in $({
			[ "${2:-proxy}" != proxy ] || cat "$NUBO_RUNDIR/nubo-objproxy.pid"
			[ "${2:-objsrv}" != objsrv ] || cat "$NUBO_RUNDIR/nubo-objserver.pid"
			[ "${2:-pg}" != pg ] || head -n 1 "$NUBO_PGDATA/postmaster.pid"
		} 2>/dev/null); do
			echo "$p"
			pgrep -P "$p" || true
		done
		;;
	swift)
		cat "$WORK"/swift/run/*.pgid | while read -r p; do pgrep -g "$p" || true; done
		;;
	esac
}

# cpu_ticks TARGET [PART]: the CPU time its processes and their reaped children spent (user
# and system, in clock ticks; the fields after the command name in /proc/PID/stat).
cpu_ticks() {
	local p sum=0 v
	for p in $(store_pids "$1" "${2:-}"); do
		v=$(awk '{ sub(/^.*\) /, ""); print $12 + $13 + $14 + $15 }' "/proc/$p/stat" 2>/dev/null) || v=0
		sum=$((sum + ${v:-0}))
	done
	echo "$sum"
}
TICK=$(getconf CLK_TCK)
RUN_ID=$(date +%s)-$$

run() { # run TARGET KEY METHOD SIZE CONNS THREADS BODYFILE SCRIPT
	local tg=$1 key=${PREFIX[$1]}$2 method=$3 size=$4 c=$5 t=$6 file=$7 script=$8 out v cpu0 d=$DURATION w=60 n
	local url=${BASE[$tg]}/obj
	[ "$script" != wrk_objput.lua ] || url=${BASE[$tg]}/obj-$2-$RUN_ID
	local -A part0
	[ "$size" -lt 16777216 ] || d=$BIG_DURATION
	[ "$d" -le "$w" ] || w=$d
	cpu0=$(cpu_ticks "$tg")
	if [ "$tg" = nubo ]; then
		for v in proxy objsrv pg; do part0[$v]=$(cpu_ticks "$tg" "$v"); done
	fi
	out=$(NUBO_TOKEN=${TOKEN[$tg]} NUBO_METHOD=$method NUBO_BODY_FILE=$file NUBO_BENCH_KEY=$key \
		wrk -t"$t" -c"$c" -d"${d}s" --timeout "${w}s" --latency -s "$HERE/$script" "$url" |
		grep "^${key}_")
	n=$(printf '%s\n' "$out" | sed -n "s/^${key}_requests=//p")
	RESULT[$tg:$2:cpu]=$(per_req "$(($(cpu_ticks "$tg") - cpu0))" "$n")
	for v in "${!part0[@]}"; do
		RESULT[$tg:$2:cpu_$v]=$(per_req "$(($(cpu_ticks "$tg" "$v") - part0[$v]))" "$n")
	done
	printf '%s\n' "$out" | grep -E "_(rps|p50_ms|p99_ms|requests|errors)="
	for v in rps p50_ms p99_ms; do
		RESULT[$tg:$2:$v]=$(printf '%s\n' "$out" | sed -n "s/^${key}_${v}=//p")
	done
	awk -v r="${RESULT[$tg:$2:rps]}" -v s="$size" -v k="$key" 'BEGIN { printf "%s_mb_per_s=%.1f\n", k, r * s / 1048576 }'
	echo "${key}_cpu_ms_per_req=${RESULT[$tg:$2:cpu]}"
	for v in "${!part0[@]}"; do
		echo "${key}_cpu_ms_per_req_$v=${RESULT[$tg:$2:cpu_$v]}"
	done
}

# per_req TICKS REQUESTS: milliseconds of CPU per request ("n/a" without requests)
per_req() { awk -v t="$1" -v n="$2" -v hz="$TICK" 'BEGIN { if (n + 0 == 0) print "n/a"; else printf "%.3f\n", t * 1000 / hz / n }'; }

rss_kb() { # rss_kb FIELD PID...: the sum of FIELD (VmRSS, VmHWM) over the PIDs
	local f=$1 p sum=0 v
	shift
	for p in "$@"; do
		v=$(awk -v f="$f:" '$1 == f { print $2 }' "/proc/$p/status" 2>/dev/null) || v=0
		sum=$((sum + ${v:-0}))
	done
	echo "$sum"
}

# ratio NUM DEN: NUM / DEN to 3 places ("n/a" when either is zero or not a number:
# a run that finished no request)
ratio() { awk -v n="$1" -v d="$2" 'BEGIN { if (n + 0 == 0 || d + 0 == 0) print "n/a"; else printf "%.3f\n", n / d }'; }

echo "load_avg_before=$(cut -d' ' -f1 /proc/loadavg)"
KEYS=()
for size in $SIZES; do
	head -c "$size" /dev/urandom >"$WORK/body"
	label=$size
	[ "$size" -ge 1048576 ] && label=$((size / 1048576))m
	[ "$size" -lt 1048576 ] && [ "$size" -ge 1024 ] && label=$((size / 1024))k
	for c in 1 16; do
		t=1
		[ "$c" -gt 1 ] && t=2
		KEYS+=("put_${label}_c$c" "get_${label}_c$c")
		for tg in "${TARGETS[@]}"; do
			[[ "put_${label}_c$c" =~ ${ONLY:-.} ]] || continue
			nubo_log "$tg: PUT $label c=$c" && run "$tg" "put_${label}_c$c" PUT "$size" "$c" "$t" "$WORK/body" wrk_objput.lua
			empty_container "$tg" obj-
			sleep "$SETTLE"
		done
		for tg in "${TARGETS[@]}"; do
			[[ "get_${label}_c$c" =~ ${ONLY:-.} ]] || continue
			nubo_log "$tg: GET $label c=$c" && {
				curl -fsS -o /dev/null -X PUT -H "X-Auth-Token: ${TOKEN[$tg]}" --data-binary "@$WORK/body" "${BASE[$tg]}/obj" &&
					run "$tg" "get_${label}_c$c" GET "$size" "$c" "$t" "" wrk_auth.lua
			}
		done
	done
done
for tg in "${TARGETS[@]}"; do
	# shellcheck disable=SC2086 # the pids, one word each
	{
		echo "${PREFIX[$tg]}proxy_rss_kb=$(rss_kb VmRSS ${PROXY_PIDS[$tg]})"
		echo "${PREFIX[$tg]}proxy_peak_rss_kb=$(rss_kb VmHWM ${PROXY_PIDS[$tg]})"
	}
done
if [ -n "$ROOT" ] && [ -n "$SWIFT" ]; then
	for k in "${KEYS[@]}"; do
		echo "ratio_${k}_rps=$(ratio "${RESULT[nubo:$k:rps]}" "${RESULT[swift:$k:rps]}")"
		echo "ratio_${k}_p50=$(ratio "${RESULT[nubo:$k:p50_ms]}" "${RESULT[swift:$k:p50_ms]}")"
		echo "ratio_${k}_p99=$(ratio "${RESULT[nubo:$k:p99_ms]}" "${RESULT[swift:$k:p99_ms]}")"
		echo "ratio_${k}_cpu=$(ratio "${RESULT[nubo:$k:cpu]}" "${RESULT[swift:$k:cpu]}")"
	done
	# shellcheck disable=SC2086
	{
		echo "ratio_proxy_rss=$(ratio "$(rss_kb VmRSS ${PROXY_PIDS[nubo]})" "$(rss_kb VmRSS ${PROXY_PIDS[swift]})")"
		echo "ratio_proxy_peak_rss=$(ratio "$(rss_kb VmHWM ${PROXY_PIDS[nubo]})" "$(rss_kb VmHWM ${PROXY_PIDS[swift]})")"
	}
fi
echo "load_avg_after=$(cut -d' ' -f1 /proc/loadavg)"
