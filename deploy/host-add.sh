#!/bin/bash
# deploy/host-add.sh: add a compute "host" to the stack on this box: a network
# namespace with its own nubo-compute and nubo-net, joined to the controller by a
# management network, with CURVE keys of its own. Tenant traffic between hosts goes
# over VXLAN on the management network. Idempotent.
#
#   deploy/host-add.sh [--root DIR] [--az ZONE] NAME     add (or repair) host NAME
#   deploy/host-add.sh [--root DIR] --remove NAME        remove it (deploy/host-del.sh)
#   deploy/host-add.sh [--root DIR] --remove-all         every host, the controller's
#                                                        configuration untouched (unstack.sh)
#   deploy/host-add.sh [--root DIR] --reconfigure        the hosts' settings into a
#                                                        nubo.conf stack.sh rewrote (stack.sh)
#
#   NAME       the host's name on the bus and in the API: 1-20 of [a-z0-9-], a letter first
#   --az ZONE  the availability zone its agent reports (default nova): servers created
#              with --availability-zone ZONE land there
#
# The management network: a bridge on the controller (nubo-mgmt; a --root stack's
# nbm-<its net prefix>) holding .1 of a /24 (NUBO_MGMT_NET, the first three octets,
# default 10.253.0 for /, 10.253.<from the root's hash> for a --root stack), and per
# host a veth pair into namespace nubo-h-NAME (nubo-h-<prefix>-NAME for a --root
# stack) holding .2-.254. With a host present, the controller's nubo.conf is set up
# for it (and put back when the last one goes): the scheduler's bus and nubo-api also
# listen on the controller's management address (CURVE and the agent key guard the
# bus; nothing listens on the box's other addresses), [api] internal_url and
# [net] tunnel_ip are the controller's management address; its curve_allowed_clients
# lists each host's two keys (NAME, NAME.net). Routers and DHCP stay on the
# controller ([network] l3_host).
#
# A host's files are a root of their own, NUBO_VARLIB/hosts/NAME (etc/nubo/nubo.conf,
# var/log/nubo, run/nubo, var/lib/nubo/{compute,net}); `nubo-ctl --root R
# start|stop|status` covers the hosts of R, unstack.sh removes them.
set -euo pipefail

NUBO_PROG=host-add.sh
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=deploy/lib.sh
. "$HERE/lib.sh"

usage() {
	awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}" >&2
	exit 2
}

ROOT=/ MODE=add AZ=nova NAME=
while [ $# -gt 0 ]; do
	case $1 in
	--root) [ $# -ge 2 ] || usage; ROOT=$2; shift 2 ;;
	--az) [ $# -ge 2 ] || usage; AZ=$2; shift 2 ;;
	--remove) MODE=remove; shift ;;
	--remove-all) MODE=remove-all; shift ;;
	--reconfigure) MODE=reconfigure; shift ;;
	-h | --help) usage ;;
	-*) usage ;;
	*) [ -z "$NAME" ] || usage; NAME=$1; shift ;;
	esac
done
[ "$(id -u)" = 0 ] || nubo_die "must run as root"
if [ "$MODE" = remove-all ] || [ "$MODE" = reconfigure ]; then
	[ -z "$NAME" ] || usage
else
	[[ $NAME =~ ^[a-z][a-z0-9-]{0,19}$ ]] || nubo_die "host name: 1-20 of [a-z0-9-], a letter first"
fi
[[ $AZ =~ ^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$ ]] || nubo_die "bad availability zone '$AZ'"
nubo_set_root "$ROOT"
# unstack.sh calls --remove-all on every stack, also one without hosts (or purged)
[ "$MODE" != remove-all ] || [ -n "$(nubo_hosts)" ] || exit 0
[ -f "$NUBO_CONF" ] || nubo_die "$NUBO_CONF missing: run deploy/stack.sh first"
CTL=("$HERE/nubo-ctl" --root "$NUBO_ROOT")
HOSTS=$NUBO_VARLIB/hosts
mkdir -p "$HOSTS"
chmod 0755 "$HOSTS"
# one host-add.sh at a time per root (every daemon started below gets 9>&-: a
# supervisor holding the lock's descriptor would hold the lock)
exec 9>"$HOSTS/.lock"
flock 9

# ------------------------------------------------------------------ names
CPREFIX=$(nubo_conf_get net prefix)
[ -n "$CPREFIX" ] || CPREFIX=nb
if [ "$NUBO_ROOT" = / ]; then
	BRIDGE=nubo-mgmt NSPRE=nubo-h- MGMT_DEF=10.253.0
else
	BRIDGE=nbm-$CPREFIX NSPRE=nubo-h-$CPREFIX-
	MGMT_DEF=10.253.$((1 + 0x$(printf '%s' "$NUBO_ROOT" | md5sum | cut -c1-4) % 250))
fi
MGMT_ENV=$HOSTS/mgmt.env
if [ -f "$MGMT_ENV" ]; then
	# shellcheck disable=SC1090
	. "$MGMT_ENV"
else
	NUBO_MGMT_NET=${NUBO_MGMT_NET:-$MGMT_DEF}
fi
[[ $NUBO_MGMT_NET =~ ^[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$ ]] ||
	nubo_die "NUBO_MGMT_NET: the first three octets of a /24, e.g. 10.253.0"
GW=$NUBO_MGMT_NET.1

host_root() { echo "$HOSTS/$1"; }
host_ns() { echo "$NSPRE$1"; }
# the host's nubo-net prefix: 4 characters, "h" and three of a hash of root and name
host_prefix() { echo "h$(printf '%s:%s' "$NUBO_ROOT" "$1" | md5sum | cut -c1-3)"; }
host_veth() { echo "$(host_prefix "$1")mg"; }
host_state() { echo "$NUBO_VARLIB/hc$1"; } # host_state INDEX: its compute state_dir
host_get() { # host_get NAME KEY: a value of the host's host.env ("" without one: a
	# half-added host, which --remove must still remove; review s8 L5)
	{ sed -n "s/^$2=//p" "$(host_root "$1")/etc/nubo/host.env" 2>/dev/null || true; } | tail -n 1
}

# ------------------------------------------------------------------ the controller
# The controller's settings a host needs; the values before are kept in
# hosts/controller.orig and put back when the last host goes.
CTRL_KEYS=("bus scheduler_bind" "api listen_address" "api internal_url" "net tunnel_ip")
ctrl_enabled() { [ "$(nubo_conf_get net tunnel_ip)" = "$GW" ] && [ -f "$HOSTS/controller.orig" ]; }

allowed_clients() { # the controller's own entries (from stack.sh), each host's two
	local gone=${1:-} cur h e out='' ents
	cur=$(nubo_conf_get bus curve_allowed_clients)
	IFS=, read -r -a ents <<<"$cur"
	for e in "${ents[@]}"; do
		h=${e%%=*}
		h=${h%.net}
		[ "$h" != "$gone" ] || continue
		[ ! -d "$(host_root "$h")" ] || continue
		out="$out,$e"
	done
	for h in $(nubo_hosts); do
		out="$out,$h=$(host_get "$h" CURVE_PUBLIC),$h.net=$(host_get "$h" CURVE_NET_PUBLIC)"
	done
	echo "${out#,}"
}

ctrl_configure() { # after a host came or went (its name: $1): sets RESTART
	local n k sec key bus api lis cur gone=${1:-}
	n=$(nubo_hosts | wc -l)
	if [ "$n" -gt 0 ] && ! ctrl_enabled; then
		: >"$HOSTS/controller.orig.tmp"
		for k in "${CTRL_KEYS[@]}"; do
			read -r sec key <<<"$k"
			printf '%s\t%s\t%s\n' "$sec" "$key" "$(nubo_conf_get "$sec" "$key")" >>"$HOSTS/controller.orig.tmp"
		done
		mv -f "$HOSTS/controller.orig.tmp" "$HOSTS/controller.orig"
		bus=$(nubo_conf_get bus scheduler_bind)
		api=$(nubo_conf_get api internal_url)
		lis=$(nubo_conf_get api listen_address)
		# what they listened on (loopback) and the management address, nothing else
		case $bus in *0.0.0.0*) ;; *) bus="$bus,tcp://$GW:${bus##*:}" ;; esac
		case ${lis:-0.0.0.0} in 0.0.0.0) ;; *) lis="$lis,$GW" ;; esac
		nubo_conf_set "$NUBO_CONF" bus scheduler_bind "$bus"
		nubo_conf_set "$NUBO_CONF" api listen_address "${lis:-0.0.0.0}"
		nubo_conf_set "$NUBO_CONF" api internal_url "http://$GW:${api##*:}"
		nubo_conf_set "$NUBO_CONF" net tunnel_ip "$GW"
		RESTART=(nubo-scheduler nubo-api nubo-net nubo-storage nubo-objproxy)
	elif [ "$n" = 0 ] && [ -f "$HOSTS/controller.orig" ]; then
		while IFS=$'\t' read -r sec key cur; do
			nubo_conf_set "$NUBO_CONF" "$sec" "$key" "$cur"
		done <"$HOSTS/controller.orig"
		rm -f "$HOSTS/controller.orig"
		RESTART=(nubo-scheduler nubo-api nubo-net nubo-storage nubo-objproxy)
	fi
	cur=$(allowed_clients "$gone")
	if [ "$cur" != "$(nubo_conf_get bus curve_allowed_clients)" ]; then
		nubo_conf_set "$NUBO_CONF" bus curve_allowed_clients "$cur"
		# the scheduler reads its allowlist at start (it is restart-safe)
		[ ${#RESTART[@]} -gt 0 ] || RESTART=(nubo-scheduler)
	fi
}

ctrl_restart() {
	[ ${#RESTART[@]} -gt 0 ] || return 0
	if nubo_use_units; then
		systemctl restart "${RESTART[@]/%/.service}"
	else
		"${CTL[@]}" restart "${RESTART[@]}" 9>&-
	fi
}

# ------------------------------------------------------------------ the management network
mgmt_up() {
	if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
		# the /24 must be free on this box
		if ip -4 -o addr show | awk '{ print $4 }' | grep -q "^${NUBO_MGMT_NET//./\\.}\."; then
			nubo_die "$NUBO_MGMT_NET.0/24 is in use on this box: choose another with NUBO_MGMT_NET"
		fi
		ip link add "$BRIDGE" type bridge
	fi
	ip addr replace "$GW/24" dev "$BRIDGE"
	ip link set "$BRIDGE" up
	echo "NUBO_MGMT_NET=$NUBO_MGMT_NET" >"$MGMT_ENV"
}

mgmt_down() {
	ip link del "$BRIDGE" 2>/dev/null || true
	rm -f "$MGMT_ENV"
}

# ------------------------------------------------------------------ one host
host_index() { # the host's address index: its own, else the lowest free one
	local h i used=" "
	i=$(host_get "$1" INDEX)
	if [ -n "$i" ]; then
		echo "$i"
		return 0
	fi
	for h in "$HOSTS"/*/etc/nubo/host.env; do
		[ -f "$h" ] || continue
		used="$used$(sed -n 's/^INDEX=//p' "$h") "
	done
	for ((i = 2; i < 255; i++)); do
		case $used in *" $i "*) ;; *) echo "$i" && return 0 ;; esac
	done
	nubo_die "no management address left in $NUBO_MGMT_NET.0/24"
}

host_conf() { # host_conf NAME HOSTROOT: the host's nubo.conf, made from the controller's
	local name=$1 hr=$2 idx=$3 f=$2/etc/nubo/nubo.conf.tmp pre base bus
	pre=$(host_prefix "$name")
	base=$(nubo_conf_get compute qemu_uid_base)
	bus=$(nubo_conf_get bus scheduler_url)
	# [compute] and [net] as the controller has them; of [bus] only what an agent needs
	# (never the database, the scheduler's secret key or the other secrets)
	awk '
		/^[ \t]*\[[^]]+\][ \t]*$/ { s = $0; gsub(/[][ \t]/, "", s); keep = (s == "compute" || s == "net" || s == "bus") }
		keep && s == "bus" && /^[ \t]*[^#; \t][^=]*=/ {
			k = substr($0, 1, index($0, "=") - 1); gsub(/^[ \t]+|[ \t]+$/, "", k)
			if (k != "curve_server_public" && k != "agent_key") next
		}
		keep { print }' "$NUBO_CONF" >"$f"
	chmod 0600 "$f"
	nubo_conf_set "$f" bus scheduler_url "tcp://$GW:${bus##*:}"
	nubo_conf_set "$f" bus curve_client_public "$(host_get "$name" CURVE_PUBLIC)"
	nubo_conf_set "$f" bus curve_client_secret "$(host_get "$name" CURVE_SECRET)"
	nubo_conf_set "$f" compute host "$name"
	nubo_conf_set "$f" compute az "$AZ"
	nubo_conf_set "$f" compute state_dir "$(host_state "$idx")"
	# QEMU uids of their own: a range per host after the controller's
	nubo_conf_set "$f" compute qemu_uid_base "$((${base:-2000000000} + idx * 65536))"
	nubo_conf_set "$f" compute qemu_uid_count 65536
	nubo_conf_set "$f" net host "$name"
	nubo_conf_set "$f" net prefix "$pre"
	nubo_conf_set "$f" net state_dir "$hr/var/lib/nubo/net"
	nubo_conf_set "$f" net tunnel_ip "$NUBO_MGMT_NET.$idx"
	nubo_conf_set "$f" net external_bridge "${pre}ex"
	nubo_conf_set "$f" net curve_client_public "$(host_get "$name" CURVE_NET_PUBLIC)"
	nubo_conf_set "$f" net curve_client_secret "$(host_get "$name" CURVE_NET_SECRET)"
	# a changed configuration restarts the host's daemons (their QEMUs live on)
	[ ! -f "$hr/etc/nubo/nubo.conf" ] || cmp -s "$f" "$hr/etc/nubo/nubo.conf" || HOST_VERB=restart
	mv -f "$f" "$hr/etc/nubo/nubo.conf"
}

host_add() {
	local name=$1 hr ns idx veth pre k pub sec d out
	hr=$(host_root "$name")
	ns=$(host_ns "$name")
	veth=$(host_veth "$name")
	pre=$(host_prefix "$name")
	for d in $(nubo_hosts); do
		[ "$d" = "$name" ] || [ "$(host_prefix "$d")" != "$pre" ] ||
			nubo_die "host $name's name prefix $pre is host $d's: choose another name"
	done
	[ "$name" != "$(nubo_conf_get compute host)" ] || nubo_die "$name is the controller's own host name"
	idx=$(host_index "$name")
	install -d -m 0755 "$hr" "$hr/etc" "$hr/etc/nubo" "$hr/var" "$hr/var/lib" "$hr/var/lib/nubo" \
		"$hr/var/log" "$hr/var/log/nubo" "$hr/run" "$hr/run/nubo" "$hr/usr" "$hr/usr/local" \
		"$hr/usr/local/lib" "$(host_state "$idx")"
	ln -sfn "$NUBO_BIN" "$hr/usr/local/lib/nubo"
	# the compute state_dir must be short (QMP socket paths): a link to NUBO_VARLIB/hcN
	ln -sfn "$(host_state "$idx")" "$hr/var/lib/nubo/compute"
	# host.env: its index and its keys (made once)
	if [ ! -f "$hr/etc/nubo/host.env" ]; then
		(
			umask 077
			echo "INDEX=$idx"
			for k in CURVE CURVE_NET; do
				read -r pub sec < <("$NUBO_BIN/nubo-manage" curve-keypair)
				echo "${k}_PUBLIC=$pub"
				echo "${k}_SECRET=$sec"
			done
		) >"$hr/etc/nubo/host.env.tmp"
		mv -f "$hr/etc/nubo/host.env.tmp" "$hr/etc/nubo/host.env"
	fi
	HOST_VERB=start
	host_conf "$name" "$hr" "$idx"

	# the namespace and its management link
	mgmt_up
	[ -e "/run/netns/$ns" ] || ip netns add "$ns"
	if ! ip link show "$veth" >/dev/null 2>&1; then
		ip netns exec "$ns" ip link del mgmt0 2>/dev/null || true
		ip link add "$veth" type veth peer name mgmt0 netns "$ns"
	fi
	ip link set "$veth" master "$BRIDGE" up
	ip netns exec "$ns" ip link set lo up
	ip netns exec "$ns" ip addr replace "$NUBO_MGMT_NET.$idx/24" dev mgmt0
	ip netns exec "$ns" ip link set mgmt0 up
	echo "$ns" >"$hr/etc/nubo/netns.tmp"
	mv -f "$hr/etc/nubo/netns.tmp" "$hr/etc/nubo/netns"

	# the controller learns the host (keys, listening beyond loopback), then its agents start
	RESTART=()
	ctrl_configure
	ctrl_restart
	for d in nubo-compute nubo-net; do
		if ! out=$(nubo_set_root "$hr" && nubo_daemon_cmd "$d" && "${NUBO_CMD[@]}" -n 2>&1); then
			printf '%s\n' "$out" >&2
			nubo_die "$d -n rejects $hr/etc/nubo/nubo.conf"
		fi
	done
	"$HERE/nubo-ctl" --root "$hr" "$HOST_VERB" nubo-compute nubo-net 9>&-
	nubo_log "host $name: namespace $ns, address $NUBO_MGMT_NET.$idx, zone $AZ, root $hr"
}

# host_stop NAME: its daemons, QEMUs and kernel objects gone; its files stay.
host_stop() {
	local name=$1 hr ns pre p q
	hr=$(host_root "$name")
	ns=$(host_ns "$name")
	pre=$(host_prefix "$name")
	if [ -f "$hr/etc/nubo/nubo.conf" ]; then
		"$HERE/nubo-ctl" --root "$hr" stop nubo-net nubo-compute || true
		mapfile -t q < <("$HERE/nubo-ctl" --root "$hr" qemu-pids)
		if [ ${#q[@]} -gt 0 ]; then
			nubo_log "host $name: stopping QEMU ${q[*]}"
			nubo_kill_wait 15 "${q[@]}" || true
		fi
	fi
	# what its nubo-net may have made outside its namespace
	for p in /proc/[0-9]*; do
		if grep -qaz -- "^--interface=$pre" "$p/cmdline" 2>/dev/null; then
			kill -9 "${p#/proc/}" 2>/dev/null || true
		fi
	done
	for p in $(ip netns list 2>/dev/null | awk '{ print $1 }'); do
		case $p in "$pre"-*) ip netns del "$p" || true ;; esac
	done
	ip link del "$(host_veth "$name")" 2>/dev/null || true
	# its bridges, taps, VXLAN devices and nft tables live in the namespace
	[ ! -e "/run/netns/$ns" ] || ip netns del "$ns"
}

host_remove() {
	local name=$1 idx
	[ -d "$(host_root "$name")" ] || {
		nubo_log "no host $name"
		return 0
	}
	host_stop "$name"
	idx=$(host_get "$name" INDEX)
	[ -z "$idx" ] || rm -rf "$(host_state "$idx")"
	rm -rf "$(host_root "$name")"
	# the API forgets it (the scheduler's restart below forgets it in placement)
	psql "$(nubo_conf_get database conninfo)" -X -q -v ON_ERROR_STOP=1 -v h="$name" >/dev/null <<'SQL' ||
DELETE FROM agents WHERE host IN (:'h', :'h' || '.net');
DELETE FROM net_hosts WHERE host = :'h';
SQL
		nubo_log "warning: could not remove host $name's rows from the database"
	RESTART=()
	ctrl_configure "$name"
	ctrl_restart
	[ -n "$(nubo_hosts)" ] || mgmt_down
	nubo_log "host $name removed"
}

case $MODE in
add) host_add "$NAME" ;;
reconfigure)
	# stack.sh rewrote nubo.conf: the hosts' settings again (stack.sh restarts the daemons)
	RESTART=()
	[ -z "$(nubo_hosts)" ] || mgmt_up
	rm -f "$HOSTS/controller.orig"
	ctrl_configure
	;;
remove) host_remove "$NAME" ;;
remove-all)
	for h in $(nubo_hosts); do
		host_stop "$h"
		i=$(host_get "$h" INDEX)
		[ -z "$i" ] || rm -rf "$(host_state "$i")"
		rm -rf "$(host_root "$h")"
	done
	mgmt_down
	;;
esac
