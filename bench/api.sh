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
#   --peer       also measure Keystone from Debian side by side (see below)
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
#
# --peer: after Nubo's runs, the same token measurements (validate and password issue,
# c=1 and c=8, the same wrk script) against Keystone from Debian, keys peer_*, and
# ratio_token_{validate,issue}_c{1,8}=<nubo req/s / keystone req/s>. Only then are
# the packages keystone, memcached and python3-psycopg2 installed (apt-get,
# noninteractive, services not started: the postinst's starts are refused by a
# policy-rc.d while it runs, and under systemd the keystone and memcached units this
# install added are disabled). Keystone runs with its own throwaway PostgreSQL cluster
# (Debian's initdb, 127.0.0.1, a free port), fernet tokens, token caching in memcached
# (127.0.0.1, a free port), served by uwsgi (keystone-wsgi-public with the settings of
# Debian's keystone-uwsgi.ini: 8 processes x 32 threads; an HTTP/1.1 socket so that
# wrk keeps its connections, as it does with nubo-api) on a free 127.0.0.1 port; all
# of it runs as root under a temp dir and is stopped and removed at exit (keep its
# logs with NUBO_BENCH_PEER_LOGS=DIR). peer_*_api_cpu_ms counts uwsgi and memcached,
# peer_*_pg_cpu_ms Keystone's PostgreSQL; peer_memcached_get_hits shows the cache used.
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
[ "$(id -u)" = 0 ] || nubo_die "must run as root (reads nubo.conf and /proc)"
command -v wrk >/dev/null || nubo_die "wrk missing (apt-get install wrk)"

OWN_STACK=
TMPD=$(mktemp -d /tmp/nubo-bench-api.XXXXXX)
chmod 700 "$TMPD"
say() { echo "api.sh: $*" >&2; }
# free_port: a port free on 127.0.0.1 now, below the kernel's ephemeral range (so that
# no outgoing connection on this busy box takes it before our server binds it)
free_port() { /usr/bin/python3 -c 'import random, socket
lo = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
for _ in range(200):
    p = random.randrange(10000, max(lo, 10001))
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
    except OSError:
        continue
    finally:
        s.close()
    print(p)
    break
else:
    raise SystemExit("no free port")'; }

# Keystone side (--peer): a temp dir holding its PostgreSQL cluster, config, keys, logs
KS='' KS_UWSGI_PID='' KS_MC_PID='' KS_PG_PID='' KS_MC_PORT=''
# stop_pid PID SECONDS: SIGTERM, then SIGKILL if still there after SECONDS
stop_pid() {
	local pid=$1 i
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
	kill -TERM "$pid" 2>/dev/null
	for ((i = 0; i < $2 * 10; i++)); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	say "pid $pid did not stop in $2 s: SIGKILL"
	kill -KILL "$pid" 2>/dev/null
}
peer_down() {
	local w
	[ -n "$KS" ] || return 0
	say "stopping Keystone, memcached and Keystone's PostgreSQL"
	if [ -n "$KS_UWSGI_PID" ]; then
		w=$(pgrep -P "$KS_UWSGI_PID" || true)
		stop_pid "$KS_UWSGI_PID" 20
		for p in $w; do stop_pid "$p" 5; done
	fi
	stop_pid "$KS_MC_PID" 10
	if [ -f "$KS/pg/postmaster.pid" ]; then
		nubo_as_postgres timeout 40 "$(nubo_pgbin)/pg_ctl" -D "$KS/pg" stop -m fast -t 30 >/dev/null 2>&1 ||
			stop_pid "$KS_PG_PID" 10
	fi
	# NUBO_BENCH_PEER_LOGS=DIR keeps Keystone's logs
	if [ -n "${NUBO_BENCH_PEER_LOGS:-}" ]; then
		mkdir -p "$NUBO_BENCH_PEER_LOGS" &&
			cp "$KS"/*.log "$KS"/pgsock/*.log "$NUBO_BENCH_PEER_LOGS"/ 2>/dev/null
	fi
	rm -rf "$KS"
	KS=''
}

cleanup() {
	set +e
	peer_down
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
	# mktemp makes it 0700: the stack's PostgreSQL (user postgres) must traverse it
	chmod 711 "$OWN_STACK"
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
# the processes whose CPU run() counts: Nubo's, or Keystone's once SIDE=peer
SIDE=nubo
srv_pids() {
	if [ "$SIDE" = peer ]; then
		echo "$KS_UWSGI_PID" $(pgrep -P "$KS_UWSGI_PID" || true) "$KS_MC_PID"
	else
		echo "$API_PID"
	fi
}
db_pids() {
	if [ "$SIDE" = peer ]; then
		echo "$KS_PG_PID" $(pgrep -P "$KS_PG_PID" || true)
	else
		pg_pids
	fi
}
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
	a0=$(cpu_ticks $(srv_pids))
	p0=$(cpu_ticks $(db_pids))
	out=$(env NUBO_TOKEN="$TOKEN" NUBO_BENCH_KEY="${key}_c$c" "$@" \
		wrk -t"$t" -c"$c" -d"${d}s" -s "$HERE/wrk_auth.lua" "$url" | grep "^${key}_c${c}_")
	a1=$(cpu_ticks $(srv_pids))
	p1=$(cpu_ticks $(db_pids))
	echo "$out"
	echo "$out" >>"$TMPD/results"
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

# ------------------------------------------------------------------ --peer: Keystone
# peer_install: keystone, memcached and the PostgreSQL driver from Debian, without
# starting services (policy-rc.d) and without leaving new ones enabled
peer_install() {
	local pkgs='keystone memcached python3-psycopg2' new='' p rc own_policy=
	for p in $pkgs; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || new="$new $p"
	done
	[ -n "$new" ] || return 0
	say "installing$new (apt-get, noninteractive, services not started)"
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\n# bench/api.sh --peer: no service starts while it installs\nexit 101\n' \
			>/usr/sbin/policy-rc.d
		chmod 755 /usr/sbin/policy-rc.d
		own_policy=1
	fi
	rc=0
	DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -q --no-install-recommends \
		$pkgs >&2 || rc=$?
	[ -z "$own_policy" ] || rm -f /usr/sbin/policy-rc.d
	[ "$rc" = 0 ] || nubo_die "--peer: apt-get install $pkgs failed (exit $rc)"
	if [ -d /run/systemd/system ]; then
		for p in $new; do
			case $p in keystone | memcached)
				systemctl disable --now "$p.service" >/dev/null 2>&1 || true ;;
			esac
		done
	fi
}

# wait_http URL SECONDS: until URL answers 2xx/3xx
wait_http() {
	local i
	for ((i = 0; i < $2; i++)); do
		curl -sf --noproxy '*' -m 5 -o /dev/null "$1" && return 0
		[ -z "$KS_UWSGI_PID" ] || kill -0 "$KS_UWSGI_PID" 2>/dev/null || return 1
		sleep 1
	done
	return 1
}

peer_up() {
	local pgbin pg_port mc_port ks_port pw admin_pw i mc_user=nobody
	pgbin=$(nubo_pgbin) || nubo_die "--peer: PostgreSQL server binaries not found"
	command -v uwsgi >/dev/null && [ -x /usr/bin/keystone-wsgi-public ] ||
		nubo_die "--peer: uwsgi or keystone-wsgi-public missing after the install"
	KS=$(mktemp -d /tmp/nubo-bench-keystone.XXXXXX)
	chmod 711 "$KS"
	pg_port=$(free_port) mc_port=$(free_port) ks_port=$(free_port)
	while [ "$mc_port" = "$pg_port" ]; do mc_port=$(free_port); done
	while [ "$ks_port" = "$pg_port" ] || [ "$ks_port" = "$mc_port" ]; do ks_port=$(free_port); done
	pw=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
	admin_pw=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')

	say "Keystone's PostgreSQL cluster under $KS/pg, 127.0.0.1:$pg_port"
	install -d -o postgres -g postgres -m 0700 "$KS/pg" "$KS/pgsock"
	nubo_as_postgres "$pgbin/initdb" -D "$KS/pg" -U postgres -E UTF8 --locale=C.UTF-8 \
		--auth-local=peer --auth-host=reject >/dev/null || nubo_die "--peer: initdb failed"
	cat >>"$KS/pg/postgresql.conf" <<EOF
# bench/api.sh --peer
port = $pg_port
listen_addresses = '127.0.0.1'
unix_socket_directories = '$KS/pgsock'
max_connections = 400
EOF
	cat >"$KS/pg/pg_hba.conf" <<EOF
local   all       postgres  peer
host    keystone  keystone  127.0.0.1/32  scram-sha-256
EOF
	chown postgres:postgres "$KS/pg/pg_hba.conf"
	nubo_as_postgres timeout 90 "$pgbin/pg_ctl" -D "$KS/pg" -l "$KS/pgsock/pg.log" -w -t 60 start \
		>/dev/null || nubo_die "--peer: Keystone's PostgreSQL did not start ($KS/pgsock/pg.log)"
	KS_PG_PID=$(head -n 1 "$KS/pg/postmaster.pid")
	nubo_as_postgres "$pgbin/psql" -X -q -v ON_ERROR_STOP=1 -h "$KS/pgsock" -p "$pg_port" -U postgres \
		-c "CREATE ROLE keystone LOGIN PASSWORD '$pw'" -c "CREATE DATABASE keystone OWNER keystone" \
		>/dev/null || nubo_die "--peer: cannot create Keystone's database"

	id memcache >/dev/null 2>&1 && mc_user=memcache
	KS_MC_PORT=$mc_port
	say "memcached on 127.0.0.1:$mc_port"
	memcached -u "$mc_user" -l 127.0.0.1 -p "$mc_port" -U 0 -m 64 -t 2 >"$KS/memcached.log" 2>&1 &
	KS_MC_PID=$!
	for ((i = 0; i < 50; i++)); do
		(exec 3<>"/dev/tcp/127.0.0.1/$mc_port") 2>/dev/null && break
		kill -0 "$KS_MC_PID" 2>/dev/null || nubo_die "--peer: memcached exited ($KS/memcached.log)"
		sleep 0.1
	done
	[ "$i" -lt 50 ] || nubo_die "--peer: memcached not listening after 5 s"

	install -d -m 0700 "$KS/fernet-keys" "$KS/credential-keys" "$KS/fernet-receipts"
	cat >"$KS/keystone.conf" <<EOF
# bench/api.sh --peer
[DEFAULT]
log_file = $KS/keystone.log
use_stderr = false
[database]
connection = postgresql+psycopg2://keystone:$pw@127.0.0.1:$pg_port/keystone
[cache]
enabled = true
backend = oslo_cache.memcache_pool
memcache_servers = 127.0.0.1:$mc_port
[token]
provider = fernet
caching = true
[fernet_tokens]
key_repository = $KS/fernet-keys
[fernet_receipts]
key_repository = $KS/fernet-receipts
[credential]
key_repository = $KS/credential-keys
EOF
	chmod 600 "$KS/keystone.conf"
	say "keystone-manage db_sync, fernet_setup, credential_setup, bootstrap"
	# keystone-manage's own noise (eventlet at exit) goes to manage.log
	local km="timeout 300 keystone-manage --config-file $KS/keystone.conf" ml=$KS/manage.log
	$km db_sync >>"$ml" 2>&1 ||
		nubo_die "--peer: keystone-manage db_sync failed: $(tail -n 5 "$ml" | tr '\n' ' ')"
	$km fernet_setup --keystone-user root --keystone-group root >>"$ml" 2>&1 &&
		$km credential_setup --keystone-user root --keystone-group root >>"$ml" 2>&1 ||
		nubo_die "--peer: keystone-manage fernet_setup/credential_setup failed: $(tail -n 5 "$ml" | tr '\n' ' ')"
	$km bootstrap --bootstrap-password "$admin_pw" --bootstrap-username admin \
		--bootstrap-project-name admin --bootstrap-role-name admin \
		--bootstrap-admin-url "http://127.0.0.1:$ks_port/v3/" \
		--bootstrap-internal-url "http://127.0.0.1:$ks_port/v3/" \
		--bootstrap-public-url "http://127.0.0.1:$ks_port/v3/" \
		--bootstrap-region-id RegionOne >>"$ml" 2>&1 ||
		nubo_die "--peer: keystone-manage bootstrap failed: $(tail -n 5 "$ml" | tr '\n' ' ')"

	# Debian's /etc/keystone/keystone-uwsgi.ini, minus its user, apparmor profile and log
	# file, and speaking HTTP itself on 127.0.0.1
	say "Keystone (uwsgi, 8 processes x 32 threads) on 127.0.0.1:$ks_port"
	(cd "$KS" && exec uwsgi --plugins python3 --master --die-on-term --lazy-apps --no-orphans \
		--enable-threads --thunder-lock --processes 8 --threads 32 --listen 100 \
		--buffer-size 65535 --http11-socket "127.0.0.1:$ks_port" --need-app \
		--wsgi-file /usr/bin/keystone-wsgi-public \
		--env "OS_KEYSTONE_CONFIG_DIR=$KS" --env OS_KEYSTONE_CONFIG_FILES=keystone.conf \
		--logto "$KS/uwsgi.log") &
	KS_UWSGI_PID=$!
	wait_http "http://127.0.0.1:$ks_port/v3" 180 ||
		nubo_die "--peer: Keystone (uwsgi) exited or did not answer on 127.0.0.1:$ks_port within 180 s: $(tail -n 5 "$KS/uwsgi.log" 2>/dev/null | tr '\n' ' ')"
	KS_URL="http://127.0.0.1:$ks_port/v3"
	KS_BODY=$TMPD/peer_issue.json
	cat >"$KS_BODY" <<EOF
{"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": "admin",
 "domain": {"name": "Default"}, "password": "$admin_pw"}}},
 "scope": {"project": {"name": "admin", "domain": {"name": "Default"}}}}}
EOF
}

# ratio KEY: nubo's req/s over Keystone's for KEY (e.g. token_validate_c8)
ratio() {
	local a b
	a=$(sed -n "s/^$1_rps=//p" "$TMPD/results" | head -n 1)
	b=$(sed -n "s/^peer_$1_rps=//p" "$TMPD/results" | head -n 1)
	awk -v k="$1" -v a="${a:-0}" -v b="${b:-0}" \
		'BEGIN { if (b > 0) printf "ratio_%s=%.1f\n", k, a / b; else printf "ratio_%s=NA\n", k }'
}

if [ -n "$PEER" ]; then
	peer_install
	peer_up
	SIDE=peer
	TOKEN=$(curl -sS --noproxy '*' -m 30 -D - -o /dev/null -H 'Content-Type: application/json' \
		--data-binary @"$KS_BODY" "$KS_URL/auth/tokens" | tr -d '\r' |
		sed -n 's/^[Xx]-[Ss]ubject-[Tt]oken: //p')
	[ -n "$TOKEN" ] || nubo_die "--peer: could not get a token from Keystone ($KS/keystone.log)"
	echo "peer_keystone_version=$(dpkg-query -W -f='${Version}' keystone)"
	echo "peer_rss_kb_keystone_start=$(for p in $(srv_pids); do rss_kb "$p"; done | awk '{ s += $1 } END { print s }')"
	# one validation first, so that the timed runs start with the token in memcached
	curl -sf --noproxy '*' -m 30 -o /dev/null -H "X-Auth-Token: $TOKEN" -H "X-Subject-Token: $TOKEN" \
		-H 'Accept: application/json' "$KS_URL/auth/tokens" ||
		nubo_die "--peer: Keystone refused to validate its own token"
	for c in 1 8; do
		run peer_token_validate "$c" "$DURATION" "$KS_URL/auth/tokens" NUBO_SUBJECT="$TOKEN"
	done
	for c in 1 8; do
		run peer_token_issue "$c" "$ISSUE_DURATION" "$KS_URL/auth/tokens" \
			NUBO_TOKEN= NUBO_METHOD=POST NUBO_BODY_FILE="$KS_BODY"
	done
	echo "peer_rss_kb_keystone_after=$(for p in $(srv_pids); do rss_kb "$p"; done | awk '{ s += $1 } END { print s }')"
	# memcached's counters: a cache Keystone really used shows get_hits
	(
		exec 3<>"/dev/tcp/127.0.0.1/$KS_MC_PORT" && printf 'stats\r\nquit\r\n' >&3 &&
			timeout 5 cat <&3
	) 2>/dev/null | tr -d '\r' | awk '$2 ~ /^(get_hits|get_misses|curr_items)$/ { print "peer_memcached_" $2 "=" $3 }'
	SIDE=nubo
	for k in token_validate_c1 token_validate_c8 token_issue_c1 token_issue_c8; do
		ratio "$k"
	done
	peer_down
fi
echo "load_avg_end=$(cut -d' ' -f1-3 /proc/loadavg | tr ' ' ,)"
