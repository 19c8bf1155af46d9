#!/bin/bash
# tests/deploy/run.sh (make integration): deploy/ without a stack. The daemons table
# and what reads it (Makefile, units), the supervisor with fake daemons under a
# temporary root (privileges dropped as deploy/daemons says, a backoff that grows, is
# capped and never gives up, stop during a backoff), and the one QEMU matcher against
# fake QEMU processes. Needs root (setpriv, the nubo user). Exit status: 0 when every
# check passes. KEEP=1 keeps the temporary root.
# shellcheck disable=SC2016 # the single-quoted scripts get their values as arguments
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
[ "$(id -u)" = 0 ] || {
	echo "tests/deploy/run.sh: needs root" >&2
	exit 1
}
NUBO_PROG=tests/deploy
# shellcheck source=deploy/lib.sh
. "$REPO/deploy/lib.sh"
nubo_ensure_users

T=$(mktemp -d /tmp/nubo-deploy-test.XXXXXX)
chmod 0755 "$T"
PIDS=()
# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() {
	set +e
	"$REPO/deploy/nubo-ctl" --root "$T" stop "${NUBO_DAEMONS[@]}" >/dev/null 2>&1
	[ ${#PIDS[@]} -eq 0 ] || kill "${PIDS[@]}" 2>/dev/null
	if [ -n "${KEEP:-}" ]; then echo "kept $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT

pass=0 fail=0
check() { # check DESCRIPTION COMMAND...
	local what=$1
	shift
	if "$@"; then
		echo "ok - $what"
		pass=$((pass + 1))
	else
		echo "not ok - $what"
		fail=$((fail + 1))
	fi
}
# has TEXT PATTERN: 0 when the shell pattern matches TEXT (printed when it does not)
has() {
	# shellcheck disable=SC2053 # $2 is a pattern
	[[ $1 == $2 ]] || {
		echo "  got: $1"
		return 1
	}
}

# ---------------------------------------------------------------- the table
mk_daemons=$(make -s -C "$REPO" --no-print-directory \
	--eval 'print-daemons: ; @echo $(foreach d,$(DAEMONS),$(lastword $(subst :, ,$(d))))' \
	print-daemons)
check "the Makefile builds the daemons of deploy/daemons, in order" \
	test "$mk_daemons" = "${NUBO_DAEMONS[*]}"
check "nubo-api and nubo-scheduler run as nubo" \
	test "${NUBO_DAEMON_USER[nubo-api]}:${NUBO_DAEMON_USER[nubo-scheduler]}" = nubo:nubo
for d in "${NUBO_DAEMONS[@]}"; do
	check "$d: its directory has a main.c" test -f "$REPO/${NUBO_DAEMON_DIR[$d]}/main.c"
done

# ---------------------------------------------------------------- README, CI
readme_test=$(sed -n '1,12s/^    \(make [a-z]*\) .*# run the tests.*/\1/p' "$REPO/README.md")
check "README names its test command ($readme_test)" test -n "$readme_test"
check ".ci/run runs exactly the README's test command" \
	test "$(grep -v '^[[:space:]]*\(#\|$\)' "$REPO/.ci/run" | tail -n 1)" = "$readme_test"
check ".ci/run installs the packages with stack.sh --deps-only" \
	grep -qx 'deploy/stack.sh --deps-only' "$REPO/.ci/run"
for p in clang-format-14 util-linux postgresql; do
	check "stack.sh installs $p" grep -q "[[:space:]]$p\([[:space:]]\|$\)" "$REPO/deploy/stack.sh"
done
# Swift is bench/swift.sh --deps's, never CI's
for p in swift-proxy swift-object memcached; do
	check "stack.sh does not install $p" bash -c '! grep -q "[[:space:]]$0\([[:space:]]\|$\)" "$1"' "$p" "$REPO/deploy/stack.sh"
	check "bench/swift.sh --deps installs $p" grep -q "[[:space:]]$p\([[:space:])]\|$\)" "$REPO/bench/swift.sh"
done
check "nubo_apt_install of installed packages installs nothing and says so" \
	test "$(nubo_apt_install bash coreutils 2>&1)" = "$NUBO_PROG: all 2 Debian packages present"

# ---------------------------------------------------------------- units
nubo_set_root "$T"
mkdir -p "$T/units" "$NUBO_BIN" "$NUBO_ETC" "$NUBO_LOGDIR" "$NUBO_RUNDIR"
for d in "${NUBO_DAEMONS[@]}"; do
	f=$T/units/$d.service
	nubo_unit "$d" >"$f"
	check "$d.service: no placeholder left" bash -c '! grep -q @ "$0"' "$f"
	check "$d.service: User=${NUBO_DAEMON_USER[$d]}" grep -qx "User=${NUBO_DAEMON_USER[$d]}" "$f"
	check "$d.service: Restart=always, no start limit" bash -c \
		'grep -qx Restart=always "$0" && grep -qx StartLimitIntervalSec=0 "$0"' "$f"
	if [ "${NUBO_DAEMON_USER[$d]}" = nubo ]; then
		check "$d.service: no capabilities, no new privileges" bash -c \
			'grep -qx NoNewPrivileges=yes "$0" && grep -qx CapabilityBoundingSet= "$0"' "$f"
	fi
	if nubo_daemon_needs "$d" keep-children; then
		check "$d.service: KillMode=process" grep -qx KillMode=process "$f"
	fi
done

# ---------------------------------------------------------------- supervisor
# A fake daemon: says who it runs as, then fails at once while $T/fail-NAME exists, or
# runs until SIGTERM. Its command line is "NAME -c CONF", as nubo-ctl checks.
for d in "${NUBO_DAEMONS[@]}"; do
	cat >"$NUBO_BIN/$d" <<FAKE
#!/bin/bash
st=\$(grep -E '^(Uid|Gid|CapEff|CapBnd|NoNewPrivs):' /proc/self/status | tr -s '\t\n' '  ')
echo "fake $d: \$st umask \$(umask) sudo \${SUDO_USER:-none}"
[ ! -e "$T/fail-$d" ] || exit 3
trap 'kill \$s 2>/dev/null; exit 0' TERM
sleep 1000 &
s=\$!
wait
FAKE
	chmod 0755 "$NUBO_BIN/$d"
done
# the units as systemd reads them, now that their ExecStart= binaries exist
if command -v systemd-analyze >/dev/null; then
	nubo_unit_postgresql >"$T/units/nubo-postgresql.service"
	check "systemd-analyze verify accepts every unit" \
		bash -c 'cd "$0" && systemd-analyze verify --man=no ./*.service' "$T/units"
fi
printf '[api]\nport = 1\n' >"$NUBO_CONF"
chown "root:$NUBO_USER" "$NUBO_CONF"
chmod 0640 "$NUBO_CONF"

export NUBO_RESPAWN_DELAY_MAX=4 NUBO_RESPAWN_STABLE=60 SUDO_USER=leak
"$REPO/deploy/nubo-ctl" --root "$T" start "${NUBO_DAEMONS[@]}" >/dev/null
nu=$(id -u nubo)
ng=$(id -g nubo)
for d in "${NUBO_DAEMONS[@]}"; do
	line=$(grep "^fake $d:" "$NUBO_LOGDIR/$d.log" | tail -n 1)
	if [ "${NUBO_DAEMON_USER[$d]}" = nubo ]; then
		check "$d runs as nubo: no capabilities, no_new_privs, umask 0027, clean env" has "$line" \
			"*Uid: $nu $nu $nu $nu Gid: $ng $ng $ng $ng CapEff: 0000000000000000 CapBnd: 0000000000000000 NoNewPrivs: 1 *umask 0027 sudo none"
	else
		check "$d starts as root (it drops privileges itself)" has "$line" "*Uid: 0 0 0 0 *"
	fi
done

d=nubo-api
touch "$T/fail-$d"
kill -KILL "$(cat "$NUBO_RUNDIR/$d.pid")"
# now it dies at every start: 1 + 2 + 4 + 4 + 4 s of delays make 6 deaths in ~15 s
sleep 17
deaths=$(grep -c "nubo-ctl: $d \(exited\|killed\)" "$NUBO_LOGDIR/$d.log" || true)
check "$d died $deaths times (more than 5) within a minute" test "$deaths" -gt 5
delays=$(sed -n "s/.*nubo-ctl: $d .* again in \([0-9]*\)s$/\1/p" "$NUBO_LOGDIR/$d.log" |
	head -n 5 | tr '\n' ' ')
check "the delays grow and are capped: $delays" test "$delays" = "1 2 4 4 4 "
check "no giving up" bash -c '! grep -q "giving up" "$0"' "$NUBO_LOGDIR/$d.log"
spid=$(cat "$NUBO_RUNDIR/$d.supervisor.pid")
check "its supervisor still runs" nubo_pid_alive "$spid"
rm -f "$T/fail-$d"
back=''
for ((i = 0; i < 60; i++)); do
	pid=$(cat "$NUBO_RUNDIR/$d.pid" 2>/dev/null || true)
	if [ -n "$pid" ] && nubo_pid_alive "$pid" && nubo_pid_has_arg "$pid" "$NUBO_CONF" &&
		[ "$(stat -c %u "/proc/$pid")" = "$nu" ]; then
		sleep 0.5
		if nubo_pid_alive "$pid"; then
			back=$pid
			break
		fi
	fi
	sleep 0.2
done
check "$d is back, as nubo, within the capped delay once it can run" test -n "$back"

# stop while the supervisor sleeps between two starts
touch "$T/fail-$d"
kill -KILL "$back"
sleep 0.5
t0=$SECONDS
"$REPO/deploy/nubo-ctl" --root "$T" stop "$d" >/dev/null
check "stop during a backoff is prompt" test $((SECONDS - t0)) -le 3
gone() { ! nubo_pid_alive "$1" && [ ! -e "$2" ]; }
check "stop leaves no supervisor and no pid file" gone "$spid" "$NUBO_RUNDIR/$d.pid"
rm -f "$T/fail-$d"
"$REPO/deploy/nubo-ctl" --root "$T" stop "${NUBO_DAEMONS[@]}" >/dev/null

# ---------------------------------------------------------------- QEMU matcher
# fake QEMUs: a copy of python named qemu-system-fake, sleeping, with a QEMU-like argv
cp "$(readlink -f /usr/bin/python3)" "$T/qemu-system-fake"
id1=11111111-1111-4111-8111-111111111111
id2=22222222-2222-4222-8222-222222222222
id3=33333333-3333-4333-8333-333333333333
sd=$NUBO_STATE_DIR/instances
fake() { # fake CWD COMMAND...: QEMU runs in its instance directory
	local cwd=$1
	shift
	mkdir -p "$cwd"
	(cd "$cwd" && exec "$@") </dev/null >/dev/null 2>&1 &
	PIDS+=($!)
}
nap=(-c 'import time; time.sleep(120)')
fake "$sd/$id1" "$T/qemu-system-fake" "${nap[@]}" -uuid "$id1" -name guest=x
own=${PIDS[-1]}
# another stack's QEMU, whose directory merely contains ours
fake "$T/other$sd/$id2" "$T/qemu-system-fake" "${nap[@]}" -uuid "$id2"
# a -uuid that is not the instance directory it runs in
fake "$sd/$id1" "$T/qemu-system-fake" "${nap[@]}" -uuid "$id3"
# not a QEMU, though its command line says qemu-system
fake "$sd/$id1" bash -c 'sleep 120; : qemu-system-x86_64' -uuid "$id1"
sleep 0.5
check "qemu-pids finds exactly this stack's QEMU" \
	test "$(nubo_qemu_pids '' | tr '\n' ' ')" = "$own "
check "nubo-ctl qemu-pids ID finds that instance's QEMU" \
	test "$("$REPO/deploy/nubo-ctl" --root "$T" qemu-pids "$id1")" = "$own"
check "qemu-pids of another stack's instance finds none" test -z "$(nubo_qemu_pids "$id2")"
check "nubo-ctl --state-dir names another agent's state_dir" test "$("$REPO/deploy/nubo-ctl" \
	--state-dir "$T/other$NUBO_STATE_DIR" qemu-pids)" = "${PIDS[1]}"
kill "$own"
sleep 0.3
check "a dead QEMU is not listed" test -z "$(nubo_qemu_pids "$id1")"

# nubo_conf_set (deploy/host-add.sh writes nubo.conf with it): replace in place, add
# to a section, add a section; other sections' same key and comments untouched
cf=$T/set.conf
printf '[a]\n# k = comment\nk = 1\nj = 2\n\n[b]\nk = 3\n' >"$cf"
chmod 0640 "$cf"
nubo_conf_set "$cf" a k 'v=1,w'
nubo_conf_set "$cf" b new x
nubo_conf_set "$cf" c k y
check "nubo_conf_set replaces, appends to a section, adds a section" test "$(cat "$cf")" = \
	"$(printf '[a]\n# k = comment\nk = v=1,w\nj = 2\n\n[b]\nk = 3\nnew = x\n\n[c]\nk = y')"
check "nubo_conf_set keeps the file's mode" test "$(stat -c %a "$cf")" = 640
NUBO_CONF=$cf
check "nubo_conf_get reads what nubo_conf_set wrote" test "$(nubo_conf_get a k)" = 'v=1,w'

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
