# shellcheck shell=bash disable=SC2034 # the variables are used by the scripts sourcing this
# deploy/lib.sh: what stack.sh, unstack.sh, nubo-ctl and bench/ share: the file
# layout under a root directory, logging, process helpers. Sourced, never run.
#
# Layout for root R ("/" for a real install, a temp dir for throwaway stacks), with
# owner and mode where the daemons running as nubo (deploy/daemons) depend on them:
#   R/usr/local/lib/nubo/  the daemons and nubo-manage, installed from build/bin by
#                          stack.sh (root 0755: user nubo may run them, not change
#                          them, wherever the checkout lives)
#   R/etc/nubo/        nubo.conf (root:nubo 0640: DB password and CURVE keys),
#                      secrets, openrc, clouds.yaml (root 0600), stack.env
#   R/var/lib/nubo/    pgdata/ (PostgreSQL cluster, postgres 0700), pgrun/ (its
#                      socket, postgres:nubo 0750), images/ (nubo:nubo 0750),
#                      compute/ (agent state_dir, the agent's), nubo-tiny.qcow2
#   R/var/log/nubo/    <daemon>.log (opened by the supervisor), postgresql.log
#   R/run/nubo/        <daemon>.pid, <daemon>.supervisor.pid (the supervisor's)

NUBO_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# where make puts the binaries; stack.sh installs them into NUBO_BIN (nubo_set_root)
NUBO_BUILD_BIN=${NUBO_BUILD_BIN:-$NUBO_REPO/build/bin}

# The daemons, from deploy/daemons (the one list): NUBO_DAEMONS in start order (stop
# goes the other way), and per name its source dir, user, needs and description.
NUBO_DAEMONS=()
declare -gA NUBO_DAEMON_DIR NUBO_DAEMON_USER NUBO_DAEMON_NEEDS NUBO_DAEMON_DESC
nubo_daemons_load() {
	local name dir user needs desc n=0
	while read -r name dir user needs desc; do
		n=$((n + 1))
		case $name in '' | '#'*) continue ;; esac
		case $name in nubo-[a-z]*) ;; *) nubo_die "deploy/daemons:$n: bad name '$name'" ;; esac
		case $user in nubo | root) ;; *) nubo_die "deploy/daemons:$n: user must be nubo or root" ;; esac
		[ -n "$desc" ] || nubo_die "deploy/daemons:$n: expected name dir user needs description"
		NUBO_DAEMONS+=("$name")
		NUBO_DAEMON_DIR[$name]=$dir
		NUBO_DAEMON_USER[$name]=$user
		NUBO_DAEMON_NEEDS[$name]=$needs
		NUBO_DAEMON_DESC[$name]=$desc
	done <"$NUBO_REPO/deploy/daemons"
	[ ${#NUBO_DAEMONS[@]} -gt 0 ] || nubo_die "deploy/daemons lists no daemon"
}

# nubo_daemon_needs NAME WHAT: 0 when deploy/daemons lists WHAT among NAME's needs.
nubo_daemon_needs() {
	case ",${NUBO_DAEMON_NEEDS[$1]:-}," in *",$2,"*) return 0 ;; esac
	return 1
}

# nubo_daemons_reversed: the daemons in stop order, one per line.
nubo_daemons_reversed() {
	local i
	for ((i = ${#NUBO_DAEMONS[@]} - 1; i >= 0; i--)); do echo "${NUBO_DAEMONS[i]}"; done
}

nubo_log() { printf '%s: %s\n' "${NUBO_PROG:-nubo}" "$*" >&2; }
nubo_die() {
	printf '%s: error: %s\n' "${NUBO_PROG:-nubo}" "$*" >&2
	exit 1
}
nubo_daemons_load

# nubo_apt_install PKG...: apt-get install the Debian packages not installed yet
# (without recommends; the package lists updated once if the install fails). Returns 0
# when all were present; logs what it installs.
nubo_apt_install() {
	local p missing=()
	for p in "$@"; do
		dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q ' installed$' || missing+=("$p")
	done
	if [ ${#missing[@]} -eq 0 ]; then
		nubo_log "all $# Debian packages present"
		return 0
	fi
	nubo_log "apt-get install ${missing[*]}"
	local apt=(apt-get -o DPkg::Lock::Timeout=600 -o Acquire::Retries=3)
	if ! DEBIAN_FRONTEND=noninteractive "${apt[@]}" install -y -q --no-install-recommends "${missing[@]}"; then
		"${apt[@]}" update -q
		DEBIAN_FRONTEND=noninteractive "${apt[@]}" install -y -q --no-install-recommends "${missing[@]}"
	fi
}

# nubo_set_root DIR: sets every path variable for the stack under DIR.
nubo_set_root() {
	local r=${1:-/}
	[ -n "$r" ] || r=/
	case $r in /*) ;; *) r=$(pwd)/$r ;; esac
	r=$(realpath -m "$r")
	NUBO_ROOT=$r
	# prefix for paths: "" for "/", so paths read /etc/nubo rather than //etc/nubo
	local p=${r%/}
	NUBO_BIN=$p/usr/local/lib/nubo
	NUBO_ETC=$p/etc/nubo
	NUBO_CONF=$NUBO_ETC/nubo.conf
	NUBO_SECRETS=$NUBO_ETC/secrets
	NUBO_STACKENV=$NUBO_ETC/stack.env
	NUBO_OPENRC=$NUBO_ETC/openrc
	NUBO_CLOUDS=$NUBO_ETC/clouds.yaml
	NUBO_VARLIB=$p/var/lib/nubo
	NUBO_PGDATA=$NUBO_VARLIB/pgdata
	NUBO_PGSOCK=$NUBO_VARLIB/pgrun
	NUBO_IMAGE_DIR=$NUBO_VARLIB/images
	NUBO_STATE_DIR=$NUBO_VARLIB/compute
	NUBO_GUEST_IMG=$NUBO_VARLIB/nubo-tiny.qcow2
	NUBO_LOGDIR=$p/var/log/nubo
	NUBO_RUNDIR=$p/run/nubo
}

# nubo_pgbin: the newest installed PostgreSQL server's bin directory.
# The unprivileged accounts: nubo runs nubo-api, nubo-scheduler and the agents'
# workers; nubo-qemu runs QEMU. System users without a shell or home. Idempotent.
NUBO_USER=nubo
NUBO_QEMU_USER=nubo-qemu
nubo_ensure_users() {
	local u
	for u in "$NUBO_USER" "$NUBO_QEMU_USER"; do
		id "$u" >/dev/null 2>&1 && continue
		useradd --system --user-group --no-create-home --home-dir /nonexistent \
			--shell /usr/sbin/nologin "$u" || nubo_die "cannot create user $u"
	done
}

# nubo_pgsock_dir: the PostgreSQL socket directory. postgres makes the socket there;
# group nubo (nubo-api, nubo-scheduler) may reach it; nobody else. Idempotent.
nubo_pgsock_dir() {
	install -d -o postgres -g "$NUBO_USER" -m 0750 "$NUBO_PGSOCK"
}

nubo_pgbin() {
	local d
	d=$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin -type d 2>/dev/null |
		sort -V | tail -n 1)
	[ -n "$d" ] && [ -x "$d/initdb" ] || return 1
	echo "$d"
}

# nubo_as_postgres CMD...: runs CMD as the postgres user from a directory it can read.
nubo_as_postgres() {
	(cd / && runuser -u postgres -- "$@")
}

# nubo_pg_running: 0 when the stack's PostgreSQL runs.
nubo_pg_running() {
	local pgbin
	[ -f "$NUBO_PGDATA/PG_VERSION" ] || return 1
	pgbin=$(nubo_pgbin) || return 1
	nubo_as_postgres "$pgbin/pg_ctl" -D "$NUBO_PGDATA" status >/dev/null 2>&1
}

# nubo_pid_matches PID NEEDLE...: 0 when PID runs and its command line contains every
# NEEDLE (guards against a recycled pid).
nubo_pid_matches() {
	local pid=$1 cmd n
	shift
	case $pid in '' | *[!0-9]*) return 1 ;; esac
	[ -r "/proc/$pid/cmdline" ] || return 1
	cmd=$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline") || return 1
	[ -n "$cmd" ] || return 1 # a zombie has an empty command line
	for n in "$@"; do
		case $cmd in *"$n"*) ;; *) return 1 ;; esac
	done
	return 0
}

# nubo_pid_has_arg PID ARG: 0 when one of PID's arguments is exactly ARG.
nubo_pid_has_arg() {
	[ -r "/proc/$1/cmdline" ] || return 1
	tr '\0' '\n' 2>/dev/null <"/proc/$1/cmdline" | grep -qxF -- "$2"
}

# nubo_pid_alive PID: 0 when PID exists and is not a zombie.
nubo_pid_alive() {
	local st
	[ -r "/proc/$1/stat" ] || return 1
	st=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)
	[ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

# nubo_kill_wait TIMEOUT PID...: SIGTERM each PID, wait up to TIMEOUT seconds for all
# of them to go, then SIGKILL what is left. Returns 0 when all are gone.
nubo_kill_wait() {
	local timeout=$1 pid left i
	shift
	[ $# -gt 0 ] || return 0
	kill -TERM "$@" 2>/dev/null || true
	for ((i = 0; i < timeout * 10; i++)); do
		left=
		for pid in "$@"; do nubo_pid_alive "$pid" && left=1; done
		[ -n "$left" ] || return 0
		sleep 0.1
	done
	for pid in "$@"; do
		if nubo_pid_alive "$pid"; then
			nubo_log "pid $pid ignored SIGTERM for ${timeout}s, sending SIGKILL"
			kill -KILL "$pid" 2>/dev/null || true
		fi
	done
	for ((i = 0; i < 50; i++)); do
		left=
		for pid in "$@"; do nubo_pid_alive "$pid" && left=1; done
		[ -n "$left" ] || return 0
		sleep 0.1
	done
	return 1
}

# nubo_qemu_pids [INSTANCE]: pids of the QEMU processes of this stack's compute agent
# (of one instance, given its id), one a line. The one matcher every script and test
# uses (tests call it through `nubo-ctl qemu-pids`), the same rule as the privileged
# helper's (compute-agent/vm_priv.c vm_priv_is_qemu_of). Exact: the process's
# executable is a qemu-system-*, it is not a zombie, its argv has "-uuid U", and its
# working directory is NUBO_STATE_DIR/instances/U (the helper starts QEMU there; QEMU
# gets its files as descriptors, so no path of the stack is in its argv).
# The process name (/proc/PID/comm, read without a fork) picks the candidates first:
# a readlink per process of the box took 60 s at load 15 (a fork each), so only a
# process named qemu-system-* (the name of the file it executed, at most 15 bytes) is
# looked at further; a QEMU started through a link of another name is not matched.
nubo_qemu_pids() {
	local want=${1:-} dir f pid exe arg prev uuid comm
	local -a args
	dir=$(realpath -m "$NUBO_STATE_DIR/instances")/
	for f in /proc/[0-9]*; do
		pid=${f#/proc/}
		comm=''
		{ IFS= read -r comm <"$f/comm"; } 2>/dev/null || continue
		case $comm in qemu-system-*) ;; *) continue ;; esac
		exe=$(readlink "$f/exe" 2>/dev/null) || continue
		case ${exe##*/} in qemu-system-*) ;; *) continue ;; esac
		args=()
		while IFS= read -r -d '' arg; do args+=("$arg"); done <"$f/cmdline" 2>/dev/null || continue
		uuid='' prev=''
		for arg in "${args[@]}"; do
			[ "$prev" != -uuid ] || uuid=$arg
			prev=$arg
		done
		case $uuid in '' | */* | .*) continue ;; esac
		[ -z "$want" ] || [ "$uuid" = "$want" ] || continue
		[ "$(readlink "$f/cwd" 2>/dev/null)" = "$dir$uuid" ] || continue
		nubo_pid_alive "$pid" && echo "$pid"
	done
	return 0
}

# nubo_conf_get SECTION KEY: the value of KEY in SECTION of nubo.conf (empty if unset).
nubo_conf_get() {
	awk -v sec="$1" -v key="$2" '
		/^[ \t]*[#;]/ { next }
		/^[ \t]*\[/ { s = $0; gsub(/[][ \t]/, "", s); next }
		s == sec {
			i = index($0, "="); if (!i) next
			k = substr($0, 1, i - 1); gsub(/^[ \t]+|[ \t]+$/, "", k)
			if (k != key) next
			v = substr($0, i + 1); gsub(/^[ \t]+|[ \t]+$/, "", v); print v; exit
		}' "$NUBO_CONF"
}

# nubo_systemd: 0 when systemd runs this machine (PID 1).
nubo_systemd() {
	[ -d /run/systemd/system ] && [ "$(cat /proc/1/comm 2>/dev/null)" = systemd ]
}

# nubo_use_units: 0 when the stack's daemons are systemd units (a "/" root on a
# systemd machine, where stack.sh installed the units made from deploy/systemd/).
nubo_use_units() {
	[ "$NUBO_ROOT" = / ] && nubo_systemd && [ -f /etc/systemd/system/nubo-postgresql.service ]
}

# nubo_daemon_cmd NAME: sets the array NUBO_CMD to the command line that runs daemon
# NAME as deploy/daemons says: for user nubo through setpriv as nubo:nubo with its
# groups, no capabilities (bounding set empty too), no_new_privs and a clean
# environment, like the systemd unit's User=, CapabilityBoundingSet= and
# NoNewPrivileges=; for user root (an agent, which drops privileges itself) as is.
nubo_daemon_cmd() {
	local u=${NUBO_DAEMON_USER[$1]:-}
	[ -n "$u" ] || nubo_die "unknown daemon $1"
	NUBO_CMD=("$NUBO_BIN/$1" -c "$NUBO_CONF")
	# a host of deploy/host-add.sh: its daemons run in its network namespace
	[ ! -s "$NUBO_ETC/netns" ] || NUBO_CMD=(ip netns exec "$(cat "$NUBO_ETC/netns")" "${NUBO_CMD[@]}")
	[ "$u" = root ] && return 0
	NUBO_CMD=(setpriv --reuid="$u" --regid="$u" --init-groups --reset-env --no-new-privs
		--inh-caps=-all --bounding-set=-all -- "${NUBO_CMD[@]}")
}

# nubo_unit NAME: prints daemon NAME's systemd unit, deploy/systemd/nubo-daemon.service.in
# filled in from deploy/daemons and the root's paths. Lines of the template that start
# with @nubo@ are for daemons that run as nubo, @keep-children@ for those that need it.
nubo_unit() {
	local d=$1 u=${NUBO_DAEMON_USER[$1]} e after='' wants='' only_nubo='d' only_keep='d' killmode=control-group
	if nubo_daemon_needs "$d" db; then
		after=nubo-postgresql.service
		wants=nubo-postgresql.service
	fi
	for e in "${NUBO_DAEMONS[@]}"; do
		[ "$e" != "$d" ] || break
		after="$after $e.service"
		wants="$wants $e.service"
	done
	[ "$u" = root ] || only_nubo='s/^@nubo@//'
	if nubo_daemon_needs "$d" keep-children; then
		only_keep='s/^@keep-children@//'
		killmode=process
	fi
	sed -e '/^@nubo@/'"$only_nubo" -e '/^@keep-children@/'"$only_keep" \
		-e "s|@NAME@|$d|g" -e "s|@DESCRIPTION@|${NUBO_DAEMON_DESC[$d]}|g" \
		-e "s|@USER@|$u|g" -e "s|@AFTER@|${after# }|g" -e "s|@WANTS@|${wants# }|g" \
		-e "s|@KILLMODE@|$killmode|g" -e "s|@BIN@|$NUBO_BIN|g" -e "s|@CONF@|$NUBO_CONF|g" \
		-e "s|@LOGDIR@|$NUBO_LOGDIR|g" "$NUBO_REPO/deploy/systemd/nubo-daemon.service.in"
}

# nubo_unit_postgresql: prints the unit of the stack's own PostgreSQL cluster.
nubo_unit_postgresql() {
	sed -e "s|@PGBIN@|$(nubo_pgbin)|g" -e "s|@PGDATA@|$NUBO_PGDATA|g" \
		-e "s|@LOGDIR@|$NUBO_LOGDIR|g" -e "s|@PGSOCK@|$NUBO_PGSOCK|g" \
		-e "s|@USER@|$NUBO_USER|g" "$NUBO_REPO/deploy/systemd/nubo-postgresql.service.in"
}

# nubo_conf_set FILE SECTION KEY VALUE: sets KEY in [SECTION] of the ini file FILE (the
# line replaced where it is, else added at the end of the section, else a new section
# at the end), by a rename; owner and mode kept. deploy/host-add.sh uses it.
nubo_conf_set() {
	local f=$1 tmp
	tmp=$(mktemp "$f.XXXXXX")
	awk -v sec="$2" -v key="$3" -v val="$4" '
		function put() { if (!done) { print key " = " val; done = 1 } }
		/^[ \t]*\[[^]]+\][ \t]*$/ {
			if (in_sec) put()
			s = $0; gsub(/[][ \t]/, "", s); in_sec = (s == sec); seen = seen || in_sec
			print; next
		}
		in_sec && /^[ \t]*[^#; \t][^=]*=/ {
			k = substr($0, 1, index($0, "=") - 1); gsub(/^[ \t]+|[ \t]+$/, "", k)
			if (k == key) { if (!done) print key " = " val; done = 1; next }
		}
		{ print }
		END {
			if (in_sec) put()
			if (!seen) { print ""; print "[" sec "]"; put() }
		}' "$f" >"$tmp"
	chown --reference="$f" "$tmp"
	chmod --reference="$f" "$tmp"
	mv -f "$tmp" "$f"
}

# The hosts deploy/host-add.sh made on this root, one directory each:
# NUBO_VARLIB/hosts/NAME is the host's own root (etc/nubo/nubo.conf, run/nubo,
# var/log/nubo, var/lib/nubo/{compute,net}); its etc/nubo/netns names the network
# namespace its daemons run in.
nubo_hosts() {
	local d
	for d in "$NUBO_VARLIB"/hosts/*/etc/nubo/netns; do
		[ -f "$d" ] || continue
		d=${d%/etc/nubo/netns}
		echo "${d##*/}"
	done
}
