# shellcheck shell=bash disable=SC2034 # the variables are used by the scripts sourcing this
# deploy/lib.sh: what stack.sh, unstack.sh, nubo-ctl and bench/ share: the file
# layout under a root directory, logging, process helpers. Sourced, never run.
#
# Layout for root R ("/" for a real install, a temp dir for throwaway stacks):
#   R/etc/nubo/        nubo.conf (0600), secrets (0600), openrc, clouds.yaml, stack.env
#   R/var/lib/nubo/    pgdata/ (PostgreSQL cluster), pgrun/ (its socket), images/,
#                      compute/ (agent state_dir), nubo-tiny.qcow2
#   R/var/log/nubo/    <daemon>.log, postgresql.log
#   R/run/nubo/        <daemon>.pid, <daemon>.supervisor.pid

NUBO_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
NUBO_BIN=${NUBO_BIN:-$NUBO_REPO/build/bin}
# start order; stop goes the other way
NUBO_DAEMONS=(nubo-scheduler nubo-api nubo-compute)

nubo_log() { printf '%s: %s\n' "${NUBO_PROG:-nubo}" "$*" >&2; }
nubo_die() {
	printf '%s: error: %s\n' "${NUBO_PROG:-nubo}" "$*" >&2
	exit 1
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

# nubo_qemu_pids: pids of the QEMU processes that use this stack's compute state_dir
# (found through their pid files and by scanning every process's command line).
nubo_qemu_pids() {
	local f pid cmd sd=$NUBO_STATE_DIR/ seen=" "
	for f in "$NUBO_STATE_DIR"/instances/*/qemu.pid; do
		[ -f "$f" ] || continue
		pid=$(tr -dc 0-9 <"$f")
		if nubo_pid_matches "$pid" qemu "$(dirname "$f")"; then
			seen="$seen$pid "
		fi
	done
	for f in /proc/[0-9]*/cmdline; do
		pid=${f#/proc/}
		pid=${pid%/cmdline}
		case $seen in *" $pid "*) continue ;; esac
		cmd=$(tr '\0' '\n' 2>/dev/null <"$f") || continue
		case $cmd in *qemu-system*) ;; *) continue ;; esac
		# an argument that is, or names after '=' or ',', a path under state_dir;
		# "/var/lib/nubo/compute/" must not match "/tmp/x/var/lib/nubo/compute/"
		while IFS= read -r arg; do
			case ",$arg" in
			*[,=]"$sd"*)
				seen="$seen$pid "
				break
				;;
			esac
		done <<<"$cmd"
	done
	for pid in $seen; do echo "$pid"; done
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
# systemd machine, where stack.sh installed deploy/systemd/*).
nubo_use_units() {
	[ "$NUBO_ROOT" = / ] && nubo_systemd && [ -f /etc/systemd/system/nubo-api.service ]
}
