#!/bin/sh
# boot_test.sh - boot the Nubo test guest image under QEMU (TCG) and check it.
#
# Usage: tests/guest/boot_test.sh IMAGE.qcow2
#
# Scenario "configdrive": a config-2 ISO on a virtio disk with meta_data.json
#   and a "#!" user_data; checks the ready line, the user_data output on the
#   serial console, the HTTP probe through a hostfwd on 127.0.0.1, that the SSH
#   key was installed, and a graceful ACPI power-down.
# Scenario "metadata": no config drive; the metadata service is emulated at
#   169.254.169.254 through a slirp guestfwd (no real network involved).
#
# Environment: BOOT_TIMEOUT (default 120 s), SCENARIOS (default
#   "configdrive metadata"), KEEP=1 keeps the work directory.
# Exit status 0 on success; on failure the tail of the serial log is printed.
# All network traffic stays on 127.0.0.1 (slirp with restrict=on).
set -u

IMAGE=${1:-}
if [ -z "$IMAGE" ] || [ ! -f "$IMAGE" ]; then echo "usage: $0 IMAGE.qcow2" >&2; exit 2; fi
IMAGE=$(cd "$(dirname "$IMAGE")" && pwd)/$(basename "$IMAGE")
BOOT_TIMEOUT=${BOOT_TIMEOUT:-120}
SCENARIOS=${SCENARIOS:-configdrive metadata}

need_pkg() { # need_pkg COMMAND PACKAGE
	command -v "$1" >/dev/null 2>&1 && return 0
	[ "$(id -u)" = 0 ] || { echo "missing $1 (package $2)" >&2; exit 2; }
	DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 \
		install -y -q --no-install-recommends "$2" >&2 || exit 2
}
need_pkg qemu-system-x86_64 qemu-system-x86
need_pkg qemu-img qemu-utils
command -v genisoimage >/dev/null 2>&1 || command -v xorriso >/dev/null 2>&1 ||
	need_pkg genisoimage genisoimage
command -v curl >/dev/null 2>&1 || command -v wget >/dev/null 2>&1 || need_pkg curl curl

T=$(mktemp -d /tmp/nubo-guest-test.XXXXXX)
QPID=
# shellcheck disable=SC2317 # invoked by trap
cleanup() {
	if [ -n "$QPID" ]; then kill "$QPID" 2>/dev/null; wait "$QPID" 2>/dev/null; fi
	exec 3>&- 4<&- 2>/dev/null
	if [ "${KEEP:-0}" = 1 ]; then echo "work dir kept: $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

now() { awk '{print $1}' /proc/uptime; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN {printf "%.1f", b - a}'; }

http_get() { # http_get URL -> body on stdout
	if command -v curl >/dev/null 2>&1; then
		curl -fsS --max-time 5 "$1"
	else
		wget -q -T 5 -O - "$1"
	fi
}

FAILED=0
SC_FAILED=0
LOG=
fail() {
	echo "FAIL [$SC]: $*" >&2
	FAILED=1
	SC_FAILED=1
}
show_log() {
	[ -n "$LOG" ] && [ -f "$LOG" ] || return 0
	echo "---- last 40 lines of the serial log ($LOG) ----" >&2
	tail -n 40 "$LOG" | tr -d '\033' >&2
	echo "----" >&2
}

mkiso() { # mkiso DIR ISO
	if command -v genisoimage >/dev/null 2>&1; then
		genisoimage -quiet -o "$2" -V config-2 -J -R "$1"
	else
		xorriso -as mkisofs -quiet -o "$2" -V config-2 -J -R "$1" 2>/dev/null
	fi
}

# tiny one-shot HTTP server for slirp guestfwd (stdin/stdout = the connection)
cat >"$T/mdserver.sh" <<'EOF'
#!/bin/sh
root=$1
cr=$(printf '\r')
read -r method path proto || exit 0
while read -r line; do
	case $line in "" | "$cr") break ;; esac
done
path=${path%%\?*}
case $path in *..*) path=/nonexistent ;; esac
f=$root$path
if [ "$method" = GET ] && [ -f "$f" ]; then
	printf 'HTTP/1.0 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: %s\r\nConnection: close\r\n\r\n' "$(wc -c <"$f" | tr -d ' ')"
	cat "$f"
else
	printf 'HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n'
fi
EOF
chmod 755 "$T/mdserver.sh"

# start_qemu NETDEV-ARGS EXTRA-DRIVE-ARGS...; sets QPID and T0
start_qemu() {
	netdev=$1
	shift
	rm -f "$T/mon.in" "$T/mon.out"
	mkfifo "$T/mon.in" "$T/mon.out"
	exec 3<>"$T/mon.in" 4<>"$T/mon.out"
	T0=$(now)
	qemu-system-x86_64 -accel tcg -m 256 -nographic -display none -monitor none \
		-serial "file:$LOG" \
		-chardev "pipe,id=mon0,path=$T/mon" -mon chardev=mon0,mode=readline \
		-drive "file=$T/overlay.qcow2,if=virtio" "$@" \
		-netdev "$netdev" -device virtio-net-pci,netdev=n0 \
		>"$T/qemu.out" 2>&1 &
	QPID=$!
}

wait_ready() { # wait_ready PATTERN -> 0 when the ready line shows up
	while :; do
		if grep -q "^nubo-guest ready " "$LOG" 2>/dev/null; then
			BOOT_TIME=$(elapsed "$T0")
			return 0
		fi
		if ! kill -0 "$QPID" 2>/dev/null; then
			fail "qemu exited early: $(cat "$T/qemu.out")"
			return 1
		fi
		if [ "$(awk -v a="$T0" -v b="$(now)" 'BEGIN {print (b - a > '"$BOOT_TIMEOUT"')}')" = 1 ]; then
			fail "no ready line within ${BOOT_TIMEOUT}s"
			return 1
		fi
		sleep 0.2
	done
}

stop_qemu() {
	kill "$QPID" 2>/dev/null
	wait "$QPID" 2>/dev/null
	QPID=
	exec 3>&- 4<&-
}

check_common() { # check_common HOST UUID PORT
	line=$(grep -a "^nubo-guest ready " "$LOG" | tr -d '\r')
	[ "$(echo "$line" | wc -l)" = 1 ] || fail "ready line printed more than once"
	[ "$line" = "nubo-guest ready $1 $2" ] ||
		fail "unexpected ready line '$line' (want 'nubo-guest ready $1 $2')"
	grep -aq "^hello-from-userdata $1" "$LOG" || fail "user_data output missing"
	body=
	i=0
	while [ $i -lt 10 ]; do
		body=$(http_get "http://127.0.0.1:$3/" 2>/dev/null) && break
		sleep 1
		i=$((i + 1))
	done
	[ "$body" = "nubo-guest $1 $2" ] || fail "probe answered '$body'"
	info=$(http_get "http://127.0.0.1:$3/cgi-bin/info" 2>/dev/null)
	echo "$info" | grep -q '^authorized_keys 1$' || fail "ssh key not installed: $info"
	echo "$info" | grep -q '^user_data_rc 0$' || fail "user_data status: $info"
}

wait_info() { # wait_info PORT SECONDS [!] REGEX -> 0 once /cgi-bin/info (does not) match
	port=$1 limit=$2 neg=
	shift 2
	[ "$1" = "!" ] && { neg=1; shift; }
	t=$(now)
	while :; do
		if body=$(http_get "http://127.0.0.1:$port/cgi-bin/info" 2>/dev/null); then
			if echo "$body" | grep -q "$1"; then
				[ -z "$neg" ] && return 0
			else
				[ -n "$neg" ] && return 0
			fi
		fi
		[ "$(awk -v a="$t" -v b="$(now)" -v l="$limit" 'BEGIN {print (b - a > l)}')" = 1 ] && return 1
		sleep 1
	done
}

check_hotplug() { # check_hotplug PORT: attach a disk and a NIC, detach the disk
	qemu-img create -q -f qcow2 "$T/vol.qcow2" 64M
	echo "drive_add 0 if=none,id=vol1,file=$T/vol.qcow2" >&3
	echo "device_add virtio-blk-pci,drive=vol1,id=vol1dev" >&3
	echo "netdev_add user,id=n1,restrict=on" >&3
	echo "device_add virtio-net-pci,netdev=n1,id=nic1" >&3
	t=$(now)
	if wait_info "$1" 40 '^disk vdc 65536$'; then
		echo "[$SC] hot-plugged disk seen after $(elapsed "$t")s"
	else
		fail "hot-plugged disk not seen"
	fi
	if wait_info "$1" 40 '^lease eth1 '; then
		echo "[$SC] hot-plugged NIC got a DHCP lease after $(elapsed "$t")s"
	else
		fail "hot-plugged NIC got no lease"
	fi
	echo "device_del vol1dev" >&3
	t=$(now)
	if wait_info "$1" 40 ! '^disk vdc '; then
		echo "[$SC] disk detached after $(elapsed "$t")s"
	else
		fail "disk still present after device_del"
	fi
}

free_port() {
	p=$((20000 + $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 20000))
	while ss -ltn 2>/dev/null | grep -q "127.0.0.1:$p "; do p=$((p + 1)); done
	echo "$p"
}

make_meta() { # make_meta DIR HOST UUID
	mkdir -p "$1/openstack/latest"
	cat >"$1/openstack/latest/meta_data.json" <<EOF
{"uuid": "$3", "name": "$2-name", "hostname": "$2",
 "launch_index": 0, "availability_zone": "nova",
 "keys": [{"name": "testkey", "type": "ssh", "data": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINubo test@nubo\\n"}],
 "public_keys": {"testkey": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINubo test@nubo\\n"},
 "meta": {"name": "not-this-one"}}
EOF
	# shellcheck disable=SC2016 # expanded by the guest
	printf '#!/bin/sh\necho hello-from-userdata $(hostname)\n' >"$1/openstack/latest/user_data"
}

for SC in $SCENARIOS; do
	SC_FAILED=0
	LOG=$T/$SC.log
	HOST=nubo-t$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
	UUID=$(cat /proc/sys/kernel/random/uuid)
	PORT=$(free_port)
	rm -f "$T/overlay.qcow2"
	qemu-img create -q -f qcow2 -F qcow2 -b "$IMAGE" "$T/overlay.qcow2" || exit 1
	case $SC in
	configdrive)
		make_meta "$T/cd" "$HOST" "$UUID"
		mkiso "$T/cd" "$T/cd.iso" || { fail "cannot build the ISO"; continue; }
		start_qemu "user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:$PORT-:80" \
			-drive "file=$T/cd.iso,if=virtio,format=raw,readonly=on"
		;;
	metadata)
		make_meta "$T/md" "$HOST" "$UUID"
		start_qemu "user,id=n0,restrict=on,net=169.254.0.0/16,host=169.254.0.2,dhcpstart=169.254.0.15,hostfwd=tcp:127.0.0.1:$PORT-:80,guestfwd=tcp:169.254.169.254:80-cmd:$T/mdserver.sh $T/md"
		;;
	*)
		echo "unknown scenario $SC" >&2
		exit 2
		;;
	esac
	if wait_ready; then
		echo "[$SC] ready after ${BOOT_TIME}s (TCG)"
		check_common "$HOST" "$UUID" "$PORT"
		if [ "$SC" = metadata ]; then
			grep -aq "metadata source: metadata-service" "$LOG" ||
				fail "metadata service was not used"
		fi
		if [ "$SC" = configdrive ]; then
			check_hotplug "$PORT"
			# graceful shutdown through the ACPI power button
			echo system_powerdown >&3
			t=$(now)
			while kill -0 "$QPID" 2>/dev/null; do
				[ "$(awk -v a="$t" -v b="$(now)" 'BEGIN {print (b - a > 30)}')" = 1 ] && break
				sleep 0.2
			done
			if kill -0 "$QPID" 2>/dev/null; then
				fail "guest did not power off on ACPI power button"
			else
				echo "[$SC] powered off $(elapsed "$t")s after system_powerdown"
			fi
		fi
	fi
	stop_qemu
	if [ $SC_FAILED = 0 ]; then echo "[$SC] OK"; else show_log; fi
done

if [ $FAILED = 0 ]; then
	echo "PASS: $IMAGE ($(du -h "$IMAGE" | cut -f1), virtual $(qemu-img info "$IMAGE" | sed -n 's/^virtual size: //p'))"
	exit 0
fi
echo "FAILED" >&2
exit 1
