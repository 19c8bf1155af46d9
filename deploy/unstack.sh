#!/bin/bash
# deploy/unstack.sh: stop the stack under a root: the nubo daemons, every QEMU the
# compute agent started there, and the stack's PostgreSQL. With --purge, also remove
# its state (configuration, database, disks, logs). The guest image cache
# (/var/cache/nubo) is kept.
#
#   deploy/unstack.sh [--root DIR] [--purge]
set -euo pipefail

NUBO_PROG=unstack.sh
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=deploy/lib.sh
. "$HERE/lib.sh"

usage() {
	echo "usage: deploy/unstack.sh [--root DIR] [--purge]" >&2
	exit 2
}

ROOT=/ PURGE=
while [ $# -gt 0 ]; do
	case $1 in
	--root) [ $# -ge 2 ] || usage; ROOT=$2; shift 2 ;;
	--purge) PURGE=1; shift ;;
	-h | --help) usage ;;
	*) usage ;;
	esac
done
[ "$(id -u)" = 0 ] || nubo_die "must run as root"
nubo_set_root "$ROOT"
rc=0

# 0. the hosts deploy/host-add.sh made: their daemons, QEMUs, namespaces
"$HERE/host-add.sh" --root "$NUBO_ROOT" --remove-all || rc=1

# 1. the daemons, in stop order (the agents first, so nothing restarts what we stop next)
mapfile -t daemons < <(nubo_daemons_reversed)
if nubo_use_units; then
	systemctl stop "${daemons[@]/%/.service}" || rc=1
else
	"$HERE/nubo-ctl" --root "$NUBO_ROOT" stop "${daemons[@]}" || rc=1
fi

# 2. the QEMUs of this root's compute agent
mapfile -t qemus < <(nubo_qemu_pids '')
if [ ${#qemus[@]} -gt 0 ]; then
	nubo_log "stopping ${#qemus[@]} QEMU process(es): ${qemus[*]}"
	nubo_kill_wait 15 "${qemus[@]}" || rc=1
fi

# 2b. nubo-net's kernel objects (everything carrying this stack's name prefix): its
# dnsmasqs, namespaces, marked links and nft tables; a throwaway root's external bridge
net_conf() { awk -F= -v k="$1" '/^\[/ { s = $0 } s == "[net]" && $1 ~ "^ *"k" *$" {
	gsub(/[ \t]/, "", $2); print $2 }' "$NUBO_CONF" 2>/dev/null | tail -1; }
prefix=$(net_conf prefix || true)
if [ -n "$prefix" ] && [ -f "$NUBO_CONF" ]; then
	for p in /proc/[0-9]*; do
		if grep -qaz -- "^--interface=$prefix" "$p/cmdline" 2>/dev/null; then
			kill -9 "${p#/proc/}" 2>/dev/null || true
		fi
	done
	for ns in $(ip netns list 2>/dev/null | awk '{ print $1 }'); do
		case $ns in "$prefix"-*) ip netns del "$ns" || rc=1 ;; esac
	done
	for l in /sys/class/net/*; do
		if [ "$(cat "$l/ifalias" 2>/dev/null)" = "nubo-net:$prefix" ]; then
			ip link del "${l##*/}" 2>/dev/null || true
		fi
	done
	nft delete table bridge "${prefix}_as" 2>/dev/null || true
	nft delete table inet "${prefix}_sg" 2>/dev/null || true
	ext=$(net_conf external_bridge || true)
	if [ "$NUBO_ROOT" != / ] && [ -n "$ext" ]; then
		ip link del "$ext" 2>/dev/null || true
	fi
	nubo_log "removed nubo-net's links, namespaces and tables (prefix $prefix)"
fi

# 3. PostgreSQL
if nubo_use_units; then
	systemctl stop nubo-postgresql.service || rc=1
elif [ -f "$NUBO_PGDATA/PG_VERSION" ]; then
	"$HERE/nubo-ctl" --root "$NUBO_ROOT" stop postgresql || rc=1
fi

# 4. state
if [ -n "$PURGE" ]; then
	[ $rc = 0 ] || nubo_die "something still runs; not purging"
	if nubo_use_units; then
		for u in "${daemons[@]/%/.service}" nubo-postgresql.service; do
			systemctl disable "$u" >/dev/null 2>&1 || true
			rm -f "/etc/systemd/system/$u"
		done
		systemctl daemon-reload
	fi
	nubo_log "removing $NUBO_ETC $NUBO_VARLIB $NUBO_LOGDIR $NUBO_RUNDIR $NUBO_BIN"
	rm -rf "$NUBO_ETC" "$NUBO_VARLIB" "$NUBO_LOGDIR" "$NUBO_RUNDIR" "$NUBO_BIN"
	if [ "$NUBO_ROOT" != / ]; then
		# the empty skeleton of a throwaway root
		for d in etc var/lib var/log var run usr/local/lib usr/local usr; do
			rmdir "$NUBO_ROOT/$d" 2>/dev/null || true
		done
	fi
fi
[ $rc = 0 ] && nubo_log "stack under $NUBO_ROOT stopped${PURGE:+ and purged}"
exit $rc
