#!/bin/bash
# Each daemon's -n (check the configuration and print what it will use) against golden
# .ok files, for the shipped example and for broken files. NUBO_UPDATE_GOLDEN=1
# rewrites the .ok files. Exit status: 0 when every output matches.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=${NUBO_BIN:-$here/../../build/bin}
fail=0 n=0
check() { # check NAME DAEMON CONF
	local name=$1 daemon=$2 conf=$3 out rc
	rc=0
	out=$("$bin/$daemon" -c "$conf" -n 2>&1) || rc=$?
	# timestamps of log lines vary; the words do not
	out=$(printf '%s\nexit %s\n' "$out" "$rc" | sed -E 's/^[0-9T:.-]+Z /TIME /')
	n=$((n + 1))
	if [ "${NUBO_UPDATE_GOLDEN:-}" = 1 ]; then
		printf '%s\n' "$out" >"$here/$name.ok"
	elif ! diff -u "$here/$name.ok" <(printf '%s\n' "$out"); then
		echo "not ok - $name"
		fail=$((fail + 1))
		return
	fi
	echo "ok - $name"
}
bin=$(cd "$bin" && pwd)
cd "$here" # relative paths keep the checkout's location out of the golden files
# every daemon of deploy/daemons (the one list)
for d in $(awk '$1 ~ /^nubo-/ { print $1 }' ../../deploy/daemons); do
	check "$d.example" "$d" ../../deploy/nubo.conf.example
	for bad in bad-*.conf; do
		check "$d.${bad%.conf}" "$d" "$bad"
	done
	check "$d.missing" "$d" /nonexistent/nubo.conf
done
echo "$((n - fail)) passed, $fail failed"
[ "$fail" = 0 ]
