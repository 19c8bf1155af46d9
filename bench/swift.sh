#!/bin/bash
# bench/swift.sh: a throwaway single-box OpenStack Swift (Debian's packages) for
# bench/objstore.sh --swift, which measures it with the same wrk cases as Nubo's
# object store (issue 10). Run as root.
#
#   bench/swift.sh --deps      apt-get install Swift and memcached (not part of
#                              deploy/stack.sh --deps-only: CI never installs Swift)
#   bench/swift.sh up DIR      make and start a Swift under DIR (new or empty); prints
#                              swift_url=, swift_token=, swift_proxy_pid= lines
#   bench/swift.sh down DIR    stop every process `up DIR` started (by the process
#                              groups it recorded); DIR itself is left to the caller
#
# Usually: bench/swift.sh --deps once, then
#   bench/objstore.sh --root STACK --swift --sizes "4096 1048576 67108864"
# (or bench/objstore.sh --swift alone), which runs up and down itself.
#
# The Swift: rings of part power 10 with 3 replicas over 3 devices d1..d3 in zones 1..3,
# the devices plain directories under DIR/srv (mount_check = false); one account, one
# container and one object server serving all three, and the proxy with Debian's
# default pipeline, tempauth instead of keystoneauth (user bench:bench, .admin) and
# memcached (tempauth keeps its tokens there, the proxy its account and container
# info). Fair to 2 cores: the proxy and each backend server run workers = 2 (Swift's
# advice: one per core); an object server does its fsyncs in eventlet's thread pool, so
# a write does not stall its worker. Durable as deployed: every object PUT fsyncs its
# data and its directory (Swift's defaults are kept). One change from the defaults:
# keep_cache_private = true, so a GET with a token (every GET here) leaves the object
# in the page cache as Nubo's object server does, instead of dropping it after each
# read (the cases measure the servers, not the disk). Swift reads /etc/swift/swift.conf
# whatever swift_dir says, so each server runs in a mount namespace of its own where
# DIR/etc is bind-mounted over /etc/swift: nothing outside DIR is written. The ports
# are free loopback ports in 30100..32699 (Nubo's throwaway stacks use 10000..29999;
# the ephemeral range starts at 32768). No replicator, updater or auditor runs; the
# servers log to syslog as deployed (over UDP where /dev/log is missing), their
# start-up errors go to DIR/log.
set -euo pipefail

NUBO_PROG=swift.sh
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=deploy/lib.sh
. "$HERE/../deploy/lib.sh"

SWIFT_PKGS=(swift swift-proxy swift-object swift-container swift-account python3-swift memcached)
SERVERS=(account container object proxy) # start order; down stops every group
WORKERS=2
KEY=bench-key

usage() {
	awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}" >&2
	exit 2
}

# free_ports N: N free TCP ports on 127.0.0.1 in 30100..32699, one a line.
free_ports() {
	/usr/bin/python3 - "$1" <<'PY'
import random, socket, sys
def free(p):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
        return True
    except OSError:
        return False
    finally:
        s.close()
rnd = random.SystemRandom()
picked = []
while len(picked) < int(sys.argv[1]):
    p = rnd.randrange(30100, 32700)
    if p not in picked and free(p):
        picked.append(p)
print(*picked, sep="\n")
PY
}

# conf_common NAME PORT: the [DEFAULT] section every server shares.
conf_common() {
	cat <<EOF
[DEFAULT]
bind_ip = 127.0.0.1
bind_port = $2
workers = $WORKERS
user = root
swift_dir = /etc/swift
devices = $DIR/srv
mount_check = false
log_name = swiftbench-$1
EOF
}

write_confs() { # write_confs ACCOUNT_PORT CONTAINER_PORT OBJECT_PORT PROXY_PORT MEMCACHE_PORT
	local e=$DIR/etc
	cat >"$e/swift.conf" <<EOF
[swift-hash]
swift_hash_path_prefix = $(od -An -N8 -tx8 /dev/urandom | tr -d ' ')
swift_hash_path_suffix = $(od -An -N8 -tx8 /dev/urandom | tr -d ' ')

[storage-policy:0]
name = Policy-0
default = yes
EOF
	{
		conf_common account "$1"
		printf '\n[pipeline:main]\npipeline = account-server\n\n[app:account-server]\nuse = egg:swift#account\n'
	} >"$e/account-server.conf"
	{
		conf_common container "$2"
		printf '\n[pipeline:main]\npipeline = container-server\n\n[app:container-server]\nuse = egg:swift#container\n'
	} >"$e/container-server.conf"
	{
		conf_common object "$3"
		printf '\n[pipeline:main]\npipeline = object-server\n\n[app:object-server]\nuse = egg:swift#object\nkeep_cache_private = true\n'
	} >"$e/object-server.conf"
	{
		conf_common proxy "$4"
		cat <<EOF

[pipeline:main]
pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats container_sync bulk tempurl ratelimit tempauth copy container-quotas account-quotas slo dlo versioned_writes symlink proxy-logging proxy-server

[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true

[filter:tempauth]
use = egg:swift#tempauth
user_bench_bench = $KEY .admin

[filter:cache]
use = egg:swift#memcache
memcache_servers = 127.0.0.1:$5
EOF
		for f in catch_errors gatekeeper healthcheck proxy-logging listing_formats container_sync \
			bulk tempurl ratelimit copy container-quotas account-quotas slo dlo versioned_writes symlink; do
			printf '\n[filter:%s]\nuse = egg:swift#%s\n' "$f" "${f//-/_}"
		done
	} >"$e/proxy-server.conf"
}

build_rings() { # build_rings ACCOUNT_PORT CONTAINER_PORT OBJECT_PORT
	local kind port i
	for kind in account container object; do
		case $kind in account) port=$1 ;; container) port=$2 ;; object) port=$3 ;; esac
		swift-ring-builder "$DIR/etc/$kind.builder" create 10 3 1 >/dev/null
		for i in 1 2 3; do
			swift-ring-builder "$DIR/etc/$kind.builder" add "r1z$i-127.0.0.1:$port/d$i" 100 >/dev/null
		done
		swift-ring-builder "$DIR/etc/$kind.builder" rebalance >/dev/null ||
			nubo_die "swift-ring-builder $kind.builder rebalance failed"
	done
}

# start NAME CMD...: CMD in a session (a process group) and a mount namespace of its
# own, with DIR/etc over /etc/swift; its group id goes to DIR/run/NAME.pgid.
start() {
	local name=$1
	shift
	# shellcheck disable=SC2016 # the inner shell expands them
	setsid unshare --mount --propagation private \
		sh -c 'mount --bind "$0" /etc/swift && exec "$@"' "$DIR/etc" "$@" \
		>"$DIR/log/$name.log" 2>&1 </dev/null &
	echo "$!" >"$DIR/run/$name.pgid"
}

# groups: the process group ids `up` recorded, one a line.
groups() {
	local f
	for f in "$DIR"/run/*.pgid; do
		[ -f "$f" ] && cat "$f"
	done
	return 0
}

down() {
	local g i left
	for g in $(groups); do kill -TERM -- "-$g" 2>/dev/null || true; done
	for ((i = 0; i < 150; i++)); do
		left=
		for g in $(groups); do pgrep -g "$g" >/dev/null && left=1; done
		[ -n "$left" ] || break
		sleep 0.1
	done
	for g in $(groups); do
		if pgrep -g "$g" >/dev/null; then
			nubo_log "process group $g ignored SIGTERM for 15s, sending SIGKILL"
			kill -KILL -- "-$g" 2>/dev/null || true
		fi
	done
	rm -f "$DIR"/run/*.pgid
}

# wait_http URL WHAT: until URL answers anything over HTTP (up to 120 s: a loaded box).
wait_http() {
	local i
	for ((i = 0; i < 240; i++)); do
		[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$1" || true)" != 000 ] && return 0
		sleep 0.5
	done
	nubo_die "$2 does not answer at $1 (see $DIR/log and syslog)"
}

# shellcheck disable=SC2317 # run by up's EXIT trap: a failed start stops what started
up_exit() {
	local rc=$?
	[ "$rc" = 0 ] || down
	exit "$rc"
}

up() {
	local ports ap cp op pp mp name hdrs url token
	[ ! -e "$DIR" ] || [ -z "$(ls -A "$DIR")" ] || nubo_die "$DIR is not empty"
	for name in swift-ring-builder swift-proxy-server swift-object-server memcached; do
		command -v "$name" >/dev/null || nubo_die "$name is missing: run bench/swift.sh --deps"
	done
	[ -d /etc/swift ] || nubo_die "/etc/swift is missing (the mount point): run bench/swift.sh --deps"
	mkdir -p "$DIR/etc" "$DIR/srv/d1" "$DIR/srv/d2" "$DIR/srv/d3" "$DIR/log" "$DIR/run"
	DIR=$(realpath "$DIR")
	trap up_exit EXIT
	trap 'exit 130' INT TERM HUP
	ports=$(free_ports 5)
	read -r ap cp op pp mp <<<"$(echo "$ports" | tr '\n' ' ')"
	write_confs "$ap" "$cp" "$op" "$pp" "$mp"
	build_rings "$ap" "$cp" "$op"
	start memcached memcached -u memcache -l 127.0.0.1 -p "$mp" -U 0 -m 64
	for name in "${SERVERS[@]}"; do
		start "$name" "swift-$name-server" "/etc/swift/$name-server.conf"
	done
	wait_http "http://127.0.0.1:$ap/" "the account server"
	wait_http "http://127.0.0.1:$cp/" "the container server"
	wait_http "http://127.0.0.1:$op/" "the object server"
	wait_http "http://127.0.0.1:$pp/healthcheck" "the proxy"
	hdrs=$(curl -fsS -D - -o /dev/null --max-time 30 -H 'X-Auth-User: bench:bench' \
		-H "X-Auth-Key: $KEY" "http://127.0.0.1:$pp/auth/v1.0") || nubo_die "tempauth gave no token"
	url=$(printf '%s\n' "$hdrs" | awk -F': ' 'tolower($1) == "x-storage-url" { sub(/\r$/, "", $2); print $2 }')
	token=$(printf '%s\n' "$hdrs" | awk -F': ' 'tolower($1) == "x-auth-token" { sub(/\r$/, "", $2); print $2 }')
	if [ -z "$url" ] || [ -z "$token" ]; then
		nubo_die "tempauth's answer has no X-Storage-Url or X-Auth-Token"
	fi
	# the account's first write makes it (account_autocreate): the bench's writes
	# then all find it
	curl -fsS -o /dev/null --max-time 60 -X PUT -H "X-Auth-Token: $token" "$url/swiftbench-probe" ||
		nubo_die "the first container PUT failed (see $DIR/log and syslog)"
	curl -fsS -o /dev/null --max-time 60 -X DELETE -H "X-Auth-Token: $token" "$url/swiftbench-probe" || true
	echo "swift_url=$url"
	echo "swift_token=$token"
	echo "swift_proxy_pid=$(cat "$DIR/run/proxy.pgid")"
	nubo_log "Swift under $DIR: proxy 127.0.0.1:$pp, account $ap, container $cp, object $op, memcached $mp; workers $WORKERS each"
}

case ${1:-} in
--deps)
	[ $# -eq 1 ] || usage
	nubo_apt_install "${SWIFT_PKGS[@]}"
	;;
up | down)
	[ $# -eq 2 ] || usage
	DIR=$2
	"$1"
	;;
*) usage ;;
esac
