#!/bin/bash
# tests/tempest/run.sh (make tempest): run Debian's Tempest (python3-tempest) against a
# throwaway stack brought up as tests/e2e/run.sh does, always tear it down, keep the
# subunit stream and regenerate docs/conformance.md from it.
#
#   tests/tempest/run.sh                 make tempest: tempest.api.identity, .compute and
#                                        .image whole, plus the modules of JOINED below
#   tests/tempest/run.sh --check         what make check runs (CHECK_REGEX below)
#   tests/tempest/run.sh --all           every module the stack's catalog has, whole
#                                        (network, volume, object_storage too)
#   tests/tempest/run.sh REGEX...        only the tests matching any REGEX (stestr
#                                        selection, e.g. tempest.api.identity.v3.test_tokens)
#
# Exit status: 0 when every selected test passed or was skipped by Tempest itself (a
# service or feature flag that is off, a microversion outside the advertised range);
# 1 when one failed, none ran, or the stack did not come up.
# Files: build/tempest/ (tempest.conf, accounts.yaml, features.json, tempest.subunit,
# tempest.log, failures.txt), build/tempest-logs/ (the daemons' logs),
# docs/conformance*.md (only for a full, --check or --all run of this tree, see below).
# Environment: NUBO_REPO=DIR tests another worktree's build (its deploy/ and build/bin,
#              `make all` there first; the results stay under DIR/build/tempest);
#              NUBO_TEMPEST_CONCURRENCY (default 2); NUBO_E2E_KEEP=1 keeps the stack.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SELF_REPO=$(cd "$HERE/../.." && pwd)
REPO=$(cd "${NUBO_REPO:-$SELF_REPO}" && pwd)
cd "$REPO"
NUBO_PROG=tempest/run.sh
[ "$(id -u)" = 0 ] || { echo "$NUBO_PROG: needs root (it brings up a stack)" >&2; exit 1; }
command -v tempest >/dev/null || {
	echo "$NUBO_PROG: no tempest: apt-get install python3-tempest (deploy/stack.sh --deps-only)" >&2
	exit 1
}

# The three modules of issue 7 whole. The pillars' modules (network, volume,
# object_storage) join make tempest when their issue is resolved: JOINED lists them
# ('|'-separated); --all runs every module of the catalog. All three pass whole
# (session 7), so all three joined.
JOINED='network|volume|object_storage'
FULL_REGEX='^tempest\.api\.(identity|compute|image)\.'
# make check runs CHECK_REGEX. The three modules whole may not fit: with the catalog's
# volume and network services on, compute runs its volume and network tests too, and
# the three took 625 s of Tempest plus ~3 min of stack here (load ~5, 737 tests), while
# make check without Tempest took 43 min in CI before this session's e2e tests were
# added (issue 7 allows 60). So make check runs, chosen by module and subject (never by which tests pass):
# identity and image whole; of compute the tests tagged smoke plus the light groups
# (flavors, keypairs, limits, versions, quotas, and the server list filters, metadata,
# instance actions and addresses). The groups that boot a server per test (create,
# actions, rebuild, volumes, multi-NIC) run in make tempest. Of the joined modules
# (network, volume, object_storage) make check runs the smoke-tagged tests; make
# tempest runs them whole.
CHECK_REGEX='^tempest\.api\.(identity|image)\.|^tempest\.api\.(compute|network|volume|object_storage)\..*\[.*\bsmoke\b.*\]|^tempest\.api\.compute\.(flavors|keypairs|limits|test_versions|test_quotas|servers\.test_(list_server_filters|server_metadata|instance_actions|server_addresses))'

WHAT=full
case "${1:-}" in
--check) WHAT=check; REGEX=$CHECK_REGEX; shift ;;
--all) WHAT=all; REGEX=$FULL_REGEX; shift ;;
-h | --help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
'') REGEX=$FULL_REGEX ;;
*) WHAT=part; REGEX=$(IFS='|'; echo "$*") ;;
esac
[ $# -eq 0 ] || [ "$WHAT" = part ] || { echo "$NUBO_PROG: no arguments after $WHAT" >&2; exit 2; }
[ "$WHAT" != full ] || [ -z "$JOINED" ] || REGEX="$REGEX|^tempest\.api\.($JOINED)\."
CONCURRENCY=${NUBO_TEMPEST_CONCURRENCY:-2}

WORK=$REPO/build/tempest
rm -rf "$WORK"
mkdir -p "$WORK"
chmod 0700 "$WORK" # tempest.conf and accounts.yaml carry the stack's passwords

# shellcheck source=tests/e2e/throwaway.sh
. "$SELF_REPO/tests/e2e/throwaway.sh"
throwaway_up tempest "$REPO/build/tempest-logs"

/usr/bin/python3 "$HERE/configure.py" --root "$T" --workdir "$WORK" --concurrency "$CONCURRENCY"

# --all: the modules of the services the stack's catalog has beyond the three
# (configure.py writes them: network, volume, object_storage) join, whole.
EXTRA=$(paste -sd'|' "$WORK/modules")
if [ -n "$EXTRA" ] && [ "$WHAT" = all ]; then
	REGEX="$REGEX|^tempest\.api\.($EXTRA)\."
fi

# Some object storage tests need an account nobody wrote to: the account quota tests
# set a 20-byte quota and upload 4 bytes, and AccountTest lists an account expecting no
# container (test_list_no_containers) or exactly its own six (the marker tests). With
# pre-provisioned accounts (Tempest's gate uses fresh dynamic ones) another class's
# leftovers are there (ObjectACLsNegativeTest never deletes the containers and objects
# its tests write): 413, or a list that is not empty. FIRST runs first, on its own,
# while every account is still empty; the rest runs after. One subunit stream holds
# both passes.
FIRST='^tempest\.api\.object_storage\.(test_account_quotas|test_account_services\.AccountTest\.)'
(
	cd "$WORK"
	stestr init >/dev/null # the listing needs the repository a run would make
	PYTHONDONTWRITEBYTECODE=1 tempest run --config-file "$WORK/tempest.conf" \
		--regex "$REGEX" --list-tests
) | grep '^tempest\.' >"$WORK/selected.txt" || true
grep -E "$FIRST" "$WORK/selected.txt" >"$WORK/first.txt" || true
grep -vE "$FIRST" "$WORK/selected.txt" >"$WORK/rest.txt" || true
echo "$NUBO_PROG: tempest run --regex '$REGEX' --concurrency $CONCURRENCY" \
	"($(wc -l <"$WORK/selected.txt") tests; $(wc -l <"$WORK/first.txt") first)"
: >"$WORK/tempest.subunit"
rc=0
start=$SECONDS
for pass in first rest; do
	[ -s "$WORK/$pass.txt" ] || continue
	(
		cd "$WORK"
		NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost PYTHONDONTWRITEBYTECODE=1 \
			tempest run --config-file "$WORK/tempest.conf" --load-list "$WORK/$pass.txt" \
			--concurrency "$CONCURRENCY"
	) || rc=$?
	(cd "$WORK" && stestr last --subunit >>"$WORK/tempest.subunit") || {
		echo "$NUBO_PROG: no subunit stream (did tempest run at all?)" >&2
		exit 1
	}
done
echo "$NUBO_PROG: tempest took $((SECONDS - start))s (exit $rc)"
[ -s "$WORK/tempest.subunit" ] || { echo "$NUBO_PROG: no test selected" >&2; exit 1; }

# make tempest writes docs/conformance.md (README links it), --check
# docs/conformance-check.md, --all docs/conformance-all.md; a part, or another tree's
# run, only build/tempest/conformance.md.
out=$WORK/conformance.md
if [ "$WHAT" != part ] && [ "$REPO" = "$SELF_REPO" ]; then
	out=$REPO/docs/conformance.md
	[ "$WHAT" = full ] || out=$REPO/docs/conformance-$WHAT.md
fi
case $WHAT in
full) cmd="make tempest" ;;
check) cmd="make check (tests/tempest/run.sh --check)" ;;
all) cmd="tests/tempest/run.sh --all" ;;
*) cmd="tests/tempest/run.sh $*" ;;
esac
/usr/bin/python3 "$HERE/conformance.py" --subunit "$WORK/tempest.subunit" \
	--conf "$WORK/tempest.conf" --features "$WORK/features.json" --log "$WORK/tempest.log" \
	--command "$cmd" \
	--out "$out" --failures "$WORK/failures.txt" || rc=1
echo "$NUBO_PROG: $out written; failed tests and reasons in $WORK/failures.txt"
exit "$rc"
