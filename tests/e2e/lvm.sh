#!/bin/bash
# tests/e2e/lvm.sh: the storage agent's LVM backend end to end. Makes a volume group
# with a random name on a loop device (a sparse file in a temporary directory), runs
# tests/e2e/test_volume_lvm.py against a throwaway stack configured for it
# (NUBO_STORAGE_BACKEND=lvm NUBO_VOLUME_GROUP=... to deploy/stack.sh through
# tests/e2e/run.sh), and removes the group and the loop device whatever happens.
# Without device-mapper in the kernel (`dmsetup version` fails) no LV can be made and
# nubo-storage refuses backend = lvm at start: the stack then runs the file pool, and
# the tests check that refusal and skip only what needs an LV.
# lvm runs without udev (none answers in a container): --config activation{...}.
# Arguments go to pytest after the test file (e.g. -k lifecycle).
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$REPO"
[ "$(id -u)" = 0 ] || { echo "lvm.sh: needs root" >&2; exit 1; }
command -v vgcreate >/dev/null || { echo "lvm.sh: no lvm2 (deploy/stack.sh --deps-only)" >&2; exit 1; }
export LVM_SUPPRESS_FD_WARNINGS=1
C='activation{udev_sync=0 udev_rules=0}'
W=$(mktemp -d /tmp/nubo-lvm.XXXXXX)
VG=nubo-e2e-$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')
LOOP=
cleanup() {
	local rc=$?
	set +e
	if vgs --config "$C" "$VG" >/dev/null 2>&1; then
		lvremove --config "$C" -q -y -f "$VG" >/dev/null 2>&1
		vgremove --config "$C" -q -y -f "$VG"
	fi
	[ -z "$LOOP" ] || { pvremove --config "$C" -q -y -f "$LOOP" >/dev/null 2>&1; losetup -d "$LOOP"; }
	rm -rf "$W"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP
truncate -s 4G "$W/pv.img"
LOOP=$(losetup -f --show "$W/pv.img")
pvcreate --config "$C" -q "$LOOP"
vgcreate --config "$C" -q "$VG" "$LOOP"
echo "lvm.sh: volume group $VG on $LOOP"
BACKEND=lvm
if ! dmsetup version >/dev/null 2>&1; then
	BACKEND=file
	echo "lvm.sh: no device-mapper in this kernel (dmsetup version fails): the stack runs" \
		"the file pool; the tests that need an LV skip"
fi
NUBO_STORAGE_BACKEND=$BACKEND NUBO_VOLUME_GROUP=$VG NUBO_E2E_LVM_VG=$VG \
	NUBO_E2E_LOGS=${NUBO_E2E_LOGS:-$REPO/build/e2e-lvm-logs} \
	tests/e2e/run.sh tests/e2e/test_volume_lvm.py "$@"
