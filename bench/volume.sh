#!/bin/bash
# bench/volume.sh: block storage timings (issue 9) on a running stack.
#
#   bench/volume.sh --root DIR [--count N] [--server NAME_OR_ID | --guest] [--snapshot]
#
#   --root DIR   the stack (made by deploy/stack.sh --root DIR, or / for a real install)
#   --count N    volumes created (and deleted) in sequence (default 5)
#   --server S   also attach and detach a volume to the running server S N times
#   --guest      boot a tiny server for that (deleted at the end) whose user data times,
#                inside the guest, 16 MiB of O_DIRECT writes then reads on every volume
#                it gets, then 4 KiB O_DIRECT writes then reads at random offsets; the
#                same on a host file beside the pool is the peer. The tiny guest has
#                only busybox (no fio): each random 4 KiB I/O is one dd process, in the
#                guest as on the host, so under TCG those figures count mostly the
#                guest's process start, and say little about the disk path
#   --snapshot   also time an instance snapshot (createImage) of that server: the
#                wall time of `openstack server image create --wait`, nubo-compute's
#                task time (copy and upload) and how long the guest was stopped
#
# Prints key=value lines: the agent's own time per task, taken from nubo-storage's and
# nubo-compute's log lines "<action> done in <us> us" (what the issue's goals count:
# create <= 20 ms, attach <= 50 ms of agent time), the wall time the CLI waited for a
# create (API + scheduler + agent + the openstack client's own start, seconds), and for
# attaches, made with one HTTP request (no client start): the time until the guest's
# hotplug handler prints the new disk on its serial console (read from the console file
# QEMU writes on this host) and until the volume is in-use. Medians of N. Progress on
# stderr.
set -euo pipefail
ROOT= COUNT=5 SERVER= GUEST=0 SNAPSHOT=0
while [ $# -gt 0 ]; do
	case $1 in
	--root) ROOT=$2; shift 2 ;;
	--count) COUNT=$2; shift 2 ;;
	--server) SERVER=$2; shift 2 ;;
	--guest) GUEST=1; shift ;;
	--snapshot) SNAPSHOT=1; shift ;;
	*) echo "usage: $0 --root DIR [--count N] [--server S | --guest] [--snapshot]" >&2; exit 2 ;;
	esac
done
[ -n "$ROOT" ] || { echo "$0: --root is required" >&2; exit 2; }
[ "$SNAPSHOT" = 0 ] || [ -n "$SERVER" ] || [ "$GUEST" = 1 ] ||
	{ echo "$0: --snapshot needs --server or --guest" >&2; exit 2; }
OPENRC=$ROOT/etc/nubo/openrc
CONF=$ROOT/etc/nubo/nubo.conf
LOGS=$ROOT/var/log/nubo
# shellcheck disable=SC1090
. "$OPENRC" admin >/dev/null
export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost
OS=/usr/bin/openstack
MIB=16   # guest I/O per volume
RAND=100 # random 4 KiB writes, then reads, per volume (one dd each)

median() { sort -n | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)]; else print "nan" }'; }
now() { date +%s.%N; }
ms() { awk '{ printf "%.1f", $1 / 1000 }'; }
conf_get() { # section key: a value of nubo.conf
	awk -v s="[$1]" -v k="$2" '$0 == s { f = 1; next } /^\[/ { f = 0 }
		f && $1 == k && $2 == "=" { print $3; exit }' "$CONF"
}

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
compute_us() { # resource action: nubo-compute's "<action> of volume <id> done in N us"
	grep -F "$1" "$LOGS/nubo-compute.log" | grep -F "$2 of volume" |
		grep -o 'done in [0-9]* us' | tail -1 | awk '{ print $3 }'
}

# Polls (10 ms) until file has, past byte offset from, a line matching the extended
# regex re; prints the line. Fails after 300 s.
wait_line() { # file from re
	local i line
	for i in $(seq 30000); do
		line=$(tail -c +"$(($2 + 1))" "$1" | grep -E -m1 "$3" || true)
		[ -n "$line" ] && { echo "$line"; return 0; }
		sleep 0.01
	done
	echo "$0: no line /$3/ in $1" >&2
	return 1
}

GUEST_SCRIPT='#!/bin/sh
(
seen=
while :; do
	for d in sda sdb sdc sdd sde sdf sdg sdh; do
		[ -b /dev/$d ] || continue
		case " $seen " in *" $d "*) continue ;; esac
		seen="$seen $d"
		a=$(cut -d" " -f1 /proc/uptime)
		dd if=/dev/zero of=/dev/$d bs=1048576 count='$MIB' oflag=direct 2>/dev/null
		b=$(cut -d" " -f1 /proc/uptime)
		dd if=/dev/$d of=/dev/null bs=1048576 count='$MIB' iflag=direct 2>/dev/null
		c=$(cut -d" " -f1 /proc/uptime)
		i=0
		while [ $i -lt '$RAND' ]; do
			dd if=/dev/zero of=/dev/$d bs=4096 count=1 seek=$((RANDOM * 8)) oflag=direct 2>/dev/null
			i=$((i + 1))
		done
		e=$(cut -d" " -f1 /proc/uptime)
		i=0
		while [ $i -lt '$RAND' ]; do
			dd if=/dev/$d of=/dev/null bs=4096 count=1 skip=$((RANDOM * 8)) iflag=direct 2>/dev/null
			i=$((i + 1))
		done
		f=$(cut -d" " -f1 /proc/uptime)
		echo "nubo-bench: $d io $a $b $c $e $f"
	done
	n=
	for d in $seen; do [ -b /dev/$d ] && n="$n $d"; done
	seen=$n
	usleep 50000
done
) </dev/null >/dev/console 2>&1 &
exit 0
'

BOOTED=
cleanup() {
	[ -n "$BOOTED" ] && $OS server delete --wait "$BOOTED" >/dev/null 2>&1 || true
	rm -f "${UDATA:-}" "${PEER:-}"
}
trap cleanup EXIT
if [ "$GUEST" = 1 ]; then
	UDATA=$(mktemp)
	printf '%s' "$GUEST_SCRIPT" >"$UDATA"
	echo "booting the bench server" >&2
	BOOTED=$($OS server create --flavor m1.tiny --image nubo-tiny --user-data "$UDATA" \
		--wait bench-vol -f value -c id | tr -d "[:space:]")
	SERVER=$BOOTED
fi

if [ -n "$SERVER" ]; then
	SERVER=$($OS server show "$SERVER" -f value -c id)
	TOKEN=$($OS token issue -f value -c id)
	PROJECT=$($OS token issue -f value -c project_id)
	BASE=${OS_AUTH_URL%/identity/v3}
	CONSOLE=$(conf_get compute state_dir)/instances/$SERVER/console.log
	[ -f "$CONSOLE" ] || { echo "$0: no console file $CONSOLE (not this host's?)" >&2; exit 1; }
	if [ "$GUEST" = 1 ]; then # the guest says its script runs
		wait_line "$CONSOLE" 0 'nubo-guest ready' >/dev/null
	fi
fi
api() { # method path [body]: HTTP status; the body in $REPLY_FILE
	curl -s -o "$REPLY_FILE" -w '%{http_code}' -X "$1" -H "X-Auth-Token: $TOKEN" \
		-H 'Content-Type: application/json' ${3:+-d "$3"} "$BASE$2"
}
REPLY_FILE=$(mktemp)
api_status() { # volume id: its status, through the API
	api GET "/volume/v3/$PROJECT/volumes/$1" >/dev/null
	sed -n 's/.*"status": *"\([a-z_-]*\)".*/\1/p' "$REPLY_FILE" | head -1
}

create_wall=() create_agent=() delete_agent=() attach_agent=() detach_agent=()
visible=() inuse=() gw=() gr=() grw=() grr=()
for i in $(seq "$COUNT"); do
	t0=$(now)
	id=$($OS volume create --size 1 "bench-vol-$i" -f value -c id)
	wait_status "$id" available
	t1=$(now)
	create_wall+=("$(echo "$t1 - $t0" | bc)")
	create_agent+=("$(agent_us nubo-storage.log "$id" create)")
	if [ -n "$SERVER" ]; then
		from=$(stat -c %s "$CONSOLE")
		t0=$(now)
		code=$(api POST "/compute/v2.1/servers/$SERVER/os-volume_attachments" \
			"{\"volumeAttachment\": {\"volumeId\": \"$id\"}}")
		[ "$code" = 200 ] || { echo "$0: attach: HTTP $code $(cat "$REPLY_FILE")" >&2; exit 1; }
		line=$(wait_line "$CONSOLE" "$from" 'nubo-guest: disk add')
		t1=$(now)
		visible+=("$(echo "$t1 - $t0" | bc)")
		until [ "$(api_status "$id")" = in-use ]; do sleep 0.01; done
		t2=$(now)
		inuse+=("$(echo "$t2 - $t0" | bc)")
		attach_agent+=("$(compute_us "$id" attach)")
		if [ "$GUEST" = 1 ]; then
			dev=$(echo "$line" | sed -n 's/.*disk add \([a-z]*\).*/\1/p')
			io=$(wait_line "$CONSOLE" "$from" "nubo-bench: $dev io " | tr -d '\r')
			read -r _ _ _ a b c e f <<<"$io"
			gw+=("$(echo "$MIB / ($b - $a)" | bc -l)")
			gr+=("$(echo "$MIB / ($c - $b)" | bc -l)")
			grw+=("$(echo "$RAND / ($e - $c)" | bc -l)")
			grr+=("$(echo "$RAND / ($f - $e)" | bc -l)")
		fi
		$OS server remove volume "$SERVER" "$id"
		wait_status "$id" available
		detach_agent+=("$(compute_us "$id" detach)")
	fi
	$OS volume delete "$id"
	for _ in $(seq 300); do
		$OS volume show "$id" >/dev/null 2>&1 || break
		sleep 0.2
	done
	delete_agent+=("$(agent_us nubo-storage.log "$id" delete)")
	echo "volume $i/$COUNT done" >&2
done
rm -f "$REPLY_FILE"

echo "volumes=$COUNT"
echo "create_agent_ms=$(printf '%s\n' "${create_agent[@]}" | median | ms)"
echo "create_wall_s=$(printf '%s\n' "${create_wall[@]}" | median)"
echo "delete_agent_ms=$(printf '%s\n' "${delete_agent[@]}" | median | ms)"
if [ -n "$SERVER" ]; then
	echo "attach_agent_ms=$(printf '%s\n' "${attach_agent[@]}" | median | ms)"
	echo "attach_api_to_guest_s=$(printf '%s\n' "${visible[@]}" | median)"
	echo "attach_api_to_inuse_s=$(printf '%s\n' "${inuse[@]}" | median)"
	echo "detach_agent_ms=$(printf '%s\n' "${detach_agent[@]}" | median | ms)"
fi
if [ "$GUEST" = 1 ]; then
	# the peer: the same O_DIRECT I/O on a host file beside the pool
	PEER=$(conf_get storage state_dir)/tmp/bench-peer.raw
	a=$(now)
	dd if=/dev/zero of="$PEER" bs=1M count=$MIB oflag=direct 2>/dev/null
	b=$(now)
	dd if="$PEER" of=/dev/null bs=1M count=$MIB iflag=direct 2>/dev/null
	c=$(now)
	blocks=$((MIB * 256))
	for _ in $(seq $RAND); do
		dd if=/dev/zero of="$PEER" bs=4096 count=1 seek=$((RANDOM % blocks)) oflag=direct \
			conv=notrunc 2>/dev/null
	done
	e=$(now)
	for _ in $(seq $RAND); do
		dd if="$PEER" of=/dev/null bs=4096 count=1 skip=$((RANDOM % blocks)) iflag=direct 2>/dev/null
	done
	f=$(now)
	hw=$(echo "$MIB / ($b - $a)" | bc -l)
	hr=$(echo "$MIB / ($c - $b)" | bc -l)
	hrw=$(echo "$RAND / ($e - $c)" | bc -l)
	hrr=$(echo "$RAND / ($f - $e)" | bc -l)
	w=$(printf '%s\n' "${gw[@]}" | median)
	r=$(printf '%s\n' "${gr[@]}" | median)
	rw=$(printf '%s\n' "${grw[@]}" | median)
	rr=$(printf '%s\n' "${grr[@]}" | median)
	printf 'guest_write_mib_s=%.1f\nguest_read_mib_s=%.1f\n' "$w" "$r"
	printf 'host_write_mib_s=%.1f\nhost_read_mib_s=%.1f\n' "$hw" "$hr"
	printf 'guest_host_write_ratio=%.3f\nguest_host_read_ratio=%.3f\n' \
		"$(echo "$w / $hw" | bc -l)" "$(echo "$r / $hr" | bc -l)"
	printf 'guest_rand4k_write_iops=%.1f\nguest_rand4k_read_iops=%.1f\n' "$rw" "$rr"
	printf 'host_rand4k_write_iops=%.1f\nhost_rand4k_read_iops=%.1f\n' "$hrw" "$hrr"
	printf 'guest_host_rand4k_write_ratio=%.3f\nguest_host_rand4k_read_ratio=%.3f\n' \
		"$(echo "$rw / $hrw" | bc -l)" "$(echo "$rr / $hrr" | bc -l)"
	echo "accel=$(grep -o 'accelerator [a-z]*' "$LOGS/nubo-compute.log" | tail -1 | cut -d' ' -f2)"
fi
if [ "$SNAPSHOT" = 1 ]; then
	# an instance snapshot of the server: the CLI's wall time, the agent's task time
	# ("instance <id>: snapshot done in <ms> ms") and the guest's stop
	# ("instance <id>: guest stopped for <ms> ms by a disk copy")
	t0=$(now)
	SNAP_IMAGE=$($OS server image create --name "bench-snap-$$" --wait "$SERVER" -f value -c id |
		grep -Eo '[0-9a-f-]{36}' | tail -1) # --wait's progress goes to stdout too
	t1=$(now)
	echo "snapshot_wall_s=$(echo "$t1 - $t0" | bc)"
	echo "snapshot_agent_ms=$(grep -F "instance $SERVER: snapshot done in" "$LOGS/nubo-compute.log" |
		tail -1 | awk '{ print $(NF - 3) }')"
	echo "snapshot_guest_stopped_ms=$(grep -F "instance $SERVER: guest stopped for" \
		"$LOGS/nubo-compute.log" | tail -1 | awk '{ print $(NF - 5) }')"
	echo "snapshot_image_bytes=$($OS image show "$SNAP_IMAGE" -f value -c size)"
	$OS image delete "$SNAP_IMAGE"
fi
echo "load_avg_1m=$(cut -d' ' -f1 /proc/loadavg)"
