#!/bin/bash
# deploy/stack.sh: install and start a whole single-box Nubo cloud (devstack-style).
# Idempotent: run it again after a pull to rebuild and restart with the same state.
#
#   deploy/stack.sh [--root DIR] [--port N] [--bus-port N] [--pg-port N]
#                   [--no-deps | --deps-only]
#
#   --root DIR     install under DIR (DIR/etc/nubo, DIR/var/lib/nubo, DIR/var/log/nubo,
#                  DIR/run/nubo); default /. The tests make throwaway stacks this way.
#   --port N       API port (default 8080)
#   --bus-port N   scheduler ROUTER port; the wake PULL socket takes N+1 (default 5570)
#   --pg-port N    port of the stack's own PostgreSQL cluster, which listens on a unix
#                  socket under DIR only (default 5490)
#   --no-deps      skip apt-get
#   --deps-only    only apt-get install the Debian packages, then exit
#
# Ports given once are remembered in DIR/etc/nubo/stack.env for later runs.
# Environment: NUBO_ADMIN_PASSWORD / NUBO_DEMO_PASSWORD (otherwise generated on the
# first run and kept in DIR/etc/nubo/secrets), NUBO_GUEST_CACHE (where the guest
# image's .debs and built images are kept; default /var/cache/nubo), NUBO_IMAGE_STORE
# (nubo.conf's [image] store: file, the default, or swift) and NUBO_IMAGE_SEGMENT_MB
# (its swift_segment_mb, default 1024).
set -euo pipefail

NUBO_PROG=stack.sh
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=deploy/lib.sh
. "$HERE/lib.sh"

# Every Debian package the cloud, its build, its tests and deploy/mkguest.sh need.
DEPS=(
	# build
	build-essential pkg-config make
	libmicrohttpd-dev libpq-dev libzmq3-dev libjansson-dev libcurl4-openssl-dev
	libsodium-dev libcmocka-dev clang libclang-rt-14-dev clang-format-14
	# runtime
	postgresql qemu-system-x86 qemu-utils genisoimage xorriso ca-certificates curl
	util-linux procps iproute2 openssh-client openssl
	# nubo-storage's LVM backend ([storage] backend = lvm) and its test
	lvm2
	# nubo-net (tenant networking: nft rulesets, DHCP) and tests/net (udhcpc, socat)
	nftables libnftables-dev dnsmasq-base busybox socat
	# deploy/mkguest.sh (the guest image builder)
	dosfstools mtools syslinux syslinux-common cpio kmod gzip
	# deploy/mkdebian.sh (the Debian cloud image of tests/e2e/test_cloudinit.py)
	debootstrap fdisk e2fsprogs
	# tests and bench
	python3 python3-openstackclient python3-pytest python3-pytest-timeout python3-zmq wrk
	# the S3 clients of tests/e2e/test_s3.py
	awscli s3cmd python3-boto3
	# the swift CLI of tests/e2e/test_swift.py, and the HTTP client of its form POSTs
	python3-swiftclient python3-requests
	# tests/tempest (Tempest and its subunit stream)
	python3-tempest python3-stestr python3-subunit subunit
)

usage() {
	awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}" >&2
	exit 2
}

ARGS=("$@")
ROOT=/ API_PORT='' BUS_PORT='' PG_PORT='' DEPS_MODE=install
while [ $# -gt 0 ]; do
	case $1 in
	--root) [ $# -ge 2 ] || usage; ROOT=$2; shift 2 ;;
	--port) [ $# -ge 2 ] || usage; API_PORT=$2; shift 2 ;;
	--bus-port) [ $# -ge 2 ] || usage; BUS_PORT=$2; shift 2 ;;
	--pg-port) [ $# -ge 2 ] || usage; PG_PORT=$2; shift 2 ;;
	--no-deps) DEPS_MODE=skip; shift ;;
	--deps-only) DEPS_MODE=only; shift ;;
	-h | --help) usage ;;
	*) echo "stack.sh: unknown argument '$1'" >&2; usage ;;
	esac
done
for p in "$API_PORT" "$BUS_PORT" "$PG_PORT"; do
	case $p in
	'') ;;
	*[!0-9]*) nubo_die "bad port '$p'" ;;
	*) if [ "$p" -lt 1 ] || [ "$p" -gt 65534 ]; then nubo_die "bad port '$p'"; fi ;;
	esac
done
[ "$(id -u)" = 0 ] || nubo_die "must run as root"
# they end up in shell and YAML files, quoted
case "${NUBO_ADMIN_PASSWORD:-}${NUBO_DEMO_PASSWORD:-}" in *[!A-Za-z0-9._+@%-]*)
	nubo_die "NUBO_ADMIN_PASSWORD/NUBO_DEMO_PASSWORD: use only letters, digits and ._+@%-" ;;
esac

START=$SECONDS
step() { printf '\n==> [%ss] %s\n' "$((SECONDS - START))" "$*" >&2; }
FAIL_LINE='?'
trap 'FAIL_LINE=$LINENO' ERR
# shellcheck disable=SC2154 # rc is assigned inside the trap
trap 'rc=$?; [ $rc = 0 ] || echo "stack.sh: FAILED (status $rc, line $FAIL_LINE) after $((SECONDS - START))s; logs in ${NUBO_LOGDIR:-?}" >&2' EXIT

# ------------------------------------------------------------------ packages
install_deps() {
	local p missing=()
	for p in "${DEPS[@]}"; do
		dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q ' installed$' || missing+=("$p")
	done
	if [ ${#missing[@]} -eq 0 ]; then
		nubo_log "all ${#DEPS[@]} Debian packages present"
		return 0
	fi
	step "apt-get install ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	local apt=(apt-get -o DPkg::Lock::Timeout=600 -o Acquire::Retries=3)
	if ! "${apt[@]}" install -y -q --no-install-recommends "${missing[@]}"; then
		"${apt[@]}" update -q
		"${apt[@]}" install -y -q --no-install-recommends "${missing[@]}"
	fi
}

case $DEPS_MODE in
only)
	install_deps
	echo "stack.sh: packages installed in $((SECONDS - START))s"
	exit 0
	;;
install) install_deps ;;
esac

nubo_set_root "$ROOT"
nubo_ensure_users
mkdir -p "$NUBO_ETC" "$NUBO_VARLIB" "$NUBO_LOGDIR" "$NUBO_RUNDIR"
chmod 0755 "$NUBO_ETC" "$NUBO_VARLIB" "$NUBO_LOGDIR" "$NUBO_RUNDIR"
# One stack.sh at a time per root. flock(1) holds the lock for the whole run, and
# (-o) keeps its descriptor away from the daemons and PostgreSQL we start.
if [ "${NUBO_STACK_LOCKED:-}" != "$NUBO_ROOT" ]; then
	trap - EXIT
	rc=0
	NUBO_STACK_LOCKED=$NUBO_ROOT flock -n -E 75 -o "$NUBO_ETC/.stack.lock" \
		"${BASH_SOURCE[0]}" "${ARGS[@]}" || rc=$?
	[ $rc != 75 ] || nubo_die "another stack.sh runs for $NUBO_ROOT"
	exit $rc
fi

# Ports: option (the object store's: NUBO_OBJ_PORT in the environment), else what the
# last run used, else the default.
OBJ_PORT=${NUBO_OBJ_PORT:-}
if [ -f "$NUBO_STACKENV" ]; then
	# shellcheck disable=SC1090
	. "$NUBO_STACKENV"
fi
API_PORT=${API_PORT:-${NUBO_API_PORT:-8080}}
BUS_PORT=${BUS_PORT:-${NUBO_BUS_PORT:-5570}}
PG_PORT=${PG_PORT:-${NUBO_PG_PORT:-5490}}
WAKE_PORT=$((BUS_PORT + 1))
# the object store's proxy; its three object servers take the next three ports
if [ -z "$OBJ_PORT" ]; then
	if [ "$API_PORT" = 8080 ]; then OBJ_PORT=${NUBO_OBJ_PORT:-8090}; else OBJ_PORT=${NUBO_OBJ_PORT:-$((API_PORT + 10000))}; fi
fi
cat >"$NUBO_STACKENV" <<EOF
# written by deploy/stack.sh: the ports of the stack under $NUBO_ROOT
NUBO_API_PORT=$API_PORT
NUBO_BUS_PORT=$BUS_PORT
NUBO_PG_PORT=$PG_PORT
NUBO_OBJ_PORT=$OBJ_PORT
EOF
API_URL=http://127.0.0.1:$API_PORT
OBJ_URL=http://127.0.0.1:$OBJ_PORT
ROOTOPT=
[ "$NUBO_ROOT" = / ] || ROOTOPT=" --root $NUBO_ROOT"

# ------------------------------------------------------------------ build
step "building (make)"
make -C "$NUBO_REPO" -j"$(nproc)" all
# Installed, not run from the checkout: user nubo may not be able to reach it (a
# clone in /root), and a `make clean` must not pull the binaries from under a running
# cloud. Each is replaced by a rename, so running daemons keep their old one.
step "installing the binaries ($NUBO_BIN)"
install -d -m 0755 "$NUBO_BIN"
for b in "${NUBO_DAEMONS[@]}" nubo-manage; do
	[ -x "$NUBO_BUILD_BIN/$b" ] || nubo_die "build did not produce $NUBO_BUILD_BIN/$b"
	install -m 0755 "$NUBO_BUILD_BIN/$b" "$NUBO_BIN/.$b.new"
	mv -f "$NUBO_BIN/.$b.new" "$NUBO_BIN/$b"
done

# ------------------------------------------------------------------ secrets
randhex() { od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n'; }

step "secrets ($NUBO_SECRETS)"
# old NAME: the value NAME had in the secrets file of an earlier run
old() { [ ! -f "$NUBO_SECRETS" ] || sed -n "s/^$1='\{0,1\}\([^']*\)'\{0,1\}$/\1/p" "$NUBO_SECRETS" | tail -n 1; }
new_secrets() {
	local a d db key
	a=${NUBO_ADMIN_PASSWORD:-$(old ADMIN_PASSWORD)}
	d=${NUBO_DEMO_PASSWORD:-$(old DEMO_PASSWORD)}
	db=$(old NUBO_DB_PASSWORD)
	key=$(old NUBO_AGENT_KEY)
	local md
	md=$(old NUBO_METADATA_SECRET)
	echo "# Nubo secrets for the stack under $NUBO_ROOT (root only; written by deploy/stack.sh)"
	echo "ADMIN_PASSWORD=${a:-$(randhex 12)}"
	echo "DEMO_PASSWORD=${d:-$(randhex 12)}"
	echo "NUBO_DB_PASSWORD=${db:-$(randhex 16)}"
	echo "NUBO_AGENT_KEY=${key:-$(randhex 32)}"
	echo "NUBO_METADATA_SECRET=${md:-$(randhex 32)}"
	# seals credential blobs (EC2 secrets) in the database: losing it loses them
	key=$(old NUBO_CREDENTIAL_KEY)
	echo "NUBO_CREDENTIAL_KEY=${key:-$(randhex 32)}"
	# CURVE keys of the scheduler <-> agent link (Z85; single-quoted: Z85 has $ & ( ...)
	local k pub sec
	for k in SERVER CLIENT NET; do
		pub=$(old "NUBO_CURVE_${k}_PUBLIC")
		sec=$(old "NUBO_CURVE_${k}_SECRET")
		if [ ${#pub} -ne 40 ] || [ ${#sec} -ne 40 ]; then
			read -r pub sec < <("$NUBO_BIN/nubo-manage" curve-keypair)
		fi
		echo "NUBO_CURVE_${k}_PUBLIC='$pub'"
		echo "NUBO_CURVE_${k}_SECRET='$sec'"
	done
}
(umask 077 && new_secrets >"$NUBO_SECRETS.tmp")
chmod 0600 "$NUBO_SECRETS.tmp"
mv -f "$NUBO_SECRETS.tmp" "$NUBO_SECRETS"
# shellcheck disable=SC1090
. "$NUBO_SECRETS"

# ------------------------------------------------------------------ postgresql
port_busy() { [ -n "$(ss -Hltn "sport = :$1" 2>/dev/null)" ]; }

setup_postgres() {
	local pgbin
	pgbin=$(nubo_pgbin) || nubo_die "PostgreSQL server binaries not found (apt-get install postgresql)"
	id postgres >/dev/null 2>&1 || nubo_die "no 'postgres' user (apt-get install postgresql)"
	nubo_as_postgres test -x "$NUBO_VARLIB" ||
		nubo_die "user postgres cannot reach $NUBO_VARLIB: every directory above it needs o+x"
	if [ ! -f "$NUBO_PGDATA/PG_VERSION" ]; then
		step "creating PostgreSQL cluster $NUBO_PGDATA"
		rm -rf "$NUBO_PGDATA"
		install -d -o postgres -g postgres -m 0700 "$NUBO_PGDATA"
		nubo_as_postgres "$pgbin/initdb" -D "$NUBO_PGDATA" -U postgres -E UTF8 \
			--locale=C.UTF-8 --auth-local=peer --auth-host=reject >/dev/null
	fi
	nubo_pgsock_dir
	# Our settings in their own file, included from postgresql.conf: no TCP at all,
	# the socket under the root, the stack's port.
	cat >"$NUBO_PGDATA/nubo.conf.tmp" <<EOF
# written by deploy/stack.sh
port = $PG_PORT
listen_addresses = ''
unix_socket_directories = '$NUBO_PGSOCK'
# who reaches the socket is decided by its directory (postgres:nubo 0750)
unix_socket_permissions = 0777
max_connections = 100
password_encryption = scram-sha-256
log_line_prefix = '%m [%p] %q%u@%d '
EOF
	cat >"$NUBO_PGDATA/pg_hba.conf.tmp" <<'EOF'
# written by deploy/stack.sh: unix socket only
# TYPE  DATABASE  USER      METHOD
local   all       postgres  peer
local   nubo      nubo      scram-sha-256
EOF
	local f
	for f in nubo.conf pg_hba.conf; do
		chown postgres:postgres "$NUBO_PGDATA/$f.tmp"
		chmod 0600 "$NUBO_PGDATA/$f.tmp"
		mv -f "$NUBO_PGDATA/$f.tmp" "$NUBO_PGDATA/$f"
	done
	grep -qxF "include_if_exists = 'nubo.conf'" "$NUBO_PGDATA/postgresql.conf" ||
		echo "include_if_exists = 'nubo.conf'" >>"$NUBO_PGDATA/postgresql.conf"
	if nubo_pg_running; then
		# port, socket place and mode need a restart (an install from before the
		# daemons ran as nubo has a 0770 postgres-group socket)
		if [ "$(sed -n 4p "$NUBO_PGDATA/postmaster.pid")" != "$PG_PORT" ] ||
			[ "$(sed -n 5p "$NUBO_PGDATA/postmaster.pid")" != "$NUBO_PGSOCK" ] ||
			[ "$(stat -c %a "$NUBO_PGSOCK/.s.PGSQL.$PG_PORT" 2>/dev/null)" != 777 ]; then
			"$HERE/nubo-ctl" --root "$NUBO_ROOT" restart postgresql
		else
			nubo_as_postgres "$pgbin/pg_ctl" -D "$NUBO_PGDATA" reload >/dev/null
		fi
	else
		port_busy "$PG_PORT" && nubo_die "port $PG_PORT is taken: choose another with --pg-port"
		"$HERE/nubo-ctl" --root "$NUBO_ROOT" start postgresql
	fi
	# role and database; the password goes over stdin, never on a command line
	nubo_as_postgres "$pgbin/psql" -X -q -v ON_ERROR_STOP=1 -h "$NUBO_PGSOCK" -p "$PG_PORT" \
		-U postgres -d postgres >/dev/null <<EOF
SELECT 'CREATE ROLE nubo LOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'nubo')\gexec
ALTER ROLE nubo WITH LOGIN PASSWORD '$NUBO_DB_PASSWORD';
SELECT 'CREATE DATABASE nubo OWNER nubo ENCODING ''UTF8''' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'nubo')\gexec
EOF
}
step "PostgreSQL (port $PG_PORT, socket $NUBO_PGSOCK)"
setup_postgres

# ------------------------------------------------------------------ nubo.conf
# write_conf: deploy/nubo.conf.example with the values of this stack put in.
write_conf() {
	local ov host
	host=$(cut -d. -f1 /proc/sys/kernel/hostname | tr -cd 'A-Za-z0-9-' | cut -c1-60)
	ov=$(mktemp "$NUBO_ETC/.conf.XXXXXX")
	# section <TAB> key <TAB> value
	cat >"$ov" <<EOF
database	conninfo	host=$NUBO_PGSOCK port=$PG_PORT dbname=nubo user=nubo password=$NUBO_DB_PASSWORD
api	listen_address	127.0.0.1
api	port	$API_PORT
api	public_url	$API_URL
api	internal_url	$API_URL
api	image_dir	$NUBO_IMAGE_DIR
api	dashboard_dir	$NUBO_REPO/dashboard
image	store	${NUBO_IMAGE_STORE:-file}
image	swift_segment_mb	${NUBO_IMAGE_SEGMENT_MB:-1024}
bus	scheduler_bind	tcp://127.0.0.1:$BUS_PORT
bus	scheduler_url	tcp://127.0.0.1:$BUS_PORT
bus	wake_bind	tcp://127.0.0.1:$WAKE_PORT
bus	wake_url	tcp://127.0.0.1:$WAKE_PORT
bus	agent_key	$NUBO_AGENT_KEY
bus	curve_server_public	$NUBO_CURVE_SERVER_PUBLIC
bus	curve_server_secret	$NUBO_CURVE_SERVER_SECRET
bus	curve_client_public	$NUBO_CURVE_CLIENT_PUBLIC
bus	curve_client_secret	$NUBO_CURVE_CLIENT_SECRET
bus	curve_allowed_clients	${host:-node1}=$NUBO_CURVE_CLIENT_PUBLIC,${host:-node1}.net=$NUBO_CURVE_NET_PUBLIC
compute	host	${host:-node1}
compute	state_dir	$NUBO_STATE_DIR
net	prefix	$NUBO_NET_PREFIX
network	l3_host	${host:-node1}
net	state_dir	$NUBO_VARLIB/net
net	external_bridge	$NUBO_EXT_BRIDGE
net	tunnel_ip	${NUBO_TUNNEL_IP:-127.0.0.1}
net	vxlan_port	$NUBO_VXLAN_PORT
net	curve_client_public	$NUBO_CURVE_NET_PUBLIC
net	curve_client_secret	$NUBO_CURVE_NET_SECRET
network	metadata_secret	$NUBO_METADATA_SECRET
storage	state_dir	$NUBO_VARLIB/storage
storage	backend	${NUBO_STORAGE_BACKEND:-file}
storage	volume_group	${NUBO_VOLUME_GROUP:-}
objstore	proxy_port	$OBJ_PORT
objstore	public_url	$OBJ_URL
objstore	ring_file	$NUBO_ETC/object.ring
objstore	devices_dir	$NUBO_VARLIB/objects
objstore	spool_dir	$NUBO_VARLIB/objspool
identity	credential_key	$NUBO_CREDENTIAL_KEY
EOF
	awk -F '\t' -v stamp="$(date -u '+%Y-%m-%d %H:%M:%SZ')" '
	NR == FNR { want[$1, $2] = $3; order[++n] = $1 SUBSEP $2; next }
	function flush(sec,   i, k, p) {
		# keys of sec the example does not have
		for (i = 1; i <= n; i++) {
			k = order[i]; split(k, p, SUBSEP)
			if (p[1] == sec && !(k in done)) { print p[2] " = " want[k]; done[k] = 1 }
		}
	}
	FNR == 1 { print "# Generated by deploy/stack.sh at " stamp " from deploy/nubo.conf.example."
	           print "# Re-running stack.sh rewrites it (the previous file is kept as nubo.conf.old)." }
	/^[ \t]*\[[^]]+\][ \t]*$/ {
		flush(sec); sec = $0; gsub(/[][ \t]/, "", sec); seen[sec] = 1; print; next }
	/^[ \t]*[^#; \t][^=]*=/ {
		k = substr($0, 1, index($0, "=") - 1); gsub(/^[ \t]+|[ \t]+$/, "", k)
		if ((sec, k) in want) { print k " = " want[sec, k]; done[sec, k] = 1; next }
	}
	{ print }
	END {
		flush(sec)
		for (i = 1; i <= n; i++) {
			split(order[i], p, SUBSEP)
			if (!(p[1] in seen)) { print ""; print "[" p[1] "]"; seen[p[1]] = 1; flush(p[1]) }
		}
	}' "$ov" "$NUBO_REPO/deploy/nubo.conf.example" >"$ov.new"
	rm -f "$ov"
	# the daemons running as nubo read it (database password, CURVE keys); the
	# generated passwords of the secrets file stay root's
	chown "root:$NUBO_USER" "$ov.new"
	chmod 0640 "$ov.new"
	if [ -f "$NUBO_CONF" ] && ! diff -q <(grep -v '^# Generated' "$NUBO_CONF") \
		<(grep -v '^# Generated' "$ov.new") >/dev/null; then
		install -m 0600 "$NUBO_CONF" "$NUBO_CONF.old"
		nubo_log "nubo.conf changed; the previous one is $NUBO_CONF.old"
	fi
	mv -f "$ov.new" "$NUBO_CONF"
}
# nubo-net's names: the real install uses prefix nb and br-ex; a throwaway stack
# (--root) gets a prefix of its own so parallel stacks never touch each other's links,
# namespaces or nft tables
if [ "$NUBO_ROOT" = / ]; then
	NUBO_NET_PREFIX=nb NUBO_EXT_BRIDGE=${NUBO_EXT_BRIDGE:-br-ex}
else
	NUBO_NET_PREFIX=n$(printf '%s' "$NUBO_ROOT" | md5sum | tr -dc 'a-z0-9' | cut -c1-3)
	NUBO_EXT_BRIDGE=${NUBO_EXT_BRIDGE:-${NUBO_NET_PREFIX}ex}
fi
# VXLAN's UDP port: 4789 on the real install; a throwaway stack's own (the kernel
# refuses a second VXLAN device with the same VNI and port, and every stack's VNIs
# start at the same number)
if [ "$NUBO_ROOT" = / ]; then
	NUBO_VXLAN_PORT=${NUBO_VXLAN_PORT:-4789}
else
	NUBO_VXLAN_PORT=${NUBO_VXLAN_PORT:-$((4790 + 0x$(printf '%s' "$NUBO_ROOT" | md5sum | cut -c1-4) % 10000))}
fi
step "configuration ($NUBO_CONF)"
mkdir -p "$NUBO_STATE_DIR"
write_conf
# the hosts of deploy/host-add.sh (their keys, the bus and API beyond loopback)
[ -z "$(nubo_hosts)" ] || "$HERE/host-add.sh" --root "$NUBO_ROOT" --reconfigure
# what deploy/daemons says each daemon needs, owned by the user it runs as (also on
# an install from before the daemons ran as nubo: chown -R is idempotent)
install -d -m 0750 "$NUBO_IMAGE_DIR"
for d in "${NUBO_DAEMONS[@]}"; do
	u=${NUBO_DAEMON_USER[$d]}
	if nubo_daemon_needs "$d" images; then
		chown -R "$u:$u" "$NUBO_IMAGE_DIR"
	fi
done
# the object store: one device directory per object server (zones 1-3 on this box),
# the proxy's spool, and the ring (built once; nubo-manage ring changes it later)
objstore_setup() {
	local d u i ring=$NUBO_ETC/object.ring
	for d in "${NUBO_DAEMONS[@]}"; do
		nubo_daemon_needs "$d" objects || continue
		u=${NUBO_DAEMON_USER[$d]}
		for i in 1 2 3; do
			install -d -m 0750 -o "$u" -g "$u" "$NUBO_VARLIB/objects" "$NUBO_VARLIB/objects/d$i"
		done
		install -d -m 0750 -o "$u" -g "$u" "$NUBO_VARLIB/objspool"
	done
	if [ ! -s "$ring" ] || ! grep -q " 127.0.0.1:$((OBJ_PORT + 1)) d1$" "$ring"; then
		rm -f "$ring"
		"$NUBO_BIN/nubo-manage" ring build "$ring" 10 3
		for i in 1 2 3; do
			"$NUBO_BIN/nubo-manage" ring add "$ring" "$i" 100 "127.0.0.1:$((OBJ_PORT + i))" "d$i" >/dev/null
		done
		"$NUBO_BIN/nubo-manage" ring rebalance "$ring" >/dev/null
	fi
	chmod 0644 "$ring"
}
objstore_setup

# -n exactly as the supervisor runs it (as its user): this also proves that user
# reaches the binary and the configuration
for d in "${NUBO_DAEMONS[@]}"; do
	nubo_daemon_cmd "$d"
	if ! out=$("${NUBO_CMD[@]}" -n 2>&1); then
		printf '%s\n' "$out" >&2
		nubo_die "$d -n (as ${NUBO_DAEMON_USER[$d]}) rejects $NUBO_CONF"
	fi
done

# ------------------------------------------------------------------ external bridge
# The public network's bridge (the routers' gateway ports plug into it) with the
# public gateway address on the host, so the host reaches floating IPs: by default
# 172.24.4.1/24 (NUBO_PUBLIC_GATEWAY) on the real install; a throwaway stack's bridge
# gets no address unless asked (tests probe from a namespace on it). Nothing is
# masqueraded onto the box's uplink unless NUBO_PUBLIC_MASQUERADE=1.
step "external bridge $NUBO_EXT_BRIDGE"
nubo_ext_bridge() {
	local gw=${NUBO_PUBLIC_GATEWAY-}
	[ "$NUBO_ROOT" = / ] && gw=${NUBO_PUBLIC_GATEWAY-172.24.4.1/24}
	ip link show "$NUBO_EXT_BRIDGE" >/dev/null 2>&1 ||
		ip link add "$NUBO_EXT_BRIDGE" type bridge nf_call_iptables 1
	ip link set "$NUBO_EXT_BRIDGE" up
	[ -z "$gw" ] || ip addr replace "$gw" dev "$NUBO_EXT_BRIDGE"
	if [ "${NUBO_PUBLIC_MASQUERADE:-0}" = 1 ] && [ -n "$gw" ]; then
		sysctl -qw net.ipv4.ip_forward=1
		nft -f - <<NFT
table ip nubo_public {}
delete table ip nubo_public
table ip nubo_public {
	chain postrouting {
		type nat hook postrouting priority 100; policy accept;
		ip saddr $gw oifname != "$NUBO_EXT_BRIDGE" masquerade
	}
}
NFT
	fi
}
nubo_ext_bridge

# ------------------------------------------------------------------ database
step "database schema and bootstrap (admin, demo, roles, flavors, quotas, catalog)"
"$NUBO_BIN/nubo-manage" -c "$NUBO_CONF" db-sync
NUBO_ADMIN_PASSWORD=$ADMIN_PASSWORD NUBO_DEMO_PASSWORD=$DEMO_PASSWORD \
	"$NUBO_BIN/nubo-manage" -c "$NUBO_CONF" bootstrap

# ------------------------------------------------------------------ guest image
# Built images are cached by the hash of the builder and the guest's files, so a
# throwaway stack copies one instead of building it again.
build_guest_image() {
	local cache key cached
	if [ -s "$NUBO_GUEST_IMG" ]; then
		nubo_log "guest image $NUBO_GUEST_IMG present"
		return 0
	fi
	cache=${NUBO_GUEST_CACHE:-/var/cache/nubo}
	mkdir -p "$cache"
	key=$(cd "$NUBO_REPO/deploy" && find mkguest.sh guest -type f -print0 | LC_ALL=C sort -z |
		xargs -0 sha256sum | sha256sum | cut -c1-16)
	cached=$cache/nubo-tiny-$key.qcow2
	(
		flock 9
		if [ ! -s "$cached" ]; then
			step "building the guest image (deploy/mkguest.sh)"
			NUBO_GUEST_CACHE=$cache "$NUBO_REPO/deploy/mkguest.sh" "$cached"
			find "$cache" -maxdepth 1 -name 'nubo-tiny-*.qcow2' ! -name "${cached##*/}" -delete
		fi
	) 9>"$cache/.mkguest.lock"
	cp "$cached" "$NUBO_GUEST_IMG.tmp"
	mv -f "$NUBO_GUEST_IMG.tmp" "$NUBO_GUEST_IMG"
	nubo_log "guest image $NUBO_GUEST_IMG"
}
step "guest image"
build_guest_image

# ------------------------------------------------------------------ daemons
install_units() {
	local d
	nubo_unit_postgresql >/etc/systemd/system/nubo-postgresql.service.tmp
	mv -f /etc/systemd/system/nubo-postgresql.service.tmp /etc/systemd/system/nubo-postgresql.service
	for d in "${NUBO_DAEMONS[@]}"; do
		nubo_unit "$d" >"/etc/systemd/system/$d.service.tmp"
		mv -f "/etc/systemd/system/$d.service.tmp" "/etc/systemd/system/$d.service"
	done
	systemctl daemon-reload
}

step "starting the daemons"
if [ "$NUBO_ROOT" = / ] && nubo_systemd; then
	# the cluster was started by nubo-ctl above; hand it over to its unit
	# shellcheck disable=SC2046 # one word per daemon
	"$HERE/nubo-ctl" stop $(nubo_daemons_reversed) postgresql >/dev/null
	install_units
	systemctl enable nubo-postgresql.service "${NUBO_DAEMONS[@]/%/.service}"
	systemctl restart nubo-postgresql.service "${NUBO_DAEMONS[@]/%/.service}"
else
	# a re-run restarts them on the new build and configuration (QEMUs live on)
	"$HERE/nubo-ctl" --root "$NUBO_ROOT" stop "${NUBO_DAEMONS[@]}" >/dev/null
	for p in "$API_PORT" "$BUS_PORT" "$WAKE_PORT" "$OBJ_PORT" $((OBJ_PORT + 1)) $((OBJ_PORT + 2)) $((OBJ_PORT + 3)); do
		port_busy "$p" && nubo_die "port $p is taken: choose others with --port/--bus-port"
	done
	"$HERE/nubo-ctl" --root "$NUBO_ROOT" start "${NUBO_DAEMONS[@]}"
fi

for ((i = 0; i < 60; i++)); do
	curl -fsS -o /dev/null --max-time 2 "$API_URL/identity/v3" && break
	sleep 1
done
curl -fsS -o /dev/null --max-time 5 "$API_URL/identity/v3" ||
	nubo_die "the API does not answer at $API_URL/identity/v3; see $NUBO_LOGDIR/nubo-api.log"

for ((i = 0; i < 30; i++)); do
	curl -fsS -o /dev/null --max-time 2 "$OBJ_URL/info" && break
	sleep 1
done
curl -fsS -o /dev/null --max-time 5 "$OBJ_URL/info" ||
	nubo_die "the object store does not answer at $OBJ_URL/info; see $NUBO_LOGDIR/nubo-objproxy.log"

# ------------------------------------------------------------------ credentials
step "credentials ($NUBO_OPENRC, $NUBO_CLOUDS)"
(
	umask 077
	cat >"$NUBO_OPENRC" <<EOF
# Nubo credentials for the stack under $NUBO_ROOT (written by deploy/stack.sh).
# Usage (bash or zsh):  . $NUBO_OPENRC [admin|demo]      (default: admin)
case "\${1:-admin}" in
admin) OS_USERNAME=admin OS_PROJECT_NAME=admin OS_PASSWORD='$ADMIN_PASSWORD' ;;
demo) OS_USERNAME=demo OS_PROJECT_NAME=demo OS_PASSWORD='$DEMO_PASSWORD' ;;
*) echo "usage: . $NUBO_OPENRC [admin|demo]" >&2; return 2 2>/dev/null || exit 2 ;;
esac
export OS_USERNAME OS_PROJECT_NAME OS_PASSWORD
export OS_AUTH_URL=$API_URL/identity/v3
export OS_USER_DOMAIN_NAME=Default
export OS_PROJECT_DOMAIN_NAME=Default
export OS_IDENTITY_API_VERSION=3
export OS_REGION_NAME=RegionOne
export OS_AUTH_TYPE=password
export OS_INTERFACE=public
unset OS_CLOUD OS_TOKEN OS_PROJECT_ID OS_USER_ID OS_TENANT_NAME OS_TENANT_ID
EOF
	cloud() {
		cat <<EOF
  nubo-$1:
    auth:
      auth_url: $API_URL/identity/v3
      username: $1
      password: '$2'
      project_name: $1
      user_domain_name: Default
      project_domain_name: Default
    region_name: RegionOne
    identity_api_version: 3
    interface: public
EOF
	}
	{
		echo "# Nubo clouds for the stack under $NUBO_ROOT (written by deploy/stack.sh)."
		echo "# export OS_CLIENT_CONFIG_FILE=$NUBO_CLOUDS; openstack --os-cloud nubo-admin ..."
		echo "clouds:"
		cloud admin "$ADMIN_PASSWORD"
		cloud demo "$DEMO_PASSWORD"
	} >"$NUBO_CLOUDS"
)

# the real CLI, as admin, with nothing from the caller's environment
os_admin() {
	# shellcheck disable=SC2016 # $0 and $@ belong to the inner bash
	env -u OS_CLOUD -u OS_TOKEN -u OS_CLIENT_CONFIG_FILE \
		bash -c '. "$0" admin && exec /usr/bin/openstack "$@"' "$NUBO_OPENRC" "$@"
}

# ------------------------------------------------------------------ image
step "registering the guest image"
existing=$(os_admin image list -f value -c ID -c Name -c Status | awk '$2 == "nubo-tiny"')
if [ -n "$existing" ] && [ "$(echo "$existing" | awk '$3 == "active"' | wc -l)" -ge 1 ]; then
	nubo_log "image nubo-tiny already registered ($(echo "$existing" | awk '$3 == "active" {print $1; exit}'))"
else
	# a half-registered one (upload died) is replaced
	echo "$existing" | awk 'NF {print $1}' | while read -r id; do
		os_admin image delete "$id" || true
	done
	os_admin image create --disk-format qcow2 --container-format bare --public \
		--file "$NUBO_GUEST_IMG" nubo-tiny -f value -c id
fi

# ------------------------------------------------------------------ external network
# the shared external provider network floating IPs and router gateways come from
# (NUBO_PUBLIC_CIDR, default 172.24.4.0/24 as devstack's; the gateway is the host's
# address on the external bridge nubo-net plugs it into)
step "external network public"
NUBO_PUBLIC_CIDR=${NUBO_PUBLIC_CIDR:-172.24.4.0/24}
if [ -n "$(os_admin network list --name public -f value -c ID)" ]; then
	nubo_log "network public already there"
else
	os_admin network create --share --external --provider-network-type flat \
		--provider-physical-network public public -f value -c id
	os_admin subnet create --network public --subnet-range "$NUBO_PUBLIC_CIDR" \
		--no-dhcp public-subnet -f value -c id
fi

# ------------------------------------------------------------------ compute ready
# the agent registers within a heartbeat or two; the API is up, so an error is final
hosts=
for ((i = 0; i < 30; i++)); do
	hosts=$(os_admin hypervisor list -f value -c 'Hypervisor Hostname' 2>&1) || break
	[ -z "$hosts" ] || break
	sleep 1
done
if [ -z "$hosts" ] || [ $i -ge 30 ]; then
	nubo_log "warning: no compute host registered yet ($hosts); see $NUBO_LOGDIR/nubo-compute.log"
fi

# ------------------------------------------------------------------ done
elapsed=$((SECONDS - START))
cat <<EOF

Nubo is running (root $NUBO_ROOT).
  API          $API_URL   (/identity/v3, /compute/v2.1, /image/v2, /network/v2.0, /volume/v3)
  object store $OBJ_URL   (Swift: /v1/AUTH_<project_id>)
  credentials  . $NUBO_OPENRC admin      (or: . $NUBO_OPENRC demo)
               or: export OS_CLIENT_CONFIG_FILE=$NUBO_CLOUDS
                   openstack --os-cloud nubo-admin ...   (or nubo-demo)
  passwords    $NUBO_SECRETS
  logs         $NUBO_LOGDIR/
  control      $HERE/nubo-ctl${ROOTOPT} status|stop|start|restart [daemon]
  remove       $HERE/unstack.sh${ROOTOPT} [--purge]

Try:
  . $NUBO_OPENRC admin
  openstack server create --flavor m1.tiny --image nubo-tiny --wait vm1
  openstack console log show vm1
  openstack container create photos; openstack object create photos FILE
  swift upload photos FILE; swift list photos; swift download photos FILE

stack.sh: done in ${elapsed}s
elapsed_seconds=$elapsed
EOF
