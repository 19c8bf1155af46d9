#!/bin/bash
# bench/volume.sh: block storage timings (issue 9) on a running stack.
#
#   bench/volume.sh --root DIR [--count N] [--server NAME_OR_ID]
#
#   --root DIR   the stack (made by deploy/stack.sh --root DIR, or / for a real install)
#   --count N    volumes created (and deleted) in sequence (default 5)
#   --server S   also attach and detach a volume to the running server S N times
#
# Prints key=value lines: the agent's own time per task, taken from nubo-storage's and
# nubo-compute's log lines "<action> done in <us> us" (what the issue's goals count:
# create <= 20 ms, attach <= 50 ms of agent time), and the wall time the CLI waited
# (API + scheduler + agent + the openstack client's own start, seconds).
# Medians of N. Progress on stderr.
set -euo pipefail
ROOT= COUNT=5 SERVER=
while [ $# -gt 0 ]; do
	case $1 in
	--root) ROOT=$2; shift 2 ;;
	--count) COUNT=$2; shift 2 ;;
	--server) SERVER=$2; shift 2 ;;
	*) echo "usage: $0 --root DIR [--count N] [--server S]" >&2; exit 2 ;;
	esac
done
[ -n "$ROOT" ] || { echo "$0: --root is required" >&2; exit 2; }
OPENRC=$ROOT/etc/nubo/openrc
LOGS=$ROOT/var/log/nubo
# shellcheck disable=SC1090
. "$OPENRC" admin >/dev/null
export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost
OS=/usr/bin/openstack

median() { sort -n | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)]; else print "nan" }'; }
now() { date +%s.%N; }

wait_status() { # id status
	local i
	for i in $(seq 600); do
		[ "$($OS volume show "$1" -f value -c status)" = "$2" ] && return 0
		sleep 0.2
	done
	echo "$0: volume $1 never became $2" >&2
	return 1
}

# the agent time of one task on one resource, from the daemon's log (microseconds)
agent_us() { # log resource action
	grep -F "$2" "$LOGS/$1" | grep -F ": $3 " | grep -o 'done in [0-9]* us' | tail -1 |
		awk '{ print $3 }'
}

create_wall=() create_agent=() delete_agent=() attach_agent=() detach_agent=() attach_wall=()
for i in $(seq "$COUNT"); do
	t0=$(now)
	id=$($OS volume create --size 1 "bench-vol-$i" -f value -c id)
	wait_status "$id" available
	t1=$(now)
	create_wall+=("$(echo "$t1 - $t0" | bc)")
	create_agent+=("$(agent_us nubo-storage.log "$id" create)")
	if [ -n "$SERVER" ]; then
		t0=$(now)
		$OS server add volume "$SERVER" "$id" >/dev/null
		wait_status "$id" in-use
		t1=$(now)
		attach_wall+=("$(echo "$t1 - $t0" | bc)")
		attach_agent+=("$(grep -F "$id" "$LOGS/nubo-compute.log" | grep -F "attach of volume" |
			grep -o 'done in [0-9]* us' | tail -1 | awk '{ print $3 }')")
		$OS server remove volume "$SERVER" "$id"
		wait_status "$id" available
		detach_agent+=("$(grep -F "$id" "$LOGS/nubo-compute.log" | grep -F "detach of volume" |
			grep -o 'done in [0-9]* us' | tail -1 | awk '{ print $3 }')")
	fi
	$OS volume delete "$id"
	for _ in $(seq 300); do
		$OS volume show "$id" >/dev/null 2>&1 || break
		sleep 0.2
	done
	delete_agent+=("$(agent_us nubo-storage.log "$id" delete)")
	echo "volume $i/$COUNT done" >&2
done

echo "volumes=$COUNT"
echo "create_agent_ms=$(printf '%s\n' "${create_agent[@]}" | median | awk '{ printf "%.1f", $1 / 1000 }')"
echo "create_wall_s=$(printf '%s\n' "${create_wall[@]}" | median)"
echo "delete_agent_ms=$(printf '%s\n' "${delete_agent[@]}" | median | awk '{ printf "%.1f", $1 / 1000 }')"
if [ -n "$SERVER" ]; then
	echo "attach_agent_ms=$(printf '%s\n' "${attach_agent[@]}" | median | awk '{ printf "%.1f", $1 / 1000 }')"
	echo "attach_wall_s=$(printf '%s\n' "${attach_wall[@]}" | median)"
	echo "detach_agent_ms=$(printf '%s\n' "${detach_agent[@]}" | median | awk '{ printf "%.1f", $1 / 1000 }')"
fi
echo "load_avg_1m=$(cut -d' ' -f1 /proc/loadavg)"
